package model

import "slices"

// Tree is the replicated state: the znodes keyed by full path, the session
// table, the ephemeral, container and TTL indexes, the last applied zxid and
// the running digest. Build one with NewTree; the zero Tree is not usable.
//
// Only Apply (and UnmarshalBinary) change a Tree. A Tree is not safe for
// concurrent use, which zoosim never needs: each server owns its trees.
type Tree struct {
	nodes map[string]*node
	// sessions is the session table: a session id to its timeout and
	// password.
	sessions map[int64]sessionEntry
	// ephemerals indexes ephemeral nodes by owner. It is kept apart from
	// sessions, as in ZooKeeper, so that an ephemeral whose session is gone
	// (a replication bug) stays visible to the checkers instead of vanishing.
	ephemerals map[int64]map[string]struct{}
	containers map[string]struct{}
	ttls       map[string]struct{}
	lastZxid   Zxid
	// digest is the wrapping sum of every node's hash and every session's
	// hash. Invariant: digest == t.recomputeDigest().
	digest uint64
	// bugs are seeded defects (zero: correct); they are configuration, not
	// replicated state, and survive Clone and UnmarshalBinary.
	bugs Bugs
}

// Bugs are seeded defects of the state machine, each the mechanism of a
// real ZooKeeper bug (the harness's catalog names which). The zero value is
// correct.
type Bugs struct {
	// SeqFromChildren names sequential nodes after the parent's current
	// number of children instead of its count of creations, so a name can
	// come back after a delete.
	SeqFromChildren bool
	// MultiPartial applies the ops of a failed multi that come before the
	// failing one.
	MultiPartial bool
	// SnapshotDropsSessions leaves the session table out of snapshots: a
	// server restored from one forgets every session.
	SnapshotDropsSessions bool
	_                     struct{}
}

// SetBugs switches on seeded defects for this tree and every tree cloned or
// restored from it.
func (t *Tree) SetBugs(b Bugs) { t.bugs = b }

// nodeKind says what the owner field of a node means. ZooKeeper packs this
// into ephemeralOwner (a session id, or a container marker, or a TTL marker
// plus the TTL); zoosim keeps it explicit so that no session id can be
// mistaken for a marker.
type nodeKind uint8

const (
	kindPersistent nodeKind = 1 + iota
	kindEphemeral
	kindContainer
	kindTTL
)

// node is a znode. data, acl and the strings are never modified in place
// (they may be shared with txns and other trees); children is owned.
type node struct {
	data     []byte
	acl      []ACL
	children []string // child names, sorted

	czxid, mzxid, pzxid Zxid
	ctime, mtime        int64
	version             int32
	// cversion counts child creations, as ZooKeeper stores it; the sequential
	// suffix is its value before a creation. Stat shows 2*cversion-children.
	cversion int32
	aversion int32

	kind  nodeKind
	owner int64 // session, for kindEphemeral
	ttl   int64 // ms, for kindTTL

	// Cached hashes so that a stat change rehashes in constant time.
	pathHash, dataHash, aclHash uint64
	hash                        uint64 // this node's share of Tree.digest
}

// NewTree returns the tree a fresh ZooKeeper server starts with: the root,
// /zookeeper, /zookeeper/quota and /zookeeper/config, every stat zero, open
// ACLs except /zookeeper/config which is world-readable only and whose ACL
// version is -1 (DataTree.addConfigNode sets its ACL with version -1).
func NewTree() *Tree {
	t := &Tree{
		nodes:      make(map[string]*node),
		sessions:   make(map[int64]sessionEntry),
		ephemerals: make(map[int64]map[string]struct{}),
		containers: make(map[string]struct{}),
		ttls:       make(map[string]struct{}),
	}
	t.addBuiltin("/", OpenACLUnsafe)
	t.addBuiltin(zookeeperPath, OpenACLUnsafe)
	t.addBuiltin(quotaPath, OpenACLUnsafe)
	cfg := t.addBuiltin(configPath, ReadACLUnsafe)
	cfg.aversion = -1
	t.rehash(cfg)
	return t
}

// addBuiltin links a node the way DataTree's constructor does: addChild on the
// parent without touching its stat, which is why a fresh root shows
// cversion -1.
func (t *Tree) addBuiltin(path string, acl []ACL) *node {
	n := &node{data: []byte{}, acl: acl, kind: kindPersistent}
	n.pathHash = hashPath(path)
	n.dataHash = hashData(n.data)
	n.aclHash = hashACL(acl)
	if path != "/" {
		parent, _ := parentPath(path)
		t.nodes[parent].insertChild(baseName(path))
		t.rehash(t.nodes[parent])
	}
	t.nodes[path] = n
	n.hash = n.computeHash()
	t.digest += n.hash
	return n
}

// lookup finds a node; "" is the root's alias, as in ZooKeeper's node map.
func (t *Tree) lookup(path string) *node {
	if path == "" {
		path = "/"
	}
	return t.nodes[path]
}

// stat is DataNode.copyStat.
func (n *node) stat() Stat {
	nc := int32(len(n.children))
	s := Stat{
		Czxid:       n.czxid,
		Mzxid:       n.mzxid,
		Ctime:       n.ctime,
		Mtime:       n.mtime,
		Version:     n.version,
		Cversion:    2*n.cversion - nc,
		Aversion:    n.aversion,
		DataLength:  int32(len(n.data)),
		NumChildren: nc,
		Pzxid:       n.pzxid,
	}
	if n.kind == kindEphemeral {
		s.EphemeralOwner = n.owner
	}
	return s
}

func (n *node) insertChild(name string) {
	i, found := slices.BinarySearch(n.children, name)
	if !found {
		n.children = slices.Insert(n.children, i, name)
	}
}

func (n *node) removeChild(name string) {
	if i, found := slices.BinarySearch(n.children, name); found {
		n.children = slices.Delete(n.children, i, i+1)
	}
}

// LastZxid is the greatest zxid applied (DataTree.lastProcessedZxid).
func (t *Tree) LastZxid() Zxid { return t.lastZxid }

// GetData returns a node's data and Stat, or ErrNoNode. The data is shared
// with the tree: do not modify it.
func (t *Tree) GetData(path string) ([]byte, Stat, error) {
	n := t.lookup(path)
	if n == nil {
		return nil, Stat{}, ErrNoNode
	}
	return n.data, n.stat(), nil
}

// Exists returns a node's Stat and whether it exists.
func (t *Tree) Exists(path string) (Stat, bool) {
	n := t.lookup(path)
	if n == nil {
		return Stat{}, false
	}
	return n.stat(), true
}

// Children returns a node's child names, sorted (nil for none), and its
// Stat, or ErrNoNode. The slice is a copy.
func (t *Tree) Children(path string) ([]string, Stat, error) {
	n := t.lookup(path)
	if n == nil {
		return nil, Stat{}, ErrNoNode
	}
	if len(n.children) == 0 {
		return nil, n.stat(), nil
	}
	return slices.Clone(n.children), n.stat(), nil
}

// GetACL returns a node's ACL and Stat, or ErrNoNode. The ACL is shared with
// the tree: do not modify it.
func (t *Tree) GetACL(path string) ([]ACL, Stat, error) {
	n := t.lookup(path)
	if n == nil {
		return nil, Stat{}, ErrNoNode
	}
	return n.acl, n.stat(), nil
}

// AllChildrenNumber counts every descendant of a node (getAllChildrenNumber),
// or returns ErrNoNode. For the root it counts every other node, /zookeeper
// and its children included, as ZooKeeper does.
func (t *Tree) AllChildrenNumber(path string) (int, error) {
	n := t.lookup(path)
	if n == nil {
		return 0, ErrNoNode
	}
	if path == "" {
		path = "/"
	}
	return t.countDescendants(path, n), nil
}

func (t *Tree) countDescendants(path string, n *node) int {
	count := 0
	for _, c := range n.children {
		cp := childPath(path, c)
		count += 1 + t.countDescendants(cp, t.nodes[cp])
	}
	return count
}

// NodeCount is the number of znodes, the four built-in ones included.
// (ZooKeeper's own count, shown by mntr as zk_znode_count, is one more: its
// node map holds the root twice, under "" and "/".)
func (t *Tree) NodeCount() int { return len(t.nodes) }

// ApproximateDataSize is ZooKeeper's DataTree.approximateDataSize (mntr's
// zk_approximate_data_size): the length of every node's path and data,
// summed. It walks the tree.
func (t *Tree) ApproximateDataSize() int64 {
	var n int64
	for p, nd := range t.nodes {
		n += int64(len(p) + len(nd.data))
	}
	return n
}

// Paths lists every node's path, sorted; checkers use it to compare trees.
func (t *Tree) Paths() []string {
	out := make([]string, 0, len(t.nodes))
	for p := range t.nodes {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// CleanupCandidates lists, sorted (nil for none), the nodes the leader's
// container sweep should delete at nowMs (ContainerManager.getCandidates):
// containers with no children that have had at least one (a fresh container
// is not swept before use), and TTL nodes with no children whose data has not
// changed for longer than their TTL (nowMs - mtime > ttl). The server turns
// each into a DeleteContainer request.
func (t *Tree) CleanupCandidates(nowMs int64) []string {
	var out []string
	for p := range t.containers {
		n := t.nodes[p]
		if len(n.children) == 0 && n.cversion > 0 {
			out = append(out, p)
		}
	}
	for p := range t.ttls {
		n := t.nodes[p]
		if len(n.children) == 0 && n.ttl != 0 && nowMs-n.mtime > n.ttl {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// Clone returns a deep copy that shares nothing mutable with t. The leader
// clones its committed tree to start a speculative one.
func (t *Tree) Clone() *Tree {
	c := &Tree{
		nodes:      make(map[string]*node, len(t.nodes)),
		sessions:   make(map[int64]sessionEntry, len(t.sessions)),
		ephemerals: make(map[int64]map[string]struct{}, len(t.ephemerals)),
		containers: make(map[string]struct{}, len(t.containers)),
		ttls:       make(map[string]struct{}, len(t.ttls)),
		lastZxid:   t.lastZxid,
		digest:     t.digest,
		bugs:       t.bugs,
	}
	for p, n := range t.nodes {
		cp := *n
		cp.children = slices.Clone(n.children)
		c.nodes[p] = &cp
	}
	for id, e := range t.sessions {
		c.sessions[id] = e
	}
	for id, set := range t.ephemerals {
		cs := make(map[string]struct{}, len(set))
		for p := range set {
			cs[p] = struct{}{}
		}
		c.ephemerals[id] = cs
	}
	for p := range t.containers {
		c.containers[p] = struct{}{}
	}
	for p := range t.ttls {
		c.ttls[p] = struct{}{}
	}
	return c
}

// childPath joins a parent path and a child name.
func childPath(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}
