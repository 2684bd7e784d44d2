package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateSession_AddsToTableAndDuplicateUpdatesTimeout(t *testing.T) {
	h := newHarness(t)
	r := h.do(9, CreateSession{TimeoutMs: 4000})
	assert.Equal(t, Result{Op: OpCreateSession}, r)
	to, ok := h.tree.SessionTimeoutMs(9)
	assert.True(t, ok)
	assert.Equal(t, int32(4000), to)

	h.must(9, Create{Path: "/e", ACL: OpenACLUnsafe, Mode: ModeEphemeral})
	r = h.do(9, CreateSession{TimeoutMs: 6000})
	assert.Equal(t, ErrOK, r.Err, "ZooKeeper's tracker accepts a known id")
	to, _ = h.tree.SessionTimeoutMs(9)
	assert.Equal(t, int32(6000), to)
	assert.Equal(t, []string{"/e"}, h.tree.Ephemerals(9), "ephemerals survive")
}

func TestSessions_SortedByID(t *testing.T) {
	h := newHarness(t, 30, -4, 7, 1<<62)
	assert.Equal(t, []Session{
		{ID: -4, TimeoutMs: 30000}, {ID: 7, TimeoutMs: 30000},
		{ID: 30, TimeoutMs: 30000}, {ID: 1 << 62, TimeoutMs: 30000},
	}, h.tree.Sessions())
}

func TestCloseSession_DeletesItsEphemeralsInPathOrder(t *testing.T) {
	h := newHarness(t, 1, 2)
	h.must(1, Create{Path: "/p", ACL: OpenACLUnsafe})
	for _, p := range []string{"/p/z", "/p/a", "/m"} {
		h.must(1, Create{Path: p, ACL: OpenACLUnsafe, Mode: ModeEphemeral})
	}
	h.must(2, Create{Path: "/p/other", ACL: OpenACLUnsafe, Mode: ModeEphemeral})
	p0 := h.stat("/p")

	r := h.do(1, CloseSession{})
	assert.Equal(t, Result{Op: OpCloseSession, Events: []WatchEvent{
		{EventNodeDeleted, "/m"}, {EventNodeChildrenChanged, "/"},
		{EventNodeDeleted, "/p/a"}, {EventNodeChildrenChanged, "/p"},
		{EventNodeDeleted, "/p/z"}, {EventNodeChildrenChanged, "/p"},
	}}, r)
	_, ok := h.tree.SessionTimeoutMs(1)
	assert.False(t, ok)
	assert.Empty(t, h.tree.Ephemerals(1))
	assert.Equal(t, []int64{2}, h.tree.EphemeralOwners())
	assert.Equal(t, []Session{{ID: 2, TimeoutMs: 30000}}, h.tree.Sessions())

	// Deletions by a session close count in the parent's visible cversion.
	p1 := h.stat("/p")
	assert.Equal(t, p0.Cversion+2, p1.Cversion)
	assert.Equal(t, MakeZxid(1, h.counter), p1.Pzxid)
	assert.Equal(t, int32(1), p1.NumChildren)

	// The closed session is expired for every write.
	for _, req := range []Request{
		Create{Path: "/x", ACL: OpenACLUnsafe},
		Create{Path: "/x", ACL: OpenACLUnsafe, Mode: ModeEphemeral},
		Delete{Path: "/p/other", Version: -1},
		SetData{Path: "/p", Version: -1},
		SetACL{Path: "/p", ACL: OpenACLUnsafe, Version: -1},
		Check{Path: "/p", Version: -1},
		Multi{Ops: []Request{Check{Path: "/p", Version: -1}}},
	} {
		txn := Prepare(h.tree, 1, req, h.nowMs)
		if m, ok := txn.(MultiTxn); ok {
			txn = m.Txns[0]
		}
		assert.Equal(t, ErrorTxn{Err: ErrSessionExpired}, txn, "%#v", req)
	}
}

func TestCloseSession_AlsoDeletesEphemeralsTheTxnDidNotList(t *testing.T) {
	// The leader lists what it saw; anything else the session owns when the
	// txn applies goes too (DataTree.killSession).
	h := newHarness(t, 1)
	close := Prepare(h.tree, 1, CloseSession{}, h.nowMs)
	assert.Equal(t, CloseSessionTxn{}, close)
	h.must(1, Create{Path: "/late", ACL: OpenACLUnsafe, Mode: ModeEphemeral})
	r := h.tree.Apply(h.next(1), close)
	assert.Equal(t, ErrOK, r.Err)
	_, ok := h.tree.Exists("/late")
	assert.False(t, ok)
	assert.Len(t, r.Events, 2)
	checkInvariants(t, h.tree)
}

func TestCloseSession_IgnoresListedPathsAlreadyGone(t *testing.T) {
	h := newHarness(t, 1)
	h.must(1, Create{Path: "/e", ACL: OpenACLUnsafe, Mode: ModeEphemeral})
	r := h.tree.Apply(h.next(1), CloseSessionTxn{Paths: []string{"/gone", "/e", "/"}})
	assert.Equal(t, ErrOK, r.Err)
	assert.Equal(t, []WatchEvent{{EventNodeDeleted, "/e"}, {EventNodeChildrenChanged, "/"}}, r.Events)
	checkInvariants(t, h.tree)
}

func TestCloseSession_UnknownSessionIsANoOp(t *testing.T) {
	h := newHarness(t, 1)
	r := h.do(42, CloseSession{})
	assert.Equal(t, Result{Op: OpCloseSession}, r)
}

func TestApply_EphemeralOfUnknownSessionIsKeptVisible(t *testing.T) {
	// ZooKeeper's apply path does not consult the session table. If a leader
	// ever proposes an ephemeral for a session that is gone, the node stays,
	// and EphemeralOwners shows an owner missing from Sessions: the kind of
	// bug (ZOOKEEPER-2355) the session checker is for.
	tr := NewTree()
	r := tr.Apply(TxnHeader{Session: 77, Zxid: 1}, CreateTxn{Path: "/orphan", ACL: OpenACLUnsafe, Mode: ModeEphemeral, ParentCVersion: -1})
	require.Equal(t, ErrOK, r.Err)
	assert.Equal(t, []int64{77}, tr.EphemeralOwners())
	assert.Empty(t, tr.Sessions())
	assert.Equal(t, int64(77), r.Stat.EphemeralOwner)
}

func TestApply_EphemeralBySessionZeroIsPersistent(t *testing.T) {
	// ephemeralOwner 0 means "not ephemeral" in ZooKeeper.
	tr := NewTree()
	r := tr.Apply(TxnHeader{Session: 0, Zxid: 1}, CreateTxn{Path: "/x", ACL: OpenACLUnsafe, Mode: ModeEphemeral, ParentCVersion: -1})
	require.Equal(t, ErrOK, r.Err)
	assert.Equal(t, int64(0), r.Stat.EphemeralOwner)
	assert.Empty(t, tr.EphemeralOwners())
	checkInvariants(t, tr)
}
