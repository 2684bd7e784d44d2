package sim

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/node"
)

// pinger is the benchmark's core: on every tick it pings a random peer; it
// answers every ping with a pong. Bodies are preallocated so that the
// benchmark measures the world, not the core's allocations.
type pinger struct {
	id    node.ID
	rnd   *rand.Rand
	peers []node.ID
	out   node.Ready
	ping  *benchMsg
	pong  *benchMsg
	// disk makes every tenth tick append a record and sync.
	disk  bool
	ticks int
	rec   [16]byte
}

type benchMsg struct {
	ping bool
	from node.ID
}

func (m *benchMsg) TraceHash() uint64 { return uint64(m.from)<<1 | b2u(m.ping) }

const benchPeriod = 100 * node.Microsecond

func newPinger(env node.Env, n int, disk bool) *pinger {
	p := &pinger{id: env.ID, rnd: env.Rand, disk: disk,
		ping: &benchMsg{ping: true, from: env.ID}, pong: &benchMsg{from: env.ID}}
	for i := 1; i <= n; i++ {
		if node.ID(i) != env.ID {
			p.peers = append(p.peers, node.ID(i))
		}
	}
	p.out.Messages = make([]node.Message, 0, 8)
	p.out.Disk = make([]node.DiskOp, 0, 2)
	p.out.WakeAt = env.Now + benchPeriod
	return p
}

func (p *pinger) Step(now Time, m node.Message) {
	if m.Body.(*benchMsg).ping {
		p.out.Messages = append(p.out.Messages, node.Message{From: p.id, To: m.From, Body: p.pong})
	}
}

func (p *pinger) Tick(now Time) {
	to := p.peers[belowInt(p.rnd, len(p.peers))]
	p.out.Messages = append(p.out.Messages, node.Message{From: p.id, To: to, Body: p.ping})
	p.out.WakeAt = now + benchPeriod
	p.ticks++
	if p.disk && p.ticks%10 == 0 {
		p.out.Disk = append(p.out.Disk, node.DiskOp{Kind: node.Append, File: "log", Data: p.rec[:]})
		p.out.Sync = true
	}
	if p.disk && p.ticks%1000 == 0 {
		p.out.Disk = append(p.out.Disk, node.DiskOp{Kind: node.Truncate, File: "log", N: 0})
	}
}

func (p *pinger) Ready() node.Ready { return p.out }

func (p *pinger) Advance() {
	p.out.Messages = p.out.Messages[:0]
	p.out.Disk = p.out.Disk[:0]
	p.out.Sync = false
}

func benchWorld(disk bool) *World {
	const n = 5
	w := New(DefaultConfig(1))
	for i := 1; i <= n; i++ {
		w.AddNode(node.ID(i), func(env node.Env) node.Machine { return newPinger(env, n, disk) })
	}
	// Warm up: grow the heap, the message pool and the cores' buffers.
	w.Run(100 * node.Millisecond)
	return w
}

// BenchmarkSimEvents measures processed queue events per second of wall
// time for five nodes exchanging pings and pongs on timers.
func BenchmarkSimEvents(b *testing.B) {
	w := benchWorld(false)
	start := w.Stats().Events
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Step()
	}
	b.StopTimer()
	events := w.Stats().Events - start
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSimEventsWithDisk adds appends and syncs (whose data copies are
// the only allocations, since records outlive the Ready).
func BenchmarkSimEventsWithDisk(b *testing.B) {
	w := benchWorld(true)
	start := w.Stats().Events
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Step()
	}
	b.StopTimer()
	events := w.Stats().Events - start
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// TestWorld_EventLoopDoesNotAllocate guards the benchmark's claim in the
// regular test run: once warm, delivering, ticking and sending allocate
// nothing.
func TestWorld_EventLoopDoesNotAllocate(t *testing.T) {
	w := benchWorld(false)
	allocs := testing.AllocsPerRun(20, func() {
		for range 1000 {
			w.Step()
		}
	})
	require.Zero(t, allocs)
}
