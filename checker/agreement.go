package checker

import (
	"bytes"
	"fmt"

	"zoosim/model"
)

// The agreement and durability checker looks at what the servers applied
// (white box):
//
//   - one common sequence: at every zxid, every server that applied a txn
//     applied the same one (same session, cxid, time, contents) and reached
//     the same state (digest), and every recorded digest equals the digest
//     of the replayed merged sequence at that zxid (so a server that
//     skipped or altered a txn is caught even where no other server
//     recorded that zxid);
//   - durability: every acknowledged write is in the sequence at the zxid
//     its reply carried, in its session, as the txn its op asked for;
//   - and its reply is what that txn did when applied: the same error, the
//     same created path and Stat;
//   - every committed txn fits the state the sequence reached before it,
//     by the checker's reference (reference.go): a setData one version past
//     the node's, a create of a node that does not exist under a parent that
//     does, a sequential name with the parent's counter, a closeSession that
//     deletes only its session's ephemerals. A txn that does not fit is a
//     leader's mistake whatever asked for it (the linearizability checker
//     also judges it against the request, when it knows the request).
//
// Digests are the servers' own hash of their state (model.Tree.Digest); the
// reference computes the same hash over its own replay (reference.go), so
// a server whose apply got any field wrong (a bug of the model the servers
// run included) shows a digest the replay does not reach.
//
// It reports divergence whatever the quorum configuration: with quorums
// that do not intersect (History.QuorumSafe false) divergence is the
// expected finding of the experiment, and still a violation.

func (r *run) agreement() Result {
	h := r.h
	seq := r.committed()
	vs := append([]violation(nil), seq.conflicts...)
	ack := map[model.Zxid][]int{}
	acked := 0
	for i := range h.Ops {
		if op := &h.Ops[i]; acknowledgedWrite(op) {
			ack[op.Zxid] = append(ack[op.Zxid], i)
			acked++
		}
	}
	if len(seq.txns) == 0 {
		if acked == 0 {
			return Result{Verdict: VerdictOK, Explanation: "no applied txns and no acknowledged writes"}
		}
		return Result{Verdict: VerdictInconclusive,
			Explanation: fmt.Sprintf("the history records no applied txns, so %d acknowledged writes cannot be located", acked)}
	}

	rep := r.replayed()
	digestOK := true
	checkRestores := func(z model.Zxid, digest uint64) {
		for _, rs := range seq.restores[z] {
			if rs.digest != digest {
				vs = append(vs, violation{key: [2]int64{int64(z), 5},
					explanation: fmt.Sprintf("server %d restored a snapshot at zxid %s whose state differs from the committed sequence's at that zxid (digest %#x, replay %#x)",
						rs.server, z, rs.digest, digest),
					txns: []model.Zxid{z}})
			}
		}
	}
	checkRestores(0, rep.digest0)
	restoresChecked := len(seq.restores[0])
	unfit := 0
	for idx := range seq.txns {
		t, res, problem, digest := &seq.txns[idx], rep.results[idx], rep.problems[idx], rep.digests[idx]
		checkRestores(t.Zxid, digest)
		restoresChecked += len(seq.restores[t.Zxid])
		if digestOK && t.Digest != 0 && digest != t.Digest {
			// After the first mismatch every later digest may differ too;
			// the first one is the finding.
			digestOK = false
			vs = append(vs, violation{key: [2]int64{int64(t.Zxid), 2},
				explanation: fmt.Sprintf("server %d's state after zxid %s differs from the replay of the committed sequence (digest %#x, replay %#x): it skipped, reordered or altered a txn",
					seq.digestServer[idx], t.Zxid, t.Digest, digest),
				txns:    []model.Zxid{t.Zxid},
				details: describeTxn(t) + "\n"})
		}
		if problem != "" {
			unfit++
			vs = append(vs, violation{key: [2]int64{int64(t.Zxid), 1},
				explanation: fmt.Sprintf("the committed txn at zxid %s does not fit the state the sequence reached before it: %s", t.Zxid, problem),
				txns:        []model.Zxid{t.Zxid},
				details:     describeTxn(t) + "\n"})
		}
		for _, i := range ack[t.Zxid] {
			if v, bad := ackMismatch(&h.Ops[i], t, res); bad {
				vs = append(vs, v)
			}
		}
		delete(ack, t.Zxid)
	}
	for _, z := range sortedKeys(ack) {
		for _, i := range ack[z] {
			op := &h.Ops[i]
			vs = append(vs, violation{key: [2]int64{int64(z), 3},
				explanation: fmt.Sprintf("acknowledged write op %d (%s %s, zxid %s) is in no server's applied sequence: the write was lost",
					i, op.Kind, op.Path, z),
				ops: []int{i}, txns: []model.Zxid{z}, details: describeOp(op) + "\n"})
		}
	}
	// A restore at a zxid no server applied cannot be placed; say so.
	unplaced := 0
	for _, rs := range seq.restores {
		unplaced += len(rs)
	}
	unplaced -= restoresChecked
	servers := 0
	for _, a := range h.Applied {
		if len(a) > 0 {
			servers++
		}
	}
	res := verdictOf(vs, fmt.Sprintf("%d servers agree on %d txns, each of which fits the state before it; %d acknowledged writes are in the sequence as acknowledged",
		servers, len(seq.txns), acked))
	if unfit > 1 {
		res.Details += fmt.Sprintf("%d committed txns do not fit the state before them\n", unfit)
	}
	if unplaced > 0 {
		res.Details += fmt.Sprintf("%d snapshot restore(s) at zxids no server recorded applying were not compared\n", unplaced)
	}
	if res.Verdict == VerdictViolation && !h.QuorumSafe {
		res.Details += "the quorum configuration does not guarantee intersection (QuorumSafe is false)\n"
	}
	return res
}

// ackMismatch compares an acknowledged write with the committed txn at its
// zxid and with what applying that txn did.
func ackMismatch(op *Op, t *Txn, res refResult) (violation, bool) {
	why := ""
	switch {
	case t.Session != op.Session:
		why = fmt.Sprintf("the txn at its zxid belongs to session %#x, not to the op's session %#x", t.Session, op.Session)
	default:
		why = txnMismatch(op, t.Txn)
		if why == "" {
			why = resultMismatch(op, res)
		}
	}
	if why == "" {
		return violation{}, false
	}
	return violation{key: [2]int64{int64(t.Zxid), 4},
		explanation: fmt.Sprintf("acknowledged write op %d (%s %s, zxid %s) does not match the committed txn at that zxid: %s",
			op.ID, op.Kind, op.Path, t.Zxid, why),
		ops: []int{op.ID}, txns: []model.Zxid{t.Zxid},
		details: describeOp(op) + "\n" + describeTxn(t) + "\n"}, true
}

// txnMismatch checks that the txn is what the op asked for.
func txnMismatch(op *Op, txn model.Txn) string {
	if _, isErr := txn.(model.ErrorTxn); isErr {
		if op.Err == model.ErrOK {
			return "the op succeeded but the txn is an error txn"
		}
		return ""
	}
	if op.Kind == OpMulti {
		m, ok := txn.(model.MultiTxn)
		if !ok {
			return fmt.Sprintf("the txn is a %s, not a multi", txnSummary(txn))
		}
		if len(m.Txns) != len(op.Multi) {
			return fmt.Sprintf("the multi has %d ops, the txn %d", len(op.Multi), len(m.Txns))
		}
		for i, s := range op.Multi {
			if _, isErr := m.Txns[i].(model.ErrorTxn); isErr {
				continue
			}
			if why := changeMismatch(s.Kind, s.Path, s.Data, s.Mode, m.Txns[i]); why != "" {
				return fmt.Sprintf("op %d of the multi: %s", i, why)
			}
		}
		return ""
	}
	return changeMismatch(op.Kind, op.Path, op.Data, op.Mode, txn)
}

func changeMismatch(kind OpKind, path string, data []byte, mode model.CreateMode, txn model.Txn) string {
	ok := false
	switch x := txn.(type) {
	case model.CreateTxn:
		ok = kind == OpCreate && x.Mode == mode && bytes.Equal(x.Data, data) &&
			(x.Path == path || mode.IsSequential() && len(x.Path) == len(path)+10 && x.Path[:len(path)] == path)
	case model.DeleteTxn:
		ok = kind == OpDelete && x.Path == path
	case model.SetDataTxn:
		ok = kind == OpSetData && x.Path == path && bytes.Equal(x.Data, data)
	case model.CheckVersionTxn:
		ok = kind == OpCheck && x.Path == path
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("the op was %s %s, the txn is %s", kind, path, txnSummary(txn))
}

// resultMismatch compares the reply with the replayed result.
func resultMismatch(op *Op, res refResult) string {
	if op.Err != res.err {
		return fmt.Sprintf("the reply says %s, the txn applied with %s", errName(op.Err), errName(res.err))
	}
	if op.Kind == OpMulti {
		if len(res.multi) != len(op.Multi) {
			return ""
		}
		subErrs := false
		for _, s := range op.Multi {
			subErrs = subErrs || s.Err != model.ErrOK
		}
		for i, s := range op.Multi {
			sr := res.multi[i]
			if op.Err != model.ErrOK {
				if subErrs && s.Err != sr.err {
					return fmt.Sprintf("op %d of the multi: the reply says %s, the txn %s", i, errName(s.Err), errName(sr.err))
				}
				continue
			}
			if why := changeResultMismatch(s.Kind, s.CreatedPath, s.Stat, sr); why != "" {
				return fmt.Sprintf("op %d of the multi: %s", i, why)
			}
		}
		return ""
	}
	if op.Err != model.ErrOK {
		return ""
	}
	return changeResultMismatch(op.Kind, op.CreatedPath, op.Stat, res)
}

func changeResultMismatch(kind OpKind, created string, st model.Stat, res refResult) string {
	switch kind {
	case OpCreate:
		if created != res.path {
			return fmt.Sprintf("the reply names %s, the txn created %s", created, res.path)
		}
		if st != (model.Stat{}) && st != res.stat {
			return statDiff(res.stat, st)
		}
	case OpSetData:
		if st != res.stat {
			return statDiff(res.stat, st)
		}
	}
	return ""
}
