package nemesis

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"zoosim/node"
)

// SwarmOptions bound what Swarm and Gen may draw.
type SwarmOptions struct {
	// Duration is the length of the safety phase: every fault starts before
	// it. Required.
	Duration node.Time
	// Quiet is the fault-free start of the run, to let the ensemble elect a
	// leader. Every fault starts at or after it; it must be below Duration.
	Quiet node.Time
	// Servers and Clients are the world's size (Servers >= 1).
	Servers, Clients int
	// Kinds are the kinds a run may use (see ParseKinds). Nil means every
	// kind; an empty non-nil slice means none. Kinds the world is too small
	// for (a ring of 3, a client cut without clients) are left out.
	Kinds []Kind
	// MaxFaults bounds a schedule's length; 0 means one fault per 500 ms of
	// the window between Quiet and Duration, at least 1, at most 1000.
	MaxFaults int
	// CrashMessages are the message names crash points on receipt or send
	// may name (the engine's protocol steps); empty: such points match any
	// message.
	CrashMessages []string
	// Always are kinds every schedule enables, whatever the swarm draws
	// for the others: a scenario aimed at one interleaving (a lagging
	// follower and a leader crash) keeps both in every seed.
	Always []Kind
	// Intense makes every schedule use the densest intensity (a fault
	// every 500 ms to 1.5 s) instead of drawing one.
	Intense bool

	_ struct{}
}

func (o SwarmOptions) check() {
	bad := func(format string, args ...any) {
		panic("nemesis: invalid SwarmOptions: " + fmt.Sprintf(format, args...))
	}
	switch {
	case o.Servers < 1 || o.Clients < 0:
		bad("%d servers and %d clients", o.Servers, o.Clients)
	case o.Quiet < 0 || o.Duration < o.Quiet+node.Millisecond || o.Duration > MaxAt:
		bad("quiet %s and duration %s: want 0 <= quiet, quiet + 1ms <= duration <= %s", fmtTime(o.Quiet), fmtTime(o.Duration), fmtTime(MaxAt))
	case o.MaxFaults < 0 || o.MaxFaults > MaxFaultsTotal:
		bad("MaxFaults %d", o.MaxFaults)
	}
	for _, k := range o.Kinds {
		if !k.Valid() {
			bad("unknown kind %q", k)
		}
	}
	for _, k := range o.Always {
		if !k.Valid() || k.Remedy() {
			bad("always-enabled kind %q is not a fault kind", k)
		}
	}
}

// usable returns the allowed kinds the world is big enough for, in
// canonical order.
func (o SwarmOptions) usable() []Kind {
	allowed := allKinds
	if o.Kinds != nil {
		allowed = sortKinds(o.Kinds)
	}
	var ks []Kind
	for _, k := range allowed {
		sp := specs[k]
		if o.Servers >= sp.minServers && (!sp.needClient || o.Clients > 0) {
			ks = append(ks, k)
		}
	}
	return ks
}

func (o SwarmOptions) maxFaults() int {
	if o.MaxFaults > 0 {
		return o.MaxFaults
	}
	return int(min(max(1, (o.Duration-o.Quiet)/(500*node.Millisecond)), 1000))
}

// SwarmConfig is what one seed chose: the fault kinds it enabled with their
// relative rates, how densely faults come and how often they undo
// themselves. A run prints it with its seed.
type SwarmConfig struct {
	// Kinds are the enabled fault kinds in canonical order; Weights their
	// relative rates (1–4), index by index.
	Kinds   []Kind
	Weights []int
	// Remedies are the remedy kinds (heal, restart, resume) the options
	// allow; Swarm uses them to end faults that do not end themselves.
	Remedies []Kind
	// GapMin and GapMax bound the time between one fault and the next.
	GapMin, GapMax node.Time
	// SelfHealPercent is how often a fault that can undo itself (a
	// partition, a crash, a pause, ...) gets a Duration.
	SelfHealPercent int

	_ struct{}
}

func (c SwarmConfig) String() string {
	if len(c.Kinds) == 0 {
		return "swarm: no faults"
	}
	kinds := make([]string, len(c.Kinds))
	for i, k := range c.Kinds {
		kinds[i] = fmt.Sprintf("%s:%d", k, c.Weights[i])
	}
	remedies := "none"
	if len(c.Remedies) > 0 {
		remedies = joinKinds(c.Remedies)
	}
	return fmt.Sprintf("swarm: kinds %s; remedies %s; a fault every %s–%s; %d%% undo themselves",
		strings.Join(kinds, " "), remedies, fmtTime(c.GapMin), fmtTime(c.GapMax), c.SelfHealPercent)
}

// Intensities a seed chooses from: the gap between faults, in ms.
var swarmGaps = [][2]int{{500, 1500}, {1000, 3000}, {2000, 5000}}

var swarmSelfHeal = []int{60, 75, 90}

// Swarm draws a schedule from rnd with swarm testing: it enables a random
// non-empty subset of the usable non-remedy kinds, each at a random rate, and
// a random intensity, then fills the window from opts.Quiet to
// opts.Duration with faults spaced by that intensity. Most faults that can
// undo themselves do; of those that do not, about half get a remedy later
// (a heal, a restart, a resume) when the options allow one. When crash-leader
// is enabled too, half the crash points cascade: the leader crashes 5–500
// ms after the point fired, while the window it opened is still open. Crashes and
// pauses of random servers take a minority at a time (crash-all exists for
// the rest). A rolling crash is a story of its own: the next fault starts
// a gap after it ends, not after it starts. All times are whole milliseconds. The same rnd state gives the
// same result. It panics if opts is invalid.
func Swarm(rnd *rand.Rand, opts SwarmOptions) (Schedule, SwarmConfig) {
	opts.check()
	var cands []Kind
	var cfg SwarmConfig
	for _, k := range opts.usable() {
		switch {
		case k == HealAll: // the harness's job (Runner.HealAll), not a follow-up
		case k.Remedy():
			cfg.Remedies = append(cfg.Remedies, k)
		default:
			cands = append(cands, k)
		}
	}
	if len(cands) == 0 {
		return Schedule{}, cfg
	}
	d := rndDrawer{rnd}
	for _, k := range cands {
		if d.intn(2, "enable") == 1 || slices.Contains(opts.Always, k) {
			cfg.Kinds = append(cfg.Kinds, k)
		}
	}
	if len(cfg.Kinds) == 0 {
		cfg.Kinds = []Kind{cands[d.intn(len(cands), "enable one")]}
	}
	total := 0
	for range cfg.Kinds {
		w := 1 + d.intn(4, "weight")
		cfg.Weights = append(cfg.Weights, w)
		total += w
	}
	gap := swarmGaps[d.intn(len(swarmGaps), "intensity")]
	if opts.Intense {
		gap = swarmGaps[0]
	}
	cfg.GapMin, cfg.GapMax = ms(gap[0]), ms(gap[1])
	cfg.SelfHealPercent = swarmSelfHeal[d.intn(len(swarmSelfHeal), "self-heal")]

	s := Schedule{}
	limit := opts.maxFaults()
	drawGap := func() node.Time { return ms(gap[0] + d.intn(gap[1]-gap[0]+1, "gap")) }
	// Bounded: t grows by at least 500 ms per iteration, and len(s) by one.
	for t := opts.Quiet + drawGap(); t < opts.Duration && len(s) < limit; t += drawGap() {
		k := weighted(d, cfg.Kinds, cfg.Weights, total)
		f := drawFault(d, k, opts, cfg.SelfHealPercent, slices.Contains(cfg.Kinds, CrashLeader))
		f.At = t
		s = append(s, f)
		if k == RollingCrash {
			// A rolling crash is a story of its own: the next fault comes
			// after it ended, or the two garble each other.
			t += f.Duration
			continue
		}
		if f.Duration > 0 || len(s) >= limit {
			continue
		}
		if rem, ok := remedyFor(d, f, cfg.Remedies, opts.Servers); ok && d.intn(2, "remedy") == 1 {
			lo, hi := healRange(k)
			rem.At = t + ms(lo+d.intn(hi-lo+1, "remedy delay"))
			if rem.At < opts.Duration {
				s = append(s, rem)
			}
		}
	}
	s.Sort()
	return s, cfg
}

// remedyFor returns a fault that undoes f, among the allowed remedies.
func remedyFor(d drawer, f Fault, remedies []Kind, servers int) (Fault, bool) {
	var opts []Fault
	add := func(k Kind, g Fault) {
		if slices.Contains(remedies, k) {
			g.Kind = k
			opts = append(opts, g)
		}
	}
	switch f.Kind.Family() {
	case FamilyPartition, FamilyClient, FamilyLink:
		add(Heal, Fault{})
	case FamilyCrash:
		restart := Fault{Count: f.Count}
		switch {
		case f.Pick == PickClient:
			restart.Pick = PickClient
		case f.Kind == CrashAll && servers > 1:
			restart.Count = servers
		}
		add(Restart, restart)
		add(RestartAll, Fault{})
	case FamilyPause:
		add(Resume, Fault{Count: f.Count})
		add(ResumeAll, Fault{})
	}
	if len(opts) == 0 {
		return Fault{}, false
	}
	return opts[d.intn(len(opts), "remedy kind")], true
}

func weighted(d drawer, ks []Kind, weights []int, total int) Kind {
	x := d.intn(total, "kind")
	for i, w := range weights {
		if x < w {
			return ks[i]
		}
		x -= w
	}
	panic("nemesis: invariant violated: weighted draw beyond the total")
}

// drawer is a source of choices: a seeded stream (Swarm) or rapid (Gen).
// intn returns a uniform number in [0, n); rapid shrinks it toward 0, so
// index 0 of every choice is its simplest option.
type drawer interface {
	intn(n int, label string) int
}

type rndDrawer struct{ r *rand.Rand }

func (d rndDrawer) intn(n int, _ string) int { return belowInt(d.r, n) }

func ms(n int) node.Time { return node.Time(n) * node.Millisecond }

// healRange is how long, in ms, a fault of kind k lasts before it undoes
// itself (or before its remedy comes).
func healRange(k Kind) (lo, hi int) {
	switch k.Family() {
	case FamilyPartition, FamilyClient:
		return 500, 15_000
	case FamilyCrash:
		return 500, 10_000
	case FamilyPause:
		return 200, 10_000 // from a GC hiccup to well past a session timeout
	case FamilyClock:
		return 1_000, 30_000
	case FamilyLag:
		return 2_000, 20_000
	}
	return 1_000, 20_000
}

// logUniform draws from [lo, hi] so that each decade is as likely as any
// other: small clock jumps and latencies as often as large ones.
func logUniform(d drawer, lo, hi int, label string) int {
	var decades [][2]int
	for b := lo; b <= hi; b *= 10 {
		decades = append(decades, [2]int{b, min(b*10-1, hi)})
	}
	dec := decades[d.intn(len(decades), label+" decade")]
	return dec[0] + d.intn(dec[1]-dec[0]+1, label)
}

// drawFault draws one fault of kind k (without its time) for a world of the
// given size. Everything it chooses is symbolic (picks and counts, never
// node IDs), so the fault stays valid when others are removed.
func drawFault(d drawer, k Kind, opts SwarmOptions, selfHealPercent int, cascade bool) Fault {
	servers, clients := opts.Servers, opts.Clients
	sp := specs[k]
	f := Fault{Kind: k}
	if sp.picks != nil {
		picks := sp.picks
		if clients == 0 {
			picks = slices.DeleteFunc(slices.Clone(picks), func(p Pick) bool { return p == PickClient })
		}
		p := picks[d.intn(len(picks), "pick")]
		if p != sp.picks[0] {
			f.Pick = p
		}
		if sp.count && p.countable() {
			pool := servers
			if p == PickClient {
				pool = clients
			}
			limit := pool
			if k == Crash || k == Pause {
				limit = max(1, (pool-1)/2) // a minority at a time
			}
			if c := 1 + d.intn(limit, "count"); c > 1 {
				f.Count = c
			}
		}
	}
	sign := func(v int, label string) int {
		if d.intn(2, label) == 1 {
			return -v
		}
		return v
	}
	switch sp.param {
	case paramDirection:
		f.Direction = []Direction{DirIn, DirOut}[d.intn(2, "direction")]
	case paramJump:
		// Forward only: ZooKeeper's timers run on a monotonic clock, which
		// never goes back; it leaps forward when a suspended VM resumes.
		f.Jump = ms(logUniform(d, 10, 60_000, "jump ms"))
	case paramDrift:
		f.DriftPPM = int64(sign(logUniform(d, 100, 500_000, "drift ppm"), "drift sign"))
	case paramProb:
		lo, hi := 5, 60
		switch k {
		case LinkDup:
			hi = 40
		case LinkReorder:
			lo = 10
		}
		f.Prob = float64(lo+d.intn(hi-lo+1, "prob percent")) / 100
	case paramLatency:
		f.Latency = ms(logUniform(d, 5, 2_000, "latency ms"))
	case paramPoint:
		f.Point = CrashPoints[d.intn(len(CrashPoints), "point")]
		if (f.Point == PointOnReceive || f.Point == PointOnSend) && len(opts.CrashMessages) > 0 {
			f.Msg = opts.CrashMessages[d.intn(len(opts.CrashMessages), "message")]
		}
		if cascade && d.intn(2, "cascade") == 1 {
			f.Cascade = ms(5 + d.intn(496, "cascade ms"))
		}
	case paramRoll:
		// The point is a step of the follower's recovery: the receipt or
		// the send of one of the protocol's messages (the points without a
		// message fire at its first disk write, long before the sync).
		if len(opts.CrashMessages) > 0 {
			f.Point = []string{PointOnReceive, PointOnSend}[d.intn(2, "point")]
			f.Msg = opts.CrashMessages[d.intn(len(opts.CrashMessages), "message")]
		} else {
			f.Point = CrashPoints[d.intn(len(CrashPoints), "point")]
		}
		// Its steps come at fractions of its duration, which it always has:
		// the first server is down for 190 ms to 1 s, a few txns to a
		// DIFF's worth, and has 0.56 to 3 s to resync.
		f.Duration = ms(1_500 + d.intn(6_501, "duration ms"))
		return f
	case paramLag:
		// Slow enough to trail by many txns, mostly not so slow that the
		// leader drops the follower (which it may: resync is worth testing).
		f.Latency = ms(50 + d.intn(751, "lag ms"))
		if clients > 0 {
			f.Move = d.intn(clients/2+1, "move")
		}
	}
	if sp.heals && d.intn(100, "self-heal") < selfHealPercent {
		lo, hi := healRange(k)
		f.Duration = ms(lo + d.intn(hi-lo+1, "duration ms"))
	}
	return f
}
