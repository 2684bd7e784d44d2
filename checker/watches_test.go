package checker

import (
	"slices"
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

// stamp records that every server applied zxid z at time at.
func stamp(h *History, z model.Zxid, at node.Time) {
	for s := range h.Applied {
		for i := range h.Applied[s] {
			if h.Applied[s][i].Zxid == z {
				h.Applied[s][i].Time = at
			}
		}
	}
}

func connected(client node.ID, session int64, server node.ID, at node.Time, last model.Zxid) SessionEvent {
	return SessionEvent{Client: client, Session: session, Server: server, State: SessionConnected, Time: at, LastZxid: last}
}

func sessionEvent(client node.ID, session int64, st SessionState, at node.Time) SessionEvent {
	return SessionEvent{Client: client, Session: session, State: st, Time: at}
}

func addWatch(path string, recursive bool) Op {
	t := model.WatcherPersistent
	if recursive {
		t = model.WatcherPersistentRecursive
	}
	return Op{Kind: OpAddWatch, Path: path, WatcherType: t}
}

func requireViolation(t *testing.T, res Result, contains string) {
	t.Helper()
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, contains)
}

func TestWatches_FailsForAChangeThatNeverCommitted(t *testing.T) {
	b, _, _, _ := watchHistory(t)
	// The notice names a zxid past everything committed, for a path no
	// committed txn touched after the watch.
	b.h.Watches[0].Path, b.h.Watches[0].Zxid = "/a", b.last()+7
	b.h.Ops[1].Path = "/a"
	b.write(1, 1, create("/b", ""), ms(5.1), ms(5.2)) // keep the tree moving
	b.h.Watches[0].Type = model.EventNodeDeleted
	requireViolation(t, CheckWatches(b.h, Options{}), "no committed txn in between made that change")
}

func TestWatches_TheChangeIsCommittedBeforeItsNoticeArrives(t *testing.T) {
	b, _, change, _ := watchHistory(t)
	z := b.h.Ops[change].Zxid
	stamp(b.h, z, ms(5.2)) // applied at 5.2, notified at 5.5
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))

	stamp(b.h, z, ms(5.8)) // no server had applied it when the notice came
	requireViolation(t, CheckWatches(b.h, Options{}), "before any server had applied (committed) the change")
}

// persistentHistory: client 2 adds a persistent watch on /a; client 1
// changes /a three times; client 2 gets a notice for each, then reads.
func persistentHistory(t *testing.T, recursive bool) (b *builder, reg int, changes []model.Zxid) {
	b = newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	reg = b.read(2, 2, addWatch("/a", recursive), ms(3), ms(4), -1)
	for i, v := range []string{"y", "z", "w"} {
		at := ms(10 * float64(i+1))
		b.write(1, 1, setData("/a", v, -1), at, at+ms(1))
		changes = append(changes, b.last())
		b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDataChanged, "/a", b.last(), at+ms(0.5), -1))
	}
	b.read(2, 2, getData("/a"), ms(50), ms(51), -1)
	return b, reg, changes
}

func TestWatches_PersistentWatchesFireForEveryChange(t *testing.T) {
	for _, recursive := range []bool{false, true} {
		b, _, _ := persistentHistory(t, recursive)
		requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
	}
}

func TestWatches_FailsWhenAPersistentWatchSkipsAChange(t *testing.T) {
	b, reg, changes := persistentHistory(t, false)
	b.h.Watches = slices.Delete(b.h.Watches, 1, 2)
	res := CheckWatches(b.h, Options{})
	requireViolation(t, res, "and no notice ever arrived")
	assert.Equal(t, []model.Zxid{changes[1]}, res.Txns)
	assert.Contains(t, res.Ops, b.h.Ops[reg].ID)
}

func TestWatches_FailsWhenAPersistentWatchFiresTwiceForOneChange(t *testing.T) {
	b, _, _ := persistentHistory(t, false)
	again := b.h.Watches[1]
	again.Time += ms(1)
	b.h.Watches = append(b.h.Watches, again)
	requireViolation(t, CheckWatches(b.h, Options{}), "a watch fires at most once per change")
}

func TestWatches_APersistentNoticeNamesTheChangesZxid(t *testing.T) {
	build := func(reg Op) *History {
		b := newBuilder(t, 1, 2)
		b.write(1, 1, create("/a", "x"), ms(1), ms(2))
		b.read(2, 2, reg, ms(3), ms(4), -1)
		b.write(1, 1, setData("/a", "y", -1), ms(5), ms(6))
		b.write(1, 1, create("/b", ""), ms(7), ms(8))
		// The notice carries a later zxid than the change's: only
		// setWatches does that, and it never fires persistent watches.
		b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDataChanged, "/a", b.last(), ms(9), -1))
		return b.h
	}
	requireVerdict(t, VerdictOK, CheckWatches(build(Op{Kind: OpGetData, Path: "/a", Watch: true}), Options{}))
	requireViolation(t, CheckWatches(build(addWatch("/a", false)), Options{}), "no committed txn at that zxid made that change")
}

func TestWatches_AMultiThatChangesAPathTwiceFiresAPersistentWatchTwice(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.read(2, 2, addWatch("/a", false), ms(3), ms(4), -1)
	b.write(1, 1, Op{Kind: OpMulti, Multi: []SubOp{
		{Kind: OpSetData, Path: "/a", Data: []byte("y"), Version: -1},
		{Kind: OpSetData, Path: "/a", Data: []byte("z"), Version: -1}}}, ms(5), ms(6))
	w := notice(2, 2, model.EventNodeDataChanged, "/a", b.last(), ms(5.5), -1)
	b.h.Watches = append(b.h.Watches, w, w)
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
	b.h.Watches = append(b.h.Watches, w)
	requireViolation(t, CheckWatches(b.h, Options{}), "raised that event 2 time(s)")
}

func TestWatches_ARemovedPersistentWatchFiresNoMore(t *testing.T) {
	b, _, _ := persistentHistory(t, false)
	// Removed after the second change's notice, before the third change.
	rm := b.read(2, 2, Op{Kind: OpRemoveWatches, Path: "/a", WatcherType: model.WatcherPersistent}, ms(21), ms(22), b.h.Watches[1].Zxid)
	res := CheckWatches(b.h, Options{})
	requireViolation(t, res, "no pending watch it could fire")
	assert.Contains(t, res.Details, "zxid="+b.h.Watches[2].Zxid.String())

	// Without the third notice, the history is fine: nothing is owed after
	// the removal.
	b.h.Watches = b.h.Watches[:2]
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))

	// A removal of another type leaves the persistent watch in place.
	b.h.Ops[rm].WatcherType = model.WatcherData
	requireViolation(t, CheckWatches(b.h, Options{}), "and no notice ever arrived")
}

func TestWatches_APersistentRecursiveWatchCoversDescendantsButNotChildrenChanged(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/g", ""), ms(1), ms(2))
	b.read(2, 2, addWatch("/g", true), ms(3), ms(4), -1)
	b.write(1, 1, create("/g/x", "1"), ms(5), ms(6))
	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeCreated, "/g/x", b.last(), ms(5.5), -1))
	b.write(1, 1, setData("/g/x", "2", -1), ms(7), ms(8))
	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDataChanged, "/g/x", b.last(), ms(7.5), -1))
	b.write(1, 1, setData("/other", "2", -1), ms(9), ms(10)) // NoNode, not under /g
	b.read(2, 2, getData("/g/x"), ms(11), ms(12), -1)
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))

	// A recursive watch never gets NodeChildrenChanged.
	withChildren := *b.h
	withChildren.Watches = append(slices.Clone(b.h.Watches), notice(2, 2, model.EventNodeChildrenChanged, "/g", b.h.Watches[0].Zxid, ms(5.6), -1))
	requireViolation(t, CheckWatches(&withChildren, Options{}), "no pending watch it could fire")

	// Missing the descendant's change, seen by a later read.
	b.h.Watches = b.h.Watches[:1]
	requireViolation(t, CheckWatches(b.h, Options{}), "persistent-recursive watch")
}

func TestWatches_FailsWhenAnyLaterReplyShowsTheChangeBeforeTheNotice(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.read(2, 2, Op{Kind: OpGetData, Path: "/a", Watch: true}, ms(3), ms(4), -1)
	b.write(1, 1, setData("/a", "y", -1), ms(5), ms(6))
	// Client 2's own write elsewhere returns a zxid past the change.
	w := b.write(2, 2, create("/b", ""), ms(7), ms(8))
	res := CheckWatches(b.h, Options{})
	requireViolation(t, res, "and no notice ever arrived")
	assert.Contains(t, res.Ops, w)

	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDataChanged, "/a", b.h.Ops[2].Zxid, ms(6.5), -1))
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
}

// reconnectHistory: client 2 sets a data watch on /a through server 1,
// loses the connection, /a changes, and client 2 reconnects to server 2 with
// the last zxid it had seen; setWatches there fires the missed change.
func reconnectHistory(t *testing.T) *builder {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	reg := b.read(2, 2, Op{Kind: OpGetData, Path: "/a", Watch: true}, ms(3), ms(4), -1)
	seen := b.h.Ops[reg].Zxid
	b.h.Sessions = append(b.h.Sessions, connected(2, 2, 1, ms(0.5), 0), sessionEvent(2, 2, SessionDisconnected, ms(4.5)))
	b.write(1, 1, setData("/a", "y", -1), ms(5), ms(6))
	b.write(1, 1, create("/b", ""), ms(7), ms(8))
	b.h.Sessions = append(b.h.Sessions, connected(2, 2, 2, ms(9), seen))
	// setWatches' notice carries server 2's last zxid, not the change's.
	w := notice(2, 2, model.EventNodeDataChanged, "/a", b.last(), ms(9.5), -1)
	w.Server = 2
	b.h.Watches = append(b.h.Watches, w)
	rd := b.read(2, 2, getData("/a"), ms(10), ms(11), -1)
	b.h.Ops[rd].Server = 2
	return b
}

func TestWatches_SetWatchesDeliversWhatWasMissedWhileDisconnected(t *testing.T) {
	b := reconnectHistory(t)
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))

	b.h.Watches = nil // the new server never fired the missed change
	requireViolation(t, CheckWatches(b.h, Options{}), "and no notice ever arrived")
}

func TestWatches_APersistentWatchMayLoseChangesWhileDisconnected(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	reg := b.read(2, 2, addWatch("/a", false), ms(3), ms(4), -1)
	b.h.Sessions = append(b.h.Sessions, connected(2, 2, 1, ms(0.5), 0), sessionEvent(2, 2, SessionDisconnected, ms(4.5)))
	b.write(1, 1, setData("/a", "y", -1), ms(5), ms(6)) // in the gap: lost
	b.h.Sessions = append(b.h.Sessions, connected(2, 2, 2, ms(9), b.h.Ops[reg].Zxid))
	first := b.read(2, 2, getData("/a"), ms(10), ms(11), -1)
	b.h.Ops[first].Server = 2
	b.write(1, 1, setData("/a", "z", -1), ms(12), ms(13)) // after setWatches: owed
	later := b.read(2, 2, getData("/a"), ms(14), ms(15), -1)
	b.h.Ops[later].Server = 2
	requireViolation(t, CheckWatches(b.h, Options{}), "and no notice ever arrived")

	w := notice(2, 2, model.EventNodeDataChanged, "/a", b.h.Ops[later-1].Zxid, ms(12.5), -1)
	w.Server = 2
	b.h.Watches = append(b.h.Watches, w)
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
}

func TestWatches_NoticesComeInZxidOrderOnAConnection(t *testing.T) {
	build := func(swap bool) *History {
		b := newBuilder(t, 1, 2)
		b.write(1, 1, create("/a", "x"), ms(1), ms(2))
		b.write(1, 1, create("/b", "x"), ms(1), ms(2))
		b.read(2, 2, Op{Kind: OpGetData, Path: "/a", Watch: true}, ms(3), ms(4), -1)
		b.read(2, 2, Op{Kind: OpGetData, Path: "/b", Watch: true}, ms(4), ms(5), -1)
		b.write(1, 1, setData("/a", "y", -1), ms(6), ms(7))
		b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDataChanged, "/a", b.last(), ms(10), -1))
		b.write(1, 1, setData("/b", "y", -1), ms(8), ms(9))
		b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDataChanged, "/b", b.last(), ms(11), -1))
		if swap {
			b.h.Watches[0].Time, b.h.Watches[1].Time = b.h.Watches[1].Time, b.h.Watches[0].Time
		}
		return b.h
	}
	requireVerdict(t, VerdictOK, CheckWatches(build(false), Options{}))
	// Rule 5 sees it too (the /b notice shows /a's change was applied);
	// either explanation is the first one, the order rule is among them.
	res := CheckWatches(build(true), Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Regexp(t, "notices come in zxid order|before the watch's own notice", res.Explanation)
	assert.Contains(t, res.Details, "1 more violation")
}

func TestWatches_NoReplyOlderThanANoticeBeforeIt(t *testing.T) {
	b, _, change, _ := watchHistory(t)
	// A reply after the notice that shows a state before the change: the
	// server notified a change it had not applied.
	rd := b.read(2, 2, getData("/a"), ms(5.6), ms(5.7), b.h.Ops[change].Zxid-1)
	res := CheckWatches(b.h, Options{})
	requireViolation(t, res, "the server notified a change it had not applied")
	assert.Equal(t, []int{rd}, res.Ops)
}

// settleHistory: client 2 sets a data watch, /a changes, and client 2 stays
// connected to server 1 to the end of the run without a notice or another
// reply.
func settleHistory(t *testing.T) (*builder, model.Zxid) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.read(2, 2, Op{Kind: OpGetData, Path: "/a", Watch: true}, ms(3), ms(4), -1)
	b.h.Sessions = append(b.h.Sessions, connected(2, 2, 1, ms(0.5), 0))
	b.write(1, 1, setData("/a", "y", -1), ms(5), ms(6))
	z := b.last()
	for s := range b.h.Applied {
		for i := range b.h.Applied[s] {
			b.h.Applied[s][i].Time = ms(float64(i + 1))
		}
	}
	b.h.End = ms(6) + 2*SettleTime
	b.h.LastHeard = []LastHeard{{Client: 2, Session: 2, Server: 1, Time: b.h.End - ms(100)}}
	return b, z
}

func TestWatches_AWatchWhoseTriggerCommittedFiresOnceTheRunSettled(t *testing.T) {
	b, _ := settleHistory(t)
	requireViolation(t, CheckWatches(b.h, Options{}), "never fired for NodeDataChanged of /a")

	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDataChanged, "/a", b.last(), ms(7), -1))
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
}

func TestWatches_NothingIsOwedToASessionThatEnded(t *testing.T) {
	for _, st := range []SessionState{SessionExpired, SessionClosed, SessionCrashed, SessionDisconnected} {
		b, _ := settleHistory(t)
		b.h.Sessions = append(b.h.Sessions, sessionEvent(2, 2, st, ms(5.5)))
		requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
	}
	b, _ := settleHistory(t)
	b.commit(2, model.CloseSessionTxn{})
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
}

func TestWatches_AChangeInTheLastSettleTimeIsNotYetOwed(t *testing.T) {
	b, z := settleHistory(t)
	stamp(b.h, z, b.h.LastHeard[0].Time-SettleTime+1)
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
}

func TestWatches_NothingIsOwedToAClientThatNoLongerHearsItsServer(t *testing.T) {
	b, z := settleHistory(t)
	b.h.LastHeard = nil // not connected at the end, as far as the harness saw
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))

	b, z = settleHistory(t)
	b.h.LastHeard[0].Time = ms(7) // heard last just after the change
	stamp(b.h, z, ms(6))
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
}

func TestWatches_APersistentWatchIsOwedEveryChangeOnceTheRunSettled(t *testing.T) {
	b, _, changes := persistentHistory(t, true)
	b.h.Ops = b.h.Ops[:len(b.h.Ops)-1] // no read at the end
	b.h.Sessions = append(b.h.Sessions, connected(2, 2, 1, ms(0.5), 0))
	b.h.Watches = slices.Delete(b.h.Watches, 2, 3)
	stamp(b.h, changes[2], ms(30))
	b.h.End = ms(30) + 2*SettleTime
	b.h.LastHeard = []LastHeard{{Client: 2, Session: 2, Server: 1, Time: b.h.End}}
	requireViolation(t, CheckWatches(b.h, Options{}), "persistent-recursive watch op 1 set on /a never fired")
}

func TestWatches_ANoticeForALaterChangeShowsTheEarlierOneWasApplied(t *testing.T) {
	// One-shot: client 2 watches /a and /b; /a changes, then /b; the /b
	// notice comes and the /a one never does.
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.write(1, 1, create("/b", "x"), ms(1), ms(2))
	reg := b.read(2, 2, Op{Kind: OpGetData, Path: "/a", Watch: true}, ms(3), ms(4), -1)
	b.read(2, 2, Op{Kind: OpGetData, Path: "/b", Watch: true}, ms(4), ms(5), -1)
	b.write(1, 1, setData("/a", "y", -1), ms(6), ms(7))
	b.write(1, 1, setData("/b", "y", -1), ms(8), ms(9))
	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDataChanged, "/b", b.last(), ms(10), -1))
	res := CheckWatches(b.h, Options{})
	requireViolation(t, res, "and the watch never fired")
	assert.Equal(t, []int{reg}, res.Ops)

	// Persistent: the same with one persistent-recursive watch on /.
	b = newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.read(2, 2, addWatch("/", true), ms(3), ms(4), -1)
	b.write(1, 1, setData("/a", "y", -1), ms(6), ms(7))
	b.write(1, 1, create("/b", "x"), ms(8), ms(9))
	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeCreated, "/b", b.last(), ms(10), -1))
	requireViolation(t, CheckWatches(b.h, Options{}), "and no notice ever arrived")
	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDataChanged, "/a", b.h.Ops[2].Zxid, ms(9.5), -1))
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
}

func TestWatches_ARecursiveWatchFiresWhereAOneShotWatchOnThePathWasUsedUp(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/g", ""), ms(1), ms(2))
	b.write(1, 1, create("/g/x", "1"), ms(1), ms(2))
	b.read(2, 2, addWatch("/g", true), ms(3), ms(4), -1)
	b.read(2, 2, Op{Kind: OpGetData, Path: "/g/x", Watch: true}, ms(4), ms(5), -1)
	b.write(1, 1, setData("/g/x", "2", -1), ms(6), ms(7)) // fires both
	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDataChanged, "/g/x", b.last(), ms(6.5), -1))
	b.write(1, 1, setData("/g/x", "3", -1), ms(8), ms(9)) // fires the recursive watch only
	b.h.Watches = append(b.h.Watches, notice(2, 2, model.EventNodeDataChanged, "/g/x", b.last(), ms(8.5), -1))
	// Re-armed later: the reply comes after the second notice.
	b.read(2, 2, Op{Kind: OpGetData, Path: "/g/x", Watch: true}, ms(20), ms(21), -1)
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
}

func TestWatches_AnExistWatchMayMissANodeCreatedAndDeletedInOneMultiAcrossAReconnect(t *testing.T) {
	build := func(reconnect bool) *History {
		b := newBuilder(t, 1, 2)
		b.write(1, 1, create("/x", ""), ms(0.5), ms(0.6))
		reg := b.read(2, 2, Op{Kind: OpExists, Path: "/b", Watch: true}, ms(1), ms(2), -1)
		b.h.Sessions = append(b.h.Sessions, connected(2, 2, 1, ms(0.2), 0))
		b.write(1, 1, Op{Kind: OpMulti, Multi: []SubOp{{Kind: OpCreate, Path: "/b"}, {Kind: OpDelete, Path: "/b", Version: -1}}}, ms(3), ms(4))
		if reconnect {
			b.h.Sessions = append(b.h.Sessions, sessionEvent(2, 2, SessionDisconnected, ms(2.5)),
				connected(2, 2, 2, ms(8), b.h.Ops[reg].Zxid))
		}
		r := b.read(2, 2, Op{Kind: OpExists, Path: "/b"}, ms(9), ms(10), -1)
		if reconnect {
			b.h.Ops[r].Server = 2
		}
		return b.h
	}
	requireVerdict(t, VerdictOK, CheckWatches(build(true), Options{}))
	requireViolation(t, CheckWatches(build(false), Options{}), "and no notice ever arrived")
}

func TestWatches_AnExistWatchCarriedOverAReconnectIsOwedOnlyANewCreation(t *testing.T) {
	// The node is created, changed and deleted while the client is away:
	// setWatches finds it missing and sets the exist watch again.
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/x", ""), ms(0.5), ms(0.6))
	reg := b.read(2, 2, Op{Kind: OpExists, Path: "/b", Watch: true}, ms(1), ms(2), -1)
	b.h.Sessions = append(b.h.Sessions, connected(2, 2, 1, ms(0.2), 0), sessionEvent(2, 2, SessionDisconnected, ms(2.5)))
	b.write(1, 1, create("/b", "1"), ms(3), ms(4))
	b.write(1, 1, setData("/b", "2", -1), ms(5), ms(6))
	b.write(1, 1, del("/b", -1), ms(7), ms(8))
	b.h.Sessions = append(b.h.Sessions, connected(2, 2, 1, ms(9), b.h.Ops[reg].Zxid))
	for s := range b.h.Applied {
		for i := range b.h.Applied[s] {
			b.h.Applied[s][i].Time = ms(float64(i + 1))
		}
	}
	b.h.End = ms(10) + 2*SettleTime
	b.h.LastHeard = []LastHeard{{Client: 2, Session: 2, Server: 1, Time: b.h.End}}
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))

	// Created again after the reconnect: now it is owed.
	b.write(1, 1, create("/b", "3"), ms(11), ms(12))
	stamp(b.h, b.last(), ms(12))
	requireViolation(t, CheckWatches(b.h, Options{}), "never fired for NodeCreated of /b")
}

func TestWatches_NoticesThatArriveAtOneInstantMayComeInEitherOrder(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/g", ""), ms(1), ms(2))
	b.read(2, 2, addWatch("/g", true), ms(3), ms(4), -1)
	b.write(1, 1, create("/g/x", ""), ms(5), ms(6))
	created := b.last()
	b.write(1, 1, del("/g/x", -1), ms(5), ms(6))
	// Both notices arrive at 6.5 ms, recorded in the other order.
	b.h.Watches = append(b.h.Watches,
		notice(2, 2, model.EventNodeDeleted, "/g/x", b.last(), ms(6.5), -1),
		notice(2, 2, model.EventNodeCreated, "/g/x", created, ms(6.5), -1))
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))

	b.h.Watches[1].Time = ms(6.6) // the earlier change's notice really came later
	requireVerdict(t, VerdictViolation, CheckWatches(b.h, Options{}))
}

func TestWatches_TheArrivalOrderTellsAReplyAndANoticeAtOneInstantApart(t *testing.T) {
	build := func(replyOrder, noticeOrder uint64) *History {
		b, _, _, readAfter := watchHistory(t)
		// The read of the new data arrives at the very instant of the
		// notice.
		b.h.Ops[readAfter].Call, b.h.Ops[readAfter].Return = ms(5.2), ms(5.5)
		b.h.Ops[readAfter].Arrival, b.h.Watches[0].Arrival = replyOrder, noticeOrder
		return b.h
	}
	requireVerdict(t, VerdictOK, CheckWatches(build(0, 0), Options{})) // unordered: either may have come first
	requireVerdict(t, VerdictOK, CheckWatches(build(8, 7), Options{})) // the notice first
	res := CheckWatches(build(7, 8), Options{})                        // the reply first
	requireViolation(t, res, "before the notice arrived")
}

func TestWatches_APersistentWatchMayHearAChangeAgainFromALaggingServer(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	reg := b.read(2, 2, addWatch("/a", false), ms(3), ms(4), -1)
	b.h.Sessions = append(b.h.Sessions, connected(2, 2, 1, ms(0.5), 0))
	b.write(1, 1, setData("/a", "y", -1), ms(5), ms(6))
	w := notice(2, 2, model.EventNodeDataChanged, "/a", b.last(), ms(5.5), -1)
	// The client moves to server 2 with the last zxid of its replies, which
	// is older than the change; server 2 applies the change after the
	// client's setWatches and fires the persistent watch again.
	again := w
	again.Server, again.Time = 2, ms(9)
	b.h.Sessions = append(b.h.Sessions, sessionEvent(2, 2, SessionDisconnected, ms(7)),
		connected(2, 2, 2, ms(8), b.h.Ops[reg].Zxid))
	b.h.Watches = append(b.h.Watches, w, again)
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))

	b.h.Watches[1].Server, b.h.Sessions = 1, b.h.Sessions[:1] // on one connection: twice
	requireViolation(t, CheckWatches(b.h, Options{}), "at most once per change")
}

func TestWatches_ASetWatchesBatchMayBreakOffBeforeAWatchsTurn(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(1.5))
	b.write(1, 1, create("/g", ""), ms(1), ms(1.5))
	b.read(2, 2, Op{Kind: OpGetData, Path: "/a", Watch: true}, ms(2), ms(2.5), -1)
	reg := b.read(2, 2, Op{Kind: OpGetChildren, Path: "/g", Watch: true}, ms(3), ms(3.5), -1)
	seen := b.h.Ops[reg].Zxid
	b.h.Sessions = append(b.h.Sessions, connected(2, 2, 1, ms(0.5), 0), sessionEvent(2, 2, SessionDisconnected, ms(4)))
	b.write(1, 1, create("/g/x", ""), ms(5), ms(6))
	atThree := b.last() // server 3 has applied up to here
	b.write(1, 1, setData("/a", "y", -1), ms(7), ms(8))
	// Server 2's setWatches fires /a first (the data list comes first);
	// the connection breaks before the child watch's turn.
	b.h.Sessions = append(b.h.Sessions, connected(2, 2, 2, ms(9), seen), sessionEvent(2, 2, SessionDisconnected, ms(9.8)))
	w := notice(2, 2, model.EventNodeDataChanged, "/a", b.last(), ms(9.5), -1)
	w.Server = 2
	// Server 3, behind server 2, fires the child watch with its own zxid.
	b.h.Sessions = append(b.h.Sessions, connected(2, 2, 3, ms(10), seen))
	w3 := notice(2, 2, model.EventNodeChildrenChanged, "/g", atThree, ms(10.5), -1)
	w3.Server = 3
	b.h.Watches = append(b.h.Watches, w, w3)
	requireVerdict(t, VerdictOK, CheckWatches(b.h, Options{}))
}
