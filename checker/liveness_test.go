package checker

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"zoosim/node"
)

func healedHistory(t *testing.T, writeAt float64) *History {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/a", ""), ms(1), ms(2)) // before the heal: does not count
	b.h.HealedAt = ms(1000)
	if writeAt > 0 {
		b.write(1, 1, setData("/a", "x", -1), ms(writeAt-1), ms(writeAt))
	}
	b.h.End = ms(20_000)
	return b.h
}

func TestLiveness_AWriteIsServedWithinTheBoundAfterTheHeal(t *testing.T) {
	h := healedHistory(t, 1500)
	res := CheckLiveness(h, Options{LivenessBound: node.Second})
	requireVerdict(t, VerdictOK, res)
	assert.Contains(t, res.Explanation, "0.500s after the heal")
}

func TestLiveness_FailsWhenTheFirstWriteComesTooLate(t *testing.T) {
	h := healedHistory(t, 2500)
	res := CheckLiveness(h, Options{LivenessBound: node.Second})
	requireVerdict(t, VerdictViolation, res)
	assert.Equal(t, []int{1}, res.Ops)
}

func TestLiveness_FailsWhenNoWriteIsServedAfterTheHeal(t *testing.T) {
	h := healedHistory(t, 0)
	requireVerdict(t, VerdictViolation, CheckLiveness(h, Options{LivenessBound: node.Second}))
}

func TestLiveness_InconclusiveWhenTheRunEndsWithinTheBound(t *testing.T) {
	h := healedHistory(t, 0)
	h.End = ms(1500)
	requireVerdict(t, VerdictInconclusive, CheckLiveness(h, Options{LivenessBound: node.Second}))
}

func TestLiveness_UsesTheRecordedFirstWriteAfterHeal(t *testing.T) {
	h := healedHistory(t, 0)
	h.FirstWriteAfterHeal = ms(1200)
	requireVerdict(t, VerdictOK, CheckLiveness(h, Options{LivenessBound: node.Second}))
	h.FirstWriteAfterHeal = ms(2200)
	requireVerdict(t, VerdictViolation, CheckLiveness(h, Options{LivenessBound: node.Second}))
}

func TestLiveness_UnsafeQuorumsAndUnhealedRunsAreExempt(t *testing.T) {
	h := healedHistory(t, 0)
	h.QuorumSafe = false
	requireVerdict(t, VerdictOK, CheckLiveness(h, Options{LivenessBound: node.Second}))
	h.QuorumSafe, h.HealedAt = true, 0
	requireVerdict(t, VerdictOK, CheckLiveness(h, Options{LivenessBound: node.Second}))
}
