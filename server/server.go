// Package server is one ZooKeeper ensemble member as an I/O-free state
// machine: ZooKeeper's request pipeline (validate and prepare against the
// leader's view including not-yet-committed changes, propose, apply on
// commit, reply), local reads, sync, session tracking and expiry (driven by
// the leader, as closeSession txns), and watches fired on apply, delivered
// before any reply that reflects the change.
//
// Replication is an quorum.Engine (Zab or etcd raft); the server never knows
// which. It never reads a clock, opens a socket or a file, or starts a
// goroutine: a driver (sim or real) feeds it messages and time and performs
// what its Ready asks.
package server

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"zoosim/model"
	"zoosim/node"
	"zoosim/quorum"
	"zoosim/wire"
)

// ReadMode says how a server answers reads.
type ReadMode uint8

const (
	// ReadLocal answers from the server's own tree, possibly stale, as
	// ZooKeeper does.
	ReadLocal ReadMode = iota + 1
	// ReadSynced performs a sync before every read, so that the read sees
	// at least every write the leader had committed when the read arrived
	// (ZooKeeper's sync + read: not quite linearizable, since the leader
	// may already have been deposed).
	ReadSynced
	// ReadLinearizable commits a no-op barrier txn through the leader for
	// every read and answers the read at the barrier's place in the zxid
	// order, on the server the client is connected to: linearizable, at
	// the cost of a quorum round per read.
	ReadLinearizable
)

func (m ReadMode) String() string {
	switch m {
	case ReadLocal:
		return "local"
	case ReadSynced:
		return "synced"
	case ReadLinearizable:
		return "linearizable"
	}
	return "unknown"
}

// Bugs are deliberate defects a harness can switch on to prove that its
// checkers catch them. The zero value is a correct server.
type Bugs struct {
	// ServeAheadClient accepts a client whose last zxid is ahead of the
	// server (ZooKeeper refuses it).
	ServeAheadClient bool
	// KeepEphemerals: closing a session leaves its ephemeral nodes behind
	// (ZOOKEEPER-2355's symptom): every replica recreates them, owned by
	// the dead session, right after the closeSession.
	KeepEphemerals bool
	// CreateAfterClose: the leader accepts a request of a session whose
	// closeSession it has already proposed (ZOOKEEPER-1208's race), judging
	// it against the committed state where the session still lives.
	CreateAfterClose bool
	// ReplyBeforeEvent: a server sends the reply of a write before the watch
	// notifications the write fired.
	ReplyBeforeEvent bool
	// ReadZxidLags: a read's reply carries the zxid of the connection's
	// last reply instead of the server's last applied zxid, so the client's
	// last seen zxid lags what it has read.
	ReadZxidLags bool
	// SetWatchesIgnoresZxid: a server re-registers a reconnecting client's
	// watches without firing the changes it missed.
	SetWatchesIgnoresZxid bool
	_                     struct{}
}

// The forced rare branches (node.Buggify points) of the server: legal
// behaviour a ZooKeeper server shows seldom.
const (
	// BuggifyRefuseConnect: the server closes a new client connection (as
	// one at its connection limit does); the client tries another server.
	BuggifyRefuseConnect = "server/refuse-connect"
	// BuggifyDropClient: the server drops a client connection at a tick (a
	// reset); the client reconnects, here or elsewhere.
	BuggifyDropClient = "server/drop-client"
)

// BuggifyPoints are the server's forced rare branches.
var BuggifyPoints = []string{BuggifyRefuseConnect, BuggifyDropClient}

// Config is one server's configuration.
type Config struct {
	// NewEngine builds the replication engine for this server.
	NewEngine func(sm quorum.StateMachine, env node.Env) (quorum.Engine, error)
	// TickTime is ZooKeeper's tickTime: session timeouts are negotiated
	// into [2, 20] ticks, and the server's housekeeping runs every tick.
	TickTime node.Time
	// MinSessionTimeout and MaxSessionTimeout default to 2 and 20 ticks.
	MinSessionTimeout, MaxSessionTimeout node.Time
	ReadMode                             ReadMode
	// MaxConnections bounds client connections (ZooKeeper's maxClientCnxns
	// is per host; this is per server).
	MaxConnections int
	// MaxQueuedPerConn bounds one connection's outstanding requests.
	MaxQueuedPerConn int
	// Passwd draws the password of a session this server creates; it is
	// replicated with the session (the createSession txn) and checked when a
	// client resumes the session, on any server. nil is DerivedPasswd (a
	// function of the id: deterministic, but guessable); the real driver
	// passes a keyed hash with a secret drawn at start from crypto/rand.
	Passwd func(session int64) [model.PasswdLen]byte
	// RefuseTTL answers createTTL, and a multi that creates a TTL node,
	// with Unimplemented (ZooKeeper does unless extendedTypesEnabled).
	RefuseTTL bool
	// SuperDigest is ZooKeeper's
	// zookeeper.DigestAuthenticationProvider.superDigest,
	// "user:base64(sha1(user:password))": a connection that proves this
	// digest with addauth holds super, which passes every ACL check. ""
	// means no super user.
	SuperDigest string
	// SkipACL is ZooKeeper's zookeeper.skipACL: no ACL check at all (ACLs
	// are still validated and stored).
	SkipACL bool
	Bugs    Bugs
	// ModelBugs are seeded defects of the state machine the server runs.
	ModelBugs model.Bugs
	_         struct{}
}

func (c *Config) setDefaults() error {
	if c.NewEngine == nil {
		return fmt.Errorf("server: no engine")
	}
	if c.TickTime <= 0 {
		c.TickTime = 100 * node.Millisecond
	}
	if c.MinSessionTimeout == 0 {
		c.MinSessionTimeout = 2 * c.TickTime
	}
	if c.MaxSessionTimeout == 0 {
		c.MaxSessionTimeout = 20 * c.TickTime
	}
	if c.MinSessionTimeout > c.MaxSessionTimeout {
		return fmt.Errorf("server: minSessionTimeout %v above maxSessionTimeout %v", c.MinSessionTimeout, c.MaxSessionTimeout)
	}
	if c.ReadMode == 0 {
		c.ReadMode = ReadLocal
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = 4096
	}
	if c.MaxQueuedPerConn == 0 {
		c.MaxQueuedPerConn = 1000
	}
	if c.Passwd == nil {
		c.Passwd = DerivedPasswd
	}
	return nil
}

// Server is one ensemble member.
type Server struct {
	cfg Config
	id  node.ID
	rnd *rand.Rand
	bug *node.Buggify
	now node.Time

	eng     quorum.Engine
	tree    *model.Tree      // the applied state
	watches model.WatchTable // this server's clients' watches

	// serving: the engine serves (a leader or a caught-up follower);
	// clients are served only then.
	serving bool
	leader  node.ID
	term    uint64

	// ri is the engine's read-index capability, if it has one: syncs and
	// the reads of ReadSynced and ReadLinearizable then wait for a read
	// point it confirms instead of a sync through the leader or a barrier
	// txn. reads holds the requests waiting for one, by request id.
	ri       quorum.ReadIndexer
	reads    map[uint64]readWait
	nextRead uint64

	conns       []*conn // by creation; closed ones removed
	byConn      map[uint64]*conn
	bySession   map[int64]*conn
	byWatcher   map[model.WatcherID]*conn
	nextWatcher model.WatcherID

	lead *leaderState // non-nil while an established leader

	// Sessions touched by this server's clients since the last report to
	// the leader (followers report every half tick).
	touched    map[int64]bool
	nextReport node.Time
	nextHouse  node.Time

	out     []node.Message
	rd      node.Ready
	stats   Stats
	applied []AppliedTxn // white-box record for the harness, if enabled
	record  bool
}

// Stats counts what a server did, for the harness and benchmarks.
type Stats struct {
	Reads, Writes, Syncs     int64
	TxnsApplied              int64
	SessionsExpired          int64
	ConnsRefusedBehind       int64
	ConnsClosedNotServing    int64
	WatchEventsDelivered     int64
	RequestsRejectedOverload int64
	AuthFailed               int64
	// Proposals this server made as leader, and the sizes of their
	// entries in bytes (ZooKeeper's proposal sizes last/min/max).
	Proposals                                          int64
	ProposalSizeLast, ProposalSizeMin, ProposalSizeMax int64
}

// AppliedTxn is one committed txn as this server applied it; a record
// with a nil Txn marks a snapshot the server restored (its zxid and the
// digest of the restored tree).
type AppliedTxn struct {
	Zxid    model.Zxid
	Session int64
	Cxid    int32
	TimeMs  int64
	Txn     model.Txn
	Err     model.Err
	Digest  uint64 // the tree's digest after the txn
}

var _ node.Machine = (*Server)(nil)

// New builds a server from its environment (a fresh start or a restart).
func New(cfg Config, env node.Env) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, id: env.ID, rnd: env.Rand, bug: env.Buggify, now: env.Now,
		tree:      model.NewTree(),
		byConn:    map[uint64]*conn{},
		bySession: map[int64]*conn{},
		byWatcher: map[model.WatcherID]*conn{},
		touched:   map[int64]bool{},
	}
	s.tree.SetBugs(cfg.ModelBugs)
	eng, err := cfg.NewEngine(s, env)
	if err != nil {
		return nil, err
	}
	s.eng = eng
	if ri, ok := eng.(quorum.ReadIndexer); ok {
		s.ri, s.reads = ri, map[uint64]readWait{}
	}
	return s, nil
}

// Snapshot implements quorum.StateMachine.
func (s *Server) Snapshot() quorum.Snapshot {
	b, err := s.tree.MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("server %d: snapshot: %v", s.id, err))
	}
	return quorum.Snapshot{Zxid: s.tree.LastZxid(), Data: b}
}

// Tree exposes the applied state, read-only, for white-box checks.
func (s *Server) Tree() *model.Tree { return s.tree }

// Engine exposes the engine for white-box checks.
func (s *Server) Engine() quorum.Engine { return s.eng }

// Stats returns the server's counters.
func (s *Server) Stats() Stats { return s.stats }

// Serving reports whether the server serves clients.
func (s *Server) Serving() bool { return s.serving }

// RecordApplied makes the server keep every txn it applies (for the
// harness's agreement checks). Call it before the first Step, Tick or
// Ready.
func (s *Server) RecordApplied() { s.record = true }

// Applied returns the txns applied since RecordApplied.
func (s *Server) Applied() []AppliedTxn { return s.applied }

// TakeApplied returns the txns applied since RecordApplied or the last
// TakeApplied, and forgets them (a long-running server that reports them
// elsewhere keeps its memory bounded).
func (s *Server) TakeApplied() []AppliedTxn {
	a := s.applied
	s.applied = nil
	return a
}

// Step handles one message.
func (s *Server) Step(now node.Time, m node.Message) {
	s.advanceClock(now)
	if s.eng.Owns(m.Body) {
		s.eng.Step(now, m)
		s.afterEngine()
		return
	}
	switch b := m.Body.(type) {
	case *wire.Connect:
		s.onConnect(m.From, b)
	case *wire.Request:
		s.onRequest(m.From, b)
	case *wire.Ping:
		s.onPing(m.From, b)
	case *wire.Close:
		if c := s.byConn[b.Conn]; c != nil && c.client == m.From {
			s.closeConn(c, 0)
		}
	}
}

// Tick runs timers: the engine's, session expiry on the leader, session
// reports on followers, connection housekeeping.
func (s *Server) Tick(now node.Time) {
	s.advanceClock(now)
	s.eng.Tick(now)
	s.afterEngine()
	if s.now >= s.nextReport {
		s.nextReport = s.now + s.cfg.TickTime/2
		s.reportSessions()
	}
	if s.now >= s.nextHouse {
		s.nextHouse = s.now + s.cfg.TickTime
		s.housekeeping()
	}
}

func (s *Server) advanceClock(now node.Time) {
	if now > s.now {
		s.now = now
	}
}

// Ready merges the engine's work with the server's own messages.
func (s *Server) Ready() node.Ready {
	er := s.eng.Ready()
	s.rd = er
	if len(s.out) > 0 {
		msgs := append(s.rd.Messages[:len(s.rd.Messages):len(s.rd.Messages)], s.out...)
		s.rd.Messages = msgs
	}
	wake := min(s.nextReport, s.nextHouse)
	if s.rd.WakeAt == 0 || wake < s.rd.WakeAt {
		s.rd.WakeAt = wake
	}
	if s.rd.WakeAt <= s.now {
		s.rd.WakeAt = s.now + 1
	}
	return s.rd
}

// Synced passes the driver's sync reports to the engine, if it wants them.
func (s *Server) Synced(now node.Time, count uint64) {
	s.advanceClock(now)
	if o, ok := s.eng.(node.SyncObserver); ok {
		o.Synced(now, count)
	}
	s.afterEngine()
}

// Advance tells the server and its engine the driver did the last Ready.
func (s *Server) Advance() {
	clear(s.out)
	s.out = s.out[:0]
	s.eng.Advance()
	s.afterEngine()
}

// afterEngine applies what the engine committed and reacts to role changes.
func (s *Server) afterEngine() {
	a := s.eng.TakeApply()
	if a.Restore != nil {
		if err := s.tree.UnmarshalBinary(a.Restore.Data); err != nil {
			panic(fmt.Sprintf("server %d: invariant violated: snapshot from the engine does not decode: %v", s.id, err))
		}
		if s.tree.LastZxid() != a.Restore.Zxid {
			panic(fmt.Sprintf("server %d: invariant violated: snapshot says %v, tree says %v", s.id, a.Restore.Zxid, s.tree.LastZxid()))
		}
		if s.record {
			// A restore jumps over txns: record where it landed (Txn nil),
			// so that agreement checks can compare the digest there.
			s.applied = append(s.applied, AppliedTxn{Zxid: a.Restore.Zxid, Digest: s.tree.Digest()})
		}
		if s.serving {
			// The txns jumped over were never applied here: no watch fired
			// for them, and a closeSession among them closed no connection.
			// A serving engine may restore (raft sends a lagging follower a
			// snapshot while it serves), so the connections go, as they do
			// when a ZooKeeper learner reloads its database; clients
			// reconnect and set their watches again.
			s.closeAllConns(wire.CloseNotServing)
		}
	}
	for _, e := range a.Committed {
		s.applyEntry(e)
	}
	for _, r := range a.Relayed {
		s.onRelay(r)
	}
	for _, id := range a.Reads {
		s.onReadPoint(id)
	}
	s.checkRole()
	if s.lead != nil {
		s.leaderAfterApply()
	}
}

// checkRole notices when the server starts or stops serving. ZooKeeper
// restarts its request pipeline on every role change: connections are
// closed and clients reconnect.
func (s *Server) checkRole() {
	st := s.eng.Status()
	if st.Serving == s.serving && st.Leader == s.leader && st.Term == s.term {
		return
	}
	if s.serving {
		s.closeAllConns(wire.CloseNotServing)
	}
	s.serving, s.leader, s.term = st.Serving, st.Leader, st.Term
	s.lead = nil
	if st.Serving && st.Role == quorum.Leading {
		s.becomeLeader()
	}
}

// applyEntry applies one committed txn, fires watches, and answers the
// request it came from if that request's connection is here.
func (s *Server) applyEntry(e quorum.Entry) {
	h, txn, err := decodeEntry(e.Data)
	if err != nil {
		panic(fmt.Sprintf("server %d: invariant violated: committed entry %v does not decode: %v", s.id, e.Zxid, err))
	}
	var kept []keptNode
	if _, closing := txn.(model.CloseSessionTxn); closing && s.cfg.Bugs.KeepEphemerals {
		kept = s.keepEphemerals(h.Session)
	}
	res := s.tree.Apply(model.TxnHeader{Session: h.Session, Zxid: e.Zxid, TimeMs: h.TimeMs}, txn)
	for _, k := range kept {
		s.tree.Apply(model.TxnHeader{Session: h.Session, Zxid: e.Zxid, TimeMs: h.TimeMs},
			model.CreateTxn{Path: k.path, Data: k.data, ACL: model.OpenACLUnsafe, Mode: model.ModeEphemeral, ParentCVersion: -1})
	}
	if s.tree.LastZxid() != e.Zxid {
		panic(fmt.Sprintf("server %d: invariant violated: applied %v but tree is at %v", s.id, e.Zxid, s.tree.LastZxid()))
	}
	if s.lead != nil {
		s.lead.applied(s.id, e)
	}
	s.afterApply(h, e.Zxid, txn, res)
}

// fireWatches delivers the notifications an applied txn fired to the
// connections here that hold the watches.
func (s *Server) fireWatches(zxid model.Zxid, res model.Result) {
	if len(res.Events) > 0 {
		for _, d := range s.watches.Trigger(res.Events) {
			if c := s.byWatcher[d.Watcher]; c != nil {
				s.stats.WatchEventsDelivered++
				s.sendConn(c, &wire.Event{Type: d.Event.Type, State: wire.StateSyncConnected, Path: d.Event.Path, Zxid: zxid})
			}
		}
	}
}

type keptNode struct {
	path string
	data []byte
}

// keepEphemerals remembers a closing session's ephemerals (seeded bug).
func (s *Server) keepEphemerals(session int64) []keptNode {
	var out []keptNode
	for _, p := range s.tree.Ephemerals(session) {
		d, _, _ := s.tree.GetData(p)
		out = append(out, keptNode{path: p, data: d})
	}
	return out
}

func (s *Server) afterApply(h entryHeader, zxid model.Zxid, txn model.Txn, res model.Result) {
	s.stats.TxnsApplied++
	if s.record {
		s.applied = append(s.applied, AppliedTxn{Zxid: zxid, Session: h.Session, Cxid: h.Cxid, TimeMs: h.TimeMs, Txn: txn, Err: res.Err, Digest: s.tree.Digest()})
	}
	if s.cfg.Bugs.ReplyBeforeEvent {
		defer s.fireWatches(zxid, res) // seeded bug: after the reply
	} else {
		// Watches first: a client must get the event before any reply
		// that shows the change.
		s.fireWatches(zxid, res)
	}
	switch txn.(type) {
	case model.CreateSessionTxn:
		if c := s.bySession[h.Session]; c != nil && c.creating {
			c.creating = false
			if p := c.head(); p != nil && p.req.Op == model.OpCreateSession {
				c.pop()
			}
			s.sendConn(c, &wire.Connected{TimeoutMs: c.timeoutMs, SessionID: h.Session, Passwd: slices.Clone(c.passwd[:])})
			s.process(c)
		}
		if s.lead != nil {
			s.lead.trackSession(h.Session, s.tree, s.now)
		}
		return
	case model.CloseSessionTxn:
		if s.lead != nil {
			s.lead.forgetSession(h.Session)
		}
		if c := s.bySession[h.Session]; c != nil {
			if r := c.head(); r != nil && r.submitted && r.req.Xid == h.Cxid && r.req.Op == model.OpCloseSession {
				s.reply(c, &wire.Reply{Xid: h.Cxid, Zxid: zxid, Err: res.Err})
				c.pop()
			}
			s.closeConn(c, wire.CloseSessionClosed)
		}
		return
	}
	c := s.bySession[h.Session]
	if c == nil {
		return
	}
	r := c.head()
	if r == nil || !r.submitted || r.req.Xid != h.Cxid || !(wire.IsWrite(r.req.Op) || r.barrier) {
		return // a request of an earlier connection of this session
	}
	if r.barrier {
		// The read's barrier is applied: everything before it in the zxid
		// order is visible, nothing after it is.
		c.pop()
		s.reply(c, s.read(c, r))
		s.process(c)
		return
	}
	s.reply(c, writeReply(r.req, zxid, res))
	c.pop()
	s.process(c)
}

// writeReply builds the reply to a write from its apply result.
func writeReply(req *wire.Request, zxid model.Zxid, res model.Result) *wire.Reply {
	rp := &wire.Reply{Xid: req.Xid, Zxid: zxid, Err: res.Err}
	switch req.Op {
	case model.OpCreate, model.OpCreate2, model.OpCreateContainer, model.OpCreateTTL:
		rp.Path = res.Path
		rp.Stat = res.Stat
	case model.OpSetData, model.OpSetACL:
		rp.Stat = res.Stat
	case model.OpMulti:
		rp.Multi = make([]wire.OpResult, len(res.Multi))
		for i, r := range res.Multi {
			rp.Multi[i] = wire.OpResult{Op: r.Op, Err: r.Err, Path: r.Path, Stat: r.Stat}
		}
	}
	return rp
}

// DerivedPasswd is the default Config.Passwd: a fixed function of the
// session id, as ZooKeeper's generatePasswd is (a Random seeded with the id
// and a constant). It keeps simulation deterministic and free of draws from
// the server's random stream; the real driver configures a secret instead.
func DerivedPasswd(session int64) [model.PasswdLen]byte {
	x := uint64(session) ^ 0x5a6f6f53696d5057 // "ZooSimPW"
	var out [model.PasswdLen]byte
	for i := 0; i < 2; i++ {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
		for j := 0; j < 8; j++ {
			out[i*8+j] = byte(z >> (8 * j))
		}
	}
	return out
}

// reportSessions tells the leader which sessions this follower's clients
// kept alive (ZooKeeper's learner sends them with its pings).
func (s *Server) reportSessions() {
	if !s.serving || s.lead != nil || len(s.touched) == 0 {
		return
	}
	ids := make([]int64, 0, len(s.touched))
	for id := range s.touched {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	clear(s.touched)
	s.eng.Relay(s.leader, &Touch{Sessions: ids})
}

// touch notes that a session's client was heard from.
func (s *Server) touch(session int64) {
	if session == 0 {
		return
	}
	if s.lead != nil {
		s.lead.touch(session, s.now)
		return
	}
	s.touched[session] = true
}

// housekeeping runs once a tick: the leader expires sessions and cleans up
// containers and TTL nodes; every server drops connections silent for
// longer than their session timeout.
func (s *Server) housekeeping() {
	if s.lead != nil {
		s.leaderHousekeeping()
	}
	for _, c := range slices.Clone(s.conns) {
		timeout := node.Time(c.timeoutMs) * node.Millisecond
		if c.timeoutMs == 0 {
			timeout = s.cfg.MaxSessionTimeout
		}
		if s.now-c.lastHeard > timeout || s.bug.Fire(BuggifyDropClient, 2) {
			s.closeConn(c, wire.CloseBroken)
		}
	}
}
