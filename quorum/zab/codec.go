package zab

import (
	"fmt"
	"reflect"

	"zoosim/model"
	"zoosim/node/codec"
	"zoosim/quorum"
)

// TagMsg is *Msg's tag in the peer codec registry.
const TagMsg = codec.ZabTags + 1

// RegisterCodecs registers the peer codec of every message Zab sends
// (there is one: *Msg). A relay's payload is encoded by the codec the
// registry has for its type, so register the server's codecs too.
func RegisterCodecs(r *codec.Registry) error {
	return r.Register(codec.Codec{
		Tag: TagMsg, Name: "zab.Msg", Version: 1, Type: reflect.TypeFor[*Msg](),
		Append: func(w *codec.Writer, body any) { appendMsg(w, body.(*Msg)) },
		Decode: func(r *codec.Reader, _ uint8) any { return decodeMsg(r) },
	})
}

// Msg v1 is its type, a bitmap of the fields that are set (not zero), and
// those fields in bit order, so that an ack costs a few bytes and a sync
// carries its entries and snapshot; booleans live in the bitmap alone.
const (
	fConn = 1 << iota
	fSeq
	fVoteLeader
	fVoteZxid
	fVoteEpoch
	fRound
	fState
	fNewLeader
	fAbstain
	fAcceptedEpoch
	fCurrentEpoch
	fEpoch
	fZxid
	fApplied
	fData // Data != nil
	fPayload
	fMode
	fSnap    // Snap != nil
	fEntries // Entries != nil
	fCommit
	fNewEpoch
	fAll = fNewEpoch<<1 - 1
)

// entryMinSize is the smallest encoding of an Entry: a zxid and a length.
const entryMinSize = 12

func appendMsg(w *codec.Writer, m *Msg) {
	var bits uint32
	set := func(b uint32, on bool) {
		if on {
			bits |= b
		}
	}
	set(fConn, m.Conn != 0)
	set(fSeq, m.Seq != 0)
	set(fVoteLeader, m.Vote.Leader != 0)
	set(fVoteZxid, m.Vote.Zxid != 0)
	set(fVoteEpoch, m.Vote.Epoch != 0)
	set(fRound, m.Round != 0)
	set(fState, m.State != 0)
	set(fNewLeader, m.NewLeader)
	set(fAbstain, m.Abstain)
	set(fAcceptedEpoch, m.AcceptedEpoch != 0)
	set(fCurrentEpoch, m.CurrentEpoch != 0)
	set(fEpoch, m.Epoch != 0)
	set(fZxid, m.Zxid != 0)
	set(fApplied, m.Applied != 0)
	set(fData, m.Data != nil)
	set(fPayload, m.Payload != nil)
	set(fMode, m.Mode != 0)
	set(fSnap, m.Snap != nil)
	set(fEntries, m.Entries != nil)
	set(fCommit, m.Commit != 0)
	set(fNewEpoch, m.NewEpoch != 0)

	w.U8(uint8(m.Type))
	w.U32(bits)
	if bits&fConn != 0 {
		w.U64(m.Conn)
	}
	if bits&fSeq != 0 {
		w.U64(m.Seq)
	}
	if bits&fVoteLeader != 0 {
		w.I32(m.Vote.Leader)
	}
	if bits&fVoteZxid != 0 {
		w.I64(int64(m.Vote.Zxid))
	}
	if bits&fVoteEpoch != 0 {
		w.U32(m.Vote.Epoch)
	}
	if bits&fRound != 0 {
		w.U64(m.Round)
	}
	if bits&fState != 0 {
		w.U8(uint8(m.State))
	}
	if bits&fAcceptedEpoch != 0 {
		w.U32(m.AcceptedEpoch)
	}
	if bits&fCurrentEpoch != 0 {
		w.U32(m.CurrentEpoch)
	}
	if bits&fEpoch != 0 {
		w.U32(m.Epoch)
	}
	if bits&fZxid != 0 {
		w.I64(int64(m.Zxid))
	}
	if bits&fApplied != 0 {
		w.I64(int64(m.Applied))
	}
	if bits&fData != 0 {
		w.Bytes(m.Data)
	}
	if bits&fPayload != 0 {
		w.Message(m.Payload)
	}
	if bits&fMode != 0 {
		w.U8(uint8(m.Mode))
	}
	if bits&fSnap != 0 {
		w.I64(int64(m.Snap.Zxid))
		w.Bytes(m.Snap.Data)
	}
	if bits&fEntries != 0 {
		w.Len(len(m.Entries), false)
		for _, e := range m.Entries {
			w.I64(int64(e.Zxid))
			w.Bytes(e.Data)
		}
	}
	if bits&fCommit != 0 {
		w.I64(int64(m.Commit))
	}
	if bits&fNewEpoch != 0 {
		w.U32(m.NewEpoch)
	}
}

func decodeMsg(r *codec.Reader) *Msg {
	m := &Msg{Type: MsgType(r.U8())}
	bits := r.U32()
	if r.Err() != nil {
		return nil
	}
	if m.Type < MsgVote || m.Type > MsgReset {
		r.Fail(fmt.Errorf("message type %d", m.Type))
		return nil
	}
	if bits&^fAll != 0 {
		r.Fail(fmt.Errorf("unknown field bits %#x", bits&^fAll))
		return nil
	}
	if bits&fConn != 0 {
		m.Conn = r.U64()
	}
	if bits&fSeq != 0 {
		m.Seq = r.U64()
	}
	if bits&fVoteLeader != 0 {
		m.Vote.Leader = r.I32()
	}
	if bits&fVoteZxid != 0 {
		m.Vote.Zxid = model.Zxid(r.I64())
	}
	if bits&fVoteEpoch != 0 {
		m.Vote.Epoch = r.U32()
	}
	if bits&fRound != 0 {
		m.Round = r.U64()
	}
	if bits&fState != 0 {
		m.State = quorum.Role(r.U8())
		if m.State < quorum.Looking || m.State > quorum.Leading {
			r.Fail(fmt.Errorf("role %d", m.State))
		}
	}
	m.NewLeader, m.Abstain = bits&fNewLeader != 0, bits&fAbstain != 0
	if bits&fAcceptedEpoch != 0 {
		m.AcceptedEpoch = r.U32()
	}
	if bits&fCurrentEpoch != 0 {
		m.CurrentEpoch = r.U32()
	}
	if bits&fEpoch != 0 {
		m.Epoch = r.U32()
	}
	if bits&fZxid != 0 {
		m.Zxid = model.Zxid(r.I64())
	}
	if bits&fApplied != 0 {
		m.Applied = model.Zxid(r.I64())
	}
	if bits&fData != 0 {
		m.Data = r.Bytes()
		if m.Data == nil && r.Err() == nil {
			r.Fail(fmt.Errorf("data marked set but nil"))
		}
	}
	if bits&fPayload != 0 {
		m.Payload = r.Message()
	}
	if bits&fMode != 0 {
		m.Mode = SyncMode(r.U8())
		if m.Mode < SyncDiff || m.Mode > SyncSnap {
			r.Fail(fmt.Errorf("sync mode %d", m.Mode))
		}
	}
	if bits&fSnap != 0 {
		m.Snap = &quorum.Snapshot{Zxid: model.Zxid(r.I64()), Data: r.Bytes()}
	}
	if bits&fEntries != 0 {
		n, isNil := r.Len(entryMinSize)
		if isNil {
			r.Fail(fmt.Errorf("entries marked set but nil"))
		}
		m.Entries = make([]quorum.Entry, n)
		for i := range m.Entries {
			m.Entries[i] = entry(model.Zxid(r.I64()), r.Bytes())
		}
	}
	if bits&fCommit != 0 {
		m.Commit = model.Zxid(r.I64())
	}
	if bits&fNewEpoch != 0 {
		m.NewEpoch = r.U32()
	}
	if r.Err() != nil {
		return nil
	}
	return m
}
