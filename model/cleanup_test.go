package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCleanupCandidates_ContainerOnceItHadAChildAndHasNone(t *testing.T) {
	h := newHarness(t, 1)
	h.must(1, Create{Path: "/c", ACL: OpenACLUnsafe, Mode: ModeContainer})
	assert.Empty(t, h.tree.CleanupCandidates(h.nowMs+1e9), "a fresh container is not swept before use")
	h.must(1, Create{Path: "/c/x", ACL: OpenACLUnsafe})
	assert.Empty(t, h.tree.CleanupCandidates(h.nowMs), "it has a child")
	h.must(1, Delete{Path: "/c/x", Version: -1})
	assert.Equal(t, []string{"/c"}, h.tree.CleanupCandidates(h.nowMs))

	// The sweep's delete removes it.
	r := h.do(0, DeleteContainer{Path: "/c"})
	assert.Equal(t, Result{Op: OpDelete, Path: "/c", Events: []WatchEvent{
		{EventNodeDeleted, "/c"}, {EventNodeChildrenChanged, "/"},
	}}, r)
	assert.Empty(t, h.tree.CleanupCandidates(h.nowMs))
}

func TestCleanupCandidates_ContainerEmptiedBySessionClose(t *testing.T) {
	h := newHarness(t, 1)
	h.must(1, Create{Path: "/lock", ACL: OpenACLUnsafe, Mode: ModeContainer})
	h.must(1, Create{Path: "/lock/n", ACL: OpenACLUnsafe, Mode: ModeEphemeralSequential})
	assert.Empty(t, h.tree.CleanupCandidates(h.nowMs))
	h.must(1, CloseSession{})
	assert.Equal(t, []string{"/lock"}, h.tree.CleanupCandidates(h.nowMs))
}

func TestCleanupCandidates_TTLNodeIdleLongerThanItsTTL(t *testing.T) {
	h := newHarness(t, 1)
	h.must(1, Create{Path: "/t", ACL: OpenACLUnsafe, Mode: ModePersistentWithTTL, TTL: 5000})
	mtime := h.stat("/t").Mtime
	assert.Empty(t, h.tree.CleanupCandidates(mtime+5000), "now - mtime must exceed the TTL")
	assert.Equal(t, []string{"/t"}, h.tree.CleanupCandidates(mtime+5001))

	h.must(1, Create{Path: "/t/child", ACL: OpenACLUnsafe})
	assert.Empty(t, h.tree.CleanupCandidates(mtime+1e9), "a TTL node with children stays")
	h.must(1, Delete{Path: "/t/child", Version: -1})

	h.must(1, SetData{Path: "/t", Data: []byte("touch"), Version: -1})
	newMtime := h.stat("/t").Mtime
	assert.Greater(t, newMtime, mtime)
	assert.Empty(t, h.tree.CleanupCandidates(newMtime+5000), "setData refreshes mtime")
	assert.Equal(t, []string{"/t"}, h.tree.CleanupCandidates(newMtime+5001))
}

func TestCleanupCandidates_SortedAndIgnoresOtherKinds(t *testing.T) {
	h := newHarness(t, 1)
	for _, p := range []string{"/z", "/b", "/m"} {
		h.must(1, Create{Path: p, ACL: OpenACLUnsafe, Mode: ModeContainer})
		h.must(1, Create{Path: p + "/x", ACL: OpenACLUnsafe})
		h.must(1, Delete{Path: p + "/x", Version: -1})
	}
	h.must(1, Create{Path: "/k", ACL: OpenACLUnsafe, Mode: ModePersistentSequentialWithTTL, TTL: 1})
	h.must(1, Create{Path: "/p", ACL: OpenACLUnsafe})
	h.must(1, Create{Path: "/p/x", ACL: OpenACLUnsafe})
	h.must(1, Delete{Path: "/p/x", Version: -1})
	h.must(1, Create{Path: "/e", ACL: OpenACLUnsafe, Mode: ModeEphemeral})
	assert.Equal(t, []string{"/b", "/k0000000003", "/m", "/z"}, h.tree.CleanupCandidates(h.nowMs+10))
}
