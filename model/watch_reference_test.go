package model

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// refWatches restates ZooKeeper's two WatchManagers as a flat list of
// registrations, scanned in full for every question.
type refReg struct {
	child bool // the child-watch table, else the data-watch table
	mode  watchMode
	path  string
	w     WatcherID
}

type refWatches struct{ regs []refReg }

func (r *refWatches) add(path string, kind WatchKind, w WatcherID) {
	put := func(child bool, mode watchMode) {
		reg := refReg{child, mode, path, w}
		if !slices.Contains(r.regs, reg) {
			r.regs = append(r.regs, reg)
		}
	}
	switch kind {
	case WatchData, WatchExist:
		put(false, modeStandard)
	case WatchChild:
		put(true, modeStandard)
	case WatchPersistent:
		put(false, modePersistent)
		put(true, modePersistent)
	case WatchPersistentRecursive:
		put(false, modeRecursive)
	}
}

func refIsAncestor(a, p string) bool {
	return a != p && (a == "/" || strings.HasPrefix(p, a+"/"))
}

func (r *refWatches) trigger(events []WatchEvent) []Delivery {
	var out []Delivery
	for _, ev := range events {
		hit := func(g refReg) bool {
			dataHit := !g.child && (g.path == ev.Path || g.mode == modeRecursive && refIsAncestor(g.path, ev.Path))
			childHit := g.child && g.path == ev.Path
			switch ev.Type {
			case EventNodeCreated, EventNodeDataChanged:
				return dataHit
			case EventNodeDeleted:
				return dataHit || childHit
			case EventNodeChildrenChanged:
				return childHit
			}
			return false
		}
		var ws []WatcherID
		var keep []refReg
		for _, g := range r.regs {
			if hit(g) {
				if !slices.Contains(ws, g.w) {
					ws = append(ws, g.w)
				}
				if g.mode == modeStandard {
					continue // one-shot: consumed
				}
			}
			keep = append(keep, g)
		}
		r.regs = keep
		slices.Sort(ws)
		for _, w := range ws {
			out = append(out, Delivery{w, ev})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Watcher < out[j].Watcher })
	return out
}

func (r *refWatches) matches(g refReg, path string, typ WatcherType, w WatcherID) bool {
	if g.path != path || g.w != w {
		return false
	}
	switch typ {
	case WatcherChildren:
		return g.child && g.mode == modeStandard
	case WatcherData:
		return !g.child && g.mode == modeStandard
	case WatcherPersistent:
		return g.mode == modePersistent
	case WatcherPersistentRecursive:
		return g.mode == modeRecursive
	case WatcherAny:
		return true
	}
	return false
}

func (r *refWatches) remove(path string, typ WatcherType, w WatcherID) error {
	if typ < WatcherChildren || typ > WatcherPersistentRecursive {
		return ErrBadArguments
	}
	n := len(r.regs)
	r.regs = slices.DeleteFunc(r.regs, func(g refReg) bool { return r.matches(g, path, typ, w) })
	if len(r.regs) == n {
		return ErrNoWatcher
	}
	return nil
}

func (r *refWatches) contains(path string, typ WatcherType, w WatcherID) bool {
	for _, g := range r.regs {
		// checkWatches looks for persistent watches in the data table only.
		if r.matches(g, path, typ, w) && !(typ == WatcherPersistent && g.child) {
			return true
		}
	}
	return false
}

func (r *refWatches) len() int {
	type key struct {
		child bool
		path  string
		w     WatcherID
	}
	seen := map[key]bool{}
	for _, g := range r.regs {
		seen[key{g.child, g.path, g.w}] = true
	}
	return len(seen)
}

func TestWatchTable_MatchesReferenceOnRandomOps(t *testing.T) {
	paths := []string{"/", "/a", "/a/b", "/a/b/c", "/ab", "/b", "/b/a"}
	rapid.Check(t, func(rt *rapid.T) {
		var wt WatchTable
		var ref refWatches
		steps := rapid.IntRange(50, 300).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			path := rapid.SampledFrom(paths).Draw(rt, "path")
			w := WatcherID(rapid.IntRange(1, 4).Draw(rt, "w"))
			switch rapid.IntRange(0, 9).Draw(rt, "op") {
			case 0, 1, 2, 3:
				kind := WatchKind(rapid.IntRange(1, 5).Draw(rt, "kind"))
				wt.Add(path, kind, w)
				ref.add(path, kind, w)
			case 4:
				typ := WatcherType(rapid.IntRange(0, 6).Draw(rt, "type"))
				require.Equal(rt, ref.remove(path, typ, w), wt.Remove(path, typ, w), "remove %s %d %d", path, typ, w)
			case 5:
				typ := WatcherType(rapid.IntRange(1, 5).Draw(rt, "type"))
				require.Equal(rt, ref.contains(path, typ, w), wt.Contains(path, typ, w), "contains %s %d %d", path, typ, w)
			case 6:
				wt.RemoveWatcher(w)
				ref.regs = slices.DeleteFunc(ref.regs, func(g refReg) bool { return g.w == w })
			default:
				evs := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) WatchEvent {
					return WatchEvent{
						Type: EventType(rapid.IntRange(1, 5).Draw(t, "type")),
						Path: rapid.SampledFrom(paths).Draw(t, "path"),
					}
				}), 1, 5).Draw(rt, "events")
				require.Equal(rt, ref.trigger(evs), wt.Trigger(evs), "trigger %v", evs)
			}
			require.Equal(rt, ref.len(), wt.Len())
			recursive := 0
			for _, g := range ref.regs {
				if g.mode == modeRecursive {
					recursive++
				}
			}
			require.Equal(rt, recursive, wt.data.recursive)
		}
	})
}
