package checker

import (
	"bytes"
	"fmt"
	"slices"

	"zoosim/model"
	"zoosim/node"
)

// The stale read checker holds every answered read (plain or linearizable)
// to ZooKeeper's promise for local reads: it returns exactly the state
// after some committed zxid, no older than what its session had already
// seen and no newer than its return: it cannot include a write that was
// called only after the read returned.
//
// A server answers a read with its last applied zxid in the reply header,
// so the read must equal the state of the replayed committed sequence at
// exactly that zxid: data and Stat for getData, Stat or NoNode for exists,
// the children (and Stat, if returned) for getChildren. The committed
// sequence is replayed once, in zxid order, answering the reads sorted by
// zxid on the way.

func (r *run) staleReads() Result {
	h := r.h
	var reads []int
	for i := range h.Ops {
		if answeredRead(&h.Ops[i]) {
			reads = append(reads, i)
		}
	}
	if len(reads) == 0 {
		return Result{Verdict: VerdictOK, Explanation: "no answered reads"}
	}
	seq := r.committed()
	if len(seq.txns) == 0 {
		return Result{Verdict: VerdictInconclusive,
			Explanation: "the history records no applied txns, so reads cannot be compared with a committed state"}
	}
	var vs []violation
	vs = append(vs, sessionFloorViolations(h)...)
	vs = append(vs, futureReadViolations(h, seq, r.attributed(), reads)...)

	rep := r.replayed()
	last := seq.last()
	for _, i := range reads {
		op := &h.Ops[i]
		if op.Zxid > last {
			vs = append(vs, violation{key: [2]int64{int64(i), 0},
				explanation: fmt.Sprintf("read op %d was answered at zxid %s, beyond the last txn any server applied (%s)",
					i, op.Zxid, last),
				ops: []int{i}, details: describeOp(op) + "\n"})
			continue
		}
		if why := rep.reads[i]; why != "" {
			v := violation{key: [2]int64{int64(i), 1},
				explanation: fmt.Sprintf("read op %d (%s %s, zxid %s) does not match the committed state at that zxid: %s",
					i, op.Kind, op.Path, op.Zxid, why),
				ops: []int{i}, details: describeOp(op) + "\n"}
			if j, ok := seq.find(op.Zxid); ok {
				v.txns = []model.Zxid{op.Zxid}
				v.details += describeTxn(&seq.txns[j]) + "\n"
			}
			upTo, _ := seq.find(op.Zxid + 1)
			if lw := lastTouch(seq.txns[:upTo], op.Path); lw != nil && lw.Zxid != op.Zxid {
				v.txns = append(v.txns, lw.Zxid)
				v.details += "last committed change of the path at or before the read's zxid: " + describeTxn(lw) + "\n"
			}
			vs = append(vs, v)
		}
	}
	return verdictOf(vs, fmt.Sprintf("%d reads equal the committed state at their zxid", len(reads)))
}

// readMismatch compares a read with the reference tree; "" if they agree.
func readMismatch(t *refTree, op *Op) string {
	switch op.Kind {
	case OpGetData:
		data, st, ok := t.getData(op.Path)
		switch {
		case !ok && op.Err == model.ErrOK:
			return "the node did not exist"
		case !ok:
			return ""
		case op.Err != model.ErrOK:
			return "the node existed"
		case !bytes.Equal(data, op.ResultData):
			return fmt.Sprintf("the data was %q, the read returned %q", clip(data), clip(op.ResultData))
		case st != op.Stat:
			return statDiff(st, op.Stat)
		}
	case OpExists:
		st, ok := t.exists(op.Path)
		switch {
		case !ok && op.Err == model.ErrOK:
			return "the node did not exist"
		case !ok:
			return ""
		case op.Err != model.ErrOK:
			return "the node existed"
		case st != op.Stat:
			return statDiff(st, op.Stat)
		}
	case OpGetChildren:
		kids, st, ok := t.children(op.Path)
		switch {
		case !ok && op.Err == model.ErrOK:
			return "the node did not exist"
		case !ok:
			return ""
		case op.Err != model.ErrOK:
			return "the node existed"
		}
		got := slices.Clone(op.Children)
		slices.Sort(got)
		if !slices.Equal(kids, got) {
			return fmt.Sprintf("the children were %v, the read returned %v", kids, got)
		}
		if op.Stat != (model.Stat{}) && st != op.Stat {
			return statDiff(st, op.Stat)
		}
	}
	return ""
}

func statDiff(want, got model.Stat) string {
	return fmt.Sprintf("the Stat was %+v, the reply carried %+v", want, got)
}

// lastTouch finds the last txn in txns that changed path (for explanations).
func lastTouch(txns []Txn, path string) *Txn {
	for i := len(txns) - 1; i >= 0; i-- {
		if txnTouches(txns[i].Txn, path) {
			return &txns[i]
		}
	}
	return nil
}

func txnTouches(txn model.Txn, path string) bool {
	switch x := txn.(type) {
	case model.CreateTxn:
		return x.Path == path
	case model.DeleteTxn:
		return x.Path == path
	case model.SetDataTxn:
		return x.Path == path
	case model.SetACLTxn:
		return x.Path == path
	case model.CloseSessionTxn:
		return slices.Contains(x.Paths, path)
	case model.MultiTxn:
		return slices.ContainsFunc(x.Txns, func(s model.Txn) bool { return txnTouches(s, path) })
	}
	return false
}

// futureReadViolations: no read returns a state that includes a write
// called after the read returned (the write's zxid at or below the read's).
// The writes are the acknowledged ones and those of unknown outcome tied to
// their txn.
func futureReadViolations(h *History, seq *committedSeq, att *attribution, reads []int) []violation {
	type write struct {
		id   int
		call node.Time
		zxid model.Zxid
	}
	var ws []write
	for i := range h.Ops {
		if j := att.txnOf[i]; j >= 0 {
			ws = append(ws, write{id: i, call: h.Ops[i].Call, zxid: seq.txns[j].Zxid})
		}
	}
	slices.SortStableFunc(ws, func(a, b write) int { return cmpInt64(int64(a.call), int64(b.call)) })
	// lowest[k] is the write with the smallest zxid among ws[k:].
	lowest := make([]int, len(ws)+1)
	lowest[len(ws)] = -1
	for k := len(ws) - 1; k >= 0; k-- {
		lowest[k] = k
		if l := lowest[k+1]; l >= 0 && ws[l].zxid < ws[k].zxid {
			lowest[k] = l
		}
	}
	var vs []violation
	for _, i := range reads {
		rd := &h.Ops[i]
		k, _ := slices.BinarySearchFunc(ws, rd.Return+1, func(w write, t node.Time) int { return cmpInt64(int64(w.call), int64(t)) })
		if l := lowest[k]; l >= 0 && ws[l].zxid <= rd.Zxid {
			w := &h.Ops[ws[l].id]
			vs = append(vs, violation{key: [2]int64{int64(i), 3},
				explanation: fmt.Sprintf("read op %d returned at %s the state at zxid %s, which includes write op %d (zxid %s), called only at %s",
					i, fmtTime(rd.Return), rd.Zxid, ws[l].id, ws[l].zxid, fmtTime(w.Call)),
				ops: []int{i, ws[l].id}, txns: []model.Zxid{ws[l].zxid},
				details: describeOp(rd) + "\n" + describeOp(w) + "\n"})
		}
	}
	return vs
}

// sessionFloorViolations: a read's zxid is at least the greatest zxid its
// session saw in the replies that arrived before it (FIFO order).
func sessionFloorViolations(h *History) []violation {
	var vs []violation
	for _, ids := range repliesBySession(h) {
		top := -1
		for _, i := range ids {
			op := &h.Ops[i]
			if top >= 0 && isRead(op.Kind) && classify(op) == outcomeDone && op.Zxid < h.Ops[top].Zxid {
				vs = append(vs, violation{key: [2]int64{int64(i), 2},
					explanation: fmt.Sprintf("read op %d of session %#x returned the state at zxid %s, older than zxid %s the session had already seen (op %d)",
						i, op.Session, op.Zxid, h.Ops[top].Zxid, top),
					ops:     []int{top, i},
					details: describeOp(&h.Ops[top]) + "\n" + describeOp(op) + "\n"})
			}
			if top < 0 || op.Zxid > h.Ops[top].Zxid {
				top = i
			}
		}
	}
	return vs
}
