package sim

import (
	"fmt"
	"io"
	"math/bits"

	"zoosim/node"
)

// The trace. Every event folds its fields into a 64-bit rolling hash, which
// is the determinism canary: the same seed must give the same hash on every
// machine. Folding is a few multiplications and never allocates. A readable
// trace exists only when a tracer is set; formatting happens only then.

// TraceKind names a trace event.
type TraceKind uint8

const (
	TraceSend        TraceKind = iota + 1 // a message went on the wire (N: arrival time)
	TraceDuplicate                        // the link made a second copy (N: its arrival time)
	TraceDeliver                          // a message reached its receiver's core (N: receiver's local time)
	TraceDrop                             // a message was lost (Reason)
	TraceHold                             // a message reached a paused receiver and waits for Resume
	TraceTimer                            // a timer fired (N: local time, M: the WakeAt asked for)
	TraceDisk                             // a disk op was written (Op, File, N: Truncate's count, M: data length)
	TraceSync                             // a sync started (N: completion time, M: unsynced ops)
	TraceSyncDone                         // a sync completed (N: op number made durable, M: 1 if it lied)
	TraceStart                            // a node was added and built (N: local time)
	TraceCrash                            // a node crashed (N: unsynced ops lost, M: held messages lost)
	TraceRestart                          // a node was rebuilt after a crash (N: local time, M: restart count)
	TracePause                            // a node was paused
	TraceResume                           // a node was resumed (N: held messages delivered)
	TraceClock                            // a node's clock changed (N: offset jump, M: drift ppm)
	TraceAction                           // a harness callback ran
	TraceLink                             // links changed (N: 1 block, 2 unblock, 3 all params, 4 link params, 5 isolate, 6 heal)
	TraceCorrupt                          // a durable record was damaged (File, N: index)
	TraceSyncLies                         // a disk started or stopped lying about syncs (N: 1 lies)
	TraceCrashArm                         // a crash point was armed (N: its kind, File: the message name)
	TraceDiskLatency                      // a node's sync latency changed (N: min, M: max)
)

var traceKindNames = [...]string{
	TraceSend: "send", TraceDuplicate: "duplicate", TraceDeliver: "deliver", TraceDrop: "drop",
	TraceHold: "hold", TraceTimer: "timer", TraceDisk: "disk", TraceSync: "sync",
	TraceSyncDone: "sync-done", TraceStart: "start", TraceCrash: "crash", TraceRestart: "restart",
	TracePause: "pause", TraceResume: "resume", TraceClock: "clock", TraceAction: "action",
	TraceLink: "link", TraceCorrupt: "corrupt", TraceSyncLies: "sync-lies", TraceCrashArm: "crash-arm", TraceDiskLatency: "disk-latency",
}

func (k TraceKind) String() string {
	if int(k) < len(traceKindNames) && traceKindNames[k] != "" {
		return traceKindNames[k]
	}
	return fmt.Sprintf("TraceKind(%d)", k)
}

// TraceEvent is one readable trace entry, built only when a tracer is set.
// The meaning of N and M depends on Kind (see the TraceKind constants).
type TraceEvent struct {
	Time   Time // global virtual time
	Kind   TraceKind
	Node   node.ID // where it happened (the sender for messages)
	Peer   node.ID // the receiver for messages
	Reason DropReason
	Body   any // message body
	Op     node.DiskOpKind
	File   string
	N, M   int64

	_ struct{}
}

func (e TraceEvent) String() string {
	switch e.Kind {
	case TraceSend, TraceDuplicate, TraceDeliver, TraceHold:
		return fmt.Sprintf("%d %s %d->%d %v n=%d", e.Time, e.Kind, e.Node, e.Peer, e.Body, e.N)
	case TraceDrop:
		return fmt.Sprintf("%d drop(%s) %d->%d %v", e.Time, e.Reason, e.Node, e.Peer, e.Body)
	case TraceDisk:
		return fmt.Sprintf("%d disk n%d %s %q n=%d len=%d", e.Time, e.Node, e.Op, e.File, e.N, e.M)
	case TraceCorrupt:
		return fmt.Sprintf("%d corrupt n%d %q[%d]", e.Time, e.Node, e.File, e.N)
	case TraceLink:
		return fmt.Sprintf("%d link %d->%d op=%d", e.Time, e.Node, e.Peer, e.N)
	}
	return fmt.Sprintf("%d %s n%d n=%d m=%d", e.Time, e.Kind, e.Node, e.N, e.M)
}

// SetTracer makes the world call fn with every event from now on (nil stops
// it). The hash is the same with or without a tracer.
func (w *World) SetTracer(fn func(TraceEvent)) { w.tracer = fn }

// TraceWriter returns a tracer that writes one line per event to out.
func TraceWriter(out io.Writer) func(TraceEvent) {
	return func(e TraceEvent) { fmt.Fprintln(out, e.String()) }
}

// TraceHash returns the rolling hash of every event so far.
func (w *World) TraceHash() uint64 { return w.hash }

// mixWord folds one 64-bit word into h: multiply by an odd constant (a
// bijection that spreads low bits upward) and fold the high half back down.
func mixWord(h, v uint64) uint64 {
	h = (h ^ v) * 0x9e3779b97f4a7c15
	return h ^ h>>32
}

// fold adds one event to the hash: the time, the kind and the two nodes in
// one word (IDs are below 1<<16), and two kind-specific words. The four
// words are first combined with independent multiplications by distinct odd
// constants (which the CPU overlaps) and only the result goes through the
// serial mixing chain, so an event costs about one multiply of latency.
func (w *World) fold(k TraceKind, a, b node.ID, x, y uint64) {
	v := uint64(w.now)*0x9e3779b97f4a7c15 ^
		(uint64(k)|uint64(uint32(a))<<8|uint64(uint32(b))<<32)*0xc2b2ae3d27d4eb4f ^
		x*0x165667b19e3779f9 ^
		bits.RotateLeft64(y*0xd6e8feb86659fd93, 32)
	w.hash = mixWord(bits.RotateLeft64(w.hash, 23), v)
}

// bodyHash is the message body's own hash if it offers one.
func bodyHash(body any) uint64 {
	if h, ok := body.(node.TraceHasher); ok {
		return h.TraceHash()
	}
	return 0
}

func (w *World) traceMsg(k TraceKind, reason DropReason, from, to node.ID, body any, n int64) {
	w.fold(k, from, to, uint64(reason)|uint64(n)<<8, bodyHash(body))
	if w.tracer != nil {
		w.tracer(TraceEvent{Time: w.now, Kind: k, Node: from, Peer: to, Reason: reason, Body: body, N: n})
	}
}
