package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewTree_StartsWithZooKeeperNodes(t *testing.T) {
	tr := NewTree()
	checkInvariants(t, tr)
	assert.Equal(t, []string{"/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"}, tr.Paths())
	assert.Equal(t, 4, tr.NodeCount())

	// The built-in nodes are linked without touching the parents' counters,
	// so the visible cversion is negative, as `stat /` shows on a fresh
	// ZooKeeper.
	root, ok := tr.Exists("/")
	require.True(t, ok)
	assert.Equal(t, Stat{Cversion: -1, NumChildren: 1}, root)
	zk, _ := tr.Exists("/zookeeper")
	assert.Equal(t, Stat{Cversion: -2, NumChildren: 2}, zk)
	quota, _ := tr.Exists("/zookeeper/quota")
	assert.Equal(t, Stat{}, quota)

	acl, cfg, err := tr.GetACL("/zookeeper/config")
	require.NoError(t, err)
	assert.Equal(t, ReadACLUnsafe, acl)
	assert.Equal(t, int32(-1), cfg.Aversion, "addConfigNode sets the ACL with version -1")
	acl, _, _ = tr.GetACL("/zookeeper")
	assert.Equal(t, OpenACLUnsafe, acl)

	data, _, err := tr.GetData("/zookeeper/quota")
	require.NoError(t, err)
	assert.Equal(t, []byte{}, data)
	assert.Equal(t, Zxid(0), tr.LastZxid())
	assert.Empty(t, tr.Sessions())
}

func TestReads_MissingNodeIsNoNode(t *testing.T) {
	tr := NewTree()
	_, _, err := tr.GetData("/x")
	assert.ErrorIs(t, err, ErrNoNode)
	_, _, err = tr.Children("/x")
	assert.ErrorIs(t, err, ErrNoNode)
	_, _, err = tr.GetACL("/x")
	assert.ErrorIs(t, err, ErrNoNode)
	_, err = tr.AllChildrenNumber("/x")
	assert.ErrorIs(t, err, ErrNoNode)
	_, ok := tr.Exists("/x")
	assert.False(t, ok)
}

func TestReads_EmptyPathIsTheRootAlias(t *testing.T) {
	// ZooKeeper's node map holds the root under "" too, and its read path
	// does not validate: exists("") answers the root.
	tr := NewTree()
	s, ok := tr.Exists("")
	require.True(t, ok)
	root, _ := tr.Exists("/")
	assert.Equal(t, root, s)
}

func TestChildren_SortedCopy(t *testing.T) {
	h := newHarness(t, 1)
	for _, n := range []string{"/b", "/a", "/c", "/a0", "/B"} {
		h.must(1, Create{Path: n, ACL: OpenACLUnsafe})
	}
	kids, s, err := h.tree.Children("/")
	require.NoError(t, err)
	assert.Equal(t, []string{"B", "a", "a0", "b", "c", "zookeeper"}, kids)
	assert.Equal(t, int32(6), s.NumChildren)
	kids[0] = "mutated"
	again, _, _ := h.tree.Children("/")
	assert.Equal(t, "B", again[0], "Children returns a copy")
}

func TestAllChildrenNumber_CountsEveryDescendant(t *testing.T) {
	h := newHarness(t, 1)
	for _, p := range []string{"/a", "/a/b", "/a/b/c", "/a/d", "/ab"} {
		h.must(1, Create{Path: p, ACL: OpenACLUnsafe})
	}
	for path, want := range map[string]int{"/a": 3, "/a/b": 1, "/a/b/c": 0, "/ab": 0, "/": 8, "/zookeeper": 2} {
		n, err := h.tree.AllChildrenNumber(path)
		require.NoError(t, err)
		assert.Equal(t, want, n, path)
	}
}

func TestClone_SharesNothingMutable(t *testing.T) {
	h := fixture(t)
	c := h.tree.Clone()
	checkInvariants(t, c)
	a, _ := h.tree.MarshalBinary()
	b, _ := c.MarshalBinary()
	require.Equal(t, a, b)

	h.must(1, Create{Path: "/a/new", ACL: OpenACLUnsafe})
	h.must(1, SetData{Path: "/a", Data: []byte("changed"), Version: -1})
	h.must(1, CloseSession{})
	b2, _ := c.MarshalBinary()
	assert.Equal(t, b, b2, "changing the original changed the clone")
	kids, _, _ := c.Children("/a")
	assert.Equal(t, []string{"b"}, kids)
	assert.Equal(t, []string{"/e"}, c.Ephemerals(1))
	checkInvariants(t, c)
}
