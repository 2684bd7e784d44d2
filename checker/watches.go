package checker

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"zoosim/model"
	"zoosim/node"
)

// The watch checker holds every kind of watch to ZooKeeper's promises. A
// registration is an op that left a watch: getData (data watch) or
// getChildren (child watch) that succeeded with watch set; exists with
// watch set (a data watch if the node existed, an exist watch if it did
// not); addWatch (persistent or persistent-recursive). A removeWatches that
// succeeded ends the session's registrations of its type on its path.
//
// "Before" and "after" order what a client received by virtual time and,
// at one instant, by its arrival order (Op.Arrival, WatchNotice.Arrival);
// where the history does not record that order, what arrived at one
// instant may have come in either order, and the checker assumes the
// order that keeps the promise.
//
// The rules, and how each is checked:
//
//  1. A notice has a cause. Notices are taken in the order they arrived
//     and fire the session's pending registrations the event reaches, as
//     ZooKeeper's client does (NodeCreated and NodeDataChanged: data and
//     exist watches on the path; NodeChildrenChanged: child watches;
//     NodeDeleted: all three; every type: persistent watches on the path;
//     all but NodeChildrenChanged: persistent-recursive watches on the
//     path or an ancestor). A registration is pending for a notice if its
//     reply came first (the server sends the reply before any event for
//     the watch) and, when the notice names a zxid, it read a state older
//     than that zxid. The notice must fire one, with an event type one of
//     them can get, for a change that really happened after it was set: a
//     committed txn with a zxid above the registration's reply zxid and at
//     most the notice's zxid whose apply raised that event on that path. A
//     NodeDataChanged or NodeChildrenChanged sent by setWatches on a
//     reconnect may stand for a re-creation (ZooKeeper compares mzxid and
//     pzxid with the client's last zxid there), and its zxid is the
//     server's state, not the change's; a notice that fires only
//     persistent watches comes from an apply, so its zxid is the change's.
//  2. The change was committed before the notice was delivered: some
//     server had applied it (servers apply only what is committed) no
//     later than the notice arrived (Txn.Time, when the history records
//     it).
//  3. A one-shot watch fires at most once; a persistent one at most once
//     per change on a connection: a connection carries no more notices of
//     one (path, type, zxid) than committed changes raised. (A client that
//     moves to a server that has not applied the change yet may hear it
//     again there: notices do not raise the zxid it reconnects with.)
//  4. Notices come in zxid order: on one connection, a notice's zxid is at
//     least that of every reply and notice before it, and a reply's zxid
//     at least that of every notice before it (a server notifies when it
//     applies, before any reply that shows the change).
//  5. A watch whose trigger committed is delivered: the client sees the
//     event before it can see the data, and before anything the server
//     sent after it. For a one-shot watch, no reply of the session after
//     the registration (on any connection: setWatches catches up on a
//     reconnect) may carry a zxid at or past the first change that fires
//     it before the notice arrived, and no notice for a later zxid may
//     come first (unless the watch's own notice, sent by setWatches,
//     carries at least that zxid). An exist watch is exempt across a
//     reconnect if the node was deleted again before the evidence's zxid:
//     setWatches fires it only if the node exists by then. For a
//     persistent watch, every change it covers must be notified before a
//     reply or notice on the same connection shows a later state; on a
//     later connection only changes after the first reply there count,
//     since setWatches re-registers persistent watches without catching
//     up.
//  6. Once the run has settled, nothing is left owed. The settle rule: a
//     session that was not closed, did not expire and whose client did
//     not crash, still connected to server S at the end of the run, whose
//     client last heard from S at time p (History.LastHeard: pings count)
//     must have received the notices for every change S applied by
//     p - SettleTime that fires one of its pending watches (for one-shot
//     watches carried over a reconnect, changes past the last zxid the
//     client had seen when it reconnected; for persistent ones carried
//     over, changes past the first reply on the connection). A message
//     heard SettleTime after S applied the change was sent after it (a
//     slow link adds at most 2 s), and S sends a notice when it applies a
//     change, ahead of anything it sends later on the connection. The
//     runner heals every fault and quiesces for 3 virtual seconds before
//     the run ends, so pings go on to the end.

// SettleTime is how long before a connected client last heard from its
// server that server must have applied a change for the change's notices
// to be owed (rule 6 above): more than the 2 s a slow link may add.
const SettleTime = 3 * node.Second

// watchKind is how a registration was set.
type watchKind uint8

const (
	kindData       watchKind = iota + 1 // getData ok, exists ok
	kindExist                           // exists NoNode
	kindChild                           // getChildren ok
	kindPersistent                      // addWatch persistent
	kindRecursive                       // addWatch persistent-recursive
)

var watchKindNames = [...]string{kindData: "data", kindExist: "exist", kindChild: "child",
	kindPersistent: "persistent", kindRecursive: "persistent-recursive"}

func (k watchKind) String() string { return watchKindNames[k] }

func (k watchKind) oneShot() bool { return k <= kindChild }

func isNodeEvent(t model.EventType) bool {
	return t >= model.EventNodeCreated && t <= model.EventNodeChildrenChanged
}

// fires reports whether an event of type t on path p fires a watch of this
// kind set on path w: ZooKeeper's server-side watch tables, which the
// client's ZKWatchManager mirrors when it takes a notice.
func (k watchKind) fires(t model.EventType, p, w string) bool {
	switch k {
	case kindData, kindExist:
		return p == w && (t == model.EventNodeCreated || t == model.EventNodeDataChanged || t == model.EventNodeDeleted)
	case kindChild:
		return p == w && (t == model.EventNodeChildrenChanged || t == model.EventNodeDeleted)
	case kindPersistent:
		return p == w && isNodeEvent(t)
	case kindRecursive:
		return isNodeEvent(t) && t != model.EventNodeChildrenChanged && under(p, w)
	}
	return false
}

// allowed reports the event types a notice for this kind may carry: a data
// watch is set on an existing node, so it never sees it created; an exist
// watch on a missing one.
func (k watchKind) allowed(t model.EventType) bool {
	switch k {
	case kindData:
		return t == model.EventNodeDataChanged || t == model.EventNodeDeleted
	case kindExist:
		return t == model.EventNodeCreated
	case kindChild:
		return t == model.EventNodeChildrenChanged || t == model.EventNodeDeleted
	}
	return k.fires(t, "/", "/")
}

// under reports whether p is w or a descendant of it.
func under(p, w string) bool {
	if p == w || w == "/" {
		return true
	}
	return len(p) > len(w) && p[len(w)] == '/' && strings.HasPrefix(p, w)
}

func registrationKind(op *Op) (watchKind, bool) {
	if classify(op) != outcomeDone {
		return 0, false
	}
	switch {
	case op.Kind == OpAddWatch && op.Err == model.ErrOK && op.WatcherType == model.WatcherPersistent:
		return kindPersistent, true
	case op.Kind == OpAddWatch && op.Err == model.ErrOK && op.WatcherType == model.WatcherPersistentRecursive:
		return kindRecursive, true
	case !op.Watch:
		return 0, false
	case op.Kind == OpGetData && op.Err == model.ErrOK, op.Kind == OpExists && op.Err == model.ErrOK:
		return kindData, true
	case op.Kind == OpExists && op.Err == model.ErrNoNode:
		return kindExist, true
	case op.Kind == OpGetChildren && op.Err == model.ErrOK:
		return kindChild, true
	}
	return 0, false
}

// removes reports whether a removeWatches of type t removes a watch of kind
// k (the client's ZKWatchManager.removeWatcher).
func removes(t model.WatcherType, k watchKind) bool {
	switch t {
	case model.WatcherChildren:
		return k == kindChild
	case model.WatcherData:
		return k == kindData || k == kindExist
	case model.WatcherPersistent:
		return k == kindPersistent
	case model.WatcherPersistentRecursive:
		return k == kindRecursive
	case model.WatcherAny:
		return true
	}
	return false
}

// when is the arrival of a reply or a notice at a client: its virtual
// time and, to order what arrived at one instant, its arrival order in the
// session (0: not recorded; equal times are then unordered).
type when struct {
	t node.Time
	o uint64
}

func replyAt(op *Op) when          { return when{op.Return, op.Arrival} }
func noticeAt(w *WatchNotice) when { return when{w.Time, w.Arrival} }

// before reports whether a certainly arrived before b.
func (a when) before(b when) bool {
	return a.t < b.t || a.t == b.t && a.o != 0 && b.o != 0 && a.o < b.o
}

// ordered reports whether the order of a and b is known.
func (a when) ordered(b when) bool { return a.t != b.t || a.o != 0 && b.o != 0 }

func (a when) cmp(b when) int {
	if c := cmpInt64(int64(a.t), int64(b.t)); c != 0 {
		return c
	}
	return cmpInt64(int64(a.o), int64(b.o))
}

var never = when{t: Infinity}

// watchReg is one registration and what became of it.
type watchReg struct {
	op      int
	kind    watchKind
	session int64
	path    string
	at      model.Zxid // the state it was set at (its reply's zxid)
	ret     when
	server  node.ID
	// firedBy is the notice that fired a one-shot registration (-1: none).
	firedBy int
	// removedAt and removedZxid: the removeWatches reply that ended it
	// (never: not removed).
	removedAt   when
	removedZxid model.Zxid
}

// pendingFor reports whether the registration can be fired by notice w:
// its reply came first, and it was still in place.
func (g *watchReg) pendingFor(w *WatchNotice) bool {
	// A notice for zxid z reports a change no newer than z: a watch set
	// at z or later cannot be fired by it.
	at := noticeAt(w)
	if at.before(g.ret) || w.Zxid > 0 && g.at >= w.Zxid {
		return false
	}
	if g.removedAt.ordered(at) {
		return at.before(g.removedAt)
	}
	// At one instant, unordered: the notice came first if it is for a
	// change the removal's state already held.
	return w.Zxid > 0 && w.Zxid <= g.removedZxid
}

// change is one watch event a committed txn raised.
type change struct {
	zxid model.Zxid
	typ  model.EventType
	path string
}

type noticeKey struct {
	session int64
	path    string
	typ     model.EventType
	zxid    model.Zxid
}

// sessionView is what the checker needs of one session's life: its
// connections (Connected events, by time), its replies, whether it ended.
type sessionView struct {
	connects []SessionEvent
	replies  []int // answered ops with a zxid, by return time
	notices  []int // node event notices with a zxid, by arrival time
	// ended: the client saw it expire or close, or its process crashed.
	ended bool
	// connectedAtEnd: the session's last event is Connected.
	connectedAtEnd bool
	last           node.Time
}

// connAt is the index of the connection a message arriving at t came on
// (the last Connected event at or before t), -1 if none is recorded.
func (v *sessionView) connAt(t node.Time) int {
	i, _ := slices.BinarySearchFunc(v.connects, t, func(e SessionEvent, t node.Time) int {
		return cmpInt64(int64(e.Time), int64(t+1))
	})
	return i - 1
}

// connKey names one connection of a session: a Connected event and the
// server (which also tells connections apart in a history that records no
// session events).
type connKey struct {
	session int64
	index   int
	server  node.ID
}

type watchCheck struct {
	h        *History
	regs     []watchReg
	regOf    map[int]int // op ID -> index in regs
	sessions map[int64]*sessionView
	closed   map[int64]bool // sessions whose closeSession committed

	byPath     map[string][]change // committed changes per path, in zxid order
	all        []change            // every committed change, in zxid order
	underCache map[string][]change
	// count of committed changes per (path, type, zxid), for rule 3.
	changeCount map[noticeKey]int
	// firstApply is the earliest time any server applied a zxid (absent:
	// not recorded).
	firstApply  map[model.Zxid]node.Time
	serverApply map[node.ID]map[model.Zxid]node.Time
	lastApplied map[node.ID]model.Zxid

	// arrivals is the earliest arrival of a notice per (session, path,
	// type, zxid).
	arrivals map[noticeKey]when
	// firstReply is the arrival of the first reply on each connection:
	// setWatches was done by then, and its notices delivered.
	firstReply map[connKey]when
	// flagged registrations already have a violation (one per
	// registration is enough).
	flagged map[int]bool
	vs      []violation
}

func (r *run) watches() Result {
	h := r.h
	c := &watchCheck{h: h, regOf: map[int]int{}, sessions: map[int64]*sessionView{}, flagged: map[int]bool{}}
	for i := range h.Ops {
		op := &h.Ops[i]
		if k, ok := registrationKind(op); ok {
			c.regOf[i] = len(c.regs)
			c.regs = append(c.regs, watchReg{op: i, kind: k, session: op.Session, path: op.Path, at: op.Zxid,
				ret: replyAt(op), server: op.Server, firedBy: -1, removedAt: never})
		}
	}
	nodeNotices := 0
	for i := range h.Watches {
		if isNodeEvent(h.Watches[i].Type) {
			nodeNotices++
		}
	}
	if len(c.regs) == 0 && nodeNotices == 0 {
		return Result{Verdict: VerdictOK, Explanation: "no watches were set"}
	}
	seq := r.committed()
	if len(seq.txns) == 0 {
		return Result{Verdict: VerdictInconclusive,
			Explanation: "the history records no applied txns, so watch notices cannot be matched with changes"}
	}
	c.indexChanges(r, seq)
	c.indexApplyTimes()
	c.indexSessions()
	c.markRemovals()
	c.attributeNotices()
	c.noticeOrder()
	c.oneShotDelivery()
	c.persistentDelivery()
	c.settledDelivery()
	kinds := map[watchKind]int{}
	for i := range c.regs {
		kinds[c.regs[i].kind]++
	}
	var parts []string
	for k := kindData; k <= kindRecursive; k++ {
		if kinds[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", kinds[k], k))
		}
	}
	return verdictOf(c.vs, fmt.Sprintf("%d watch registrations (%s) and %d notices consistent",
		len(c.regs), strings.Join(parts, ", "), nodeNotices))
}

// indexChanges keeps the watch events each committed txn raised (from the
// check's one replay by the reference), and which sessions were closed.
func (c *watchCheck) indexChanges(r *run, seq *committedSeq) {
	c.byPath = map[string][]change{}
	c.underCache = map[string][]change{}
	c.changeCount = map[noticeKey]int{}
	c.closed = map[int64]bool{}
	rep := r.replayed()
	for j := range seq.txns {
		t := &seq.txns[j]
		if _, ok := t.Txn.(model.CloseSessionTxn); ok {
			c.closed[t.Session] = true
		}
		for _, ev := range rep.results[j].events {
			ch := change{zxid: t.Zxid, typ: ev.Type, path: ev.Path}
			c.byPath[ev.Path] = append(c.byPath[ev.Path], ch)
			c.all = append(c.all, ch)
			c.changeCount[noticeKey{path: ev.Path, typ: ev.Type, zxid: t.Zxid}]++
		}
	}
}

// changesOf returns the committed changes that can fire a registration on
// path w of kind k, in zxid order.
func (c *watchCheck) changesOf(k watchKind, w string) []change {
	if k != kindRecursive {
		return c.byPath[w]
	}
	if out, ok := c.underCache[w]; ok {
		return out
	}
	var out []change
	for _, ch := range c.all {
		if under(ch.path, w) {
			out = append(out, ch)
		}
	}
	c.underCache[w] = out
	return out
}

// after returns the changes with zxid > z (changes are in zxid order).
func after(chs []change, z model.Zxid) []change {
	i, _ := slices.BinarySearchFunc(chs, z+1, func(ch change, z model.Zxid) int { return cmpInt64(int64(ch.zxid), int64(z)) })
	return chs[i:]
}

// firstTrigger is the first committed change after reg.at that fires reg.
func (c *watchCheck) firstTrigger(g *watchReg) (change, bool) {
	for _, ch := range after(c.changesOf(g.kind, g.path), g.at) {
		if g.kind.fires(ch.typ, ch.path, g.path) {
			return ch, true
		}
	}
	return change{}, false
}

// deletedAfter reports whether path was deleted after change ch (later in
// the same txn too: a multi may create and delete a node at one zxid), at
// a zxid no greater than hi.
func (c *watchCheck) deletedAfter(ch change, hi model.Zxid) bool {
	chs := c.byPath[ch.path]
	i, _ := slices.BinarySearchFunc(chs, ch.zxid, func(x change, z model.Zxid) int { return cmpInt64(int64(x.zxid), int64(z)) })
	for ; i < len(chs) && chs[i] != ch; i++ {
	}
	for i++; i < len(chs) && chs[i].zxid <= hi; i++ {
		if chs[i].typ == model.EventNodeDeleted {
			return true
		}
	}
	return false
}

func (c *watchCheck) indexApplyTimes() {
	c.firstApply = map[model.Zxid]node.Time{}
	c.serverApply = map[node.ID]map[model.Zxid]node.Time{}
	c.lastApplied = map[node.ID]model.Zxid{}
	for s, txns := range c.h.Applied {
		id := node.ID(s)
		for i := range txns {
			t := &txns[i]
			if t.Zxid > c.lastApplied[id] {
				c.lastApplied[id] = t.Zxid
			}
			if t.Txn == nil || t.Time <= 0 {
				continue
			}
			if first, ok := c.firstApply[t.Zxid]; !ok || t.Time < first {
				c.firstApply[t.Zxid] = t.Time
			}
			m := c.serverApply[id]
			if m == nil {
				m = map[model.Zxid]node.Time{}
				c.serverApply[id] = m
			}
			if at, ok := m[t.Zxid]; !ok || t.Time < at {
				m[t.Zxid] = t.Time
			}
		}
	}
}

func (c *watchCheck) view(s int64) *sessionView {
	v := c.sessions[s]
	if v == nil {
		v = &sessionView{}
		c.sessions[s] = v
	}
	return v
}

func (c *watchCheck) indexSessions() {
	h := c.h
	for _, ev := range h.Sessions {
		if ev.Session == 0 {
			continue
		}
		v := c.view(ev.Session)
		if ev.Time >= v.last {
			v.last, v.connectedAtEnd = ev.Time, ev.State == SessionConnected
		}
		switch ev.State {
		case SessionConnected:
			v.connects = append(v.connects, ev)
		case SessionExpired, SessionClosed, SessionCrashed:
			v.ended = true
		}
	}
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.Session != 0 && answered(op) && op.Zxid > 0 {
			v := c.view(op.Session)
			v.replies = append(v.replies, i)
		}
	}
	c.firstReply = map[connKey]when{}
	for s, v := range c.sessions {
		slices.SortStableFunc(v.connects, func(a, b SessionEvent) int { return cmpInt64(int64(a.Time), int64(b.Time)) })
		slices.SortStableFunc(v.replies, func(a, b int) int { return replyAt(&h.Ops[a]).cmp(replyAt(&h.Ops[b])) })
		for _, i := range v.replies {
			op := &h.Ops[i]
			if k := c.conn(s, op.Return, op.Server); c.firstReply[k] == (when{}) {
				c.firstReply[k] = replyAt(op)
			}
		}
	}
	c.arrivals = map[noticeKey]when{}
	for i := range h.Watches {
		w := &h.Watches[i]
		if !isNodeEvent(w.Type) || w.Zxid <= 0 {
			continue
		}
		k := noticeKey{w.Session, w.Path, w.Type, w.Zxid}
		if at, ok := c.arrivals[k]; !ok || noticeAt(w).cmp(at) < 0 {
			c.arrivals[k] = noticeAt(w)
		}
		if w.Session != 0 {
			v := c.view(w.Session)
			v.notices = append(v.notices, i)
		}
	}
	for _, v := range c.sessions {
		slices.SortStableFunc(v.notices, func(a, b int) int { return noticeAt(&h.Watches[a]).cmp(noticeAt(&h.Watches[b])) })
	}
}

func (c *watchCheck) conn(session int64, t node.Time, server node.ID) connKey {
	return connKey{session: session, index: c.view(session).connAt(t), server: server}
}

// markRemovals ends the registrations each successful removeWatches
// removed: the session's, on its path, of the kinds its type names, set
// before it.
func (c *watchCheck) markRemovals() {
	h := c.h
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.Kind != OpRemoveWatches || classify(op) != outcomeDone || op.Err != model.ErrOK {
			continue
		}
		for j := range c.regs {
			g := &c.regs[j]
			if g.session != op.Session || g.path != op.Path || !removes(op.WatcherType, g.kind) || g.removedAt != never {
				continue
			}
			if rm := replyAt(op); g.ret.before(rm) || !g.ret.ordered(rm) && g.at <= op.Zxid {
				g.removedAt, g.removedZxid = rm, op.Zxid
			}
		}
	}
}

// attributeNotices: rules 1, 2 and 3.
func (c *watchCheck) attributeNotices() {
	h := c.h
	order := make([]int, 0, len(h.Watches))
	for n := range h.Watches {
		if isNodeEvent(h.Watches[n].Type) {
			order = append(order, n)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return noticeAt(&h.Watches[a]).cmp(noticeAt(&h.Watches[b])) })

	// Registrations by (session, path), in reply order; recursive ones by
	// session, since they also fire for descendants.
	type sessionPath struct {
		session int64
		path    string
	}
	at := map[sessionPath][]int{}
	recursive := map[int64][]int{}
	byRet := make([]int, len(c.regs))
	for i := range byRet {
		byRet[i] = i
	}
	slices.SortStableFunc(byRet, func(a, b int) int { return c.regs[a].ret.cmp(c.regs[b].ret) })
	for _, i := range byRet {
		g := &c.regs[i]
		if g.kind == kindRecursive {
			recursive[g.session] = append(recursive[g.session], i)
		} else {
			k := sessionPath{g.session, g.path}
			at[k] = append(at[k], i)
		}
	}
	// Notices per connection and (path, type, zxid): a server fires a
	// change once per connection. (A client that moves to a server that
	// has not applied the change yet may hear it again there: notices do
	// not raise the zxid it reconnects with.)
	type connNotice struct {
		conn connKey
		key  noticeKey
	}
	seen := map[connNotice]int{}
	for _, n := range order {
		w := &h.Watches[n]
		candidates := func(yield func(int) bool) {
			for _, i := range at[sessionPath{w.Session, w.Path}] {
				if c.regs[i].ret.t > w.Time {
					break
				}
				if !yield(i) {
					return
				}
			}
			for _, i := range recursive[w.Session] {
				if c.regs[i].ret.t > w.Time || !yield(i) {
					return
				}
			}
		}
		reaches := func(i int) bool {
			g := &c.regs[i]
			return g.kind.fires(w.Type, w.Path, g.path) && g.pendingFor(w)
		}
		var fired []int
		if w.Registered != -1 {
			i, ok := c.regOf[w.Registered]
			if w.Registered < -1 || w.Registered >= len(h.Ops) {
				c.vs = append(c.vs, violation{key: [2]int64{int64(w.Time), 0},
					explanation: fmt.Sprintf("watch notice %d names op %d, which is not in the history", n, w.Registered),
					details:     describeNotice(w) + "\n"})
				continue
			}
			op := &h.Ops[w.Registered]
			if !ok || op.Client != w.Client || op.Session != w.Session || !c.regs[i].kind.fires(w.Type, w.Path, op.Path) {
				c.vs = append(c.vs, violation{key: [2]int64{int64(w.Registered), 1},
					explanation: fmt.Sprintf("client %d got a %s notice for %s attributed to op %d, which set no such watch",
						w.Client, eventName(w.Type), w.Path, w.Registered),
					ops: []int{w.Registered}, details: describeOp(op) + "\n" + describeNotice(w) + "\n"})
				continue
			}
			if g := &c.regs[i]; g.kind.oneShot() && g.firedBy >= 0 {
				c.vs = append(c.vs, c.firedTwice(i, n))
				continue
			}
			fired = append(fired, i)
		}
		for i := range candidates {
			g := &c.regs[i]
			if g.kind.oneShot() && g.firedBy >= 0 || i == c.regOfOr(w.Registered) || !reaches(i) {
				continue
			}
			fired = append(fired, i)
		}
		if len(fired) == 0 {
			again := -1
			for i := range candidates {
				if g := &c.regs[i]; g.kind.oneShot() && g.firedBy >= 0 && reaches(i) {
					again = i
				}
			}
			if again >= 0 {
				c.vs = append(c.vs, c.firedTwice(again, n))
				continue
			}
			c.vs = append(c.vs, violation{key: [2]int64{int64(w.Time), 2},
				explanation: fmt.Sprintf("client %d got a %s notice for %s but had no pending watch it could fire",
					w.Client, eventName(w.Type), w.Path),
				details: describeNotice(w) + "\n"})
			continue
		}
		for _, i := range fired {
			if c.regs[i].kind.oneShot() {
				c.regs[i].firedBy = n
			}
		}
		c.checkCause(n, fired)
		if w.Zxid > 0 {
			k := noticeKey{w.Session, w.Path, w.Type, w.Zxid}
			ck := connNotice{c.conn(w.Session, w.Time, w.Server), k}
			seen[ck]++
			if raised := c.changeCount[noticeKey{path: w.Path, typ: w.Type, zxid: w.Zxid}]; raised > 0 && seen[ck] > raised {
				ops := c.opsOf(fired)
				c.vs = append(c.vs, violation{key: [2]int64{int64(ops[0]), 5},
					explanation: fmt.Sprintf("session %#x got %d %s notices for %s at zxid %s on one connection, which raised that event %d time(s): a watch fires at most once per change",
						w.Session, seen[ck], eventName(w.Type), w.Path, w.Zxid, raised),
					ops: ops, txns: []model.Zxid{w.Zxid}, details: describeNotice(w) + "\n"})
			}
		}
	}
}

func (c *watchCheck) regOfOr(op int) int {
	if i, ok := c.regOf[op]; ok {
		return i
	}
	return -1
}

// checkCause: the notice reports a committed change after the watch was
// set (rule 1), committed before the notice arrived (rule 2).
func (c *watchCheck) checkCause(n int, fired []int) {
	w := &c.h.Watches[n]
	// The loosest window: the earliest registration the type fits.
	reg, exact := -1, true
	for _, i := range fired {
		g := &c.regs[i]
		if !g.kind.allowed(w.Type) {
			continue
		}
		if g.kind.oneShot() {
			exact = false
		}
		if reg < 0 || g.at < c.regs[reg].at {
			reg = i
		}
	}
	if reg < 0 {
		g := &c.regs[fired[0]]
		op := &c.h.Ops[g.op]
		c.vs = append(c.vs, violation{key: [2]int64{int64(g.op), 3},
			explanation: fmt.Sprintf("the %s watch op %d set (%s %s) fired with %s, an event that kind of watch never gets",
				g.kind, g.op, op.Kind, op.Path, eventName(w.Type)),
			ops: c.opsOf(fired), details: describeOp(op) + "\n" + describeNotice(w) + "\n"})
		return
	}
	g := &c.regs[reg]
	upTo := w.Zxid
	if upTo <= 0 {
		upTo = math.MaxInt64
	}
	match := func(ch change) bool {
		if ch.path != w.Path || ch.zxid > upTo {
			return false
		}
		if exact {
			return ch.typ == w.Type && (w.Zxid <= 0 || ch.zxid == w.Zxid)
		}
		// setWatches reports a node re-created since the client's last
		// zxid as changed (its mzxid and pzxid moved).
		return ch.typ == w.Type || ch.typ == model.EventNodeCreated &&
			(w.Type == model.EventNodeDataChanged || w.Type == model.EventNodeChildrenChanged)
	}
	found, known, earliest := false, true, Infinity
	for _, ch := range after(c.byPath[w.Path], g.at) {
		if ch.zxid > upTo {
			break
		}
		if !match(ch) {
			continue
		}
		found = true
		if t, ok := c.firstApply[ch.zxid]; !ok {
			known = false
		} else if t < earliest {
			earliest = t
		}
	}
	op := &c.h.Ops[g.op]
	if !found {
		what := "no committed txn in between made that change"
		if exact {
			what = "no committed txn at that zxid made that change"
		}
		c.vs = append(c.vs, violation{key: [2]int64{int64(g.op), 4},
			explanation: fmt.Sprintf("client %d got %s for %s (%s watch set by op %d at zxid %s, notice zxid %s), but %s",
				w.Client, eventName(w.Type), w.Path, g.kind, g.op, g.at, w.Zxid, what),
			ops: []int{g.op}, details: describeOp(op) + "\n" + describeNotice(w) + "\n"})
		return
	}
	if known && earliest > w.Time {
		c.vs = append(c.vs, violation{key: [2]int64{int64(g.op), 6},
			explanation: fmt.Sprintf("client %d got %s for %s at %s, before any server had applied (committed) the change: the first did at %s",
				w.Client, eventName(w.Type), w.Path, fmtTime(w.Time), fmtTime(earliest)),
			ops: []int{g.op}, details: describeOp(op) + "\n" + describeNotice(w) + "\n"})
	}
}

func (c *watchCheck) opsOf(regs []int) []int {
	out := make([]int, len(regs))
	for i, r := range regs {
		out[i] = c.regs[r].op
	}
	return out
}

func (c *watchCheck) firedTwice(reg, again int) violation {
	g := &c.regs[reg]
	return violation{key: [2]int64{int64(g.op), 5},
		explanation: fmt.Sprintf("the %s watch op %d set fired twice: a one-shot watch fires at most once", g.kind, g.op),
		ops:         []int{g.op},
		details: describeOp(&c.h.Ops[g.op]) + "\n" + describeNotice(&c.h.Watches[g.firedBy]) + "\n" +
			describeNotice(&c.h.Watches[again]) + "\n"}
}

// noticeOrder: rule 4, per connection.
func (c *watchCheck) noticeOrder() {
	h := c.h
	type item struct {
		at     when
		zxid   model.Zxid
		notice int // -1 for a reply
		op     int
	}
	byConn := map[connKey][]item{}
	for _, s := range sortedKeys(c.sessions) {
		for _, i := range c.sessions[s].replies {
			op := &h.Ops[i]
			k := c.conn(s, op.Return, op.Server)
			byConn[k] = append(byConn[k], item{at: replyAt(op), zxid: op.Zxid, notice: -1, op: i})
		}
	}
	for n := range h.Watches {
		w := &h.Watches[n]
		if !isNodeEvent(w.Type) || w.Zxid <= 0 || w.Session == 0 {
			continue
		}
		k := c.conn(w.Session, w.Time, w.Server)
		byConn[k] = append(byConn[k], item{at: noticeAt(w), zxid: w.Zxid, notice: n, op: -1})
	}
	keys := make([]connKey, 0, len(byConn))
	for k := range byConn {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b connKey) int {
		if x := cmpInt64(a.session, b.session); x != 0 {
			return x
		}
		if x := cmpInt64(int64(a.index), int64(b.index)); x != 0 {
			return x
		}
		return cmpInt64(int64(a.server), int64(b.server))
	})
	for _, k := range keys {
		items := byConn[k]
		hasNotice := slices.ContainsFunc(items, func(it item) bool { return it.notice >= 0 })
		if !hasNotice {
			continue
		}
		slices.SortStableFunc(items, func(a, b item) int { return a.at.cmp(b.at) })
		// Items whose order is unknown (at one instant, no arrival order)
		// may have arrived in any order: each is compared with what
		// certainly arrived before.
		var top, topNotice item
		haveTop, haveNotice := false, false
		for lo := 0; lo < len(items); {
			hi := lo + 1
			for hi < len(items) && !items[hi-1].at.ordered(items[hi].at) {
				hi++
			}
			for _, it := range items[lo:hi] {
				switch {
				case it.notice >= 0 && haveTop && it.zxid < top.zxid:
					w := &h.Watches[it.notice]
					v := violation{key: [2]int64{int64(w.Time), 7},
						explanation: fmt.Sprintf("client %d got %s for %s with zxid %s after zxid %s had arrived on the same connection: notices come in zxid order, after nothing newer",
							w.Client, eventName(w.Type), w.Path, w.Zxid, top.zxid),
						details: describeNotice(w) + "\n"}
					if top.op >= 0 {
						v.ops = []int{top.op}
						v.details = describeOp(&h.Ops[top.op]) + "\n" + v.details
					} else {
						v.details = describeNotice(&h.Watches[top.notice]) + "\n" + v.details
					}
					c.vs = append(c.vs, v)
				case it.notice < 0 && haveNotice && it.zxid < topNotice.zxid:
					w := &h.Watches[topNotice.notice]
					op := &h.Ops[it.op]
					c.vs = append(c.vs, violation{key: [2]int64{int64(it.op), 8},
						explanation: fmt.Sprintf("op %d was answered at zxid %s after the same connection had delivered %s for %s at zxid %s: the server notified a change it had not applied",
							it.op, op.Zxid, eventName(w.Type), w.Path, w.Zxid),
						ops: []int{it.op}, details: describeNotice(w) + "\n" + describeOp(op) + "\n"})
				}
			}
			for _, it := range items[lo:hi] {
				if !haveTop || it.zxid > top.zxid {
					top, haveTop = it, true
				}
				if it.notice >= 0 && (!haveNotice || it.zxid > topNotice.zxid) {
					topNotice, haveNotice = it, true
				}
			}
			lo = hi
		}
	}
}

// oneShotDelivery: rule 5 for one-shot watches.
func (c *watchCheck) oneShotDelivery() {
	h := c.h
	for i := range c.regs {
		g := &c.regs[i]
		if !g.kind.oneShot() {
			continue
		}
		first, ok := c.firstTrigger(g)
		if !ok {
			continue
		}
		// Until the watch fired or was removed, nothing may show the
		// change.
		until := g.removedAt
		if g.firedBy >= 0 {
			if at := noticeAt(&h.Watches[g.firedBy]); at.cmp(until) < 0 {
				until = at
			}
		}
		v := c.view(g.session)
		regConn := c.conn(g.session, g.ret.t, g.server)
		for _, p := range v.replies[c.firstReplyAfter(v, g.ret):] {
			rd := &h.Ops[p]
			at := replyAt(rd)
			if at.t > until.t {
				break
			}
			if !at.before(until) || rd.Zxid < first.zxid {
				continue
			}
			if g.kind == kindExist && c.conn(g.session, rd.Return, rd.Server) != regConn && c.deletedAfter(first, rd.Zxid) {
				continue
			}
			what := "before the notice arrived"
			if until == never {
				what = "and no notice ever arrived"
			}
			c.flagged[i] = true
			c.vs = append(c.vs, violation{key: [2]int64{int64(g.op), 9},
				explanation: fmt.Sprintf("op %d got the state at zxid %s, which includes the change at %s that fires the %s watch op %d set on %s, %s",
					p, rd.Zxid, first.zxid, g.kind, g.op, g.path, what),
				ops: []int{g.op, p}, txns: []model.Zxid{first.zxid},
				details: describeOp(&h.Ops[g.op]) + "\n" + describeOp(rd) + "\n"})
			break
		}
		if c.flagged[i] {
			continue
		}
		// A notice for a later change came first: its server had applied
		// the change that fires this watch. Only a notice sent by a server
		// that held the watch counts, and not one of a setWatches batch
		// (those carry the server's zxid, in the order of the lists, and
		// the batch may break off before this watch's turn): a notice on
		// the registration's connection, or after a reply on its own.
		own := model.Zxid(-1)
		if g.firedBy >= 0 {
			own = h.Watches[g.firedBy].Zxid
		}
		for _, n := range v.notices[c.firstNoticeAfter(v, g.ret):] {
			w := &h.Watches[n]
			at := noticeAt(w)
			if at.t > until.t {
				break
			}
			if !at.before(until) || w.Zxid <= first.zxid || own >= w.Zxid {
				continue
			}
			if k := c.conn(g.session, w.Time, w.Server); k != regConn {
				if fr, ok := c.firstReply[k]; !ok || !fr.before(at) {
					continue
				}
			}
			if g.kind == kindExist && c.conn(g.session, w.Time, w.Server) != regConn && c.deletedAfter(first, w.Zxid) {
				continue
			}
			what := "before the watch's own notice"
			if until == never {
				what = "and the watch never fired"
			}
			c.flagged[i] = true
			c.vs = append(c.vs, violation{key: [2]int64{int64(g.op), 12},
				explanation: fmt.Sprintf("client %d got %s for %s at zxid %s, past the change at %s that fires the %s watch op %d set on %s, %s",
					w.Client, eventName(w.Type), w.Path, w.Zxid, first.zxid, g.kind, g.op, g.path, what),
				ops: []int{g.op}, txns: []model.Zxid{first.zxid},
				details: describeOp(&h.Ops[g.op]) + "\n" + describeNotice(w) + "\n"})
			break
		}
	}
}

// firstReplyAfter is the index in v.replies of the first reply that
// may have arrived after t.
func (c *watchCheck) firstReplyAfter(v *sessionView, t when) int {
	i, _ := slices.BinarySearchFunc(v.replies, t.t, func(id int, t node.Time) int {
		return cmpInt64(int64(c.h.Ops[id].Return), int64(t))
	})
	for i < len(v.replies) && replyAt(&c.h.Ops[v.replies[i]]).t == t.t && !t.before(replyAt(&c.h.Ops[v.replies[i]])) {
		i++
	}
	return i
}

// firstNoticeAfter is the index in v.notices of the first notice that
// may have arrived after t.
func (c *watchCheck) firstNoticeAfter(v *sessionView, t when) int {
	i, _ := slices.BinarySearchFunc(v.notices, t.t, func(id int, t node.Time) int {
		return cmpInt64(int64(c.h.Watches[id].Time), int64(t))
	})
	for i < len(v.notices) && noticeAt(&c.h.Watches[v.notices[i]]).t == t.t && !t.before(noticeAt(&c.h.Watches[v.notices[i]])) {
		i++
	}
	return i
}

// persistentDelivery: rule 5 for persistent and persistent-recursive
// watches, connection by connection. The evidence is every reply (a state
// at its zxid) and every notice (a change at its zxid, so everything before
// it was applied) that arrived on a connection where the watch was in
// place.
func (c *watchCheck) persistentDelivery() {
	h := c.h
	for i := range c.regs {
		g := &c.regs[i]
		if g.kind.oneShot() {
			continue
		}
		v := c.view(g.session)
		chs := c.changesOf(g.kind, g.path)
		cur := c.conn(g.session, g.ret.t, g.server)
		armed, armedAt := true, g.at
		ri, ni := c.firstReplyAfter(v, g.ret), c.firstNoticeAfter(v, g.ret)
	evidence:
		for ri < len(v.replies) || ni < len(v.notices) {
			// The next item in arrival order (a reply first when the
			// order is unknown: it proves less).
			var at when
			var server node.ID
			var upTo model.Zxid
			reply, notice := -1, -1
			if ni >= len(v.notices) || ri < len(v.replies) && !noticeAt(&h.Watches[v.notices[ni]]).before(replyAt(&h.Ops[v.replies[ri]])) {
				reply = v.replies[ri]
				ri++
				op := &h.Ops[reply]
				at, server, upTo = replyAt(op), op.Server, op.Zxid
			} else {
				notice = v.notices[ni]
				ni++
				w := &h.Watches[notice]
				at, server, upTo = noticeAt(w), w.Server, w.Zxid-1
			}
			if g.removedAt.before(at) {
				break
			}
			if k := c.conn(g.session, at.t, server); k != cur {
				// A new connection: setWatches re-registered the watch
				// before its first reply, at a state no newer than it.
				cur, armed = k, false
			}
			if !armed {
				if reply >= 0 {
					armed, armedAt = true, upTo
				}
				continue
			}
			for _, ch := range after(chs, armedAt) {
				if ch.zxid > upTo {
					break
				}
				if !g.kind.fires(ch.typ, ch.path, g.path) {
					continue
				}
				got, ok := c.arrivals[noticeKey{g.session, ch.path, ch.typ, ch.zxid}]
				if ok && !at.before(got) {
					continue
				}
				what := "before the notice arrived"
				if !ok {
					what = "and no notice ever arrived"
				}
				shown := ""
				var ops []int
				var details string
				if reply >= 0 {
					shown = fmt.Sprintf("op %d got the state at zxid %s", reply, h.Ops[reply].Zxid)
					ops, details = []int{g.op, reply}, describeOp(&h.Ops[g.op])+"\n"+describeOp(&h.Ops[reply])+"\n"
				} else {
					w := &h.Watches[notice]
					shown = fmt.Sprintf("client %d got %s for %s at zxid %s", w.Client, eventName(w.Type), w.Path, w.Zxid)
					ops, details = []int{g.op}, describeOp(&h.Ops[g.op])+"\n"+describeNotice(w)+"\n"
				}
				c.flagged[i] = true
				c.vs = append(c.vs, violation{key: [2]int64{int64(g.op), 10},
					explanation: fmt.Sprintf("%s on the connection where the %s watch op %d set on %s was in place, past %s of %s at %s, %s",
						shown, g.kind, g.op, g.path, eventName(ch.typ), ch.path, ch.zxid, what),
					ops: ops, txns: []model.Zxid{ch.zxid}, details: details})
				break evidence
			}
			armedAt = max(armedAt, upTo)
		}
	}
}

// settledDelivery: rule 6.
func (c *watchCheck) settledDelivery() {
	h := c.h
	heard := map[int64]LastHeard{}
	for _, lh := range h.LastHeard {
		heard[lh.Session] = lh
	}
	for i := range c.regs {
		g := &c.regs[i]
		v := c.view(g.session)
		lh, ok := heard[g.session]
		if !ok || c.flagged[i] || g.removedAt != never || g.kind.oneShot() && g.firedBy >= 0 ||
			v.ended || c.closed[g.session] || !v.connectedAtEnd {
			continue
		}
		final := v.connects[len(v.connects)-1]
		applied := c.serverApply[final.Server]
		onFinal := g.ret.t >= final.Time
		if final.Server != lh.Server || applied == nil || onFinal && g.server != final.Server {
			continue
		}
		deadline := lh.Time - SettleTime
		floor := g.at
		if !onFinal {
			if g.kind.oneShot() {
				floor = max(floor, final.LastZxid)
			} else {
				// Carried over: only changes after the first reply on the
				// final connection are sure to find the watch in place.
				first := -1
				for _, p := range v.replies {
					if op := &h.Ops[p]; op.Return >= final.Time && op.Server == final.Server {
						first = p
						break
					}
				}
				if first < 0 {
					continue
				}
				floor = max(floor, h.Ops[first].Zxid)
			}
		}
		for _, ch := range after(c.changesOf(g.kind, g.path), floor) {
			// An exist watch is set on a missing node: only its creation
			// fires it (setWatches re-registers it if the node is missing
			// again by then).
			if !g.kind.fires(ch.typ, ch.path, g.path) || g.kind == kindExist && ch.typ != model.EventNodeCreated {
				continue
			}
			at, ok := applied[ch.zxid]
			if !ok || at > deadline {
				if g.kind.oneShot() && ok {
					break // the first trigger came too late to be owed
				}
				continue
			}
			if g.kind == kindExist && !onFinal && c.deletedAfter(ch, c.lastApplied[final.Server]) {
				continue
			}
			if !g.kind.oneShot() {
				if _, got := c.arrivals[noticeKey{g.session, ch.path, ch.typ, ch.zxid}]; got {
					continue
				}
			}
			c.vs = append(c.vs, violation{key: [2]int64{int64(g.op), 11},
				explanation: fmt.Sprintf("the %s watch op %d set on %s never fired for %s of %s at %s, which server %d applied at %s, though the session stayed connected to it and heard from it at %s",
					g.kind, g.op, g.path, eventName(ch.typ), ch.path, ch.zxid, final.Server, fmtTime(at), fmtTime(lh.Time)),
				ops: []int{g.op}, txns: []model.Zxid{ch.zxid}, details: describeOp(&h.Ops[g.op]) + "\n"})
			break
		}
	}
}

func eventName(t model.EventType) string {
	switch t {
	case model.EventNodeCreated:
		return "NodeCreated"
	case model.EventNodeDeleted:
		return "NodeDeleted"
	case model.EventNodeDataChanged:
		return "NodeDataChanged"
	case model.EventNodeChildrenChanged:
		return "NodeChildrenChanged"
	}
	return fmt.Sprintf("event(%d)", t)
}

func describeNotice(w *WatchNotice) string {
	return fmt.Sprintf("notice: client %d session %#x server %d %s %s zxid=%s at %s (registered by op %d)",
		w.Client, w.Session, w.Server, eventName(w.Type), w.Path, w.Zxid, fmtTime(w.Time), w.Registered)
}
