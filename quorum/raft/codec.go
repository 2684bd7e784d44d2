package raft

import (
	"fmt"
	"reflect"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"zoosim/node/codec"
)

// TagMsg is *Msg's tag in the peer codec registry.
const TagMsg = codec.RaftTags + 1

// RegisterCodecs registers the peer codec of every message the engine sends
// (there is one: *Msg). A relay's payload is encoded by the codec the
// registry has for its type, so register the server's codecs too.
func RegisterCodecs(r *codec.Registry) error {
	return r.Register(codec.Codec{
		Tag: TagMsg, Name: "raft.Msg", Version: 1, Type: reflect.TypeFor[*Msg](),
		Append: func(w *codec.Writer, body any) { appendMsg(w, body.(*Msg)) },
		Decode: func(r *codec.Reader, _ uint8) any { return decodeMsg(r) },
	})
}

// Msg v1 is a kind byte, then either raft's message in its own protobuf
// encoding (etcd's wire format, deterministic) or the relay fields (term,
// incarnations, sequence number, applied index) and, for data, the nested
// payload.
const (
	kindRaft uint8 = iota
	kindRelayData
	kindRelayAck
)

var marshal = proto.MarshalOptions{Deterministic: true}

func appendMsg(w *codec.Writer, m *Msg) {
	switch {
	case m.Raft != nil:
		w.U8(kindRaft)
		b, err := marshal.Marshal(m.Raft)
		if err != nil {
			w.Fail(fmt.Errorf("raft: encoding %s: %w", m.Raft.GetType(), err))
			return
		}
		w.Bytes(b)
		return
	case m.Kind == RelayData:
		w.U8(kindRelayData)
	case m.Kind == RelayAck:
		w.U8(kindRelayAck)
	default:
		w.Fail(fmt.Errorf("raft: a relay message of kind %d", m.Kind))
		return
	}
	w.U64(m.Term)
	w.U64(m.SrcInc)
	w.U64(m.DstInc)
	w.U64(m.Seq)
	w.U64(m.Applied)
	if m.Kind == RelayData {
		w.Message(m.Payload)
	}
}

func decodeMsg(r *codec.Reader) any {
	m := &Msg{}
	switch k := r.U8(); k {
	case kindRaft:
		b := r.Bytes()
		if r.Err() != nil {
			return nil
		}
		m.Raft = &pb.Message{}
		if err := proto.Unmarshal(b, m.Raft); err != nil {
			r.Fail(fmt.Errorf("raft message: %w", err))
			return nil
		}
		return m
	case kindRelayData:
		m.Kind = RelayData
	case kindRelayAck:
		m.Kind = RelayAck
	default:
		r.Fail(fmt.Errorf("message kind %d", k))
		return nil
	}
	m.Term, m.SrcInc, m.DstInc, m.Seq, m.Applied = r.U64(), r.U64(), r.U64(), r.U64(), r.U64()
	if m.Kind == RelayData {
		m.Payload = r.Message()
	}
	if r.Err() != nil {
		return nil
	}
	return m
}
