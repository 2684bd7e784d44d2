package model

import "slices"

// Apply applies a committed txn, as DataTree.processTxn (plus the session
// table updates ZooKeeperServer.processTxn makes), and advances LastZxid to
// hdr.Zxid if that is greater.
//
// Apply is total. A txn that cannot apply to this tree (which a correct leader
// never proposes, but a replication bug can deliver) returns its ZooKeeper
// error code and leaves the tree as it was; so does a nil txn or a pointer to
// one (ErrMarshallingError: txns are values). In particular a MultiTxn applies
// all of its ops or none of them: ops are first checked against an overlay,
// then applied.
func (t *Tree) Apply(hdr TxnHeader, txn Txn) Result {
	var r Result
	switch x := txn.(type) {
	case MultiTxn:
		r = t.applyMulti(hdr, x)
	case CreateSessionTxn:
		t.putSession(hdr.Session, sessionEntry{timeoutMs: x.TimeoutMs, passwd: x.Passwd})
		r = Result{Op: OpCreateSession}
	case CloseSessionTxn:
		r = t.applyCloseSession(hdr, x)
	case ErrorTxn:
		r = Result{Op: OpError, Err: x.Err}
	default:
		r = t.applySingle(hdr, txn)
	}
	if hdr.Zxid > t.lastZxid {
		t.lastZxid = hdr.Zxid
	}
	return r
}

// applySingle applies a create, delete, setData, setACL or check outside a
// multi.
func (t *Tree) applySingle(hdr TxnHeader, txn Txn) Result {
	v := applyView{t: t, session: hdr.Session}
	if err := v.check(txn); err != ErrOK {
		op, path := txnOpAndPath(txn)
		return Result{Op: op, Err: err, Path: path}
	}
	var events []WatchEvent
	if n := eventCount(txn); n > 0 {
		events = make([]WatchEvent, 0, n)
	}
	r := t.do(hdr, txn, &events)
	r.Events = events
	return r
}

// applyMulti implements ZooKeeper's multi results: when an op failed in
// Prepare (an ErrorTxn is present), nothing is applied and the ops before the
// failing one report ErrOK, the failing one its error, and the ones after it
// ErrRuntimeInconsistency. The same shape is reported if an op turns out not
// to apply here; ZooKeeper would have applied the ops before it (see the
// package notes on deviations).
func (t *Tree) applyMulti(hdr TxnHeader, m MultiTxn) Result {
	failAt, failErr := -1, ErrOK
	for i, sub := range m.Txns {
		if e, ok := sub.(ErrorTxn); ok {
			failAt, failErr = i, e.Err
			break
		}
	}
	if failAt < 0 {
		v := applyView{t: t, session: hdr.Session, over: make(map[string]viewNode, 2*len(m.Txns))}
		for i, sub := range m.Txns {
			if err := v.checkMultiOp(sub); err != ErrOK {
				failAt, failErr = i, err
				break
			}
		}
	}
	r := Result{Op: OpMulti, Multi: make([]Result, len(m.Txns))}
	if failAt >= 0 && t.bugs.MultiPartial {
		// Seeded bug: the ops before the failing one take effect.
		for _, sub := range m.Txns[:failAt] {
			if _, isErr := sub.(ErrorTxn); !isErr {
				t.do(hdr, sub, &r.Events)
			}
		}
	}
	if failAt >= 0 {
		for i, sub := range m.Txns {
			sr := Result{Op: OpError}
			switch {
			case i == failAt:
				sr.Err = failErr
			case i > failAt:
				sr.Err = ErrRuntimeInconsistency
				if e, ok := sub.(ErrorTxn); ok {
					sr.Err = e.Err
				}
			}
			r.Multi[i] = sr
			if r.Err == ErrOK {
				r.Err = sr.Err
			}
		}
		return r
	}
	n := 0
	for _, sub := range m.Txns {
		n += eventCount(sub)
	}
	if n > 0 {
		r.Events = make([]WatchEvent, 0, n)
	}
	for i, sub := range m.Txns {
		r.Multi[i] = t.do(hdr, sub, &r.Events)
	}
	return r
}

// applyCloseSession is DataTree.killSession: delete the paths the txn lists,
// then whatever else the session still owns (sorted), ignoring paths that are
// gone; then drop the session from the table.
func (t *Tree) applyCloseSession(hdr TxnHeader, x CloseSessionTxn) Result {
	r := Result{Op: OpCloseSession}
	owned := t.ephemerals[hdr.Session]
	delete(t.ephemerals, hdr.Session)
	for _, p := range x.Paths {
		delete(owned, p)
		t.deleteIfLeaf(hdr, p, &r.Events)
	}
	rest := make([]string, 0, len(owned))
	for p := range owned {
		rest = append(rest, p)
	}
	slices.Sort(rest)
	for _, p := range rest {
		t.deleteIfLeaf(hdr, p, &r.Events)
	}
	if e, ok := t.sessions[hdr.Session]; ok {
		t.digest -= hashSession(hdr.Session, e.timeoutMs)
		delete(t.sessions, hdr.Session)
	}
	return r
}

// deleteIfLeaf deletes a node closeSession names if it is there. A node with
// children is left alone: an ephemeral cannot have any, and deleting it would
// orphan them.
func (t *Tree) deleteIfLeaf(hdr TxnHeader, path string, events *[]WatchEvent) {
	if n := t.nodes[path]; n != nil && path != "/" && len(n.children) == 0 {
		t.doDelete(hdr, path, events)
	}
}

// putSession adds a session or replaces its entry. The digest covers the
// session's id and timeout, not its password: the password is a secret and
// every replica gets it from the same txn.
func (t *Tree) putSession(id int64, e sessionEntry) {
	if old, ok := t.sessions[id]; ok {
		t.digest -= hashSession(id, old.timeoutMs)
	}
	t.sessions[id] = e
	t.digest += hashSession(id, e.timeoutMs)
}

// applyView answers what the checks need to know of a path (does it exist,
// how many children, is it ephemeral) through an overlay of the ops already
// checked in the same multi (over is nil outside a multi).
type applyView struct {
	t       *Tree
	session int64 // the header's: the owner of ephemerals this txn creates
	over    map[string]viewNode
}

type viewNode struct {
	exists    bool
	ephemeral bool
	children  int32
}

func (v *applyView) get(path string) viewNode {
	if v.over != nil {
		if n, ok := v.over[path]; ok {
			return n
		}
	}
	n := v.t.nodes[path]
	if n == nil {
		return viewNode{}
	}
	return viewNode{exists: true, ephemeral: n.kind == kindEphemeral, children: int32(len(n.children))}
}

func (v *applyView) set(path string, n viewNode) {
	if v.over != nil {
		v.over[path] = n
	}
}

// checkMultiOp admits only the ops ZooKeeper accepts inside a multi.
func (v *applyView) checkMultiOp(txn Txn) Err {
	switch txn.(type) {
	case CreateTxn, DeleteTxn, SetDataTxn, CheckVersionTxn:
		return v.check(txn)
	}
	return ErrMarshallingError
}

// check reports why txn cannot apply, or ErrOK; in a multi it also records
// the op's effect in the overlay. Every condition do relies on is checked
// here, which is what makes do infallible.
func (v *applyView) check(txn Txn) Err {
	switch x := txn.(type) {
	case CreateTxn:
		if !x.Mode.Valid() || x.Mode.IsTTL() && (x.TTL <= 0 || x.TTL > MaxTTL) {
			return ErrBadArguments
		}
		if x.Path == "/" || !validPath(x.Path) {
			return ErrBadArguments
		}
		parentP, _ := parentPath(x.Path)
		parent := v.get(parentP)
		if !parent.exists {
			return ErrNoNode
		}
		if v.get(x.Path).exists {
			return ErrNodeExists
		}
		// ZooKeeper checks this in prep only. Checking it here too keeps
		// "an ephemeral has no children" true whatever a replica is sent,
		// which closeSession relies on.
		if parent.ephemeral {
			return ErrNoChildrenForEphemerals
		}
		v.set(x.Path, viewNode{exists: true, ephemeral: x.Mode.IsEphemeral() && v.session != 0})
		parent.children++
		v.set(parentP, parent)
		return ErrOK
	case DeleteTxn:
		if x.Path == "/" {
			return ErrBadArguments
		}
		n := v.get(x.Path)
		if !n.exists {
			return ErrNoNode
		}
		if n.children > 0 {
			return ErrNotEmpty
		}
		parentP, _ := parentPath(x.Path)
		parent := v.get(parentP) // a node's parent always exists
		v.set(x.Path, viewNode{})
		parent.children--
		v.set(parentP, parent)
		return ErrOK
	case SetDataTxn:
		return v.mustExist(x.Path)
	case SetACLTxn:
		return v.mustExist(x.Path)
	case CheckVersionTxn:
		// ZooKeeper checks versions in Prepare only; applying a check is a
		// no-op, whatever the node's state.
		return ErrOK
	}
	return ErrMarshallingError
}

func (v *applyView) mustExist(path string) Err {
	if !v.get(path).exists {
		return ErrNoNode
	}
	return ErrOK
}

// do applies a txn that check has admitted.
func (t *Tree) do(hdr TxnHeader, txn Txn, events *[]WatchEvent) Result {
	switch x := txn.(type) {
	case CreateTxn:
		return t.doCreate(hdr, x, events)
	case DeleteTxn:
		t.doDelete(hdr, x.Path, events)
		return Result{Op: OpDelete, Path: x.Path}
	case SetDataTxn:
		n := t.nodes[x.Path]
		n.data = x.Data
		n.dataHash = hashData(x.Data)
		n.mtime = hdr.TimeMs
		n.mzxid = hdr.Zxid
		n.version = x.Version
		t.rehash(n)
		*events = append(*events, WatchEvent{Type: EventNodeDataChanged, Path: x.Path})
		return Result{Op: OpSetData, Path: x.Path, Stat: n.stat()}
	case SetACLTxn:
		n := t.nodes[x.Path]
		n.acl = x.ACL
		n.aclHash = hashACL(x.ACL)
		n.aversion = x.Version
		t.rehash(n)
		return Result{Op: OpSetACL, Path: x.Path, Stat: n.stat()}
	case CheckVersionTxn:
		return Result{Op: OpCheck, Path: x.Path}
	}
	panic("model: do called with a txn check did not admit")
}

// doCreate is DataTree.createNode.
func (t *Tree) doCreate(hdr TxnHeader, x CreateTxn, events *[]WatchEvent) Result {
	parentP, _ := parentPath(x.Path)
	parent := t.nodes[parentP]
	n := &node{
		data:  x.Data,
		acl:   x.ACL,
		czxid: hdr.Zxid, mzxid: hdr.Zxid, pzxid: hdr.Zxid,
		ctime: hdr.TimeMs, mtime: hdr.TimeMs,
		kind: kindPersistent,
	}
	switch {
	case x.Mode.IsEphemeral() && hdr.Session != 0:
		// ZooKeeper stores the session in ephemeralOwner, where 0 means
		// "not ephemeral": an ephemeral create by session 0 is persistent.
		n.kind, n.owner = kindEphemeral, hdr.Session
	case x.Mode.IsContainer():
		n.kind = kindContainer
	case x.Mode.IsTTL():
		n.kind, n.ttl = kindTTL, x.TTL
	}
	n.pathHash = hashPath(x.Path)
	n.dataHash = hashData(x.Data)
	n.aclHash = hashACL(x.ACL)
	n.hash = n.computeHash()
	t.digest += n.hash

	// ZooKeeper moves the parent's counter and pzxid forward only, so that
	// replaying a txn over a newer snapshot cannot move them back.
	pcv := x.ParentCVersion
	if pcv == -1 {
		pcv = parent.cversion + 1
	}
	if pcv > parent.cversion {
		parent.cversion = pcv
		parent.pzxid = hdr.Zxid
	}
	parent.insertChild(baseName(x.Path))
	t.rehash(parent)
	t.nodes[x.Path] = n
	t.index(x.Path, n)
	*events = append(*events,
		WatchEvent{Type: EventNodeCreated, Path: x.Path},
		WatchEvent{Type: EventNodeChildrenChanged, Path: parentP})
	return Result{Op: x.Op(), Path: x.Path, Stat: n.stat()}
}

// doDelete is DataTree.deleteNode for a node known to exist without
// children.
func (t *Tree) doDelete(hdr TxnHeader, path string, events *[]WatchEvent) {
	n := t.nodes[path]
	parentP, _ := parentPath(path)
	parent := t.nodes[parentP]
	t.digest -= n.hash
	delete(t.nodes, path)
	parent.removeChild(baseName(path))
	if hdr.Zxid > parent.pzxid {
		parent.pzxid = hdr.Zxid
	}
	t.rehash(parent)
	t.unindex(path, n)
	*events = append(*events,
		WatchEvent{Type: EventNodeDeleted, Path: path},
		WatchEvent{Type: EventNodeChildrenChanged, Path: parentP})
}

func (t *Tree) index(path string, n *node) {
	switch n.kind {
	case kindEphemeral:
		set := t.ephemerals[n.owner]
		if set == nil {
			set = make(map[string]struct{})
			t.ephemerals[n.owner] = set
		}
		set[path] = struct{}{}
	case kindContainer:
		t.containers[path] = struct{}{}
	case kindTTL:
		t.ttls[path] = struct{}{}
	}
}

func (t *Tree) unindex(path string, n *node) {
	switch n.kind {
	case kindEphemeral:
		if set := t.ephemerals[n.owner]; set != nil {
			delete(set, path)
			if len(set) == 0 {
				delete(t.ephemerals, n.owner)
			}
		}
	case kindContainer:
		delete(t.containers, path)
	case kindTTL:
		delete(t.ttls, path)
	}
}

// txnOpAndPath names a single-op txn for its failure Result. Anything else
// (nil, or a pointer to a txn, which Apply does not take) is OpError.
func txnOpAndPath(txn Txn) (OpCode, string) {
	switch x := txn.(type) {
	case CreateTxn:
		return x.Op(), x.Path
	case DeleteTxn:
		return OpDelete, x.Path
	case SetDataTxn:
		return OpSetData, x.Path
	case SetACLTxn:
		return OpSetACL, x.Path
	case CheckVersionTxn:
		return OpCheck, x.Path
	}
	return OpError, ""
}

// eventCount is how many watch events a txn adds when it applies, so the
// slice is allocated once.
func eventCount(txn Txn) int {
	switch txn.(type) {
	case CreateTxn, DeleteTxn:
		return 2
	case SetDataTxn:
		return 1
	}
	return 0
}
