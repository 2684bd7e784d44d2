package checker

import (
	"fmt"
	"slices"

	"zoosim/model"
	"zoosim/node"
)

// The zxid order checker holds the service to what ZooKeeper promises about
// zxids, from the clients' replies alone:
//
//   - every acknowledged write has a zxid of its own;
//   - real time agrees with zxid order: if op A returned before op B was
//     called, A is ordered before B. For two writes that means
//     zxid(A) < zxid(B). A linearizable read sits just after the write
//     whose zxid it returned, so a write that returned before the read was
//     called has zxid <= the read's, and a write called after the read
//     returned has a greater zxid;
//   - the zxids a session observes in its replies never decrease, in the
//     order the replies arrived, across reconnects too.

// linearizableCalls returns, for each op, the call time the linearizable
// checks use: a read that directly follows an ok sync of the same client
// and session starts when the sync started.
func linearizableCalls(h *History) []node.Time {
	calls := make([]node.Time, len(h.Ops))
	lastOf := map[clientSession]int{}
	for i := range h.Ops {
		op := &h.Ops[i]
		calls[i] = op.Call
		cs := clientSession{op.Client, op.Session}
		if prev, ok := lastOf[cs]; ok && isRead(op.Kind) {
			if p := &h.Ops[prev]; p.Kind == OpSync && answered(p) && p.Err == model.ErrOK && p.Call < op.Call {
				calls[i] = p.Call
			}
		}
		lastOf[cs] = i
	}
	return calls
}

// linearizableRead reports a read whose zxid places it in real time.
func linearizableRead(op *Op) bool {
	return isRead(op.Kind) && op.Linearizable && classify(op) == outcomeDone &&
		(op.Err == model.ErrOK || op.Err == model.ErrNoNode) && op.Zxid > 0
}

func (r *run) zxidOrder() Result {
	h := r.h
	var vs []violation

	// Each acknowledged write has its own zxid.
	firstAt := map[model.Zxid]int{}
	writes := 0
	for i := range h.Ops {
		op := &h.Ops[i]
		if !acknowledgedWrite(op) {
			continue
		}
		writes++
		j, dup := firstAt[op.Zxid]
		if !dup {
			firstAt[op.Zxid] = i
			continue
		}
		vs = append(vs, violation{key: [2]int64{int64(i), 0},
			explanation: fmt.Sprintf("acknowledged writes op %d and op %d both got zxid %s: every write must have its own zxid",
				j, i, op.Zxid),
			ops: []int{j, i}, txns: []model.Zxid{op.Zxid},
			details: describeOp(&h.Ops[j]) + "\n" + describeOp(op) + "\n"})
	}

	vs = append(vs, realTimeViolations(h)...)
	vs = append(vs, sessionZxidViolations(h)...)
	return verdictOf(vs, fmt.Sprintf("%d acknowledged writes with distinct zxids in real-time order; session zxids never decrease", writes))
}

// realTimeViolations places the acknowledged writes and the linearizable
// reads at their reply zxids and sweeps them in call order.
func realTimeViolations(h *History) []violation {
	calls := linearizableCalls(h)
	var pts []orderPoint
	for i := range h.Ops {
		op := &h.Ops[i]
		switch {
		case acknowledgedWrite(op):
			pts = append(pts, orderPoint{id: i, zxid: op.Zxid, call: op.Call, ret: op.Return})
		case linearizableRead(op):
			pts = append(pts, orderPoint{id: i, zxid: op.Zxid, read: true, call: calls[i], ret: op.Return})
		}
	}
	return orderViolations(h, pts, 1)
}

// repliesBySession groups the answered ops that carry a zxid by session
// (sessions in increasing order), each group in reply order (FIFO; ties
// keep call order).
func repliesBySession(h *History) [][]int {
	bySession := map[int64][]int{}
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.Session != 0 && answered(op) && op.Zxid > 0 {
			bySession[op.Session] = append(bySession[op.Session], i)
		}
	}
	out := make([][]int, 0, len(bySession))
	for _, s := range sortedKeys(bySession) {
		ids := bySession[s]
		slices.SortStableFunc(ids, func(a, b int) int { return cmpInt64(int64(h.Ops[a].Return), int64(h.Ops[b].Return)) })
		out = append(out, ids)
	}
	return out
}

// sessionZxidViolations checks that each session's reply zxids, in reply
// order (FIFO, ties by call order), never decrease.
func sessionZxidViolations(h *History) []violation {
	var vs []violation
	for _, ids := range repliesBySession(h) {
		top := -1
		for _, i := range ids {
			op := &h.Ops[i]
			if top >= 0 && op.Zxid < h.Ops[top].Zxid {
				vs = append(vs, violation{key: [2]int64{int64(i), 2},
					explanation: fmt.Sprintf("session %#x saw zxid %s (op %d, server %d) after it had seen %s (op %d, server %d): a session's zxids must never go back",
						op.Session, op.Zxid, i, op.Server, h.Ops[top].Zxid, top, h.Ops[top].Server),
					ops:     []int{top, i},
					details: describeOp(&h.Ops[top]) + "\n" + describeOp(op) + "\n"})
				continue
			}
			if top < 0 || op.Zxid > h.Ops[top].Zxid {
				top = i
			}
		}
	}
	return vs
}

type clientSession struct {
	client  node.ID
	session int64
}
