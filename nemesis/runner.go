package nemesis

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"zoosim/node"
)

// Ongoing is the End of a fault still in effect. It is the largest Time,
// the value checker.Infinity uses for "never healed".
const Ongoing node.Time = 1<<63 - 1

// Applied is what one fault concretely did: the nodes it chose and a
// description in words, for the history's annotations and the report of a
// failing run.
type Applied struct {
	// Index is the fault's position in the schedule; -1 for Runner.HealAll.
	Index int
	// Start is when it was applied. End is when its effect ended: Start for
	// an instantaneous fault (a restart, a clock jump) or one that was
	// skipped, Ongoing while it is in effect.
	Start, End node.Time
	Kind       Kind
	// Nodes are the nodes it acted on, in increasing order.
	Nodes       []node.ID
	Description string
	// Skipped is set when the fault found nothing to act on (no leader, no
	// crashed server to restart, ...). Description says why.
	Skipped bool

	_ struct{}
}

// String prints the record on one line: "1.5s–6.5s partition-halves: ...".
func (a Applied) String() string {
	var span string
	switch a.End {
	case a.Start:
		span = fmtTime(a.Start)
	case Ongoing:
		span = fmtTime(a.Start) + "–"
	default:
		span = fmtTime(a.Start) + "–" + fmtTime(a.End)
	}
	return span + " " + string(a.Kind) + ": " + a.Description
}

// link is one directed link.
type link struct{ from, to node.ID }

func cmpLink(a, b link) int {
	if a.from != b.from {
		return int(a.from) - int(b.from)
	}
	return int(a.to) - int(b.to)
}

// netFault is a fault in effect that blocks links: the partition shape or a
// client cut.
type netFault struct {
	idx   int // into Runner.applied
	links []link
}

// linkFault is a link-quality fault in effect.
type linkFault struct {
	idx   int
	links []link
	q     LinkQuality
}

// pendingEnd is a self-healing fault's end, or (step > 0) an intermediate
// step of a rolling crash.
type pendingEnd struct {
	at   node.Time
	idx  int
	step int
}

// rollState is what a rolling crash in effect has done so far.
type rollState struct {
	// first is the server it crashed first, second the one it crashed
	// next (0: none).
	first, second node.ID
	// secondLeader: the second is the leader of that moment (else another
	// follower); draw chooses among the followers. Both come from the
	// fault's stream when it starts.
	secondLeader bool
	draw         uint64
	point, msg   string
}

// driftState is a clock the nemesis made drift.
type driftState struct {
	ppm   int64
	owner int // into Runner.applied
}

// Runner applies a schedule to a Target as time passes. The caller asks Next
// when the next action is due, lets the world run until then, and calls
// Apply; at the end of the safety phase it calls HealAll. Every choice the
// schedule leaves open is made from the Runner's random stream and the
// Target's state at apply time, and recorded in Applied.
//
// The Runner keeps its own account of what it did (which links it blocked,
// which nodes it crashed, paused, made drift or lie) so that a fault that
// ends undoes exactly its own effect: a partition that heals itself leaves a
// client cut in place, a crash's restart skips a node that was restarted
// meanwhile. It is not safe for concurrent use.
type Runner struct {
	sched   Schedule
	t       Target
	servers []node.ID
	clients []node.ID
	seed    uint64
	// seen counts faults by the hash of their text, so that identical
	// faults get different random streams.
	seen map[uint64]int

	next    int          // the next fault of sched to start
	ends    []pendingEnd // sorted by (at, idx)
	now     node.Time
	started bool
	stopped bool // HealAll ran: the safety phase is over

	applied []Applied
	// owned counts, per applied record, the nodes it still holds crashed,
	// paused, drifting or lying. Invariant: owned[i] > 0 only while
	// applied[i].End == Ongoing.
	owned []int

	partition *netFault // the partition shape in effect
	cuts      []netFault
	blocked   map[link]bool // what the Target has blocked, as the Runner made it
	links     []linkFault
	quality   map[link]LinkQuality // links whose quality the Runner changed

	down   map[node.ID]int // crashed by the nemesis -> owner
	paused map[node.ID]int // paused by the nemesis -> owner
	drift  map[node.ID]driftState
	lies   map[node.ID]int // lying syncs -> owner
	armed  map[node.ID]int // armed crash points -> owner
	lags   map[node.ID]int // lagging servers -> owner
	rolls  map[int]*rollState
}

// NewRunner returns a Runner that will apply s to t. It checks s against
// the world t describes (Validate, and that fixed node IDs name its servers
// and clients). It draws the seed of its own streams from rnd once, so the
// caller can hand it a child stream of the run's seed.
//
// Each fault resolves its choices from a stream derived from that seed and
// the fault's own text, not from its position: removing a fault from a
// schedule (as a shrinker does) does not change what the others choose,
// unless the world itself turned out differently.
func NewRunner(s Schedule, t Target, rnd *rand.Rand) (*Runner, error) {
	servers, clients := slices.Clone(t.Servers()), slices.Clone(t.Clients())
	if err := checkMembers(servers, clients); err != nil {
		return nil, err
	}
	if err := s.Validate(len(servers), len(clients)); err != nil {
		return nil, err
	}
	for i, f := range s {
		sp := specs[f.Kind]
		for _, id := range f.Nodes {
			_, isServer := slices.BinarySearch(servers, id)
			_, isClient := slices.BinarySearch(clients, id)
			if !isServer && !(isClient && sp.clientsOK) {
				want := "a server"
				if sp.clientsOK {
					want = "a server or a client"
				}
				return nil, fmt.Errorf("nemesis: fault %d (%s): node %d is not %s of this world", i, f, id, want)
			}
		}
		for _, id := range f.Clients {
			if _, ok := slices.BinarySearch(clients, id); !ok {
				return nil, fmt.Errorf("nemesis: fault %d (%s): node %d is not a client of this world", i, f, id)
			}
		}
	}
	return &Runner{
		sched:   s.Clone(),
		t:       t,
		servers: servers,
		clients: clients,
		seed:    rnd.Uint64(),
		seen:    map[uint64]int{},
		blocked: map[link]bool{},
		quality: map[link]LinkQuality{},
		down:    map[node.ID]int{},
		paused:  map[node.ID]int{},
		drift:   map[node.ID]driftState{},
		lies:    map[node.ID]int{},
		armed:   map[node.ID]int{},
		lags:    map[node.ID]int{},
		rolls:   map[int]*rollState{},
	}, nil
}

func checkMembers(servers, clients []node.ID) error {
	if len(servers) == 0 {
		return fmt.Errorf("nemesis: the target has no servers")
	}
	all := append(slices.Clone(servers), clients...)
	for _, ids := range [][]node.ID{servers, clients} {
		for i, id := range ids {
			if id <= 0 || (i > 0 && ids[i-1] >= id) {
				return fmt.Errorf("nemesis: target IDs must be positive and strictly increasing: servers %s clients %s",
					fmtIDs(servers), fmtIDs(clients))
			}
		}
	}
	slices.Sort(all)
	if len(slices.Compact(all)) != len(servers)+len(clients) {
		return fmt.Errorf("nemesis: a node is both a server and a client: servers %s clients %s", fmtIDs(servers), fmtIDs(clients))
	}
	return nil
}

// Next returns when the next action is due: the start of the next fault or
// the end of a self-healing one. It may be earlier than the last Apply (a
// fault scheduled before the Runner was first applied); apply it at once
// then. ok is false when nothing is left, and after HealAll.
func (r *Runner) Next() (at node.Time, ok bool) {
	if r.stopped {
		return 0, false
	}
	at = Ongoing
	if r.next < len(r.sched) {
		at, ok = r.sched[r.next].At, true
	}
	if len(r.ends) > 0 && r.ends[0].at < at {
		at, ok = r.ends[0].at, true
	}
	return at, ok
}

// Apply performs every action due at or before now, in time order; at
// equal times, ends before starts (so a fault that starts when another ends
// is not undone by that end), then in schedule order. now is on the
// schedule's clock (time since the run's start) and must never decrease.
// Faults are recorded as starting at now; a self-healing fault ends
// Duration after that.
func (r *Runner) Apply(now node.Time) {
	r.advance(now)
	if r.stopped {
		return
	}
	// Bounded: each iteration consumes a fault or an end, and ends created
	// here fall strictly after now (Duration > 0).
	for {
		endDue := len(r.ends) > 0 && r.ends[0].at <= now
		faultDue := r.next < len(r.sched) && r.sched[r.next].At <= now
		switch {
		case endDue && (!faultDue || r.ends[0].at <= r.sched[r.next].At):
			e := r.ends[0]
			r.ends = r.ends[1:]
			if e.step > 0 {
				r.rollStep(e.idx, e.step, now)
			} else {
				r.finish(e.idx, now)
			}
		case faultDue:
			i := r.next
			r.next++
			r.start(i, r.sched[i], now)
		default:
			return
		}
	}
}

// HealAll ends the safety phase: it heals every link and restores their
// quality, resumes every node the nemesis paused, stops every clock drift
// it caused (clock jumps stay: a clock set wrong stays wrong), makes every
// lying disk honest and restarts every crashed server and client. Every
// fault still in effect ends now; faults not yet started never will, and
// Next reports nothing left.
func (r *Runner) HealAll(now node.Time) {
	r.advance(now)
	idx := r.record(Applied{Index: -1, Start: now, End: now, Kind: HealAll})
	nodes, desc := r.healAll(now)
	r.applied[idx].Nodes, r.applied[idx].Description = nodes, desc
	r.stopped = true
	r.ends = nil
}

// Applied returns the record of every fault applied so far, in the order
// they started. The slice is a copy; its Nodes are shared and must not be
// changed.
func (r *Runner) Applied() []Applied { return slices.Clone(r.applied) }

func (r *Runner) advance(now node.Time) {
	if r.started && now < r.now {
		panic(fmt.Sprintf("nemesis: invariant violated: time went back from %s to %s", fmtTime(r.now), fmtTime(now)))
	}
	r.now, r.started = now, true
}

func (r *Runner) record(a Applied) int {
	r.applied = append(r.applied, a)
	r.owned = append(r.owned, 0)
	return len(r.applied) - 1
}

// stream returns the random stream fault f resolves its choices from.
func (r *Runner) stream(f Fault) *rand.Rand {
	h := fnv64a(f.String())
	k := r.seen[h]
	r.seen[h] = k + 1
	return newStream(splitmix64(r.seed ^ splitmix64(h+uint64(k))))
}

// outcome is what starting a fault did.
type outcome struct {
	nodes   []node.ID
	desc    string
	lasting bool // in effect until something ends it
	skipped bool
}

func skip(why string) outcome { return outcome{desc: "skipped: " + why, skipped: true} }

func (r *Runner) start(i int, f Fault, now node.Time) {
	idx := r.record(Applied{Index: i, Start: now, End: Ongoing, Kind: f.Kind})
	o := r.do(f, idx, r.stream(f), now)
	a := &r.applied[idx]
	a.Nodes, a.Description, a.Skipped = o.nodes, o.desc, o.skipped
	if !o.lasting || o.skipped {
		a.End = now
		r.owned[idx] = 0
		return
	}
	if f.Duration > 0 {
		r.addEnd(pendingEnd{at: now + f.Duration, idx: idx})
	}
	if f.Kind == RollingCrash {
		r.addEnd(pendingEnd{at: now + f.Duration/8, idx: idx, step: 1})
		r.addEnd(pendingEnd{at: now + f.Duration/2, idx: idx, step: 2})
	}
}

// addEnd queues e in (time, fault, step) order; a fault's end (step 0)
// comes after its steps at the same time.
func (r *Runner) addEnd(e pendingEnd) {
	key := func(p pendingEnd) int {
		if p.step == 0 {
			return 1 << 30
		}
		return p.step
	}
	at, _ := slices.BinarySearchFunc(r.ends, e, func(a, b pendingEnd) int {
		if a.at != b.at {
			return cmpTime(a.at, b.at)
		}
		if a.idx != b.idx {
			return a.idx - b.idx
		}
		return key(a) - key(b)
	})
	r.ends = slices.Insert(r.ends, at, e)
}

func cmpTime(a, b node.Time) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// do carries out fault f, recorded as applied[idx].
func (r *Runner) do(f Fault, idx int, rnd *rand.Rand, now node.Time) outcome {
	if lt, ok := r.t.(LimitedTarget); ok && f.Kind != HealAll {
		if ok, why := lt.Supports(f); !ok {
			return skip("the target cannot: " + why)
		}
	}
	switch f.Kind {
	case PartitionLeader, PartitionOne, PartitionMajority, PartitionHalves, PartitionBridge, PartitionRing, PartitionOneWay:
		links, nodes, desc, why := r.shape(f, rnd)
		if why != "" {
			return skip(why)
		}
		r.endPartition(now)
		r.partition = &netFault{idx: idx, links: links}
		r.syncBlocks()
		return outcome{nodes: nodes, desc: desc, lasting: true}

	case ClientCut:
		c := node.ID(0)
		if len(f.Clients) > 0 {
			c = f.Clients[0]
		} else {
			c = r.clients[belowInt(rnd, len(r.clients))]
		}
		srvs, why := r.targets(f, rnd, always)
		if why != "" {
			return skip(why)
		}
		var links []link
		for _, s := range srvs {
			links = append(links, link{c, s}, link{s, c})
		}
		r.cuts = append(r.cuts, netFault{idx: idx, links: links})
		r.syncBlocks()
		return outcome{nodes: sortedIDs(append([]node.ID{c}, srvs...)), lasting: true,
			desc: fmt.Sprintf("cut client %d from servers %s", c, fmtIDs(srvs))}

	case Heal:
		r.healNetwork(now)
		return outcome{desc: "heal every link"}

	case Crash, CrashLeader, CrashAll:
		ids, why := r.targets(f, rnd, r.t.Up)
		if why != "" {
			return skip(why)
		}
		for _, id := range ids {
			r.hold(id, idx, now)
		}
		r.owned[idx] = len(ids)
		return outcome{nodes: ids, desc: "crash " + fmtIDs(ids), lasting: true}

	case Restart, RestartAll:
		isDown := func(id node.ID) bool { return !r.t.Up(id) }
		var ids []node.ID
		if f.Kind == RestartAll {
			ids = filterIDs(r.nodes(), isDown)
			if len(ids) == 0 {
				return skip("nothing is down")
			}
		} else {
			var why string
			if ids, why = r.targets(f, rnd, isDown); why != "" {
				return skip(why)
			}
		}
		for _, id := range ids {
			r.restart(id, now)
		}
		return outcome{nodes: ids, desc: "restart " + fmtIDs(ids)}

	case Pause:
		ids, why := r.targets(f, rnd, r.pausable)
		if why != "" {
			return skip(why)
		}
		for _, id := range ids {
			r.t.Pause(id)
			r.paused[id] = idx
		}
		r.owned[idx] = len(ids)
		return outcome{nodes: ids, desc: "pause " + fmtIDs(ids), lasting: true}

	case Resume, ResumeAll:
		isPaused := func(id node.ID) bool { _, ok := r.paused[id]; return ok }
		ids := filterIDs(r.nodes(), isPaused)
		switch {
		case len(f.Nodes) > 0:
			ids = filterIDs(sortedIDs(f.Nodes), isPaused)
		case f.Kind == Resume && len(ids) > f.count():
			ids = sortedIDs(shuffled(rnd, ids)[:f.count()])
		}
		if len(ids) == 0 {
			return skip("nothing the nemesis paused is paused")
		}
		for _, id := range ids {
			r.resume(id, now)
		}
		return outcome{nodes: ids, desc: "resume " + fmtIDs(ids)}

	case ClockJump:
		ids, why := r.targets(f, rnd, always)
		if why != "" {
			return skip(why)
		}
		for _, id := range ids {
			r.t.SetClock(id, f.Jump, r.drift[id].ppm)
		}
		return outcome{nodes: ids, desc: fmt.Sprintf("clocks of %s jump %s", fmtIDs(ids), fmtSigned(f.Jump))}

	case ClockDrift:
		ids, why := r.targets(f, rnd, always)
		if why != "" {
			return skip(why)
		}
		for _, id := range ids {
			r.t.SetClock(id, 0, f.DriftPPM)
			if d, ok := r.drift[id]; ok {
				r.release(d.owner, now)
			}
			r.drift[id] = driftState{ppm: f.DriftPPM, owner: idx}
		}
		r.owned[idx] = len(ids)
		return outcome{nodes: ids, desc: fmt.Sprintf("clocks of %s drift %s", fmtIDs(ids), fmtPPM(f.DriftPPM)), lasting: true}

	case LinkLossy, LinkSlow, LinkDup, LinkReorder:
		ids, why := r.targets(f, rnd, always)
		if why != "" {
			return skip(why)
		}
		var q LinkQuality
		switch f.Kind {
		case LinkLossy:
			q.LossProb = f.Prob
		case LinkSlow:
			q.ExtraLatency = f.Latency
		case LinkDup:
			q.DupProb = f.Prob
		case LinkReorder:
			q.ReorderProb = f.Prob
		}
		var links []link
		for _, x := range ids {
			for _, y := range r.nodes() {
				if y != x {
					links = append(links, link{x, y}, link{y, x})
				}
			}
		}
		r.links = append(r.links, linkFault{idx: idx, links: links, q: q})
		r.syncQuality()
		return outcome{nodes: ids, desc: fmt.Sprintf("links of %s: %s", fmtIDs(ids), q), lasting: true}

	case DiskSyncLies:
		ids, why := r.targets(f, rnd, always)
		if why != "" {
			return skip(why)
		}
		for _, id := range ids {
			if owner, ok := r.lies[id]; ok {
				r.release(owner, now)
			} else {
				r.t.SyncLies(id, true)
			}
			r.lies[id] = idx
		}
		r.owned[idx] = len(ids)
		return outcome{nodes: ids, desc: "syncs of " + fmtIDs(ids) + " lie", lasting: true}

	case DiskCorrupt:
		ids, why := r.targets(f, rnd, always)
		if why != "" {
			return skip(why)
		}
		var done []node.ID
		var parts []string
		for _, id := range ids {
			if rec, ok := r.t.CorruptRecord(id); ok {
				done = append(done, id)
				parts = append(parts, fmt.Sprintf("%s on %d", rec, id))
			} else {
				parts = append(parts, fmt.Sprintf("nothing durable on %d", id))
			}
		}
		if len(done) == 0 {
			return skip(strings.Join(parts, ", "))
		}
		return outcome{nodes: done, desc: "corrupt " + strings.Join(parts, ", ")}

	case CrashPoint:
		ct, ok := r.t.(CrashPointTarget)
		if !ok {
			return skip("the target cannot crash at a protocol point")
		}
		ids, why := r.targets(f, rnd, r.t.Up)
		if why != "" {
			return skip(why)
		}
		id := ids[0]
		if owner, ok := r.armed[id]; ok {
			r.disarm(id, owner, now)
		}
		ct.ArmCrash(id, f.Point, f.Msg, f.Cascade)
		r.armed[id] = idx
		r.owned[idx] = 1
		where := f.Point
		if f.Msg != "" {
			where += " " + f.Msg
		}
		if f.Cascade > 0 {
			where += fmt.Sprintf(", then the leader %s later", fmtTime(f.Cascade))
		}
		return outcome{nodes: ids, desc: fmt.Sprintf("crash %d at %s", id, where), lasting: true}

	case Lag:
		lt, ok := r.t.(LagTarget)
		if !ok {
			return skip("the target cannot slow a server down")
		}
		ids, why := r.targets(f, rnd, r.t.Up)
		if why != "" {
			return skip(why)
		}
		id := ids[0]
		if owner, ok := r.lags[id]; ok {
			r.release(owner, now)
		}
		lt.SetLag(id, f.Latency)
		r.lags[id] = idx
		r.owned[idx] = 1
		var moved []node.ID
		for _, c := range shuffled(rnd, slices.Clone(r.clients))[:min(f.Move, len(r.clients))] {
			if lt.MoveClient(c, id) {
				moved = append(moved, c)
			}
		}
		desc := fmt.Sprintf("server %d lags by up to %s", id, fmtTime(f.Latency))
		if len(moved) > 0 {
			desc += fmt.Sprintf("; clients %s moved onto it", fmtIDs(sortedIDs(moved)))
		}
		return outcome{nodes: ids, desc: desc, lasting: true}

	case RollingCrash:
		ids, why := r.targets(f, rnd, r.t.Up)
		if why != "" {
			return skip(why)
		}
		id := ids[0]
		r.hold(id, idx, now)
		r.owned[idx] = 1
		st := &rollState{first: id, secondLeader: belowInt(rnd, 2) == 0, draw: rnd.Uint64(), point: f.Point, msg: f.Msg}
		r.rolls[idx] = st
		where := f.Point
		if f.Msg != "" {
			where += " " + f.Msg
		}
		second := "another follower"
		if st.secondLeader {
			second = "the leader"
		}
		return outcome{nodes: ids, lasting: true, desc: fmt.Sprintf(
			"crash %d; at +%s %s, and %d restarts to crash at %s; at +%s the other servers, and the first two restart; the rest at +%s",
			id, fmtTime(f.Duration/8), second, id, where, fmtTime(f.Duration/2), fmtTime(f.Duration))}

	case HealAll:
		nodes, desc := r.healAll(now)
		return outcome{nodes: nodes, desc: desc}
	}
	panic(fmt.Sprintf("nemesis: invariant violated: validated fault of unknown kind %q", f.Kind))
}

// hold crashes server id, which is up, on behalf of fault idx (the caller
// counts it in owned[idx]).
func (r *Runner) hold(id node.ID, idx int, now node.Time) {
	r.t.Crash(id)
	if owner, ok := r.down[id]; ok { // it came back without the nemesis
		r.release(owner, now)
	}
	r.down[id] = idx
	if owner, ok := r.paused[id]; ok { // a crash ends a pause
		delete(r.paused, id)
		r.release(owner, now)
	}
}

// rollStep carries out step 1 or 2 of rolling crash applied[idx] (see
// RollingCrash). A rolling crash that already ended (healed, or everything
// it held came back some other way) does nothing more.
func (r *Runner) rollStep(idx, step int, now node.Time) {
	a := &r.applied[idx]
	st := r.rolls[idx]
	if a.End != Ongoing || st == nil {
		return
	}
	f := st.first
	switch step {
	case 1:
		// A second server (the leader, or another follower) crashes while
		// the first is down; the first restarts with its crash point armed.
		l := r.leader()
		var pool []node.ID
		if st.secondLeader && l != 0 && l != f && r.t.Up(l) {
			pool = []node.ID{l}
		} else {
			pool = filterIDs(r.servers, func(id node.ID) bool { return id != f && id != l && r.t.Up(id) })
		}
		if len(pool) > 0 {
			second := pool[st.draw%uint64(len(pool))]
			r.hold(second, idx, now)
			r.owned[idx]++
			st.second = second
			a.Nodes = sortedIDs(append(a.Nodes, second))
		}
		ct, canArm := r.t.(CrashPointTarget)
		if owner, ok := r.down[f]; ok && owner == idx {
			r.t.Restart(f)
			delete(r.down, f)
			if canArm {
				r.arm(ct, f, idx, now, st.point, st.msg)
			}
			r.release(idx, now)
		} else if canArm && r.t.Up(f) {
			r.arm(ct, f, idx, now, st.point, st.msg)
		}
	case 2:
		// Every other server crashes; the old leader and the follower (if
		// its point fired) restart.
		armed := false
		fired := false
		if owner, ok := r.armed[f]; ok && owner == idx {
			delete(r.armed, f)
			stillArmed, _ := r.t.(CrashPointTarget).DisarmCrash(f)
			_, held := r.down[f]
			fired = !stillArmed && !held && !r.t.Up(f)
			armed = true
		}
		for _, id := range r.servers {
			if id != f && id != st.second && r.t.Up(id) {
				r.hold(id, idx, now)
				r.owned[idx]++
				a.Nodes = sortedIDs(append(a.Nodes, id))
			}
		}
		if owner, ok := r.down[st.second]; st.second != 0 && ok && owner == idx {
			r.restart(st.second, now)
		}
		if fired {
			r.t.Restart(f)
		}
		if armed {
			r.release(idx, now)
		}
	}
}

// arm arms fault idx's crash point on server f (replacing any other).
func (r *Runner) arm(ct CrashPointTarget, f node.ID, idx int, now node.Time, point, msg string) {
	if owner, ok := r.armed[f]; ok {
		r.disarm(f, owner, now)
	}
	ct.ArmCrash(f, point, msg, 0)
	r.armed[f] = idx
	r.owned[idx]++
}

// finish ends fault applied[idx] because its Duration passed. A fault that
// already ended (healed, replaced, undone node by node) is left alone.
func (r *Runner) finish(idx int, now node.Time) {
	a := &r.applied[idx]
	if a.End != Ongoing {
		return
	}
	switch a.Kind {
	case PartitionLeader, PartitionOne, PartitionMajority, PartitionHalves, PartitionBridge, PartitionRing, PartitionOneWay:
		if r.partition != nil && r.partition.idx == idx {
			r.partition = nil
			r.syncBlocks()
		}
	case ClientCut:
		r.cuts = slices.DeleteFunc(r.cuts, func(c netFault) bool { return c.idx == idx })
		r.syncBlocks()
	case Crash, CrashLeader, CrashAll:
		for _, id := range a.Nodes {
			if owner, ok := r.down[id]; ok && owner == idx {
				r.restart(id, now)
			}
		}
	case Pause:
		for _, id := range a.Nodes {
			if owner, ok := r.paused[id]; ok && owner == idx {
				r.resume(id, now)
			}
		}
	case ClockDrift:
		for _, id := range a.Nodes {
			if d, ok := r.drift[id]; ok && d.owner == idx {
				r.t.SetClock(id, 0, 0)
				delete(r.drift, id)
			}
		}
	case LinkLossy, LinkSlow, LinkDup, LinkReorder:
		r.links = slices.DeleteFunc(r.links, func(l linkFault) bool { return l.idx == idx })
		r.syncQuality()
	case DiskSyncLies:
		for _, id := range a.Nodes {
			if owner, ok := r.lies[id]; ok && owner == idx {
				r.t.SyncLies(id, false)
				delete(r.lies, id)
			}
		}
	case CrashPoint:
		for _, id := range a.Nodes {
			if owner, ok := r.armed[id]; ok && owner == idx {
				r.disarm(id, owner, now)
			}
		}
	case Lag:
		for _, id := range a.Nodes {
			if owner, ok := r.lags[id]; ok && owner == idx {
				r.t.(LagTarget).SetLag(id, 0)
				delete(r.lags, id)
			}
		}
	case RollingCrash:
		for _, id := range a.Nodes {
			if owner, ok := r.armed[id]; ok && owner == idx {
				r.disarm(id, owner, now)
			}
			if owner, ok := r.down[id]; ok && owner == idx {
				r.restart(id, now)
			}
		}
		delete(r.rolls, idx)
	default:
		panic(fmt.Sprintf("nemesis: invariant violated: %s has an end", a.Kind))
	}
	a.End = now
	r.owned[idx] = 0
}

// release notes that fault owner no longer holds one of its nodes; when it
// holds none, it has ended.
func (r *Runner) release(owner int, now node.Time) {
	if r.owned[owner] <= 0 {
		panic(fmt.Sprintf("nemesis: invariant violated: release of %s, which holds nothing", r.applied[owner].Kind))
	}
	r.owned[owner]--
	if r.owned[owner] == 0 && r.applied[owner].End == Ongoing {
		r.applied[owner].End = now
	}
}

// disarm ends crash point owner on server id: if it is still armed it is
// removed; if it fired (the server is down and no crash fault holds it),
// the server restarts.
func (r *Runner) disarm(id node.ID, owner int, now node.Time) {
	delete(r.armed, id)
	stillArmed, cascaded := r.t.(CrashPointTarget).DisarmCrash(id)
	if _, crashed := r.down[id]; !stillArmed && !crashed && !r.t.Up(id) {
		r.t.Restart(id)
	}
	if _, crashed := r.down[cascaded]; cascaded != 0 && !crashed && !r.t.Up(cascaded) {
		r.t.Restart(cascaded)
	}
	r.release(owner, now)
}

func (r *Runner) restart(id node.ID, now node.Time) {
	if !r.t.Up(id) {
		r.t.Restart(id)
	}
	if owner, ok := r.down[id]; ok {
		delete(r.down, id)
		r.release(owner, now)
	}
}

func (r *Runner) resume(id node.ID, now node.Time) {
	if r.t.Up(id) {
		r.t.Resume(id)
	}
	if owner, ok := r.paused[id]; ok {
		delete(r.paused, id)
		r.release(owner, now)
	}
}

func (r *Runner) pausable(id node.ID) bool {
	_, paused := r.paused[id]
	return r.t.Up(id) && !paused
}

// endPartition ends the partition shape in effect, if any (without
// touching the Target: the caller syncs).
func (r *Runner) endPartition(now node.Time) {
	if r.partition != nil {
		r.applied[r.partition.idx].End = now
		r.partition = nil
	}
}

// healNetwork heals every link through the Target and ends every network
// fault.
func (r *Runner) healNetwork(now node.Time) {
	r.t.Heal()
	r.endPartition(now)
	for _, c := range r.cuts {
		r.applied[c.idx].End = now
	}
	for _, l := range r.links {
		r.applied[l.idx].End = now
	}
	r.cuts, r.links = nil, nil
	clear(r.blocked)
	clear(r.quality)
}

// healAll undoes everything the nemesis did (see HealAll) and ends every
// fault in effect.
func (r *Runner) healAll(now node.Time) ([]node.ID, string) {
	r.healNetwork(now)
	parts := []string{"heal every link"}
	var touched []node.ID
	note := func(what string, ids []node.ID) {
		if len(ids) > 0 {
			parts = append(parts, what+" "+fmtIDs(ids))
			touched = append(touched, ids...)
		}
	}
	var resumed, steady, honest, unlagged, restarted []node.ID
	for _, id := range r.nodes() { // sorted iteration: map order never leaks
		if _, ok := r.paused[id]; ok {
			r.resume(id, now)
			resumed = append(resumed, id)
		}
	}
	for _, id := range r.nodes() {
		if d, ok := r.drift[id]; ok {
			r.t.SetClock(id, 0, 0)
			delete(r.drift, id)
			r.release(d.owner, now)
			steady = append(steady, id)
		}
	}
	for _, id := range r.nodes() {
		if owner, ok := r.lies[id]; ok {
			r.t.SyncLies(id, false)
			delete(r.lies, id)
			r.release(owner, now)
			honest = append(honest, id)
		}
	}
	for _, id := range r.nodes() {
		if owner, ok := r.armed[id]; ok {
			r.disarm(id, owner, now)
		}
		if owner, ok := r.lags[id]; ok {
			r.t.(LagTarget).SetLag(id, 0)
			delete(r.lags, id)
			r.release(owner, now)
			unlagged = append(unlagged, id)
		}
	}
	for _, id := range r.nodes() {
		if !r.t.Up(id) {
			restarted = append(restarted, id)
		}
		r.restart(id, now) // also forgets crashes of nodes that came back some other way
	}
	note("resume", resumed)
	note("stop drift of", steady)
	note("honest syncs on", honest)
	note("no more lag on", unlagged)
	note("restart", restarted)
	for i := range r.applied {
		if r.applied[i].End == Ongoing {
			r.applied[i].End = now
			r.owned[i] = 0
		}
	}
	r.ends = nil
	return slices.Compact(sortedIDs(touched)), strings.Join(parts, "; ")
}

// nodes returns the servers then the clients.
func (r *Runner) nodes() []node.ID {
	return append(slices.Clone(r.servers), r.clients...)
}

// leader returns the Target's leader, checking the contract.
func (r *Runner) leader() node.ID {
	l := r.t.Leader()
	if l != 0 {
		if _, ok := slices.BinarySearch(r.servers, l); !ok {
			panic(fmt.Sprintf("nemesis: invariant violated: Target.Leader returned %d, not a server", l))
		}
	}
	return l
}

func always(node.ID) bool { return true }

// targets resolves the nodes a set-valued fault acts on: its fixed Nodes
// that are eligible, or those its pick chooses among the eligible. why says
// why there are none.
func (r *Runner) targets(f Fault, rnd *rand.Rand, eligible func(node.ID) bool) (ids []node.ID, why string) {
	if len(f.Nodes) > 0 {
		fixed := sortedIDs(f.Nodes)
		if ids = filterIDs(fixed, eligible); len(ids) == 0 {
			return nil, "none of " + fmtIDs(fixed) + " is eligible"
		}
		return ids, ""
	}
	leader := r.leader()
	switch f.Kind {
	case CrashLeader:
		return r.targets(Fault{Kind: Crash, Pick: PickLeader}, rnd, eligible)
	case CrashAll:
		return r.targets(Fault{Kind: Crash, Pick: PickAll}, rnd, eligible)
	}
	var pool []node.ID
	switch p := f.pick(); p {
	case PickLeader:
		switch {
		case leader == 0:
			return nil, "no leader"
		case !eligible(leader):
			return nil, fmt.Sprintf("leader %d is not eligible", leader)
		}
		return []node.ID{leader}, ""
	case PickAll:
		if ids = filterIDs(r.servers, eligible); len(ids) == 0 {
			return nil, "no eligible server"
		}
		return ids, ""
	case PickRandom:
		pool = filterIDs(r.servers, eligible)
	case PickFollower:
		pool = filterIDs(r.servers, func(id node.ID) bool { return id != leader && eligible(id) })
	case PickClient:
		pool = filterIDs(r.clients, eligible)
	case PickDown:
		pool = filterIDs(r.servers, func(id node.ID) bool { return !r.t.Up(id) && eligible(id) })
	default:
		panic(fmt.Sprintf("nemesis: invariant violated: %s resolved with pick %q", f.Kind, p))
	}
	if len(pool) == 0 {
		return nil, fmt.Sprintf("no eligible node for pick %q", f.pick())
	}
	return sortedIDs(shuffled(rnd, pool)[:min(f.count(), len(pool))]), ""
}

func filterIDs(ids []node.ID, keep func(node.ID) bool) []node.ID {
	var out []node.ID
	for _, id := range ids {
		if keep(id) {
			out = append(out, id)
		}
	}
	return out
}

func sortedIDs(ids []node.ID) []node.ID {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
