package jute

import (
	"encoding/hex"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestJute_PrimitivesAreBigEndianWithMinusOneForNull(t *testing.T) {
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"int", AppendInt(nil, 0x01020304), "01020304"},
		{"int -1", AppendInt(nil, -1), "ffffffff"},
		{"long", AppendLong(nil, 0x0102030405060708), "0102030405060708"},
		{"bool true", AppendBool(nil, true), "01"},
		{"bool false", AppendBool(nil, false), "00"},
		{"null buffer", AppendBuffer(nil, nil), "ffffffff"},
		{"empty buffer", AppendBuffer(nil, []byte{}), "00000000"},
		{"buffer", AppendBuffer(nil, []byte{0xab}), "00000001ab"},
		{"ustring", AppendUString(nil, "/a"), "000000022f61"},
		{"vector", AppendStrings(nil, []string{"x"}), "000000010000000178"},
		{"empty vector", AppendStrings(nil, nil), "00000000"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, hex.EncodeToString(c.got), c.name)
	}
}

func TestJute_ReaderDecodesNullsAndKeepsBuffersApart(t *testing.T) {
	r := NewReader(mustHex(t, "ffffffff"+"00000000"+"ffffffff"+"ffffffff"+"00000000"))
	assert.Nil(t, r.Buffer(), "-1 is a null buffer")
	b := r.Buffer()
	assert.NotNil(t, b, "0 is an empty, non-null buffer")
	assert.Empty(t, b)
	assert.Equal(t, "", r.UString(), "a null ustring reads as empty")
	assert.Nil(t, r.Strings(), "a null vector reads as nil")
	assert.Nil(t, r.Strings(), "an empty vector reads as nil")
	require.NoError(t, r.Err())
	assert.Zero(t, r.Len())
}

func TestJute_BoolIsTrueOnlyForOne(t *testing.T) {
	r := NewReader([]byte{1, 2, 0})
	assert.True(t, r.Bool())
	assert.False(t, r.Bool(), "BinaryInputArchive.readBool is readByte() == 1")
	assert.False(t, r.Bool())
}

func TestJute_LengthsPastTheEndAreRefusedBeforeAllocating(t *testing.T) {
	cases := map[string]func(r *Reader){
		"buffer":  func(r *Reader) { r.Buffer() },
		"ustring": func(r *Reader) { r.UString() },
		"vector":  func(r *Reader) { r.Strings() },
		"acl":     func(r *Reader) { decodeACLs(r) },
	}
	for name, read := range cases {
		for _, prefix := range []string{"7fffffff", "00000100", "fffffffe", "80000000"} {
			b := mustHex(t, prefix+"0000000000")
			bytes := allocatedBytes(func() {
				r := Reader{b: b}
				read(&r)
				require.Error(t, r.Err(), "%s with length %s", name, prefix)
			})
			// Only the error value is allocated, never room for the length.
			assert.Less(t, bytes, uint64(1024), "%s with length %s allocated %d bytes", name, prefix, bytes)
		}
	}
}

// allocatedBytes is the heap allocated by one call of f (averaged over a
// few calls).
func allocatedBytes(f func()) uint64 {
	const runs = 8
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}

func TestJute_ReaderErrorsAreSticky(t *testing.T) {
	r := NewReader([]byte{0, 0, 0})
	assert.Zero(t, r.Int())
	require.ErrorIs(t, r.Err(), ErrShort)
	r.b = []byte{0, 0, 0, 7, 0, 0, 0, 0}
	assert.Zero(t, r.Int(), "reads after an error return zero values")
	require.ErrorIs(t, r.Err(), ErrShort)
}

func TestJute_DecodeRefusesTrailingBytes(t *testing.T) {
	b := (&RequestHeader{Xid: 1, Type: 4}).Append(nil)
	require.NoError(t, Decode(b, &RequestHeader{}))
	require.Error(t, Decode(append(b, 0), &RequestHeader{}))
}

func TestJute_ConnectRequestReadOnlyFlagIsOptional(t *testing.T) {
	full := (&ConnectRequest{LastZxidSeen: 7, TimeOut: 30000, SessionID: 9, Passwd: make([]byte, 16), ReadOnly: true}).Append(nil)
	old := (&ConnectRequest{LastZxidSeen: 7, TimeOut: 30000, SessionID: 9, Passwd: make([]byte, 16), OldClient: true}).Append(nil)
	assert.Len(t, full, 4+8+4+8+4+16+1)
	assert.Len(t, old, len(full)-1)

	var got ConnectRequest
	require.NoError(t, Decode(full, &got))
	assert.True(t, got.ReadOnly)
	assert.False(t, got.OldClient)
	require.NoError(t, Decode(old, &got))
	assert.False(t, got.ReadOnly)
	assert.True(t, got.OldClient)
}

func TestJute_MultiRequestFramingAndMixedKindsRefused(t *testing.T) {
	req := MultiRequest{Ops: []MultiOp{{Type: OpCheck, Path: "/a", Version: 3}}}
	// MultiHeader{13, false, -1} CheckVersionRequest{"/a", 3} MultiHeader{-1, true, -1}
	assert.Equal(t, "0000000d00ffffffff"+"000000022f6100000003"+"ffffffff01ffffffff", hex.EncodeToString(req.Append(nil)))

	mixed := MultiRequest{Ops: []MultiOp{{Type: OpCheck, Path: "/a"}, {Type: OpGetData, Path: "/a"}}}
	var got MultiRequest
	require.ErrorContains(t, Decode(mixed.Append(nil), &got), "mixes read and write")

	bad := append((&MultiHeader{Type: 3}).Append(nil), (&PathWatch{Path: "/a"}).Append(nil)...)
	require.ErrorContains(t, Decode(bad, &got), "invalid type of op 3")
}

func TestJute_MultiResponseHeaderCarriesTheErrorResultsCode(t *testing.T) {
	resp := MultiResponse{Results: []MultiResult{{Type: OpError, Err: -101}, {Type: OpDelete}}}
	// MultiHeader{-1, false, -101} ErrorResponse{-101} MultiHeader{2, false, 0} MultiHeader{-1, true, -1}
	assert.Equal(t, "ffffffff00ffffff9b"+"ffffff9b"+"0000000200"+"00000000"+"ffffffff01ffffffff", hex.EncodeToString(resp.Append(nil)))
}

// Round trips: every record decodes back to what was encoded, consuming
// exactly its bytes.

func genStr() *rapid.Generator[string] {
	return rapid.OneOf(rapid.Just(""), rapid.Just("/"), rapid.StringMatching(`/[a-z0-9]{1,8}(/[a-z]{1,3}){0,2}`), rapid.String())
}

func genBuf() *rapid.Generator[[]byte] {
	return rapid.OneOf(rapid.Just([]byte(nil)), rapid.Just([]byte{}), rapid.SliceOfN(rapid.Byte(), 1, 40))
}

func genStrs() *rapid.Generator[[]string] {
	return rapid.Custom(func(t *rapid.T) []string {
		s := rapid.SliceOfN(genStr(), 0, 5).Draw(t, "strs")
		if len(s) == 0 {
			return nil
		}
		return s
	})
}

func genStat() *rapid.Generator[Stat] {
	return rapid.Custom(func(t *rapid.T) Stat {
		return Stat{
			Czxid: rapid.Int64().Draw(t, "czxid"), Mzxid: rapid.Int64().Draw(t, "mzxid"),
			Ctime: rapid.Int64().Draw(t, "ctime"), Mtime: rapid.Int64().Draw(t, "mtime"),
			Version: rapid.Int32().Draw(t, "version"), Cversion: rapid.Int32().Draw(t, "cversion"),
			Aversion: rapid.Int32().Draw(t, "aversion"), EphemeralOwner: rapid.Int64().Draw(t, "owner"),
			DataLength: rapid.Int32().Draw(t, "dataLength"), NumChildren: rapid.Int32().Draw(t, "numChildren"),
			Pzxid: rapid.Int64().Draw(t, "pzxid"),
		}
	})
}

func genACLs() *rapid.Generator[[]ACL] {
	return rapid.Custom(func(t *rapid.T) []ACL {
		n := rapid.IntRange(0, 3).Draw(t, "acls")
		if n == 0 {
			return nil
		}
		out := make([]ACL, n)
		for i := range out {
			out[i] = ACL{Perms: rapid.Int32().Draw(t, "perms"), ID: Id{Scheme: genStr().Draw(t, "scheme"), ID: genStr().Draw(t, "id")}}
		}
		return out
	})
}

func genMultiOp(read bool) *rapid.Generator[MultiOp] {
	return rapid.Custom(func(t *rapid.T) MultiOp {
		types := []int32{OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL, OpDelete, OpSetData, OpCheck}
		if read {
			types = []int32{OpGetData, OpGetChildren}
		}
		op := MultiOp{Type: rapid.SampledFrom(types).Draw(t, "type"), Path: genStr().Draw(t, "path")}
		switch op.Type {
		case OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL:
			op.Data, op.ACL, op.Flags = genBuf().Draw(t, "data"), genACLs().Draw(t, "acl"), rapid.Int32().Draw(t, "flags")
			if op.Type == OpCreateTTL {
				op.TTL = rapid.Int64().Draw(t, "ttl")
			}
		case OpSetData:
			op.Data, op.Version = genBuf().Draw(t, "data"), rapid.Int32().Draw(t, "version")
		case OpDelete, OpCheck:
			op.Version = rapid.Int32().Draw(t, "version")
		case OpGetData, OpGetChildren:
			op.Watch = rapid.Bool().Draw(t, "watch")
		}
		return op
	})
}

func genMultiResult() *rapid.Generator[MultiResult] {
	return rapid.Custom(func(t *rapid.T) MultiResult {
		res := MultiResult{Type: rapid.SampledFrom([]int32{OpCreate, OpCreate2, OpDelete, OpCheck, OpSetData, OpGetChildren, OpGetData, OpError}).Draw(t, "type")}
		switch res.Type {
		case OpCreate:
			res.Path = genStr().Draw(t, "path")
		case OpCreate2:
			res.Path, res.Stat = genStr().Draw(t, "path"), genStat().Draw(t, "stat")
		case OpSetData:
			res.Stat = genStat().Draw(t, "stat")
		case OpGetChildren:
			res.Children = genStrs().Draw(t, "children")
		case OpGetData:
			res.Data, res.Stat = genBuf().Draw(t, "data"), genStat().Draw(t, "stat")
		case OpError:
			res.Err = rapid.Int32().Draw(t, "err")
		}
		return res
	})
}

// recordGens builds one random record of every kind zookeeper.jute's client
// protocol has (the aliases share a shape and are covered by it).
var recordGens = map[string]func(t *rapid.T) (Record, Record){
	"Id": func(t *rapid.T) (Record, Record) {
		return &Id{Scheme: genStr().Draw(t, "s"), ID: genStr().Draw(t, "i")}, &Id{}
	},
	"ACL": func(t *rapid.T) (Record, Record) {
		a := genACLs().Draw(t, "acl")
		if a == nil {
			a = []ACL{{}}
		}
		return &a[0], &ACL{}
	},
	"Stat": func(t *rapid.T) (Record, Record) { s := genStat().Draw(t, "stat"); return &s, &Stat{} },
	"ConnectRequest": func(t *rapid.T) (Record, Record) {
		c := &ConnectRequest{ProtocolVersion: rapid.Int32().Draw(t, "pv"), LastZxidSeen: rapid.Int64().Draw(t, "z"),
			TimeOut: rapid.Int32().Draw(t, "to"), SessionID: rapid.Int64().Draw(t, "sid"), Passwd: genBuf().Draw(t, "pw"),
			OldClient: rapid.Bool().Draw(t, "old")}
		if !c.OldClient {
			c.ReadOnly = rapid.Bool().Draw(t, "ro")
		}
		return c, &ConnectRequest{}
	},
	"ConnectResponse": func(t *rapid.T) (Record, Record) {
		c := &ConnectResponse{ProtocolVersion: rapid.Int32().Draw(t, "pv"), TimeOut: rapid.Int32().Draw(t, "to"),
			SessionID: rapid.Int64().Draw(t, "sid"), Passwd: genBuf().Draw(t, "pw"), OldClient: rapid.Bool().Draw(t, "old")}
		if !c.OldClient {
			c.ReadOnly = rapid.Bool().Draw(t, "ro")
		}
		return c, &ConnectResponse{}
	},
	"SetWatches": func(t *rapid.T) (Record, Record) {
		return &SetWatches{RelativeZxid: rapid.Int64().Draw(t, "z"), DataWatches: genStrs().Draw(t, "d"),
			ExistWatches: genStrs().Draw(t, "e"), ChildWatches: genStrs().Draw(t, "c")}, &SetWatches{}
	},
	"SetWatches2": func(t *rapid.T) (Record, Record) {
		return &SetWatches2{RelativeZxid: rapid.Int64().Draw(t, "z"), DataWatches: genStrs().Draw(t, "d"),
			ExistWatches: genStrs().Draw(t, "e"), ChildWatches: genStrs().Draw(t, "c"),
			PersistentWatches: genStrs().Draw(t, "p"), PersistentRecursiveWatches: genStrs().Draw(t, "r")}, &SetWatches2{}
	},
	"RequestHeader": func(t *rapid.T) (Record, Record) {
		return &RequestHeader{Xid: rapid.Int32().Draw(t, "x"), Type: rapid.Int32().Draw(t, "t")}, &RequestHeader{}
	},
	"MultiHeader": func(t *rapid.T) (Record, Record) {
		return &MultiHeader{Type: rapid.Int32().Draw(t, "t"), Done: rapid.Bool().Draw(t, "d"), Err: rapid.Int32().Draw(t, "e")}, &MultiHeader{}
	},
	"AuthPacket": func(t *rapid.T) (Record, Record) {
		return &AuthPacket{Type: rapid.Int32().Draw(t, "t"), Scheme: genStr().Draw(t, "s"), Auth: genBuf().Draw(t, "a")}, &AuthPacket{}
	},
	"ReplyHeader": func(t *rapid.T) (Record, Record) {
		return &ReplyHeader{Xid: rapid.Int32().Draw(t, "x"), Zxid: rapid.Int64().Draw(t, "z"), Err: rapid.Int32().Draw(t, "e")}, &ReplyHeader{}
	},
	"PathWatch (GetData, Exists, GetChildren, GetChildren2 requests)": func(t *rapid.T) (Record, Record) {
		return &PathWatch{Path: genStr().Draw(t, "p"), Watch: rapid.Bool().Draw(t, "w")}, &PathWatch{}
	},
	"PathOnly (GetAllChildrenNumber, Sync, GetACL, GetEphemerals requests; Sync, Create responses)": func(t *rapid.T) (Record, Record) {
		return &PathOnly{Path: genStr().Draw(t, "p")}, &PathOnly{}
	},
	"PathVersion (Delete, CheckVersion requests)": func(t *rapid.T) (Record, Record) {
		return &PathVersion{Path: genStr().Draw(t, "p"), Version: rapid.Int32().Draw(t, "v")}, &PathVersion{}
	},
	"PathType (CheckWatches, RemoveWatches, AddWatch requests)": func(t *rapid.T) (Record, Record) {
		return &PathType{Path: genStr().Draw(t, "p"), Type: rapid.Int32().Draw(t, "t")}, &PathType{}
	},
	"StatOnly (SetData, SetACL, Exists responses)": func(t *rapid.T) (Record, Record) {
		return &StatOnly{Stat: genStat().Draw(t, "s")}, &StatOnly{}
	},
	"StringsOnly (GetChildren, GetEphemerals responses)": func(t *rapid.T) (Record, Record) {
		return &StringsOnly{Strings: genStrs().Draw(t, "s")}, &StringsOnly{}
	},
	"IntOnly (Error, GetAllChildrenNumber responses)": func(t *rapid.T) (Record, Record) {
		return &IntOnly{Value: rapid.Int32().Draw(t, "v")}, &IntOnly{}
	},
	"SetDataRequest": func(t *rapid.T) (Record, Record) {
		return &SetDataRequest{Path: genStr().Draw(t, "p"), Data: genBuf().Draw(t, "d"), Version: rapid.Int32().Draw(t, "v")}, &SetDataRequest{}
	},
	"CreateRequest": func(t *rapid.T) (Record, Record) {
		return &CreateRequest{Path: genStr().Draw(t, "p"), Data: genBuf().Draw(t, "d"), ACL: genACLs().Draw(t, "a"),
			Flags: rapid.Int32().Draw(t, "f")}, &CreateRequest{}
	},
	"CreateTTLRequest": func(t *rapid.T) (Record, Record) {
		return &CreateTTLRequest{Path: genStr().Draw(t, "p"), Data: genBuf().Draw(t, "d"), ACL: genACLs().Draw(t, "a"),
			Flags: rapid.Int32().Draw(t, "f"), TTL: rapid.Int64().Draw(t, "ttl")}, &CreateTTLRequest{}
	},
	"SetACLRequest": func(t *rapid.T) (Record, Record) {
		return &SetACLRequest{Path: genStr().Draw(t, "p"), ACL: genACLs().Draw(t, "a"), Version: rapid.Int32().Draw(t, "v")}, &SetACLRequest{}
	},
	"WatcherEvent": func(t *rapid.T) (Record, Record) {
		return &WatcherEvent{Type: rapid.Int32().Draw(t, "t"), State: rapid.Int32().Draw(t, "s"), Path: genStr().Draw(t, "p")}, &WatcherEvent{}
	},
	"Create2Response": func(t *rapid.T) (Record, Record) {
		return &Create2Response{Path: genStr().Draw(t, "p"), Stat: genStat().Draw(t, "s")}, &Create2Response{}
	},
	"GetDataResponse": func(t *rapid.T) (Record, Record) {
		return &GetDataResponse{Data: genBuf().Draw(t, "d"), Stat: genStat().Draw(t, "s")}, &GetDataResponse{}
	},
	"GetChildren2Response": func(t *rapid.T) (Record, Record) {
		return &GetChildren2Response{Children: genStrs().Draw(t, "c"), Stat: genStat().Draw(t, "s")}, &GetChildren2Response{}
	},
	"GetACLResponse": func(t *rapid.T) (Record, Record) {
		return &GetACLResponse{ACL: genACLs().Draw(t, "a"), Stat: genStat().Draw(t, "s")}, &GetACLResponse{}
	},
	"MultiRequest": func(t *rapid.T) (Record, Record) {
		ops := rapid.SliceOfN(genMultiOp(rapid.Bool().Draw(t, "read")), 0, 6).Draw(t, "ops")
		if len(ops) == 0 {
			ops = nil
		}
		return &MultiRequest{Ops: ops}, &MultiRequest{}
	},
	"MultiResponse": func(t *rapid.T) (Record, Record) {
		res := rapid.SliceOfN(genMultiResult(), 0, 6).Draw(t, "results")
		if len(res) == 0 {
			res = nil
		}
		return &MultiResponse{Results: res}, &MultiResponse{}
	},
}

func TestJute_EveryRecordRoundTrips(t *testing.T) {
	for name, gen := range recordGens {
		t.Run(name, func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				in, out := gen(t)
				b := in.Append(nil)
				require.NoError(t, Decode(b, out))
				require.Equal(t, in, out)
				// A truncated record never decodes.
				if len(b) > 0 {
					cut := rapid.IntRange(0, len(b)-1).Draw(t, "cut")
					if optionalLastByte(in) && cut == len(b)-1 {
						return // the readOnly flag is optional: this is the old clients' form
					}
					require.Error(t, Decode(b[:cut], out), "a record cut to %d of %d bytes decoded", cut, len(b))
				}
			})
		})
	}
}

func optionalLastByte(r Record) bool {
	switch c := r.(type) {
	case *ConnectRequest:
		return !c.OldClient
	case *ConnectResponse:
		return !c.OldClient
	}
	return false
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// The worst case for memory is a frame of the smallest multi entries:
// decoding it allocates a bounded multiple of the frame, never more.
func TestJute_AWholeFrameOfTinyMultiEntriesStaysBounded(t *testing.T) {
	var resp []byte
	for len(resp) < MaxBuffer-20 {
		resp = (&MultiHeader{Type: OpDelete}).Append(resp)
	}
	resp = (&MultiHeader{Type: -1, Done: true, Err: -1}).Append(resp)
	var req []byte
	for len(req) < MaxBuffer-30 {
		req = append((&MultiHeader{Type: OpCheck, Err: -1}).Append(req), (&PathVersion{}).Append(nil)...)
	}
	req = (&MultiHeader{Type: -1, Done: true, Err: -1}).Append(req)
	for name, c := range map[string]struct {
		b   []byte
		rec func() Record
	}{
		"response": {resp, func() Record { return &MultiResponse{} }},
		"request":  {req, func() Record { return &MultiRequest{} }},
	} {
		bytes := allocatedBytes(func() { require.NoError(t, Decode(c.b, c.rec())) })
		factor := float64(bytes) / float64(len(c.b))
		t.Logf("a %d-byte multi %s allocates %.1f bytes per frame byte", len(c.b), name, factor)
		assert.Less(t, factor, 20.0, name)
	}
}
