package model

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestSnapshot_RoundTripIsExact(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		h := newRandomHarness(rt)
		for _, op := range rapid.SliceOfN(opGen(), 20, 120).Draw(rt, "ops") {
			h.step(op)
		}
		tree := h.tree
		b1, err := tree.MarshalBinary()
		require.NoError(rt, err)
		restored := NewTree()
		require.NoError(rt, restored.UnmarshalBinary(b1))
		checkInvariants(rt, restored)
		b2, err := restored.MarshalBinary()
		require.NoError(rt, err)
		require.Equal(rt, b1, b2, "re-marshal differs")
		require.Equal(rt, tree.Digest(), restored.Digest())
		require.Equal(rt, tree.LastZxid(), restored.LastZxid())
		require.Equal(rt, tree.Sessions(), restored.Sessions())
		require.Equal(rt, tree.EphemeralOwners(), restored.EphemeralOwners())
		for _, p := range tree.Paths() {
			d1, s1, _ := tree.GetData(p)
			d2, s2, err := restored.GetData(p)
			require.NoError(rt, err)
			require.Equal(rt, d1, d2, p)
			require.Equal(rt, s1, s2, p)
		}
		cl := tree.Clone()
		b3, _ := cl.MarshalBinary()
		require.Equal(rt, b1, b3, "clone differs")

		// The restored tree behaves the same from here on.
		for _, op := range rapid.SliceOfN(opGen(), 5, 30).Draw(rt, "more") {
			req, session := h.request(op)
			hdr := h.next(session)
			r1 := tree.Apply(hdr, Prepare(tree, session, req, hdr.TimeMs))
			r2 := restored.Apply(hdr, Prepare(restored, session, req, hdr.TimeMs))
			require.Equal(rt, r1, r2)
		}
		require.Equal(rt, tree.Digest(), restored.Digest())
	})
}

func TestSnapshot_NilAndEmptyDataStayApart(t *testing.T) {
	h := newHarness(t, 1)
	h.must(1, Create{Path: "/nil", ACL: OpenACLUnsafe})
	h.must(1, Create{Path: "/empty", Data: []byte{}, ACL: OpenACLUnsafe})
	b, _ := h.tree.MarshalBinary()
	r := NewTree()
	require.NoError(t, r.UnmarshalBinary(b))
	d, _, _ := r.GetData("/nil")
	assert.Nil(t, d)
	d, _, _ = r.GetData("/empty")
	assert.NotNil(t, d)
	assert.Empty(t, d)
}

func TestSnapshot_RejectsDamage(t *testing.T) {
	h := fixture(t)
	good, err := h.tree.MarshalBinary()
	require.NoError(t, err)
	target := NewTree()
	want, _ := target.MarshalBinary()

	for i := 0; i < len(good); i += 7 {
		bad := append([]byte(nil), good...)
		bad[i] ^= 0x40
		require.Error(t, target.UnmarshalBinary(bad), "flipped byte %d", i)
	}
	for _, n := range []int{0, 3, 12, len(good) / 2, len(good) - 1} {
		require.Error(t, target.UnmarshalBinary(good[:n]), "truncated to %d", n)
	}
	require.Error(t, target.UnmarshalBinary(append(append([]byte(nil), good...), 0)), "trailing byte")
	got, _ := target.MarshalBinary()
	require.Equal(t, want, got, "a failed unmarshal changed the tree")
	require.NoError(t, target.UnmarshalBinary(good))
}

func TestDigest_IndependentOfHistory(t *testing.T) {
	// Txns that commute (new sessions, creations of distinct nodes, data
	// changes on distinct nodes) applied in any order give the same state, so
	// the same digest and the same snapshot bytes. Creations under one parent
	// commute because ZooKeeper only moves the parent's counter and pzxid
	// forward.
	rapid.Check(t, func(rt *rapid.T) {
		type op struct {
			hdr TxnHeader
			txn Txn
		}
		builtins := []string{"/zookeeper", "/zookeeper/quota", "/"}
		var ops []op
		n := rapid.IntRange(1, 16).Draw(rt, "n")
		for i := 0; i < n; i++ {
			hdr := TxnHeader{Session: int64(i + 1), Zxid: MakeZxid(1, uint32(i+1)), TimeMs: int64(1000 + i)}
			var txn Txn = CreateSessionTxn{TimeoutMs: int32(1000 * i)}
			switch rapid.IntRange(0, 2).Draw(rt, "kind") {
			case 1:
				mode := rapid.SampledFrom([]CreateMode{ModePersistent, ModeEphemeral, ModeContainer}).Draw(rt, "mode")
				txn = CreateTxn{Path: "/n" + formatSequence(int32(i)), ACL: OpenACLUnsafe, Mode: mode, ParentCVersion: int32(i + 1)}
			case 2:
				if len(builtins) > 0 {
					txn = SetDataTxn{Path: builtins[0], Data: []byte{byte(i)}, Version: 1}
					builtins = builtins[1:]
				}
			}
			ops = append(ops, op{hdr, txn})
		}
		perm := rapid.Permutation(ops).Draw(rt, "order")
		a, b := NewTree(), NewTree()
		for _, o := range ops {
			require.Equal(rt, ErrOK, a.Apply(o.hdr, o.txn).Err)
		}
		for _, o := range perm {
			require.Equal(rt, ErrOK, b.Apply(o.hdr, o.txn).Err)
		}
		checkInvariants(rt, b)
		require.Equal(rt, a.Digest(), b.Digest())
		ba, _ := a.MarshalBinary()
		bb, _ := b.MarshalBinary()
		require.Equal(rt, ba, bb)
	})
}

func TestDigest_SeesEveryChange(t *testing.T) {
	h := fixture(t)
	seen := map[uint64]bool{h.tree.Digest(): true}
	for _, req := range []Request{
		SetData{Path: "/a", Data: []byte("A"), Version: -1}, // same data, new mzxid
		SetData{Path: "/a/b", Data: nil, Version: -1},
		SetData{Path: "/a/b", Data: []byte{}, Version: -1}, // nil -> empty
		SetACL{Path: "/a", ACL: OpenACLUnsafe, Version: -1},
		Create{Path: "/x", ACL: OpenACLUnsafe},
		Delete{Path: "/x", Version: -1},
		CreateSession{TimeoutMs: 5},
		CreateSession{TimeoutMs: 6},
		CloseSession{},
	} {
		h.must(1, req)
		d := h.tree.Digest()
		assert.False(t, seen[d], "digest unchanged after %#v", req)
		seen[d] = true
	}
}

func TestSnapshot_RejectsEphemeralWithChildren(t *testing.T) {
	// Only a forged snapshot can hold one; build it through the internals.
	h := fixture(t)
	h.must(1, Create{Path: "/a/b/x", ACL: OpenACLUnsafe})
	n := h.tree.nodes["/a/b"]
	n.kind, n.owner = kindEphemeral, 1
	h.tree.rehash(n)
	h.tree.index("/a/b", n)
	forged, err := h.tree.MarshalBinary()
	require.NoError(t, err)
	require.Error(t, NewTree().UnmarshalBinary(forged))
}

func FuzzUnmarshalBinary(f *testing.F) {
	h := fixture(f)
	good, _ := h.tree.MarshalBinary()
	empty, _ := NewTree().MarshalBinary()
	f.Add(good)
	f.Add(empty)
	f.Add([]byte("ZSIMTREE"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Fix the checksum up so that the fuzzer reaches the decoder.
		if len(b) >= 4 {
			binary.BigEndian.PutUint32(b[len(b)-4:], crc32.ChecksumIEEE(b[:len(b)-4]))
		}
		tr := NewTree()
		if tr.UnmarshalBinary(b) != nil {
			return
		}
		checkInvariants(t, tr)
		again, err := tr.MarshalBinary()
		require.NoError(t, err)
		tr2 := NewTree()
		require.NoError(t, tr2.UnmarshalBinary(again))
		again2, _ := tr2.MarshalBinary()
		require.Equal(t, again, again2)
	})
}

func TestSnapshot_KeepsSessionPasswords(t *testing.T) {
	h := newHarness(t)
	pw := [PasswdLen]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	h.must(7, CreateSession{TimeoutMs: 3000, Passwd: pw})
	got, ok := h.tree.SessionPasswd(7)
	require.True(t, ok)
	assert.Equal(t, pw, got)
	b, err := h.tree.MarshalBinary()
	require.NoError(t, err)
	r := NewTree()
	require.NoError(t, r.UnmarshalBinary(b))
	got, ok = r.SessionPasswd(7)
	require.True(t, ok)
	assert.Equal(t, pw, got)
	h.must(7, CloseSession{})
	_, ok = h.tree.SessionPasswd(7)
	assert.False(t, ok)
}

// A format-1 snapshot (sessions without passwords) still restores; its
// sessions get the zero password.
func TestSnapshot_FormatOneStillRestores(t *testing.T) {
	h := newHarness(t)
	h.must(7, CreateSession{TimeoutMs: 3000, Passwd: [PasswdLen]byte{9}})
	b, err := h.tree.MarshalBinary()
	require.NoError(t, err)
	// Rewrite it as format 1: version 1, and no password after the one
	// session's timeout (the last 16 bytes before digest and checksum).
	body := b[:len(b)-4]
	v1 := append([]byte(nil), body[:len(body)-8-PasswdLen]...)
	v1 = append(v1, body[len(body)-8:]...)
	binary.BigEndian.PutUint32(v1[len(snapshotMagic):], 1)
	v1 = binary.BigEndian.AppendUint32(v1, crc32.ChecksumIEEE(v1))
	r := NewTree()
	require.NoError(t, r.UnmarshalBinary(v1))
	to, ok := r.SessionTimeoutMs(7)
	require.True(t, ok)
	assert.Equal(t, int32(3000), to)
	pw, _ := r.SessionPasswd(7)
	assert.Equal(t, [PasswdLen]byte{}, pw)
	assert.Equal(t, h.tree.Digest(), r.Digest())
}
