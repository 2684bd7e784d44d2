package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestApply_StatUpdatesPerTxn(t *testing.T) {
	h := fixture(t)
	a0, b0 := h.stat("/a"), h.stat("/a/b")

	r := h.must(1, SetData{Path: "/a", Data: []byte("four"), Version: 0})
	z, now := MakeZxid(1, h.counter), h.nowMs
	want := a0
	want.Mzxid, want.Mtime, want.Version, want.DataLength = z, now, 1, 4
	assert.Equal(t, want, r.Stat, "setData: mzxid, mtime, version+1, dataLength")
	assert.Equal(t, want, h.stat("/a"))

	r = h.must(1, SetACL{Path: "/a", ACL: []ACL{{PermAll, "digest", "u:p"}, OpenACLUnsafe[0]}, Version: 0})
	want.Aversion = 1
	assert.Equal(t, want, r.Stat, "setACL: aversion+1 only")
	acl, _, _ := h.tree.GetACL("/a")
	assert.Len(t, acl, 2)

	h.must(1, Check{Path: "/a", Version: 1})
	assert.Equal(t, want, h.stat("/a"), "check changes nothing")

	r = h.must(1, Delete{Path: "/a/b", Version: 0})
	z = MakeZxid(1, h.counter)
	assert.Equal(t, Result{Op: OpDelete, Path: "/a/b", Events: []WatchEvent{
		{EventNodeDeleted, "/a/b"}, {EventNodeChildrenChanged, "/a"},
	}}, r)
	want.Pzxid, want.Cversion, want.NumChildren = z, want.Cversion+1, 0
	assert.Equal(t, want, h.stat("/a"), "delete: parent pzxid and visible cversion move")
	assert.Equal(t, b0.Czxid, MakeZxid(1, 4), "sanity: /a/b was the 4th txn")
}

func TestApply_WatchEventsInZooKeeperOrder(t *testing.T) {
	h := newHarness(t, 1)
	r := h.must(1, Create{Path: "/x", ACL: OpenACLUnsafe})
	assert.Equal(t, []WatchEvent{{EventNodeCreated, "/x"}, {EventNodeChildrenChanged, "/"}}, r.Events)
	r = h.must(1, SetData{Path: "/x", Version: -1})
	assert.Equal(t, []WatchEvent{{EventNodeDataChanged, "/x"}}, r.Events)
	r = h.must(1, SetACL{Path: "/x", ACL: OpenACLUnsafe, Version: -1})
	assert.Empty(t, r.Events)
	r = h.must(1, Check{Path: "/x", Version: -1})
	assert.Equal(t, Result{Op: OpCheck, Path: "/x"}, r)
	r = h.must(1, Delete{Path: "/x", Version: -1})
	assert.Equal(t, []WatchEvent{{EventNodeDeleted, "/x"}, {EventNodeChildrenChanged, "/"}}, r.Events)
}

func TestApply_TxnThatCannotApplyChangesNothing(t *testing.T) {
	cases := []struct {
		name string
		txn  Txn
		want Err
	}{
		{"create existing", CreateTxn{Path: "/a", ACL: OpenACLUnsafe, ParentCVersion: -1}, ErrNodeExists},
		{"create without parent", CreateTxn{Path: "/nope/x", ParentCVersion: -1}, ErrNoNode},
		{"create root", CreateTxn{Path: "/"}, ErrBadArguments},
		{"create invalid path", CreateTxn{Path: "/a/"}, ErrBadArguments},
		{"create relative path", CreateTxn{Path: "x"}, ErrBadArguments},
		{"create with unknown mode", CreateTxn{Path: "/x", Mode: 9}, ErrBadArguments},
		{"create TTL node without TTL", CreateTxn{Path: "/x", Mode: ModePersistentWithTTL}, ErrBadArguments},
		{"create under an ephemeral", CreateTxn{Path: "/e/x", ACL: OpenACLUnsafe, ParentCVersion: -1}, ErrNoChildrenForEphemerals},
		{"delete missing", DeleteTxn{Path: "/nope"}, ErrNoNode},
		{"delete with children", DeleteTxn{Path: "/a"}, ErrNotEmpty},
		{"delete root", DeleteTxn{Path: "/"}, ErrBadArguments},
		{"delete empty path", DeleteTxn{Path: ""}, ErrNoNode},
		{"setData missing", SetDataTxn{Path: "/nope"}, ErrNoNode},
		{"setACL missing", SetACLTxn{Path: "/nope"}, ErrNoNode},
		{"nil txn", nil, ErrMarshallingError},
		{"pointer txn", &CreateTxn{Path: "/x"}, ErrMarshallingError},
		{"nil pointer txn", (*SetDataTxn)(nil), ErrMarshallingError},
		{"pointer multi", &MultiTxn{}, ErrMarshallingError},
		{"error txn", ErrorTxn{Err: ErrNoAuth}, ErrNoAuth},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := fixture(t)
			before, _ := h.tree.MarshalBinary()
			hdr := h.next(1)
			r := h.tree.Apply(hdr, c.txn)
			assert.Equal(t, c.want, r.Err)
			assert.Empty(t, r.Events)
			assert.Equal(t, hdr.Zxid, h.tree.LastZxid(), "the zxid is consumed anyway")
			checkInvariants(t, h.tree)
			restored := NewTree()
			require.NoError(t, restored.UnmarshalBinary(before))
			assert.Equal(t, restored.Digest(), h.tree.Digest())
			assert.Equal(t, restored.Paths(), h.tree.Paths())
		})
	}
}

func TestApply_CheckIsNotReverifiedAtApply(t *testing.T) {
	// ZooKeeper checks versions when it prepares; a CheckVersionTxn applies as
	// a no-op even on a node that has changed or vanished since.
	h := fixture(t)
	r := h.tree.Apply(h.next(1), CheckVersionTxn{Path: "/nope", Version: 42})
	assert.Equal(t, Result{Op: OpCheck, Path: "/nope"}, r)
}

func TestApply_LastZxidOnlyMovesForward(t *testing.T) {
	tr := NewTree()
	tr.Apply(TxnHeader{Session: 1, Zxid: MakeZxid(2, 5)}, CreateSessionTxn{TimeoutMs: 1})
	tr.Apply(TxnHeader{Session: 2, Zxid: MakeZxid(2, 3)}, CreateSessionTxn{TimeoutMs: 1})
	assert.Equal(t, MakeZxid(2, 5), tr.LastZxid())
	tr.Apply(TxnHeader{Zxid: MakeZxid(3, 1)}, ErrorTxn{Err: ErrNoNode})
	assert.Equal(t, MakeZxid(3, 1), tr.LastZxid())
}

func TestApply_ParentCountersOnlyMoveForward(t *testing.T) {
	// A CreateTxn carrying an older parent counter (a replay over a newer
	// state) adds the child without moving the counter or pzxid back.
	h := fixture(t)
	before := h.stat("/a")
	r := h.tree.Apply(h.next(1), CreateTxn{Path: "/a/old", ACL: OpenACLUnsafe, ParentCVersion: 1})
	require.Equal(t, ErrOK, r.Err)
	after := h.stat("/a")
	assert.Equal(t, before.Pzxid, after.Pzxid)
	assert.Equal(t, before.NumChildren+1, after.NumChildren)
	assert.Equal(t, before.Cversion-1, after.Cversion, "2*creations-children with creations unchanged")
	checkInvariants(t, h.tree)

	r = h.tree.Apply(h.next(1), CreateTxn{Path: "/a/next", ACL: OpenACLUnsafe, ParentCVersion: -1})
	require.Equal(t, ErrOK, r.Err)
	assert.Equal(t, MakeZxid(1, h.counter), h.stat("/a").Pzxid, "-1 means one more than now")
}

func TestApply_SameTxnsSameResultsOnEveryReplica(t *testing.T) {
	leader := fixture(t)
	replica := NewTree()
	snapshot, _ := leader.tree.MarshalBinary()
	require.NoError(t, replica.UnmarshalBinary(snapshot))
	reqs := []Request{
		Create{Path: "/a/s", ACL: OpenACLUnsafe, Mode: ModeEphemeralSequential},
		SetData{Path: "/a", Data: []byte("x"), Version: -1},
		Multi{Ops: []Request{Delete{Path: "/a/b", Version: -1}, Create{Path: "/a/b", ACL: OpenACLUnsafe, Mode: ModeContainer}}},
		CloseSession{},
	}
	for _, req := range reqs {
		txn := Prepare(leader.tree, 1, req, leader.nowMs)
		hdr := leader.next(1)
		assert.Equal(t, leader.tree.Apply(hdr, txn), replica.Apply(hdr, txn))
		assert.Equal(t, leader.tree.Digest(), replica.Digest())
	}
	a, _ := leader.tree.MarshalBinary()
	b, _ := replica.MarshalBinary()
	assert.Equal(t, a, b)
}
