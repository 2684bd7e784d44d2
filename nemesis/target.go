package nemesis

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"zoosim/node"
)

// Target is the world a nemesis acts on. The simulator's harness implements
// it over sim.World; the real driver will implement it over processes,
// iptables and friends. It is deliberately small and says nothing of how a
// fault is carried out. The Runner calls it from one goroutine and never
// concurrently; membership (Servers, Clients) must not change while a Runner
// uses it. Every call happens "now": the Target applies it at once.
type Target interface {
	// Servers returns the ensemble's server IDs in increasing order.
	Servers() []node.ID
	// Clients returns the client IDs in increasing order.
	Clients() []node.ID
	// Leader returns the current established leader, or 0 if there is none
	// (an election is running, or servers disagree). It must be a server.
	Leader() node.ID
	// Up reports whether node id is running (not crashed). A paused node is
	// up.
	Up(id node.ID) bool

	// Block drops every message from -> to, including those in flight, until
	// Unblock or Heal. Blocking one direction models a one-way partition.
	Block(from, to node.ID)
	// Unblock restores the link from -> to.
	Unblock(from, to node.ID)
	// SetLinkQuality degrades the link from -> to on top of its normal
	// behaviour; the zero LinkQuality restores the normal behaviour.
	SetLinkQuality(from, to node.ID, q LinkQuality)
	// Heal unblocks every link and restores every link's normal quality.
	Heal()

	// Crash kills node id (a no-op if it is down): it loses its memory and
	// the disk writes it had not synced.
	Crash(id node.ID)
	// Restart starts crashed node id again from what its disk kept (a no-op
	// if it is up).
	Restart(id node.ID)
	// Pause freezes node id like a stopped process: it handles nothing until
	// Resume, while its clock runs on.
	Pause(id node.ID)
	// Resume unfreezes node id; what reached it meanwhile is delivered.
	Resume(id node.ID)
	// SetClock moves node id's clock by jump (negative: backwards) now and
	// sets its drift to driftPPM parts per million from now on (0: none).
	SetClock(id node.ID, jump node.Time, driftPPM int64)
	// SyncLies makes node id's disk syncs report success without making
	// anything durable (lies) or makes them honest again.
	SyncLies(id node.ID, lies bool)
	// CorruptRecord damages one durable record of node id chosen at random
	// by the Target, and says which (for the record, e.g. "log#3"); ok is
	// false if the disk holds no record.
	CorruptRecord(id node.ID) (record string, ok bool)
}

// CrashPointTarget is a Target that can crash a server at a named protocol
// point (see CrashPoints) instead of at a random time. A Target without it
// gets crash-point faults reported as skipped.
type CrashPointTarget interface {
	// ArmCrash makes server id crash the next time it reaches point (with
	// msg naming the message for the message points, "" for any); with a
	// cascade, the leader of that moment crashes cascade later.
	ArmCrash(id node.ID, point, msg string, cascade node.Time)
	// DisarmCrash removes the armed point and reports whether it was still
	// armed (false: it fired, or a crash cleared it) and which leader its
	// cascade crashed (0: none).
	DisarmCrash(id node.ID) (armed bool, cascaded node.ID)
}

// LagTarget is a Target that can slow one server down so that it trails
// the others, and move clients onto it. A Target without it gets lag
// faults reported as skipped.
type LagTarget interface {
	// SetLag makes server id's disk syncs and every message to and from it
	// up to lag slower; 0 restores it.
	SetLag(id node.ID, lag node.Time)
	// MoveClient makes client c drop its connection and connect to server
	// s; it reports false if the client could not move (its session is
	// over, or it is there already).
	MoveClient(c, s node.ID) bool
}

// LimitedTarget is a Target that cannot carry out every fault: a world of
// real processes cannot skew a process's clock without privileges, and
// Apache ZooKeeper's disk cannot be made to lie. Before it starts a fault
// (remedies too), the Runner asks Supports; a fault it refuses is recorded
// as skipped with the reason why gives, never applied halfway. Supports
// must answer from the fault alone (its kind, pick and fixed nodes), not
// from the world's state, so that the same schedule skips the same faults
// on every run. The simulator's Target does not implement it.
type LimitedTarget interface {
	Supports(f Fault) (ok bool, why string)
}

// LinkQuality is how much worse than normal a link behaves. The zero value
// is a normal link.
type LinkQuality struct {
	// LossProb drops a message, DupProb delivers it twice, ReorderProb lets
	// later messages overtake it. Each is in [0, 1].
	LossProb, DupProb, ReorderProb float64
	// ExtraLatency is added to every message's delay.
	ExtraLatency node.Time

	_ struct{}
}

// IsZero reports whether q leaves a link normal.
func (q LinkQuality) IsZero() bool { return q == LinkQuality{} }

// worst combines two qualities that hold at once, field by field.
func worst(a, b LinkQuality) LinkQuality {
	return LinkQuality{
		LossProb:     max(a.LossProb, b.LossProb),
		DupProb:      max(a.DupProb, b.DupProb),
		ReorderProb:  max(a.ReorderProb, b.ReorderProb),
		ExtraLatency: max(a.ExtraLatency, b.ExtraLatency),
	}
}

func (q LinkQuality) String() string {
	var parts []string
	if q.LossProb > 0 {
		parts = append(parts, "loss "+fmtPercent(q.LossProb))
	}
	if q.DupProb > 0 {
		parts = append(parts, "dup "+fmtPercent(q.DupProb))
	}
	if q.ReorderProb > 0 {
		parts = append(parts, "reorder "+fmtPercent(q.ReorderProb))
	}
	if q.ExtraLatency > 0 {
		parts = append(parts, "+"+fmtTime(q.ExtraLatency))
	}
	if len(parts) == 0 {
		return "normal"
	}
	return strings.Join(parts, " ")
}

// fmtTime prints a time or duration the way Go prints a time.Duration
// ("1.5s", "250ms"): stable, exact, and parsed back by time.ParseDuration.
// It is pure formatting; no clock is read.
func fmtTime(t node.Time) string { return time.Duration(t).String() }

// fmtSigned prints a duration with an explicit sign.
func fmtSigned(t node.Time) string {
	if t >= 0 {
		return "+" + fmtTime(t)
	}
	return fmtTime(t)
}

func fmtPercent(p float64) string {
	return strconv.FormatFloat(p*100, 'g', 4, 64) + "%"
}

func fmtIDs(ids []node.ID) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(int(id)))
	}
	b.WriteByte(']')
	return b.String()
}

func fmtPPM(ppm int64) string { return fmt.Sprintf("%+dppm", ppm) }
