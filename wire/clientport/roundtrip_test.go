package clientport

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"zoosim/internal/frame"
	"zoosim/model"
	"zoosim/wire"
	"zoosim/wire/jute"
)

// Generators of canonical wire values: the fields each opcode's jute
// records carry, and nothing else (a field the record does not carry
// cannot come back).

func genPath() *rapid.Generator[string] {
	return rapid.OneOf(rapid.Just("/"), rapid.StringMatching(`/[a-z0-9]{1,6}(/[a-z]{1,3}){0,2}`), rapid.String())
}

func genData() *rapid.Generator[[]byte] {
	return rapid.OneOf(rapid.Just([]byte(nil)), rapid.Just([]byte{}), rapid.SliceOfN(rapid.Byte(), 1, 64))
}

func genStrings() *rapid.Generator[[]string] {
	return rapid.Custom(func(t *rapid.T) []string {
		s := rapid.SliceOfN(genPath(), 0, 4).Draw(t, "strings")
		if len(s) == 0 {
			return nil
		}
		return s
	})
}

func genACL() *rapid.Generator[[]model.ACL] {
	return rapid.Custom(func(t *rapid.T) []model.ACL {
		n := rapid.IntRange(0, 3).Draw(t, "acl")
		if n == 0 {
			return nil
		}
		out := make([]model.ACL, n)
		for i := range out {
			out[i] = model.ACL{Perms: rapid.Int32().Draw(t, "perms"), Scheme: rapid.SampledFrom([]string{"world", "digest", "ip", ""}).Draw(t, "scheme"),
				ID: rapid.String().Draw(t, "id")}
		}
		return out
	})
}

func genStat() *rapid.Generator[model.Stat] {
	return rapid.Custom(func(t *rapid.T) model.Stat {
		return model.Stat{
			Czxid: model.Zxid(rapid.Int64().Draw(t, "czxid")), Mzxid: model.Zxid(rapid.Int64().Draw(t, "mzxid")),
			Ctime: rapid.Int64().Draw(t, "ctime"), Mtime: rapid.Int64().Draw(t, "mtime"),
			Version: rapid.Int32().Draw(t, "version"), Cversion: rapid.Int32().Draw(t, "cversion"),
			Aversion: rapid.Int32().Draw(t, "aversion"), EphemeralOwner: rapid.Int64().Draw(t, "owner"),
			DataLength: rapid.Int32().Draw(t, "dataLength"), NumChildren: rapid.Int32().Draw(t, "numChildren"),
			Pzxid: model.Zxid(rapid.Int64().Draw(t, "pzxid")),
		}
	})
}

func genMode() *rapid.Generator[model.CreateMode] {
	return rapid.OneOf(rapid.SampledFrom([]model.CreateMode{0, 1, 2, 3, 4, 5, 6}), rapid.Map(rapid.Int32(), func(v int32) model.CreateMode { return model.CreateMode(v) }))
}

// genMultiOp is an op of a multi: in a multi a create's opcode follows its
// mode, so only TTL modes carry a TTL.
func genMultiOp() *rapid.Generator[model.Request] {
	return rapid.Custom(func(t *rapid.T) model.Request {
		switch rapid.IntRange(0, 3).Draw(t, "kind") {
		case 0:
			c := model.Create{Path: genPath().Draw(t, "path"), Data: genData().Draw(t, "data"), ACL: genACL().Draw(t, "acl"), Mode: genMode().Draw(t, "mode")}
			if c.Mode.IsTTL() {
				c.TTL = rapid.Int64().Draw(t, "ttl")
			}
			return c
		case 1:
			return model.Delete{Path: genPath().Draw(t, "path"), Version: rapid.Int32().Draw(t, "version")}
		case 2:
			return model.SetData{Path: genPath().Draw(t, "path"), Data: genData().Draw(t, "data"), Version: rapid.Int32().Draw(t, "version")}
		default:
			return model.Check{Path: genPath().Draw(t, "path"), Version: rapid.Int32().Draw(t, "version")}
		}
	})
}

// requestOps are the opcodes a client sends with a request record.
var requestOps = []model.OpCode{
	model.OpCreate, model.OpCreate2, model.OpCreateContainer, model.OpCreateTTL, model.OpDelete, model.OpExists,
	model.OpGetData, model.OpSetData, model.OpGetACL, model.OpSetACL, model.OpGetChildren, model.OpSync,
	model.OpGetChildren2, model.OpCheck, model.OpMulti, model.OpCheckWatches, model.OpRemoveWatches,
	model.OpMultiRead, model.OpAuth, model.OpSetWatches, model.OpGetEphemerals, model.OpGetAllChildrenNumber,
	model.OpSetWatches2, model.OpAddWatch, model.OpCloseSession, model.OpWhoAmI,
}

func genXid() *rapid.Generator[int32] {
	// -1 and -2 are the notification's and the ping's.
	return rapid.OneOf(rapid.Int32Range(1, 1<<31-1), rapid.SampledFrom([]int32{0, wire.XidAuth, wire.XidSetWatches}))
}

func genRequest(op model.OpCode) *rapid.Generator[*wire.Request] {
	return rapid.Custom(func(t *rapid.T) *wire.Request {
		req := &wire.Request{Xid: genXid().Draw(t, "xid"), Op: op}
		path := genPath().Draw(t, "path")
		switch op {
		case model.OpCreate, model.OpCreate2, model.OpCreateContainer, model.OpCreateTTL:
			c := model.Create{Path: path, Data: genData().Draw(t, "data"), ACL: genACL().Draw(t, "acl"), Mode: genMode().Draw(t, "mode")}
			if op == model.OpCreateTTL {
				c.TTL = rapid.Int64().Draw(t, "ttl")
			}
			req.Path, req.Write = path, c
		case model.OpDelete:
			req.Path, req.Write = path, model.Delete{Path: path, Version: rapid.Int32().Draw(t, "version")}
		case model.OpSetData:
			req.Path, req.Write = path, model.SetData{Path: path, Data: genData().Draw(t, "data"), Version: rapid.Int32().Draw(t, "version")}
		case model.OpCheck:
			req.Path, req.Write = path, model.Check{Path: path, Version: rapid.Int32().Draw(t, "version")}
		case model.OpSetACL:
			req.Path, req.Write = path, model.SetACL{Path: path, ACL: genACL().Draw(t, "acl"), Version: rapid.Int32().Draw(t, "version")}
		case model.OpExists, model.OpGetData, model.OpGetChildren, model.OpGetChildren2:
			req.Path, req.Watch = path, rapid.Bool().Draw(t, "watch")
		case model.OpGetACL, model.OpSync, model.OpGetAllChildrenNumber, model.OpGetEphemerals:
			req.Path = path
		case model.OpCheckWatches, model.OpRemoveWatches, model.OpAddWatch:
			req.Path, req.Mode = path, rapid.Int32().Draw(t, "mode")
		case model.OpMulti:
			var m model.Multi
			if ops := rapid.SliceOfN(genMultiOp(), 0, 5).Draw(t, "ops"); len(ops) > 0 {
				m.Ops = ops
			}
			req.Write = m
		case model.OpMultiRead:
			n := rapid.IntRange(0, 4).Draw(t, "reads")
			for range n {
				req.Reads = append(req.Reads, wire.ReadOp{Op: rapid.SampledFrom([]model.OpCode{model.OpGetData, model.OpGetChildren}).Draw(t, "op"),
					Path: genPath().Draw(t, "path"), Watch: rapid.Bool().Draw(t, "watch")})
			}
		case model.OpSetWatches, model.OpSetWatches2:
			w := &wire.SetWatches{RelativeZxid: model.Zxid(rapid.Int64().Draw(t, "zxid")), Data: genStrings().Draw(t, "data"),
				Exist: genStrings().Draw(t, "exist"), Child: genStrings().Draw(t, "child")}
			if op == model.OpSetWatches2 {
				w.Persistent, w.PersistentRecursive = genStrings().Draw(t, "persistent"), genStrings().Draw(t, "recursive")
			}
			req.SetWatches = w
		case model.OpAuth:
			req.Auth = &wire.Auth{Type: rapid.Int32().Draw(t, "type"), Scheme: rapid.String().Draw(t, "scheme"), Auth: genData().Draw(t, "auth")}
		case model.OpCloseSession:
			req.Write = model.CloseSession{}
		}
		return req
	})
}

func genErr() *rapid.Generator[model.Err] {
	return rapid.SampledFrom([]model.Err{model.ErrNoNode, model.ErrBadVersion, model.ErrNodeExists, model.ErrNotEmpty,
		model.ErrRuntimeInconsistency, model.ErrMarshallingError, model.ErrUnimplemented, model.ErrNoAuth})
}

func genOpResult() *rapid.Generator[wire.OpResult] {
	return rapid.Custom(func(t *rapid.T) wire.OpResult {
		switch rapid.IntRange(0, 5).Draw(t, "kind") {
		case 0:
			return wire.OpResult{Op: model.OpCreate, Path: genPath().Draw(t, "path")}
		case 1:
			return wire.OpResult{Op: model.OpCreate2, Path: genPath().Draw(t, "path"), Stat: genStat().Draw(t, "stat")}
		case 2:
			return wire.OpResult{Op: model.OpDelete}
		case 3:
			return wire.OpResult{Op: model.OpCheck}
		case 4:
			return wire.OpResult{Op: model.OpSetData, Stat: genStat().Draw(t, "stat")}
		default:
			return wire.OpResult{Op: model.OpError, Err: rapid.SampledFrom([]model.Err{0, model.ErrNoNode, model.ErrRuntimeInconsistency}).Draw(t, "err")}
		}
	})
}

// genReply is a reply to req as the server builds it.
func genReply(req *wire.Request) *rapid.Generator[*wire.Reply] {
	return rapid.Custom(func(t *rapid.T) *wire.Reply {
		rp := &wire.Reply{Xid: req.Xid, Zxid: model.Zxid(rapid.Int64().Draw(t, "zxid"))}
		if req.Op == model.OpMulti {
			if rapid.Bool().Draw(t, "refused") {
				rp.Err = genErr().Draw(t, "err")
				return rp
			}
			if res := rapid.SliceOfN(genOpResult(), 0, 5).Draw(t, "results"); len(res) > 0 {
				rp.Multi = res
			}
			for _, r := range rp.Multi {
				if rp.Err == model.ErrOK {
					rp.Err = r.Err
				}
			}
			return rp
		}
		if rapid.IntRange(0, 3).Draw(t, "failed") == 0 {
			rp.Err = genErr().Draw(t, "err")
			return rp
		}
		switch req.Op {
		case model.OpCreate, model.OpSync:
			rp.Path = genPath().Draw(t, "path")
		case model.OpCreate2, model.OpCreateContainer, model.OpCreateTTL:
			rp.Path, rp.Stat = genPath().Draw(t, "path"), genStat().Draw(t, "stat")
		case model.OpSetData, model.OpSetACL, model.OpCheck, model.OpExists:
			rp.Stat = genStat().Draw(t, "stat")
		case model.OpGetData:
			rp.Data, rp.Stat = genData().Draw(t, "data"), genStat().Draw(t, "stat")
		case model.OpGetACL:
			rp.ACL, rp.Stat = genACL().Draw(t, "acl"), genStat().Draw(t, "stat")
		case model.OpGetChildren, model.OpGetEphemerals:
			rp.Children = genStrings().Draw(t, "children")
		case model.OpGetChildren2:
			rp.Children, rp.Stat = genStrings().Draw(t, "children"), genStat().Draw(t, "stat")
		case model.OpGetAllChildrenNumber:
			rp.Number = rapid.Int32().Draw(t, "number")
		case model.OpWhoAmI:
			for range rapid.IntRange(0, 3).Draw(t, "clients") {
				rp.Clients = append(rp.Clients, wire.ClientInfo{Scheme: rapid.String().Draw(t, "scheme"), User: rapid.String().Draw(t, "user")})
			}
		case model.OpMultiRead:
			for range rapid.IntRange(0, 4).Draw(t, "reads") {
				switch rapid.IntRange(0, 2).Draw(t, "kind") {
				case 0:
					rp.Reads = append(rp.Reads, wire.ReadResult{Op: model.OpGetData, Data: genData().Draw(t, "data"), Stat: genStat().Draw(t, "stat")})
				case 1:
					rp.Reads = append(rp.Reads, wire.ReadResult{Op: model.OpGetChildren, Children: genStrings().Draw(t, "children")})
				default:
					rp.Reads = append(rp.Reads, wire.ReadResult{Op: model.OpError, Err: genErr().Draw(t, "err")})
				}
			}
		}
		return rp
	})
}

// unframe strips the length prefix, checking it.
func unframe(t require.TestingT, b []byte) []byte {
	n, err := frame.Length(b, 1<<31-1)
	require.NoError(t, err)
	require.Equal(t, len(b)-frame.HeaderLen, n, "the length prefix covers the frame")
	return b[frame.HeaderLen:]
}

// A whole connection: zoosim's client encodes, the server's codec decodes
// exactly what was sent; the server encodes, the client's codec decodes
// exactly what was sent; connection framing (Header) is numbered in order.
func TestClientPort_EveryMessageRoundTripsBetweenTheTwoSides(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nonce := rapid.Uint64Range(1, 1<<64-1).Draw(t, "nonce")
		cc, sc := NewClientConn(nonce), NewServerConn(nonce)
		var up, down uint64 // sequence numbers per direction

		connect := &wire.Connect{ProtocolVersion: rapid.Int32().Draw(t, "pv"), LastZxidSeen: model.Zxid(rapid.Int64().Draw(t, "lastZxid")),
			TimeoutMs: rapid.Int32().Draw(t, "timeout"), SessionID: rapid.Int64().Draw(t, "session"), Passwd: genData().Draw(t, "passwd"),
			ReadOnly: rapid.Bool().Draw(t, "ro")}
		b, err := cc.Append(nil, connect)
		require.NoError(t, err)
		got, err := sc.Decode(unframe(t, b))
		require.NoError(t, err)
		up++
		connect.Header = wire.Header{Conn: nonce, Seq: up}
		require.Equal(t, connect, got)

		connected := &wire.Connected{ProtocolVersion: rapid.Int32().Draw(t, "pv2"), TimeoutMs: rapid.Int32().Draw(t, "negotiated"),
			SessionID: rapid.Int64().Draw(t, "sid"), Passwd: genData().Draw(t, "passwd2"), ReadOnly: rapid.Bool().Draw(t, "ro2")}
		b, err = sc.Append(nil, connected)
		require.NoError(t, err)
		got, err = cc.Decode(unframe(t, b))
		require.NoError(t, err)
		down++
		connected.Header = wire.Header{Conn: nonce, Seq: down}
		require.Equal(t, connected, got)

		var inFlight []*wire.Request
		for range rapid.IntRange(1, 30).Draw(t, "steps") {
			switch rapid.IntRange(0, 5).Draw(t, "step") {
			case 0, 1: // a request
				req := genRequest(rapid.SampledFrom(requestOps).Draw(t, "op")).Draw(t, "request")
				b, err := cc.Append(nil, req)
				require.NoError(t, err)
				got, err := sc.Decode(unframe(t, b))
				require.NoError(t, err)
				up++
				req.Header = wire.Header{Conn: nonce, Seq: up}
				require.Equal(t, req, got)
				inFlight = append(inFlight, req)
			case 2, 3: // the reply to the oldest request
				if len(inFlight) == 0 {
					continue
				}
				rp := genReply(inFlight[0]).Draw(t, "reply")
				inFlight = inFlight[1:]
				b, err := sc.Append(nil, rp)
				require.NoError(t, err)
				got, err := cc.Decode(unframe(t, b))
				require.NoError(t, err)
				down++
				rp.Header = wire.Header{Conn: nonce, Seq: down}
				require.Equal(t, rp, got)
			case 4: // a watch notification
				ev := &wire.Event{Type: model.EventType(rapid.Int32().Draw(t, "type")), State: wire.KeeperState(rapid.Int32().Draw(t, "state")),
					Path: genPath().Draw(t, "path"), Zxid: model.Zxid(rapid.Int64().Draw(t, "zxid"))}
				b, err := sc.Append(nil, ev)
				require.NoError(t, err)
				got, err := cc.Decode(unframe(t, b))
				require.NoError(t, err)
				down++
				ev.Header = wire.Header{Conn: nonce, Seq: down}
				require.Equal(t, ev, got)
			case 5: // a ping and its answer
				b, err := cc.Append(nil, &wire.Ping{})
				require.NoError(t, err)
				got, err := sc.Decode(unframe(t, b))
				require.NoError(t, err)
				up++
				require.Equal(t, &wire.Ping{Header: wire.Header{Conn: nonce, Seq: up}}, got)
				pong := &wire.Pong{Zxid: model.Zxid(rapid.Int64().Draw(t, "zxid"))}
				b, err = sc.Append(nil, pong)
				require.NoError(t, err)
				got, err = cc.Decode(unframe(t, b))
				require.NoError(t, err)
				down++
				pong.Header = wire.Header{Conn: nonce, Seq: down}
				require.Equal(t, pong, got)
			}
			require.Equal(t, len(inFlight), sc.Outstanding())
			require.Equal(t, len(inFlight), cc.Outstanding())
		}
	})
}

// The mapping is a fixed point after one trip for any value the encoder
// accepts, canonical or not: what comes back encodes to the same bytes.
func TestClientPort_DecodedRequestsReencodeToTheSameBytes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		req := genRequest(rapid.SampledFrom(requestOps).Draw(t, "op")).Draw(t, "request")
		// Non-canonical extras the records do not carry.
		if rapid.Bool().Draw(t, "extras") {
			req.Mode, req.Watch = rapid.Int32().Draw(t, "mode"), rapid.Bool().Draw(t, "watch")
		}
		cc := NewClientConn(1)
		b, err := cc.Append(nil, req)
		require.NoError(t, err)
		sc := NewServerConn(1)
		sc.connected = true
		got, err := sc.Decode(unframe(t, b))
		require.NoError(t, err)
		b2, err := NewClientConn(1).Append(nil, got)
		require.NoError(t, err)
		require.Equal(t, b, b2)
	})
}

func TestClientPort_MultiReplyHeaderIsOKAndTheClientSeesTheFirstFailure(t *testing.T) {
	sc := NewServerConn(1)
	sc.connected = true
	require.NoError(t, sc.pending.push(5, model.OpMulti))
	rp := &wire.Reply{Xid: 5, Zxid: 9, Err: model.ErrNoNode, Multi: []wire.OpResult{
		{Op: model.OpError, Err: 0}, {Op: model.OpError, Err: model.ErrNoNode}, {Op: model.OpError, Err: model.ErrRuntimeInconsistency}}}
	b, err := sc.Append(nil, rp)
	require.NoError(t, err)
	var h jute.ReplyHeader
	r := jute.NewReader(unframe(t, b))
	h.Decode(r)
	require.Equal(t, jute.ReplyHeader{Xid: 5, Zxid: 9, Err: 0}, h, "FinalRequestProcessor leaves err OK for a multi that ran")

	cc := NewClientConn(1)
	cc.connected = true
	require.NoError(t, cc.pending.push(5, model.OpMulti))
	got, err := cc.Decode(unframe(t, b))
	require.NoError(t, err)
	rp.Header = wire.Header{Conn: 1, Seq: 1}
	require.Equal(t, rp, got)
}

func TestClientPort_ContainerAndTTLCreatesInAMultiReportCreate2(t *testing.T) {
	sc := NewServerConn(1)
	sc.connected = true
	require.NoError(t, sc.pending.push(1, model.OpMulti))
	st := model.Stat{Czxid: 4, Mzxid: 4, Pzxid: 4}
	b, err := sc.Append(nil, &wire.Reply{Xid: 1, Multi: []wire.OpResult{
		{Op: model.OpCreateContainer, Path: "/c", Stat: st}, {Op: model.OpCreateTTL, Path: "/t", Stat: st}, {Op: model.OpCreate, Path: "/p", Stat: st}}})
	require.NoError(t, err)
	r := jute.NewReader(unframe(t, b))
	var h jute.ReplyHeader
	h.Decode(r)
	var m jute.MultiResponse
	m.Decode(r)
	require.NoError(t, r.Err())
	js := statToJute(&st)
	require.Equal(t, []jute.MultiResult{{Type: jute.OpCreate2, Path: "/c", Stat: js}, {Type: jute.OpCreate2, Path: "/t", Stat: js},
		{Type: jute.OpCreate, Path: "/p"}}, m.Results, "a plain create's result has no stat")
}

func TestClientPort_ConnectResponseEchoesTheReadOnlyFlagOnlyToNewClients(t *testing.T) {
	for _, old := range []bool{false, true} {
		sc := NewServerConn(1)
		req := (&jute.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16), OldClient: old}).Append(nil)
		_, err := sc.Decode(req)
		require.NoError(t, err)
		b, err := sc.Append(nil, &wire.Connected{TimeoutMs: 30000, SessionID: 7, Passwd: make([]byte, 16)})
		require.NoError(t, err)
		want := 4 + 4 + 8 + 4 + 16 + 1
		if old {
			want--
		}
		require.Len(t, unframe(t, b), want, "old client %v", old)
	}
}
