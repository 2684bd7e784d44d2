package model

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"slices"
)

// Snapshot format (all integers big-endian):
//
//	magic "ZSIMTREE", format version uint32
//	lastZxid int64
//	node count uint32, then every node in depth-first pre-order from the
//	root, children in sorted order (so a parent always precedes its children):
//	  path string, data (int32 length, -1 for nil, then bytes),
//	  czxid, mzxid, pzxid, ctime, mtime int64,
//	  version, cversion (creations), aversion int32,
//	  kind uint8, owner int64, ttl int64,
//	  ACL count uint32, then perms int32, scheme string, id string each
//	session count uint32, then id int64, timeout int32 and (format 2)
//	the 16-byte password each, sorted by id
//	digest uint64
//	CRC-32 (IEEE) of everything before it, uint32
//
// A string is a uint32 length and its bytes. The bytes are a function of the
// state alone: the same tree always marshals to the same bytes. Format 1
// (sessions without passwords) still decodes; its sessions get a zero
// password, which no client can show.

const (
	snapshotMagic   = "ZSIMTREE"
	snapshotVersion = 2
)

var errSnapshot = errors.New("model: malformed tree snapshot")

// MarshalBinary encodes the whole replicated state: every node with its
// stored stat and counters, the session table and the last zxid.
func (t *Tree) MarshalBinary() ([]byte, error) {
	size := 64
	for p, n := range t.nodes {
		size += 64 + len(p) + len(n.data) + 16*len(n.acl)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, snapshotMagic...)
	buf = binary.BigEndian.AppendUint32(buf, snapshotVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(t.lastZxid))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(t.nodes)))
	buf = t.appendNode(buf, append(make([]byte, 0, 256), '/'))
	ss := t.Sessions()
	digest := t.digest
	if t.bugs.SnapshotDropsSessions {
		// Seeded bug (ZOOKEEPER-1367's forgotten sessions): the snapshot
		// is self-consistent, it just lacks the session table.
		for _, s := range ss {
			digest -= hashSession(s.ID, s.TimeoutMs)
		}
		ss = nil
	}
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(ss)))
	for _, s := range ss {
		buf = binary.BigEndian.AppendUint64(buf, uint64(s.ID))
		buf = binary.BigEndian.AppendUint32(buf, uint32(s.TimeoutMs))
		buf = append(buf, s.Passwd[:]...)
	}
	buf = binary.BigEndian.AppendUint64(buf, digest)
	buf = binary.BigEndian.AppendUint32(buf, crc32.ChecksumIEEE(buf))
	return buf, nil
}

// appendNode writes the node at path (held in a reused byte buffer, so that
// no path string is built) and then its subtree.
func (t *Tree) appendNode(buf, path []byte) []byte {
	n := t.nodes[string(path)]
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(path)))
	buf = append(buf, path...)
	if n.data == nil {
		buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32) // -1
	} else {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(n.data)))
		buf = append(buf, n.data...)
	}
	for _, v := range [...]int64{int64(n.czxid), int64(n.mzxid), int64(n.pzxid), n.ctime, n.mtime} {
		buf = binary.BigEndian.AppendUint64(buf, uint64(v))
	}
	for _, v := range [...]int32{n.version, n.cversion, n.aversion} {
		buf = binary.BigEndian.AppendUint32(buf, uint32(v))
	}
	buf = append(buf, byte(n.kind))
	buf = binary.BigEndian.AppendUint64(buf, uint64(n.owner))
	buf = binary.BigEndian.AppendUint64(buf, uint64(n.ttl))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(n.acl)))
	for _, a := range n.acl {
		buf = binary.BigEndian.AppendUint32(buf, uint32(a.Perms))
		buf = appendString(buf, a.Scheme)
		buf = appendString(buf, a.ID)
	}
	if len(n.children) == 0 {
		return buf
	}
	if len(path) > 1 {
		path = append(path, '/')
	}
	prefix := len(path)
	for _, c := range n.children {
		buf = t.appendNode(buf, append(path[:prefix], c...))
	}
	return buf
}

func appendString(buf []byte, s string) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
	return append(buf, s...)
}

// UnmarshalBinary replaces t with the state a MarshalBinary produced. It
// checks the checksum, the structure (root first, every parent before its
// children, valid paths, no duplicates, no child under an ephemeral) and the
// digest, and leaves t untouched on error.
func (t *Tree) UnmarshalBinary(b []byte) error {
	if len(b) < len(snapshotMagic)+4+4 {
		return errSnapshot
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return errors.New("model: tree snapshot checksum mismatch")
	}
	r := reader{b: body, ok: true}
	if string(r.bytes(len(snapshotMagic))) != snapshotMagic {
		return errSnapshot
	}
	version := r.u32()
	if version != 1 && version != snapshotVersion {
		return errSnapshot
	}
	nt := &Tree{
		nodes:      make(map[string]*node),
		sessions:   make(map[int64]sessionEntry),
		ephemerals: make(map[int64]map[string]struct{}),
		containers: make(map[string]struct{}),
		ttls:       make(map[string]struct{}),
	}
	nt.lastZxid = Zxid(r.u64())
	count := r.u32()
	for i := uint32(0); i < count && r.ok; i++ {
		path := r.str()
		n := &node{}
		if l := r.u32(); l != math.MaxUint32 {
			n.data = slices.Clone(r.bytes(int(l)))
			if n.data == nil {
				n.data = []byte{}
			}
		}
		n.czxid, n.mzxid, n.pzxid = Zxid(r.u64()), Zxid(r.u64()), Zxid(r.u64())
		n.ctime, n.mtime = int64(r.u64()), int64(r.u64())
		n.version, n.cversion, n.aversion = int32(r.u32()), int32(r.u32()), int32(r.u32())
		n.kind = nodeKind(r.u8())
		n.owner, n.ttl = int64(r.u64()), int64(r.u64())
		aclCount := r.u32()
		if !r.ok || int64(aclCount) > int64(len(r.b)) {
			return errSnapshot
		}
		n.acl = make([]ACL, 0, aclCount)
		for j := uint32(0); j < aclCount && r.ok; j++ {
			n.acl = append(n.acl, ACL{Perms: int32(r.u32()), Scheme: r.str(), ID: r.str()})
		}
		if !r.ok || n.kind < kindPersistent || n.kind > kindTTL || nt.nodes[path] != nil {
			return errSnapshot
		}
		if i == 0 {
			if path != "/" {
				return errSnapshot
			}
		} else {
			parent, ok := parentPath(path)
			if !ok || path == "/" || !validPath(path) || nt.nodes[parent] == nil ||
				nt.nodes[parent].kind == kindEphemeral {
				return errSnapshot
			}
			nt.nodes[parent].insertChild(baseName(path))
		}
		n.pathHash, n.dataHash, n.aclHash = hashPath(path), hashData(n.data), hashACL(n.acl)
		nt.nodes[path] = n
		nt.index(path, n)
	}
	sessionCount := r.u32()
	for i := uint32(0); i < sessionCount && r.ok; i++ {
		id, e := int64(r.u64()), sessionEntry{timeoutMs: int32(r.u32())}
		if version >= 2 {
			copy(e.passwd[:], r.bytes(PasswdLen))
		}
		if _, dup := nt.sessions[id]; dup {
			return errSnapshot
		}
		nt.sessions[id] = e
	}
	digest := r.u64()
	if !r.ok || len(r.b) != 0 || uint32(len(nt.nodes)) != count || nt.nodes["/"] == nil {
		return errSnapshot
	}
	for _, n := range nt.nodes {
		n.hash = n.computeHash()
		nt.digest += n.hash
	}
	for id, e := range nt.sessions {
		nt.digest += hashSession(id, e.timeoutMs)
	}
	if nt.digest != digest {
		return errors.New("model: tree snapshot digest mismatch")
	}
	nt.bugs = t.bugs
	*t = *nt
	return nil
}

// reader decodes big-endian fields; after a short read ok is false and every
// further read returns zeros.
type reader struct {
	b  []byte
	ok bool
}

func (r *reader) bytes(n int) []byte {
	if !r.ok || n < 0 || n > len(r.b) {
		r.ok, r.b = false, nil
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() uint8 {
	if b := r.bytes(1); len(b) == 1 {
		return b[0]
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.bytes(4); len(b) == 4 {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.bytes(8); len(b) == 8 {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *reader) str() string { return string(r.bytes(int(r.u32()))) }
