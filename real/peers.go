package real

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"zoosim/node"
	"zoosim/node/codec"
)

// The peer transport. Every server listens on its peer port and dials every
// other server: each direction of a pair has its own TCP connection, the
// dialer's for its messages, so there is nothing to arbitrate. A dialed
// connection opens with a handshake,
//
//	magic "ZSPEER" | version u8 (1) | from u32 | to u32
//
// and the listener answers one byte (1: accepted) or closes: it refuses a
// server that is not in its configuration and a handshake meant for another
// id (a mixed-up port). Then the dialer sends node/codec frames. A
// connection that fails is redialed with a backoff (50 ms doubling to 2 s,
// jittered); a frame that does not decode closes it. Each peer has a
// bounded queue of messages to send: when it is full (the peer is down or
// slow) new messages are dropped, which Zab tolerates as it tolerates a
// lost TCP connection (its channels carry sequence numbers and a gap breaks
// them).

const (
	peerMagic   = "ZSPEER"
	peerVersion = 1
	// handshakeLen is the dialer's handshake.
	handshakeLen = len(peerMagic) + 1 + 4 + 4
)

// PeerOptions configure Peers.
type PeerOptions struct {
	Self node.ID
	// Addrs maps every server of the ensemble (Self included) to its peer
	// address (host:port).
	Addrs    map[node.ID]string
	Registry *codec.Registry
	// Deliver hands a received message to the driver (blocking for
	// back-pressure; false once the node stops).
	Deliver func(ctx context.Context, m node.Message) bool
	Logger  *slog.Logger
	// QueueLen bounds each peer's send queue (default 8192 messages).
	QueueLen int
	// DialTimeout bounds one dial and handshake (default 2 s).
	DialTimeout time.Duration
	// BackoffMin and BackoffMax bound the redial backoff (50 ms, 2 s).
	BackoffMin, BackoffMax time.Duration
}

// Peers is the transport to the other servers.
type Peers struct {
	opt   PeerOptions
	ln    net.Listener
	peers map[node.ID]*peerOut
	ids   []node.ID
	wg    sync.WaitGroup

	mu      sync.Mutex
	inbound map[node.ID]net.Conn // the connection each peer dialed to us

	dropped atomic.Uint64
}

// peerOut is the sending side towards one peer.
type peerOut struct {
	id    node.ID
	addr  string
	queue chan any
}

// ListenPeers opens the peer port of opt.Self. Start runs it.
func ListenPeers(opt PeerOptions) (*Peers, error) {
	if opt.QueueLen <= 0 {
		opt.QueueLen = 8192
	}
	if opt.DialTimeout <= 0 {
		opt.DialTimeout = 2 * time.Second
	}
	if opt.BackoffMin <= 0 {
		opt.BackoffMin = 50 * time.Millisecond
	}
	if opt.BackoffMax < opt.BackoffMin {
		opt.BackoffMax = max(2*time.Second, opt.BackoffMin)
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	addr, ok := opt.Addrs[opt.Self]
	if !ok {
		return nil, fmt.Errorf("real: server %d has no peer address", opt.Self)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("real: peer port: %w", err)
	}
	p := &Peers{opt: opt, ln: ln, peers: map[node.ID]*peerOut{}, inbound: map[node.ID]net.Conn{}}
	for id, a := range opt.Addrs {
		if id == opt.Self {
			continue
		}
		p.peers[id] = &peerOut{id: id, addr: a, queue: make(chan any, opt.QueueLen)}
		p.ids = append(p.ids, id)
	}
	slices.Sort(p.ids)
	return p, nil
}

// Addr is the address the peer port listens on.
func (p *Peers) Addr() net.Addr { return p.ln.Addr() }

// Has reports whether id is another server of the ensemble.
func (p *Peers) Has(id node.ID) bool { _, ok := p.peers[id]; return ok }

// Dropped counts messages dropped because a peer's queue was full.
func (p *Peers) Dropped() uint64 { return p.dropped.Load() }

// Send queues a message for its peer, or drops it (never blocks).
func (p *Peers) Send(m node.Message) {
	po := p.peers[m.To]
	if po == nil {
		p.dropped.Add(1)
		return
	}
	select {
	case po.queue <- m.Body:
	default:
		if p.dropped.Add(1)%1024 == 1 {
			p.opt.Logger.Warn("peers: send queue full, dropping messages", "peer", m.To)
		}
	}
}

// Run accepts and dials until ctx is done, then closes every connection and
// waits for its goroutines.
func (p *Peers) Run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.accept(ctx)
	}()
	for _, id := range p.ids {
		po := p.peers[id]
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.dialLoop(ctx, po)
		}()
	}
	<-ctx.Done()
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.inbound {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Peers) accept(ctx context.Context) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				p.opt.Logger.Error("peers: accept", "err", err)
			}
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serveInbound(ctx, c)
		}()
	}
}

// serveInbound checks a dialer's handshake and reads its frames.
func (p *Peers) serveInbound(ctx context.Context, c net.Conn) {
	defer c.Close()
	var h [handshakeLen]byte
	c.SetReadDeadline(time.Now().Add(p.opt.DialTimeout))
	if _, err := io.ReadFull(c, h[:]); err != nil {
		p.opt.Logger.Warn("peers: a connection without a handshake", "remote", c.RemoteAddr(), "err", err)
		return
	}
	from := node.ID(binary.BigEndian.Uint32(h[len(peerMagic)+1:]))
	to := node.ID(binary.BigEndian.Uint32(h[len(peerMagic)+5:]))
	switch {
	case string(h[:len(peerMagic)]) != peerMagic:
		p.opt.Logger.Warn("peers: not a zoosim peer", "remote", c.RemoteAddr())
		return
	case h[len(peerMagic)] != peerVersion:
		p.opt.Logger.Warn("peers: a peer speaks another version", "remote", c.RemoteAddr(), "version", h[len(peerMagic)])
		return
	case !p.Has(from):
		p.opt.Logger.Warn("peers: refusing a server that is not in the configuration", "remote", c.RemoteAddr(), "server", from)
		return
	case to != p.opt.Self:
		p.opt.Logger.Warn("peers: a peer dialed this port for another server", "remote", c.RemoteAddr(), "server", from,
			"meant", to, "self", p.opt.Self)
		return
	}
	c.SetReadDeadline(time.Time{})
	if _, err := c.Write([]byte{1}); err != nil {
		return
	}
	// The newest connection from a peer wins: the peer restarted, or
	// redialed after a failure we have not noticed yet.
	p.mu.Lock()
	if old := p.inbound[from]; old != nil {
		old.Close()
	}
	if ctx.Err() != nil {
		p.mu.Unlock()
		return
	}
	p.inbound[from] = c
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.inbound[from] == c {
			delete(p.inbound, from)
		}
		p.mu.Unlock()
	}()
	p.opt.Logger.Debug("peers: connected from", "server", from, "remote", c.RemoteAddr())
	framer := p.opt.Registry.NewFramer()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			framer.Write(buf[:n])
			for {
				f, ferr := framer.Next()
				if ferr != nil {
					p.opt.Logger.Warn("peers: closing a connection", "server", from, "err", ferr)
					return
				}
				if f == nil {
					break
				}
				body, derr := p.opt.Registry.Decode(f)
				if derr != nil {
					p.opt.Logger.Warn("peers: a frame that does not decode; closing", "server", from, "err", derr)
					return
				}
				if !p.opt.Deliver(ctx, node.Message{From: from, To: p.opt.Self, Body: body}) {
					return
				}
			}
		}
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				p.opt.Logger.Debug("peers: connection from peer ended", "server", from, "err", err)
			}
			return
		}
	}
}

// dialLoop keeps a connection to one peer and writes its queue to it.
func (p *Peers) dialLoop(ctx context.Context, po *peerOut) {
	backoff := p.opt.BackoffMin
	var buf []byte
	for ctx.Err() == nil {
		c, err := p.dial(ctx, po)
		if err != nil {
			// Quiet: a peer that is down is the normal case at start.
			p.opt.Logger.Debug("peers: dial", "server", po.id, "addr", po.addr, "err", err)
			sleep := backoff/2 + rand.N(backoff/2+1) // jitter from the process's own seed: nothing here is simulated
			select {
			case <-time.After(sleep):
			case <-ctx.Done():
				return
			}
			backoff = min(2*backoff, p.opt.BackoffMax)
			continue
		}
		backoff = p.opt.BackoffMin
		p.opt.Logger.Debug("peers: connected to", "server", po.id, "addr", po.addr)
		buf = p.writeLoop(ctx, po, c, buf[:0])
		c.Close()
	}
}

func (p *Peers) dial(ctx context.Context, po *peerOut) (net.Conn, error) {
	d := net.Dialer{Timeout: p.opt.DialTimeout}
	c, err := d.DialContext(ctx, "tcp", po.addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	h := make([]byte, 0, handshakeLen)
	h = append(h, peerMagic...)
	h = append(h, peerVersion)
	h = binary.BigEndian.AppendUint32(h, uint32(p.opt.Self))
	h = binary.BigEndian.AppendUint32(h, uint32(po.id))
	c.SetDeadline(time.Now().Add(p.opt.DialTimeout))
	var ok [1]byte
	if _, err := c.Write(h); err != nil {
		c.Close()
		return nil, err
	}
	if _, err := io.ReadFull(c, ok[:]); err != nil || ok[0] != 1 {
		c.Close()
		return nil, fmt.Errorf("handshake refused: %v", err)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// writeLoop sends queued messages until the connection fails or ctx ends;
// it batches what is queued into one write. A reader goroutine notices the
// peer closing (the peer never sends on this connection).
func (p *Peers) writeLoop(ctx context.Context, po *peerOut, c net.Conn, buf []byte) []byte {
	closed := make(chan struct{})
	go func() {
		var b [1]byte
		c.Read(b[:]) // returns when the connection closes
		close(closed)
	}()
	defer func() { c.Close(); <-closed }()
	for {
		var body any
		select {
		case body = <-po.queue:
		case <-closed:
			return buf
		case <-ctx.Done():
			return buf
		}
		buf = buf[:0]
		for {
			var err error
			if buf, err = p.opt.Registry.AppendFrame(buf, body); err != nil {
				// A message this build cannot encode is a bug in a codec:
				// say so and drop it, as the network would.
				p.opt.Logger.Error("peers: cannot encode a message", "server", po.id, "type", fmt.Sprintf("%T", body), "err", err)
			}
			if len(buf) >= 1<<20 {
				break
			}
			select {
			case body = <-po.queue:
				continue
			default:
			}
			break
		}
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(buf); err != nil {
			p.opt.Logger.Debug("peers: write", "server", po.id, "err", err)
			return buf
		}
		if cap(buf) > 4<<20 {
			buf = nil // do not keep a snapshot-sized buffer
		}
	}
}
