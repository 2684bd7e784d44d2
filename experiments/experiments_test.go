package experiments

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/node"
	"zoosim/scenarios"
)

// testDuration keeps the tests quick; the CLI's default is longer.
const testDuration = 15 * node.Second

func sweep(t *testing.T, cfg Config) *Report {
	t.Helper()
	if cfg.Duration == 0 {
		cfg.Duration = testDuration
	}
	cfg.Parallel = 2
	rep, err := Sweep(cfg)
	require.NoError(t, err)
	return rep
}

func rowOf(t *testing.T, rep *Report, servers int, q string) Row {
	t.Helper()
	for _, r := range rep.Rows {
		if r.Servers == servers && r.Quorum == q {
			return r
		}
	}
	t.Fatalf("no row for %d servers, quorum %s", servers, q)
	return Row{}
}

func scenarioOf(t *testing.T, servers int, q string) scenarios.Scenario {
	t.Helper()
	sc, err := Scenario(servers, q, Config{Duration: testDuration})
	require.NoError(t, err)
	return sc
}

// Claim 1: five servers with a quorum of two lose acknowledged writes under
// a partition; with a quorum of three the same experiment finds nothing.
func TestQuorum_TwoOfFiveLosesAcknowledgedWritesThreeOfFiveDoesNot(t *testing.T) {
	rep := sweep(t, Config{Servers: []int{5}, Quorums: []string{"2", "3"}, Seeds: 50, SafetyOnly: true})
	two, three := rowOf(t, rep, 5, "2"), rowOf(t, rep, 5, "3")
	assert.False(t, two.Safe)
	assert.True(t, three.Safe)
	require.Positive(t, two.Violations, "no seed of 50 lost a write with 2 of 5")
	assert.NotZero(t, two.FirstViolationSeed)
	assert.Contains(t, two.Repro, "zoosim run --scenario quorum-2-of-5 --seed ")
	assert.Zero(t, three.Violations, "3 of 5 lost a write: %s", three.Repro)
	assert.Positive(t, two.LostWriteSeeds, "2 of 5 violated, but no seed lost an acknowledged write")
	assert.GreaterOrEqual(t, two.LostWrites, two.LostWriteSeeds)
	assert.Equal(t, two.Violations, two.LostWriteSeeds+two.OtherViolationSeeds)
	assert.Zero(t, three.LostWrites)
	t.Logf("2 of 5: %d/%d seeds lose writes, first %d: %s", two.Violations, two.Seeds, two.FirstViolationSeed, two.Repro)
}

// Claim 2: four servers tolerate one crash, as three do; five tolerate two.
func TestCrashTolerance_FourLikeThreeFiveTwo(t *testing.T) {
	for _, c := range []struct{ servers, want int }{{3, 1}, {4, 1}, {5, 2}} {
		got, err := CrashTolerance(scenarioOf(t, c.servers, "majority"), 1, 2)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, "%d servers, majority", c.servers)
	}
}

// Claim 3: a bigger commit quorum costs write latency.
func TestWriteLatency_BiggerQuorumIsSlower(t *testing.T) {
	none := []string{}
	rep := sweep(t, Config{Servers: []int{5}, Quorums: []string{"majority", "4", "5"}, Seeds: 4, Faults: &none, SafetyOnly: true})
	maj, four, five := rowOf(t, rep, 5, "majority"), rowOf(t, rep, 5, "4"), rowOf(t, rep, 5, "5")
	t.Logf("write p50 ms: majority %.2f, 4 %.2f, 5 %.2f", maj.WriteP50Ms, four.WriteP50Ms, five.WriteP50Ms)
	assert.Greater(t, four.WriteP50Ms, maj.WriteP50Ms)
	assert.Greater(t, five.WriteP50Ms, four.WriteP50Ms)
}

// Reads per second are measured from the history (here of the safety
// runs, whose servers have no CPU model: the clients' pace bounds them; the
// capacity claim is TestReadCapacity_MoreServersServeMoreReads).
func TestReadsPerSecond_MeasuredFromHistory(t *testing.T) {
	none := []string{}
	rep := sweep(t, Config{Servers: []int{3, 5}, Quorums: []string{"majority"}, Seeds: 2, Faults: &none, SafetyOnly: true})
	three, five := rowOf(t, rep, 3, "majority"), rowOf(t, rep, 5, "majority")
	t.Logf("reads/s: 3 servers %.1f, 5 servers %.1f", three.ReadsPerS, five.ReadsPerS)
	assert.Positive(t, three.ReadsPerS)
	assert.Positive(t, five.ReadsPerS)
}

// Claim 4: flexible quorums whose election and commit sizes sum to more
// than the ensemble are safe; one that sums to no more is caught.
func TestFlexibleQuorum_SafeExactlyWhenElectionPlusCommitExceedsN(t *testing.T) {
	safe := []string{"flex:4:2", "flex:2:4", "flex:3:3"}
	unsafe := []string{"flex:3:2", "flex:2:2"}
	rep := sweep(t, Config{Servers: []int{5}, Quorums: append(safe, unsafe...), Seeds: 30, SafetyOnly: true})
	for _, q := range safe {
		r := rowOf(t, rep, 5, q)
		assert.True(t, r.Safe, q)
		assert.Zero(t, r.Violations, "%s: %s", q, r.Repro)
	}
	caught := 0
	for _, q := range unsafe {
		r := rowOf(t, rep, 5, q)
		assert.False(t, r.Safe, q)
		if r.Violations > 0 {
			caught++
			t.Logf("%s: %d/%d seeds, first: %s", q, r.Violations, r.Seeds, r.Repro)
		}
	}
	assert.Positive(t, caught, "no unsafe flexible quorum was caught")
}

// Claim 5: a weighted quorum behaves as its weights say: with server 1
// weighing 3 of 6, losing it stops commits, losing a light server does not.
func TestWeightedQuorum_HeavyServerCrashStopsCommitsLightDoesNot(t *testing.T) {
	sc := scenarioOf(t, 4, "hier:1=3,2=1,3=1,4=1")
	light, err := CrashCommits(sc, []node.ID{4}, 1, 2)
	require.NoError(t, err)
	assert.True(t, light, "crashing light server 4 stopped commits")
	heavy, err := CrashCommits(sc, []node.ID{1}, 1, 2)
	require.NoError(t, err)
	assert.False(t, heavy, "crashing heavy server 1 did not stop commits")
}

func TestSweep_SkipsInvalidCombinationsAndMeasuresProbes(t *testing.T) {
	rep := sweep(t, Config{Servers: []int{3}, Quorums: []string{"majority", "4"}, Seeds: 1, ProbeSeeds: 1})
	require.Len(t, rep.Rows, 1)
	require.Len(t, rep.Skipped, 1)
	assert.Equal(t, "4", rep.Skipped[0].Quorum)
	r := rep.Rows[0]
	assert.Equal(t, 1, r.CrashTolerance)
	assert.Equal(t, []float64{1, 1, 0}, r.CrashCommitShare, "3 servers commit with 0 or 1 crashed, not with 2")
	assert.False(t, math.IsNaN(r.ElectionP50Ms), "no election measured after the leader crashed")
	assert.Positive(t, r.ElectionP50Ms)

	var csv, page bytes.Buffer
	require.NoError(t, WriteCSV(&csv, rep.Rows))
	assert.Equal(t, 2, strings.Count(csv.String(), "\n"))
	require.NoError(t, WriteHTML(&page, rep, "quorum"))
	html := page.String()
	assert.Equal(t, 6, strings.Count(html, `<svg class="plot"`), "six plots")
	for _, legend := range []string{"whole run", "during faults", "p50", "p99", "quorum majority", "lost acknowledged writes",
		"other broken promises only", "writes acknowledged (%)", "virtual ms"} {
		assert.Contains(t, html, legend)
	}
	// Self-contained: no script, no font or stylesheet to fetch.
	assert.NotContains(t, html, "<script")
	assert.NotContains(t, html, "@font-face")
	assert.NotContains(t, html, "url(")
	assert.NotContains(t, html, "<?xml")
}

func TestPercentile_NearestRank(t *testing.T) {
	ms := func(v ...int) []node.Time {
		out := make([]node.Time, len(v))
		for i, x := range v {
			out[i] = node.Time(x) * node.Millisecond
		}
		return out
	}
	assert.True(t, math.IsNaN(Percentile(nil, 50)))
	assert.Equal(t, 3.0, Percentile(ms(5, 1, 3, 2, 4), 50))
	assert.Equal(t, 5.0, Percentile(ms(5, 1, 3, 2, 4), 99))
	assert.Equal(t, 1.0, Percentile(ms(1), 99))
}

// Claim 3, second half: servers with a CPU (the read-capacity scenario)
// serve local reads, so more servers serve more reads per second.
func TestReadCapacity_MoreServersServeMoreReads(t *testing.T) {
	perSecond := func(servers int) float64 {
		sc, err := scenarios.Lookup("read-capacity")
		require.NoError(t, err)
		sc, err = sc.Apply(scenarios.Overrides{Servers: servers})
		require.NoError(t, err)
		r, err := scenarios.Run(sc, 1, scenarios.Options{})
		require.NoError(t, err)
		require.Equal(t, "ok", string(r.Verdict), r.Report.String())
		return readsPerSecond(r.History, sc.Duration)
	}
	three, five := perSecond(3), perSecond(5)
	t.Logf("reads/s with a 600 µs server CPU: 3 servers %.0f, 5 servers %.0f", three, five)
	require.Greater(t, five, 1.3*three)
}

// TestDifferential_BothEnginesKeepEveryPromise: the same scenario and seeds
// on Zab and on etcd raft: every checker passes on both, and each engine's
// availability and latency are reported side by side.
func TestDifferential_BothEnginesKeepEveryPromise(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 3
	}
	for _, name := range []string{"standard", "partition-leader", "crash-storm"} {
		sc, err := scenarios.Lookup(name)
		require.NoError(t, err)
		sc.Duration = 20 * node.Second
		figs, err := Differential(sc, []string{"zab", "raft"}, 1, seeds, 2)
		require.NoError(t, err)
		require.Len(t, figs, 2)
		for _, f := range figs {
			assert.Zero(t, f.Violations, "%s on %s: %v", name, f.Engine, f.Failures)
			assert.Equal(t, seeds, f.Runs)
			assert.Greater(t, f.Availability, 0.5, "%s on %s", name, f.Engine)
			t.Logf("%-16s %-4s %d runs: availability %.1f%% (during faults %.1f%%), write p50 %.1f ms p99 %.1f ms, %d ops",
				name, f.Engine, f.Runs, 100*f.Availability, 100*f.DuringFaults, f.WriteP50Ms, f.WriteP99Ms, f.Ops)
		}
	}
}
