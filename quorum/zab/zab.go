// Package zab is ZooKeeper's atomic broadcast as an I/O-free state machine:
// FastLeaderElection, then discovery (a new epoch above every accepted
// epoch of an election quorum), synchronization (DIFF, TRUNC or SNAP, then
// NEWLEADER acknowledged by a commit quorum), then broadcast (PROPOSAL,
// logged and synced before ACK, COMMIT once the acks form a commit
// quorum).
//
// The engine never reads a clock, a socket or a file: messages come in
// through Step, time through Tick, and everything it wants done (disk
// writes, a sync, messages, committed txns to apply) goes out through
// Ready. Its only randomness is the *rand.Rand its driver passes in.
//
// Channels between a follower and its leader are treated like ZooKeeper's
// TCP connections: FIFO and gap-free. The simulated network may lose,
// duplicate or reorder messages, so every learner message carries its
// connection and a sequence number; a gap or a stale connection breaks the
// connection and the follower goes back to looking, as a follower whose TCP
// connection drops does.
package zab

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"

	"zoosim/model"
	"zoosim/node"
	"zoosim/quorum"
)

// Config is one server's Zab configuration. Times are in the node's clock.
type Config struct {
	Verifier quorum.Verifier
	// TickTime is ZooKeeper's tickTime: the unit of the limits below and
	// the leader's ping interval.
	TickTime node.Time
	// InitLimit bounds, in ticks, how long discovery and sync may take.
	InitLimit int
	// SyncLimit bounds, in ticks, how long a follower may go unheard (and a
	// leader may go without hearing from a commit quorum).
	SyncLimit int
	// FinalizeWait is how long an election waits for a better vote once a
	// quorum agrees (ZooKeeper's finalizeWait).
	FinalizeWait node.Time
	// VoteResend is the base interval at which a looking server resends its
	// vote; the actual interval is jittered by the node's random stream.
	VoteResend node.Time
	// SnapCount is the number of committed txns between snapshots; the log
	// before the previous snapshot is then removed.
	SnapCount int
	// SegmentTxns rolls the log to a new segment file every this many
	// appends (0: only after a snapshot, as ZooKeeper does).
	SegmentTxns int
	// DiffLimit makes the leader send a snapshot instead of a DIFF or TRUNC
	// to a follower that misses more than this many txns (ZooKeeper's
	// snapSizeFactor; 0: no limit).
	DiffLimit int
	// StateMachine serializes the applied state for snapshots.
	StateMachine quorum.StateMachine
	// Bugs are deliberate defects for proving the harness's checkers; the
	// zero value is correct Zab.
	Bugs Bugs
}

// Bugs are seeded defects of the protocol, each the mechanism of a real
// bug (the harness's catalog names which).
type Bugs struct {
	// AckBeforeSync: a follower acks a proposal without syncing its log.
	AckBeforeSync bool
	// CommitOneAckShort: the leader commits with one ack fewer than a
	// commit quorum.
	CommitOneAckShort bool
	// LogAfterNewLeader: a follower acks NEWLEADER (and persists the new
	// epoch) before it logs the txns the sync brought; it logs them when
	// UPTODATE or the next proposal arrives.
	LogAfterNewLeader bool
	// EpochReuse: a new leader takes the highest accepted epoch it heard as
	// its epoch instead of one above it.
	EpochReuse bool
	// ElectionIgnoresZxid: votes are ordered by (epoch, server id) only, and
	// a leader does not give way to a follower with a longer history.
	ElectionIgnoresZxid bool
	// IgnoreTrunc: a follower told to TRUNC keeps the txns the leader does
	// not have.
	IgnoreTrunc bool
	// SyncCommitsAll: a follower applies everything a sync brought at once,
	// before the leader is established, not just up to its commit point.
	SyncCommitsAll bool
	// SnapAckBeforeSync: a follower acks NEWLEADER after a SNAP before the
	// snapshot and the new epoch are synced.
	SnapAckBeforeSync bool
	// NoStepDown: a leader that hears from no commit quorum keeps leading.
	NoStepDown bool
	// ApplyProposals: a follower applies proposals as it logs them, before
	// they are committed.
	ApplyProposals bool
	// TruncTooMuch: a follower told to TRUNC to a zxid drops that txn too.
	TruncTooMuch bool
	// CorruptAsEOF: recovery takes a corrupt log record for the end of the
	// log and cuts it there, without marking the server damaged.
	CorruptAsEOF bool
	_            struct{}
}

// DefaultConfig fills in ZooKeeper-like limits scaled to a 100 ms tick.
func DefaultConfig(v quorum.Verifier, sm quorum.StateMachine) Config {
	return Config{
		Verifier:     v,
		TickTime:     100 * node.Millisecond,
		InitLimit:    10,
		SyncLimit:    5,
		FinalizeWait: 50 * node.Millisecond,
		VoteResend:   100 * node.Millisecond,
		SnapCount:    1000,
		StateMachine: sm,
	}
}

func (c *Config) validate() error {
	switch {
	case c.Verifier == nil:
		return fmt.Errorf("zab: no quorum verifier")
	case c.StateMachine == nil:
		return fmt.Errorf("zab: no state machine")
	case c.TickTime <= 0 || c.InitLimit <= 0 || c.SyncLimit <= 0:
		return fmt.Errorf("zab: tickTime, initLimit and syncLimit must be positive")
	case c.FinalizeWait < 0 || c.VoteResend <= 0 || c.SnapCount <= 0:
		return fmt.Errorf("zab: finalizeWait must be >= 0, voteResend and snapCount > 0")
	case c.SegmentTxns < 0 || c.DiffLimit < 0:
		return fmt.Errorf("zab: segmentTxns and diffLimit must be >= 0")
	}
	return nil
}

// The forced rare branches (node.Buggify points) of the engine. Each takes
// a branch that real ensembles take seldom and that correct Zab must
// survive.
const (
	// BuggifySyncSnap: the leader sends a SNAP where a DIFF or TRUNC would
	// do.
	BuggifySyncSnap = "zab/sync-snap"
	// BuggifySnapshotNow: a snapshot is taken now, not after SnapCount txns.
	BuggifySnapshotNow = "zab/snapshot-now"
	// BuggifyRollSegment: the log rolls to a new segment at this append.
	BuggifyRollSegment = "zab/roll-segment"
	// BuggifyDropAfterNewLeader: the follower drops its learner connection
	// right after acknowledging NEWLEADER.
	BuggifyDropAfterNewLeader = "zab/drop-after-newleader"
	// BuggifyLateCommit: a follower applies a commit it was told of at its
	// next tick instead of at once.
	BuggifyLateCommit = "zab/late-commit"
	// BuggifyDropLearner: the leader drops a learner connection (a TCP
	// reset) at a tick.
	BuggifyDropLearner = "zab/drop-learner"
)

// BuggifyPoints are the engine's forced rare branches.
var BuggifyPoints = []string{BuggifySyncSnap, BuggifySnapshotNow, BuggifyRollSegment, BuggifyDropAfterNewLeader,
	BuggifyLateCommit, BuggifyDropLearner}

// voteRecord is the last notification heard from one server.
type voteRecord struct {
	ok      bool
	vote    Vote
	round   uint64
	state   quorum.Role
	abstain bool
}

// Follower connection phases.
type followerPhase uint8

const (
	fConnecting followerPhase = iota + 1 // FOLLOWERINFO sent
	fEpochAcked                          // ACKEPOCH sent
	fSynced                              // sync applied and acked, waiting for UPTODATE
	fUpToDate                            // serving
)

// Leader phases.
type leaderPhase uint8

const (
	lDiscovery   leaderPhase = iota + 1 // gathering FOLLOWERINFO from an election quorum
	lEpochWait                          // LEADERINFO sent, gathering ACKEPOCH
	lSync                               // syncs sent, gathering NEWLEADER acks from a commit quorum
	lEstablished                        // broadcasting
)

// Learner handler phases (the leader's view of one follower).
type learnerPhase uint8

const (
	lhInfo      learnerPhase = iota + 1 // FOLLOWERINFO received
	lhEpochSent                         // LEADERINFO sent
	lhAcked                             // ACKEPOCH received
	lhSyncSent                          // sync sent; proposals and commits flow
	lhSynced                            // NEWLEADER acked: its acks count
)

// learner is the leader's handler for one follower connection.
type learner struct {
	conn                        uint64
	sendSeq, recvSeq            uint64
	phase                       learnerPhase
	acceptedEpoch, currentEpoch uint32
	lastZxid, applied           model.Zxid
	acked                       model.Zxid
	lastHeard                   node.Time
	abstain                     bool
}

// Zab is one server's engine.
type Zab struct {
	cfg   Config
	id    node.ID
	rnd   *rand.Rand
	bug   *node.Buggify // forced rare branches (nil: none)
	now   node.Time
	peers []node.ID // every other voter, sorted

	// Durable state (mirrors the disk once the pending Ready is done).
	acceptedEpoch, currentEpoch uint32
	log                         []quorum.Entry // txns after base, in zxid order
	base                        model.Zxid     // the zxid just before log[0]
	segs                        []segment
	rollSegment                 bool // start a new log segment at the next append
	sinceRoll                   int  // appends since the last roll
	snapZxid                    model.Zxid
	sinceSnap                   int
	// abstain: the disk lost state; count toward no quorum until synced.
	abstain bool

	// What has been handed to the server, and what is known committed.
	applied   model.Zxid
	committed model.Zxid

	// durable* are what the disk holds for sure: the leader counts its own
	// ack only for txns it has synced, and establishes its epoch only once
	// its current epoch is on disk. With a driver that reports syncs they
	// move when Synced says so; otherwise at Advance.
	durableLogged       model.Zxid
	durableCurrentEpoch uint32
	reportsSyncs        bool
	syncsAsked          uint64
	awaitingSync        []durablePoint

	role   quorum.Role
	leader node.ID

	// Election.
	round      uint64
	vote       Vote
	recv       []voteRecord // by server id
	outOfElec  []voteRecord
	decideAt   node.Time
	nextResend node.Time
	resendStep node.Time

	// Follower.
	fphase       followerPhase
	conn         uint64
	sendSeq      uint64
	recvSeq      uint64
	newEpoch     uint32 // the epoch being synced to (follower) or led (leader)
	lastHeard    node.Time
	lastInfoSent node.Time
	phaseStart   node.Time

	// Leader.
	lphase   leaderPhase
	learners []*learner // by server id; nil when not connected

	nextPing node.Time
	// holdApply defers applying commits until the next tick
	// (BuggifyLateCommit).
	holdApply bool
	// stash holds synced txns not yet logged (the LogAfterNewLeader bug).
	stash []quorum.Entry

	rd      node.Ready
	apply   quorum.Apply
	pending bool // rd holds work
}

// durablePoint is what will be durable once sync request seq completes.
type durablePoint struct {
	seq          uint64
	logged       model.Zxid
	currentEpoch uint32
}

var (
	_ quorum.Engine     = (*Zab)(nil)
	_ node.SyncObserver = (*Zab)(nil)
)

// ErrEpochExhausted is returned by Propose when the zxid counter of the
// epoch is used up; the engine starts an election, as ZooKeeper does.
var ErrEpochExhausted = errors.New("zab: zxid counter exhausted in this epoch")

// entry builds a log entry: Zab's position in its log is the zxid itself.
func entry(zxid model.Zxid, data []byte) quorum.Entry {
	return quorum.Entry{Position: quorum.Position(zxid), Zxid: zxid, Data: data}
}

// New builds the engine from what survived on the node's disk. The first
// Ready carries the snapshot to restore (if any) and the repairs of a
// damaged log.
func New(cfg Config, env node.Env) (*Zab, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	voters := cfg.Verifier.Voters()
	if !voters.Has(env.ID) {
		return nil, fmt.Errorf("zab: server %d is not a voter of %s over %v", env.ID, cfg.Verifier, voters)
	}
	if env.Rand == nil {
		return nil, fmt.Errorf("zab: no random stream")
	}
	z := &Zab{cfg: cfg, id: env.ID, rnd: env.Rand, bug: env.Buggify, now: env.Now, reportsSyncs: env.ReportsSyncs}
	for _, id := range voters.IDs() {
		if id != env.ID {
			z.peers = append(z.peers, id)
		}
	}
	maxID := voters.IDs()[len(voters.IDs())-1]
	z.recv = make([]voteRecord, maxID+1)
	z.outOfElec = make([]voteRecord, maxID+1)
	z.learners = make([]*learner, maxID+1)

	r := recoverStorage(env.Storage, cfg.Bugs.CorruptAsEOF)
	z.acceptedEpoch, z.currentEpoch = r.acceptedEpoch, r.currentEpoch
	z.abstain = r.damaged
	z.rd.Disk = append(z.rd.Disk, r.repair...)
	if len(r.repair) > 0 {
		z.rd.Sync = true
	}
	if r.snap != nil {
		z.base, z.snapZxid, z.applied, z.committed = r.snap.Zxid, r.snap.Zxid, r.snap.Zxid, r.snap.Zxid
		s := *r.snap
		z.apply.Restore = &s
	}
	z.log = r.entries
	z.segs = r.segs
	z.rollSegment = true
	// What the disk gave back is durable (the repairs only cut it back).
	z.durableLogged = z.lastLogged()
	z.durableCurrentEpoch = z.currentEpoch
	z.pending = true
	z.startLooking()
	return z, nil
}

// Owns reports whether body is a Zab message.
func (z *Zab) Owns(body any) bool {
	_, ok := body.(*Msg)
	return ok
}

// Status reports the engine's view: a leader serves once established, a
// follower once UPTODATE.
func (z *Zab) Status() quorum.Status {
	s := quorum.Status{Role: z.role, Committed: z.applied}
	switch z.role {
	case quorum.Leading:
		s.Leader, s.Term, s.Serving = z.id, uint64(z.newEpoch), z.lphase == lEstablished
	case quorum.Following:
		s.Leader, s.Term, s.Serving = z.leader, uint64(z.newEpoch), z.fphase == fUpToDate
	}
	return s
}

// Epoch is the epoch of the leader being followed or led (0 while looking).
func (z *Zab) Epoch() uint32 {
	if z.role == quorum.Looking {
		return 0
	}
	return z.newEpoch
}

// LastLogged is the last zxid in the log (possibly uncommitted).
func (z *Zab) LastLogged() model.Zxid { return z.lastLogged() }

// Applied is the last zxid handed to the server.
func (z *Zab) Applied() model.Zxid { return z.applied }

// Abstaining reports whether the server lost disk state and waits for a sync.
func (z *Zab) Abstaining() bool { return z.abstain }

// Ready returns the pending work.
func (z *Zab) Ready() node.Ready {
	z.rd.WakeAt = z.wakeAt()
	return z.rd
}

// Synced records that the first count sync requests are durable.
func (z *Zab) Synced(now node.Time, count uint64) {
	if now > z.now {
		z.now = now
	}
	i := 0
	for ; i < len(z.awaitingSync) && z.awaitingSync[i].seq <= count; i++ {
		p := z.awaitingSync[i]
		// A truncation can make the log shorter than a point recorded
		// earlier; durable never exceeds what the log holds.
		z.durableLogged = min(p.logged, z.lastLogged())
		z.durableCurrentEpoch = p.currentEpoch
	}
	z.awaitingSync = append(z.awaitingSync[:0], z.awaitingSync[i:]...)
	z.progress()
}

// TakeApply hands over what the server must apply.
func (z *Zab) TakeApply() quorum.Apply {
	a := z.apply
	z.apply.Restore = nil
	z.apply.Committed = z.apply.Committed[:0]
	z.apply.Relayed = nil
	return a
}

// Advance records that the driver did the last Ready: what it wrote is
// durable, what it applied is applied.
func (z *Zab) Advance() {
	synced := z.rd.Sync
	z.rd.Disk = z.rd.Disk[:0]
	z.rd.Messages = z.rd.Messages[:0]
	z.rd.Sync = false
	z.pending = false
	if !z.reportsSyncs {
		z.durableLogged = z.lastLogged()
		z.durableCurrentEpoch = z.currentEpoch
	} else if synced {
		z.syncsAsked++
		z.awaitingSync = append(z.awaitingSync, durablePoint{seq: z.syncsAsked, logged: z.lastLogged(), currentEpoch: z.currentEpoch})
	}
	// Snapshot first: everything handed over so far has been applied, and
	// nothing new is pending yet.
	z.maybeSnapshot()
	z.progress()
}

func (z *Zab) wakeAt() node.Time {
	// One wake-up per tick keeps every deadline within a tick of its time;
	// elections also need the finalize and resend instants.
	w := z.now - z.now%z.cfg.TickTime + z.cfg.TickTime
	if z.role == quorum.Looking {
		if z.decideAt != 0 && z.decideAt < w {
			w = z.decideAt
		}
		if z.nextResend < w {
			w = z.nextResend
		}
	}
	if w <= z.now {
		w = z.now + 1
	}
	return w
}

func (z *Zab) lastLogged() model.Zxid {
	if len(z.log) == 0 {
		return z.base
	}
	return z.log[len(z.log)-1].Zxid
}

// indexAfter returns the index in z.log of the first entry with a zxid
// greater than zxid.
func (z *Zab) indexAfter(zxid model.Zxid) int {
	return sort.Search(len(z.log), func(i int) bool { return z.log[i].Zxid > zxid })
}

func (z *Zab) send(to node.ID, m *Msg) {
	z.rd.Messages = append(z.rd.Messages, node.Message{From: z.id, To: to, Body: m})
	z.pending = true
}

// Tick advances time: timeouts, vote resends, pings.
func (z *Zab) Tick(now node.Time) {
	if now > z.now {
		z.now = now
	}
	z.holdApply = false
	switch z.role {
	case quorum.Looking:
		z.tickLooking()
	case quorum.Following:
		z.tickFollowing()
	case quorum.Leading:
		z.tickLeading()
	}
	z.progress()
}

// Step handles one message.
func (z *Zab) Step(now node.Time, msg node.Message) {
	if now > z.now {
		z.now = now
	}
	m, ok := msg.Body.(*Msg)
	if !ok {
		panic(fmt.Sprintf("zab: server %d handed a %T it does not own", z.id, msg.Body))
	}
	from := msg.From
	if !z.cfg.Verifier.Voters().Has(from) || from == z.id {
		return
	}
	if m.Type == MsgVote {
		z.stepVote(from, m)
		z.progress()
		return
	}
	switch z.role {
	case quorum.Following:
		if from == z.leader {
			z.stepFollower(m)
		} else if m.Type == MsgFollowerInfo {
			// A server that thinks we lead: we do not. Tell it to look again.
			z.send(from, &Msg{Type: MsgReset, Conn: m.Conn})
		}
	case quorum.Leading:
		z.stepLeader(from, m)
	default:
		// Looking: a server that already decided we lead may be ahead of
		// us; it retries, so say nothing.
	}
	z.progress()
}

// Relay sends a server payload on the learner channel.
func (z *Zab) Relay(to node.ID, payload any) bool {
	switch z.role {
	case quorum.Following:
		if to != z.leader || z.fphase != fUpToDate {
			return false
		}
		z.sendLeader(&Msg{Type: MsgRelay, Payload: payload})
		return true
	case quorum.Leading:
		if to < 1 || int(to) >= len(z.learners) {
			return false
		}
		l := z.learners[to]
		if l == nil || l.phase != lhSynced || z.lphase != lEstablished {
			return false
		}
		z.sendLearner(to, l, &Msg{Type: MsgRelay, Payload: payload})
		return true
	}
	return false
}

// ---- storage ----

func (z *Zab) persistAcceptedEpoch(e uint32) {
	z.acceptedEpoch = e
	z.rd.Disk = append(z.rd.Disk, node.DiskOp{Kind: node.Replace, File: fileAcceptedEpoch, Data: encodeEpoch(e)})
	z.rd.Sync = true
	z.pending = true
}

func (z *Zab) persistCurrentEpoch(e uint32) {
	z.currentEpoch = e
	z.rd.Disk = append(z.rd.Disk, node.DiskOp{Kind: node.Replace, File: fileCurrentEpoch, Data: encodeEpoch(e)})
	z.rd.Sync = true
	z.pending = true
}

// appendLog logs one txn (and asks for a sync: nothing is acked before).
func (z *Zab) appendLog(e quorum.Entry) {
	if last := z.lastLogged(); e.Zxid <= last {
		panic(fmt.Sprintf("zab: invariant violated on server %d: log append %v after %v is out of order", z.id, e.Zxid, last))
	}
	if z.cfg.SegmentTxns > 0 && z.sinceRoll >= z.cfg.SegmentTxns || z.bug.Fire(BuggifyRollSegment, 50) {
		z.rollSegment = true
	}
	if z.rollSegment || len(z.segs) == 0 {
		z.segs = append(z.segs, segment{name: segmentName(e.Zxid), first: e.Zxid})
		z.rollSegment = false
		z.sinceRoll = 0
	}
	z.sinceRoll++
	s := &z.segs[len(z.segs)-1]
	s.count++
	s.last = e.Zxid
	z.log = append(z.log, e)
	z.rd.Disk = append(z.rd.Disk, node.DiskOp{Kind: node.Append, File: s.name, Data: encodeEntry(e.Zxid, e.Data)})
	z.rd.Sync = true
	z.pending = true
}

// truncateLog drops every txn after zxid, on disk and in memory.
func (z *Zab) truncateLog(zxid model.Zxid) {
	if zxid < z.applied {
		panic(fmt.Sprintf("zab: invariant violated on server %d: truncation to %v below applied %v", z.id, zxid, z.applied))
	}
	if z.cfg.Bugs.TruncTooMuch {
		// Seeded bug (ZOOKEEPER-1156): the txn at the truncation point goes
		// too, unless that would drop applied state.
		if j := z.indexAfter(zxid); j > 0 && z.log[j-1].Zxid == zxid {
			prev := z.base
			if j > 1 {
				prev = z.log[j-2].Zxid
			}
			if prev >= z.applied {
				zxid = prev
			}
		}
	}
	i := z.indexAfter(zxid)
	dropped := z.log[i:]
	if len(dropped) == 0 {
		return
	}
	for len(z.segs) > 0 {
		s := &z.segs[len(z.segs)-1]
		if s.first > zxid {
			z.rd.Disk = append(z.rd.Disk, node.DiskOp{Kind: node.Remove, File: s.name})
			z.segs = z.segs[:len(z.segs)-1]
			continue
		}
		n := 0
		for _, e := range dropped {
			if e.Zxid <= s.last {
				n++
			}
		}
		s.count -= n
		s.last = zxid
		z.rd.Disk = append(z.rd.Disk, node.DiskOp{Kind: node.Truncate, File: s.name, N: s.count})
		break
	}
	// Cap the slice: sync messages in flight may share this backing array,
	// so the next append must not write over what they hold.
	z.log = z.log[:i:i]
	if z.committed > zxid {
		z.committed = zxid
	}
	z.rd.Sync = true
	z.pending = true
}

// installSnapshot replaces the whole state: the server restores it, the log
// starts afresh after it.
//
// The disk ops are ordered so that a crash that keeps any prefix of them
// leaves no hole between the snapshot on disk and the log after it: the
// new snapshot first (until it is written, the old snapshot and the whole
// old log stand), then the segments, newest first (what remains is always
// the oldest part of the log, which follows the snapshot without a gap).
// Removing the oldest segment first and crashing before the snapshot was
// written left the old snapshot followed by the newer segments only: the
// server recovered a log with txns missing in the middle, reported its last
// zxid as if it had them all, and was synced by a DIFF that never sent them
// (locks seed 1014 with the workloads of issue 11).
func (z *Zab) installSnapshot(s *quorum.Snapshot) {
	z.rd.Disk = append(z.rd.Disk, node.DiskOp{Kind: node.Replace, File: fileSnapshot, Data: encodeEntry(s.Zxid, s.Data)})
	for i := len(z.segs) - 1; i >= 0; i-- {
		z.rd.Disk = append(z.rd.Disk, node.DiskOp{Kind: node.Remove, File: z.segs[i].name})
	}
	z.segs = nil
	z.log = nil
	z.rollSegment = true
	z.base, z.snapZxid, z.applied, z.committed = s.Zxid, s.Zxid, s.Zxid, s.Zxid
	z.sinceSnap = 0
	z.apply.Restore = s
	z.apply.Committed = z.apply.Committed[:0]
	z.rd.Sync = true
	z.pending = true
}

// maybeSnapshot takes a snapshot every SnapCount applied txns and removes
// the log segments that the previous snapshot already covers, so a
// follower a little behind can still be sent a DIFF.
func (z *Zab) maybeSnapshot() {
	if z.sinceSnap < z.cfg.SnapCount && (z.sinceSnap == 0 || !z.bug.Fire(BuggifySnapshotNow, 5)) {
		return
	}
	s := z.snapshotApplied()
	prev := z.snapZxid
	z.rd.Disk = append(z.rd.Disk, node.DiskOp{Kind: node.Replace, File: fileSnapshot, Data: encodeEntry(s.Zxid, s.Data)})
	z.snapZxid = s.Zxid
	z.sinceSnap = 0
	z.rollSegment = true
	kept := z.segs[:0]
	for _, seg := range z.segs {
		if seg.last <= prev && prev > 0 {
			z.rd.Disk = append(z.rd.Disk, node.DiskOp{Kind: node.Remove, File: seg.name})
			continue
		}
		kept = append(kept, seg)
	}
	z.segs = kept
	if prev > z.base {
		i := z.indexAfter(prev)
		z.log = append(z.log[:0:0], z.log[i:]...)
		z.base = prev
	}
	z.pending = true
}

// snapshotApplied asks the server for a snapshot and checks it is of a
// state the engine handed over: at or after the last snapshot and the log
// base, at or before what the engine applied.
func (z *Zab) snapshotApplied() quorum.Snapshot {
	s := z.cfg.StateMachine.Snapshot()
	if s.Zxid > z.applied || s.Zxid < z.base || s.Zxid < z.snapZxid {
		panic(fmt.Sprintf("zab: invariant violated on server %d: state machine snapshot at %v outside [%v, %v]",
			z.id, s.Zxid, max(z.base, z.snapZxid), z.applied))
	}
	return s
}

// applyCommitted hands the server every logged txn up to the commit point.
func (z *Zab) applyCommitted() {
	limit := min(z.committed, z.lastLogged())
	if limit <= z.applied {
		return
	}
	for i := z.indexAfter(z.applied); i < len(z.log) && z.log[i].Zxid <= limit; i++ {
		z.apply.Committed = append(z.apply.Committed, z.log[i])
		z.sinceSnap++
	}
	z.applied = limit
	z.pending = true
}

// progress runs the checks that any input may unblock.
func (z *Zab) progress() {
	switch z.role {
	case quorum.Leading:
		z.leaderProgress()
	case quorum.Following:
		if z.fphase == fUpToDate && !z.holdApply {
			z.applyCommitted()
		}
	}
}
