package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/client"
	"zoosim/internal/golden"
	"zoosim/model"
	"zoosim/node"
	"zoosim/quorum"
	"zoosim/quorum/zab"
	"zoosim/sim"
	"zoosim/wire"
)

// clientNode drives a client.Client in the world and logs what the user of
// the library would see.
type clientNode struct {
	name string
	c    *client.Client
	st   *serviceStory
}

func (n *clientNode) Step(now node.Time, m node.Message) { n.c.Step(now, m); n.after() }
func (n *clientNode) Tick(now node.Time)                 { n.c.Tick(now); n.after() }
func (n *clientNode) Ready() node.Ready                  { return n.c.Ready() }
func (n *clientNode) Advance()                           { n.c.Advance() }

func (n *clientNode) after() {
	for _, ev := range n.c.TakeEvents() {
		if ev.Type == model.EventNone {
			n.st.logf("%s session state %s (server s%d)", n.name, stateName(ev.State), n.c.Server())
		} else {
			n.st.logf("%s watch event %s %s", n.name, eventName(ev.Type), ev.Path)
		}
	}
	for _, r := range n.c.TakeResults() {
		n.st.logf("%s reply xid=%d %s err=%s path=%s", n.name, r.Xid, opName(r.Op), errName(r.Err), r.Path)
	}
}

func stateName(s wire.KeeperState) string {
	switch s {
	case wire.StateSyncConnected:
		return "SyncConnected"
	case wire.StateDisconnected:
		return "Disconnected"
	case wire.StateExpired:
		return "Expired"
	case wire.StateClosed:
		return "Closed"
	}
	return fmt.Sprint(int32(s))
}

func eventName(t model.EventType) string {
	switch t {
	case model.EventNodeCreated:
		return "NodeCreated"
	case model.EventNodeDeleted:
		return "NodeDeleted"
	case model.EventNodeDataChanged:
		return "NodeDataChanged"
	case model.EventNodeChildrenChanged:
		return "NodeChildrenChanged"
	}
	return fmt.Sprint(int32(t))
}

func opName(op model.OpCode) string {
	switch op {
	case model.OpCreate, model.OpCreate2:
		return "create"
	case model.OpExists:
		return "exists"
	case model.OpGetData:
		return "getData"
	case model.OpSetData:
		return "setData"
	}
	return fmt.Sprint(int32(op))
}

func errName(e model.Err) string {
	if e == model.ErrOK {
		return "ok"
	}
	return strings.TrimPrefix(e.Error(), "KeeperErrorCode = ")
}

// serviceStory is a golden story of servers and library clients.
type serviceStory struct {
	t       *testing.T
	w       *sim.World
	n       int
	b       strings.Builder
	clients map[string]*clientNode
	ids     map[string]node.ID
}

func newServiceStory(t *testing.T, seed uint64, n int) *serviceStory {
	st := &serviceStory{t: t, w: sim.New(sim.DefaultConfig(seed)), n: n, clients: map[string]*clientNode{}, ids: map[string]node.ID{}}
	st.w.SetTracer(func(e sim.TraceEvent) {
		if e.Kind != sim.TraceDeliver {
			return
		}
		switch b := e.Body.(type) {
		case *wire.Connected:
			if b.Expired() {
				st.logf("s%d -> client %d: session expired", e.Node, e.Peer)
			} else {
				st.logf("s%d -> client %d: connected, session %#x, timeout %d ms", e.Node, e.Peer, b.SessionID, b.TimeoutMs)
			}
		case *wire.Close:
			if e.Peer < 100 {
				return // a client closing its side
			}
			st.logf("s%d -> client %d: connection closed (%s)", e.Node, e.Peer, b.Reason)
		}
	})
	v := quorum.NewMajority(n)
	for i := 1; i <= n; i++ {
		st.w.AddNode(node.ID(i), func(env node.Env) node.Machine {
			s, err := New(Config{NewEngine: func(sm quorum.StateMachine, env node.Env) (quorum.Engine, error) {
				return zab.New(zab.DefaultConfig(v, sm), env)
			}}, env)
			require.NoError(t, err)
			return s
		})
	}
	return st
}

func (st *serviceStory) logf(format string, args ...any) {
	fmt.Fprintf(&st.b, "%8.1fms  ", float64(st.w.Now())/float64(node.Millisecond))
	fmt.Fprintf(&st.b, format, args...)
	st.b.WriteByte('\n')
}

func (st *serviceStory) addClient(name string, id node.ID, servers []node.ID, timeout node.Time) *clientNode {
	n := &clientNode{name: name, st: st}
	st.w.AddNode(id, func(env node.Env) node.Machine {
		c, err := client.New(client.Config{Servers: servers, SessionTimeout: timeout}, id, env.Rand, env.Now)
		require.NoError(st.t, err)
		n.c = c
		return n
	})
	st.clients[name], st.ids[name] = n, id
	return n
}

// do hands a client an operation and lets the world run for d.
func (st *serviceStory) do(name, what string, f func(c *client.Client), d node.Time) {
	st.logf("** %s %s", name, what)
	f(st.clients[name].c)
	st.w.Drain(st.ids[name])
	st.w.RunFor(d)
}

// connectVia makes a client's first connection go to server via by
// blocking it from the others until it is connected there.
func (st *serviceStory) connectVia(name string, via node.ID) {
	id := st.ids[name]
	var others []node.ID
	for i := 1; i <= st.n; i++ {
		if node.ID(i) != via {
			others = append(others, node.ID(i))
			st.w.Block(id, node.ID(i))
		}
	}
	for k := 0; k < 300 && st.clients[name].c.Server() != via; k++ {
		st.w.RunFor(10 * node.Millisecond)
	}
	require.Equal(st.t, via, st.clients[name].c.Server())
	for _, o := range others {
		st.w.Unblock(id, o)
	}
}

func (st *serviceStory) action(format string, args ...any) { st.logf("** "+format, args...) }

func (st *serviceStory) leader() node.ID {
	for i := 1; i <= st.n; i++ {
		if m := st.w.Machine(node.ID(i)); m != nil {
			if s := m.(*Server); s.Serving() && s.Engine().Status().Role == quorum.Leading {
				return node.ID(i)
			}
		}
	}
	return 0
}

func (st *serviceStory) waitLeader() node.ID {
	for i := 0; i < 500 && st.leader() == 0; i++ {
		st.w.RunFor(10 * node.Millisecond)
	}
	l := st.leader()
	require.NotZero(st.t, l)
	st.logf("leader s%d serving", l)
	return l
}

func TestStory_SessionExpiryDeletesEphemeralAndFiresWatch(t *testing.T) {
	st := newServiceStory(t, 21, 3)
	st.addClient("master", 101, []node.ID{1}, 600*node.Millisecond)
	st.addClient("backup", 102, []node.ID{2}, 2*node.Second)
	st.waitLeader()
	st.connectVia("master", 1)
	st.connectVia("backup", 2)
	st.do("master", "creates ephemeral /master", func(c *client.Client) { c.Create("/master", []byte("m"), nil, model.ModeEphemeral) }, 50*node.Millisecond)
	st.do("backup", "exists /master with a watch", func(c *client.Client) { c.Exists("/master", true) }, 50*node.Millisecond)
	st.action("cut the master's client off from every server")
	for i := 1; i <= 3; i++ {
		st.w.Block(101, node.ID(i))
		st.w.Block(node.ID(i), 101)
	}
	st.w.RunFor(2 * node.Second)
	st.action("heal: the master's client comes back to an expired session")
	st.w.Heal()
	st.w.RunFor(2 * node.Second)
	st.do("backup", "creates ephemeral /master", func(c *client.Client) { c.Create("/master", []byte("b"), nil, model.ModeEphemeral) }, 50*node.Millisecond)
	golden.Check(t, "session_expiry", st.b.String())
}

func TestStory_ClientFailsOverAndKeepsItsSession(t *testing.T) {
	st := newServiceStory(t, 22, 3)
	l := st.waitLeader()
	var first node.ID = 1
	if first == l {
		first = 2
	}
	servers := []node.ID{first}
	for i := 1; i <= 3; i++ {
		if node.ID(i) != first {
			servers = append(servers, node.ID(i))
		}
	}
	c := st.addClient("app", 101, servers, 1500*node.Millisecond)
	st.connectVia("app", first)
	session := c.c.SessionID()
	st.do("app", "creates ephemeral /app", func(c *client.Client) { c.Create("/app", nil, nil, model.ModeEphemeral) }, 50*node.Millisecond)
	st.action("crash s%d, the app's server", c.c.Server())
	st.w.Crash(c.c.Server())
	st.w.RunFor(2 * node.Second)
	require.Equal(t, session, c.c.SessionID())
	st.logf("app still in its first session: %t", c.c.SessionID() == session)
	st.do("app", "getData /app", func(c *client.Client) { c.GetData("/app", false) }, 50*node.Millisecond)
	golden.Check(t, "client_failover", st.b.String())
}

func TestStory_ClientRefusesAServerBehindIt(t *testing.T) {
	st := newServiceStory(t, 23, 3)
	l := st.waitLeader()
	var f1, f2 node.ID
	for i := 1; i <= 3; i++ {
		switch {
		case node.ID(i) == l:
		case f1 == 0:
			f1 = node.ID(i)
		default:
			f2 = node.ID(i)
		}
	}
	slow := sim.DefaultLinkParams()
	slow.LatencyMin, slow.LatencyMax = 300*node.Millisecond, 300*node.Millisecond
	st.action("the link s%d -> s%d takes 300 ms: s%d applies every commit late but keeps serving", l, f2, f2)
	st.w.SetLink(l, f2, slow)
	st.w.RunFor(time1s)
	st.addClient("app", 101, []node.ID{f1, f2, l}, 200*node.Millisecond)
	st.connectVia("app", f1)
	st.do("app", "creates /x through s"+fmt.Sprint(f1), func(c *client.Client) { c.Create("/x", []byte("1"), nil, model.ModePersistent) }, 20*node.Millisecond)
	st.action("crash s%d: the app fails over; s%d has not seen /x yet and must be refused", f1, f2)
	st.w.Crash(f1)
	st.w.RunFor(300 * node.Millisecond)
	st.do("app", "getData /x", func(c *client.Client) { c.GetData("/x", false) }, 50*node.Millisecond)
	golden.Check(t, "client_refuses_behind_server", st.b.String())
}

const time1s = node.Second
