package checker

import (
	"fmt"
	"maps"
	"slices"

	"zoosim/model"
	"zoosim/node"
)

// The linearizability check by the zxid order (white box).
//
// ZooKeeper gives every write a zxid, and the servers' records give the one
// committed sequence: that sequence is the only order in which the writes
// can be linearized, so the check needs no search. The history is
// linearizable with that order as witness iff:
//
//   - every write whose outcome the client learned is the committed txn at
//     the zxid its reply carried, of its session (and of its request, when
//     the history records the request's xid);
//   - every write whose outcome the client never learned is tied to the
//     txn of its session with its xid (or, in histories without xids, to
//     the one committed txn of its session that does what it asked), or
//     else took no effect;
//   - the txn of every tied write is what ZooKeeper decides for its request
//     against the state the sequence reached just before it (the
//     checker's reference: versions, existence, sequential names,
//     ephemeral parents and owners, sessions, a multi's all-or-nothing
//     with its per-op errors), and its reply is what applying the txn gives;
//   - every linearizable read returns the state at the zxid it carries;
//   - real time agrees with zxid order: an op that returned before another
//     was called comes first (a read just after the write whose zxid it
//     returned; a write of unknown outcome at its txn).
//
// Session starts and ends, container and TTL sweeps and every other txn
// nobody recorded asking for are in the sequence too, so ephemeral nodes
// vanish exactly where their session's closeSession is. The replay is one
// pass, in zxid order; the real-time check is a sweep: O(n log n) for n
// ops and txns, in memory linear in the history.

// attribution ties write ops to the committed txns that are their effect.
type attribution struct {
	txnOf []int // per op: index into the committed sequence, -1 if none
	opOf  []int // per committed txn: the op it is the effect of, -1 if none
	// Unknown-outcome writes (and answered writes without a zxid):
	// tied to a txn, shown to have taken no effect, or left undecided.
	tied, noEffect int
	unchecked      map[string]int
	vs             []violation
}

const (
	whyAmbiguous  = "writes of unknown outcome whose txn cannot be told apart from another of their session (the history records no request xids)"
	whyNoSession  = "writes of unknown outcome whose session is not recorded"
	whyNoZxidRead = "linearizable reads answered without a zxid"
)

func (r *run) attributed() *attribution {
	if r.attr == nil {
		r.attr = attribute(r.h, r.committed())
	}
	return r.attr
}

func attribute(h *History, seq *committedSeq) *attribution {
	a := &attribution{txnOf: make([]int, len(h.Ops)), opOf: make([]int, len(seq.txns)), unchecked: map[string]int{}}
	for i := range a.txnOf {
		a.txnOf[i] = -1
	}
	for j := range a.opOf {
		a.opOf[j] = -1
	}
	tie := func(i, j int) { a.txnOf[i], a.opOf[j] = j, i }

	// Acknowledged writes: by the zxid of their reply.
	for i := range h.Ops {
		op := &h.Ops[i]
		if !acknowledgedWrite(op) {
			continue
		}
		j, ok := seq.find(op.Zxid)
		switch {
		case !ok:
			a.vs = append(a.vs, violation{key: [2]int64{int64(i), 0},
				explanation: fmt.Sprintf("acknowledged write op %d (%s %s) got zxid %s, but no server applied a txn at that zxid: it cannot be placed in the committed order",
					i, op.Kind, op.Path, op.Zxid),
				ops: []int{i}, txns: []model.Zxid{op.Zxid}, details: describeOp(op) + "\n"})
		case seq.txns[j].Session != op.Session:
			a.vs = append(a.vs, violation{key: [2]int64{int64(i), 0},
				explanation: fmt.Sprintf("acknowledged write op %d (%s %s) got zxid %s, but the txn at that zxid is session %#x's, not the op's session %#x",
					i, op.Kind, op.Path, op.Zxid, seq.txns[j].Session, op.Session),
				ops: []int{i}, txns: []model.Zxid{op.Zxid}, details: describeOp(op) + "\n" + describeTxn(&seq.txns[j]) + "\n"})
		case op.Xid != 0 && seq.txns[j].Cxid != op.Xid:
			a.vs = append(a.vs, violation{key: [2]int64{int64(i), 0},
				explanation: fmt.Sprintf("acknowledged write op %d (%s %s, xid %d) got zxid %s, but the txn at that zxid is the session's request %d",
					i, op.Kind, op.Path, op.Xid, op.Zxid, seq.txns[j].Cxid),
				ops: []int{i}, txns: []model.Zxid{op.Zxid}, details: describeOp(op) + "\n" + describeTxn(&seq.txns[j]) + "\n"})
		default:
			if a.opOf[j] < 0 {
				tie(i, j) // a second op at one zxid is the zxid checker's finding
			}
		}
	}

	// The rest: writes whose outcome is unknown, and answered ones without
	// a zxid. By (session, xid) when the history has xids.
	byRequest := map[[2]int64][]int{}
	for j := range seq.txns {
		t := &seq.txns[j]
		if t.Session != 0 && t.Cxid != 0 && requestTxn(t.Txn) {
			k := [2]int64{t.Session, int64(t.Cxid)}
			byRequest[k] = append(byRequest[k], j)
		}
	}
	var byContent []int
	for i := range h.Ops {
		op := &h.Ops[i]
		if !op.Kind.IsWrite() || classify(op) == outcomeRefused || a.txnOf[i] >= 0 || acknowledgedWrite(op) {
			continue
		}
		switch {
		case op.Session == 0:
			a.unchecked[whyNoSession]++
		case op.Xid != 0:
			js := slices.DeleteFunc(slices.Clone(byRequest[[2]int64{op.Session, int64(op.Xid)}]), func(j int) bool {
				return a.opOf[j] >= 0
			})
			if len(js) == 0 {
				a.noEffect++
				continue
			}
			tie(i, js[0])
			a.tied++
		default:
			byContent = append(byContent, i)
		}
	}
	a.byContent(h, seq, byContent)

	// A request takes effect once: a second effective txn with its
	// (session, xid) applied it twice.
	for _, k := range sortedKeys2(byRequest) {
		js := byRequest[k]
		i, tied := -1, false
		for _, j := range js {
			if o := a.opOf[j]; o >= 0 && h.Ops[o].Xid != 0 {
				i, tied = o, true
			}
		}
		if !tied {
			continue
		}
		for _, j := range js {
			if j != a.txnOf[i] && effective(seq.txns[j].Txn) {
				a.vs = append(a.vs, violation{key: [2]int64{int64(i), 1},
					explanation: fmt.Sprintf("the request of op %d (session %#x, xid %d) took effect twice: at zxid %s and at zxid %s",
						i, k[0], k[1], seq.txns[a.txnOf[i]].Zxid, seq.txns[j].Zxid),
					ops: []int{i}, txns: []model.Zxid{seq.txns[a.txnOf[i]].Zxid, seq.txns[j].Zxid},
					details: describeOp(&h.Ops[i]) + "\n" + describeTxn(&seq.txns[a.txnOf[i]]) + "\n" + describeTxn(&seq.txns[j]) + "\n"})
			}
		}
	}
	return a
}

// requestTxn reports the txns a client's write request commits.
func requestTxn(txn model.Txn) bool {
	switch txn.(type) {
	case model.CreateTxn, model.DeleteTxn, model.SetDataTxn, model.CheckVersionTxn, model.SetACLTxn,
		model.MultiTxn, model.ErrorTxn:
		return true
	}
	return false
}

// byContent ties writes of unknown outcome in histories without xids: the
// candidates of an op are its session's effective txns, tied to no other
// op, that do what it asked, above the zxids its session had seen when it
// was called (its request was sent after those replies arrived). An op
// with no candidate took no effect (every committed txn is in the
// records); an op and a txn that are each other's only candidate are tied;
// anything else stays undecided.
func (a *attribution) byContent(h *History, seq *committedSeq, ops []int) {
	if len(ops) == 0 {
		return
	}
	floor := sessionFloors(h)
	bySession := map[int64][]int{}
	for j := range seq.txns {
		t := &seq.txns[j]
		if a.opOf[j] < 0 && t.Session != 0 && effective(t.Txn) {
			bySession[t.Session] = append(bySession[t.Session], j)
		}
	}
	cands := make(map[int][]int, len(ops))
	claimedBy := map[int][]int{}
	for _, i := range ops {
		op := &h.Ops[i]
		f := floor(op)
		for _, j := range bySession[op.Session] {
			if seq.txns[j].Zxid > f && txnMismatch(op, seq.txns[j].Txn) == "" {
				cands[i] = append(cands[i], j)
				claimedBy[j] = append(claimedBy[j], i)
			}
		}
	}
	for _, i := range ops {
		switch c := cands[i]; {
		case len(c) == 0:
			a.noEffect++
		case len(c) == 1 && len(claimedBy[c[0]]) == 1:
			a.txnOf[i], a.opOf[c[0]] = c[0], i
			a.tied++
		default:
			a.unchecked[whyAmbiguous]++
		}
	}
}

// sessionFloors returns, for an op, the greatest zxid its session had seen
// in replies that arrived before the op was called.
func sessionFloors(h *History) func(op *Op) model.Zxid {
	type reply struct {
		at   node.Time
		zxid model.Zxid // the greatest so far
	}
	bySession := map[int64][]reply{}
	for _, ids := range repliesBySession(h) {
		var rs []reply
		top := model.Zxid(0)
		for _, i := range ids {
			top = max(top, h.Ops[i].Zxid)
			rs = append(rs, reply{at: h.Ops[i].Return, zxid: top})
		}
		bySession[h.Ops[ids[0]].Session] = rs
	}
	return func(op *Op) model.Zxid {
		rs := bySession[op.Session]
		k, _ := slices.BinarySearchFunc(rs, op.Call, func(r reply, t node.Time) int { return cmpInt64(int64(r.at), int64(t)) })
		if k == 0 {
			return 0
		}
		return rs[k-1].zxid
	}
}

func sortedKeys2(m map[[2]int64][]int) [][2]int64 {
	out := make([][2]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b [2]int64) int {
		if c := cmpInt64(a[0], b[0]); c != 0 {
			return c
		}
		return cmpInt64(a[1], b[1])
	})
	return out
}

// linearizableByOrder is the white-box linearizability check.
func (r *run) linearizableByOrder() Result {
	h, seq, att := r.h, r.committed(), r.attributed()
	vs := slices.Clone(att.vs)
	unchecked := maps.Clone(att.unchecked)
	calls := linearizableCalls(h)

	var reads []int
	for i := range h.Ops {
		op := &h.Ops[i]
		if !isRead(op.Kind) || !op.Linearizable || classify(op) != outcomeDone ||
			(op.Err != model.ErrOK && op.Err != model.ErrNoNode) {
			continue
		}
		if op.Zxid <= 0 {
			unchecked[whyNoZxidRead]++
			continue
		}
		reads = append(reads, i)
	}
	rep := r.replayed()
	last := seq.last()
	for _, i := range reads {
		op := &h.Ops[i]
		why, inRange := rep.reads[i]
		switch {
		case !inRange:
			vs = append(vs, violation{key: [2]int64{int64(i), 2},
				explanation: fmt.Sprintf("linearizable read op %d returned zxid %s, beyond the last committed txn (%s)", i, op.Zxid, last),
				ops:         []int{i}, details: describeOp(op) + "\n"})
		case why != "":
			vs = append(vs, violation{key: [2]int64{int64(i), 2},
				explanation: fmt.Sprintf("linearizable read op %d (%s %s) returned zxid %s, but does not match the committed state there: %s",
					i, op.Kind, op.Path, op.Zxid, why),
				ops: []int{i}, txns: []model.Zxid{op.Zxid}, details: describeOp(op) + "\n"})
		}
	}
	writes := 0
	for j := range seq.txns {
		i := att.opOf[j]
		if i < 0 {
			continue
		}
		t, op := &seq.txns[j], &h.Ops[i]
		writes++
		if why := rep.decisions[j]; why != "" {
			vs = append(vs, violation{key: [2]int64{int64(i), 3},
				explanation: fmt.Sprintf("op %d (%s %s by client %d) is the txn at zxid %s, which ZooKeeper would not commit there: %s",
					i, op.Kind, op.Path, op.Client, t.Zxid, why),
				ops: []int{i}, txns: []model.Zxid{t.Zxid},
				details: describeOp(op) + "\n" + describeTxn(t) + "\n" + r.lastChanges(seq, j, op)})
		}
		if !answered(op) {
			continue
		}
		if why := resultMismatch(op, rep.results[j]); why != "" {
			vs = append(vs, violation{key: [2]int64{int64(i), 4},
				explanation: fmt.Sprintf("op %d (%s %s by client %d) was answered %s, but its txn at zxid %s gives another result: %s",
					i, op.Kind, op.Path, op.Client, errName(op.Err), t.Zxid, why),
				ops: []int{i}, txns: []model.Zxid{t.Zxid}, details: describeOp(op) + "\n" + describeTxn(t) + "\n"})
		}
	}

	// Real time: every op placed at its zxid.
	var pts []orderPoint
	for i := range h.Ops {
		op := &h.Ops[i]
		if j := att.txnOf[i]; j >= 0 {
			pts = append(pts, orderPoint{id: i, zxid: seq.txns[j].Zxid, call: op.Call, ret: op.Return})
			if !answered(op) {
				pts[len(pts)-1].ret = Infinity
			}
		}
	}
	for _, i := range reads {
		pts = append(pts, orderPoint{id: i, zxid: h.Ops[i].Zxid, read: true, call: calls[i], ret: h.Ops[i].Return})
	}
	vs = append(vs, orderViolations(h, pts, 5)...)

	tiedErrors := 0
	for j, i := range att.opOf {
		if i >= 0 && !acknowledgedWrite(&h.Ops[i]) && !effective(seq.txns[j].Txn) {
			tiedErrors++
		}
	}
	res := verdictOf(vs, fmt.Sprintf("%d writes and %d linearizable reads follow the committed zxid order; of the writes whose outcome their client never learned, %d took effect, %d were committed as failures and %d never were",
		writes, len(reads), att.tied-tiedErrors, tiedErrors, att.noEffect))
	res.Unchecked, res.UncheckedWhy = uncheckedOf(unchecked)
	return res
}

// lastChanges describes the last few committed changes of an op's paths
// before committed index j, for a violation's details.
func (r *run) lastChanges(seq *committedSeq, j int, op *Op) string {
	paths := []string{op.Path}
	for _, s := range op.Multi {
		paths = append(paths, s.Path)
	}
	out := ""
	shown := 0
	for k := j - 1; k >= 0 && shown < 3; k-- {
		for _, p := range paths {
			if p != "" && txnTouches(seq.txns[k].Txn, p) {
				line := "earlier: " + describeTxn(&seq.txns[k])
				if o := r.attributed().opOf[k]; o >= 0 {
					line += fmt.Sprintf(" (op %d)", o)
				}
				out += line + "\n"
				shown++
				break
			}
		}
	}
	return out
}

// orderPoint is an op placed in the zxid order: a write at its zxid, a
// read just after the write whose zxid it returned. ret is Infinity for a
// write whose outcome its client never learned.
type orderPoint struct {
	id        int
	zxid      model.Zxid
	read      bool
	call, ret node.Time
}

// orderViolations sweeps the points in call order, keeping the greatest
// position among the points that returned before the current call: if
// that one is not before the current point, real time and zxid order
// disagree.
func orderViolations(h *History, pts []orderPoint, keyRank int64) []violation {
	less := func(a, b orderPoint) bool { // a strictly before b
		return a.zxid < b.zxid || a.zxid == b.zxid && !a.read && b.read
	}
	byCall := slices.Clone(pts)
	slices.SortStableFunc(byCall, func(a, b orderPoint) int { return cmpInt64(int64(a.call), int64(b.call)) })
	byReturn := slices.Clone(pts)
	slices.SortStableFunc(byReturn, func(a, b orderPoint) int { return cmpInt64(int64(a.ret), int64(b.ret)) })
	var vs []violation
	best, have, k := orderPoint{}, false, 0
	for _, b := range byCall {
		for k < len(byReturn) && byReturn[k].ret < b.call {
			if a := byReturn[k]; !have || less(best, a) {
				best, have = a, true
			}
			k++
		}
		if !have || !less(b, best) {
			continue
		}
		a, opA, opB := best, &h.Ops[best.id], &h.Ops[b.id]
		bWrite := fmt.Sprintf("write op %d", b.id)
		if b.ret >= Infinity {
			bWrite = fmt.Sprintf("write op %d (outcome unknown to its client, committed at zxid %s)", b.id, b.zxid)
		}
		var why string
		switch {
		case !a.read && !b.read:
			why = fmt.Sprintf("write op %d returned at %s, before %s was called at %s, yet its zxid %s is not below %s",
				a.id, fmtTime(a.ret), bWrite, fmtTime(b.call), a.zxid, b.zxid)
		case !a.read:
			why = fmt.Sprintf("linearizable read op %d was called at %s, after write op %d returned at %s, but read at zxid %s < %s: it missed the write",
				b.id, fmtTime(b.call), a.id, fmtTime(a.ret), b.zxid, a.zxid)
		case !b.read:
			why = fmt.Sprintf("%s was called at %s, after linearizable read op %d returned at %s, yet the read saw zxid %s and the write got %s",
				bWrite, fmtTime(b.call), a.id, fmtTime(a.ret), a.zxid, b.zxid)
		default:
			why = fmt.Sprintf("linearizable read op %d was called at %s, after linearizable read op %d returned at %s, but read an older zxid (%s < %s)",
				b.id, fmtTime(b.call), a.id, fmtTime(a.ret), b.zxid, a.zxid)
		}
		vs = append(vs, violation{key: [2]int64{int64(b.id), keyRank}, explanation: why,
			ops:     []int{a.id, b.id},
			details: describeOp(opA) + "\n" + describeOp(opB) + "\n"})
	}
	return vs
}
