// Package sim is zoosim's deterministic world. It runs a whole ensemble of
// servers and clients, every one a node.Machine, in one goroutine, driven by
// one seed: a virtual clock and an event queue ordered by (time, sequence
// number), per-node clocks with offset and drift, a network of directed links
// with latency, loss, duplication, reordering and partitions, per-node disks
// that lose unsynced writes on a crash and can corrupt records, and a trace
// folded into a 64-bit hash.
//
// sim owns determinism: the same seed gives the same trace hash on every
// machine. It must never start a goroutine, use a channel or select, read the
// wall clock, draw from a global random source, let map iteration order
// reach behaviour or the trace, or allocate per event on the hot path (events
// are values in a hand-written heap; message slots are pooled; text is
// formatted only for a tracer). Every queue it keeps is bounded, and a broken
// invariant panics with a message that names it, which the harness turns
// into a failing seed.
package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"zoosim/node"
)

// Time is global virtual time in nanoseconds, the same unit as node.Time.
type Time = node.Time

// MaxNodeID bounds node IDs so that the ID-indexed lookup table stays small.
const MaxNodeID = 1 << 16

// Config is a world's fixed setup. Start from DefaultConfig for a realistic
// world. In a literal Config, zero bounds take their defaults, the zero Links
// is an instant, lossless network and zero sync latency makes a sync complete
// at the instant it starts (still as a separate event after the Ready that
// asked): an ideal world, handy for unit tests.
type Config struct {
	Seed uint64
	// Links are the initial parameters of every link.
	Links LinkParams
	// SyncLatencyMin and SyncLatencyMax bound the time a disk sync takes.
	SyncLatencyMin, SyncLatencyMax Time
	// CrashLoss is what happens to unsynced writes on a crash; zero means
	// RandomTail.
	CrashLoss CrashLoss

	MaxQueueLen         int // events queued at once (default 1<<20)
	MaxEventsPerInstant int // consecutive events at one virtual time before it is a livelock (default 1<<20)
	MaxReadyRounds      int // Ready batches with work in a row after one input (default 1024)
	MaxHeldPerNode      int // messages held for a paused node (default 4096)
	MaxOutboxPerNode    int // messages waiting behind a node's sync (default 1<<16)
	MaxUnsyncedOps      int // unsynced disk ops per node before the oldest is written back (default 1<<16)
	// MaxEvents is the world's event budget: once it has processed this
	// many events it stops (Exhausted reports it) instead of running on;
	// 0 means no budget.
	MaxEvents uint64

	_ struct{}
}

// DefaultConfig is a healthy LAN with realistic disks: links of
// DefaultLinkParams and syncs of 0.2–2 ms.
func DefaultConfig(seed uint64) Config {
	return Config{
		Seed:           seed,
		Links:          DefaultLinkParams(),
		SyncLatencyMin: 200 * node.Microsecond,
		SyncLatencyMax: 2 * node.Millisecond,
		CrashLoss:      RandomTail,
	}
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxQueueLen, 1<<20)
	def(&c.MaxEventsPerInstant, 1<<20)
	def(&c.MaxReadyRounds, 1024)
	def(&c.MaxHeldPerNode, 4096)
	def(&c.MaxOutboxPerNode, 1<<16)
	def(&c.MaxUnsyncedOps, 1<<16)
	if c.CrashLoss == 0 {
		c.CrashLoss = RandomTail
	}
}

func (c *Config) validate() {
	bad := func(what string) { panic("sim: invalid Config: " + what) }
	switch {
	case c.SyncLatencyMin < 0 || c.SyncLatencyMax < c.SyncLatencyMin:
		bad(fmt.Sprintf("sync latency range [%d, %d]", c.SyncLatencyMin, c.SyncLatencyMax))
	case c.CrashLoss != RandomTail && c.CrashLoss != LoseAll:
		bad(fmt.Sprintf("CrashLoss %d", c.CrashLoss))
	case c.MaxQueueLen < 0 || c.MaxEventsPerInstant < 0 || c.MaxReadyRounds < 0 ||
		c.MaxHeldPerNode < 0 || c.MaxOutboxPerNode < 0 || c.MaxUnsyncedOps < 0:
		bad("negative bound")
	}
}

// nodeState is everything the world keeps about one node. It survives
// crashes; only m (the core's memory) and what the crash loses are reset.
type nodeState struct {
	id      node.ID
	idx     int32 // position in World.nodes and in the link table
	factory node.Factory
	m       node.Machine // nil while down

	up, paused bool
	restarts   int
	// incarnation changes at every crash. Messages sent to an earlier
	// incarnation and syncs started by one are dropped when they arrive.
	incarnation uint32

	clock clock

	// The timer request (see clock.go). Invariant: at most one queued
	// evTimer carries gen == timerGen, and it exists iff timerLive.
	wakeAt     Time // on the node's clock; 0 = none
	timerFired bool // the current request has been served
	timerLive  bool
	timerAt    Time // global time of the live timer event
	timerGen   uint32

	// inbox holds messages that arrived while paused, in arrival order.
	inbox []node.Message
	// A node with a service time handles one message per serviceTime of
	// its CPU: messages arriving while it is busy wait in busyQ (FIFO,
	// bounded), and one evService event at a time feeds them in.
	serviceTime  Time
	busyUntil    Time
	busyQ        []node.Message
	busyHead     int
	serviceArmed bool

	// The output barrier (see disk.go). Invariant:
	// syncsDone <= syncCovers <= syncsRequested.
	outbox         []heldMsg
	outHead        int
	syncsRequested uint64
	syncsDone      uint64
	syncCovers     uint64 // syncsRequested when the running sync started
	syncsNotified  uint64 // syncsDone last reported to a SyncObserver core
	syncMark       uint64 // disk op number the running sync makes durable
	syncing        bool

	disk     disk
	diskRand *rand.Rand
	// syncMin and syncMax, when syncMax > 0, replace the world's sync
	// latency for this node (a slow disk).
	syncMin, syncMax Time

	// An armed crash point (see crashpoint.go).
	crashPoint CrashPoint
	crashArmed bool
}

// World is the simulated world. It is not safe for concurrent use: it is
// meant to be the only thing a simulation goroutine touches.
type World struct {
	cfg Config
	now Time
	seq uint64
	q   eventQueue

	nodes []*nodeState // in AddNode order
	byID  []int32      // ID -> index+1; 0 = no such node

	net      network
	netRand  *rand.Rand
	msgs     []inflight // pooled in-flight message slots
	freeMsgs []int32
	actions  []func()
	freeActs []int32

	streams map[string]*rand.Rand
	hash    uint64
	tracer  func(TraceEvent)
	stats   Stats

	sameInstant int // consecutive events at w.now
	stepping    bool
	// inMachine is set while a core's method runs. A core must not reach
	// back into the world (it would change state the driver is iterating).
	inMachine bool

	crashHook func(id node.ID, atPoint bool)
	crashRand *rand.Rand
	buggify   *node.BuggifyPlan
	// exhausted is set once the world has processed MaxEvents events: it
	// processes no more.
	exhausted bool
}

// New returns an empty world at virtual time 0. It panics if cfg is invalid.
func New(cfg Config) *World {
	makeCryptoRandConstant()
	cfg.setDefaults()
	cfg.validate()
	w := &World{
		cfg:     cfg,
		streams: map[string]*rand.Rand{},
		hash:    splitmix64(cfg.Seed),
		q:       eventQueue{ev: make([]event, 0, 1024)},
	}
	w.net.defaults = compileLink(cfg.Links)
	w.netRand = w.Stream("network")
	return w
}

// Config returns the world's configuration with defaults filled in.
func (w *World) Config() Config { return w.cfg }

// Seed returns the run's seed.
func (w *World) Seed() uint64 { return w.cfg.Seed }

// Now returns global virtual time.
func (w *World) Now() Time { return w.now }

// Pending returns the number of queued events (including cancelled timers
// not yet popped).
func (w *World) Pending() int { return w.q.len() }

func (w *World) push(at Time, k eventKind, ref, gen uint32) {
	// Invariant: the queue is bounded; a run that outgrows it is a runaway.
	if w.q.len() >= w.cfg.MaxQueueLen {
		panic(fmt.Sprintf("sim: invariant violated: event queue length would exceed MaxQueueLen=%d at time %d",
			w.cfg.MaxQueueLen, w.now))
	}
	w.seq++
	w.q.push(event{at: at, key: w.seq<<kindBits | uint64(k), ref: ref, gen: gen})
	if w.q.len() > w.stats.MaxQueueLen {
		w.stats.MaxQueueLen = w.q.len()
	}
}

func (w *World) lookup(id node.ID) *nodeState {
	if id <= 0 || int(id) >= len(w.byID) || w.byID[id] == 0 {
		return nil
	}
	return w.nodes[w.byID[id]-1]
}

func (w *World) mustNode(id node.ID) *nodeState {
	n := w.lookup(id)
	if n == nil {
		panic(fmt.Sprintf("sim: no node %d", id))
	}
	return n
}

func (w *World) checkNotInMachine(op string) {
	if w.inMachine {
		panic("sim: invariant violated: " + op + " called from inside a core's Step/Tick/Ready/Advance")
	}
}

// AddNode adds node id, builds its core with f right away (so Machine(id)
// works at once) and queues its first Ready at the current time. Deferring
// the first Ready lets a harness add a whole ensemble before any node
// sends: messages to nodes not yet added would otherwise be dropped.
func (w *World) AddNode(id node.ID, f node.Factory) {
	w.checkNotInMachine("AddNode")
	if id <= 0 || id >= MaxNodeID {
		panic(fmt.Sprintf("sim: AddNode: ID %d outside [1, %d)", id, MaxNodeID))
	}
	if w.lookup(id) != nil {
		panic(fmt.Sprintf("sim: AddNode: node %d already exists", id))
	}
	if f == nil {
		panic(fmt.Sprintf("sim: AddNode: nil factory for node %d", id))
	}
	n := &nodeState{
		id:       id,
		idx:      int32(len(w.nodes)),
		factory:  f,
		clock:    newClock(w.now),
		disk:     newDisk(),
		diskRand: w.Stream("disk/" + strconv.Itoa(int(id))),
	}
	w.nodes = append(w.nodes, n)
	for len(w.byID) <= int(id) {
		w.byID = append(w.byID, 0)
	}
	w.byID[id] = n.idx + 1
	w.net.grow()
	w.build(n)
	w.stats.Starts++
	w.fold(TraceStart, id, 0, uint64(n.clock.local(w.now)), 0)
	if w.tracer != nil {
		w.tracer(TraceEvent{Time: w.now, Kind: TraceStart, Node: id, N: int64(n.clock.local(w.now))})
	}
	w.push(w.now, evStart, uint32(n.idx), n.incarnation)
}

// build makes a new core for n from what survived on its disk.
func (w *World) build(n *nodeState) {
	name := "node/" + strconv.Itoa(int(n.id))
	if n.restarts > 0 {
		name += "/" + strconv.Itoa(n.restarts)
	}
	env := node.Env{
		ID:      n.id,
		Now:     n.clock.local(w.now),
		Storage: n.disk.snapshot(),
		// Built directly rather than through Stream: each incarnation is
		// used once, so there is nothing to share or keep.
		Rand:         NewStream(w.cfg.Seed, name),
		Restart:      n.restarts,
		ReportsSyncs: true,
		Buggify:      w.buggify.For(NewStream(w.cfg.Seed, "buggify/"+name)),
	}
	w.inMachine = true
	m := n.factory(env)
	w.inMachine = false
	if m == nil {
		panic(fmt.Sprintf("sim: factory of node %d returned nil", n.id))
	}
	n.m = m
	n.up = true
}

// Nodes returns the IDs of all nodes, up or down, in increasing order.
func (w *World) Nodes() []node.ID {
	ids := make([]node.ID, len(w.nodes))
	for i, n := range w.nodes {
		ids[i] = n.id
	}
	slices.Sort(ids)
	return ids
}

// Machine returns node id's core for white-box inspection (type-assert it to
// the concrete core), or nil while the node is down. Read it; do not drive
// it: changes made from outside take effect only through Drain.
func (w *World) Machine(id node.ID) node.Machine {
	return w.mustNode(id).m
}

// Up reports whether node id is running (paused nodes are up).
func (w *World) Up(id node.ID) bool { return w.mustNode(id).up }

// Paused reports whether node id is paused.
func (w *World) Paused(id node.ID) bool { return w.mustNode(id).paused }

// Restarts returns how many times node id has been restarted.
func (w *World) Restarts(id node.ID) int { return w.mustNode(id).restarts }

// drain performs n's Ready batches until one carries no work: after one
// input a core may need several rounds (a Ready's Advance can unblock more
// work). The number of rounds is bounded so a core that always has work is
// caught as a livelock.
func (w *World) drain(n *nodeState) {
	for round := 0; ; round++ {
		if round >= w.cfg.MaxReadyRounds {
			panic(fmt.Sprintf("sim: invariant violated: node %d returned work from Ready %d times in a row (MaxReadyRounds)",
				n.id, w.cfg.MaxReadyRounds))
		}
		w.inMachine = true
		rd := n.m.Ready()
		w.inMachine = false
		split := len(rd.Disk)
		if n.crashArmed && n.crashPoint.Kind == CrashBetweenDiskOps && len(rd.Disk) >= 2 {
			split = w.crashSplit(len(rd.Disk))
		}
		for i, op := range rd.Disk {
			if i == split {
				w.atCrashPoint(n, CrashBetweenDiskOps, nil)
				return
			}
			w.writeDisk(n, op)
		}
		if rd.Sync {
			w.requestSync(n)
			if w.atCrashPoint(n, CrashBeforeSync, nil) {
				return
			}
		}
		for _, m := range rd.Messages {
			w.emit(n, m)
			if !n.up {
				return // crashed right after sending (CrashOnSend)
			}
		}
		w.setWake(n, rd.WakeAt)
		w.inMachine = true
		n.m.Advance()
		w.inMachine = false
		if rd.Empty() {
			return
		}
	}
}

// Drain performs node id's Ready now. Use it after handing a core work from
// outside (for example giving a client core an operation through its
// concrete type). It returns false, doing nothing, if the node is down or
// paused.
func (w *World) Drain(id node.ID) bool {
	w.checkNotInMachine("Drain")
	n := w.mustNode(id)
	if !n.up || n.paused {
		return false
	}
	w.drain(n)
	return true
}

// Crash kills node id: its core (all memory), its pending timer, messages
// held for it while paused and messages it holds behind a sync, and unsynced
// disk writes as Config.CrashLoss says. Messages in flight to it are dropped
// when they arrive, even after a restart (its connections are gone). It
// returns false if the node was already down.
func (w *World) Crash(id node.ID) bool {
	w.checkNotInMachine("Crash")
	n := w.mustNode(id)
	if !n.up {
		return false
	}
	w.crash(n, false)
	return true
}

// crash kills n, which is up (see Crash); atPoint says an armed crash point
// fired.
func (w *World) crash(n *nodeState, atPoint bool) {
	id := n.id
	if w.crashHook != nil {
		w.crashHook(id, atPoint)
	}
	n.m = nil
	n.up, n.paused = false, false
	n.crashArmed = false
	n.incarnation++
	n.cancelTimer()
	n.wakeAt, n.timerFired = 0, false
	held := len(n.inbox) + len(n.outbox) - n.outHead
	for _, m := range n.inbox {
		w.dropMsg(DropCrashInbox, m.From, m.To, m.Body)
	}
	for _, m := range n.busyQ[n.busyHead:] {
		w.dropMsg(DropCrashInbox, m.From, m.To, m.Body)
	}
	clear(n.busyQ)
	n.busyQ, n.busyHead, n.busyUntil, n.serviceArmed = n.busyQ[:0], 0, 0, false
	clear(n.inbox)
	n.inbox = n.inbox[:0]
	for _, h := range n.outbox[n.outHead:] {
		w.dropMsg(DropCrashOutbox, h.msg.From, h.msg.To, h.msg.Body)
	}
	clear(n.outbox)
	n.outbox, n.outHead = n.outbox[:0], 0
	n.syncing = false
	n.syncsRequested, n.syncsDone, n.syncCovers, n.syncMark, n.syncsNotified = 0, 0, 0, 0, 0
	lost := n.disk.crash(w.cfg.CrashLoss, n.diskRand)
	w.stats.LostOps += uint64(lost)
	w.stats.Crashes++
	w.fold(TraceCrash, id, 0, uint64(lost), uint64(held))
	if w.tracer != nil {
		w.tracer(TraceEvent{Time: w.now, Kind: TraceCrash, Node: id, N: int64(lost), M: int64(held)})
	}
}

// Restart rebuilds a crashed node from its factory, with Env.Storage showing
// what survived on its disk and Env.Restart counting restarts, and performs
// its first Ready at once. It returns false if the node is up.
func (w *World) Restart(id node.ID) bool {
	w.checkNotInMachine("Restart")
	n := w.mustNode(id)
	if n.up {
		return false
	}
	n.restarts++
	w.build(n)
	w.stats.Restarts++
	w.fold(TraceRestart, id, 0, uint64(n.clock.local(w.now)), uint64(n.restarts))
	if w.tracer != nil {
		w.tracer(TraceEvent{Time: w.now, Kind: TraceRestart, Node: id, N: int64(n.clock.local(w.now)), M: int64(n.restarts)})
	}
	w.drain(n)
	return true
}

// Pause freezes node id like a stopped process or a long GC pause: it gets no
// Step and no Tick; messages reaching it wait (up to MaxHeldPerNode) until
// Resume; its clock keeps running and its disk keeps syncing. It returns
// false if the node is down or already paused.
func (w *World) Pause(id node.ID) bool {
	w.checkNotInMachine("Pause")
	n := w.mustNode(id)
	if !n.up || n.paused {
		return false
	}
	n.paused = true
	n.cancelTimer()
	w.stats.Pauses++
	w.fold(TracePause, id, 0, 0, 0)
	if w.tracer != nil {
		w.tracer(TraceEvent{Time: w.now, Kind: TracePause, Node: id})
	}
	return true
}

// Resume unfreezes node id: messages its finished syncs released go out,
// messages held for it are delivered in arrival order, its Ready is
// performed (in case it was paused before its first one), and its timer is
// re-armed, firing at once if its clock passed the deadline meanwhile. It
// returns false if the node is not paused.
func (w *World) Resume(id node.ID) bool {
	w.checkNotInMachine("Resume")
	n := w.mustNode(id)
	if !n.up || !n.paused {
		return false
	}
	n.paused = false
	held := len(n.inbox)
	w.stats.Resumes++
	w.fold(TraceResume, id, 0, uint64(held), 0)
	if w.tracer != nil {
		w.tracer(TraceEvent{Time: w.now, Kind: TraceResume, Node: id, N: int64(held)})
	}
	w.flushOutbox(n)
	if n.up {
		w.notifySynced(n)
	}
	w.armService(n)
	// Invariant: n.inbox does not grow while we walk it, because only a
	// paused node's inbox grows and n is no longer paused. A crash point
	// may crash n on the way (which empties the inbox).
	for i := 0; i < len(n.inbox) && n.up; i++ {
		m := n.inbox[i]
		n.inbox[i] = node.Message{}
		w.stepNode(n, m)
	}
	if !n.up {
		return true
	}
	n.inbox = n.inbox[:0]
	w.drain(n)
	w.armTimer(n)
	return true
}

// At schedules fn to run at virtual time t (a nemesis action, a workload
// step). Callbacks run between events and may call any World method.
func (w *World) At(t Time, fn func()) {
	w.checkNotInMachine("At")
	if t < w.now {
		panic(fmt.Sprintf("sim: At(%d) is before now (%d)", t, w.now))
	}
	var ref uint32
	if k := len(w.freeActs); k > 0 {
		ref = uint32(w.freeActs[k-1])
		w.freeActs = w.freeActs[:k-1]
		w.actions[ref] = fn
	} else {
		w.actions = append(w.actions, fn)
		ref = uint32(len(w.actions) - 1)
	}
	w.push(t, evAction, ref, 0)
}

// After schedules fn to run d after now.
func (w *World) After(d Time, fn func()) { w.At(w.now+d, fn) }

// Step processes the earliest queued event and reports whether there was one.
func (w *World) Step() bool {
	if w.q.len() == 0 || w.exhausted {
		return false
	}
	if w.cfg.MaxEvents > 0 && w.stats.Events >= w.cfg.MaxEvents {
		w.exhausted = true
		return false
	}
	if w.stepping || w.inMachine {
		panic("sim: invariant violated: Step or Run called from inside an event")
	}
	e := w.q.pop()
	switch {
	case e.at > w.now:
		w.now = e.at
		w.sameInstant = 0
	case e.at == w.now:
		w.sameInstant++
		if w.sameInstant > w.cfg.MaxEventsPerInstant {
			panic(fmt.Sprintf("sim: invariant violated: more than MaxEventsPerInstant=%d events at time %d (livelock)",
				w.cfg.MaxEventsPerInstant, w.now))
		}
	default:
		panic(fmt.Sprintf("sim: invariant violated: virtual time went back from %d to %d", w.now, e.at))
	}
	w.stats.Events++
	w.stepping = true
	switch e.kind() {
	case evDeliver:
		w.deliver(e.ref)
	case evTimer:
		w.onTimer(w.nodes[e.ref], e.gen)
	case evSyncDone:
		w.onSyncDone(w.nodes[e.ref], e.gen)
	case evStart:
		n := w.nodes[e.ref]
		if n.up && !n.paused && n.incarnation == e.gen {
			w.drain(n)
		} else {
			w.stats.StaleEvents++
		}
	case evService:
		w.onService(w.nodes[e.ref], e.gen)
	case evAction:
		fn := w.actions[e.ref]
		w.actions[e.ref] = nil
		w.freeActs = append(w.freeActs, int32(e.ref))
		w.stats.Actions++
		w.fold(TraceAction, 0, 0, 0, 0)
		if w.tracer != nil {
			w.tracer(TraceEvent{Time: w.now, Kind: TraceAction})
		}
		fn() // it may drive the world (crash, partition, ...) but not Step it
	default:
		panic(fmt.Sprintf("sim: invariant violated: unknown event kind %d", e.kind()))
	}
	w.stepping = false
	return true
}

// Run processes events until the next one is later than until (virtual time
// then reads until: time passes even when nothing happens) or none is left
// (time stays at the last event, so Run(math.MaxInt64) means "until idle").
func (w *World) Run(until Time) {
	for w.q.len() > 0 && w.q.peek().at <= until {
		if !w.Step() {
			return // the event budget is spent
		}
	}
	if w.q.len() > 0 && until > w.now {
		w.now = until
		w.sameInstant = 0
	}
}

// Exhausted reports whether the world spent its event budget
// (Config.MaxEvents) and stopped.
func (w *World) Exhausted() bool { return w.exhausted }

// SetBuggify switches on the forced rare branches of plan for every node
// built from now on (nil: none).
func (w *World) SetBuggify(plan *node.BuggifyPlan) { w.buggify = plan }

// RunFor runs for d of virtual time from now.
func (w *World) RunFor(d Time) { w.Run(w.now + d) }
