package checker

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"zoosim/model"
)

func TestLostWrites_NoneWhenEveryAcknowledgedWriteIsCommitted(t *testing.T) {
	b := agreementHistory(t)
	assert.Empty(t, LostWrites(b.h))
	assert.Empty(t, LostWrites(nil))
}

func TestLostWrites_ListsWritesMissingFromTheSequence(t *testing.T) {
	b := agreementHistory(t)
	lost := b.h.Ops[3].Zxid
	for s := range b.h.Applied {
		b.h.Applied[s] = slices.DeleteFunc(slices.Clone(b.h.Applied[s]), func(tx Txn) bool { return tx.Zxid == lost })
	}
	assert.Equal(t, []int{3}, LostWrites(b.h))
}

func TestLostWrites_ListsWritesCommittedAsAnotherTxn(t *testing.T) {
	b := agreementHistory(t)
	for s := range b.h.Applied {
		b.h.Applied[s] = slices.Clone(b.h.Applied[s])
		for i, tx := range b.h.Applied[s] {
			if tx.Zxid == b.h.Ops[1].Zxid {
				b.h.Applied[s][i].Txn = model.SetDataTxn{Path: "/a", Data: []byte("other"), Version: 1}
			}
		}
	}
	assert.Equal(t, []int{1}, LostWrites(b.h))
}

// TestLostWrites_NotOtherBrokenPromises: a divergence between servers that
// every acknowledged write survives is a violation of agreement, not a lost
// write.
func TestLostWrites_NotOtherBrokenPromises(t *testing.T) {
	b := agreementHistory(t)
	b.h.Applied[2] = slices.Clone(b.h.Applied[2])
	b.h.Applied[2][4].Digest ^= 1
	requireVerdict(t, VerdictViolation, CheckAgreement(b.h, Options{}))
	assert.Empty(t, LostWrites(b.h))
}
