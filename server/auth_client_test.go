package server

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/client"
	"zoosim/model"
	"zoosim/node"
	"zoosim/quorum"
	"zoosim/quorum/engines"
	"zoosim/wire"
)

// authStory runs zoosim's client library against a 3-server ensemble in the
// simulated world: a client authenticates, protects a node with an auth
// ACL, loses its server to a crash, and keeps its identity on the next
// server (the client re-sends its credentials); a client without them is
// refused, and one with a scheme no provider handles is AuthFailed. It
// returns the world's trace hash.
func authStory(t *testing.T, engine string, seed uint64) uint64 {
	spec, err := engines.Lookup(engine)
	require.NoError(t, err)
	v := quorum.NewMajority(3)
	e := newEnsembleWith(t, seed, 3, func(cfg *Config) {
		cfg.NewEngine = func(sm quorum.StateMachine, env node.Env) (quorum.Engine, error) {
			return spec.New(engines.Params{Verifier: v, StateMachine: sm}, env)
		}
	})
	servers := []node.ID{1, 2, 3}
	clients := map[node.ID]*client.Client{}
	results := map[node.ID][]client.Result{}
	events := map[node.ID][]client.Event{}
	add := func(id node.ID) {
		e.w.AddNode(id, func(env node.Env) node.Machine {
			c, err := client.New(client.Config{Servers: servers, SessionTimeout: 4 * node.Second}, id, env.Rand, env.Now)
			require.NoError(t, err)
			clients[id] = c
			return c
		})
	}
	// take collects what a client produced (the world steps it; the test
	// reads it between runs).
	take := func() {
		for id, c := range clients {
			results[id] = append(results[id], c.TakeResults()...)
			events[id] = append(events[id], c.TakeEvents()...)
		}
	}
	result := func(id node.ID, xid int32) *client.Result {
		t.Helper()
		take()
		for i := range results[id] {
			if results[id][i].Xid == xid {
				return &results[id][i]
			}
		}
		t.Fatalf("client %d: no result for xid %d", id, xid)
		return nil
	}
	in := func(id node.ID, f func(c *client.Client)) {
		f(clients[id])
		e.w.Drain(id)
	}
	e.waitServing(5 * node.Second)
	add(100)
	add(101)
	add(102)
	e.w.RunFor(node.Second)
	for id, c := range clients {
		require.Equal(t, client.Connected, c.State(), "client %d", id)
	}

	var create, set int32
	in(100, func(c *client.Client) {
		c.AddAuth("digest", []byte("alice:secret"))
		create = c.Create("/secret", []byte("s"), []model.ACL{{Perms: model.PermAll, Scheme: model.SchemeAuth}}, model.ModePersistent)
	})
	e.w.RunFor(500 * ms)
	require.Equal(t, model.ErrOK, result(100, create).Err)

	// Crash the server alice is on; her client moves and re-authenticates.
	on := clients[100].Server()
	e.w.Crash(on)
	e.w.RunFor(8 * node.Second)
	e.w.Restart(on)
	e.w.RunFor(2 * node.Second)
	require.Equal(t, client.Connected, clients[100].State())
	require.NotEqual(t, on, clients[100].Server(), "alice's client moved")
	in(100, func(c *client.Client) { set = c.SetData("/secret", []byte("t"), -1) })
	e.w.RunFor(500 * ms)
	assert.Equal(t, model.ErrOK, result(100, set).Err, "the identity followed the client to its new server")

	var stranger, get int32
	in(101, func(c *client.Client) {
		c.AddAuth("digest", []byte("alice:wrong"))
		stranger = c.SetData("/secret", nil, -1)
		get = c.GetData("/secret", false)
	})
	e.w.RunFor(500 * ms)
	assert.Equal(t, model.ErrNoAuth, result(101, stranger).Err)
	assert.Equal(t, model.ErrNoAuth, result(101, get).Err)

	in(102, func(c *client.Client) { c.AddAuth("kerberos", []byte("x")) })
	e.w.RunFor(500 * ms)
	take()
	assert.Equal(t, client.AuthFailed, clients[102].State())
	require.NotEmpty(t, events[102])
	assert.Equal(t, wire.StateAuthFailed, events[102][len(events[102])-1].State)
	return e.w.TraceHash()
}

func TestServer_ClientLibraryKeepsItsIdentityAcrossAFailover(t *testing.T) {
	for _, engine := range engines.Names() {
		t.Run(engine, func(t *testing.T) {
			h := authStory(t, engine, 21)
			assert.Equal(t, h, authStory(t, engine, 21), "the same seed, the same trace: authentication is deterministic")
		})
	}
}
