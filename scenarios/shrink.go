package scenarios

import (
	"fmt"

	"zoosim/checker"
	"zoosim/nemesis"
)

// ShrinkResult is the smallest run found that still fails the same way.
type ShrinkResult struct {
	Checker  string // the checker that keeps failing
	Original *Result
	Minimal  *Result
	Schedule nemesis.Schedule
	// MaxOpsPerClient is the smallest per-client operation budget that
	// still fails (0: the full workload was needed).
	MaxOpsPerClient int
	Runs            int // runs the search took
}

// Shrink takes a failing run and removes faults, then operations, while
// the same checker still reports a violation. The world stays the seed's;
// only the fault schedule (replayed exactly) and the workload's length
// change, so every step is itself a reproducible run.
func Shrink(sc Scenario, seed uint64, opt Options, maxRuns int) (*ShrinkResult, error) {
	orig, err := Run(sc, seed, opt)
	if err != nil {
		return nil, err
	}
	if orig.Verdict == VerdictError {
		return nil, fmt.Errorf("%s seed %d: the harness failed, not the service (%s): nothing to shrink", sc.Name, seed, orig.Err)
	}
	if orig.Verdict != checker.VerdictViolation {
		return nil, fmt.Errorf("%s seed %d does not fail (verdict %s): nothing to shrink", sc.Name, seed, orig.Verdict)
	}
	target := ""
	for _, r := range orig.Report.Results {
		if r.Verdict == checker.VerdictViolation {
			target = r.Checker
			break
		}
	}
	out := &ShrinkResult{Checker: target, Original: orig, Minimal: orig, Schedule: orig.Schedule, Runs: 1}
	if maxRuns <= 0 {
		maxRuns = 200
	}
	fails := func(o Options) (*Result, bool) {
		out.Runs++
		r, err := Run(sc, seed, o)
		if err != nil {
			return nil, false
		}
		for _, c := range r.Report.Results {
			if c.Checker == target && c.Verdict == checker.VerdictViolation {
				return r, true
			}
		}
		return r, false
	}

	// Faults: drop one at a time, keep every removal that still fails,
	// until a whole pass removes nothing.
	sched := orig.Schedule
	for changed := true; changed && out.Runs < maxRuns; {
		changed = false
		for i := 0; i < len(sched) && out.Runs < maxRuns; i++ {
			cand := sched.Without(i)
			o := opt
			o.Schedule = &cand
			if r, ok := fails(o); ok {
				sched, out.Minimal, changed = cand, r, true
				i--
			}
		}
	}
	out.Schedule = sched

	// Operations: the smallest per-client budget that still fails, by
	// bisection over what the original run issued. A run that stopped at a
	// broken invariant recorded no history to count them in: it keeps its
	// whole workload.
	if out.Minimal.History == nil {
		return out, nil
	}
	perClient := map[int32]int{}
	hi := 0
	for _, op := range out.Minimal.History.Ops {
		perClient[int32(op.Client)]++
		hi = max(hi, perClient[int32(op.Client)])
	}
	// Each client also spends a few operations on setup (parents) that the
	// history does not show.
	hi += 4
	lo := 1
	best := 0
	for lo <= hi && out.Runs < maxRuns {
		mid := (lo + hi) / 2
		o := opt
		o.Schedule = &sched
		o.MaxOpsPerClient = mid
		if r, ok := fails(o); ok {
			best, out.Minimal = mid, r
			hi = mid - 1
		} else {
			lo = mid + 1
		}
	}
	out.MaxOpsPerClient = best
	return out, nil
}
