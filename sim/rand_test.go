package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/node"
)

func TestRand_KnownValues(t *testing.T) {
	tests := []struct {
		name string
		got  uint64
		want uint64
	}{
		// SplitMix64's first output for seed 0 (Vigna's reference).
		{"splitmix64(0)", splitmix64(0), 0xe220a8397b1dcdaf},
		// FNV-1a 64 test vectors.
		{"fnv64a empty", fnv64a(""), 0xcbf29ce484222325},
		{"fnv64a a", fnv64a("a"), 0xaf63dc4c8601ec8c},
		{"fnv64a foobar", fnv64a("foobar"), 0x85944171f73967e8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { require.Equal(t, tt.want, tt.got) })
	}
}

func TestRand_DerivedSeedsDependOnSeedAndName(t *testing.T) {
	names := []string{"network", "nemesis", "workload", "node/1", "node/2", "node/1/1", "disk/1", ""}
	seen := map[uint64]string{}
	for _, seed := range []uint64{0, 1, 2, 1 << 63} {
		for _, name := range names {
			s := DeriveSeed(seed, name)
			require.Equal(t, s, DeriveSeed(seed, name), "derivation is a function")
			prev, dup := seen[s]
			require.False(t, dup, "seed %d name %q collides with %s", seed, name, prev)
			seen[s] = name
		}
	}
}

func TestRand_StreamIsMemoizedPerName(t *testing.T) {
	w := New(DefaultConfig(9))
	require.Same(t, w.Stream("workload"), w.Stream("workload"))
	require.NotSame(t, w.Stream("workload"), w.Stream("nemesis"))
	a, b := NewStream(9, "x"), NewStream(9, "x")
	for range 10 {
		require.Equal(t, a.Uint64(), b.Uint64(), "NewStream with the same arguments gives the same sequence")
	}
}

// TestRand_ConsumingOneStreamLeavesOthersUnchanged is the point of splitting:
// a workload that draws more numbers must not reshuffle the network.
func TestRand_ConsumingOneStreamLeavesOthersUnchanged(t *testing.T) {
	tests := []struct {
		name          string
		extraWorkload int
	}{
		{"no extra draws", 0},
		{"one extra draw", 1},
		{"many extra draws", 1000},
	}
	reference := func() []uint64 {
		w := New(DefaultConfig(42))
		r := w.Stream("network")
		out := make([]uint64, 20)
		for i := range out {
			out[i] = r.Uint64()
		}
		return out
	}()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := New(DefaultConfig(42))
			wl := w.Stream("workload")
			net := w.Stream("network")
			for i := range 20 {
				for range tt.extraWorkload {
					wl.Uint64()
				}
				require.Equal(t, reference[i], net.Uint64(), "draw %d", i)
			}
		})
	}
}

func TestRand_NodeIncarnationsGetFreshStreams(t *testing.T) {
	first := map[int]uint64{}
	cfg := DefaultConfig(3)
	w, _ := probeWorld(cfg, 1, nil)
	w.nodes[0].factory = func(env node.Env) node.Machine {
		first[env.Restart] = env.Rand.Uint64()
		return &probe{env: env, w: w}
	}
	w.Crash(1)
	w.Restart(1)
	w.Crash(1)
	w.Restart(1)
	require.Len(t, first, 2)
	require.Equal(t, NewStream(3, "node/1/1").Uint64(), first[1])
	require.Equal(t, NewStream(3, "node/1/2").Uint64(), first[2])
	require.NotEqual(t, first[1], first[2])
}

func TestRand_ProbabilityThresholds(t *testing.T) {
	w := New(DefaultConfig(5))
	r := w.Stream("p")
	require.Equal(t, uint64(0), threshold(0))
	require.Equal(t, uint64(probScale), threshold(1))
	require.Equal(t, uint64(probScale), threshold(2))
	require.Equal(t, uint64(0), threshold(-1))
	hits := 0
	for range 100000 {
		if chance(r, threshold(0.25)) {
			hits++
		}
	}
	require.InDelta(t, 25000, hits, 1000)
	before := NewStream(5, "p2")
	after := NewStream(5, "p2")
	require.False(t, chance(after, threshold(0)))
	require.True(t, chance(after, threshold(1)))
	require.Equal(t, before.Uint64(), after.Uint64(), "probabilities 0 and 1 draw nothing")
	for range 1000 {
		v := uniform(r, 3, 5)
		require.True(t, v >= 3 && v <= 5)
	}
	require.Equal(t, Time(7), uniform(r, 7, 7))
}

func TestRand_BelowIsUniformAndInRange(t *testing.T) {
	tests := []struct {
		name string
		n    uint64
	}{
		{"one", 1}, {"two", 2}, {"three", 3}, {"power of two", 1 << 20}, {"odd large", 1<<63 + 12345}, {"max", ^uint64(0)},
	}
	r := NewStream(1, "below")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 1000 {
				require.Less(t, below(r, tt.n), tt.n)
			}
		})
	}
	counts := make([]int, 3)
	for range 30000 {
		counts[below(r, 3)]++
	}
	for _, c := range counts {
		require.InDelta(t, 10000, c, 500)
	}
	// Pinned values: below must not depend on the platform's word size.
	r = NewStream(7, "below")
	got := []uint64{below(r, 10), below(r, 1000), below(r, 1<<40+3)}
	require.Equal(t, pinnedBelow, got)
}

var pinnedBelow = []uint64{8, 423, 931290502191}
