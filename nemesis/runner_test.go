package nemesis

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"zoosim/node"
)

func TestRunner_NextAndApplyOrder(t *testing.T) {
	w := newFake(t, 3, 0)
	s := Schedule{
		{At: sec(1), Kind: Pause, Nodes: ids(1), Duration: sec(2)}, // ends at 3s
		{At: sec(2), Kind: ClockJump, Nodes: ids(2), Jump: sec(1)},
		{At: sec(3), Kind: Pause, Nodes: ids(1)}, // due when the first pause ends
		{At: sec(3), Kind: ClockJump, Nodes: ids(3), Jump: sec(1)},
	}
	r, err := NewRunner(s, w, testRand(1))
	require.NoError(t, err)
	var dues []node.Time
	for {
		at, ok := r.Next()
		if !ok {
			break
		}
		dues = append(dues, at)
		r.Apply(at)
	}
	require.Equal(t, []node.Time{sec(1), sec(2), sec(3)}, dues, "the 3s end and both 3s starts are due together")
	// At 3s the end comes first, so the second pause is not undone by it.
	require.Equal(t, []string{"pause 1", "clock 2 +1s 0", "resume 1", "pause 1", "clock 3 +1s 0"}, w.calls)
	require.True(t, w.paused[1])
	a := r.Applied()
	require.Equal(t, []int{0, 1, 2, 3}, []int{a[0].Index, a[1].Index, a[2].Index, a[3].Index})
	require.Equal(t, sec(3), a[0].End)
	require.Equal(t, Ongoing, a[2].End)
}

func TestRunner_ApplyLateAppliesEverythingDueInOrder(t *testing.T) {
	w := newFake(t, 3, 0)
	r, err := NewRunner(Schedule{
		{At: sec(1), Kind: Crash, Nodes: ids(1), Duration: sec(1)},
		{At: sec(5), Kind: Crash, Nodes: ids(2)},
		{At: sec(9), Kind: Crash, Nodes: ids(3)},
	}, w, testRand(1))
	require.NoError(t, err)
	r.Apply(sec(1))
	r.Apply(sec(6)) // the end due at 2s and the crash due at 5s, in that order
	require.Equal(t, []string{"crash 1", "restart 1", "crash 2"}, w.calls)
	a := r.Applied()
	require.Equal(t, sec(6), a[0].End, "recorded when it actually happened")
	require.Equal(t, sec(6), a[1].Start)
	at, ok := r.Next()
	require.True(t, ok)
	require.Equal(t, sec(9), at)
}

func TestRunner_TimeGoingBackIsAnInvariantViolation(t *testing.T) {
	r, err := NewRunner(nil, newFake(t, 1, 0), testRand(1))
	require.NoError(t, err)
	r.Apply(sec(2))
	require.PanicsWithValue(t, "nemesis: invariant violated: time went back from 2s to 1s", func() { r.Apply(sec(1)) })
}

func TestRunner_RejectsSchedulesThatDoNotFitTheWorld(t *testing.T) {
	tests := []struct {
		name string
		s    Schedule
		want string
	}{
		{"unknown server", Schedule{{Kind: Crash, Nodes: ids(9)}}, "node 9 is not a server or a client"},
		{"a client in a partition", Schedule{{Kind: PartitionOne, Nodes: ids(4)}}, "node 4 is not a server of this world"},
		{"a server as the cut client", Schedule{{Kind: ClientCut, Clients: ids(1)}}, "node 1 is not a client"},
		{"ring too small", Schedule{{Kind: PartitionRing}}, "needs at least 4 servers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRunner(tt.s, newFake(t, 3, 1), testRand(1))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestRunner_HealAllRestoresEverything(t *testing.T) {
	w := newFake(t, 5, 2)
	w.leader = 1
	r := run(t, w, Schedule{
		{At: 0, Kind: PartitionBridge},
		{At: 0, Kind: ClientCut, Pick: PickAll},
		{At: 0, Kind: LinkSlow, Pick: PickAll, Latency: sec(1)},
		{At: 0, Kind: Pause, Nodes: ids(2, 6)},
		{At: 0, Kind: ClockDrift, Pick: PickAll, DriftPPM: -1000},
		{At: 0, Kind: DiskSyncLies, Nodes: ids(3)},
		{At: 0, Kind: Crash, Nodes: ids(4, 7)},
		{At: 0, Kind: CrashLeader, Duration: sec(100)},
		{At: sec(50), Kind: CrashAll},
	}, 1, sec(1))
	require.NotEmpty(t, w.blocked)
	r.HealAll(sec(2))
	w.requirePristine(t)
	_, ok := r.Next()
	require.False(t, ok, "the safety phase is over: the crash-all at 50s never happens")
	r.Apply(sec(100))
	require.Empty(t, w.down, "nor does the crash's end")
	a := r.Applied()
	require.Len(t, a, 9)
	for _, x := range a {
		require.NotEqual(t, Ongoing, x.End, x.String())
		require.LessOrEqual(t, x.End, sec(2), x.String())
	}
	last := a[len(a)-1]
	require.Equal(t, -1, last.Index)
	require.Equal(t, HealAll, last.Kind)
	require.Equal(t, "heal every link; resume [2 6]; stop drift of [1 2 3 4 5]; honest syncs on [3]; restart [1 4 7]", last.Description)
	require.Equal(t, ids(1, 2, 3, 4, 5, 6, 7), last.Nodes)
}

func TestRunner_HealAllRestartsNodesThatWentDownAnyWay(t *testing.T) {
	w := newFake(t, 3, 0)
	w.down[3] = true // crashed before the nemesis started (by the scenario)
	r, err := NewRunner(nil, w, testRand(1))
	require.NoError(t, err)
	r.HealAll(0)
	w.requirePristine(t)
}

func TestRunner_HealAllInAScheduleKeepsGoing(t *testing.T) {
	w := newFake(t, 3, 0)
	r := run(t, w, Schedule{
		{At: 0, Kind: CrashAll, Duration: sec(5)},
		{At: sec(1), Kind: HealAll},
		{At: sec(2), Kind: Crash, Nodes: ids(1)},
	}, 1, sec(10))
	require.Equal(t, map[node.ID]bool{1: true}, w.down, "the crash-all's end at 5s finds nothing to do")
	require.Equal(t, sec(1), r.Applied()[0].End)
}

func TestRunner_SameSeedSameRecord(t *testing.T) {
	opts := SwarmOptions{Duration: sec(60), Quiet: sec(2), Servers: 5, Clients: 3}
	for seed := uint64(0); seed < 30; seed++ {
		s, _ := Swarm(testRand(seed), opts)
		record := func() ([]Applied, []string) {
			w := newFake(t, 5, 3)
			w.leader = 2
			r := run(t, w, s, seed, opts.Duration)
			r.HealAll(opts.Duration)
			return r.Applied(), w.calls
		}
		a1, c1 := record()
		a2, c2 := record()
		require.Equal(t, a1, a2)
		require.Equal(t, c1, c2)
	}
}

func TestRunner_RemovingAFaultDoesNotChangeWhatOthersChoose(t *testing.T) {
	s := Schedule{
		{At: sec(1), Kind: ClockJump, Jump: sec(1)},
		{At: sec(2), Kind: ClockJump, Jump: sec(2)},
		{At: sec(3), Kind: ClockJump, Jump: sec(2)},
		{At: sec(3), Kind: ClockJump, Jump: sec(2)}, // identical twins get their own streams
	}
	twinsDiffer := 0
	for seed := uint64(0); seed < 20; seed++ {
		full := run(t, newFake(t, 9, 0), s, seed, sec(5)).Applied()
		part := run(t, newFake(t, 9, 0), s.Without(0), seed, sec(5)).Applied()
		require.Equal(t, full[1:], fixIndex(part, 1), "seed %d", seed)
		if full[2].Nodes[0] != full[3].Nodes[0] {
			twinsDiffer++
		}
	}
	require.Greater(t, twinsDiffer, 10, "identical faults draw from different streams")
}

// fixIndex shifts the Index of records of a schedule with faults removed in
// front.
func fixIndex(a []Applied, by int) []Applied {
	for i := range a {
		a[i].Index += by
	}
	return a
}

func TestRunner_AnyGeneratedScheduleIsAppliedSensiblyAndHealsCompletely(t *testing.T) {
	opts := SwarmOptions{Duration: sec(30), Quiet: sec(1), Servers: 5, Clients: 2}
	rapid.Check(t, func(rt *rapid.T) {
		s := Gen(opts).Draw(rt, "schedule")
		w := newFake(rt, opts.Servers, opts.Clients)
		r, err := NewRunner(s, w, testRand(rapid.Uint64().Draw(rt, "seed")))
		require.NoError(rt, err)
		for {
			at, ok := r.Next()
			if !ok || at >= opts.Duration {
				break
			}
			w.leader = node.ID(rapid.IntRange(0, opts.Servers).Draw(rt, "leader")) // leaders come and go
			r.Apply(at)
			// The fake reports senseless calls (crashing a crashed node,
			// resuming a running one) as errors; here we also check the
			// Runner's records against the world.
			for _, a := range r.Applied() {
				require.LessOrEqual(rt, a.Start, at)
				require.True(rt, a.End == Ongoing || a.End >= a.Start, a.String())
				if a.Skipped {
					require.Equal(rt, a.Start, a.End)
				}
			}
			require.LessOrEqual(rt, len(w.down), opts.Servers+opts.Clients)
		}
		r.HealAll(opts.Duration)
		w.requirePristine(rt)
		for _, a := range r.Applied() {
			require.NotEqual(rt, Ongoing, a.End, a.String())
		}
	})
}

func TestRunner_CrashPointArmsAndRestartsWhatItCrashed(t *testing.T) {
	w := newFake(t, 3, 0)
	w.leader = 1
	r, err := NewRunner(Schedule{
		{At: sec(1), Kind: CrashPoint, Pick: PickLeader, Point: PointOnReceive, Msg: "commit", Duration: sec(5)},
		{At: sec(2), Kind: CrashPoint, Nodes: ids(2), Point: PointAfterSync, Duration: sec(5)},
		{At: sec(3), Kind: CrashPoint, Nodes: ids(3), Point: PointBeforeSync, Duration: sec(1)},
	}, w, testRand(1))
	require.NoError(t, err)
	r.Apply(sec(1))
	require.Equal(t, "on-receive commit", w.armed[1])
	r.Apply(sec(2))
	w.fire(1) // the world crashed the leader at its point
	r.Apply(sec(3))
	r.Apply(sec(4)) // 3's point ends unfired: disarmed, nothing restarted
	require.NotContains(t, w.armed, node.ID(3))
	require.False(t, w.down[3])
	r.Apply(sec(6)) // 1's point ends: it fired, so 1 restarts
	require.False(t, w.down[1])
	r.HealAll(sec(6)) // 2's point is still armed: the heal disarms it
	require.Empty(t, w.armed)
	require.Equal(t, []string{"arm 1 on-receive commit", "arm 2 after-sync ", "arm 3 before-sync ", "disarm 3",
		"disarm 1", "restart 1", "heal", "disarm 2"}, w.calls)
	for _, a := range r.Applied() {
		require.NotEqual(t, Ongoing, a.End, a.String())
	}
}

func TestRunner_CrashPointOfAServerACrashFaultHoldsDoesNotRestartIt(t *testing.T) {
	w := newFake(t, 3, 0)
	r, err := NewRunner(Schedule{
		{At: sec(1), Kind: CrashPoint, Nodes: ids(2), Point: PointAfterSync, Duration: sec(2)},
		{At: sec(2), Kind: Crash, Nodes: ids(2)},
	}, w, testRand(1))
	require.NoError(t, err)
	r.Apply(sec(1))
	r.Apply(sec(2))
	r.Apply(sec(3))
	require.True(t, w.down[2], "the crash fault still holds it")
	require.Equal(t, []string{"arm 2 after-sync ", "crash 2", "disarm 2"}, w.calls)
}

func TestRunner_LagSlowsAServerMovesClientsAndEnds(t *testing.T) {
	w := newFake(t, 3, 4)
	w.leader = 1
	r, err := NewRunner(Schedule{
		{At: sec(1), Kind: Lag, Latency: 300 * node.Millisecond, Move: 2, Duration: sec(4)},
		{At: sec(2), Kind: Lag, Nodes: ids(3), Latency: 100 * node.Millisecond},
	}, w, testRand(1))
	require.NoError(t, err)
	r.Apply(sec(1))
	require.Len(t, w.lag, 1)
	var lagging node.ID
	for id := range w.lag {
		lagging = id
	}
	require.NotEqual(t, node.ID(1), lagging, "a follower lags by default")
	moved := 0
	for _, s := range w.at {
		require.Equal(t, lagging, s)
		moved++
	}
	require.Equal(t, 2, moved)
	require.Contains(t, r.Applied()[0].Description, "moved onto it")
	r.Apply(sec(2))
	r.Apply(sec(5))
	require.Equal(t, map[node.ID]node.Time{3: 100 * node.Millisecond}, w.lag, "the first ends, the second lasts")
	r.HealAll(sec(6))
	require.Empty(t, w.lag)
}

func TestFault_CrashPointAndLagValidation(t *testing.T) {
	bad := []Fault{
		{Kind: CrashPoint},
		{Kind: CrashPoint, Point: "nowhere"},
		{Kind: CrashPoint, Point: PointAfterSync, Msg: "commit"},
		{Kind: CrashPoint, Point: PointOnSend, Latency: 1},
		{Kind: Lag},
		{Kind: Lag, Latency: -1},
		{Kind: Lag, Latency: sec(1), Move: -1},
		{Kind: Crash, Move: 1},
		{Kind: Crash, Point: PointOnSend},
		{Kind: Crash, Cascade: 1},
		{Kind: CrashPoint, Point: PointOnSend, Cascade: -1},
	}
	for _, f := range bad {
		require.Error(t, Schedule{f}.Validate(3, 2), f.String())
	}
	require.Error(t, Schedule{{Kind: Lag, Latency: sec(1), Move: 3}}.Validate(3, 2), "more clients than the world has")
	good := Schedule{{Kind: CrashPoint, Point: PointOnSend, Cascade: 50 * node.Millisecond}, {Kind: CrashPoint, Point: PointOnReceive, Msg: "ack"},
		{Kind: Lag, Latency: sec(1), Move: 2, Duration: sec(3)}}
	require.NoError(t, good.Validate(3, 2))
	b, err := good.MarshalJSON()
	require.NoError(t, err)
	var back Schedule
	require.NoError(t, back.UnmarshalJSON(b))
	require.Equal(t, good, back)
}

func TestRunner_CrashPointCascadeRestartsTheLeaderItCrashed(t *testing.T) {
	w := newFake(t, 3, 0)
	w.leader = 1
	r, err := NewRunner(Schedule{
		{At: sec(1), Kind: CrashPoint, Nodes: ids(2), Point: PointOnReceive, Msg: "sync/snap", Cascade: 100 * node.Millisecond, Duration: sec(3)},
	}, w, testRand(1))
	require.NoError(t, err)
	r.Apply(sec(1))
	require.Contains(t, r.Applied()[0].Description, "then the leader 100ms later")
	w.fire(2)
	require.True(t, w.down[1] && w.down[2], "the point crashed 2, its cascade the leader")
	r.Apply(sec(4))
	require.False(t, w.down[1] || w.down[2], "both restart when the fault ends")
}

// limitedFake is a fakeTarget that refuses clock faults and faults on
// clients, as a world of real processes does.
type limitedFake struct{ *fakeTarget }

var _ LimitedTarget = limitedFake{}

func (l limitedFake) Supports(f Fault) (bool, string) {
	switch {
	case f.Kind == ClockJump || f.Kind == ClockDrift:
		return false, "no clock of a real process can be moved"
	case f.Pick == PickClient:
		return false, "the clients are not the target's"
	}
	return true, ""
}

func TestRunner_ALimitedTargetsRefusalsAreSkippedWithTheirReason(t *testing.T) {
	w := newFake(t, 3, 2)
	s := Schedule{
		{At: sec(1), Kind: ClockDrift, Nodes: ids(1), DriftPPM: 500, Duration: sec(5)},
		{At: sec(2), Kind: Crash, Pick: PickClient},
		{At: sec(3), Kind: Crash, Nodes: ids(2), Duration: sec(1)},
	}
	r, err := NewRunner(s, limitedFake{w}, testRand(1))
	require.NoError(t, err)
	runUntil(r, sec(10))
	r.HealAll(sec(10))
	require.Equal(t, []string{"crash 2", "restart 2", "heal"}, w.calls, "a refused fault never reaches the target")
	a := r.Applied()
	require.True(t, a[0].Skipped)
	require.Equal(t, "skipped: the target cannot: no clock of a real process can be moved", a[0].Description)
	require.Equal(t, a[0].Start, a[0].End)
	require.True(t, a[1].Skipped)
	require.Contains(t, a[1].Description, "the clients are not the target's")
	require.False(t, a[2].Skipped)
	require.False(t, a[3].Skipped, "HealAll is never refused")
	w.requirePristine(t)
}

func TestRunner_RollingCrashStory(t *testing.T) {
	seconds := map[bool]int{}
	for seed := uint64(1); seed <= 8; seed++ {
		for _, fires := range []bool{true, false} {
			w := newFake(t, 3, 0)
			w.leader = 1
			r, err := NewRunner(Schedule{
				{At: sec(1), Kind: RollingCrash, Nodes: ids(2), Point: PointOnSend, Msg: "ack/newleader", Duration: sec(8)},
			}, w, testRand(seed))
			require.NoError(t, err)
			r.Apply(sec(1))
			require.Equal(t, []string{"crash 2"}, w.calls)
			desc := r.Applied()[0].Description
			// The second to crash is the leader or the other follower.
			second, rest := node.ID(3), node.ID(1)
			leader := strings.Contains(desc, "at +1s the leader,")
			seconds[leader]++
			if leader {
				second, rest = 1, 3
			} else {
				require.Contains(t, desc, "at +1s another follower,")
			}
			r.Apply(sec(2))
			require.Equal(t, []string{"crash 2", fmt.Sprintf("crash %d", second), "restart 2", "arm 2 on-send ack/newleader"}, w.calls)
			require.True(t, w.down[second])
			w.calls = nil
			if fires {
				w.fire(2)
			}
			r.Apply(sec(5))
			want := []string{"disarm 2", fmt.Sprintf("crash %d", rest), fmt.Sprintf("restart %d", second)}
			if fires {
				want = append(want, "restart 2")
			}
			require.Equal(t, want, w.calls, "the rest crash, the first two come back")
			require.False(t, w.down[2] || w.down[second])
			require.True(t, w.down[rest])
			require.Equal(t, Ongoing, r.Applied()[0].End)
			r.Apply(sec(9))
			require.False(t, w.down[rest], "the rest come back at the end")
			a := r.Applied()[0]
			require.Equal(t, sec(9), a.End)
			require.Equal(t, ids(1, 2, 3), a.Nodes)
			_, ok := r.Next()
			require.False(t, ok)
			r.HealAll(sec(10))
			w.requirePristine(t)
		}
	}
	require.Len(t, seconds, 2, "the second to crash is sometimes the leader, sometimes a follower")
}

func TestRunner_RollingCrashEndsWithAHealAndSkipsItsSteps(t *testing.T) {
	w := newFake(t, 3, 0)
	w.leader = 1
	r, err := NewRunner(Schedule{
		{At: sec(1), Kind: RollingCrash, Point: PointOnReceive, Msg: "sync/diff", Duration: sec(4)},
		{At: sec(2), Kind: HealAll},
	}, w, testRand(3))
	require.NoError(t, err)
	runUntil(r, sec(10))
	a := r.Applied()
	require.Len(t, a, 2)
	require.NotEqual(t, node.ID(1), a[0].Nodes[0], "the first to crash is a follower")
	require.Equal(t, sec(2), a[0].End)
	require.Empty(t, w.armed)
	for _, id := range ids(1, 2, 3) {
		require.False(t, w.down[id])
	}
	r.HealAll(sec(10))
	w.requirePristine(t)
}

func TestFault_RollingCrashValidation(t *testing.T) {
	bad := []Fault{
		{Kind: RollingCrash, Point: PointOnSend},                                    // no duration
		{Kind: RollingCrash, Point: PointOnSend, Duration: 50 * node.Millisecond},   // too short
		{Kind: RollingCrash, Duration: sec(4)},                                      // no point
		{Kind: RollingCrash, Point: PointOnSend, Cascade: sec(1), Duration: sec(4)}, // no cascade
		{Kind: RollingCrash, Point: PointOnSend, Pick: PickLeader, Duration: sec(4)},
		{Kind: RollingCrash, Point: PointOnSend, Nodes: ids(1, 2), Duration: sec(4)},
	}
	for _, f := range bad {
		require.Error(t, Schedule{f}.Validate(3, 2), f.String())
	}
	require.ErrorContains(t, Schedule{{Kind: RollingCrash, Point: PointOnSend, Duration: sec(4)}}.Validate(2, 0), "at least 3 servers")
	good := Schedule{{Kind: RollingCrash, Point: PointOnSend, Msg: "ack/newleader", Duration: sec(4)},
		{Kind: RollingCrash, Nodes: ids(2), Point: PointAfterSync, Duration: sec(4)}}
	require.NoError(t, good.Validate(3, 2))
	b, err := good.MarshalJSON()
	require.NoError(t, err)
	var back Schedule
	require.NoError(t, back.UnmarshalJSON(b))
	require.Equal(t, good, back)
}
