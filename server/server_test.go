package server

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/model"
	"zoosim/node"
	"zoosim/quorum"
	"zoosim/quorum/zab"
	"zoosim/sim"
	"zoosim/wire"
)

const ms = node.Millisecond

// rawClient speaks wire to one server: a test double for the client
// library, so the server is tested on its own.
type rawClient struct {
	id, server node.ID
	conn       uint64
	seq, rseq  uint64
	session    int64
	passwd     []byte
	addr       string // the address the connect names (wire.Connect.Addr)
	lastZxid   model.Zxid
	timeoutMs  int32
	silent     bool // stop pinging
	connected  bool
	closed     *wire.Close
	expired    bool
	xid        int32
	replies    []*wire.Reply
	events     []*wire.Event
	out        []node.Message
	nextPing   node.Time
	now        node.Time
}

func (c *rawClient) send(body any) {
	c.out = append(c.out, node.Message{From: c.id, To: c.server, Body: body})
}

func (c *rawClient) hdr() wire.Header {
	c.seq++
	return wire.Header{Conn: c.conn, Seq: c.seq}
}

func (c *rawClient) connect(server node.ID) {
	c.server = server
	c.conn++
	c.seq, c.rseq = 0, 0
	c.connected, c.closed = false, nil
	c.send(&wire.Connect{Header: c.hdr(), LastZxidSeen: c.lastZxid, TimeoutMs: c.timeoutMs, SessionID: c.session, Passwd: c.passwd,
		Addr: c.addr})
}

func (c *rawClient) request(r *wire.Request) int32 {
	c.xid++
	r.Xid = c.xid
	r.Header = c.hdr()
	c.send(r)
	return r.Xid
}

// frame accepts the next message of the current connection; a gap breaks
// the connection, a stale or duplicate message is ignored.
func (c *rawClient) frame(h wire.Header) bool {
	switch {
	case h.Conn != c.conn || h.Seq <= c.rseq:
		return false
	case h.Seq > c.rseq+1:
		c.connected = false
		c.closed = &wire.Close{Conn: c.conn, Reason: wire.CloseBroken}
		return false
	}
	c.rseq = h.Seq
	return true
}

func (c *rawClient) Step(now node.Time, m node.Message) {
	c.now = now
	switch b := m.Body.(type) {
	case *wire.Connected:
		if !c.frame(b.Header) {
			return
		}
		if b.Expired() {
			c.expired = true
			return
		}
		c.connected, c.session, c.passwd, c.timeoutMs = true, b.SessionID, b.Passwd, b.TimeoutMs
	case *wire.Reply:
		if !c.frame(b.Header) {
			return
		}
		c.replies = append(c.replies, b)
		if b.Zxid > c.lastZxid {
			c.lastZxid = b.Zxid
		}
	case *wire.Event:
		if c.frame(b.Header) {
			c.events = append(c.events, b)
		}
	case *wire.Pong:
		c.frame(b.Header)
	case *wire.Close:
		if b.Conn == c.conn {
			c.closed = b
			c.connected = false
		}
	}
}

func (c *rawClient) Tick(now node.Time) {
	c.now = now
	if c.connected && !c.silent && now >= c.nextPing {
		c.send(&wire.Ping{Header: c.hdr()})
	}
}

func (c *rawClient) Ready() node.Ready {
	wake := c.now + node.Time(max(c.timeoutMs, 300))*ms/3
	c.nextPing = wake
	return node.Ready{Messages: c.out, WakeAt: wake}
}

func (c *rawClient) Advance() { c.out = c.out[:0] }

func (c *rawClient) reply(xid int32) *wire.Reply {
	for _, r := range c.replies {
		if r.Xid == xid {
			return r
		}
	}
	return nil
}

// ensemble is N servers on Zab in a simulated world, plus raw clients.
type ensemble struct {
	t       *testing.T
	w       *sim.World
	n       int
	clients map[node.ID]*rawClient
}

func newEnsemble(t *testing.T, seed uint64, n int) *ensemble {
	return newEnsembleWith(t, seed, n, nil)
}

// newEnsembleWith is newEnsemble with each server's Config adjusted by set.
func newEnsembleWith(t *testing.T, seed uint64, n int, set func(*Config)) *ensemble {
	e := &ensemble{t: t, w: sim.New(sim.DefaultConfig(seed)), n: n, clients: map[node.ID]*rawClient{}}
	v := quorum.NewMajority(n)
	for i := 1; i <= n; i++ {
		e.w.AddNode(node.ID(i), func(env node.Env) node.Machine {
			cfg := Config{NewEngine: func(sm quorum.StateMachine, env node.Env) (quorum.Engine, error) {
				return zab.New(zab.DefaultConfig(v, sm), env)
			}}
			if set != nil {
				set(&cfg)
			}
			s, err := New(cfg, env)
			require.NoError(t, err)
			s.RecordApplied()
			return s
		})
	}
	return e
}

func (e *ensemble) server(id node.ID) *Server {
	m := e.w.Machine(id)
	if m == nil {
		return nil
	}
	return m.(*Server)
}

func (e *ensemble) client(id node.ID, timeoutMs int32) *rawClient {
	c := &rawClient{id: id, timeoutMs: timeoutMs}
	e.clients[id] = c
	e.w.AddNode(id, func(env node.Env) node.Machine { c.now = env.Now; return c })
	return c
}

// do runs f inside the world (so the client's messages go out) and then
// runs the world for d.
func (e *ensemble) do(id node.ID, f func(c *rawClient), d node.Time) {
	c := e.clients[id]
	f(c)
	e.w.Drain(id)
	e.w.RunFor(d)
}

func (e *ensemble) waitServing(budget node.Time) node.ID {
	end := e.w.Now() + budget
	for e.w.Now() < end {
		serving, leader := 0, node.ID(0)
		for i := 1; i <= e.n; i++ {
			if s := e.server(node.ID(i)); s != nil && s.Serving() {
				serving++
				if s.Engine().Status().Role == quorum.Leading {
					leader = node.ID(i)
				}
			}
		}
		if serving == e.n && leader != 0 {
			return leader
		}
		e.w.RunFor(10 * ms)
	}
	e.t.Fatalf("ensemble not serving after %v", budget)
	return 0
}

func TestServer_StandaloneServesWritesAndReads(t *testing.T) {
	e := newEnsemble(t, 1, 1)
	c := e.client(100, 2000)
	e.waitServing(2 * node.Second)
	e.do(100, func(c *rawClient) { c.connect(1) }, 50*ms)
	require.True(t, c.connected)
	var create, get, set, bad, del int32
	e.do(100, func(c *rawClient) {
		create = c.request(&wire.Request{Op: model.OpCreate, Write: model.Create{Path: "/a", Data: []byte("x"), ACL: model.OpenACLUnsafe, Mode: model.ModePersistent}})
		get = c.request(&wire.Request{Op: model.OpGetData, Path: "/a"})
		set = c.request(&wire.Request{Op: model.OpSetData, Write: model.SetData{Path: "/a", Data: []byte("y"), Version: 0}})
		bad = c.request(&wire.Request{Op: model.OpSetData, Write: model.SetData{Path: "/a", Data: []byte("z"), Version: 0}})
		del = c.request(&wire.Request{Op: model.OpDelete, Write: model.Delete{Path: "/a", Version: -1}})
	}, 100*ms)
	require.Len(t, c.replies, 5)
	for i, r := range c.replies {
		assert.Equal(t, int32(i+1), r.Xid, "replies in FIFO order")
	}
	assert.Equal(t, model.ErrOK, c.reply(create).Err)
	assert.Equal(t, "/a", c.reply(create).Path)
	assert.Equal(t, "x", string(c.reply(get).Data))
	assert.Equal(t, model.ErrOK, c.reply(set).Err)
	assert.Equal(t, int32(1), c.reply(set).Stat.Version)
	assert.Equal(t, model.ErrBadVersion, c.reply(bad).Err)
	assert.Equal(t, model.ErrOK, c.reply(del).Err)
	assert.Less(t, c.reply(create).Zxid, c.reply(set).Zxid)
}

func TestServer_WatchFiresOnAnotherServerBeforeTheReadShowsTheChange(t *testing.T) {
	e := newEnsemble(t, 2, 3)
	a := e.client(100, 2000)
	b := e.client(101, 2000)
	leader := e.waitServing(5 * node.Second)
	follower := node.ID(1)
	if follower == leader {
		follower = 2
	}
	e.do(100, func(c *rawClient) { c.connect(leader) }, 50*ms)
	e.do(101, func(c *rawClient) { c.connect(follower) }, 50*ms)
	require.True(t, a.connected && b.connected)
	e.do(101, func(c *rawClient) { c.request(&wire.Request{Op: model.OpExists, Path: "/w", Watch: true}) }, 50*ms)
	require.Equal(t, model.ErrNoNode, b.replies[0].Err)
	e.do(100, func(c *rawClient) {
		c.request(&wire.Request{Op: model.OpCreate, Write: model.Create{Path: "/w", ACL: model.OpenACLUnsafe, Mode: model.ModePersistent}})
	}, 100*ms)
	require.Equal(t, model.ErrOK, a.replies[0].Err)
	require.Len(t, b.events, 1)
	assert.Equal(t, model.EventNodeCreated, b.events[0].Type)
	assert.Equal(t, "/w", b.events[0].Path)
	// The watch is one-shot.
	e.do(100, func(c *rawClient) {
		c.request(&wire.Request{Op: model.OpSetData, Write: model.SetData{Path: "/w", Data: []byte("v"), Version: -1}})
	}, 100*ms)
	assert.Len(t, b.events, 1)
}

func TestServer_SyncMakesTheFollowerAtLeastAsFreshAsTheLeader(t *testing.T) {
	e := newEnsemble(t, 3, 3)
	a := e.client(100, 2000)
	b := e.client(101, 2000)
	leader := e.waitServing(5 * node.Second)
	follower := node.ID(1)
	if follower == leader {
		follower = 2
	}
	e.do(100, func(c *rawClient) { c.connect(leader) }, 50*ms)
	e.do(101, func(c *rawClient) { c.connect(follower) }, 50*ms)
	e.do(100, func(c *rawClient) {
		c.request(&wire.Request{Op: model.OpCreate, Write: model.Create{Path: "/s", Data: []byte("1"), ACL: model.OpenACLUnsafe, Mode: model.ModePersistent}})
	}, 0)
	// Run just until the leader replied, then sync+read on the follower.
	for a.reply(1) == nil {
		e.w.RunFor(ms / 10)
	}
	var get int32
	e.do(101, func(c *rawClient) {
		c.request(&wire.Request{Op: model.OpSync, Path: "/s"})
		get = c.request(&wire.Request{Op: model.OpGetData, Path: "/s"})
	}, 50*ms)
	require.NotNil(t, b.reply(get))
	assert.Equal(t, model.ErrOK, b.reply(get).Err)
	assert.Equal(t, "1", string(b.reply(get).Data))
	assert.GreaterOrEqual(t, b.reply(get).Zxid, a.reply(1).Zxid)
}

func TestServer_SessionExpiryDeletesEphemeralAndFiresWatch(t *testing.T) {
	e := newEnsemble(t, 4, 3)
	a := e.client(100, 600)
	b := e.client(101, 2000)
	leader := e.waitServing(5 * node.Second)
	other := node.ID(1)
	if other == leader {
		other = 2
	}
	e.do(100, func(c *rawClient) { c.connect(other) }, 50*ms)
	e.do(101, func(c *rawClient) { c.connect(leader) }, 50*ms)
	e.do(100, func(c *rawClient) {
		c.request(&wire.Request{Op: model.OpCreate, Write: model.Create{Path: "/master", Data: []byte("a"), ACL: model.OpenACLUnsafe, Mode: model.ModeEphemeral}})
	}, 50*ms)
	require.Equal(t, model.ErrOK, a.replies[0].Err)
	e.do(101, func(c *rawClient) { c.request(&wire.Request{Op: model.OpExists, Path: "/master", Watch: true}) }, 50*ms)
	require.Equal(t, model.ErrOK, b.replies[0].Err)
	assert.Equal(t, a.session, b.replies[0].Stat.EphemeralOwner)
	a.silent = true
	e.w.RunFor(2 * node.Second)
	require.Len(t, b.events, 1)
	assert.Equal(t, model.EventNodeDeleted, b.events[0].Type)
	_, ok := e.server(leader).Tree().Exists("/master")
	assert.False(t, ok)
	require.NotNil(t, a.closed, "the expired session's connection is closed")
	// Coming back with the expired session is refused.
	a.silent = false
	e.do(100, func(c *rawClient) { c.connect(leader) }, 50*ms)
	assert.True(t, a.expired)
}

func TestServer_RefusesAClientThatHasSeenMoreThanIt(t *testing.T) {
	e := newEnsemble(t, 5, 3)
	a := e.client(100, 2000)
	e.waitServing(5 * node.Second)
	e.do(100, func(c *rawClient) {
		c.lastZxid = model.MakeZxid(99, 1)
		c.connect(1)
	}, 50*ms)
	require.NotNil(t, a.closed)
	assert.Equal(t, wire.CloseBehind, a.closed.Reason)
	assert.False(t, a.connected)
}

func TestServer_ReplicasApplyTheSameTxnsWithTheSameDigests(t *testing.T) {
	e := newEnsemble(t, 6, 5)
	leader := e.waitServing(5 * node.Second)
	var cs []*rawClient
	for i := 0; i < 5; i++ {
		cs = append(cs, e.client(node.ID(100+i), 2000))
		e.do(node.ID(100+i), func(c *rawClient) { c.connect(node.ID(1 + i)) }, 20*ms)
	}
	for round := 0; round < 20; round++ {
		for i := range cs {
			e.do(node.ID(100+i), func(c *rawClient) {
				c.request(&wire.Request{Op: model.OpCreate, Write: model.Create{Path: "/q/n-", ACL: model.OpenACLUnsafe, Mode: model.ModePersistentSequential}})
				c.request(&wire.Request{Op: model.OpCreate, Write: model.Create{Path: "/q", ACL: model.OpenACLUnsafe, Mode: model.ModePersistent}})
			}, 0)
		}
		e.w.RunFor(5 * ms)
	}
	e.w.RunFor(500 * ms)
	ref := e.server(leader).Applied()
	require.NotEmpty(t, ref)
	for i := 1; i <= 5; i++ {
		got := e.server(node.ID(i)).Applied()
		require.Equal(t, len(ref), len(got), "server %d", i)
		for j := range ref {
			require.Equal(t, ref[j], got[j], "server %d txn %d", i, j)
		}
	}
	kids, _, err := e.server(leader).Tree().Children("/q")
	require.NoError(t, err)
	// Round 0's sequential creates come before /q exists (NoNode); the
	// other 19 rounds of 5 clients each create one child.
	require.Len(t, kids, 95)
	for i, k := range kids {
		assert.Equal(t, fmt.Sprintf("n-%010d", i), k)
	}
}

func TestServer_LeaderRemovesEmptiedContainersAndExpiredTTLNodes(t *testing.T) {
	e := newEnsemble(t, 7, 3)
	c := e.client(100, 2000)
	leader := e.waitServing(5 * node.Second)
	e.do(100, func(c *rawClient) { c.connect(leader) }, 50*ms)
	e.do(100, func(c *rawClient) {
		c.request(&wire.Request{Op: model.OpCreateContainer, Write: model.Create{Path: "/box", ACL: model.OpenACLUnsafe, Mode: model.ModeContainer}})
		c.request(&wire.Request{Op: model.OpCreate, Write: model.Create{Path: "/box/item", ACL: model.OpenACLUnsafe, Mode: model.ModePersistent}})
		c.request(&wire.Request{Op: model.OpCreateTTL, Write: model.Create{Path: "/lease", ACL: model.OpenACLUnsafe, Mode: model.ModePersistentWithTTL, TTL: 500}})
		c.request(&wire.Request{Op: model.OpCreateContainer, Write: model.Create{Path: "/fresh", ACL: model.OpenACLUnsafe, Mode: model.ModeContainer}})
	}, 100*ms)
	for i, r := range c.replies {
		require.Equal(t, model.ErrOK, r.Err, "request %d", i)
	}
	tree := func() *model.Tree { return e.server(leader).Tree() }
	_, ok := tree().Exists("/box")
	require.True(t, ok)
	e.do(100, func(c *rawClient) {
		c.request(&wire.Request{Op: model.OpDelete, Write: model.Delete{Path: "/box/item", Version: -1}})
	}, 300*ms)
	_, ok = tree().Exists("/box")
	assert.False(t, ok, "an emptied container is removed by the leader")
	_, ok = tree().Exists("/fresh")
	assert.True(t, ok, "a container that never had a child stays")
	_, ok = tree().Exists("/lease")
	assert.True(t, ok, "the TTL has not passed yet")
	e.w.RunFor(time1s)
	_, ok = tree().Exists("/lease")
	assert.False(t, ok, "a TTL node idle longer than its TTL is removed")
	for i := 1; i <= 3; i++ {
		assert.Equal(t, tree().Digest(), e.server(node.ID(i)).Tree().Digest(), "server %d", i)
	}
}

// Each server draws passwords with its own secret (as the real driver's
// servers do); the password travels with the session's createSession txn,
// so any server checks it when the client resumes there.
func TestServer_ResumingASessionNeedsItsPasswordOnAnyServer(t *testing.T) {
	e := &ensemble{t: t, w: sim.New(sim.DefaultConfig(8)), n: 3, clients: map[node.ID]*rawClient{}}
	v := quorum.NewMajority(3)
	for i := 1; i <= 3; i++ {
		secret := byte(i * 37)
		e.w.AddNode(node.ID(i), func(env node.Env) node.Machine {
			s, err := New(Config{
				NewEngine: func(sm quorum.StateMachine, env node.Env) (quorum.Engine, error) {
					return zab.New(zab.DefaultConfig(v, sm), env)
				},
				Passwd: func(session int64) [model.PasswdLen]byte {
					var p [model.PasswdLen]byte
					for j := range p {
						p[j] = secret ^ byte(session>>(j%8*8))
					}
					return p
				},
			}, env)
			require.NoError(t, err)
			return s
		})
	}
	a := e.client(100, 2000)
	e.waitServing(5 * node.Second)
	e.do(100, func(c *rawClient) { c.connect(1) }, 100*ms)
	require.True(t, a.connected)
	session, passwd := a.session, append([]byte(nil), a.passwd...)
	require.Len(t, passwd, model.PasswdLen)
	assert.NotEqual(t, DerivedPasswd(session), [model.PasswdLen]byte(passwd), "the configured function drew it")
	for _, id := range []node.ID{1, 2, 3} {
		pw, ok := e.server(id).Tree().SessionPasswd(session)
		require.True(t, ok, "server %d knows the session", id)
		assert.Equal(t, passwd, pw[:], "server %d has the password from the txn", id)
	}

	// A wrong password on another server: the session is refused.
	wrong := append([]byte(nil), passwd...)
	wrong[0] ^= 1
	e.do(100, func(c *rawClient) { c.passwd = wrong; c.connect(2) }, 100*ms)
	assert.True(t, a.expired)
	assert.False(t, a.connected)

	// The right one, on a server with another secret: resumed.
	a.expired = false
	e.do(100, func(c *rawClient) { c.session, c.passwd = session, passwd; c.connect(3) }, 100*ms)
	require.True(t, a.connected)
	assert.Equal(t, session, a.session)
	assert.Equal(t, passwd, a.passwd)
	assert.False(t, a.expired)

	// A password of the wrong length never matches.
	e.do(100, func(c *rawClient) { c.passwd = passwd[:8]; c.connect(1) }, 100*ms)
	assert.True(t, a.expired)
}

// With RefuseTTL (ZooKeeper's extendedTypesEnabled=false) a createTTL, or a
// multi that creates a TTL node, is answered Unimplemented and changes
// nothing; other writes go on.
func TestServer_RefuseTTLAnswersUnimplemented(t *testing.T) {
	e := &ensemble{t: t, w: sim.New(sim.DefaultConfig(9)), n: 1, clients: map[node.ID]*rawClient{}}
	v := quorum.NewMajority(1)
	e.w.AddNode(1, func(env node.Env) node.Machine {
		s, err := New(Config{RefuseTTL: true, NewEngine: func(sm quorum.StateMachine, env node.Env) (quorum.Engine, error) {
			return zab.New(zab.DefaultConfig(v, sm), env)
		}}, env)
		require.NoError(t, err)
		return s
	})
	c := e.client(100, 2000)
	e.waitServing(2 * node.Second)
	e.do(100, func(c *rawClient) { c.connect(1) }, 50*ms)
	require.True(t, c.connected)
	ttl := model.Create{Path: "/t", ACL: model.OpenACLUnsafe, Mode: model.ModePersistentWithTTL, TTL: 1000}
	var single, multi, plain int32
	e.do(100, func(c *rawClient) {
		single = c.request(&wire.Request{Op: model.OpCreateTTL, Write: ttl})
		multi = c.request(&wire.Request{Op: model.OpMulti, Write: model.Multi{Ops: []model.Request{
			model.Create{Path: "/p", ACL: model.OpenACLUnsafe}, ttl}}})
		plain = c.request(&wire.Request{Op: model.OpCreate, Write: model.Create{Path: "/p", ACL: model.OpenACLUnsafe}})
	}, 100*ms)
	require.Len(t, c.replies, 3)
	assert.Equal(t, model.ErrUnimplemented, c.reply(single).Err)
	assert.Equal(t, model.ErrUnimplemented, c.reply(multi).Err)
	assert.Equal(t, model.ErrOK, c.reply(plain).Err, "the multi created nothing")
	_, ok := e.server(1).Tree().Exists("/t")
	assert.False(t, ok)
}
