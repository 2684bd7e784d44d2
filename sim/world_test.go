package sim

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/node"
)

func TestWorld_FirstReadyWaitsUntilTheEnsembleIsAdded(t *testing.T) {
	// Node 1 greets node 2 in its very first Ready; node 2 is added after
	// node 1 at the same instant and must still get the greeting.
	w, get := probeWorld(Config{Seed: 1}, 2, func(p *probe) {
		if p.env.ID == 1 {
			p.send(2, &tmsg{ID: 1})
		}
	})
	require.NotNil(t, w.Machine(1), "the core is built at AddNode")
	w.Run(maxTime)
	require.Len(t, get(2).steps, 1)
	require.Zero(t, w.Stats().DroppedTotal())
}

func TestWorld_CrashDropsTheCoreAndRestartRebuildsIt(t *testing.T) {
	w, get := probeWorld(Config{Seed: 1}, 1, nil)
	w.Run(0)
	get(1).write(node.DiskOp{Kind: node.Append, File: "log", Data: []byte("a")})
	get(1).out.Sync = true
	w.Drain(1)
	w.Run(maxTime)
	require.True(t, w.Crash(1))
	require.False(t, w.Crash(1), "crashing a down node is a no-op")
	require.Nil(t, w.Machine(1))
	require.False(t, w.Up(1))
	require.False(t, w.Drain(1))
	require.False(t, w.Pause(1))
	w.At(w.Now()+node.Second, func() {})
	w.Run(maxTime)
	require.True(t, w.Restart(1))
	require.False(t, w.Restart(1), "restarting an up node is a no-op")
	p := get(1)
	require.Equal(t, 1, p.env.Restart)
	require.Equal(t, 1, w.Restarts(1))
	require.Equal(t, w.LocalTime(1), p.env.Now, "the clock kept running while the node was down")
	require.Equal(t, diskModel{"log": {[]byte("a")}}, readStorage(t, p.env.Storage))
	s := w.Stats()
	require.Equal(t, uint64(1), s.Crashes)
	require.Equal(t, uint64(1), s.Restarts)
}

func TestWorld_CrashCancelsTheTimer(t *testing.T) {
	w, get := probeWorld(Config{Seed: 1}, 1, func(p *probe) { p.out.WakeAt = p.env.Now + 5*node.Millisecond })
	w.At(node.Millisecond, func() { w.Crash(1) })
	w.At(2*node.Millisecond, func() { w.Restart(1) })
	w.Run(maxTime)
	require.Len(t, get(1).ticks, 1, "only the new incarnation's own timer fires")
	require.Equal(t, uint64(1), w.Stats().Ticks)
	require.Equal(t, 7*node.Millisecond, get(1).ticks[0].global)
}

func TestWorld_TimerRequestSemantics(t *testing.T) {
	// Moving a deadline later does not leave a stale tick behind; clearing
	// it cancels; repeating a served deadline does not tick again.
	w, get := probeWorld(Config{Seed: 1}, 1, func(p *probe) { p.out.WakeAt = 2 * node.Millisecond })
	w.At(node.Millisecond, func() { get(1).out.WakeAt = 4 * node.Millisecond; w.Drain(1) })
	w.Run(maxTime)
	require.Len(t, get(1).ticks, 1)
	require.Equal(t, 4*node.Millisecond, get(1).ticks[0].global)
	w.Drain(1) // the served request is repeated: no new tick
	w.Run(maxTime)
	require.Len(t, get(1).ticks, 1)

	get(1).out.WakeAt = w.Now() + node.Millisecond
	w.Drain(1)
	get(1).out.WakeAt = 0
	w.Drain(1)
	w.Run(maxTime)
	require.Len(t, get(1).ticks, 1, "a cleared request never fires")
}

// livelocker always has another message for itself.
type livelocker struct{ id node.ID }

func (l *livelocker) Step(Time, node.Message) {}
func (l *livelocker) Tick(Time)               {}
func (l *livelocker) Ready() node.Ready {
	return node.Ready{Messages: []node.Message{{From: l.id, To: l.id}}}
}
func (l *livelocker) Advance() {}

func TestWorld_ReadyLivelockIsAnInvariantViolation(t *testing.T) {
	w := New(Config{Seed: 1, MaxReadyRounds: 10})
	w.AddNode(1, func(env node.Env) node.Machine { return &livelocker{id: env.ID} })
	require.PanicsWithValue(t,
		"sim: invariant violated: node 1 returned work from Ready 10 times in a row (MaxReadyRounds)",
		func() { w.Run(maxTime) })
}

func TestWorld_StuckVirtualTimeIsAnInvariantViolation(t *testing.T) {
	// A node that answers its own zero-latency message with another never
	// lets virtual time move.
	w, _ := probeWorld(Config{Seed: 1, MaxEventsPerInstant: 100}, 1, func(p *probe) {
		p.send(1, &tmsg{})
		p.onStep = func(p *probe, _ Time, _ node.Message) { p.send(1, &tmsg{}) }
	})
	require.PanicsWithValue(t,
		"sim: invariant violated: more than MaxEventsPerInstant=100 events at time 0 (livelock)",
		func() { w.Run(maxTime) })
}

func TestWorld_CoreMustNotReachIntoTheWorld(t *testing.T) {
	w, _ := probeWorld(Config{Seed: 1}, 2, func(p *probe) {
		if p.env.ID == 1 {
			p.send(2, &tmsg{})
		}
		p.onStep = func(p *probe, _ Time, _ node.Message) { p.w.Crash(1) }
	})
	require.PanicsWithValue(t,
		"sim: invariant violated: Crash called from inside a core's Step/Tick/Ready/Advance",
		func() { w.Run(maxTime) })
}

func TestWorld_MessagesMustComeFromTheirSender(t *testing.T) {
	w, _ := probeWorld(Config{Seed: 1}, 2, func(p *probe) {
		if p.env.ID == 1 {
			p.out.Messages = append(p.out.Messages, node.Message{From: 2, To: 2})
		}
	})
	require.PanicsWithValue(t, "sim: invariant violated: node 1 sent a message with From=2", func() { w.Run(maxTime) })

	w, get := probeWorld(Config{Seed: 1}, 2, func(p *probe) {
		if p.env.ID == 1 {
			p.out.Messages = append(p.out.Messages, node.Message{To: 2}) // From left zero
		}
	})
	w.Run(maxTime)
	require.Equal(t, node.ID(1), get(2).steps[0].msg.From, "the world fills in From")
}

func TestWorld_HarnessMisuse(t *testing.T) {
	w, _ := probeWorld(Config{Seed: 1}, 1, nil)
	require.Panics(t, func() { w.AddNode(1, func(node.Env) node.Machine { return nil }) }, "duplicate ID")
	require.Panics(t, func() { w.AddNode(0, func(node.Env) node.Machine { return nil }) }, "ID 0")
	require.Panics(t, func() { w.AddNode(MaxNodeID, func(node.Env) node.Machine { return nil }) }, "ID too large")
	require.Panics(t, func() { w.AddNode(2, func(node.Env) node.Machine { return nil }) }, "nil machine")
	require.Panics(t, func() { w.Crash(9) }, "unknown node")
	w.At(10, func() {})
	w.Run(maxTime)
	require.Panics(t, func() { w.At(5, func() {}) }, "At in the past")
	require.Panics(t, func() { New(Config{SyncLatencyMin: 2, SyncLatencyMax: 1}) })
	require.Panics(t, func() { New(Config{CrashLoss: 9}) })
}

func TestWorld_RunStopsAtTheLimitAndTimePasses(t *testing.T) {
	w, get := probeWorld(Config{Seed: 1}, 1, func(p *probe) { p.out.WakeAt = 10 * node.Millisecond })
	w.Run(4 * node.Millisecond)
	require.Equal(t, 4*node.Millisecond, w.Now())
	require.Empty(t, get(1).ticks)
	require.Equal(t, 1, w.Pending())
	w.RunFor(6 * node.Millisecond)
	require.Len(t, get(1).ticks, 1, "an event exactly at the limit runs")
	require.True(t, w.Step() == false, "nothing left")
}

func TestWorld_AtRunsCallbacksInTimeThenScheduleOrder(t *testing.T) {
	w := New(Config{Seed: 1})
	var got []string
	w.At(20, func() { got = append(got, "b1") })
	w.At(10, func() {
		got = append(got, "a")
		w.At(20, func() { got = append(got, "b3") })
		w.After(0, func() { got = append(got, "a2") })
	})
	w.At(20, func() { got = append(got, "b2") })
	w.Run(maxTime)
	require.Equal(t, []string{"a", "a2", "b1", "b2", "b3"}, got)
	require.Equal(t, uint64(5), w.Stats().Actions)
}

func TestWorld_NodesAndStreamsAreOrderedByID(t *testing.T) {
	w := New(Config{Seed: 1})
	for _, id := range []node.ID{5, 2, 9} {
		w.AddNode(id, func(env node.Env) node.Machine { return &probe{env: env, w: w} })
	}
	require.Equal(t, []node.ID{2, 5, 9}, w.Nodes())
	want := NewStream(1, "node/9").Uint64()
	require.Equal(t, want, w.Machine(9).(*probe).env.Rand.Uint64())
}

func TestWorld_TraceWriterFormatsEvents(t *testing.T) {
	var buf bytes.Buffer
	w, get := probeWorld(Config{Seed: 1, SyncLatencyMax: 5}, 2, nil)
	w.SetTracer(TraceWriter(&buf))
	w.Run(0)
	get(1).write(node.DiskOp{Kind: node.Append, File: "log", Data: []byte("x")})
	get(1).out.Sync = true
	get(1).send(2, &tmsg{ID: 3})
	w.Drain(1)
	w.Block(2, 1)
	get(2).send(1, &tmsg{ID: 4})
	w.Drain(2)
	w.Run(maxTime)
	w.SetClock(1, 5, 10)
	w.Pause(2)
	w.Resume(2)
	w.Crash(2)
	out := buf.String()
	for _, want := range []string{"disk n1 append \"log\"", "sync n1", "sync-done n1", "send 1->2", "deliver 1->2",
		"drop(blocked) 2->1", "link 2->1 op=1", "clock n1 n=5 m=10", "pause n2", "resume n2", "crash n2"} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "%!", "no formatting errors")
	require.Equal(t, "loss", DropLoss.String())
	require.Equal(t, "TraceKind(200)", TraceKind(200).String())
}

func TestWorld_StatsCountEverything(t *testing.T) {
	_, s := canaryRun(7, nil)
	require.Equal(t, s.Starts, uint64(5))
	require.Positive(t, s.Events)
	require.Positive(t, s.Ticks)
	require.Positive(t, s.DiskOps)
	require.Positive(t, s.MaxQueueLen)
	require.LessOrEqual(t, s.Delivered+s.DroppedTotal(), s.Sent+s.Duplicated)
}
