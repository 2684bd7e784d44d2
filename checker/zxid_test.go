package checker

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"zoosim/model"
)

func TestZxidOrder_EachAcknowledgedWriteHasItsOwnZxid(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(3))
	w := b.write(2, 2, create("/b", "x"), ms(1), ms(3))
	requireVerdict(t, VerdictOK, CheckZxidOrder(b.h, Options{}))

	b.h.Ops[w].Zxid = b.h.Ops[0].Zxid
	res := CheckZxidOrder(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Equal(t, []int{0, w}, res.Ops)
	assert.Contains(t, res.Explanation, "both got zxid")
}

func TestZxidOrder_RealTimeOrderOfWritesAgreesWithZxidOrder(t *testing.T) {
	b := newBuilder(t, 1, 2)
	first := b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	second := b.write(2, 2, create("/b", "x"), ms(3), ms(4))
	requireVerdict(t, VerdictOK, CheckZxidOrder(b.h, Options{}))

	// Concurrent writes may take their zxids in either order.
	b.h.Ops[first].Return = ms(3.5)
	b.h.Ops[first].Zxid, b.h.Ops[second].Zxid = b.h.Ops[second].Zxid, b.h.Ops[first].Zxid
	requireVerdict(t, VerdictOK, CheckZxidOrder(b.h, Options{}))
}

func TestZxidOrder_FailsWhenALaterWriteHasASmallerZxid(t *testing.T) {
	b := newBuilder(t, 1, 2)
	first := b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	second := b.write(2, 2, create("/b", "x"), ms(3), ms(4))
	b.h.Ops[first].Zxid, b.h.Ops[second].Zxid = b.h.Ops[second].Zxid, b.h.Ops[first].Zxid
	res := CheckZxidOrder(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Equal(t, []int{first, second}, res.Ops)
	assert.Contains(t, res.Explanation, "returned")
}

func TestZxidOrder_LinearizableReadSeesWritesThatReturnedBeforeIt(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	old := b.last()
	b.write(1, 1, setData("/a", "y", -1), ms(3), ms(4))
	read := b.read(2, 2, linGetData("/a"), ms(5), ms(6), -1)
	b.write(1, 1, setData("/a", "z", -1), ms(7), ms(8))
	requireVerdict(t, VerdictOK, CheckZxidOrder(b.h, Options{}))

	b.h.Ops[read].Zxid = old
	res := CheckZxidOrder(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, "missed the write")
}

func TestZxidOrder_FailsWhenALinearizableReadSeesAWriteCalledAfterIt(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	read := b.read(2, 2, linGetData("/a"), ms(3), ms(4), -1)
	b.write(1, 1, setData("/a", "y", -1), ms(5), ms(6))
	b.h.Ops[read].Zxid = b.last()
	requireVerdict(t, VerdictViolation, CheckZxidOrder(b.h, Options{}))
}

func TestZxidOrder_SessionZxidNeverDecreases(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.write(2, 2, create("/b", "x"), ms(1), ms(2))
	// Session 1 moves to server 2, which is at least as far along.
	r := b.read(1, 1, getData("/b"), ms(3), ms(4), -1)
	b.h.Ops[r].Server = 2
	b.read(1, 1, getData("/a"), ms(5), ms(6), -1)
	requireVerdict(t, VerdictOK, CheckZxidOrder(b.h, Options{}))
}

func TestZxidOrder_SessionZxidNeverDecreases_FailsWhenItDecreases(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	mid := b.last()
	b.write(2, 2, create("/b", "x"), ms(1), ms(2))
	b.read(1, 1, getData("/b"), ms(3), ms(4), -1)
	// After a reconnect, session 1 is answered by a server that is behind.
	back := b.read(1, 1, getData("/a"), ms(5), ms(6), mid)
	b.h.Ops[back].Server = 3
	res := CheckZxidOrder(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, "never go back")
	assert.Equal(t, []int{2, back}, res.Ops)
}

func TestZxidOrder_UnknownAndRefusedOpsAreNotOrdered(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.unknown(2, 2, setData("/a", "y", -1), ms(3), true)
	b.add(Op{Client: 2, Session: 2, Kind: OpCreate, Path: "bad", Call: ms(4), Return: ms(5), Err: model.ErrBadArguments})
	b.write(1, 1, setData("/a", "z", -1), ms(6), ms(7))
	requireVerdict(t, VerdictOK, CheckZxidOrder(b.h, Options{}))
}

func TestZxidOrder_EphemeralsAndSessionEndsFollowTheSameRules(t *testing.T) {
	b := newBuilder(t, 1, 2)
	e := b.write(1, 1, createMode("/e", model.ModeEphemeral), ms(1), ms(2))
	b.read(1, 1, Op{Kind: OpExists, Path: "/e"}, ms(3), ms(4), -1)
	b.closeSession(1)
	b.write(2, 2, createMode("/e", model.ModeEphemeral), ms(5), ms(6)) // the node is free again
	requireVerdict(t, VerdictOK, CheckZxidOrder(b.h, Options{}))

	// Session 1 then reads an older state than its own create.
	r := b.read(1, 1, Op{Kind: OpExists, Path: "/e"}, ms(3.5), ms(4.5), b.h.Ops[e].Zxid-1)
	res := CheckZxidOrder(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Equal(t, []int{e, r}, res.Ops)
}
