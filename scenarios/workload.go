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
	// watched paths of a watcher (armed).
	armed map[string]bool
}

// inflight is the operation the client is waiting for.
type inflight struct {
	op   int     // index in History.Ops, -1 for an unrecorded helper op
	xids []int32 // the requests it consists of (sync + read is two)
	kind checker.OpKind
}

func newClientNode(run *runState, id node.ID, beh Behaviour, group int, env node.Env) *clientNode {
	n := &clientNode{id: id, run: run, rnd: run.world.Stream("workload/" + strconv.Itoa(int(id))), beh: beh,
		group: group, now: env.Now, servers: run.serverIDs, bug: env.Buggify, parents: map[string]bool{}, claim: -1, armed: map[string]bool{}}
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
	n.c.Step(now, m)
	n.after()
}

func (n *clientNode) Tick(now node.Time) {
	n.now = now
	n.c.Tick(now)
	n.after()
}

func (n *clientNode) Ready() node.Ready {
	n.rd = n.c.Ready()
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
			n.newSession(n.run.world.Stream("session/" + strconv.Itoa(int(n.id))))
			n.nextOpAt = n.now
		}
		return
	}
	if n.cur == nil && !n.stopped && n.now >= n.nextOpAt {
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
			State: st, Time: n.run.world.Now(), LastZxid: n.c.LastZxid()})
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
		Type: ev.Type, Path: ev.Path, Zxid: ev.Zxid, Time: n.run.world.Now(), Registered: -1})
	if n.beh == Watchers {
		delete(n.armed, ev.Path)
	}
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
		return
	case clientDecided:
		op.Unknown = true
		op.Return = checker.Infinity
		op.Err = r.Err
		return
	}
	op.Return = n.run.world.Now()
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
		now := n.run.world.Now()
		n.run.rec.lastWriteAck = now
		if n.run.rec.healedAt != 0 && n.run.rec.firstAfter == 0 && op.Call >= n.run.rec.healedAt {
			n.run.rec.firstAfter = now
		}
	}
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

// issue starts the next operation of the client's behaviour.
func (n *clientNode) issue() {
	switch n.beh {
	case Master:
		if n.election.Done() {
			return
		}
		n.election.Start()
		n.nextOpAt = n.now + 10*n.think()
		n.maybeResign(func() { n.c.Close() })
		return
	case Lock:
		if !n.lockStarted {
			n.lockStarted = true
			n.lock.Acquire()
		} else if n.lock.Held() && n.rnd.IntN(3) == 0 {
			n.lock.Release()
		}
		n.nextOpAt = n.now + 4*n.think()
		return
	}
	if n.beh == probe {
		if n.run.rec.healedAt == 0 {
			n.nextOpAt = n.now + n.think()
			return
		}
		if !n.parents["/probe"] {
			n.submitHelper("/probe")
			return
		}
		v := n.value()
		n.start(checker.Op{Kind: checker.OpSetData, Path: "/probe", Data: v, Version: -1}, n.c.SetData("/probe", v, -1))
		return
	}
	for _, p := range n.neededParents() {
		if !n.parents[p] {
			n.submitHelper(p)
			return
		}
	}
	switch n.beh {
	case Registers:
		n.registersOp()
	case CAS:
		n.casOp()
	case Queue:
		n.queueOp()
	case Ephemerals:
		n.ephemeralsOp()
	case Watchers:
		n.watchersOp()
	case Readers:
		k := n.key()
		if !n.parents[k] {
			// Make sure the key exists (NodeExists is fine), then mostly read.
			v := n.value()
			n.start(checker.Op{Kind: checker.OpCreate, Path: k, Data: v, Mode: model.ModePersistent}, n.c.Create(k, v, nil, model.ModePersistent))
			return
		}
		n.start(checker.Op{Kind: checker.OpGetData, Path: k}, n.c.GetData(k, false))
	}
}

func (n *clientNode) maybeResign(close func()) {
	// A master sometimes steps down by closing its session, so that
	// mastership moves even without faults.
	if n.election.IsMaster() && n.rnd.IntN(20) == 0 {
		close()
	}
}

func (n *clientNode) groupPath() string { return "/g" + strconv.Itoa(n.group) }

func (n *clientNode) neededParents() []string {
	switch n.beh {
	case Registers, Watchers, Readers:
		return []string{n.groupPath()}
	case Queue:
		return []string{"/q" + strconv.Itoa(n.group)}
	case Ephemerals:
		return []string{"/e" + strconv.Itoa(n.group)}
	}
	return nil
}

// submitHelper creates a parent node the behaviour needs. It is recorded
// like any write: the checkers must see every change to the tree.
func (n *clientNode) submitHelper(path string) {
	n.start(checker.Op{Kind: checker.OpCreate, Path: path, Mode: model.ModePersistent}, n.c.Create(path, nil, nil, model.ModePersistent))
}

func (n *clientNode) value() []byte {
	n.seq++
	return []byte(fmt.Sprintf("c%d-%d", n.id, n.seq))
}

func (n *clientNode) start(op checker.Op, xids ...int32) {
	op.Client, op.Session, op.Call = n.id, n.c.SessionID(), n.run.world.Now()
	if len(xids) > 0 {
		op.Xid = xids[len(xids)-1]
	}
	i := n.run.rec.addOp(op)
	n.cur = &inflight{op: i, xids: xids, kind: op.Kind}
}

func (n *clientNode) key() string {
	return n.groupPath() + "/k" + strconv.Itoa(n.rnd.IntN(3))
}

func (n *clientNode) registersOp() {
	k := n.key()
	switch x := n.rnd.IntN(100); {
	case x < 30:
		v := n.value()
		n.start(checker.Op{Kind: checker.OpSetData, Path: k, Data: v, Version: -1}, n.c.SetData(k, v, -1))
	case x < 40:
		ver := int32(n.rnd.IntN(4))
		v := n.value()
		n.start(checker.Op{Kind: checker.OpSetData, Path: k, Data: v, Version: ver}, n.c.SetData(k, v, ver))
	case x < 55:
		v := n.value()
		n.start(checker.Op{Kind: checker.OpCreate, Path: k, Data: v, Mode: model.ModePersistent}, n.c.Create(k, v, nil, model.ModePersistent))
	case x < 62:
		ver := int32(-1)
		if n.rnd.IntN(2) == 0 {
			ver = int32(n.rnd.IntN(3))
		}
		n.start(checker.Op{Kind: checker.OpDelete, Path: k, Version: ver}, n.c.Delete(k, ver))
	case x < 77:
		n.start(checker.Op{Kind: checker.OpGetData, Path: k}, n.c.GetData(k, false))
	case x < 90:
		// sync + read: linearizable by the service's promise.
		s := n.c.Sync(k)
		g := n.c.GetData(k, false)
		n.start(checker.Op{Kind: checker.OpGetData, Path: k, Linearizable: true}, s, g)
	case x < 95:
		n.start(checker.Op{Kind: checker.OpExists, Path: k}, n.c.Exists(k, false))
	default:
		n.start(checker.Op{Kind: checker.OpGetChildren, Path: n.groupPath()}, n.c.GetChildren(n.groupPath(), false))
	}
}

// casOp is the seed's /config story: read the version, then write with it;
// a concurrent writer makes it fail with BadVersion.
func (n *clientNode) casOp() {
	const path = "/config"
	switch x := n.rnd.IntN(10); {
	case x < 4:
		n.start(checker.Op{Kind: checker.OpGetData, Path: path}, n.c.GetData(path, false))
	case x < 8:
		ver := int32(-1)
		if last := n.lastStatVersion(path); last >= 0 {
			ver = last
		}
		v := n.value()
		n.start(checker.Op{Kind: checker.OpSetData, Path: path, Data: v, Version: ver}, n.c.SetData(path, v, ver))
	default:
		v := n.value()
		n.start(checker.Op{Kind: checker.OpCreate, Path: path, Data: v, Mode: model.ModePersistent}, n.c.Create(path, v, nil, model.ModePersistent))
	}
}

// lastStatVersion is the version this client last saw for path (-1 if
// none), read from its own history.
func (n *clientNode) lastStatVersion(path string) int32 {
	ops := n.run.rec.h.Ops
	for i := len(ops) - 1; i >= 0 && i >= len(ops)-200; i-- {
		op := &ops[i]
		if op.Client == n.id && op.Path == path && op.Err == model.ErrOK && !op.Unknown && op.Kind != 0 &&
			(op.Kind == checker.OpGetData || op.Kind == checker.OpSetData) {
			return op.Stat.Version
		}
	}
	return -1
}

func (n *clientNode) queueOp() {
	q := "/q" + strconv.Itoa(n.group)
	// Producers (even ids) and consumers (odd ids) keep the queue short:
	// a long queue makes every linearizability step copy a large state.
	if n.id%2 == 0 && n.rnd.IntN(2) == 0 || n.id%2 == 1 && n.rnd.IntN(6) == 0 {
		v := n.value()
		n.start(checker.Op{Kind: checker.OpCreate, Path: q + "/item-", Data: v, Mode: model.ModePersistentSequential},
			n.c.Create(q+"/item-", v, nil, model.ModePersistentSequential))
		return
	}
	// A consumer: list, then take the lowest it saw.
	if head := n.lastChildren(q); head != "" && n.rnd.IntN(3) != 0 {
		n.start(checker.Op{Kind: checker.OpDelete, Path: q + "/" + head, Version: -1}, n.c.Delete(q+"/"+head, -1))
		return
	}
	n.start(checker.Op{Kind: checker.OpGetChildren, Path: q}, n.c.GetChildren(q, false))
}

func (n *clientNode) lastChildren(path string) string {
	ops := n.run.rec.h.Ops
	for i := len(ops) - 1; i >= 0 && i >= len(ops)-200; i-- {
		op := &ops[i]
		if op.Client == n.id && op.Kind == checker.OpGetChildren && op.Path == path && op.Err == model.ErrOK && len(op.Children) > 0 {
			return op.Children[0]
		}
	}
	return ""
}

func (n *clientNode) ephemeralsOp() {
	p := "/e" + strconv.Itoa(n.group) + "/c" + strconv.Itoa(int(n.id))
	switch x := n.rnd.IntN(10); {
	case x < 4:
		v := n.value()
		n.start(checker.Op{Kind: checker.OpCreate, Path: p, Data: v, Mode: model.ModeEphemeral}, n.c.Create(p, v, nil, model.ModeEphemeral))
	case x < 8:
		n.start(checker.Op{Kind: checker.OpExists, Path: p}, n.c.Exists(p, false))
	case x < 9:
		n.start(checker.Op{Kind: checker.OpDelete, Path: p, Version: -1}, n.c.Delete(p, -1))
	default:
		// End the session; a new one starts after a pause.
		n.c.Close()
	}
}

func (n *clientNode) watchersOp() {
	k := n.key()
	if !n.armed[k] {
		n.armed[k] = true
		switch n.rnd.IntN(3) {
		case 0:
			n.start(checker.Op{Kind: checker.OpGetData, Path: k, Watch: true}, n.c.GetData(k, true))
		case 1:
			n.start(checker.Op{Kind: checker.OpExists, Path: k, Watch: true}, n.c.Exists(k, true))
		default:
			g := n.groupPath()
			n.armed[g] = true
			n.start(checker.Op{Kind: checker.OpGetChildren, Path: g, Watch: true}, n.c.GetChildren(g, true))
		}
		return
	}
	v := n.value()
	n.start(checker.Op{Kind: checker.OpSetData, Path: k, Data: v, Version: -1}, n.c.SetData(k, v, -1))
}
