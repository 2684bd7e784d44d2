package scenarios

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"zoosim/checker"
	"zoosim/client"
	"zoosim/model"
	"zoosim/node"
)

// The behaviours: what each kind of client does, one operation at a time.
// Every operation is recorded exactly as it was sent (inputs) and as it
// came back (results), so that the checkers judge it.

// issue starts the next operation of the client's behaviour.
func (n *clientNode) issue() {
	switch n.beh {
	case Master:
		if n.election.Done() {
			return
		}
		n.election.Start()
		n.nextOpAt = n.now + 10*n.think()
		n.maybeResign(func() { n.c.Close() })
		return
	case Lock:
		if !n.lockStarted {
			n.lockStarted = true
			n.lock.Acquire()
		} else if n.lock.Held() && n.rnd.IntN(3) == 0 {
			n.lock.Release()
		}
		n.nextOpAt = n.now + 4*n.think()
		return
	}
	if n.beh == probe {
		if n.run.rec.healedAt == 0 {
			n.nextOpAt = n.now + n.think()
			return
		}
		if !n.parents["/probe"] {
			n.submitHelper("/probe")
			return
		}
		v := n.value()
		n.start(checker.Op{Kind: checker.OpSetData, Path: "/probe", Data: v, Version: -1}, n.c.SetData("/probe", v, -1))
		return
	}
	for _, p := range n.neededParents() {
		if !n.parents[p] {
			n.submitHelper(p)
			return
		}
	}
	if len(n.rereads) > 0 {
		n.rereadOp()
		return
	}
	switch n.beh {
	case Registers:
		n.registersOp()
	case CAS:
		n.casOp()
	case Queue:
		n.queueOp()
	case Ephemerals:
		n.ephemeralsOp()
	case Watchers:
		n.watchersOp()
	case Multi:
		n.multiOp()
	case Idle:
		n.idleOp()
	case Readers:
		k := n.key()
		if !n.parents[k] {
			// Make sure the key exists (NodeExists is fine), then mostly read.
			v := n.value()
			n.start(checker.Op{Kind: checker.OpCreate, Path: k, Data: v, Mode: model.ModePersistent}, n.c.Create(k, v, nil, model.ModePersistent))
			return
		}
		n.start(checker.Op{Kind: checker.OpGetData, Path: k}, n.c.GetData(k, false))
	}
}

func (n *clientNode) maybeResign(close func()) {
	// A master sometimes steps down by closing its session, so that
	// mastership moves even without faults.
	if n.election.IsMaster() && n.rnd.IntN(20) == 0 {
		close()
	}
}

func (n *clientNode) groupPath() string { return "/g" + strconv.Itoa(n.group) }

func (n *clientNode) ephemeralParent() string { return "/e" + strconv.Itoa(n.group) }

func (n *clientNode) neededParents() []string {
	switch n.beh {
	case Registers, Watchers, Readers, Multi:
		return []string{n.groupPath()}
	case Queue:
		return []string{"/q" + strconv.Itoa(n.group)}
	case Ephemerals:
		return []string{n.ephemeralParent()}
	case Idle:
		return []string{n.groupPath(), n.ephemeralParent()}
	}
	return nil
}

// submitHelper creates a parent node the behaviour needs. It is recorded
// like any write: the checkers must see every change to the tree.
func (n *clientNode) submitHelper(path string) {
	n.start(checker.Op{Kind: checker.OpCreate, Path: path, Mode: model.ModePersistent}, n.c.Create(path, nil, nil, model.ModePersistent))
}

func (n *clientNode) value() []byte {
	n.seq++
	return []byte(fmt.Sprintf("c%d-%d", n.id, n.seq))
}

func (n *clientNode) start(op checker.Op, xids ...int32) {
	op.Client, op.Session, op.Call = n.id, n.c.SessionID(), n.trueNow()
	if len(xids) > 0 {
		op.Xid = xids[len(xids)-1]
	}
	i := n.run.rec.addOp(op)
	n.cur = &inflight{op: i, xids: xids, kind: op.Kind}
}

func (n *clientNode) key() string {
	return n.groupPath() + "/k" + strconv.Itoa(n.rnd.IntN(3))
}

// moveToAnother moves the client to another server of its list, drawn at
// random, as a rebalancing client does (the session moves with it).
func (n *clientNode) moveToAnother() {
	if len(n.servers) < 2 {
		return
	}
	for {
		if s := n.servers[n.rnd.IntN(len(n.servers))]; s != n.c.Server() {
			n.c.MoveTo(s)
			return
		}
	}
}

// The recorded forms of the common operations.

func (n *clientNode) getData(path string, watch bool) {
	n.start(checker.Op{Kind: checker.OpGetData, Path: path, Watch: watch}, n.c.GetData(path, watch))
}

// syncGetData is ZooKeeper's sync then read: linearizable by the service's
// promise.
func (n *clientNode) syncGetData(path string, watch bool) {
	s := n.c.Sync(path)
	g := n.c.GetData(path, watch)
	n.start(checker.Op{Kind: checker.OpGetData, Path: path, Watch: watch, Linearizable: true}, s, g)
}

func (n *clientNode) exists(path string, watch bool) {
	n.start(checker.Op{Kind: checker.OpExists, Path: path, Watch: watch}, n.c.Exists(path, watch))
}

func (n *clientNode) getChildren(path string, watch bool) {
	n.start(checker.Op{Kind: checker.OpGetChildren, Path: path, Watch: watch}, n.c.GetChildren(path, watch))
}

func (n *clientNode) syncGetChildren(path string, watch bool) {
	s := n.c.Sync(path)
	g := n.c.GetChildren(path, watch)
	n.start(checker.Op{Kind: checker.OpGetChildren, Path: path, Watch: watch, Linearizable: true}, s, g)
}

func (n *clientNode) setData(path string, version int32) {
	v := n.value()
	n.start(checker.Op{Kind: checker.OpSetData, Path: path, Data: v, Version: version}, n.c.SetData(path, v, version))
}

func (n *clientNode) create(path string, mode model.CreateMode) {
	v := n.value()
	n.start(checker.Op{Kind: checker.OpCreate, Path: path, Data: v, Mode: mode}, n.c.Create(path, v, nil, mode))
}

func (n *clientNode) delete(path string, version int32) {
	n.start(checker.Op{Kind: checker.OpDelete, Path: path, Version: version}, n.c.Delete(path, version))
}

func (n *clientNode) registersOp() {
	k := n.key()
	if n.rnd.IntN(50) == 0 {
		// Move to another server, then read there: the client lands on
		// whatever server is next, lagging or not (it must refuse a client
		// that has seen more than it has).
		n.moveToAnother()
		n.getData(k, false)
		return
	}
	switch x := n.rnd.IntN(100); {
	case x < 30:
		n.setData(k, -1)
	case x < 40:
		n.setData(k, int32(n.rnd.IntN(4)))
	case x < 55:
		n.create(k, model.ModePersistent)
	case x < 62:
		ver := int32(-1)
		if n.rnd.IntN(2) == 0 {
			ver = int32(n.rnd.IntN(3))
		}
		n.delete(k, ver)
	case x < 77:
		n.getData(k, false)
	case x < 90:
		n.syncGetData(k, false)
	case x < 95:
		n.exists(k, false)
	default:
		n.getChildren(n.groupPath(), false)
	}
}

// casOp is the seed's /config story: read the version, then write with it;
// a concurrent writer makes it fail with BadVersion.
func (n *clientNode) casOp() {
	const path = "/config"
	switch x := n.rnd.IntN(10); {
	case x < 4:
		n.getData(path, false)
	case x < 8:
		ver := int32(-1)
		if last := n.lastStatVersion(path); last >= 0 {
			ver = last
		}
		n.setData(path, ver)
	default:
		n.create(path, model.ModePersistent)
	}
}

// lastStatVersion is the version this client last saw for path (-1 if
// none), read from its own history.
func (n *clientNode) lastStatVersion(path string) int32 {
	ops := n.run.rec.h.Ops
	for i := len(ops) - 1; i >= 0 && i >= len(ops)-200; i-- {
		op := &ops[i]
		if op.Client == n.id && op.Path == path && op.Err == model.ErrOK && !op.Unknown && op.Kind != 0 &&
			(op.Kind == checker.OpGetData || op.Kind == checker.OpSetData) {
			return op.Stat.Version
		}
	}
	return -1
}

// queueOp: producers create persistent-sequential items, consumers watch
// the queue's children (re-listing, and so re-arming, after every notice)
// and take the lowest item they saw.
func (n *clientNode) queueOp() {
	q := "/q" + strconv.Itoa(n.group)
	// Producers (even ids) and consumers (odd ids) keep the queue short:
	// a long queue makes every linearizability step copy a large state.
	if n.id%2 == 0 && n.rnd.IntN(2) == 0 || n.id%2 == 1 && n.rnd.IntN(6) == 0 {
		n.create(q+"/item-", model.ModePersistentSequential)
		return
	}
	if head := n.lastChildren(q); head != "" && n.rnd.IntN(3) != 0 {
		n.delete(q+"/"+head, -1)
		return
	}
	watch := n.id%2 == 1 && !n.armed[q]
	if watch {
		n.armed[q] = true
	}
	if n.rnd.IntN(5) == 0 {
		n.syncGetChildren(q, watch)
		return
	}
	n.getChildren(q, watch)
}

func (n *clientNode) lastChildren(path string) string {
	ops := n.run.rec.h.Ops
	for i := len(ops) - 1; i >= 0 && i >= len(ops)-200; i-- {
		op := &ops[i]
		if op.Client == n.id && op.Kind == checker.OpGetChildren && op.Path == path && op.Err == model.ErrOK && len(op.Children) > 0 {
			return op.Children[0]
		}
	}
	return ""
}

func (n *clientNode) ephemeralsOp() {
	p := n.ephemeralParent() + "/c" + strconv.Itoa(int(n.id))
	switch x := n.rnd.IntN(20); {
	case x < 8:
		n.create(p, model.ModeEphemeral)
	case x < 15:
		n.exists(p, false)
	case x < 16:
		// Sync, then see whether the node is still there.
		s := n.c.Sync(p)
		e := n.c.Exists(p, false)
		n.start(checker.Op{Kind: checker.OpExists, Path: p, Linearizable: true}, s, e)
	case x < 18:
		n.delete(p, -1)
	default:
		// End the session; a new one starts after a pause.
		n.c.Close()
	}
}

// watchersOp: a watcher holds a persistent or persistent-recursive watch
// (added once per session, sometimes removed and added again), sets
// one-shot data, exist and child watches on the register keys of its group,
// writes them itself now and then, and re-reads after every notice (see
// afterNotice), which re-arms its one-shot watches.
func (n *clientNode) watchersOp() {
	g := n.groupPath()
	if n.persistentTodo {
		n.persistentTodo = false
		path, typ := n.key(), model.WatcherPersistent
		if n.rnd.IntN(2) == 0 {
			path, typ = g, model.WatcherPersistentRecursive
		}
		n.persistent[path] = typ
		n.start(checker.Op{Kind: checker.OpAddWatch, Path: path, WatcherType: typ},
			n.c.AddWatch(path, typ == model.WatcherPersistentRecursive))
		return
	}
	k := n.key()
	switch x := n.rnd.IntN(100); {
	case x < 35 && !n.armed[k]:
		n.armed[k] = true
		switch n.rnd.IntN(4) {
		case 0:
			n.getData(k, true)
		case 1:
			n.syncGetData(k, true)
		default:
			n.exists(k, true)
		}
	case x < 45 && !n.armed[g]:
		n.armed[g] = true
		n.getChildren(g, true)
	case x < 70:
		n.setData(k, -1)
	case x < 78:
		n.create(k, model.ModePersistent)
	case x < 84:
		n.delete(k, -1)
	case x < 88 && len(n.persistent) > 0:
		paths := slices.Sorted(maps.Keys(n.persistent)) // map order must not leak
		p := paths[n.rnd.IntN(len(paths))]
		typ := n.persistent[p]
		delete(n.persistent, p)
		n.persistentTodo = true
		n.start(checker.Op{Kind: checker.OpRemoveWatches, Path: p, WatcherType: typ},
			n.c.RemoveWatches(p, typ))
	default:
		n.getData(k, false)
	}
}

// afterNotice: a watcher or a queue consumer reads the node a notice names
// again, re-arming the one-shot watch the notice used up, so that the read
// races the next change ("the client sees the event before it can see the
// data").
func (n *clientNode) afterNotice(ev client.Event) {
	oneShot := ev.Watches.Has(model.WatchData) || ev.Watches.Has(model.WatchExist) || ev.Watches.Has(model.WatchChild)
	if oneShot {
		delete(n.armed, ev.Path)
	}
	var rr reread
	switch n.beh {
	case Watchers:
		rr = reread{path: ev.Path, kind: checker.OpGetData, watch: oneShot || n.rnd.IntN(2) == 0}
		switch ev.Type {
		case model.EventNodeChildrenChanged:
			rr.kind = checker.OpGetChildren
		case model.EventNodeDeleted:
			rr.kind = checker.OpExists
		}
	case Queue:
		if ev.Type != model.EventNodeChildrenChanged {
			return
		}
		rr = reread{path: ev.Path, kind: checker.OpGetChildren, watch: true}
	default:
		return
	}
	if rr.watch {
		n.armed[rr.path] = true
	}
	if !slices.ContainsFunc(n.rereads, func(o reread) bool { return o.path == rr.path && o.kind == rr.kind }) {
		n.rereads = append(n.rereads, rr)
	}
}

func (n *clientNode) rereadOp() {
	rr := n.rereads[0]
	n.rereads = slices.Delete(n.rereads, 0, 1)
	sync := n.rnd.IntN(4) == 0
	switch {
	case rr.kind == checker.OpGetChildren && sync:
		n.syncGetChildren(rr.path, rr.watch)
	case rr.kind == checker.OpGetChildren:
		n.getChildren(rr.path, rr.watch)
	case rr.kind == checker.OpExists:
		n.exists(rr.path, rr.watch)
	case sync:
		n.syncGetData(rr.path, rr.watch)
	default:
		n.getData(rr.path, rr.watch)
	}
}

// afterResult lets a behaviour learn from a result: which watches it now
// holds, which versions it has seen. answered is false for an op whose
// outcome is unknown.
func (n *clientNode) afterResult(op *checker.Op, answered bool) {
	if n.idleAfter > 0 && !n.hopAfter {
		n.nextOpAt = n.now + n.idleAfter
		n.idleAfter = 0
	}
	if n.napAfter > 0 {
		n.napUntil = n.now + n.napAfter
		n.nextOpAt = n.napUntil + n.think()
		n.napAfter = 0
	}
	if !answered {
		if op.Watch {
			delete(n.armed, op.Path) // no watch was left, as far as the client knows
		}
		return
	}
	if op.Watch && op.Err != model.ErrOK && !(op.Kind == checker.OpExists && op.Err == model.ErrNoNode) {
		delete(n.armed, op.Path)
	}
	if op.Kind == checker.OpAddWatch && op.Err != model.ErrOK {
		delete(n.persistent, op.Path)
		n.persistentTodo = true
	}
	switch op.Kind {
	case checker.OpGetData, checker.OpSetData, checker.OpExists:
		n.noteVersion(op.Path, op.Err, op.Stat.Version)
	case checker.OpCreate:
		n.noteVersion(op.Path, op.Err, 0)
	case checker.OpDelete:
		if op.Err == model.ErrOK {
			delete(n.versions, op.Path)
		}
	case checker.OpMulti:
		if op.Err != model.ErrOK {
			return
		}
		for _, s := range op.Multi {
			switch s.Kind {
			case checker.OpSetData:
				n.noteVersion(s.Path, s.Err, s.Stat.Version)
			case checker.OpCreate:
				n.noteVersion(s.Path, s.Err, 0)
			case checker.OpDelete:
				delete(n.versions, s.Path)
			}
		}
	}
}

func (n *clientNode) noteVersion(path string, err model.Err, version int32) {
	switch err {
	case model.ErrOK:
		n.versions[path] = version
	case model.ErrNoNode, model.ErrBadVersion:
		delete(n.versions, path)
	}
}

// version is the version to expect of path: mostly the one last seen (so
// that a conditional write may succeed), sometimes a guess that is likely
// wrong.
func (n *clientNode) version(path string) int32 {
	if v, ok := n.versions[path]; ok && n.rnd.IntN(4) != 0 {
		return v
	}
	return int32(n.rnd.IntN(3))
}

// multiOp: multis on the register keys that plain ops touch too. Some are
// meant to succeed, some to fail on a version or on existence; a failed
// multi must change nothing, and a successful one all of it at one zxid.
func (n *clientNode) multiOp() {
	a, b := n.key(), n.key()
	if n.rnd.IntN(10) < 4 {
		switch x := n.rnd.IntN(10); {
		case x < 3:
			n.getData(a, false)
		case x < 5:
			n.syncGetData(a, false)
		case x < 7:
			n.setData(a, n.version(a))
		case x < 9:
			n.create(a, model.ModePersistent)
		default:
			n.delete(a, n.version(a))
		}
		return
	}
	create := func(p string) checker.SubOp {
		return checker.SubOp{Kind: checker.OpCreate, Path: p, Data: n.value(), Mode: model.ModePersistent}
	}
	set := func(p string, v int32) checker.SubOp {
		return checker.SubOp{Kind: checker.OpSetData, Path: p, Data: n.value(), Version: v}
	}
	del := func(p string, v int32) checker.SubOp {
		return checker.SubOp{Kind: checker.OpDelete, Path: p, Version: v}
	}
	check := func(p string, v int32) checker.SubOp {
		return checker.SubOp{Kind: checker.OpCheck, Path: p, Version: v}
	}
	var subs []checker.SubOp
	switch x := n.rnd.IntN(100); {
	case x < 25: // compare one key, write another
		subs = []checker.SubOp{check(a, n.version(a)), set(b, -1)}
	case x < 40: // create one key, write another (fails if a exists or b is missing)
		subs = []checker.SubOp{create(a), set(b, -1)}
	case x < 55: // replace: delete at a version, create again
		subs = []checker.SubOp{del(a, n.version(a)), create(a)}
	case x < 70: // two conditional writes
		subs = []checker.SubOp{set(a, n.version(a)), set(b, n.version(b))}
	case x < 80: // created and deleted at one zxid: two events at once
		subs = []checker.SubOp{create(a), del(a, -1)}
	case x < 90: // two writes of one key in one txn
		subs = []checker.SubOp{set(a, -1), set(a, -1)}
	default: // three ops ending in a check
		subs = []checker.SubOp{set(a, -1), del(b, n.version(b)), check(a, -1)}
	}
	reqs := make([]model.Request, len(subs))
	for i, s := range subs {
		switch s.Kind {
		case checker.OpCreate:
			reqs[i] = model.Create{Path: s.Path, Data: s.Data, ACL: model.OpenACLUnsafe, Mode: s.Mode}
		case checker.OpSetData:
			reqs[i] = model.SetData{Path: s.Path, Data: s.Data, Version: s.Version}
		case checker.OpDelete:
			reqs[i] = model.Delete{Path: s.Path, Version: s.Version}
		case checker.OpCheck:
			reqs[i] = model.Check{Path: s.Path, Version: s.Version}
		}
	}
	n.start(checker.Op{Kind: checker.OpMulti, Multi: subs}, n.c.Multi(reqs...))
}

// idleOp: a client that holds an ephemeral node and a register key of its
// own, acts, then stays idle for several session timeouts (its library
// keeps the session alive with pings while leaders change and servers
// come and go), then acts again: the session, its ephemeral and what it
// has seen must all have survived. Sometimes it moves to another server
// right after its write and reads there instead; now and then it stalls
// (its process stops, as in a long GC pause) for longer than the session
// timeout, so that the session expires under it.
func (n *clientNode) idleOp() {
	eph := n.ephemeralParent() + "/idle-" + strconv.Itoa(int(n.id))
	k := n.groupPath() + "/k" + strconv.Itoa(int(n.id)%3)
	step := n.idleStep
	n.idleStep++
	timeout := n.run.sc.SessionTimeout
	switch step {
	case 0:
		n.create(eph, model.ModeEphemeral)
	case 1:
		if n.rnd.IntN(2) == 0 {
			n.setData(k, -1)
		} else {
			n.create(k, model.ModePersistent)
		}
		// Then, once the write is answered, idle, stall or move.
		idle := timeout * node.Time(3+n.rnd.IntN(6))
		nap := timeout * node.Time(2+n.rnd.IntN(2))
		switch x := n.rnd.IntN(8); {
		case x < 3:
			n.hopAfter = true
		case x < 5 && n.now+nap+5*node.Second < n.run.sc.Duration:
			// A stall ends well before the run's safety phase does, so
			// that the client is awake when the run settles.
			n.napAfter = nap
		default:
			n.idleAfter = idle
		}
	case 2:
		if n.hopAfter {
			n.hopAfter = false
			n.moveToAnother()
			n.getData(k, false)
			n.idleAfter = timeout * node.Time(1+n.rnd.IntN(3))
			n.idleStep = 1
			return
		}
		n.exists(eph, false)
	case 3:
		n.syncGetData(k, false)
	case 4:
		n.getData(k, false)
		n.idleStep = 1
	}
}
