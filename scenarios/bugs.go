package scenarios

import (
	"slices"

	"zoosim/client"
	"zoosim/model"
	"zoosim/quorum/engines"
	"zoosim/quorum/raft"
	"zoosim/quorum/zab"
	"zoosim/server"
)

// Bug is a seeded defect: a small, realistic mistake in one layer of the
// service, modelled on a real bug report, that a run switches on with
// --bug NAME to see whether the checkers catch it. The catalog is the
// measure of the harness: `zoosim bugs --measure` runs a suite with each
// bug on and reports how many runs find it.
type Bug struct {
	Name string
	// Models names the real bug (a JIRA issue, a paper's section, ...) whose
	// mechanism this one reproduces.
	Models string
	// Description says what the defect does.
	Description string
	// Scenario is the scenario meant to find it (the detection-rate tests
	// run it).
	Scenario string
	// Layer is where the defect lives: an engine (zab, raft), server,
	// client or model.
	Layer string
	set   func(*bugSwitches)
}

// bugSwitches are the defect flags of every layer, as a run wires them.
type bugSwitches struct {
	zab    zab.Bugs
	raft   raft.Bugs
	server server.Bugs
	client client.Bugs
	model  model.Bugs
}

// engine returns the flags of the named engine, as its factory takes them.
func (b bugSwitches) engine(name string) any {
	switch name {
	case "zab":
		return b.zab
	case "raft":
		return b.raft
	}
	return nil
}

// Engine is the engine the bug lives in, or "" for a bug of the layers
// every engine runs under.
func (b Bug) Engine() string {
	if _, err := engines.Lookup(b.Layer); err == nil {
		return b.Layer
	}
	return ""
}

// Bugs is the seeded-bug catalog.
var Bugs = []Bug{
	{Name: "ack-before-sync", Layer: "zab", Scenario: "crash-storm",
		Models:      "ZOOKEEPER-4646: Committed txns may still be lost if followers crash after replying ACK of NEWLEADER but before writing txns to disk; etcd-io/etcd#10166 (MsgAppResp sent before the log was persisted)",
		Description: "a follower acknowledges a proposal before its log is synced: a crash loses a write the leader counted",
		set:         func(b *bugSwitches) { b.zab.AckBeforeSync = true }},
	{Name: "commit-one-ack-short", Layer: "zab", Scenario: "partition-majority",
		Models:      "ZOOKEEPER-1113: QuorumMaj counts the number of ACKs but does not check who sent the ACK",
		Description: "the leader commits with one acknowledgement fewer than a commit quorum",
		set:         func(b *bugSwitches) { b.zab.CommitOneAckShort = true }},
	{Name: "log-after-newleader", Layer: "zab", Scenario: "rolling-recovery",
		Models:      "ZOOKEEPER-4643: Committed txns may be improperly truncated if follower crashes right after updating currentEpoch but before persisting txns to disk (also ZOOKEEPER-3911, ZOOKEEPER-4646)",
		Description: "a follower persists the new epoch and acks NEWLEADER before it logs the txns the sync brought; it logs them at UPTODATE",
		set:         func(b *bugSwitches) { b.zab.LogAfterNewLeader = true }},
	{Name: "epoch-reuse", Layer: "zab", Scenario: "partition-leader",
		Models:      "ZOOKEEPER-1343: getEpochToPropose should check if lastAcceptedEpoch is greater or equal than epoch (a new epoch equal to one already accepted)",
		Description: "a new leader takes the highest accepted epoch it heard instead of one above it, so two leaders can number txns in the same epoch",
		set:         func(b *bugSwitches) { b.zab.EpochReuse = true }},
	{Name: "election-ignores-zxid", Layer: "zab", Scenario: "crash-storm",
		Models:      "Raft §5.4.1 (election restriction); FastLeaderElection's totalOrderPredicate, which ZOOKEEPER-1419 (Leader election never settles for a 5-node cluster) broke another way",
		Description: "votes are ordered by epoch and server id only: a server with a shorter log can be elected and truncate committed txns",
		set:         func(b *bugSwitches) { b.zab.ElectionIgnoresZxid = true }},
	{Name: "ignore-trunc", Layer: "zab", Scenario: "partition-leader",
		Models:      "ZOOKEEPER-1154: Data inconsistency when the node(s) with the highest zxid is not present at the time of leader election (a DIFF sent where a TRUNC was needed)",
		Description: "a follower told to TRUNC keeps the txns the new leader does not have",
		set:         func(b *bugSwitches) { b.zab.IgnoreTrunc = true }},
	{Name: "trunc-too-much", Layer: "zab", Scenario: "partition-leader",
		Models:      "ZOOKEEPER-1156: Log truncation truncating log too much - can cause data loss",
		Description: "a follower told to TRUNC to a zxid drops the txn at that zxid too",
		set:         func(b *bugSwitches) { b.zab.TruncTooMuch = true }},
	{Name: "corrupt-as-eof", Layer: "zab", Scenario: "disk-faults",
		Models:      "ZOOKEEPER-1520: A txn log record with a corrupt sentinel byte looks like EOF",
		Description: "recovery takes a corrupt log record for the end of the log and cuts it there instead of marking the server damaged",
		set:         func(b *bugSwitches) { b.zab.CorruptAsEOF = true }},
	{Name: "sync-commits-uncommitted", Layer: "zab", Scenario: "rolling-recovery",
		Models:      "ZOOKEEPER-4394: Learner.syncWithLeader got NullPointerException, fixed by \"Apply only committed requests in sync with leader before NEWLEADER ACK\"; ZOOKEEPER-3911: Data inconsistency caused by DIFF sync uncommitted log",
		Description: "a synced follower takes everything it logged as committed, its own uncommitted tail included",
		set:         func(b *bugSwitches) { b.zab.SyncCommitsAll = true }},
	{Name: "snap-ack-before-sync", Layer: "zab", Scenario: "rolling-recovery",
		Models:      "ZOOKEEPER-3642: Data inconsistency when the leader crashes right after sending SNAP sync (the learner kept the snapshot only in memory); ZOOKEEPER-3104",
		Description: "after a SNAP a follower acks NEWLEADER before the snapshot and the new epoch are on disk",
		set:         func(b *bugSwitches) { b.zab.SnapAckBeforeSync = true }},
	{Name: "no-step-down", Layer: "zab", Scenario: "linearizable-reads",
		Models:      "ZOOKEEPER-1675: Make sync a quorum operation; ZOOKEEPER-1699: Leader should timeout and give up leadership when losing quorum of last proposed configuration; etcd-io/etcd#741: Consistent reads are not consistent",
		Description: "a leader that hears from no commit quorum keeps leading and answering reads and syncs",
		set:         func(b *bugSwitches) { b.zab.NoStepDown = true }},
	{Name: "apply-proposals", Layer: "zab", Scenario: "partition-majority",
		Models:      "Raft §5.3 (only committed entries are applied); ZOOKEEPER-1558: Leader should not snapshot uncommitted state",
		Description: "a follower applies proposals as it logs them, before they are committed",
		set:         func(b *bugSwitches) { b.zab.ApplyProposals = true }},

	{Name: "raft-vote-unsynced", Layer: "raft", Scenario: "resync",
		Models:      "Raft §5.1, Figure 2 (currentTerm and votedFor are updated on stable storage before responding to RPCs) and etcd raft's Ready contract (the HardState is persisted before Messages are sent)",
		Description: "a HardState change (a vote, a new term) is written without a sync, so the vote leaves before it is durable: a crash forgets it and the server can vote twice in one term",
		set:         func(b *bugSwitches) { b.raft.VoteUnsynced = true }},
	{Name: "raft-entries-unsynced", Layer: "raft", Scenario: "quorum-loss",
		Models:      "etcd-io/etcd#12589: Does etcd RAFT guarantees durability? (acks for entries only in unstable storage, then a power loss of every node); etcd-io/etcd#8144; etcd raft's Ready contract (Entries are written to stable storage before Messages are sent)",
		Description: "log entries are written without a sync: acknowledgements leave, and entries commit and are applied, before they are durable",
		set:         func(b *bugSwitches) { b.raft.EntriesUnsynced = true }},
	{Name: "raft-read-without-quorum", Layer: "raft", Scenario: "linearizable-reads",
		Models:      "etcd-io/etcd#741: Consistent reads are not consistent (a deposed leader served reads); Raft thesis §6.4 (ReadIndex confirms leadership with a round of heartbeats)",
		Description: "a read point is the node's own commit index instead of a ReadIndex the leader confirmed with a quorum",
		set:         func(b *bugSwitches) { b.raft.ReadWithoutQuorum = true }},
	{Name: "raft-restore-skips-replay", Layer: "raft", Scenario: "crash-storm",
		Models:      "etcd v3.5 data inconsistency (postmortem, etcd-io/etcd#13967: the consistent index was not saved atomically with the state, so a restarted member skipped entries); etcd-io/etcd#6248 (after a crash the saved index was ahead of the data and etcd skipped applying a put)",
		Description: "a restarted server restores its snapshot but tells raft everything committed was applied, so the entries between the snapshot and the commit index are never applied again",
		set:         func(b *bugSwitches) { b.raft.RestoreSkipsReplay = true }},

	{Name: "serve-ahead-client", Layer: "server", Scenario: "lagging-follower",
		Models:      "ClickHouse/ClickHouse#90016: refuse keeper sessions when client has seen higher zxid than server (Keeper lacked ZooKeeper's \"client has seen zxid ... our last zxid is ...\" check)",
		Description: "a server accepts a client whose last seen zxid is ahead of it, so the client sees the state go back",
		set:         func(b *bugSwitches) { b.server.ServeAheadClient = true }},
	{Name: "keep-ephemerals", Layer: "server", Scenario: "session-expiry",
		Models:      "ZOOKEEPER-2355: Ephemeral node is never deleted if follower fails while reading the proposal packet",
		Description: "closing a session leaves its ephemeral nodes behind",
		set:         func(b *bugSwitches) { b.server.KeepEphemerals = true }},
	{Name: "create-after-close", Layer: "server", Scenario: "session-expiry",
		Models:      "ZOOKEEPER-1208: Ephemeral node not removed after the client session is long gone (a create pipelined after closeSession was still applied)",
		Description: "the leader accepts a create of a session whose closeSession it has already proposed",
		set:         func(b *bugSwitches) { b.server.CreateAfterClose = true }},
	{Name: "reply-before-event", Layer: "server", Scenario: "watch-churn",
		Models:      "ZOOKEEPER-137: client watcher objects can lose events; ZooKeeper's ordering guarantee that a client sees a watch event before the data that changed",
		Description: "a server sends a write's reply before the watch notifications the write fired",
		set:         func(b *bugSwitches) { b.server.ReplyBeforeEvent = true }},
	{Name: "setwatches-ignores-zxid", Layer: "server", Scenario: "watch-churn",
		Models:      "ZOOKEEPER-1667: Watch event isn't handled correctly when a client reestablish to a server; DataTree.setWatches' relativeZxid rule",
		Description: "a reconnecting client's watches are set again without firing the changes it missed",
		set:         func(b *bugSwitches) { b.server.SetWatchesIgnoresZxid = true }},

	{Name: "read-zxid-lags", Layer: "server", Scenario: "lagging-follower",
		Models:      "ZOOKEEPER-1412: java client watches inconsistently triggered on reconnect (replies carried the request's zxid, not the server's last processed one)",
		Description: "a read's reply carries the zxid of the connection's last reply, not of the state it read, so the client's last seen zxid lags what it has seen",
		set:         func(b *bugSwitches) { b.server.ReadZxidLags = true }},

	{Name: "client-forgets-zxid", Layer: "client", Scenario: "lagging-follower",
		Models:      "kezhuw/zookeeper-client-rust#32: last_zxid_seen in ConnectRequest is not set (stale reads after reconnect)",
		Description: "the client sends 0 as its last seen zxid when it reconnects, so a server behind it accepts it",
		set:         func(b *bugSwitches) { b.client.ForgetsLastZxid = true }},

	{Name: "seq-from-children", Layer: "model", Scenario: "sequential-queue",
		Models:      "ZOOKEEPER-1046: Creating a new sequential node results in a ZNODEEXISTS error (the sequence counter went back and a suffix was reused)",
		Description: "sequential names take the parent's number of children instead of its count of creations, so a name comes back after a delete",
		set:         func(b *bugSwitches) { b.model.SeqFromChildren = true }},
	{Name: "multi-partial", Layer: "model", Scenario: "standard",
		Models:      "ZOOKEEPER-1624: PrepRequestProcessor abort multi-operation incorrectly; ZOOKEEPER-3127 (partial multi-op txn)",
		Description: "the ops of a failed multi before the failing one take effect",
		set:         func(b *bugSwitches) { b.model.MultiPartial = true }},
	{Name: "snapshot-drops-sessions", Layer: "model", Scenario: "crash-storm",
		Models:      "ZOOKEEPER-1367: Data inconsistencies and unexpired ephemeral nodes after cluster restart; ZOOKEEPER-3144",
		Description: "snapshots leave out the session table: a server restored from one forgets every session",
		set:         func(b *bugSwitches) { b.model.SnapshotDropsSessions = true }},
}

// BugNames are the names of the catalog's bugs, in catalog order.
var BugNames = bugNames()

func bugNames() []string {
	names := make([]string, len(Bugs))
	for i, b := range Bugs {
		names[i] = b.Name
	}
	return names
}

// LookupBug finds a bug of the catalog by name.
func LookupBug(name string) (Bug, bool) {
	i := slices.IndexFunc(Bugs, func(b Bug) bool { return b.Name == name })
	if i < 0 {
		return Bug{}, false
	}
	return Bugs[i], true
}

// switches turns a run's bug names into the layers' flags.
func switches(names []string) bugSwitches {
	var b bugSwitches
	for _, n := range names {
		if bug, ok := LookupBug(n); ok {
			bug.set(&b)
		}
	}
	return b
}
