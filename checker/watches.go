package checker

import (
	"fmt"
	"math"
	"slices"

	"zoosim/model"
	"zoosim/node"
)

// The watch checker holds one-shot watches to ZooKeeper's promises:
//
//   - a registration (getData or getChildren that succeeded with a watch;
//     exists with a watch, whether or not the node existed) fires at most
//     once;
//   - with an event type its kind allows (a data watch on an existing node:
//     NodeDataChanged or NodeDeleted; an exists watch on a missing node:
//     NodeCreated; a child watch: NodeChildrenChanged or NodeDeleted);
//   - for a change that really happened after it was set: a committed txn
//     with a zxid above the registering read's reply zxid, at most the
//     notice's zxid, whose apply raised that event on that path (a
//     NodeDataChanged or NodeChildrenChanged sent on reconnect by
//     setWatches may stand for a re-creation: ZooKeeper compares mzxid and
//     pzxid with the client's last zxid there);
//   - before the client could read the new data: no read of the session,
//     after the registering one, returned the state at or after the first
//     change that triggers the watch before the notice arrived (or at all,
//     if no notice came). An exists watch on a missing node is exempt
//     across a reconnect: ZooKeeper's setWatches fires it only if the node
//     exists by then, so a create and delete in between go unseen.

type watchClass uint8

const (
	watchDataExisting watchClass = iota + 1 // getData ok, exists ok
	watchExistMissing                       // exists NoNode
	watchChild                              // getChildren ok
)

func registration(op *Op) (watchClass, bool) {
	if !op.Watch || classify(op) != outcomeDone {
		return 0, false
	}
	switch {
	case op.Kind == OpGetData && op.Err == model.ErrOK, op.Kind == OpExists && op.Err == model.ErrOK:
		return watchDataExisting, true
	case op.Kind == OpExists && op.Err == model.ErrNoNode:
		return watchExistMissing, true
	case op.Kind == OpGetChildren && op.Err == model.ErrOK:
		return watchChild, true
	}
	return 0, false
}

// allowed: the event types a registration may be notified with.
func (c watchClass) allowed(t model.EventType) bool {
	switch c {
	case watchDataExisting:
		return t == model.EventNodeDataChanged || t == model.EventNodeDeleted
	case watchExistMissing:
		return t == model.EventNodeCreated
	case watchChild:
		return t == model.EventNodeChildrenChanged || t == model.EventNodeDeleted
	}
	return false
}

// triggers: the events that fire a registration of this class (ZooKeeper's
// data table fires on created, changed and deleted; the child table on
// children changed and deleted).
func (c watchClass) triggers(t model.EventType) bool {
	if c == watchChild {
		return t == model.EventNodeChildrenChanged || t == model.EventNodeDeleted
	}
	return t == model.EventNodeCreated || t == model.EventNodeDataChanged || t == model.EventNodeDeleted
}

type pathEvent struct {
	zxid model.Zxid
	typ  model.EventType
}

func (r *run) watches() Result {
	h := r.h
	var regs []int
	for i := range h.Ops {
		if _, ok := registration(&h.Ops[i]); ok {
			regs = append(regs, i)
		}
	}
	if len(regs) == 0 && len(h.Watches) == 0 {
		return Result{Verdict: VerdictOK, Explanation: "no watches were set"}
	}
	seq := r.committed()
	if len(seq.txns) == 0 {
		return Result{Verdict: VerdictInconclusive,
			Explanation: "the history records no applied txns, so watch notices cannot be matched with changes"}
	}
	events := map[string][]pathEvent{}
	rep := r.replayed()
	for j := range seq.txns {
		for _, ev := range rep.results[j].events {
			events[ev.Path] = append(events[ev.Path], pathEvent{zxid: seq.txns[j].Zxid, typ: ev.Type})
		}
	}
	// firstAfter finds the first event on path after zxid z (exclusive)
	// that the predicate accepts, at most upTo.
	firstAfter := func(path string, z, upTo model.Zxid, accept func(model.EventType) bool) (pathEvent, bool) {
		evs := events[path]
		i, _ := slices.BinarySearchFunc(evs, z+1, func(e pathEvent, z model.Zxid) int { return cmpInt64(int64(e.zxid), int64(z)) })
		for ; i < len(evs) && evs[i].zxid <= upTo; i++ {
			if accept(evs[i].typ) {
				return evs[i], true
			}
		}
		return pathEvent{}, false
	}

	regsAt := map[sessionPath][]int{}
	for _, i := range regs {
		k := sessionPath{h.Ops[i].Session, h.Ops[i].Path}
		regsAt[k] = append(regsAt[k], i)
	}
	// Notices are taken in the order they arrived. Each one fires, and so
	// uses up, the session's pending registrations on its path that its
	// event reaches, as ZooKeeper's client does: NodeCreated and
	// NodeDataChanged its getData and exists watches, NodeChildrenChanged
	// its getChildren watches, NodeDeleted all of them. A registration is
	// pending for a notice if its reply came first (the server sends the
	// reply before any event for the watch) and, when the notice names a
	// zxid, it read a state older than that zxid.
	order := make([]int, 0, len(h.Watches))
	for n := range h.Watches {
		if t := h.Watches[n].Type; t >= model.EventNodeCreated && t <= model.EventNodeChildrenChanged {
			order = append(order, n)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmpInt64(int64(h.Watches[a].Time), int64(h.Watches[b].Time))
	})
	var vs []violation
	firedBy := map[int]int{} // registration op -> the notice that fired it
	for _, n := range order {
		w := &h.Watches[n]
		key := sessionPath{w.Session, w.Path}
		upTo := w.Zxid
		if upTo <= 0 {
			upTo = math.MaxInt64
		}
		reaches := func(i int) bool {
			op := &h.Ops[i]
			c, _ := registration(op)
			return c.triggers(w.Type) && op.Return <= w.Time && (w.Zxid <= 0 || op.Zxid < w.Zxid)
		}
		var fired []int
		if w.Registered != -1 {
			if w.Registered < -1 || w.Registered >= len(h.Ops) {
				vs = append(vs, violation{key: [2]int64{int64(w.Time), 0},
					explanation: fmt.Sprintf("watch notice %d names op %d, which is not in the history", n, w.Registered),
					details:     describeNotice(w) + "\n"})
				continue
			}
			op := &h.Ops[w.Registered]
			if _, ok := registration(op); !ok || op.Client != w.Client || op.Session != w.Session || op.Path != w.Path {
				vs = append(vs, violation{key: [2]int64{int64(w.Registered), 1},
					explanation: fmt.Sprintf("client %d got a %s notice for %s attributed to op %d, which set no such watch",
						w.Client, eventName(w.Type), w.Path, w.Registered),
					ops: []int{w.Registered}, details: describeOp(op) + "\n" + describeNotice(w) + "\n"})
				continue
			}
			if first, done := firedBy[w.Registered]; done {
				vs = append(vs, firedTwice(h, w.Registered, first, n))
				continue
			}
			fired = append(fired, w.Registered)
		}
		for _, i := range regsAt[key] {
			if _, done := firedBy[i]; !done && i != w.Registered && reaches(i) {
				fired = append(fired, i)
			}
		}
		if len(fired) == 0 {
			// Already fired, or never set.
			again := -1
			for _, i := range regsAt[key] {
				if _, done := firedBy[i]; done && reaches(i) {
					again = i
				}
			}
			if again >= 0 {
				vs = append(vs, firedTwice(h, again, firedBy[again], n))
				continue
			}
			vs = append(vs, violation{key: [2]int64{int64(w.Time), 2},
				explanation: fmt.Sprintf("client %d got a %s notice for %s but had no pending watch it could fire",
					w.Client, eventName(w.Type), w.Path),
				details: describeNotice(w) + "\n"})
			continue
		}
		for _, i := range fired {
			firedBy[i] = n
		}
		// The loosest window: the earliest registration the type fits.
		reg := -1
		for _, i := range fired {
			if c, _ := registration(&h.Ops[i]); c.allowed(w.Type) && (reg < 0 || h.Ops[i].Zxid < h.Ops[reg].Zxid) {
				reg = i
			}
		}
		if reg < 0 {
			op := &h.Ops[fired[0]]
			vs = append(vs, violation{key: [2]int64{int64(fired[0]), 3},
				explanation: fmt.Sprintf("the watch op %d set (%s %s) fired with %s, an event that kind of watch never gets",
					fired[0], op.Kind, op.Path, eventName(w.Type)),
				ops: fired, details: describeOp(op) + "\n" + describeNotice(w) + "\n"})
			continue
		}
		op := &h.Ops[reg]
		// setWatches on a reconnect reports a node re-created since the
		// client's last zxid as changed (its mzxid and pzxid moved).
		match := func(t model.EventType) bool {
			return t == w.Type || t == model.EventNodeCreated &&
				(w.Type == model.EventNodeDataChanged || w.Type == model.EventNodeChildrenChanged)
		}
		if _, ok := firstAfter(w.Path, op.Zxid, upTo, match); !ok {
			vs = append(vs, violation{key: [2]int64{int64(reg), 4},
				explanation: fmt.Sprintf("client %d got %s for %s (watch set by op %d at zxid %s, notice zxid %s), but no committed txn in between made that change",
					w.Client, eventName(w.Type), w.Path, reg, op.Zxid, w.Zxid),
				ops: []int{reg}, details: describeOp(op) + "\n" + describeNotice(w) + "\n"})
		}
	}

	// Before the client can read the new data.
	readsOf := map[int64][]int{}
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.Session != 0 && isRead(op.Kind) && classify(op) == outcomeDone && op.Zxid > 0 {
			readsOf[op.Session] = append(readsOf[op.Session], i)
		}
	}
	reconnects := map[int64][]node.Time{}
	for _, ev := range h.Sessions {
		if ev.State == SessionDisconnected || ev.State == SessionConnected {
			reconnects[ev.Session] = append(reconnects[ev.Session], ev.Time)
		}
	}
	for _, reg := range regs {
		op := &h.Ops[reg]
		c, _ := registration(op)
		first, ok := firstAfter(op.Path, op.Zxid, math.MaxInt64, c.triggers)
		if !ok {
			continue
		}
		noticeAt := Infinity
		if n, ok := firedBy[reg]; ok {
			noticeAt = h.Watches[n].Time
		}
		reads := readsOf[op.Session]
		from, _ := slices.BinarySearch(reads, reg+1)
		for _, i := range reads[from:] {
			rd := &h.Ops[i]
			if rd.Zxid < first.zxid || rd.Return >= noticeAt {
				continue
			}
			if c == watchExistMissing && (rd.Server != op.Server || anyIn(reconnects[op.Session], op.Return, rd.Return)) {
				continue
			}
			what := "before the notice arrived"
			if noticeAt == Infinity {
				what = "and no notice ever arrived"
			}
			vs = append(vs, violation{key: [2]int64{int64(reg), 6},
				explanation: fmt.Sprintf("op %d read the state at zxid %s, which includes the change at %s that fires the watch op %d set on %s, %s",
					i, rd.Zxid, first.zxid, reg, op.Path, what),
				ops: []int{reg, i}, txns: []model.Zxid{first.zxid},
				details: describeOp(op) + "\n" + describeOp(rd) + "\n"})
			break
		}
	}
	return verdictOf(vs, fmt.Sprintf("%d watch registrations and %d notices consistent", len(regs), len(h.Watches)))
}

func firedTwice(h *History, reg, first, again int) violation {
	return violation{key: [2]int64{int64(reg), 5},
		explanation: fmt.Sprintf("the watch op %d set fired twice: a watch fires at most once", reg),
		ops:         []int{reg},
		details: describeOp(&h.Ops[reg]) + "\n" + describeNotice(&h.Watches[first]) + "\n" +
			describeNotice(&h.Watches[again]) + "\n"}
}

type sessionPath struct {
	session int64
	path    string
}

func anyIn(ts []node.Time, from, to node.Time) bool {
	for _, t := range ts {
		if t > from && t < to {
			return true
		}
	}
	return false
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
