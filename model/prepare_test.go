package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var digestOnlyACL = []ACL{{Perms: PermAll, Scheme: "digest", ID: "user:c2VjcmV0"}}

// fixture builds a tree with one node of every interesting kind:
//
//	/a, /a/b        persistent, /a has a child
//	/e              ephemeral of session 1
//	/ro             world-readable only
//	/locked/k       /locked refuses deletes and creates (read-only ACL)
//	/noacl          no permission for world:anyone at all
//	/c              container
//	/t              TTL 1000 ms
func fixture(tb testing.TB) *harness {
	h := newHarness(tb, 1, 2)
	h.must(1, Create{Path: "/a", Data: []byte("A"), ACL: OpenACLUnsafe})
	h.must(1, Create{Path: "/a/b", ACL: OpenACLUnsafe})
	h.must(1, Create{Path: "/e", ACL: OpenACLUnsafe, Mode: ModeEphemeral})
	h.must(1, Create{Path: "/ro", ACL: ReadACLUnsafe})
	h.must(1, Create{Path: "/locked", ACL: OpenACLUnsafe})
	h.must(1, Create{Path: "/locked/k", ACL: OpenACLUnsafe})
	h.must(1, SetACL{Path: "/locked", ACL: ReadACLUnsafe, Version: -1})
	h.must(1, Create{Path: "/noacl", ACL: digestOnlyACL})
	h.must(1, Create{Path: "/c", ACL: OpenACLUnsafe, Mode: ModeContainer})
	h.must(1, Create{Path: "/t", ACL: OpenACLUnsafe, Mode: ModePersistentWithTTL, TTL: 1000})
	return h
}

type errCase struct {
	name    string
	session int64
	req     Request
	want    Err
}

// runErrCases prepares each request on a fresh fixture and checks the error,
// that Prepare produced an ErrorTxn carrying it, and that applying it changed
// nothing but the last zxid.
func runErrCases(t *testing.T, cases []errCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := fixture(t)
			before, err := h.tree.MarshalBinary()
			require.NoError(t, err)
			txn := Prepare(h.tree, c.session, c.req, h.nowMs)
			if c.want == ErrOK {
				require.NotEqual(t, OpError, txn.Op(), "%#v", txn)
				return
			}
			require.Equal(t, ErrorTxn{Err: c.want}, txn)
			r := h.tree.Apply(h.next(c.session), txn)
			require.Equal(t, c.want, r.Err)
			require.Equal(t, OpError, r.Op)
			after := NewTree()
			require.NoError(t, after.UnmarshalBinary(before))
			require.Equal(t, after.Digest(), h.tree.Digest(), "a failed request changed the tree")
		})
	}
}

func TestCreate_ErrorsInZooKeeperOrder(t *testing.T) {
	open := OpenACLUnsafe
	runErrCases(t, []errCase{
		{"unknown mode", 1, Create{Path: "/x", ACL: open, Mode: 7}, ErrBadArguments},
		{"unknown mode before session", 99, Create{Path: "/x", ACL: open, Mode: -1}, ErrBadArguments},
		{"TTL mode without TTL", 1, Create{Path: "/x", ACL: open, Mode: ModePersistentWithTTL}, ErrBadArguments},
		{"TTL above max", 1, Create{Path: "/x", ACL: open, Mode: ModePersistentWithTTL, TTL: MaxTTL + 1}, ErrBadArguments},
		{"negative TTL", 1, Create{Path: "/x", ACL: open, Mode: ModePersistentSequentialWithTTL, TTL: -1}, ErrBadArguments},
		{"TTL on a persistent node", 1, Create{Path: "/x", ACL: open, TTL: 10}, ErrBadArguments},
		{"TTL check before session", 99, Create{Path: "/x", ACL: open, Mode: ModeEphemeral, TTL: 10}, ErrBadArguments},
		{"unknown session", 99, Create{Path: "/x", ACL: open}, ErrSessionExpired},
		{"ephemeral of unknown session", 99, Create{Path: "/x", ACL: open, Mode: ModeEphemeral}, ErrSessionExpired},
		{"session before path", 99, Create{Path: "x", ACL: open}, ErrSessionExpired},
		{"no slash", 1, Create{Path: "x", ACL: open}, ErrBadArguments},
		{"empty path", 1, Create{Path: "", ACL: open}, ErrBadArguments},
		{"NUL", 1, Create{Path: "/x\x00y", ACL: open}, ErrBadArguments},
		{"empty ACL", 1, Create{Path: "/x"}, ErrInvalidACL},
		{"ACL before parent", 1, Create{Path: "/nope/x"}, ErrInvalidACL},
		{"world id other than anyone", 1, Create{Path: "/x", ACL: []ACL{{PermAll, "world", "someone"}}}, ErrInvalidACL},
		{"auth scheme without authenticated ids", 1, Create{Path: "/x", ACL: []ACL{{PermAll, "auth", ""}}}, ErrInvalidACL},
		{"unknown scheme", 1, Create{Path: "/x", ACL: []ACL{{PermAll, "sasl", "bob"}}}, ErrInvalidACL},
		{"malformed digest id", 1, Create{Path: "/x", ACL: []ACL{{PermAll, "digest", "nocolon"}}}, ErrInvalidACL},
		{"malformed ip", 1, Create{Path: "/x", ACL: []ACL{{PermAll, "ip", "10.0.0.256"}}}, ErrInvalidACL},
		{"missing parent", 1, Create{Path: "/nope/x", ACL: open}, ErrNoNode},
		{"relative name, missing parent", 1, Create{Path: "a/b", ACL: open}, ErrNoNode},
		{"dot parent is looked up before the name is validated", 1, Create{Path: "/./x", ACL: open}, ErrNoNode},
		{"trailing slash", 1, Create{Path: "/a/", ACL: open}, ErrBadArguments},
		{"dot name", 1, Create{Path: "/a/.", ACL: open}, ErrBadArguments},
		{"bad character", 1, Create{Path: "/a/\x01", ACL: open}, ErrBadArguments},
		{"parent refuses create", 1, Create{Path: "/ro/x", ACL: open}, ErrNoAuth},
		{"config node refuses create", 1, Create{Path: "/zookeeper/config/x", ACL: open}, ErrNoAuth},
		{"no auth before exists", 1, Create{Path: "/locked/k", ACL: open}, ErrNoAuth},
		{"exists", 1, Create{Path: "/a", ACL: open}, ErrNodeExists},
		{"root exists", 1, Create{Path: "/", ACL: open}, ErrNodeExists},
		{"exists before ephemeral parent", 1, Create{Path: "/e", ACL: open}, ErrNodeExists},
		{"ephemeral parent", 1, Create{Path: "/e/x", ACL: open}, ErrNoChildrenForEphemerals},
		{"ephemeral parent, sequential", 2, Create{Path: "/e/x", ACL: open, Mode: ModeEphemeralSequential}, ErrNoChildrenForEphemerals},
		{"child of a container", 1, Create{Path: "/c/x", ACL: open}, ErrOK},
		{"child of a TTL node", 1, Create{Path: "/t/x", ACL: open}, ErrOK},
		{"child of /zookeeper", 1, Create{Path: "/zookeeper/x", ACL: open}, ErrOK},
		{"valid ip ACL", 1, Create{Path: "/x", ACL: []ACL{{PermAll, "ip", "10.1.2.3/8"}}}, ErrOK},
		{"valid digest ACL", 1, Create{Path: "/x", ACL: []ACL{{PermAll, "digest", "u:p:"}}}, ErrOK},
	})
}

func TestDelete_ErrorsInZooKeeperOrder(t *testing.T) {
	runErrCases(t, []errCase{
		{"unknown session", 99, Delete{Path: "/a/b", Version: -1}, ErrSessionExpired},
		{"session before path", 99, Delete{Path: "", Version: -1}, ErrSessionExpired},
		{"empty path", 1, Delete{Path: "", Version: -1}, ErrBadArguments},
		{"no slash", 1, Delete{Path: "a", Version: -1}, ErrBadArguments},
		{"NUL", 1, Delete{Path: "/a\x00", Version: -1}, ErrBadArguments},
		{"root", 1, Delete{Path: "/", Version: -1}, ErrBadArguments},
		{"/zookeeper", 1, Delete{Path: "/zookeeper", Version: -1}, ErrBadArguments},
		{"/zookeeper/quota", 1, Delete{Path: "/zookeeper/quota", Version: -1}, ErrBadArguments},
		{"/zookeeper/config", 1, Delete{Path: "/zookeeper/config", Version: -1}, ErrBadArguments},
		{"missing parent", 1, Delete{Path: "/nope/x", Version: -1}, ErrNoNode},
		{"missing node", 1, Delete{Path: "/nope", Version: -1}, ErrNoNode},
		{"trailing slash is not validated, just missing", 1, Delete{Path: "/a/", Version: -1}, ErrNoNode},
		{"parent refuses delete", 1, Delete{Path: "/locked/k", Version: -1}, ErrNoAuth},
		{"no auth before missing node", 1, Delete{Path: "/locked/zz", Version: -1}, ErrNoAuth},
		{"bad version", 1, Delete{Path: "/a/b", Version: 3}, ErrBadVersion},
		{"bad version before not empty", 1, Delete{Path: "/a", Version: 3}, ErrBadVersion},
		{"not empty", 1, Delete{Path: "/a", Version: -1}, ErrNotEmpty},
		{"exact version", 1, Delete{Path: "/a/b", Version: 0}, ErrOK},
		{"another session's ephemeral", 2, Delete{Path: "/e", Version: -1}, ErrOK},
		{"node without permissions, parent open", 1, Delete{Path: "/noacl", Version: -1}, ErrOK},
	})
}

func TestSetData_ErrorsInZooKeeperOrder(t *testing.T) {
	runErrCases(t, []errCase{
		{"unknown session", 99, SetData{Path: "/a", Version: -1}, ErrSessionExpired},
		{"invalid path", 1, SetData{Path: "/a/", Version: -1}, ErrBadArguments},
		{"empty path", 1, SetData{Path: "", Version: -1}, ErrBadArguments},
		{"missing", 1, SetData{Path: "/nope", Version: -1}, ErrNoNode},
		{"read-only node", 1, SetData{Path: "/ro", Version: -1}, ErrNoAuth},
		{"config node", 1, SetData{Path: "/zookeeper/config", Version: -1}, ErrNoAuth},
		{"no auth before version", 1, SetData{Path: "/ro", Version: 7}, ErrNoAuth},
		{"bad version", 1, SetData{Path: "/a", Version: 1}, ErrBadVersion},
		{"exact version", 1, SetData{Path: "/a", Version: 0}, ErrOK},
		{"/zookeeper itself is writable", 1, SetData{Path: "/zookeeper", Version: -1}, ErrOK},
	})
}

func TestSetACL_ErrorsInZooKeeperOrder(t *testing.T) {
	open := OpenACLUnsafe
	runErrCases(t, []errCase{
		{"unknown session", 99, SetACL{Path: "/a", ACL: open, Version: -1}, ErrSessionExpired},
		{"invalid path", 1, SetACL{Path: "a", ACL: open, Version: -1}, ErrBadArguments},
		{"empty ACL", 1, SetACL{Path: "/a", Version: -1}, ErrInvalidACL},
		{"invalid ACL before missing node", 1, SetACL{Path: "/nope", Version: -1}, ErrInvalidACL},
		{"missing", 1, SetACL{Path: "/nope", ACL: open, Version: -1}, ErrNoNode},
		{"no admin permission", 1, SetACL{Path: "/ro", ACL: open, Version: -1}, ErrNoAuth},
		{"config node", 1, SetACL{Path: "/zookeeper/config", ACL: open, Version: -1}, ErrNoAuth},
		{"bad ACL version", 1, SetACL{Path: "/a", ACL: open, Version: 1}, ErrBadVersion},
		{"exact ACL version", 1, SetACL{Path: "/a", ACL: open, Version: 0}, ErrOK},
	})
}

func TestCheck_ErrorsInZooKeeperOrder(t *testing.T) {
	runErrCases(t, []errCase{
		{"unknown session", 99, Check{Path: "/a", Version: -1}, ErrSessionExpired},
		{"invalid path", 1, Check{Path: "/a//b", Version: -1}, ErrBadArguments},
		{"missing", 1, Check{Path: "/nope", Version: -1}, ErrNoNode},
		{"no read permission", 1, Check{Path: "/noacl", Version: -1}, ErrNoAuth},
		{"bad version", 1, Check{Path: "/a", Version: 4}, ErrBadVersion},
		{"read-only node can be checked", 1, Check{Path: "/ro", Version: 0}, ErrOK},
	})
}

func TestDeleteContainer_SweepRules(t *testing.T) {
	runErrCases(t, []errCase{
		{"root", 0, DeleteContainer{Path: "/"}, ErrBadArguments},
		{"reserved", 0, DeleteContainer{Path: "/zookeeper/quota"}, ErrBadArguments},
		{"missing", 0, DeleteContainer{Path: "/nope"}, ErrNoNode},
		{"has children", 0, DeleteContainer{Path: "/a"}, ErrNotEmpty},
		{"ephemeral", 0, DeleteContainer{Path: "/e"}, ErrBadVersion},
		{"container, no session needed", 0, DeleteContainer{Path: "/c"}, ErrOK},
		{"TTL node", 0, DeleteContainer{Path: "/t"}, ErrOK},
		{"plain persistent node passes, as in ZooKeeper", 0, DeleteContainer{Path: "/a/b"}, ErrOK},
		{"ignores ACLs", 0, DeleteContainer{Path: "/locked/k"}, ErrOK},
	})
}

func TestPrepare_MultiHoldingAnOpZooKeeperRefusesIsAMarshallingError(t *testing.T) {
	runErrCases(t, []errCase{
		{"setACL", 1, Multi{Ops: []Request{Create{Path: "/x", ACL: OpenACLUnsafe}, SetACL{Path: "/a", ACL: OpenACLUnsafe, Version: -1}}}, ErrMarshallingError},
		{"nested multi", 1, Multi{Ops: []Request{Multi{}}}, ErrMarshallingError},
		{"session op", 1, Multi{Ops: []Request{CloseSession{}}}, ErrMarshallingError},
		{"container sweep", 1, Multi{Ops: []Request{DeleteContainer{Path: "/c"}}}, ErrMarshallingError},
		{"nil op", 1, Multi{Ops: []Request{nil}}, ErrMarshallingError},
		{"pointer request", 1, &Create{Path: "/x", ACL: OpenACLUnsafe}, ErrMarshallingError},
		{"nil request", 1, nil, ErrMarshallingError},
	})
}

func TestCreate_SequentialSuffixCountsCreations(t *testing.T) {
	// The reference's measurement on ZooKeeper 3.8.0: create-seq s, delete it,
	// three times over, gives s0000000000, s0000000001, s0000000002 and leaves
	// cversion 5.
	h := newHarness(t, 1)
	h.must(1, Create{Path: "/q", ACL: OpenACLUnsafe})
	var names []string
	for i := 0; i < 3; i++ {
		r := h.must(1, Create{Path: "/q/s", ACL: OpenACLUnsafe, Mode: ModePersistentSequential})
		names = append(names, r.Path)
		if i < 2 {
			h.must(1, Delete{Path: r.Path, Version: -1})
		}
	}
	assert.Equal(t, []string{"/q/s0000000000", "/q/s0000000001", "/q/s0000000002"}, names)
	s := h.stat("/q")
	assert.Equal(t, int32(5), s.Cversion)
	assert.Equal(t, int32(1), s.NumChildren)
}

func TestCreate_SequentialSuffixSkipsAfterPlainChild(t *testing.T) {
	h := newHarness(t, 1)
	h.must(1, Create{Path: "/q", ACL: OpenACLUnsafe})
	r := h.must(1, Create{Path: "/q/s", ACL: OpenACLUnsafe, Mode: ModeEphemeralSequential})
	require.Equal(t, "/q/s0000000000", r.Path)
	h.must(1, Delete{Path: r.Path, Version: -1})
	h.must(1, Create{Path: "/q/x", ACL: OpenACLUnsafe}) // a creation too
	h.must(1, Delete{Path: "/q/x", Version: -1})
	r = h.must(1, Create{Path: "/q/s", ACL: OpenACLUnsafe, Mode: ModePersistentSequential})
	assert.Equal(t, "/q/s0000000002", r.Path)
	assert.Equal(t, int32(5), h.stat("/q").Cversion)
}

func TestCreate_SequentialCounterSurvivesRestartFromSnapshot(t *testing.T) {
	// Measured: after create-seq and delete, a restart, then create-seq gives
	// suffix 1 and cversion 3.
	h := newHarness(t, 1)
	h.must(1, Create{Path: "/q", ACL: OpenACLUnsafe})
	r := h.must(1, Create{Path: "/q/s", ACL: OpenACLUnsafe, Mode: ModePersistentSequential})
	h.must(1, Delete{Path: r.Path, Version: -1})
	snap, err := h.tree.MarshalBinary()
	require.NoError(t, err)
	restarted := NewTree()
	require.NoError(t, restarted.UnmarshalBinary(snap))
	h.tree = restarted
	r = h.must(1, Create{Path: "/q/s", ACL: OpenACLUnsafe, Mode: ModePersistentSequential})
	assert.Equal(t, "/q/s0000000001", r.Path)
	assert.Equal(t, int32(3), h.stat("/q").Cversion)
}

func TestCreate_SequentialNameIsValidatedWithItsSuffix(t *testing.T) {
	// The server appends the suffix before validating, so a sequential create
	// of "/a/" names a child "/a/<counter>".
	h := fixture(t)
	r := h.must(1, Create{Path: "/a/", ACL: OpenACLUnsafe, Mode: ModePersistentSequential})
	assert.Equal(t, "/a/0000000001", r.Path)
	r = h.must(1, Create{Path: "/", ACL: OpenACLUnsafe, Mode: ModePersistentSequential})
	assert.Equal(t, "/0000000007", r.Path, "the root counted the fixture's 7 creations, not /zookeeper")
}

func TestCreate_StatOfNewNodeAndParent(t *testing.T) {
	h := newHarness(t, 7)
	h.must(7, Create{Path: "/p", ACL: OpenACLUnsafe})
	parentBefore := h.stat("/p")
	r := h.must(7, Create{Path: "/p/n", Data: []byte("hello"), ACL: OpenACLUnsafe, Mode: ModeEphemeral})
	z, now := MakeZxid(1, h.counter), h.nowMs
	assert.Equal(t, OpCreate, r.Op)
	assert.Equal(t, "/p/n", r.Path)
	assert.Equal(t, Stat{
		Czxid: z, Mzxid: z, Pzxid: z, Ctime: now, Mtime: now,
		EphemeralOwner: 7, DataLength: 5,
	}, r.Stat)
	assert.Equal(t, r.Stat, h.stat("/p/n"))
	parent := h.stat("/p")
	assert.Equal(t, parentBefore.Cversion+1, parent.Cversion)
	assert.Equal(t, parentBefore.NumChildren+1, parent.NumChildren)
	assert.Equal(t, z, parent.Pzxid)
	assert.Equal(t, parentBefore.Mzxid, parent.Mzxid, "a child does not change the parent's data")
	assert.Equal(t, parentBefore.Version, parent.Version)
}

func TestCreate_ContainerAndTTLShowNoEphemeralOwner(t *testing.T) {
	h := newHarness(t, 5)
	for _, c := range []struct {
		mode CreateMode
		ttl  int64
		op   OpCode
	}{
		{ModeContainer, 0, OpCreateContainer},
		{ModePersistentWithTTL, 500, OpCreateTTL},
		{ModePersistentSequentialWithTTL, 500, OpCreateTTL},
		{ModePersistent, 0, OpCreate},
	} {
		r := h.must(5, Create{Path: "/n", ACL: OpenACLUnsafe, Mode: c.mode, TTL: c.ttl})
		assert.Equal(t, int64(0), r.Stat.EphemeralOwner, c.mode.String())
		assert.Equal(t, c.op, r.Op, c.mode.String())
		assert.Empty(t, h.tree.Ephemerals(5))
		h.must(5, Delete{Path: r.Path, Version: -1})
	}
}

func TestPrepare_NeverModifiesTheTree(t *testing.T) {
	h := fixture(t)
	before, err := h.tree.MarshalBinary()
	require.NoError(t, err)
	reqs := []Request{
		Create{Path: "/a/s", ACL: OpenACLUnsafe, Mode: ModePersistentSequential},
		Delete{Path: "/a/b", Version: -1},
		SetData{Path: "/a", Data: []byte("x"), Version: -1},
		SetACL{Path: "/a", ACL: ReadACLUnsafe, Version: -1},
		Check{Path: "/a", Version: 0},
		CloseSession{},
		CreateSession{TimeoutMs: 1},
		DeleteContainer{Path: "/c"},
		Multi{Ops: []Request{
			Create{Path: "/m", ACL: OpenACLUnsafe},
			Create{Path: "/m/n", ACL: OpenACLUnsafe},
			Delete{Path: "/a/b", Version: -1},
			Delete{Path: "/a", Version: -1},
			SetData{Path: "/m/n", Version: 0},
		}},
	}
	for _, req := range reqs {
		Prepare(h.tree, 1, req, h.nowMs)
		after, err := h.tree.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, before, after, "Prepare(%#v) changed the tree", req)
	}
}

func TestPrepare_TxnOwnsItsBytes(t *testing.T) {
	h := newHarness(t, 1)
	data := []byte("abc")
	acl := []ACL{{PermAll, "world", "anyone"}}
	txn := Prepare(h.tree, 1, Create{Path: "/x", Data: data, ACL: acl}, h.nowMs).(CreateTxn)
	data[0], acl[0].Perms = 'z', PermRead
	assert.Equal(t, []byte("abc"), txn.Data)
	assert.Equal(t, PermAll, txn.ACL[0].Perms)
	empty := Prepare(h.tree, 1, Create{Path: "/y", Data: []byte{}, ACL: acl}, h.nowMs).(CreateTxn)
	assert.NotNil(t, empty.Data, "empty data stays empty, not null")
	null := Prepare(h.tree, 1, Create{Path: "/y", ACL: acl}, h.nowMs).(CreateTxn)
	assert.Nil(t, null.Data)
}

func TestPrepare_ACLDuplicatesRemoved(t *testing.T) {
	h := newHarness(t, 1)
	a := ACL{PermAll, "world", "anyone"}
	b := ACL{PermRead, "digest", "u:x"}
	txn := Prepare(h.tree, 1, Create{Path: "/x", ACL: []ACL{a, b, a, b}}, h.nowMs).(CreateTxn)
	assert.Equal(t, []ACL{a, b}, txn.ACL)
}

func TestPrepare_VersionsIncrementInTxns(t *testing.T) {
	h := fixture(t)
	assert.Equal(t, SetDataTxn{Path: "/a", Data: []byte("v"), Version: 1},
		Prepare(h.tree, 1, SetData{Path: "/a", Data: []byte("v"), Version: 0}, h.nowMs))
	assert.Equal(t, CheckVersionTxn{Path: "/a", Version: 1},
		Prepare(h.tree, 1, Check{Path: "/a", Version: 0}, h.nowMs), "ZooKeeper logs the checked version plus one")
	assert.Equal(t, SetACLTxn{Path: "/a", ACL: ReadACLUnsafe, Version: 1},
		Prepare(h.tree, 1, SetACL{Path: "/a", ACL: ReadACLUnsafe, Version: -1}, h.nowMs))
	assert.Equal(t, DeleteTxn{Path: "/a/b"}, Prepare(h.tree, 1, Delete{Path: "/a/b", Version: -1}, h.nowMs))
	assert.Equal(t, CreateTxn{Path: "/a/n", ACL: OpenACLUnsafe, ParentCVersion: 2},
		Prepare(h.tree, 1, Create{Path: "/a/n", ACL: OpenACLUnsafe}, h.nowMs))
	assert.Equal(t, CreateTxn{Path: "/n", ACL: OpenACLUnsafe, Mode: ModePersistentWithTTL, TTL: 9, ParentCVersion: 8},
		Prepare(h.tree, 1, Create{Path: "/n", ACL: OpenACLUnsafe, Mode: ModePersistentWithTTL, TTL: 9}, h.nowMs))
	assert.Equal(t, CloseSessionTxn{Paths: []string{"/e"}}, Prepare(h.tree, 1, CloseSession{}, h.nowMs))
	assert.Equal(t, CreateSessionTxn{TimeoutMs: 4000}, Prepare(h.tree, 3, CreateSession{TimeoutMs: 4000}, h.nowMs))
}

func TestPermits_WithoutIdentitiesOnlyWorldAnyoneMatches(t *testing.T) {
	assert.True(t, Permits(nil, PermWrite, nil), "an empty ACL permits everything")
	assert.True(t, Permits(OpenACLUnsafe, PermAdmin, nil))
	assert.True(t, Permits(ReadACLUnsafe, PermRead, nil))
	assert.False(t, Permits(ReadACLUnsafe, PermWrite, nil))
	assert.False(t, Permits(digestOnlyACL, PermRead, nil))
	assert.True(t, Permits(append([]ACL{digestOnlyACL[0]}, ACL{PermWrite | PermRead, "world", "anyone"}), PermWrite, nil))
	assert.False(t, Permits([]ACL{{PermAll, "ip", "0.0.0.0/0"}}, PermRead, nil), "a requester without an ip identity")
}

func TestFixupACL_DefaultProviders(t *testing.T) {
	cases := []struct {
		scheme, id string
		ok         bool
	}{
		{"world", "anyone", true},
		{"world", "Anyone", false},
		{"auth", "", false},
		{"digest", "user:hash", true},
		{"digest", ":hash", true},
		{"digest", "user:hash:", true}, // Java's split drops the trailing empty string
		{"digest", "user:", false},
		{"digest", "a:b:c", false},
		{"digest", "", false},
		{"ip", "127.0.0.1", true},
		{"ip", "10.0.0.0/8", true},
		{"ip", "10.0.0.0/32", true},
		{"ip", "10.0.0.0/33", false},
		{"ip", "10.0.0.0/-1", false},
		{"ip", "+1.2.3.4", true}, // Integer.parseInt accepts a sign
		{"ip", "1.2.3", false},
		{"ip", "1.2.3.4.5", false},
		{"ip", "1.2.3.", false},
		{"ip", "::1", false},
		{"x509", "CN=me", false},
		{"", "", false},
	}
	for _, c := range cases {
		_, err := fixupACL([]ACL{{PermRead, c.scheme, c.id}}, nil)
		if c.ok {
			assert.Equal(t, ErrOK, err, "%s:%s", c.scheme, c.id)
		} else {
			assert.Equal(t, ErrInvalidACL, err, "%s:%s", c.scheme, c.id)
		}
	}
}
