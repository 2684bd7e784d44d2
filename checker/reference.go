package checker

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"zoosim/model"
)

// The checker's own reference of ZooKeeper's data tree. Every judgement the
// checkers make about what a txn or a request should have done comes from
// here, never from package model's code: a bug the servers and the checker
// shared would be invisible to both. It is written from ZooKeeper's
// behaviour (reference/zookeeper.md, PrepRequestProcessor and DataTree of
// 3.8), deliberately simple: a map of nodes, a session table, and an undo
// log that makes a multi all-or-nothing. It imports model for its types
// (Txn, Stat, Err, Zxid, CreateMode) only; the differential property test
// holds the two implementations to each other.
//
// Two entry points:
//
//   - decide is PrepRequestProcessor: what ZooKeeper commits for a request
//     of a session against this state (the txn with its final path and
//     versions, or the error), in ZooKeeper's order of checks. It leaves the
//     tree as it found it.
//   - apply is DataTree.processTxn, strict: it applies a committed txn and
//     says so when the txn does not fit the state (a setData whose version is
//     not one more than the node's, a sequential name that is not the
//     parent's counter, a create of an existing node, a closeSession that
//     deletes another session's node, ...). model.Apply is lenient by design;
//     the reference is not, because a committed txn that does not fit is a
//     bug of the leader that prepared it.

// refKind is what a node's owner field means (numbered as the digest
// format has them).
type refKind uint8

const (
	refPersistent refKind = iota + 1
	refEphemeral
	refContainer
	refTTL
)

type refNode struct {
	data                []byte
	children            []string // child names, sorted
	czxid, mzxid, pzxid model.Zxid
	ctime, mtime        int64
	version, aversion   int32
	// creations counts the node's child creations: the next sequential
	// suffix. A client sees cversion = 2*creations - numChildren.
	creations int32
	kind      refKind
	owner     int64 // the session of an ephemeral node
	ttl       int64
	acl       []model.ACL
	perms     int32 // what world:anyone may do (zoosim has no other identity)
}

func (n *refNode) stat() model.Stat {
	kids := int32(len(n.children))
	st := model.Stat{Czxid: n.czxid, Mzxid: n.mzxid, Ctime: n.ctime, Mtime: n.mtime, Version: n.version,
		Cversion: 2*n.creations - kids, Aversion: n.aversion, DataLength: int32(len(n.data)),
		NumChildren: kids, Pzxid: n.pzxid}
	if n.kind == refEphemeral {
		st.EphemeralOwner = n.owner
	}
	return st
}

// refTree is the reference state.
type refTree struct {
	nodes    map[string]*refNode
	sessions map[int64]int32 // live sessions and their timeouts
	// saved holds, while a scope is open, each touched node as it was
	// before the scope (nil: it did not exist), but for its children, whose
	// changes childLog lists in order (so that a parent with many children
	// is not copied for each child created or deleted).
	saved    map[string]*refNode
	childLog []childChange
	scoping  bool
	// digest is the servers' fingerprint of this state (see digest below),
	// and owned the ephemeral nodes of each session; both are kept up to
	// date as scopes commit.
	digest uint64
	owned  map[int64]map[string]bool
}

const (
	refPermRead   = 1 << 0
	refPermWrite  = 1 << 1
	refPermCreate = 1 << 2
	refPermDelete = 1 << 3
	refPermAdmin  = 1 << 4
	refPermAll    = 0x1f
)

// newRefTree is the tree every ZooKeeper server starts with: the root,
// /zookeeper, /zookeeper/quota and /zookeeper/config, with empty data and
// zero stats, linked without touching the parents' counters (so the root
// shows cversion -1 and /zookeeper -2); /zookeeper/config is read-only for
// everyone and its ACL version is -1.
func newRefTree() *refTree {
	t := &refTree{nodes: map[string]*refNode{}, sessions: map[int64]int32{}, owned: map[int64]map[string]bool{}}
	open := []model.ACL{{Perms: refPermAll, Scheme: "world", ID: "anyone"}}
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
		n := &refNode{data: []byte{}, kind: refPersistent, acl: open, perms: refPermAll}
		t.nodes[p] = n
		if p != "/" {
			parent, name := splitPath(p)
			t.nodes[parent].children = insertSorted(t.nodes[parent].children, name)
		}
	}
	cfg := t.nodes["/zookeeper/config"]
	cfg.acl = []model.ACL{{Perms: refPermRead, Scheme: "world", ID: "anyone"}}
	cfg.perms, cfg.aversion = refPermRead, -1
	for p, n := range t.nodes {
		t.digest += refNodeHash(p, n)
	}
	return t
}

// splitPath cuts a path at its last '/': "/a/b" is ("/a", "b"), "/a" is
// ("/", "a").
func splitPath(p string) (parent, name string) {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/", p[i+1:]
	}
	return p[:i], p[i+1:]
}

func insertSorted(s []string, v string) []string {
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

func removeSorted(s []string, v string) []string {
	if i, found := slices.BinarySearch(s, v); found {
		return slices.Delete(s, i, i+1)
	}
	return s
}

func childOf(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// worldPerms is what an ACL lets world:anyone do; an empty ACL lets
// everyone do everything, as ZooKeeper's checkACL.
func worldPerms(acl []model.ACL) int32 {
	if len(acl) == 0 {
		return refPermAll
	}
	var p int32
	for _, a := range acl {
		if a.Scheme == "world" && a.ID == "anyone" {
			p |= a.Perms
		}
	}
	return p
}

// refValidPath is PathUtils.validatePath: absolute; no trailing '/' but the
// root; no empty, "." or ".." component; no NUL; no character in U+0001 to
// U+001F, U+007F to U+009F, U+D800 to U+F8FF or U+FFF0 to U+FFFF; and since
// ZooKeeper checks UTF-16 code units of the decoded string, nothing outside
// the Basic Multilingual Plane and no malformed UTF-8 (it decodes to
// U+FFFD).
func refValidPath(p string) bool {
	if p == "/" {
		return true
	}
	if p == "" || p[0] != '/' || p[len(p)-1] == '/' {
		return false
	}
	for _, comp := range strings.Split(p[1:], "/") {
		if comp == "" || comp == "." || comp == ".." {
			return false
		}
	}
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRuneInString(p[i:])
		i += size
		switch {
		case r == 0, r == utf8.RuneError && size == 1:
			return false
		case r <= 0x1f, r >= 0x7f && r <= 0x9f, r >= 0xd800 && r <= 0xf8ff, r >= 0xfff0:
			return false
		}
	}
	return true
}

// refSpecialPath: the nodes ZooKeeper never deletes.
func refSpecialPath(p string) bool {
	switch p {
	case "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config":
		return true
	}
	return false
}

// refSequence is Java's String.format("%010d", n).
func refSequence(n int32) string {
	if n < 0 {
		return fmt.Sprintf("-%09d", -int64(n))
	}
	return fmt.Sprintf("%010d", n)
}

// childChange is a child added to or removed from a parent in a scope.
type childChange struct {
	parent, name string
	added        bool
}

// Scopes: everything a multi (or decide) changes can be undone.

func (t *refTree) begin() {
	if t.scoping {
		panic("checker: reference invariant violated: scopes do not nest")
	}
	t.scoping = true
	clear(t.saved)
	t.childLog = t.childLog[:0]
	if t.saved == nil {
		t.saved = map[string]*refNode{}
	}
}

// rollback puts every saved node back (with the children it has now: a
// node deleted in the scope had none left), then undoes the child changes
// newest first.
func (t *refTree) rollback() {
	for p, n := range t.saved {
		if n == nil {
			delete(t.nodes, p)
			continue
		}
		c := *n
		c.children = nil
		if live := t.nodes[p]; live != nil {
			c.children = live.children
		}
		t.nodes[p] = &c
	}
	for i := len(t.childLog) - 1; i >= 0; i-- {
		ch := t.childLog[i]
		if n := t.nodes[ch.parent]; n != nil {
			if ch.added {
				n.children = removeSorted(n.children, ch.name)
			} else {
				n.children = insertSorted(n.children, ch.name)
			}
		}
	}
	t.scoping = false
	clear(t.saved)
	t.childLog = t.childLog[:0]
}

func (t *refTree) commit() {
	for p, old := range t.saved {
		if old != nil {
			t.digest -= refNodeHash(p, old)
			if old.kind == refEphemeral {
				delete(t.owned[old.owner], p)
				if len(t.owned[old.owner]) == 0 {
					delete(t.owned, old.owner)
				}
			}
		}
		if n := t.nodes[p]; n != nil {
			t.digest += refNodeHash(p, n)
			if n.kind == refEphemeral {
				if t.owned[n.owner] == nil {
					t.owned[n.owner] = map[string]bool{}
				}
				t.owned[n.owner][p] = true
			}
		}
	}
	t.scoping = false
	clear(t.saved)
	t.childLog = t.childLog[:0]
}

// addChild and removeChild change a parent's children, logged in a scope.
func (t *refTree) addChild(parent string, n *refNode, name string) {
	n.children = insertSorted(n.children, name)
	if t.scoping {
		t.childLog = append(t.childLog, childChange{parent: parent, name: name, added: true})
	}
}

func (t *refTree) removeChild(parent string, n *refNode, name string) {
	n.children = removeSorted(n.children, name)
	if t.scoping {
		t.childLog = append(t.childLog, childChange{parent: parent, name: name})
	}
}

// save remembers a path as it was before the scope changed it.
func (t *refTree) save(p string) {
	if !t.scoping {
		return
	}
	if _, done := t.saved[p]; done {
		return
	}
	n := t.nodes[p]
	if n == nil {
		t.saved[p] = nil
		return
	}
	c := *n
	c.children = nil // rollback rebuilds them from the child log
	t.saved[p] = &c
}

// mutable returns a node to change in place, saved first.
func (t *refTree) mutable(p string) *refNode {
	t.save(p)
	return t.nodes[p]
}

// Reads.

func (t *refTree) getData(p string) ([]byte, model.Stat, bool) {
	n := t.nodes[p]
	if n == nil {
		return nil, model.Stat{}, false
	}
	return n.data, n.stat(), true
}

func (t *refTree) exists(p string) (model.Stat, bool) {
	n := t.nodes[p]
	if n == nil {
		return model.Stat{}, false
	}
	return n.stat(), true
}

// children returns the sorted child names (a copy) and the Stat.
func (t *refTree) children(p string) ([]string, model.Stat, bool) {
	n := t.nodes[p]
	if n == nil {
		return nil, model.Stat{}, false
	}
	return slices.Clone(n.children), n.stat(), true
}

func (t *refTree) live(session int64) bool {
	_, ok := t.sessions[session]
	return ok
}

// ephemeralsOf lists, sorted, the ephemeral nodes a session owns (outside
// a scope).
func (t *refTree) ephemeralsOf(session int64) []string {
	if len(t.owned[session]) == 0 {
		return nil
	}
	return sortedKeys(t.owned[session])
}

// owners lists, sorted, every session that owns an ephemeral node.
func (t *refTree) owners() []int64 { return sortedKeys(t.owned) }

// refRequest is a client's write request as the history records it.
type refRequest struct {
	kind    OpKind // OpCreate, OpDelete, OpSetData, OpCheck or OpMulti
	path    string
	data    []byte
	version int32
	mode    model.CreateMode
	ttl     int64 // TTL modes; histories do not record it
	subs    []refRequest
}

func requestOf(op *Op) refRequest {
	r := refRequest{kind: op.Kind, path: op.Path, data: op.Data, version: op.Version, mode: op.Mode}
	for _, s := range op.Multi {
		r.subs = append(r.subs, refRequest{kind: s.Kind, path: s.Path, data: s.Data, version: s.Version, mode: s.Mode})
	}
	return r
}

// decide is what ZooKeeper's leader commits for req of session against
// this state: the txn, or an ErrorTxn with the first check that fails, in
// PrepRequestProcessor's order. A multi's ops see the effects of the ops
// before them; when one fails, it is ErrorTxn(its error) and every later op
// ErrorTxn(RuntimeInconsistency) (the ops before it keep their txns, which
// nothing applies). The tree is left as it was.
func (t *refTree) decide(session int64, req refRequest) model.Txn {
	t.begin()
	defer t.rollback()
	if req.kind != OpMulti {
		txn, err := t.decideOne(session, req)
		if err != model.ErrOK {
			return model.ErrorTxn{Err: err}
		}
		return txn
	}
	out := model.MultiTxn{Txns: make([]model.Txn, len(req.subs))}
	failed := false
	for i, sub := range req.subs {
		if failed {
			out.Txns[i] = model.ErrorTxn{Err: model.ErrRuntimeInconsistency}
			continue
		}
		txn, err := t.decideOne(session, sub)
		if err != model.ErrOK {
			out.Txns[i] = model.ErrorTxn{Err: err}
			failed = true
			continue
		}
		out.Txns[i] = txn
	}
	return out
}

// decideOne checks one request and, when it passes, makes its effect (for
// the ops after it in a multi; the scope is rolled back).
func (t *refTree) decideOne(session int64, r refRequest) (model.Txn, model.Err) {
	switch r.kind {
	case OpCreate:
		return t.decideCreate(session, r)
	case OpDelete:
		if !t.live(session) {
			return nil, model.ErrSessionExpired
		}
		i := strings.LastIndexByte(r.path, '/')
		if i < 0 || strings.IndexByte(r.path, 0) >= 0 || refSpecialPath(r.path) {
			return nil, model.ErrBadArguments
		}
		parentPath := "/"
		if i > 0 {
			parentPath = r.path[:i]
		}
		parent := t.nodes[parentPath]
		if parent == nil {
			return nil, model.ErrNoNode
		}
		if parent.perms&refPermDelete == 0 {
			return nil, model.ErrNoAuth
		}
		n := t.nodes[r.path]
		if n == nil {
			return nil, model.ErrNoNode
		}
		if r.version != -1 && r.version != n.version {
			return nil, model.ErrBadVersion
		}
		if len(n.children) > 0 {
			return nil, model.ErrNotEmpty
		}
		t.save(r.path)
		delete(t.nodes, r.path)
		t.removeChild(parentPath, t.mutable(parentPath), r.path[i+1:])
		return model.DeleteTxn{Path: r.path}, model.ErrOK
	case OpSetData, OpCheck:
		if !t.live(session) {
			return nil, model.ErrSessionExpired
		}
		if !refValidPath(r.path) {
			return nil, model.ErrBadArguments
		}
		n := t.nodes[r.path]
		if n == nil {
			return nil, model.ErrNoNode
		}
		need := int32(refPermWrite)
		if r.kind == OpCheck {
			need = refPermRead
		}
		if n.perms&need == 0 {
			return nil, model.ErrNoAuth
		}
		if r.version != -1 && r.version != n.version {
			return nil, model.ErrBadVersion
		}
		next := n.version + 1
		if r.kind == OpCheck {
			return model.CheckVersionTxn{Path: r.path, Version: next}, model.ErrOK
		}
		m := t.mutable(r.path)
		m.version, m.data = next, r.data
		return model.SetDataTxn{Path: r.path, Data: r.data, Version: next}, model.ErrOK
	}
	// A multi inside a multi, or no write at all.
	return nil, model.ErrMarshallingError
}

func (t *refTree) decideCreate(session int64, r refRequest) (model.Txn, model.Err) {
	if r.mode < model.ModePersistent || r.mode > model.ModePersistentSequentialWithTTL {
		return nil, model.ErrBadArguments
	}
	ttlMode := r.mode == model.ModePersistentWithTTL || r.mode == model.ModePersistentSequentialWithTTL
	if ttlMode && (r.ttl <= 0 || r.ttl > model.MaxTTL) || !ttlMode && r.ttl > 0 {
		return nil, model.ErrBadArguments
	}
	if !t.live(session) {
		return nil, model.ErrSessionExpired
	}
	i := strings.LastIndexByte(r.path, '/')
	if i < 0 || strings.IndexByte(r.path, 0) >= 0 {
		return nil, model.ErrBadArguments
	}
	parentPath := "/"
	if i > 0 {
		parentPath = r.path[:i]
	}
	parent := t.nodes[parentPath]
	if parent == nil {
		return nil, model.ErrNoNode
	}
	if parent.perms&refPermCreate == 0 {
		return nil, model.ErrNoAuth
	}
	path := r.path
	sequential := r.mode == model.ModePersistentSequential || r.mode == model.ModeEphemeralSequential ||
		r.mode == model.ModePersistentSequentialWithTTL
	if sequential {
		path += refSequence(parent.creations)
	}
	if !refValidPath(path) {
		return nil, model.ErrBadArguments
	}
	if t.nodes[path] != nil {
		return nil, model.ErrNodeExists
	}
	if parent.kind == refEphemeral {
		return nil, model.ErrNoChildrenForEphemerals
	}
	txn := model.CreateTxn{Path: path, Data: r.data, Mode: r.mode, ParentCVersion: parent.creations + 1}
	if ttlMode {
		txn.TTL = r.ttl
	}
	t.create(session, model.TxnHeader{Session: session}, txn, nil)
	return txn, model.ErrOK
}

// refResult is what applying a committed txn did, as a client's reply shows
// it, with the watch events it raised.
type refResult struct {
	err    model.Err
	path   string
	stat   model.Stat
	multi  []refResult
	events []model.WatchEvent
}

// apply applies a committed txn strictly. problem is "" when the txn fits
// the state; otherwise it says why not, and the tree is left as it was
// (a closeSession still ends its session and deletes what it owns).
func (t *refTree) apply(hdr model.TxnHeader, txn model.Txn) (res refResult, problem string) {
	switch x := txn.(type) {
	case model.ErrorTxn:
		return refResult{err: x.Err}, ""
	case model.CreateSessionTxn:
		if old, ok := t.sessions[hdr.Session]; ok {
			t.digest -= refSessionHash(hdr.Session, old)
		}
		t.sessions[hdr.Session] = x.TimeoutMs
		t.digest += refSessionHash(hdr.Session, x.TimeoutMs)
		return refResult{}, ""
	case model.CloseSessionTxn:
		t.begin()
		res, problem := t.closeSession(hdr, x)
		t.commit()
		return res, problem
	case model.MultiTxn:
		return t.applyMulti(hdr, x)
	case nil:
		return refResult{err: model.ErrMarshallingError}, "a nil txn"
	}
	t.begin()
	var events []model.WatchEvent
	res, problem = t.applyOne(hdr, txn, &events)
	if problem != "" {
		t.rollback()
		return refResult{err: res.err, path: res.path}, problem
	}
	t.commit()
	res.events = events
	return res, ""
}

func (t *refTree) applyMulti(hdr model.TxnHeader, m model.MultiTxn) (refResult, string) {
	res := refResult{multi: make([]refResult, len(m.Txns))}
	failAt := slices.IndexFunc(m.Txns, func(s model.Txn) bool { _, isErr := s.(model.ErrorTxn); return isErr })
	if failAt >= 0 {
		// A multi that failed in prep: nothing applies; the ops before the
		// failing one report ok, the failing one its error, the ones after
		// it their own error (RuntimeInconsistency).
		for i, s := range m.Txns {
			if e, isErr := s.(model.ErrorTxn); isErr && i >= failAt {
				res.multi[i].err = e.Err
			} else if i > failAt {
				res.multi[i].err = model.ErrRuntimeInconsistency
			}
		}
		res.err = res.multi[failAt].err
		return res, ""
	}
	t.begin()
	for i, s := range m.Txns {
		switch s.(type) {
		case model.CreateTxn, model.DeleteTxn, model.SetDataTxn, model.CheckVersionTxn:
		default:
			t.rollback()
			return refResult{err: model.ErrMarshallingError, multi: res.multi}, fmt.Sprintf("op %d of the multi is a %s", i, txnSummary(s))
		}
		sub, problem := t.applyOne(hdr, s, &res.events)
		if problem != "" {
			t.rollback()
			return refResult{err: sub.err, multi: res.multi}, fmt.Sprintf("op %d of the multi: %s", i, problem)
		}
		res.multi[i] = sub
	}
	t.commit()
	return res, ""
}

// applyOne applies a create, delete, setData, check or setACL inside the
// open scope.
func (t *refTree) applyOne(hdr model.TxnHeader, txn model.Txn, events *[]model.WatchEvent) (refResult, string) {
	switch x := txn.(type) {
	case model.CreateTxn:
		if problem := t.createProblem(x); problem != "" {
			return refResult{err: createProblemErr(t, x), path: x.Path}, problem
		}
		n := t.create(hdr.Session, hdr, x, events)
		return refResult{path: x.Path, stat: n.stat()}, ""
	case model.DeleteTxn:
		n := t.nodes[x.Path]
		switch {
		case refSpecialPath(x.Path):
			return refResult{err: model.ErrBadArguments, path: x.Path}, fmt.Sprintf("it deletes %s, which ZooKeeper never deletes", x.Path)
		case n == nil:
			return refResult{err: model.ErrNoNode, path: x.Path}, fmt.Sprintf("it deletes %s, which does not exist", x.Path)
		case len(n.children) > 0:
			return refResult{err: model.ErrNotEmpty, path: x.Path}, fmt.Sprintf("it deletes %s, which has children %v", x.Path, n.children)
		}
		t.remove(hdr, x.Path, events)
		return refResult{path: x.Path}, ""
	case model.SetDataTxn:
		n := t.nodes[x.Path]
		if n == nil {
			return refResult{err: model.ErrNoNode, path: x.Path}, fmt.Sprintf("it sets the data of %s, which does not exist", x.Path)
		}
		if x.Version != n.version+1 {
			return refResult{err: model.ErrBadVersion, path: x.Path},
				fmt.Sprintf("it sets %s to version %d, but the node is at version %d (a setData always makes it one more)", x.Path, x.Version, n.version)
		}
		m := t.mutable(x.Path)
		m.data, m.version, m.mzxid, m.mtime = x.Data, x.Version, hdr.Zxid, hdr.TimeMs
		*events = append(*events, model.WatchEvent{Type: model.EventNodeDataChanged, Path: x.Path})
		return refResult{path: x.Path, stat: m.stat()}, ""
	case model.CheckVersionTxn:
		n := t.nodes[x.Path]
		if n == nil {
			return refResult{err: model.ErrNoNode, path: x.Path}, fmt.Sprintf("it checks %s, which does not exist", x.Path)
		}
		if x.Version != n.version+1 {
			return refResult{err: model.ErrBadVersion, path: x.Path},
				fmt.Sprintf("it records a check of %s at version %d, but the node is at version %d", x.Path, x.Version-1, n.version)
		}
		return refResult{path: x.Path}, ""
	case model.SetACLTxn:
		n := t.nodes[x.Path]
		if n == nil {
			return refResult{err: model.ErrNoNode, path: x.Path}, fmt.Sprintf("it sets the ACL of %s, which does not exist", x.Path)
		}
		if x.Version != n.aversion+1 {
			return refResult{err: model.ErrBadVersion, path: x.Path},
				fmt.Sprintf("it sets %s to ACL version %d, but the node is at ACL version %d", x.Path, x.Version, n.aversion)
		}
		m := t.mutable(x.Path)
		m.acl, m.perms, m.aversion = x.ACL, worldPerms(x.ACL), x.Version
		return refResult{path: x.Path, stat: m.stat()}, ""
	}
	return refResult{err: model.ErrMarshallingError}, fmt.Sprintf("a %T cannot apply here", txn)
}

// createProblem says why a committed create does not fit the state.
func (t *refTree) createProblem(x model.CreateTxn) string {
	if x.Mode < model.ModePersistent || x.Mode > model.ModePersistentSequentialWithTTL {
		return fmt.Sprintf("its mode %d is not a create mode", x.Mode)
	}
	ttlMode := x.Mode == model.ModePersistentWithTTL || x.Mode == model.ModePersistentSequentialWithTTL
	if ttlMode && (x.TTL <= 0 || x.TTL > model.MaxTTL) {
		return fmt.Sprintf("its TTL %d is out of range", x.TTL)
	}
	if x.Path == "/" || !refValidPath(x.Path) {
		return fmt.Sprintf("%q is not a path a node can have", x.Path)
	}
	parentPath, name := splitPath(x.Path)
	parent := t.nodes[parentPath]
	switch {
	case parent == nil:
		return fmt.Sprintf("it creates %s, whose parent does not exist", x.Path)
	case t.nodes[x.Path] != nil:
		return fmt.Sprintf("it creates %s, which already exists", x.Path)
	case parent.kind == refEphemeral:
		return fmt.Sprintf("it creates %s under an ephemeral node", x.Path)
	case x.ParentCVersion != -1 && x.ParentCVersion != parent.creations+1:
		return fmt.Sprintf("it sets %s's child counter to %d, but the parent has had %d child creations", parentPath, x.ParentCVersion, parent.creations)
	}
	sequential := x.Mode == model.ModePersistentSequential || x.Mode == model.ModeEphemeralSequential ||
		x.Mode == model.ModePersistentSequentialWithTTL
	if want := refSequence(parent.creations); sequential && !strings.HasSuffix(name, want) {
		return fmt.Sprintf("it creates sequential node %s, but the parent's counter gives the suffix %s", x.Path, want)
	}
	return ""
}

func createProblemErr(t *refTree, x model.CreateTxn) model.Err {
	parentPath, _ := splitPath(x.Path)
	switch {
	case t.nodes[parentPath] == nil:
		return model.ErrNoNode
	case t.nodes[x.Path] != nil:
		return model.ErrNodeExists
	case t.nodes[parentPath].kind == refEphemeral:
		return model.ErrNoChildrenForEphemerals
	}
	return model.ErrBadArguments
}

// create makes a node that createProblem admitted (or decide checked).
func (t *refTree) create(session int64, hdr model.TxnHeader, x model.CreateTxn, events *[]model.WatchEvent) *refNode {
	parentPath, name := splitPath(x.Path)
	n := &refNode{data: x.Data, czxid: hdr.Zxid, mzxid: hdr.Zxid, pzxid: hdr.Zxid, ctime: hdr.TimeMs, mtime: hdr.TimeMs,
		kind: refPersistent, acl: x.ACL, perms: worldPerms(x.ACL)}
	switch x.Mode {
	case model.ModeEphemeral, model.ModeEphemeralSequential:
		// ephemeralOwner 0 means "not ephemeral": session 0 (the leader
		// itself) makes a persistent node.
		if session != 0 {
			n.kind, n.owner = refEphemeral, session
		}
	case model.ModeContainer:
		n.kind = refContainer
	case model.ModePersistentWithTTL, model.ModePersistentSequentialWithTTL:
		n.kind, n.ttl = refTTL, x.TTL
	}
	t.save(x.Path)
	t.nodes[x.Path] = n
	p := t.mutable(parentPath)
	t.addChild(parentPath, p, name)
	p.creations++
	p.pzxid = hdr.Zxid
	if events != nil {
		*events = append(*events, model.WatchEvent{Type: model.EventNodeCreated, Path: x.Path},
			model.WatchEvent{Type: model.EventNodeChildrenChanged, Path: parentPath})
	}
	return n
}

func (t *refTree) remove(hdr model.TxnHeader, path string, events *[]model.WatchEvent) {
	parentPath, name := splitPath(path)
	t.save(path)
	delete(t.nodes, path)
	p := t.mutable(parentPath)
	t.removeChild(parentPath, p, name)
	p.pzxid = hdr.Zxid
	*events = append(*events, model.WatchEvent{Type: model.EventNodeDeleted, Path: path},
		model.WatchEvent{Type: model.EventNodeChildrenChanged, Path: parentPath})
}

// closeSession ends a session: every ephemeral it owns is deleted and it
// leaves the session table. The txn lists the ephemerals the leader saw; a
// listed path may be gone by now, but it must not be another session's or
// a persistent node (ZooKeeper would delete it all the same).
func (t *refTree) closeSession(hdr model.TxnHeader, x model.CloseSessionTxn) (refResult, string) {
	var res refResult
	problem := ""
	for _, p := range x.Paths {
		if n := t.nodes[p]; n != nil && (n.kind != refEphemeral || n.owner != hdr.Session) && problem == "" {
			problem = fmt.Sprintf("it lists %s, which is not an ephemeral node of session %#x", p, hdr.Session)
		}
	}
	for _, p := range t.ephemeralsOf(hdr.Session) {
		t.remove(hdr, p, &res.events)
	}
	if old, ok := t.sessions[hdr.Session]; ok {
		t.digest -= refSessionHash(hdr.Session, old)
		delete(t.sessions, hdr.Session)
	}
	return res, problem
}

// sameDecision compares what the service committed for a request with what
// the reference decides; "" if they agree. A committed create may leave the
// parent's counter to the apply (-1); a failed multi's ops before the
// failing one are not compared (nothing applies them).
func sameDecision(want, got model.Txn) string {
	we, wantErr := want.(model.ErrorTxn)
	ge, gotErr := got.(model.ErrorTxn)
	switch {
	case wantErr && gotErr:
		if we.Err != ge.Err {
			return fmt.Sprintf("the request fails with %s at that state, not %s", errName(we.Err), errName(ge.Err))
		}
		return ""
	case wantErr:
		return fmt.Sprintf("the request fails with %s at that state, but the service committed %s", errName(we.Err), txnSummary(got))
	case gotErr:
		return fmt.Sprintf("the request succeeds at that state (%s), but the service failed it with %s", txnSummary(want), errName(ge.Err))
	}
	if wm, ok := want.(model.MultiTxn); ok {
		gm, ok := got.(model.MultiTxn)
		if !ok || len(gm.Txns) != len(wm.Txns) {
			return fmt.Sprintf("the request is a multi of %d ops, the service committed %s", len(wm.Txns), txnSummary(got))
		}
		wantAt := slices.IndexFunc(wm.Txns, isErrorTxn)
		gotAt := slices.IndexFunc(gm.Txns, isErrorTxn)
		if wantAt >= 0 || gotAt >= 0 {
			if wantAt != gotAt {
				return fmt.Sprintf("the multi fails at op %d at that state (%s), the service failed it at op %d (%s)",
					wantAt, txnSummaryAt(wm, wantAt), gotAt, txnSummaryAt(gm, gotAt))
			}
			for i := wantAt; i < len(wm.Txns); i++ {
				if why := sameDecision(wm.Txns[i], gm.Txns[i]); why != "" {
					return fmt.Sprintf("op %d of the multi: %s", i, why)
				}
			}
			return ""
		}
		for i := range wm.Txns {
			if why := sameDecision(wm.Txns[i], gm.Txns[i]); why != "" {
				return fmt.Sprintf("op %d of the multi: %s", i, why)
			}
		}
		return ""
	}
	same := false
	switch w := want.(type) {
	case model.CreateTxn:
		g, ok := got.(model.CreateTxn)
		same = ok && g.Path == w.Path && bytes.Equal(g.Data, w.Data) && g.Mode == w.Mode &&
			(g.ParentCVersion == -1 || g.ParentCVersion == w.ParentCVersion)
	case model.DeleteTxn:
		g, ok := got.(model.DeleteTxn)
		same = ok && g.Path == w.Path
	case model.SetDataTxn:
		g, ok := got.(model.SetDataTxn)
		same = ok && g.Path == w.Path && bytes.Equal(g.Data, w.Data) && g.Version == w.Version
	case model.CheckVersionTxn:
		g, ok := got.(model.CheckVersionTxn)
		same = ok && g == w
	}
	if same {
		return ""
	}
	return fmt.Sprintf("the request gives %s at that state, but the service committed %s", txnSummary(want), txnSummary(got))
}

func isErrorTxn(t model.Txn) bool { _, ok := t.(model.ErrorTxn); return ok }

func txnSummaryAt(m model.MultiTxn, i int) string {
	if i < 0 {
		return "no op fails"
	}
	return txnSummary(m.Txns[i])
}

// The digest is the servers' fingerprint of a state (model.Tree.Digest),
// which History.Applied records after every txn: to hold a server's state
// to the committed sequence, the reference computes the same number over
// its own state. It is a format, defined bit for bit by zoosim's model
// (FNV-1a and splitmix64's finalizer, folded over every stored field of a
// node, summed over the nodes and the sessions): the one thing here that
// must equal model's by construction rather than by ZooKeeper's rules, and
// the differential property checks it after every step. Because the
// reference computes it from its own state, a server whose own apply got a
// field wrong (a model bug included) shows a digest the reference does not
// reach.

const (
	refFNVOffset = 14695981039346656037
	refFNVPrime  = 1099511628211
)

func refFNV(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= refFNVPrime
	}
	return h
}

func refFNVString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= refFNVPrime
	}
	return h
}

// refFold absorbs one value into a running hash.
func refFold(h, v uint64) uint64 { return mix64(h ^ mix64(v+0x9e3779b97f4a7c15)) }

func refNodeHash(path string, n *refNode) uint64 {
	h := mix64(refFNVString(refFNVOffset, path))
	data := uint64(0x6e696c) // nil data ("nil"), told apart from empty data
	if n.data != nil {
		data = mix64(refFNV(refFNVOffset, n.data) ^ uint64(len(n.data)))
	}
	h = refFold(h, data)
	acl := uint64(refFNVOffset)
	for _, a := range n.acl {
		acl = refFold(acl, uint64(uint32(a.Perms)))
		acl = refFNVString(acl, a.Scheme)
		acl = refFold(acl, uint64(len(a.Scheme)))
		acl = refFNVString(acl, a.ID)
		acl = refFold(acl, uint64(len(a.ID)))
	}
	h = refFold(h, refFold(acl, uint64(len(n.acl))))
	for _, v := range []uint64{uint64(n.czxid), uint64(n.mzxid), uint64(n.pzxid), uint64(n.ctime), uint64(n.mtime),
		uint64(uint32(n.version))<<32 | uint64(uint32(n.creations)),
		uint64(uint32(n.aversion))<<8 | uint64(n.kind), uint64(n.owner), uint64(n.ttl)} {
		h = refFold(h, v)
	}
	return h
}

func refSessionHash(id int64, timeoutMs int32) uint64 {
	return refFold(refFold(0x73657373696f6e, uint64(id)), uint64(uint32(timeoutMs)))
}
