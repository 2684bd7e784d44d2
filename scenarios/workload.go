package scenarios

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"zoosim/checker"
	"zoosim/client"
	"zoosim/model"
	"zoosim/node"
	"zoosim/server"
	"zoosim/sim"
	"zoosim/wire"
)

// recorder is the history a run builds as it goes. Everything in a run
// happens on one goroutine, so the client nodes write to it directly.
type recorder struct {
	h checker.History
	// lastWrite is when the last write was acknowledged (for liveness).
	lastWriteAck node.Time
	healedAt     node.Time
	firstAfter   node.Time
}

// timedServer is a server that the runner watches apply txns: it stamps
// each txn the server records with the virtual time it was applied (the
// server itself knows only its own, possibly skewed, clock). The watch
// checker needs the times to know what had committed when a notice came.
// Every call that can apply a txn (Step, Tick, Synced, Advance) stamps.
type timedServer struct {
	*server.Server
	world *sim.World
	times []node.Time // times[i] is when Applied()[i] was applied
}

func (t *timedServer) stamp() {
	for n := len(t.Server.Applied()); len(t.times) < n; {
		t.times = append(t.times, t.world.Now())
	}
}

func (t *timedServer) Step(now node.Time, m node.Message) { t.Server.Step(now, m); t.stamp() }
func (t *timedServer) Tick(now node.Time)                 { t.Server.Tick(now); t.stamp() }
func (t *timedServer) Advance()                           { t.Server.Advance(); t.stamp() }
func (t *timedServer) Synced(now node.Time, count uint64) {
	t.Server.Synced(now, count)
	t.stamp()
}

var _ node.SyncObserver = (*timedServer)(nil)

// appliedOf returns, in order, every txn server id's incarnations applied,
// each with the time it was applied. A restarted server re-applies nothing
// it had applied before its snapshot, but it may re-apply txns after the
// snapshot that an earlier incarnation applied too: the first record of
// each zxid is kept.
func appliedOf(incarnations []*timedServer) []checker.Txn {
	var out []checker.Txn
	var last model.Zxid = -1
	for _, t := range incarnations {
		t.stamp()
		for i, a := range t.Server.Applied() {
			if a.Zxid <= last {
				continue
			}
			last = a.Zxid
			out = append(out, checker.Txn{Zxid: a.Zxid, Session: a.Session, Cxid: a.Cxid, TimeMs: a.TimeMs, Txn: a.Txn,
				Digest: a.Digest, Time: t.times[i]})
		}
	}
	return out
}

func (r *recorder) addOp(op checker.Op) int {
	op.ID = len(r.h.Ops)
	r.h.Ops = append(r.h.Ops, op)
	return op.ID
}

// clientNode is one simulated client process: a ZooKeeper client library
// and a behaviour that issues one operation at a time and records it.
type clientNode struct {
	id      node.ID
	run     *runState
	rnd     *rand.Rand
	beh     Behaviour
	group   int
	c       *client.Client
	now     node.Time
	servers []node.ID
	bug     *node.Buggify

	cur      *inflight
	nextOpAt node.Time
	stopped  bool
	// restartAt: the session is over; a new one starts then.
	restartAt node.Time
	seq       int // unique values
	issued    int
	eventZxid model.Zxid // the largest zxid of a notification this session got
	parents   map[string]bool
	rd        node.Ready

	election    *client.Election
	lock        *client.Lock
	lockStarted bool
	claim       int // index into History.Claims of the open claim, -1 if none

	// armed: paths on which this session has a one-shot watch pending (or
	// asked for one), as the behaviour believes.
	armed map[string]bool
	// rereads are the reads notices asked for (watchers and queue
	// consumers re-read, and so re-arm, after every notice), oldest first,
	// at most one per path and kind.
	rereads []reread
	// persistent holds the addWatch registrations this session asked for
	// (path -> watcher type), so that a watcher removes and re-adds them.
	persistent     map[string]model.WatcherType
	persistentTodo bool // the session has yet to add its persistent watch
	// versions is the data version this session last saw per path (from a
	// Stat), for conditional writes that are meant to succeed.
	versions map[string]int32
	// idleStep is where an Idle client is in its cycle; idleAfter and
	// napAfter are the idle time or the stall that follows the current op;
	// hopAfter: the next op moves to another server first.
	idleStep            int
	idleAfter, napAfter node.Time
	hopAfter            bool
	// napUntil: the client process is stalled (a GC-like pause of the
	// process, not of the network) until then; messages wait for it in
	// napped, as in a socket buffer.
	napUntil node.Time
	napped   []node.Message
	// heardAt is when the client last accepted a message from heardFrom
	// (white box, for the watch checker's settle rule).
	heardAt   node.Time
	heardFrom node.ID
}

// inflight is the operation the client is waiting for.
type inflight struct {
	op   int     // index in History.Ops, -1 for an unrecorded helper op
	xids []int32 // the requests it consists of (sync + read is two)
	kind checker.OpKind
}

// reread is a read a notice asked for.
type reread struct {
	path string
	kind checker.OpKind // OpGetData, OpExists or OpGetChildren
	// watch: leave a one-shot watch (re-arm); false for a re-read after a
	// notice only a persistent watch got.
	watch bool
}

func newClientNode(run *runState, id node.ID, beh Behaviour, group int, env node.Env) *clientNode {
	n := &clientNode{id: id, run: run, rnd: run.stream("workload/" + strconv.Itoa(int(id))), beh: beh,
		group: group, now: env.Now, servers: run.serverIDs, bug: env.Buggify, parents: map[string]bool{}, claim: -1, armed: map[string]bool{},
		persistent: map[string]model.WatcherType{}, versions: map[string]int32{}}
	n.newSession(env.Rand)
	n.nextOpAt = n.now + n.think()
	return n
}

func (n *clientNode) newSession(rnd *rand.Rand) {
	c, err := client.New(client.Config{Servers: n.servers, SessionTimeout: n.run.sc.SessionTimeout, Buggify: n.bug, Bugs: n.run.clientBugs}, n.id, rnd, n.now)
	if err != nil {
		panic(fmt.Sprintf("scenarios: client %d: %v", n.id, err))
	}
	n.c = c
	n.cur = nil
	n.eventZxid = 0
	n.parents = map[string]bool{}
	clear(n.armed)
	n.rereads = n.rereads[:0]
	clear(n.persistent)
	n.persistentTodo = n.beh == Watchers
	clear(n.versions)
	n.idleStep, n.idleAfter, n.napAfter, n.hopAfter = 0, 0, 0, false
	switch n.beh {
	case Master:
		n.election = client.NewElection(c, "/master")
	case Lock:
		n.lock = client.NewLock(c, "/lock")
		n.lockStarted = false
	}
}

func (n *clientNode) think() node.Time {
	t := n.run.sc.Workload.ThinkTime
	if t <= 0 {
		t = 50 * node.Millisecond
	}
	return t/2 + node.Time(n.rnd.Int64N(int64(t)))
}

// Step, Tick, Ready, Advance: node.Machine.

func (n *clientNode) Step(now node.Time, m node.Message) {
	n.now = now
	if n.napping() {
		n.napped = append(n.napped, m)
		return
	}
	n.step(m)
	n.after()
}

// step hands the client library a message and notes whether it took it
// from its server.
func (n *clientNode) step(m node.Message) {
	before := n.c.Stats()
	n.c.Step(n.now, m)
	after := n.c.Stats()
	if n.c.State() == client.Connected && m.From == n.c.Server() &&
		after.Ignored == before.Ignored && after.ProtocolErrors == before.ProtocolErrors {
		n.heardAt, n.heardFrom = n.trueNow(), m.From
	}
}

// lastHeard lists, for every client process up and connected at the end
// of the run, when it last heard from its server.
func (rs *runState) lastHeard() []checker.LastHeard {
	var out []checker.LastHeard
	for _, id := range rs.clientIDs {
		n := rs.nodes[id]
		if n == nil || !rs.up(id) || n.c.State() != client.Connected || n.heardAt == 0 || n.heardFrom != n.c.Server() {
			continue
		}
		out = append(out, checker.LastHeard{Client: id, Session: n.c.SessionID(), Server: n.heardFrom, Time: n.heardAt})
	}
	return out
}

func (n *clientNode) Tick(now node.Time) {
	n.now = now
	switch {
	case n.napping():
		return
	case n.napUntil != 0:
		n.wake()
	default:
		n.c.Tick(now)
	}
	n.after()
}

func (n *clientNode) napping() bool { return n.napUntil != 0 && n.now < n.napUntil }

// wake ends a nap: the process first notices the time that passed (its
// timers fire: a connection silent for too long is given up), then reads
// what arrived meanwhile.
func (n *clientNode) wake() {
	n.napUntil = 0
	n.c.Tick(n.now)
	for i, m := range n.napped {
		n.step(m)
		n.napped[i] = node.Message{}
	}
	n.napped = n.napped[:0]
}

func (n *clientNode) Ready() node.Ready {
	n.rd = n.c.Ready()
	if n.napping() {
		n.rd.WakeAt = n.napUntil
		return n.rd
	}
	wake := n.nextOpAt
	if n.restartAt != 0 {
		wake = n.restartAt
	}
	if !n.stopped && wake > n.now && (n.rd.WakeAt == 0 || wake < n.rd.WakeAt) {
		n.rd.WakeAt = wake
	}
	return n.rd
}

func (n *clientNode) Advance() { n.c.Advance() }

// crashed records that the client process crashed: its session is
// abandoned (the servers will expire it), which only the harness can tell.
func (n *clientNode) crashed() {
	if n.c.SessionID() == 0 || n.c.State().Final() {
		return
	}
	h := &n.run.rec.h
	h.Sessions = append(h.Sessions, checker.SessionEvent{Client: n.id, Session: n.c.SessionID(),
		State: checker.SessionCrashed, Time: n.trueNow(), LastZxid: n.c.LastZxid()})
}

// after takes the client's results and events, records them, and issues
// the next operation when it is time.
func (n *clientNode) after() {
	var recipes []client.Recipe
	if n.election != nil {
		recipes = append(recipes, n.election)
	}
	if n.lock != nil {
		recipes = append(recipes, n.lock)
	}
	results, events := client.Dispatch(n.c, recipes...)
	for _, ev := range events {
		n.onEvent(ev)
	}
	for _, r := range results {
		n.onResult(r)
	}
	n.trackClaims()
	if n.c.State().Final() {
		if n.restartAt == 0 {
			n.endClaim()
			n.restartAt = n.now + n.think()
		}
		if n.now >= n.restartAt && !n.stopped {
			n.restartAt = 0
			n.newSession(n.run.stream("session/" + strconv.Itoa(int(n.id))))
			n.nextOpAt = n.now
		}
		return
	}
	if n.cur == nil && !n.stopped && n.now >= n.nextOpAt && !n.napping() {
		if max := n.run.opt.MaxOpsPerClient; max > 0 && n.issued >= max {
			return
		}
		n.issued++
		n.issue()
		// A release or resignation ends the claim now, not when the next
		// message arrives (by then a rival may already hold the role).
		n.trackClaims()
	}
}

func (n *clientNode) onEvent(ev client.Event) {
	h := &n.run.rec.h
	if ev.Type == model.EventNone {
		var st checker.SessionState
		switch ev.State {
		case wire.StateSyncConnected:
			st = checker.SessionConnected
		case wire.StateDisconnected:
			st = checker.SessionDisconnected
		case wire.StateExpired:
			st = checker.SessionExpired
		case wire.StateClosed:
			st = checker.SessionClosed
		default:
			return
		}
		h.Sessions = append(h.Sessions, checker.SessionEvent{Client: n.id, Session: n.c.SessionID(), Server: n.c.Server(),
			State: st, Time: n.trueNow(), LastZxid: n.c.LastZxid()})
		return
	}
	if ev.Type < model.EventNodeCreated || ev.Type > model.EventNodeChildrenChanged {
		// The *WatchRemoved events are the client's own report of a
		// removeWatches, not notices from a server.
		return
	}
	if ev.Zxid > n.eventZxid {
		n.eventZxid = ev.Zxid
	}
	if n.election != nil || n.lock != nil {
		// A recipe's watches are its own requests, which the history does
		// not record: their notices would have no registration to match.
		return
	}
	h.Watches = append(h.Watches, checker.WatchNotice{Client: n.id, Session: n.c.SessionID(), Server: n.c.Server(),
		Type: ev.Type, Path: ev.Path, Zxid: ev.Zxid, Time: n.trueNow(), Arrival: ev.Order, Registered: -1})
	n.afterNotice(ev)
}

func (n *clientNode) onResult(r client.Result) {
	if n.cur == nil || len(n.cur.xids) == 0 || r.Xid != n.cur.xids[0] {
		return // a recipe's or an abandoned request
	}
	n.cur.xids = n.cur.xids[1:]
	if len(n.cur.xids) > 0 {
		if r.Err != model.ErrOK && r.Op == model.OpSync {
			// The sync failed: its read still runs but is no longer
			// linearizable.
			if n.cur.op >= 0 {
				n.run.rec.h.Ops[n.cur.op].Linearizable = false
			}
		}
		return
	}
	cur := n.cur
	n.cur = nil
	n.nextOpAt = n.now + n.think()
	if cur.op < 0 {
		if r.Err == model.ErrOK || r.Err == model.ErrNodeExists {
			n.parents[r.Path] = true
		}
		return
	}
	op := &n.run.rec.h.Ops[cur.op]
	op.Server = n.c.Server()
	// An op submitted before the session existed ran in the session the
	// client then established: a client object has one session only.
	op.Session = n.c.SessionID()
	// The client decided these itself (no reply): a request it had sent may
	// or may not have taken effect; one it had not sent did not.
	clientDecided := r.Zxid == 0 && (r.Err == model.ErrConnectionLoss || r.Err == model.ErrOperationTimeout ||
		r.Err == model.ErrSessionExpired || r.Err == model.ErrSessionMoved || r.Err == model.ErrThrottledOp)
	switch {
	case clientDecided && (!r.Sent || !cur.kind.IsWrite()):
		// Never reached a server, or a read whose answer was lost: no
		// effect on the state, nothing to check.
		n.run.rec.dropOp(cur.op)
		n.afterResult(op, false)
		return
	case clientDecided:
		op.Unknown = true
		op.Return = checker.Infinity
		op.Err = r.Err
		n.afterResult(op, false)
		return
	}
	op.Return = n.trueNow()
	op.Arrival = r.Order
	op.Err = r.Err
	op.Zxid = r.Zxid
	op.Stat = r.Stat
	switch op.Kind {
	case checker.OpCreate:
		op.CreatedPath = r.Path
		if r.Err == model.ErrOK || r.Err == model.ErrNodeExists {
			n.parents[op.Path] = true
		}
	case checker.OpGetData:
		op.ResultData = r.Data
	case checker.OpGetChildren:
		op.Children = slices.Clone(r.Children)
		slices.Sort(op.Children)
	case checker.OpMulti:
		for i := range op.Multi {
			if i < len(r.Multi) {
				op.Multi[i].Err = r.Multi[i].Err
				op.Multi[i].CreatedPath = r.Multi[i].Path
				op.Multi[i].Stat = r.Multi[i].Stat
			}
		}
	}
	if op.Kind.IsWrite() && r.Err == model.ErrOK {
		now := n.trueNow()
		n.run.rec.lastWriteAck = now
		if n.run.rec.healedAt != 0 && n.run.rec.firstAfter == 0 && op.Call >= n.run.rec.healedAt {
			n.run.rec.firstAfter = now
		}
	}
	n.afterResult(op, true)
}

func (r *recorder) dropOp(i int) { r.h.Ops[i].Kind = 0 }

// trackClaims records when a recipe client starts and stops believing it
// holds its role.
func (n *clientNode) trackClaims() {
	holding, name := false, ""
	switch {
	case n.election != nil:
		holding, name = n.election.IsMaster(), "master"
	case n.lock != nil:
		holding, name = n.lock.Held(), "lock:/lock"
	default:
		return
	}
	h := &n.run.rec.h
	if holding && n.claim < 0 {
		// The client knows the state as of the last zxid it saw in a reply
		// or a notification: its claim starts there.
		from := max(n.c.LastZxid(), n.eventZxid)
		h.Claims = append(h.Claims, checker.RecipeClaim{Recipe: name, Client: n.id, Session: n.c.SessionID(), FromZxid: from})
		n.claim = len(h.Claims) - 1
	} else if !holding && n.claim >= 0 {
		n.endClaim()
	}
}

func (n *clientNode) endClaim() {
	if n.claim < 0 {
		return
	}
	// The client stops believing at the last zxid it has seen: anything a
	// rival did after that, this client could not have known about.
	n.run.rec.h.Claims[n.claim].ToZxid = max(n.c.LastZxid(), n.eventZxid) + 1
	n.claim = -1
}
