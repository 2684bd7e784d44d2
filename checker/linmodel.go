package checker

import (
	"fmt"
	"slices"
	"strings"

	"zoosim/model"
)

// The porcupine model of ZooKeeper's tree API, for histories without
// server records (black box).
//
// A state is the part of the tree one partition touches: its znodes, sorted
// by path, each with what a client can observe of it without knowing zxids
// or clocks: data, data version, the parent's child-creation counter (the
// sequential suffix) and the number of children, and the session that owns
// it if it is ephemeral. Zxid-valued Stat fields (czxid, mzxid, pzxid) and
// times are left out (nothing in a black-box history says what they should
// be); the model checks version, dataLength, numChildren, cversion
// (= 2*creations - numChildren, as DataNode.copyStat reports it) and
// ephemeralOwner, plus the created path of every create.
//
// Sessions: a state also holds the sessions of the partition that have
// been closed. A session's closeSession is an op of its own (the history
// does not record it): it deletes the session's ephemerals, after which
// the session's writes take no effect (a write the client saw decided is
// then impossible). It may happen any time after the session first
// appears, or never: its outcome is unknown whatever the client saw.
// ZooKeeper's leader may tell a client "expired" before the closeSession
// commits, and a client that closes while disconnected sees Closed at once
// while its session expires on the servers much later.
//
// Positions: ZooKeeper orders every write by its zxid, and a linearizable
// read returns the state just after the zxid in its reply. An op whose
// reply carries a zxid therefore has a position (zxid, then reads after
// writes), and the state remembers the greatest position placed so far: an
// op can only be placed at or after it. This makes the search follow the
// zxid order, which is what ZooKeeper promises, and leaves only the ops
// without a zxid (unknown outcomes, closeSessions) to be placed freely.
//
// States are immutable: Step copies the node slice before changing it, and
// the state's hash is computed once. A porcupine state is a set of such
// states (an op whose outcome is unknown forks the set into "applied" and
// "not applied"), kept sorted and without duplicates so that Equal and Hash
// are cheap.

// dataSig stands for a node's data: its length and a 64-bit hash (nil and
// empty data are the same, as a client cannot tell them apart reliably).
type dataSig struct {
	hash uint64
	n    int32
}

func sigOf(b []byte) dataSig {
	h := uint64(fnvOffset64)
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime64
	}
	return dataSig{hash: h, n: int32(len(b))}
}

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

func hashString(s string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return mix64(h)
}

// mix64 is splitmix64's finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func fold(h, v uint64) uint64 { return mix64(h ^ mix64(v+0x9e3779b97f4a7c15)) }

type znode struct {
	path        string
	pathHash    uint64
	data        dataSig
	version     int32
	creations   int32 // child creations: the next sequential suffix
	numChildren int32
	owner       int64 // the session of an ephemeral node, 0 for others
}

func (n *znode) hash() uint64 {
	h := fold(n.pathHash, n.data.hash)
	h = fold(h, uint64(uint32(n.data.n))<<32|uint64(uint32(n.version)))
	h = fold(h, uint64(uint32(n.creations))<<32|uint64(uint32(n.numChildren)))
	if n.owner != 0 {
		h = fold(h, uint64(n.owner))
	}
	return h
}

type zstate struct {
	nodes     []znode // sorted by path
	closed    []int64 // sessions closed so far, sorted
	pos       uint64  // the greatest position placed so far
	nodesHash uint64  // wrapping sum of the nodes' hashes
	hash      uint64
}

func newZState(nodes []znode, closed []int64, pos uint64) *zstate {
	s := &zstate{nodes: nodes, closed: closed, pos: pos}
	for i := range nodes {
		s.nodesHash += nodes[i].hash()
	}
	s.rehash()
	return s
}

func (s *zstate) rehash() {
	h := fold(s.nodesHash, s.pos)
	for _, c := range s.closed {
		h = fold(h, uint64(c))
	}
	s.hash = h
}

// at is the state moved to a later position, sharing everything else.
func (s *zstate) at(pos uint64) *zstate {
	if pos == s.pos {
		return s
	}
	c := *s
	c.pos = pos
	c.rehash()
	return &c
}

func (s *zstate) isClosed(session int64) bool {
	_, found := slices.BinarySearch(s.closed, session)
	return found
}

func (s *zstate) equal(o *zstate) bool {
	return s == o || s.hash == o.hash && s.pos == o.pos && slices.Equal(s.closed, o.closed) && slices.Equal(s.nodes, o.nodes)
}

func findNode(nodes []znode, path string) (int, bool) {
	return slices.BinarySearchFunc(nodes, path, func(n znode, p string) int { return strings.Compare(n.path, p) })
}

// stateSet is the porcupine state: the possible trees, sorted by hash.
type stateSet []*zstate

func (ss stateSet) hash() uint64 {
	h := uint64(len(ss))
	for _, s := range ss {
		h = fold(h, s.hash)
	}
	return h
}

func (ss stateSet) equal(o stateSet) bool {
	if len(ss) != len(o) {
		return false
	}
	for i := range ss {
		if !ss[i].equal(o[i]) {
			// Equal hashes may sit in another order: fall back to a search.
			for _, a := range ss {
				if !slices.ContainsFunc(o, a.equal) {
					return false
				}
			}
			return true
		}
	}
	return true
}

// normalize sorts by hash and drops duplicates.
func (ss stateSet) normalize() stateSet {
	if len(ss) < 2 {
		return ss
	}
	slices.SortFunc(ss, func(a, b *zstate) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return 0
	})
	out := ss[:1]
	for _, s := range ss[1:] {
		dup := false
		for j := len(out) - 1; j >= 0 && out[j].hash == s.hash; j-- {
			if out[j].equal(s) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}

// linSub is one change (a single write, or one op of a multi) with its
// recorded result.
type linSub struct {
	kind    OpKind
	path    string
	data    dataSig
	version int32
	mode    model.CreateMode

	err         model.Err
	createdPath string
	stat        model.Stat
	statValid   bool
}

// linOp is an op as the model sees it: input and recorded output together
// (porcupine gets the same pointer as Input and Output).
type linOp struct {
	op      *Op   // nil for a closeSession
	call    int64 // may be earlier than op.Call (a sync before the read)
	ret     int64
	lane    int
	unknown bool
	session int64
	// pos is the op's place in the zxid order (2*zxid for a write, one more
	// for a read), 0 if its reply carried no zxid.
	pos uint64
	// closes is the session a closeSession op ends (kind opCloseSession).
	closes int64

	kind OpKind
	path string
	subs []linSub // writes: one per op (or per op of a multi)

	// Recorded results.
	err         model.Err
	stat        model.Stat
	statValid   bool
	result      dataSig  // getData
	children    []string // getChildren, sorted
	subErrsKnow bool     // a failed multi recorded its per-op errors
}

// linModel holds what every step needs to know of the whole history.
type linModel struct {
	// trackRoot: some op observes the root's children (getChildren("/") or
	// a sequential create directly under "/"), so every top-level create
	// and delete is in the root's partition and the root's child counters
	// are exact. Otherwise they are not kept, and not checked.
	trackRoot bool
}

func (m *linModel) tracked(path string) bool { return path != "/" || m.trackRoot }

// opCloseSession is the kind of the closeSession ops the plan adds.
const opCloseSession OpKind = 100

// initState is the tree every history starts from: the root, /zookeeper,
// /zookeeper/quota and /zookeeper/config.
func (m *linModel) initState() *zstate {
	node := func(p string, kids int32) znode {
		return znode{path: p, pathHash: hashString(p), data: sigOf(nil), numChildren: kids}
	}
	return newZState([]znode{node("/", 1), node("/zookeeper", 2), node("/zookeeper/config", 0),
		node("/zookeeper/quota", 0)}, nil, 0)
}

// maxForkedStates bounds a state set. Forking an op of unknown outcome into
// "applied" and "not applied" lets porcupine place it once, but k such ops
// pending together could make 2^k states; past the bound an unknown op is
// only applied where porcupine places it. Both are exact: "not applied" is
// also reached by placing the op after every other op (it returns at
// Infinity), so the bound trades memory for search, never correctness.
const maxForkedStates = 8

// step is the porcupine step over state sets.
func (m *linModel) step(state any, in any) (bool, any) {
	ss := state.(stateSet)
	op := in.(*linOp)
	next := make(stateSet, 0, len(ss)+1)
	fork := len(ss) < maxForkedStates
	for _, s := range ss {
		if op.pos != 0 {
			if op.pos < s.pos {
				continue // placed after an op later in the zxid order
			}
			s = s.at(op.pos)
		}
		if op.unknown {
			if fork {
				next = append(next, s)
			}
			if n := m.exec(s, op, false); n != nil {
				next = append(next, n)
			}
			continue
		}
		if n := m.exec(s, op, true); n != nil {
			next = append(next, n)
		}
	}
	if len(next) == 0 {
		return false, ss
	}
	return true, next.normalize()
}

// exec runs op on s. With check, it returns nil when the op's recorded
// result is not what s predicts; without, it returns the state after the
// op (s itself when the op fails or only reads).
func (m *linModel) exec(s *zstate, op *linOp, check bool) *zstate {
	switch op.kind {
	case OpGetData, OpExists, OpGetChildren:
		if !check || m.read(s, op) {
			return s
		}
		return nil
	case opCloseSession:
		return m.closeSession(s, op.closes)
	}
	if op.session != 0 && s.isClosed(op.session) {
		// ZooKeeper answers SessionExpired and changes nothing: an answer
		// the state decided is impossible.
		if check {
			return nil
		}
		return s
	}
	w := slices.Clone(s.nodes)
	failAt, failErr := -1, model.ErrOK
	// What each op of a multi returned, compared once all of them applied
	// (a failed multi returns no paths or stats).
	var after []subAfter
	if check {
		after = make([]subAfter, len(op.subs))
	}
	for i := range op.subs {
		sub := &op.subs[i]
		var err model.Err
		var created string
		w, err, created = m.write(w, sub, op.session)
		if err != model.ErrOK {
			failAt, failErr = i, err
			break
		}
		if check {
			after[i] = subAfterOf(w, sub, created)
		}
	}
	if failAt >= 0 {
		if check && !m.failureMatches(op, failAt, failErr) {
			return nil
		}
		return s
	}
	if check {
		if op.err != model.ErrOK {
			return nil
		}
		for i := range op.subs {
			if !m.subMatches(&op.subs[i], &after[i]) {
				return nil
			}
		}
	}
	return newZState(w, s.closed, s.pos)
}

// closeSession deletes a session's ephemerals and marks it closed; a
// second close changes nothing.
func (m *linModel) closeSession(s *zstate, session int64) *zstate {
	if s.isClosed(session) {
		return s
	}
	w := make([]znode, 0, len(s.nodes))
	var gone []string
	for _, n := range s.nodes {
		if n.owner == session {
			gone = append(gone, n.path)
			continue
		}
		w = append(w, n)
	}
	for _, p := range gone {
		// An ephemeral's parent is never another ephemeral, so it is still
		// here.
		if parent, ok := parentOf(p); ok && m.tracked(parent) {
			if pi, found := findNode(w, parent); found {
				w[pi].numChildren--
			}
		}
	}
	closed := slices.Clone(s.closed)
	i, _ := slices.BinarySearch(closed, session)
	return newZState(w, slices.Insert(closed, i, session), s.pos)
}

// subAfter is what one successful change returned: the created path and the
// node as the change left it (for its Stat).
type subAfter struct {
	created string
	node    znode
	hasNode bool
}

func subAfterOf(w []znode, sub *linSub, created string) subAfter {
	a := subAfter{created: created}
	path := sub.path
	if sub.kind == OpCreate {
		path = created
	}
	if sub.kind == OpCreate || sub.kind == OpSetData {
		if i, ok := findNode(w, path); ok {
			a.node, a.hasNode = w[i], true
		}
	}
	return a
}

// failureMatches compares a failed write with its record: the op's error,
// and for a multi that recorded them, every op's error (ops before the
// failing one ok, the failing one its error, the ones after it
// RuntimeInconsistency).
func (m *linModel) failureMatches(op *linOp, failAt int, failErr model.Err) bool {
	if op.err != failErr {
		return false
	}
	if op.kind != OpMulti || !op.subErrsKnow {
		return true
	}
	for i := range op.subs {
		want := model.ErrOK
		switch {
		case i == failAt:
			want = failErr
		case i > failAt:
			want = model.ErrRuntimeInconsistency
		}
		if op.subs[i].err != want {
			return false
		}
	}
	return true
}

// subMatches compares a successful change with its record.
func (m *linModel) subMatches(sub *linSub, a *subAfter) bool {
	if sub.err != model.ErrOK {
		return false
	}
	if sub.kind == OpCreate && sub.createdPath != a.created {
		return false
	}
	if sub.statValid && a.hasNode {
		return m.statMatches(&a.node, sub.stat)
	}
	return true
}

// statMatches compares the Stat fields the model knows.
func (m *linModel) statMatches(n *znode, st model.Stat) bool {
	if st.Version != n.version || st.DataLength != n.data.n {
		return false
	}
	if st.EphemeralOwner != n.owner {
		return false
	}
	if m.tracked(n.path) && (st.NumChildren != n.numChildren || st.Cversion != 2*n.creations-n.numChildren) {
		return false
	}
	return true
}

// read checks a read's recorded result against s.
func (m *linModel) read(s *zstate, op *linOp) bool {
	if op.kind == OpExists && strings.IndexByte(op.path, 0) >= 0 {
		// ZooKeeper's exists refuses only a NUL; another bad path is NoNode.
		return op.err == model.ErrBadArguments
	}
	i, ok := findNode(s.nodes, op.path)
	if !ok {
		return op.err == model.ErrNoNode
	}
	if op.err != model.ErrOK {
		return false
	}
	n := &s.nodes[i]
	switch op.kind {
	case OpGetData:
		if op.result != n.data {
			return false
		}
	case OpGetChildren:
		if !slices.Equal(op.children, childrenOf(s.nodes, n.path)) {
			return false
		}
		if !op.statValid {
			return true
		}
	}
	return m.statMatches(n, op.stat)
}

func childrenOf(nodes []znode, parent string) []string {
	prefix := parent + "/"
	if parent == "/" {
		prefix = "/"
	}
	var out []string
	i, _ := findNode(nodes, prefix)
	for ; i < len(nodes) && strings.HasPrefix(nodes[i].path, prefix); i++ {
		rest := nodes[i].path[len(prefix):]
		if rest != "" && !strings.Contains(rest, "/") {
			out = append(out, rest)
		}
	}
	return out // sorted, since nodes are
}

// write applies one change to w (owned by the caller) with
// PrepRequestProcessor's checks in ZooKeeper's order, and returns the new
// slice, the error, and for a create the created path.
func (m *linModel) write(w []znode, sub *linSub, session int64) ([]znode, model.Err, string) {
	switch sub.kind {
	case OpCreate:
		return m.create(w, sub, session)
	case OpDelete:
		return m.delete(w, sub)
	case OpSetData, OpCheck:
		if !refValidPath(sub.path) {
			return w, model.ErrBadArguments, ""
		}
		i, ok := findNode(w, sub.path)
		if !ok {
			return w, model.ErrNoNode, ""
		}
		if sub.version != -1 && sub.version != w[i].version {
			return w, model.ErrBadVersion, ""
		}
		if sub.kind == OpSetData {
			w[i].version++
			w[i].data = sub.data
		}
		return w, model.ErrOK, ""
	}
	// Anything else inside a multi makes ZooKeeper refuse the whole request.
	return w, model.ErrMarshallingError, ""
}

func (m *linModel) create(w []znode, sub *linSub, session int64) ([]znode, model.Err, string) {
	if !sub.mode.Valid() || sub.mode.IsTTL() {
		return w, model.ErrBadArguments, "" // a TTL mode needs a TTL, which ops do not carry
	}
	parent, ok := parentOf(sub.path)
	if !ok || strings.IndexByte(sub.path, 0) >= 0 {
		return w, model.ErrBadArguments, ""
	}
	pi, ok := findNode(w, parent)
	if !ok {
		return w, model.ErrNoNode, ""
	}
	path := sub.path
	if sub.mode.IsSequential() {
		path += formatSequence(w[pi].creations)
	}
	if !refValidPath(path) {
		return w, model.ErrBadArguments, ""
	}
	i, exists := findNode(w, path)
	if exists {
		return w, model.ErrNodeExists, ""
	}
	if w[pi].owner != 0 {
		return w, model.ErrNoChildrenForEphemerals, ""
	}
	if m.tracked(parent) {
		w[pi].creations++
		w[pi].numChildren++
	}
	owner := int64(0)
	if sub.mode.IsEphemeral() {
		owner = session // session 0 makes a persistent node
	}
	w = slices.Insert(w, i, znode{path: path, pathHash: hashString(path), data: sub.data, owner: owner})
	return w, model.ErrOK, path
}

func (m *linModel) delete(w []znode, sub *linSub) ([]znode, model.Err, string) {
	parent, ok := parentOf(sub.path)
	if !ok || strings.IndexByte(sub.path, 0) >= 0 || isSpecialPath(sub.path) {
		return w, model.ErrBadArguments, ""
	}
	pi, ok := findNode(w, parent)
	if !ok {
		return w, model.ErrNoNode, ""
	}
	i, ok := findNode(w, sub.path)
	if !ok {
		return w, model.ErrNoNode, ""
	}
	if sub.version != -1 && sub.version != w[i].version {
		return w, model.ErrBadVersion, ""
	}
	if w[i].numChildren > 0 {
		return w, model.ErrNotEmpty, ""
	}
	if m.tracked(parent) {
		w[pi].numChildren--
	}
	return slices.Delete(w, i, i+1), model.ErrOK, ""
}

// parentOf is ZooKeeper's parent of a path (everything before the last
// '/', the root for a top-level path); ok is false without a '/'.
func parentOf(path string) (string, bool) {
	i := strings.LastIndexByte(path, '/')
	switch {
	case i < 0:
		return "", false
	case i == 0:
		return "/", true
	}
	return path[:i], true
}

func isSpecialPath(path string) bool {
	switch path {
	case "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config":
		return true
	}
	return false
}

// inZooKeeperSubtree reports ZooKeeper's own nodes, which the model leaves
// out.
func inZooKeeperSubtree(path string) bool {
	return path == "/zookeeper" || strings.HasPrefix(path, "/zookeeper/")
}

// formatSequence is Java's String.format("%010d", n).
func formatSequence(n int32) string {
	if n < 0 {
		return fmt.Sprintf("-%09d", -int64(n))
	}
	return fmt.Sprintf("%010d", n)
}

// describe is porcupine's DescribeOperation.
func (op *linOp) describe() string {
	if op.kind == opCloseSession {
		return fmt.Sprintf("closeSession(%#x)", op.closes)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#%d ", op.op.ID)
	switch op.kind {
	case OpMulti:
		b.WriteString("multi[")
		for i, s := range op.subs {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(describeLinSub(&s))
		}
		b.WriteString("]")
	case OpGetData, OpExists, OpGetChildren:
		fmt.Fprintf(&b, "%s(%s)", op.kind, op.path)
	default:
		b.WriteString(describeLinSub(&op.subs[0]))
	}
	if op.unknown {
		b.WriteString(" -> ?")
		return b.String()
	}
	fmt.Fprintf(&b, " -> %s", errName(op.err))
	if op.err != model.ErrOK {
		return b.String()
	}
	switch op.kind {
	case OpCreate:
		fmt.Fprintf(&b, " %s", op.subs[0].createdPath)
	case OpSetData:
		fmt.Fprintf(&b, " v%d", op.subs[0].stat.Version)
	case OpGetData:
		fmt.Fprintf(&b, " %q v%d", clip(op.op.ResultData), op.stat.Version)
	case OpExists:
		fmt.Fprintf(&b, " v%d", op.stat.Version)
	case OpGetChildren:
		fmt.Fprintf(&b, " %v", op.children)
	}
	return b.String()
}

func describeLinSub(s *linSub) string {
	switch s.kind {
	case OpCreate:
		return fmt.Sprintf("create(%s,%s)", s.path, s.mode)
	case OpDelete:
		return fmt.Sprintf("delete(%s,v%d)", s.path, s.version)
	case OpSetData:
		return fmt.Sprintf("setData(%s,%d bytes,v%d)", s.path, s.data.n, s.version)
	case OpCheck:
		return fmt.Sprintf("check(%s,v%d)", s.path, s.version)
	}
	return s.kind.String()
}

// describeState is porcupine's DescribeState.
func describeState(state any) string {
	ss := state.(stateSet)
	parts := make([]string, len(ss))
	for i, s := range ss {
		var b strings.Builder
		for j, n := range s.nodes {
			if n.path == "/" || inZooKeeperSubtree(n.path) {
				continue
			}
			if j > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%s(v%d,%dB,c%d)", n.path, n.version, n.data.n, n.creations)
		}
		parts[i] = b.String()
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "one of {" + strings.Join(parts, " | ") + "}"
}
