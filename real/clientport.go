package real

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
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
	Logger       *slog.Logger
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
		codec: clientport.NewServerConn(p.nextNonce), out: make(chan any, p.opt.QueueLen), done: make(chan struct{})}
	p.nextID++
	p.conns[cc.id] = cc
	p.perHost[host]++
	return cc
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
	for {
		n, err := cc.c.Read(buf)
		if n > 0 {
			framer.Write(buf[:n])
			for {
				f, ferr := framer.Next()
				if ferr != nil {
					// ZooKeeper: "Len error", and the connection is closed.
					p.opt.Logger.Warn("clients: a frame over jute.maxbuffer; closing", "remote", cc.c.RemoteAddr(), "err", ferr)
					return
				}
				if f == nil {
					break
				}
				cc.codecMu.Lock()
				body, derr := cc.codec.Decode(f)
				cc.codecMu.Unlock()
				if derr != nil {
					p.opt.Logger.Warn("clients: a frame that does not decode; closing", "remote", cc.c.RemoteAddr(), "err", derr)
					return
				}
				if !p.opt.Deliver(ctx, node.Message{From: cc.id, To: p.opt.Self, Body: body}) {
					return
				}
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
