package client

import (
	"maps"
	"slices"
	"strings"

	"zoosim/model"
)

// Watches lists the watches a client holds, each list sorted.
type Watches struct {
	Data, Exist, Child              []string
	Persistent, PersistentRecursive []string
}

// Len is the number of (path, kind) registrations.
func (w Watches) Len() int {
	return len(w.Data) + len(w.Exist) + len(w.Child) + len(w.Persistent) + len(w.PersistentRecursive)
}

// watchTable is ZooKeeper's ZKWatchManager for a client whose every watch
// belongs to one default watcher: five tables of paths. Which table a watch
// goes to follows the reply of the request that set it (see register). The
// tables are maps; every walk over them sorts first.
type watchTable struct {
	data, exist, child, persistent, recursive map[string]struct{}
}

func (t *watchTable) table(k model.WatchKind) *map[string]struct{} {
	switch k {
	case model.WatchData:
		return &t.data
	case model.WatchExist:
		return &t.exist
	case model.WatchChild:
		return &t.child
	case model.WatchPersistent:
		return &t.persistent
	case model.WatchPersistentRecursive:
		return &t.recursive
	}
	panic("client: invariant violated: unknown watch kind")
}

func (t *watchTable) add(k model.WatchKind, path string) {
	m := t.table(k)
	if *m == nil {
		*m = make(map[string]struct{})
	}
	(*m)[path] = struct{}{}
}

func (t *watchTable) has(k model.WatchKind, path string) bool {
	_, ok := (*t.table(k))[path]
	return ok
}

// take removes path from table k and reports whether it was there.
func (t *watchTable) take(k model.WatchKind, path string) bool {
	m := *t.table(k)
	if _, ok := m[path]; !ok {
		return false
	}
	delete(m, path)
	return true
}

func (t *watchTable) len() int {
	return len(t.data) + len(t.exist) + len(t.child) + len(t.persistent) + len(t.recursive)
}

func (t *watchTable) clear() { *t = watchTable{} }

func (t *watchTable) list() Watches {
	sorted := func(m map[string]struct{}) []string {
		if len(m) == 0 {
			return nil
		}
		return slices.Sorted(maps.Keys(m))
	}
	return Watches{
		Data:                sorted(t.data),
		Exist:               sorted(t.exist),
		Child:               sorted(t.child),
		Persistent:          sorted(t.persistent),
		PersistentRecursive: sorted(t.recursive),
	}
}

// register records the watch a successful (or, for exists, NoNode) reply
// leaves, as ZooKeeper's WatchRegistration subclasses do: getData leaves a
// data watch when it succeeds; exists a data watch when the node exists and
// an exist watch when it does not; getChildren a child watch; addWatch a
// persistent or persistent-recursive one.
func (t *watchTable) register(req *Request, err model.Err) {
	switch req.Op {
	case model.OpGetData:
		if req.Watch && err == model.ErrOK {
			t.add(model.WatchData, req.Path)
		}
	case model.OpExists:
		if req.Watch && err == model.ErrOK {
			t.add(model.WatchData, req.Path)
		} else if req.Watch && err == model.ErrNoNode {
			t.add(model.WatchExist, req.Path)
		}
	case model.OpGetChildren, model.OpGetChildren2:
		if req.Watch && err == model.ErrOK {
			t.add(model.WatchChild, req.Path)
		}
	case model.OpAddWatch:
		if err == model.ErrOK {
			if req.Mode == 1 {
				t.add(model.WatchPersistentRecursive, req.Path)
			} else {
				t.add(model.WatchPersistent, req.Path)
			}
		}
	}
}

// materialize is ZKWatchManager.materialize for a node event: it returns the
// registrations the event fires and removes the one-shot ones among them.
//
//   - NodeCreated, NodeDataChanged: data and exist watches on the path.
//   - NodeDeleted: data, exist and child watches on the path.
//   - NodeChildrenChanged: child watches on the path.
//   - Every type: persistent watches on the path; every type but
//     NodeChildrenChanged: persistent-recursive watches on the path or an
//     ancestor.
func (t *watchTable) materialize(typ model.EventType, path string) WatchSet {
	var fired WatchSet
	oneShot := func(k model.WatchKind) {
		if t.take(k, path) {
			fired |= watchBit(k)
		}
	}
	switch typ {
	case model.EventNodeCreated, model.EventNodeDataChanged:
		oneShot(model.WatchData)
		oneShot(model.WatchExist)
	case model.EventNodeDeleted:
		oneShot(model.WatchData)
		oneShot(model.WatchExist)
		oneShot(model.WatchChild)
	case model.EventNodeChildrenChanged:
		oneShot(model.WatchChild)
	default:
		return 0
	}
	if t.has(model.WatchPersistent, path) {
		fired |= watchBit(model.WatchPersistent)
	}
	if typ != model.EventNodeChildrenChanged && len(t.recursive) > 0 {
		for p := range selfAndAncestors(path) {
			if t.has(model.WatchPersistentRecursive, p) {
				fired |= watchBit(model.WatchPersistentRecursive)
				break
			}
		}
	}
	return fired
}

// removal is one *WatchRemoved event a removeWatches produces.
type removal struct {
	typ     model.EventType
	removed WatchSet
}

// remove is ZKWatchManager.removeWatcher for the default watcher after the
// server agreed: it drops the registrations of the given type on path and
// returns the events to report, in event-type order (nil if there was none).
func (t *watchTable) remove(path string, typ model.WatcherType) []removal {
	var data, child, persistent WatchSet
	drop := func(k model.WatchKind, into *WatchSet) {
		if t.take(k, path) {
			*into |= watchBit(k)
		}
	}
	switch typ {
	case model.WatcherChildren:
		drop(model.WatchChild, &child)
	case model.WatcherData:
		drop(model.WatchData, &data)
		drop(model.WatchExist, &data)
	case model.WatcherPersistent:
		drop(model.WatchPersistent, &persistent)
	case model.WatcherPersistentRecursive:
		drop(model.WatchPersistentRecursive, &persistent)
	case model.WatcherAny:
		drop(model.WatchChild, &child)
		drop(model.WatchData, &data)
		drop(model.WatchExist, &data)
		drop(model.WatchPersistent, &persistent)
		drop(model.WatchPersistentRecursive, &persistent)
	}
	var out []removal
	if data != 0 {
		out = append(out, removal{model.EventDataWatchRemoved, data})
	}
	if child != 0 {
		out = append(out, removal{model.EventChildWatchRemoved, child})
	}
	if persistent != 0 {
		out = append(out, removal{model.EventPersistentWatchRemoved, persistent})
	}
	return out
}

// selfAndAncestors yields path, its parent, ..., "/" (ZooKeeper's
// PathParentIterator.forAll).
func selfAndAncestors(path string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		p := path
		for {
			if !yield(p) {
				return
			}
			i := strings.LastIndexByte(p, '/')
			switch {
			case i < 0 || p == "/":
				return
			case i == 0:
				p = "/"
			default:
				p = p[:i]
			}
		}
	}
}
