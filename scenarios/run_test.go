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
// exactly.
func TestRunSuite_ParallelAndShardsDoNotChangeRuns(t *testing.T) {
	suite := Suite{Name: "t", Seeds: 2, Duration: 5 * node.Second, Scenarios: []string{"standard", "session-expiry", "standalone"}}
	one, err := RunSuite(suite, SuiteOptions{Parallel: 1})
	require.NoError(t, err)
	two, err := RunSuite(suite, SuiteOptions{Parallel: 2})
	require.NoError(t, err)
	require.Len(t, two.Runs, len(one.Runs))
	byRun := map[string]uint64{}
	for i := range one.Runs {
		require.Equal(t, one.Runs[i].TraceHash, two.Runs[i].TraceHash, "%s seed %d", one.Runs[i].Scenario, one.Runs[i].Seed)
		byRun[one.Runs[i].Repro] = one.Runs[i].TraceHash
	}
	for shard := 1; shard <= 2; shard++ {
		part, err := RunSuite(suite, SuiteOptions{Parallel: 2, Shard: shard, Shards: 2})
		require.NoError(t, err)
		for _, r := range part.Runs {
			require.Equal(t, byRun[r.Repro], r.TraceHash, r.Repro)
		}
	}
}
