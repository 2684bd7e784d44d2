package server

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/model"
	"zoosim/node"
	"zoosim/wire"
)

// Authentication and ACLs through the whole pipeline, in the simulated
// world: identities are connection state on the server a client is on, a
// follower forwards them with every write, the leader checks them when it
// prepares the txn, and reads are checked where they are answered.

func (c *rawClient) addAuth(scheme, creds string) int32 {
	return c.request(&wire.Request{Op: model.OpAuth, Auth: &wire.Auth{Scheme: scheme, Auth: []byte(creds)}})
}

func (c *rawClient) create(path string, acl []model.ACL) int32 {
	return c.request(&wire.Request{Op: model.OpCreate, Path: path,
		Write: model.Create{Path: path, Data: []byte("d"), ACL: acl, Mode: model.ModePersistent}})
}

func (c *rawClient) setData(path string) int32 {
	return c.request(&wire.Request{Op: model.OpSetData, Path: path, Write: model.SetData{Path: path, Data: []byte("v"), Version: -1}})
}

func (c *rawClient) read(op model.OpCode, path string) int32 {
	return c.request(&wire.Request{Op: op, Path: path})
}

// followers returns two servers other than the leader (or the leader twice
// in a smaller ensemble).
func (e *ensemble) twoFollowers(leader node.ID) (node.ID, node.ID) {
	var out []node.ID
	for i := 1; i <= e.n; i++ {
		if node.ID(i) != leader {
			out = append(out, node.ID(i))
		}
	}
	for len(out) < 2 {
		out = append(out, leader)
	}
	return out[0], out[1]
}

var authAll = []model.ACL{{Perms: model.PermAll, Scheme: model.SchemeAuth}}

func TestServer_WritesAreCheckedOnTheLeaderWithTheFollowersIdentities(t *testing.T) {
	e := newEnsemble(t, 11, 3)
	alice := e.client(100, 4000)
	other := e.client(101, 4000)
	f1, f2 := e.twoFollowers(e.waitServing(5 * node.Second))
	e.do(100, func(c *rawClient) { c.connect(f1) }, 50*ms)
	e.do(101, func(c *rawClient) { c.connect(f2) }, 50*ms)
	require.True(t, alice.connected && other.connected)

	var noIDs, auth, create int32
	e.do(100, func(c *rawClient) {
		noIDs = c.create("/early", authAll)
		auth = c.addAuth("digest", "alice:secret")
		create = c.create("/a", authAll)
	}, 200*ms)
	assert.Equal(t, model.ErrInvalidACL, alice.reply(noIDs).Err, "an auth ACL before any identity")
	assert.Equal(t, model.ErrOK, alice.reply(auth).Err)
	require.Equal(t, model.ErrOK, alice.reply(create).Err)
	aliceID := model.DigestID([]byte("alice:secret"))
	for i := 1; i <= 3; i++ {
		acl, _, err := e.server(node.ID(i)).Tree().GetACL("/a")
		require.NoError(t, err)
		assert.Equal(t, []model.ACL{{Perms: model.PermAll, Scheme: "digest", ID: aliceID}}, acl, "server %d", i)
	}

	var set, get, kids, getACL, exists, kid int32
	e.do(101, func(c *rawClient) {
		set = c.setData("/a")
		get = c.read(model.OpGetData, "/a")
		kids = c.read(model.OpGetChildren2, "/a")
		getACL = c.read(model.OpGetACL, "/a")
		exists = c.read(model.OpExists, "/a")
		kid = c.create("/a/kid", model.OpenACLUnsafe)
	}, 200*ms)
	assert.Equal(t, model.ErrNoAuth, other.reply(set).Err, "WRITE is checked by the leader")
	assert.Equal(t, model.ErrNoAuth, other.reply(get).Err, "READ is checked by the follower")
	assert.Equal(t, model.ErrNoAuth, other.reply(kids).Err)
	assert.Equal(t, model.ErrNoAuth, other.reply(getACL).Err, "getACL needs READ or ADMIN")
	assert.Equal(t, model.ErrOK, other.reply(exists).Err, "exists needs nothing")
	assert.Equal(t, model.ErrNoAuth, other.reply(kid).Err, "CREATE on the parent")

	e.do(101, func(c *rawClient) {
		c.addAuth("digest", "alice:secret")
		set = c.setData("/a")
		get = c.read(model.OpGetData, "/a")
	}, 200*ms)
	assert.Equal(t, model.ErrOK, other.reply(set).Err, "the same credentials on another connection")
	assert.Equal(t, model.ErrOK, other.reply(get).Err)
}

func TestServer_AuthIsHandledOnArrivalAheadOfQueuedRequests(t *testing.T) {
	e := newEnsemble(t, 12, 3)
	c := e.client(100, 4000)
	f, _ := e.twoFollowers(e.waitServing(5 * node.Second))
	e.do(100, func(c *rawClient) { c.connect(f) }, 50*ms)
	var create, auth, after int32
	e.do(100, func(c *rawClient) {
		create = c.create("/q", authAll) // queued at the leader's round trip
		auth = c.addAuth("digest", "u:p")
		after = c.create("/q2", authAll)
	}, 200*ms)
	require.Len(t, c.replies, 3)
	assert.Equal(t, auth, c.replies[0].Xid, "ZooKeeper answers an auth packet at once")
	assert.Zero(t, c.replies[0].Zxid, "with zxid 0")
	assert.Equal(t, model.ErrInvalidACL, c.reply(create).Err, "a request keeps the identities it arrived with")
	assert.Equal(t, model.ErrOK, c.reply(after).Err)
}

func TestServer_AuthFailedClosesTheConnectionNotTheSession(t *testing.T) {
	e := newEnsemble(t, 13, 1)
	c := e.client(100, 4000)
	e.waitServing(2 * node.Second)
	e.do(100, func(c *rawClient) { c.connect(1) }, 50*ms)
	session := c.session
	var bad int32
	e.do(100, func(c *rawClient) { bad = c.addAuth("world", "anyone") }, 50*ms)
	require.NotNil(t, c.reply(bad))
	assert.Equal(t, model.ErrAuthFailed, c.reply(bad).Err)
	require.NotNil(t, c.closed)
	assert.Equal(t, wire.CloseAuthFailed, c.closed.Reason)
	assert.Equal(t, int64(1), e.server(1).Stats().AuthFailed)
	e.do(100, func(c *rawClient) { c.connect(1) }, 50*ms)
	assert.True(t, c.connected)
	assert.Equal(t, session, c.session, "the session lives on")
}

func TestServer_IPIdentityComesFromTheConnection(t *testing.T) {
	e := newEnsemble(t, 14, 3)
	inside := e.client(100, 4000)
	outside := e.client(101, 4000)
	unknown := e.client(102, 4000)
	inside.addr, outside.addr = "10.1.2.3", "192.168.0.7"
	leader := e.waitServing(5 * node.Second)
	f1, f2 := e.twoFollowers(leader)
	e.do(100, func(c *rawClient) { c.connect(f1) }, 50*ms)
	e.do(101, func(c *rawClient) { c.connect(f2) }, 50*ms)
	e.do(102, func(c *rawClient) { c.connect(leader) }, 50*ms)
	ipACL := []model.ACL{{Perms: model.PermAll, Scheme: "ip", ID: "10.0.0.0/8"}}
	var create, ipAuth int32
	e.do(100, func(c *rawClient) {
		create = c.create("/net", ipACL)
		ipAuth = c.addAuth("ip", "")
	}, 200*ms)
	require.Equal(t, model.ErrOK, inside.reply(create).Err)
	assert.Equal(t, model.ErrOK, inside.reply(ipAuth).Err, "addauth ip proves the connection's address again")

	var set, get int32
	e.do(101, func(c *rawClient) { set, get = c.setData("/net"), c.read(model.OpGetData, "/net") }, 200*ms)
	assert.Equal(t, model.ErrNoAuth, outside.reply(set).Err)
	assert.Equal(t, model.ErrNoAuth, outside.reply(get).Err)
	e.do(100, func(c *rawClient) { set, get = c.setData("/net"), c.read(model.OpGetData, "/net") }, 200*ms)
	assert.Equal(t, model.ErrOK, inside.reply(set).Err)
	assert.Equal(t, model.ErrOK, inside.reply(get).Err)
	e.do(102, func(c *rawClient) { ipAuth = c.addAuth("ip", "") }, 50*ms)
	assert.Equal(t, model.ErrAuthFailed, unknown.reply(ipAuth).Err, "no address known: nothing to prove")
}

func TestServer_GetACLMasksDigestsWithoutAdmin(t *testing.T) {
	e := newEnsemble(t, 15, 1)
	c := e.client(100, 4000)
	e.waitServing(2 * node.Second)
	e.do(100, func(c *rawClient) { c.connect(1) }, 50*ms)
	id := model.DigestID([]byte("alice:secret"))
	acl := []model.ACL{{Perms: model.PermRead, Scheme: "world", ID: "anyone"}, {Perms: model.PermAll, Scheme: "digest", ID: id}}
	var create, masked, full int32
	e.do(100, func(c *rawClient) {
		create = c.create("/m", acl)
		masked = c.read(model.OpGetACL, "/m")
		c.addAuth("digest", "alice:secret")
		full = c.read(model.OpGetACL, "/m")
	}, 100*ms)
	require.Equal(t, model.ErrOK, c.reply(create).Err)
	assert.Equal(t, []model.ACL{acl[0], {Perms: model.PermAll, Scheme: "digest", ID: "alice:x"}}, c.reply(masked).ACL)
	assert.Equal(t, acl, c.reply(full).ACL)
}

func TestServer_SuperDigestAndSkipACL(t *testing.T) {
	superDigest := model.DigestID([]byte("super:admin"))
	e := newEnsembleWith(t, 16, 3, func(cfg *Config) { cfg.SuperDigest = superDigest })
	owner := e.client(100, 4000)
	admin := e.client(101, 4000)
	f1, f2 := e.twoFollowers(e.waitServing(5 * node.Second))
	e.do(100, func(c *rawClient) { c.connect(f1) }, 50*ms)
	e.do(101, func(c *rawClient) { c.connect(f2) }, 50*ms)
	locked := []model.ACL{{Perms: model.PermRead, Scheme: "digest", ID: model.DigestID([]byte("alice:secret"))}}
	e.do(100, func(c *rawClient) { c.create("/locked", locked) }, 200*ms)
	require.Equal(t, model.ErrOK, owner.replies[0].Err)
	var set, wrong, acl int32
	e.do(101, func(c *rawClient) {
		c.addAuth("digest", "super:wrong")
		wrong = c.setData("/locked")
		c.addAuth("digest", "super:admin")
		set = c.setData("/locked")
		acl = c.request(&wire.Request{Op: model.OpSetACL, Path: "/locked",
			Write: model.SetACL{Path: "/locked", ACL: model.OpenACLUnsafe, Version: -1}})
	}, 200*ms)
	assert.Equal(t, model.ErrNoAuth, admin.reply(wrong).Err)
	assert.Equal(t, model.ErrOK, admin.reply(set).Err, "super passes the leader's check")
	assert.Equal(t, model.ErrOK, admin.reply(acl).Err)

	e2 := newEnsembleWith(t, 17, 1, func(cfg *Config) { cfg.SkipACL = true })
	c := e2.client(100, 4000)
	e2.waitServing(2 * node.Second)
	e2.do(100, func(c *rawClient) { c.connect(1) }, 50*ms)
	var create, bad, get int32
	e2.do(100, func(c *rawClient) {
		create = c.create("/locked", locked)
		bad = c.create("/bad", authAll)
		get = c.read(model.OpGetData, "/locked")
		set = c.setData("/locked")
	}, 100*ms)
	require.Equal(t, model.ErrOK, c.reply(create).Err)
	assert.Equal(t, model.ErrInvalidACL, c.reply(bad).Err, "skipACL still validates ACLs")
	assert.Equal(t, model.ErrOK, c.reply(get).Err)
	assert.Equal(t, model.ErrOK, c.reply(set).Err)
}

func TestServer_MultiReadChecksEachOp(t *testing.T) {
	e := newEnsemble(t, 18, 1)
	c := e.client(100, 4000)
	e.waitServing(2 * node.Second)
	e.do(100, func(c *rawClient) { c.connect(1) }, 50*ms)
	locked := []model.ACL{{Perms: model.PermAll, Scheme: "digest", ID: model.DigestID([]byte("alice:secret"))}}
	var mr int32
	e.do(100, func(c *rawClient) {
		c.create("/open", model.OpenACLUnsafe)
		c.create("/locked", locked)
		mr = c.request(&wire.Request{Op: model.OpMultiRead, Reads: []wire.ReadOp{
			{Op: model.OpGetData, Path: "/open"}, {Op: model.OpGetChildren, Path: "/locked"},
			{Op: model.OpGetData, Path: "/nope"}, {Op: model.OpGetChildren, Path: "/", Watch: true}}})
	}, 100*ms)
	rp := c.reply(mr)
	require.NotNil(t, rp)
	require.Equal(t, model.ErrOK, rp.Err)
	require.Len(t, rp.Reads, 4)
	assert.Equal(t, model.OpGetData, rp.Reads[0].Op)
	assert.Equal(t, "d", string(rp.Reads[0].Data))
	assert.Equal(t, wire.ReadResult{Op: model.OpError, Err: model.ErrNoAuth}, rp.Reads[1])
	assert.Equal(t, wire.ReadResult{Op: model.OpError, Err: model.ErrNoNode}, rp.Reads[2])
	assert.Equal(t, []string{"locked", "open", "zookeeper"}, rp.Reads[3].Children)
	e.do(100, func(c *rawClient) { c.create("/third", model.OpenACLUnsafe) }, 100*ms)
	require.Len(t, c.events, 1, "the multiRead left its child watch")
	assert.Equal(t, model.EventNodeChildrenChanged, c.events[0].Type)
}
