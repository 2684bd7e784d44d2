package server

import (
	"encoding/binary"
	"errors"
	"fmt"

	"zoosim/model"
)

// An engine entry is a txn as the leader proposed it: the header fields the
// leader stamped (session, client xid, time) and the txn, in a compact
// binary encoding. Every replica decodes the same bytes into the same txn.
//
//	version u8 | session i64 | cxid i32 | timeMs i64 | txn
//	txn = op i32 | fields by op (strings and byte slices length-prefixed)

const codecVersion = 1

var errShortEntry = errors.New("server: truncated txn entry")

type entryHeader struct {
	Session int64
	Cxid    int32
	TimeMs  int64
}

func encodeEntry(h entryHeader, txn model.Txn) []byte {
	b := make([]byte, 0, 64)
	b = append(b, codecVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Session))
	b = binary.BigEndian.AppendUint32(b, uint32(h.Cxid))
	b = binary.BigEndian.AppendUint64(b, uint64(h.TimeMs))
	return appendTxn(b, txn)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// appendBytes keeps nil and empty apart (ZooKeeper's buffers do: -1 is null).
func appendBytes(b, d []byte) []byte {
	if d == nil {
		return binary.BigEndian.AppendUint32(b, ^uint32(0))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(d)))
	return append(b, d...)
}

func appendACL(b []byte, acl []model.ACL) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(acl)))
	for _, a := range acl {
		b = binary.BigEndian.AppendUint32(b, uint32(a.Perms))
		b = appendString(b, a.Scheme)
		b = appendString(b, a.ID)
	}
	return b
}

func appendTxn(b []byte, txn model.Txn) []byte {
	switch t := txn.(type) {
	case model.CreateTxn:
		b = binary.BigEndian.AppendUint32(b, 1)
		b = appendString(b, t.Path)
		b = appendBytes(b, t.Data)
		b = appendACL(b, t.ACL)
		b = binary.BigEndian.AppendUint32(b, uint32(t.Mode))
		b = binary.BigEndian.AppendUint64(b, uint64(t.TTL))
		b = binary.BigEndian.AppendUint32(b, uint32(t.ParentCVersion))
	case model.DeleteTxn:
		b = binary.BigEndian.AppendUint32(b, 2)
		b = appendString(b, t.Path)
	case model.SetDataTxn:
		b = binary.BigEndian.AppendUint32(b, 3)
		b = appendString(b, t.Path)
		b = appendBytes(b, t.Data)
		b = binary.BigEndian.AppendUint32(b, uint32(t.Version))
	case model.CheckVersionTxn:
		b = binary.BigEndian.AppendUint32(b, 4)
		b = appendString(b, t.Path)
		b = binary.BigEndian.AppendUint32(b, uint32(t.Version))
	case model.SetACLTxn:
		b = binary.BigEndian.AppendUint32(b, 5)
		b = appendString(b, t.Path)
		b = appendACL(b, t.ACL)
		b = binary.BigEndian.AppendUint32(b, uint32(t.Version))
	case model.CreateSessionTxn:
		// Type 6 was a createSession without its password; 10 carries it.
		b = binary.BigEndian.AppendUint32(b, 10)
		b = binary.BigEndian.AppendUint32(b, uint32(t.TimeoutMs))
		b = append(b, t.Passwd[:]...)
	case model.CloseSessionTxn:
		b = binary.BigEndian.AppendUint32(b, 7)
		b = binary.BigEndian.AppendUint32(b, uint32(len(t.Paths)))
		for _, p := range t.Paths {
			b = appendString(b, p)
		}
	case model.ErrorTxn:
		b = binary.BigEndian.AppendUint32(b, 8)
		b = binary.BigEndian.AppendUint32(b, uint32(t.Err))
	case model.MultiTxn:
		b = binary.BigEndian.AppendUint32(b, 9)
		b = binary.BigEndian.AppendUint32(b, uint32(len(t.Txns)))
		for _, sub := range t.Txns {
			b = appendTxn(b, sub)
		}
	default:
		panic(fmt.Sprintf("server: cannot encode txn %T", txn))
	}
	return b
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		r.err = errShortEntry
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *reader) str() string { return string(r.take(int(r.u32()))) }

func (r *reader) bytes() []byte {
	n := r.u32()
	if n == ^uint32(0) {
		return nil
	}
	v := r.take(int(n))
	if v == nil {
		return nil
	}
	return append([]byte{}, v...)
}

func (r *reader) acl() []model.ACL {
	n := int(r.u32())
	if r.err != nil || n > len(r.b) {
		r.err = errShortEntry
		return nil
	}
	acl := make([]model.ACL, n)
	for i := range acl {
		acl[i] = model.ACL{Perms: int32(r.u32()), Scheme: r.str(), ID: r.str()}
	}
	return acl
}

func decodeEntry(b []byte) (entryHeader, model.Txn, error) {
	if len(b) == 0 || b[0] != codecVersion {
		return entryHeader{}, nil, fmt.Errorf("server: txn entry of unknown version")
	}
	r := &reader{b: b[1:]}
	h := entryHeader{Session: int64(r.u64()), Cxid: int32(r.u32()), TimeMs: int64(r.u64())}
	txn := r.txn(0)
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("server: %d trailing bytes after txn", len(r.b))
	}
	return h, txn, r.err
}

func (r *reader) txn(depth int) model.Txn {
	switch op := r.u32(); op {
	case 1:
		return model.CreateTxn{Path: r.str(), Data: r.bytes(), ACL: r.acl(), Mode: model.CreateMode(r.u32()),
			TTL: int64(r.u64()), ParentCVersion: int32(r.u32())}
	case 2:
		return model.DeleteTxn{Path: r.str()}
	case 3:
		return model.SetDataTxn{Path: r.str(), Data: r.bytes(), Version: int32(r.u32())}
	case 4:
		return model.CheckVersionTxn{Path: r.str(), Version: int32(r.u32())}
	case 5:
		return model.SetACLTxn{Path: r.str(), ACL: r.acl(), Version: int32(r.u32())}
	case 6:
		return model.CreateSessionTxn{TimeoutMs: int32(r.u32())}
	case 10:
		t := model.CreateSessionTxn{TimeoutMs: int32(r.u32())}
		copy(t.Passwd[:], r.take(model.PasswdLen))
		return t
	case 7:
		n := int(r.u32())
		if r.err != nil || n > len(r.b) {
			r.err = errShortEntry
			return nil
		}
		paths := make([]string, n)
		for i := range paths {
			paths[i] = r.str()
		}
		return model.CloseSessionTxn{Paths: paths}
	case 8:
		return model.ErrorTxn{Err: model.Err(int32(r.u32()))}
	case 9:
		if depth > 0 {
			r.err = fmt.Errorf("server: nested multi txn")
			return nil
		}
		n := int(r.u32())
		if r.err != nil || n > len(r.b) {
			r.err = errShortEntry
			return nil
		}
		txns := make([]model.Txn, n)
		for i := range txns {
			txns[i] = r.txn(depth + 1)
		}
		return model.MultiTxn{Txns: txns}
	default:
		if r.err == nil {
			r.err = fmt.Errorf("server: unknown txn type %d", op)
		}
		return nil
	}
}
