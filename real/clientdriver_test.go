package real

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"zoosim/client"
	"zoosim/model"
	"zoosim/node"
)

// clientHarness drives one zoosim client machine over the client driver
// and lets the test submit requests and wait for their results.
type clientHarness struct {
	t       *testing.T
	d       *ClientDriver
	c       *client.Client
	results map[int32]client.Result
	ctx     context.Context
}

// resultsMachine is the client machine plus the collection of its results
// (on the driver's goroutine).
type resultsMachine struct {
	*client.Client
	results map[int32]client.Result
}

func (m *resultsMachine) take() {
	for _, r := range m.TakeResults() {
		m.results[r.Xid] = r
	}
	m.TakeEvents()
}
func (m *resultsMachine) Step(now node.Time, msg node.Message) { m.Client.Step(now, msg); m.take() }
func (m *resultsMachine) Tick(now node.Time)                   { m.Client.Tick(now); m.take() }

func newClientHarness(t *testing.T, e *LocalEnsemble) *clientHarness {
	var servers []node.ID
	for _, s := range e.Servers {
		servers = append(servers, node.ID(s.ID))
	}
	c, err := client.New(client.Config{Servers: servers, SessionTimeout: 4 * node.Second},
		101, rand.New(rand.NewPCG(1, 2)), 0)
	require.NoError(t, err)
	m := &resultsMachine{Client: c, results: map[int32]client.Result{}}
	d, err := NewClientDriver(ClientDriverOptions{Machines: map[node.ID]node.Machine{101: m},
		Addr: func(_, s node.ID) string { return e.Servers[s-1].ClientAddr() }})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return &clientHarness{t: t, d: d, c: c, results: m.results, ctx: ctx}
}

// do runs fn on the driver's goroutine.
func (h *clientHarness) do(fn func()) {
	h.t.Helper()
	require.NoError(h.t, h.d.Do(h.ctx, func(node.Time) { fn() }))
}

// await submits a request and waits (bounded) for its result.
func (h *clientHarness) await(submit func(c *client.Client) int32) client.Result {
	h.t.Helper()
	var xid int32
	h.do(func() { xid = submit(h.c) })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var r client.Result
		var ok bool
		h.do(func() { r, ok = h.results[xid] })
		if ok {
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("no result for xid %d in 30 s", xid)
	return client.Result{}
}

func TestClientDriver_RunsTheClientMachineAgainstRealServers(t *testing.T) {
	skipProcesses(t)
	e := startEnsemble(t, 3, LocalOptions{})
	h := newClientHarness(t, e)

	// The first requests wait for an elected leader: retry connection loss.
	var r client.Result
	for range 20 {
		r = h.await(func(c *client.Client) int32 { return c.Create("/x", []byte("v1"), nil, model.ModePersistent) })
		if r.Err != model.ErrConnectionLoss {
			break
		}
	}
	require.Equal(t, model.ErrOK, r.Err, "create: %v", r.Err)
	require.Equal(t, "/x", r.Path)
	require.NotZero(t, r.Zxid)

	r = h.await(func(c *client.Client) int32 { return c.GetData("/x", false) })
	require.Equal(t, model.ErrOK, r.Err)
	require.Equal(t, "v1", string(r.Data))

	// Kill the server the session is on: the broken connection reaches the
	// client machine, which moves to another server and keeps its session.
	var server node.ID
	var session int64
	h.do(func() { server, session = h.c.Server(), h.c.SessionID() })
	require.NotZero(t, server)
	e.Servers[server-1].Kill()
	var moved node.ID
	for range 50 {
		r = h.await(func(c *client.Client) int32 { return c.SetData("/x", []byte("v2"), -1) })
		h.do(func() { moved = h.c.Server() })
		if r.Err == model.ErrOK {
			break
		}
		require.Contains(t, []model.Err{model.ErrConnectionLoss}, r.Err)
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, model.ErrOK, r.Err)
	require.NotEqual(t, server, moved, "the client moved off the killed server")
	var now int64
	h.do(func() { now = h.c.SessionID() })
	require.Equal(t, session, now, "the session survived the move")

	var stats ClientDriverStats
	h.do(func() { stats = h.d.Stats() })
	require.GreaterOrEqual(t, stats.Broken, 1, "the killed server's connection broke")
	require.GreaterOrEqual(t, stats.Dials, 2)

	r = h.await(func(c *client.Client) int32 { return c.GetData("/x", false) })
	require.Equal(t, model.ErrOK, r.Err)
	require.Equal(t, "v2", string(r.Data))
}

func TestClientDriver_RefusesBadOptions(t *testing.T) {
	_, err := NewClientDriver(ClientDriverOptions{})
	require.Error(t, err)
	_, err = NewClientDriver(ClientDriverOptions{Machines: map[node.ID]node.Machine{0: nil}, Addr: func(_, _ node.ID) string { return "" }})
	require.Error(t, err)
}
