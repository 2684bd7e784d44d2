package zab

import (
	"fmt"

	"zoosim/model"
	"zoosim/quorum"
)

// MsgType names a Zab message. The names are ZooKeeper's packet types
// (Leader.java) and FastLeaderElection's notification.
type MsgType uint8

const (
	// MsgVote is a FastLeaderElection notification: the sender's current
	// vote, its election round and its state.
	MsgVote MsgType = iota + 1
	// MsgFollowerInfo opens a learner connection: accepted epoch and last
	// logged zxid (FOLLOWERINFO).
	MsgFollowerInfo
	// MsgLeaderInfo proposes the new epoch (LEADERINFO).
	MsgLeaderInfo
	// MsgAckEpoch accepts it and reports the follower's history
	// (ACKEPOCH).
	MsgAckEpoch
	// MsgSync brings a follower to the leader's history: a DIFF, a TRUNC
	// plus DIFF, or a SNAP plus DIFF, followed by NEWLEADER semantics: the
	// follower persists the new current epoch and acks.
	MsgSync
	// MsgUpToDate tells a synced follower it may serve (UPTODATE) and up
	// to where the history is committed.
	MsgUpToDate
	// MsgProposal carries one txn (PROPOSAL).
	MsgProposal
	// MsgAck acknowledges that every proposal up to Zxid is logged and
	// synced (ACK; acks are cumulative because channels are FIFO). With
	// NewLeader set it acknowledges the sync (the ACK of NEWLEADER).
	MsgAck
	// MsgCommit commits every proposal up to Zxid (COMMIT).
	MsgCommit
	// MsgPing is the leader's heartbeat; it carries the commit point.
	MsgPing
	// MsgPong is a follower's answer to a ping: its last logged zxid.
	MsgPong
	// MsgRelay carries a server payload on the learner channel
	// (ZooKeeper's REQUEST from a follower, SYNC answers from the leader).
	MsgRelay
	// MsgReset tells the peer that its connection is broken (a sequence
	// gap or a stale connection) so it goes back to looking at once.
	MsgReset
)

var msgTypeNames = [...]string{
	MsgVote: "vote", MsgFollowerInfo: "followerinfo", MsgLeaderInfo: "leaderinfo",
	MsgAckEpoch: "ackepoch", MsgSync: "sync", MsgUpToDate: "uptodate",
	MsgProposal: "proposal", MsgAck: "ack", MsgCommit: "commit", MsgPing: "ping",
	MsgPong: "pong", MsgRelay: "relay", MsgReset: "reset",
}

func (t MsgType) String() string {
	if int(t) < len(msgTypeNames) && msgTypeNames[t] != "" {
		return msgTypeNames[t]
	}
	return "unknown"
}

// SyncMode is how a leader brings a follower to its history.
type SyncMode uint8

const (
	SyncDiff  SyncMode = iota + 1 // send the txns the follower misses
	SyncTrunc                     // truncate the follower's log, then send what it misses
	SyncSnap                      // send the whole state, then the txns after it
)

func (m SyncMode) String() string {
	switch m {
	case SyncDiff:
		return "diff"
	case SyncTrunc:
		return "trunc"
	case SyncSnap:
		return "snap"
	}
	return "unknown"
}

// Vote is a FastLeaderElection vote: the proposed leader and the history
// it claims. Votes are ordered by (Epoch, Zxid, Leader).
type Vote struct {
	Leader int32
	Zxid   model.Zxid
	Epoch  uint32 // the candidate's current epoch (peerEpoch)
}

// better reports whether a beats b in FastLeaderElection's total order.
func (a Vote) better(b Vote) bool {
	if a.Epoch != b.Epoch {
		return a.Epoch > b.Epoch
	}
	if a.Zxid != b.Zxid {
		return a.Zxid > b.Zxid
	}
	return a.Leader > b.Leader
}

// Msg is every Zab message; which fields matter depends on Type. One flat
// type keeps the real driver's codec trivial and the trace hash cheap.
type Msg struct {
	Type MsgType

	// Learner channel: the connection a message belongs to (a nonce the
	// follower picks for each connection) and its sequence number on it.
	Conn uint64
	Seq  uint64

	// MsgVote.
	Vote  Vote
	Round uint64
	State quorum.Role
	// NewLeader marks the ACK of a sync (ZooKeeper's ACK of NEWLEADER).
	NewLeader bool
	// Abstain marks a server that lost part of its disk: others must not
	// count it toward a quorum until it has synced again.
	Abstain bool

	// Epochs: FOLLOWERINFO and ACKEPOCH carry the follower's accepted and
	// current epochs; LEADERINFO, MsgSync and MsgUpToDate the new epoch.
	AcceptedEpoch uint32
	CurrentEpoch  uint32
	Epoch         uint32

	// Zxid: the last logged zxid (FOLLOWERINFO, ACKEPOCH, MsgAck, MsgPong),
	// the proposal's zxid, the commit point (MsgCommit, MsgPing,
	// MsgUpToDate) or the truncation point (MsgSync with SyncTrunc).
	Zxid model.Zxid
	// Applied is the follower's last applied zxid (ACKEPOCH): the leader
	// never asks it to truncate below that, it sends a snapshot instead.
	Applied model.Zxid

	Data    []byte // MsgProposal
	Payload any    // MsgRelay

	// MsgSync.
	Mode     SyncMode
	Snap     *quorum.Snapshot
	Entries  []quorum.Entry
	Commit   model.Zxid // the leader's commit point when it built the sync
	NewEpoch uint32
}

// String renders the fields that matter for the message's type, for
// readable traces.
func (m *Msg) String() string {
	switch m.Type {
	case MsgVote:
		return fmt.Sprintf("vote{leader=%d zxid=%v epoch=%d round=%d %s abstain=%t}", m.Vote.Leader, m.Vote.Zxid, m.Vote.Epoch, m.Round, m.State, m.Abstain)
	case MsgFollowerInfo, MsgAckEpoch:
		return fmt.Sprintf("%s{conn=%x seq=%d accepted=%d current=%d last=%v applied=%v abstain=%t}", m.Type, m.Conn, m.Seq, m.AcceptedEpoch, m.CurrentEpoch, m.Zxid, m.Applied, m.Abstain)
	case MsgSync:
		snap := "-"
		if m.Snap != nil {
			snap = m.Snap.Zxid.String()
		}
		return fmt.Sprintf("sync{conn=%x seq=%d %s trunc=%v snap=%s entries=%d commit=%v epoch=%d}", m.Conn, m.Seq, m.Mode, m.Zxid, snap, len(m.Entries), m.Commit, m.NewEpoch)
	case MsgRelay:
		return fmt.Sprintf("relay{conn=%x seq=%d %v}", m.Conn, m.Seq, m.Payload)
	}
	return fmt.Sprintf("%s{conn=%x seq=%d epoch=%d zxid=%v newleader=%t}", m.Type, m.Conn, m.Seq, m.Epoch, m.Zxid, m.NewLeader)
}

// TraceHash folds the message into the simulator's trace hash.
func (m *Msg) TraceHash() uint64 {
	h := uint64(m.Type)*0x9e3779b97f4a7c15 ^ m.Conn
	h = h*0x100000001b3 ^ m.Seq
	h = h*0x100000001b3 ^ uint64(m.Zxid)
	h = h*0x100000001b3 ^ uint64(m.Vote.Zxid) ^ uint64(m.Vote.Leader)<<40 ^ uint64(m.Vote.Epoch)
	h = h*0x100000001b3 ^ m.Round ^ uint64(m.Epoch)<<32 ^ uint64(len(m.Entries))<<16 ^ uint64(len(m.Data))
	if th, ok := m.Payload.(interface{ TraceHash() uint64 }); ok {
		h = h*0x100000001b3 ^ th.TraceHash()
	}
	return h
}

// MsgName names the message kind for crash points (node.Named): the type,
// with syncs told apart by mode ("sync/snap") and the NEWLEADER ack
// ("ack/newleader") apart from proposal acks.
func (m *Msg) MsgName() string {
	switch {
	case m.Type == MsgSync:
		switch m.Mode {
		case SyncDiff:
			return "sync/diff"
		case SyncTrunc:
			return "sync/trunc"
		case SyncSnap:
			return "sync/snap"
		}
	case m.Type == MsgAck && m.NewLeader:
		return "ack/newleader"
	}
	return m.Type.String()
}

// CrashMessages are the message names worth crashing a server around:
// every step of discovery and sync, and the broadcast's proposal, ack and
// commit.
var CrashMessages = []string{"leaderinfo", "ackepoch", "sync/diff", "sync/trunc", "sync/snap",
	"ack/newleader", "uptodate", "proposal", "ack", "commit"}

// IndependentOfPendingSync reports whether a message body may leave its
// sender before the sender's pending writes are durable (a real driver's
// early send, ZooKeeper's parallel logging and proposing): its receiver
// acts on nothing those writes would have to make durable.
//   - A proposal: the follower logs, syncs and acks it; the leader counts
//     its own ack only for what it has synced (durableLogged), so a commit
//     quorum of acks is a quorum that synced the txn, with or without the
//     leader's disk.
//   - A commit or a ping: the commit point it carries was reached by such a
//     quorum already.
//   - A relay: a forwarded request, a session touch or revalidation, a sync
//     request (follower to leader) claim nothing durable; the leader's sync
//     and revalidation answers come from its applied tree, which holds only
//     committed txns.
//
// Everything else waits for the sender's syncs: acks and pongs report
// what the sender has logged; votes, the sync phase and resets carry its
// logged zxid and epochs. A driver that sends early must keep each link
// FIFO (the learner channel's sequence numbers check it), and replies to
// clients always wait.
func IndependentOfPendingSync(body any) bool {
	m, ok := body.(*Msg)
	if !ok {
		return false
	}
	switch m.Type {
	case MsgProposal, MsgCommit, MsgPing, MsgRelay:
		return true
	}
	return false
}
