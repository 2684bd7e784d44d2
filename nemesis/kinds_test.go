package nemesis

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/node"
)

// The tests in this file apply one fault at a time to the fake world and
// look at the world, not at the Runner.

func TestPartitionBridge_BlocksExactlyTheLinksBetweenTheHalvesExceptThroughTheBridge(t *testing.T) {
	t.Run("fixed", func(t *testing.T) {
		w := newFake(t, 5, 2)
		run(t, w, Schedule{{Kind: PartitionBridge, Nodes: ids(3, 1, 2)}}, 1, 0)
		require.Equal(t, both(ids(1, 2), ids(4, 5)), w.blockedLinks())
		require.Equal(t, ids(1, 2, 4, 5), w.peers(3), "the bridge talks to everyone")
	})
	for seed := uint64(0); seed < 50; seed++ {
		w := newFake(t, 5, 2)
		r := run(t, w, Schedule{{Kind: PartitionBridge}}, seed, 0)
		var bridge node.ID
		for _, x := range w.servers {
			if len(w.peers(x)) == 4 {
				require.Zero(t, bridge, "seed %d: two bridges", seed)
				bridge = x
			}
		}
		require.NotZero(t, bridge, "seed %d: no bridge", seed)
		var a, b []node.ID
		for _, x := range w.servers {
			if x == bridge {
				continue
			}
			switch {
			case a == nil || w.talks(a[0], x):
				a = append(a, x)
			default:
				b = append(b, x)
			}
		}
		require.Len(t, a, 2, "seed %d", seed)
		require.Len(t, b, 2, "seed %d", seed)
		require.Equal(t, both(a, b), w.blockedLinks(), "seed %d: exactly the links between the halves", seed)
		require.Equal(t, []Applied{{Index: 0, Start: 0, End: Ongoing, Kind: PartitionBridge, Nodes: w.servers,
			Description: fmt.Sprintf("bridge %d between %s and %s", bridge, fmtIDs(a), fmtIDs(b))}},
			r.Applied(), "seed %d", seed)
	}
}

func TestPartitionBridge_LeaderIsTheBridge(t *testing.T) {
	w := newFake(t, 5, 0)
	w.leader = 4
	run(t, w, Schedule{{Kind: PartitionBridge, Pick: PickLeader}}, 7, 0)
	require.Equal(t, ids(1, 2, 3, 5), w.peers(4))
	require.Len(t, w.blockedLinks(), 8)
}

func TestPartitionRing_EachServerTalksOnlyToItsTwoNeighbours(t *testing.T) {
	t.Run("fixed order", func(t *testing.T) {
		w := newFake(t, 5, 1)
		r := run(t, w, Schedule{{Kind: PartitionRing, Nodes: ids(1, 3, 5, 2, 4)}}, 1, 0)
		require.Equal(t, ids(3, 4), w.peers(1))
		require.Equal(t, ids(1, 5), w.peers(3))
		require.Equal(t, ids(2, 3), w.peers(5))
		require.Equal(t, ids(4, 5), w.peers(2))
		require.Equal(t, ids(1, 2), w.peers(4))
		require.Equal(t, "ring 1-3-5-2-4-1, each server talking only to its two neighbours", r.Applied()[0].Description)
		for _, s := range w.servers {
			require.True(t, w.talks(s, 6), "clients are not part of the ring")
		}
	})
	for seed := uint64(0); seed < 50; seed++ {
		w := newFake(t, 5, 0)
		run(t, w, Schedule{{Kind: PartitionRing}}, seed, 0)
		// Every server has two peers, and walking from 1 visits all five
		// before coming back: one cycle, not two.
		for _, x := range w.servers {
			require.Len(t, w.peers(x), 2, "seed %d: server %d", seed, x)
		}
		prev, cur, seen := node.ID(0), node.ID(1), 0
		for {
			p := w.peers(cur)
			next := p[0]
			if next == prev {
				next = p[1]
			}
			prev, cur = cur, next
			seen++
			if cur == 1 {
				break
			}
			require.Less(t, seen, 5, "seed %d: no cycle through all", seed)
		}
		require.Equal(t, 5, seen, "seed %d", seed)
		require.Len(t, w.blockedLinks(), 10, "seed %d: 5 non-adjacent pairs, both ways", seed)
	}
}

func TestPartitionLeader_ResolvesTheLeaderAtApplyTime(t *testing.T) {
	w := newFake(t, 5, 0)
	w.leader = 1 // the leader when the Runner is built does not matter
	r, err := NewRunner(Schedule{{At: sec(1), Kind: PartitionLeader}, {At: sec(2), Kind: PartitionLeader}}, w, testRand(1))
	require.NoError(t, err)
	w.leader = 2
	r.Apply(sec(1))
	require.Empty(t, w.peers(2))
	require.Equal(t, both(ids(2), ids(1, 3, 4, 5)), w.blockedLinks())
	w.leader = 4
	r.Apply(sec(2))
	require.Equal(t, both(ids(4), ids(1, 2, 3, 5)), w.blockedLinks(), "the new shape replaces the old")
	a := r.Applied()
	require.Equal(t, "isolate leader 2 from [1 3 4 5]", a[0].Description)
	require.Equal(t, sec(2), a[0].End, "replaced at 2s")
	require.Equal(t, "isolate leader 4 from [1 2 3 5]", a[1].Description)
	require.Equal(t, Ongoing, a[1].End)
}

func TestPartitionLeader_SkippedWithoutLeader(t *testing.T) {
	w := newFake(t, 3, 0)
	r := run(t, w, Schedule{{Kind: PartitionLeader}, {Kind: CrashLeader}, {Kind: Pause, Pick: PickLeader}}, 1, 0)
	require.Empty(t, w.blocked)
	require.Empty(t, w.down)
	for _, a := range r.Applied() {
		require.True(t, a.Skipped, a.String())
		require.Equal(t, a.Start, a.End)
		require.Contains(t, a.Description, "no leader")
	}
}

func TestPartitionShapes(t *testing.T) {
	tests := []struct {
		name    string
		leader  node.ID
		fault   Fault
		want    []link
		applied string
	}{
		{"one fixed", 0, Fault{Kind: PartitionOne, Nodes: ids(3)}, both(ids(3), ids(1, 2, 4, 5)), "isolate 3 from [1 2 4 5]"},
		{"one follower never the leader", 1, Fault{Kind: PartitionOne, Pick: PickFollower}, nil, ""},
		{"majority fixed minority", 0, Fault{Kind: PartitionMajority, Nodes: ids(5, 2)}, both(ids(2, 5), ids(1, 3, 4)),
			"split minority [2 5] | majority [1 3 4]"},
		{"halves fixed side", 0, Fault{Kind: PartitionHalves, Nodes: ids(1, 2, 3)}, both(ids(1, 2, 3), ids(4, 5)), "split [1 2 3] | [4 5]"},
		{"one-way in", 0, Fault{Kind: PartitionOneWay, Nodes: ids(2), Direction: DirIn},
			links([2]node.ID{1, 2}, [2]node.ID{3, 2}, [2]node.ID{4, 2}, [2]node.ID{5, 2}), "one-way: 2 hears none of [1 3 4 5], which hear it"},
		{"one-way out from the leader", 5, Fault{Kind: PartitionOneWay, Pick: PickLeader, Direction: DirOut},
			links([2]node.ID{5, 1}, [2]node.ID{5, 2}, [2]node.ID{5, 3}, [2]node.ID{5, 4}), "one-way: none of [1 2 3 4] hears 5, which hears them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := uint64(0); seed < 20; seed++ {
				w := newFake(t, 5, 1)
				w.leader = tt.leader
				r := run(t, w, Schedule{tt.fault}, seed, 0)
				if tt.want == nil { // only "one follower": isolate someone other than the leader
					require.Len(t, w.blockedLinks(), 8)
					require.NotEmpty(t, w.peers(tt.leader))
					continue
				}
				require.Equal(t, tt.want, w.blockedLinks())
				require.Equal(t, tt.applied, r.Applied()[0].Description)
			}
		})
	}
}

func TestPartitionMajority_RandomSplitsAreTwoAgainstThree(t *testing.T) {
	for _, pick := range []Pick{PickRandom, PickLeader, PickFollower} {
		for seed := uint64(0); seed < 20; seed++ {
			w := newFake(t, 5, 0)
			w.leader = 3
			run(t, w, Schedule{{Kind: PartitionMajority, Pick: pick}}, seed, 0)
			var minority []node.ID
			for _, x := range w.servers {
				if len(w.peers(x)) == 1 {
					minority = append(minority, x)
				} else {
					require.Len(t, w.peers(x), 2, "pick %s seed %d", pick, seed)
				}
			}
			require.Len(t, minority, 2, "pick %s seed %d", pick, seed)
			switch pick {
			case PickLeader:
				require.Contains(t, minority, node.ID(3))
			case PickFollower:
				require.NotContains(t, minority, node.ID(3))
			}
		}
	}
}

func TestPartitionHalves_AreRandomAndCoverTheEnsemble(t *testing.T) {
	sides := map[string]bool{}
	for seed := uint64(0); seed < 100; seed++ {
		w := newFake(t, 4, 0)
		r := run(t, w, Schedule{{Kind: PartitionHalves}}, seed, 0)
		require.Len(t, w.blockedLinks(), 8, "2 x 2 servers, both ways")
		sides[r.Applied()[0].Description] = true
	}
	// 4 servers split 2|2 six ways; 100 seeds see them all.
	require.Len(t, sides, 6)
}

func TestPartition_HealsItselfAtAtPlusDuration(t *testing.T) {
	w := newFake(t, 3, 0)
	r, err := NewRunner(Schedule{{At: sec(1), Kind: PartitionOne, Nodes: ids(1), Duration: sec(2)}}, w, testRand(1))
	require.NoError(t, err)
	at, ok := r.Next()
	require.True(t, ok)
	require.Equal(t, sec(1), at)
	r.Apply(sec(1))
	require.Len(t, w.blocked, 4)
	at, ok = r.Next()
	require.True(t, ok)
	require.Equal(t, sec(3), at, "the end is due at At+Duration")
	r.Apply(sec(2.999))
	require.Len(t, w.blocked, 4)
	r.Apply(sec(3))
	require.Empty(t, w.blocked)
	require.Zero(t, w.heals, "a self-healing partition unblocks its own links, it does not heal everything")
	_, ok = r.Next()
	require.False(t, ok)
	require.Equal(t, sec(3), r.Applied()[0].End)
}

func TestPartition_SelfHealLeavesClientCutsAlone(t *testing.T) {
	w := newFake(t, 3, 1)
	run(t, w, Schedule{
		{At: 0, Kind: PartitionOne, Nodes: ids(1), Duration: sec(1)},
		{At: 0, Kind: ClientCut, Clients: ids(4), Nodes: ids(1)},
	}, 1, sec(5))
	require.Equal(t, links([2]node.ID{1, 4}, [2]node.ID{4, 1}), w.blockedLinks())
}

func TestClientCut_BlocksBothDirectionsBetweenClientAndServer(t *testing.T) {
	tests := []struct {
		name   string
		leader node.ID
		fault  Fault
		want   []link
	}{
		{"fixed", 0, Fault{Kind: ClientCut, Clients: ids(5), Nodes: ids(2)}, links([2]node.ID{2, 5}, [2]node.ID{5, 2})},
		{"leader", 3, Fault{Kind: ClientCut, Clients: ids(4), Pick: PickLeader}, links([2]node.ID{3, 4}, [2]node.ID{4, 3})},
		{"all servers", 0, Fault{Kind: ClientCut, Clients: ids(4), Pick: PickAll}, both(ids(4), ids(1, 2, 3))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFake(t, 3, 2)
			w.leader = tt.leader
			run(t, w, Schedule{tt.fault}, 1, 0)
			require.Equal(t, tt.want, w.blockedLinks())
		})
	}
	t.Run("random client and server", func(t *testing.T) {
		for seed := uint64(0); seed < 20; seed++ {
			w := newFake(t, 3, 2)
			r := run(t, w, Schedule{{Kind: ClientCut, Duration: sec(1)}}, seed, 0)
			bl := w.blockedLinks()
			require.Len(t, bl, 2)
			c, s := bl[0].to, bl[0].from // sorted: the server's ID is smaller
			require.Contains(t, w.clients, c)
			require.Contains(t, w.servers, s)
			require.Equal(t, links([2]node.ID{s, c}, [2]node.ID{c, s}), bl)
			runUntil(r, sec(1))
			require.Empty(t, w.blocked)
		}
	})
}

func TestHeal_EndsEveryNetworkFault(t *testing.T) {
	w := newFake(t, 3, 1)
	r := run(t, w, Schedule{
		{Kind: PartitionHalves},
		{Kind: ClientCut},
		{Kind: LinkLossy, Pick: PickAll, Prob: 0.5},
		{Kind: Crash, Nodes: ids(2)},
		{At: sec(1), Kind: Heal},
	}, 1, sec(1))
	require.Empty(t, w.blocked)
	require.Empty(t, w.quality)
	require.Equal(t, 1, w.heals)
	require.True(t, w.down[2], "heal is about the network only")
	for _, a := range r.Applied()[:3] {
		require.Equal(t, sec(1), a.End, a.String())
	}
	require.Equal(t, Ongoing, r.Applied()[3].End)
}

func TestCrashAll_ThenRestartAll(t *testing.T) {
	w := newFake(t, 3, 1)
	r := run(t, w, Schedule{{At: sec(1), Kind: CrashAll}, {At: sec(2), Kind: RestartAll}}, 1, sec(1))
	require.Equal(t, map[node.ID]bool{1: true, 2: true, 3: true}, w.down, "every server, no client")
	runUntil(r, sec(2))
	require.Empty(t, w.down)
	a := r.Applied()
	require.Equal(t, "crash [1 2 3]", a[0].Description)
	require.Equal(t, sec(2), a[0].End, "the crash ends when its last node restarts")
	require.Equal(t, "restart [1 2 3]", a[1].Description)
	require.Equal(t, []string{"crash 1", "crash 2", "crash 3", "restart 1", "restart 2", "restart 3"}, w.calls)
}

func TestCrash_SeveralTakesOnlyRunningServers(t *testing.T) {
	w := newFake(t, 3, 0)
	w.down[2] = true
	r := run(t, w, Schedule{{Kind: Crash, Count: 3}}, 1, 0)
	require.Equal(t, map[node.ID]bool{1: true, 2: true, 3: true}, w.down)
	require.Equal(t, ids(1, 3), r.Applied()[0].Nodes, "never crashes a crashed server, never more than exist")
	r = run(t, w, Schedule{{Kind: Crash}}, 1, 0)
	require.True(t, r.Applied()[0].Skipped, "nothing left to crash")
}

func TestCrashLeader_WithDurationRestartsIt(t *testing.T) {
	w := newFake(t, 3, 0)
	w.leader = 2
	r := run(t, w, Schedule{{Kind: CrashLeader, Duration: sec(4)}}, 1, sec(3))
	require.Equal(t, map[node.ID]bool{2: true}, w.down)
	runUntil(r, sec(4))
	require.Empty(t, w.down)
	require.Equal(t, sec(4), r.Applied()[0].End)
}

func TestCrash_EndDoesNotRestartANodeRestartedMeanwhile(t *testing.T) {
	w := newFake(t, 3, 0)
	r := run(t, w, Schedule{
		{At: 0, Kind: Crash, Nodes: ids(1, 2), Duration: sec(10)},
		{At: sec(1), Kind: Restart, Nodes: ids(1)},
		{At: sec(2), Kind: Crash, Nodes: ids(1)},
	}, 1, sec(10))
	// At 10s the first crash restarts only 2: node 1 is down because of the
	// second crash, which has no end.
	require.Equal(t, map[node.ID]bool{1: true}, w.down)
	a := r.Applied()
	require.Equal(t, sec(10), a[0].End)
	require.Equal(t, Ongoing, a[2].End)
}

func TestCrash_EndsAPause(t *testing.T) {
	w := newFake(t, 3, 0)
	r := run(t, w, Schedule{
		{At: 0, Kind: Pause, Nodes: ids(1), Duration: sec(5)},
		{At: sec(1), Kind: Crash, Nodes: ids(1)},
	}, 1, sec(6))
	require.Empty(t, w.paused)
	require.Equal(t, sec(1), r.Applied()[0].End, "the pause ended when the node crashed")
	require.NotContains(t, w.calls, "resume 1", "a crashed node is not resumed")
}

func TestRestart_PicksCrashedNodes(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		w := newFake(t, 5, 2)
		w.down[2], w.down[4], w.down[6] = true, true, true
		r := run(t, w, Schedule{{Kind: Restart}, {Kind: Restart, Pick: PickClient}}, seed, 0)
		a := r.Applied()
		require.Len(t, a[0].Nodes, 1)
		require.Contains(t, ids(2, 4), a[0].Nodes[0])
		require.Equal(t, ids(6), a[1].Nodes)
		require.Len(t, w.down, 1)
	}
}

func TestPause_ResumesAfterDurationAndResumePicksPausedNodes(t *testing.T) {
	w := newFake(t, 3, 1)
	w.leader = 3
	r := run(t, w, Schedule{
		{At: 0, Kind: Pause, Pick: PickLeader, Duration: sec(2)},
		{At: 0, Kind: Pause, Pick: PickClient},
		{At: sec(1), Kind: Pause, Nodes: ids(1)},
	}, 1, sec(1))
	require.Equal(t, map[node.ID]bool{1: true, 3: true, 4: true}, w.paused)
	runUntil(r, sec(2))
	require.Equal(t, map[node.ID]bool{1: true, 4: true}, w.paused, "the leader's pause ended by itself")
	r2, err := NewRunner(Schedule{{Kind: Resume, Count: 2}}, w, testRand(1))
	require.NoError(t, err)
	r2.Apply(0)
	require.True(t, r2.Applied()[0].Skipped, "a Runner resumes only what it paused")
	r = run(t, w, Schedule{{Kind: Pause, Nodes: ids(2)}, {At: sec(1), Kind: ResumeAll}}, 1, sec(1))
	require.Equal(t, map[node.ID]bool{1: true, 4: true}, w.paused)
	require.Equal(t, "resume [2]", r.Applied()[1].Description)
}

func TestClockJump_KeepsTheDriftAndClockDriftEndsAtZero(t *testing.T) {
	w := newFake(t, 3, 0)
	r := run(t, w, Schedule{
		{At: 0, Kind: ClockDrift, Nodes: ids(2), DriftPPM: 5000, Duration: sec(10)},
		{At: sec(1), Kind: ClockJump, Nodes: ids(2), Jump: -sec(3)},
		{At: sec(1), Kind: ClockJump, Pick: PickAll, Jump: sec(1)},
	}, 1, sec(1))
	require.Equal(t, []string{"clock 2 +0s 5000", "clock 2 -3s 5000", "clock 1 +1s 0", "clock 2 +1s 5000", "clock 3 +1s 0"}, w.calls)
	require.Equal(t, map[node.ID]node.Time{1: sec(1), 2: -sec(2), 3: sec(1)}, w.jump)
	runUntil(r, sec(10))
	require.Empty(t, w.drift)
	require.Equal(t, "clock 2 +0s 0", w.calls[len(w.calls)-1])
	require.Equal(t, "clocks of [2] jump -3s", r.Applied()[1].Description)
	require.Equal(t, sec(1), r.Applied()[1].End, "a jump is instantaneous")
}

func TestClockDrift_ALaterDriftTakesOverTheClock(t *testing.T) {
	w := newFake(t, 3, 0)
	r := run(t, w, Schedule{
		{At: 0, Kind: ClockDrift, Nodes: ids(1), DriftPPM: 100, Duration: sec(2)},
		{At: sec(1), Kind: ClockDrift, Nodes: ids(1), DriftPPM: -200},
	}, 1, sec(5))
	require.Equal(t, map[node.ID]int64{1: -200}, w.drift, "the first drift's end does not undo the second")
	require.Equal(t, sec(1), r.Applied()[0].End)
}

func TestLinkFaults_CombineAndRestore(t *testing.T) {
	w := newFake(t, 2, 1)
	r := run(t, w, Schedule{
		{At: 0, Kind: LinkLossy, Nodes: ids(1), Prob: 0.2, Duration: sec(2)},
		{At: 0, Kind: LinkSlow, Nodes: ids(1), Latency: 50 * node.Millisecond, Duration: sec(4)},
		{At: 0, Kind: LinkDup, Nodes: ids(2), Prob: 0.1},
		{At: 0, Kind: LinkReorder, Nodes: ids(2), Prob: 0.3},
	}, 1, 0)
	q := func(from, to int) LinkQuality { return w.quality[link{node.ID(from), node.ID(to)}] }
	slowLossy := LinkQuality{LossProb: 0.2, ExtraLatency: 50 * node.Millisecond}
	require.Equal(t, slowLossy, q(1, 3))
	require.Equal(t, slowLossy, q(3, 1))
	require.Equal(t, LinkQuality{LossProb: 0.2, DupProb: 0.1, ReorderProb: 0.3, ExtraLatency: 50 * node.Millisecond}, q(1, 2))
	require.Equal(t, LinkQuality{DupProb: 0.1, ReorderProb: 0.3}, q(2, 3))
	require.Len(t, w.quality, 6)
	require.Equal(t, "links of [1]: loss 20%", r.Applied()[0].Description)
	runUntil(r, sec(2))
	require.Equal(t, LinkQuality{ExtraLatency: 50 * node.Millisecond}, q(1, 3))
	runUntil(r, sec(4))
	require.Equal(t, LinkQuality{}, q(1, 3))
	require.Equal(t, LinkQuality{DupProb: 0.1, ReorderProb: 0.3}, q(2, 1))
	require.Len(t, w.quality, 4)
}

func TestDiskSyncLies_TurnOffAfterDuration(t *testing.T) {
	w := newFake(t, 3, 0)
	r := run(t, w, Schedule{{Kind: DiskSyncLies, Pick: PickAll, Duration: sec(1)}}, 1, 0)
	require.Equal(t, map[node.ID]bool{1: true, 2: true, 3: true}, w.lies)
	runUntil(r, sec(1))
	require.Empty(t, w.lies)
	require.Equal(t, sec(1), r.Applied()[0].End)
}

func TestDiskCorrupt_ReportsTheRecordOrSkips(t *testing.T) {
	w := newFake(t, 3, 0)
	w.records[1], w.records[3] = 1, 0
	w.down[1] = true
	r := run(t, w, Schedule{
		{Kind: DiskCorrupt, Pick: PickDown},
		{Kind: DiskCorrupt, Nodes: ids(1, 3)},
	}, 1, 0)
	a := r.Applied()
	require.Equal(t, "corrupt log#0 on 1", a[0].Description)
	require.Equal(t, ids(1), a[0].Nodes)
	require.True(t, a[1].Skipped)
	require.Equal(t, "skipped: nothing durable on 1, nothing durable on 3", a[1].Description)
}

func TestCrash_OfANodeThatCameBackOnItsOwnEndsTheOldCrash(t *testing.T) {
	w := newFake(t, 3, 0)
	r := run(t, w, Schedule{{Kind: Crash, Nodes: ids(1)}}, 1, 0)
	delete(w.down, 1) // restarted by someone else (an operator, the scenario)
	r.sched = append(r.sched, Fault{At: sec(1), Kind: Crash, Nodes: ids(1)})
	runUntil(r, sec(1))
	a := r.Applied()
	require.Equal(t, sec(1), a[0].End)
	require.Equal(t, Ongoing, a[1].End)
}
