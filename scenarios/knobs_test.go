package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/checker"
	"zoosim/node"
	"zoosim/sim"
)

func TestKnobs_ParseAndStringRoundTrip(t *testing.T) {
	sc, err := Lookup("standard")
	require.NoError(t, err)
	for _, text := range []string{
		"tick=100ms,init=10,sync=5,snap=1000,segment=off,diff=off,session=1.5s,net=lan,disk=ssd,crash=tail,buggify=none",
		"tick=50ms,init=15,sync=2,snap=5,segment=4,diff=10,session=2.25s,net=wan,disk=hdd,crash=all,buggify=zab/sync-snap+client/rebalance",
		"snap=5",
		"net=jittery,buggify=all",
	} {
		k, err := ParseKnobs(text, sc)
		require.NoError(t, err, text)
		back, err := ParseKnobs(k.String(), sc)
		require.NoError(t, err, k.String())
		require.Equal(t, k, back, text)
	}
	k, err := ParseKnobs("default", sc)
	require.NoError(t, err)
	require.Equal(t, DefaultKnobs(sc), k)
	k, err = ParseKnobs("default,snap=7", sc)
	require.NoError(t, err)
	require.Equal(t, 7, k.SnapCount, "later items override default")
}

func TestKnobs_BadInputIsAClearError(t *testing.T) {
	sc, err := Lookup("standard")
	require.NoError(t, err)
	for text, want := range map[string]string{
		"":                    "empty list",
		"tick":                "not name=value",
		"speed=3":             "unknown knob",
		"tick=fast":           "not a duration",
		"tick=1ms":            "outside",
		"init=0":              "outside",
		"snap=x":              "not a number",
		"net=moon":            "unknown network profile",
		"disk=floppy":         "unknown disk profile",
		"crash=some":          "want tail",
		"buggify=zab/nothing": "unknown buggify point",
		"init=3,sync=5":       "sync=5 above init=3",
	} {
		_, err := ParseKnobs(text, sc)
		require.ErrorContains(t, err, want, text)
	}
	_, err = sc.Apply(Overrides{Knobs: "tick=fast"})
	require.Error(t, err)
}

func TestKnobs_PinningOneKnobLeavesTheOthersAsDrawn(t *testing.T) {
	sc, err := Lookup("standard")
	require.NoError(t, err)
	for seed := uint64(1); seed <= 50; seed++ {
		drawn := Knobs{}.draw(sim.NewStream(seed, "knobs/x"), sc)
		pinned := Knobs{SnapCount: 3}.draw(sim.NewStream(seed, "knobs/x"), sc)
		want := drawn
		want.SnapCount = 3
		require.Equal(t, want, pinned, "seed %d", seed)
		require.LessOrEqual(t, drawn.SyncLimit, drawn.InitLimit)
		require.NoError(t, drawn.Validate())
	}
}

func TestKnobs_DrawsVary(t *testing.T) {
	sc, err := Lookup("standard")
	require.NoError(t, err)
	snaps, nets, buggify := map[int]bool{}, map[string]bool{}, map[bool]bool{}
	for seed := uint64(1); seed <= 100; seed++ {
		k := Knobs{}.draw(sim.NewStream(seed, "knobs/standard"), sc)
		snaps[k.SnapCount], nets[k.Network], buggify[k.Buggify == "none"] = true, true, true
	}
	require.Len(t, snaps, 4, "every snapshot interval is drawn")
	require.Len(t, nets, 3, "every network profile is drawn")
	require.Len(t, buggify, 2, "runs with and without forced branches")
}

// TestKnobs_TheReproLinePinsEveryKnobAndReplaysTheRun: a run's repro line
// carries every knob it drew, and running with exactly those pins gives
// the same trace hash and verdict.
func TestKnobs_TheReproLinePinsEveryKnobAndReplaysTheRun(t *testing.T) {
	sc, err := Lookup("resync")
	require.NoError(t, err)
	sc.Duration = 10 * node.Second
	r := run1(t, sc, 4)
	require.Contains(t, r.Repro, "--knobs "+r.Knobs.String())
	pinned, err := sc.Apply(Overrides{Knobs: r.Knobs.String()})
	require.NoError(t, err)
	again := run1(t, pinned, 4)
	require.Equal(t, r.TraceHash, again.TraceHash)
	require.Equal(t, r.Verdict, again.Verdict)
	require.Equal(t, r.Knobs, again.Knobs)
	require.Equal(t, checker.VerdictOK, r.Verdict, r.Report.String())
}

// TestBudget_ARunThatSpendsItsEventsFailsLivenessInsteadOfHanging.
func TestBudget_ARunThatSpendsItsEventsFailsLivenessInsteadOfHanging(t *testing.T) {
	sc, err := Lookup("standard")
	require.NoError(t, err)
	sc.EventBudget = 20_000 // far below what 60 virtual seconds need
	r := run1(t, sc, 1)
	require.True(t, r.Exhausted)
	require.Equal(t, checker.VerdictViolation, r.Verdict)
	require.Equal(t, checker.VerdictViolation, r.Checks[checker.NameLiveness])
	require.Contains(t, r.Report.String(), "spent its budget of 20000 events")
	require.LessOrEqual(t, r.Events, uint64(20_000))
	again := run1(t, sc, 1)
	require.Equal(t, r.TraceHash, again.TraceHash, "where the budget stops a run is deterministic")
}
