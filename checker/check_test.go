package checker

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheck_VerdictIsTheWorstOfTheCheckers(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	rep := Check(b.h, Options{})
	assert.Equal(t, VerdictOK, rep.Verdict)
	require.Len(t, rep.Results, len(Names))
	for i, r := range rep.Results {
		assert.Equal(t, Names[i], r.Checker)
	}

	b.h.HealedAt, b.h.End = ms(10), ms(11)
	rep = Check(b.h, Options{})
	assert.Equal(t, VerdictInconclusive, rep.Verdict, "liveness cannot tell yet")

	b.h.Ops[0].Stat.Version = 3
	rep = Check(b.h, Options{})
	assert.Equal(t, VerdictViolation, rep.Verdict)
}

func TestCheck_RunsTheSelectedCheckers(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	rep := Check(b.h, Options{Checks: []string{NameRecipes, NameZxidOrder}})
	require.Len(t, rep.Results, 2)
	assert.Equal(t, NameZxidOrder, rep.Results[0].Checker)
	assert.Equal(t, NameRecipes, rep.Results[1].Checker)

	rep = Check(b.h, Options{Checks: []string{"nope"}})
	assert.Equal(t, VerdictInconclusive, rep.Verdict)
	assert.Error(t, ValidateChecks([]string{"zxid-order", "nope"}))
	assert.NoError(t, ValidateChecks(Names))
}

func TestCheck_SameHistorySameReport(t *testing.T) {
	cfg := defaultGenConfig()
	cfg.ops = 1500
	h := generate(rand.New(rand.NewPCG(3, 4)), cfg)
	// Break a few things so that the report has something to say.
	mutate(h, mutationWrongVersion, 17)
	mutate(h, mutationStaleRead, 5)
	mutate(h, mutationDuplicateNotice, 2)
	first := Check(h, Options{})
	require.Equal(t, VerdictViolation, first.Verdict)
	for range 3 {
		again := Check(h, Options{})
		assert.Equal(t, first.String(), again.String())
		for i := range first.Results {
			a, b := first.Results[i], again.Results[i]
			a.Duration, b.Duration = 0, 0
			assert.Equal(t, a, b)
		}
	}
}
