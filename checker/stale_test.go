package checker

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"zoosim/model"
)

func TestStaleReads_ReadEqualsTheStateAtItsZxid(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	old := b.last()
	b.write(1, 1, setData("/a", "y", -1), ms(3), ms(4))
	b.write(1, 1, create("/a/k", ""), ms(3), ms(4))
	// Session 2 has seen nothing newer than old: a follower may answer
	// from there.
	b.read(2, 2, getData("/a"), ms(5), ms(6), old)
	b.read(2, 2, Op{Kind: OpExists, Path: "/a"}, ms(7), ms(8), old)
	b.read(2, 2, Op{Kind: OpGetChildren, Path: "/a"}, ms(9), ms(10), old)
	b.read(2, 2, Op{Kind: OpExists, Path: "/a/k"}, ms(11), ms(12), old)
	b.read(2, 2, Op{Kind: OpGetChildren, Path: "/a"}, ms(13), ms(14), -1)
	res := CheckStaleReads(b.h, Options{})
	requireVerdict(t, VerdictOK, res)
	assert.Contains(t, res.Explanation, "5 reads")
}

func TestStaleReads_FailsWhenAReadIsNotTheStateAtItsZxid(t *testing.T) {
	cases := []struct {
		name  string
		read  Op
		wrong func(*Op)
	}{
		{"getData data", getData("/a"), func(op *Op) { op.ResultData = []byte("y") }},
		{"getData version", getData("/a"), func(op *Op) { op.Stat.Version = 1 }},
		{"getData mzxid", getData("/a"), func(op *Op) { op.Stat.Mzxid++ }},
		{"exists of a missing node", Op{Kind: OpExists, Path: "/a/k"}, func(op *Op) {
			op.Err, op.Stat = model.ErrOK, model.Stat{Czxid: 1}
		}},
		{"exists stat", Op{Kind: OpExists, Path: "/a"}, func(op *Op) { op.Stat.NumChildren = 1 }},
		{"getChildren", Op{Kind: OpGetChildren, Path: "/a"}, func(op *Op) { op.Children = []string{"k"} }},
		{"NoNode for a node that exists", getData("/a"), func(op *Op) { op.Err, op.ResultData, op.Stat = model.ErrNoNode, nil, model.Stat{} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBuilder(t, 1, 2)
			b.write(1, 1, create("/a", "x"), ms(1), ms(2))
			old := b.last()
			b.write(1, 1, setData("/a", "y", -1), ms(3), ms(4))
			b.write(1, 1, create("/a/k", ""), ms(3), ms(4))
			r := b.read(2, 2, c.read, ms(5), ms(6), old)
			requireVerdict(t, VerdictOK, CheckStaleReads(b.h, Options{}))
			c.wrong(&b.h.Ops[r])
			res := CheckStaleReads(b.h, Options{})
			requireVerdict(t, VerdictViolation, res)
			assert.Equal(t, []int{r}, res.Ops)
			assert.Contains(t, res.Explanation, "does not match the committed state")
		})
	}
}

func TestStaleReads_FailsWhenOlderThanWhatTheSessionHadSeen(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	old := b.last()
	b.write(1, 1, setData("/a", "y", -1), ms(3), ms(4))
	r := b.read(1, 1, getData("/a"), ms(5), ms(6), old) // the session wrote y, then reads x
	res := CheckStaleReads(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, "older than zxid")
	assert.Equal(t, []int{1, r}, res.Ops)
}

func TestStaleReads_FailsBeyondTheLastCommittedTxn(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	r := b.read(1, 1, getData("/a"), ms(3), ms(4), -1)
	b.h.Ops[r].Zxid = b.last() + 1
	res := CheckStaleReads(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, "beyond the last txn")
}

func TestStaleReads_InconclusiveWithoutAppliedTxns(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.read(1, 1, getData("/a"), ms(3), ms(4), -1)
	b.h.Applied = nil
	requireVerdict(t, VerdictInconclusive, CheckStaleReads(b.h, Options{}))
}

func TestStaleReads_ReadsInAnyOrderAreAnsweredByOneReplay(t *testing.T) {
	sessions := []int64{1}
	for s := int64(100); s < 121; s++ {
		sessions = append(sessions, s)
	}
	b := newBuilder(t, sessions...)
	b.write(1, 1, create("/a", "0"), ms(1), ms(2))
	zs := []model.Zxid{b.last()}
	for i := range 20 {
		b.write(1, 1, setData("/a", string(rune('a'+i)), -1), ms(float64(3+i)), ms(float64(3+i)+0.5))
		zs = append(zs, b.last())
	}
	// Reads recorded newest first, each by a session that saw nothing else.
	for i := len(zs) - 1; i >= 0; i-- {
		b.read(2, 100+int64(i), getData("/a"), ms(50), ms(51), zs[i])
	}
	requireVerdict(t, VerdictOK, CheckStaleReads(b.h, Options{}))
	b.h.Ops[len(b.h.Ops)-3].ResultData = []byte("?")
	res := CheckStaleReads(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Equal(t, []int{len(b.h.Ops) - 3}, res.Ops)
}

func TestStaleReads_FailsWhenAReadSeesAWriteCalledAfterIt(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	r := b.read(2, 2, getData("/a"), ms(3), ms(4), -1)
	w := b.write(1, 1, setData("/a", "y", -1), ms(5), ms(6))
	requireVerdict(t, VerdictOK, CheckStaleReads(b.h, Options{}))

	// The read returned at 4ms the state after a write called at 5ms.
	data, st, _ := b.states[b.last()].GetData("/a")
	b.h.Ops[r].Zxid, b.h.Ops[r].ResultData, b.h.Ops[r].Stat = b.last(), data, st
	res := CheckStaleReads(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Equal(t, []int{r, w}, res.Ops)
	assert.Contains(t, res.Explanation, "called only at 5.000ms")
}

func TestStaleReads_EphemeralsAndSessionsAreInTheReplay(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, createMode("/e", model.ModeEphemeral), ms(1), ms(2))
	seen := b.read(2, 2, Op{Kind: OpExists, Path: "/e"}, ms(3), ms(4), -1)
	b.closeSession(1)
	gone := b.read(2, 2, Op{Kind: OpExists, Path: "/e"}, ms(5), ms(6), -1)
	requireVerdict(t, VerdictOK, CheckStaleReads(b.h, Options{}))

	b.h.Ops[gone].Err, b.h.Ops[gone].Stat = model.ErrOK, b.h.Ops[seen].Stat // a server kept it
	res := CheckStaleReads(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, "the node did not exist")
}
