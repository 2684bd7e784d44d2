package model

import (
	"cmp"
	"slices"
)

// EventType is a watch event's type, with ZooKeeper's wire values.
type EventType int32

// ZooKeeper's watch event types.
const (
	EventNone                   EventType = -1
	EventNodeCreated            EventType = 1
	EventNodeDeleted            EventType = 2
	EventNodeDataChanged        EventType = 3
	EventNodeChildrenChanged    EventType = 4
	EventDataWatchRemoved       EventType = 5
	EventChildWatchRemoved      EventType = 6
	EventPersistentWatchRemoved EventType = 7
)

// WatchEvent is a change a txn made that watches may be waiting for.
type WatchEvent struct {
	Type EventType
	Path string
}

// WatcherID names whoever holds watches on a server: a client connection.
type WatcherID int64

// WatchKind is how a watch was set.
type WatchKind uint8

// Watch kinds. Data and Exist watches behave alike once set (ZooKeeper keeps
// both in its data watch table); they are named apart for the callers' sake.
const (
	WatchData                WatchKind = iota + 1 // getData with watch
	WatchExist                                    // exists with watch, node present or not
	WatchChild                                    // getChildren with watch
	WatchPersistent                               // addWatch, mode 0
	WatchPersistentRecursive                      // addWatch, mode 1
)

// WatcherType selects the watches removeWatches and checkWatches act on, with
// ZooKeeper's wire values.
type WatcherType int32

// ZooKeeper's Watcher.WatcherType values.
const (
	WatcherChildren            WatcherType = 1
	WatcherData                WatcherType = 2
	WatcherAny                 WatcherType = 3
	WatcherPersistent          WatcherType = 4
	WatcherPersistentRecursive WatcherType = 5
)

// Delivery is one event for one watcher.
type Delivery struct {
	Watcher WatcherID
	Event   WatchEvent
}

// WatchTable is one server's watches: ZooKeeper's two WatchManagers, one for
// data watches (getData, exists, persistent and persistent-recursive) and one
// for child watches (getChildren and persistent). It is not replicated: each
// server holds the watches its own clients set, and fires them from the events
// its own Apply returns. The zero value is ready to use.
type WatchTable struct {
	data, child watchManager
	fired       []WatcherID // scratch for Trigger, reused across calls
}

// watchMode is a set of WatcherMode bits (WatchStats in ZooKeeper).
type watchMode uint8

const (
	modeStandard watchMode = 1 << iota // one-shot
	modePersistent
	modeRecursive
)

type watchManager struct {
	byPath    map[string]map[WatcherID]watchMode
	byWatcher map[WatcherID]map[string]struct{}
	// recursive counts (path, watcher) pairs holding modeRecursive; while it
	// is 0, triggering looks at the event's own path only.
	recursive int
}

// Add registers a watch. Setting the same watch twice is the same as once. An
// unknown kind is a programming error and panics.
func (wt *WatchTable) Add(path string, kind WatchKind, w WatcherID) {
	switch kind {
	case WatchData, WatchExist:
		wt.data.add(path, w, modeStandard)
	case WatchChild:
		wt.child.add(path, w, modeStandard)
	case WatchPersistent:
		wt.data.add(path, w, modePersistent)
		wt.child.add(path, w, modePersistent)
	case WatchPersistentRecursive:
		wt.data.add(path, w, modeRecursive)
	default:
		panic("model: WatchTable.Add with an unknown WatchKind")
	}
}

// Remove is removeWatches (DataTree.removeWatch): it removes w's watches of
// the given type on path, and returns ErrNoWatcher if there was none, or
// ErrBadArguments for an unknown type.
func (wt *WatchTable) Remove(path string, typ WatcherType, w WatcherID) error {
	removed := false
	switch typ {
	case WatcherChildren:
		removed = wt.child.remove(path, w, modeStandard)
	case WatcherData:
		removed = wt.data.remove(path, w, modeStandard)
	case WatcherPersistent:
		// Both managers are visited, whatever the first one answered.
		c := wt.child.remove(path, w, modePersistent)
		d := wt.data.remove(path, w, modePersistent)
		removed = c || d
	case WatcherPersistentRecursive:
		removed = wt.data.remove(path, w, modeRecursive)
	case WatcherAny:
		c := wt.child.remove(path, w, modeStandard|modePersistent|modeRecursive)
		d := wt.data.remove(path, w, modeStandard|modePersistent|modeRecursive)
		removed = c || d
	default:
		return ErrBadArguments
	}
	if !removed {
		return ErrNoWatcher
	}
	return nil
}

// Contains is checkWatches (DataTree.containsWatcher).
func (wt *WatchTable) Contains(path string, typ WatcherType, w WatcherID) bool {
	switch typ {
	case WatcherChildren:
		return wt.child.has(path, w, modeStandard)
	case WatcherData:
		return wt.data.has(path, w, modeStandard)
	case WatcherPersistent:
		return wt.data.has(path, w, modePersistent)
	case WatcherPersistentRecursive:
		return wt.data.has(path, w, modeRecursive)
	case WatcherAny:
		all := modeStandard | modePersistent | modeRecursive
		return wt.child.has(path, w, all) || wt.data.has(path, w, all)
	}
	return false
}

// RemoveWatcher drops every watch w holds, as when its connection closes.
func (wt *WatchTable) RemoveWatcher(w WatcherID) {
	wt.data.removeWatcher(w)
	wt.child.removeWatcher(w)
}

// Len is the number of (path, watcher) registrations in both tables.
func (wt *WatchTable) Len() int {
	n := 0
	for _, ws := range wt.data.byPath {
		n += len(ws)
	}
	for _, ws := range wt.child.byPath {
		n += len(ws)
	}
	return n
}

// WatcherPaths is one watcher's paths in a watch report.
type WatcherPaths struct {
	Watcher WatcherID
	Paths   []string
}

// DataWatches lists the data table (data, exist, persistent and
// persistent-recursive watches: ZooKeeper's dataWatches, which its wchs,
// wchc and wchp commands report) by watcher, watchers and paths sorted.
func (wt *WatchTable) DataWatches() []WatcherPaths {
	out := make([]WatcherPaths, 0, len(wt.data.byWatcher))
	for w, paths := range wt.data.byWatcher {
		wp := WatcherPaths{Watcher: w, Paths: make([]string, 0, len(paths))}
		for p := range paths {
			wp.Paths = append(wp.Paths, p)
		}
		slices.Sort(wp.Paths)
		out = append(out, wp)
	}
	slices.SortFunc(out, func(a, b WatcherPaths) int { return cmp.Compare(a.Watcher, b.Watcher) })
	return out
}

// Trigger fires the watches the events touch, with ZooKeeper's WatchManager
// rules, and returns who gets what:
//
//   - NodeCreated and NodeDataChanged fire the data table on the path: data and
//     exist watches (removed, being one-shot), persistent watches on the path,
//     and persistent-recursive watches on the path or any ancestor.
//   - NodeDeleted fires the data table as above and the child table on the
//     path (child watches, removed; persistent watches).
//   - NodeChildrenChanged fires the child table on the path, which holds no
//     recursive watches: a recursive watch never sees it.
//
// A watcher gets at most one delivery per event, however many of its watches
// fired. Deliveries are sorted by watcher, and each watcher's keep the order
// of the events.
func (wt *WatchTable) Trigger(events []WatchEvent) []Delivery {
	var out []Delivery
	fired := wt.fired
	for _, ev := range events {
		fired = fired[:0]
		switch ev.Type {
		case EventNodeCreated, EventNodeDataChanged:
			fired = wt.data.trigger(ev.Path, fired)
		case EventNodeDeleted:
			fired = wt.data.trigger(ev.Path, fired)
			fired = wt.child.trigger(ev.Path, fired)
		case EventNodeChildrenChanged:
			fired = wt.child.trigger(ev.Path, fired)
		default:
			continue
		}
		slices.Sort(fired)
		fired = slices.Compact(fired)
		if out == nil && len(fired) > 0 {
			out = make([]Delivery, 0, len(fired)*len(events))
		}
		for _, w := range fired {
			out = append(out, Delivery{Watcher: w, Event: ev})
		}
	}
	wt.fired = fired[:0]
	slices.SortStableFunc(out, func(a, b Delivery) int { return cmp.Compare(a.Watcher, b.Watcher) })
	return out
}

// SetWatches is DataTree.setWatches, run when a client reconnects with the
// watches it holds and the last zxid it saw. What the client missed fires at
// once: a data watch on a node now missing gets NodeDeleted, or
// NodeDataChanged if the node changed after relZxid; an exist watch on a node
// now present gets NodeCreated; a child watch on a missing node gets
// NodeDeleted, or NodeChildrenChanged if its children changed after relZxid.
// Every other watch is registered again, persistent ones always. Deliveries
// follow the lists' order.
func (wt *WatchTable) SetWatches(t *Tree, relZxid Zxid, data, exist, child, persistent, persistentRecursive []string, w WatcherID) []Delivery {
	var out []Delivery
	fire := func(typ EventType, path string) {
		out = append(out, Delivery{Watcher: w, Event: WatchEvent{Type: typ, Path: path}})
	}
	for _, p := range data {
		n := t.lookup(p)
		switch {
		case n == nil:
			fire(EventNodeDeleted, p)
		case n.mzxid > relZxid:
			fire(EventNodeDataChanged, p)
		default:
			wt.data.add(p, w, modeStandard)
		}
	}
	for _, p := range exist {
		if t.lookup(p) != nil {
			fire(EventNodeCreated, p)
		} else {
			wt.data.add(p, w, modeStandard)
		}
	}
	for _, p := range child {
		n := t.lookup(p)
		switch {
		case n == nil:
			fire(EventNodeDeleted, p)
		case n.pzxid > relZxid:
			fire(EventNodeChildrenChanged, p)
		default:
			wt.child.add(p, w, modeStandard)
		}
	}
	for _, p := range persistent {
		wt.child.add(p, w, modePersistent)
		wt.data.add(p, w, modePersistent)
	}
	for _, p := range persistentRecursive {
		wt.data.add(p, w, modeRecursive)
	}
	return out
}

func (m *watchManager) add(path string, w WatcherID, mode watchMode) {
	if m.byPath == nil {
		m.byPath = make(map[string]map[WatcherID]watchMode)
		m.byWatcher = make(map[WatcherID]map[string]struct{})
	}
	ws := m.byPath[path]
	if ws == nil {
		ws = make(map[WatcherID]watchMode, 1)
		m.byPath[path] = ws
	}
	old := ws[w]
	if old|mode == old {
		return
	}
	ws[w] = old | mode
	paths := m.byWatcher[w]
	if paths == nil {
		paths = make(map[string]struct{})
		m.byWatcher[w] = paths
	}
	paths[path] = struct{}{}
	if mode&modeRecursive != 0 && old&modeRecursive == 0 {
		m.recursive++
	}
}

func (m *watchManager) has(path string, w WatcherID, modes watchMode) bool {
	return m.byPath[path][w]&modes != 0
}

// remove clears the given mode bits of (path, w) and reports whether any was
// set.
func (m *watchManager) remove(path string, w WatcherID, modes watchMode) bool {
	old := m.byPath[path][w]
	if old&modes == 0 {
		return false
	}
	m.set(path, w, old, old&^modes)
	return true
}

// set moves (path, w) from old to next, keeping the indexes and the recursive
// count in step.
func (m *watchManager) set(path string, w WatcherID, old, next watchMode) {
	if old&modeRecursive != 0 && next&modeRecursive == 0 {
		m.recursive--
	}
	if next != 0 {
		m.byPath[path][w] = next
		return
	}
	ws := m.byPath[path]
	delete(ws, w)
	if len(ws) == 0 {
		delete(m.byPath, path)
	}
	paths := m.byWatcher[w]
	delete(paths, path)
	if len(paths) == 0 {
		delete(m.byWatcher, w)
	}
}

func (m *watchManager) removeWatcher(w WatcherID) {
	for p := range m.byWatcher[w] {
		m.set(p, w, m.byPath[p][w], 0)
	}
}

// trigger is WatchManager.triggerWatch without the delivery: it appends the
// watchers that fire for an event on path and consumes their one-shot
// watches. The order of appends does not matter; Trigger sorts.
func (m *watchManager) trigger(path string, fired []WatcherID) []WatcherID {
	for w, mode := range m.byPath[path] {
		fired = append(fired, w)
		if mode&modeStandard != 0 {
			m.set(path, w, mode, mode&^modeStandard)
		}
	}
	if m.recursive == 0 {
		return fired
	}
	for p, ok := parentPath(path); ok && p != path; p, ok = parentPath(p) {
		for w, mode := range m.byPath[p] {
			if mode&modeRecursive != 0 {
				fired = append(fired, w)
			}
		}
		if p == "/" {
			break
		}
	}
	return fired
}
