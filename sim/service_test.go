package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/node"
)

func TestService_BusyNodeHandlesOneMessagePerServiceTimeInOrder(t *testing.T) {
	w, p := probeWorld(Config{Seed: 1}, 2, func(p *probe) {
		if p.env.ID == 1 {
			for i := 0; i < 5; i++ {
				p.send(2, &tmsg{ID: 1, Seq: uint64(i)})
			}
		}
	})
	w.SetServiceTime(2, node.Millisecond)
	w.Run(node.Second)
	steps := p(2).steps
	require.Len(t, steps, 5)
	for i, s := range steps {
		require.Equal(t, uint64(i), s.msg.Body.(*tmsg).Seq, "FIFO")
		require.Equal(t, Time(i)*node.Millisecond, s.global, "one message per millisecond of CPU")
	}
}

func TestService_ZeroServiceTimeIsInstant(t *testing.T) {
	w, p := probeWorld(Config{Seed: 1}, 2, func(p *probe) {
		if p.env.ID == 1 {
			for i := 0; i < 5; i++ {
				p.send(2, &tmsg{ID: 1, Seq: uint64(i)})
			}
		}
	})
	w.Run(node.Second)
	for _, s := range p(2).steps {
		require.Equal(t, Time(0), s.global)
	}
}

func TestService_CrashDropsTheQueueAndPauseHoldsIt(t *testing.T) {
	w, p := probeWorld(Config{Seed: 1}, 2, func(p *probe) {
		if p.env.ID == 1 && p.env.Restart == 0 {
			for i := 0; i < 5; i++ {
				p.send(2, &tmsg{ID: 1, Seq: uint64(i)})
			}
		}
	})
	w.SetServiceTime(2, node.Millisecond)
	w.Run(node.Millisecond + node.Millisecond/2) // two served, three queued
	require.Len(t, p(2).steps, 2)
	w.Pause(2)
	w.Run(10 * node.Millisecond)
	require.Len(t, p(2).steps, 2, "a paused node's CPU does not run")
	resumed := w.Now()
	w.Resume(2)
	w.Run(resumed + node.Millisecond/2)
	require.Len(t, p(2).steps, 3, "one message right at resume, the next a millisecond later")
	require.Equal(t, resumed, p(2).steps[2].global)
	w.Crash(2)
	before := w.Stats().Dropped[DropCrashInbox]
	require.Equal(t, uint64(2), before, "the two still queued are lost with the crash")
	w.Restart(2)
	w.Run(node.Second)
	require.Empty(t, p(2).steps, "the new incarnation gets nothing of the old queue")
}
