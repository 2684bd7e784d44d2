package sim

import (
	"math/bits"
	"math/rand/v2"
)

// Randomness in a run comes from one seed. Every consumer (the network, each
// disk, each node incarnation, the nemesis, the workload) draws from its own
// child stream whose seed is a hash of (run seed, stream name). Streams are
// independent: drawing more or fewer numbers from one never shifts the
// values another sees, so changing a workload does not reshuffle the
// network, and a failing seed stays comparable across small code changes.

// splitmix64 is Vigna's SplitMix64 output function. It turns correlated
// inputs (seed ^ small hash differences) into well-spread 64-bit seeds.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// fnv64a hashes a stream name. FNV-1a is fixed by its spec, so the same name
// gives the same value on every platform and Go release.
func fnv64a(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return h
}

// DeriveSeed returns the seed of the child stream called name of a run
// seeded with seed.
func DeriveSeed(seed uint64, name string) uint64 {
	return splitmix64(seed ^ fnv64a(name))
}

// NewStream returns a fresh PCG generator for the child stream called name
// of a run seeded with seed. Two calls with the same arguments return
// generators that produce the same sequence.
func NewStream(seed uint64, name string) *rand.Rand {
	s := DeriveSeed(seed, name)
	return rand.New(rand.NewPCG(s, splitmix64(s)))
}

// Stream returns the world's child stream called name, creating it on first
// use. The same name always returns the same generator, so consumers that
// share a name share one sequence. The world itself uses "network" and
// "disk/<id>"; nodes get "node/<id>" and, after the k-th restart,
// "node/<id>/<k>". Harness code should pick its own names ("nemesis",
// "workload", ...).
func (w *World) Stream(name string) *rand.Rand {
	if r, ok := w.streams[name]; ok {
		return r
	}
	r := NewStream(w.cfg.Seed, name)
	w.streams[name] = r
	return r
}

// below returns a uniform number in [0, n), n > 0, by Lemire's
// multiply-and-reject over r's raw 64-bit output. sim uses it instead of
// Rand.IntN, Int64N and Uint64N because those take a different 32-bit path
// on 32-bit platforms, and a seed must replay the same on every machine.
func below(r *rand.Rand, n uint64) uint64 {
	hi, lo := bits.Mul64(r.Uint64(), n)
	if lo < n {
		reject := -n % n // 2^64 mod n: the low values that would bias the result
		for lo < reject {
			hi, lo = bits.Mul64(r.Uint64(), n)
		}
	}
	return hi
}

// belowInt is below for int bounds.
func belowInt(r *rand.Rand, n int) int { return int(below(r, uint64(n))) }

// uniform draws a Time uniformly from [lo, hi]; hi <= lo gives lo without
// drawing, so a fixed latency consumes no randomness.
func uniform(r *rand.Rand, lo, hi Time) Time {
	if hi <= lo {
		return lo
	}
	return lo + Time(below(r, uint64(hi-lo)+1)) // hi-lo < 2^63, so no overflow
}

// probScale is the resolution of probabilities: a probability p becomes the
// integer threshold p * 2^53 compared against 53 random bits. Multiplying by
// a power of two is exact, so the comparison is bit-for-bit the same on every
// platform.
const probScale = 1 << 53

// threshold compiles a probability in [0, 1] to an integer threshold.
func threshold(p float64) uint64 {
	switch {
	case p <= 0:
		return 0
	case p >= 1:
		return probScale
	}
	return uint64(p * probScale)
}

// chance reports whether an event with threshold t happens. A probability of
// 0 or 1 draws nothing, so a fault knob that is off costs no randomness.
func chance(r *rand.Rand, t uint64) bool {
	switch t {
	case 0:
		return false
	case probScale:
		return true
	}
	return r.Uint64()>>11 < t
}
