package real

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/node"
)

// hangGuard bounds how long a test waits for a goroutine; nothing asserts
// on how long anything took.
const hangGuard = 20 * time.Second

// logCore is a tiny core: every "write" message appends a record, asks for
// a sync and acknowledges to its sender; a "read" is answered at once (its
// answer still waits behind earlier syncs, as the driver's barrier says).
// It counts Synced reports and ticks.
type logCore struct {
	id      node.ID
	rd      node.Ready
	steps   int
	synced  []uint64
	ticks   int
	wakeIn  node.Time
	now     node.Time
	syncReq uint64
}

type writeMsg struct{ n int }
type readMsg struct{ n int }
type ackMsg struct {
	n      int
	synced uint64 // the core's sync count when it acked (for the test)
}

func (c *logCore) Step(now node.Time, m node.Message) {
	c.now = now
	c.steps++
	switch b := m.Body.(type) {
	case writeMsg:
		c.rd.Disk = append(c.rd.Disk, appendOp("log.1", string(rune('a'+b.n%26))))
		c.rd.Sync = true
		c.rd.Messages = append(c.rd.Messages, node.Message{From: c.id, To: m.From, Body: ackMsg{n: b.n}})
	case readMsg:
		c.rd.Messages = append(c.rd.Messages, node.Message{From: c.id, To: m.From, Body: ackMsg{n: -b.n}})
	}
}

func (c *logCore) Tick(now node.Time) { c.now = now; c.ticks++ }

func (c *logCore) Ready() node.Ready {
	rd := c.rd
	if c.wakeIn > 0 {
		rd.WakeAt = c.now + c.wakeIn
	}
	return rd
}

func (c *logCore) Advance() {
	if c.rd.Sync {
		c.syncReq++
	}
	c.rd = node.Ready{}
}

func (c *logCore) Synced(_ node.Time, n uint64) {
	if n > c.syncReq {
		panic("Synced counts more syncs than were asked for")
	}
	c.synced = append(c.synced, n)
}

// chanSender collects what the driver sends.
type chanSender struct{ ch chan node.Message }

func (s *chanSender) Send(m node.Message) { s.ch <- m }

// gatedFsync blocks every fsync until the test lets one through, and
// counts them.
type gatedFsync struct {
	calls   atomic.Int64
	started chan struct{}
	release chan struct{}
}

func newGatedFsync() *gatedFsync {
	return &gatedFsync{started: make(chan struct{}, 1024), release: make(chan struct{}, 1024)}
}

func (g *gatedFsync) fsync(*os.File) error {
	g.calls.Add(1)
	g.started <- struct{}{}
	<-g.release
	return nil
}

type driverRig struct {
	t      *testing.T
	d      *Driver
	core   *logCore
	sent   *chanSender
	cancel context.CancelFunc
	done   chan error
	ctx    context.Context
}

func newRig(t *testing.T, fsync func(*os.File) error, prep func(*logCore)) *driverRig {
	t.Helper()
	return newRigWith(t, fsync, prep, nil)
}

// newRigWith is newRig with the driver's options adjusted by opts.
func newRigWith(t *testing.T, fsync func(*os.File) error, prep func(*logCore), opts func(*DriverOptions)) *driverRig {
	t.Helper()
	st, err := OpenStorage(StorageOptions{Dir: t.TempDir(), Fsync: fsync})
	require.NoError(t, err)
	sent := &chanSender{ch: make(chan node.Message, 4096)}
	dopt := DriverOptions{ID: 1, Storage: st, Sender: sent}
	if opts != nil {
		opts(&dopt)
	}
	d := NewDriver(dopt)
	core := &logCore{id: 1}
	if prep != nil {
		prep(core)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &driverRig{t: t, d: d, core: core, sent: sent, cancel: cancel, done: make(chan error, 1), ctx: ctx}
	go func() { r.done <- d.Run(ctx, core) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(hangGuard):
			t.Error("the driver did not stop")
		}
		st.Close()
	})
	return r
}

func (r *driverRig) deliver(from node.ID, body any) {
	require.True(r.t, r.d.DeliverClient(r.ctx, node.Message{From: from, To: 1, Body: body}))
}

// inspect reads the core on the driver's goroutine.
func (r *driverRig) inspect(fn func(c *logCore)) {
	ctx, cancel := context.WithTimeout(r.ctx, hangGuard)
	defer cancel()
	require.NoError(r.t, r.d.Inspect(ctx, func(m node.Machine) { fn(m.(*logCore)) }))
}

func (r *driverRig) waitSteps(n int) {
	deadline := time.Now().Add(hangGuard)
	for {
		var steps int
		r.inspect(func(c *logCore) { steps = c.steps })
		if steps >= n {
			return
		}
		require.True(r.t, time.Now().Before(deadline), "the core stepped %d of %d messages", steps, n)
		time.Sleep(time.Millisecond)
	}
}

func (r *driverRig) next() node.Message {
	select {
	case m := <-r.sent.ch:
		return m
	case <-time.After(hangGuard):
		r.t.Fatal("nothing was sent")
		return node.Message{}
	}
}

func (r *driverRig) nothingSent() {
	select {
	case m := <-r.sent.ch:
		r.t.Fatalf("sent %+v before its sync completed", m)
	default:
	}
}

func TestDriver_MessagesWaitUntilTheirSyncIsOnStableStorage(t *testing.T) {
	g := newGatedFsync()
	r := newRig(t, g.fsync, nil)
	r.deliver(100, writeMsg{n: 1})
	<-g.started // the fsync runs, and does not return
	r.deliver(100, readMsg{n: 2})
	r.waitSteps(2)
	r.nothingSent() // the ack, and the read answer queued behind it
	r.inspect(func(c *logCore) { assert.Empty(t, c.synced, "Synced before the fsync returned") })
	g.release <- struct{}{}
	assert.Equal(t, ackMsg{n: 1}, r.next().Body)
	assert.Equal(t, ackMsg{n: -2}, r.next().Body, "in order, after the sync")
	r.inspect(func(c *logCore) { assert.Equal(t, []uint64{1}, c.synced) })
}

// SendEarly: a message it names leaves while an earlier sync runs, unless
// an earlier message to the same receiver is held (each link stays FIFO);
// the others still wait for their sync.
func TestDriver_SendEarlyPassesThePendingSyncButKeepsEachLinkFIFO(t *testing.T) {
	g := newGatedFsync()
	r := newRigWith(t, g.fsync, nil, func(o *DriverOptions) {
		o.SendEarly = func(m node.Message) bool { a, ok := m.Body.(ackMsg); return ok && a.n < 0 } // read answers
	})
	r.deliver(100, writeMsg{n: 1})
	<-g.started // the fsync runs, and does not return
	require.True(t, r.d.DeliverClient(r.ctx, node.Message{From: 200, To: 1, Body: readMsg{n: 2}}))
	m := r.next()
	assert.Equal(t, node.Message{From: 1, To: 200, Body: ackMsg{n: -2}}, m, "early: nothing held for 200")
	r.deliver(100, readMsg{n: 3})
	r.waitSteps(3)
	r.nothingSent() // the ack of the write, and the read answer behind it on the same link
	assert.Equal(t, uint64(1), r.d.Stats().Early)
	g.release <- struct{}{}
	assert.Equal(t, ackMsg{n: 1}, r.next().Body, "the write's ack after its sync")
	assert.Equal(t, ackMsg{n: -3}, r.next().Body, "then, in order, the read answer to the same receiver")
	assert.Equal(t, uint64(1), r.d.Stats().Early)
}

func TestDriver_AMessageWithNoSyncBeforeItGoesAtOnce(t *testing.T) {
	r := newRig(t, nil, nil)
	r.deliver(100, readMsg{n: 3})
	m := r.next()
	assert.Equal(t, node.Message{From: 1, To: 100, Body: ackMsg{n: -3}}, m)
}

// Group commit: the syncs asked for while an fsync runs are made durable by
// one more fsync, not one each.
func TestDriver_GroupCommitBatchesTheSyncsAskedForDuringAnFsync(t *testing.T) {
	g := newGatedFsync()
	r := newRig(t, g.fsync, nil)
	r.deliver(100, writeMsg{n: 0})
	<-g.started
	const writes = 200
	for i := 1; i <= writes; i++ {
		r.deliver(node.ID(100+i%7), writeMsg{n: i})
	}
	r.waitSteps(writes + 1)
	r.nothingSent()
	g.release <- struct{}{} // the first fsync, covering write 0
	assert.Equal(t, ackMsg{n: 0}, r.next().Body)
	<-g.started // the second: every other write
	g.release <- struct{}{}
	for i := 1; i <= writes; i++ {
		assert.Equal(t, ackMsg{n: i}, r.next().Body)
	}
	assert.Equal(t, int64(2), g.calls.Load(), "two fsyncs for %d writes", writes+1)
	var syncReq uint64
	r.inspect(func(c *logCore) {
		syncReq = c.syncReq
		require.Len(t, c.synced, 2)
		assert.Equal(t, uint64(1), c.synced[0])
		assert.Equal(t, c.syncReq, c.synced[1], "Synced counts every Ready that asked")
	})
	st := r.d.Stats()
	assert.Equal(t, uint64(2), st.FsyncBatches)
	assert.Equal(t, syncReq, st.SyncReadies)
	assert.Less(t, st.SyncReadies, uint64(writes), "queued inputs share Readies")
}

func TestDriver_SyncedCountsEveryReadyThatAskedForASync(t *testing.T) {
	r := newRig(t, nil, nil)
	for i := 0; i < 50; i++ {
		r.deliver(100, writeMsg{n: i})
		assert.Equal(t, ackMsg{n: i}, r.next().Body)
	}
	r.inspect(func(c *logCore) {
		require.NotEmpty(t, c.synced)
		assert.Equal(t, c.syncReq, c.synced[len(c.synced)-1])
		for i := 1; i < len(c.synced); i++ {
			assert.Greater(t, c.synced[i], c.synced[i-1])
		}
	})
}

func TestDriver_TicksAtTheTimeTheCoreAsksFor(t *testing.T) {
	r := newRig(t, nil, func(c *logCore) { c.wakeIn = 5 * node.Millisecond })
	deadline := time.Now().Add(hangGuard)
	for {
		var ticks int
		r.inspect(func(c *logCore) { ticks = c.ticks })
		if ticks >= 3 {
			break
		}
		require.True(t, time.Now().Before(deadline))
		time.Sleep(time.Millisecond)
	}
	r.inspect(func(c *logCore) { assert.Positive(t, c.now) })
}

func TestDriver_AFailedFsyncStopsTheNode(t *testing.T) {
	st, err := OpenStorage(StorageOptions{Dir: t.TempDir(), Fsync: func(*os.File) error { return os.ErrClosed }})
	require.NoError(t, err)
	defer st.Close()
	sent := &chanSender{ch: make(chan node.Message, 16)}
	d := NewDriver(DriverOptions{ID: 1, Storage: st, Sender: sent})
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, &logCore{id: 1}) }()
	require.True(t, d.DeliverClient(ctx, node.Message{From: 100, To: 1, Body: writeMsg{n: 1}}))
	err = <-done
	require.ErrorIs(t, err, ErrFsync)
	assert.Empty(t, sent.ch, "nothing the failed sync held is sent")
}

// The clock is the wall clock at start plus monotonic time since.
func TestDriver_ClockIsMonotonicFromTheWallClockAtStart(t *testing.T) {
	st, err := OpenStorage(StorageOptions{Dir: t.TempDir()})
	require.NoError(t, err)
	defer st.Close()
	d := NewDriver(DriverOptions{ID: 1, Storage: st, Sender: &chanSender{}})
	a := d.Now()
	b := d.Now()
	assert.LessOrEqual(t, a, b)
	assert.InDelta(t, float64(time.Now().UnixNano()), float64(a), float64(time.Hour))
	env := d.Env()
	assert.True(t, env.ReportsSyncs)
	assert.Equal(t, 0, env.Restart)
	assert.NotNil(t, env.Rand)
}
