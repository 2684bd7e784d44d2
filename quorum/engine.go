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
	// Looking: electing a leader; serves no clients.
	Looking Role = iota + 1
	// Following: connected to (or syncing with) a leader.
	Following
	// Leading: leads; proposes once Established.
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
// harness's white-box checks.
type Status struct {
	Role   Role
	Leader node.ID // 0 while unknown
	// Epoch is the accepted epoch of the leader being followed or led.
	Epoch uint32
	// Established: a leader that a commit quorum has synced with, or a
	// follower that is synced with an established leader. Only then may a
	// server serve clients (and a leader propose).
	Established bool
	// LastLogged is the last zxid in the engine's log (possibly uncommitted).
	LastLogged model.Zxid
	// Committed is the last zxid known committed and handed to the server.
	Committed model.Zxid
}

// Entry is one replicated txn: its zxid and the server's encoding of it.
type Entry struct {
	Zxid model.Zxid
	Data []byte
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
// order), then Relayed (server payloads from the leader-follower channel,
// which arrive after every commit the sender sent before them).
type Apply struct {
	Restore   *Snapshot
	Committed []Entry
	Relayed   []Relay
}

// Empty reports whether there is nothing to apply.
func (a *Apply) Empty() bool {
	return a.Restore == nil && len(a.Committed) == 0 && len(a.Relayed) == 0
}

// Relay is a server payload carried on the engine's leader-follower
// channel (ZooKeeper's REQUEST and SYNC packets travel with proposals and
// commits on the learner connection).
type Relay struct {
	From    node.ID
	Payload any
}

// ErrNotLeader is returned by Propose on an engine that is not an
// established leader; the server then forwards or fails the request.
var ErrNotLeader = errors.New("quorum: not an established leader")

// ErrEpochExhausted is returned by Propose when the zxid counter of the
// epoch is used up; the engine starts an election, as ZooKeeper does.
var ErrEpochExhausted = errors.New("quorum: zxid counter exhausted in this epoch")

// Engine is a replication protocol seen from the server that embeds it. It
// orders opaque entries by zxid and hands committed ones to the server in
// zxid order; it owns its log, epochs and snapshots on the node's disk. It
// follows the node.Machine contract for disk, messages and timers; what to
// apply is taken with TakeApply after each input (it is in memory only and
// needs nothing from the driver: the node's output stays behind its disk
// sync, so nobody outside sees an effect of an entry before it is durable).
type Engine interface {
	node.Machine
	node.SyncObserver
	// Owns reports whether a message body belongs to the engine (the server
	// routes every peer message the engine owns to Step).
	Owns(body any) bool
	// Propose appends an entry as the established leader and returns its
	// zxid. It does not block: the entry comes back in Ready.Committed once
	// a commit quorum has logged it.
	Propose(now node.Time, data []byte) (model.Zxid, error)
	// Relay sends a server payload on the leader-follower channel: from a
	// follower to its leader, or from the leader to one of its synced
	// followers. It reports false when there is no such channel now; the
	// payload is then dropped and the caller must treat it as a lost
	// connection.
	Relay(to node.ID, payload any) bool
	Status() Status
	// TakeApply hands over (and forgets) what the server must apply now.
	// The slices are valid until the engine's next input.
	TakeApply() Apply
}
