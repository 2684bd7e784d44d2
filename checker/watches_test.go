package checker

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"zoosim/model"
	"zoosim/node"
)

// watchHistory: client 2 leaves a data watch on /a, client 1 changes /a,
// client 2 gets the notice and then reads the new data.
func watchHistory(t *testing.T) (b *builder, reg, change int, readAfter int) {
	b = newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	reg = b.read(2, 2, Op{Kind: OpGetData, Path: "/a", Watch: true}, ms(3), ms(4), -1)
	change = b.write(1, 1, setData("/a", "y", -1), ms(5), ms(6))
	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDataChanged, "/a", b.last(), ms(5.5), reg))
	readAfter = b.read(2, 2, getData("/a"), ms(7), ms(8), -1)
	return b, reg, change, readAfter
}

func notice(client node.ID, session int64, typ model.EventType, path string, z model.Zxid, at node.Time, reg int) WatchNotice {
	return WatchNotice{Client: client, Session: session, Server: 1, Type: typ, Path: path, Zxid: z, Time: at, Registered: reg}
}

func TestWatches_FireOnceForARealChangeBeforeTheNewDataIsRead(t *testing.T) {
	b, _, _, _ := watchHistory(t)
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
}

func TestWatches_FailsWhenAWatchFiresTwice(t *testing.T) {
	b, reg, _, _ := watchHistory(t)
	b.h.Watches = append(b.h.Watches, b.h.Watches[0])
	b.h.Watches[1].Time = ms(6.5)
	res := CheckWatches(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, "fired twice")
	assert.Equal(t, []int{reg}, res.Ops)
}

func TestWatches_FailsWithAnEventTypeTheWatchNeverGets(t *testing.T) {
	b, _, _, _ := watchHistory(t)
	b.h.Watches[0].Type = model.EventNodeCreated
	res := CheckWatches(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, "never gets")
}

func TestWatches_FailsWithoutAChangeAfterTheWatchWasSet(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.write(1, 1, setData("/a", "y", -1), ms(3), ms(4))
	changed := b.last()
	reg := b.read(2, 2, Op{Kind: OpGetData, Path: "/a", Watch: true}, ms(5), ms(6), -1)
	// The notice is for the setData the read already saw.
	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDataChanged, "/a", changed, ms(7), reg))
	res := CheckWatches(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, "no committed txn in between made that change")
}

func TestWatches_FailsWhenTheClientReadsTheNewDataBeforeTheNotice(t *testing.T) {
	b, reg, _, readAfter := watchHistory(t)
	b.h.Watches[0].Time = ms(9)
	res := CheckWatches(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Equal(t, []int{reg, readAfter}, res.Ops)
	assert.Contains(t, res.Explanation, "before the notice arrived")
}

func TestWatches_FailsWhenTheNoticeNeverArrivesButTheClientReadsTheNewData(t *testing.T) {
	b, _, _, _ := watchHistory(t)
	b.h.Watches = nil
	res := CheckWatches(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, "no notice ever arrived")
}

func TestWatches_FailsWhenANoticeNamesAnOpThatSetNoWatch(t *testing.T) {
	b, _, change, _ := watchHistory(t)
	stray := b.h.Watches[0]
	stray.Registered, stray.Time = change, ms(6)
	b.h.Watches = append(b.h.Watches, stray)
	res := CheckWatches(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, "set no such watch")
}

func TestWatches_ChildWatchFiresOnChildrenChanged(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	reg := b.read(2, 2, Op{Kind: OpGetChildren, Path: "/a", Watch: true}, ms(3), ms(4), -1)
	b.write(1, 1, create("/a/k", ""), ms(5), ms(6))
	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeChildrenChanged, "/a", b.last(), ms(5.5), reg))
	b.read(2, 2, Op{Kind: OpGetChildren, Path: "/a"}, ms(7), ms(8), -1)
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))

	b.h.Watches[0].Type = model.EventNodeDataChanged
	requireVerdict(t, VerdictViolation, CheckWatches(b.h, Options{}))
}

func TestWatches_SetWatchesMayReportARecreatedNodeAsDataChanged(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	reg := b.read(2, 2, Op{Kind: OpGetData, Path: "/a", Watch: true}, ms(3), ms(4), -1)
	// Client 2 is disconnected while /a is deleted and created again; on
	// reconnect setWatches sees mzxid past its last zxid.
	b.write(1, 1, del("/a", -1), ms(5), ms(6))
	b.write(1, 1, create("/a", "z"), ms(7), ms(8))
	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDataChanged, "/a", b.last(), ms(9), reg))
	b.h.Watches[0].Server = 2
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
}

func TestWatches_AnExistWatchMayMissACreateAndDeleteAcrossAReconnect(t *testing.T) {
	build := func(reconnect bool) *History {
		b := newBuilder(t, 1, 2)
		b.read(2, 2, Op{Kind: OpExists, Path: "/b", Watch: true}, ms(1), ms(2), -1)
		b.write(1, 1, create("/b", ""), ms(3), ms(4))
		b.write(1, 1, del("/b", -1), ms(5), ms(6))
		r := b.read(2, 2, Op{Kind: OpExists, Path: "/b"}, ms(9), ms(10), -1)
		if reconnect {
			b.h.Ops[r].Server = 2
			b.h.Sessions = append(b.h.Sessions,
				SessionEvent{Client: 2, Session: 2, State: SessionDisconnected, Time: ms(3)},
				SessionEvent{Client: 2, Session: 2, State: SessionConnected, Server: 2, Time: ms(8)})
		}
		return b.h
	}
	requireVerdict(t, VerdictOK, CheckWatches(build(true), Options{}))
	requireVerdict(t, VerdictViolation, CheckWatches(build(false), Options{}))
}

func TestWatches_AnUnattributedNoticeNeedsAWatch(t *testing.T) {
	b, _, _, _ := watchHistory(t)
	b.h.Watches[0].Registered = -1
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
	stray := b.h.Watches[0]
	stray.Path = "/other"
	b.h.Watches = append(b.h.Watches, stray)
	res := CheckWatches(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, "no pending watch")
}

func TestWatches_UnattributedNoticesUseUpTheWatchesTheyFire(t *testing.T) {
	b, _, _, _ := watchHistory(t)
	b.h.Watches[0].Registered = -1
	// The client sets the watch again after the first change: a second
	// change fires it once more.
	reg2 := b.read(2, 2, Op{Kind: OpGetData, Path: "/a", Watch: true}, ms(9), ms(10), -1)
	b.write(1, 1, setData("/a", "z", -1), ms(11), ms(12))
	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDataChanged, "/a", b.last(), ms(11.5), -1))
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))

	// A third notice has no pending watch left to fire.
	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDataChanged, "/a", b.last(), ms(13), -1))
	res := CheckWatches(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, "fired twice")
	assert.Equal(t, []int{reg2}, res.Ops)
}

func TestWatches_AWatchSetAfterAChangeIsNotFiredByIt(t *testing.T) {
	// The notice for the first change and the reply of a read that already
	// saw it arrive at the same instant: the read's watch is still pending.
	b, _, _, _ := watchHistory(t)
	b.h.Watches[0].Registered = -1
	b.read(2, 2, Op{Kind: OpGetData, Path: "/a", Watch: true}, ms(5.2), ms(5.5), -1)
	b.write(1, 1, del("/a", -1), ms(20), ms(21))
	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDeleted, "/a", b.last(), ms(20.5), -1))
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
}

func TestWatches_SetWatchesMayReportARecreatedNodeAsChildrenChanged(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	reg := b.read(2, 2, Op{Kind: OpGetChildren, Path: "/a", Watch: true}, ms(3), ms(4), -1)
	b.write(1, 1, del("/a", -1), ms(5), ms(6))
	b.write(1, 1, create("/a", "z"), ms(7), ms(8))
	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeChildrenChanged, "/a", b.last(), ms(9), reg))
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
}
