// Package raft is the quorum.Engine over etcd's raft (go.etcd.io/raft/v3),
// so that every scenario can run on a second, independently built and
// widely tested protocol: a failure on both engines belongs to the layers
// above them, a failure on one engine to that protocol.
//
// The engine drives a raft.RawNode (never the goroutine-based Node) with
// the node.Machine loop: raft's Ready becomes the node's Ready (its
// snapshot, HardState and entries become disk ops with a sync, and its
// messages go out only once the sync is done), committed entries go to the
// server with zxids, and Advance goes back to raft once the driver did the
// work. The log is compacted with snapshots of the server's state machine,
// and a restarted node recovers from the checksummed records its disk kept,
// cutting a damaged log back to its clean prefix as the Zab engine does.
//
// Zxids: an entry's zxid is (term, index - the first index of its term).
// The first entry of a term is the empty entry its leader appends on
// election, at the same index on every replica (raft's log matching), so
// the zxid is the same everywhere, and it grows in commit order: terms never
// go back along the log, and within a term the index grows. Txns start at
// counter 1, as Zab's do.
//
// Determinism: raft draws its election timeout from crypto/rand; the
// simulator makes that draw constant (package sim), and the engine jitters
// elections itself from the node's own stream by letting a follower's or a
// candidate's ticks pass at random. Everything else in RawNode is a pure
// function of its inputs.
//
// The engine never reads a clock, a socket or a file, and starts no
// goroutine.
package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	etcdraft "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"zoosim/model"
	"zoosim/node"
	"zoosim/quorum"
)

// The bootstrap state every node starts from when its disk holds no
// snapshot: raft's log begins after index 1 of term 1, with the voters of
// the configuration and the state machine's initial state. It is a pure
// function of the configuration, so it is never written.
const (
	bootstrapIndex = 1
	bootstrapTerm  = 1
)

// Config is one server's raft configuration. Times are in the node's clock.
type Config struct {
	Verifier     quorum.Verifier
	StateMachine quorum.StateMachine
	// TickTime is the length of one raft tick.
	TickTime node.Time
	// ElectionTicks and HeartbeatTicks are raft's ElectionTick and
	// HeartbeatTick.
	ElectionTicks, HeartbeatTicks int
	// SkipPerMille is the chance, in thousandths, that a follower or a
	// candidate lets a tick pass: the engine's election jitter (raft's own
	// is constant in the simulator). A third makes the mean timeout 1.5
	// election timeouts, as raft's uniform draw does.
	SkipPerMille int
	// SnapCount is the number of applied entries between snapshots; the log
	// before the previous snapshot is then compacted away.
	SnapCount int
	// SegmentEntries rolls the log to a new segment file every this many
	// entries (0: only at snapshots).
	SegmentEntries int
	// KeepEntries, when positive, compacts the log at a snapshot so that at
	// most this many entries stay behind it: a follower further behind gets
	// a snapshot (ZooKeeper's snapSizeFactor does the same for Zab).
	KeepEntries int
	// MaxSizePerMsg and MaxInflightMsgs are raft's flow control.
	MaxSizePerMsg   uint64
	MaxInflightMsgs int
	// Bugs are deliberate defects for proving the harness's checkers; the
	// zero value is correct.
	Bugs Bugs
	_    struct{}
}

// Bugs are seeded defects of the engine.
type Bugs struct {
	// VoteUnsynced: a HardState change (a vote, a new term) is written but
	// no sync is asked for it, so the vote leaves before it is durable.
	VoteUnsynced bool
	// EntriesUnsynced: log entries are written without a sync, so acks
	// leave, and entries commit and are applied, before they are durable.
	EntriesUnsynced bool
	// ReadWithoutQuorum: ReadIndex is answered from the node's own commit
	// index, without the leader confirming with a quorum.
	ReadWithoutQuorum bool
	// RestoreSkipsReplay: a restarted node restores its snapshot but tells
	// raft that everything committed was applied, so the entries between
	// the snapshot and the commit index are never applied again.
	RestoreSkipsReplay bool
	_                  struct{}
}

// DefaultConfig is etcd-like raft scaled to the Zab engine's timing: a tick
// of 50 ms, heartbeats every tick, an election timeout of 10 ticks.
func DefaultConfig(v quorum.Verifier, sm quorum.StateMachine) Config {
	return Config{
		Verifier: v, StateMachine: sm,
		TickTime: 50 * node.Millisecond, ElectionTicks: 10, HeartbeatTicks: 1, SkipPerMille: 333,
		SnapCount: 1000, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256,
	}
}

func (c *Config) validate() error {
	switch {
	case c.Verifier == nil:
		return errors.New("raft: no quorum verifier")
	case c.StateMachine == nil:
		return errors.New("raft: no state machine")
	case c.TickTime <= 0 || c.HeartbeatTicks <= 0 || c.ElectionTicks <= c.HeartbeatTicks:
		return errors.New("raft: tick time and heartbeat ticks must be positive, election ticks above heartbeat ticks")
	case c.SkipPerMille < 0 || c.SkipPerMille >= 1000:
		return errors.New("raft: SkipPerMille must be in [0, 1000)")
	case c.SnapCount <= 0 || c.MaxInflightMsgs <= 0:
		return errors.New("raft: SnapCount and MaxInflightMsgs must be positive")
	case c.SegmentEntries < 0 || c.KeepEntries < 0:
		return errors.New("raft: SegmentEntries and KeepEntries must not be negative")
	}
	return nil
}

// The forced rare branches (node.Buggify points) of the engine: legal
// behaviour that raft shows seldom.
const (
	// BuggifySnapshotNow: a snapshot is taken now, not after SnapCount
	// entries.
	BuggifySnapshotNow = "raft/snapshot-now"
	// BuggifyCompactAll: a snapshot compacts the whole log behind it, so
	// that any follower behind gets a snapshot.
	BuggifyCompactAll = "raft/compact-all"
	// BuggifyRollSegment: the log rolls to a new segment at this append.
	BuggifyRollSegment = "raft/roll-segment"
	// BuggifyTransferLeader: the leader hands its leadership to a follower
	// (raft's leadership transfer: MsgTimeoutNow).
	BuggifyTransferLeader = "raft/transfer-leader"
	// BuggifyUnreachable: the leader reports a follower unreachable, which
	// sends it back to probing.
	BuggifyUnreachable = "raft/report-unreachable"
	// BuggifyResendRelay: the relay channel sends everything it holds again
	// (duplicates the receiver must drop).
	BuggifyResendRelay = "raft/resend-relay"
)

// BuggifyPoints are the engine's forced rare branches.
var BuggifyPoints = []string{BuggifySnapshotNow, BuggifyCompactAll, BuggifyRollSegment, BuggifyTransferLeader,
	BuggifyUnreachable, BuggifyResendRelay}

// ErrCounterExhausted is returned by Propose when the zxid counter of the
// term is used up (2^32 entries in one term).
var ErrCounterExhausted = errors.New("raft: zxid counter exhausted in this term")

// ConfState maps a verifier onto raft's configuration. Raft decides by
// majorities of its voters, so only a verifier whose election and commit
// quorums are exactly the majorities of its voters can run on it.
func ConfState(v quorum.Verifier) (*pb.ConfState, error) {
	voters := v.Voters()
	if _, ok := v.(quorum.Majority); !ok {
		ids := voters.IDs()
		if len(ids) > 20 {
			return nil, fmt.Errorf("raft: cannot check quorum %s over %d voters (at most 20)", v, len(ids))
		}
		for mask := 0; mask < 1<<len(ids); mask++ {
			var s quorum.Set
			for i, id := range ids {
				if mask&(1<<i) != 0 {
					s = s.Add(id)
				}
			}
			maj := 2*s.Len() > len(ids)
			if v.IsElectionQuorum(s) != maj || v.IsCommitQuorum(s) != maj {
				return nil, fmt.Errorf("engine raft decides by majorities only: quorum %s over %d servers is not a majority (%v %s)",
					v, len(ids), s, quorumWord(v, s))
			}
		}
	}
	cs := &pb.ConfState{}
	for _, id := range voters.IDs() {
		cs.Voters = append(cs.Voters, uint64(id))
	}
	return cs, nil
}

func quorumWord(v quorum.Verifier, s quorum.Set) string {
	if v.IsCommitQuorum(s) || v.IsElectionQuorum(s) {
		return "is a quorum"
	}
	return "is not a quorum"
}

// termRun says that the entries from start on have term term, up to the
// next run's start.
type termRun struct {
	term, start uint64
}

type proposal struct {
	index, term uint64
}

type heldRelay struct {
	from    node.ID
	applied uint64
	payload any
}

type pendingRead struct {
	id      uint64
	issued  node.Time
	located bool
	index   uint64
}

// Engine is one server's raft engine.
type Engine struct {
	cfg       Config
	id        node.ID
	rnd       *rand.Rand
	bug       *node.Buggify
	now       node.Time
	confState *pb.ConfState
	voters    quorum.Set

	rn      *etcdraft.RawNode
	storage *etcdraft.MemoryStorage
	// accepted: a raft Ready has been taken and its work put into rd; it
	// goes back to raft once durable: at Advance, or at the Synced that
	// covers sync number waitSync (0: its node Ready is not advanced yet).
	accepted     bool
	waitSync     uint64
	reportsSyncs bool
	syncsAsked   uint64   // node Readies that asked for a sync
	snapSent     []uint64 // peers sent a snapshot in the accepted Ready

	// raft's view as of its last Ready.
	term, lead, commit uint64
	state              etcdraft.StateType
	// written is the HardState on disk.
	written *pb.HardState

	// The log as this engine mirrors it. Invariant:
	// snapIndex <= applied <= commit <= lastIndex.
	snapIndex   uint64
	lastIndex   uint64
	runs        []termRun // term boundaries from the snapshot's term on
	segs        []segment
	rollSegment bool
	sinceRoll   int // entries appended since the last segment roll
	// proposals are the entries this leader appended since the last Ready,
	// with the index and term they must turn up at.
	proposals []proposal

	// What has been handed to the server: raft's applied index, and the
	// zxid of the last txn among those entries. raftApplied is the applied
	// index raft has been told of (at its last Advance): the log is never
	// compacted past it, since raft still reads the entries after it.
	applied     uint64
	appliedZxid model.Zxid
	raftApplied uint64

	// damaged: the disk lost records; vote for no one and never campaign
	// until this node acknowledged the leader's log up to repairIndex.
	damaged     bool
	repairIndex uint64

	relay relay
	// held are relayed payloads waiting for this node to apply up to the
	// index their sender had applied, in arrival order.
	held     []heldRelay
	reads    []pendingRead // by id, increasing
	nextTick node.Time

	rd    node.Ready
	apply quorum.Apply
}

var (
	_ quorum.Engine      = (*Engine)(nil)
	_ quorum.ReadIndexer = (*Engine)(nil)
	_ node.SyncObserver  = (*Engine)(nil)
)

// New builds the engine from what survived on the node's disk. The first
// Ready carries the repairs of a damaged log; the first TakeApply the
// snapshot to restore.
func New(cfg Config, env node.Env) (*Engine, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cs, err := ConfState(cfg.Verifier)
	if err != nil {
		return nil, err
	}
	voters := cfg.Verifier.Voters()
	if !voters.Has(env.ID) {
		return nil, fmt.Errorf("raft: server %d is not a voter of %s over %v", env.ID, cfg.Verifier, voters)
	}
	if env.Rand == nil {
		return nil, errors.New("raft: no random stream")
	}
	e := &Engine{cfg: cfg, id: env.ID, rnd: env.Rand, bug: env.Buggify, now: env.Now, confState: cs, voters: voters, reportsSyncs: env.ReportsSyncs,
		storage: etcdraft.NewMemoryStorage(), nextTick: env.Now + cfg.TickTime}

	rec := recoverStorage(env.Storage)
	data := rec.data
	if !rec.snap {
		data.state = cfg.StateMachine.Snapshot().Data
	}
	must(e.storage.ApplySnapshot(&pb.Snapshot{Data: data.encode(),
		Metadata: &pb.SnapshotMetadata{ConfState: cs, Index: proto.Uint64(rec.index), Term: proto.Uint64(rec.term)}}))
	must(e.storage.Append(rec.entries))
	if rec.damaged {
		// Raft assumes a node never loses what it acknowledged: the leader
		// would keep believing this node holds its old log (and send a
		// commit index past its end). Coming back one term ahead makes that
		// leader step down at this node's first answer, and the next leader
		// probes the log this node really has. A new term with no vote is
		// always safe to take.
		rec.hs = &pb.HardState{Term: proto.Uint64(rec.hs.GetTerm() + 1), Vote: proto.Uint64(0), Commit: proto.Uint64(rec.hs.GetCommit())}
	}
	must(e.storage.SetHardState(rec.hs))
	e.written = rec.hs
	e.snapIndex, e.lastIndex = rec.index, rec.index+uint64(len(rec.entries))
	e.runs = []termRun{{term: rec.term, start: data.termStart}}
	e.trackTerms(rec.entries)
	e.segs, e.rollSegment = rec.segs, true
	e.damaged, e.repairIndex = rec.damaged, rec.repairIndex
	e.rd.Disk = append(e.rd.Disk, rec.repair...)
	e.rd.Sync = len(rec.repair) > 0

	e.applied, e.appliedZxid = rec.index, data.zxid
	if cfg.Bugs.RestoreSkipsReplay {
		// Seeded bug: as if the state machine were durable up to the commit
		// index, while only the snapshot is.
		e.applied = rec.hs.GetCommit()
		for _, ent := range rec.entries {
			if ent.GetIndex() <= e.applied && len(ent.GetData()) > 0 {
				e.appliedZxid = e.zxidAt(ent.GetIndex())
			}
		}
	}
	e.raftApplied = e.applied
	if rec.snap {
		e.apply.Restore = &quorum.Snapshot{Zxid: data.zxid, Data: data.state}
	}

	maxID := voters.IDs()[len(voters.IDs())-1]
	// The incarnation is on disk before any relay message names it: the
	// first Ready syncs, and the sim (and the real driver) hold every
	// message until then.
	inc := incarnation(env.Storage, env)
	e.rd.Disk = append(e.rd.Disk, node.DiskOp{Kind: node.Replace, File: fileIncarnation, Data: binary.BigEndian.AppendUint64(nil, inc)})
	e.rd.Sync = true
	e.relay = newRelay(env.ID, inc, maxID)
	e.rn, err = etcdraft.NewRawNode(&etcdraft.Config{
		ID: uint64(env.ID), ElectionTick: cfg.ElectionTicks, HeartbeatTick: cfg.HeartbeatTicks,
		Storage: e.storage, Applied: e.applied, MaxSizePerMsg: cfg.MaxSizePerMsg, MaxInflightMsgs: cfg.MaxInflightMsgs,
		CheckQuorum: true, PreVote: true, ReadOnlyOption: etcdraft.ReadOnlySafe, DisableProposalForwarding: true,
		Logger: quietLogger{id: uint64(env.ID)},
	})
	if err != nil {
		return nil, err
	}
	e.refresh()
	e.collect()
	return e, nil
}

func must(err error) {
	if err != nil {
		panic("raft: invariant violated: " + err.Error())
	}
}

// Owns reports whether body is a message of this engine.
func (e *Engine) Owns(body any) bool {
	_, ok := body.(*Msg)
	return ok
}

// Status reports the engine's view. A leader serves once the empty entry
// of its term is applied (everything committed before the term then is);
// a follower once it follows a leader and has applied that entry too.
func (e *Engine) Status() quorum.Status {
	s := quorum.Status{Term: e.term, Committed: e.appliedZxid}
	switch {
	case e.state == etcdraft.StateLeader:
		s.Role, s.Leader = quorum.Leading, e.id
	case e.state == etcdraft.StateFollower && e.lead != 0:
		s.Role, s.Leader = quorum.Following, node.ID(e.lead)
	default:
		s.Role = quorum.Looking
		return s
	}
	start, ok := e.termStart(e.term)
	s.Serving = ok && e.applied >= start
	return s
}

// Damaged reports whether the node lost disk records and waits for repair.
func (e *Engine) Damaged() bool { return e.damaged }

// Applied is raft's index of the last entry handed to the server.
func (e *Engine) Applied() uint64 { return e.applied }

// Ready returns the pending work.
func (e *Engine) Ready() node.Ready {
	e.rd.WakeAt = e.nextTick
	return e.rd
}

// TakeApply hands over what the server must apply.
func (e *Engine) TakeApply() quorum.Apply {
	a := e.apply
	e.apply.Restore = nil
	e.apply.Committed = e.apply.Committed[:0]
	e.apply.Relayed = nil
	e.apply.Reads = e.apply.Reads[:0]
	return a
}

// Advance records that the driver did the last Ready: raft's snapshot,
// HardState and entries are written, its messages sent (once the sync is
// done), and the server applied the committed entries. Raft hears of it
// (its Advance) only once what it wrote is durable: with a driver that
// reports syncs, when Synced covers the sync this Ready asked for. Until
// then raft takes input but gives no new Ready; in particular a leader
// does not count its own acknowledgement, so it never applies an entry
// that is not on its own disk (a lone server would otherwise apply, and a
// crash then lose, an entry nobody else has).
func (e *Engine) Advance() {
	synced := e.rd.Sync
	clear(e.rd.Messages)
	e.rd.Disk = e.rd.Disk[:0]
	e.rd.Messages = e.rd.Messages[:0]
	e.rd.Sync = false
	if synced && e.reportsSyncs {
		e.syncsAsked++
	}
	if e.accepted && e.waitSync == 0 {
		if synced && e.reportsSyncs {
			e.waitSync = e.syncsAsked
		} else {
			e.raftAdvance()
		}
	}
	e.maybeSnapshot()
	e.collect()
}

// Synced records that the first count sync requests are durable.
func (e *Engine) Synced(now node.Time, count uint64) {
	e.advanceClock(now)
	if e.accepted && e.waitSync != 0 && count >= e.waitSync {
		e.raftAdvance()
		e.maybeSnapshot()
	}
	e.collect()
}

// raftAdvance hands the accepted Ready back to raft: it is durable.
func (e *Engine) raftAdvance() {
	e.rn.Advance(etcdraft.Ready{})
	e.accepted, e.waitSync = false, 0
	e.raftApplied = e.applied
	// Report a snapshot as delivered once it is sent: if it was lost, the
	// follower rejects the next append and the leader probes back down to
	// another snapshot.
	for _, to := range e.snapSent {
		e.rn.ReportSnapshot(to, etcdraft.SnapshotFinish)
	}
	e.snapSent = e.snapSent[:0]
}

func (e *Engine) advanceClock(now node.Time) {
	if now > e.now {
		e.now = now
	}
}

// Tick advances time: raft's ticks (one per TickTime, some skipped by a
// follower or candidate for jitter), relay resends, read retries.
func (e *Engine) Tick(now node.Time) {
	e.advanceClock(now)
	// After a long pause a node gets at most one election timeout's worth
	// of ticks at once: more would change nothing but the cost.
	for k := 0; k < 2*e.cfg.ElectionTicks && e.nextTick <= e.now; k++ {
		e.nextTick += e.cfg.TickTime
		if e.state != etcdraft.StateLeader && e.rnd.IntN(1000) < e.cfg.SkipPerMille {
			continue
		}
		e.rn.Tick()
	}
	if e.nextTick <= e.now {
		e.nextTick = e.now + e.cfg.TickTime
	}
	after := 2 * e.cfg.TickTime
	if e.bug.Fire(BuggifyResendRelay, 20) {
		after = 0
	}
	e.relay.resend(e.now, after, e.emitRelay)
	e.retryReads()
	if e.state == etcdraft.StateLeader {
		e.leaderBuggify()
	}
	e.collect()
}

// leaderBuggify takes a leader's rare branches: handing leadership over,
// or sending a follower back to probing.
func (e *Engine) leaderBuggify() {
	var peers []uint64
	for _, id := range e.voters.IDs() {
		if id != e.id {
			peers = append(peers, uint64(id))
		}
	}
	if len(peers) == 0 {
		return
	}
	if e.bug.Fire(BuggifyTransferLeader, 2) {
		e.rn.TransferLeader(peers[e.rnd.IntN(len(peers))])
	}
	if e.bug.Fire(BuggifyUnreachable, 10) {
		e.rn.ReportUnreachable(peers[e.rnd.IntN(len(peers))])
	}
}

// Step handles one message.
func (e *Engine) Step(now node.Time, msg node.Message) {
	e.advanceClock(now)
	m, ok := msg.Body.(*Msg)
	if !ok {
		panic(fmt.Sprintf("raft: server %d handed a %T it does not own", e.id, msg.Body))
	}
	if msg.From == e.id || !e.voters.Has(msg.From) {
		return
	}
	if m.Raft != nil {
		if m.Raft.GetFrom() != uint64(msg.From) || m.Raft.GetTo() != uint64(e.id) {
			return // not what the network says it is
		}
		rm := m.Raft
		switch rm.GetType() {
		case pb.MessageType_MsgHeartbeat:
			if rm.GetCommit() > e.lastIndex {
				// Only a node that lost entries it had acknowledged (a
				// damaged one, until a new leader probes it) hears a commit
				// index past its log; raft would panic. Knowing less is
				// always safe.
				rm = copyMessage(rm)
				rm.Commit = proto.Uint64(e.lastIndex)
			}
		case pb.MessageType_MsgReadIndex, pb.MessageType_MsgProp:
			rm = copyMessage(rm) // raft forwards these by readdressing them
		}
		_ = e.rn.Step(rm) // a stale or unknown peer's message is ignored
	} else {
		e.advanceTerm()
		e.relay.receive(msg.From, m, func(d *Msg) {
			e.held = append(e.held, heldRelay{from: msg.From, applied: d.Applied, payload: d.Payload})
		})
		if m.Kind == RelayAck {
			e.relay.resend(e.now, 2*e.cfg.TickTime, e.emitRelay)
		}
	}
	e.collect()
}

// Propose appends a txn as the serving leader. Its index is known at once:
// a serving leader's log grows only by its own proposals, so it is the last
// index plus one (checked when the entry turns up in the next Ready).
func (e *Engine) Propose(now node.Time, data []byte) (quorum.Position, error) {
	e.advanceClock(now)
	if st := e.Status(); st.Role != quorum.Leading || !st.Serving {
		return 0, quorum.ErrNotLeader
	}
	if len(data) == 0 {
		return 0, errors.New("raft: an empty entry is raft's own; a txn has data")
	}
	index := e.lastIndex + 1
	start, _ := e.termStart(e.term)
	if e.term > math.MaxUint32 || index-start > math.MaxUint32 {
		return 0, ErrCounterExhausted
	}
	if err := e.rn.Propose(data); err != nil {
		return 0, quorum.ErrNotLeader
	}
	e.lastIndex = index
	e.proposals = append(e.proposals, proposal{index: index, term: e.term})
	e.collect()
	return quorum.Position(index), nil
}

// Relay sends a server payload on the relay channel.
func (e *Engine) Relay(to node.ID, payload any) bool {
	if !e.relay.valid(to) || !e.voters.Has(to) {
		return false
	}
	st := e.Status()
	if !st.Serving || st.Role == quorum.Following && to != st.Leader {
		return false
	}
	m, ok := e.relay.send(e.now, to, payload, e.applied)
	if !ok {
		return false
	}
	e.emitRelay(to, m)
	return true
}

// ReadIndex asks raft for a read point (ReadIndex with ReadOnlySafe: the
// leader confirms with a quorum of heartbeats that it still leads).
func (e *Engine) ReadIndex(now node.Time, id uint64) {
	e.advanceClock(now)
	if n := len(e.reads); n > 0 && e.reads[n-1].id >= id {
		panic(fmt.Sprintf("raft: invariant violated on server %d: read request %d after %d", e.id, id, e.reads[n-1].id))
	}
	r := pendingRead{id: id, issued: e.now}
	if e.cfg.Bugs.ReadWithoutQuorum {
		// Seeded bug: the node's own commit index, confirmed by no one.
		r.located, r.index = true, e.commit
	}
	e.reads = append(e.reads, r)
	if !r.located {
		e.rn.ReadIndex(readContext(id))
	}
	e.collect()
}

// copyMessage copies a message's fields before raft changes one: the
// simulated network hands one message to every duplicate delivery. Raft
// never writes through the fields' pointers, so their values are shared;
// so are the entries, which raft copies into its log. (The messages it
// changes on receipt are the ones it forwards by readdressing them.)
func copyMessage(m *pb.Message) *pb.Message {
	return &pb.Message{Type: m.Type, To: m.To, From: m.From, Term: m.Term, LogTerm: m.LogTerm, Index: m.Index,
		Entries: m.Entries[:len(m.Entries):len(m.Entries)], Commit: m.Commit, Vote: m.Vote, Snapshot: m.Snapshot,
		Reject: m.Reject, RejectHint: m.RejectHint, Context: m.Context}
}

func readContext(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// retryReads asks again for read points not answered within an election
// timeout: raft drops a request when no leader is known, and the network
// may lose either message.
func (e *Engine) retryReads() {
	after := node.Time(e.cfg.ElectionTicks) * e.cfg.TickTime
	for i := range e.reads {
		if r := &e.reads[i]; !r.located && e.now-r.issued >= after {
			r.issued = e.now
			e.rn.ReadIndex(readContext(r.id))
		}
	}
}

// locate records raft's answer to a read request.
func (e *Engine) locate(rs etcdraft.ReadState) {
	if len(rs.RequestCtx) != 8 {
		return
	}
	id := binary.BigEndian.Uint64(rs.RequestCtx)
	for i := range e.reads {
		if r := &e.reads[i]; r.id == id && !r.located {
			r.located, r.index = true, rs.Index
			return
		}
	}
}

// releaseRelays hands over, in arrival order, the relayed payloads whose
// sender's applied index this node has reached.
func (e *Engine) releaseRelays() {
	k := 0
	for k < len(e.held) && e.held[k].applied <= e.applied {
		e.apply.Relayed = append(e.apply.Relayed, relayed(e.held[k].from, e.held[k].payload))
		k++
	}
	if k > 0 {
		clear(e.held[:k])
		e.held = append(e.held[:0], e.held[k:]...)
	}
}

// releaseReads hands over the reads whose point is applied, in id order.
func (e *Engine) releaseReads() {
	kept := e.reads[:0]
	for _, r := range e.reads {
		if r.located && r.index <= e.applied {
			e.apply.Reads = append(e.apply.Reads, r.id)
			continue
		}
		kept = append(kept, r)
	}
	e.reads = kept
}

// refresh reads raft's view after an input. A new term ends every relay
// stream and every outstanding read (the server's role change fails what
// they carried) and the proposals of the old term.
func (e *Engine) refresh() {
	bs := e.rn.BasicStatus()
	e.setTerm(bs.GetTerm())
	e.lead, e.state, e.commit = bs.Lead, bs.RaftState, bs.GetCommit()
}

func (e *Engine) setTerm(t uint64) {
	if t != e.term {
		e.term = t
		e.relay.reset(t)
		clear(e.held)
		e.held = e.held[:0]
		e.reads = e.reads[:0]
		e.proposals = e.proposals[:0]
	}
}

// refreshFrom takes raft's view from a Ready, which carries every change
// of it (reading it from raft after every input would cost allocations).
func (e *Engine) refreshFrom(rd *etcdraft.Ready) {
	if rd.SoftState != nil {
		e.lead, e.state = rd.SoftState.Lead, rd.SoftState.RaftState
	}
	if !etcdraft.IsEmptyHardState(rd.HardState) {
		e.setTerm(rd.HardState.GetTerm())
		e.commit = rd.HardState.GetCommit()
	}
}

// advanceTerm brings the relay to raft's term before a relay message is
// judged: a term change shows in raft before its next Ready does.
func (e *Engine) advanceTerm() {
	if t := e.rn.BasicStatus().GetTerm(); t != e.term {
		e.refresh()
	}
}

func (e *Engine) emitRelay(to node.ID, m *Msg) {
	e.rd.Messages = append(e.rd.Messages, node.Message{From: e.id, To: to, Body: m})
}

// collect takes raft's next Ready, unless the last one is still with the
// driver, and turns it into the node's work.
func (e *Engine) collect() {
	defer e.relay.flush(e.emitRelay)
	if e.accepted || !e.rn.HasReady() {
		e.releaseRelays()
		e.releaseReads()
		return
	}
	rd := e.rn.Ready()
	e.accepted = true
	// First the term: proposals of an older term may have been cut off.
	e.refreshFrom(&rd)
	// The order of the disk ops matters after a crash, which keeps a
	// prefix of them: a kept entry implies a kept HardState and snapshot.
	snap := !etcdraft.IsEmptySnap(rd.Snapshot)
	if snap {
		e.installSnapshot(rd.Snapshot)
	}
	if !etcdraft.IsEmptyHardState(rd.HardState) {
		e.persistHardState(rd.HardState)
	}
	if len(rd.Entries) > 0 {
		e.appendEntries(rd.Entries)
	}
	sync := rd.MustSync || snap
	if e.cfg.Bugs.VoteUnsynced && len(rd.Entries) == 0 && !snap {
		sync = false // seeded bug: a vote or a new term, never synced
	}
	if e.cfg.Bugs.EntriesUnsynced && len(rd.Entries) > 0 && !snap {
		sync = false // seeded bug: entries, never synced
	}
	e.rd.Sync = e.rd.Sync || sync
	for _, m := range rd.Messages {
		e.emitRaft(m)
	}
	for _, ent := range rd.CommittedEntries {
		e.applyEntry(ent)
	}
	for _, rs := range rd.ReadStates {
		e.locate(rs)
	}
	e.releaseRelays()
	e.releaseReads()
}

// emitRaft sends one of raft's messages, unless this node is damaged and
// the message would count toward an election.
func (e *Engine) emitRaft(m *pb.Message) {
	if e.damaged {
		switch m.GetType() {
		case pb.MessageType_MsgVote, pb.MessageType_MsgPreVote:
			return
		case pb.MessageType_MsgVoteResp, pb.MessageType_MsgPreVoteResp:
			if !m.GetReject() {
				return
			}
		case pb.MessageType_MsgAppResp:
			if !m.GetReject() && m.GetIndex() >= e.repairIndex {
				e.repair()
			}
		}
	}
	if m.GetType() == pb.MessageType_MsgSnap {
		e.snapSent = append(e.snapSent, m.GetTo())
	}
	e.rd.Messages = append(e.rd.Messages, node.Message{From: e.id, To: node.ID(m.GetTo()), Body: &Msg{Raft: m}})
}

// repair ends a damaged node's abstention: it has just acknowledged that
// its log matches the leader's up to every index it could have
// acknowledged before the damage, so it holds every entry committed with
// its help again. The marker goes in the same Ready as the ack, after the
// entries: a crash that keeps the removal keeps them.
func (e *Engine) repair() {
	e.damaged = false
	e.rd.Disk = append(e.rd.Disk, node.DiskOp{Kind: node.Remove, File: fileDamaged})
	e.rd.Sync = true
}

// persistHardState writes the HardState when its term or vote changed:
// those must be durable before anything that depends on them leaves. A
// commit index alone is not written (raft's MustSync does not ask for it
// either); after a restart the node knows less and learns the rest again.
func (e *Engine) persistHardState(hs *pb.HardState) {
	must(e.storage.SetHardState(hs))
	if hs.GetTerm() == e.written.GetTerm() && hs.GetVote() == e.written.GetVote() {
		return
	}
	e.written = hs
	b := encodeHardState(hs)
	for _, f := range hardStateFiles {
		e.rd.Disk = append(e.rd.Disk, node.DiskOp{Kind: node.Replace, File: f, Data: b})
	}
}

// appendEntries logs raft's new entries, cutting off any conflicting tail
// first, and checks the leader's proposals turned up where it said.
func (e *Engine) appendEntries(ents []*pb.Entry) {
	first := ents[0].GetIndex()
	if first <= e.snapIndex {
		panic(fmt.Sprintf("raft: invariant violated on server %d: entries from %d at or before the snapshot at %d", e.id, first, e.snapIndex))
	}
	if first <= e.lastIndex {
		e.truncateLog(first)
	}
	for _, ent := range ents {
		if ent.GetIndex() != e.lastIndex+1 {
			panic(fmt.Sprintf("raft: invariant violated on server %d: entry %d appended after %d", e.id, ent.GetIndex(), e.lastIndex))
		}
		if e.cfg.SegmentEntries > 0 && e.sinceRoll >= e.cfg.SegmentEntries || e.bug.Fire(BuggifyRollSegment, 50) {
			e.rollSegment = true
		}
		if e.rollSegment || len(e.segs) == 0 {
			e.segs = append(e.segs, segment{name: segmentName(ent.GetIndex()), first: ent.GetIndex()})
			e.rollSegment, e.sinceRoll = false, 0
		}
		e.sinceRoll++
		s := &e.segs[len(e.segs)-1]
		s.count++
		e.rd.Disk = append(e.rd.Disk, node.DiskOp{Kind: node.Append, File: s.name, Data: encodeEntry(ent)})
		e.lastIndex = ent.GetIndex()
	}
	must(e.storage.Append(ents))
	e.trackTerms(ents)
	e.checkProposals(ents)
}

// truncateLog drops every entry from index on, on disk and in the term
// runs (raft's storage cuts itself on Append).
func (e *Engine) truncateLog(index uint64) {
	if index <= e.applied {
		panic(fmt.Sprintf("raft: invariant violated on server %d: truncation at %d of applied entries (applied %d)", e.id, index, e.applied))
	}
	for len(e.segs) > 0 {
		s := &e.segs[len(e.segs)-1]
		if s.first >= index {
			e.rd.Disk = append(e.rd.Disk, node.DiskOp{Kind: node.Remove, File: s.name})
			e.segs = e.segs[:len(e.segs)-1]
			continue
		}
		if s.last() >= index {
			s.count = index - s.first
			e.rd.Disk = append(e.rd.Disk, node.DiskOp{Kind: node.Truncate, File: s.name, N: int(s.count)})
		}
		break
	}
	for len(e.runs) > 1 && e.runs[len(e.runs)-1].start >= index {
		e.runs = e.runs[:len(e.runs)-1]
	}
	e.lastIndex = index - 1
}

// trackTerms extends the term runs with appended entries.
func (e *Engine) trackTerms(ents []*pb.Entry) {
	for _, ent := range ents {
		last := e.runs[len(e.runs)-1]
		switch t := ent.GetTerm(); {
		case t == last.term:
		case t > last.term:
			e.runs = append(e.runs, termRun{term: t, start: ent.GetIndex()})
		default:
			panic(fmt.Sprintf("raft: invariant violated on server %d: entry %d of term %d after term %d", e.id, ent.GetIndex(), t, last.term))
		}
	}
}

func (e *Engine) checkProposals(ents []*pb.Entry) {
	if len(e.proposals) == 0 {
		return
	}
	last := ents[len(ents)-1].GetIndex()
	k := 0
	for ; k < len(e.proposals) && e.proposals[k].index <= last; k++ {
		p := e.proposals[k]
		if p.index < ents[0].GetIndex() {
			continue // in an earlier Ready
		}
		ent := ents[p.index-ents[0].GetIndex()]
		if ent.GetTerm() != p.term || len(ent.GetData()) == 0 {
			panic(fmt.Sprintf("raft: invariant violated on server %d: the proposal placed at %d (term %d) turned up as entry %d of term %d",
				e.id, p.index, p.term, ent.GetIndex(), ent.GetTerm()))
		}
	}
	e.proposals = append(e.proposals[:0], e.proposals[k:]...)
}

// termStart is the first index of term t in the log, if the log (or the
// snapshot) has an entry of term t.
func (e *Engine) termStart(t uint64) (uint64, bool) {
	for i := len(e.runs) - 1; i >= 0; i-- {
		if e.runs[i].term == t {
			return e.runs[i].start, true
		}
		if e.runs[i].term < t {
			break
		}
	}
	return 0, false
}

// zxidAt is the zxid of the entry at index: its term and its place in the
// term.
func (e *Engine) zxidAt(index uint64) model.Zxid {
	for i := len(e.runs) - 1; i >= 0; i-- {
		if r := e.runs[i]; r.start <= index {
			if r.term > math.MaxUint32 || index-r.start > math.MaxUint32 {
				panic(fmt.Sprintf("raft: invariant violated on server %d: entry %d of term %d has no zxid", e.id, index, r.term))
			}
			return model.MakeZxid(uint32(r.term), uint32(index-r.start))
		}
	}
	panic(fmt.Sprintf("raft: invariant violated on server %d: no term known for entry %d", e.id, index))
}

// applyEntry hands one committed entry to the server; raft's empty entries
// (a new leader's first) carry no txn.
func (e *Engine) applyEntry(ent *pb.Entry) {
	index := ent.GetIndex()
	if index != e.applied+1 {
		panic(fmt.Sprintf("raft: invariant violated on server %d: committed entry %d after applied %d", e.id, index, e.applied))
	}
	if ent.GetType() != pb.EntryType_EntryNormal {
		panic(fmt.Sprintf("raft: invariant violated on server %d: committed entry %d is a %s, never proposed", e.id, index, ent.GetType()))
	}
	e.applied = index
	if len(ent.GetData()) == 0 {
		return
	}
	z := e.zxidAt(index)
	if z <= e.appliedZxid {
		panic(fmt.Sprintf("raft: invariant violated on server %d: entry %d has zxid %v, not after %v", e.id, index, z, e.appliedZxid))
	}
	e.appliedZxid = z
	e.apply.Committed = append(e.apply.Committed, quorum.Entry{Position: quorum.Position(index), Zxid: z, Data: ent.GetData()})
}

// installSnapshot replaces the log and the state with a leader's snapshot.
func (e *Engine) installSnapshot(s *pb.Snapshot) {
	d, ok := decodeSnapData(s.GetData())
	index, term := s.GetMetadata().GetIndex(), s.GetMetadata().GetTerm()
	if !ok || index <= e.applied {
		panic(fmt.Sprintf("raft: invariant violated on server %d: snapshot at %d (applied %d, data ok %t)", e.id, index, e.applied, ok))
	}
	e.rd.Disk = append(e.rd.Disk, node.DiskOp{Kind: node.Replace, File: fileSnapshot, Data: encodeSnapshot(index, term, s.GetData())})
	for _, seg := range e.segs {
		e.rd.Disk = append(e.rd.Disk, node.DiskOp{Kind: node.Remove, File: seg.name})
	}
	e.segs, e.rollSegment = nil, true
	must(e.storage.ApplySnapshot(s))
	e.snapIndex, e.lastIndex = index, index
	e.runs = append(e.runs[:0], termRun{term: term, start: d.termStart})
	e.applied, e.appliedZxid = index, d.zxid
	e.proposals = e.proposals[:0]
	e.apply.Restore = &quorum.Snapshot{Zxid: d.zxid, Data: d.state}
	e.apply.Committed = e.apply.Committed[:0]
}

// maybeSnapshot snapshots the state machine every SnapCount applied entries
// and compacts the log back to the previous snapshot, so that a follower a
// little behind still gets entries rather than a snapshot.
func (e *Engine) maybeSnapshot() {
	if e.applied == e.snapIndex || e.apply.Restore != nil || len(e.apply.Committed) > 0 {
		return // nothing new, or the server has not taken everything yet
	}
	if e.applied-e.snapIndex < uint64(e.cfg.SnapCount) && !e.bug.Fire(BuggifySnapshotNow, 5) {
		return
	}
	s := e.cfg.StateMachine.Snapshot()
	if s.Zxid != e.appliedZxid {
		panic(fmt.Sprintf("raft: invariant violated on server %d: state machine snapshot at %v, applied %v", e.id, s.Zxid, e.appliedZxid))
	}
	term, err := e.storage.Term(e.applied)
	must(err)
	start, ok := e.termStart(term)
	if !ok {
		panic(fmt.Sprintf("raft: invariant violated on server %d: no start known for term %d", e.id, term))
	}
	data := snapData{termStart: start, zxid: s.Zxid, state: s.Data}.encode()
	_, err = e.storage.CreateSnapshot(e.applied, e.confState, data)
	must(err)
	e.rd.Disk = append(e.rd.Disk, node.DiskOp{Kind: node.Replace, File: fileSnapshot, Data: encodeSnapshot(e.applied, term, data)})
	// Compact back to the previous snapshot, or to KeepEntries behind this
	// one if that keeps fewer.
	prev := e.snapIndex
	if k := uint64(e.cfg.KeepEntries); k > 0 && e.applied > k {
		prev = max(prev, e.applied-k)
	}
	if e.bug.Fire(BuggifyCompactAll, 200) {
		prev = e.applied
	}
	prev = min(prev, e.raftApplied)
	e.snapIndex = e.applied
	e.rollSegment = true
	if first, _ := e.storage.FirstIndex(); prev >= first {
		must(e.storage.Compact(prev))
		kept := e.segs[:0]
		for _, seg := range e.segs {
			if seg.last() <= prev {
				e.rd.Disk = append(e.rd.Disk, node.DiskOp{Kind: node.Remove, File: seg.name})
				continue
			}
			kept = append(kept, seg)
		}
		e.segs = kept
	}
	// Keep the run the compacted log starts in and every later one.
	k := 0
	for k+1 < len(e.runs) && e.runs[k+1].start <= prev {
		k++
	}
	e.runs = append(e.runs[:0], e.runs[k:]...)
}
