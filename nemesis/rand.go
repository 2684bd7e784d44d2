package nemesis

import (
	"math/bits"
	"math/rand/v2"

	"zoosim/node"
)

// The nemesis draws only from *rand.Rand values it is given, and only
// through below (never Rand.IntN and friends, which take a different path
// on 32-bit platforms), so a seed replays the same everywhere.

// below returns a uniform number in [0, n), n > 0, by Lemire's
// multiply-and-reject over r's raw 64-bit output.
func below(r *rand.Rand, n uint64) uint64 {
	if n == 0 {
		panic("nemesis: below(0)")
	}
	hi, lo := bits.Mul64(r.Uint64(), n)
	if lo < n {
		reject := -n % n
		for lo < reject {
			hi, lo = bits.Mul64(r.Uint64(), n)
		}
	}
	return hi
}

func belowInt(r *rand.Rand, n int) int { return int(below(r, uint64(n))) }

// shuffled returns a uniformly shuffled copy of ids (Fisher–Yates).
func shuffled(r *rand.Rand, ids []node.ID) []node.ID {
	out := make([]node.ID, len(ids))
	copy(out, ids)
	for i := len(out) - 1; i > 0; i-- {
		j := belowInt(r, i+1)
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// splitmix64 is Vigna's SplitMix64 output function: it spreads correlated
// inputs into well-mixed 64-bit seeds.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// fnv64a hashes a string; FNV-1a is fixed by its spec, so the value is the
// same on every platform and Go release.
func fnv64a(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return h
}

// newStream returns a PCG generator seeded from seed.
func newStream(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, splitmix64(seed)))
}
