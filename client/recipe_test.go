package client

import (
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/model"
	"zoosim/node"
)

// probe is a recipe that only watches: it calls f after every event and
// every result no recipe before it claimed.
type probe struct{ f func() }

func (p probe) HandleResult(Result) bool { p.f(); return false }
func (p probe) HandleEvent(Event)        { p.f() }

func TestElection_SecondClientBecomesMasterOnlyAfterTheFirstsNodeIsDeleted(t *testing.T) {
	e := newEnv(t, 1, 2, 3)
	c1 := e.addClient(101, Config{}, 1)
	c2 := e.addClient(102, Config{}, 2)
	e1, e2 := NewElection(c1, "/master"), NewElection(c2, "/master")
	e.recipes[101], e.recipes[102] = []Recipe{e1}, []Recipe{e2}
	e.check = func() {
		require.False(t, e1.IsMaster() && e2.IsMaster(), "two masters")
	}

	e1.Start()
	e.pump()
	assert.True(t, e1.IsMaster())
	n := e.ens.tree["/master"]
	require.NotNil(t, n)
	assert.Equal(t, []byte("101"), n.data, "the master's id is the node's data")
	assert.Equal(t, c1.SessionID(), n.owner)

	e2.Start()
	e.run(10 * node.Second) // heartbeats; nothing changes
	assert.True(t, e1.IsMaster())
	assert.False(t, e2.IsMaster())
	assert.Equal(t, Watches{Data: []string{"/master"}}, c2.Watches(), "the loser watches the node")

	// The first master's session ends: its ephemeral node goes, and the
	// second client's watch makes it run again.
	c1.Close()
	e.run(node.Second)
	assert.Equal(t, Closed, c1.State())
	assert.False(t, e1.IsMaster())
	assert.True(t, e1.Done())
	assert.True(t, e2.IsMaster())
	assert.Equal(t, []byte("102"), e.ens.tree["/master"].data)
	assert.Equal(t, c2.SessionID(), e.ens.tree["/master"].owner)
}

func TestElection_ExpiredMasterIsReplacedAndStepsDownFirst(t *testing.T) {
	e := newEnv(t, 1, 2)
	c1 := e.addClient(101, Config{Servers: []node.ID{1}, SessionTimeout: 3 * node.Second}, 1)
	c2 := e.addClient(102, Config{Servers: []node.ID{2}, SessionTimeout: 3 * node.Second}, 2)
	e1, e2 := NewElection(c1, "/master"), NewElection(c2, "/master")
	e.recipes[101], e.recipes[102] = []Recipe{e1}, []Recipe{e2}
	e.check = func() {
		require.False(t, e1.IsMaster() && e2.IsMaster(), "two masters")
	}
	e1.Start()
	e.pump()
	e2.Start()
	e.pump()
	require.True(t, e1.IsMaster())

	// Server 1 is cut off. The master cannot know whether its session
	// survives once it has not heard from the server for 2/3 of the
	// timeout: it stops acting as master then, before the leader would
	// expire the session at the full timeout.
	t0 := e.now
	e.server(1).mode = silent
	e.runUntil(t0 + 2*node.Second - 1)
	assert.True(t, e1.IsMaster())
	e.runUntil(t0 + 2*node.Second)
	assert.False(t, e1.IsMaster(), "a careful master steps down on Disconnected")
	assert.False(t, e2.IsMaster())
	e.runUntil(t0 + 3*node.Second)
	e.ens.endSession(c1.SessionID(), true) // the leader expires it
	e.pump()
	assert.True(t, e2.IsMaster())

	e.server(1).mode = serve
	e.run(5 * node.Second)
	assert.Equal(t, Expired, c1.State())
	assert.True(t, e1.Done())
	assert.Equal(t, model.ErrSessionExpired, e1.Err())
	assert.False(t, e1.IsMaster())
	assert.True(t, e2.IsMaster())
}

func TestElection_MasterResumesAfterReconnectingWithTheSameSession(t *testing.T) {
	e := newEnv(t, 1, 2)
	c1 := e.addClient(101, Config{Servers: []node.ID{1, 2}, SessionTimeout: 3 * node.Second}, 3)
	e1 := NewElection(c1, "/master")
	var log []bool
	e.recipes[101] = []Recipe{e1, probe{func() { log = append(log, e1.IsMaster()) }}}
	e1.Start()
	e.pump()
	require.True(t, e1.IsMaster())
	first := c1.Server()
	e.server(first).mode = silent
	e.run(2 * node.Second) // lost, reconnected to the other server at once
	assert.Equal(t, Connected, c1.State())
	assert.NotEqual(t, first, c1.Server())
	assert.True(t, e1.IsMaster(), "the node is still this session's")
	// Not master after Disconnected, nor after SyncConnected while the check
	// runs; master again once the check's result showed the node ours.
	assert.Equal(t, []bool{false, false}, log)
}

func TestElection_CreateLostWithTheConnectionIsRecoveredByOwner(t *testing.T) {
	e := newEnv(t, 1, 2)
	c1 := e.addClient(101, Config{Servers: []node.ID{1, 2}, SessionTimeout: 3 * node.Second}, 4)
	e1 := NewElection(c1, "/master")
	e.recipes[101] = []Recipe{e1}
	// The server applies the create but its reply never arrives.
	e.server(c1.Server()).mute = true
	e1.Start()
	e.pump()
	require.NotNil(t, e.ens.tree["/master"])
	assert.False(t, e1.IsMaster())
	e.run(3 * node.Second)
	unclaimed, _ := e.take(101)
	assert.Empty(t, unclaimed, "the election consumed its ConnectionLoss")
	assert.True(t, e1.IsMaster(), "its create went through: the node's owner is this session")
}

// lockers builds n clients, each with a Lock on /lock (which does not exist
// yet); after every delivery round it checks that at most one holds the
// lock and records who newly does.
func lockers(t *testing.T, e *testEnv, n int) ([]*Client, []*Lock, *[]node.ID) {
	var clients []*Client
	var locks []*Lock
	holders := &[]node.ID{}
	held := make([]bool, n)
	for i := range n {
		id := node.ID(101 + i)
		c := e.addClient(id, Config{}, uint64(i))
		l := NewLock(c, "/lock")
		e.recipes[id] = []Recipe{l}
		clients = append(clients, c)
		locks = append(locks, l)
	}
	e.check = func() {
		count := 0
		for i, l := range locks {
			if l.Held() {
				count++
				if !held[i] {
					*holders = append(*holders, clients[i].ID())
				}
			}
			held[i] = l.Held()
		}
		require.LessOrEqual(t, count, 1, "two holders")
	}
	return clients, locks, holders
}

func seqOf(t *testing.T, l *Lock) int {
	t.Helper()
	n := l.Node()
	require.GreaterOrEqual(t, len(n), 10)
	s, err := strconv.Atoi(n[len(n)-10:])
	require.NoError(t, err)
	return s
}

func TestLock_HoldersFollowSequenceOrder(t *testing.T) {
	e := newEnv(t, 1, 2, 3)
	clients, locks, holders := lockers(t, e, 4)
	// Contend in a scrambled order; the lock goes in node order.
	for _, i := range []int{2, 0, 3, 1} {
		locks[i].Acquire()
		e.pump()
	}
	require.NotNil(t, e.ens.tree["/lock"], "the lock directory was created")
	seqs := map[node.ID]int{}
	for i, l := range locks {
		seqs[clients[i].ID()] = seqOf(t, l)
	}
	assert.True(t, locks[2].Held())
	for range 4 {
		e.run(node.Second)
		for _, l := range locks {
			if l.Held() {
				l.Release()
			}
		}
		e.pump()
	}
	require.Len(t, *holders, 4, "everyone held the lock once")
	assert.True(t, slices.IsSortedFunc(*holders, func(a, b node.ID) int { return seqs[a] - seqs[b] }),
		"holders %v in sequence order %v", *holders, seqs)
	assert.Equal(t, []node.ID{103, 101, 104, 102}, *holders)
	for _, l := range locks {
		assert.Empty(t, l.Node())
	}
	assert.Empty(t, e.ens.tree["/lock"].children, "every node deleted")
}

func TestLock_EachWaiterWatchesOnlyItsPredecessor(t *testing.T) {
	e := newEnv(t, 1, 2, 3)
	clients, locks, _ := lockers(t, e, 3)
	for _, l := range locks {
		l.Acquire()
		e.pump()
	}
	assert.Equal(t, 0, clients[0].Watches().Len())
	assert.Equal(t, Watches{Data: []string{locks[0].Node()}}, clients[1].Watches())
	assert.Equal(t, Watches{Data: []string{locks[1].Node()}}, clients[2].Watches())

	// A waiter in the middle withdraws: the last one moves its watch to
	// the holder, and takes the lock after it.
	locks[1].Release()
	e.pump()
	assert.Empty(t, locks[1].Node())
	assert.Equal(t, Watches{Data: []string{locks[0].Node()}}, clients[2].Watches())
	assert.False(t, locks[2].Held())
	locks[0].Release()
	e.pump()
	assert.True(t, locks[2].Held())
	assert.False(t, locks[1].Held())
}

func TestLock_ExpiredHolderLosesTheLock(t *testing.T) {
	e := newEnv(t, 1, 2)
	c1 := e.addClient(101, Config{Servers: []node.ID{1}}, 1)
	c2 := e.addClient(102, Config{Servers: []node.ID{2}}, 2)
	l1, l2 := NewLock(c1, "/lock"), NewLock(c2, "/lock")
	e.recipes[101], e.recipes[102] = []Recipe{l1}, []Recipe{l2}
	e.ens.tree["/lock"] = &fnode{children: map[string]bool{}}
	e.ens.tree["/"].children["lock"] = true
	l1.Acquire()
	e.pump()
	l2.Acquire()
	e.pump()
	require.True(t, l1.Held())
	e.server(1).mode = silent
	e.run(2 * node.Second)
	assert.False(t, l1.Held(), "a careful holder lets go on Disconnected")
	assert.False(t, l2.Held())
	e.ens.endSession(c1.SessionID(), true)
	e.pump()
	assert.True(t, l2.Held())
	e.server(1).mode = serve
	e.run(5 * node.Second)
	assert.True(t, l1.Done())
	assert.Equal(t, model.ErrSessionExpired, l1.Err())
}

func TestLock_AcquireBeforeTheSessionExistsWaitsForIt(t *testing.T) {
	e := newEnv(t, 1)
	e.server(1).mode = silent
	c := e.addClient(101, Config{}, 1)
	l := NewLock(c, "/lock")
	e.recipes[101] = []Recipe{l}
	l.Acquire()
	e.pump()
	assert.Equal(t, 0, c.Outstanding(), "nothing submitted before the session exists")
	e.server(1).mode = serve
	e.run(5 * node.Second)
	assert.True(t, l.Held())
	assert.Contains(t, l.Node(), "/lock/lock-"+strconv.FormatInt(c.SessionID(), 16)+"-")
}

func TestLock_CreateLostWithTheConnectionIsFoundByItsGuid(t *testing.T) {
	e := newEnv(t, 1, 2)
	c := e.addClient(101, Config{Servers: []node.ID{1, 2}}, 4)
	l := NewLock(c, "/lock")
	e.recipes[101] = []Recipe{l}
	e.ens.tree["/lock"] = &fnode{children: map[string]bool{}}
	e.ens.tree["/"].children["lock"] = true
	e.server(c.Server()).mute = true
	l.Acquire()
	e.pump()
	require.Len(t, e.ens.tree["/lock"].children, 1, "the create went through")
	e.run(3 * node.Second)
	assert.True(t, l.Held())
	assert.Len(t, e.ens.tree["/lock"].children, 1, "no second node")
	l.Release()
	e.pump()
	assert.Empty(t, e.ens.tree["/lock"].children)
}

func TestDispatch_MergesResultsAndEventsInOrder(t *testing.T) {
	e := newEnv(t, 1)
	c := e.addClient(101, Config{}, 1)
	e.take(101)
	var seen []uint64
	var kinds []string
	e.recipes[101] = []Recipe{recorder{
		result: func(r Result) { seen, kinds = append(seen, r.Order), append(kinds, "result") },
		event:  func(ev Event) { seen, kinds = append(seen, ev.Order), append(kinds, "event") },
	}}
	c.Create("/a", nil, nil, model.ModePersistent)
	c.Exists("/a", true)
	e.pump()
	srv := e.server(1)
	srv.auto = false
	c.Exists("/b", false)
	e.pump()
	// One delivery round brings an event and then a reply.
	srv.event(model.EventNodeDataChanged, "/a", 9)
	srv.reply(model.ErrNoNode, 9)
	e.pump()
	assert.True(t, slices.IsSorted(seen), "%v", seen)
	assert.Equal(t, []string{"result", "result", "event", "result"}, kinds)
	unclaimed, _ := e.take(101)
	assert.Empty(t, unclaimed, "the recorder claims every result")
}

type recorder struct {
	result func(Result)
	event  func(Event)
}

func (r recorder) HandleResult(res Result) bool { r.result(res); return true }
func (r recorder) HandleEvent(ev Event)         { r.event(ev) }
