package raft

import (
	crand "crypto/rand"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	etcdraft "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"zoosim/model"
	"zoosim/node"
	"zoosim/quorum"
	"zoosim/sim"
)

const sec = node.Second

// In Go 1.26, raft's draw rand.Int(rand.Reader, n) reads the package
// variable crypto/rand.Reader on every call, so the simulator's constant
// reader makes every election timeout the same: a lone node campaigns after
// exactly ElectionTick ticks, every time, whatever else runs in the process.
// (Its own draw would be uniform in [ElectionTick, 2*ElectionTick).)
func TestRaft_SimulationMakesRaftsOwnJitterConstant(t *testing.T) {
	sim.New(sim.DefaultConfig(1)) // installs the constant reader
	for i := range 20 {
		n, err := crand.Int(crand.Reader, big.NewInt(1000))
		require.NoError(t, err)
		require.Zero(t, n.Int64())

		st := etcdraft.NewMemoryStorage()
		require.NoError(t, st.ApplySnapshot(&pb.Snapshot{Metadata: &pb.SnapshotMetadata{
			Index: proto.Uint64(1), Term: proto.Uint64(1), ConfState: &pb.ConfState{Voters: []uint64{1}}}}))
		rn, err := etcdraft.NewRawNode(&etcdraft.Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: st,
			MaxInflightMsgs: 16, Logger: quietLogger{1}})
		require.NoError(t, err)
		ticks := 0
		for rn.BasicStatus().RaftState == etcdraft.StateFollower {
			rn.Tick()
			ticks++
			require.Less(t, ticks, 100)
		}
		require.Equal(t, 10, ticks, "node %d", i)
	}
}

func TestRaft_ElectsALeaderAndCommitsInZxidOrderEverywhere(t *testing.T) {
	c := newCluster(t, 1, 5, nil)
	c.proposeEvery = 5 * node.Millisecond
	require.True(t, c.runUntil(5*sec, c.allServing), "no serving ensemble")
	l := c.leader()
	st := c.rep(l).e.Status()
	c.w.RunFor(2 * sec)
	c.proposing = false
	c.w.RunFor(sec)
	h := c.checkAgreement(t)
	require.Greater(t, len(h), 100)
	for i := 1; i <= 5; i++ {
		assert.Len(t, c.reps[node.ID(i)].applied, len(h), "server %d did not apply everything", i)
	}
	// epoch = term, and the first txn of a term has counter 1 (counter 0 is
	// the leader's empty entry).
	assert.Equal(t, uint32(st.Term), h[0].Zxid.Epoch())
	assert.Equal(t, uint32(1), h[0].Zxid.Counter())
	assert.Equal(t, uint32(len(h)), h[len(h)-1].Zxid.Counter())
}

func TestRaft_StandaloneLeadsAlone(t *testing.T) {
	c := newCluster(t, 2, 1, nil)
	c.proposeEvery = 10 * node.Millisecond
	require.True(t, c.runUntil(2*sec, func() bool { return c.leader() == 1 && len(c.reps[1].applied) >= 10 }))
	c.checkAgreement(t)
}

// Across leader crashes, the zxids of every replica are the same sequence,
// strictly increasing, with the epoch of each txn the term it was proposed
// in; a restarted server rejoins and catches up.
func TestRaft_LeaderCrashesKeepOneZxidOrder(t *testing.T) {
	c := newCluster(t, 3, 3, nil)
	c.proposeEvery = 10 * node.Millisecond
	require.True(t, c.runUntil(5*sec, c.allServing))
	terms := map[uint32]bool{}
	for round := 0; round < 4; round++ {
		c.w.RunFor(sec)
		old := c.leader()
		require.NotZero(t, old)
		terms[uint32(c.rep(old).e.Status().Term)] = true
		c.w.Crash(old)
		crashAt := c.w.Now()
		require.True(t, c.runUntil(10*sec, func() bool { l := c.leader(); return l != 0 && l != old }), "no new leader")
		t.Logf("round %d: new leader s%d after %d ms", round, c.leader(), (c.w.Now()-crashAt)/node.Millisecond)
		c.w.Restart(old)
		require.True(t, c.runUntil(10*sec, c.allServing), "restarted server did not rejoin")
	}
	c.proposing = false
	c.w.RunFor(sec)
	h := c.checkAgreement(t)
	for i := 1; i <= 3; i++ {
		assert.Len(t, c.reps[node.ID(i)].applied, len(h), "server %d", i)
	}
	seen := map[uint32]bool{}
	for _, e := range h {
		seen[e.Zxid.Epoch()] = true
	}
	for term := range terms {
		assert.True(t, seen[term], "no txn of term %d", term)
	}
}

// Snapshots compact the log; a server cut off for longer than the leader
// keeps entries catches up from a snapshot, and a restarted server
// recovers its snapshot and replays the log after it.
func TestRaft_SnapshotsCompactAndCatchUpALaggingFollower(t *testing.T) {
	c := newCluster(t, 4, 3, func(cfg *Config) { cfg.SnapCount = 50 })
	c.proposeEvery = 5 * node.Millisecond
	require.True(t, c.runUntil(5*sec, c.allServing))
	lagger := node.ID(1)
	if lagger == c.leader() {
		lagger = 2
	}
	c.w.Isolate(lagger)
	c.w.RunFor(3 * sec) // hundreds of entries: several snapshots
	leader := c.leader()
	require.NotZero(t, leader)
	first, err := c.rep(leader).e.storage.FirstIndex()
	require.NoError(t, err)
	require.Greater(t, first, c.rep(lagger).e.Applied()+1, "the leader still has the lagger's next entry")
	c.w.Heal()
	require.True(t, c.runUntil(10*sec, c.allServing))
	c.w.RunFor(sec)
	assert.Positive(t, c.rep(lagger).restores, "the lagger caught up without a snapshot")

	c.proposing = false
	c.w.RunFor(sec)
	for i := 1; i <= 3; i++ {
		c.w.Crash(node.ID(i))
	}
	for i := 1; i <= 3; i++ {
		c.w.Restart(node.ID(i))
	}
	require.True(t, c.runUntil(10*sec, c.allServing))
	c.w.RunFor(sec)
	h := c.checkAgreement(t)
	require.Greater(t, len(h), 300)
	for i := 1; i <= 3; i++ {
		r := c.reps[node.ID(i)]
		assert.Len(t, r.applied, len(h), "server %d after restart", i)
		assert.Positive(t, r.restores, "server %d restored no snapshot", i)
	}
}

// A leader cut off from its quorum steps down (CheckQuorum) within a few
// election timeouts; the others elect a new one.
func TestRaft_LeaderWithoutQuorumStepsDown(t *testing.T) {
	c := newCluster(t, 5, 5, nil)
	require.True(t, c.runUntil(5*sec, c.allServing))
	old := c.leader()
	c.w.Isolate(old)
	cut := c.w.Now()
	require.True(t, c.runUntil(5*sec, func() bool { return c.rep(old).e.Status().Role != quorum.Leading }), "isolated leader kept leading")
	t.Logf("stepped down after %d ms", (c.w.Now()-cut)/node.Millisecond)
	require.True(t, c.runUntil(5*sec, func() bool { l := c.leader(); return l != 0 && l != old }))
}

// ReadIndex: a read point comes back on the majority side, after the entries
// up to it are applied; the isolated old leader gives none (it cannot
// confirm it still leads).
func TestRaft_ReadIndexNeedsAQuorum(t *testing.T) {
	c := newCluster(t, 6, 3, nil)
	c.proposeEvery = 10 * node.Millisecond
	require.True(t, c.runUntil(5*sec, c.allServing))
	old := c.leader()
	c.w.Isolate(old)
	// Asked at once, before the old leader knows it is cut off.
	c.rep(old).e.ReadIndex(c.w.Now(), 1)
	c.w.Drain(old)
	require.True(t, c.runUntil(5*sec, func() bool { l := c.leader(); return l != 0 && l != old }))
	var follower node.ID = 1
	for follower == old || follower == c.leader() {
		follower++
	}
	require.True(t, c.runUntil(5*sec, func() bool { return c.rep(follower).e.Status().Serving }))
	c.rep(follower).e.ReadIndex(c.w.Now(), 7)
	c.w.Drain(follower)
	require.True(t, c.runUntil(5*sec, func() bool { return len(c.rep(follower).reads) > 0 }), "no read point on the majority side")
	assert.Equal(t, []uint64{7}, c.rep(follower).reads)
	assert.Empty(t, c.rep(old).reads, "the isolated leader confirmed a read point")
}

func TestRaft_ReadWithoutQuorumBugAnswersAtOnce(t *testing.T) {
	c := newCluster(t, 6, 3, func(cfg *Config) { cfg.Bugs.ReadWithoutQuorum = true })
	require.True(t, c.runUntil(5*sec, c.allServing))
	old := c.leader()
	c.w.Isolate(old)
	c.rep(old).e.ReadIndex(c.w.Now(), 1)
	c.w.Drain(old)
	assert.Equal(t, []uint64{1}, c.rep(old).reads)
}

// The relay channel delivers each payload once and in order, over links
// that lose, duplicate and reorder, and starts afresh for a restarted peer.
func TestRaft_RelayDeliversOnceInOrderOverBadLinks(t *testing.T) {
	wcfg := sim.DefaultConfig(7)
	c := newClusterConfig(t, wcfg, 3, nil)
	require.True(t, c.runUntil(5*sec, c.allServing))
	l := c.leader()
	var f node.ID = 1
	if f == l {
		f = 2
	}
	bad := sim.DefaultLinkParams()
	bad.LossProb, bad.DupProb, bad.ReorderProb = 0.2, 0.2, 0.3
	c.w.SetLink(f, l, bad)
	c.w.SetLink(l, f, bad)
	sent := 0
	for k := 0; k < 200; k++ {
		if c.rep(f).e.Relay(l, k) {
			sent++
		}
		c.w.Drain(f)
		c.w.RunFor(2 * node.Millisecond)
	}
	require.Equal(t, 200, sent)
	require.True(t, c.runUntil(5*sec, func() bool { return len(c.rep(l).relayed) >= 200 }))
	c.w.RunFor(sec)
	require.Len(t, c.rep(l).relayed, 200)
	for k, r := range c.rep(l).relayed {
		require.Equal(t, f, r.From)
		require.Equal(t, k, r.Payload, "payload %d", k)
	}

	// The leader restarts as a follower of a new term: the stream is gone.
	// A fresh incarnation of a follower gets a fresh stream.
	c.w.SetAllLinks(sim.DefaultLinkParams())
	c.w.Crash(f)
	c.w.Restart(f)
	require.True(t, c.runUntil(10*sec, c.allServing))
	l = c.leader()
	before := len(c.rep(l).relayed)
	for k := range 10 {
		if l == f {
			break
		}
		require.True(t, c.rep(f).e.Relay(l, 1000+k))
		c.w.Drain(f)
	}
	if l != f {
		require.True(t, c.runUntil(2*sec, func() bool { return len(c.rep(l).relayed) >= before+10 }))
		for k, r := range c.rep(l).relayed[before:] {
			require.Equal(t, 1000+k, r.Payload)
		}
	}
}

// A corrupt log record: the log is cut there, the server marks itself
// damaged (on disk too) and neither votes nor campaigns, until it has
// acknowledged the leader's log past everything it had; then the marker
// goes.
func TestRaft_CorruptRecordCutsTheLogAndAbstainsUntilRepaired(t *testing.T) {
	c := newCluster(t, 8, 3, nil)
	c.proposeEvery = 10 * node.Millisecond
	require.True(t, c.runUntil(5*sec, c.allServing))
	c.w.RunFor(sec)
	victim := c.leader()%3 + 1
	var wal string
	for _, f := range c.w.Storage(victim).Files() {
		if strings.HasPrefix(f, walPrefix) {
			wal = f
		}
	}
	require.NotEmpty(t, wal)
	c.w.Crash(victim)
	require.True(t, c.w.CorruptRecord(victim, wal, 3))
	c.w.Restart(victim)
	e := c.rep(victim).e
	require.True(t, e.Damaged())
	require.True(t, c.runUntil(10*sec, func() bool { return !c.rep(victim).e.Damaged() }), "never repaired")
	require.True(t, c.runUntil(2*sec, func() bool { return c.w.Storage(victim).Read(fileDamaged) == nil }))
	c.proposing = false
	c.w.RunFor(sec)
	h := c.checkAgreement(t)
	assert.Len(t, c.reps[victim].applied, len(h))
}

// A damaged server does not help elect anyone: with the leader down and
// the only other voter damaged, no leader is elected until the old leader
// comes back (and it, holding every acknowledged entry, wins).
func TestRaft_DamagedServerGivesNoVotes(t *testing.T) {
	c := newCluster(t, 9, 3, nil)
	c.proposeEvery = 10 * node.Millisecond
	require.True(t, c.runUntil(5*sec, c.allServing))
	c.w.RunFor(sec)
	leader := c.leader()
	a := leader%3 + 1
	c.proposing = false
	c.w.RunFor(200 * node.Millisecond)
	c.w.Crash(leader)
	c.w.Crash(a)
	for _, f := range c.w.Storage(a).Files() {
		if strings.HasPrefix(f, walPrefix) {
			require.True(t, c.w.CorruptRecord(a, f, 0))
		}
	}
	c.w.Restart(a)
	require.True(t, c.rep(a).e.Damaged())
	assert.False(t, c.runUntil(5*sec, func() bool { return c.leader() != 0 }), "a leader was elected with a damaged voter's help")
	c.w.Restart(leader)
	require.True(t, c.runUntil(10*sec, c.allServing))
	c.w.RunFor(sec)
	c.checkAgreement(t)
}

// One damaged HardState record loses nothing: the other copy holds the vote.
func TestRaft_OneCorruptHardStateCopyLosesNothing(t *testing.T) {
	c := newCluster(t, 10, 3, nil)
	require.True(t, c.runUntil(5*sec, c.allServing))
	victim := c.leader()%3 + 1
	term := c.rep(victim).e.Status().Term
	c.w.Crash(victim)
	require.True(t, c.w.CorruptRecord(victim, hardStateFiles[0], 0))
	c.w.Restart(victim)
	e := c.rep(victim).e
	assert.False(t, e.Damaged())
	assert.Equal(t, term, e.rn.BasicStatus().GetTerm())
}

func TestConfState_OnlyMajoritiesRunOnRaft(t *testing.T) {
	for _, tc := range []struct {
		quorum string
		n      int
		ok     bool
	}{
		{"majority", 5, true},
		{"3", 5, true}, // the same sets as a majority
		{"2", 5, false},
		{"4", 5, false},
		{"2", 3, true},
		{"flex:3:3", 5, true},
		{"flex:2:4", 5, false},
		{"hier:1=1,2=1,3=1", 3, true},
		{"hier:1=3,2=1,3=1", 3, false},
		{"hier:1=1,2=1,3=1|4=1,5=1,6=1|7=1,8=1,9=1", 9, false},
	} {
		v, err := quorum.Parse(tc.quorum, tc.n)
		require.NoError(t, err, tc.quorum)
		cs, err := ConfState(v)
		if !tc.ok {
			require.Error(t, err, "%s over %d", tc.quorum, tc.n)
			assert.Contains(t, err.Error(), "majorities")
			continue
		}
		require.NoError(t, err, "%s over %d", tc.quorum, tc.n)
		assert.Len(t, cs.GetVoters(), tc.n)
	}
}

func TestZxidAt_TermAndPlaceInTheTerm(t *testing.T) {
	e := &Engine{runs: []termRun{{term: 1, start: 1}}}
	e.trackTerms([]*pb.Entry{
		{Index: proto.Uint64(2), Term: proto.Uint64(3)},
		{Index: proto.Uint64(3), Term: proto.Uint64(3)},
		{Index: proto.Uint64(4), Term: proto.Uint64(5)},
		{Index: proto.Uint64(5), Term: proto.Uint64(5)},
	})
	for _, tc := range []struct {
		index uint64
		want  model.Zxid
	}{
		{2, model.MakeZxid(3, 0)}, {3, model.MakeZxid(3, 1)}, {4, model.MakeZxid(5, 0)}, {5, model.MakeZxid(5, 1)}, {9, model.MakeZxid(5, 5)},
	} {
		assert.Equal(t, tc.want, e.zxidAt(tc.index), "index %d", tc.index)
	}
	start, ok := e.termStart(5)
	assert.True(t, ok)
	assert.Equal(t, uint64(4), start)
	_, ok = e.termStart(4)
	assert.False(t, ok)
	e.truncateLog(4)
	assert.Equal(t, model.MakeZxid(3, 2), e.zxidAt(4))
}

// A leader applies only entries on its own disk: it counts its own
// acknowledgement once its sync is done. A lone server shows it at every
// event: what it applied is what a crash now would keep (on the durable
// layer, in its snapshot or its log).
func TestRaft_LeaderAppliesOnlyWhatIsOnItsDisk(t *testing.T) {
	wcfg := sim.DefaultConfig(11)
	wcfg.SyncLatencyMin, wcfg.SyncLatencyMax = 2*node.Millisecond, 15*node.Millisecond // slow disk: a wide window
	c := newClusterConfig(t, wcfg, 1, func(cfg *Config) { cfg.SnapCount = 20 })
	c.proposeEvery = node.Millisecond
	checked := 0
	for c.w.Now() < 3*sec {
		require.True(t, c.w.Step())
		r := c.rep(1)
		d := recoverStorage(c.w.Storage(1))
		durable := len(restoreEntries(d.data.state))
		for _, e := range d.entries {
			if len(e.GetData()) > 0 {
				durable++
			}
		}
		require.LessOrEqual(t, len(r.applied), durable, "at %v the leader applied an entry its disk does not have", c.w.Now())
		checked++
	}
	require.Greater(t, len(c.rep(1).applied), 100)
	t.Logf("%d events checked, %d entries applied", checked, len(c.rep(1).applied))
}
