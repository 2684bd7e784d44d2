package nemesis

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"zoosim/node"
)

// scripted is a schedule as a scenario would write it, using every field.
var scripted = Schedule{
	{At: 2 * node.Second, Kind: PartitionBridge, Pick: PickLeader, Duration: 5 * node.Second},
	{At: 2500 * node.Millisecond, Kind: ClientCut, Clients: ids(7), Nodes: ids(1, 2)},
	{At: 3 * node.Second, Kind: Crash, Count: 2, Duration: 1500 * node.Millisecond},
	{At: 4 * node.Second, Kind: PartitionOneWay, Nodes: ids(3), Direction: DirIn},
	{At: 5 * node.Second, Kind: ClockJump, Pick: PickAll, Jump: -30 * node.Second},
	{At: 5 * node.Second, Kind: ClockDrift, Nodes: ids(2), DriftPPM: -2500, Duration: 10 * node.Second},
	{At: 6 * node.Second, Kind: LinkLossy, Prob: 0.25},
	{At: 6 * node.Second, Kind: LinkSlow, Pick: PickLeader, Latency: 150 * node.Millisecond},
	{At: 7 * node.Second, Kind: DiskSyncLies, Pick: PickFollower, Count: 2},
	{At: 8 * node.Second, Kind: Heal},
	{At: 9 * node.Second, Kind: RestartAll},
}

func TestSchedule_StringIsStableAndReadable(t *testing.T) {
	want := `2s partition-bridge pick=leader duration=5s
2.5s client-cut nodes=[1 2] clients=[7]
3s crash count=2 duration=1.5s
4s partition-oneway nodes=[3] direction=in
5s clock-jump pick=all jump=-30s
5s clock-drift nodes=[2] drift_ppm=-2500 duration=10s
6s link-lossy prob=0.25
6s link-slow pick=leader latency=150ms
7s disk-sync-lies pick=follower count=2
8s heal
9s restart-all`
	require.Equal(t, want, scripted.String())
	require.Equal(t, "(no faults)", Schedule{}.String())
}

func TestSchedule_JSONIsPlainAndRoundTrips(t *testing.T) {
	b, err := json.Marshal(scripted[:3])
	require.NoError(t, err)
	require.JSONEq(t, `[
		{"at":"2s","kind":"partition-bridge","pick":"leader","duration":"5s"},
		{"at":"2.5s","kind":"client-cut","nodes":[1,2],"clients":[7]},
		{"at":"3s","kind":"crash","count":2,"duration":"1.5s"}]`, string(b))
	b, err = json.Marshal(scripted)
	require.NoError(t, err)
	var back Schedule
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, scripted, back)
	require.NoError(t, back.Validate(5, 3))
}

func TestSchedule_JSONReadsNanoseconds(t *testing.T) {
	var s Schedule
	require.NoError(t, json.Unmarshal([]byte(`[{"at":1500000000,"kind":"crash-leader","duration":"2s"}]`), &s))
	require.Equal(t, Schedule{{At: 1500 * node.Millisecond, Kind: CrashLeader, Duration: 2 * node.Second}}, s)
}

func TestSchedule_JSONRejectsBadSchedulesClearly(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"unknown kind", `[{"at":"1s","kind":"partiton-ring"}]`, `fault 0 (1s partiton-ring): unknown kind "partiton-ring"`},
		{"unknown field", `[{"at":"1s","kind":"crash","node":[1]}]`, `unknown field "node"`},
		{"bad time", `[{"at":"1 sec","kind":"crash"}]`, `time "1 sec"`},
		{"negative time", `[{"at":"-1s","kind":"crash"}]`, `at -1s outside`},
		{"unsorted", `[{"at":"2s","kind":"crash"},{"at":"1s","kind":"heal"}]`, `fault 1 (1s heal) starts before fault 0 (2s crash)`},
		{"duration on an instant fault", `[{"at":"1s","kind":"restart","duration":"1s"}]`, `restart does not take a duration`},
		{"missing probability", `[{"at":"1s","kind":"link-lossy"}]`, `probability 0: want (0, 1]`},
		{"probability above 1", `[{"at":"1s","kind":"link-dup","prob":1.5}]`, `probability 1.5`},
		{"parameter of another kind", `[{"at":"1s","kind":"link-lossy","prob":0.1,"latency":"1s"}]`, `link-lossy does not take a latency`},
		{"missing direction", `[{"at":"1s","kind":"partition-oneway"}]`, `direction "": want "in" or "out"`},
		{"zero jump", `[{"at":"1s","kind":"clock-jump"}]`, `jump 0s: want a non-zero jump`},
		{"drift stops the clock", `[{"at":"1s","kind":"clock-drift","drift_ppm":-1000000}]`, `drift -1000000 ppm`},
		{"pick not allowed", `[{"at":"1s","kind":"partition-halves","pick":"leader"}]`, `pick "leader" not allowed for partition-halves (allowed: random)`},
		{"nodes and pick", `[{"at":"1s","kind":"crash","nodes":[1],"pick":"follower"}]`, `nodes and pick are exclusive`},
		{"count without a pool", `[{"at":"1s","kind":"pause","pick":"leader","count":2}]`, `pick "leader" chooses no count`},
		{"node twice", `[{"at":"1s","kind":"crash","nodes":[2,2]}]`, `node 2 named twice`},
		{"node zero", `[{"at":"1s","kind":"crash","nodes":[0]}]`, `invalid node ID 0`},
		{"nodes on a leader fault", `[{"at":"1s","kind":"crash-leader","nodes":[1]}]`, `crash-leader does not take nodes`},
		{"trailing data", `[] []`, `after top-level value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Schedule
			err := json.Unmarshal([]byte(tt.json), &s)
			require.ErrorContains(t, err, tt.want)
			require.Nil(t, s, "nothing is loaded on error")
		})
	}
}

func TestSchedule_ValidateChecksTheWorldSize(t *testing.T) {
	tests := []struct {
		name             string
		fault            Fault
		servers, clients int
		want             string
	}{
		{"ring of 3", Fault{Kind: PartitionRing}, 3, 0, "partition-ring needs at least 4 servers"},
		{"bridge of 2", Fault{Kind: PartitionBridge}, 2, 0, "needs at least 3 servers"},
		{"client cut without clients", Fault{Kind: ClientCut}, 3, 0, "needs a client"},
		{"client pick without clients", Fault{Kind: Pause, Pick: PickClient}, 3, 0, "needs a client"},
		{"more crashes than servers", Fault{Kind: Crash, Count: 4}, 3, 5, "count 4 but only 3"},
		{"more resumes than nodes", Fault{Kind: Resume, Count: 9}, 3, 5, "count 9 but only 8"},
		{"minority too big", Fault{Kind: PartitionMajority, Nodes: ids(1, 2, 3)}, 5, 0, "a minority of 5 servers has at most 2"},
		{"a side that is everything", Fault{Kind: PartitionHalves, Nodes: ids(1, 2, 3)}, 3, 0, "one side takes 1..2 of 3"},
		{"bridge leaves no other side", Fault{Kind: PartitionBridge, Nodes: ids(1, 2, 3)}, 3, 0, "other side non-empty"},
		{"ring missing a server", Fault{Kind: PartitionRing, Nodes: ids(1, 2, 3, 4)}, 5, 0, "names every one of the 5 servers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorContains(t, Schedule{tt.fault}.Validate(tt.servers, tt.clients), tt.want)
		})
	}
	// A resume chooses among every paused node, clients included.
	require.NoError(t, Schedule{{Kind: Resume, Count: 4}}.Validate(3, 5))
	require.NoError(t, scripted.Validate(3, 1))
	require.ErrorContains(t, scripted.Validate(3, 0), "needs a client")
}

func TestSchedule_WithoutRemovesOneFaultAndCopies(t *testing.T) {
	s := scripted.Clone()
	w := s.Without(1)
	require.Len(t, w, len(s)-1)
	require.Equal(t, s[0], w[0])
	require.Equal(t, s[2:], w[1:])
	w[2].Nodes[0] = 99
	require.Equal(t, scripted, s, "Without must not alias the original")
	require.Panics(t, func() { s.Without(len(s)) })
}

func TestSchedule_SubsetsAreSmallerSortedSchedules(t *testing.T) {
	s := scripted.Clone()
	n := 0
	for c := range s.Subsets() {
		n++
		require.Less(t, len(c), len(s))
		require.True(t, slices.IsSortedFunc(c, func(a, b Fault) int { return cmpTime(a.At, b.At) }))
		require.NoError(t, c.Validate(3, 1))
	}
	require.Less(t, n, 2*len(s))
	require.Equal(t, scripted, s)
	var single []Schedule
	for c := range (Schedule{{Kind: Heal}}).Subsets() {
		single = append(single, c)
	}
	require.Equal(t, []Schedule{{}}, single)
}

func TestShrink_FindsAMinimalFailingSchedule(t *testing.T) {
	opts := SwarmOptions{Duration: sec(120), Quiet: sec(1), Servers: 5, Clients: 2}
	s, _ := Swarm(testRand(3), opts)
	s = append(s, Fault{At: sec(119), Kind: CrashLeader}, Fault{At: sec(119), Kind: PartitionRing})
	require.Greater(t, len(s), 20)
	// The "bug": a ring partition and a leader crash in the same run.
	calls := 0
	fails := func(c Schedule) bool {
		calls++
		has := func(k Kind) bool { return slices.ContainsFunc(c, func(f Fault) bool { return f.Kind == k }) }
		return has(CrashLeader) && has(PartitionRing)
	}
	got := Shrink(s, fails, 1000)
	require.Len(t, got, 2)
	require.ElementsMatch(t, []Kind{CrashLeader, PartitionRing}, []Kind{got[0].Kind, got[1].Kind})
	require.Less(t, calls, 200)

	calls = 0
	bounded := Shrink(s, fails, 3)
	require.Equal(t, 3, calls, "the budget bounds the checker runs")
	require.True(t, fails(bounded))
}

func TestGen_JSONRoundTripAndStableString(t *testing.T) {
	opts := SwarmOptions{Duration: sec(60), Quiet: sec(1), Servers: 5, Clients: 3}
	rapid.Check(t, func(rt *rapid.T) {
		s := Gen(opts).Draw(rt, "schedule")
		b, err := json.Marshal(s)
		require.NoError(rt, err)
		var back Schedule
		require.NoError(rt, json.Unmarshal(b, &back))
		require.Equal(rt, s, back)
		require.Equal(rt, s.String(), back.String())
		require.Equal(rt, s.String(), s.Clone().String())
		var one Fault
		b, err = json.Marshal(s[0])
		require.NoError(rt, err)
		require.NoError(rt, json.Unmarshal(b, &one))
		require.Equal(rt, s[0], one)
	})
}

func TestSchedule_JSONTimesRoundTripExactly(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		at := node.Time(rapid.Int64Range(0, int64(MaxAt)).Draw(rt, "at"))
		d := node.Time(rapid.Int64Range(0, int64(MaxDuration)).Draw(rt, "duration"))
		jump := node.Time(rapid.Int64Range(1, int64(MaxJump)).Draw(rt, "jump"))
		s := Schedule{{At: at, Kind: ClockJump, Jump: -jump}, {At: at, Kind: CrashAll, Duration: d}}
		b, err := json.Marshal(s)
		require.NoError(rt, err)
		var back Schedule
		require.NoError(rt, json.Unmarshal(b, &back))
		require.Equal(rt, s, back)
	})
}
