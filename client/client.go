package client

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"zoosim/model"
	"zoosim/node"
	"zoosim/wire"
)

// State is the client's session state.
type State uint8

// The states, in lifecycle order. Closed and Expired are final.
const (
	// NotConnected: no connection and no attempt in flight; the client is
	// pausing after a full round of failed attempts.
	NotConnected State = iota + 1
	// Connecting: a Connect is out and the client waits for its answer.
	Connecting
	// Connected: the session is established on a server.
	Connected
	// Closed: the user closed the session.
	Closed
	// Expired: a server reported the session expired.
	Expired
	// AuthFailed: a server answered an auth packet with AuthFailed (no
	// provider for its scheme). ZooKeeper's client gives up its session
	// then; the server only closes the connection, and the session expires.
	AuthFailed
)

func (s State) String() string {
	switch s {
	case NotConnected:
		return "NOT_CONNECTED"
	case Connecting:
		return "CONNECTING"
	case Connected:
		return "CONNECTED"
	case Closed:
		return "CLOSED"
	case Expired:
		return "EXPIRED"
	case AuthFailed:
		return "AUTH_FAILED"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Final reports whether the session is over (for the client).
func (s State) Final() bool { return s == Closed || s == Expired || s == AuthFailed }

// Defaults for the zero fields of Config.
const (
	DefaultMaxOutstanding = 1000
	// DefaultBackoffMax is ZooKeeper's spin delay (StaticHostProvider sleeps
	// 1 s before it tries the server it last connected to again); it is
	// capped at a third of the session timeout.
	DefaultBackoffMax = node.Second
)

// Config is a client's fixed setup.
type Config struct {
	// Servers is the ensemble the client may connect to (the connect
	// string). The client starts at a random one and goes round-robin.
	Servers []node.ID
	// SessionTimeout is the timeout the client asks for (whole
	// milliseconds, at least one); the server negotiates the one that holds.
	SessionTimeout node.Time
	// MaxOutstanding bounds requests submitted and not yet completed
	// (queued and sent). Submit beyond it fails the request at once with
	// ErrThrottledOp. Zero means DefaultMaxOutstanding. Close is always
	// accepted.
	MaxOutstanding int
	// BackoffMax bounds the pause after a full round of failed connection
	// attempts (every server tried since the last success); the pause is
	// drawn from [BackoffMax/2, BackoffMax]. Zero means
	// min(DefaultBackoffMax, SessionTimeout/3).
	BackoffMax node.Time
	// Buggify forces the client's rare branches (nil: never).
	Buggify *node.Buggify
	// Bugs are seeded defects (zero: a correct client).
	Bugs Bugs

	_ struct{}
}

// Bugs are seeded defects of the client library.
type Bugs struct {
	// ForgetsLastZxid: on reconnect the client sends 0 as the last zxid it
	// has seen, so a server behind it accepts it.
	ForgetsLastZxid bool
	_               struct{}
}

// BuggifyRebalance is the client's forced rare branch: at a tick, a
// connected client moves to another server of its list (MoveTo), as
// clients do when their server list is rebalanced.
const BuggifyRebalance = "client/rebalance"

// BuggifyPoints are the client's forced rare branches.
var BuggifyPoints = []string{BuggifyRebalance}

// validate checks c and fills in the defaults.
func (c *Config) validate(self node.ID) error {
	if len(c.Servers) == 0 {
		return errors.New("client: no servers")
	}
	seen := make(map[node.ID]bool, len(c.Servers))
	for _, s := range c.Servers {
		switch {
		case s <= 0:
			return fmt.Errorf("client: invalid server id %d", s)
		case s == self:
			return fmt.Errorf("client: server %d is the client itself", s)
		case seen[s]:
			return fmt.Errorf("client: server %d listed twice", s)
		}
		seen[s] = true
	}
	if c.SessionTimeout < node.Millisecond || c.SessionTimeout.Millis() > math.MaxInt32 {
		return fmt.Errorf("client: session timeout %d ns is not between 1 ms and %d ms", c.SessionTimeout, math.MaxInt32)
	}
	if c.MaxOutstanding < 0 {
		return fmt.Errorf("client: negative MaxOutstanding %d", c.MaxOutstanding)
	}
	if c.MaxOutstanding == 0 {
		c.MaxOutstanding = DefaultMaxOutstanding
	}
	if c.BackoffMax < 0 {
		return fmt.Errorf("client: negative BackoffMax %d", c.BackoffMax)
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = min(DefaultBackoffMax, c.SessionTimeout/3)
	}
	return nil
}

// Stats counts what a client has seen, for tests and reports.
type Stats struct {
	ConnectAttempts  int // Connects sent
	Connections      int // Connected answers accepted (sessions created or resumed)
	ConnectionLosses int // connections and attempts given up, for any reason
	ServerCloses     int // connections a server closed (behind, not serving, ...)
	ProtocolErrors   int // gaps, replies out of xid order, unexpected messages
	Pings            int
	Ignored          int // duplicates and messages for another connection
	UnwatchedEvents  int // notifications no local watch matched (dropped)
	ZxidRegressions  int // replies whose zxid was below the last zxid seen
	Refused          int // requests Submit failed at once
	Moves            int // MoveTo calls that moved the client
	AuthFailures     int // auth packets the server answered AuthFailed
}

// maxBuffered bounds results and events waiting for TakeResults and
// TakeEvents: a driver that never takes them is a bug, and it is caught
// rather than left to grow.
const maxBuffered = 1 << 16

// entry is a request between Submit and its Result.
type entry struct {
	xid int32
	n   uint64 // submission number: the order results must keep
	req Request
	// setWatches is set for the client's own re-registration request (xid
	// -8), which travels in the FIFO like any request but has no Result.
	setWatches *wire.SetWatches
}

// Client is one ZooKeeper session's client side. It is not safe for
// concurrent use; a driver feeds it from one goroutine.
type Client struct {
	cfg  Config
	self node.ID
	rnd  *rand.Rand
	now  node.Time

	state   State
	closing bool // Close was called; the closeSession request is queued or sent

	sessionID  int64
	passwd     []byte
	negotiated node.Time // the negotiated timeout; 0 until the first Connected
	// Invariant: lastZxid never decreases (setLastZxid asserts it).
	lastZxid model.Zxid

	// The current connection or connection attempt.
	serverIdx int     // index in cfg.Servers of the current target
	server    node.ID // the current target; 0 in NotConnected and final states
	// roundEnd is ZooKeeper's StaticHostProvider.lastIndex: the index of the
	// server last connected to (or the first one tried). Coming back to it
	// completes a round of failures, which earns a pause.
	roundEnd     int
	conn         uint64 // the connection's nonce; 0 when there is none
	outSeq       uint64 // Seq of the last message sent on conn
	inSeq        uint64 // Seq of the last message accepted on conn
	lastSend     node.Time
	lastHeard    node.Time // also the start of a connection attempt
	backoffUntil node.Time

	xid     int32  // last xid handed out
	subN    uint64 // last submission number handed out
	doneN   uint64 // submission number of the last completed request
	queued  fifo   // accepted, not sent (waiting for a connection)
	pending fifo   // sent on conn, waiting for the reply
	// outstanding counts user requests in queued and pending.
	outstanding int

	watches watchTable

	outbox  []node.Message
	results []Result
	events  []Event
	order   uint64
	stats   Stats

	recipeSeq uint64 // names recipe nodes apart (Lock's guid)

	// auth are the credentials AddAuth was given, re-sent on every
	// connection (ClientCnxn.authInfo).
	auth []wire.Auth
}

var _ node.Machine = (*Client)(nil)

// New builds a client and starts its first connection attempt (the Connect
// is in the first Ready). self is the client's node ID, rnd its own random
// stream, now its clock.
func New(cfg Config, self node.ID, rnd *rand.Rand, now node.Time) (*Client, error) {
	if self <= 0 {
		return nil, fmt.Errorf("client: invalid client id %d", self)
	}
	if rnd == nil {
		return nil, errors.New("client: nil random source")
	}
	cfg.Servers = append([]node.ID(nil), cfg.Servers...)
	if err := cfg.validate(self); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, self: self, rnd: rnd, now: now, state: NotConnected}
	c.serverIdx = rnd.IntN(len(cfg.Servers))
	c.roundEnd = c.serverIdx
	c.connect()
	return c, nil
}

// ID is the client's node ID.
func (c *Client) ID() node.ID { return c.self }

// State is the session state.
func (c *Client) State() State { return c.state }

// Closing reports whether Close was called and the session is not over yet.
func (c *Client) Closing() bool { return c.closing && !c.state.Final() }

// SessionID is the session's id, 0 until the first Connected.
func (c *Client) SessionID() int64 { return c.sessionID }

// LastZxid is the largest zxid seen in a reply header.
func (c *Client) LastZxid() model.Zxid { return c.lastZxid }

// NegotiatedTimeout is the session timeout the server granted, 0 until the
// first Connected.
func (c *Client) NegotiatedTimeout() node.Time { return c.negotiated }

// Server is the server the client is connected to, 0 when not Connected.
func (c *Client) Server() node.ID {
	if c.state != Connected {
		return 0
	}
	return c.server
}

// Outstanding is the number of requests submitted and not completed.
func (c *Client) Outstanding() int { return c.outstanding }

// Watches lists the watches the client holds (and re-registers on every
// reconnect).
func (c *Client) Watches() Watches { return c.watches.list() }

// Stats returns the counters.
func (c *Client) Stats() Stats { return c.stats }

// Ready returns the messages to send and the time to be woken at. Calling it
// twice without Advance returns the same work.
func (c *Client) Ready() node.Ready {
	return node.Ready{Messages: c.outbox, WakeAt: c.wakeAt()}
}

// Advance tells the client the driver sent everything the last Ready held.
func (c *Client) Advance() {
	clear(c.outbox)
	c.outbox = c.outbox[:0]
}

// TakeResults returns the results completed since the last call, in
// completion order (see Result.Order). Results of requests that Submit
// accepted come in submission order; a request Submit refused (Stats.Refused)
// completes at once and may come before earlier ones still outstanding.
func (c *Client) TakeResults() []Result {
	r := c.results
	c.results = nil
	return r
}

// TakeEvents returns the events produced since the last call, in order.
func (c *Client) TakeEvents() []Event {
	e := c.events
	c.events = nil
	return e
}

// Submit queues a request and returns its xid (xids count up from 1). The
// outcome comes later as a Result with that xid; a request refused at once
// (session over, closing, malformed, too many outstanding) has its Result
// ready before Submit returns. Submitting OpCloseSession is Close.
//
// A request is stamped with the client's clock, the now of the latest Step
// or Tick: a driver that submits later than that should Tick first (a stale
// clock only makes the next ping come early).
func (c *Client) Submit(req Request) int32 {
	if req.Op == model.OpCloseSession {
		return c.Close()
	}
	xid := c.nextXid()
	switch {
	case c.state == AuthFailed:
		// ZooKeeper's conLossPacket in state AUTH_FAILED.
		c.refuse(xid, req.Op, model.ErrAuthFailed)
	case c.state.Final():
		// ZooKeeper's conLossPacket in state CLOSED.
		c.refuse(xid, req.Op, model.ErrSessionExpired)
	case c.closing:
		// ZooKeeper's queuePacket after close(): the state is still alive.
		c.refuse(xid, req.Op, model.ErrConnectionLoss)
	case !validRequest(&req):
		c.refuse(xid, req.Op, model.ErrBadArguments)
	case c.outstanding >= c.cfg.MaxOutstanding:
		c.refuse(xid, req.Op, model.ErrThrottledOp)
	default:
		c.accept(xid, req)
	}
	return xid
}

// AddAuth adds credentials for an authentication scheme ("digest" with
// "user:password", or "ip"), as ZooKeeper's addAuthInfo: they are sent at
// once if connected, and again on every new connection before anything
// else, each as an auth packet (xid -4) outside the request FIFO. The
// server answers at once; a failure (a scheme the server has no provider
// for) makes the client AuthFailed: its requests fail with ErrAuthFailed
// and it stops, as ZooKeeper's client does. It does nothing once the
// session is over.
func (c *Client) AddAuth(scheme string, auth []byte) {
	if c.state.Final() {
		return
	}
	a := wire.Auth{Scheme: scheme, Auth: append([]byte(nil), auth...)}
	c.auth = append(c.auth, a)
	if c.state == Connected {
		c.sendAuth(a)
	}
}

func (c *Client) sendAuth(a wire.Auth) {
	c.send(&wire.Request{Header: c.header(), Xid: wire.XidAuth, Op: model.OpAuth, Auth: &a})
}

// authFailed is ClientCnxn's answer to an AuthFailed reply: the state
// AUTH_FAILED, an AuthFailed event, and every request failed with
// AuthFailed.
func (c *Client) authFailed() {
	c.send(&wire.Close{Conn: c.conn, Reason: wire.CloseBroken})
	c.stats.AuthFailures++
	c.emitState(wire.StateAuthFailed)
	c.failPending(model.ErrAuthFailed)
	c.failQueued(model.ErrAuthFailed)
	c.finish(AuthFailed)
}

// Close ends the session: it queues a closeSession request behind every
// request already submitted; when its reply comes the client sends a Close
// to the server and becomes Closed. If the connection (or, when
// disconnected, the one more connection attempt Close makes) is lost first,
// the client becomes Closed without it and the server expires the session.
// Requests submitted after Close fail with ErrConnectionLoss until the
// session is over and with ErrSessionExpired after, as in ZooKeeper.
func (c *Client) Close() int32 {
	xid := c.nextXid()
	switch {
	case c.state.Final():
		c.refuse(xid, model.OpCloseSession, model.ErrSessionExpired)
		return xid
	case c.closing:
		c.refuse(xid, model.OpCloseSession, model.ErrConnectionLoss)
		return xid
	}
	c.closing = true
	c.accept(xid, Request{Op: model.OpCloseSession, Write: model.CloseSession{}})
	if c.state == NotConnected {
		// Skip the pause: a closing client makes one more attempt only.
		c.connect()
	}
	return xid
}

// MoveTo makes the client drop its connection and connect to server next,
// as ZooKeeper's client does when its server list is rebalanced
// (updateServerList): requests sent on the old connection fail with
// ErrConnectionLoss, queued ones go to the new server, the session moves
// with the client. It reports false, doing nothing, if the session is
// over or closing, server is not in the client's list, or the client is
// already connected (or connecting) there.
func (c *Client) MoveTo(server node.ID) bool {
	idx := slices.Index(c.cfg.Servers, server)
	if idx < 0 || c.state.Final() || c.closing || c.server == server {
		return false
	}
	n := len(c.cfg.Servers)
	// lose moves on to the server after serverIdx; the pause at the end of
	// a round of failures does not apply to a move.
	c.serverIdx = (idx - 1 + n) % n
	c.roundEnd = -1
	if c.state == Connected || c.state == Connecting {
		c.lose(true)
	} else {
		c.backoffUntil = 0
		c.nextServer()
	}
	c.roundEnd = c.serverIdx
	c.stats.Moves++
	return true
}

// Step hands the client one message from a server.
func (c *Client) Step(now node.Time, m node.Message) {
	c.observeTime(now)
	switch b := m.Body.(type) {
	case *wire.Connected:
		if c.acceptHeader(m.From, b.Header) {
			c.onConnected(b)
		}
	case *wire.Reply:
		if c.acceptHeader(m.From, b.Header) {
			c.onReply(b)
		}
	case *wire.Event:
		if c.acceptHeader(m.From, b.Header) {
			c.onEvent(b)
		}
	case *wire.Pong:
		if c.acceptHeader(m.From, b.Header) && c.state != Connected {
			c.protocolError()
		}
	case *wire.Close:
		c.onClose(m.From, b)
	// Bodies passed by value are accepted too.
	case wire.Connected:
		c.Step(now, node.Message{From: m.From, To: m.To, Body: &b})
		return
	case wire.Reply:
		c.Step(now, node.Message{From: m.From, To: m.To, Body: &b})
		return
	case wire.Event:
		c.Step(now, node.Message{From: m.From, To: m.To, Body: &b})
		return
	case wire.Pong:
		c.Step(now, node.Message{From: m.From, To: m.To, Body: &b})
		return
	case wire.Close:
		c.onClose(m.From, &b)
	default:
		panic(fmt.Sprintf("client %d: handed a %T it does not own", c.self, m.Body))
	}
	c.timers()
}

// Tick tells the client its clock reads now.
func (c *Client) Tick(now node.Time) {
	c.observeTime(now)
	c.timers()
	if c.state == Connected && len(c.cfg.Servers) > 1 && c.cfg.Buggify.Fire(BuggifyRebalance, 10) {
		to := c.cfg.Servers[c.rnd.IntN(len(c.cfg.Servers))]
		c.MoveTo(to) // a no-op when it drew its own server
	}
}

// observeTime moves the client's clock forward; a clock that reads earlier
// than before is taken as not having moved.
func (c *Client) observeTime(now node.Time) {
	if now > c.now {
		c.now = now
	}
}

func (c *Client) connectTimeout() node.Time {
	t := c.cfg.SessionTimeout
	if c.negotiated > 0 {
		t = c.negotiated
	}
	return max(t/node.Time(len(c.cfg.Servers)), 1)
}

func (c *Client) readTimeout() node.Time { return max(c.negotiated*2/3, 2) }

func (c *Client) wakeAt() node.Time {
	switch c.state {
	case NotConnected:
		return c.backoffUntil
	case Connecting:
		return c.lastHeard + c.connectTimeout()
	case Connected:
		rt := c.readTimeout()
		return min(c.lastSend+rt/2, c.lastHeard+rt)
	}
	return 0
}

// timers is ClientCnxn.SendThread's loop body: give up a connection attempt
// after connectTimeout, a connection after readTimeout (2/3 of the session
// timeout) of silence, and ping after readTimeout/2 (1/3) without sending.
func (c *Client) timers() {
	switch c.state {
	case NotConnected:
		if c.now >= c.backoffUntil {
			c.connect()
		}
	case Connecting:
		if c.now-c.lastHeard >= c.connectTimeout() {
			c.lose(true)
		}
	case Connected:
		rt := c.readTimeout()
		if c.now-c.lastHeard >= rt {
			c.lose(true)
			return
		}
		if c.now-c.lastSend >= rt/2 {
			c.stats.Pings++
			c.send(&wire.Ping{Header: c.header()})
		}
	}
}

// connect starts an attempt on cfg.Servers[serverIdx] with a fresh
// connection nonce.
func (c *Client) connect() {
	c.state = Connecting
	c.server = c.cfg.Servers[c.serverIdx]
	c.conn = c.freshNonce()
	c.outSeq, c.inSeq = 0, 0
	c.lastHeard = c.now
	c.stats.ConnectAttempts++
	seen := c.lastZxid
	if c.cfg.Bugs.ForgetsLastZxid {
		seen = 0 // seeded bug
	}
	c.send(&wire.Connect{
		Header:       c.header(),
		LastZxidSeen: seen,
		TimeoutMs:    int32(c.cfg.SessionTimeout.Millis()),
		SessionID:    c.sessionID,
		Passwd:       c.passwd,
	})
}

func (c *Client) freshNonce() uint64 {
	for range 64 {
		if n := c.rnd.Uint64(); n != 0 && n != c.conn {
			return n
		}
	}
	panic("client: invariant violated: the random source gives no fresh connection nonce")
}

// lose gives up the current connection or attempt (ClientCnxn's
// cleanAndNotifyState): requests sent on it fail with ErrConnectionLoss,
// requests not sent stay queued, and the client moves on to the next server.
// A closing client ends the session instead. sayClose tells the server the
// connection is over (a socket close); it is false when the server closed it.
func (c *Client) lose(sayClose bool) {
	wasConnected := c.state == Connected
	if sayClose {
		c.send(&wire.Close{Conn: c.conn, Reason: wire.CloseBroken})
	}
	c.stats.ConnectionLosses++
	c.conn, c.outSeq, c.inSeq = 0, 0, 0
	c.failPending(model.ErrConnectionLoss)
	c.state = NotConnected
	if c.closing {
		c.failQueued(model.ErrConnectionLoss)
		if wasConnected {
			c.emitState(wire.StateDisconnected)
		}
		c.finish(Closed)
		c.emitState(wire.StateClosed)
		return
	}
	if wasConnected {
		c.emitState(wire.StateDisconnected)
	}
	c.nextServer()
}

// nextServer moves to the next server round-robin and connects, after a
// pause when that completes a round of failures.
func (c *Client) nextServer() {
	c.serverIdx = (c.serverIdx + 1) % len(c.cfg.Servers)
	c.server = 0
	if c.serverIdx == c.roundEnd {
		half := c.cfg.BackoffMax / 2
		pause := half + node.Time(c.rnd.Int64N(int64(c.cfg.BackoffMax-half)+1))
		if pause > 0 {
			c.state = NotConnected
			c.backoffUntil = c.now + pause
			return
		}
	}
	c.connect()
}

// finish makes the session final. Every request must have completed.
func (c *Client) finish(s State) {
	if !c.queued.empty() || !c.pending.empty() || c.outstanding != 0 {
		panic(fmt.Sprintf("client %d: invariant violated: session ends with %d requests outstanding", c.self, c.outstanding))
	}
	c.state = s
	c.server, c.conn = 0, 0
	c.watches.clear()
}

// acceptHeader applies the connection framing to a message from a server:
// it must be for the current connection (else it is stale and ignored) and
// carry the next Seq (an old Seq is a duplicate and is ignored; a jump is a
// gap, which breaks the connection).
func (c *Client) acceptHeader(from node.ID, h wire.Header) bool {
	if c.state.Final() || c.conn == 0 || h.Conn != c.conn || from != c.server {
		c.stats.Ignored++
		return false
	}
	if h.Seq <= c.inSeq {
		c.stats.Ignored++
		return false
	}
	if h.Seq != c.inSeq+1 {
		c.protocolError()
		return false
	}
	c.inSeq = h.Seq
	c.lastHeard = c.now
	return true
}

// protocolError breaks the connection after a message that a correct server
// on a gap-free connection cannot send, as ZooKeeper's client closes its
// socket on an IOException.
func (c *Client) protocolError() {
	c.stats.ProtocolErrors++
	c.lose(true)
}

func (c *Client) onClose(from node.ID, m *wire.Close) {
	if c.state.Final() || c.conn == 0 || m.Conn != c.conn || from != c.server {
		c.stats.Ignored++
		return
	}
	c.stats.ServerCloses++
	c.lose(false)
}

// onConnected is ClientCnxn.onConnected.
func (c *Client) onConnected(m *wire.Connected) {
	if c.state != Connecting {
		c.protocolError()
		return
	}
	if m.Expired() {
		// The session is gone for good. ZooKeeper queues the Expired event
		// first, then fails what waits (nothing was sent on this
		// connection, so that is the queue).
		c.emitState(wire.StateExpired)
		c.failPending(model.ErrSessionExpired)
		c.failQueued(model.ErrSessionExpired)
		c.finish(Expired)
		return
	}
	if m.SessionID == 0 || (c.sessionID != 0 && m.SessionID != c.sessionID) {
		c.protocolError()
		return
	}
	c.stats.Connections++
	c.sessionID = m.SessionID
	c.passwd = append([]byte(nil), m.Passwd...)
	c.negotiated = node.Time(m.TimeoutMs) * node.Millisecond
	c.state = Connected
	c.roundEnd = c.serverIdx
	c.emitState(wire.StateSyncConnected)
	// primeConnection: the credentials first, then the watches, then what
	// waited for the connection.
	for _, a := range c.auth {
		c.sendAuth(a)
	}
	if c.watches.len() > 0 {
		w := c.watches.list()
		sw := &wire.SetWatches{
			RelativeZxid:        c.lastZxid,
			Data:                w.Data,
			Exist:               w.Exist,
			Child:               w.Child,
			Persistent:          w.Persistent,
			PersistentRecursive: w.PersistentRecursive,
		}
		c.sendEntry(entry{xid: wire.XidSetWatches, req: Request{Op: model.OpSetWatches2}, setWatches: sw})
	}
	for !c.queued.empty() {
		c.sendEntry(c.queued.pop())
	}
}

// onReply is ClientCnxn.readResponse for a reply: replies come in the order
// the requests were sent, so the reply must be for the oldest pending one.
func (c *Client) onReply(m *wire.Reply) {
	if c.state != Connected {
		c.protocolError()
		return
	}
	if m.Xid == wire.XidPing {
		return // a ping reply sent as a Reply; it only proves liveness
	}
	if m.Xid == wire.XidAuth {
		// Auth packets are not in the FIFO: the server answers them on
		// arrival, ahead of the replies it still owes.
		if m.Err == model.ErrAuthFailed {
			c.authFailed()
		}
		return
	}
	head, ok := c.pending.peek()
	if !ok || head.xid != m.Xid {
		// ZooKeeper: "Xid out of order" or "Nothing in the queue".
		c.protocolError()
		return
	}
	e := c.pending.pop()
	c.observeZxid(m.Zxid)
	if e.setWatches != nil {
		return // the re-registration is done
	}
	r := Result{
		Xid: e.xid, Op: e.req.Op, Err: m.Err, Zxid: m.Zxid, Sent: true,
		Path: m.Path, Stat: m.Stat, Data: m.Data, Children: m.Children,
		ACL: m.ACL, Number: m.Number, Multi: m.Multi,
	}
	c.watches.register(&e.req, m.Err)
	if e.req.Op == model.OpRemoveWatches && m.Err == model.ErrOK {
		removed := c.watches.remove(e.req.Path, model.WatcherType(e.req.Mode))
		if len(removed) == 0 {
			r.Err = model.ErrNoWatcher
		}
		for _, rm := range removed {
			c.emit(Event{Type: rm.typ, State: wire.StateSyncConnected, Path: e.req.Path, Watches: rm.removed})
		}
	}
	c.complete(e, r)
	if e.req.Op == model.OpCloseSession {
		c.send(&wire.Close{Conn: c.conn, Reason: wire.CloseByClient})
		// Nothing can follow closeSession in the FIFO: Submit refuses
		// requests once Close was called.
		c.finish(Closed)
		c.emitState(wire.StateClosed)
	}
}

func (c *Client) onEvent(m *wire.Event) {
	if c.state != Connected {
		c.protocolError()
		return
	}
	fired := c.watches.materialize(m.Type, m.Path)
	if fired == 0 {
		c.stats.UnwatchedEvents++
		return
	}
	c.emit(Event{Type: m.Type, State: wire.StateSyncConnected, Path: m.Path, Zxid: m.Zxid, Watches: fired})
}

// observeZxid takes a reply header's zxid: ZooKeeper's lastZxid follows
// every reply with a positive zxid. A zxid below the last one seen would
// mean a server answered from an older state than this session has seen; it
// is counted (the Result carries it for the checkers) and lastZxid keeps its
// value.
func (c *Client) observeZxid(z model.Zxid) {
	switch {
	case z <= 0 || z == c.lastZxid:
	case z < c.lastZxid:
		c.stats.ZxidRegressions++
	default:
		c.setLastZxid(z)
	}
}

func (c *Client) setLastZxid(z model.Zxid) {
	if z < c.lastZxid {
		panic(fmt.Sprintf("client %d: invariant violated: lastZxid would go back from %v to %v", c.self, c.lastZxid, z))
	}
	c.lastZxid = z
}

// accept takes a request into the FIFO and sends it if connected.
func (c *Client) accept(xid int32, req Request) {
	c.subN++
	c.outstanding++
	e := entry{xid: xid, n: c.subN, req: req}
	if c.state == Connected {
		c.sendEntry(e)
		return
	}
	c.queued.push(e)
}

func (c *Client) sendEntry(e entry) {
	c.send(&wire.Request{
		Header:     c.header(),
		Xid:        e.xid,
		Op:         e.req.Op,
		Path:       e.req.Path,
		Watch:      e.req.Watch,
		Mode:       e.req.Mode,
		Write:      e.req.Write,
		SetWatches: e.setWatches,
	})
	c.pending.push(e)
}

func (c *Client) failPending(err model.Err) {
	for !c.pending.empty() {
		e := c.pending.pop()
		if e.setWatches == nil {
			c.complete(e, Result{Xid: e.xid, Op: e.req.Op, Err: err, Sent: true})
		}
	}
}

func (c *Client) failQueued(err model.Err) {
	for !c.queued.empty() {
		e := c.queued.pop()
		c.complete(e, Result{Xid: e.xid, Op: e.req.Op, Err: err})
	}
}

// complete delivers the Result of an accepted request.
func (c *Client) complete(e entry, r Result) {
	// Invariant: accepted requests complete in submission order, each once.
	if e.n <= c.doneN {
		panic(fmt.Sprintf("client %d: invariant violated: request #%d (xid %d) completes after #%d", c.self, e.n, e.xid, c.doneN))
	}
	c.doneN = e.n
	c.outstanding--
	c.pushResult(r)
}

// refuse fails a request Submit did not accept.
func (c *Client) refuse(xid int32, op model.OpCode, err model.Err) {
	c.stats.Refused++
	c.pushResult(Result{Xid: xid, Op: op, Err: err})
}

func (c *Client) pushResult(r Result) {
	if len(c.results) >= maxBuffered {
		panic(fmt.Sprintf("client %d: invariant violated: %d results not taken (call TakeResults)", c.self, len(c.results)))
	}
	c.order++
	r.Order = c.order
	c.results = append(c.results, r)
}

func (c *Client) emitState(s wire.KeeperState) {
	c.emit(Event{Type: model.EventNone, State: s})
}

func (c *Client) emit(ev Event) {
	if len(c.events) >= maxBuffered {
		panic(fmt.Sprintf("client %d: invariant violated: %d events not taken (call TakeEvents)", c.self, len(c.events)))
	}
	c.order++
	ev.Order = c.order
	c.events = append(c.events, ev)
}

func (c *Client) nextXid() int32 {
	// Xids only need to be unique among outstanding requests (at most
	// MaxOutstanding+1), so they wrap to 1 rather than into the special
	// negative xids.
	if c.xid == math.MaxInt32 {
		c.xid = 0
	}
	c.xid++
	return c.xid
}

func (c *Client) header() wire.Header {
	c.outSeq++
	return wire.Header{Conn: c.conn, Seq: c.outSeq}
}

// send puts a message for the current server in the outbox.
func (c *Client) send(body any) {
	// Invariant: nothing is sent once the session is over.
	if c.state.Final() {
		panic(fmt.Sprintf("client %d: invariant violated: sending %T in state %v", c.self, body, c.state))
	}
	if c.server == 0 || c.conn == 0 {
		panic(fmt.Sprintf("client %d: invariant violated: sending %T without a connection", c.self, body))
	}
	c.outbox = append(c.outbox, node.Message{From: c.self, To: c.server, Body: body})
	c.lastSend = c.now
}

// fifo is a bounded-by-construction queue of entries (the client never holds
// more than MaxOutstanding+2 of them).
type fifo struct {
	items []entry
	head  int
}

func (q *fifo) empty() bool { return q.head == len(q.items) }

func (q *fifo) push(e entry) {
	if q.head > 0 && q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	q.items = append(q.items, e)
}

func (q *fifo) peek() (entry, bool) {
	if q.empty() {
		return entry{}, false
	}
	return q.items[q.head], true
}

func (q *fifo) pop() entry {
	e := q.items[q.head]
	q.items[q.head] = entry{}
	q.head++
	if q.head > 64 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return e
}
