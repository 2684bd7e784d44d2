package quorum

import (
	"errors"
	"fmt"

	"zoosim/model"
	"zoosim/node"
)

// Role is what an ensemble member is doing in the replication protocol.
type Role uint8

const (
	// Looking: electing a leader (Zab's LOOKING, raft's candidate); serves
	// no clients.
	Looking Role = iota + 1
	// Following: connected to (or catching up with) a leader.
	Following
	// Leading: leads; proposes once Serving.
	Leading
)

func (r Role) String() string {
	switch r {
	case Looking:
		return "looking"
	case Following:
		return "following"
	case Leading:
		return "leading"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// Status is a snapshot of an engine's view, for the server and for the
// harness's white-box checks. It holds only what every replication protocol
// has: a leader, the term (or epoch) it leads in, and a committed prefix.
type Status struct {
	Role   Role
	Leader node.ID // 0 while unknown
	// Term is the term or epoch of the leader being followed or led (Zab's
	// epoch, raft's term). A new leader always has a greater one.
	Term uint64
	// Serving: the server may serve clients. For a leader: everything
	// committed before its term has been handed to the server, and it takes
	// proposals. For a follower: it follows a serving leader and has caught
	// up with that leader's term.
	Serving bool
	// Committed is the zxid of the last entry handed to the server: the end
	// of the committed prefix the server has applied.
	Committed model.Zxid
}

// Position is where an engine placed a proposal in its log (Zab's zxid,
// raft's index). It is opaque to the server except for its order: a leader
// places its proposals at increasing positions, and hands them back in that
// order once they commit, each with the zxid it turned out to have.
type Position uint64

// Entry is one replicated txn: where it sits in the engine's log, its zxid,
// and the server's encoding of it.
type Entry struct {
	Position Position
	Zxid     model.Zxid
	Data     []byte
}

// Snapshot is a serialized state machine and the last zxid applied to it.
type Snapshot struct {
	Zxid model.Zxid
	Data []byte
}

// StateMachine is what an engine asks of the server it replicates for.
type StateMachine interface {
	// Snapshot serializes the state after every Committed entry the engine
	// has handed over so far (the driver applies them before Advance).
	Snapshot() Snapshot
}

// Apply is what the server must apply after an input to the engine, in
// this order: Restore (replace the whole state), then Committed (in zxid
// order), then Relayed (server payloads from the other end of a
// leader-follower channel; see Engine.Relay), then Reads (read points now
// covered by what has been applied, see ReadIndexer).
type Apply struct {
	Restore   *Snapshot
	Committed []Entry
	Relayed   []Relay
	Reads     []uint64
}

// Empty reports whether there is nothing to apply.
func (a *Apply) Empty() bool {
	return a.Restore == nil && len(a.Committed) == 0 && len(a.Relayed) == 0 && len(a.Reads) == 0
}

// Relay is a server payload carried between a leader and a follower on the
// engine's own messages (ZooKeeper's REQUEST and SYNC packets travel on
// the learner connection; raft has no such thing, so its engine keeps a
// channel of its own beside the protocol).
type Relay struct {
	From    node.ID
	Payload any
}

// ErrNotLeader is returned by Propose on an engine that is not a serving
// leader; the server then forwards or fails the request.
var ErrNotLeader = errors.New("quorum: not a serving leader")

// Engine is a replication protocol seen from the server that embeds it. It
// orders opaque entries, gives each committed one a zxid (the same on every
// replica, strictly increasing in commit order), and hands committed
// entries to the server in that order; it owns its log, terms and
// snapshots on the node's disk. It follows the node.Machine contract for
// disk, messages and timers; what to apply is taken with TakeApply after
// each input (it is in memory only and needs nothing from the driver: the
// node's output stays behind its disk sync, so nobody outside sees an
// effect of an entry before it is durable). An engine that needs to know
// when its writes are durable implements node.SyncObserver too; the server
// passes the driver's reports on.
type Engine interface {
	node.Machine
	// Owns reports whether a message body belongs to the engine (the server
	// routes every peer message the engine owns to Step).
	Owns(body any) bool
	// Propose appends an entry as the serving leader and returns its
	// position. It does not block: the entry comes back in Apply.Committed,
	// with its zxid, once a commit quorum has logged it.
	Propose(now node.Time, data []byte) (Position, error)
	// Relay sends a server payload to the other end of a leader-follower
	// channel: from a follower to its leader, or from the leader to one of
	// its followers. Payloads from one sender arrive at most once, in the
	// order they were sent, within the sender's term, and only after the
	// receiver has been handed every commit the sender had been handed
	// when it sent them (so "session S is alive" cannot overtake the
	// closeSession that follows it). Relay reports false when there is no
	// such channel now; the payload is then dropped and the caller must
	// treat it as a lost connection.
	Relay(to node.ID, payload any) bool
	Status() Status
	// TakeApply hands over (and forgets) what the server must apply now.
	// The slices are valid until the engine's next input.
	TakeApply() Apply
}

// ReadIndexer is implemented by engines that confirm read points without a
// txn: the leader checks with a quorum that it still leads, and the point
// is its commit index at the time (raft's ReadIndex). A server that reads
// at or after the point reads linearizably.
type ReadIndexer interface {
	// ReadIndex asks for a read point on behalf of request id (unique among
	// the server's outstanding ones). Once the entries up to the point have
	// been handed over, id comes back in Apply.Reads, after the Committed
	// entries of that Apply. An engine that loses its leader or its term
	// forgets its outstanding requests: the server's role change fails them.
	ReadIndex(now node.Time, id uint64)
}
