package nemesis

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"zoosim/node"
)

var swarmOpts = SwarmOptions{Duration: sec(60), Quiet: sec(3), Servers: 5, Clients: 3}

func TestSwarm_SameSeedSameScheduleAndConfig(t *testing.T) {
	for seed := uint64(0); seed < 100; seed++ {
		s1, c1 := Swarm(testRand(seed), swarmOpts)
		s2, c2 := Swarm(testRand(seed), swarmOpts)
		require.Equal(t, s1, s2, "seed %d", seed)
		require.Equal(t, c1, c2, "seed %d", seed)
		require.Equal(t, s1.String(), s2.String())
	}
}

func TestSwarm_GoldenSeed(t *testing.T) {
	// Pins the generator and the Runner's resolution: a change here changes
	// what every seed means, so it must be deliberate (update the golden
	// text and say so in the change).
	opts := SwarmOptions{Duration: sec(40), Quiet: sec(2), Servers: 5, Clients: 2}
	s, c := Swarm(testRand(42), opts)
	require.Equal(t, goldenSwarmConfig, c.String())
	require.Equal(t, goldenSwarmSchedule, s.String())
	w := newFake(t, 5, 2)
	w.leader = 3
	r := run(t, w, s, 42, opts.Duration)
	r.HealAll(opts.Duration)
	var applied []string
	for _, a := range r.Applied() {
		applied = append(applied, a.String())
	}
	require.Equal(t, goldenApplied, strings.Join(applied, "\n"))
}

const goldenSwarmConfig = "swarm: kinds partition-majority:3 partition-ring:1 crash:4 crash-leader:2 pause:1 clock-drift:2 link-lossy:4 link-dup:3 link-reorder:1 disk-sync-lies:4; remedies heal,restart,restart-all,resume,resume-all; a fault every 2s–5s; 60% undo themselves"

const goldenSwarmSchedule = `6.988s disk-sync-lies pick=follower duration=19.515s
10.468s link-lossy pick=follower count=5 prob=0.24
13.035s clock-drift pick=leader drift_ppm=-734
16.218s clock-drift pick=leader drift_ppm=-8523 duration=19.124s
19.884s link-lossy count=3 prob=0.19 duration=9.554s
23.609s crash pick=client
26.286s partition-majority pick=follower duration=6.364s
28.898s heal
29.469s crash duration=2.492s
32.158s restart-all
33.881s partition-ring
36.39s pause pick=all
36.499s heal
37.301s resume-all`

const goldenApplied = `6.988s–26.503s disk-sync-lies: syncs of [4] lie
10.468s–28.898s link-lossy: links of [1 2 4 5]: loss 24%
13.035s–16.218s clock-drift: clocks of [3] drift -734ppm
16.218s–35.342s clock-drift: clocks of [3] drift -8523ppm
19.884s–28.898s link-lossy: links of [2 3 4]: loss 19%
23.609s–32.158s crash: crash [6]
26.286s–28.898s partition-majority: split minority [1 4] | majority [2 3 5]
28.898s heal: heal every link
29.469s–31.961s crash: crash [2]
32.158s restart-all: restart [6]
33.881s–36.499s partition-ring: ring 1-2-3-4-5-1, each server talking only to its two neighbours
36.39s–37.301s pause: pause [1 2 3 4 5]
36.499s heal: heal every link
37.301s resume-all: resume [1 2 3 4 5]
40s heal-all: heal every link`

func TestSwarm_DifferentSeedsDiffer(t *testing.T) {
	seen := map[string]uint64{}
	configs := map[string]bool{}
	for seed := uint64(0); seed < 100; seed++ {
		s, c := Swarm(testRand(seed), swarmOpts)
		prev, dup := seen[s.String()]
		require.False(t, dup, "seeds %d and %d drew the same schedule", prev, seed)
		seen[s.String()] = seed
		configs[c.String()] = true
	}
	require.Len(t, configs, 100, "every seed enables its own mix")
}

func TestSwarm_EnablesARandomNonEmptySubsetOfTheAllowedKinds(t *testing.T) {
	enabled := map[Kind]int{}
	sizes := map[int]bool{}
	for seed := uint64(0); seed < 300; seed++ {
		s, c := Swarm(testRand(seed), swarmOpts)
		require.NotEmpty(t, c.Kinds)
		require.Len(t, c.Weights, len(c.Kinds))
		sizes[len(c.Kinds)] = true
		for i, k := range c.Kinds {
			require.False(t, k.Remedy(), "remedies are follow-ups, not enabled kinds")
			require.True(t, c.Weights[i] >= 1 && c.Weights[i] <= 4)
			enabled[k]++
		}
		for _, f := range s {
			require.True(t, slices.Contains(c.Kinds, f.Kind) || slices.Contains(c.Remedies, f.Kind),
				"seed %d: %s is neither enabled nor a remedy (%s)", seed, f, c)
		}
	}
	for _, k := range allKinds {
		if !k.Remedy() {
			require.Greater(t, enabled[k], 50, "%s is enabled by about half the seeds", k)
			require.Less(t, enabled[k], 250, "%s is enabled by about half the seeds", k)
		}
	}
	require.Greater(t, len(sizes), 5, "subsets of many sizes")
}

func TestSwarm_RespectsRestrictedKinds(t *testing.T) {
	tests := []struct {
		list     string
		families []Family
	}{
		{"partition", []Family{FamilyPartition}},
		{"crash,clock", []Family{FamilyCrash, FamilyClock}},
		{"all,-disk,-link,-crash,-pause,-client,-partition,-lag,-rolling,-heal-all", []Family{FamilyClock}},
		{"rolling", []Family{FamilyRolling}},
		{"lag", []Family{FamilyLag}},
		{"client-cut", []Family{FamilyClient}},
	}
	for _, tt := range tests {
		t.Run(tt.list, func(t *testing.T) {
			kinds, err := ParseKinds(tt.list)
			require.NoError(t, err)
			opts := swarmOpts
			opts.Kinds = kinds
			for seed := uint64(0); seed < 100; seed++ {
				s, c := Swarm(testRand(seed), opts)
				for _, k := range append(slices.Clone(c.Kinds), c.Remedies...) {
					require.Contains(t, kinds, k)
				}
				for _, f := range s {
					require.Contains(t, tt.families, f.Kind.Family(), f.String())
				}
			}
		})
	}
}

func TestSwarm_NoKindsNoFaults(t *testing.T) {
	opts := swarmOpts
	opts.Kinds = []Kind{}
	s, c := Swarm(testRand(1), opts)
	require.Empty(t, s)
	require.Equal(t, "swarm: no faults", c.String())
	// A world too small for everything allowed: also no faults.
	opts = SwarmOptions{Duration: sec(10), Servers: 3, Kinds: []Kind{PartitionRing, ClientCut}}
	s, _ = Swarm(testRand(1), opts)
	require.Empty(t, s)
}

// TestSwarm_AlwaysValidForEveryWorldSize: whatever the world's size, every
// fault Swarm draws (and every remedy it adds) fits it. Worlds with more
// clients than servers matter: a pause of four clients once got a "resume
// count=4" remedy that the validator sized against three servers, and the
// run ended in a harness error (session-expiry seed 1009).
func TestSwarm_AlwaysValidForEveryWorldSize(t *testing.T) {
	for servers := 1; servers <= 7; servers++ {
		for _, clients := range []int{0, 1, 2, 3, 6, 9, 11} {
			opts := SwarmOptions{Duration: sec(40), Quiet: sec(2), Servers: servers, Clients: clients}
			for seed := uint64(0); seed < 60; seed++ {
				s, c := Swarm(testRand(seed), opts)
				require.NoError(t, s.Validate(servers, clients), "%d servers %d clients seed %d\n%s", servers, clients, seed, c)
				for i, f := range s {
					require.GreaterOrEqual(t, f.At, opts.Quiet)
					require.Less(t, f.At, opts.Duration)
					require.Zero(t, f.At%node.Millisecond, "whole milliseconds")
					if i > 0 {
						gap := f.At - s[i-1].At
						require.GreaterOrEqual(t, gap, node.Time(0))
					}
				}
				require.LessOrEqual(t, len(s), opts.maxFaults())
			}
		}
	}
}

func TestSwarm_FaultsAreSpacedByTheDrawnIntensity(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		s, c := Swarm(testRand(seed), swarmOpts)
		var starts, runs []node.Time // a rolling crash runs alone: the gap counts from its end
		for _, f := range s {
			if !f.Kind.Remedy() {
				starts = append(starts, f.At)
				run := node.Time(0)
				if f.Kind == RollingCrash {
					run = f.Duration
				}
				runs = append(runs, run)
			}
		}
		require.NotEmpty(t, starts)
		require.GreaterOrEqual(t, starts[0]-swarmOpts.Quiet, c.GapMin)
		for i := 1; i < len(starts); i++ {
			gap := starts[i] - starts[i-1] - runs[i-1]
			require.True(t, gap >= c.GapMin && gap <= c.GapMax, "seed %d: gap %s outside %s", seed, fmtTime(gap), c)
		}
	}
}

func TestSwarm_NeverCrashesMoreServersThanExistAndMostFaultsHeal(t *testing.T) {
	healing, healable := 0, 0
	for seed := uint64(0); seed < 200; seed++ {
		s, _ := Swarm(testRand(seed), swarmOpts)
		w := newFake(t, swarmOpts.Servers, swarmOpts.Clients)
		r, err := NewRunner(s, w, testRand(seed))
		require.NoError(t, err)
		for {
			at, ok := r.Next()
			if !ok || at >= swarmOpts.Duration {
				break
			}
			w.leader = w.servers[int(seed+uint64(at/node.Second))%len(w.servers)]
			r.Apply(at)
			down := 0
			for _, id := range w.servers {
				if w.down[id] {
					down++
				}
			}
			require.LessOrEqual(t, down, swarmOpts.Servers)
		}
		for _, f := range s {
			switch f.Kind {
			case Crash, Pause:
				if f.Pick != PickClient {
					require.LessOrEqual(t, f.count(), (swarmOpts.Servers-1)/2, "a minority at a time: %s", f)
				}
			}
			if specs[f.Kind].heals {
				healable++
				if f.Duration > 0 {
					healing++
				}
			}
		}
		r.HealAll(swarmOpts.Duration)
		w.requirePristine(t)
	}
	require.Greater(t, healing*100/healable, 55, "most faults that can heal themselves do")
}

func TestSwarm_ConfigPrintsWhatTheSeedChose(t *testing.T) {
	c := SwarmConfig{Kinds: []Kind{PartitionHalves, Crash}, Weights: []int{3, 1}, Remedies: []Kind{Heal, Restart},
		GapMin: sec(1), GapMax: sec(3), SelfHealPercent: 75}
	require.Equal(t, "swarm: kinds partition-halves:3 crash:1; remedies heal,restart; a fault every 1s–3s; 75% undo themselves", c.String())
}

func TestSwarm_InvalidOptionsPanic(t *testing.T) {
	require.PanicsWithValue(t, "nemesis: invalid SwarmOptions: 0 servers and 0 clients",
		func() { Swarm(testRand(1), SwarmOptions{Duration: sec(1)}) })
	require.Panics(t, func() { Swarm(testRand(1), SwarmOptions{Duration: sec(1), Quiet: sec(1), Servers: 3}) })
	require.Panics(t, func() { Swarm(testRand(1), SwarmOptions{Duration: sec(1), Servers: 3, Kinds: []Kind{"nope"}}) })
}

func TestParseKinds(t *testing.T) {
	tests := []struct {
		list string
		want []Kind
		err  string
	}{
		{"crash", []Kind{Crash, CrashLeader, CrashAll, Restart, RestartAll, CrashPoint}, ""},
		{"clock, link-slow", []Kind{ClockJump, ClockDrift, LinkSlow}, ""},
		{"link-slow,clock", []Kind{ClockJump, ClockDrift, LinkSlow}, ""},
		{"pause,pause", []Kind{Pause, Resume, ResumeAll}, ""},
		{"crash,-crash-leader,-crash-all", []Kind{Crash, Restart, RestartAll, CrashPoint}, ""},
		{"lag,crash-point", []Kind{CrashPoint, Lag}, ""},
		{"disk,client", []Kind{DiskSyncLies, DiskCorrupt, ClientCut}, ""},
		{"partition,-heal,-partition-ring", []Kind{PartitionLeader, PartitionOne, PartitionMajority, PartitionHalves, PartitionBridge, PartitionOneWay}, ""},
		{"all", allKinds, ""},
		{"all,none,heal", []Kind{Heal}, ""},
		{"none", []Kind{}, ""},
		{"partitions", nil, `unknown fault kind or family "partitions"`},
		{"crash,", nil, `unknown fault kind or family ""`},
		{"  ", nil, "empty fault list"},
	}
	for _, tt := range tests {
		t.Run(tt.list, func(t *testing.T) {
			got, err := ParseKinds(tt.list)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestKinds_EveryKindHasAFamilyAndASpec(t *testing.T) {
	require.Len(t, specs, len(allKinds))
	members := 0
	for _, f := range allFamilies {
		members += len(f.Members())
	}
	require.Equal(t, len(allKinds)-1, members, "every kind but heal-all is in exactly one family")
	for _, k := range allKinds {
		require.True(t, k.Valid())
		sp := specs[k]
		require.GreaterOrEqual(t, sp.minServers, 1, k)
		require.NotZero(t, sp.nodes, k)
		require.NotZero(t, sp.param, k)
	}
	require.False(t, Kind("nope").Valid())
}

func TestGen_AlwaysValidAndWithinOptions(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		servers := rapid.IntRange(1, 7).Draw(rt, "servers")
		clients := rapid.IntRange(0, 3).Draw(rt, "clients")
		quiet := node.Time(rapid.IntRange(0, 5000).Draw(rt, "quiet ms")) * node.Millisecond
		kinds := rapid.SliceOfDistinct(rapid.SampledFrom(allKinds), func(k Kind) Kind { return k }).Draw(rt, "kinds")
		opts := SwarmOptions{Duration: quiet + sec(30), Quiet: quiet, Servers: servers, Clients: clients, Kinds: kinds}
		s := Gen(opts).Draw(rt, "schedule")
		require.NoError(rt, s.Validate(servers, clients))
		require.LessOrEqual(rt, len(s), opts.maxFaults())
		for _, f := range s {
			require.Contains(rt, kinds, f.Kind)
			require.GreaterOrEqual(rt, f.At, opts.Quiet)
			require.Less(rt, f.At, opts.Duration)
		}
		_, err := NewRunner(s, newFake(rt, servers, clients), testRand(1))
		require.NoError(rt, err)
	})
}

func TestSwarm_RollingCrashRunsAlone(t *testing.T) {
	opts := SwarmOptions{Duration: sec(60), Quiet: sec(2), Servers: 3, Clients: 2, Kinds: []Kind{RollingCrash, Crash, Restart},
		Always: []Kind{RollingCrash}, CrashMessages: []string{"ackepoch", "sync/diff"}}
	rolling := 0
	for seed := uint64(0); seed < 100; seed++ {
		s, _ := Swarm(testRand(seed), opts)
		require.NoError(t, s.Validate(3, 2))
		for i, f := range s {
			if f.Kind != RollingCrash {
				continue
			}
			rolling++
			require.True(t, f.Duration >= sec(1.5) && f.Duration <= sec(8), f.String())
			require.Contains(t, []string{PointOnReceive, PointOnSend}, f.Point, "a step of the recovery: a message point")
			require.Contains(t, opts.CrashMessages, f.Msg)
			for _, g := range s[i+1:] {
				if !g.Kind.Remedy() {
					require.GreaterOrEqual(t, g.At, f.At+f.Duration, "seed %d: %s starts inside %s", seed, g, f)
					break
				}
			}
		}
	}
	require.Greater(t, rolling, 200)
}
