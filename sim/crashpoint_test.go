package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/node"
)

// named is a test message body with a name, for the message crash points.
type named string

func (n named) MsgName() string { return string(n) }

// idealCfg is a lossless, instant network with a fixed 1 ms sync, and
// crashes that lose every unsynced write: what a crash point leaves behind
// is then exact.
func idealCfg() Config {
	return Config{Seed: 7, SyncLatencyMin: node.Millisecond, SyncLatencyMax: node.Millisecond, CrashLoss: LoseAll}
}

func records(w *World, id node.ID, file string) int { return len(w.Storage(id).Read(file)) }

func TestCrashPoint_BetweenDiskOpsWritesAPrefixAndSendsNothing(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		cfg := idealCfg()
		cfg.Seed = seed
		cfg.CrashLoss = RandomTail
		w, get := probeWorld(cfg, 2, nil)
		w.Run(0)
		hooked := 0
		w.SetCrashHook(func(id node.ID, atPoint bool) {
			require.Equal(t, node.ID(1), id)
			require.True(t, atPoint)
			hooked++
		})
		w.ArmCrash(1, CrashPoint{Kind: CrashBetweenDiskOps})
		p := get(1)
		for i := 0; i < 4; i++ {
			p.write(node.DiskOp{Kind: node.Append, File: "log", Data: []byte{byte(i)}})
		}
		p.out.Sync = true
		p.send(2, named("ack"))
		w.Drain(1)
		require.False(t, w.Up(1), "seed %d: crashed inside the Ready", seed)
		require.Equal(t, 1, hooked)
		w.Run(10 * node.Millisecond)
		require.Empty(t, get(2).steps, "seed %d: the Ready's message never left", seed)
		ops := w.Stats().DiskOps
		require.True(t, ops >= 1 && ops < 4, "seed %d: %d of 4 ops written: some, never all", seed, ops)
		require.Equal(t, uint64(1), w.Stats().CrashPoints)
		checkConservation(t, w)
	}
}

func TestCrashPoint_BeforeSyncLosesTheWritesAndTheMessages(t *testing.T) {
	w, get := probeWorld(idealCfg(), 2, nil)
	w.Run(0)
	w.ArmCrash(1, CrashPoint{Kind: CrashBeforeSync})
	p := get(1)
	p.write(node.DiskOp{Kind: node.Append, File: "log", Data: []byte("x")})
	p.send(2, named("ack"))
	w.Drain(1) // no sync asked: the point does not fire
	require.True(t, w.Up(1))
	w.Run(5 * node.Millisecond)
	require.Len(t, get(2).steps, 1)

	p.write(node.DiskOp{Kind: node.Append, File: "log", Data: []byte("y")})
	p.out.Sync = true
	p.send(2, named("ack"))
	w.Drain(1)
	require.False(t, w.Up(1))
	w.Run(10 * node.Millisecond)
	require.Len(t, get(2).steps, 1, "the ack behind the sync never left")
	require.Equal(t, 0, records(w, 1, "log"), "LoseAll: nothing unsynced survives")
}

func TestCrashPoint_AfterSyncKeepsTheDataAndLosesTheMessages(t *testing.T) {
	w, get := probeWorld(idealCfg(), 2, nil)
	w.Run(0)
	w.ArmCrash(1, CrashPoint{Kind: CrashAfterSync})
	p := get(1)
	p.write(node.DiskOp{Kind: node.Append, File: "log", Data: []byte("x")})
	p.out.Sync = true
	p.send(2, named("ack"))
	w.Drain(1)
	require.True(t, w.Up(1), "the point fires when the sync completes")
	w.Run(10 * node.Millisecond)
	require.False(t, w.Up(1))
	require.Empty(t, get(2).steps)
	require.Equal(t, 1, records(w, 1, "log"), "the synced record survives")
	checkConservation(t, w)
}

func TestCrashPoint_OnReceiveMatchesTheMessageName(t *testing.T) {
	w, get := probeWorld(idealCfg(), 2, func(p *probe) {
		p.onStep = func(p *probe, now Time, m node.Message) {
			p.write(node.DiskOp{Kind: node.Append, File: "log", Data: []byte("x")})
		}
	})
	w.Run(0)
	w.ArmCrash(2, CrashPoint{Kind: CrashOnReceive, Msg: "commit"})
	get(1).send(2, named("proposal"))
	w.Drain(1)
	w.Run(node.Millisecond)
	require.True(t, w.Up(2), "another message name does not fire it")
	get(1).send(2, named("commit"))
	w.Drain(1)
	w.Run(2 * node.Millisecond)
	require.False(t, w.Up(2), "crashed right after handling the commit")
	require.Equal(t, 0, records(w, 2, "log"), "the write that followed the commit was not synced")
}

func TestCrashPoint_OnSendCrashesTheSenderAfterTheMessageLeft(t *testing.T) {
	w, get := probeWorld(idealCfg(), 3, nil)
	w.Run(0)
	w.ArmCrash(1, CrashPoint{Kind: CrashOnSend, Msg: "newleader"})
	p := get(1)
	p.send(2, named("ping"))
	p.send(2, named("newleader"))
	p.send(3, named("commit"))
	w.Drain(1)
	require.False(t, w.Up(1))
	w.Run(node.Millisecond)
	require.Len(t, get(2).steps, 2, "ping and newleader left")
	require.Empty(t, get(3).steps, "the commit after the crash did not")
	checkConservation(t, w)
}

func TestCrashPoint_OnSendFiresForMessagesReleasedBySync(t *testing.T) {
	w, get := probeWorld(idealCfg(), 2, nil)
	w.Run(0)
	w.ArmCrash(1, CrashPoint{Kind: CrashOnSend})
	p := get(1)
	p.write(node.DiskOp{Kind: node.Append, File: "log", Data: []byte("x")})
	p.out.Sync = true
	p.send(2, named("ack"))
	p.send(2, named("ack"))
	w.Drain(1)
	require.True(t, w.Up(1), "held behind the sync: not sent yet")
	w.Run(5 * node.Millisecond)
	require.False(t, w.Up(1))
	require.Len(t, get(2).steps, 1, "the first released message left, then the sender crashed")
	checkConservation(t, w)
}

func TestCrashPoint_DisarmAndRestart(t *testing.T) {
	w, get := probeWorld(idealCfg(), 2, nil)
	w.Run(0)
	w.ArmCrash(1, CrashPoint{Kind: CrashOnSend})
	require.True(t, w.DisarmCrash(1))
	require.False(t, w.DisarmCrash(1))
	get(1).send(2, named("x"))
	w.Drain(1)
	require.True(t, w.Up(1))

	w.ArmCrash(1, CrashPoint{Kind: CrashOnSend})
	get(1).send(2, named("x"))
	w.Drain(1)
	require.False(t, w.Up(1))
	require.False(t, w.DisarmCrash(1), "it fired")
	require.True(t, w.Restart(1))
	get(1).send(2, named("y"))
	w.Drain(1)
	require.True(t, w.Up(1), "a crash point fires once")
}

func TestCrashPoint_InvalidPointsPanic(t *testing.T) {
	w, _ := probeWorld(idealCfg(), 1, nil)
	require.Panics(t, func() { w.ArmCrash(1, CrashPoint{}) })
	require.Panics(t, func() { w.ArmCrash(1, CrashPoint{Kind: CrashAfterSync, Msg: "x"}) })
	_, err := ParseCrashPointKind("nowhere")
	require.Error(t, err)
	k, err := ParseCrashPointKind("after-sync")
	require.NoError(t, err)
	require.Equal(t, CrashAfterSync, k)
}

func TestWorld_EventBudgetStopsTheWorld(t *testing.T) {
	cfg := idealCfg()
	cfg.MaxEvents = 50
	w, get := probeWorld(cfg, 2, func(p *probe) {
		// Two nodes that answer every message: an endless exchange.
		p.onStep = func(p *probe, now Time, m node.Message) { p.send(m.From, named("again")) }
	})
	w.Run(0)
	get(1).send(2, named("start"))
	w.Drain(1)
	w.Run(node.Second)
	require.True(t, w.Exhausted())
	require.Equal(t, uint64(50), w.Stats().Events)
	require.False(t, w.Step())
}

func TestWorld_SlowDiskSyncsTakeItsLatency(t *testing.T) {
	w, get := probeWorld(idealCfg(), 2, nil)
	w.Run(0)
	w.SetSyncLatency(1, 50*node.Millisecond, 50*node.Millisecond)
	p := get(1)
	p.write(node.DiskOp{Kind: node.Append, File: "log", Data: []byte("x")})
	p.out.Sync = true
	p.send(2, named("ack"))
	w.Drain(1)
	w.Run(49 * node.Millisecond)
	require.Empty(t, get(2).steps)
	w.Run(51 * node.Millisecond)
	require.Len(t, get(2).steps, 1)
	require.Panics(t, func() { w.SetSyncLatency(1, 5, 2) })
}
