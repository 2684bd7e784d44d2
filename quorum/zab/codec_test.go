package zab

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"zoosim/model"
	"zoosim/node/codec"
	"zoosim/quorum"
)

// testPayload stands in for the server's relay payloads, so that zab's
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

func genBytes() *rapid.Generator[[]byte] {
	return rapid.OneOf(rapid.Just([]byte(nil)), rapid.Just([]byte{}), rapid.SliceOfN(rapid.Byte(), 1, 32))
}

func genZxid() *rapid.Generator[model.Zxid] {
	return rapid.OneOf(rapid.Just(model.Zxid(0)), rapid.Map(rapid.Int64(), func(v int64) model.Zxid { return model.Zxid(v) }))
}

// genMsg draws any Msg: every field independently, zero or not, so the
// codec is exact for values Zab never builds too.
func genMsg() *rapid.Generator[*Msg] {
	return rapid.Custom(func(t *rapid.T) *Msg {
		u64 := rapid.OneOf(rapid.Just(uint64(0)), rapid.Uint64())
		u32 := rapid.OneOf(rapid.Just(uint32(0)), rapid.Uint32())
		m := &Msg{
			Type: MsgType(rapid.IntRange(int(MsgVote), int(MsgReset)).Draw(t, "type")),
			Conn: u64.Draw(t, "conn"), Seq: u64.Draw(t, "seq"),
			Vote:  Vote{Leader: rapid.OneOf(rapid.Just(int32(0)), rapid.Int32()).Draw(t, "leader"), Zxid: genZxid().Draw(t, "voteZxid"), Epoch: u32.Draw(t, "voteEpoch")},
			Round: u64.Draw(t, "round"), State: quorum.Role(rapid.IntRange(0, 3).Draw(t, "state")),
			NewLeader: rapid.Bool().Draw(t, "newLeader"), Abstain: rapid.Bool().Draw(t, "abstain"),
			AcceptedEpoch: u32.Draw(t, "accepted"), CurrentEpoch: u32.Draw(t, "current"), Epoch: u32.Draw(t, "epoch"),
			Zxid: genZxid().Draw(t, "zxid"), Applied: genZxid().Draw(t, "applied"), Data: genBytes().Draw(t, "data"),
			Mode: SyncMode(rapid.IntRange(0, 3).Draw(t, "mode")), Commit: genZxid().Draw(t, "commit"), NewEpoch: u32.Draw(t, "newEpoch"),
		}
		if rapid.Bool().Draw(t, "payload") {
			m.Payload = &testPayload{N: rapid.Uint64().Draw(t, "n")}
		}
		if rapid.Bool().Draw(t, "snap") {
			m.Snap = &quorum.Snapshot{Zxid: genZxid().Draw(t, "snapZxid"), Data: genBytes().Draw(t, "snapData")}
		}
		if rapid.Bool().Draw(t, "entries") {
			m.Entries = []quorum.Entry{}
			for range rapid.IntRange(0, 4).Draw(t, "n") {
				m.Entries = append(m.Entries, entry(genZxid().Draw(t, "ez"), genBytes().Draw(t, "ed")))
			}
		}
		return m
	})
}

func TestZabCodec_EveryMessageRoundTrips(t *testing.T) {
	reg := testRegistry(t)
	rapid.Check(t, func(t *rapid.T) {
		m := genMsg().Draw(t, "msg")
		b, err := reg.AppendFrame(nil, m)
		require.NoError(t, err)
		got, err := reg.Decode(b[4:])
		require.NoError(t, err)
		require.Equal(t, m, got)
		cut := rapid.IntRange(0, len(b)-5).Draw(t, "cut")
		_, err = reg.Decode(b[4 : 4+cut])
		require.ErrorIs(t, err, codec.ErrMalformed, "a message cut to %d bytes decoded", cut)
	})
}

func TestZabCodec_AnAckIsSmall(t *testing.T) {
	reg := testRegistry(t)
	b, err := reg.Append(nil, &Msg{Type: MsgAck, Conn: 7, Seq: 9, Zxid: model.MakeZxid(3, 4)})
	require.NoError(t, err)
	// tag 2, version 1, type 1, bits 4, conn 8, seq 8, zxid 8
	assert.Len(t, b, 32)
}

func TestZabCodec_RefusesWhatItDoesNotKnow(t *testing.T) {
	reg := testRegistry(t)
	good := mustAppend(t, reg, &Msg{Type: MsgPing, Zxid: 5})
	mutate := func(b []byte, f func(b []byte)) []byte {
		b = append([]byte{}, b...)
		f(b)
		return b
	}
	// A sync with one entry ends: count u32, zxid i64, data length u32.
	sync := mustAppend(t, reg, &Msg{Type: MsgSync, Entries: []quorum.Entry{entry(1, nil)}})
	for name, b := range map[string][]byte{
		"a newer version":        mutate(good, func(b []byte) { b[2] = 2 }),
		"version 0":              mutate(good, func(b []byte) { b[2] = 0 }),
		"an unknown tag":         mutate(good, func(b []byte) { b[1] = 0x7f }),
		"an unknown type":        mutate(good, func(b []byte) { b[3] = 99 }),
		"an unknown field bit":   mutate(good, func(b []byte) { b[4] = 0x80 }),
		"trailing bytes":         append(append([]byte{}, good...), 0),
		"an empty frame":         {},
		"a bad role":             mustAppend(t, reg, &Msg{Type: MsgVote, State: quorum.Role(9)}),
		"a bad sync mode":        mustAppend(t, reg, &Msg{Type: MsgSync, Mode: SyncMode(7)}),
		"a relay cut short":      mustAppend(t, reg, &Msg{Type: MsgRelay, Payload: &testPayload{}})[:12],
		"an entry count too big": mutate(sync, func(b []byte) { b[len(b)-16] = 0x40 }),
	} {
		_, err := reg.Decode(b)
		require.ErrorIs(t, err, codec.ErrMalformed, name)
	}
	_, err := reg.Append(nil, &Msg{Type: MsgRelay, Payload: struct{}{}})
	require.ErrorIs(t, err, codec.ErrUnknown, "a payload no codec handles is refused when encoding")
}

func TestZabCodec_NestingIsBounded(t *testing.T) {
	reg := testRegistry(t)
	m := &Msg{Type: MsgRelay}
	for range codec.MaxDepth {
		m = &Msg{Type: MsgRelay, Payload: m}
	}
	_, err := reg.Append(nil, m)
	require.Error(t, err)
}

func mustAppend(t *testing.T, reg *codec.Registry, m *Msg) []byte {
	t.Helper()
	b, err := reg.Append(nil, m)
	require.NoError(t, err)
	return b
}

// A proposal of a 200-byte entry: the broadcast path of the real driver.
func BenchmarkZabCodec_Proposal(b *testing.B) {
	reg := testRegistry(b)
	m := &Msg{Type: MsgProposal, Conn: 0x1234, Seq: 99, Zxid: model.MakeZxid(3, 1000), Data: make([]byte, 200)}
	buf := make([]byte, 0, 512)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = reg.AppendFrame(buf[:0], m); err != nil {
				b.Fatal(err)
			}
		}
	})
	frame, _ := reg.Append(nil, m)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := reg.Decode(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Only proposals, commits, pings and relays may leave before the sender's
// pending syncs; everything that reports what the sender logged waits.
func TestIndependentOfPendingSync(t *testing.T) {
	early := map[MsgType]bool{MsgProposal: true, MsgCommit: true, MsgPing: true, MsgRelay: true}
	for ty := MsgVote; ty <= MsgReset; ty++ {
		if got := IndependentOfPendingSync(&Msg{Type: ty}); got != early[ty] {
			t.Errorf("%v: IndependentOfPendingSync = %v, want %v", ty, got, early[ty])
		}
	}
	if IndependentOfPendingSync("not a zab message") || IndependentOfPendingSync(nil) {
		t.Error("a body that is not a *Msg must wait")
	}
}
