package checker

import (
	"container/heap"
	"fmt"
	"slices"

	"pgregory.net/rapid"

	"zoosim/model"
	"zoosim/node"
)

// The generator runs a deliberately simple correct service: one leader tree
// that commits every write the moment it is served (Prepare, then Apply at
// the next zxid), and followers that apply the same txns later, answer
// plain reads from their own (possibly stale) state and fire watches as
// they apply. Clients issue one op at a time with random latencies, over
// small groups of paths; a few writes end with an unknown outcome (applied
// or not); linearizable reads go through a barrier txn, or follow a sync.
// Every history it makes must pass every checker.

// source is where the generator's choices come from: a seeded PRNG for
// benchmarks, rapid's draws for properties (so failures shrink).
type source interface{ IntN(n int) int }

type rapidSource struct{ t *rapid.T }

func (s rapidSource) IntN(n int) int { return rapid.IntRange(0, n-1).Draw(s.t, "choice") }

type genConfig struct {
	clients, groups, ops, servers int
	unknownPermille               int // writes whose outcome the client never learns
	ephemeralGroups               int // groups 0..n-1 use ephemeral nodes
	seqGroups                     int // the next ones use sequential nodes
	watchPct, linReadPct          int
	closeAtEnd                    bool
}

func defaultGenConfig() genConfig {
	return genConfig{clients: 10, groups: 20, ops: 10_000, servers: 3, unknownPermille: 5,
		ephemeralGroups: 2, seqGroups: 3, watchPct: 20, linReadPct: 30, closeAtEnd: true}
}

type genClient struct {
	id       node.ID
	session  int64
	server   int
	lastZxid model.Zxid
	// lastDelivery makes the connection FIFO: replies and notices arrive
	// in the order the server sent them.
	lastDelivery node.Time
	pendingRead  bool // the previous op was a sync: a linearizable read follows
	closed       bool
}

type genEvent struct {
	at     node.Time
	seq    int
	client int
	op     int // -1: call the next op; else serve op
}

type eventQueue []genEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	return q[i].at < q[j].at || q[i].at == q[j].at && q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(genEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

type regKey struct {
	client node.ID
	path   string
	child  bool
}

type generator struct {
	src       source
	cfg       genConfig
	h         *History
	committed []Txn
	trees     []*model.Tree // index = server id; 1 is the leader
	watches   []model.WatchTable
	clients   []*genClient
	regs      map[regKey][]int
	counter   uint32
	queue     eventQueue
	seq       int
	value     int
	unknownOp map[int]bool // ops that will end unknown
}

func generate(src source, cfg genConfig) *History {
	g := &generator{src: src, cfg: cfg, h: &History{Servers: cfg.servers, QuorumSafe: true},
		regs: map[regKey][]int{}, unknownOp: map[int]bool{}}
	g.h.Applied = make([][]Txn, cfg.servers+1)
	g.trees = make([]*model.Tree, cfg.servers+1)
	g.watches = make([]model.WatchTable, cfg.servers+1)
	for s := 1; s <= cfg.servers; s++ {
		g.trees[s] = model.NewTree()
	}
	now := node.Time(node.Millisecond)
	for c := 0; c < cfg.clients; c++ {
		cl := &genClient{id: node.ID(100 + c), session: int64(0x1000 + c), server: 1 + c%cfg.servers}
		g.clients = append(g.clients, cl)
		g.commit(now, cl.session, model.CreateSessionTxn{TimeoutMs: 10_000})
		g.catchUp(now, cl.server, len(g.committed))
		g.h.Sessions = append(g.h.Sessions, SessionEvent{Client: cl.id, Session: cl.session, Server: node.ID(cl.server),
			State: SessionConnected, Time: now, LastZxid: 0})
		now += node.Microsecond
	}
	// Setup: client 0 creates the groups, one op at a time.
	for k := 0; k < cfg.groups; k++ {
		id := g.record(0, Op{Kind: OpCreate, Path: g.group(k), Data: []byte("g"), Call: now})
		g.serve(now+node.Microsecond, 0, id, false)
		now = g.h.Ops[id].Return + node.Microsecond
	}
	for c := range g.clients {
		g.push(now+node.Time(g.src.IntN(1000))*node.Microsecond, c, -1)
	}
	for g.queue.Len() > 0 {
		ev := heap.Pop(&g.queue).(genEvent)
		if g.src.IntN(4) == 0 { // followers catch up at their own pace
			s := 2 + g.src.IntN(max(1, cfg.servers-1))
			if s <= cfg.servers {
				g.catchUp(ev.at, s, min(len(g.committed), len(g.h.Applied[s])+1+g.src.IntN(8)))
			}
		}
		if ev.op >= 0 {
			g.serve(ev.at, ev.client, ev.op, true)
			continue
		}
		if len(g.h.Ops) >= cfg.ops {
			continue
		}
		id := g.nextOp(ev.at, ev.client)
		g.push(ev.at+g.delay(), ev.client, id)
	}
	end := g.lastTime()
	if cfg.closeAtEnd {
		for c, cl := range g.clients {
			if c%3 != 0 {
				continue
			}
			end += node.Microsecond
			g.watches[cl.server].RemoveWatcher(model.WatcherID(cl.id))
			cl.closed = true
			txn := model.Prepare(g.trees[1], cl.session, model.CloseSession{}, end.Millis())
			g.commit(end, cl.session, txn)
			g.catchUp(end, cl.server, len(g.committed))
			g.h.Sessions = append(g.h.Sessions, SessionEvent{Client: cl.id, Session: cl.session, Server: node.ID(cl.server),
				State: SessionClosed, Time: end, LastZxid: cl.lastZxid})
		}
	}
	// Followers end wherever they are, some behind.
	g.h.End = max(end, g.lastTime()) + node.Millisecond
	// Pretend a nemesis healed everything halfway, if a write followed.
	for _, op := range g.h.Ops {
		if acknowledgedWrite(&op) && op.Err == model.ErrOK && op.Return >= g.h.End/2 {
			g.h.HealedAt = g.h.End / 2
			break
		}
	}
	return g.h
}

func (g *generator) lastTime() node.Time {
	var t node.Time
	for _, op := range g.h.Ops {
		if op.Return < Infinity {
			t = max(t, op.Return)
		}
		t = max(t, op.Call)
	}
	for _, w := range g.h.Watches {
		t = max(t, w.Time)
	}
	return t
}

func (g *generator) push(at node.Time, client, op int) {
	g.seq++
	heap.Push(&g.queue, genEvent{at: at, seq: g.seq, client: client, op: op})
}

func (g *generator) delay() node.Time {
	return node.Time(1+g.src.IntN(2000)) * node.Microsecond
}

func (g *generator) group(k int) string { return fmt.Sprintf("/g%02d", k) }

func (g *generator) data() []byte {
	g.value++
	return []byte(fmt.Sprintf("v%d", g.value))
}

func (g *generator) record(c int, op Op) int {
	cl := g.clients[c]
	op.ID = len(g.h.Ops)
	op.Client, op.Session, op.Server = cl.id, cl.session, node.ID(cl.server)
	g.h.Ops = append(g.h.Ops, op)
	return op.ID
}

// nextOp draws the client's next op and records its call.
func (g *generator) nextOp(now node.Time, c int) int {
	cl := g.clients[c]
	if cl.pendingRead {
		cl.pendingRead = false
		return g.record(c, g.readOp(g.src.IntN(g.cfg.groups), true, now))
	}
	k := g.src.IntN(g.cfg.groups)
	gp := g.group(k)
	op := Op{Call: now}
	key := fmt.Sprintf("%s/%c", gp, 'a'+g.src.IntN(3))
	mode := model.ModePersistent
	switch {
	case k < g.cfg.ephemeralGroups:
		mode = model.ModeEphemeral
	case k < g.cfg.ephemeralGroups+g.cfg.seqGroups:
		mode = model.ModePersistentSequential
		key = gp + "/q-"
	}
	switch r := g.src.IntN(100); {
	case r < 15:
		op.Kind, op.Path, op.Data, op.Mode = OpCreate, key, g.data(), mode
	case r < 25:
		op.Kind, op.Path, op.Version = OpDelete, g.existingChild(gp, key), g.version(g.existingChild(gp, key))
	case r < 45:
		path := g.existingChild(gp, key)
		op.Kind, op.Path, op.Data, op.Version = OpSetData, path, g.data(), g.version(path)
	case r < 50:
		path := g.existingChild(gp, key)
		op.Kind, op.Path, op.Version = OpCheck, path, g.version(path)
	case r < 57:
		op.Kind = OpMulti
		for n := 2 + g.src.IntN(2); n > 0; n-- {
			var s SubOp
			path := g.existingChild(gp, key)
			switch g.src.IntN(4) {
			case 0:
				s = SubOp{Kind: OpCreate, Path: key, Data: g.data(), Mode: mode}
			case 1:
				s = SubOp{Kind: OpDelete, Path: path, Version: g.version(path)}
			case 2:
				s = SubOp{Kind: OpSetData, Path: path, Data: g.data(), Version: g.version(path)}
			default:
				s = SubOp{Kind: OpCheck, Path: path, Version: g.version(path)}
			}
			op.Multi = append(op.Multi, s)
		}
	case r < 60:
		op.Kind = OpSync
		g.clients[c].pendingRead = true
	default:
		return g.record(c, g.readOp(k, false, now))
	}
	id := g.record(c, op)
	if op.Kind.IsWrite() && g.src.IntN(1000) < g.cfg.unknownPermille {
		g.unknownOp[id] = true
	}
	return id
}

func (g *generator) readOp(k int, afterSync bool, now node.Time) Op {
	gp := g.group(k)
	op := Op{Call: now, Linearizable: afterSync || g.src.IntN(100) < g.cfg.linReadPct,
		Watch: g.src.IntN(100) < g.cfg.watchPct}
	switch g.src.IntN(3) {
	case 0:
		op.Kind, op.Path = OpGetData, g.existingChild(gp, fmt.Sprintf("%s/%c", gp, 'a'+g.src.IntN(3)))
	case 1:
		op.Kind, op.Path = OpExists, g.existingChild(gp, fmt.Sprintf("%s/%c", gp, 'a'+g.src.IntN(3)))
	default:
		op.Kind, op.Path = OpGetChildren, gp
	}
	return op
}

// existingChild picks a child of the group in the leader's tree, or the
// fallback.
func (g *generator) existingChild(gp, fallback string) string {
	kids, _, err := g.trees[1].Children(gp)
	if err != nil || len(kids) == 0 || g.src.IntN(5) == 0 {
		return fallback
	}
	return gp + "/" + kids[g.src.IntN(len(kids))]
}

// version is usually -1 or right, sometimes wrong.
func (g *generator) version(path string) int32 {
	st, ok := g.trees[1].Exists(path)
	switch r := g.src.IntN(10); {
	case r < 5 || !ok:
		return -1
	case r < 8:
		return st.Version
	}
	return st.Version + 1
}

func (g *generator) commit(now node.Time, session int64, txn model.Txn) (model.Result, model.Zxid) {
	g.counter++
	z := model.MakeZxid(1, g.counter)
	t := Txn{Zxid: z, Session: session, TimeMs: now.Millis(), Txn: txn}
	g.committed = append(g.committed, t)
	res := g.apply(now, 1, t)
	return res, z
}

// apply applies one txn on a server, records it and fires its watches.
func (g *generator) apply(now node.Time, s int, t Txn) model.Result {
	res := g.trees[s].Apply(model.TxnHeader{Session: t.Session, Zxid: t.Zxid, TimeMs: t.TimeMs}, t.Txn)
	t.Digest = g.trees[s].Digest()
	g.h.Applied[s] = append(g.h.Applied[s], t)
	for _, d := range g.watches[s].Trigger(res.Events) {
		c := g.clientByWatcher(d.Watcher)
		if c == nil || c.closed {
			continue
		}
		g.h.Watches = append(g.h.Watches, WatchNotice{Client: c.id, Session: c.session, Server: node.ID(s),
			Type: d.Event.Type, Path: d.Event.Path, Zxid: t.Zxid, Time: g.deliver(c, now+node.Microsecond),
			Registered: g.consume(c.id, d.Event)})
	}
	return res
}

func (g *generator) clientByWatcher(w model.WatcherID) *genClient {
	for _, c := range g.clients {
		if model.WatcherID(c.id) == w {
			return c
		}
	}
	return nil
}

// consume marks the registrations an event fires as fired and returns the
// first of them, as the harness attributes notices.
func (g *generator) consume(client node.ID, ev model.WatchEvent) int {
	var tables []bool
	switch ev.Type {
	case model.EventNodeCreated, model.EventNodeDataChanged:
		tables = []bool{false}
	case model.EventNodeChildrenChanged:
		tables = []bool{true}
	case model.EventNodeDeleted:
		tables = []bool{false, true}
	}
	first := -1
	for _, child := range tables {
		k := regKey{client, ev.Path, child}
		for _, id := range g.regs[k] {
			if first < 0 || id < first {
				first = id
			}
		}
		delete(g.regs, k)
	}
	return first
}

func (g *generator) catchUp(now node.Time, s, upTo int) {
	for i := len(g.h.Applied[s]); i < upTo; i++ {
		if s == 1 {
			return // the leader applies at commit
		}
		g.apply(now, s, g.committed[i])
	}
}

// deliver is the time a message sent at t reaches the client over its FIFO
// connection.
func (g *generator) deliver(c *genClient, t node.Time) node.Time {
	t = max(t, c.lastDelivery)
	c.lastDelivery = t
	return t
}

// serve executes op id at time now and, with next, schedules the client's
// next call.
func (g *generator) serve(now node.Time, c, id int, next bool) {
	cl := g.clients[c]
	op := &g.h.Ops[id]
	var res model.Result
	switch {
	case op.Kind.IsWrite():
		txn := model.Prepare(g.trees[1], cl.session, request(op), now.Millis())
		if g.unknownOp[id] {
			if g.src.IntN(2) == 0 {
				g.commit(now, cl.session, txn)
			}
			op.Unknown, op.Return, op.Err = true, Infinity, model.ErrConnectionLoss
			if next {
				g.push(now+10*node.Millisecond, c, -1)
			}
			return
		}
		var z model.Zxid
		res, z = g.commit(now, cl.session, txn)
		g.catchUp(now, cl.server, len(g.committed))
		op.Zxid, op.Err = z, res.Err
		switch op.Kind {
		case OpCreate:
			op.CreatedPath, op.Stat = res.Path, res.Stat
		case OpSetData:
			op.Stat = res.Stat
		case OpMulti:
			for i := range op.Multi {
				sr := res.Multi[i]
				op.Multi[i].Err, op.Multi[i].Stat = sr.Err, sr.Stat
				if op.Multi[i].Kind == OpCreate {
					op.Multi[i].CreatedPath = sr.Path
				}
			}
		}
	case op.Kind == OpSync:
		g.catchUp(now, cl.server, len(g.committed))
		op.Zxid = g.trees[cl.server].LastZxid()
	default:
		s := cl.server
		if op.Linearizable && !g.afterSync(id) {
			// A barrier txn orders the read; its server answers once it
			// applied the barrier.
			g.commit(now, cl.session, model.ErrorTxn{Err: model.ErrOK})
			g.catchUp(now, s, len(g.committed))
		} else {
			for g.trees[s].LastZxid() < cl.lastZxid {
				g.catchUp(now, s, len(g.h.Applied[s])+1)
			}
		}
		g.read(s, cl, op)
	}
	if op.Zxid > cl.lastZxid {
		cl.lastZxid = op.Zxid
	}
	op.Return = g.deliver(cl, now+g.delay())
	if next {
		g.push(op.Return+node.Time(g.src.IntN(500))*node.Microsecond, c, -1)
	}
}

func (g *generator) afterSync(id int) bool {
	for j := id - 1; j >= 0; j-- {
		if g.h.Ops[j].Client == g.h.Ops[id].Client {
			return g.h.Ops[j].Kind == OpSync
		}
	}
	return false
}

func (g *generator) read(s int, cl *genClient, op *Op) {
	t := g.trees[s]
	op.Zxid = t.LastZxid()
	w := model.WatcherID(cl.id)
	switch op.Kind {
	case OpGetData:
		data, st, err := t.GetData(op.Path)
		if err != nil {
			op.Err = model.ErrNoNode
			return
		}
		op.ResultData, op.Stat = slices.Clone(data), st
		if op.Watch {
			g.watches[s].Add(op.Path, model.WatchData, w)
			g.regs[regKey{cl.id, op.Path, false}] = append(g.regs[regKey{cl.id, op.Path, false}], op.ID)
		}
	case OpExists:
		st, ok := t.Exists(op.Path)
		kind := model.WatchExist
		if ok {
			op.Stat, kind = st, model.WatchData
		} else {
			op.Err = model.ErrNoNode
		}
		if op.Watch {
			g.watches[s].Add(op.Path, kind, w)
			g.regs[regKey{cl.id, op.Path, false}] = append(g.regs[regKey{cl.id, op.Path, false}], op.ID)
		}
	case OpGetChildren:
		kids, _, err := t.Children(op.Path)
		if err != nil {
			op.Err = model.ErrNoNode
			return
		}
		op.Children = kids
		if op.Watch {
			g.watches[s].Add(op.Path, model.WatchChild, w)
			g.regs[regKey{cl.id, op.Path, true}] = append(g.regs[regKey{cl.id, op.Path, true}], op.ID)
		}
	}
}

// request turns a recorded op into the model's request.
func request(op *Op) model.Request {
	switch op.Kind {
	case OpMulti:
		m := model.Multi{}
		for _, s := range op.Multi {
			m.Ops = append(m.Ops, subRequest(s.Kind, s.Path, s.Data, s.Version, s.Mode))
		}
		return m
	}
	return subRequest(op.Kind, op.Path, op.Data, op.Version, op.Mode)
}

func subRequest(k OpKind, path string, data []byte, version int32, mode model.CreateMode) model.Request {
	switch k {
	case OpCreate:
		return model.Create{Path: path, Data: data, ACL: model.OpenACLUnsafe, Mode: mode}
	case OpDelete:
		return model.Delete{Path: path, Version: version}
	case OpSetData:
		return model.SetData{Path: path, Data: data, Version: version}
	case OpCheck:
		return model.Check{Path: path, Version: version}
	}
	panic("gen: not a write: " + k.String())
}
