package node

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBuggify_NilAndOffPointsNeverFire(t *testing.T) {
	var b *Buggify
	require.False(t, b.Fire("zab/sync-snap", 1000))
	plan := NewBuggifyPlan([]string{"a"})
	on := plan.For(rand.New(rand.NewPCG(1, 2)))
	for range 100 {
		require.False(t, on.Fire("b", 1000), "a point the plan does not switch on")
	}
	require.Nil(t, NewBuggifyPlan(nil).For(rand.New(rand.NewPCG(1, 2))), "an empty plan gives no Buggify")
	require.Equal(t, "none", NewBuggifyPlan(nil).String())
}

func TestBuggify_FiresAtItsRateAndCountsFires(t *testing.T) {
	plan := NewBuggifyPlan([]string{"z", "a", "z"})
	require.Equal(t, []string{"a", "z"}, plan.Points())
	require.Equal(t, "a,z", plan.String())
	b := plan.For(rand.New(rand.NewPCG(3, 4)))
	fired := 0
	for range 10_000 {
		if b.Fire("a", 100) {
			fired++
		}
	}
	require.InDelta(t, 1000, fired, 150, "about 10%%")
	require.True(t, b.Fire("z", 1000), "permille 1000 always fires")
	require.False(t, b.Fire("z", 0), "permille 0 never fires")
	require.Equal(t, []string{"a=" + itoaTest(fired), "z=1"}, plan.Fired())
}

func TestBuggify_SameStreamSameChoices(t *testing.T) {
	draw := func() []bool {
		b := NewBuggifyPlan([]string{"p"}).For(rand.New(rand.NewPCG(9, 9)))
		out := make([]bool, 200)
		for i := range out {
			out[i] = b.Fire("p", 300)
		}
		return out
	}
	require.Equal(t, draw(), draw())
}

func TestMsgName(t *testing.T) {
	require.Equal(t, "", MsgName(42))
	require.Equal(t, "x", MsgName(namedBody("x")))
}

type namedBody string

func (n namedBody) MsgName() string { return string(n) }

func itoaTest(n int) string { return strconv.Itoa(n) }
