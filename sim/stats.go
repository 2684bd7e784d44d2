package sim

import "fmt"

// DropReason says why a message was not delivered.
type DropReason uint8

const (
	DropLoss            DropReason = iota + 1 // the link lost it (LossProb)
	DropBlocked                               // the link was blocked when it was sent
	DropBlockedInFlight                       // the link was blocked when it arrived
	DropOverflow                              // the link already had MaxInFlight messages in flight
	DropNodeDown                              // the receiver was down, or had restarted since the send
	DropUnknownNode                           // no node has the destination ID
	DropPausedOverflow                        // the receiver was paused and its held inbox was full
	DropCrashInbox                            // held for a paused receiver that then crashed
	DropCrashOutbox                           // held behind the sender's sync barrier when it crashed
	NumDropReasons                            // the size of Stats.Dropped
)

var dropReasonNames = [...]string{
	DropLoss: "loss", DropBlocked: "blocked", DropBlockedInFlight: "blocked-in-flight",
	DropOverflow: "overflow", DropNodeDown: "node-down", DropUnknownNode: "unknown-node",
	DropPausedOverflow: "paused-overflow", DropCrashInbox: "crash-inbox", DropCrashOutbox: "crash-outbox",
}

func (r DropReason) String() string {
	if r > 0 && r < NumDropReasons {
		return dropReasonNames[r]
	}
	return fmt.Sprintf("DropReason(%d)", r)
}

// Stats counts what happened in a world. Every message a core emitted is,
// at any moment, exactly one of: delivered, dropped, in flight, held for a
// paused receiver, or held behind its sender's sync barrier (duplicates
// count as extra emitted messages).
type Stats struct {
	Events      uint64 // queue events processed, including stale ones
	StaleEvents uint64 // cancelled timers and syncs that popped and were ignored

	Sent       uint64 // messages cores emitted (in Ready.Messages)
	Delivered  uint64 // messages handed to a core's Step
	Duplicated uint64 // extra copies made by links
	Reordered  uint64 // messages exempted from FIFO order
	Held       uint64 // messages that reached a paused node and waited
	Dropped    [NumDropReasons]uint64

	Ticks       uint64 // timers fired
	DiskOps     uint64 // disk ops written
	Syncs       uint64 // syncs started
	SyncLies    uint64 // syncs that reported success without persisting
	Writebacks  uint64 // unsynced ops made durable to keep the unsynced layer bounded
	LostOps     uint64 // unsynced ops lost in crashes
	Corruptions uint64 // records damaged

	Starts, Crashes, Restarts, Pauses, Resumes uint64
	CrashPoints                                uint64 // crashes at an armed crash point (counted in Crashes too)
	ClockChanges, Actions                      uint64

	MaxQueueLen int // the longest the event queue has been

	_ struct{}
}

// DroppedTotal is the number of messages dropped for any reason.
func (s Stats) DroppedTotal() uint64 {
	var t uint64
	for _, n := range s.Dropped {
		t += n
	}
	return t
}

// Stats returns a copy of the world's counters.
func (w *World) Stats() Stats { return w.stats }
