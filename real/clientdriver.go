package real

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"zoosim/node"
	"zoosim/wire"
	"zoosim/wire/clientport"
	"zoosim/wire/jute"
)

// The client driver runs zoosim's client machines (package client, or the
// scenarios' client nodes around them) over TCP against real servers, the
// way the simulator runs them over its network. The machines speak wire
// values to server node IDs; the driver turns them into connections:
//
//   - a *wire.Connect from client C to server S opens a new TCP connection
//     to Addr(C, S), named by the Connect's connection nonce
//     (wire.Header.Conn), and sends the ConnectRequest on it;
//   - a *wire.Request or *wire.Ping goes on the connection its nonce names;
//   - a *wire.Close from the client closes that connection;
//   - what the server sends is decoded (wire/clientport.ClientConn) and
//     stepped into the machine as a message from S, in order;
//   - a connection that breaks (the dial fails, the server closes it or
//     resets it, a frame does not decode, a write fails) reaches the machine
//     as a *wire.Close{Conn: nonce, Reason: CloseBroken} from S, after every
//     frame that arrived before: what the simulated network delivers when a
//     connection is lost. A connection the client closed itself reports
//     nothing.
//
// One goroutine (Run's) owns every machine and is the only caller of their
// Step, Tick, Ready and Advance; each connection has a writer goroutine
// (which dials first) and a reader goroutine, which feed the loop through
// one channel. Time is node.Time nanoseconds since Start (the monotonic
// clock).

// ClientDriverOptions configure a ClientDriver.
type ClientDriverOptions struct {
	// Machines are the client nodes, by id.
	Machines map[node.ID]node.Machine
	// Addr is the address client dials to reach server (a proxy's, say).
	Addr func(client, server node.ID) string
	// Start is time zero of the machines' clock (default: now).
	Start time.Time
	// DialTimeout bounds a dial (default 5 s; the client machine gives up
	// on a silent attempt sooner).
	DialTimeout time.Duration
	// QueueLen bounds what waits to be written on one connection; a
	// connection that lets it fill is broken (default 4096).
	QueueLen int
	Logger   *slog.Logger
}

// ClientDriver runs client machines over TCP.
type ClientDriver struct {
	opt      ClientDriverOptions
	ids      []node.ID // sorted
	start    time.Time
	machines map[node.ID]node.Machine

	in    chan clientInput
	calls chan func(now node.Time)
	quit  chan struct{}
	wg    sync.WaitGroup

	// Owned by Run's goroutine.
	conns  map[connKey]*dconn
	wakeAt map[node.ID]node.Time
	// Crashed machines, and paused ones with what reached them meanwhile
	// (as in a socket's buffer).
	down   map[node.ID]bool
	paused map[node.ID][]clientInput
	timer  *time.Timer
	stats  ClientDriverStats
}

// ClientDriverStats are the driver's counters.
type ClientDriverStats struct {
	Dials, DialErrors, Broken, Sent, Received int
}

type connKey struct {
	client node.ID
	nonce  uint64
}

// clientInput is what a connection's goroutines tell the loop: a decoded
// message, or (closed) that the connection is over.
type clientInput struct {
	key    connKey
	server node.ID
	body   any
	closed bool
	err    error
}

// dconn is one TCP connection of a client machine.
type dconn struct {
	key    connKey
	server node.ID
	addr   string
	out    chan any
	done   chan struct{}
	once   sync.Once
	report sync.Once

	mu    sync.Mutex // guards c and codec
	c     net.Conn
	codec *clientport.ClientConn
}

// NewClientDriver returns a driver for opt.Machines; start it with Run.
func NewClientDriver(opt ClientDriverOptions) (*ClientDriver, error) {
	if len(opt.Machines) == 0 || opt.Addr == nil {
		return nil, errors.New("real: a client driver needs machines and an address function")
	}
	if opt.Start.IsZero() {
		opt.Start = time.Now()
	}
	if opt.DialTimeout <= 0 {
		opt.DialTimeout = 5 * time.Second
	}
	if opt.QueueLen <= 0 {
		opt.QueueLen = 4096
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	d := &ClientDriver{opt: opt, start: opt.Start, in: make(chan clientInput, 4096),
		calls: make(chan func(node.Time)), quit: make(chan struct{}),
		conns: map[connKey]*dconn{}, wakeAt: map[node.ID]node.Time{}, machines: map[node.ID]node.Machine{},
		down: map[node.ID]bool{}, paused: map[node.ID][]clientInput{}}
	for id, m := range opt.Machines {
		if id <= 0 || m == nil {
			return nil, fmt.Errorf("real: client machine %d is not valid", id)
		}
		d.ids = append(d.ids, id)
		d.machines[id] = m
	}
	slices.Sort(d.ids)
	return d, nil
}

// Now is the machines' clock: nanoseconds since Start.
func (d *ClientDriver) Now() node.Time { return node.Time(time.Since(d.start)) }

// Do runs fn on the loop's goroutine, between inputs, with the time, and
// waits for it (fn may read and change what the machines share). It
// returns ctx's error, or an error once Run has returned, if fn did not
// run.
func (d *ClientDriver) Do(ctx context.Context, fn func(now node.Time)) error {
	done := make(chan struct{})
	select {
	case d.calls <- func(now node.Time) { fn(now); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-d.quit:
		return errors.New("real: the client driver has stopped")
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run drives the machines until ctx is done, then closes every connection
// and waits for their goroutines. Only the loop's invariant failures are
// returned (a machine sending something no server takes).
func (d *ClientDriver) Run(ctx context.Context) (err error) {
	d.timer = time.NewTimer(time.Hour)
	d.timer.Stop()
	defer func() {
		d.timer.Stop()
		close(d.quit)
		for _, k := range sortedConnKeys(d.conns) {
			d.conns[k].close()
		}
		d.wg.Wait()
	}()
	for _, id := range d.ids {
		if err := d.drain(id); err != nil {
			return err
		}
	}
	for {
		d.armTimer()
		select {
		case <-ctx.Done():
			return nil
		case in := <-d.in:
			if err := d.input(in); err != nil {
				return err
			}
			// Take what else is queued before timers run.
			for i := 0; i < 256; i++ {
				select {
				case in := <-d.in:
					if err := d.input(in); err != nil {
						return err
					}
					continue
				default:
				}
				break
			}
		case fn := <-d.calls:
			fn(d.Now())
			for _, id := range d.ids {
				if d.active(id) {
					if err := d.drain(id); err != nil {
						return err
					}
				}
			}
		case <-d.timer.C:
		}
		if err := d.tick(); err != nil {
			return err
		}
	}
}

// Stats returns the driver's counters; call it after Run returned, or
// from a Do.
func (d *ClientDriver) Stats() ClientDriverStats { return d.stats }

func (d *ClientDriver) input(in clientInput) error {
	c := d.conns[in.key]
	if c == nil {
		return nil // the client closed it: what still arrives is stale
	}
	id := in.key.client
	if q, ok := d.paused[id]; ok {
		d.paused[id] = append(q, in)
		return nil
	}
	m := d.machines[id]
	if in.closed {
		delete(d.conns, in.key)
		c.close()
		var de *dialError
		if errors.As(in.err, &de) {
			d.stats.DialErrors++
		} else {
			d.stats.Broken++
		}
		d.opt.Logger.Debug("clients: connection lost", "client", in.key.client, "server", c.server, "err", in.err)
		m.Step(d.Now(), node.Message{From: c.server, To: in.key.client, Body: &wire.Close{Conn: in.key.nonce, Reason: wire.CloseBroken}})
	} else {
		d.stats.Received++
		m.Step(d.Now(), node.Message{From: c.server, To: in.key.client, Body: in.body})
	}
	return d.drain(in.key.client)
}

// tick runs the timers that are due, in id order.
func (d *ClientDriver) tick() error {
	now := d.Now()
	for _, id := range d.ids {
		if w := d.wakeAt[id]; w != 0 && w <= now && d.active(id) {
			d.wakeAt[id] = 0
			d.machines[id].Tick(now)
			if err := d.drain(id); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *ClientDriver) armTimer() {
	var next node.Time
	for _, id := range d.ids {
		if w := d.wakeAt[id]; w != 0 && (next == 0 || w < next) && d.active(id) {
			next = w
		}
	}
	d.timer.Stop()
	if next != 0 {
		d.timer.Reset(time.Duration(max(next-d.Now(), 0)))
	}
}

// drain performs machine id's Ready batches until one carries no work.
func (d *ClientDriver) drain(id node.ID) error {
	m := d.machines[id]
	for round := 0; ; round++ {
		if round >= 1024 {
			return fmt.Errorf("real: invariant violated: client %d returned work from Ready %d times in a row", id, round)
		}
		rd := m.Ready()
		if len(rd.Disk) > 0 || rd.Sync {
			return fmt.Errorf("real: invariant violated: client %d asked for disk work", id)
		}
		for _, msg := range rd.Messages {
			if err := d.send(id, msg); err != nil {
				return err
			}
		}
		d.wakeAt[id] = rd.WakeAt
		m.Advance()
		if rd.Empty() {
			return nil
		}
	}
}

// send puts one of a client's messages on its way.
func (d *ClientDriver) send(id node.ID, msg node.Message) error {
	if msg.From != id && msg.From != 0 {
		return fmt.Errorf("real: invariant violated: client %d sent a message with From=%d", id, msg.From)
	}
	var nonce uint64
	switch b := msg.Body.(type) {
	case *wire.Connect:
		k := connKey{id, b.Conn}
		if old := d.conns[k]; old != nil {
			// Nonces are fresh per connection: a reuse is the client's bug.
			return fmt.Errorf("real: invariant violated: client %d reused connection nonce %d", id, b.Conn)
		}
		c := &dconn{key: k, server: msg.To, addr: d.opt.Addr(id, msg.To), out: make(chan any, d.opt.QueueLen),
			done: make(chan struct{}), codec: clientport.NewClientConn(b.Conn)}
		d.conns[k] = c
		d.stats.Dials++
		c.out <- b
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.writeLoop(c)
		}()
		return nil
	case *wire.Close:
		k := connKey{id, b.Conn}
		if c := d.conns[k]; c != nil {
			delete(d.conns, k)
			c.close()
		}
		return nil
	case *wire.Request:
		nonce = b.Conn
	case *wire.Ping:
		nonce = b.Conn
	default:
		return fmt.Errorf("real: invariant violated: client %d sent a %T", id, msg.Body)
	}
	c := d.conns[connKey{id, nonce}]
	if c == nil || c.server != msg.To {
		// The connection broke and the client has not heard yet: the
		// message is lost with it, as on a broken socket.
		return nil
	}
	select {
	case c.out <- msg.Body:
		d.stats.Sent++
	default:
		d.opt.Logger.Warn("clients: a connection's queue is full; breaking it", "client", id, "server", c.server)
		c.close()
	}
	return nil
}

// active reports whether machine id runs (it is neither crashed nor
// paused).
func (d *ClientDriver) active(id node.ID) bool {
	_, paused := d.paused[id]
	return !d.down[id] && !paused
}

// The machine controls carry out the nemesis's faults on clients. They
// must be called on the loop's goroutine (from a Do).

// Up reports whether machine id runs or is paused (not crashed).
func (d *ClientDriver) Up(id node.ID) bool { return d.machines[id] != nil && !d.down[id] }

// Crash drops machine id as a killed process: its connections close (the
// servers see the sockets close), it gets no more input or ticks.
func (d *ClientDriver) Crash(id node.ID) {
	if d.machines[id] == nil || d.down[id] {
		return
	}
	for _, k := range sortedConnKeys(d.conns) {
		if k.client == id {
			d.conns[k].close()
			delete(d.conns, k)
		}
	}
	d.down[id] = true
	delete(d.paused, id)
	d.wakeAt[id] = 0
}

// Restart runs m as crashed machine id's new incarnation.
func (d *ClientDriver) Restart(id node.ID, m node.Machine) error {
	if d.machines[id] == nil || !d.down[id] || m == nil {
		return fmt.Errorf("real: client %d is not a crashed machine to restart", id)
	}
	d.machines[id] = m
	delete(d.down, id)
	return d.drain(id)
}

// Pause stops machine id as a stopped process: what reaches it waits.
func (d *ClientDriver) Pause(id node.ID) {
	if d.machines[id] != nil && d.active(id) {
		d.paused[id] = []clientInput{}
	}
}

// Resume runs paused machine id again: what reached it meanwhile is
// delivered in order, then its timer runs (the loop ticks it when due).
func (d *ClientDriver) Resume(id node.ID) error {
	q, ok := d.paused[id]
	if !ok {
		return nil
	}
	delete(d.paused, id)
	for _, in := range q {
		if err := d.input(in); err != nil {
			return err
		}
	}
	return d.drain(id)
}

// close ends the connection's goroutines (once).
func (c *dconn) close() {
	c.once.Do(func() {
		close(c.done)
		c.mu.Lock()
		if c.c != nil {
			c.c.Close()
		}
		c.mu.Unlock()
	})
}

// broken tells the loop that the connection is over (once).
func (d *ClientDriver) broken(c *dconn, err error) {
	c.report.Do(func() {
		select {
		case d.in <- clientInput{key: c.key, server: c.server, closed: true, err: err}:
		case <-d.quit:
		}
	})
}

func (d *ClientDriver) writeLoop(c *dconn) {
	dialer := net.Dialer{Timeout: d.opt.DialTimeout}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-c.done:
		case <-ctx.Done():
		}
		cancel()
	}()
	conn, err := dialer.DialContext(ctx, "tcp", c.addr)
	cancel()
	if err != nil {
		d.broken(c, &dialError{err})
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		conn.Close()
		return
	default:
	}
	c.c = conn
	c.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.readLoop(c, conn)
	}()
	var buf []byte
	for {
		var body any
		select {
		case body = <-c.out:
		case <-c.done:
			return
		}
		buf = buf[:0]
		c.mu.Lock()
		for {
			buf, err = c.codec.Append(buf, body)
			if err != nil {
				break
			}
			if len(buf) >= 256<<10 {
				break
			}
			select {
			case body = <-c.out:
				continue
			default:
			}
			break
		}
		c.mu.Unlock()
		if err != nil {
			d.opt.Logger.Warn("clients: cannot encode a request; breaking the connection", "client", c.key.client, "err", err)
			conn.Close()
			return // the reader reports the close
		}
		conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, werr := conn.Write(buf); werr != nil {
			conn.Close()
			return
		}
		if cap(buf) > 4<<20 {
			buf = nil
		}
	}
}

// dialError is a connection that never opened.
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func (d *ClientDriver) readLoop(c *dconn, conn net.Conn) {
	framer := jute.NewFramer()
	buf := make([]byte, 32<<10)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			framer.Write(buf[:n])
			for {
				f, ferr := framer.Next()
				if ferr != nil {
					d.broken(c, ferr)
					return
				}
				if f == nil {
					break
				}
				c.mu.Lock()
				body, derr := c.codec.Decode(f)
				c.mu.Unlock()
				if derr != nil {
					d.broken(c, derr)
					return
				}
				select {
				case d.in <- clientInput{key: c.key, server: c.server, body: body}:
				case <-d.quit:
					return
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			d.broken(c, err)
			return
		}
	}
}

func sortedConnKeys(m map[connKey]*dconn) []connKey {
	keys := make([]connKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b connKey) int {
		if a.client != b.client {
			return int(a.client - b.client)
		}
		switch {
		case a.nonce < b.nonce:
			return -1
		case a.nonce > b.nonce:
			return 1
		}
		return 0
	})
	return keys
}
