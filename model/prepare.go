package model

import "strings"

// Prepare is ZooKeeper's PrepRequestProcessor: it checks req, issued by
// session, against t and returns the txn to propose, or an ErrorTxn naming why
// the request fails. It never modifies t. The leader calls it on its
// speculative tree (committed state plus the proposals in flight, applied), so
// that a request sees the effect of every request ordered before it.
//
// The checks, and their order, are ZooKeeper's, because the order decides
// which error a client sees when several apply. Among them: the session must
// be in the table (ErrSessionExpired, as the leader's session tracker answers
// for an unknown or closing session; DeleteContainer, issued by the leader
// itself, is exempt), paths are validated, the parent must exist and must not
// be ephemeral, a sequential name takes the parent's creation counter as a
// %010d suffix, versions must match (-1 matches any), ACLs must be valid and
// must grant the permission the op needs. A Multi becomes a MultiTxn whose ops
// see the effects of the ops before them; when one fails, it becomes
// ErrorTxn(its error) and every op after it ErrorTxn(ErrRuntimeInconsistency).
//
// nowMs is the time the leader will stamp on the txn's header. Nothing
// ZooKeeper prepares depends on it today (ctime and mtime come from the
// header when the txn applies); it is part of the signature so that the
// leader's pipeline has one place where a request meets the clock.
func Prepare(t *Tree, session int64, req Request, nowMs int64) Txn {
	return PrepareAs(t, session, nil, req, nowMs)
}

// PrepareAs is Prepare for a requester holding the identities auth (its
// connection's, as Request.authInfo carries them to ZooKeeper's leader):
// ACL checks match them (Permits), and an "auth" ACL entry expands into
// them. Prepare is PrepareAs with none, a requester that is world:anyone
// only.
func PrepareAs(t *Tree, session int64, auth []AuthID, req Request, nowMs int64) Txn {
	_ = nowMs
	p := preparer{t: t, session: session, auth: auth}
	if m, ok := req.(Multi); ok {
		return p.multi(m)
	}
	txn, err := p.op(req)
	if err != ErrOK {
		return ErrorTxn{Err: err}
	}
	return txn
}

// preparer reads the tree through an overlay of the changes made by earlier
// ops of the same multi (over is nil outside a multi). A nil entry means the
// node was deleted.
type preparer struct {
	t       *Tree
	session int64
	auth    []AuthID
	over    map[string]*prepNode
}

// prepNode is what Prepare needs to know of a node (ZooKeeper's ChangeRecord).
type prepNode struct {
	version, cversion, aversion int32
	numChildren                 int32
	kind                        nodeKind
	acl                         []ACL
}

func (p *preparer) get(path string) (prepNode, bool) {
	if path == "" {
		path = "/"
	}
	if p.over != nil {
		if n, ok := p.over[path]; ok {
			if n == nil {
				return prepNode{}, false
			}
			return *n, true
		}
	}
	n := p.t.nodes[path]
	if n == nil {
		return prepNode{}, false
	}
	return prepNode{
		version:     n.version,
		cversion:    n.cversion,
		aversion:    n.aversion,
		numChildren: int32(len(n.children)),
		kind:        n.kind,
		acl:         n.acl,
	}, true
}

// put records an op's effect for the ops after it in the same multi.
func (p *preparer) put(path string, n *prepNode) {
	if p.over != nil {
		p.over[path] = n
	}
}

func (p *preparer) multi(m Multi) Txn {
	// ZooKeeper fails to deserialize a multi holding an op it does not allow
	// there, and answers the whole request with MarshallingError.
	for _, op := range m.Ops {
		switch op.(type) {
		case Create, Delete, SetData, Check:
		default:
			return ErrorTxn{Err: ErrMarshallingError}
		}
	}
	p.over = make(map[string]*prepNode, 2*len(m.Ops))
	txns := make([]Txn, len(m.Ops))
	failed := false
	for i, op := range m.Ops {
		if failed {
			txns[i] = ErrorTxn{Err: ErrRuntimeInconsistency}
			continue
		}
		txn, err := p.op(op)
		if err != ErrOK {
			// The overlay is not rolled back: nothing after this op is
			// prepared.
			txns[i] = ErrorTxn{Err: err}
			failed = true
			continue
		}
		txns[i] = txn
	}
	return MultiTxn{Txns: txns}
}

func (p *preparer) op(req Request) (Txn, Err) {
	switch r := req.(type) {
	case Create:
		return p.create(r)
	case Delete:
		return p.delete(r)
	case SetData:
		return p.setData(r)
	case Check:
		return p.check(r)
	case SetACL:
		return p.setACL(r)
	case DeleteContainer:
		return p.deleteContainer(r)
	case CreateSession:
		// The leader's session tracker accepts a session id it already
		// knows; applying the txn then only updates its timeout.
		return CreateSessionTxn{TimeoutMs: r.TimeoutMs, Passwd: r.Passwd}, ErrOK
	case CloseSession:
		// No session check: the leader closes expired sessions itself.
		return CloseSessionTxn{Paths: p.t.Ephemerals(p.session)}, ErrOK
	}
	// A nil request, a pointer, or a Multi nested in a Multi.
	return nil, ErrMarshallingError
}

// checkSession is the leader's SessionTracker.checkSession: an unknown session
// (never created, closed, or closing) is expired.
func (p *preparer) checkSession() Err {
	if _, ok := p.t.sessions[p.session]; !ok {
		return ErrSessionExpired
	}
	return ErrOK
}

// create is pRequest2TxnCreate.
func (p *preparer) create(r Create) (Txn, Err) {
	if !r.Mode.Valid() {
		return nil, ErrBadArguments
	}
	ttl := r.TTL
	if ttl == 0 && !r.Mode.IsTTL() {
		ttl = -1 // the zero value means "no TTL"; ZooKeeper sends -1
	}
	if ValidateTTL(r.Mode, ttl) != nil {
		return nil, ErrBadArguments
	}
	if err := p.checkSession(); err != ErrOK {
		return nil, err
	}
	// validatePathForCreate: only the shape needed to find the parent. The
	// full rules apply to the final name, below.
	parentP, ok := parentPath(r.Path)
	if !ok || strings.IndexByte(r.Path, 0) >= 0 {
		return nil, ErrBadArguments
	}
	acl, err := fixupACL(r.ACL, p.auth)
	if err != ErrOK {
		return nil, err
	}
	parent, ok := p.get(parentP)
	if !ok {
		return nil, ErrNoNode
	}
	if !Permits(parent.acl, PermCreate, p.auth) {
		return nil, ErrNoAuth
	}
	path := r.Path
	if r.Mode.IsSequential() {
		if p.t.bugs.SeqFromChildren {
			path += formatSequence(parent.numChildren) // seeded bug: ZOOKEEPER-1046's reused names
		} else {
			path += formatSequence(parent.cversion)
		}
	}
	if !validPath(path) {
		return nil, ErrBadArguments
	}
	if _, exists := p.get(path); exists {
		return nil, ErrNodeExists
	}
	if parent.kind == kindEphemeral {
		return nil, ErrNoChildrenForEphemerals
	}
	newCversion := parent.cversion + 1
	txn := CreateTxn{
		Path:           path,
		Data:           cloneData(r.Data),
		ACL:            acl,
		Mode:           r.Mode,
		ParentCVersion: newCversion,
	}
	if r.Mode.IsTTL() {
		txn.TTL = ttl
	}
	if p.over != nil {
		kind := kindPersistent
		switch {
		case r.Mode.IsEphemeral() && p.session != 0:
			kind = kindEphemeral
		case r.Mode.IsContainer():
			kind = kindContainer
		case r.Mode.IsTTL():
			kind = kindTTL
		}
		p.put(path, &prepNode{kind: kind, acl: acl})
		parent.cversion = newCversion
		parent.numChildren++
		p.put(parentP, &parent)
	}
	return txn, ErrOK
}

// parentForDelete is getParentPathAndValidate: delete checks only the shape
// of the path, and refuses the root and ZooKeeper's own nodes.
func parentForDelete(path string) (string, Err) {
	parent, ok := parentPath(path)
	if !ok || strings.IndexByte(path, 0) >= 0 || isSpecialPath(path) {
		return "", ErrBadArguments
	}
	return parent, ErrOK
}

func (p *preparer) delete(r Delete) (Txn, Err) {
	if err := p.checkSession(); err != ErrOK {
		return nil, err
	}
	parentP, err := parentForDelete(r.Path)
	if err != ErrOK {
		return nil, err
	}
	parent, ok := p.get(parentP)
	if !ok {
		return nil, ErrNoNode
	}
	if !Permits(parent.acl, PermDelete, p.auth) {
		return nil, ErrNoAuth
	}
	n, ok := p.get(r.Path)
	if !ok {
		return nil, ErrNoNode
	}
	if _, err := checkAndIncVersion(n.version, r.Version); err != ErrOK {
		return nil, err
	}
	if n.numChildren > 0 {
		return nil, ErrNotEmpty
	}
	p.removed(r.Path, parentP, parent)
	return DeleteTxn{Path: r.Path}, ErrOK
}

// deleteContainer is the container sweep's delete: no session, no ACL and no
// version check, and it refuses a node with children (ErrNotEmpty) or an
// ephemeral one (ErrBadVersion, ZooKeeper's choice). A plain persistent node
// passes, as in ZooKeeper: the sweep trusts its own candidate list.
func (p *preparer) deleteContainer(r DeleteContainer) (Txn, Err) {
	parentP, err := parentForDelete(r.Path)
	if err != ErrOK {
		return nil, err
	}
	n, ok := p.get(r.Path)
	if !ok {
		return nil, ErrNoNode
	}
	if n.numChildren > 0 {
		return nil, ErrNotEmpty
	}
	if n.kind == kindEphemeral {
		return nil, ErrBadVersion
	}
	parent, ok := p.get(parentP)
	if !ok {
		return nil, ErrNoNode
	}
	p.removed(r.Path, parentP, parent)
	return DeleteTxn{Path: r.Path}, ErrOK
}

func (p *preparer) removed(path, parentP string, parent prepNode) {
	if p.over != nil {
		p.put(path, nil)
		parent.numChildren--
		p.put(parentP, &parent)
	}
}

func (p *preparer) setData(r SetData) (Txn, Err) {
	if err := p.checkSessionAndPath(r.Path); err != ErrOK {
		return nil, err
	}
	n, err := p.existing(r.Path, PermWrite)
	if err != ErrOK {
		return nil, err
	}
	newVersion, err := checkAndIncVersion(n.version, r.Version)
	if err != ErrOK {
		return nil, err
	}
	if p.over != nil {
		n.version = newVersion
		p.put(r.Path, &n)
	}
	return SetDataTxn{Path: r.Path, Data: cloneData(r.Data), Version: newVersion}, ErrOK
}

func (p *preparer) check(r Check) (Txn, Err) {
	if err := p.checkSessionAndPath(r.Path); err != ErrOK {
		return nil, err
	}
	n, err := p.existing(r.Path, PermRead)
	if err != ErrOK {
		return nil, err
	}
	next, err := checkAndIncVersion(n.version, r.Version)
	if err != ErrOK {
		return nil, err
	}
	return CheckVersionTxn{Path: r.Path, Version: next}, ErrOK
}

func (p *preparer) setACL(r SetACL) (Txn, Err) {
	if err := p.checkSessionAndPath(r.Path); err != ErrOK {
		return nil, err
	}
	acl, err := fixupACL(r.ACL, p.auth)
	if err != ErrOK {
		return nil, err
	}
	n, err := p.existing(r.Path, PermAdmin)
	if err != ErrOK {
		return nil, err
	}
	newAversion, err := checkAndIncVersion(n.aversion, r.Version)
	if err != ErrOK {
		return nil, err
	}
	return SetACLTxn{Path: r.Path, ACL: acl, Version: newAversion}, ErrOK
}

// checkSessionAndPath is the first two checks of every request on an
// existing node, in ZooKeeper's order: a live session, then a valid path.
func (p *preparer) checkSessionAndPath(path string) Err {
	if err := p.checkSession(); err != ErrOK {
		return err
	}
	if !validPath(path) {
		return ErrBadArguments
	}
	return ErrOK
}

// existing looks a node up and checks that the ACL grants perm.
func (p *preparer) existing(path string, perm int32) (prepNode, Err) {
	n, ok := p.get(path)
	if !ok {
		return prepNode{}, ErrNoNode
	}
	if !Permits(n.acl, perm, p.auth) {
		return prepNode{}, ErrNoAuth
	}
	return n, ErrOK
}

// checkAndIncVersion: -1 matches any version; the next version wraps like a
// Java int (3.8.0 has no special case for reaching -1, ZOOKEEPER-4743).
func checkAndIncVersion(current, expected int32) (int32, Err) {
	if expected != -1 && expected != current {
		return 0, ErrBadVersion
	}
	return current + 1, ErrOK
}

// cloneData copies a request's data so the txn owns it; nil stays nil and
// empty stays empty, as the wire tells them apart.
func cloneData(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
