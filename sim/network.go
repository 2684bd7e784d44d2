package sim

import (
	"fmt"

	"zoosim/node"
)

// LinkParams describe one directed link. The zero value is an instant,
// lossless, in-order link with the default in-flight bound.
type LinkParams struct {
	// LatencyMin and LatencyMax bound the usual one-way delay, drawn
	// uniformly.
	LatencyMin, LatencyMax Time
	// With probability TailProb a message takes a delay drawn uniformly
	// from [TailLatencyMin, TailLatencyMax] instead (a GC pause on a
	// router, a retransmission timeout).
	TailProb                       float64
	TailLatencyMin, TailLatencyMax Time
	// LossProb drops a message. DupProb delivers a second copy with its own
	// delay (the copy shares the Body: bodies must not change once sent).
	// ReorderProb exempts a message from per-link FIFO order and delays it
	// by up to LatencyMax more, so later messages can overtake it. Without
	// reordering a link is FIFO: a message never arrives before one sent
	// earlier on the same link.
	LossProb, DupProb, ReorderProb float64
	// MaxInFlight bounds the messages in flight on the link; beyond it new
	// messages are dropped (DropOverflow). 0 means DefaultMaxInFlight.
	MaxInFlight int

	_ struct{}
}

// DefaultMaxInFlight is the in-flight bound of a link whose MaxInFlight is 0.
const DefaultMaxInFlight = 4096

// DefaultLinkParams is a healthy LAN link: 0.1–1 ms, no faults.
func DefaultLinkParams() LinkParams {
	return LinkParams{LatencyMin: 100 * node.Microsecond, LatencyMax: node.Millisecond}
}

func (p LinkParams) validate() error {
	switch {
	case p.LatencyMin < 0 || p.LatencyMax < p.LatencyMin:
		return fmt.Errorf("latency range [%d, %d]", p.LatencyMin, p.LatencyMax)
	case p.TailProb > 0 && (p.TailLatencyMin < 0 || p.TailLatencyMax < p.TailLatencyMin):
		return fmt.Errorf("tail latency range [%d, %d]", p.TailLatencyMin, p.TailLatencyMax)
	case !validProb(p.TailProb) || !validProb(p.LossProb) || !validProb(p.DupProb) || !validProb(p.ReorderProb):
		return fmt.Errorf("probabilities must be in [0, 1]: tail %v loss %v dup %v reorder %v",
			p.TailProb, p.LossProb, p.DupProb, p.ReorderProb)
	case p.MaxInFlight < 0:
		return fmt.Errorf("MaxInFlight %d", p.MaxInFlight)
	}
	return nil
}

func validProb(p float64) bool { return p >= 0 && p <= 1 } // false for NaN

// linkConf is LinkParams compiled for the send path: probabilities as
// integer thresholds. Links that share parameters share one linkConf.
type linkConf struct {
	params                       LinkParams
	tailT, lossT, dupT, reorderT uint64
	maxInFlight                  int32
}

func compileLink(p LinkParams) *linkConf {
	if err := p.validate(); err != nil {
		panic("sim: invalid LinkParams: " + err.Error())
	}
	c := &linkConf{params: p, tailT: threshold(p.TailProb), lossT: threshold(p.LossProb),
		dupT: threshold(p.DupProb), reorderT: threshold(p.ReorderProb), maxInFlight: int32(p.MaxInFlight)}
	if c.maxInFlight == 0 {
		c.maxInFlight = DefaultMaxInFlight
	}
	return c
}

// link is the state of one directed link.
type link struct {
	conf *linkConf
	// last is the latest delivery time scheduled in FIFO order; a FIFO
	// message never arrives before it.
	last     Time
	inFlight int32
	blocked  bool
}

// network holds the n*n directed links between the n nodes, indexed by node
// index (AddNode order): links[from*n+to].
type network struct {
	n        int
	links    []link
	defaults *linkConf
}

func (nw *network) at(from, to int32) *link { return &nw.links[int(from)*nw.n+int(to)] }

// grow adds a node, keeping the state of existing links. It is called only by
// AddNode, so its allocation is off the hot path.
func (nw *network) grow() {
	n := nw.n + 1
	links := make([]link, n*n)
	for i := range links {
		links[i].conf = nw.defaults
	}
	for f := 0; f < nw.n; f++ {
		copy(links[f*n:f*n+nw.n], nw.links[f*nw.n:(f+1)*nw.n])
	}
	nw.n, nw.links = n, links
}

// inFlightTotal counts messages on all links (for accounting checks).
func (nw *network) inFlightTotal() int {
	t := 0
	for i := range nw.links {
		t += int(nw.links[i].inFlight)
	}
	return t
}

// SetAllLinks gives every link, present and future, the parameters p,
// replacing per-link overrides. Partitions and messages in flight are kept.
func (w *World) SetAllLinks(p LinkParams) {
	c := compileLink(p)
	w.net.defaults = c
	for i := range w.net.links {
		w.net.links[i].conf = c
	}
	w.traceLink(0, 0, linkSetAll)
}

// SetLink overrides the parameters of the directed link from -> to.
func (w *World) SetLink(from, to node.ID, p LinkParams) {
	f, t := w.mustNode(from), w.mustNode(to)
	w.net.at(f.idx, t.idx).conf = compileLink(p)
	w.traceLink(from, to, linkSet)
}

// Link returns the parameters of the directed link from -> to.
func (w *World) Link(from, to node.ID) LinkParams {
	f, t := w.mustNode(from), w.mustNode(to)
	return w.net.at(f.idx, t.idx).conf.params
}

// Block cuts the directed link from -> to: messages sent on it are dropped,
// and so are messages already in flight on it when they arrive. Blocking only
// one direction models a one-way partition.
func (w *World) Block(from, to node.ID) {
	f, t := w.mustNode(from), w.mustNode(to)
	w.net.at(f.idx, t.idx).blocked = true
	w.traceLink(from, to, linkBlock)
}

// Unblock restores the directed link from -> to.
func (w *World) Unblock(from, to node.ID) {
	f, t := w.mustNode(from), w.mustNode(to)
	w.net.at(f.idx, t.idx).blocked = false
	w.traceLink(from, to, linkUnblock)
}

// Blocked reports whether the directed link from -> to is blocked.
func (w *World) Blocked(from, to node.ID) bool {
	f, t := w.mustNode(from), w.mustNode(to)
	return w.net.at(f.idx, t.idx).blocked
}

// Partition blocks every link between nodes of different groups, in both
// directions. Links of nodes not named in any group are untouched, and so
// are links already blocked: call Heal first for a fresh partition shape.
func (w *World) Partition(groups ...[]node.ID) {
	group := make([]int, len(w.nodes)) // node index -> group+1, 0 = none
	for g, ids := range groups {
		for _, id := range ids {
			n := w.mustNode(id)
			if group[n.idx] != 0 && group[n.idx] != g+1 {
				panic(fmt.Sprintf("sim: Partition: node %d is in two groups", id))
			}
			group[n.idx] = g + 1
		}
	}
	for f := range w.nodes {
		for t := range w.nodes {
			if group[f] != 0 && group[t] != 0 && group[f] != group[t] {
				l := w.net.at(int32(f), int32(t))
				if !l.blocked {
					l.blocked = true
					w.traceLink(w.nodes[f].id, w.nodes[t].id, linkBlock)
				}
			}
		}
	}
}

// Isolate blocks every link into and out of id (its link to itself stays).
func (w *World) Isolate(id node.ID) {
	n := w.mustNode(id)
	for _, o := range w.nodes {
		if o != n {
			w.net.at(n.idx, o.idx).blocked = true
			w.net.at(o.idx, n.idx).blocked = true
		}
	}
	w.traceLink(id, 0, linkIsolate)
}

// Heal unblocks every link. Link parameters are kept.
func (w *World) Heal() {
	for i := range w.net.links {
		w.net.links[i].blocked = false
	}
	w.traceLink(0, 0, linkHeal)
}

// Link changes as they appear in the trace (TraceEvent.N of TraceLink).
const (
	linkBlock = iota + 1
	linkUnblock
	linkSetAll
	linkSet
	linkIsolate
	linkHeal
)

func (w *World) traceLink(from, to node.ID, op int64) {
	w.fold(TraceLink, from, to, uint64(op), 0)
	if w.tracer != nil {
		w.tracer(TraceEvent{Time: w.now, Kind: TraceLink, Node: from, Peer: to, N: op})
	}
}

// inflight is a message on the wire, in a pooled slot of World.msgs.
type inflight struct {
	msg      node.Message
	from, to int32  // node indexes
	toInc    uint32 // receiver incarnation at send time
}

func (w *World) allocMsg() uint32 {
	if k := len(w.freeMsgs); k > 0 {
		ref := w.freeMsgs[k-1]
		w.freeMsgs = w.freeMsgs[:k-1]
		return uint32(ref)
	}
	w.msgs = append(w.msgs, inflight{})
	return uint32(len(w.msgs) - 1)
}

// emit takes a message from n's Ready. It waits behind n's output barrier
// while a sync is pending (or earlier messages still wait), else goes out.
func (w *World) emit(n *nodeState, m node.Message) {
	if m.From != n.id {
		// Invariant: a core speaks only for itself.
		if m.From != 0 {
			panic(fmt.Sprintf("sim: invariant violated: node %d sent a message with From=%d", n.id, m.From))
		}
		m.From = n.id
	}
	w.stats.Sent++
	if n.syncsRequested > n.syncsDone || n.outHead < len(n.outbox) {
		if len(n.outbox)-n.outHead >= w.cfg.MaxOutboxPerNode {
			panic(fmt.Sprintf("sim: invariant violated: node %d has more than MaxOutboxPerNode=%d messages waiting for a sync",
				n.id, w.cfg.MaxOutboxPerNode))
		}
		n.outbox = append(n.outbox, heldMsg{msg: m, needSync: n.syncsRequested})
		return
	}
	w.transmit(n, m)
}

// transmit puts a message on the wire and then, if the sender has a crash
// point armed for it, crashes the sender: the message left (it may still
// be lost on the way), the sender is gone.
func (w *World) transmit(from *nodeState, m node.Message) {
	w.send(from, m)
	if from.crashArmed {
		w.atCrashPoint(from, CrashOnSend, m.Body)
	}
}

// send does transmit's work: the send-time partition check, loss, the
// in-flight bound, latency with per-link FIFO, reordering, duplication.
func (w *World) send(from *nodeState, m node.Message) {
	to := w.lookup(m.To)
	if to == nil {
		w.dropMsg(DropUnknownNode, from.id, m.To, m.Body)
		return
	}
	l := w.net.at(from.idx, to.idx)
	c := l.conf
	r := w.netRand
	if l.blocked {
		w.dropMsg(DropBlocked, from.id, to.id, m.Body)
		return
	}
	if chance(r, c.lossT) {
		w.dropMsg(DropLoss, from.id, to.id, m.Body)
		return
	}
	if l.inFlight >= c.maxInFlight {
		w.dropMsg(DropOverflow, from.id, to.id, m.Body)
		return
	}
	at := w.now + w.latency(c)
	if chance(r, c.reorderT) {
		at += uniform(r, 0, c.params.LatencyMax)
		w.stats.Reordered++
	} else {
		if at < l.last {
			at = l.last
		}
		l.last = at
	}
	w.enqueueMsg(at, m, from, to, l)
	w.traceMsg(TraceSend, 0, from.id, to.id, m.Body, int64(at))

	if chance(r, c.dupT) {
		w.stats.Duplicated++ // counted even if dropped, so messages stay accounted for
		if l.inFlight >= c.maxInFlight {
			w.dropMsg(DropOverflow, from.id, to.id, m.Body)
			return
		}
		// The copy travels independently of FIFO order, like a
		// retransmitted datagram.
		at2 := w.now + w.latency(c) + uniform(r, 0, c.params.LatencyMax)
		w.enqueueMsg(at2, m, from, to, l)
		w.traceMsg(TraceDuplicate, 0, from.id, to.id, m.Body, int64(at2))
	}
}

func (w *World) latency(c *linkConf) Time {
	if chance(w.netRand, c.tailT) {
		return uniform(w.netRand, c.params.TailLatencyMin, c.params.TailLatencyMax)
	}
	return uniform(w.netRand, c.params.LatencyMin, c.params.LatencyMax)
}

func (w *World) enqueueMsg(at Time, m node.Message, from, to *nodeState, l *link) {
	ref := w.allocMsg()
	w.msgs[ref] = inflight{msg: m, from: from.idx, to: to.idx, toInc: to.incarnation}
	l.inFlight++
	w.push(at, evDeliver, ref, 0)
}

// deliver handles an arriving message: the receiver must be up in the same
// incarnation it had when the message was sent (a crash resets its
// connections), and the link must not have been cut meanwhile. A paused
// receiver's host buffers the message until Resume.
func (w *World) deliver(ref uint32) {
	f := &w.msgs[ref]
	m, fromIdx, toIdx, inc := f.msg, f.from, f.to, f.toInc
	*f = inflight{} // do not keep the body alive
	w.freeMsgs = append(w.freeMsgs, int32(ref))
	l := w.net.at(fromIdx, toIdx)
	l.inFlight--
	n := w.nodes[toIdx]
	switch {
	case !n.up || n.incarnation != inc:
		w.dropMsg(DropNodeDown, m.From, m.To, m.Body)
	case l.blocked:
		w.dropMsg(DropBlockedInFlight, m.From, m.To, m.Body)
	case n.paused:
		if len(n.inbox) >= w.cfg.MaxHeldPerNode {
			w.dropMsg(DropPausedOverflow, m.From, m.To, m.Body)
			return
		}
		n.inbox = append(n.inbox, m)
		w.stats.Held++
		w.traceMsg(TraceHold, 0, m.From, m.To, m.Body, 0)
	case n.serviceTime > 0:
		w.serve(n, m)
	default:
		w.stepNode(n, m)
	}
}

// SetServiceTime gives node id a CPU: it handles one message per d of
// virtual time, and messages that arrive while it is busy queue (FIFO, at
// most MaxHeldPerNode; beyond that they are dropped as an overflow). Zero,
// the default, makes message handling free and instant.
func (w *World) SetServiceTime(id node.ID, d Time) {
	if d < 0 {
		panic(fmt.Sprintf("sim: SetServiceTime: negative service time %d", d))
	}
	w.mustNode(id).serviceTime = d
}

// serve hands m to a node with a CPU now, or queues it until the CPU is
// free.
func (w *World) serve(n *nodeState, m node.Message) {
	if w.now >= n.busyUntil && n.busyHead == len(n.busyQ) {
		n.busyUntil = w.now + n.serviceTime
		w.stepNode(n, m)
		return
	}
	if len(n.busyQ)-n.busyHead >= w.cfg.MaxHeldPerNode {
		w.dropMsg(DropOverflow, m.From, m.To, m.Body)
		return
	}
	n.busyQ = append(n.busyQ, m)
	w.armService(n)
}

// armService makes sure a queued message will be served when the CPU is
// free (never while the node is paused: Resume re-arms it).
func (w *World) armService(n *nodeState) {
	if n.serviceArmed || n.busyHead == len(n.busyQ) || n.paused || !n.up {
		return
	}
	n.serviceArmed = true
	w.push(max(w.now, n.busyUntil), evService, uint32(n.idx), n.incarnation)
}

func (w *World) onService(n *nodeState, inc uint32) {
	if !n.up || n.incarnation != inc {
		w.stats.StaleEvents++
		return
	}
	n.serviceArmed = false
	if n.paused || n.busyHead == len(n.busyQ) {
		return
	}
	m := n.busyQ[n.busyHead]
	n.busyQ[n.busyHead] = node.Message{}
	n.busyHead++
	if n.busyHead == len(n.busyQ) {
		n.busyQ, n.busyHead = n.busyQ[:0], 0
	}
	n.busyUntil = w.now + n.serviceTime
	w.stepNode(n, m)
	w.armService(n)
}

// stepNode hands m to n's core and performs the resulting Ready.
func (w *World) stepNode(n *nodeState, m node.Message) {
	now := n.clock.local(w.now)
	w.stats.Delivered++
	w.traceMsg(TraceDeliver, 0, m.From, m.To, m.Body, int64(now))
	w.inMachine = true
	n.m.Step(now, m)
	w.inMachine = false
	w.drain(n)
	w.atCrashPoint(n, CrashOnReceive, m.Body)
}

func (w *World) dropMsg(reason DropReason, from, to node.ID, body any) {
	w.stats.Dropped[reason]++
	w.traceMsg(TraceDrop, reason, from, to, body, 0)
}
