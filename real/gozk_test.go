package real

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/model"
	"zoosim/wire"
)

var openACL = zk.WorldACL(zk.PermAll)

// nextEvent waits for a watch's one event.
func nextEvent(t *testing.T, ch <-chan zk.Event) zk.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		require.True(t, ok, "the watch channel closed without an event")
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no watch event within the hang guard")
		return zk.Event{}
	}
}

// target is an ensemble a ZooKeeper client can be pointed at: zoosim
// serve processes or Apache ZooKeeper's.
type target struct {
	name  string
	addrs []string
	// kill and restart the server with this client address.
	kill, restart func(t *testing.T, addr string)
}

// superDigest is super:admin's digest, in the zoo.cfg line both targets
// read (ZooKeeper turns the key into its system property).
const superDigestLine = "DigestAuthenticationProvider.superDigest=super:xQJmxLMiHGwaqBvst5y6rkB6HQs="

func zoosimTarget(t *testing.T, n int, extra ...string) target {
	e := startEnsemble(t, n, LocalOptions{Extra: extra})
	byAddr := func(t *testing.T, addr string) *LocalServer {
		for _, s := range e.Servers {
			if s.ClientAddr() == addr {
				return s
			}
		}
		t.Fatalf("no zoosim server at %s", addr)
		return nil
	}
	waitServing(t, e)
	return target{name: "zoosim", addrs: e.ClientAddrs(),
		kill:    func(t *testing.T, addr string) { byAddr(t, addr).Kill() },
		restart: func(t *testing.T, addr string) { require.NoError(t, byAddr(t, addr).Start(e.opt.Binary)) }}
}

func zookeeperTarget(t *testing.T, n int, extra ...string) target {
	e := startZooKeeper(t, n, extra...)
	byAddr := func(t *testing.T, addr string) *ZooKeeperServer {
		for _, s := range e.Servers {
			if s.ClientAddr() == addr {
				return s
			}
		}
		t.Fatalf("no zookeeper server at %s", addr)
		return nil
	}
	waitServingAt(t, e.ClientAddrs())
	return target{name: "zookeeper", addrs: e.ClientAddrs(),
		kill:    func(t *testing.T, addr string) { byAddr(t, addr).Kill() },
		restart: func(t *testing.T, addr string) { require.NoError(t, byAddr(t, addr).Start()) }}
}

// TestGoZK_ThreeServerEnsemble runs ZooKeeper clients against three zoosim
// serve processes: kazoo's and zkCli.sh's scripted sessions, then
// go-zookeeper through every operation it has, watches of each kind,
// ephemerals after close and after expiry, ACLs and authentication, and
// failover when the server a session is on is killed. (The same suite runs
// against Apache ZooKeeper, with the same expectations, in
// TestSideBySide_ThreeServerEnsembles.)
func TestGoZK_ThreeServerEnsemble(t *testing.T) {
	skipProcesses(t)
	tg := zoosimTarget(t, 3, superDigestLine, "4lw.commands.whitelist=srvr,ruok,envi")
	kazoo, cli := clientsOn(t, tg)
	checkKazoo(t, kazoo)
	checkZkCli(t, cli)
	goZKSuite(t, tg, false)
}

// goZKSuite runs go-zookeeper through a target; ttl says whether the target
// has extendedTypesEnabled.
func goZKSuite(t *testing.T, tg target, ttl bool) {
	all := tg.addrs
	c := connect(t, all, 4*time.Second)

	t.Run("create: persistent, sequential, ephemeral, container, and their errors", func(t *testing.T) {
		p, err := c.Create("/app", []byte("root"), 0, openACL)
		require.NoError(t, err)
		assert.Equal(t, "/app", p)
		_, err = c.Create("/app", nil, 0, openACL)
		assert.ErrorIs(t, err, zk.ErrNodeExists)
		_, err = c.Create("/missing/child", nil, 0, openACL)
		assert.ErrorIs(t, err, zk.ErrNoNode)

		var seq []string
		for i := 0; i < 3; i++ {
			p, err := c.Create("/app/job-", []byte{byte(i)}, zk.FlagSequence, openACL)
			require.NoError(t, err)
			seq = append(seq, p)
		}
		assert.Equal(t, []string{"/app/job-0000000000", "/app/job-0000000001", "/app/job-0000000002"}, seq)

		p, err = c.Create("/app/eph", []byte("e"), zk.FlagEphemeral, openACL)
		require.NoError(t, err)
		assert.Equal(t, "/app/eph", p)
		_, st, err := c.Get("/app/eph")
		require.NoError(t, err)
		assert.Equal(t, c.SessionID(), st.EphemeralOwner)
		_, err = c.Create("/app/eph/child", nil, 0, openACL)
		assert.ErrorIs(t, err, zk.ErrNoChildrenForEphemerals)
		p, err = c.Create("/app/lock-", nil, zk.FlagEphemeral|zk.FlagSequence, openACL)
		require.NoError(t, err)
		assert.Equal(t, "/app/lock-0000000004", p, "the parent's cversion counts every child created")

		p, err = c.CreateContainer("/app/box", nil, zk.FlagContainer, openACL)
		require.NoError(t, err)
		assert.Equal(t, "/app/box", p)
		rc := rawConnect(t, all[1])
		rp := rc.request(t, &wire.Request{Op: model.OpCreateTTL, Path: "/app/ttl",
			Write: model.Create{Path: "/app/ttl", ACL: model.OpenACLUnsafe, Mode: model.ModePersistentWithTTL, TTL: 60000}})
		if !ttl {
			// extendedTypesEnabled is off, as in ZooKeeper's default:
			// createTTL is answered Unimplemented (-6, which go-zk calls
			// unknown).
			assert.Equal(t, model.ErrUnimplemented, rp.Err)
			_, err = c.CreateTTL("/app/ttl2", nil, zk.FlagTTL, openACL, time.Minute)
			assert.Error(t, err)
			return
		}
		assert.Equal(t, model.ErrOK, rp.Err)
		p, err = c.CreateTTL("/app/ttl-", nil, zk.FlagPersistentSequentialWithTTL, openACL, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, "/app/ttl-0000000007", p)
		_, st, err = c.Get(p)
		require.NoError(t, err)
		assert.Zero(t, st.EphemeralOwner, "clients see no owner on a TTL node")
	})

	t.Run("create2 answers the new node's stat", func(t *testing.T) {
		rc := rawConnect(t, all[0])
		rp := rc.create2(t, "/app/c2", []byte("two"))
		require.Zero(t, rp.Err)
		assert.Equal(t, "/app/c2", rp.Path)
		assert.Equal(t, int32(3), rp.Stat.DataLength)
		_, err := c.Sync("/app/c2") // c may be on a server that has not applied the create yet
		require.NoError(t, err)
		_, st, err := c.Get("/app/c2")
		require.NoError(t, err)
		assert.Equal(t, int64(rp.Stat.Czxid), st.Czxid)
	})

	t.Run("get and set with versions and conflicts", func(t *testing.T) {
		_, err := c.Create("/app/v", []byte("v0"), 0, openACL)
		require.NoError(t, err)
		st, err := c.Set("/app/v", []byte("v1"), 0)
		require.NoError(t, err)
		assert.Equal(t, int32(1), st.Version)
		_, err = c.Set("/app/v", []byte("stale"), 0)
		assert.ErrorIs(t, err, zk.ErrBadVersion)
		st, err = c.Set("/app/v", []byte("v2"), -1)
		require.NoError(t, err)
		assert.Equal(t, int32(2), st.Version)
		data, st, err := c.Get("/app/v")
		require.NoError(t, err)
		assert.Equal(t, "v2", string(data))
		assert.Equal(t, int32(2), st.Version)
		_, _, err = c.Get("/app/nope")
		assert.ErrorIs(t, err, zk.ErrNoNode)
		_, err = c.Set("/app/nope", nil, -1)
		assert.ErrorIs(t, err, zk.ErrNoNode)
	})

	t.Run("watches of each kind fire once", func(t *testing.T) {
		other := connect(t, all, 4*time.Second) // the writer: on any server
		ok, _, created, err := c.ExistsW("/app/w")
		require.NoError(t, err)
		require.False(t, ok)
		_, err = other.Create("/app/w", []byte("a"), 0, openACL)
		require.NoError(t, err)
		ev := nextEvent(t, created)
		assert.Equal(t, zk.EventNodeCreated, ev.Type)
		assert.Equal(t, "/app/w", ev.Path)

		_, _, changed, err := c.GetW("/app/w")
		require.NoError(t, err)
		_, _, kids, err := c.ChildrenW("/app/w")
		require.NoError(t, err)
		_, err = other.Set("/app/w", []byte("b"), -1)
		require.NoError(t, err)
		ev = nextEvent(t, changed)
		assert.Equal(t, zk.EventNodeDataChanged, ev.Type)
		_, err = other.Create("/app/w/kid", nil, 0, openACL)
		require.NoError(t, err)
		ev = nextEvent(t, kids)
		assert.Equal(t, zk.EventNodeChildrenChanged, ev.Type)
		assert.Equal(t, "/app/w", ev.Path)

		ok, _, deleted, err := c.ExistsW("/app/w/kid")
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, other.Delete("/app/w/kid", -1))
		ev = nextEvent(t, deleted)
		assert.Equal(t, zk.EventNodeDeleted, ev.Type)

		// One shot: a second change fires nothing on a spent watch (go-zk
		// closes the channel after its one event).
		_, err = other.Set("/app/w", []byte("c"), -1)
		require.NoError(t, err)
		_, open := <-changed
		assert.False(t, open)
		other.Close()
	})

	t.Run("delete with versions", func(t *testing.T) {
		_, err := c.Create("/app/d", nil, 0, openACL)
		require.NoError(t, err)
		_, err = c.Create("/app/d/x", nil, 0, openACL)
		require.NoError(t, err)
		assert.ErrorIs(t, c.Delete("/app/d", -1), zk.ErrNotEmpty)
		assert.ErrorIs(t, c.Delete("/app/d/x", 3), zk.ErrBadVersion)
		require.NoError(t, c.Delete("/app/d/x", 0))
		require.NoError(t, c.Delete("/app/d", -1))
		assert.ErrorIs(t, c.Delete("/app/d", -1), zk.ErrNoNode)
		ok, _, err := c.Exists("/app/d")
		require.NoError(t, err)
		assert.False(t, ok)
	})

	t.Run("multi applies all or nothing", func(t *testing.T) {
		res, err := c.Multi(
			&zk.CreateRequest{Path: "/app/m", Data: []byte("1"), Acl: openACL},
			&zk.SetDataRequest{Path: "/app/m", Data: []byte("2"), Version: 0},
			&zk.CheckVersionRequest{Path: "/app/m", Version: 1},
		)
		require.NoError(t, err)
		require.Len(t, res, 3)
		assert.Equal(t, "/app/m", res[0].String)
		data, _, err := c.Get("/app/m")
		require.NoError(t, err)
		assert.Equal(t, "2", string(data))

		res, err = c.Multi(
			&zk.SetDataRequest{Path: "/app/m", Data: []byte("3"), Version: 1},
			&zk.CheckVersionRequest{Path: "/app/m", Version: 7},
		)
		require.Error(t, err)
		require.Len(t, res, 2)
		assert.ErrorIs(t, res[1].Error, zk.ErrBadVersion)
		data, _, err = c.Get("/app/m")
		require.NoError(t, err)
		assert.Equal(t, "2", string(data), "a failed multi changes nothing")
	})

	t.Run("sync", func(t *testing.T) {
		p, err := c.Sync("/app")
		require.NoError(t, err)
		assert.Equal(t, "/app", p)
	})

	t.Run("children and ACLs", func(t *testing.T) {
		kids, st, err := c.Children("/app")
		require.NoError(t, err)
		assert.Contains(t, kids, "job-0000000000")
		assert.Equal(t, int32(len(kids)), st.NumChildren)
		acl, _, err := c.GetACL("/app")
		require.NoError(t, err)
		assert.Equal(t, openACL, acl)
	})

	t.Run("ACLs and authentication", func(t *testing.T) {
		alice := connect(t, all, 4*time.Second)
		require.NoError(t, alice.AddAuth("digest", []byte("alice:secret")))
		anon := connect(t, all, 4*time.Second)
		aliceOnly := zk.DigestACL(zk.PermAll, "alice", "secret")
		_, err := alice.Create("/app/acl", []byte("secret"), 0, aliceOnly)
		require.NoError(t, err)
		_, err = alice.Create("/app/acl/kid", nil, 0, openACL)
		require.NoError(t, err)
		_, err = alice.Create("/app/authed", nil, 0, zk.AuthACL(zk.PermAll))
		require.NoError(t, err)
		acl, _, err := alice.GetACL("/app/authed")
		require.NoError(t, err)
		assert.Equal(t, aliceOnly, acl, "auth expands to the creator's digest")
		_, err = anon.Sync("/app")
		require.NoError(t, err)

		_, _, err = anon.Get("/app/acl")
		assert.ErrorIs(t, err, zk.ErrNoAuth, "READ")
		_, err = anon.Set("/app/acl", nil, -1)
		assert.ErrorIs(t, err, zk.ErrNoAuth, "WRITE")
		_, _, err = anon.Children("/app/acl")
		assert.ErrorIs(t, err, zk.ErrNoAuth)
		_, _, err = anon.GetACL("/app/acl")
		assert.ErrorIs(t, err, zk.ErrNoAuth, "getACL needs READ or ADMIN")
		_, err = anon.Create("/app/acl/x", nil, 0, openACL)
		assert.ErrorIs(t, err, zk.ErrNoAuth, "the parent's CREATE")
		assert.ErrorIs(t, anon.Delete("/app/acl/kid", -1), zk.ErrNoAuth, "the parent's DELETE")
		ok, _, err := anon.Exists("/app/acl")
		require.NoError(t, err)
		assert.True(t, ok, "exists needs nothing")
		_, err = anon.SetACL("/app/acl", openACL, -1)
		assert.ErrorIs(t, err, zk.ErrNoAuth, "ADMIN")
		_, err = anon.Create("/app/noid", nil, 0, zk.AuthACL(zk.PermAll))
		assert.ErrorIs(t, err, zk.ErrInvalidACL, "auth without an authenticated id")
		_, err = anon.Create("/app/bad", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "kerberos", ID: "x"}})
		assert.ErrorIs(t, err, zk.ErrInvalidACL, "a scheme without provider")
		_, err = anon.Create("/app/bad", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "world", ID: "someone"}})
		assert.ErrorIs(t, err, zk.ErrInvalidACL)
		_, err = anon.Create("/app/bad", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "10.0.0.0/33"}})
		assert.ErrorIs(t, err, zk.ErrInvalidACL)

		mixed := append([]zk.ACL{{Perms: zk.PermRead, Scheme: "world", ID: "anyone"}}, aliceOnly...)
		_, err = alice.Create("/app/mixed", nil, 0, mixed)
		require.NoError(t, err)
		_, err = anon.Sync("/app")
		require.NoError(t, err)
		acl, _, err = anon.GetACL("/app/mixed")
		require.NoError(t, err)
		assert.Equal(t, []zk.ACL{mixed[0], {Perms: zk.PermAll, Scheme: "digest", ID: "alice:x"}}, acl, "digests masked without ADMIN")
		acl, _, err = alice.GetACL("/app/mixed")
		require.NoError(t, err)
		assert.Equal(t, mixed, acl)

		st, err := alice.SetACL("/app/acl", aliceOnly, 0)
		require.NoError(t, err)
		assert.Equal(t, int32(1), st.Aversion)
		_, err = alice.SetACL("/app/acl", aliceOnly, 0)
		assert.ErrorIs(t, err, zk.ErrBadVersion)

		_, err = alice.Create("/app/local", nil, 0, []zk.ACL{{Perms: zk.PermRead, Scheme: "ip", ID: "127.0.0.1"}})
		require.NoError(t, err)
		_, err = alice.Create("/app/far", nil, 0, []zk.ACL{{Perms: zk.PermRead, Scheme: "ip", ID: "10.0.0.0/8"}})
		require.NoError(t, err)
		_, err = anon.Sync("/app")
		require.NoError(t, err)
		_, _, err = anon.Get("/app/local")
		assert.NoError(t, err, "every connection holds its address")
		_, _, err = anon.Get("/app/far")
		assert.ErrorIs(t, err, zk.ErrNoAuth)

		admin := connect(t, all, 4*time.Second)
		require.NoError(t, admin.AddAuth("digest", []byte("super:admin")))
		_, err = admin.Set("/app/acl", []byte("by super"), -1)
		require.NoError(t, err, "the super digest from the config")
		_, _, err = admin.Get("/app/far")
		require.NoError(t, err)

		bad := connect(t, all, 4*time.Second)
		assert.ErrorIs(t, bad.AddAuth("kerberos", []byte("x")), zk.ErrAuthFailed)
	})

	t.Run("closing a session deletes its ephemerals", func(t *testing.T) {
		s2 := connect(t, all, 4*time.Second)
		_, err := s2.Create("/app/mine", nil, zk.FlagEphemeral, openACL)
		require.NoError(t, err)
		_, err = c.Sync("/app") // c's server may not have applied the create yet
		require.NoError(t, err)
		ok, _, gone, err := c.ExistsW("/app/mine")
		require.NoError(t, err)
		require.True(t, ok)
		s2.Close()
		ev := nextEvent(t, gone)
		assert.Equal(t, zk.EventNodeDeleted, ev.Type)
		_, err = c.Sync("/app")
		require.NoError(t, err)
		ok, _, err = c.Exists("/app/mine")
		require.NoError(t, err)
		assert.False(t, ok)
	})

	t.Run("an expired session loses its ephemerals and is told", func(t *testing.T) {
		var cut atomic.Bool
		var mu sync.Mutex
		var conns []net.Conn
		dialer := func(network, addr string, timeout time.Duration) (net.Conn, error) {
			if cut.Load() {
				return nil, errors.New("cut off by the test")
			}
			conn, err := net.DialTimeout(network, addr, timeout)
			if err == nil {
				mu.Lock()
				conns = append(conns, conn)
				mu.Unlock()
			}
			return conn, err
		}
		s3 := connectVia(t, all, 800*time.Millisecond, dialer)
		id := s3.SessionID()
		_, err := s3.Create("/app/doomed", nil, zk.FlagEphemeral, openACL)
		require.NoError(t, err)
		_, err = c.Sync("/app")
		require.NoError(t, err)
		ok, _, gone, err := c.ExistsW("/app/doomed")
		require.NoError(t, err)
		require.True(t, ok)
		// Cut the client off every server for longer than its timeout.
		cut.Store(true)
		mu.Lock()
		for _, conn := range conns {
			conn.Close()
		}
		mu.Unlock()
		ev := nextEvent(t, gone)
		assert.Equal(t, zk.EventNodeDeleted, ev.Type, "the leader expired the session")
		cut.Store(false)
		s3.waitState(t, zk.StateExpired, 30*time.Second)
		s3.waitState(t, zk.StateHasSession, 30*time.Second) // go-zk starts a new session
		assert.NotEqual(t, id, s3.SessionID())
		s3.Close()
	})

	t.Run("a session moves to another server when its server is killed", func(t *testing.T) {
		s4 := connect(t, all, 4*time.Second)
		id := s4.SessionID()
		_, err := s4.Create("/app/survivor", []byte("s"), zk.FlagEphemeral, openACL)
		require.NoError(t, err)
		on := s4.Server()
		tg.kill(t, on)
		eventually(t, 60*time.Second, "a write after the kill", func() error {
			_, err := s4.Set("/app/survivor", []byte("t"), -1)
			return err
		})
		assert.Equal(t, id, s4.SessionID(), "the same session, on another server")
		assert.NotEqual(t, on, s4.Server())
		data, st, err := s4.Get("/app/survivor")
		require.NoError(t, err)
		assert.Equal(t, "t", string(data))
		assert.Equal(t, id, st.EphemeralOwner, "the ephemeral lives on with its session")
		// The killed server comes back and catches up.
		tg.restart(t, on)
		back := connect(t, []string{on}, 4*time.Second)
		eventually(t, 60*time.Second, "the restarted server has the write", func() error {
			if _, err := back.Sync("/app"); err != nil {
				return err
			}
			data, _, err := back.Get("/app/survivor")
			if err != nil {
				return err
			}
			if string(data) != "t" {
				return fmt.Errorf("data %q", data)
			}
			return nil
		})
	})
}

func TestGoZK_StandaloneServer(t *testing.T) {
	skipProcesses(t)
	e := startEnsemble(t, 1, LocalOptions{Extra: []string{"extendedTypesEnabled=true"}})
	c := connect(t, e.ClientAddrs(), 4*time.Second)
	eventually(t, 30*time.Second, "a write", func() error {
		_, err := c.Create("/a", []byte("x"), 0, openACL)
		if errors.Is(err, zk.ErrNodeExists) {
			return nil
		}
		return err
	})
	p, err := c.CreateTTL("/a/ttl-", nil, zk.FlagPersistentSequentialWithTTL, openACL, time.Minute)
	require.NoError(t, err, "extendedTypesEnabled=true allows TTL nodes")
	assert.True(t, strings.HasPrefix(p, "/a/ttl-"))
}

// TestGoZK_ThreeServerRaftEnsemble: the same ensemble on the etcd raft
// engine (zoosim.engine=raft): writes through every server, a synced read
// of each from every server, and the trees agree after the leader's
// process is killed and restarted.
func TestGoZK_ThreeServerRaftEnsemble(t *testing.T) {
	skipProcesses(t)
	e := startEnsemble(t, 3, LocalOptions{Extra: []string{"zoosim.engine=raft"}})
	waitServing(t, e)
	for i, s := range e.Servers {
		c := connect(t, []string{s.ClientAddr()}, 4*time.Second)
		p := fmt.Sprintf("/raft-%d", i)
		_, err := c.Create(p, []byte(p), 0, openACL)
		require.NoError(t, err, "a write through server %d", s.ID)
		c.Close()
	}
	for _, s := range e.Servers {
		c := connect(t, []string{s.ClientAddr()}, 4*time.Second)
		_, err := c.Sync("/")
		require.NoError(t, err)
		for i := range e.Servers {
			p := fmt.Sprintf("/raft-%d", i)
			data, _, err := c.Get(p)
			require.NoError(t, err, "server %d reads %s", s.ID, p)
			assert.Equal(t, p, string(data))
		}
		c.Close()
	}
	victim := e.Servers[0]
	victim.Kill()
	c := connect(t, e.ClientAddrs()[1:], 4*time.Second)
	eventually(t, 30*time.Second, "a write with a server down", func() error {
		_, err := c.Create("/after-kill", nil, 0, openACL)
		if errors.Is(err, zk.ErrNodeExists) {
			return nil
		}
		return err
	})
	c.Close()
	require.NoError(t, victim.Start(zoosimBinary(t)))
	waitServing(t, e)
	var trees []map[string]dumpNode
	for _, s := range e.Servers {
		sc := connect(t, []string{s.ClientAddr()}, 4*time.Second)
		_, err := sc.Sync("/")
		require.NoError(t, err)
		tree, err := dumpTree(sc.Conn)
		require.NoError(t, err)
		trees = append(trees, tree)
		sc.Close()
	}
	for i := range trees[1:] {
		assert.Equal(t, trees[0], trees[i+1], "server %d's tree differs from server 1's", e.Servers[i+1].ID)
	}
	assert.Contains(t, trees[0], "/after-kill")
}
