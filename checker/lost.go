package checker

import (
	"slices"

	"zoosim/model"
)

// LostWrites lists the acknowledged writes (op IDs, in order) that the
// committed sequence does not hold as acknowledged: in no server's applied
// sequence at the zxid their reply carried, or there as another txn than
// the one the op asked for (another session's, other contents, another
// outcome). It is the durability half of the agreement checker, counted
// rather than explained, so that an experiment can tell lost acknowledged
// writes from the other promises a run broke. A history without applied
// txns loses nothing that can be located: nil.
func LostWrites(h *History) []int {
	if h == nil {
		return nil
	}
	r := newRun(h, Options{})
	seq := r.committed()
	if len(seq.txns) == 0 {
		return nil
	}
	ack := map[model.Zxid][]int{}
	for i := range h.Ops {
		if op := &h.Ops[i]; acknowledgedWrite(op) {
			ack[op.Zxid] = append(ack[op.Zxid], i)
		}
	}
	var lost []int
	rep := r.replayed()
	for idx := range seq.txns {
		t := &seq.txns[idx]
		for _, i := range ack[t.Zxid] {
			if _, bad := ackMismatch(&h.Ops[i], t, rep.results[idx]); bad {
				lost = append(lost, i)
			}
		}
		delete(ack, t.Zxid)
	}
	for _, ids := range ack { // not in the sequence at all; sorted below
		lost = append(lost, ids...)
	}
	slices.Sort(lost)
	return lost
}
