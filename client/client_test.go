package client

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/model"
	"zoosim/node"
	"zoosim/wire"
)

const clientID node.ID = 100

// next is the server after s in the ensemble 1, 2, 3.
func next(s node.ID) node.ID { return s%3 + 1 }

// connected builds an env of three servers and a client connected to one.
func connected(t *testing.T, cfg Config) (*testEnv, *Client) {
	t.Helper()
	e := newEnv(t, 1, 2, 3)
	c := e.addClient(clientID, cfg, 7)
	require.Equal(t, Connected, c.State())
	e.take(clientID)
	return e, c
}

// manual makes every server wait for the test to write its replies.
func manual(e *testEnv) {
	for _, s := range e.ens.servers {
		s.auto = false
	}
}

func TestNew_RejectsInvalidConfig(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	ok := Config{Servers: []node.ID{1, 2}, SessionTimeout: node.Second}
	for name, tc := range map[string]struct {
		cfg  Config
		self node.ID
		rnd  *rand.Rand
	}{
		"no servers":           {Config{SessionTimeout: node.Second}, clientID, rnd},
		"zero server id":       {Config{Servers: []node.ID{1, 0}, SessionTimeout: node.Second}, clientID, rnd},
		"duplicate server":     {Config{Servers: []node.ID{1, 1}, SessionTimeout: node.Second}, clientID, rnd},
		"client is a server":   {Config{Servers: []node.ID{1, clientID}, SessionTimeout: node.Second}, clientID, rnd},
		"zero timeout":         {Config{Servers: []node.ID{1}}, clientID, rnd},
		"negative timeout":     {Config{Servers: []node.ID{1}, SessionTimeout: -node.Second}, clientID, rnd},
		"sub-millisecond":      {Config{Servers: []node.ID{1}, SessionTimeout: node.Microsecond}, clientID, rnd},
		"negative outstanding": {Config{Servers: []node.ID{1}, SessionTimeout: node.Second, MaxOutstanding: -1}, clientID, rnd},
		"negative backoff":     {Config{Servers: []node.ID{1}, SessionTimeout: node.Second, BackoffMax: -1}, clientID, rnd},
		"zero client id":       {ok, 0, rnd},
		"nil rand":             {ok, clientID, nil},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := New(tc.cfg, tc.self, tc.rnd, 0)
			assert.Error(t, err)
			assert.Nil(t, c)
		})
	}
	c, err := New(ok, clientID, rnd, 0)
	require.NoError(t, err)
	assert.Equal(t, Connecting, c.State())
}

func TestClient_ConnectsToARandomServerThenRoundRobin(t *testing.T) {
	firsts := map[node.ID]bool{}
	for seed := range uint64(32) {
		e := newEnv(t, 1, 2, 3)
		for _, s := range e.ens.servers {
			s.mode = silent
		}
		e.addClient(clientID, Config{SessionTimeout: 3 * node.Second, BackoffMax: node.Millisecond}, seed)
		e.run(3*node.Second - 1)
		connects := sentOf[*wire.Connect](e, 0)
		require.Len(t, connects, 3, "one attempt per connectTimeout = 3s/3")
		var to []node.ID
		for _, m := range e.sent {
			if _, ok := m.Body.(*wire.Connect); ok {
				to = append(to, m.To)
			}
		}
		firsts[to[0]] = true
		assert.Equal(t, []node.ID{to[0], next(to[0]), next(next(to[0]))}, to)
		for _, cn := range connects {
			assert.NotZero(t, cn.Conn)
			assert.Equal(t, uint64(1), cn.Seq)
			assert.Equal(t, int32(3000), cn.TimeoutMs)
			assert.Zero(t, cn.SessionID)
			assert.Zero(t, cn.LastZxidSeen)
		}
		assert.NotEqual(t, connects[0].Conn, connects[1].Conn, "a fresh nonce per connection")
	}
	assert.Len(t, firsts, 3, "the starting server is drawn from rnd")
}

func TestClient_EstablishesTheSessionAndReportsSyncConnected(t *testing.T) {
	e := newEnv(t, 1, 2, 3)
	for _, s := range e.ens.servers {
		s.timeoutMs = 1500
	}
	c := e.addClient(clientID, Config{SessionTimeout: 3 * node.Second}, 1)
	require.Equal(t, Connected, c.State())
	assert.NotZero(t, c.SessionID())
	assert.Equal(t, 1500*node.Millisecond, c.NegotiatedTimeout())
	assert.Equal(t, e.sent[0].To, c.Server())
	_, evs := e.take(clientID)
	assert.Equal(t, []wire.KeeperState{wire.StateSyncConnected}, stateEvents(evs))
	assert.Equal(t, 1, c.Stats().Connections)
}

func TestClient_XidsCountUpFromOneAndRequestsGoOutInOrder(t *testing.T) {
	e := newEnv(t, 1, 2, 3)
	for _, s := range e.ens.servers {
		s.mode = silent
	}
	c := e.addClient(clientID, Config{}, 3)
	// Submitted before the session exists: queued.
	x1 := c.Create("/a", []byte("1"), nil, model.ModePersistent)
	x2 := c.GetData("/a", false)
	x3 := c.SetData("/a", []byte("2"), -1)
	assert.Equal(t, []int32{1, 2, 3}, []int32{x1, x2, x3})
	assert.Equal(t, 3, c.Outstanding())
	e.pump()
	assert.Empty(t, sentOf[*wire.Request](e, 0), "nothing is sent before Connected")

	for _, s := range e.ens.servers {
		s.mode = serve
	}
	e.run(node.Second) // the attempt times out; the next server answers
	require.Equal(t, Connected, c.State())
	reqs := sentOf[*wire.Request](e, 0)
	require.Len(t, reqs, 3)
	for i, r := range reqs {
		assert.Equal(t, int32(i+1), r.Xid)
		assert.Equal(t, uint64(i+2), r.Seq, "after the Connect's Seq 1")
	}
	assert.Equal(t, model.OpCreate, reqs[0].Op)
	assert.Equal(t, model.OpGetData, reqs[1].Op)
	assert.Equal(t, model.OpSetData, reqs[2].Op)

	rs, _ := e.take(clientID)
	assert.Equal(t, []int32{1, 2, 3}, xidsOf(rs))
	assert.Equal(t, []model.Err{model.ErrOK, model.ErrOK, model.ErrOK}, errsOf(rs))
	assert.Equal(t, "/a", rs[0].Path)
	assert.Equal(t, []byte("1"), rs[1].Data)
	assert.Equal(t, int32(1), rs[2].Stat.Version)
	assert.Equal(t, 0, c.Outstanding())
	for i := 1; i < len(rs); i++ {
		assert.Less(t, rs[i-1].Order, rs[i].Order)
	}
}

func TestClient_RepliesCompleteInFIFOOrderAndAdvanceLastZxid(t *testing.T) {
	e, c := connected(t, Config{})
	manual(e)
	srv := e.server(c.Server())
	a := c.Exists("/a", false)
	b := c.Create("/b", nil, nil, model.ModePersistent)
	e.pump()
	srv.reply(model.ErrNoNode, 5)
	e.pump()
	assert.Equal(t, model.Zxid(5), c.LastZxid())
	srv.reply(model.ErrOK, 9)
	e.pump()
	rs, _ := e.take(clientID)
	assert.Equal(t, []int32{a, b}, xidsOf(rs))
	assert.Equal(t, []model.Err{model.ErrNoNode, model.ErrOK}, errsOf(rs))
	assert.Equal(t, []model.Zxid{5, 9}, []model.Zxid{rs[0].Zxid, rs[1].Zxid})
	assert.True(t, rs[0].Sent)
	assert.Equal(t, model.Zxid(9), c.LastZxid())
}

func TestClient_ReplyOutOfXidOrderBreaksTheConnection(t *testing.T) {
	e, c := connected(t, Config{})
	manual(e)
	first := c.Server()
	srv := e.server(first)
	c.GetData("/a", false)
	c.GetData("/b", false)
	e.pump()
	// Answer the second request first: ZooKeeper's "Xid out of order".
	srv.send(srv.cur, &wire.Reply{Xid: 2})
	mark := len(e.sent)
	e.pump()
	rs, evs := e.take(clientID)
	assert.Equal(t, []int32{1, 2}, xidsOf(rs))
	assert.Equal(t, []model.Err{model.ErrConnectionLoss, model.ErrConnectionLoss}, errsOf(rs))
	assert.Equal(t, []wire.KeeperState{wire.StateDisconnected, wire.StateSyncConnected}, stateEvents(evs))
	assert.Equal(t, 1, c.Stats().ProtocolErrors)
	closes := sentOf[*wire.Close](e, mark)
	require.Len(t, closes, 1)
	assert.Equal(t, wire.CloseBroken, closes[0].Reason)
	assert.Equal(t, next(first), c.Server())
}

func TestClient_ReplyWithNothingPendingBreaksTheConnection(t *testing.T) {
	e, c := connected(t, Config{})
	srv := e.server(c.Server())
	srv.send(srv.cur, &wire.Reply{Xid: 1})
	e.pump()
	assert.Equal(t, 1, c.Stats().ProtocolErrors)
	assert.Equal(t, 2, c.Stats().Connections)
}

func TestClient_PingsAtOneThirdOfTheTimeout(t *testing.T) {
	e, c := connected(t, Config{SessionTimeout: 3 * node.Second})
	start := e.now
	srv := e.server(c.Server())
	assert.Equal(t, start+node.Second, c.Ready().WakeAt)
	e.runUntil(start + node.Second - 1)
	assert.Zero(t, srv.pings)
	e.runUntil(start + node.Second)
	assert.Equal(t, 1, srv.pings, "ping after 1/3 of the timeout without sending")
	e.runUntil(start + 2*node.Second)
	assert.Equal(t, 2, srv.pings)
	e.runUntil(start + 10*node.Second)
	assert.Equal(t, 10, srv.pings)
	assert.Equal(t, Connected, c.State(), "pongs keep the connection alive")
	assert.Equal(t, 1, c.Stats().Connections)
}

func TestClient_SendingPostponesThePing(t *testing.T) {
	e, c := connected(t, Config{SessionTimeout: 3 * node.Second})
	start := e.now
	srv := e.server(c.Server())
	e.runUntil(start + 500*node.Millisecond)
	c.Tick(e.now) // a driver tells the client the time before it submits
	c.Exists("/a", false)
	e.pump()
	assert.Equal(t, start+1500*node.Millisecond, c.Ready().WakeAt)
	e.runUntil(start + 1500*node.Millisecond - 1)
	assert.Zero(t, srv.pings)
	e.runUntil(start + 1500*node.Millisecond)
	assert.Equal(t, 1, srv.pings)
}

func TestClient_FailsOverToTheNextServerAfterTwoThirdsOfSilence(t *testing.T) {
	e, c := connected(t, Config{SessionTimeout: 3 * node.Second})
	manual(e)
	start := e.now
	first := c.Server()
	sid := c.SessionID()
	srv := e.server(first)
	c.Create("/a", nil, nil, model.ModePersistent)
	e.pump()
	srv.reply(model.ErrOK, 42)
	c.GetData("/a", false) // sent, never answered
	e.pump()
	srv.mode = silent
	e.take(clientID)
	mark := len(e.sent)

	e.runUntil(start + 2*node.Second - 1)
	assert.Equal(t, Connected, c.State())
	assert.Empty(t, sentOf[*wire.Connect](e, mark))
	e.runUntil(start + 2*node.Second)
	connects := sentOf[*wire.Connect](e, mark)
	require.Len(t, connects, 1, "a new attempt once 2/3 of the timeout passed unheard")
	assert.Equal(t, sid, connects[0].SessionID, "the same session")
	assert.Equal(t, []byte("pw"), connects[0].Passwd)
	assert.Equal(t, model.Zxid(42), connects[0].LastZxidSeen, "the last zxid seen")
	assert.Equal(t, Connected, c.State())
	assert.Equal(t, next(first), c.Server())
	assert.Equal(t, sid, c.SessionID())

	rs, evs := e.take(clientID)
	require.Len(t, rs, 1)
	assert.Equal(t, model.ErrConnectionLoss, rs[0].Err)
	assert.True(t, rs[0].Sent, "its outcome is unknown")
	assert.Equal(t, []wire.KeeperState{wire.StateDisconnected, wire.StateSyncConnected}, stateEvents(evs))
}

func TestClient_ConnectAttemptTimesOutAfterTimeoutOverServers(t *testing.T) {
	e := newEnv(t, 1, 2, 3)
	for _, s := range e.ens.servers {
		s.mode = silent
	}
	c := e.addClient(clientID, Config{SessionTimeout: 3 * node.Second}, 11)
	start := e.now
	first := e.sent[0].To
	assert.Equal(t, start+node.Second, c.Ready().WakeAt)
	e.server(next(first)).mode = serve
	e.runUntil(start + node.Second - 1)
	assert.Equal(t, Connecting, c.State())
	e.runUntil(start + node.Second)
	assert.Equal(t, Connected, c.State())
	assert.Equal(t, next(first), c.Server())
}

func TestClient_SkipsAServerThatIsBehind(t *testing.T) {
	e, c := connected(t, Config{})
	manual(e)
	first := c.Server()
	second, third := next(first), next(next(first))
	c.SetData("/a", nil, -1)
	e.pump()
	e.server(first).reply(model.ErrOK, 77)
	e.pump()
	e.server(second).mode = behind
	e.server(first).closeConn(e.server(first).cur, wire.CloseNotServing)
	mark := len(e.sent)
	e.pump()
	connects := sentOf[*wire.Connect](e, mark)
	require.Len(t, connects, 2, "refused by %d, accepted by %d", second, third)
	assert.Equal(t, model.Zxid(77), connects[0].LastZxidSeen)
	assert.Equal(t, model.Zxid(77), connects[1].LastZxidSeen)
	assert.Equal(t, third, c.Server())
	assert.Equal(t, 2, c.Stats().ServerCloses)
	assert.Empty(t, sentOf[*wire.Close](e, mark), "a connection the server closed needs no Close")
	_, evs := e.take(clientID)
	assert.Equal(t, []wire.KeeperState{wire.StateDisconnected, wire.StateSyncConnected}, stateEvents(evs))
}

func TestClient_ConnectionLossFailsSentRequestsAndKeepsUnsentOnes(t *testing.T) {
	e, c := connected(t, Config{SessionTimeout: 3 * node.Second})
	manual(e)
	sent1 := c.Create("/a", nil, nil, model.ModePersistent)
	sent2 := c.GetData("/a", false)
	e.pump()
	for _, s := range e.ens.servers {
		s.mode = silent
	}
	e.run(2 * node.Second) // the connection is lost; attempts fail
	require.NotEqual(t, Connected, c.State())
	queued1 := c.Exists("/a", false)
	queued2 := c.Sync("/a")
	e.pump()
	rs, _ := e.take(clientID)
	assert.Equal(t, []int32{sent1, sent2}, xidsOf(rs))
	assert.Equal(t, []model.Err{model.ErrConnectionLoss, model.ErrConnectionLoss}, errsOf(rs))

	mark := len(e.sent)
	for _, s := range e.ens.servers {
		s.mode = serve
		s.auto = true
	}
	e.run(3 * node.Second)
	require.Equal(t, Connected, c.State())
	reqs := sentOf[*wire.Request](e, mark)
	require.Len(t, reqs, 2, "the unsent requests go out on the new connection")
	assert.Equal(t, []int32{queued1, queued2}, []int32{reqs[0].Xid, reqs[1].Xid})
	rs, _ = e.take(clientID)
	assert.Equal(t, []int32{queued1, queued2}, xidsOf(rs))
	assert.Equal(t, []model.Err{model.ErrNoNode, model.ErrOK}, errsOf(rs))
}

func TestClient_SessionExpiryIsReportedOnceAndFinal(t *testing.T) {
	e, c := connected(t, Config{SessionTimeout: 3 * node.Second})
	first := c.Server()
	c.Create("/eph", nil, nil, model.ModeEphemeral)
	e.pump()
	e.take(clientID)
	e.server(first).mode = silent
	e.server(next(first)).mode = silent
	e.ens.endSession(c.SessionID(), true)
	e.run(2 * node.Second) // lost; attempting the second server
	require.Equal(t, Connecting, c.State())
	queued := c.Exists("/eph", false)
	e.run(node.Second) // the third server answers: expired
	assert.Equal(t, Expired, c.State())
	rs, evs := e.take(clientID)
	assert.Equal(t, []wire.KeeperState{wire.StateDisconnected, wire.StateExpired}, stateEvents(evs))
	require.Len(t, rs, 1)
	assert.Equal(t, queued, rs[0].Xid)
	assert.Equal(t, model.ErrSessionExpired, rs[0].Err)
	assert.False(t, rs[0].Sent)
	assert.Less(t, evs[len(evs)-1].Order, rs[0].Order, "Expired is reported before the failures")

	// Final: nothing more is sent, no timer, later requests fail at once,
	// messages are ignored.
	mark := len(e.sent)
	assert.Zero(t, c.Ready().WakeAt)
	x := c.GetData("/x", false)
	cl := c.Close()
	third := e.server(next(next(first)))
	third.sendRaw(clientID, &wire.Event{Header: wire.Header{Conn: third.connects[0].Conn, Seq: 2}, Type: model.EventNodeDeleted, Path: "/eph"})
	e.run(time10s)
	assert.Empty(t, e.sent[mark:])
	rs, evs = e.take(clientID)
	assert.Empty(t, evs, "Expired is reported once")
	assert.Equal(t, []int32{x, cl}, xidsOf(rs))
	assert.Equal(t, []model.Err{model.ErrSessionExpired, model.ErrSessionExpired}, errsOf(rs))
	assert.Equal(t, Expired, c.State())
	assert.Equal(t, 0, c.Watches().Len())
}

const time10s = 10 * node.Second

func TestClient_WatchFiresOnceAndIsReRegisteredAfterReconnect(t *testing.T) {
	e, c := connected(t, Config{SessionTimeout: 3 * node.Second})
	c.Create("/w", []byte("0"), nil, model.ModePersistent)
	c.GetData("/w", true)
	c.GetChildren("/w", true)
	c.Exists("/missing", true)
	e.pump()
	assert.Equal(t, Watches{Data: []string{"/w"}, Exist: []string{"/missing"}, Child: []string{"/w"}}, c.Watches())
	e.take(clientID)

	// Another client, on another server, changes the data: the data watch
	// fires once.
	first := c.Server()
	other := e.addClient(clientID+1, Config{Servers: []node.ID{next(next(first))}}, 99)
	other.SetData("/w", []byte("1"), -1)
	other.SetData("/w", []byte("2"), -1)
	e.pump()
	_, evs := e.take(clientID)
	require.Len(t, evs, 1)
	assert.Equal(t, model.EventNodeDataChanged, evs[0].Type)
	assert.Equal(t, "/w", evs[0].Path)
	assert.Equal(t, WatchSet(0).with(model.WatchData), evs[0].Watches)
	assert.NotZero(t, evs[0].Zxid)
	assert.Equal(t, Watches{Exist: []string{"/missing"}, Child: []string{"/w"}}, c.Watches())

	// The same event sent again finds no watch: dropped.
	srv := e.server(first)
	srv.event(model.EventNodeDataChanged, "/w", 0)
	e.pump()
	_, evs = e.take(clientID)
	assert.Empty(t, evs)
	assert.Equal(t, 1, c.Stats().UnwatchedEvents)

	// Set the data watch again, then lose the connection. While the client
	// is away, /missing is created. SetWatches on the new connection
	// re-registers the data and child watches on /w and makes the new
	// server fire the exist watch at once.
	c.GetData("/w", true)
	e.pump()
	e.take(clientID)
	last := c.LastZxid()
	srv.mode = silent
	other.Create("/missing", nil, nil, model.ModePersistent)
	e.pump()
	_, evs = e.take(clientID)
	assert.Empty(t, evs, "the client is away")
	mark := len(e.sent)
	e.run(2 * node.Second)
	require.Equal(t, Connected, c.State())
	require.Equal(t, next(first), c.Server())
	reqs := sentOf[*wire.Request](e, mark)
	require.NotEmpty(t, reqs)
	sw := reqs[0]
	assert.Equal(t, wire.XidSetWatches, sw.Xid)
	assert.Equal(t, model.OpSetWatches2, sw.Op)
	require.NotNil(t, sw.SetWatches)
	assert.Equal(t, last, sw.SetWatches.RelativeZxid)
	assert.Equal(t, []string{"/w"}, sw.SetWatches.Data)
	assert.Equal(t, []string{"/missing"}, sw.SetWatches.Exist)
	assert.Equal(t, []string{"/w"}, sw.SetWatches.Child)
	rs, evs := e.take(clientID)
	assert.Empty(t, rs, "the SetWatches reply is the client's own")
	var types []model.EventType
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	assert.Equal(t, []model.EventType{model.EventNone, model.EventNone, model.EventNodeCreated}, types)
	assert.Equal(t, WatchSet(0).with(model.WatchExist), evs[2].Watches)

	// Deleting /w now fires its data and child watches, in one event.
	other.Delete("/w", -1)
	e.pump()
	_, evs = e.take(clientID)
	require.Len(t, evs, 1)
	assert.Equal(t, model.EventNodeDeleted, evs[0].Type)
	assert.Equal(t, WatchSet(0).with(model.WatchData).with(model.WatchChild), evs[0].Watches)
	assert.Equal(t, 0, c.Watches().Len())
}

func TestClient_ExistsLeavesADataWatchOrAnExistWatchByReply(t *testing.T) {
	e, c := connected(t, Config{})
	c.Create("/here", nil, nil, model.ModePersistent)
	c.Exists("/here", true)
	c.Exists("/gone", true)
	c.GetData("/gone", true)     // NoNode: no watch
	c.GetChildren("/gone", true) // NoNode: no watch
	c.Exists("/nowatch", false)
	e.pump()
	assert.Equal(t, Watches{Data: []string{"/here"}, Exist: []string{"/gone"}}, c.Watches())
}

func TestClient_PersistentAndRecursiveWatchesStayAndReRegister(t *testing.T) {
	e, c := connected(t, Config{})
	c.AddWatch("/p", false)
	c.AddWatch("/r", true)
	e.pump()
	assert.Equal(t, Watches{Persistent: []string{"/p"}, PersistentRecursive: []string{"/r"}}, c.Watches())
	e.take(clientID)
	srv := e.server(c.Server())
	srv.event(model.EventNodeDataChanged, "/p", 1)
	srv.event(model.EventNodeChildrenChanged, "/p", 2)
	srv.event(model.EventNodeCreated, "/r/a/b", 3)
	srv.event(model.EventNodeChildrenChanged, "/r", 4) // recursive watches never see it
	srv.event(model.EventNodeDeleted, "/r", 5)
	e.pump()
	_, evs := e.take(clientID)
	require.Len(t, evs, 4)
	assert.Equal(t, []string{"/p", "/p", "/r/a/b", "/r"}, []string{evs[0].Path, evs[1].Path, evs[2].Path, evs[3].Path})
	assert.True(t, evs[2].Watches.Has(model.WatchPersistentRecursive))
	assert.Equal(t, Watches{Persistent: []string{"/p"}, PersistentRecursive: []string{"/r"}}, c.Watches(), "persistent watches stay")
	assert.Equal(t, 1, c.Stats().UnwatchedEvents)

	srv.mode = silent
	mark := len(e.sent)
	e.run(3 * node.Second)
	reqs := sentOf[*wire.Request](e, mark)
	require.NotEmpty(t, reqs)
	require.NotNil(t, reqs[0].SetWatches)
	assert.Equal(t, []string{"/p"}, reqs[0].SetWatches.Persistent)
	assert.Equal(t, []string{"/r"}, reqs[0].SetWatches.PersistentRecursive)
}

func TestClient_RemoveWatchesDropsLocalWatchesOnceTheServerAgrees(t *testing.T) {
	e, c := connected(t, Config{})
	c.Create("/a", nil, nil, model.ModePersistent)
	c.GetData("/a", true)
	c.GetChildren("/a", true)
	c.AddWatch("/a", false)
	e.pump()
	e.take(clientID)
	x := c.RemoveWatches("/a", model.WatcherData)
	e.pump()
	rs, evs := e.take(clientID)
	require.Len(t, rs, 1)
	assert.Equal(t, x, rs[0].Xid)
	assert.Equal(t, model.ErrOK, rs[0].Err)
	require.Len(t, evs, 1)
	assert.Equal(t, model.EventDataWatchRemoved, evs[0].Type)
	assert.Less(t, evs[0].Order, rs[0].Order)
	assert.Equal(t, Watches{Child: []string{"/a"}, Persistent: []string{"/a"}}, c.Watches())

	c.RemoveWatches("/a", model.WatcherData) // none left locally
	c.RemoveWatches("/a", model.WatcherAny)
	e.pump()
	rs, evs = e.take(clientID)
	assert.Equal(t, []model.Err{model.ErrNoWatcher, model.ErrOK}, errsOf(rs))
	require.Len(t, evs, 2)
	assert.Equal(t, model.EventChildWatchRemoved, evs[0].Type)
	assert.Equal(t, model.EventPersistentWatchRemoved, evs[1].Type)
	assert.Equal(t, 0, c.Watches().Len())
}

func TestClient_LastZxidNeverDecreases(t *testing.T) {
	e, c := connected(t, Config{})
	manual(e)
	srv := e.server(c.Server())
	for range 4 {
		c.GetData("/a", false)
	}
	e.pump()
	srv.reply(model.ErrOK, 10)
	srv.reply(model.ErrNoNode, 7) // below: counted, not taken
	srv.reply(model.ErrOK, 0)     // no zxid
	e.pump()
	assert.Equal(t, model.Zxid(10), c.LastZxid())
	assert.Equal(t, 1, c.Stats().ZxidRegressions)
	// Pongs and events carry zxids that do not count (as in ZooKeeper).
	srv.send(srv.cur, &wire.Pong{Zxid: 50})
	srv.send(srv.cur, &wire.Event{Type: model.EventNodeCreated, Path: "/x", Zxid: 60})
	e.pump()
	assert.Equal(t, model.Zxid(10), c.LastZxid())
	srv.reply(model.ErrOK, 11)
	e.pump()
	assert.Equal(t, model.Zxid(11), c.LastZxid())
	rs, _ := e.take(clientID)
	assert.Equal(t, []model.Zxid{10, 7, 0, 11}, []model.Zxid{rs[0].Zxid, rs[1].Zxid, rs[2].Zxid, rs[3].Zxid},
		"results carry the raw reply zxid for the checkers")

	assert.PanicsWithValue(t, "client 100: invariant violated: lastZxid would go back from 0xb to 0x3",
		func() { c.setLastZxid(3) })
}

func TestClient_StaleConnectionsAndDuplicatesAreIgnored(t *testing.T) {
	e, c := connected(t, Config{})
	manual(e)
	srv := e.server(c.Server())
	fc := srv.cur
	c.GetData("/a", false)
	e.pump()
	// A message for another connection, and one from another server.
	srv.sendRaw(clientID, &wire.Reply{Header: wire.Header{Conn: fc.nonce + 1, Seq: fc.outSeq + 1}, Xid: 1})
	e.server(next(c.Server())).sendRaw(clientID, &wire.Reply{Header: wire.Header{Conn: fc.nonce, Seq: fc.outSeq + 1}, Xid: 1})
	e.pump()
	assert.Equal(t, 2, c.Stats().Ignored)
	srv.reply(model.ErrOK, 3)
	e.pump()
	// The same message again (the network duplicated it): ignored.
	srv.sendRaw(clientID, &wire.Reply{Header: wire.Header{Conn: fc.nonce, Seq: fc.outSeq}, Xid: 1, Zxid: 3})
	e.pump()
	assert.Equal(t, 3, c.Stats().Ignored)
	assert.Equal(t, Connected, c.State())
	assert.Equal(t, 1, c.Stats().Connections)
	rs, _ := e.take(clientID)
	assert.Equal(t, []int32{1}, xidsOf(rs), "completed once")
	// A Close for another connection is ignored too.
	srv.sendRaw(clientID, &wire.Close{Conn: fc.nonce + 1, Reason: wire.CloseBroken})
	e.pump()
	assert.Equal(t, Connected, c.State())
	assert.Equal(t, 4, c.Stats().Ignored)
}

func TestClient_SeqGapBreaksTheConnection(t *testing.T) {
	e, c := connected(t, Config{})
	manual(e)
	first := c.Server()
	srv := e.server(first)
	fc := srv.cur
	c.GetData("/a", false)
	c.GetData("/b", false)
	e.pump()
	// The reply with Seq n+1 was lost; n+2 arrives.
	srv.sendRaw(clientID, &wire.Reply{Header: wire.Header{Conn: fc.nonce, Seq: fc.outSeq + 2}, Xid: 2})
	e.pump()
	assert.Equal(t, 1, c.Stats().ProtocolErrors)
	rs, _ := e.take(clientID)
	assert.Equal(t, []model.Err{model.ErrConnectionLoss, model.ErrConnectionLoss}, errsOf(rs))
	assert.Equal(t, next(first), c.Server())
	// The late n+1 belongs to a dead connection now.
	srv.sendRaw(clientID, &wire.Reply{Header: wire.Header{Conn: fc.nonce, Seq: fc.outSeq + 1}, Xid: 1})
	e.pump()
	rs, _ = e.take(clientID)
	assert.Empty(t, rs)
}

func TestClient_RejectsAServerThatSwapsTheSession(t *testing.T) {
	e, c := connected(t, Config{})
	first := c.Server()
	sid := c.SessionID()
	e.server(first).closeConn(e.server(first).cur, wire.CloseNotServing)
	// The next server pretends not to know the session and makes a new one.
	delete(e.ens.sessions, sid)
	e.ens.sessions[sid+1000] = true
	srv := e.server(next(first))
	srv.mode = silent
	e.pump()
	cn := sentOf[*wire.Connect](e, 0)
	last := cn[len(cn)-1]
	srv.sendRaw(clientID, &wire.Connected{Header: wire.Header{Conn: last.Conn, Seq: 1}, TimeoutMs: 3000, SessionID: sid + 1000})
	e.pump()
	assert.Equal(t, sid, c.SessionID())
	assert.Equal(t, 1, c.Stats().ProtocolErrors)
}

func TestClient_CloseEndsTheSessionAfterEarlierRequests(t *testing.T) {
	e, c := connected(t, Config{})
	manual(e)
	srv := e.server(c.Server())
	g := c.GetData("/a", false)
	cl := c.Close()
	after := c.Exists("/a", false)
	assert.True(t, c.Closing())
	e.pump()
	rs, _ := e.take(clientID)
	assert.Equal(t, []int32{after}, xidsOf(rs))
	assert.Equal(t, model.ErrConnectionLoss, rs[0].Err, "ZooKeeper fails requests queued after close() with ConnectionLoss")
	reqs := srv.cur.inbox
	require.Len(t, reqs, 2)
	assert.Equal(t, model.OpCloseSession, reqs[1].Op)
	assert.Equal(t, model.CloseSession{}, reqs[1].Write)

	mark := len(e.sent)
	srv.reply(model.ErrOK, 5)
	srv.reply(model.ErrOK, 6)
	e.pump()
	assert.Equal(t, Closed, c.State())
	rs, evs := e.take(clientID)
	assert.Equal(t, []int32{g, cl}, xidsOf(rs))
	assert.Equal(t, model.OpCloseSession, rs[1].Op)
	assert.Equal(t, []wire.KeeperState{wire.StateClosed}, stateEvents(evs))
	assert.Less(t, rs[1].Order, evs[0].Order)
	closes := sentOf[*wire.Close](e, mark)
	require.Len(t, closes, 1)
	assert.Equal(t, wire.CloseByClient, closes[0].Reason)

	mark = len(e.sent)
	x := c.GetData("/a", false)
	e.run(time10s)
	assert.Empty(t, e.sent[mark:], "nothing is sent after Closed")
	rs, evs = e.take(clientID)
	assert.Equal(t, []int32{x}, xidsOf(rs))
	assert.Equal(t, model.ErrSessionExpired, rs[0].Err)
	assert.Empty(t, evs)
}

func TestClient_CloseWhileDisconnectedMakesOneMoreAttempt(t *testing.T) {
	e := newEnv(t, 1, 2, 3)
	for _, s := range e.ens.servers {
		s.mode = silent
	}
	c := e.addClient(clientID, Config{SessionTimeout: 3 * node.Second, BackoffMax: 500 * node.Millisecond}, 5)
	q := c.GetData("/a", false)
	e.run(3 * node.Second) // three attempts, then the pause
	require.Equal(t, NotConnected, c.State())
	attempts := c.Stats().ConnectAttempts
	cl := c.Close()
	assert.Equal(t, Connecting, c.State(), "no pause for a closing client")
	assert.Equal(t, attempts+1, c.Stats().ConnectAttempts)
	e.run(node.Second)
	assert.Equal(t, Closed, c.State())
	rs, evs := e.take(clientID)
	assert.Equal(t, []int32{q, cl}, xidsOf(rs))
	assert.Equal(t, []model.Err{model.ErrConnectionLoss, model.ErrConnectionLoss}, errsOf(rs))
	assert.Equal(t, []wire.KeeperState{wire.StateClosed}, stateEvents(evs))
}

func TestClient_RefusesRequestsBeyondMaxOutstanding(t *testing.T) {
	e, c := connected(t, Config{MaxOutstanding: 2})
	manual(e)
	srv := e.server(c.Server())
	c.GetData("/a", false)
	c.GetData("/b", false)
	over := c.GetData("/c", false)
	rs, _ := e.take(clientID)
	rs = append(rs, c.TakeResults()...)
	require.Len(t, rs, 1)
	assert.Equal(t, over, rs[0].Xid)
	assert.Equal(t, model.ErrThrottledOp, rs[0].Err)
	assert.False(t, rs[0].Sent)
	assert.Equal(t, 2, c.Outstanding())
	cl := c.Close() // always accepted
	e.pump()
	assert.Len(t, srv.cur.inbox, 3)
	srv.reply(model.ErrOK, 1)
	srv.reply(model.ErrOK, 1)
	srv.reply(model.ErrOK, 1)
	e.pump()
	rs, _ = e.take(clientID)
	assert.Equal(t, []int32{1, 2, cl}, xidsOf(rs))
	assert.Equal(t, Closed, c.State())
}

func TestClient_RefusesMalformedRequests(t *testing.T) {
	e, c := connected(t, Config{})
	for name, req := range map[string]Request{
		"ping":                 {Op: model.OpPing},
		"setWatches":           {Op: model.OpSetWatches2},
		"createSession":        {Op: model.OpCreateSession, Write: model.CreateSession{}},
		"write without record": {Op: model.OpSetData, Path: "/a"},
		"record of another op": {Op: model.OpDelete, Write: model.SetData{Path: "/a"}},
		"watch on a write":     {Op: model.OpSetData, Watch: true, Write: model.SetData{Path: "/a"}},
		"watch on sync":        {Op: model.OpSync, Path: "/a", Watch: true},
		"addWatch mode 2":      {Op: model.OpAddWatch, Path: "/a", Mode: 2},
		"removeWatches type 0": {Op: model.OpRemoveWatches, Path: "/a", Mode: 0},
		"create2 of container": {Op: model.OpCreate2, Write: model.Create{Path: "/a", Mode: model.ModeContainer}},
	} {
		x := c.Submit(req)
		rs := c.TakeResults()
		require.Len(t, rs, 1, name)
		assert.Equal(t, x, rs[0].Xid, name)
		assert.Equal(t, model.ErrBadArguments, rs[0].Err, name)
	}
	assert.Equal(t, 0, c.Outstanding())
	ok := c.Submit(Request{Op: model.OpCreate2, Path: "/a", Write: model.Create{Path: "/a", ACL: model.OpenACLUnsafe}})
	e.pump()
	rs, _ := e.take(clientID)
	require.Len(t, rs, 1)
	assert.Equal(t, ok, rs[0].Xid)
	assert.Equal(t, model.ErrOK, rs[0].Err)
}

func TestClient_BacksOffAfterAFullRoundOfFailures(t *testing.T) {
	for seed := range uint64(8) {
		e := newEnv(t, 1, 2, 3)
		for _, s := range e.ens.servers {
			s.mode = notServing // refuses at once
		}
		backoff := 800 * node.Millisecond
		c := e.addClient(clientID, Config{SessionTimeout: 3 * node.Second, BackoffMax: backoff}, seed)
		start := e.now
		assert.Equal(t, 3, c.Stats().ConnectAttempts, "one round without pausing")
		require.Equal(t, NotConnected, c.State())
		wake := c.Ready().WakeAt
		assert.GreaterOrEqual(t, wake, start+backoff/2)
		assert.LessOrEqual(t, wake, start+backoff)
		e.runUntil(wake)
		assert.Equal(t, 6, c.Stats().ConnectAttempts)
		assert.Equal(t, NotConnected, c.State())
	}
}

func TestClient_AcceptsBodiesByValue(t *testing.T) {
	e, c := connected(t, Config{})
	manual(e)
	srv := e.server(c.Server())
	fc := srv.cur
	c.GetData("/a", false)
	e.pump()
	fc.outSeq++
	c.Step(e.now, node.Message{From: srv.id, To: clientID, Body: wire.Reply{Header: wire.Header{Conn: fc.nonce, Seq: fc.outSeq}, Xid: 1, Zxid: 4}})
	rs := c.TakeResults()
	require.Len(t, rs, 1)
	assert.Equal(t, model.Zxid(4), c.LastZxid())
	assert.Panics(t, func() { c.Step(e.now, node.Message{From: srv.id, Body: "junk"}) })
}

// script is a fixed story of inputs; running it twice must give the same
// messages, results and events.
func script(t *testing.T, seed uint64) []any {
	e := newEnv(t, 1, 2, 3)
	c := e.addClient(clientID, Config{SessionTimeout: 3 * node.Second}, seed)
	c.Create("/a", []byte("x"), nil, model.ModeEphemeral)
	c.GetData("/a", true)
	e.pump()
	e.server(c.Server()).mode = silent
	e.run(2 * node.Second)
	c.SetData("/a", []byte("y"), -1)
	e.run(5 * node.Second)
	c.Close()
	e.run(node.Second)
	var trace []any
	for _, m := range e.sent {
		trace = append(trace, m)
	}
	rs, evs := e.take(clientID)
	for _, r := range rs {
		trace = append(trace, r)
	}
	for _, ev := range evs {
		trace = append(trace, ev)
	}
	return trace
}

func TestClient_IdenticalInputsGiveIdenticalOutputs(t *testing.T) {
	a, b := script(t, 42), script(t, 42)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, script(t, 43), "another seed draws other nonces")
}

func (s WatchSet) with(k model.WatchKind) WatchSet { return s | watchBit(k) }

// BenchmarkClient_RequestRoundTrip measures one request through the
// client: Submit, Ready/Advance, the reply's Step, TakeResults.
func BenchmarkClient_RequestRoundTrip(b *testing.B) {
	c, err := New(Config{Servers: []node.ID{1}, SessionTimeout: 10 * node.Second}, clientID, rand.New(rand.NewPCG(1, 1)), 0)
	require.NoError(b, err)
	conn := c.Ready().Messages[0].Body.(*wire.Connect).Conn
	c.Advance()
	seq := uint64(1)
	c.Step(0, node.Message{From: 1, To: clientID, Body: &wire.Connected{Header: wire.Header{Conn: conn, Seq: seq}, TimeoutMs: 10000, SessionID: 7}})
	c.TakeEvents()
	reply := &wire.Reply{}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		xid := c.GetData("/a", false)
		c.Ready()
		c.Advance()
		seq++
		*reply = wire.Reply{Header: wire.Header{Conn: conn, Seq: seq}, Xid: xid, Zxid: model.Zxid(i + 1)}
		c.Step(0, node.Message{From: 1, To: clientID, Body: reply})
		if rs := c.TakeResults(); len(rs) != 1 {
			b.Fatalf("%d results", len(rs))
		}
	}
}

func TestClient_MoveToReconnectsThereAndKeepsTheSession(t *testing.T) {
	e, c := connected(t, Config{SessionTimeout: 3 * node.Second})
	sid, from := c.SessionID(), c.Server()
	to := next(from)
	manual(e)
	sent := c.Create("/a", nil, nil, model.ModePersistent)
	e.pump()
	require.False(t, c.MoveTo(from), "already there")
	require.False(t, c.MoveTo(99), "not a server of the client")
	require.True(t, c.MoveTo(to))
	e.collect()
	rs, evs := e.take(clientID)
	assert.Equal(t, []int32{sent}, xidsOf(rs))
	assert.Equal(t, []model.Err{model.ErrConnectionLoss}, errsOf(rs), "sent on the old connection: outcome unknown")
	assert.Equal(t, []wire.KeeperState{wire.StateDisconnected}, stateEvents(evs))
	for _, s := range e.ens.servers {
		s.auto = true
	}
	e.run(node.Second)
	require.Equal(t, Connected, c.State())
	assert.Equal(t, to, c.Server())
	assert.Equal(t, sid, c.SessionID(), "the session moved with the client")
	assert.Equal(t, 1, c.Stats().Moves)

	c.Close()
	e.run(node.Second)
	require.True(t, c.State().Final())
	require.False(t, c.MoveTo(from), "a final session does not move")
}
