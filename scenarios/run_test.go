package scenarios

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/checker"
	"zoosim/node"
)

func run1(t *testing.T, sc Scenario, seed uint64) *Result {
	t.Helper()
	r, err := Run(sc, seed, Options{})
	require.NoError(t, err)
	return r
}

// TestCatalog_SafeScenariosPass runs every scenario with a safe quorum for
// a few seeds: the service must keep every promise under every fault kind.
func TestCatalog_SafeScenariosPass(t *testing.T) {
	seeds := 3
	if testing.Short() {
		seeds = 1
	}
	for _, name := range safeNames() {
		sc, err := Lookup(name)
		require.NoError(t, err)
		for seed := uint64(1); seed <= uint64(seeds); seed++ {
			r := run1(t, sc, seed)
			if !assert.Equal(t, checker.VerdictOK, r.Verdict, "%s\n%s", r.Repro, r.Report.String()) {
				continue
			}
			assert.Greater(t, r.Ops, 0, r.Repro)
		}
	}
}

func TestRun_SameSeedSameTraceHashAndVerdict(t *testing.T) {
	sc, err := Lookup("standard")
	require.NoError(t, err)
	sc.Duration = 10 * node.Second
	hashes := map[uint64]uint64{}
	for seed := uint64(1); seed <= 5; seed++ {
		a, b := run1(t, sc, seed), run1(t, sc, seed)
		require.Equal(t, a.TraceHash, b.TraceHash, "seed %d replays differently", seed)
		require.Equal(t, a.Ops, b.Ops)
		require.Equal(t, a.Verdict, b.Verdict)
		hashes[a.TraceHash] = seed
	}
	assert.Len(t, hashes, 5, "different seeds must give different runs")
}

// TestUnsafeQuorum_TwoOfFiveLosesAcknowledgedWrites: the seed note's
// example. A quorum of 2 out of 5 is caught by the checkers.
func TestUnsafeQuorum_TwoOfFiveLosesAcknowledgedWrites(t *testing.T) {
	sc, err := Lookup("quorum-2-of-5")
	require.NoError(t, err)
	found := uint64(0)
	for seed := uint64(1); seed <= 10 && found == 0; seed++ {
		if r := run1(t, sc, seed); r.Verdict == checker.VerdictViolation {
			found = seed
			assert.Equal(t, checker.VerdictViolation, r.Checks["agreement"], r.Report.String())
		}
	}
	require.NotZero(t, found, "no seed of 1..10 showed the unsafe quorum losing writes")
	t.Logf("first violating seed: %d", found)
}

func TestScenario_ValidateRejectsMistakes(t *testing.T) {
	sc, _ := Lookup("standard")
	for _, o := range []Overrides{{Servers: 99}, {Quorum: "7"}, {Engine: "paxos"}, {ReadMode: "fast"}} {
		_, err := sc.Apply(o)
		assert.Error(t, err, "%+v", o)
	}
	_, err := Lookup("nope")
	assert.Error(t, err)
	_, err = LookupSuite("nope")
	assert.Error(t, err)
}

func TestCatalog_HasTheSeedsStoriesAndSuites(t *testing.T) {
	assert.GreaterOrEqual(t, len(Catalog), 15)
	for _, s := range Catalog {
		require.NoError(t, s.Validate(), s.Name)
	}
	for _, name := range []string{"smoke", "ci", "nightly"} {
		s, err := LookupSuite(name)
		require.NoError(t, err)
		for _, sc := range s.Scenarios {
			_, err := Lookup(sc)
			require.NoError(t, err)
		}
	}
}

// TestRunSuite_ParallelAndShardsDoNotChangeRuns: worlds share nothing, so
// running them side by side, or split into shards, replays every run
// exactly: the same trace hash, the same verdict, the same verdict of
// every checker, the same figures.
func TestRunSuite_ParallelAndShardsDoNotChangeRuns(t *testing.T) {
	suite := Suite{Name: "t", Seeds: 2, Duration: 5 * node.Second, Scenarios: []string{"standard", "session-expiry", "standalone"}}
	one, err := RunSuite(suite, SuiteOptions{Parallel: 1})
	require.NoError(t, err)
	two, err := RunSuite(suite, SuiteOptions{Parallel: 2})
	require.NoError(t, err)
	require.Len(t, two.Runs, len(one.Runs))
	same := func(a, b RunSummary) {
		t.Helper()
		require.Equal(t, a.TraceHash, b.TraceHash, a.Repro)
		require.Equal(t, a.Verdict, b.Verdict, a.Repro)
		require.Equal(t, a.Checks, b.Checks, a.Repro)
		require.Equal(t, a.Ops, b.Ops, a.Repro)
		require.Equal(t, a.Events, b.Events, a.Repro)
	}
	byRun := map[string]RunSummary{}
	for i := range one.Runs {
		same(one.Runs[i], two.Runs[i])
		require.NotEqual(t, VerdictError, one.Runs[i].Verdict, one.Runs[i].Err)
		byRun[one.Runs[i].Repro] = one.Runs[i]
	}
	require.Equal(t, []int{one.OK, one.Violations, one.Inconclusive, one.Errors}, []int{two.OK, two.Violations, two.Inconclusive, two.Errors})
	runs := 0
	for shard := 1; shard <= 2; shard++ {
		part, err := RunSuite(suite, SuiteOptions{Parallel: 2, Shard: shard, Shards: 2})
		require.NoError(t, err)
		for _, r := range part.Runs {
			want, ok := byRun[r.Repro]
			require.True(t, ok, r.Repro)
			same(want, r)
			runs++
		}
	}
	require.Equal(t, len(one.Runs), runs, "the shards together run the sweep exactly once")
}

func TestRunSuite_RefusesSweepsItCannotRun(t *testing.T) {
	suite, err := LookupSuite("smoke")
	require.NoError(t, err)
	for _, tt := range []struct {
		opt  SuiteOptions
		want string
	}{
		{SuiteOptions{Seeds: -1}, "-1 seeds"},
		{SuiteOptions{Seeds: MaxSeeds + 1}, "seeds per scenario"},
		{SuiteOptions{Seeds: 2, FirstSeed: 1<<64 - 1}, "2^64-1"},
		{SuiteOptions{Seeds: 1, Shard: 3, Shards: 2}, "shard 3/2"},
		{SuiteOptions{Seeds: 1, Shard: 1, Shards: 9}, "every shard must have a run"}, // 4 scenarios on 2 engines
		{SuiteOptions{Seeds: 1, Parallel: MaxParallel + 1}, "worlds at a time"},
		{SuiteOptions{Seeds: 1, Overrides: Overrides{Duration: node.Millisecond}}, "duration 1ms outside"},
	} {
		_, err := RunSuite(suite, tt.opt)
		require.ErrorContains(t, err, tt.want, "%+v", tt.opt)
	}
}

// TestDeterminism_Canary200SeedsParallel1And2: 200 seeds of a faulty
// scenario on each engine, run one world at a time and two at a time, give
// the same trace hash and verdict run by run. Raft draws its election
// timeout from crypto/rand through one process-wide source; the simulator
// makes that draw constant and the engine jitters from the node's own
// stream, so worlds on parallel goroutines cannot disturb each other.
func TestDeterminism_Canary200SeedsParallel1And2(t *testing.T) {
	if testing.Short() {
		t.Skip("the 200-seed canary runs in the full test suite (and make canary)")
	}
	suite := Suite{Name: "canary", Seeds: 200, Duration: 3 * node.Second, Engines: []string{"zab", "raft"}, Scenarios: []string{"standard"}}
	one, err := RunSuite(suite, SuiteOptions{Parallel: 1})
	require.NoError(t, err)
	two, err := RunSuite(suite, SuiteOptions{Parallel: 2})
	require.NoError(t, err)
	require.Len(t, one.Runs, 400)
	require.Len(t, two.Runs, len(one.Runs))
	distinct := map[uint64]bool{}
	for i, a := range one.Runs {
		b := two.Runs[i]
		require.Equal(t, a.Engine+a.Scenario, b.Engine+b.Scenario)
		require.Equal(t, a.Seed, b.Seed)
		require.Equal(t, a.TraceHash, b.TraceHash, "%s on %s seed %d", a.Scenario, a.Engine, a.Seed)
		require.Equal(t, a.Verdict, b.Verdict, "%s on %s seed %d", a.Scenario, a.Engine, a.Seed)
		distinct[a.TraceHash] = true
	}
	assert.Len(t, distinct, len(one.Runs), "different seeds or engines must give different runs")
}
