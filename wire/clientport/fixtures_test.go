package clientport

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/internal/frame"
	"zoosim/model"
	"zoosim/wire"
)

// Hand-built frames for what go-zookeeper cannot send (create2,
// getChildren, check, multiRead, getAllChildrenNumber, getEphemerals,
// setWatches2, addWatch, removeWatches, checkWatches, ping, a Java
// client's connect), written field by field from zookeeper.jute,
// MultiOperationRecord and MultiResponse. Spaces separate fields.

const fixtureStat = "0000000000000001 0000000000000002 0000000000000003 0000000000000004 00000005 00000006 00000007 0000000000000008 00000009 0000000a 000000000000000b"

var fixtureModelStat = model.Stat{Czxid: 1, Mzxid: 2, Ctime: 3, Mtime: 4, Version: 5, Cversion: 6, Aversion: 7, EphemeralOwner: 8, DataLength: 9, NumChildren: 10, Pzxid: 11}

type fixture struct {
	name       string
	req        any    // what the client sends
	reqHex     string // RequestHeader + record
	reply      any    // what the server answers (nil: nothing)
	replyHex   string // ReplyHeader + record
	noDecodeUp bool   // a ping decodes with a fresh header only
}

var fixtures = []fixture{
	{name: "connect from a Java client (readOnly flag)",
		req:    &wire.Connect{LastZxidSeen: 0x100000005, TimeoutMs: 30000, SessionID: 0x77, Passwd: []byte{1, 2}, ReadOnly: true},
		reqHex: "00000000 0000000100000005 00007530 0000000000000077 00000002 0102 01",
		reply:  &wire.Connected{TimeoutMs: 20000, SessionID: 0x77, Passwd: []byte{1, 2}},
		// protocolVersion, timeOut, sessionId, passwd, readOnly
		replyHex: "00000000 00004e20 0000000000000077 00000002 0102 00"},
	{name: "create2",
		req: &wire.Request{Xid: 7, Op: model.OpCreate2, Path: "/q", Write: model.Create{Path: "/q", Data: []byte("d"),
			ACL: []model.ACL{{Perms: 31, Scheme: "world", ID: "anyone"}}, Mode: model.ModePersistentSequential}},
		reqHex:   "00000007 0000000f 00000002 2f71 00000001 64 00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65 00000002",
		reply:    &wire.Reply{Xid: 7, Zxid: 0x22, Path: "/q0000000003", Stat: fixtureModelStat},
		replyHex: "00000007 0000000000000022 00000000 0000000c 2f7130303030303030303033 " + fixtureStat},
	{name: "getChildren with watch",
		req:      &wire.Request{Xid: 8, Op: model.OpGetChildren, Path: "/a", Watch: true},
		reqHex:   "00000008 00000008 00000002 2f61 01",
		reply:    &wire.Reply{Xid: 8, Zxid: 0x22, Children: []string{"x", "yz"}},
		replyHex: "00000008 0000000000000022 00000000 00000002 00000001 78 00000002 797a"},
	{name: "check answers SetDataResponse",
		req:      &wire.Request{Xid: 9, Op: model.OpCheck, Path: "/a", Write: model.Check{Path: "/a", Version: 4}},
		reqHex:   "00000009 0000000d 00000002 2f61 00000004",
		reply:    &wire.Reply{Xid: 9, Zxid: 0x23, Stat: fixtureModelStat},
		replyHex: "00000009 0000000000000023 00000000 " + fixtureStat},
	{name: "multiRead",
		req: &wire.Request{Xid: 10, Op: model.OpMultiRead, Reads: []wire.ReadOp{{Op: model.OpGetData, Path: "/a"}, {Op: model.OpGetChildren, Path: "/b"}}},
		// MultiHeader{4,false,-1} GetDataRequest MultiHeader{8,false,-1} GetChildrenRequest MultiHeader{-1,true,-1}
		reqHex: "0000000a 00000016 00000004 00 ffffffff 00000002 2f61 00 00000008 00 ffffffff 00000002 2f62 00 ffffffff 01 ffffffff",
		reply: &wire.Reply{Xid: 10, Zxid: 0x23, Reads: []wire.ReadResult{{Op: model.OpGetData, Data: []byte("v"), Stat: fixtureModelStat},
			{Op: model.OpError, Err: model.ErrNoNode}}},
		// MultiHeader{4,false,0} GetDataResponse MultiHeader{-1,false,-101} ErrorResponse{-101} MultiHeader{-1,true,-1}
		replyHex: "0000000a 0000000000000023 00000000 00000004 00 00000000 00000001 76 " + fixtureStat + " ffffffff 00 ffffff9b ffffff9b ffffffff 01 ffffffff"},
	{name: "getAllChildrenNumber",
		req:      &wire.Request{Xid: 11, Op: model.OpGetAllChildrenNumber, Path: "/"},
		reqHex:   "0000000b 00000068 00000001 2f",
		reply:    &wire.Reply{Xid: 11, Zxid: 0x23, Number: 42},
		replyHex: "0000000b 0000000000000023 00000000 0000002a"},
	{name: "getEphemerals",
		req:      &wire.Request{Xid: 12, Op: model.OpGetEphemerals, Path: "/e"},
		reqHex:   "0000000c 00000067 00000002 2f65",
		reply:    &wire.Reply{Xid: 12, Zxid: 0x23, Children: []string{"/e/1"}},
		replyHex: "0000000c 0000000000000023 00000000 00000001 00000004 2f652f31"},
	{name: "setWatches2",
		req: &wire.Request{Xid: wire.XidSetWatches, Op: model.OpSetWatches2, SetWatches: &wire.SetWatches{RelativeZxid: 0x23,
			Data: []string{"/d"}, Child: []string{"/c"}, PersistentRecursive: []string{"/r"}}},
		reqHex:   "fffffff8 00000069 0000000000000023 00000001 00000002 2f64 00000000 00000001 00000002 2f63 00000000 00000001 00000002 2f72",
		reply:    &wire.Reply{Xid: wire.XidSetWatches, Zxid: 0x23},
		replyHex: "fffffff8 0000000000000023 00000000"},
	{name: "addWatch answers ErrorResponse{0}",
		req:      &wire.Request{Xid: 13, Op: model.OpAddWatch, Path: "/p", Mode: 1},
		reqHex:   "0000000d 0000006a 00000002 2f70 00000001",
		reply:    &wire.Reply{Xid: 13, Zxid: 0x23},
		replyHex: "0000000d 0000000000000023 00000000 00000000"},
	{name: "removeWatches NoWatcher",
		req:      &wire.Request{Xid: 14, Op: model.OpRemoveWatches, Path: "/p", Mode: int32(model.WatcherAny)},
		reqHex:   "0000000e 00000012 00000002 2f70 00000003",
		reply:    &wire.Reply{Xid: 14, Zxid: 0x23, Err: model.ErrNoWatcher},
		replyHex: "0000000e 0000000000000023 ffffff87"},
	{name: "checkWatches",
		req:      &wire.Request{Xid: 15, Op: model.OpCheckWatches, Path: "/p", Mode: int32(model.WatcherData)},
		reqHex:   "0000000f 00000011 00000002 2f70 00000002",
		reply:    &wire.Reply{Xid: 15, Zxid: 0x23},
		replyHex: "0000000f 0000000000000023 00000000"},
	{name: "multi refused whole: header error, no body",
		req:      &wire.Request{Xid: 16, Op: model.OpMulti, Write: model.Multi{}},
		reqHex:   "00000010 0000000e ffffffff 01 ffffffff",
		reply:    &wire.Reply{Xid: 16, Zxid: 0x23, Err: model.ErrMarshallingError},
		replyHex: "00000010 0000000000000023 fffffffb"},
	{name: "ping",
		req:      &wire.Ping{},
		reqHex:   "fffffffe 0000000b",
		reply:    &wire.Pong{Zxid: 0x23},
		replyHex: "fffffffe 0000000000000023 00000000"},
	{name: "notification",
		reply:    &wire.Event{Type: model.EventNodeChildrenChanged, State: wire.StateSyncConnected, Path: "/a", Zxid: 0x24},
		replyHex: "ffffffff 0000000000000024 00000000 00000004 00000003 00000002 2f61"},
}

func fixtureBytes(t *testing.T, s string) []byte {
	t.Helper()
	return mustHex(t, strings.ReplaceAll(s, " ", ""))
}

func TestClientPort_HandBuiltFramesFromTheJuteDefinitions(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			cc, sc := NewClientConn(3), NewServerConn(3)
			_, connecting := f.req.(*wire.Connect)
			if !connecting {
				cc.connected, sc.connected = true, true
			}
			if f.req != nil {
				b, err := cc.Append(nil, f.req)
				require.NoError(t, err)
				require.Equal(t, strings.ReplaceAll(f.reqHex, " ", ""), hex.EncodeToString(b[frame.HeaderLen:]), "client encoding")
				got, err := sc.Decode(fixtureBytes(t, f.reqHex))
				require.NoError(t, err)
				setHeader(f.req, wire.Header{Conn: 3, Seq: 1})
				require.Equal(t, f.req, got, "server decoding")
			}
			b, err := sc.Append(nil, f.reply)
			require.NoError(t, err)
			require.Equal(t, strings.ReplaceAll(f.replyHex, " ", ""), hex.EncodeToString(b[frame.HeaderLen:]), "server encoding")
			got, err := cc.Decode(fixtureBytes(t, f.replyHex))
			require.NoError(t, err)
			setHeader(f.reply, wire.Header{Conn: 3, Seq: 1})
			require.Equal(t, f.reply, got, "client decoding")
		})
	}
}

func setHeader(body any, h wire.Header) {
	switch m := body.(type) {
	case *wire.Connect:
		m.Header = h
	case *wire.Connected:
		m.Header = h
	case *wire.Request:
		m.Header = h
	case *wire.Reply:
		m.Header = h
	case *wire.Event:
		m.Header = h
	case *wire.Ping:
		m.Header = h
	case *wire.Pong:
		m.Header = h
	}
}

// Frames a server must refuse, each with the reason it is refused.
func TestClientPort_MalformedFramesAreProtocolErrors(t *testing.T) {
	cases := []struct{ name, hex string }{
		{"a short header", "000000"},
		{"a path longer than the frame", "00000001 00000004 00000100 2f61 00"},
		{"a negative path length", "00000001 00000004 fffffffe 00"},
		{"a buffer longer than the frame", "00000001 00000005 00000002 2f61 7fffffff"},
		{"an ACL count past the end", "00000001 00000001 00000002 2f61 ffffffff 10000000"},
		{"a read in a multi", "00000001 0000000e 00000004 00 ffffffff 00000002 2f61 00 ffffffff 01 ffffffff"},
		{"a write in a multiRead", "00000001 00000016 00000002 00 ffffffff 00000002 2f61 00000001 ffffffff 01 ffffffff"},
		{"a multi with an unknown op", "00000001 0000000e 00000007 00 ffffffff"},
		{"a multi without its closing header", "00000001 0000000e 0000000d 00 ffffffff 00000002 2f61 00000001"},
		{"createSession from a client", "00000001 fffffff6"},
		{"deleteContainer from a client", "00000001 00000014 00000002 2f61"},
	}
	for _, c := range cases {
		sc := NewServerConn(1)
		sc.connected = true
		_, err := sc.Decode(fixtureBytes(t, c.hex))
		require.ErrorIs(t, err, ErrProtocol, c.name)
		require.Zero(t, sc.Outstanding(), c.name)
	}

	sc := NewServerConn(1)
	_, err := sc.Decode(fixtureBytes(t, "00000000 0000000000000000 00007530"))
	require.ErrorIs(t, err, ErrProtocol, "a connect cut short")
}

func TestClientPort_UnknownOpcodesReachTheServerAsBareRequests(t *testing.T) {
	sc := NewServerConn(1)
	sc.connected = true
	for _, op := range []model.OpCode{model.OpReconfig, model.OpWhoAmI, model.OpSASL, 42} {
		got, err := sc.Decode(fixtureBytes(t, "00000005 "+hex.EncodeToString([]byte{0, 0, byte(op >> 8), byte(op)})+" deadbeef"))
		require.NoError(t, err)
		require.Equal(t, &wire.Request{Header: got.(*wire.Request).Header, Xid: 5, Op: op}, got)
		b, err := sc.Append(nil, &wire.Reply{Xid: 5, Zxid: 1, Err: model.ErrUnimplemented})
		require.NoError(t, err)
		require.Equal(t, "00000005"+"0000000000000001"+"fffffffa", hex.EncodeToString(b[frame.HeaderLen:]))
	}
}

func TestClientPort_AReplyToNoRequestIsRefused(t *testing.T) {
	sc := NewServerConn(1)
	sc.connected = true
	_, err := sc.Append(nil, &wire.Reply{Xid: 3})
	require.ErrorIs(t, err, ErrProtocol)
	cc := NewClientConn(1)
	cc.connected = true
	_, err = cc.Decode(fixtureBytes(t, "00000003 0000000000000001 00000000"))
	require.ErrorIs(t, err, ErrProtocol)
	_, err = sc.Append(nil, &wire.Close{Conn: 1})
	require.ErrorIs(t, err, ErrClose)
}

func TestClientPort_AClientFrameOverJuteMaxBufferIsRefused(t *testing.T) {
	cc := NewClientConn(1)
	cc.connected = true
	big := make([]byte, 0xfffff)
	_, err := cc.Append(nil, &wire.Request{Xid: 1, Op: model.OpSetData, Path: "/a", Write: model.SetData{Path: "/a", Data: big}})
	require.ErrorIs(t, err, frame.ErrTooLarge)
	require.Zero(t, cc.Outstanding(), "a refused request is not outstanding")
}
