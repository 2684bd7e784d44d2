package model

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// This file holds a deliberately simple restatement of ZooKeeper's prep and
// apply rules, written from PrepRequestProcessor and DataTree without looking
// at how the model does it: a flat map of nodes stored by value, children
// found by scanning every path, a multi prepared and applied on a full copy of
// the state. The differential test runs random request sequences through both
// and demands the same txns, the same results and the same state after every
// step.

type refKind int

const (
	refPersistent refKind = iota
	refEphemeral
	refContainer
	refTTL
)

type refNode struct {
	data                         []byte
	acl                          []ACL
	czxid, mzxid, pzxid          Zxid
	ctime, mtime                 int64
	version, creations, aversion int32
	kind                         refKind
	owner, ttl                   int64
}

type refState struct {
	nodes    map[string]refNode
	sessions map[int64]int32
	lastZxid Zxid
}

func newRefState() *refState {
	s := &refState{nodes: map[string]refNode{}, sessions: map[int64]int32{}}
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota"} {
		s.nodes[p] = refNode{data: []byte{}, acl: OpenACLUnsafe}
	}
	s.nodes["/zookeeper/config"] = refNode{data: []byte{}, acl: ReadACLUnsafe, aversion: -1}
	return s
}

func (s *refState) copy() *refState {
	c := &refState{nodes: map[string]refNode{}, sessions: map[int64]int32{}, lastZxid: s.lastZxid}
	for k, v := range s.nodes {
		c.nodes[k] = v
	}
	for k, v := range s.sessions {
		c.sessions[k] = v
	}
	return c
}

func refParent(path string) string {
	p := path[:strings.LastIndex(path, "/")]
	if p == "" {
		return "/"
	}
	return p
}

func (s *refState) get(path string) (refNode, bool) {
	if path == "" {
		path = "/"
	}
	n, ok := s.nodes[path]
	return n, ok
}

func (s *refState) children(path string) []string {
	out := []string{}
	for p := range s.nodes {
		if p != "/" && refParent(p) == path {
			out = append(out, p[strings.LastIndex(p, "/")+1:])
		}
	}
	sort.Strings(out)
	return out
}

func (s *refState) sortedPaths() []string {
	var out []string
	for p := range s.nodes {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func (s *refState) stat(path string) Stat {
	n := s.nodes[path]
	nc := int32(len(s.children(path)))
	st := Stat{Czxid: n.czxid, Mzxid: n.mzxid, Ctime: n.ctime, Mtime: n.mtime, Version: n.version,
		Cversion: 2*n.creations - nc, Aversion: n.aversion, DataLength: int32(len(n.data)),
		NumChildren: nc, Pzxid: n.pzxid}
	if n.kind == refEphemeral {
		st.EphemeralOwner = n.owner
	}
	return st
}

func (s *refState) ephemerals(session int64) []string {
	var out []string
	for _, p := range s.sortedPaths() {
		if n := s.nodes[p]; n.kind == refEphemeral && n.owner == session {
			out = append(out, p)
		}
	}
	return out
}

func refAllowed(acl []ACL, perm int32) bool {
	if len(acl) == 0 {
		return true
	}
	for _, a := range acl {
		if a.Scheme == "world" && a.ID == "anyone" && a.Perms&perm != 0 {
			return true
		}
	}
	return false
}

func refACLIDValid(a ACL) bool {
	switch a.Scheme {
	case "world":
		return a.ID == "anyone"
	case "digest":
		return len(strings.Split(strings.TrimRight(a.ID, ":"), ":")) == 2 && strings.TrimRight(a.ID, ":") != ""
	case "ip":
		addr, bits, hasBits := strings.Cut(a.ID, "/")
		octets := strings.Split(addr, ".")
		if len(octets) != 4 {
			return false
		}
		for _, o := range octets {
			v, err := strconv.Atoi(o)
			if err != nil || v < 0 || v > 255 {
				return false
			}
		}
		if hasBits {
			v, err := strconv.Atoi(bits)
			return err == nil && v >= 0 && v <= 32
		}
		return true
	}
	return false
}

func refFixACL(acl []ACL) ([]ACL, bool) {
	var out []ACL
	for _, a := range acl {
		dup := false
		for _, b := range out {
			dup = dup || a == b
		}
		if !dup {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, false
	}
	for _, a := range out {
		if !refACLIDValid(a) {
			return nil, false
		}
	}
	return out, true
}

func refCopyData(d []byte) []byte {
	if d == nil {
		return nil
	}
	return append([]byte{}, d...)
}

func refVersionOK(current, expected int32) bool { return expected == -1 || expected == current }

// prepare restates PrepRequestProcessor.
func (s *refState) prepare(session int64, req Request) Txn {
	if m, ok := req.(Multi); ok {
		for _, op := range m.Ops {
			switch op.(type) {
			case Create, Delete, SetData, Check:
			default:
				return ErrorTxn{Err: ErrMarshallingError}
			}
		}
		scratch := s.copy()
		txns := make([]Txn, 0, len(m.Ops))
		failed := false
		for _, op := range m.Ops {
			if failed {
				txns = append(txns, ErrorTxn{Err: ErrRuntimeInconsistency})
				continue
			}
			txn, err := scratch.prepareOp(session, op)
			if err != ErrOK {
				txns = append(txns, ErrorTxn{Err: err})
				failed = true
				continue
			}
			txns = append(txns, txn)
			scratch.apply(TxnHeader{Session: session}, txn)
		}
		return MultiTxn{Txns: txns}
	}
	txn, err := s.prepareOp(session, req)
	if err != ErrOK {
		return ErrorTxn{Err: err}
	}
	return txn
}

func (s *refState) prepareOp(session int64, req Request) (Txn, Err) {
	_, live := s.sessions[session]
	special := map[string]bool{"/": true, "/zookeeper": true, "/zookeeper/quota": true, "/zookeeper/config": true}
	switch r := req.(type) {
	case Create:
		if r.Mode < 0 || r.Mode > 6 {
			return nil, ErrBadArguments
		}
		isTTL := r.Mode == 5 || r.Mode == 6
		if isTTL && (r.TTL <= 0 || r.TTL > 1<<40-1) || !isTTL && r.TTL > 0 {
			return nil, ErrBadArguments
		}
		if !live {
			return nil, ErrSessionExpired
		}
		if !strings.Contains(r.Path, "/") || strings.Contains(r.Path, "\x00") {
			return nil, ErrBadArguments
		}
		acl, ok := refFixACL(r.ACL)
		if !ok {
			return nil, ErrInvalidACL
		}
		parent, ok := s.get(r.Path[:strings.LastIndex(r.Path, "/")])
		if !ok {
			return nil, ErrNoNode
		}
		if !refAllowed(parent.acl, PermCreate) {
			return nil, ErrNoAuth
		}
		path := r.Path
		if r.Mode == 2 || r.Mode == 3 || r.Mode == 6 {
			path += fmt.Sprintf("%010d", parent.creations)
		}
		if !javaValidatePath(path) {
			return nil, ErrBadArguments
		}
		if _, exists := s.nodes[path]; exists {
			return nil, ErrNodeExists
		}
		if parent.kind == refEphemeral {
			return nil, ErrNoChildrenForEphemerals
		}
		txn := CreateTxn{Path: path, Data: refCopyData(r.Data), ACL: acl, Mode: r.Mode, ParentCVersion: parent.creations + 1}
		if isTTL {
			txn.TTL = r.TTL
		}
		return txn, ErrOK
	case Delete:
		if !live {
			return nil, ErrSessionExpired
		}
		if !strings.Contains(r.Path, "/") || strings.Contains(r.Path, "\x00") || special[r.Path] {
			return nil, ErrBadArguments
		}
		parent, ok := s.get(r.Path[:strings.LastIndex(r.Path, "/")])
		if !ok {
			return nil, ErrNoNode
		}
		if !refAllowed(parent.acl, PermDelete) {
			return nil, ErrNoAuth
		}
		n, ok := s.nodes[r.Path]
		if !ok {
			return nil, ErrNoNode
		}
		if !refVersionOK(n.version, r.Version) {
			return nil, ErrBadVersion
		}
		if len(s.children(r.Path)) > 0 {
			return nil, ErrNotEmpty
		}
		return DeleteTxn{Path: r.Path}, ErrOK
	case DeleteContainer:
		if !strings.Contains(r.Path, "/") || strings.Contains(r.Path, "\x00") || special[r.Path] {
			return nil, ErrBadArguments
		}
		n, ok := s.nodes[r.Path]
		if !ok {
			return nil, ErrNoNode
		}
		if len(s.children(r.Path)) > 0 {
			return nil, ErrNotEmpty
		}
		if n.kind == refEphemeral {
			return nil, ErrBadVersion
		}
		if _, ok := s.get(r.Path[:strings.LastIndex(r.Path, "/")]); !ok {
			return nil, ErrNoNode
		}
		return DeleteTxn{Path: r.Path}, ErrOK
	case SetData:
		if !live {
			return nil, ErrSessionExpired
		}
		if !javaValidatePath(r.Path) {
			return nil, ErrBadArguments
		}
		n, ok := s.nodes[r.Path]
		if !ok {
			return nil, ErrNoNode
		}
		if !refAllowed(n.acl, PermWrite) {
			return nil, ErrNoAuth
		}
		if !refVersionOK(n.version, r.Version) {
			return nil, ErrBadVersion
		}
		return SetDataTxn{Path: r.Path, Data: refCopyData(r.Data), Version: n.version + 1}, ErrOK
	case Check:
		if !live {
			return nil, ErrSessionExpired
		}
		if !javaValidatePath(r.Path) {
			return nil, ErrBadArguments
		}
		n, ok := s.nodes[r.Path]
		if !ok {
			return nil, ErrNoNode
		}
		if !refAllowed(n.acl, PermRead) {
			return nil, ErrNoAuth
		}
		if !refVersionOK(n.version, r.Version) {
			return nil, ErrBadVersion
		}
		return CheckVersionTxn{Path: r.Path, Version: n.version + 1}, ErrOK
	case SetACL:
		if !live {
			return nil, ErrSessionExpired
		}
		if !javaValidatePath(r.Path) {
			return nil, ErrBadArguments
		}
		acl, ok := refFixACL(r.ACL)
		if !ok {
			return nil, ErrInvalidACL
		}
		n, ok := s.nodes[r.Path]
		if !ok {
			return nil, ErrNoNode
		}
		if !refAllowed(n.acl, PermAdmin) {
			return nil, ErrNoAuth
		}
		if !refVersionOK(n.aversion, r.Version) {
			return nil, ErrBadVersion
		}
		return SetACLTxn{Path: r.Path, ACL: acl, Version: n.aversion + 1}, ErrOK
	case CreateSession:
		return CreateSessionTxn{TimeoutMs: r.TimeoutMs}, ErrOK
	case CloseSession:
		return CloseSessionTxn{Paths: s.ephemerals(session)}, ErrOK
	}
	return nil, ErrMarshallingError
}

// apply restates DataTree.processTxn, multi atomic.
func (s *refState) apply(hdr TxnHeader, txn Txn) Result {
	var r Result
	switch x := txn.(type) {
	case CreateSessionTxn:
		s.sessions[hdr.Session] = x.TimeoutMs
		r = Result{Op: OpCreateSession}
	case CloseSessionTxn:
		owned := s.ephemerals(hdr.Session)
		r = Result{Op: OpCloseSession}
		for _, p := range x.Paths {
			s.deleteLeaf(hdr, p, &r.Events)
		}
		for _, p := range owned {
			if !slices.Contains(x.Paths, p) {
				s.deleteLeaf(hdr, p, &r.Events)
			}
		}
		delete(s.sessions, hdr.Session)
	case ErrorTxn:
		r = Result{Op: OpError, Err: x.Err}
	case MultiTxn:
		r = s.applyMulti(hdr, x)
	default:
		r = s.applyOne(hdr, txn)
	}
	if hdr.Zxid > s.lastZxid {
		s.lastZxid = hdr.Zxid
	}
	return r
}

func (s *refState) deleteLeaf(hdr TxnHeader, p string, events *[]WatchEvent) {
	if _, ok := s.nodes[p]; ok && p != "/" && len(s.children(p)) == 0 {
		s.removeNode(hdr, p)
		*events = append(*events, WatchEvent{EventNodeDeleted, p}, WatchEvent{EventNodeChildrenChanged, refParent(p)})
	}
}

func (s *refState) removeNode(hdr TxnHeader, p string) {
	delete(s.nodes, p)
	parent := s.nodes[refParent(p)]
	if hdr.Zxid > parent.pzxid {
		parent.pzxid = hdr.Zxid
	}
	s.nodes[refParent(p)] = parent
}

func (s *refState) applyMulti(hdr TxnHeader, m MultiTxn) Result {
	r := Result{Op: OpMulti, Multi: make([]Result, len(m.Txns))}
	fail := func(at int, err Err) Result {
		for i := range m.Txns {
			sub := Result{Op: OpError}
			if i == at {
				sub.Err = err
			} else if i > at {
				sub.Err = ErrRuntimeInconsistency
				if e, ok := m.Txns[i].(ErrorTxn); ok {
					sub.Err = e.Err
				}
			}
			r.Multi[i] = sub
			if r.Err == ErrOK {
				r.Err = sub.Err
			}
		}
		r.Events = nil
		return r
	}
	for i, sub := range m.Txns {
		if e, ok := sub.(ErrorTxn); ok {
			return fail(i, e.Err)
		}
	}
	scratch := s.copy()
	for i, sub := range m.Txns {
		switch sub.(type) {
		case CreateTxn, DeleteTxn, SetDataTxn, CheckVersionTxn:
		default:
			return fail(i, ErrMarshallingError)
		}
		res := scratch.applyOne(hdr, sub)
		if res.Err != ErrOK {
			return fail(i, res.Err)
		}
		r.Events = append(r.Events, res.Events...)
		res.Events = nil
		r.Multi[i] = res
	}
	*s = *scratch
	return r
}

// applyOne applies a create, delete, setData, setACL or check.
func (s *refState) applyOne(hdr TxnHeader, txn Txn) Result {
	switch x := txn.(type) {
	case CreateTxn:
		failed := Result{Op: x.Op(), Path: x.Path}
		if x.Mode < 0 || x.Mode > 6 || (x.Mode == 5 || x.Mode == 6) && (x.TTL <= 0 || x.TTL > 1<<40-1) {
			failed.Err = ErrBadArguments
			return failed
		}
		if x.Path == "/" || !javaValidatePath(x.Path) {
			failed.Err = ErrBadArguments
			return failed
		}
		pp := refParent(x.Path)
		parent, ok := s.nodes[pp]
		if !ok {
			failed.Err = ErrNoNode
			return failed
		}
		if _, exists := s.nodes[x.Path]; exists {
			failed.Err = ErrNodeExists
			return failed
		}
		if parent.kind == refEphemeral {
			failed.Err = ErrNoChildrenForEphemerals
			return failed
		}
		n := refNode{data: x.Data, acl: x.ACL, czxid: hdr.Zxid, mzxid: hdr.Zxid, pzxid: hdr.Zxid,
			ctime: hdr.TimeMs, mtime: hdr.TimeMs}
		switch {
		case (x.Mode == 1 || x.Mode == 3) && hdr.Session != 0:
			n.kind, n.owner = refEphemeral, hdr.Session
		case x.Mode == 4:
			n.kind = refContainer
		case x.Mode == 5 || x.Mode == 6:
			n.kind, n.ttl = refTTL, x.TTL
		}
		pcv := x.ParentCVersion
		if pcv == -1 {
			pcv = parent.creations + 1
		}
		if pcv > parent.creations {
			parent.creations, parent.pzxid = pcv, hdr.Zxid
		}
		s.nodes[pp] = parent
		s.nodes[x.Path] = n
		return Result{Op: x.Op(), Path: x.Path, Stat: s.stat(x.Path),
			Events: []WatchEvent{{EventNodeCreated, x.Path}, {EventNodeChildrenChanged, pp}}}
	case DeleteTxn:
		failed := Result{Op: OpDelete, Path: x.Path}
		if x.Path == "/" {
			failed.Err = ErrBadArguments
			return failed
		}
		if _, ok := s.nodes[x.Path]; !ok {
			failed.Err = ErrNoNode
			return failed
		}
		if len(s.children(x.Path)) > 0 {
			failed.Err = ErrNotEmpty
			return failed
		}
		s.removeNode(hdr, x.Path)
		return Result{Op: OpDelete, Path: x.Path,
			Events: []WatchEvent{{EventNodeDeleted, x.Path}, {EventNodeChildrenChanged, refParent(x.Path)}}}
	case SetDataTxn:
		n, ok := s.nodes[x.Path]
		if !ok {
			return Result{Op: OpSetData, Path: x.Path, Err: ErrNoNode}
		}
		n.data, n.mtime, n.mzxid, n.version = x.Data, hdr.TimeMs, hdr.Zxid, x.Version
		s.nodes[x.Path] = n
		return Result{Op: OpSetData, Path: x.Path, Stat: s.stat(x.Path),
			Events: []WatchEvent{{EventNodeDataChanged, x.Path}}}
	case SetACLTxn:
		n, ok := s.nodes[x.Path]
		if !ok {
			return Result{Op: OpSetACL, Path: x.Path, Err: ErrNoNode}
		}
		n.acl, n.aversion = x.ACL, x.Version
		s.nodes[x.Path] = n
		return Result{Op: OpSetACL, Path: x.Path, Stat: s.stat(x.Path)}
	case CheckVersionTxn:
		return Result{Op: OpCheck, Path: x.Path}
	}
	return Result{Op: OpError, Err: ErrMarshallingError}
}

func (s *refState) cleanupCandidates(nowMs int64) []string {
	var out []string
	for _, p := range s.sortedPaths() {
		n := s.nodes[p]
		empty := len(s.children(p)) == 0
		if n.kind == refContainer && empty && n.creations > 0 ||
			n.kind == refTTL && empty && n.ttl != 0 && nowMs-n.mtime > n.ttl {
			out = append(out, p)
		}
	}
	return out
}

// --- random requests -------------------------------------------------------

// opSpec is a drawn operation. Its numbers are resolved against the current
// state when the step runs (modulo the size of whatever they pick from), so a
// shrunk sequence still makes sense.
type opSpec struct {
	Kind, Session, PathHow, Path, Name, Mode, TTL, Version, Data, ACL, StepMs int
	Sub                                                                       []opSpec
}

const (
	opCreate = iota
	opDelete
	opSetData
	opCheck
	opSetACL
	opMulti
	opCreateSession
	opCloseSession
	opDeleteContainer
	opReplay
	opRawClose
)

var (
	topKinds = []int{opCreate, opCreate, opCreate, opCreate, opDelete, opDelete, opSetData, opSetData,
		opCheck, opSetACL, opMulti, opMulti, opMulti, opCreateSession, opCreateSession, opCloseSession,
		opDeleteContainer, opReplay, opReplay, opRawClose}
	subKinds     = []int{opCreate, opCreate, opCreate, opDelete, opDelete, opSetData, opCheck, opCheck}
	rareSubKinds = []int{opSetACL, opCreateSession}

	sessionIDs = []int64{1, 2, 3, 1, 2, 1, 0, 4}
	universe   = []string{"/", "/a", "/b", "/c", "/a/b", "/a/c", "/b/a", "/a/b/c", "/a/b/c/d",
		"/zookeeper", "/zookeeper/quota", "/zookeeper/config", "/zookeeper/x",
		"", "a", "a/b", "/a/", "//", "/a//b", "/a/.", "/..", "/./a", "/a\x00", "/\x01", "/\U0001F600"}
	names       = []string{"a", "b", "c", "s", "n-"}
	dataChoices = [][]byte{nil, {}, []byte("x"), []byte("yy"), []byte("zzz")}
	ttlChoices  = []int64{0, 0, 0, -1, 1, 100, 5000, MaxTTL, MaxTTL + 1}
	aclChoices  = [][]ACL{
		OpenACLUnsafe, OpenACLUnsafe, OpenACLUnsafe, OpenACLUnsafe,
		ReadACLUnsafe,
		nil,
		{OpenACLUnsafe[0], OpenACLUnsafe[0]},
		digestOnlyACL,
		{{PermCreate | PermDelete, "world", "anyone"}},
		{{PermRead | PermWrite | PermAdmin, "world", "anyone"}, {PermAll, "ip", "10.0.0.0/8"}},
		{{PermAll, "world", "nobody"}},
		{{PermAll, "auth", ""}},
		{{PermRead, "digest", "u:p"}, {PermAll, "ip", "1.2.3.4/40"}},
		{{PermAll, "digest", "nocolon"}},
		{{PermAll, "digest", "a:b:c"}},
		{{PermAll, "digest", "u:"}, OpenACLUnsafe[0]},
		{{PermAll, "digest", ":p::"}},
		{{PermAll, "ip", "1.2.3"}},
		{{PermAll, "ip", "+1.2.3.-0/0"}},
		{{PermAll, "ip", "1.2.3.4/x"}},
	}
)

func specGen(kinds []int, withSub bool) *rapid.Generator[opSpec] {
	return rapid.Custom(func(t *rapid.T) opSpec {
		o := opSpec{
			Kind:    rapid.SampledFrom(kinds).Draw(t, "kind"),
			Session: rapid.IntRange(0, len(sessionIDs)-1).Draw(t, "session"),
			PathHow: rapid.IntRange(0, 3).Draw(t, "pathHow"),
			Path:    rapid.IntRange(0, 1<<10).Draw(t, "path"),
			Name:    rapid.IntRange(0, len(names)-1).Draw(t, "name"),
			Mode:    rapid.IntRange(0, 8).Draw(t, "mode"),
			TTL:     rapid.IntRange(0, len(ttlChoices)-1).Draw(t, "ttl"),
			Version: rapid.IntRange(0, 6).Draw(t, "version"),
			Data:    rapid.IntRange(0, len(dataChoices)-1).Draw(t, "data"),
			ACL:     rapid.IntRange(0, 2*len(aclChoices)-1).Draw(t, "acl"), // half the time open
			StepMs:  rapid.IntRange(0, 3000).Draw(t, "stepMs"),
		}
		if withSub && o.Kind == opMulti {
			sub := specGen(subKinds, false)
			if rapid.IntRange(0, 9).Draw(t, "rare") == 0 {
				sub = specGen(append(slices.Clone(subKinds), rareSubKinds...), false)
			}
			o.Sub = rapid.SliceOfN(sub, 0, 8).Draw(t, "sub")
		}
		return o
	})
}

func opGen() *rapid.Generator[opSpec] { return specGen(topKinds, true) }

type staleTxn struct {
	session int64
	txn     Txn
}

// diffHarness runs the model and the reference side by side.
type diffHarness struct {
	t       *rapid.T
	tree    *Tree
	ref     *refState
	counter uint32
	nowMs   int64
	stale   []staleTxn
	steps   int
}

// newRandomHarness starts with sessions 1, 2 and 3 open, so that most drawn
// requests get past the session check.
func newRandomHarness(t *rapid.T) *diffHarness {
	h := &diffHarness{t: t, tree: NewTree(), ref: newRefState(), nowMs: 1_000_000}
	for _, id := range []int64{1, 2, 3} {
		h.run(id, CreateSession{TimeoutMs: 10000})
	}
	return h
}

func (h *diffHarness) next(session int64) TxnHeader {
	h.counter++
	return TxnHeader{Session: session, Zxid: MakeZxid(3, h.counter), TimeMs: h.nowMs}
}

func (h *diffHarness) pickPath(o opSpec) string {
	existing := h.ref.sortedPaths()
	switch o.PathHow {
	case 0:
		return universe[o.Path%len(universe)]
	case 1, 2:
		return existing[o.Path%len(existing)]
	}
	return childPath(existing[o.Path%len(existing)], names[o.Name])
}

func (h *diffHarness) version(o opSpec, path string, acl bool) int32 {
	n, ok := h.ref.nodes[path]
	current := n.version
	if acl {
		current = n.aversion
	}
	switch o.Version {
	case 0, 1:
		return -1
	case 2, 3:
		if ok {
			return current
		}
		return 0
	case 4:
		return current + 1
	case 5:
		return current + 2
	}
	return 0
}

func pickACL(o opSpec) []ACL {
	if o.ACL >= len(aclChoices) {
		return OpenACLUnsafe
	}
	return aclChoices[o.ACL]
}

func requestPath(req Request) string {
	switch r := req.(type) {
	case Create:
		return r.Path
	case Delete:
		return r.Path
	case SetData:
		return r.Path
	case Check:
		return r.Path
	case SetACL:
		return r.Path
	}
	return ""
}

// request turns a spec into a request and the session issuing it.
func (h *diffHarness) request(o opSpec) (Request, int64) { return h.requestAt(o, "") }

// requestAt is request with the path forced when near is set. Inside a multi,
// ops work on the path of the op before them, a child of it or its parent, so
// that chains (create then setData, create a child then delete the parent)
// are common.
func (h *diffHarness) requestAt(o opSpec, near string) (Request, int64) {
	session := sessionIDs[o.Session]
	path := h.pickPath(o)
	if near != "" {
		switch o.PathHow {
		case 0, 1:
			path = near
		case 2:
			path = childPath(near, names[o.Name])
		case 3:
			if parent, ok := parentPath(near); ok {
				path = parent
			}
		}
	}
	switch o.Kind {
	case opCreate:
		mode := CreateMode(o.Mode)
		switch o.Mode {
		case 7:
			mode = 7
		case 8:
			mode = -1
		}
		if near == "" && (o.PathHow == 3 || o.PathHow == 2) {
			path = childPath(h.ref.sortedPaths()[o.Path%len(h.ref.nodes)], names[o.Name])
		}
		// A TTL mostly goes with a TTL mode; now and then it goes with
		// another mode, which is an error.
		ttl := int64(0)
		if mode.IsTTL() || o.TTL == len(ttlChoices)-1 {
			ttl = ttlChoices[o.TTL]
		}
		return Create{Path: path, Data: dataChoices[o.Data], ACL: pickACL(o), Mode: mode, TTL: ttl}, session
	case opDelete:
		return Delete{Path: path, Version: h.version(o, path, false)}, session
	case opSetData:
		return SetData{Path: path, Data: dataChoices[o.Data], Version: h.version(o, path, false)}, session
	case opCheck:
		return Check{Path: path, Version: h.version(o, path, false)}, session
	case opSetACL:
		return SetACL{Path: path, ACL: pickACL(o), Version: h.version(o, path, true)}, session
	case opMulti:
		// Sub-ops resolve against the state before the multi; later ones may
		// name nodes earlier ones create through the fixed universe.
		ops := make([]Request, 0, len(o.Sub))
		near := ""
		for i, s := range o.Sub {
			if i > 0 && s.Session%4 != 0 {
				s.Session = o.Session // mostly one session, as a real multi
			}
			req, _ := h.requestAt(s, near)
			ops = append(ops, req)
			near = requestPath(req)
		}
		return Multi{Ops: ops}, sessionIDs[o.Session]
	case opCreateSession:
		return CreateSession{TimeoutMs: int32(o.StepMs)}, session
	case opCloseSession:
		return CloseSession{}, session
	case opDeleteContainer:
		if c := h.ref.cleanupCandidates(h.nowMs); len(c) > 0 && o.Version < 5 {
			path = c[o.Path%len(c)]
		}
		return DeleteContainer{Path: path}, 0
	}
	return Check{Path: path, Version: -1}, session
}

// step runs one drawn operation through both and compares everything.
func (h *diffHarness) step(o opSpec) {
	t := h.t
	h.steps++
	h.nowMs += int64(o.StepMs)
	if o.Kind == opReplay && len(h.stale) > 0 {
		// A txn prepared some steps ago applied again now: the divergence a
		// replication bug would cause. Apply must stay total and agree with
		// the reference.
		st := h.stale[o.Path%len(h.stale)]
		if o.Version%2 == 0 {
			// Prefer a multi that succeeded: replayed, it fails part-way
			// through at apply time, the case prep never produces.
			var multis []staleTxn
			for _, c := range h.stale {
				if m, ok := c.txn.(MultiTxn); ok && !slices.ContainsFunc(m.Txns, func(x Txn) bool { return x.Op() == OpError }) && len(m.Txns) > 1 {
					multis = append(multis, c)
				}
			}
			if len(multis) > 0 {
				st = multis[o.Path%len(multis)]
			}
		}
		hdr := h.next(st.session)
		got := h.tree.Apply(hdr, st.txn)
		want := h.ref.apply(hdr, st.txn)
		require.Equal(t, want, got, "replayed %#v", st.txn)
		h.compareState()
		return
	}
	if o.Kind == opRawClose {
		// A close whose list misses some of the session's ephemerals and
		// names other paths: Apply deletes the listed ones that exist and
		// then everything else the session owns.
		session := sessionIDs[o.Session]
		owned := h.ref.ephemerals(session)
		paths := append([]string{}, owned[:o.Path%(len(owned)+1)]...)
		paths = append(paths, h.pickPath(o))
		txn := CloseSessionTxn{Paths: paths}
		hdr := h.next(session)
		require.Equal(t, h.ref.apply(hdr, txn), h.tree.Apply(hdr, txn), "raw %#v", txn)
		h.compareState()
		return
	}
	req, session := h.request(o)
	h.run(session, req)
}

// run prepares and applies one request on both sides and compares the txns,
// the results and then the whole state.
func (h *diffHarness) run(session int64, req Request) {
	t := h.t
	digest, last := h.tree.Digest(), h.tree.LastZxid()
	txn := Prepare(h.tree, session, req, h.nowMs)
	require.Equal(t, digest, h.tree.Digest(), "Prepare modified the tree")
	require.Equal(t, last, h.tree.LastZxid())
	wantTxn := h.ref.prepare(session, req)
	require.Equal(t, wantTxn, txn, "step %d: session %d request %#v", h.steps, session, req)

	hdr := h.next(session)
	got := h.tree.Apply(hdr, txn)
	want := h.ref.apply(hdr, wantTxn)
	require.Equal(t, want, got, "step %d: session %d request %#v txn %#v", h.steps, session, req, txn)
	h.stale = append(h.stale, staleTxn{session, txn})
	if len(h.stale) > 16 {
		h.stale = h.stale[1:]
	}
	h.compareState()
}

func (h *diffHarness) compareState() {
	t, m, r := h.t, h.tree, h.ref
	checkInvariants(t, m)
	paths := r.sortedPaths()
	require.Equal(t, paths, m.Paths())
	require.Equal(t, len(paths), m.NodeCount())
	for _, p := range paths {
		data, st, err := m.GetData(p)
		require.NoError(t, err)
		require.Equal(t, r.nodes[p].data, data, p)
		require.Equal(t, r.stat(p), st, p)
		acl, _, _ := m.GetACL(p)
		require.Equal(t, r.nodes[p].acl, acl, p)
		kids, _, _ := m.Children(p)
		require.Equal(t, nilIfEmpty(r.children(p)), kids, p)
		all, err := m.AllChildrenNumber(p)
		require.NoError(t, err)
		want := 0
		for _, q := range paths {
			if q != p && (p == "/" || strings.HasPrefix(q, p+"/")) {
				want++
			}
		}
		require.Equal(t, want, all, p)
	}
	var sessions []Session
	for _, id := range slices.Sorted(mapKeys(r.sessions)) {
		sessions = append(sessions, Session{ID: id, TimeoutMs: r.sessions[id]})
	}
	require.Equal(t, sessions, m.Sessions())
	var owners []int64
	for _, p := range paths {
		if n := r.nodes[p]; n.kind == refEphemeral && !slices.Contains(owners, n.owner) {
			owners = append(owners, n.owner)
		}
	}
	slices.Sort(owners)
	require.Equal(t, owners, m.EphemeralOwners())
	for _, id := range append([]int64{0, 1, 2, 3, 4}, owners...) {
		require.Equal(t, r.ephemerals(id), m.Ephemerals(id))
	}
	for _, dt := range []int64{0, 1, 99, 100, 101, 5000, 5001, 1 << 41} {
		require.Equal(t, r.cleanupCandidates(h.nowMs+dt), m.CleanupCandidates(h.nowMs+dt))
	}
	require.Equal(t, r.lastZxid, m.LastZxid())
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestModel_MatchesReferenceOnRandomRequests(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		h := newRandomHarness(rt)
		for _, o := range rapid.SliceOfN(opGen(), 100, 400).Draw(rt, "ops") {
			h.step(o)
		}
	})
}
