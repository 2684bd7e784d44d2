package sim

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"zoosim/node"
)

// TestPause_PausedNodeGetsNothingAndHeldMessagesArriveInOrder: node 1 is
// paused and resumed on a drawn schedule while nodes 2 and 3 stream numbered
// messages to it over lossless FIFO links and node 1 runs its own timer.
// While paused (by the test's own flag) node 1 must get no Step and no Tick;
// every message must reach it exactly once and in order per sender.
func TestPause_PausedNodeGetsNothingAndHeldMessagesArriveInOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const end = 200 * node.Millisecond
		links := LinkParams{LatencyMin: Time(rapid.Int64Range(0, 1e6).Draw(t, "latMin"))}
		links.LatencyMax = links.LatencyMin + Time(rapid.Int64Range(0, 3e6).Draw(t, "latSpread"))
		period := Time(rapid.Int64Range(5e5, 5e6).Draw(t, "period"))
		cuts := rapid.SliceOfNDistinct(rapid.Int64Range(1, int64(end)), 0, 12, rapid.ID).Draw(t, "pauseResumeTimes")
		slices.Sort(cuts)

		paused := false
		sent := map[node.ID]uint64{}
		got := map[node.ID]uint64{}
		w, get := probeWorld(Config{Seed: rapid.Uint64().Draw(t, "seed"), Links: links}, 3, func(p *probe) {
			p.out.WakeAt = p.env.Now + period
			p.onTick = func(p *probe, now Time) {
				require.False(t, paused && p.env.ID == 1, "node 1 ticked while paused")
				p.out.WakeAt = now + period
				if p.env.ID != 1 && p.w.Now() < end {
					sent[p.env.ID]++
					p.send(1, &tmsg{Seq: sent[p.env.ID]})
				}
			}
			p.onStep = func(p *probe, _ Time, m node.Message) {
				require.False(t, paused, "node 1 got a message while paused")
				seq := m.Body.(*tmsg).Seq
				require.Equal(t, got[m.From]+1, seq, "from %d: out of order or lost", m.From)
				got[m.From] = seq
			}
		})
		for i, c := range cuts {
			w.At(Time(c), func() {
				if i%2 == 0 {
					require.True(t, w.Pause(1))
					paused = true
				} else {
					paused = false
					require.True(t, w.Resume(1))
				}
			})
		}
		w.At(end+100*node.Millisecond, func() {
			if paused {
				paused = false
				w.Resume(1)
			}
		})
		w.Run(end + 200*node.Millisecond)
		require.Equal(t, sent, got, "every message sent to node 1 arrives")
		require.NotEmpty(t, get(1).ticks)
		checkConservation(t, w)
	})
}

func TestPause_DueTimerFiresOnResumeWithTheJumpedClock(t *testing.T) {
	w, get := probeWorld(Config{Seed: 1}, 1, func(p *probe) { p.out.WakeAt = 5 * node.Millisecond })
	w.At(node.Millisecond, func() { w.Pause(1) })
	w.At(10*node.Millisecond, func() { w.Resume(1) })
	w.Run(maxTime)
	require.Len(t, get(1).ticks, 1)
	require.Equal(t, probeTick{global: 10 * node.Millisecond, local: 10 * node.Millisecond, wakeAt: 5 * node.Millisecond},
		get(1).ticks[0])
}

func TestPause_HeldInboxIsBoundedAndLostOnCrash(t *testing.T) {
	w, get := probeWorld(Config{Seed: 1, MaxHeldPerNode: 2}, 2, nil)
	w.Run(0)
	w.Pause(2)
	for i := range 5 {
		get(1).send(2, &tmsg{Seq: uint64(i)})
	}
	w.Drain(1)
	w.Run(maxTime)
	s := w.Stats()
	require.Equal(t, uint64(2), s.Held)
	require.Equal(t, uint64(3), s.Dropped[DropPausedOverflow])
	require.Empty(t, get(2).steps)
	checkConservation(t, w)
	w.Crash(2)
	require.Equal(t, uint64(2), w.Stats().Dropped[DropCrashInbox])
	checkConservation(t, w)
	require.False(t, w.Paused(2))
	require.False(t, w.Resume(2))
}

func TestPause_PausedNodeStillSyncsButSendsOnResume(t *testing.T) {
	cfg := Config{Seed: 1, CrashLoss: LoseAll, SyncLatencyMin: node.Millisecond, SyncLatencyMax: node.Millisecond}
	w, get := probeWorld(cfg, 2, nil)
	w.Run(0)
	p := get(1)
	p.write(node.DiskOp{Kind: node.Append, File: "log", Data: []byte("x")})
	p.out.Sync = true
	p.send(2, &tmsg{ID: 1})
	w.Drain(1)
	w.Pause(1)
	w.At(5*node.Millisecond, func() {
		require.Zero(t, w.Unsynced(1), "the kernel finishes the sync while the process is stopped")
		require.Empty(t, get(2).steps, "a stopped process sends nothing")
		w.Resume(1)
	})
	w.Run(maxTime)
	require.Len(t, get(2).steps, 1)
	require.Equal(t, 5*node.Millisecond, get(2).steps[0].global)
}

func TestPause_PauseBeforeFirstReadyRunsItOnResume(t *testing.T) {
	w, get := probeWorld(Config{Seed: 1}, 2, func(p *probe) {
		if p.env.ID == 1 {
			p.send(2, &tmsg{ID: 7})
		}
	})
	w.Pause(1)
	w.Run(maxTime)
	require.Empty(t, get(2).steps)
	w.Resume(1)
	w.Run(maxTime)
	require.Len(t, get(2).steps, 1)
}
