package checker

import (
	"fmt"

	"zoosim/model"
)

// NameTxnLogs is the checker of the txn logs a target's servers leave on
// disk (Apache ZooKeeper, which reports nothing of what it commits, still
// logs every txn before it acks it).
const NameTxnLogs = "txn-logs"

// CheckTxnLogs judges a history against the servers' txn logs, as read
// from their disks after the run: logs[id] is server id's records in log
// order (index 0 unused). A log holds what a server logged, committed or
// not, so this checker asks only what every correct log answers:
//
//   - every zxid two servers logged, or one server logged twice, is the
//     same txn each time (same session, cxid, time and contents): zxids are
//     never reused. (A log need not be in zxid order: ZooKeeper's learner
//     logs again the txns of a DIFF that starts below what it had logged.)
//   - every acknowledged write is in some server's log at the zxid its
//     reply carried, in its session and with its xid, as the change it
//     asked for (a commit quorum logged it, and only uncommitted txns are
//     ever truncated).
//
// The logs' create txns do not say whether the request was sequential;
// the op's mode stands for it when the rest agrees. It does not replay
// the sequence (a log may keep an uncommitted txn that a snapshot sync
// superseded): that is what the agreement checker does with records of
// what servers applied.
func CheckTxnLogs(h *History, logs [][]Txn) Result {
	var vs []violation
	byZxid := map[model.Zxid]*Txn{}
	owner := map[model.Zxid]int{}
	records := 0
	for s, log := range logs {
		mine := map[model.Zxid]*Txn{}
		for i := range log {
			t := &log[i]
			records++
			if before, again := mine[t.Zxid]; again {
				// A resync may log again what this server had logged (a DIFF
				// from an earlier zxid): it must be the very same txn.
				if !sameTxn(before, t) {
					vs = append(vs, violation{key: [2]int64{int64(t.Zxid), 0},
						explanation: fmt.Sprintf("server %d logged two different txns at zxid %s", s, t.Zxid),
						txns:        []model.Zxid{t.Zxid},
						details:     fmt.Sprintf("first: %s\nthen:  %s\n", describeTxn(before), describeTxn(t))})
				}
				continue
			}
			mine[t.Zxid] = t
			first, seen := byZxid[t.Zxid]
			if !seen {
				byZxid[t.Zxid], owner[t.Zxid] = t, s
				continue
			}
			if !sameTxn(first, t) {
				vs = append(vs, violation{key: [2]int64{int64(t.Zxid), 1},
					explanation: fmt.Sprintf("servers %d and %d logged different txns at zxid %s", owner[t.Zxid], s, t.Zxid),
					txns:        []model.Zxid{t.Zxid},
					details:     fmt.Sprintf("server %d: %s\nserver %d: %s\n", owner[t.Zxid], describeTxn(first), s, describeTxn(t))})
			}
		}
	}
	acked := 0
	for i := range h.Ops {
		op := &h.Ops[i]
		if !acknowledgedWrite(op) {
			continue
		}
		acked++
		t, ok := byZxid[op.Zxid]
		if !ok {
			vs = append(vs, violation{key: [2]int64{int64(op.Zxid), 2},
				explanation: fmt.Sprintf("acknowledged write op %d (%s %s, zxid %s) is in no server's txn log: the write was lost", i, op.Kind, op.Path, op.Zxid),
				ops:         []int{i}, txns: []model.Zxid{op.Zxid}, details: describeOp(op) + "\n"})
			continue
		}
		why := ""
		switch {
		case t.Session != op.Session:
			why = fmt.Sprintf("the txn is session %#x's, the op ran in session %#x", t.Session, op.Session)
		case op.Xid != 0 && t.Cxid != op.Xid:
			why = fmt.Sprintf("the txn has cxid %d, the request xid %d", t.Cxid, op.Xid)
		default:
			why = txnMismatch(op, withOpModes(op, t.Txn))
			if why == "" && op.Err != model.ErrOK {
				if e, isErr := t.Txn.(model.ErrorTxn); isErr && e.Err != op.Err {
					why = fmt.Sprintf("the reply is %s, the logged error %s", op.Err, e.Err)
				}
			}
		}
		if why != "" {
			vs = append(vs, violation{key: [2]int64{int64(op.Zxid), 3},
				explanation: fmt.Sprintf("acknowledged write op %d (%s %s) is not the txn logged at its zxid %s: %s", i, op.Kind, op.Path, op.Zxid, why),
				ops:         []int{i}, txns: []model.Zxid{op.Zxid},
				details: describeOp(op) + "\n" + describeTxn(t) + "\n"})
		}
	}
	servers := 0
	for _, log := range logs {
		if len(log) > 0 {
			servers++
		}
	}
	res := verdictOf(vs, fmt.Sprintf("%d servers' logs (%d records, %d zxids) agree wherever they overlap; %d acknowledged writes are logged as acknowledged",
		servers, records, len(byZxid), acked))
	res.Checker = NameTxnLogs
	return res
}

// withOpModes gives a logged create the mode of the op that asked for it
// when they differ only in what a log does not record (the sequential
// flag); anything else is left for txnMismatch to report.
func withOpModes(op *Op, txn model.Txn) model.Txn {
	fix := func(mode model.CreateMode, t model.Txn) model.Txn {
		c, ok := t.(model.CreateTxn)
		if ok && c.Mode != mode && unsequential(mode) == c.Mode {
			c.Mode = mode
			return c
		}
		return t
	}
	if op.Kind == OpMulti {
		m, ok := txn.(model.MultiTxn)
		if !ok || len(m.Txns) != len(op.Multi) {
			return txn
		}
		out := model.MultiTxn{Txns: make([]model.Txn, len(m.Txns))}
		for i, s := range op.Multi {
			out.Txns[i] = fix(s.Mode, m.Txns[i])
		}
		return out
	}
	return fix(op.Mode, txn)
}

// unsequential is mode without its sequential flag.
func unsequential(mode model.CreateMode) model.CreateMode {
	switch mode {
	case model.ModePersistentSequential:
		return model.ModePersistent
	case model.ModeEphemeralSequential:
		return model.ModeEphemeral
	case model.ModePersistentSequentialWithTTL:
		return model.ModePersistentWithTTL
	}
	return mode
}
