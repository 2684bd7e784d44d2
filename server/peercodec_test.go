package server

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"zoosim/internal/golden"
	"zoosim/model"
	"zoosim/node"
	"zoosim/node/codec"
	"zoosim/quorum/zab"
	"zoosim/sim"
	"zoosim/wire"
)

// peerRegistry is what the real driver builds: every engine and server
// codec.
func peerRegistry(t require.TestingT) *codec.Registry {
	r := codec.NewRegistry()
	require.NoError(t, zab.RegisterCodecs(r))
	require.NoError(t, RegisterCodecs(r))
	return r
}

func genPeerBytes() *rapid.Generator[[]byte] {
	return rapid.OneOf(rapid.Just([]byte(nil)), rapid.Just([]byte{}), rapid.SliceOfN(rapid.Byte(), 1, 32))
}

func genPeerACL() *rapid.Generator[[]model.ACL] {
	return rapid.Custom(func(t *rapid.T) []model.ACL {
		if rapid.Bool().Draw(t, "nil") {
			return nil
		}
		acl := []model.ACL{}
		for range rapid.IntRange(0, 3).Draw(t, "n") {
			acl = append(acl, model.ACL{Perms: rapid.Int32().Draw(t, "perms"), Scheme: rapid.String().Draw(t, "scheme"), ID: rapid.String().Draw(t, "id")})
		}
		return acl
	})
}

func genModelRequest(depth int) *rapid.Generator[model.Request] {
	return rapid.Custom(func(t *rapid.T) model.Request {
		kinds := 10
		if depth >= 2 {
			kinds = 6 // no deeper multis
		}
		path := rapid.String().Draw(t, "path")
		switch rapid.IntRange(0, kinds-1).Draw(t, "kind") {
		case 0:
			return nil
		case 1:
			return model.Create{Path: path, Data: genPeerBytes().Draw(t, "data"), ACL: genPeerACL().Draw(t, "acl"),
				Mode: model.CreateMode(rapid.Int32().Draw(t, "mode")), TTL: rapid.Int64().Draw(t, "ttl")}
		case 2:
			return model.Delete{Path: path, Version: rapid.Int32().Draw(t, "version")}
		case 3:
			return model.SetData{Path: path, Data: genPeerBytes().Draw(t, "data"), Version: rapid.Int32().Draw(t, "version")}
		case 4:
			return model.Check{Path: path, Version: rapid.Int32().Draw(t, "version")}
		case 5:
			return model.SetACL{Path: path, ACL: genPeerACL().Draw(t, "acl"), Version: rapid.Int32().Draw(t, "version")}
		case 6:
			m := model.Multi{}
			if !rapid.Bool().Draw(t, "nil") {
				m.Ops = rapid.SliceOfN(genModelRequest(depth+1), 0, 4).Draw(t, "ops")
			}
			return m
		case 7:
			q := model.CreateSession{TimeoutMs: rapid.Int32().Draw(t, "timeout")}
			copy(q.Passwd[:], rapid.SliceOfN(rapid.Byte(), model.PasswdLen, model.PasswdLen).Draw(t, "passwd"))
			return q
		case 8:
			return model.CloseSession{}
		default:
			return model.DeleteContainer{Path: path}
		}
	})
}

// genPayload draws one of the server's relay payloads.
func genPayload() *rapid.Generator[any] {
	return rapid.Custom(func(t *rapid.T) any {
		switch rapid.IntRange(0, 5).Draw(t, "payload") {
		case 0:
			f := &Forward{Session: rapid.Int64().Draw(t, "session"), Cxid: rapid.Int32().Draw(t, "cxid"), Req: genModelRequest(0).Draw(t, "req")}
			if !rapid.Bool().Draw(t, "nil auth") {
				f.Auth = rapid.SliceOfN(rapid.Custom(func(t *rapid.T) model.AuthID {
					return model.AuthID{Scheme: rapid.SampledFrom([]string{"digest", "ip", "super", ""}).Draw(t, "scheme"),
						ID: rapid.String().Draw(t, "id")}
				}), 0, 3).Draw(t, "auth")
			}
			return f
		case 1:
			return &SyncRequest{Session: rapid.Int64().Draw(t, "session"), Xid: rapid.Int32().Draw(t, "xid")}
		case 2:
			return &SyncResponse{Session: rapid.Int64().Draw(t, "session"), Xid: rapid.Int32().Draw(t, "xid"), Zxid: model.Zxid(rapid.Int64().Draw(t, "zxid"))}
		case 3:
			tc := &Touch{}
			if !rapid.Bool().Draw(t, "nil") {
				tc.Sessions = rapid.SliceOfN(rapid.Int64(), 0, 6).Draw(t, "sessions")
			}
			return tc
		case 4:
			v := &Revalidate{Session: rapid.Int64().Draw(t, "session"), Conn: rapid.Uint64().Draw(t, "conn")}
			copy(v.Passwd[:], rapid.SliceOfN(rapid.Byte(), model.PasswdLen, model.PasswdLen).Draw(t, "passwd"))
			return v
		default:
			return &RevalidateResponse{Session: rapid.Int64().Draw(t, "session"), Conn: rapid.Uint64().Draw(t, "conn"), TimeoutMs: rapid.Int32().Draw(t, "timeout")}
		}
	})
}

func TestPeerCodec_EveryServerPayloadRoundTrips(t *testing.T) {
	reg := peerRegistry(t)
	rapid.Check(t, func(t *rapid.T) {
		p := genPayload().Draw(t, "payload")
		// Alone and inside the zab relay that carries it.
		for _, body := range []any{p, &zab.Msg{Type: zab.MsgRelay, Conn: 3, Seq: 4, Payload: p}} {
			b, err := reg.AppendFrame(nil, body)
			require.NoError(t, err)
			got, err := reg.Decode(b[4:])
			require.NoError(t, err)
			require.Equal(t, body, got)
			cut := rapid.IntRange(0, len(b)-5).Draw(t, "cut")
			_, err = reg.Decode(b[4 : 4+cut])
			require.ErrorIs(t, err, codec.ErrMalformed)
		}
	})
}

func TestPeerCodec_EveryRegisteredCodecHasItsOwnTagBlock(t *testing.T) {
	for _, c := range peerRegistry(t).Codecs() {
		switch c.Name[:4] {
		case "zab.":
			require.True(t, c.Tag >= codec.ZabTags && c.Tag < codec.ServerTags, c.Name)
		case "serv":
			require.True(t, c.Tag >= codec.ServerTags && c.Tag < codec.RaftTags, c.Name)
		default:
			t.Fatalf("codec %s outside the known blocks", c.Name)
		}
	}
}

func TestPeerCodec_NestedMultisAreBounded(t *testing.T) {
	reg := peerRegistry(t)
	var req model.Request = model.Check{Path: "/a"}
	for range maxRequestDepth + 1 {
		req = model.Multi{Ops: []model.Request{req}}
	}
	_, err := reg.Append(nil, &Forward{Req: req})
	require.Error(t, err)
}

// The peer messages a live ensemble sends decode back to themselves: run
// a 3-server Zab ensemble through writes, a failover and a snapshot sync,
// and put every message through the codec.
func TestPeerCodec_AnEnsemblesTrafficRoundTrips(t *testing.T) {
	reg := peerRegistry(t)
	msgs := ensembleTraffic(t)
	require.NotEmpty(t, msgs)
	kinds := map[string]bool{}
	for _, m := range msgs {
		b, err := reg.Append(nil, m)
		require.NoError(t, err)
		got, err := reg.Decode(b)
		require.NoError(t, err)
		require.Equal(t, m, got)
		if zm, ok := m.(*zab.Msg); ok {
			kinds[zm.Type.String()] = true
		}
	}
	for _, k := range []string{"vote", "followerinfo", "leaderinfo", "ackepoch", "sync", "uptodate", "proposal", "ack", "commit", "relay"} {
		require.True(t, kinds[k], "the traffic has no %s", k)
	}
}

// FuzzPeerDecode: any bytes decode to a message or an error, never a panic;
// a message that decodes encodes again to bytes that decode to it.
func FuzzPeerDecode(f *testing.F) {
	reg := peerRegistry(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := reg.Decode(b)
		if err != nil {
			require.ErrorIs(t, err, codec.ErrMalformed)
			return
		}
		again, err := reg.Append(nil, v)
		require.NoError(t, err)
		v2, err := reg.Decode(again)
		require.NoError(t, err)
		require.Equal(t, v, v2)
	})
}

// ensembleTraffic runs a 3-server ensemble through an election, writes
// and a sync through a follower, a leader crash and the old leader's
// return, and returns every peer message (server to server) it sent.
func ensembleTraffic(t *testing.T) []any {
	e := newEnsemble(t, 7, 3)
	var msgs []any
	e.w.SetTracer(func(ev sim.TraceEvent) {
		if ev.Kind == sim.TraceSend && ev.Node <= 3 && ev.Peer <= 3 {
			msgs = append(msgs, ev.Body)
		}
	})
	c := e.client(100, 4000)
	leader := e.waitServing(5 * node.Second)
	follower := node.ID(1)
	if follower == leader {
		follower = 2
	}
	e.do(100, func(c *rawClient) { c.connect(follower) }, 100*ms)
	require.True(t, c.connected)
	e.do(100, func(c *rawClient) {
		for i := range 5 {
			c.request(&wire.Request{Op: model.OpCreate, Write: model.Create{Path: fmt.Sprintf("/n%d", i), Data: []byte("v"), ACL: model.OpenACLUnsafe}})
		}
		c.request(&wire.Request{Op: model.OpSync, Path: "/"})
		c.request(&wire.Request{Op: model.OpMulti, Write: model.Multi{Ops: []model.Request{model.Check{Path: "/n0", Version: 0}, model.Delete{Path: "/n0", Version: -1}}}})
	}, 500*ms)
	require.True(t, e.w.Crash(leader))
	e.w.RunFor(3 * node.Second)
	require.True(t, e.w.Restart(leader))
	e.waitServing(5 * node.Second)
	return msgs
}

// The seed corpus of FuzzPeerDecode is one message of every kind the
// ensemble's traffic has (and every server payload alone); -update
// rewrites testdata/fuzz/FuzzPeerDecode.
func TestPeerCodec_FuzzSeedCorpusIsCurrent(t *testing.T) {
	reg := peerRegistry(t)
	seen := map[string]bool{}
	var seeds []string
	add := func(kind string, body any) {
		if seen[kind] {
			return
		}
		seen[kind] = true
		b, err := reg.Append(nil, body)
		require.NoError(t, err)
		seeds = append(seeds, golden.Bytes(b))
	}
	for _, m := range ensembleTraffic(t) {
		kind := fmt.Sprintf("%T", m)
		if zm, ok := m.(*zab.Msg); ok {
			kind = zm.Type.String()
			if zm.Payload != nil {
				kind += fmt.Sprintf("/%T", zm.Payload)
			}
		}
		add(kind, m)
	}
	add("revalidate", &Revalidate{Session: 7, Conn: 9, Passwd: [model.PasswdLen]byte{1, 2, 3}})
	add("revalidate-response", &RevalidateResponse{Session: 7, Conn: 9, TimeoutMs: 4000})
	add("forward-every-request", &Forward{Session: 7, Cxid: 3, Req: model.Multi{Ops: []model.Request{
		model.Create{Path: "/a", Data: []byte("x"), ACL: model.OpenACLUnsafe, Mode: model.ModeEphemeralSequential},
		model.Delete{Path: "/a", Version: -1}, model.SetData{Path: "/a", Version: 2}, model.Check{Path: "/a"},
		model.SetACL{Path: "/a", ACL: []model.ACL{}}, model.CreateSession{TimeoutMs: 4000, Passwd: DerivedPasswd(7)}, model.CloseSession{},
		model.DeleteContainer{Path: "/c"}, nil}},
		Auth: []model.AuthID{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: model.DigestID([]byte("u:p"))}}})
	golden.CheckCorpus(t, "FuzzPeerDecode", seeds)
}

// A Forward of the first layout (no identities) still decodes, as a
// world:anyone requester's.
func TestPeerCodec_ForwardV1DecodesWithoutIdentities(t *testing.T) {
	reg := peerRegistry(t)
	f := &Forward{Session: 7, Cxid: 3, Req: model.SetData{Path: "/a", Data: []byte("x"), Version: -1}}
	b, err := reg.Append(nil, f)
	require.NoError(t, err)
	require.Equal(t, uint8(2), b[2], "tag u16 | version u8")
	v1 := append([]byte(nil), b[:len(b)-4]...) // without the nil identities' length
	v1[2] = 1
	got, err := reg.Decode(v1)
	require.NoError(t, err)
	assert.Equal(t, f, got)

	f.Auth = []model.AuthID{{Scheme: "digest", ID: "u:x"}}
	b, err = reg.Append(nil, f)
	require.NoError(t, err)
	got, err = reg.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, f, got)
}
