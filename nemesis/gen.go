package nemesis

import (
	"slices"

	"pgregory.net/rapid"
)

// Gen returns a rapid generator of schedules within opts: one to
// opts.MaxFaults faults of the usable kinds (remedies included), each
// symbolic (picks and counts, never node IDs) at a whole millisecond in
// [opts.Quiet, opts.Duration). rapid draws the schedule as data, so when a
// property fails it shrinks it: it removes faults, moves them towards
// opts.Quiet, and simplifies each toward index 0 of every choice (the
// default pick, a count of 1, the smallest magnitude). Every schedule it
// draws passes Validate(opts.Servers, opts.Clients). It panics if opts is
// invalid.
func Gen(opts SwarmOptions) *rapid.Generator[Schedule] {
	opts.check()
	kinds := opts.usable()
	if len(kinds) == 0 {
		return rapid.Just(Schedule{})
	}
	quietMs := int(opts.Quiet / ms(1))
	windowMs := int((opts.Duration - opts.Quiet) / ms(1))
	fault := rapid.Custom(func(t *rapid.T) Fault {
		d := rapidDrawer{t}
		at := ms(quietMs + d.intn(max(1, windowMs), "at ms"))
		if at < opts.Quiet { // Quiet is not a whole millisecond: round up
			at += ms(1)
		}
		k := kinds[d.intn(len(kinds), "kind")]
		f := drawFault(d, k, opts, 75, slices.Contains(kinds, CrashLeader))
		f.At = at
		return f
	})
	return rapid.Custom(func(t *rapid.T) Schedule {
		s := Schedule(rapid.SliceOfN(fault, 1, opts.maxFaults()).Draw(t, "faults"))
		s.Sort()
		return s
	})
}

type rapidDrawer struct{ t *rapid.T }

func (d rapidDrawer) intn(n int, label string) int { return rapid.IntRange(0, n-1).Draw(d.t, label) }
