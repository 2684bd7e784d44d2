package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type reg struct {
	path string
	kind WatchKind
	w    WatcherID
}

func TestWatch_TriggerRules(t *testing.T) {
	created := WatchEvent{EventNodeCreated, "/a/b"}
	changed := WatchEvent{EventNodeDataChanged, "/a/b"}
	deleted := WatchEvent{EventNodeDeleted, "/a/b"}
	children := WatchEvent{EventNodeChildrenChanged, "/a/b"}
	cases := []struct {
		name  string
		regs  []reg
		event WatchEvent
		want  []WatcherID
	}{
		{"exist watch sees creation", []reg{{"/a/b", WatchExist, 1}}, created, []WatcherID{1}},
		{"data watch sees creation", []reg{{"/a/b", WatchData, 1}}, created, []WatcherID{1}},
		{"child watch does not see creation", []reg{{"/a/b", WatchChild, 1}}, created, nil},
		{"data watch sees data change", []reg{{"/a/b", WatchData, 1}}, changed, []WatcherID{1}},
		{"exist watch sees data change", []reg{{"/a/b", WatchExist, 1}}, changed, []WatcherID{1}},
		{"child watch does not see data change", []reg{{"/a/b", WatchChild, 1}}, changed, nil},
		{"data watch sees deletion", []reg{{"/a/b", WatchData, 1}}, deleted, []WatcherID{1}},
		{"child watch sees deletion", []reg{{"/a/b", WatchChild, 1}}, deleted, []WatcherID{1}},
		{"child watch sees children change", []reg{{"/a/b", WatchChild, 1}}, children, []WatcherID{1}},
		{"data watch does not see children change", []reg{{"/a/b", WatchData, 1}}, children, nil},
		{"other path", []reg{{"/a", WatchData, 1}, {"/a/b/c", WatchChild, 2}}, changed, nil},
		{"watch on parent does not see child data", []reg{{"/a", WatchData, 1}, {"/a", WatchChild, 2}}, changed, nil},
		{"persistent sees creation", []reg{{"/a/b", WatchPersistent, 1}}, created, []WatcherID{1}},
		{"persistent sees data change", []reg{{"/a/b", WatchPersistent, 1}}, changed, []WatcherID{1}},
		{"persistent sees deletion", []reg{{"/a/b", WatchPersistent, 1}}, deleted, []WatcherID{1}},
		{"persistent sees children change", []reg{{"/a/b", WatchPersistent, 1}}, children, []WatcherID{1}},
		{"persistent on parent sees nothing of the child", []reg{{"/a", WatchPersistent, 1}}, changed, nil},
		{"recursive on the path", []reg{{"/a/b", WatchPersistentRecursive, 1}}, changed, []WatcherID{1}},
		{"recursive on an ancestor sees creation", []reg{{"/a", WatchPersistentRecursive, 1}}, created, []WatcherID{1}},
		{"recursive on the root sees deletion", []reg{{"/", WatchPersistentRecursive, 1}}, deleted, []WatcherID{1}},
		{"recursive never sees children change", []reg{{"/a/b", WatchPersistentRecursive, 1}, {"/a", WatchPersistentRecursive, 2}}, children, nil},
		{"recursive on a sibling prefix", []reg{{"/a/bc", WatchPersistentRecursive, 1}, {"/a/b/c", WatchPersistentRecursive, 2}}, changed, nil},
		{"one delivery per watcher for deletion",
			[]reg{{"/a/b", WatchData, 1}, {"/a/b", WatchChild, 1}, {"/a/b", WatchPersistent, 1}, {"/", WatchPersistentRecursive, 1}},
			deleted, []WatcherID{1}},
		{"several watchers, sorted",
			[]reg{{"/a/b", WatchData, 30}, {"/a/b", WatchExist, 4}, {"/a", WatchPersistentRecursive, 17}, {"/a/b", WatchChild, 9}},
			deleted, []WatcherID{4, 9, 17, 30}},
		{"removal event types fire nothing", []reg{{"/a/b", WatchData, 1}}, WatchEvent{EventDataWatchRemoved, "/a/b"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var wt WatchTable
			for _, r := range c.regs {
				wt.Add(r.path, r.kind, r.w)
			}
			var got []WatcherID
			for _, d := range wt.Trigger([]WatchEvent{c.event}) {
				assert.Equal(t, c.event, d.Event)
				got = append(got, d.Watcher)
			}
			assert.Equal(t, c.want, got)
		})
	}
}

func TestWatch_OneShotWatchesAreConsumedPersistentOnesStay(t *testing.T) {
	var wt WatchTable
	wt.Add("/x", WatchData, 1)
	wt.Add("/x", WatchChild, 1)
	wt.Add("/x", WatchPersistent, 2)
	wt.Add("/", WatchPersistentRecursive, 3)
	ev := []WatchEvent{{EventNodeDataChanged, "/x"}}
	assert.Len(t, wt.Trigger(ev), 3)
	got := wt.Trigger(ev)
	assert.Equal(t, []Delivery{{2, ev[0]}, {3, ev[0]}}, got, "the data watch fired once")
	assert.True(t, wt.Contains("/x", WatcherChildren, 1), "the child watch was not touched by a data change")

	// Deletion fires the child watch, and watcher 1 hears of it once.
	del := []WatchEvent{{EventNodeDeleted, "/x"}}
	assert.Equal(t, []Delivery{{1, del[0]}, {2, del[0]}, {3, del[0]}}, wt.Trigger(del))
	assert.False(t, wt.Contains("/x", WatcherAny, 1))
	assert.True(t, wt.Contains("/x", WatcherPersistent, 2), "persistent watches survive deletion")
}

func TestWatch_DeletionConsumesDataAndChildWatchesWithOneDelivery(t *testing.T) {
	var wt WatchTable
	wt.Add("/x", WatchExist, 1)
	wt.Add("/x", WatchChild, 1)
	del := WatchEvent{EventNodeDeleted, "/x"}
	assert.Equal(t, []Delivery{{1, del}}, wt.Trigger([]WatchEvent{del}))
	assert.Equal(t, 0, wt.Len())
}

func TestWatch_DeliveriesGroupedByWatcherInEventOrder(t *testing.T) {
	h := newHarness(t, 1)
	var wt WatchTable
	wt.Add("/", WatchPersistentRecursive, 2)
	wt.Add("/", WatchChild, 1)
	wt.Add("/x", WatchExist, 1)
	r := h.must(1, Multi{Ops: []Request{
		Create{Path: "/x", ACL: OpenACLUnsafe},
		SetData{Path: "/x", Version: -1},
	}})
	assert.Equal(t, []Delivery{
		{1, WatchEvent{EventNodeCreated, "/x"}},
		{1, WatchEvent{EventNodeChildrenChanged, "/"}},
		{2, WatchEvent{EventNodeCreated, "/x"}},
		{2, WatchEvent{EventNodeDataChanged, "/x"}},
	}, wt.Trigger(r.Events))
}

func TestWatch_ChildrenChangedFiresParentChildWatch(t *testing.T) {
	h := newHarness(t, 1)
	h.must(1, Create{Path: "/p", ACL: OpenACLUnsafe})
	var wt WatchTable
	wt.Add("/p", WatchChild, 5)
	wt.Add("/p", WatchData, 6)
	r := h.must(1, Create{Path: "/p/c", ACL: OpenACLUnsafe, Mode: ModeEphemeral})
	assert.Equal(t, []Delivery{{5, WatchEvent{EventNodeChildrenChanged, "/p"}}}, wt.Trigger(r.Events))
	r = h.must(1, CloseSession{})
	assert.Empty(t, wt.Trigger(r.Events), "the child watch was one-shot")
}

func TestWatch_RemoveFollowsRemoveWatches(t *testing.T) {
	var wt WatchTable
	assert.ErrorIs(t, wt.Remove("/x", WatcherData, 1), ErrNoWatcher, "zero table")
	wt.Add("/x", WatchData, 1)
	wt.Add("/x", WatchChild, 1)
	wt.Add("/x", WatchPersistent, 1)
	wt.Add("/x", WatchPersistentRecursive, 1)

	assert.ErrorIs(t, wt.Remove("/x", WatcherData, 2), ErrNoWatcher, "other watcher")
	assert.ErrorIs(t, wt.Remove("/y", WatcherData, 1), ErrNoWatcher, "other path")
	assert.NoError(t, wt.Remove("/x", WatcherData, 1))
	assert.ErrorIs(t, wt.Remove("/x", WatcherData, 1), ErrNoWatcher, "already removed")
	assert.True(t, wt.Contains("/x", WatcherChildren, 1))
	assert.True(t, wt.Contains("/x", WatcherPersistent, 1))

	assert.NoError(t, wt.Remove("/x", WatcherPersistent, 1))
	assert.False(t, wt.Contains("/x", WatcherPersistent, 1))
	assert.True(t, wt.Contains("/x", WatcherChildren, 1), "a persistent removal leaves the child watch")
	assert.True(t, wt.Contains("/x", WatcherPersistentRecursive, 1))

	assert.NoError(t, wt.Remove("/x", WatcherPersistentRecursive, 1))
	// Without recursive watches an event on a child must not reach watcher 1.
	assert.Empty(t, wt.Trigger([]WatchEvent{{EventNodeDataChanged, "/x/y"}}))

	assert.NoError(t, wt.Remove("/x", WatcherAny, 1))
	assert.ErrorIs(t, wt.Remove("/x", WatcherAny, 1), ErrNoWatcher)
	assert.Equal(t, 0, wt.Len())
	assert.ErrorIs(t, wt.Remove("/x", WatcherType(9), 1), ErrBadArguments)
}

func TestWatch_RemoveWatcherDropsEverything(t *testing.T) {
	var wt WatchTable
	wt.Add("/a", WatchData, 1)
	wt.Add("/b", WatchChild, 1)
	wt.Add("/", WatchPersistentRecursive, 1)
	wt.Add("/a", WatchData, 2)
	wt.RemoveWatcher(1)
	assert.Equal(t, 1, wt.Len())
	got := wt.Trigger([]WatchEvent{{EventNodeDataChanged, "/a"}, {EventNodeDeleted, "/b"}})
	assert.Equal(t, []Delivery{{2, WatchEvent{EventNodeDataChanged, "/a"}}}, got)
	wt.RemoveWatcher(99) // unknown: nothing happens
}

func TestWatch_AddUnknownKindPanics(t *testing.T) {
	var wt WatchTable
	assert.Panics(t, func() { wt.Add("/", WatchKind(0), 1) })
}

func TestSetWatches_FiresWhatTheClientMissed(t *testing.T) {
	h := newHarness(t, 1)
	h.must(1, Create{Path: "/old", ACL: OpenACLUnsafe})
	h.must(1, Create{Path: "/changed", ACL: OpenACLUnsafe})
	h.must(1, Create{Path: "/parent", ACL: OpenACLUnsafe})
	rel := h.tree.LastZxid()
	h.must(1, SetData{Path: "/changed", Version: -1})
	h.must(1, Create{Path: "/parent/kid", ACL: OpenACLUnsafe})
	h.must(1, Create{Path: "/born", ACL: OpenACLUnsafe})

	var wt WatchTable
	got := wt.SetWatches(h.tree, rel,
		[]string{"/old", "/changed", "/gone"},
		[]string{"/born", "/unborn"},
		[]string{"/old", "/parent", "/gone"},
		[]string{"/p1"},
		[]string{"/r1"},
		7)
	assert.Equal(t, []Delivery{
		{7, WatchEvent{EventNodeDataChanged, "/changed"}},
		{7, WatchEvent{EventNodeDeleted, "/gone"}},
		{7, WatchEvent{EventNodeCreated, "/born"}},
		{7, WatchEvent{EventNodeChildrenChanged, "/parent"}},
		{7, WatchEvent{EventNodeDeleted, "/gone"}},
	}, got)
	assert.True(t, wt.Contains("/old", WatcherData, 7))
	assert.True(t, wt.Contains("/unborn", WatcherData, 7), "an exist watch is a data-table watch")
	assert.True(t, wt.Contains("/old", WatcherChildren, 7))
	assert.False(t, wt.Contains("/changed", WatcherAny, 7), "fired watches are not registered")
	assert.False(t, wt.Contains("/parent", WatcherChildren, 7))
	assert.True(t, wt.Contains("/p1", WatcherPersistent, 7))
	assert.True(t, wt.Contains("/r1", WatcherPersistentRecursive, 7))

	// The registered ones fire later as usual.
	r := h.must(1, Create{Path: "/unborn", ACL: OpenACLUnsafe})
	assert.Equal(t, []Delivery{{7, WatchEvent{EventNodeCreated, "/unborn"}}}, wt.Trigger(r.Events))
}

func TestWatch_SameWatchTwiceIsOneWatch(t *testing.T) {
	var wt WatchTable
	wt.Add("/x", WatchData, 1)
	wt.Add("/x", WatchExist, 1)
	wt.Add("/", WatchPersistentRecursive, 1)
	wt.Add("/", WatchPersistentRecursive, 1)
	require.Equal(t, 2, wt.Len())
	assert.NoError(t, wt.Remove("/", WatcherPersistentRecursive, 1))
	assert.Equal(t, 0, wt.data.recursive, "recursive count back to zero")
}
