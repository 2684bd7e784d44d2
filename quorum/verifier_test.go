package quorum

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"zoosim/node"
)

func TestSet_Basics(t *testing.T) {
	s := SetOf(1, 3, 5)
	assert.Equal(t, 3, s.Len())
	assert.True(t, s.Has(3))
	assert.False(t, s.Has(2))
	assert.False(t, s.Has(0))
	assert.False(t, s.Has(64))
	assert.Equal(t, []node.ID{1, 3, 5}, s.IDs())
	assert.Equal(t, "{1,3,5}", s.String())
	assert.Equal(t, SetOf(1, 5), s.Remove(3))
	assert.Equal(t, SetOf(1, 2, 3), Range(3))
	assert.Panics(t, func() { SetOf(0) })
	assert.Panics(t, func() { SetOf(64) })
}

func TestMajority_StrictMoreThanHalf(t *testing.T) {
	for _, tc := range []struct {
		n    int
		set  Set
		want bool
	}{
		{1, SetOf(1), true},
		{3, SetOf(1), false},
		{3, SetOf(1, 2), true},
		{4, SetOf(1, 2), false}, // half of an even ensemble is not a quorum
		{4, SetOf(1, 2, 3), true},
		{5, SetOf(2, 4), false},
		{5, SetOf(2, 4, 5), true},
		{3, SetOf(1, 7, 8), false}, // non-voters do not count
	} {
		t.Run(fmt.Sprintf("n%d_%v", tc.n, tc.set), func(t *testing.T) {
			m := NewMajority(tc.n)
			assert.Equal(t, tc.want, m.IsCommitQuorum(tc.set))
			assert.Equal(t, tc.want, m.IsElectionQuorum(tc.set))
		})
	}
}

func TestFixed_UnsafeBelowHalf(t *testing.T) {
	f, err := NewFixed(5, 2)
	require.NoError(t, err)
	assert.True(t, f.IsCommitQuorum(SetOf(1, 2)))
	assert.True(t, f.IsCommitQuorum(SetOf(3, 4)))
	assert.False(t, f.Safe(), "2 of 5: {1,2} and {3,4} both decide")
	f3, _ := NewFixed(5, 3)
	assert.True(t, f3.Safe())
	f2of4, _ := NewFixed(4, 2)
	assert.False(t, f2of4.Safe())
	_, err = NewFixed(3, 0)
	assert.Error(t, err)
	_, err = NewFixed(3, 4)
	assert.Error(t, err)
}

func TestFlexible_SafeWhenSizesExceedEnsemble(t *testing.T) {
	f, err := NewFlexible(5, 2, 4)
	require.NoError(t, err)
	assert.True(t, f.Safe())
	assert.True(t, f.IsElectionQuorum(SetOf(1, 2)))
	assert.False(t, f.IsCommitQuorum(SetOf(1, 2, 3)))
	g, _ := NewFlexible(5, 2, 3)
	assert.False(t, g.Safe())
}

func TestHierarchical_MajorityOfWeightInMajorityOfGroups(t *testing.T) {
	// ZooKeeper's documented example: three groups of three, weight 1 each:
	// two servers from each of two groups form a quorum.
	h, err := NewHierarchical([]Group{{Members: []node.ID{1, 2, 3}}, {Members: []node.ID{4, 5, 6}}, {Members: []node.ID{7, 8, 9}}})
	require.NoError(t, err)
	assert.True(t, h.IsCommitQuorum(SetOf(1, 2, 4, 5)))
	assert.False(t, h.IsCommitQuorum(SetOf(1, 2, 3, 4)), "one group won only")
	assert.False(t, h.IsCommitQuorum(SetOf(1, 4, 7, 2)), "groups 1 won, 2 and 3 lost")

	// Zero-weight groups are discarded; zero-weight servers never count.
	w, err := NewHierarchical([]Group{
		{Members: []node.ID{1, 2, 3}, Weights: []int{2, 1, 0}},
		{Members: []node.ID{4, 5}, Weights: []int{0, 0}},
	})
	require.NoError(t, err)
	assert.True(t, w.IsCommitQuorum(SetOf(1)), "server 1 holds 2 of 3 weight in the only weighted group")
	assert.False(t, w.IsCommitQuorum(SetOf(2, 3, 4, 5)))
	assert.Equal(t, 2, w.Weight(1))
	assert.Equal(t, 0, w.Weight(9))

	_, err = NewHierarchical([]Group{{Members: []node.ID{1}}, {Members: []node.ID{1}}})
	assert.ErrorContains(t, err, "more than one group")
	_, err = NewHierarchical([]Group{{Members: []node.ID{1}, Weights: []int{0}}})
	assert.ErrorContains(t, err, "zero weight")
}

func TestParse_Spellings(t *testing.T) {
	for _, tc := range []struct {
		spec, want string
		n          int
		safe       bool
	}{
		{"majority", "majority", 5, true},
		{"2", "2", 5, false},
		{"3", "3", 5, true},
		{"flex:2:4", "flex:2:4", 5, true},
		{"hier:1=1,2=1,3=1|4=1,5=1,6=1|7=1,8=1,9=1", "hier:1=1,2=1,3=1|4=1,5=1,6=1|7=1,8=1,9=1", 9, true},
	} {
		v, err := Parse(tc.spec, tc.n)
		require.NoError(t, err, tc.spec)
		assert.Equal(t, tc.want, v.String())
		assert.Equal(t, tc.safe, v.Safe(), tc.spec)
	}
	for _, bad := range []string{"0", "6", "two", "flex:2", "flex:a:b", "hier:1=1,2", "hier:1=1|2=x", "hier:1=1,2=1", "2x"} {
		_, err := Parse(bad, 5)
		assert.Error(t, err, bad)
	}
}

// drawVerifier draws any kind of verifier over n servers (n up to 9).
func drawVerifier(t *rapid.T, n int) Verifier {
	switch rapid.IntRange(0, 3).Draw(t, "kind") {
	case 0:
		return NewMajority(n)
	case 1:
		f, err := NewFixed(n, rapid.IntRange(1, n).Draw(t, "k"))
		if err != nil {
			t.Fatal(err)
		}
		return f
	case 2:
		f, err := NewFlexible(n, rapid.IntRange(1, n).Draw(t, "e"), rapid.IntRange(1, n).Draw(t, "c"))
		if err != nil {
			t.Fatal(err)
		}
		return f
	default:
		groups := rapid.IntRange(1, n).Draw(t, "groups")
		gs := make([]Group, groups)
		for id := 1; id <= n; id++ {
			g := rapid.IntRange(0, groups-1).Draw(t, "group")
			gs[g].Members = append(gs[g].Members, node.ID(id))
			gs[g].Weights = append(gs[g].Weights, rapid.IntRange(0, 3).Draw(t, "weight"))
		}
		var kept []Group
		for _, g := range gs {
			if len(g.Members) > 0 {
				kept = append(kept, g)
			}
		}
		h, err := NewHierarchical(kept)
		if err != nil {
			t.Skip("all weights zero")
		}
		return h
	}
}

func TestProperty_MajoritiesAlwaysIntersect(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 15).Draw(t, "n")
		m := NewMajority(n)
		a := Set(rapid.Uint64().Draw(t, "a")) & m.Voters()
		b := Set(rapid.Uint64().Draw(t, "b")) & m.Voters()
		if m.IsCommitQuorum(a) && m.IsCommitQuorum(b) {
			require.NotZero(t, a&b, "majorities %v and %v of %d are disjoint", a, b, n)
		}
	})
}

func TestProperty_SafeAgreesWithBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 9).Draw(t, "n")
		v := drawVerifier(t, n)
		want, e, c, err := SafeByEnumeration(v)
		require.NoError(t, err)
		require.Equal(t, want, v.Safe(), "%s over %d servers: brute force found election %v and commit %v disjoint", v, n, e, c)
		if !want {
			require.Zero(t, e&c)
			require.True(t, v.IsElectionQuorum(e) && v.IsCommitQuorum(c))
		}
	})
}

func TestProperty_VerifiersAreMonotone(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 9).Draw(t, "n")
		v := drawVerifier(t, n)
		s := Set(rapid.Uint64().Draw(t, "s")) & v.Voters()
		extra := node.ID(rapid.IntRange(1, n).Draw(t, "extra"))
		if v.IsCommitQuorum(s) {
			require.True(t, v.IsCommitQuorum(s.Add(extra)))
		}
		if v.IsElectionQuorum(s) {
			require.True(t, v.IsElectionQuorum(s.Add(extra)))
		}
	})
}
