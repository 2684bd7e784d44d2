package sim

import "math/bits"

// eventKind says what a queued event does when it fires.
type eventKind uint8

const (
	// evDeliver hands an in-flight message (ref = slot in World.msgs) to
	// its receiver.
	evDeliver eventKind = iota + 1
	// evTimer fires node ref's timer if gen still equals its timer
	// generation (lazy cancellation: a cancelled timer stays queued and is
	// ignored when it pops).
	evTimer
	// evSyncDone completes node ref's disk sync if gen still equals its
	// incarnation (a crash cancels the sync).
	evSyncDone
	// evStart performs the first Ready of node ref, incarnation gen.
	evStart
	// evAction runs harness callback ref (slot in World.actions).
	evAction
	// evService hands node ref (incarnation gen) the next message waiting
	// for its CPU (see SetServiceTime).
	evService
)

const kindBits = 8

// event is one entry of the queue. It is a small value type so that the heap
// moves 24 bytes per swap and pushing or popping never allocates.
type event struct {
	at Time
	// key is seq<<kindBits | kind. seq is unique and increases with every
	// push, so ordering by key orders events at the same time by insertion.
	key uint64
	ref uint32
	gen uint32
}

func (e *event) kind() eventKind { return eventKind(e.key & (1<<kindBits - 1)) }

// before is the queue order: virtual time, then sequence number. It is a
// total order because sequence numbers are unique.
func (e *event) before(o *event) bool { return e.beforeBit(o) != 0 }

// beforeBit is before as 0 or 1, computed without branches: (at, key) is
// compared as one 128-bit number by subtracting with borrow (event times are
// never negative, so unsigned order is time order). Heap comparisons on
// random times are coin flips a branch predictor cannot learn; this keeps
// them off the pipeline's critical path.
func (e *event) beforeBit(o *event) uint64 {
	_, borrow := bits.Sub64(e.key, o.key, 0)
	_, borrow = bits.Sub64(uint64(e.at), uint64(o.at), borrow)
	return borrow
}

// eventQueue is a binary min-heap of events. It is hand-written rather than
// container/heap so that events stay values (no interface boxing) and the
// sift loops move a hole instead of swapping.
type eventQueue struct {
	ev []event
}

func (q *eventQueue) len() int { return len(q.ev) }

// peek returns the earliest event; the queue must not be empty.
func (q *eventQueue) peek() *event { return &q.ev[0] }

func (q *eventQueue) push(e event) {
	q.ev = append(q.ev, e)
	// Sift up: move parents down into the hole until e fits.
	i := len(q.ev) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !e.before(&q.ev[p]) {
			break
		}
		q.ev[i] = q.ev[p]
		i = p
	}
	q.ev[i] = e
}

// pop removes and returns the earliest event; the queue must not be empty.
// It uses Floyd's bottom-up deletion: the hole left by the root walks down
// the path of smaller children to a leaf (one comparison per level), then the
// last element sifts up from there, which is usually a step or two because it
// came from the bottom. That is fewer comparisons than the textbook sift-down.
func (q *eventQueue) pop() event {
	top := q.ev[0]
	n := len(q.ev) - 1
	last := q.ev[n]
	ev := q.ev[:n]
	q.ev = ev
	if n == 0 {
		return top
	}
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n {
			c += int(ev[c+1].beforeBit(&ev[c])) // the smaller child, branch-free
		}
		ev[i] = ev[c]
		i = c
	}
	for i > 0 {
		p := (i - 1) / 2
		if !last.before(&ev[p]) {
			break
		}
		ev[i] = ev[p]
		i = p
	}
	ev[i] = last
	return top
}
