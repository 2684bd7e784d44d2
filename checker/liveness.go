package checker

import (
	"fmt"

	"zoosim/model"
	"zoosim/node"
)

// The liveness checker: after the nemesis healed the network and restarted
// every server (History.HealedAt), an ensemble whose quorums intersect
// (History.QuorumSafe; a majority quorum is) elects a leader and
// acknowledges a write within Options.LivenessBound of virtual time.
// Ensembles configured with unsafe quorums are exempt: they are run to see
// what breaks, and availability is not promised.

func (r *run) liveness() Result {
	h := r.h
	bound := r.opt.livenessBound()
	if h.HealedAt == 0 {
		return Result{Verdict: VerdictOK, Explanation: "the nemesis never healed the cluster; nothing to check"}
	}
	if !h.QuorumSafe {
		return Result{Verdict: VerdictOK, Explanation: "the quorum configuration is not safe; liveness is not promised"}
	}
	first, firstOp := h.FirstWriteAfterHeal, -1
	// The recorded time, or the first acknowledged ok write after the heal.
	for i := range h.Ops {
		op := &h.Ops[i]
		if acknowledgedWrite(op) && op.Err == model.ErrOK && op.Return >= h.HealedAt &&
			(firstOp < 0 || op.Return < h.Ops[firstOp].Return) {
			firstOp = i
		}
	}
	if first == 0 && firstOp >= 0 {
		first = h.Ops[firstOp].Return
	}
	if first == 0 {
		if h.End-h.HealedAt <= bound {
			return Result{Verdict: VerdictInconclusive,
				Explanation: fmt.Sprintf("no write was acknowledged after the heal at %s, but the run ended %s later, within the bound of %s",
					fmtTime(h.HealedAt), fmtDuration(h.End-h.HealedAt), fmtDuration(bound))}
		}
		return Result{Verdict: VerdictViolation,
			Explanation: fmt.Sprintf("no write was acknowledged in the %s between the heal at %s and the end of the run (bound %s)",
				fmtDuration(h.End-h.HealedAt), fmtTime(h.HealedAt), fmtDuration(bound)),
			Details: faultsNote(h)}
	}
	took := first - h.HealedAt
	if took > bound {
		res := Result{Verdict: VerdictViolation,
			Explanation: fmt.Sprintf("the first write after the heal at %s was acknowledged %s later, beyond the bound of %s",
				fmtTime(h.HealedAt), fmtDuration(took), fmtDuration(bound)),
			Details: faultsNote(h)}
		if firstOp >= 0 && h.Ops[firstOp].Return == first {
			res.Ops = []int{firstOp}
			res.Details = describeOp(&h.Ops[firstOp]) + "\n" + res.Details
		}
		return res
	}
	return Result{Verdict: VerdictOK,
		Explanation: fmt.Sprintf("a write was acknowledged %s after the heal (bound %s)", fmtDuration(took), fmtDuration(bound))}
}

func faultsNote(h *History) string {
	var s string
	for _, f := range h.Faults {
		s += fmt.Sprintf("fault %s from %s to %s: %s\n", f.Kind, fmtTime(f.Start), fmtTime(f.End), f.Description)
	}
	return s
}

func fmtDuration(t node.Time) string {
	return fmt.Sprintf("%.3fs", float64(t)/float64(node.Second))
}
