package raft

import (
	"fmt"
	"strings"

	etcdraft "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Msg is every message of the engine: a raft protocol message, or a
// message of the relay channel that carries the server's own payloads
// between a leader and its followers (raft has no such channel; see
// relay.go).
type Msg struct {
	// Raft is a raft message; nil for a relay message.
	Raft *pb.Message

	// Relay channel. Kind is RelayData (Payload with sequence number Seq)
	// or RelayAck (every payload up to Seq delivered). A stream is one
	// sender incarnation talking to one receiver incarnation in one term.
	Kind           RelayKind
	Term           uint64
	SrcInc, DstInc uint64 // incarnations: the sender's and the one it addresses (0: not known yet)
	Seq            uint64
	// Applied is the raft index the sender had applied when it sent the
	// payload: the receiver hands the payload over once it has too.
	Applied uint64
	Payload any
}

// RelayKind says what a relay message is.
type RelayKind uint8

const (
	// RelayData carries one payload.
	RelayData RelayKind = iota + 1
	// RelayAck acknowledges a stream up to Seq, and tells the sender the
	// receiver's incarnation.
	RelayAck
)

// String renders the message for readable traces.
func (m *Msg) String() string {
	if m.Raft != nil {
		return etcdraft.DescribeMessage(m.Raft, nil)
	}
	if m.Kind == RelayAck {
		return fmt.Sprintf("relay-ack{term=%d inc=%d->%d seq=%d}", m.Term, m.SrcInc, m.DstInc, m.Seq)
	}
	return fmt.Sprintf("relay{term=%d inc=%d->%d seq=%d %v}", m.Term, m.SrcInc, m.DstInc, m.Seq, m.Payload)
}

// TraceHash folds the message into the simulator's trace hash. It reads
// fields through the generated getters and allocates nothing.
func (m *Msg) TraceHash() uint64 {
	const prime = 0x100000001b3
	if r := m.Raft; r != nil {
		h := uint64(r.GetType())*0x9e3779b97f4a7c15 ^ r.GetTerm()
		h = h*prime ^ r.GetLogTerm()
		h = h*prime ^ r.GetIndex()
		h = h*prime ^ r.GetCommit()
		h = h*prime ^ uint64(len(r.GetEntries()))<<1
		if r.GetReject() {
			h ^= 1
		}
		h = h*prime ^ r.GetRejectHint()
		if s := r.GetSnapshot(); s != nil {
			h = h*prime ^ s.GetMetadata().GetIndex()
		}
		return h
	}
	h := uint64(m.Kind)*0x9e3779b97f4a7c15 ^ m.Term
	h = h*prime ^ m.SrcInc<<32 ^ m.DstInc
	h = h*prime ^ m.Seq ^ m.Applied<<24
	if th, ok := m.Payload.(interface{ TraceHash() uint64 }); ok {
		h = h*prime ^ th.TraceHash()
	}
	return h
}

// msgNames are raft's message types as crash points and traces name them:
// "app", "appresp", "vote", "prevoteresp", "snap", ...
var msgNames = func() []string {
	var out []string
	for t, name := range pb.MessageType_name {
		for int(t) >= len(out) {
			out = append(out, "")
		}
		out[t] = strings.ToLower(strings.TrimPrefix(name, "Msg"))
	}
	return out
}()

// MsgName names the message kind (node.Named): raft's type without its
// "Msg", or "relay" and "relay-ack".
func (m *Msg) MsgName() string {
	switch {
	case m.Raft != nil:
		if t := int(m.Raft.GetType()); t >= 0 && t < len(msgNames) && msgNames[t] != "" {
			return msgNames[t]
		}
		return "unknown"
	case m.Kind == RelayAck:
		return "relay-ack"
	}
	return "relay"
}

// CrashMessages are the message names worth crashing a server around: the
// steps of an election, replication and its acks, snapshots, and read
// confirmation.
var CrashMessages = []string{"prevote", "prevoteresp", "vote", "voteresp", "app", "appresp", "snap",
	"heartbeat", "heartbeatresp", "readindex", "readindexresp"}
