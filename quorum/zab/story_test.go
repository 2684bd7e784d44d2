package zab

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/internal/golden"
	"zoosim/node"
	"zoosim/quorum"
	"zoosim/sim"
)

// story runs a protocol story in a simulated ensemble and writes a readable
// log of what mattered (role changes, syncs, the script's actions, the
// final histories) for comparison with a golden file.
type story struct {
	c    *cluster
	b    strings.Builder
	last []string // last status line per server
}

func newStory(t *testing.T, seed uint64, n int, tune func(*Config)) *story {
	s := &story{c: newCluster(t, seed, n, quorum.NewMajority(n), tune), last: make([]string, n+1)}
	s.c.w.SetTracer(func(e sim.TraceEvent) {
		if e.Kind != sim.TraceDeliver {
			return
		}
		if m, ok := e.Body.(*Msg); ok && m.Type == MsgSync {
			detail := fmt.Sprintf("%d txns", len(m.Entries))
			switch m.Mode {
			case SyncTrunc:
				detail = fmt.Sprintf("truncate after %v, then %d txns", m.Zxid, len(m.Entries))
			case SyncSnap:
				detail = fmt.Sprintf("snapshot at %v, then %d txns", m.Snap.Zxid, len(m.Entries))
			}
			s.logf("s%d <- s%d sync %s: %s (epoch %d)", e.Peer, e.Node, m.Mode, detail, m.NewEpoch)
		}
	})
	return s
}

func (s *story) logf(format string, args ...any) {
	now := s.c.w.Now()
	fmt.Fprintf(&s.b, "%8.1fms  ", float64(now)/float64(node.Millisecond))
	fmt.Fprintf(&s.b, format, args...)
	s.b.WriteByte('\n')
}

func (s *story) status(id node.ID) string {
	r := s.c.rep(id)
	if r == nil {
		return "down"
	}
	st := r.z.Status()
	switch st.Role {
	case quorum.Leading:
		if st.Serving {
			return fmt.Sprintf("leading epoch %d, established", st.Term)
		}
		return "leading (discovery/sync)"
	case quorum.Following:
		if st.Serving {
			return fmt.Sprintf("following s%d in epoch %d", st.Leader, st.Term)
		}
		return fmt.Sprintf("following s%d (syncing)", st.Leader)
	}
	if r.z.Abstaining() {
		return "looking (abstaining: damaged disk)"
	}
	return "looking"
}

// run advances the world in 1 ms steps for d, logging status changes.
func (s *story) run(d node.Time) {
	end := s.c.w.Now() + d
	for s.c.w.Now() < end {
		s.c.w.RunFor(node.Millisecond)
		for i := 1; i <= s.c.n; i++ {
			if st := s.status(node.ID(i)); st != s.last[i] {
				s.last[i] = st
				s.logf("s%d %s", i, st)
			}
		}
	}
}

// until runs until cond holds (at most budget), logging as run does.
func (s *story) until(budget node.Time, cond func() bool) {
	end := s.c.w.Now() + budget
	for s.c.w.Now() < end && !cond() {
		s.run(node.Millisecond)
	}
	require.True(s.c.t, cond(), "story condition not reached")
}

func (s *story) action(format string, args ...any) { s.logf("** "+format, args...) }

func (s *story) finish(t *testing.T, name string) {
	s.c.proposing = false
	s.run(500 * node.Millisecond)
	h := s.c.checkAgreement(t)
	s.logf("agreement: %d txns committed, every server's history is a prefix", len(h))
	for i := 1; i <= s.c.n; i++ {
		if r := s.c.reps[node.ID(i)]; r != nil {
			last := "none"
			if n := len(r.applied); n > 0 {
				last = r.applied[n-1].Zxid.String()
			}
			s.logf("s%d applied %d txns, last %s", i, len(r.applied), last)
		}
	}
	golden.Check(t, name, s.b.String())
}

func TestStory_FirstElection(t *testing.T) {
	s := newStory(t, 11, 3, nil)
	s.until(5*sec, s.c.allUpToDate)
	s.c.proposeEvery = 20 * node.Millisecond
	s.run(200 * node.Millisecond)
	s.finish(t, "first_election")
}

func TestStory_StandaloneMode(t *testing.T) {
	s := newStory(t, 12, 1, nil)
	s.until(2*sec, func() bool { return s.c.leader() == 1 })
	s.c.proposeEvery = 20 * node.Millisecond
	s.run(200 * node.Millisecond)
	s.finish(t, "standalone")
}

func TestStory_LeaderCrashAndReelection(t *testing.T) {
	s := newStory(t, 13, 3, nil)
	s.until(5*sec, s.c.allUpToDate)
	s.c.proposeEvery = 20 * node.Millisecond
	s.run(200 * node.Millisecond)
	old := s.c.leader()
	s.action("crash leader s%d", old)
	s.c.w.Crash(old)
	s.until(5*sec, func() bool { l := s.c.leader(); return l != 0 && l != old })
	s.run(200 * node.Millisecond)
	s.action("restart s%d", old)
	s.c.w.Restart(old)
	s.until(5*sec, s.c.allUpToDate)
	s.run(100 * node.Millisecond)
	s.finish(t, "leader_crash_reelection")
}

func TestStory_FollowerMissingTxnsCatchesUpByDiff(t *testing.T) {
	s := newStory(t, 14, 3, nil)
	s.until(5*sec, s.c.allUpToDate)
	s.c.proposeEvery = 20 * node.Millisecond
	f := s.follower()
	s.action("isolate follower s%d", f)
	s.c.w.Isolate(f)
	s.run(sec)
	s.action("heal")
	s.c.w.Heal()
	s.until(5*sec, s.c.allUpToDate)
	s.run(100 * node.Millisecond)
	s.finish(t, "follower_diff")
}

func TestStory_UncommittedTxnsAreTruncated(t *testing.T) {
	s := newStory(t, 15, 3, nil)
	s.until(5*sec, s.c.allUpToDate)
	s.c.proposeEvery = 20 * node.Millisecond
	s.run(100 * node.Millisecond)
	old := s.c.leader()
	var others []node.ID
	for i := 1; i <= 3; i++ {
		if node.ID(i) != old {
			others = append(others, node.ID(i))
		}
	}
	s.action("partition leader s%d from %v: it keeps proposing, nothing commits", old, others)
	s.c.w.Partition([]node.ID{old}, others)
	s.until(5*sec, func() bool { l := s.c.leader(); return l != 0 && l != old })
	s.run(300 * node.Millisecond)
	s.action("heal")
	s.c.w.Heal()
	s.until(5*sec, s.c.allUpToDate)
	s.run(100 * node.Millisecond)
	s.finish(t, "follower_trunc")
}

func TestStory_FollowerFarBehindGetsSnapshot(t *testing.T) {
	s := newStory(t, 16, 3, func(c *Config) { c.SnapCount = 10 })
	s.until(5*sec, s.c.allUpToDate)
	s.c.proposeEvery = 10 * node.Millisecond
	f := s.follower()
	s.action("crash follower s%d", f)
	s.c.w.Crash(f)
	s.run(sec)
	s.action("restart s%d: the leader's log no longer reaches back to it", f)
	s.c.w.Restart(f)
	s.until(5*sec, s.c.allUpToDate)
	s.run(100 * node.Millisecond)
	s.finish(t, "follower_snap")
}

func TestStory_CrashBetweenLogAndAck(t *testing.T) {
	s := newStory(t, 17, 3, nil)
	s.until(5*sec, s.c.allUpToDate)
	s.c.proposeEvery = 20 * node.Millisecond
	f := s.follower()
	// Run until the follower has logged a proposal but not yet synced it:
	// its ack is held behind the sync.
	s.until(sec, func() bool { return s.c.w.Unsynced(f) > 0 })
	s.action("crash follower s%d with %d unsynced disk ops: its ack never leaves", f, s.c.w.Unsynced(f))
	s.c.w.Crash(f)
	s.run(300 * node.Millisecond)
	s.action("restart s%d", f)
	s.c.w.Restart(f)
	s.until(5*sec, s.c.allUpToDate)
	s.run(100 * node.Millisecond)
	s.finish(t, "crash_between_log_and_ack")
}

func (s *story) follower() node.ID {
	l := s.c.leader()
	for i := 1; i <= s.c.n; i++ {
		if node.ID(i) != l {
			return node.ID(i)
		}
	}
	return 0
}
