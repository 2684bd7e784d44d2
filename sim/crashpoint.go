package sim

import (
	"fmt"
	"math/rand/v2"

	"zoosim/node"
)

// Crash points. A crash at a random time almost never lands in the few
// microseconds that matter to a protocol: between two disk writes of one
// batch, after a write and before its sync, after the sync and before the
// messages that depend on it leave, right after a given message arrived or
// left. An armed crash point makes the world crash the node exactly there,
// the next time the node passes it.

// CrashPointKind says where an armed crash point fires.
type CrashPointKind uint8

const (
	// CrashBetweenDiskOps fires inside a Ready with at least two disk ops:
	// some of them are written, the rest are not, nothing is synced or
	// sent.
	CrashBetweenDiskOps CrashPointKind = iota + 1
	// CrashBeforeSync fires once a Ready that asks for a sync has written
	// its ops and requested the sync: the writes may be lost, its messages
	// never leave.
	CrashBeforeSync
	// CrashAfterSync fires when a sync completes: the data is durable, the
	// messages waiting for it never leave.
	CrashAfterSync
	// CrashOnReceive fires right after the node handled a message named
	// Msg (and performed the Ready that followed).
	CrashOnReceive
	// CrashOnSend fires right after the node put a message named Msg on
	// the wire.
	CrashOnSend
)

var crashPointNames = [...]string{
	CrashBetweenDiskOps: "between-disk-ops", CrashBeforeSync: "before-sync",
	CrashAfterSync: "after-sync", CrashOnReceive: "on-receive", CrashOnSend: "on-send",
}

func (k CrashPointKind) String() string {
	if int(k) < len(crashPointNames) && crashPointNames[k] != "" {
		return crashPointNames[k]
	}
	return fmt.Sprintf("CrashPointKind(%d)", k)
}

// ParseCrashPointKind is the inverse of String.
func ParseCrashPointKind(s string) (CrashPointKind, error) {
	for k, name := range crashPointNames {
		if name != "" && name == s {
			return CrashPointKind(k), nil
		}
	}
	return 0, fmt.Errorf("sim: unknown crash point %q (between-disk-ops, before-sync, after-sync, on-receive, on-send)", s)
}

// CrashPoint is where a node is to crash.
type CrashPoint struct {
	Kind CrashPointKind
	// Msg names the message kind (node.MsgName) for CrashOnReceive and
	// CrashOnSend; "" matches any message.
	Msg string
}

func (p CrashPoint) String() string {
	if p.Msg != "" {
		return p.Kind.String() + ":" + p.Msg
	}
	return p.Kind.String()
}

// ArmCrash makes node id crash at point p, once, the next time it gets
// there; a point armed before replaces it. It panics on an invalid point.
func (w *World) ArmCrash(id node.ID, p CrashPoint) {
	w.checkNotInMachine("ArmCrash")
	if p.Kind < CrashBetweenDiskOps || p.Kind > CrashOnSend {
		panic(fmt.Sprintf("sim: ArmCrash: invalid crash point kind %d", p.Kind))
	}
	if p.Msg != "" && p.Kind != CrashOnReceive && p.Kind != CrashOnSend {
		panic(fmt.Sprintf("sim: ArmCrash: %s takes no message name", p.Kind))
	}
	n := w.mustNode(id)
	n.crashPoint, n.crashArmed = p, true
	w.fold(TraceCrashArm, id, 0, uint64(p.Kind), fnv64a(p.Msg))
	if w.tracer != nil {
		w.tracer(TraceEvent{Time: w.now, Kind: TraceCrashArm, Node: id, N: int64(p.Kind), File: p.Msg})
	}
}

// DisarmCrash removes node id's armed crash point and reports whether one
// was still armed (false: it fired, or none was armed).
func (w *World) DisarmCrash(id node.ID) bool {
	n := w.mustNode(id)
	was := n.crashArmed
	n.crashArmed = false
	return was
}

// SetCrashHook registers fn to be called whenever a node is about to crash
// (by Crash, or at a crash point: atPoint), before its core is dropped: a
// harness reads what it needs from the dying core there. fn may schedule
// callbacks (At, After) but must not otherwise drive the world.
func (w *World) SetCrashHook(fn func(id node.ID, atPoint bool)) { w.crashHook = fn }

// atCrashPoint reports whether n's armed point is of kind k (and matches
// msg for the message kinds) and, if so, crashes n there.
func (w *World) atCrashPoint(n *nodeState, k CrashPointKind, body any) bool {
	if !n.crashArmed || n.crashPoint.Kind != k || !n.up {
		return false
	}
	if k == CrashOnReceive || k == CrashOnSend {
		if want := n.crashPoint.Msg; want != "" && node.MsgName(body) != want {
			return false
		}
	}
	n.crashArmed = false
	w.stats.CrashPoints++
	w.crash(n, true)
	return true
}

// crashSplit draws how many of a Ready's disk ops are written before a
// between-disk-ops crash: at least one, never all.
func (w *World) crashSplit(ops int) int {
	if w.crashRand == nil {
		w.crashRand = w.Stream("crash-points")
	}
	return 1 + uniformInt(w.crashRand, ops-1)
}

func uniformInt(r *rand.Rand, n int) int { return int(r.Uint64N(uint64(n))) }
