package scenarios

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/checker"
	"zoosim/node"
	"zoosim/sim"
)

// recoverResult runs f, recovers its panic the way Run does and returns
// the result Run would report.
func recoverResult(t *testing.T, f func()) (res *Result) {
	t.Helper()
	sc, err := Lookup("standalone")
	require.NoError(t, err)
	defer func() {
		p := recover()
		require.NotNil(t, p, "f did not panic")
		function, pkg := panicOrigin()
		res = panicResult(sc, 1, p, function, pkg)
	}()
	f()
	return nil
}

func TestPanicOrigin_TheHarnessPanickingIsAHarnessError(t *testing.T) {
	res := recoverResult(t, func() { panic("nemesis: invariant violated: something of the harness's own") })
	assert.Equal(t, VerdictError, res.Verdict)
	assert.Contains(t, res.Err, "harness panic in zoosim/scenarios.TestPanicOrigin_TheHarnessPanickingIsAHarnessError")
	assert.Empty(t, res.Checks, "a harness error has no checker verdicts")
	assert.Equal(t, "zoosim run --scenario standalone --seed 1", res.Repro)
}

func TestPanicOrigin_ARuntimeErrorInTheHarnessIsAHarnessError(t *testing.T) {
	var m map[string]int
	res := recoverResult(t, func() { m["x"] = 1 }) // assignment to a nil map
	assert.Equal(t, VerdictError, res.Verdict)
}

func TestPanicOrigin_APanicOutsideTheHarnessIsAnInvariantViolation(t *testing.T) {
	// strings stands for every package of the system under test: only
	// the harness's own packages make a harness error.
	res := recoverResult(t, func() { _ = strings.Repeat("x", -1) })
	assert.Equal(t, checker.VerdictViolation, res.Verdict)
	assert.Equal(t, checker.VerdictViolation, res.Checks["invariant"])
	assert.Empty(t, res.Err)
}

func TestFuncPackage(t *testing.T) {
	for fn, pkg := range map[string]string{
		"zoosim/quorum/zab.(*Zab).stepFollower":   "zoosim/quorum/zab",
		"zoosim/scenarios.Run.func1":              "zoosim/scenarios",
		"zoosim/nemesis.(*Runner).do":             "zoosim/nemesis",
		"strings.Repeat":                          "strings",
		"zoosim/checker.check[...]":               "zoosim/checker",
		"github.com/anishathalye/porcupine.Check": "github.com/anishathalye/porcupine",
	} {
		assert.Equal(t, pkg, funcPackage(fn), fn)
	}
}

// panickingTrace is a harness callback that fails in the middle of a run.
func panickingTrace(after int) func(sim.TraceEvent) {
	n := 0
	return func(sim.TraceEvent) {
		if n++; n >= after {
			panic("the harness's tracer broke")
		}
	}
}

// TestRun_AHarnessFailureIsAnErrorNeverAViolation: a run whose harness
// fails mid-way (here its tracer panics) has the verdict "error", counts
// as a harness error in a suite and not as a violation, and cannot be
// shrunk.
func TestRun_AHarnessFailureIsAnErrorNeverAViolation(t *testing.T) {
	sc, err := Lookup("standalone")
	require.NoError(t, err)
	sc.Duration = 2 * node.Second
	r, err := Run(sc, 1, Options{Trace: panickingTrace(1000)})
	require.NoError(t, err)
	assert.Equal(t, VerdictError, r.Verdict)
	assert.Contains(t, r.Err, "the harness's tracer broke")
	assert.NotContains(t, r.Checks, "invariant")

	res, err := RunSuite(Suite{Name: "t", Seeds: 2, Scenarios: []string{"standalone"}, Duration: 2 * node.Second},
		SuiteOptions{Options: Options{Trace: panickingTrace(1000)}})
	require.NoError(t, err)
	assert.Equal(t, 2, res.Errors)
	assert.Zero(t, res.Violations)
	assert.Empty(t, res.Failures)

	_, err = Shrink(sc, 1, Options{Trace: panickingTrace(1000)}, 10)
	require.ErrorContains(t, err, "the harness failed")
}

// TestShrink_ARunShorterThanTheMinimumIsRefusedNotAPanic: once, shrink
// --duration 1ns panicked: the run broke an invariant of the nemesis,
// recorded no history, and the op bisection read it.
func TestShrink_ARunShorterThanTheMinimumIsRefusedNotAPanic(t *testing.T) {
	sc, err := Lookup("standalone")
	require.NoError(t, err)
	_, err = sc.Apply(Overrides{Duration: 1})
	require.ErrorContains(t, err, "duration 1ns outside [1s, 1h0m0s]")
	sc.Duration = 1
	_, err = Shrink(sc, 1, Options{}, 10)
	require.ErrorContains(t, err, "outside [1s")
}
