package zab

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/model"
	"zoosim/node"
	"zoosim/quorum"
	"zoosim/sim"
)

const sec = node.Second

func TestZab_FirstElectionPicksHighestIDWithEqualHistories(t *testing.T) {
	c := newCluster(t, 1, 3, quorum.NewMajority(3), nil)
	require.True(t, c.runUntil(5*sec, c.allUpToDate), "no established ensemble")
	assert.Equal(t, node.ID(3), c.leader())
	for i := 1; i <= 3; i++ {
		st := c.rep(node.ID(i)).z.Status()
		assert.Equal(t, uint64(1), st.Term, "server %d", i)
	}
}

func TestZab_StandaloneLeadsAlone(t *testing.T) {
	c := newCluster(t, 2, 1, quorum.NewMajority(1), nil)
	c.proposeEvery = 10 * node.Millisecond
	require.True(t, c.runUntil(2*sec, func() bool { return c.leader() == 1 && len(c.reps[1].applied) >= 10 }))
	c.checkAgreement(t)
}

func TestZab_ProposalsCommitEverywhereInZxidOrder(t *testing.T) {
	c := newCluster(t, 3, 5, quorum.NewMajority(5), nil)
	c.proposeEvery = 5 * node.Millisecond
	require.True(t, c.runUntil(5*sec, c.allUpToDate))
	c.w.RunFor(2 * sec)
	c.proposing = false
	c.w.RunFor(sec)
	h := c.checkAgreement(t)
	require.Greater(t, len(h), 100)
	for i := 1; i <= 5; i++ {
		assert.Len(t, c.reps[node.ID(i)].applied, len(h), "server %d did not apply everything", i)
	}
	for i := 1; i < len(h); i++ {
		assert.Less(t, h[i-1].Zxid, h[i].Zxid)
	}
}

func TestZab_LeaderCrashElectsNewLeaderAndKeepsHistory(t *testing.T) {
	c := newCluster(t, 4, 3, quorum.NewMajority(3), nil)
	c.proposeEvery = 10 * node.Millisecond
	require.True(t, c.runUntil(5*sec, c.allUpToDate))
	c.w.RunFor(sec)
	old := c.leader()
	before := len(c.reps[old].applied)
	require.Greater(t, before, 10)
	c.w.Crash(old)
	crashAt := c.w.Now()
	require.True(t, c.runUntil(10*sec, func() bool { l := c.leader(); return l != 0 && l != old }), "no new leader")
	t.Logf("new leader after %v ms", (c.w.Now()-crashAt)/node.Millisecond)
	newLeader := c.leader()
	assert.Greater(t, c.rep(newLeader).z.Epoch(), uint32(1))
	c.w.RunFor(sec)
	c.w.Restart(old)
	require.True(t, c.runUntil(10*sec, c.allUpToDate), "restarted server did not rejoin")
	c.proposing = false
	c.w.RunFor(sec)
	h := c.checkAgreement(t)
	assert.Len(t, c.reps[old].applied, len(h))
}

func TestZab_FollowerMissingTxnsCatchesUpByDiff(t *testing.T) {
	c := newCluster(t, 5, 3, quorum.NewMajority(3), nil)
	c.proposeEvery = 10 * node.Millisecond
	require.True(t, c.runUntil(5*sec, c.allUpToDate))
	var follower node.ID = 1
	c.w.Isolate(follower)
	c.w.RunFor(2 * sec)
	var modes []SyncMode
	c.w.SetTracer(nil)
	c.w.Heal()
	c.observeSyncs(&modes)
	require.True(t, c.runUntil(10*sec, c.allUpToDate))
	c.proposing = false
	c.w.RunFor(sec)
	h := c.checkAgreement(t)
	assert.Len(t, c.reps[follower].applied, len(h))
	assert.Contains(t, modes, SyncDiff)
	assert.NotContains(t, modes, SyncSnap)
}

func TestZab_FollowerFarBehindGetsSnapshot(t *testing.T) {
	c := newCluster(t, 6, 3, quorum.NewMajority(3), func(cfg *Config) { cfg.SnapCount = 20 })
	c.proposeEvery = 5 * node.Millisecond
	require.True(t, c.runUntil(5*sec, c.allUpToDate))
	var follower node.ID = 1
	if c.leader() == follower {
		follower = 2
	}
	c.w.Crash(follower)
	c.w.RunFor(2 * sec) // hundreds of txns, several snapshots: the log no longer reaches back
	var modes []SyncMode
	c.observeSyncs(&modes)
	c.w.Restart(follower)
	require.True(t, c.runUntil(10*sec, c.allUpToDate))
	c.proposing = false
	c.w.RunFor(sec)
	h := c.checkAgreement(t)
	assert.Len(t, c.reps[follower].applied, len(h))
	assert.Contains(t, modes, SyncSnap)
}

func TestZab_UncommittedTxnsAreTruncated(t *testing.T) {
	// The leader logs proposals while cut off from every follower: they can
	// never commit. When it comes back as a follower of the new leader, the
	// new leader tells it to truncate them.
	c := newCluster(t, 7, 3, quorum.NewMajority(3), nil)
	c.proposeEvery = 10 * node.Millisecond
	require.True(t, c.runUntil(5*sec, c.allUpToDate))
	old := c.leader()
	var others []node.ID
	for i := 1; i <= 3; i++ {
		if node.ID(i) != old {
			others = append(others, node.ID(i))
		}
	}
	c.w.Partition([]node.ID{old}, others)
	c.w.RunFor(200 * node.Millisecond) // it proposes into the void before it steps down
	oldLast := c.reps[old].z.lastLogged()
	require.Greater(t, oldLast, c.reps[old].z.committed, "the isolated leader logged nothing uncommitted")
	require.True(t, c.runUntil(10*sec, func() bool { l := c.leader(); return l != 0 && l != old }))
	c.w.RunFor(sec)
	var modes []SyncMode
	c.observeSyncs(&modes)
	c.w.Heal()
	require.True(t, c.runUntil(10*sec, c.allUpToDate))
	c.proposing = false
	c.w.RunFor(sec)
	c.checkAgreement(t)
	assert.Contains(t, modes, SyncTrunc)
}

func TestZab_CrashBetweenLogAndAckLosesNothingAcknowledged(t *testing.T) {
	// Crash followers in the middle of syncing their logs, over and over;
	// nothing a leader committed may disappear.
	for seed := uint64(1); seed <= 20; seed++ {
		c := newCluster(t, seed, 3, quorum.NewMajority(3), nil)
		c.proposeEvery = 2 * node.Millisecond
		require.True(t, c.runUntil(5*sec, c.allUpToDate))
		for k := 0; k < 10; k++ {
			victim := node.ID(1 + (int(seed)+k)%3)
			c.w.RunFor(node.Time(50+k*7) * node.Millisecond)
			if c.w.Unsynced(victim) > 0 || k%3 == 0 {
				c.w.Crash(victim)
				c.w.RunFor(100 * node.Millisecond)
				c.w.Restart(victim)
			}
		}
		c.runUntil(10*sec, c.allUpToDate)
		c.proposing = false
		c.w.RunFor(2 * sec)
		c.checkAgreement(t)
	}
}

func TestZab_CorruptLogRecordIsNeverAppliedAndServerResyncs(t *testing.T) {
	c := newCluster(t, 8, 3, quorum.NewMajority(3), nil)
	c.proposeEvery = 10 * node.Millisecond
	require.True(t, c.runUntil(5*sec, c.allUpToDate))
	c.w.RunFor(sec)
	var victim node.ID = 1
	if c.leader() == victim {
		victim = 2
	}
	c.w.Crash(victim)
	var seg string
	for _, f := range c.w.Storage(victim).Files() {
		if len(f) > 4 && f[:4] == "log." {
			seg = f
		}
	}
	require.NotEmpty(t, seg)
	require.True(t, c.w.CorruptRecord(victim, seg, 3))
	c.w.Restart(victim)
	require.True(t, c.reps[victim].z.Abstaining(), "a corrupt log must make the server abstain")
	require.True(t, c.runUntil(10*sec, c.allUpToDate))
	assert.False(t, c.reps[victim].z.Abstaining())
	c.proposing = false
	c.w.RunFor(sec)
	c.checkAgreement(t)
}

// observeSyncs records the sync modes the world delivers from now on.
func (c *cluster) observeSyncs(modes *[]SyncMode) {
	c.w.SetTracer(func(e sim.TraceEvent) {
		if m, ok := e.Body.(*Msg); ok && m.Type == MsgSync && e.Kind == sim.TraceDeliver {
			*modes = append(*modes, m.Mode)
		}
	})
}

// TestZab_RandomFaultsKeepAgreementAndDurability runs many seeds of
// crashes, restarts, partitions and message faults and checks, white box:
// all applied histories are prefixes of one; every txn a leader committed
// survives; after healing and restarting everything, a leader commits
// again within a bound.
func TestZab_RandomFaultsKeepAgreementAndDurability(t *testing.T) {
	seeds := 500
	if testing.Short() {
		seeds = 60
	}
	var recoveries []node.Time
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		rec := runFaultySeed(t, seed)
		recoveries = append(recoveries, rec)
	}
	t.Logf("recovery after heal over %d seeds: %s", seeds, summarize(recoveries))
}

func runFaultySeed(t *testing.T, seed uint64) node.Time {
	n := 3 + int(seed%3) // 3, 4, 5
	c := newCluster(t, seed, n, quorum.NewMajority(n), func(cfg *Config) { cfg.SnapCount = 50 })
	c.proposeEvery = 5 * node.Millisecond
	rnd := sim.NewStream(seed, "test-nemesis")
	lossy := sim.DefaultLinkParams()
	lossy.LossProb = 0.01
	lossy.DupProb = 0.01
	lossy.ReorderProb = 0.01
	c.w.SetAllLinks(lossy)
	for step := 0; step < 12; step++ {
		c.w.RunFor(node.Time(100+rnd.IntN(400)) * node.Millisecond)
		id := node.ID(1 + rnd.IntN(n))
		switch rnd.IntN(5) {
		case 0:
			c.w.Crash(id)
		case 1:
			c.w.Restart(id)
		case 2:
			var a, b []node.ID
			for i := 1; i <= n; i++ {
				if rnd.IntN(2) == 0 {
					a = append(a, node.ID(i))
				} else {
					b = append(b, node.ID(i))
				}
			}
			c.w.Partition(a, b)
		case 3:
			c.w.Heal()
		case 4:
			if l := c.leader(); l != 0 {
				c.w.Crash(l)
			}
		}
	}
	c.w.Heal()
	c.w.SetAllLinks(sim.DefaultLinkParams())
	for i := 1; i <= n; i++ {
		if !c.w.Up(node.ID(i)) {
			c.w.Restart(node.ID(i))
		}
	}
	healed := c.w.Now()
	committedAt := len(c.acked)
	ok := c.runUntil(30*sec, func() bool { return c.leader() != 0 && len(c.acked) > committedAt })
	require.True(t, ok, "seed %d: no write committed within 30 s of healing", seed)
	rec := c.w.Now() - healed
	c.proposing = false
	c.w.RunFor(2 * sec)
	c.checkAgreement(t)
	return rec
}

func summarize(ts []node.Time) string {
	if len(ts) == 0 {
		return "none"
	}
	s := append([]node.Time(nil), ts...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return fmt.Sprintf("median %d ms, worst %d ms", s[len(s)/2]/node.Millisecond, s[len(s)-1]/node.Millisecond)
}

var _ = model.Zxid(0)

// TestZab_LeaderFailoverTime crashes an established leader at a random
// moment and measures the virtual time until a new leader commits a txn.
func TestZab_LeaderFailoverTime(t *testing.T) {
	seeds := 500
	if testing.Short() {
		seeds = 50
	}
	var times []node.Time
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		n := 3 + int(seed%3)
		c := newCluster(t, seed, n, quorum.NewMajority(n), nil)
		c.proposeEvery = 5 * node.Millisecond
		require.True(t, c.runUntil(5*sec, c.allUpToDate))
		c.w.RunFor(node.Time(sim.NewStream(seed, "crash-at").IntN(500)) * node.Millisecond)
		old := c.leader()
		oldEpoch := c.rep(old).z.Epoch()
		c.w.Crash(old)
		crashed := c.w.Now()
		ok := c.runUntil(10*sec, func() bool {
			for z := range c.acked {
				if z.Epoch() > oldEpoch {
					return true
				}
			}
			return false
		})
		require.True(t, ok, "seed %d: no new leader committed within 10 s", seed)
		times = append(times, c.w.Now()-crashed)
	}
	t.Logf("leader crash to first commit by a new leader over %d seeds: %s", seeds, summarize(times))
}

func TestZab_DamageSurvivesACrashBeforeTheResync(t *testing.T) {
	c := newCluster(t, 9, 3, quorum.NewMajority(3), nil)
	c.proposeEvery = 10 * node.Millisecond
	require.True(t, c.runUntil(5*sec, c.allUpToDate))
	c.w.RunFor(sec)
	victim := node.ID(1)
	if c.leader() == victim {
		victim = 2
	}
	c.w.Crash(victim)
	require.True(t, c.w.CorruptRecord(victim, segmentName(model.MakeZxid(1, 1)), 3))
	c.w.Isolate(victim) // no leader can resync it
	c.w.Restart(victim)
	require.True(t, c.reps[victim].z.Abstaining())
	c.w.RunFor(500 * node.Millisecond) // the repair (log cut) is now on disk
	c.w.Crash(victim)
	c.w.Restart(victim)
	require.True(t, c.reps[victim].z.Abstaining(), "the log looks clean after the repair, but the server still lost records")
	c.w.Heal()
	require.True(t, c.runUntil(10*sec, c.allUpToDate))
	require.False(t, c.reps[victim].z.Abstaining())
	c.w.Crash(victim)
	c.w.Restart(victim)
	require.False(t, c.reps[victim].z.Abstaining(), "after a resync the damage marker is gone")
	c.proposing = false
	c.w.RunFor(sec)
	c.checkAgreement(t)
}
