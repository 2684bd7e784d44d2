package real

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"zoosim/node"
)

// systemRandom is the operating system's randomness, taken from
// crypto/rand.Reader when the package is initialized: a simulated world in
// the same process (a test binary) makes crypto/rand.Reader constant for
// determinism (package sim), and a real server must never draw its
// secrets from that.
var systemRandom = crand.Reader

// Sender puts a core's outgoing messages on their way (to a peer server or
// a client connection). The driver calls Send from its goroutine only; Send
// must not block: a transport that cannot take a message drops it (the
// protocols tolerate loss) or closes the connection it was for.
type Sender interface {
	Send(m node.Message)
}

// DriverOptions configure a Driver.
type DriverOptions struct {
	ID      node.ID
	Storage *Storage
	Sender  Sender
	Logger  *slog.Logger
	// InputQueue bounds each of the two input queues (peer messages, client
	// messages); a full queue blocks the transport goroutine that delivers,
	// which stops reading its socket (back-pressure). Default 4096.
	InputQueue int
	// BatchInputs is how many queued inputs are stepped before one Ready,
	// so that concurrent requests share a Ready, its disk writes and its
	// sync. Default 256.
	BatchInputs int
	// MaxOutbox bounds the messages waiting behind a sync. Past it the
	// driver stops taking inputs until the disk catches up. Default 1<<16.
	MaxOutbox int
	// MaxReadyRounds bounds the Ready batches with work in a row after one
	// input; a core that always has work is a livelock. Default 1024.
	MaxReadyRounds int
	// Observe, if set, is called on the driver's goroutine after the core
	// has handled each batch of input (to log role changes, say). It may
	// read the core, never drive it, and must be quick.
	Observe func(m node.Machine)
	// OnFsync, if set, is told how long each fsync batch took (on the
	// syncer's goroutine).
	OnFsync func(d time.Duration)
	// SendEarly, if set, names the messages that may leave while a sync
	// requested before them is still running: messages whose receiver
	// acts on nothing this node's pending writes would have to make
	// durable (for Zab: proposals, whose ack the leader counts for itself
	// only after its own sync; commits and pings, which carry a commit
	// point a quorum has synced; relays). Such a message still waits when
	// an earlier message to the same receiver is held, so that every link
	// stays FIFO. nil: every message waits for the syncs before it.
	SendEarly func(m node.Message) bool
}

func (o *DriverOptions) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.InputQueue, 4096)
	def(&o.BatchInputs, 256)
	def(&o.MaxOutbox, 1<<16)
	def(&o.MaxReadyRounds, 1024)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Driver runs one node.Machine for real. One goroutine (Run's) owns the
// core and is the only caller of its Step, Tick, Ready, Advance and
// Synced. It performs every Ready in the core's order: the disk ops (write
// system calls, see Storage), then, if the Ready asks for a sync, hands a
// sync to the syncer goroutine; the Ready's messages, and those of every
// later Ready, wait in the outbox until the syncs before them are on
// stable storage. Syncs are serialized: while one runs, more Readies are
// performed and their syncs wait, and the next fsync covers them all
// (group commit: under load one fsync makes many Readies durable). When a
// sync completes the driver sends what it released and, for a core that is
// a node.SyncObserver, reports it with Synced(now, n): n counts the
// Readies carrying Sync, from the core's start, whose writes are durable.
//
// Time is the wall clock read once at start plus the monotonic time since,
// so the core's clock never jumps when the system clock is set.
type Driver struct {
	opt   DriverOptions
	st    *Storage
	m     node.Machine
	obs   node.SyncObserver
	start time.Time
	base  node.Time

	peerIn, clientIn chan node.Message
	inspect          chan func(node.Machine)

	timer  *time.Timer
	wakeAt node.Time

	// The output barrier, as the simulator keeps it (sim/disk.go).
	// Invariant: syncsDone <= syncCovers <= syncsRequested.
	outbox         []heldMsg
	outHead        int
	heldTo         map[node.ID]int // held messages per receiver
	syncsRequested uint64
	syncsDone      uint64
	syncCovers     uint64
	syncsNotified  uint64
	syncing        bool
	syncReq        chan *syncBatch
	syncDone       chan error

	stats driverStats

	// inputAt is when the core was first handed input since the last
	// observe (0: not yet): whatever it applied since, it applied no
	// earlier.
	inputAt node.Time
}

type heldMsg struct {
	msg      node.Message
	needSync uint64
}

type driverStats struct {
	readies, syncReadies, fsyncBatches, sent, early atomic.Uint64

	fsyncMu sync.Mutex
	fsync   latencyStats // ms per fsync batch (mntr's fsynctime)
}

// DriverStats are a driver's counters.
type DriverStats struct {
	// Readies performed, Readies that asked for a sync, and the fsync
	// batches that made them durable (group commit: SyncReadies /
	// FsyncBatches Readies per fsync).
	Readies, SyncReadies, FsyncBatches uint64
	// Sent is the number of messages handed to the Sender, Early those of
	// them that left before a sync requested earlier had completed
	// (SendEarly).
	Sent, Early uint64
}

// NewDriver returns a driver; build the core with Env and start it with Run.
func NewDriver(opt DriverOptions) *Driver {
	opt.setDefaults()
	if opt.ID <= 0 || opt.Storage == nil || opt.Sender == nil {
		panic("real: NewDriver needs an ID, a Storage and a Sender")
	}
	start := time.Now()
	return &Driver{
		opt:      opt,
		st:       opt.Storage,
		start:    start,
		base:     node.Time(start.UnixNano()),
		peerIn:   make(chan node.Message, opt.InputQueue),
		clientIn: make(chan node.Message, opt.InputQueue),
		inspect:  make(chan func(node.Machine)),
		heldTo:   map[node.ID]int{},
		syncReq:  make(chan *syncBatch, 1),
		syncDone: make(chan error, 1),
	}
}

// Now is the node's clock.
func (d *Driver) Now() node.Time { return d.base + node.Time(time.Since(d.start)) }

// Env is the environment to build the core with: the recovered storage, a
// random stream seeded from crypto/rand, and ReportsSyncs.
func (d *Driver) Env() node.Env {
	var seed [16]byte
	if _, err := io.ReadFull(systemRandom, seed[:]); err != nil {
		panic("real: crypto/rand: " + err.Error())
	}
	restart := 0
	if len(d.st.Recovered().Files()) > 0 {
		// Not a count: the driver cannot know how often the process ran.
		restart = 1
	}
	return node.Env{
		ID:           d.opt.ID,
		Now:          d.Now(),
		Storage:      d.st.Recovered(),
		Rand:         rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))),
		Restart:      restart,
		ReportsSyncs: true,
	}
}

// DeliverPeer queues a message from a peer server. It blocks while the
// queue is full and returns false once ctx is done.
func (d *Driver) DeliverPeer(ctx context.Context, m node.Message) bool {
	select {
	case d.peerIn <- m:
		return true
	case <-ctx.Done():
		return false
	}
}

// DeliverClient queues a message from a client connection (as DeliverPeer).
func (d *Driver) DeliverClient(ctx context.Context, m node.Message) bool {
	select {
	case d.clientIn <- m:
		return true
	case <-ctx.Done():
		return false
	}
}

// Inspect runs fn on the driver's goroutine, between inputs, with the core
// (read it; do not drive it), and waits for it. It returns ctx's error if
// the driver does not get to it.
func (d *Driver) Inspect(ctx context.Context, fn func(m node.Machine)) error {
	done := make(chan struct{})
	select {
	case d.inspect <- func(m node.Machine) { fn(m); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the driver's counters (safe from any goroutine).
func (d *Driver) Stats() DriverStats {
	return DriverStats{Readies: d.stats.readies.Load(), SyncReadies: d.stats.syncReadies.Load(),
		FsyncBatches: d.stats.fsyncBatches.Load(), Sent: d.stats.sent.Load(), Early: d.stats.early.Load()}
}

// fsyncStats copies the fsync latencies (ms per batch).
func (d *Driver) fsyncStats() latencyStats {
	d.stats.fsyncMu.Lock()
	defer d.stats.fsyncMu.Unlock()
	return d.stats.fsync
}

// Run drives m (built from Env) until ctx is done or a disk op or sync
// fails. A failure is returned: the node must stop, and its restart
// recovers from what is on disk.
func (d *Driver) Run(ctx context.Context, m node.Machine) error {
	d.m = m
	d.obs, _ = m.(node.SyncObserver)
	d.timer = time.NewTimer(time.Hour)
	d.timer.Stop()
	syncerDone := make(chan struct{})
	go d.syncer(syncerDone)
	defer func() {
		d.timer.Stop()
		close(d.syncReq)
		<-syncerDone
	}()
	if err := d.drain(); err != nil {
		return err
	}
	d.observe()
	for {
		peerIn, clientIn := d.peerIn, d.clientIn
		if len(d.outbox)-d.outHead >= d.opt.MaxOutbox {
			peerIn, clientIn = nil, nil // the disk is behind: stop taking work
		}
		select {
		case <-ctx.Done():
			return nil
		case m := <-peerIn:
			d.step(m)
			d.stepQueued()
		case m := <-clientIn:
			d.step(m)
			d.stepQueued()
		case <-d.timer.C:
			d.tick()
		case err := <-d.syncDone:
			if err != nil {
				return err
			}
			d.onSyncDone()
		case fn := <-d.inspect:
			fn(d.m)
		}
		if err := d.drain(); err != nil {
			return err
		}
		d.observe()
	}
}

func (d *Driver) observe() {
	if d.opt.Observe != nil {
		d.opt.Observe(d.m)
	}
	d.inputAt = 0
}

// inputNow is Now for a time handed to the core, noted as inputAt.
func (d *Driver) inputNow() node.Time {
	now := d.Now()
	if d.inputAt == 0 {
		d.inputAt = now
	}
	return now
}

// InputAt is, during an Observe call, the time the core was first handed
// input since the previous Observe: what the core did in between (an
// apply, say) happened no earlier, and before the replies it produced were
// sent. Outside Observe it is 0 or a time of the batch under way. Call it
// on the driver's goroutine only.
func (d *Driver) InputAt() node.Time {
	if d.inputAt == 0 {
		return d.Now()
	}
	return d.inputAt
}

func (d *Driver) step(m node.Message) { d.m.Step(d.inputNow(), m) }

// stepQueued steps what else is queued, up to BatchInputs, before the next
// Ready: peer messages first (acks and commits free the most work).
func (d *Driver) stepQueued() {
	for i := 1; i < d.opt.BatchInputs; i++ {
		if len(d.outbox)-d.outHead >= d.opt.MaxOutbox {
			return
		}
		select {
		case m := <-d.peerIn:
			d.step(m)
			continue
		default:
		}
		select {
		case m := <-d.clientIn:
			d.step(m)
		default:
			return
		}
	}
}

func (d *Driver) tick() {
	now := d.inputNow()
	if d.wakeAt == 0 {
		return
	}
	if now < d.wakeAt {
		d.armTimer() // early (it does not happen with Go's timers, but it costs nothing)
		return
	}
	d.wakeAt = 0
	d.m.Tick(now)
}

func (d *Driver) setWake(at node.Time) {
	if at == d.wakeAt {
		return
	}
	d.wakeAt = at
	d.armTimer()
}

func (d *Driver) armTimer() {
	if d.wakeAt == 0 {
		d.timer.Stop()
		return
	}
	d.timer.Reset(time.Duration(max(d.wakeAt-d.Now(), 0)))
}

// drain performs Ready batches until one carries no work.
func (d *Driver) drain() error {
	for round := 0; ; round++ {
		if round >= d.opt.MaxReadyRounds {
			return fmt.Errorf("real: invariant violated: node %d returned work from Ready %d times in a row", d.opt.ID, round)
		}
		rd := d.m.Ready()
		d.stats.readies.Add(1)
		for _, op := range rd.Disk {
			if err := d.st.Apply(op); err != nil {
				return fmt.Errorf("real: node %d: disk op %s %q: %w", d.opt.ID, op.Kind, op.File, err)
			}
		}
		if rd.Sync {
			d.stats.syncReadies.Add(1)
			d.syncsRequested++
			if !d.syncing {
				d.startSync()
			}
		}
		for _, m := range rd.Messages {
			if err := d.emit(m); err != nil {
				return err
			}
		}
		d.setWake(rd.WakeAt)
		d.m.Advance()
		if rd.Empty() {
			return nil
		}
	}
}

func (d *Driver) emit(m node.Message) error {
	if m.From != d.opt.ID {
		// Invariant: a core speaks only for itself.
		if m.From != 0 {
			return fmt.Errorf("real: invariant violated: node %d sent a message with From=%d", d.opt.ID, m.From)
		}
		m.From = d.opt.ID
	}
	if d.syncsRequested > d.syncsDone || d.outHead < len(d.outbox) {
		if d.heldTo[m.To] == 0 && d.opt.SendEarly != nil && d.opt.SendEarly(m) {
			d.stats.early.Add(1)
			d.send(m)
			return nil
		}
		d.outbox = append(d.outbox, heldMsg{msg: m, needSync: d.syncsRequested})
		d.heldTo[m.To]++
		return nil
	}
	d.send(m)
	return nil
}

func (d *Driver) send(m node.Message) {
	d.stats.sent.Add(1)
	d.opt.Sender.Send(m)
}

func (d *Driver) startSync() {
	d.syncing = true
	d.syncCovers = d.syncsRequested
	d.stats.fsyncBatches.Add(1)
	d.syncReq <- d.st.startBatch() // never blocks: one batch at a time
}

// syncer runs sync batches, one at a time, off the driver's goroutine.
func (d *Driver) syncer(done chan<- struct{}) {
	defer close(done)
	for b := range d.syncReq {
		start := time.Now()
		err := b.run()
		took := time.Since(start)
		d.stats.fsyncMu.Lock()
		d.stats.fsync.add(took.Milliseconds())
		d.stats.fsyncMu.Unlock()
		if d.opt.OnFsync != nil {
			d.opt.OnFsync(took)
		}
		d.syncDone <- err
	}
}

func (d *Driver) onSyncDone() {
	if !d.syncing {
		panic("real: invariant violated: a sync completed that was not started")
	}
	d.syncing = false
	d.st.batchDone()
	d.syncsDone = d.syncCovers
	d.flushOutbox()
	if d.syncsRequested > d.syncsDone {
		d.startSync()
	}
	if d.obs != nil && d.syncsDone > d.syncsNotified {
		d.syncsNotified = d.syncsDone
		d.obs.Synced(d.inputNow(), d.syncsDone)
	}
}

// flushOutbox sends, in order, the held messages whose syncs completed.
func (d *Driver) flushOutbox() {
	for d.outHead < len(d.outbox) && d.outbox[d.outHead].needSync <= d.syncsDone {
		m := d.outbox[d.outHead].msg
		d.outbox[d.outHead] = heldMsg{}
		d.outHead++
		if d.heldTo[m.To]--; d.heldTo[m.To] == 0 {
			delete(d.heldTo, m.To)
		}
		d.send(m)
	}
	if d.outHead == len(d.outbox) {
		d.outbox, d.outHead = d.outbox[:0], 0
	} else if d.outHead > len(d.outbox)/2 {
		k := copy(d.outbox, d.outbox[d.outHead:])
		clear(d.outbox[k:])
		d.outbox, d.outHead = d.outbox[:k], 0
	}
}
