package clientport

import (
	"testing"

	"zoosim/internal/frame"
	"zoosim/model"
	"zoosim/wire"
)

// The hot path of a real server: a setData request in, a getData reply out
// (and the client's mirror of both). The path and sizes are a typical
// configuration node: a 21-byte path and 128 bytes of data.

var (
	benchPath = "/app/config/node-0001"
	benchData = make([]byte, 128)
	benchStat = model.Stat{Czxid: 0x100000001, Mzxid: 0x100000007, Ctime: 1700000000000, Mtime: 1700000000500, Version: 6, DataLength: 128, Pzxid: 0x100000001}
)

func benchSetData() *wire.Request {
	return &wire.Request{Xid: 42, Op: model.OpSetData, Path: benchPath, Write: model.SetData{Path: benchPath, Data: benchData, Version: 5}}
}

func BenchmarkSetDataRequest_Encode(b *testing.B) {
	cc := NewClientConn(1)
	cc.connected = true
	req := benchSetData()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = cc.Append(buf[:0], req); err != nil {
			b.Fatal(err)
		}
		cc.pending.take(req.Xid)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkSetDataRequest_Decode(b *testing.B) {
	cc := NewClientConn(1)
	cc.connected = true
	framed, _ := cc.Append(nil, benchSetData())
	body := framed[frame.HeaderLen:]
	sc := NewServerConn(1)
	sc.connected = true
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := sc.Decode(body); err != nil {
			b.Fatal(err)
		}
		sc.pending.take(42)
	}
}

func benchGetDataReply() *wire.Reply {
	return &wire.Reply{Xid: 43, Zxid: 0x100000009, Data: benchData, Stat: benchStat}
}

func BenchmarkGetDataReply_Encode(b *testing.B) {
	sc := NewServerConn(1)
	sc.connected = true
	rp := benchGetDataReply()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		_ = sc.pending.push(43, model.OpGetData)
		var err error
		if buf, err = sc.Append(buf[:0], rp); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkGetDataReply_Decode(b *testing.B) {
	sc := NewServerConn(1)
	sc.connected = true
	_ = sc.pending.push(43, model.OpGetData)
	framed, _ := sc.Append(nil, benchGetDataReply())
	body := framed[frame.HeaderLen:]
	cc := NewClientConn(1)
	cc.connected = true
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		_ = cc.pending.push(43, model.OpGetData)
		if _, err := cc.Decode(body); err != nil {
			b.Fatal(err)
		}
	}
}
