package model

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// harness drives a tree the way a leader and its replicas do: Prepare, then
// Apply with the next zxid and a clock that advances by one second per txn.
type harness struct {
	tb      testing.TB
	tree    *Tree
	counter uint32
	nowMs   int64
}

func newHarness(tb testing.TB, sessions ...int64) *harness {
	h := &harness{tb: tb, tree: NewTree(), nowMs: 1_000_000}
	for _, s := range sessions {
		r := h.do(s, CreateSession{TimeoutMs: 30000})
		require.Equal(tb, ErrOK, r.Err)
	}
	return h
}

// next returns the header of the next txn.
func (h *harness) next(session int64) TxnHeader {
	h.counter++
	h.nowMs += 1000
	return TxnHeader{Session: session, Zxid: MakeZxid(1, h.counter), TimeMs: h.nowMs}
}

// do prepares and applies one request and checks the tree's invariants.
func (h *harness) do(session int64, req Request) Result {
	txn := Prepare(h.tree, session, req, h.nowMs)
	r := h.tree.Apply(h.next(session), txn)
	checkInvariants(h.tb, h.tree)
	return r
}

// must is do for a request that has to succeed.
func (h *harness) must(session int64, req Request) Result {
	r := h.do(session, req)
	require.Equal(h.tb, ErrOK, r.Err, "request %#v", req)
	return r
}

func (h *harness) stat(path string) Stat {
	s, ok := h.tree.Exists(path)
	require.True(h.tb, ok, "node %s", path)
	return s
}

// tHelper is what both *testing.T and *rapid.T offer.
type tHelper interface {
	require.TestingT
	Helper()
}

// checkInvariants holds the tree to what its indexes and digest promise.
func checkInvariants(tb tHelper, t *Tree) {
	tb.Helper()
	require.Equal(tb, t.recomputeDigest(), t.digest, "digest drifted from the tree")
	for p, n := range t.nodes {
		if p != "/" {
			parent, _ := parentPath(p)
			pn := t.nodes[parent]
			require.NotNil(tb, pn, "parent of %s", p)
			require.Contains(tb, pn.children, baseName(p))
		}
		for _, c := range n.children {
			require.NotNil(tb, t.nodes[childPath(p, c)], "child %s of %s", c, p)
		}
		require.IsIncreasing(tb, n.children)
		_, inContainers := t.containers[p]
		_, inTTLs := t.ttls[p]
		_, inEphemerals := t.ephemerals[n.owner][p]
		require.Equal(tb, n.kind == kindContainer, inContainers, p)
		require.Equal(tb, n.kind == kindTTL, inTTLs, p)
		require.Equal(tb, n.kind == kindEphemeral, inEphemerals, p)
		if n.kind == kindEphemeral {
			require.Empty(tb, n.children, "ephemeral %s has children", p)
		}
	}
	for owner, set := range t.ephemerals {
		require.NotEmpty(tb, set, "empty ephemeral set kept for %d", owner)
		for p := range set {
			n := t.nodes[p]
			require.NotNil(tb, n, "indexed ephemeral %s missing", p)
			require.Equal(tb, owner, n.owner)
		}
	}
	for p := range t.containers {
		require.NotNil(tb, t.nodes[p])
	}
	for p := range t.ttls {
		require.NotNil(tb, t.nodes[p])
	}
}
