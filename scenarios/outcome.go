package scenarios

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	"zoosim/checker"
)

// VerdictError is the verdict of a run that the harness could not carry
// out or judge: a fault schedule the nemesis refused, a panic in the
// workload, the nemesis or a checker. It is a bug in zoosim's harness and
// says nothing about the service, so it is never counted as a violation;
// the command line exits 2 on it and a suite counts it apart.
const VerdictError checker.Verdict = "error"

// harnessPackages are the packages whose panics are the harness's own
// failures. Everything else a run executes (model, quorum, zab, server,
// client, and the simulator whose invariants guard what the cores do) is
// the system under test: a panic there is a broken invariant of the
// service and fails the run as a violation of the "invariant" check.
var harnessPackages = []string{"zoosim/scenarios", "zoosim/nemesis", "zoosim/checker", "zoosim/experiments"}

// panicOrigin names the function that raised the panic being recovered and
// its package. It must be called from the deferred function that
// recovers, while the panicking frames are still on the stack.
func panicOrigin() (function, pkg string) {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	sawPanic := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			sawPanic = true
		case sawPanic && !strings.HasPrefix(f.Function, "runtime."):
			return f.Function, funcPackage(f.Function)
		}
		if !more {
			return "", ""
		}
	}
}

// funcPackage is the import path of a function named as runtime.Frame
// names it: "zoosim/quorum/zab.(*Zab).step" is in "zoosim/quorum/zab".
func funcPackage(fn string) string {
	slash := strings.LastIndex(fn, "/")
	if dot := strings.Index(fn[slash+1:], "."); dot >= 0 {
		return fn[:slash+1+dot]
	}
	return fn
}

func isHarnessPackage(pkg string) bool {
	return slices.Contains(harnessPackages, pkg)
}

// harnessError is the result of a run the harness failed.
func harnessError(sc Scenario, seed uint64, knobs Knobs, why string) *Result {
	return &Result{Scenario: sc.Name, Seed: seed, Engine: sc.Engine, Servers: sc.Servers, Quorum: sc.Quorum,
		Verdict: VerdictError, Checks: map[string]checker.Verdict{}, Err: why,
		Report: checker.Report{Verdict: VerdictError}, Knobs: knobs, Repro: reproLine(sc, seed, knobs)}
}

// panicResult turns a panic recovered from a run into its result: a
// violation of the "invariant" check when the service raised it, a harness
// error otherwise.
func panicResult(sc Scenario, seed uint64, p any, function, pkg string) *Result {
	if isHarnessPackage(pkg) {
		return harnessError(sc, seed, Knobs{}, fmt.Sprintf("harness panic in %s: %v", function, p))
	}
	return &Result{Scenario: sc.Name, Seed: seed, Engine: sc.Engine, Servers: sc.Servers, Quorum: sc.Quorum,
		Verdict: checker.VerdictViolation, Checks: map[string]checker.Verdict{"invariant": checker.VerdictViolation},
		Report: checker.Report{Verdict: checker.VerdictViolation, Results: []checker.Result{{Checker: "invariant",
			Verdict: checker.VerdictViolation, Explanation: fmt.Sprint(p)}}},
		Repro: reproLine(sc, seed, Knobs{})}
}
