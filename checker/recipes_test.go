package checker

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"zoosim/model"
)

func z(n uint32) model.Zxid { return model.MakeZxid(1, n) }

func TestRecipes_HoldersFollowEachOtherInZxidOrder(t *testing.T) {
	h := &History{Claims: []RecipeClaim{
		{Recipe: "master", Client: 1, Session: 1, FromZxid: z(3), ToZxid: z(9)},
		{Recipe: "master", Client: 2, Session: 2, FromZxid: z(9), ToZxid: z(12)},
		{Recipe: "master", Client: 1, Session: 3, FromZxid: z(15)}, // still master at the end
		{Recipe: "lock:/l", Client: 1, Session: 1, FromZxid: z(4), ToZxid: z(20)},
		{Recipe: "lock:/l", Client: 1, Session: 1, FromZxid: z(5), ToZxid: z(6)}, // the same holder
	}}
	requireVerdict(t, VerdictOK, CheckRecipes(h, Options{}))
}

func TestRecipes_FailsWhenTwoClientsHoldMastershipAtOnce(t *testing.T) {
	h := &History{Claims: []RecipeClaim{
		{Recipe: "master", Client: 1, Session: 1, FromZxid: z(3), ToZxid: z(9)},
		{Recipe: "master", Client: 2, Session: 2, FromZxid: z(8), ToZxid: z(12)},
	}}
	res := CheckRecipes(h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Equal(t, []model.Zxid{z(3), z(8)}, res.Txns)
	assert.Contains(t, res.Explanation, "master")
}

func TestRecipes_AnOpenClaimExtendsToTheEnd(t *testing.T) {
	h := &History{Claims: []RecipeClaim{
		{Recipe: "lock:/l", Client: 1, Session: 1, FromZxid: z(3)},
		{Recipe: "lock:/l", Client: 2, Session: 2, FromZxid: z(100), ToZxid: z(101)},
	}}
	requireVerdict(t, VerdictViolation, CheckRecipes(h, Options{}))
}
