package checker

import (
	"bytes"
	"cmp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"zoosim/model"
)

// The reference and package model are written apart; this property holds
// them to each other. Any sequence of requests, session starts and ends,
// ACL changes and container sweeps, prepared by model.Prepare and applied by
// model.Apply, must be decided the same way by the reference (the same txn,
// or the same error), must fit the reference's state when applied to it,
// must give the same results and watch events, and must leave the same
// tree, session table and ephemeral owners.
func TestReference_AgreesWithModel(t *testing.T) {
	paths := []string{"/a", "/a", "/a", "/a/b", "/a/b", "/a/b/c", "/a/s-", "/a/s-", "/b", "/b/x", "/c",
		"/a/s-0000000000", "/a/s-0000000001", "/", "/a/", "bad", "/zookeeper", "/zookeeper/x", "/zookeeper/config",
		"/zookeeper/quota", "/a//b", "/a/./b", "/a/..", "/\x01", "/\xff", "/é", "/\U0001F600", "/a\x00b"}
	modes := []model.CreateMode{model.ModePersistent, model.ModePersistent, model.ModePersistentSequential,
		model.ModeEphemeral, model.ModeEphemeralSequential, model.ModeContainer, model.ModePersistentWithTTL,
		model.ModePersistentSequentialWithTTL, 9, -1}
	acls := [][]model.ACL{model.OpenACLUnsafe, model.ReadACLUnsafe, nil,
		{{Perms: model.PermRead | model.PermCreate, Scheme: "world", ID: "anyone"}},
		{{Perms: model.PermAll, Scheme: "ip", ID: "10.0.0.1"}}, {{Perms: model.PermAll, Scheme: "auth", ID: ""}}}
	rapid.Check(t, func(rt *rapid.T) {
		mt, ref := model.NewTree(), newRefTree()
		var counter uint32
		path := func() string { return rapid.SampledFrom(paths).Draw(rt, "path") }
		version := func() int32 { return rapid.SampledFrom([]int32{-1, 0, 0, 1, 2}).Draw(rt, "version") }
		data := func() []byte { return rapid.SampledFrom([][]byte{nil, {}, []byte("x"), []byte("yy")}).Draw(rt, "data") }
		write := func() refRequest {
			k := rapid.SampledFrom([]OpKind{OpCreate, OpCreate, OpDelete, OpSetData, OpCheck}).Draw(rt, "kind")
			r := refRequest{kind: k, path: path(), version: version(), data: data()}
			if k == OpCreate {
				r.mode = rapid.SampledFrom(modes).Draw(rt, "mode")
				r.ttl = rapid.SampledFrom([]int64{0, 0, 100, -1}).Draw(rt, "ttl")
			}
			return r
		}
		steps := rapid.IntRange(5, 120).Draw(rt, "steps")
		for step := range steps {
			session := rapid.SampledFrom([]int64{0, 1, 2, 3}).Draw(rt, "session")
			var req model.Request
			var asked *refRequest
			switch rapid.IntRange(0, 9).Draw(rt, "action") {
			case 0:
				req = model.CreateSession{TimeoutMs: rapid.SampledFrom([]int32{1000, 2000}).Draw(rt, "timeout")}
			case 1:
				req = model.CloseSession{}
			case 2:
				req = model.SetACL{Path: path(), ACL: rapid.SampledFrom(acls).Draw(rt, "acl"), Version: version()}
			case 3:
				req, session = model.DeleteContainer{Path: path()}, 0
			case 4:
				r := refRequest{kind: OpMulti}
				for range rapid.IntRange(0, 3).Draw(rt, "subs") {
					r.subs = append(r.subs, write())
				}
				asked = &r
			default:
				r := write()
				asked = &r
			}
			if asked != nil {
				req = modelRequest(*asked)
			}
			txn := model.Prepare(mt, session, req, 0)
			if asked != nil {
				if why := sameDecision(ref.decide(session, *asked), txn); why != "" {
					rt.Fatalf("step %d: %+v of session %d: model prepared %s; reference: %s", step, *asked, session, txnSummary(txn), why)
				}
			}
			counter++
			hdr := model.TxnHeader{Session: session, Zxid: model.MakeZxid(1, counter), TimeMs: int64(1000 + step)}
			mres := mt.Apply(hdr, txn)
			rres, problem := ref.apply(hdr, txn)
			if problem != "" {
				rt.Fatalf("step %d: %s prepared by the model does not fit the reference's state: %s", step, txnSummary(txn), problem)
			}
			requireSameResult(rt, mres, rres, txnSummary(txn))
			requireSameTree(rt, mt, ref)
		}
	})
}

func modelRequest(r refRequest) model.Request {
	switch r.kind {
	case OpCreate:
		return model.Create{Path: r.path, Data: r.data, ACL: model.OpenACLUnsafe, Mode: r.mode, TTL: r.ttl}
	case OpDelete:
		return model.Delete{Path: r.path, Version: r.version}
	case OpSetData:
		return model.SetData{Path: r.path, Data: r.data, Version: r.version}
	case OpCheck:
		return model.Check{Path: r.path, Version: r.version}
	}
	m := model.Multi{}
	for _, s := range r.subs {
		m.Ops = append(m.Ops, modelRequest(s))
	}
	return m
}

func requireSameResult(t require.TestingT, m model.Result, r refResult, what string) {
	require.Equal(t, m.Err, r.err, "%s: error", what)
	if m.Op != model.OpMulti {
		require.Equal(t, m.Path, r.path, "%s: path", what)
	}
	require.Equal(t, m.Stat, r.stat, "%s: stat", what)
	require.Len(t, r.multi, len(m.Multi), "%s: multi results", what)
	for i := range m.Multi {
		require.Equal(t, m.Multi[i].Err, r.multi[i].err, "%s: op %d error", what, i)
		require.Equal(t, m.Multi[i].Path, r.multi[i].path, "%s: op %d path", what, i)
		require.Equal(t, m.Multi[i].Stat, r.multi[i].stat, "%s: op %d stat", what, i)
	}
	byPath := func(a, b model.WatchEvent) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Type, b.Type))
	}
	want, got := slices.Clone(m.Events), slices.Clone(r.events)
	slices.SortFunc(want, byPath)
	slices.SortFunc(got, byPath)
	require.Equal(t, len(want), len(got), "%s: events %v vs %v", what, want, got)
	for i := range want {
		require.Equal(t, want[i].Path, got[i].Path, "%s: events %v vs %v", what, want, got)
		require.Equal(t, want[i].Type, got[i].Type, "%s: events %v vs %v", what, want, got)
	}
}

func requireSameTree(t require.TestingT, m *model.Tree, r *refTree) {
	require.Equal(t, m.Digest(), r.digest, "digest")
	paths := m.Paths()
	require.Len(t, r.nodes, len(paths), "node count")
	for _, p := range paths {
		mdata, mst, _ := m.GetData(p)
		rdata, rst, ok := r.getData(p)
		require.True(t, ok, "the reference has no %s", p)
		require.True(t, bytes.Equal(mdata, rdata), "%s: data %q vs %q", p, mdata, rdata)
		require.Equal(t, mst, rst, "%s: stat", p)
		mk, _, _ := m.Children(p)
		rk, _, _ := r.children(p)
		require.Equal(t, len(mk), len(rk), "%s: children %v vs %v", p, mk, rk)
		for i := range mk {
			require.Equal(t, mk[i], rk[i], "%s: children", p)
		}
	}
	sessions := m.Sessions()
	require.Len(t, r.sessions, len(sessions), "sessions")
	for _, s := range sessions {
		to, ok := r.sessions[s.ID]
		require.True(t, ok && to == s.TimeoutMs, "session %d", s.ID)
	}
	owners := m.EphemeralOwners()
	require.Equal(t, len(owners), len(r.owners()), "ephemeral owners %v vs %v", owners, r.owners())
	for _, o := range owners {
		require.Equal(t, m.Ephemerals(o), r.ephemeralsOf(o), "ephemerals of %d", o)
	}
}

// The reference's path rule is ZooKeeper's, as the model implements it.
func TestReference_PathRuleAgreesWithModel(t *testing.T) {
	alphabet := []string{"/", "/", "a", "b", ".", "..", "\x00", "\x01", "\x1f", "\x7f", "\u0080", "\u009f", "é",
		"\ud7ff", "\ue000", "\uf8ff", "\uf900", "\ufff0", "\ufffd", "\U0001F600", "\xff", "\xc3"}
	rapid.Check(t, func(rt *rapid.T) {
		parts := rapid.SliceOfN(rapid.SampledFrom(alphabet), 0, 8).Draw(rt, "parts")
		var b bytes.Buffer
		for _, p := range parts {
			b.WriteString(p)
		}
		p := b.String()
		if got, want := refValidPath(p), model.ValidatePath(p) == nil; got != want {
			rt.Fatalf("path %q: reference says valid=%v, model %v", p, got, want)
		}
	})
}

// Strict apply: txns that do not fit the state are named, and change
// nothing.
func TestReference_CommittedTxnsThatDoNotFitAreProblems(t *testing.T) {
	setup := func() *refTree {
		r := newRefTree()
		r.apply(model.TxnHeader{Session: 1, Zxid: 1}, model.CreateSessionTxn{TimeoutMs: 1000})
		r.apply(model.TxnHeader{Session: 1, Zxid: 2}, model.CreateTxn{Path: "/a", ParentCVersion: 1})
		r.apply(model.TxnHeader{Session: 1, Zxid: 3}, model.CreateTxn{Path: "/e", Mode: model.ModeEphemeral, ParentCVersion: 2})
		r.apply(model.TxnHeader{Session: 1, Zxid: 4}, model.SetDataTxn{Path: "/a", Data: []byte("x"), Version: 1})
		return r
	}
	cases := map[string]struct {
		txn  model.Txn
		want string
	}{
		"setData at a stale version":         {model.SetDataTxn{Path: "/a", Version: 1}, "one more"},
		"setData of a missing node":          {model.SetDataTxn{Path: "/x", Version: 1}, "does not exist"},
		"create of an existing node":         {model.CreateTxn{Path: "/a", ParentCVersion: -1}, "already exists"},
		"create under an ephemeral":          {model.CreateTxn{Path: "/e/x", ParentCVersion: -1}, "under an ephemeral"},
		"create without a parent":            {model.CreateTxn{Path: "/x/y", ParentCVersion: -1}, "parent does not exist"},
		"sequential suffix not the counter":  {model.CreateTxn{Path: "/a/s-0000000003", Mode: model.ModePersistentSequential, ParentCVersion: -1}, "suffix 0000000000"},
		"parent counter not one more":        {model.CreateTxn{Path: "/a/b", ParentCVersion: 5}, "child counter"},
		"delete of a node with children":     {model.DeleteTxn{Path: "/"}, "never deletes"},
		"check at a stale version":           {model.CheckVersionTxn{Path: "/a", Version: 1}, "version 1"},
		"multi whose second op does not fit": {model.MultiTxn{Txns: []model.Txn{model.DeleteTxn{Path: "/a"}, model.SetDataTxn{Path: "/a", Version: 2}}}, "op 1 of the multi"},
		"closeSession of another's node":     {model.CloseSessionTxn{Paths: []string{"/a"}}, "not an ephemeral node of session"},
	}
	for _, name := range sortedKeys(cases) {
		t.Run(name, func(t *testing.T) {
			r := setup()
			before, _ := r.exists("/a")
			_, problem := r.apply(model.TxnHeader{Session: 1, Zxid: 5, TimeMs: 9}, cases[name].txn)
			require.Contains(t, problem, cases[name].want)
			if _, isClose := cases[name].txn.(model.CloseSessionTxn); !isClose {
				after, ok := r.exists("/a")
				require.True(t, ok)
				require.Equal(t, before, after, "a txn that does not fit changes nothing")
			}
		})
	}
	r := setup()
	_, problem := r.apply(model.TxnHeader{Session: 1, Zxid: 5}, model.MultiTxn{Txns: []model.Txn{
		model.SetDataTxn{Path: "/a", Version: 2}, model.CreateTxn{Path: "/a/s-0000000000", Mode: model.ModePersistentSequential, ParentCVersion: 1}}})
	require.Empty(t, problem, "a multi that fits")
}

// decide is what the leader should commit; the checks come in ZooKeeper's
// order.
func TestReference_DecideFollowsZooKeepersOrderOfChecks(t *testing.T) {
	r := newRefTree()
	r.apply(model.TxnHeader{Session: 1, Zxid: 1}, model.CreateSessionTxn{TimeoutMs: 1000})
	r.apply(model.TxnHeader{Session: 1, Zxid: 2}, model.CreateTxn{Path: "/a", ParentCVersion: 1})
	r.apply(model.TxnHeader{Session: 1, Zxid: 3}, model.CreateTxn{Path: "/a/k", ParentCVersion: 1})
	r.apply(model.TxnHeader{Session: 1, Zxid: 4}, model.CreateTxn{Path: "/e", Mode: model.ModeEphemeral, ParentCVersion: 2})
	errOf := func(session int64, req refRequest) model.Err {
		if e, ok := r.decide(session, req).(model.ErrorTxn); ok {
			return e.Err
		}
		return model.ErrOK
	}
	require.Equal(t, model.ErrBadVersion, errOf(1, refRequest{kind: OpDelete, path: "/a", version: 5}), "version before NotEmpty")
	require.Equal(t, model.ErrNotEmpty, errOf(1, refRequest{kind: OpDelete, path: "/a", version: -1}))
	require.Equal(t, model.ErrSessionExpired, errOf(2, refRequest{kind: OpDelete, path: "bad", version: -1}), "session before path")
	require.Equal(t, model.ErrBadArguments, errOf(2, refRequest{kind: OpCreate, path: "/x", mode: 9}), "mode before session")
	require.Equal(t, model.ErrNoChildrenForEphemerals, errOf(1, refRequest{kind: OpCreate, path: "/e/x"}))
	require.Equal(t, model.ErrNoAuth, errOf(1, refRequest{kind: OpSetData, path: "/zookeeper/config", version: 7}), "ACL before version")
	require.Equal(t, model.ErrOK, errOf(1, refRequest{kind: OpMulti, subs: []refRequest{
		{kind: OpDelete, path: "/a/k", version: -1}, {kind: OpDelete, path: "/a", version: 0}}}), "a multi's ops see the ones before")
	m := r.decide(1, refRequest{kind: OpMulti, subs: []refRequest{
		{kind: OpSetData, path: "/a", version: -1}, {kind: OpCreate, path: "/a"}, {kind: OpCheck, path: "/a", version: 0}}})
	require.Equal(t, model.MultiTxn{Txns: []model.Txn{model.SetDataTxn{Path: "/a", Version: 1},
		model.ErrorTxn{Err: model.ErrNodeExists}, model.ErrorTxn{Err: model.ErrRuntimeInconsistency}}}, m)
	st, _ := r.exists("/a")
	require.Equal(t, int32(0), st.Version, "decide leaves the tree as it was")
	seq := r.decide(1, refRequest{kind: OpCreate, path: "/a/s-", mode: model.ModePersistentSequential})
	require.Equal(t, "/a/s-0000000001", seq.(model.CreateTxn).Path, "the suffix counts every child creation")
}

// A multi that fails at its last op leaves the tree exactly as it was,
// however many children its ops added and removed on the way.
func TestReference_AFailedMultiLeavesNoTrace(t *testing.T) {
	r := newRefTree()
	r.apply(model.TxnHeader{Session: 1, Zxid: 1}, model.CreateSessionTxn{TimeoutMs: 1000})
	r.apply(model.TxnHeader{Session: 1, Zxid: 2}, model.CreateTxn{Path: "/a", ParentCVersion: 1})
	r.apply(model.TxnHeader{Session: 1, Zxid: 3}, model.CreateTxn{Path: "/a/b", ParentCVersion: 1})
	r.apply(model.TxnHeader{Session: 1, Zxid: 4}, model.CreateTxn{Path: "/a/c", ParentCVersion: 2})
	snapshot := func() (uint64, []string, []string, model.Stat) {
		root, _, _ := r.children("/")
		kids, st, _ := r.children("/a")
		return r.digest, root, kids, st
	}
	d0, root0, kids0, st0 := snapshot()
	multi := model.MultiTxn{Txns: []model.Txn{
		model.CreateTxn{Path: "/a/d", ParentCVersion: 3},
		model.DeleteTxn{Path: "/a/b"}, model.DeleteTxn{Path: "/a/c"}, model.DeleteTxn{Path: "/a/d"},
		model.DeleteTxn{Path: "/a"},
		model.CreateTxn{Path: "/a", ParentCVersion: 2},
		model.SetDataTxn{Path: "/nope", Version: 1}, // does not fit: all is undone
	}}
	_, problem := r.apply(model.TxnHeader{Session: 1, Zxid: 5}, multi)
	require.Contains(t, problem, "op 6 of the multi")
	d1, root1, kids1, st1 := snapshot()
	require.Equal(t, d0, d1)
	require.Equal(t, root0, root1)
	require.Equal(t, kids0, kids1)
	require.Equal(t, st0, st1)

	req := refRequest{kind: OpMulti, subs: []refRequest{
		{kind: OpCreate, path: "/a/d"}, {kind: OpDelete, path: "/a/b", version: -1}, {kind: OpDelete, path: "/a/c", version: -1},
		{kind: OpDelete, path: "/a/d", version: -1}, {kind: OpDelete, path: "/a", version: -1}, {kind: OpCreate, path: "/a"},
		{kind: OpSetData, path: "/nope", version: -1}}}
	got := r.decide(1, req).(model.MultiTxn)
	require.Equal(t, model.ErrorTxn{Err: model.ErrNoNode}, got.Txns[6])
	d2, root2, kids2, st2 := snapshot()
	require.Equal(t, d0, d2)
	require.Equal(t, root0, root2)
	require.Equal(t, kids0, kids2)
	require.Equal(t, st0, st2)
}
