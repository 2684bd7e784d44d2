package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMulti_FailingOpReportsItsErrorOthersOKOrRuntimeInconsistency(t *testing.T) {
	h := fixture(t)
	before, _ := h.tree.MarshalBinary()
	r := h.do(1, Multi{Ops: []Request{
		Create{Path: "/m1", ACL: OpenACLUnsafe},
		SetData{Path: "/a", Version: -1},
		Delete{Path: "/a", Version: -1}, // has a child: NotEmpty
		Create{Path: "/m2", ACL: OpenACLUnsafe},
		Check{Path: "/nope", Version: 1},
	}})
	assert.Equal(t, OpMulti, r.Op)
	assert.Equal(t, ErrNotEmpty, r.Err)
	assert.Equal(t, []Result{
		{Op: OpError, Err: ErrOK},
		{Op: OpError, Err: ErrOK},
		{Op: OpError, Err: ErrNotEmpty},
		{Op: OpError, Err: ErrRuntimeInconsistency},
		{Op: OpError, Err: ErrRuntimeInconsistency},
	}, r.Multi)
	assert.Empty(t, r.Events)
	after, _ := h.tree.MarshalBinary()
	restored := NewTree()
	require.NoError(t, restored.UnmarshalBinary(before))
	assert.Equal(t, restored.Digest(), h.tree.Digest(), "a failed multi applied something")
	assert.Equal(t, restored.Paths(), h.tree.Paths())
	assert.NotEqual(t, before, after, "only the last zxid moved")
}

func TestMulti_PreparedTxnsFollowZooKeeper(t *testing.T) {
	h := fixture(t)
	txn := Prepare(h.tree, 1, Multi{Ops: []Request{
		Create{Path: "/m1", ACL: OpenACLUnsafe},
		Check{Path: "/a", Version: 9},
		SetData{Path: "/a", Version: -1},
	}}, h.nowMs)
	assert.Equal(t, MultiTxn{Txns: []Txn{
		CreateTxn{Path: "/m1", ACL: OpenACLUnsafe, ParentCVersion: 8},
		ErrorTxn{Err: ErrBadVersion},
		ErrorTxn{Err: ErrRuntimeInconsistency},
	}}, txn)
}

func TestMulti_LaterOpsSeeEarlierOnes(t *testing.T) {
	h := fixture(t)
	r := h.must(1, Multi{Ops: []Request{
		Create{Path: "/m", Data: []byte("0"), ACL: OpenACLUnsafe},
		SetData{Path: "/m", Data: []byte("1"), Version: 0},
		Check{Path: "/m", Version: 1},
		Create{Path: "/m/s", ACL: OpenACLUnsafe, Mode: ModePersistentSequential},
		Create{Path: "/m/s", ACL: OpenACLUnsafe, Mode: ModePersistentSequential},
		Delete{Path: "/a/b", Version: 0},
		Delete{Path: "/a", Version: 0},
		Create{Path: "/a", ACL: OpenACLUnsafe, Mode: ModeEphemeral},
		Create{Path: "/m/e", ACL: OpenACLUnsafe, Mode: ModeEphemeral},
	}})
	z := MakeZxid(1, h.counter)
	require.Len(t, r.Multi, 9)
	assert.Equal(t, OpCreate, r.Multi[0].Op)
	assert.Equal(t, OpSetData, r.Multi[1].Op)
	assert.Equal(t, int32(1), r.Multi[1].Stat.Version)
	assert.Equal(t, Result{Op: OpCheck, Path: "/m"}, r.Multi[2])
	assert.Equal(t, "/m/s0000000000", r.Multi[3].Path)
	assert.Equal(t, "/m/s0000000001", r.Multi[4].Path)
	assert.Equal(t, Result{Op: OpDelete, Path: "/a"}, r.Multi[6])
	assert.Equal(t, int64(1), r.Multi[7].Stat.EphemeralOwner)
	for _, sub := range r.Multi {
		assert.Nil(t, sub.Events, "events are reported once, on the multi")
	}

	data, s, err := h.tree.GetData("/m")
	require.NoError(t, err)
	assert.Equal(t, []byte("1"), data)
	assert.Equal(t, Stat{Czxid: z, Mzxid: z, Pzxid: z, Ctime: h.nowMs, Mtime: h.nowMs,
		Version: 1, Cversion: 3, DataLength: 1, NumChildren: 3}, s)
	assert.Equal(t, []string{"/a", "/e", "/m/e"}, h.tree.Ephemerals(1))

	// Every op shares the multi's zxid.
	for _, p := range []string{"/m/s0000000000", "/m/s0000000001", "/a", "/m/e"} {
		assert.Equal(t, z, h.stat(p).Czxid, p)
	}
}

func TestMulti_LaterOpsSeeEarlierFailuresToo(t *testing.T) {
	h := fixture(t)
	// Deleting then setting data on the same node fails on the second op, and
	// an ephemeral created in the multi cannot get a child in the same multi.
	for _, ops := range [][]Request{
		{Delete{Path: "/a/b", Version: -1}, SetData{Path: "/a/b", Version: -1}},
		{Create{Path: "/x", ACL: OpenACLUnsafe, Mode: ModeEphemeral}, Create{Path: "/x/y", ACL: OpenACLUnsafe}},
		{Create{Path: "/x", ACL: OpenACLUnsafe}, Create{Path: "/x", ACL: OpenACLUnsafe}},
		{SetData{Path: "/a", Version: 0}, SetData{Path: "/a", Version: 0}},
		{Create{Path: "/x", ACL: ReadACLUnsafe}, Create{Path: "/x/y", ACL: OpenACLUnsafe}},
	} {
		r := h.do(1, Multi{Ops: ops})
		require.Len(t, r.Multi, 2)
		assert.Equal(t, ErrOK, r.Multi[0].Err)
		assert.NotEqual(t, ErrOK, r.Multi[1].Err, "%#v", ops)
		assert.Equal(t, r.Multi[1].Err, r.Err)
	}
	_, ok := h.tree.Exists("/x")
	assert.False(t, ok)
}

func TestMulti_EventsFollowOpOrder(t *testing.T) {
	h := newHarness(t, 1)
	r := h.must(1, Multi{Ops: []Request{
		Create{Path: "/x", ACL: OpenACLUnsafe},
		SetData{Path: "/x", Version: -1},
		Delete{Path: "/x", Version: -1},
	}})
	assert.Equal(t, []WatchEvent{
		{EventNodeCreated, "/x"}, {EventNodeChildrenChanged, "/"},
		{EventNodeDataChanged, "/x"},
		{EventNodeDeleted, "/x"}, {EventNodeChildrenChanged, "/"},
	}, r.Events)
}

func TestMulti_EmptyIsOK(t *testing.T) {
	h := newHarness(t, 1)
	r := h.do(1, Multi{})
	assert.Equal(t, Result{Op: OpMulti, Multi: []Result{}}, r)
}

func TestMulti_AllOrNothingWhenAnOpCannotApply(t *testing.T) {
	// A multi prepared against one state and applied to another (a
	// replication bug) must not half-apply.
	h := fixture(t)
	txn := Prepare(h.tree, 1, Multi{Ops: []Request{
		Create{Path: "/m", ACL: OpenACLUnsafe},
		SetData{Path: "/a/b", Version: -1},
		Create{Path: "/m/n", ACL: OpenACLUnsafe},
	}}, h.nowMs)
	require.IsType(t, MultiTxn{}, txn)
	h.must(1, Delete{Path: "/a/b", Version: -1}) // the state moves on
	before := h.tree.Digest()
	r := h.tree.Apply(h.next(1), txn)
	assert.Equal(t, ErrNoNode, r.Err)
	assert.Equal(t, []Result{
		{Op: OpError, Err: ErrOK},
		{Op: OpError, Err: ErrNoNode},
		{Op: OpError, Err: ErrRuntimeInconsistency},
	}, r.Multi)
	assert.Equal(t, before, h.tree.Digest())
	_, ok := h.tree.Exists("/m")
	assert.False(t, ok)
	checkInvariants(t, h.tree)
}

func TestMulti_ApplyKeepsEphemeralsChildless(t *testing.T) {
	h := fixture(t)
	before := h.tree.Digest()
	r := h.tree.Apply(h.next(1), MultiTxn{Txns: []Txn{
		CreateTxn{Path: "/x", ACL: OpenACLUnsafe, Mode: ModeEphemeral, ParentCVersion: -1},
		CreateTxn{Path: "/x/y", ACL: OpenACLUnsafe, ParentCVersion: -1},
	}})
	assert.Equal(t, ErrNoChildrenForEphemerals, r.Err)
	assert.Equal(t, before, h.tree.Digest())

	// Created by session 0 the same node is persistent, so it may.
	r = h.tree.Apply(TxnHeader{Session: 0, Zxid: MakeZxid(9, 1)}, MultiTxn{Txns: []Txn{
		CreateTxn{Path: "/x", ACL: OpenACLUnsafe, Mode: ModeEphemeral, ParentCVersion: -1},
		CreateTxn{Path: "/x/y", ACL: OpenACLUnsafe, ParentCVersion: -1},
	}})
	assert.Equal(t, ErrOK, r.Err)
	checkInvariants(t, h.tree)
}

func TestMulti_ApplyRefusesOpsNotAllowedInAMulti(t *testing.T) {
	h := fixture(t)
	before := h.tree.Digest()
	r := h.tree.Apply(h.next(1), MultiTxn{Txns: []Txn{
		CreateTxn{Path: "/m", ACL: OpenACLUnsafe, ParentCVersion: -1},
		SetACLTxn{Path: "/a", ACL: OpenACLUnsafe},
	}})
	assert.Equal(t, ErrMarshallingError, r.Err)
	assert.Equal(t, before, h.tree.Digest())
}

func TestMulti_ErrorTxnWithOKCodeStillAbortsButReportsOK(t *testing.T) {
	// ZooKeeper's rule is mechanical: any error txn aborts the multi, and the
	// multi's code is the first non-zero sub-code.
	h := fixture(t)
	r := h.tree.Apply(h.next(1), MultiTxn{Txns: []Txn{
		CreateTxn{Path: "/m", ACL: OpenACLUnsafe, ParentCVersion: -1},
		ErrorTxn{Err: ErrOK},
		DeleteTxn{Path: "/a/b"},
	}})
	assert.Equal(t, ErrRuntimeInconsistency, r.Err)
	_, ok := h.tree.Exists("/m")
	assert.False(t, ok)
}
