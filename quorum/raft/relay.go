package raft

import (
	"zoosim/node"
	"zoosim/quorum"
)

// The relay channel carries the server's own payloads (forwarded writes,
// session touches, sync and revalidation answers) between a leader and its
// followers, beside raft and never through its log. Zab has ZooKeeper's
// learner connection for this; raft has nothing, so the engine keeps one
// stream per peer, like a TCP connection over the lossy simulated network:
// payloads are numbered, the receiver delivers them once and in order and
// acknowledges the highest it delivered, the sender keeps the
// unacknowledged ones and sends them again until they are acknowledged.
//
// A payload also carries the index the sender had applied when it sent
// it, and the receiver hands it to its server only once it has applied that
// far too: a follower that hears "session S is alive" from its leader has
// by then applied everything the leader had, so it cannot take the answer
// after the closeSession that followed it. (Zab gets this from its learner
// connection, where payloads travel in one stream with the commits.)
//
// A stream lives within one term: on a term change both ends drop it (the
// server closes its client connections on that change, which fails what the
// stream carried). It belongs to one incarnation of each end, so that a
// restarted node neither takes the tail of a stream meant for its former
// self nor misses its head: every message names the sender's incarnation
// and the one it addresses, a receiver answers a message for another
// incarnation of itself with an ack that names the current one, and the
// sender then numbers what it still holds afresh for it.

// maxUnacked bounds the payloads a stream holds for one peer; past it Relay
// reports the channel as lost.
const maxUnacked = 1024

// resendBatch bounds the payloads sent again at once.
const resendBatch = 64

type outStream struct {
	peerInc uint64 // the receiver's incarnation as last heard (0: unknown)
	nextSeq uint64 // the sequence number of the next payload
	unacked []sentPayload
}

type sentPayload struct {
	seq     uint64
	payload any
	applied uint64    // the sender's applied index when it was queued
	sentAt  node.Time // last sent (0: to be sent again at once)
}

type inStream struct {
	srcInc    uint64 // the sender incarnation of the stream being delivered
	delivered uint64 // the highest sequence number delivered
	ackTo     uint64 // the sender incarnation the due ack answers
	// ahead holds messages that arrived before a missing one, by sequence
	// number (at most resendBatch past delivered); they are delivered once
	// the gap is filled. It is only ever looked up by key.
	ahead map[uint64]*Msg
}

// relay is the engine's side of every stream, by peer id.
type relay struct {
	self    node.ID
	inc     uint64 // this incarnation (never 0)
	term    uint64 // the term the streams belong to
	out     []outStream
	in      []inStream
	ackDue  []bool
	pending bool // some ack is due
}

func newRelay(self node.ID, inc uint64, maxID node.ID) relay {
	return relay{self: self, inc: inc, out: make([]outStream, maxID+1), in: make([]inStream, maxID+1), ackDue: make([]bool, maxID+1)}
}

// reset drops every stream: the term changed.
func (r *relay) reset(term uint64) {
	r.term = term
	for i := range r.out {
		peer := r.out[i].peerInc // a peer's incarnation outlives terms
		clear(r.out[i].unacked)
		r.out[i] = outStream{peerInc: peer}
		clear(r.in[i].ahead)
		r.in[i] = inStream{ahead: r.in[i].ahead}
		r.ackDue[i] = false
	}
	r.pending = false
}

func (r *relay) valid(id node.ID) bool { return id >= 1 && int(id) < len(r.out) && id != r.self }

// send queues a payload for peer to and returns the message to send now,
// or false if the stream is full.
func (r *relay) send(now node.Time, to node.ID, payload any, applied uint64) (*Msg, bool) {
	o := &r.out[to]
	if len(o.unacked) >= maxUnacked {
		return nil, false
	}
	o.nextSeq++
	o.unacked = append(o.unacked, sentPayload{seq: o.nextSeq, payload: payload, applied: applied, sentAt: now})
	return r.data(o, o.unacked[len(o.unacked)-1]), true
}

func (r *relay) data(o *outStream, p sentPayload) *Msg {
	return &Msg{Kind: RelayData, Term: r.term, SrcInc: r.inc, DstInc: o.peerInc, Seq: p.seq, Applied: p.applied, Payload: p.payload}
}

// receive handles a relay message from peer from and hands the messages it
// makes deliverable, in order, to deliver. It notes the acks due; flush
// emits them.
func (r *relay) receive(from node.ID, m *Msg, deliver func(*Msg)) {
	if m.Term != r.term || !r.valid(from) {
		return
	}
	switch m.Kind {
	case RelayAck:
		r.acked(from, m)
		return
	case RelayData:
	default:
		return
	}
	in := &r.in[from]
	if m.DstInc != r.inc {
		// Meant for another incarnation of this node (or sent before the
		// sender knew this one): tell the sender who is here now.
		in.ackTo = m.SrcInc
		r.ackDue[from], r.pending = true, true
		return
	}
	switch {
	case m.SrcInc < in.srcInc:
		return // an earlier incarnation of the sender
	case m.SrcInc > in.srcInc:
		clear(in.ahead)
		*in = inStream{srcInc: m.SrcInc, ahead: in.ahead}
	}
	in.ackTo = m.SrcInc
	r.ackDue[from], r.pending = true, true
	switch {
	case m.Seq <= in.delivered || m.Seq > in.delivered+resendBatch:
		return // a duplicate, or too far ahead: the sender resends
	case m.Seq > in.delivered+1:
		if in.ahead == nil {
			in.ahead = map[uint64]*Msg{}
		}
		in.ahead[m.Seq] = m // after a loss or a reordering
		return
	}
	in.delivered = m.Seq
	deliver(m)
	for {
		p, ok := in.ahead[in.delivered+1]
		if !ok {
			return
		}
		delete(in.ahead, in.delivered+1)
		in.delivered++
		deliver(p)
	}
}

// acked handles an acknowledgement of this node's stream to from.
func (r *relay) acked(from node.ID, m *Msg) {
	if m.DstInc != r.inc {
		return // for an earlier incarnation of this node
	}
	o := &r.out[from]
	switch {
	case m.SrcInc < o.peerInc:
		return // from an earlier incarnation of the peer
	case m.SrcInc > o.peerInc:
		// The peer restarted, or this is the first word from it: what it
		// acknowledged belonged to another incarnation. Number what is left
		// afresh for this one and send it again at the next tick.
		o.peerInc = m.SrcInc
		for i := range o.unacked {
			o.unacked[i].seq, o.unacked[i].sentAt = uint64(i+1), 0
		}
		o.nextSeq = uint64(len(o.unacked))
		return
	}
	k := 0
	for k < len(o.unacked) && o.unacked[k].seq <= m.Seq {
		k++
	}
	clear(o.unacked[:k])
	o.unacked = append(o.unacked[:0], o.unacked[k:]...)
}

// flush returns the acks due, one per peer, in peer order.
func (r *relay) flush(emit func(to node.ID, m *Msg)) {
	if !r.pending {
		return
	}
	r.pending = false
	for id, due := range r.ackDue {
		if !due {
			continue
		}
		r.ackDue[id] = false
		in := &r.in[id]
		var seq uint64
		if in.srcInc == in.ackTo {
			seq = in.delivered
		}
		emit(node.ID(id), &Msg{Kind: RelayAck, Term: r.term, SrcInc: r.inc, DstInc: in.ackTo, Seq: seq})
	}
}

// resend sends again the payloads, among the first resendBatch a stream
// holds, that were last sent more than after ago (or never to the
// receiver's current incarnation).
func (r *relay) resend(now, after node.Time, emit func(to node.ID, m *Msg)) {
	for id := range r.out {
		o := &r.out[id]
		for i := range o.unacked[:min(len(o.unacked), resendBatch)] {
			if p := &o.unacked[i]; p.sentAt == 0 || now-p.sentAt >= after {
				p.sentAt = now
				emit(node.ID(id), r.data(o, *p))
			}
		}
	}
}

// relayed is one delivered payload, for the server.
func relayed(from node.ID, payload any) quorum.Relay {
	return quorum.Relay{From: from, Payload: payload}
}
