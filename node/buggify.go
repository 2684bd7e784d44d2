package node

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Buggify forces rare branches on purpose (FoundationDB's BUGGIFY): at a
// named point a core asks Fire, and takes the rare but legal branch (send a
// snapshot where a diff would do, take a snapshot now, drop a connection
// right after a handshake step) when it says yes. Code under such a point
// must be correct either way: the point only makes a path that real
// systems take seldom (after a crash, under load) common in simulation.
//
// A nil *Buggify never fires. The real driver passes none; the simulator
// passes one per node incarnation, drawing from the node's own seeded
// stream, with the points a run switched on (a BuggifyPlan).
type Buggify struct {
	plan *BuggifyPlan
	rnd  *rand.Rand
}

// Fire reports whether the rare branch at point is taken now: never if the
// point is off in this run, else with probability permille/1000.
func (b *Buggify) Fire(point string, permille int) bool {
	if b == nil || !b.plan.On(point) {
		return false
	}
	if b.rnd.IntN(1000) >= permille {
		return false
	}
	b.plan.fired[point]++
	return true
}

// BuggifyPlan is one run's choice of points: which are on, and how often
// each fired (for the run's report). It is shared by every node of a world.
type BuggifyPlan struct {
	on    []string // sorted
	fired map[string]int
}

// NewBuggifyPlan switches on the named points.
func NewBuggifyPlan(points []string) *BuggifyPlan {
	on := slices.Clone(points)
	slices.Sort(on)
	on = slices.Compact(on)
	return &BuggifyPlan{on: on, fired: map[string]int{}}
}

// On reports whether point is switched on.
func (p *BuggifyPlan) On(point string) bool {
	if p == nil {
		return false
	}
	_, ok := slices.BinarySearch(p.on, point)
	return ok
}

// Points returns the points switched on, sorted.
func (p *BuggifyPlan) Points() []string {
	if p == nil {
		return nil
	}
	return slices.Clone(p.on)
}

// Fired returns how often each point fired, as "point=n" sorted by point.
func (p *BuggifyPlan) Fired() []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, name := range p.on {
		if n := p.fired[name]; n > 0 {
			out = append(out, name+"="+strconv.Itoa(n))
		}
	}
	return out
}

// For returns the Buggify of one node incarnation, drawing from rnd.
func (p *BuggifyPlan) For(rnd *rand.Rand) *Buggify {
	if p == nil || len(p.on) == 0 {
		return nil
	}
	return &Buggify{plan: p, rnd: rnd}
}

// String lists the points switched on, comma-separated ("none" if none).
func (p *BuggifyPlan) String() string {
	if p == nil || len(p.on) == 0 {
		return "none"
	}
	return strings.Join(p.on, ",")
}

// Named is implemented by message bodies that can say what kind of message
// they are ("proposal", "sync/snap", "ack/newleader"): crash points and
// readable traces use the name. It must be cheap and must not allocate.
type Named interface {
	MsgName() string
}

// MsgName returns the name of body's message kind, or "" if it has none.
func MsgName(body any) string {
	if n, ok := body.(Named); ok {
		return n.MsgName()
	}
	return ""
}
