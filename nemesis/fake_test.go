package nemesis

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/stretchr/testify/require"

	"zoosim/node"
)

// fakeTarget is a deliberately simple world: sets of blocked links, link
// qualities, crashed, paused and lying nodes, clocks as (total jump, drift),
// and a log of every call. It mirrors sim's semantics where the nemesis
// relies on them (a crash ends a pause) and reports calls that make no sense
// (crashing a crashed node, resuming a running one) as test errors, so tests
// also check that the Runner only asks for sensible things.
type fakeTarget struct {
	t       require.TestingT
	servers []node.ID
	clients []node.ID
	leader  node.ID

	blocked  map[link]bool
	quality  map[link]LinkQuality
	down     map[node.ID]bool
	paused   map[node.ID]bool
	jump     map[node.ID]node.Time
	drift    map[node.ID]int64
	lies     map[node.ID]bool
	records  map[node.ID]int // durable records left to corrupt
	armed    map[node.ID]string
	cascade  map[node.ID]node.Time
	cascaded map[node.ID]node.ID
	lag      map[node.ID]node.Time
	at       map[node.ID]node.ID // client -> the server it was moved to
	heals    int
	calls    []string
}

var (
	_ Target           = (*fakeTarget)(nil)
	_ CrashPointTarget = (*fakeTarget)(nil)
	_ LagTarget        = (*fakeTarget)(nil)
)

// newFake returns a world with servers 1..servers and clients after them.
func newFake(t require.TestingT, servers, clients int) *fakeTarget {
	f := &fakeTarget{t: t, blocked: map[link]bool{}, quality: map[link]LinkQuality{}, down: map[node.ID]bool{},
		paused: map[node.ID]bool{}, jump: map[node.ID]node.Time{}, drift: map[node.ID]int64{}, lies: map[node.ID]bool{},
		records: map[node.ID]int{}, armed: map[node.ID]string{}, cascade: map[node.ID]node.Time{}, cascaded: map[node.ID]node.ID{}, lag: map[node.ID]node.Time{}, at: map[node.ID]node.ID{}}
	for i := 1; i <= servers; i++ {
		f.servers = append(f.servers, node.ID(i))
		f.records[node.ID(i)] = 3
	}
	for i := 1; i <= clients; i++ {
		f.clients = append(f.clients, node.ID(servers+i))
	}
	return f
}

func (f *fakeTarget) log(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeTarget) Servers() []node.ID { return slices.Clone(f.servers) }
func (f *fakeTarget) Clients() []node.ID { return slices.Clone(f.clients) }
func (f *fakeTarget) Leader() node.ID    { return f.leader }
func (f *fakeTarget) Up(id node.ID) bool { return !f.down[id] }

func (f *fakeTarget) Block(from, to node.ID) {
	f.log("block %d->%d", from, to)
	if f.blocked[link{from, to}] {
		f.t.Errorf("Block(%d, %d) of a blocked link", from, to)
	}
	f.blocked[link{from, to}] = true
}

func (f *fakeTarget) Unblock(from, to node.ID) {
	f.log("unblock %d->%d", from, to)
	if !f.blocked[link{from, to}] {
		f.t.Errorf("Unblock(%d, %d) of an open link", from, to)
	}
	delete(f.blocked, link{from, to})
}

func (f *fakeTarget) SetLinkQuality(from, to node.ID, q LinkQuality) {
	f.log("quality %d->%d %s", from, to, q)
	if q.IsZero() {
		delete(f.quality, link{from, to})
	} else {
		f.quality[link{from, to}] = q
	}
}

func (f *fakeTarget) Heal() {
	f.log("heal")
	f.heals++
	clear(f.blocked)
	clear(f.quality)
}

func (f *fakeTarget) Crash(id node.ID) {
	f.log("crash %d", id)
	if f.down[id] {
		f.t.Errorf("Crash(%d) of a crashed node", id)
	}
	f.down[id] = true
	delete(f.paused, id)
	delete(f.armed, id) // a crash clears an armed point, as in the world
}

func (f *fakeTarget) Restart(id node.ID) {
	f.log("restart %d", id)
	if !f.down[id] {
		f.t.Errorf("Restart(%d) of a running node", id)
	}
	delete(f.down, id)
}

func (f *fakeTarget) Pause(id node.ID) {
	f.log("pause %d", id)
	if f.down[id] || f.paused[id] {
		f.t.Errorf("Pause(%d) of a crashed or paused node", id)
	}
	f.paused[id] = true
}

func (f *fakeTarget) Resume(id node.ID) {
	f.log("resume %d", id)
	if !f.paused[id] {
		f.t.Errorf("Resume(%d) of a node that is not paused", id)
	}
	delete(f.paused, id)
}

func (f *fakeTarget) SetClock(id node.ID, jump node.Time, driftPPM int64) {
	f.log("clock %d %s %d", id, fmtSigned(jump), driftPPM)
	f.jump[id] += jump
	if driftPPM == 0 {
		delete(f.drift, id)
	} else {
		f.drift[id] = driftPPM
	}
}

func (f *fakeTarget) SyncLies(id node.ID, lies bool) {
	f.log("lies %d %v", id, lies)
	if f.lies[id] == lies {
		f.t.Errorf("SyncLies(%d, %v) changes nothing", id, lies)
	}
	if lies {
		f.lies[id] = true
	} else {
		delete(f.lies, id)
	}
}

func (f *fakeTarget) CorruptRecord(id node.ID) (string, bool) {
	f.log("corrupt %d", id)
	if f.records[id] == 0 {
		return "", false
	}
	f.records[id]--
	return fmt.Sprintf("log#%d", f.records[id]), true
}

// talks reports whether a and b can exchange messages both ways.
func (f *fakeTarget) talks(a, b node.ID) bool {
	return !f.blocked[link{a, b}] && !f.blocked[link{b, a}]
}

// peers returns the servers other than x that x talks to both ways.
func (f *fakeTarget) peers(x node.ID) []node.ID {
	var out []node.ID
	for _, y := range f.servers {
		if y != x && f.talks(x, y) {
			out = append(out, y)
		}
	}
	return out
}

// blockedLinks returns the blocked links in order.
func (f *fakeTarget) blockedLinks() []link {
	var out []link
	for l := range f.blocked {
		out = append(out, l)
	}
	slices.SortFunc(out, cmpLink)
	return out
}

// requirePristine checks that nothing the nemesis can do is in effect.
func (f *fakeTarget) requirePristine(t require.TestingT) {
	require.Empty(t, f.blocked, "blocked links")
	require.Empty(t, f.quality, "degraded links")
	require.Empty(t, f.down, "crashed nodes")
	require.Empty(t, f.paused, "paused nodes")
	require.Empty(t, f.drift, "drifting clocks")
	require.Empty(t, f.lies, "lying disks")
}

// links builds a sorted link list from pairs.
func links(pairs ...[2]node.ID) []link {
	out := make([]link, len(pairs))
	for i, p := range pairs {
		out[i] = link{p[0], p[1]}
	}
	slices.SortFunc(out, cmpLink)
	return out
}

// both returns the links between every a and every b, both directions.
func both(a, b []node.ID) []link {
	out := splitLinks(a, b)
	slices.SortFunc(out, cmpLink)
	return out
}

func ids(xs ...int) []node.ID {
	out := make([]node.ID, len(xs))
	for i, x := range xs {
		out[i] = node.ID(x)
	}
	return out
}

func sec(x float64) node.Time { return node.Time(x * float64(node.Second)) }

func testRand(seed uint64) *rand.Rand { return newStream(seed) }

// run builds a Runner for s over w and applies everything up to until.
func run(t require.TestingT, w *fakeTarget, s Schedule, seed uint64, until node.Time) *Runner {
	r, err := NewRunner(s, w, testRand(seed))
	require.NoError(t, err)
	runUntil(r, until)
	return r
}

// runUntil applies every action due up to until, one Next at a time.
func runUntil(r *Runner, until node.Time) {
	for {
		at, ok := r.Next()
		if !ok || at > until {
			r.Apply(until)
			return
		}
		r.Apply(max(at, r.now))
	}
}

func (f *fakeTarget) ArmCrash(id node.ID, point, msg string, cascade node.Time) {
	f.log("arm %d %s %s", id, point, msg)
	if cascade > 0 {
		f.cascade[id] = cascade
	}
	if f.down[id] {
		f.t.Errorf("ArmCrash(%d) of a crashed node", id)
	}
	f.armed[id] = point + " " + msg
}

func (f *fakeTarget) DisarmCrash(id node.ID) (bool, node.ID) {
	f.log("disarm %d", id)
	_, ok := f.armed[id]
	delete(f.armed, id)
	c := f.cascaded[id]
	delete(f.cascaded, id)
	delete(f.cascade, id)
	return ok, c
}

// fire makes server id's armed crash point fire, as the world would, and
// its cascade crash the leader.
func (f *fakeTarget) fire(id node.ID) {
	if _, ok := f.armed[id]; !ok {
		f.t.Errorf("fire(%d) without an armed point", id)
	}
	delete(f.armed, id)
	f.down[id] = true
	delete(f.paused, id)
	if f.cascade[id] > 0 && f.leader != 0 && !f.down[f.leader] {
		f.down[f.leader] = true
		f.cascaded[id] = f.leader
	}
}

func (f *fakeTarget) SetLag(id node.ID, lag node.Time) {
	f.log("lag %d %s", id, fmtTime(lag))
	if lag == 0 {
		delete(f.lag, id)
		return
	}
	f.lag[id] = lag
}

func (f *fakeTarget) MoveClient(c, s node.ID) bool {
	f.log("move %d to %d", c, s)
	if f.at[c] == s {
		return false
	}
	f.at[c] = s
	return true
}
