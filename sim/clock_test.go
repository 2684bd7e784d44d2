package sim

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"zoosim/node"
)

func TestClock_LocalAndInverse(t *testing.T) {
	tests := []struct {
		name       string
		c          clock
		g          Time // global
		wantLocal  Time
		l          Time // a local deadline
		wantGlobal Time // first global >= now(0) reading >= l
	}{
		{"no drift", clock{0, 0, ppmScale}, 1_000, 1_000, 5_000, 5_000},
		{"offset", clock{0, 500, ppmScale}, 1_000, 1_500, 5_000, 4_500},
		{"100 ppm fast", clock{0, 0, ppmScale + 100}, 1_000_000, 1_000_100, 1_000_100, 1_000_000},
		{"100 ppm fast rounds deadline up", clock{0, 0, ppmScale + 100}, 10_001, 10_002, 1_000_101, 1_000_001},
		{"half speed", clock{0, 0, ppmScale / 2}, 3, 1, 2, 4},
		{"double speed", clock{0, 0, 2 * ppmScale}, 7, 14, 15, 8},
		{"rebased piece", clock{2_000, 10_000, ppmScale - 250_000}, 6_000, 13_000, 13_000, 6_000},
		{"already due", clock{0, 9_000, ppmScale}, 0, 9_000, 100, 0},
		{"beyond time saturates", clock{0, 0, 1}, 0, 0, maxTime - 1, maxTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.wantLocal, tt.c.local(tt.g))
			require.Equal(t, tt.wantGlobal, tt.c.globalAt(tt.c.baseGlobal, tt.l))
		})
	}
}

// TestClock_GlobalAtIsTheExactInverse: the timer fires at the first global
// nanosecond at which the local clock reaches the deadline, never earlier,
// never later.
func TestClock_GlobalAtIsTheExactInverse(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := clock{
			baseGlobal: Time(rapid.Int64Range(0, 1e12).Draw(t, "bg")),
			baseLocal:  Time(rapid.Int64Range(0, 1e12).Draw(t, "bl")),
			rate:       ppmScale + rapid.Int64Range(MinDriftPPM, MaxDriftPPM).Draw(t, "drift"),
		}
		now := c.baseGlobal + Time(rapid.Int64Range(0, 1e10).Draw(t, "since"))
		l := c.local(now) + Time(rapid.Int64Range(-1e6, 1e10).Draw(t, "ahead"))
		g := c.globalAt(now, l)
		require.GreaterOrEqual(t, g, now)
		require.GreaterOrEqual(t, c.local(g), l, "fires too early")
		if g > now {
			require.Less(t, c.local(g-1), l, "fires too late")
		}
		// Reference with plain multiplication (no overflow at these sizes).
		ref := c.baseLocal + Time(int64(g-c.baseGlobal)*c.rate/ppmScale)
		require.Equal(t, ref, c.local(g))
	})
}

// refClock is the test's own model of a node clock: a list of pieces with
// plain int64 arithmetic.
type refClock struct{ pieces []clock }

func (r *refClock) local(g Time) Time {
	p := r.pieces[len(r.pieces)-1]
	return p.baseLocal + Time(int64(g-p.baseGlobal)*p.rate/ppmScale)
}

func (r *refClock) change(g, jump Time, drift int64) {
	l := max(r.local(g)+jump, 0)
	r.pieces = append(r.pieces, clock{baseGlobal: g, baseLocal: l, rate: ppmScale + drift})
}

// maxBefore returns the highest reading the clock had during [from, to), or
// -1 if the interval is empty. Each piece is monotone, so its maximum over a
// stretch is at the stretch's last instant.
func (r *refClock) maxBefore(from, to Time) Time {
	best := Time(-1)
	for i, p := range r.pieces {
		end := maxTime
		if i+1 < len(r.pieces) {
			end = r.pieces[i+1].baseGlobal
		}
		lo, hi := max(from, p.baseGlobal), min(to, end)
		if lo < hi {
			best = max(best, p.baseLocal+Time(int64(hi-1-p.baseGlobal)*p.rate/ppmScale))
		}
	}
	return best
}

type clockChange struct {
	at    Time
	jump  Time
	drift int64
}

func TestClock_TimersFireAtTheRightGlobalTime(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const end = 300 * node.Millisecond
		delays := rapid.SliceOfN(rapid.Int64Range(1, 30_000_000), 5, 40).Draw(t, "delays")
		changes := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) clockChange {
			c := clockChange{at: Time(rapid.Int64Range(0, int64(end)).Draw(t, "at"))}
			if rapid.Bool().Draw(t, "jumps") {
				c.jump = Time(rapid.Int64Range(-20_000_000, 20_000_000).Draw(t, "jump"))
			}
			c.drift = rapid.Int64Range(-500_000, MaxDriftPPM).Draw(t, "drift")
			return c
		}), 0, 10).Draw(t, "changes")

		ref := &refClock{pieces: []clock{newClock(0)}}
		next := 0
		armedAt := Time(0)
		w, get := probeWorld(Config{Seed: 1}, 1, func(p *probe) {
			p.out.WakeAt = p.env.Now + Time(delays[0])
			next = 1
			p.onTick = func(p *probe, now Time) {
				g := p.w.Now()
				require.Equal(t, ref.local(g), now, "the local reading at global %d", g)
				require.GreaterOrEqual(t, now, p.out.WakeAt, "fired before its deadline")
				require.Less(t, ref.maxBefore(armedAt, g), p.out.WakeAt,
					"fired at %d, but the clock reached %d earlier", g, p.out.WakeAt)
				armedAt = g
				p.out.WakeAt = 0
				if next < len(delays) {
					p.out.WakeAt = now + Time(delays[next])
					next++
				}
			}
		})
		for _, c := range changes {
			w.At(c.at, func() {
				w.SetClock(1, c.jump, c.drift)
				ref.change(w.Now(), c.jump, c.drift)
				require.Equal(t, ref.local(w.Now()), w.LocalTime(1))
			})
		}
		w.Run(end)
		p := get(1)
		require.NotEmpty(t, p.ticks)
		if p.out.WakeAt != 0 {
			require.Less(t, ref.maxBefore(armedAt, end+1), p.out.WakeAt, "a due timer never fired")
		}
	})
}

func TestClock_LocalTimeNeverGoesBackUnderDrift(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w, _ := probeWorld(Config{Seed: 1}, 1, nil)
		ref := &refClock{pieces: []clock{newClock(0)}}
		last := w.LocalTime(1)
		for range rapid.IntRange(1, 100).Draw(t, "steps") {
			w.At(w.Now()+Time(rapid.Int64Range(0, 1e9).Draw(t, "advance")), func() {})
			w.Run(maxTime)
			if rapid.Bool().Draw(t, "change") {
				d := rapid.Int64Range(MinDriftPPM, MaxDriftPPM).Draw(t, "drift")
				w.SetClock(1, 0, d)
				ref.change(w.Now(), 0, d)
			}
			now := w.LocalTime(1)
			require.GreaterOrEqual(t, now, last, "local time went back without a jump")
			require.Equal(t, ref.local(w.Now()), now)
			last = now
		}
	})
}

func TestClock_NegativeJumpGoesBackButNotBelowZero(t *testing.T) {
	w, _ := probeWorld(Config{Seed: 1}, 1, nil)
	w.At(10*node.Millisecond, func() {})
	w.Run(maxTime)
	w.SetClock(1, -4*node.Millisecond, 0)
	require.Equal(t, 6*node.Millisecond, w.LocalTime(1))
	w.SetClock(1, -time1h, 0)
	require.Equal(t, Time(0), w.LocalTime(1))
	require.Panics(t, func() { w.SetClock(1, 0, MaxDriftPPM+1) })
	require.Panics(t, func() { w.SetClock(1, 0, MinDriftPPM-1) })
}

const time1h = 3600 * node.Second

func TestClock_TimerRemappedWhenClockJumps(t *testing.T) {
	w, get := probeWorld(Config{Seed: 1}, 1, func(p *probe) { p.out.WakeAt = 10 * node.Millisecond })
	w.At(2*node.Millisecond, func() { w.SetClock(1, 5*node.Millisecond, 0) }) // deadline now 3 ms away
	w.Run(maxTime)
	require.Len(t, get(1).ticks, 1)
	require.Equal(t, 5*node.Millisecond, get(1).ticks[0].global)
	require.Equal(t, 10*node.Millisecond, get(1).ticks[0].local)

	w, get = probeWorld(Config{Seed: 1}, 1, func(p *probe) { p.out.WakeAt = 10 * node.Millisecond })
	w.At(8*node.Millisecond, func() { w.SetClock(1, -5*node.Millisecond, 0) }) // reads 3 ms: deadline 7 ms away
	w.Run(maxTime)
	require.Len(t, get(1).ticks, 1)
	require.Equal(t, 15*node.Millisecond, get(1).ticks[0].global)
}
