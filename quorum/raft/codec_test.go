package raft

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"zoosim/node/codec"
)

// testPayload stands in for the server's relay payloads, so that raft's
// tests do not depend on the server.
type testPayload struct{ N uint64 }

func testRegistry(t require.TestingT) *codec.Registry {
	r := codec.NewRegistry()
	require.NoError(t, RegisterCodecs(r))
	require.NoError(t, r.Register(codec.Codec{Tag: 0xff01, Name: "test", Version: 1, Type: reflect.TypeFor[*testPayload](),
		Append: func(w *codec.Writer, b any) { w.U64(b.(*testPayload).N) },
		Decode: func(r *codec.Reader, _ uint8) any { return &testPayload{N: r.U64()} }}))
	return r
}

// genRaft draws a raft message of the kinds the engine sends, with
// entries and a snapshot at times.
func genRaft() *rapid.Generator[*pb.Message] {
	types := []pb.MessageType{pb.MessageType_MsgApp, pb.MessageType_MsgAppResp, pb.MessageType_MsgVote, pb.MessageType_MsgVoteResp,
		pb.MessageType_MsgPreVote, pb.MessageType_MsgPreVoteResp, pb.MessageType_MsgSnap, pb.MessageType_MsgHeartbeat,
		pb.MessageType_MsgHeartbeatResp, pb.MessageType_MsgReadIndex, pb.MessageType_MsgReadIndexResp, pb.MessageType_MsgTimeoutNow}
	return rapid.Custom(func(t *rapid.T) *pb.Message {
		u := func(label string) *uint64 { return proto.Uint64(rapid.Uint64().Draw(t, label)) }
		m := &pb.Message{Type: rapid.SampledFrom(types).Draw(t, "type").Enum(), To: u("to"), From: u("from"), Term: u("term"),
			LogTerm: u("logterm"), Index: u("index"), Commit: u("commit"), Reject: proto.Bool(rapid.Bool().Draw(t, "reject")),
			RejectHint: u("hint")}
		for range rapid.IntRange(0, 3).Draw(t, "entries") {
			m.Entries = append(m.Entries, &pb.Entry{Index: u("ei"), Term: u("et"), Type: pb.EntryType_EntryNormal.Enum(),
				Data: rapid.SliceOfN(rapid.Byte(), 0, 16).Draw(t, "ed")})
		}
		if rapid.Bool().Draw(t, "snap") {
			m.Snapshot = &pb.Snapshot{Data: rapid.SliceOfN(rapid.Byte(), 0, 32).Draw(t, "sd"),
				Metadata: &pb.SnapshotMetadata{Index: u("si"), Term: u("st"), ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}}}
		}
		if rapid.Bool().Draw(t, "ctx") {
			m.Context = rapid.SliceOfN(rapid.Byte(), 1, 8).Draw(t, "context")
		}
		return m
	})
}

func genRelay() *rapid.Generator[*Msg] {
	return rapid.Custom(func(t *rapid.T) *Msg {
		m := &Msg{Kind: RelayAck, Term: rapid.Uint64().Draw(t, "term"), SrcInc: rapid.Uint64().Draw(t, "src"),
			DstInc: rapid.Uint64().Draw(t, "dst"), Seq: rapid.Uint64().Draw(t, "seq"), Applied: rapid.Uint64().Draw(t, "applied")}
		if rapid.Bool().Draw(t, "data") {
			m.Kind, m.Payload = RelayData, &testPayload{N: rapid.Uint64().Draw(t, "n")}
		}
		return m
	})
}

func TestCodec_EveryMessageRoundTripsAndATruncatedOneIsMalformed(t *testing.T) {
	reg := testRegistry(t)
	rapid.Check(t, func(t *rapid.T) {
		var body *Msg
		if rapid.Bool().Draw(t, "raft") {
			body = &Msg{Raft: genRaft().Draw(t, "m")}
		} else {
			body = genRelay().Draw(t, "m")
		}
		b, err := reg.AppendFrame(nil, body)
		require.NoError(t, err)
		got, err := reg.Decode(b[4:])
		require.NoError(t, err)
		gm, ok := got.(*Msg)
		require.True(t, ok, "decoded a %T", got)
		if body.Raft != nil {
			require.True(t, proto.Equal(body.Raft, gm.Raft), "%s\n!=\n%s", body, gm)
		} else {
			require.Equal(t, body, gm)
		}
		cut := rapid.IntRange(0, len(b)-5).Draw(t, "cut")
		_, err = reg.Decode(b[4 : 4+cut])
		require.ErrorIs(t, err, codec.ErrMalformed)
	})
}

func TestCodec_GarbageNeverPanics(t *testing.T) {
	reg := testRegistry(t)
	rapid.Check(t, func(t *rapid.T) {
		b := append([]byte{byte(uint16(TagMsg) >> 8), byte(uint16(TagMsg) & 0xff), 1}, rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "bytes")...)
		_, _ = reg.Decode(b)
	})
}
