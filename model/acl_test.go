package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The digests below are what Apache ZooKeeper 3.8.0's
// DigestAuthenticationProvider prints for the same credentials
// (java -cp zookeeper.jar:... org.apache.zookeeper.server.auth.DigestAuthenticationProvider user:pass).
func TestDigestID_IsZooKeepersGenerateDigest(t *testing.T) {
	cases := map[string]string{
		"super:admin": "super:xQJmxLMiHGwaqBvst5y6rkB6HQs=",
		"user:pass":   "user:smGaoVKd/cQkjm7b88GyorAUz20=",
		"nocolon":     "nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g=",
		"a:b:c":       "a:cLzgnoJ6mP5qz3w+mwvPE2vDgu0=",
		":":           ":BaefBs8/Z/cm2uaNGKIpD2yaUMk=",
		"üser:päss":   "üser:vded1Ovo1VwX+Ij5npqXFLuyBs4=",
	}
	for creds, want := range cases {
		assert.Equal(t, want, DigestID([]byte(creds)), creds)
	}
}

var (
	alice      = AuthID{SchemeDigest, DigestID([]byte("alice:secret"))}
	bob        = AuthID{SchemeDigest, DigestID([]byte("bob:secret"))}
	fromLocal  = AuthID{SchemeIP, "127.0.0.1"}
	fromTenOne = AuthID{SchemeIP, "10.1.2.3"}
	superID    = AuthID{Scheme: SchemeSuper}
)

// TestPermits_ZooKeepersCheckACL is ZooKeeperServer.checkACL rule by rule.
func TestPermits_ZooKeepersCheckACL(t *testing.T) {
	aliceAll := []ACL{{PermAll, SchemeDigest, alice.ID}}
	aliceRead := []ACL{{PermRead, SchemeDigest, alice.ID}}
	cases := []struct {
		name string
		acl  []ACL
		perm int32
		auth []AuthID
		want bool
	}{
		{"an empty ACL permits anyone", nil, PermAdmin, nil, true},
		{"world:anyone with the bit", OpenACLUnsafe, PermDelete, nil, true},
		{"world:anyone without the bit", ReadACLUnsafe, PermWrite, []AuthID{alice}, false},
		{"world with another id matches no one", []ACL{{PermAll, SchemeWorld, "everyone"}}, PermRead, nil, false},
		{"digest: the same id", aliceAll, PermWrite, []AuthID{alice}, true},
		{"digest: another user", aliceAll, PermWrite, []AuthID{bob}, false},
		{"digest: one of several ids", aliceAll, PermWrite, []AuthID{fromLocal, bob, alice}, true},
		{"digest: the bit is missing", aliceRead, PermWrite, []AuthID{alice}, false},
		{"digest: any bit of perm is enough", aliceRead, PermRead | PermAdmin, []AuthID{alice}, true},
		{"digest: the entry's id must be exact", []ACL{{PermAll, SchemeDigest, "alice:x"}}, PermRead, []AuthID{alice}, false},
		{"digest: an ip identity does not match", aliceAll, PermRead, []AuthID{{SchemeIP, alice.ID}}, false},
		{"ip: the same address", []ACL{{PermRead, SchemeIP, "127.0.0.1"}}, PermRead, []AuthID{fromLocal}, true},
		{"ip: another address", []ACL{{PermRead, SchemeIP, "127.0.0.2"}}, PermRead, []AuthID{fromLocal}, false},
		{"ip: within a /8", []ACL{{PermRead, SchemeIP, "10.0.0.0/8"}}, PermRead, []AuthID{fromTenOne}, true},
		{"ip: outside a /16", []ACL{{PermRead, SchemeIP, "10.2.0.0/16"}}, PermRead, []AuthID{fromTenOne}, false},
		{"ip: within a /12 (a mask inside a byte)", []ACL{{PermRead, SchemeIP, "10.0.0.0/12"}}, PermRead, []AuthID{fromTenOne}, true},
		{"ip: outside a /15", []ACL{{PermRead, SchemeIP, "10.2.0.0/15"}}, PermRead, []AuthID{fromTenOne}, false},
		{"ip: /0 matches every IPv4 address", []ACL{{PermRead, SchemeIP, "0.0.0.0/0"}}, PermRead, []AuthID{fromTenOne}, true},
		{"ip: the entry's host bits are masked too", []ACL{{PermRead, SchemeIP, "10.1.9.9/16"}}, PermRead, []AuthID{fromTenOne}, true},
		{"ip: an IPv6 requester never matches", []ACL{{PermRead, SchemeIP, "0.0.0.0/0"}}, PermRead, []AuthID{{SchemeIP, "::1"}}, false},
		{"ip: a malformed entry matches no one", []ACL{{PermRead, SchemeIP, "10.0.0.0/40"}}, PermRead, []AuthID{fromTenOne}, false},
		{"ip: a digest identity does not match", []ACL{{PermRead, SchemeIP, "0.0.0.0/0"}}, PermRead, []AuthID{alice}, false},
		{"super passes every check", aliceRead, PermAdmin, []AuthID{superID}, true},
		{"super passes an ACL without world", []ACL{{0, SchemeDigest, alice.ID}}, PermRead, []AuthID{superID}, true},
		{"a scheme without provider matches no one", []ACL{{PermAll, "x509", "CN=alice"}}, PermRead, []AuthID{{"x509", "CN=alice"}}, false},
		{"an auth entry (never stored) matches no one", []ACL{{PermAll, SchemeAuth, ""}}, PermRead, []AuthID{alice}, false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, Permits(c.acl, c.perm, c.auth), c.name)
	}
}

func TestFixupACL_AuthExpandsToTheDigestIdentities(t *testing.T) {
	authRW := ACL{PermRead | PermWrite, SchemeAuth, ""}
	got, err := fixupACL([]ACL{authRW}, []AuthID{fromLocal, alice, superID, bob})
	require.Equal(t, ErrOK, err)
	assert.Equal(t, []ACL{{PermRead | PermWrite, SchemeDigest, alice.ID}, {PermRead | PermWrite, SchemeDigest, bob.ID}}, got,
		"ip is not an authenticated scheme, super has no provider")

	_, err = fixupACL([]ACL{authRW}, nil)
	assert.Equal(t, ErrInvalidACL, err, "auth with no authenticated id")
	_, err = fixupACL([]ACL{authRW}, []AuthID{fromLocal, superID})
	assert.Equal(t, ErrInvalidACL, err, "auth with only an ip and super")

	// The id of an auth entry is ignored; duplicates are dropped before
	// expansion, not after.
	got, err = fixupACL([]ACL{{PermRead, SchemeAuth, "whatever"}, {PermRead, SchemeAuth, "whatever"},
		{PermRead, SchemeDigest, alice.ID}}, []AuthID{alice})
	require.Equal(t, ErrOK, err)
	assert.Equal(t, []ACL{{PermRead, SchemeDigest, alice.ID}, {PermRead, SchemeDigest, alice.ID}}, got)

	got, err = fixupACL([]ACL{{PermAll, SchemeWorld, "anyone"}, authRW}, []AuthID{alice})
	require.Equal(t, ErrOK, err)
	assert.Equal(t, []ACL{{PermAll, SchemeWorld, "anyone"}, {PermRead | PermWrite, SchemeDigest, alice.ID}}, got)

	_, err = fixupACL([]ACL{authRW, {PermRead, "ip", "1.2.3"}}, []AuthID{alice})
	assert.Equal(t, ErrInvalidACL, err, "one invalid entry fails the list")
}

// aclFixture: /open (world:anyone, all), under it /open/alice (digest alice:
// all) with a child, /open/ro (world read only, with a child), and
// /open/admin (world every perm but ADMIN), /open/leaf (alice may read it,
// nothing more).
func aclFixture(tb testing.TB) *harness {
	h := newHarness(tb, 1)
	h.must(1, Create{Path: "/open", ACL: OpenACLUnsafe})
	h.must(1, Create{Path: "/open/alice", ACL: []ACL{{PermAll, SchemeDigest, alice.ID}}})
	must := func(req Request) {
		r := h.tree.Apply(h.next(1), PrepareAs(h.tree, 1, []AuthID{alice}, req, h.nowMs))
		require.Equal(tb, ErrOK, r.Err, "%#v", req)
	}
	must(Create{Path: "/open/alice/kid", ACL: OpenACLUnsafe})
	h.must(1, Create{Path: "/open/ro", ACL: OpenACLUnsafe})
	h.must(1, Create{Path: "/open/ro/kid", ACL: OpenACLUnsafe})
	h.must(1, SetACL{Path: "/open/ro", ACL: ReadACLUnsafe, Version: -1})
	h.must(1, Create{Path: "/open/admin", ACL: []ACL{{PermAll &^ PermAdmin, SchemeWorld, "anyone"}}})
	h.must(1, Create{Path: "/open/leaf", ACL: []ACL{{PermRead, SchemeDigest, alice.ID}}})
	return h
}

// TestPrepareAs_PermissionEachOpNeeds: create needs the parent's CREATE,
// delete the parent's DELETE (never the node's), setData the node's WRITE,
// setACL its ADMIN, check its READ, as PrepRequestProcessor checks them.
func TestPrepareAs_PermissionEachOpNeeds(t *testing.T) {
	none := []AuthID(nil)
	as := []AuthID{alice}
	open := OpenACLUnsafe
	cases := []struct {
		name string
		auth []AuthID
		req  Request
		want Err
	}{
		{"create under a digest parent without the identity", none, Create{Path: "/open/alice/x", ACL: open}, ErrNoAuth},
		{"create under a digest parent with it", as, Create{Path: "/open/alice/x", ACL: open}, ErrOK},
		{"create under a digest parent as bob", []AuthID{bob}, Create{Path: "/open/alice/x", ACL: open}, ErrNoAuth},
		{"create under a digest parent as super", []AuthID{superID}, Create{Path: "/open/alice/x", ACL: open}, ErrOK},
		{"create under a read-only parent", as, Create{Path: "/open/ro/x", ACL: open}, ErrNoAuth},
		{"create: NoNode before NoAuth (a missing parent)", none, Create{Path: "/open/alice/nope/x", ACL: open}, ErrNoNode},
		{"create: InvalidACL before NoNode", none, Create{Path: "/nope/x", ACL: []ACL{{PermAll, SchemeAuth, ""}}}, ErrInvalidACL},
		{"create: InvalidACL before NoAuth", none, Create{Path: "/open/alice/x", ACL: []ACL{{PermAll, SchemeAuth, ""}}}, ErrInvalidACL},
		{"create: NoAuth before NodeExists", none, Create{Path: "/open/alice/kid", ACL: open}, ErrNoAuth},
		{"create with an auth ACL once authenticated", as, Create{Path: "/open/x", ACL: []ACL{{PermAll, SchemeAuth, ""}}}, ErrOK},
		{"delete needs the parent's DELETE, not the node's", none, Delete{Path: "/open/leaf", Version: -1}, ErrOK},
		{"delete under a digest parent without the identity", none, Delete{Path: "/open/alice/kid", Version: -1}, ErrNoAuth},
		{"delete under a digest parent with it", as, Delete{Path: "/open/alice/kid", Version: -1}, ErrOK},
		{"delete under a read-only parent", as, Delete{Path: "/open/ro/kid", Version: -1}, ErrNoAuth},
		{"delete: NoAuth before NoNode of the node", none, Delete{Path: "/open/alice/nope", Version: -1}, ErrNoAuth},
		{"delete: NoAuth before BadVersion", none, Delete{Path: "/open/alice/kid", Version: 9}, ErrNoAuth},
		{"setData without WRITE", none, SetData{Path: "/open/alice", Version: -1}, ErrNoAuth},
		{"setData with WRITE", as, SetData{Path: "/open/alice", Version: -1}, ErrOK},
		{"setData on a read-only node", as, SetData{Path: "/open/ro", Version: -1}, ErrNoAuth},
		{"setData: NoAuth before BadVersion", none, SetData{Path: "/open/alice", Version: 9}, ErrNoAuth},
		{"setACL without ADMIN", none, SetACL{Path: "/open/admin", ACL: open, Version: -1}, ErrNoAuth},
		{"setACL with ADMIN", as, SetACL{Path: "/open/alice", ACL: open, Version: -1}, ErrOK},
		{"setACL: InvalidACL before NoAuth", none, SetACL{Path: "/open/admin", ACL: []ACL{{PermAll, SchemeAuth, ""}}, Version: -1}, ErrInvalidACL},
		{"setACL: NoAuth before BadVersion", none, SetACL{Path: "/open/alice", ACL: open, Version: 7}, ErrNoAuth},
		{"setACL to an auth ACL", as, SetACL{Path: "/open/alice", ACL: []ACL{{PermRead, SchemeAuth, ""}}, Version: -1}, ErrOK},
		{"check without READ", none, Check{Path: "/open/alice", Version: 0}, ErrNoAuth},
		{"check with READ", as, Check{Path: "/open/alice", Version: 0}, ErrOK},
		{"check on a node world may only administer", none, Check{Path: "/open/admin", Version: 0}, ErrOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := aclFixture(t)
			txn := PrepareAs(h.tree, 1, c.auth, c.req, h.nowMs)
			if c.want == ErrOK {
				require.NotEqual(t, OpError, txn.Op(), "%#v", txn)
				return
			}
			assert.Equal(t, ErrorTxn{Err: c.want}, txn)
		})
	}
}

func TestPrepareAs_MultiChecksEveryOpWithTheRequestersIDs(t *testing.T) {
	h := aclFixture(t)
	ops := Multi{Ops: []Request{Create{Path: "/open/x", ACL: OpenACLUnsafe}, SetData{Path: "/open/alice", Version: -1},
		Delete{Path: "/open/x", Version: -1}}}
	txn := PrepareAs(h.tree, 1, nil, ops, h.nowMs)
	m, ok := txn.(MultiTxn)
	require.True(t, ok, "%#v", txn)
	require.Len(t, m.Txns, 3)
	assert.IsType(t, CreateTxn{}, m.Txns[0])
	assert.Equal(t, ErrorTxn{Err: ErrNoAuth}, m.Txns[1], "setData without the node's WRITE")
	assert.Equal(t, ErrorTxn{Err: ErrRuntimeInconsistency}, m.Txns[2])

	m, ok = PrepareAs(h.tree, 1, []AuthID{alice}, ops, h.nowMs).(MultiTxn)
	require.True(t, ok)
	for i, sub := range m.Txns {
		assert.NotEqual(t, OpError, sub.Op(), "op %d", i)
	}
	// A node the multi creates carries its fixed-up ACL for the ops after it.
	m, ok = PrepareAs(h.tree, 1, []AuthID{alice}, Multi{Ops: []Request{
		Create{Path: "/open/y", ACL: []ACL{{PermAll, SchemeAuth, ""}}}, Create{Path: "/open/y/z", ACL: OpenACLUnsafe}}}, h.nowMs).(MultiTxn)
	require.True(t, ok)
	assert.IsType(t, CreateTxn{}, m.Txns[1])
	m, ok = PrepareAs(h.tree, 1, []AuthID{bob}, Multi{Ops: []Request{
		Create{Path: "/open/y", ACL: []ACL{{PermAll, SchemeDigest, alice.ID}}}, Create{Path: "/open/y/z", ACL: OpenACLUnsafe}}}, h.nowMs).(MultiTxn)
	require.True(t, ok)
	assert.Equal(t, ErrorTxn{Err: ErrNoAuth}, m.Txns[1], "bob may not create under alice's new node")
}

func TestPrepareAs_AuthACLStoresTheRequestersDigest(t *testing.T) {
	h := aclFixture(t)
	txn := PrepareAs(h.tree, 1, []AuthID{fromLocal, alice}, Create{Path: "/open/mine", ACL: []ACL{{PermAll, SchemeAuth, ""}}}, h.nowMs)
	require.IsType(t, CreateTxn{}, txn)
	r := h.tree.Apply(h.next(1), txn)
	require.Equal(t, ErrOK, r.Err)
	acl, _, err := h.tree.GetACL("/open/mine")
	require.NoError(t, err)
	assert.Equal(t, []ACL{{PermAll, SchemeDigest, alice.ID}}, acl)
	assert.Equal(t, ErrorTxn{Err: ErrNoAuth}, PrepareAs(h.tree, 1, []AuthID{bob}, SetData{Path: "/open/mine", Version: -1}, h.nowMs))
	assert.IsType(t, SetDataTxn{}, PrepareAs(h.tree, 1, []AuthID{alice}, SetData{Path: "/open/mine", Version: -1}, h.nowMs))
}

func TestAuthenticate_Providers(t *testing.T) {
	ids, ok := Authenticate(SchemeDigest, []byte("alice:secret"), "127.0.0.1", "")
	require.True(t, ok)
	assert.Equal(t, []AuthID{alice}, ids)

	superDigest := DigestID([]byte("super:admin"))
	ids, ok = Authenticate(SchemeDigest, []byte("super:admin"), "", superDigest)
	require.True(t, ok)
	assert.Equal(t, []AuthID{superID, {SchemeDigest, superDigest}}, ids)
	ids, ok = Authenticate(SchemeDigest, []byte("super:wrong"), "", superDigest)
	require.True(t, ok, "a wrong password is not a failure: it proves another digest")
	assert.Equal(t, []AuthID{{SchemeDigest, DigestID([]byte("super:wrong"))}}, ids)

	ids, ok = Authenticate(SchemeIP, []byte("ignored"), "10.1.2.3", "")
	require.True(t, ok)
	assert.Equal(t, []AuthID{fromTenOne}, ids)
	_, ok = Authenticate(SchemeIP, nil, "", "")
	assert.False(t, ok, "no address to prove")

	for _, scheme := range []string{SchemeWorld, SchemeSuper, SchemeAuth, "sasl", "x509", ""} {
		_, ok := Authenticate(scheme, []byte("x:y"), "127.0.0.1", "")
		assert.False(t, ok, "no provider for %q: AuthFailed", scheme)
	}
}

func TestAddAuthIDs_IsASetAndCopiesOnWrite(t *testing.T) {
	have := []AuthID{fromLocal}
	got := AddAuthIDs(have, alice, fromLocal, alice)
	assert.Equal(t, []AuthID{fromLocal, alice}, got)
	assert.Equal(t, []AuthID{fromLocal}, have, "a request's snapshot of the ids stays as it was")
	same := AddAuthIDs(got, alice)
	assert.Equal(t, &got[0], &same[0], "nothing new: no copy")
}

func TestMaskDigests_HidesTheHash(t *testing.T) {
	acl := []ACL{{PermAll, SchemeDigest, alice.ID}, {PermRead, SchemeWorld, "anyone"}, {PermRead, SchemeIP, "10.0.0.0/8"},
		{PermRead, SchemeDigest, "a:b:c"}}
	assert.Equal(t, []ACL{{PermAll, SchemeDigest, "alice:x"}, {PermRead, SchemeWorld, "anyone"}, {PermRead, SchemeIP, "10.0.0.0/8"},
		{PermRead, SchemeDigest, "a:x"}}, MaskDigests(acl))
	assert.Equal(t, alice.ID, acl[0].ID, "the node's ACL is not modified")
	assert.Equal(t, &OpenACLUnsafe[0], &MaskDigests(OpenACLUnsafe)[0], "nothing to hide: the same slice")
}
