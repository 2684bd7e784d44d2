package sim

import (
	"fmt"
	"math"

	"zoosim/node"
)

// Each node has its own clock: a piecewise-linear function from global
// virtual time to the node's local time. Within a piece, local time advances
// at rate/ppmScale local nanoseconds per global nanosecond, where
// rate = ppmScale + driftPPM. SetClock starts a new piece at the current
// global time, so a drift change is continuous and only an explicit offset
// jump can move local time backwards.

const ppmScale = 1_000_000

// Drift limits. A rate of at least 1 keeps local time strictly monotone
// within a piece and the inverse mapping defined; at most 2x keeps the
// integer math far from overflow for any run shorter than decades.
const (
	MinDriftPPM = -ppmScale + 1
	MaxDriftPPM = ppmScale
)

const maxTime = Time(math.MaxInt64)

type clock struct {
	baseGlobal Time  // global time where the current piece starts
	baseLocal  Time  // local time at baseGlobal
	rate       int64 // ppmScale + driftPPM
}

func newClock(now Time) clock {
	return clock{baseGlobal: now, baseLocal: now, rate: ppmScale}
}

// driftPPM returns the current drift in parts per million.
func (c *clock) driftPPM() int64 { return c.rate - ppmScale }

// local returns the clock's reading at global time g >= c.baseGlobal.
// elapsed*rate/ppmScale is computed as q*rate + r*rate/ppmScale with
// elapsed = q*ppmScale + r, which is exact and cannot overflow in any
// realistic run.
func (c *clock) local(g Time) Time {
	if c.rate == ppmScale {
		return c.baseLocal + g - c.baseGlobal // the common case: no drift
	}
	elapsed := int64(g - c.baseGlobal)
	q, r := elapsed/ppmScale, elapsed%ppmScale
	return c.baseLocal + Time(q*c.rate+r*c.rate/ppmScale)
}

// globalAt returns the first global time >= now at which the clock reads at
// least l. It is the exact inverse of local: with d = l - baseLocal, the
// answer is baseGlobal + ceil(d*ppmScale/rate), computed in the same split
// form. A time beyond the range of Time saturates to maxTime (never).
func (c *clock) globalAt(now, l Time) Time {
	if c.local(now) >= l {
		return now
	}
	d := int64(l - c.baseLocal) // > 0 because local(now) >= baseLocal
	q, r := d/c.rate, d%c.rate
	if q > (int64(maxTime)-int64(c.baseGlobal))/ppmScale-1 {
		return maxTime
	}
	x := q*ppmScale + (r*ppmScale+c.rate-1)/c.rate
	return c.baseGlobal + Time(x)
}

// rebase starts a new piece at global time now with the local reading moved
// by jump (clamped so the reading stays >= 0, because node.Time 0 means "no
// timer" to cores) and the given drift.
func (c *clock) rebase(now, jump Time, driftPPM int64) {
	l := c.local(now) + jump
	if l < 0 {
		l = 0
	}
	c.baseGlobal, c.baseLocal, c.rate = now, l, ppmScale+driftPPM
}

// SetClock changes node id's clock now: its reading jumps by offsetJump
// (negative jumps move it back, which is the fault being modelled) and from
// now on it runs driftPPM parts per million fast (negative: slow). A pending
// timer is re-mapped to the new clock. Local time never goes below 0.
func (w *World) SetClock(id node.ID, offsetJump Time, driftPPM int64) {
	w.checkNotInMachine("SetClock")
	if driftPPM < MinDriftPPM || driftPPM > MaxDriftPPM {
		panic(fmt.Sprintf("sim: SetClock(%d): drift %d ppm outside [%d, %d]", id, driftPPM, MinDriftPPM, MaxDriftPPM))
	}
	n := w.mustNode(id)
	n.clock.rebase(w.now, offsetJump, driftPPM)
	w.stats.ClockChanges++
	w.fold(TraceClock, n.id, 0, uint64(offsetJump), uint64(driftPPM))
	if w.tracer != nil {
		w.tracer(TraceEvent{Time: w.now, Kind: TraceClock, Node: n.id, N: int64(offsetJump), M: driftPPM})
	}
	w.armTimer(n)
}

// LocalTime returns node id's clock reading now.
func (w *World) LocalTime(id node.ID) Time {
	n := w.mustNode(id)
	return n.clock.local(w.now)
}

// DriftPPM returns node id's current clock drift.
func (w *World) DriftPPM(id node.ID) int64 {
	return w.mustNode(id).clock.driftPPM()
}

// Timers. A node has at most one timer request (wakeAt on its own clock,
// replaced by every Ready). The queue holds at most one live timer event per
// node: the one whose gen equals n.timerGen; older ones are cancelled
// lazily and ignored when they pop. Moving a request later, or clearing it,
// leaves the live event in place: it pops early, sees the request is not
// due and re-arms. Only moving it earlier (or a clock change that does) pushes
// a new event. This keeps the queue from filling with stale timers when a
// core pushes its deadline back on every message.

// setWake records the timer request of a Ready.
func (w *World) setWake(n *nodeState, wakeAt Time) {
	if wakeAt == n.wakeAt {
		// Same request as before: if it already fired it stays consumed,
		// so a core that forgets to move its deadline is not ticked in a
		// loop at the same instant.
		return
	}
	n.wakeAt = wakeAt
	n.timerFired = false
	w.armTimer(n)
}

// armTimer makes sure a live timer event exists no later than the global time
// at which n's pending request becomes due.
func (w *World) armTimer(n *nodeState) {
	if n.wakeAt == 0 || n.timerFired || !n.up || n.paused {
		return
	}
	g := n.clock.globalAt(w.now, n.wakeAt)
	if n.timerLive {
		if n.timerAt <= g {
			return // the live event pops first and re-arms
		}
		n.timerGen++ // cancel it lazily
	}
	n.timerLive = true
	n.timerAt = g
	w.push(g, evTimer, uint32(n.idx), n.timerGen)
}

// cancelTimer drops the live timer event (crash, pause).
func (n *nodeState) cancelTimer() {
	n.timerGen++
	n.timerLive = false
}

func (w *World) onTimer(n *nodeState, gen uint32) {
	if gen != n.timerGen || !n.timerLive {
		w.stats.StaleEvents++
		return
	}
	n.timerLive = false
	if n.wakeAt == 0 || n.timerFired {
		return // cleared or already served since the event was queued
	}
	// Invariant: a live timer belongs to an up, unpaused node (crash and
	// pause cancel it).
	if !n.up || n.paused {
		panic(fmt.Sprintf("sim: invariant violated: live timer on node %d that is down or paused", n.id))
	}
	now := n.clock.local(w.now)
	if now < n.wakeAt {
		w.armTimer(n) // the request moved later or the clock slowed down
		return
	}
	n.timerFired = true
	w.stats.Ticks++
	w.fold(TraceTimer, n.id, 0, uint64(now), uint64(n.wakeAt))
	if w.tracer != nil {
		w.tracer(TraceEvent{Time: w.now, Kind: TraceTimer, Node: n.id, N: int64(now), M: int64(n.wakeAt)})
	}
	w.inMachine = true
	n.m.Tick(now)
	w.inMachine = false
	w.drain(n)
}
