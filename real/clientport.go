package real

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"zoosim/node"
	"zoosim/wire"
	"zoosim/wire/clientport"
	"zoosim/wire/jute"
)

// The client port. Each accepted TCP connection becomes a client node of
// its own for the server core: it gets a node ID (FirstClientID and up,
// never a server's) and a connection nonce (wire.Header.Conn), and its
// frames reach the core as messages from that ID. A reader goroutine cuts
// the byte stream into jute frames (refusing one over jute.maxbuffer) and
// decodes them (wire/clientport); a writer goroutine encodes what the core
// sends the client and writes it, batching what is queued into one write.
// The two share the connection's codec under a mutex: a reply's record
// depends on the opcode of the request it answers.
//
// Whatever ends a connection (the client closing it, a frame that does not
// decode, a frame over the limit, a client too slow to read its replies,
// the core closing it) ends it the same way: the socket is closed, and the
// core is told with a wire.Close from the client's ID, as the simulated
// network does when a client goes away.

// FirstClientID is the first node ID given to a client connection; server
// ids must stay below it.
const FirstClientID node.ID = 1 << 20

// closeLinger is how long a connection the core closed waits for the client
// to hang up.
const closeLinger = 2 * time.Second

// ClientPortOptions configure a ClientPort.
type ClientPortOptions struct {
	Self node.ID
	Addr string // host:port to listen on
	// Deliver hands a decoded message to the driver (blocking for
	// back-pressure; false once the node stops).
	Deliver func(ctx context.Context, m node.Message) bool
	// MaxPerHost is ZooKeeper's maxClientCnxns: connections from one IP
	// address at once (0: no limit).
	MaxPerHost int
	// QueueLen bounds what waits to be written to one client; a client
	// that lets it fill is closed (default 8192 messages).
	QueueLen int
	// WriteTimeout closes a connection whose writes block this long
	// (default 30 s).
	WriteTimeout time.Duration
	// FourLetter answers a four-letter word (ruok, srvr, ...), the first
	// four bytes of a connection, with the text to write back before the
	// connection is closed (nil: four-letter words are not answered and
	// the bytes are read as a frame length, which is refused as too
	// large).
	FourLetter func(word string) string
	// Observer is told of every request answered (nil: nobody).
	Observer RequestObserver
	Logger   *slog.Logger
}

// ClientPort accepts ZooKeeper clients.
type ClientPort struct {
	opt ClientPortOptions
	ln  net.Listener
	wg  sync.WaitGroup

	mu        sync.Mutex
	conns     map[node.ID]*clientConn
	perHost   map[string]int
	nextID    node.ID
	nextNonce uint64

	refused  atomic.Uint64
	accepted atomic.Uint64
	stats    portStats
}

type clientConn struct {
	port  *ClientPort
	id    node.ID
	nonce uint64
	host  string
	c     net.Conn

	codecMu sync.Mutex
	codec   *clientport.ServerConn

	out     chan any
	done    chan struct{} // closed when the connection ends
	endOnce sync.Once

	stats      *connStats
	fourLetter atomic.Bool // the connection is a four-letter word's
}

// ListenClients opens the client port.
func ListenClients(opt ClientPortOptions) (*ClientPort, error) {
	if opt.QueueLen <= 0 {
		opt.QueueLen = 8192
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 30 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	ln, err := net.Listen("tcp", opt.Addr)
	if err != nil {
		return nil, err
	}
	return &ClientPort{opt: opt, ln: ln, conns: map[node.ID]*clientConn{}, perHost: map[string]int{},
		nextID: FirstClientID}, nil
}

// Addr is the address the client port listens on.
func (p *ClientPort) Addr() net.Addr { return p.ln.Addr() }

// Connections is the number of open client connections.
func (p *ClientPort) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Refused counts connections refused by MaxPerHost.
func (p *ClientPort) Refused() uint64 { return p.refused.Load() }

// Send queues a message the core sends a client (never blocks). A message
// for a connection that is gone is dropped; a connection whose queue is
// full is closed.
func (p *ClientPort) Send(m node.Message) {
	p.mu.Lock()
	cc := p.conns[m.To]
	p.mu.Unlock()
	if cc == nil {
		return
	}
	select {
	case cc.out <- m.Body:
	default:
		p.opt.Logger.Warn("clients: a client does not read its replies; closing its connection",
			"remote", cc.c.RemoteAddr(), "queued", len(cc.out))
		cc.end()
	}
}

// Run accepts clients until ctx is done, then closes every connection and
// waits for its goroutines.
func (p *ClientPort) Run(ctx context.Context) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.accept(ctx)
	}()
	<-ctx.Done()
	p.ln.Close()
	p.mu.Lock()
	for _, cc := range p.conns {
		cc.c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *ClientPort) accept(ctx context.Context) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				p.opt.Logger.Error("clients: accept", "err", err)
			}
			return
		}
		cc := p.register(c)
		if cc == nil {
			c.Close()
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		p.accepted.Add(1)
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			cc.readLoop(ctx)
		}()
		go func() {
			defer p.wg.Done()
			cc.writeLoop()
		}()
	}
}

// register gives a new connection its ID and nonce, or refuses it (nil).
func (p *ClientPort) register(c net.Conn) *clientConn {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		host = c.RemoteAddr().String()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.opt.MaxPerHost > 0 && p.perHost[host] >= p.opt.MaxPerHost {
		p.refused.Add(1)
		// ZooKeeper's words: "Too many connections from /127.0.0.1 - max is 60".
		p.opt.Logger.Warn("clients: too many connections from "+host, "max", p.opt.MaxPerHost)
		return nil
	}
	// IDs are handed out in order and wrap below the int32 limit, skipping
	// ones still in use.
	for p.conns[p.nextID] != nil || p.nextID < FirstClientID {
		p.nextID++
		if p.nextID == math.MaxInt32 {
			p.nextID = FirstClientID
		}
	}
	p.nextNonce++
	cc := &clientConn{port: p, id: p.nextID, nonce: p.nextNonce, host: host, c: c,
		codec: clientport.NewServerConn(p.nextNonce), out: make(chan any, p.opt.QueueLen), done: make(chan struct{}),
		stats: newConnStats(time.Now())}
	p.nextID++
	p.conns[cc.id] = cc
	p.perHost[host]++
	return cc
}

// answerFourLetter writes a four-letter word's answer and ends the
// connection, as ZooKeeper does (it does not wait for the client).
func (cc *clientConn) answerFourLetter(word string) {
	out := cc.port.opt.FourLetter(word)
	cc.c.SetWriteDeadline(time.Now().Add(cc.port.opt.WriteTimeout))
	if _, err := io.WriteString(cc.c, out); err != nil {
		cc.port.opt.Logger.Debug("clients: writing a four-letter answer", "word", word, "err", err)
	}
	if tc, ok := cc.c.(*net.TCPConn); ok {
		// Half-close, and read what the client still sends (telnet's or
		// nc's newline) for a moment: closing a socket with unread input
		// resets it, and a reset may discard the answer.
		tc.CloseWrite()
		tc.SetReadDeadline(time.Now().Add(time.Second))
		io.Copy(io.Discard, io.LimitReader(tc, 64<<10))
	}
}

// serverStats copies the port's totals.
func (p *ClientPort) serverStats() serverTotals {
	p.stats.mu.Lock()
	defer p.stats.mu.Unlock()
	return serverTotals{received: p.stats.received.Load(), sent: p.stats.sent.Load(), authFailed: p.stats.authFailed.Load(),
		outstanding: p.stats.outstanding.Load(), lat: p.stats.lat}
}

// readWriteLatency copies the read and update latencies.
func (p *ClientPort) readWriteLatency() (read, update latencyStats) {
	p.stats.mu.Lock()
	defer p.stats.mu.Unlock()
	return p.stats.readLat, p.stats.writeLat
}

// resetServerStats is ServerStats.reset (srst): the latencies and the
// packet counts start over.
func (p *ClientPort) resetServerStats() {
	p.stats.mu.Lock()
	defer p.stats.mu.Unlock()
	p.stats.lat, p.stats.readLat, p.stats.writeLat = latencyStats{}, latencyStats{}, latencyStats{}
	p.stats.received.Store(0)
	p.stats.sent.Store(0)
}

// resetConnStats resets every connection's counters (crst).
func (p *ClientPort) resetConnStats() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cc := range p.conns {
		cc.stats.reset()
	}
}

// connInfos copies every open connection's counters, in connection order.
func (p *ClientPort) connInfos() []connInfo {
	p.mu.Lock()
	conns := make([]*clientConn, 0, len(p.conns))
	for _, cc := range p.conns {
		conns = append(conns, cc)
	}
	p.mu.Unlock()
	slices.SortFunc(conns, func(a, b *clientConn) int { return cmp.Compare(a.nonce, b.nonce) })
	out := make([]connInfo, len(conns))
	for i, cc := range conns {
		out[i] = cc.stats.info(cc.c.RemoteAddr().String())
		out[i].fourLetter = cc.fourLetter.Load()
	}
	return out
}

// end closes the connection once, whoever notices first.
func (cc *clientConn) end() {
	cc.endOnce.Do(func() {
		close(cc.done)
		cc.c.Close()
	})
}

func (cc *clientConn) readLoop(ctx context.Context) {
	p := cc.port
	defer func() {
		cc.end()
		cc.stats.dropped(&p.stats)
		p.mu.Lock()
		delete(p.conns, cc.id)
		if p.perHost[cc.host]--; p.perHost[cc.host] <= 0 {
			delete(p.perHost, cc.host)
		}
		p.mu.Unlock()
		// The core forgets the connection (it ignores a Close for a
		// connection it already closed).
		p.opt.Deliver(ctx, node.Message{From: cc.id, To: p.opt.Self,
			Body: &wire.Close{Conn: cc.nonce, Reason: wire.CloseByClient}})
	}()
	framer := jute.NewFramer()
	buf := make([]byte, 32<<10)
	// frames hands every complete frame to the core; false ends the
	// connection.
	frames := func() bool {
		for {
			f, ferr := framer.Next()
			if ferr != nil {
				// ZooKeeper: "Len error", and the connection is closed.
				p.opt.Logger.Warn("clients: a frame over jute.maxbuffer; closing", "remote", cc.c.RemoteAddr(), "err", ferr)
				return false
			}
			if f == nil {
				return true
			}
			cc.codecMu.Lock()
			body, derr := cc.codec.Decode(f)
			cc.codecMu.Unlock()
			if derr != nil {
				p.opt.Logger.Warn("clients: a frame that does not decode; closing", "remote", cc.c.RemoteAddr(), "err", derr)
				return false
			}
			if c, ok := body.(*wire.Connect); ok {
				// The connection's ip identity, as ZooKeeper takes it
				// from the socket.
				c.Addr = cc.host
			}
			cc.stats.received(&p.stats, body, time.Now())
			if !p.opt.Deliver(ctx, node.Message{From: cc.id, To: p.opt.Self, Body: body}) {
				return false
			}
		}
	}
	if p.opt.FourLetter != nil {
		// ZooKeeper reads a connection's first four bytes as a frame
		// length; a length that spells a known four-letter word is that
		// command.
		var first [4]byte
		if _, err := io.ReadFull(cc.c, first[:]); err != nil {
			return
		}
		if isFourLetterWord(string(first[:])) {
			cc.fourLetter.Store(true)
			cc.stats.received(&p.stats, nil, time.Now())
			cc.answerFourLetter(string(first[:]))
			return
		}
		framer.Write(first[:])
		if !frames() {
			return
		}
	}
	for {
		n, err := cc.c.Read(buf)
		if n > 0 {
			framer.Write(buf[:n])
			if !frames() {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
				p.opt.Logger.Debug("clients: read", "remote", cc.c.RemoteAddr(), "err", err)
			}
			return
		}
	}
}

func (cc *clientConn) writeLoop() {
	p := cc.port
	defer cc.end()
	var buf []byte
	for {
		var body any
		select {
		case body = <-cc.out:
		case <-cc.done:
			return
		}
		buf = buf[:0]
		closing := false
		cc.codecMu.Lock()
		for {
			var err error
			cc.stats.sending(&p.stats, p.opt.Observer, body, time.Now())
			buf, err = cc.codec.Append(buf, body)
			if errors.Is(err, clientport.ErrClose) {
				closing = true
				break
			}
			if err != nil {
				cc.codecMu.Unlock()
				p.opt.Logger.Error("clients: cannot encode a message for a client; closing", "remote", cc.c.RemoteAddr(), "err", err)
				return
			}
			if len(buf) >= 256<<10 {
				break
			}
			select {
			case body = <-cc.out:
				continue
			default:
			}
			break
		}
		cc.codecMu.Unlock()
		if len(buf) > 0 {
			cc.c.SetWriteDeadline(time.Now().Add(p.opt.WriteTimeout))
			if _, err := cc.c.Write(buf); err != nil {
				return
			}
		}
		if closing {
			// What the core sent before the close is written; half-close
			// and give the client a moment to read it and hang up, since
			// closing a socket with unread input resets it, and a reset
			// can discard what the client has not read yet (an expired
			// session's answer).
			if tc, ok := cc.c.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			t := time.NewTimer(closeLinger)
			defer t.Stop()
			select {
			case <-cc.done:
			case <-t.C:
			}
			return
		}
		if cap(buf) > 4<<20 {
			buf = nil
		}
	}
}
