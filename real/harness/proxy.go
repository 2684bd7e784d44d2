package harness

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"zoosim/nemesis"
	"zoosim/node"
)

// The link proxies. Every TCP connection between two nodes goes through
// the proxy of the ordered pair (dialer, listener): the forward stream of
// the connection carries the link dialer -> listener, the reverse stream
// the link listener -> dialer. What each link does is in network, which
// every proxy reads for every chunk it forwards.

const (
	chunkBytes = 32 << 10
	// delayLine bounds the chunks in flight in one direction of one
	// connection: a full line stops the reader, and TCP's flow control
	// pushes back on the sender, as a slow network would.
	delayLine = 64
	// rtoMin is Linux's minimum retransmission timeout: what a lost
	// segment costs a TCP stream.
	rtoMin = 200 * time.Millisecond
	// lossesMax consecutive losses on one connection reset it, as TCP gives
	// up on a connection whose retransmissions keep failing.
	lossesMax = 6
	// jitterMax bounds the stall of a reordered chunk without extra latency.
	jitterMax   = 20 * time.Millisecond
	dialTimeout = time.Second
)

// network is the state of every link: blocked, degraded, lagging.
type network struct {
	mu      sync.Mutex
	blocked map[link]bool
	quality map[link]nemesis.LinkQuality
	lag     map[node.ID]time.Duration
	rnd     *rand.Rand
	rto     time.Duration // rtoMin; tests shorten it
}

type link struct{ from, to node.ID }

func newNetwork(seed uint64) *network {
	return &network{blocked: map[link]bool{}, quality: map[link]nemesis.LinkQuality{}, lag: map[node.ID]time.Duration{},
		rnd: rand.New(rand.NewPCG(seed, 0x7a6f6f73696d)), rto: rtoMin}
}

func (n *network) isBlocked(l link) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.blocked[l]
}

// fate is what happens to one chunk on link l: its delay, or a silent
// drop (the link is blocked), or a reset (TCP gives up). losses counts the
// consecutive losses of its connection's direction.
func (n *network) fate(l link, losses *int) (delay time.Duration, drop, reset bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.blocked[l] {
		return 0, true, false
	}
	q := n.quality[l]
	delay = time.Duration(q.ExtraLatency) + n.lag[l.from] + n.lag[l.to]
	if q.LossProb > 0 && n.rnd.Float64() < q.LossProb {
		*losses++
		if *losses >= lossesMax {
			return 0, false, true
		}
		delay += n.rto << (*losses - 1) // the retransmission backs off
	} else {
		*losses = 0
	}
	if q.ReorderProb > 0 && n.rnd.Float64() < q.ReorderProb {
		// TCP delivers in order: a segment that others overtook holds the
		// stream back until it arrives.
		j := max(time.Duration(q.ExtraLatency), jitterMax)
		delay += time.Duration(n.rnd.Int64N(int64(j)) + 1)
	}
	return delay, false, false
}

// proxy forwards the connections that node from opens to node to.
type proxy struct {
	from, to node.ID
	ln       net.Listener
	net      *network
	logf     func(string, ...any)
	wg       *sync.WaitGroup

	// hello, if set, rewrites the first message of each connection's
	// forward stream (Apache ZooKeeper's election handshake, see
	// zkElectionHello).
	hello func(r io.Reader) ([]byte, error)

	mu       sync.Mutex
	upstream string // the real address of to's port
	conns    map[*pconn]bool
	closed   bool
}

// pconn is one proxied connection: down is the dialer's side, up the
// listener's (nil for a connection held across a block: it never reached
// the listener).
type pconn struct {
	down, up net.Conn
	once     sync.Once
	left     sync.WaitGroup // the two directions still forwarding
	// tainted: a block dropped some of its bytes, so its stream has a gap;
	// it is reset once both its links carry bytes again.
	tainted atomic.Bool
}

func listenProxy(from, to node.ID, nw *network, wg *sync.WaitGroup, logf func(string, ...any)) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &proxy{from: from, to: to, ln: ln, net: nw, logf: logf, wg: wg, conns: map[*pconn]bool{}}, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) setUpstream(addr string) {
	p.mu.Lock()
	p.upstream = addr
	p.mu.Unlock()
}

func (p *proxy) serve() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := p.ln.Accept()
			if err != nil {
				return // closed
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.handle(c) }()
		}
	}()
}

func (p *proxy) handle(down net.Conn) {
	fwd, rev := link{p.from, p.to}, link{p.to, p.from}
	// A TCP handshake needs both directions: across a partition, one way
	// or both, a new connection never reaches the other end. The dialer
	// sees silence (its handshake times out), not a refusal.
	if p.net.isBlocked(fwd) || p.net.isBlocked(rev) {
		p.hold(down)
		return
	}
	p.mu.Lock()
	upstream := p.upstream
	p.mu.Unlock()
	if upstream == "" {
		reset(down)
		return
	}
	up, err := net.DialTimeout("tcp", upstream, dialTimeout)
	if err != nil {
		reset(down) // the server is down: its port refuses
		return
	}
	c := &pconn{down: down, up: up}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.reset()
		return
	}
	p.conns[c] = true
	p.mu.Unlock()
	c.left.Add(2)
	p.wg.Add(2)
	go func() { defer p.wg.Done(); p.pump(c, down, up, fwd) }()
	go func() { defer p.wg.Done(); p.pump(c, up, down, rev) }()
	c.left.Wait()
	c.close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// hold keeps a connection opened across a block: it reads and drops what
// the dialer sends until the dialer gives up, or until the block ends and
// resetTainted resets it.
func (p *proxy) hold(down net.Conn) {
	c := &pconn{down: down}
	c.tainted.Store(true)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		reset(down)
		return
	}
	p.conns[c] = true
	p.mu.Unlock()
	// The block may have ended before c was registered, out of
	// resetTainted's sight.
	if !p.net.isBlocked(link{p.from, p.to}) && !p.net.isBlocked(link{p.to, p.from}) {
		c.reset()
	}
	io.Copy(io.Discard, down)
	c.reset()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

type chunk struct {
	data []byte
	due  time.Time
	eof  bool
}

// pump forwards src to dst for link l, through a delay line. A chunk that
// a block drops (when read, or when due) is dropped silently and taints the
// connection: the application notices the silence by its own timeouts, as
// it would across a partition, and when the links carry bytes again the
// tainted connection is reset (resetTainted), so that no stream ever
// delivers bytes after a gap.
func (p *proxy) pump(c *pconn, src, dst net.Conn, l link) {
	defer c.left.Done()
	line := make(chan chunk, delayLine)
	done := make(chan struct{})
	go func() { // the writer
		defer close(done)
		for ch := range line {
			if ch.eof {
				if p.net.isBlocked(l) { // the FIN is lost too
					c.tainted.Store(true)
				} else if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
				continue
			}
			if d := time.Until(ch.due); d > 0 {
				time.Sleep(d)
			}
			if p.net.isBlocked(l) { // blocked while in flight: dropped
				c.tainted.Store(true)
				continue
			}
			if _, err := dst.Write(ch.data); err != nil {
				c.reset()
			}
		}
	}()
	losses := 0
	var last time.Time
	buf := make([]byte, chunkBytes)
	if p.hello != nil && l == (link{p.from, p.to}) {
		b, err := p.hello(src)
		if len(b) > 0 {
			delay, drop, broken := p.net.fate(l, &losses)
			switch {
			case broken:
				c.reset()
				close(line)
				<-done
				return
			case drop:
				c.tainted.Store(true)
			default:
				last = time.Now().Add(delay)
				line <- chunk{data: b, due: last}
			}
		}
		if err != nil {
			c.reset()
			close(line)
			<-done
			return
		}
	}
	for {
		n, err := src.Read(buf)
		if n > 0 {
			delay, drop, broken := p.net.fate(l, &losses)
			if broken {
				c.reset()
				break
			}
			if drop {
				c.tainted.Store(true)
			} else {
				due := time.Now().Add(delay)
				if due.Before(last) { // never let a chunk overtake another
					due = last
				}
				last = due
				line <- chunk{data: bytes.Clone(buf[:n]), due: due}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if p.net.isBlocked(l) {
					c.tainted.Store(true)
				} else {
					line <- chunk{eof: true}
				}
			} else {
				c.reset()
			}
			break
		}
	}
	close(line)
	<-done
}

// reset aborts both sides with a TCP RST.
func (c *pconn) reset() {
	c.once.Do(func() {
		reset(c.down)
		if c.up != nil {
			reset(c.up)
		}
	})
}

func (c *pconn) close() {
	c.once.Do(func() {
		c.down.Close()
		if c.up != nil {
			c.up.Close()
		}
	})
}

func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// resetAll resets every connection of the proxy (a crash of either end
// ends them; a restart must not find them half alive).
func (p *proxy) resetAll() {
	p.mu.Lock()
	conns := make([]*pconn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.reset()
	}
}

// resetTainted resets the connections a block left with a gap, if both
// their links carry bytes again.
func (p *proxy) resetTainted() {
	if p.net.isBlocked(link{p.from, p.to}) || p.net.isBlocked(link{p.to, p.from}) {
		return
	}
	p.mu.Lock()
	var conns []*pconn
	for c := range p.conns {
		if c.tainted.Load() {
			conns = append(conns, c)
		}
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.reset()
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.resetAll()
}

// Apache ZooKeeper's election handshake (QuorumCnxManager): the dialer
// sends its protocol version (a negative long), its sid (a long), then the
// length (an int) and bytes of its own election address, "host:port". A
// server that receives a connection from a lower sid drops it and connects
// back to that address: its real port, which would bypass the proxies. The
// election proxy of (a, b) rewrites it to the address of the election proxy
// of (b, a), so that the connection back goes through its proxy too.
const (
	zkProtocolV1   = -65536
	zkProtocolV2   = -65535
	zkHelloAddrMax = 4096
)

// zkElectionHello returns the rewriter that names back as the dialer's
// election address.
func zkElectionHello(back string) func(r io.Reader) ([]byte, error) {
	return func(r io.Reader) ([]byte, error) {
		var head [20]byte
		if _, err := io.ReadFull(r, head[:8]); err != nil {
			return nil, err
		}
		v := int64(binary.BigEndian.Uint64(head[:8]))
		if v != zkProtocolV1 && v != zkProtocolV2 {
			return bytes.Clone(head[:8]), nil // an older protocol (no address): left as it is
		}
		if _, err := io.ReadFull(r, head[8:20]); err != nil {
			return bytes.Clone(head[:8]), err
		}
		n := binary.BigEndian.Uint32(head[16:20])
		if n > zkHelloAddrMax {
			return nil, fmt.Errorf("harness: a ZooKeeper election handshake with a %d-byte address", n)
		}
		if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
			return nil, err
		}
		out := append([]byte(nil), head[:16]...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(back)))
		return append(out, back...), nil
	}
}
