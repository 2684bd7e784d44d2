package client

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"zoosim/model"
)

type reg struct {
	kind model.WatchKind
	path string
}

const (
	wData      = model.WatchData
	wExist     = model.WatchExist
	wChild     = model.WatchChild
	wPersist   = model.WatchPersistent
	wRecursive = model.WatchPersistentRecursive
)

func set(ks ...model.WatchKind) WatchSet {
	var s WatchSet
	for _, k := range ks {
		s |= watchBit(k)
	}
	return s
}

func TestWatchTable_MaterializeFollowsZKWatchManager(t *testing.T) {
	for _, tc := range []struct {
		name  string
		regs  []reg
		typ   model.EventType
		path  string
		fired WatchSet
		left  Watches
	}{
		{"created fires data and exist", []reg{{wData, "/a"}, {wExist, "/a"}, {wChild, "/a"}},
			model.EventNodeCreated, "/a", set(wData, wExist), Watches{Child: []string{"/a"}}},
		{"data changed fires data and exist", []reg{{wData, "/a"}, {wChild, "/a"}},
			model.EventNodeDataChanged, "/a", set(wData), Watches{Child: []string{"/a"}}},
		{"deleted fires data, exist and child", []reg{{wData, "/a"}, {wExist, "/a"}, {wChild, "/a"}, {wData, "/b"}},
			model.EventNodeDeleted, "/a", set(wData, wExist, wChild), Watches{Data: []string{"/b"}}},
		{"children changed fires child only", []reg{{wData, "/a"}, {wChild, "/a"}},
			model.EventNodeChildrenChanged, "/a", set(wChild), Watches{Data: []string{"/a"}}},
		{"other paths do not fire", []reg{{wData, "/a/b"}, {wChild, "/"}},
			model.EventNodeDeleted, "/a", 0, Watches{Data: []string{"/a/b"}, Child: []string{"/"}}},
		{"persistent fires on every type and stays", []reg{{wPersist, "/a"}},
			model.EventNodeChildrenChanged, "/a", set(wPersist), Watches{Persistent: []string{"/a"}}},
		{"persistent does not see descendants", []reg{{wPersist, "/a"}},
			model.EventNodeCreated, "/a/b", 0, Watches{Persistent: []string{"/a"}}},
		{"recursive sees descendants", []reg{{wRecursive, "/a"}},
			model.EventNodeDataChanged, "/a/b/c", set(wRecursive), Watches{PersistentRecursive: []string{"/a"}}},
		{"recursive on the root sees everything", []reg{{wRecursive, "/"}},
			model.EventNodeDeleted, "/x", set(wRecursive), Watches{PersistentRecursive: []string{"/"}}},
		{"recursive sees its own path", []reg{{wRecursive, "/a"}},
			model.EventNodeCreated, "/a", set(wRecursive), Watches{PersistentRecursive: []string{"/a"}}},
		{"recursive never sees children changed", []reg{{wRecursive, "/a"}, {wRecursive, "/"}},
			model.EventNodeChildrenChanged, "/a", 0, Watches{PersistentRecursive: []string{"/", "/a"}}},
		{"a sibling prefix is not an ancestor", []reg{{wRecursive, "/a"}},
			model.EventNodeCreated, "/ab", 0, Watches{PersistentRecursive: []string{"/a"}}},
		{"one event, every kind", []reg{{wData, "/a"}, {wExist, "/a"}, {wPersist, "/a"}, {wRecursive, "/"}},
			model.EventNodeCreated, "/a", set(wData, wExist, wPersist, wRecursive),
			Watches{Persistent: []string{"/a"}, PersistentRecursive: []string{"/"}}},
		{"state events are not node events", []reg{{wData, "/a"}},
			model.EventNone, "/a", 0, Watches{Data: []string{"/a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w watchTable
			for _, r := range tc.regs {
				w.add(r.kind, r.path)
			}
			assert.Equal(t, tc.fired, w.materialize(tc.typ, tc.path))
			assert.Equal(t, tc.left, w.list())
		})
	}
}

func TestWatchTable_RegisterFollowsTheReply(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  Request
		err  model.Err
		want Watches
	}{
		{"getData ok", Request{Op: model.OpGetData, Path: "/a", Watch: true}, model.ErrOK, Watches{Data: []string{"/a"}}},
		{"getData nonode", Request{Op: model.OpGetData, Path: "/a", Watch: true}, model.ErrNoNode, Watches{}},
		{"getData no watch", Request{Op: model.OpGetData, Path: "/a"}, model.ErrOK, Watches{}},
		{"exists ok", Request{Op: model.OpExists, Path: "/a", Watch: true}, model.ErrOK, Watches{Data: []string{"/a"}}},
		{"exists nonode", Request{Op: model.OpExists, Path: "/a", Watch: true}, model.ErrNoNode, Watches{Exist: []string{"/a"}}},
		{"exists connection loss", Request{Op: model.OpExists, Path: "/a", Watch: true}, model.ErrConnectionLoss, Watches{}},
		{"getChildren ok", Request{Op: model.OpGetChildren, Path: "/a", Watch: true}, model.ErrOK, Watches{Child: []string{"/a"}}},
		{"getChildren2 ok", Request{Op: model.OpGetChildren2, Path: "/a", Watch: true}, model.ErrOK, Watches{Child: []string{"/a"}}},
		{"addWatch persistent", Request{Op: model.OpAddWatch, Path: "/a"}, model.ErrOK, Watches{Persistent: []string{"/a"}}},
		{"addWatch recursive", Request{Op: model.OpAddWatch, Path: "/a", Mode: 1}, model.ErrOK, Watches{PersistentRecursive: []string{"/a"}}},
		{"addWatch refused", Request{Op: model.OpAddWatch, Path: "/a"}, model.ErrNoAuth, Watches{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w watchTable
			w.register(&tc.req, tc.err)
			assert.Equal(t, tc.want, w.list())
		})
	}
}

func TestSelfAndAncestors(t *testing.T) {
	for path, want := range map[string][]string{
		"/":      {"/"},
		"/a":     {"/a", "/"},
		"/a/b/c": {"/a/b/c", "/a/b", "/a", "/"},
	} {
		assert.Equal(t, want, slices.Collect(selfAndAncestors(path)), path)
	}
}
