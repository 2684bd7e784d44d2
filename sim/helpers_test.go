package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/node"
)

// probe is a scriptable test core. Tests queue its output (messages, disk
// ops, syncs, the timer request) from outside or from its hooks, and read
// what it received. Its output is a Ready that stays the same until Advance,
// as the contract asks; the timer request persists across Readies.
type probe struct {
	env    node.Env
	w      *World // read only: lets hooks record global time
	onStep func(p *probe, now Time, m node.Message)
	onTick func(p *probe, now Time)

	out node.Ready

	steps []probeStep
	ticks []probeTick
}

type probeStep struct {
	global, local Time
	msg           node.Message
}

type probeTick struct {
	global, local, wakeAt Time
}

var _ node.Machine = (*probe)(nil)

func (p *probe) Step(now Time, m node.Message) {
	p.steps = append(p.steps, probeStep{global: p.w.Now(), local: now, msg: m})
	if p.onStep != nil {
		p.onStep(p, now, m)
	}
}

func (p *probe) Tick(now Time) {
	p.ticks = append(p.ticks, probeTick{global: p.w.Now(), local: now, wakeAt: p.out.WakeAt})
	if p.onTick != nil {
		p.onTick(p, now)
	}
}

func (p *probe) Ready() node.Ready { return p.out }

func (p *probe) Advance() {
	p.out.Messages = p.out.Messages[:0]
	p.out.Disk = p.out.Disk[:0]
	p.out.Sync = false
}

func (p *probe) send(to node.ID, body any) {
	p.out.Messages = append(p.out.Messages, node.Message{From: p.env.ID, To: to, Body: body})
}

func (p *probe) write(op node.DiskOp) { p.out.Disk = append(p.out.Disk, op) }

// probeWorld builds a world of probes with IDs 1..n; setup customizes each
// probe when it is built (also on restarts).
func probeWorld(cfg Config, n int, setup func(p *probe)) (*World, func(id node.ID) *probe) {
	w := New(cfg)
	for i := 1; i <= n; i++ {
		w.AddNode(node.ID(i), func(env node.Env) node.Machine {
			p := &probe{env: env, w: w}
			if setup != nil {
				setup(p)
			}
			return p
		})
	}
	get := func(id node.ID) *probe {
		m := w.Machine(id)
		if m == nil {
			return nil
		}
		return m.(*probe)
	}
	return w, get
}

// tmsg is a test message body: a per-world unique id and a per-link sequence
// number.
type tmsg struct {
	ID  uint64
	Seq uint64
}

func (m *tmsg) TraceHash() uint64 { return m.ID*0x9e3779b97f4a7c15 ^ m.Seq }

// checkConservation asserts that every message a core emitted (plus every
// duplicate) is delivered, dropped, in flight or held, exactly once.
func checkConservation(t require.TestingT, w *World) {
	s := w.Stats()
	held := 0
	for _, n := range w.nodes {
		held += len(n.inbox) + len(n.outbox) - n.outHead
	}
	require.Equal(t, s.Sent+s.Duplicated,
		s.Delivered+s.DroppedTotal()+uint64(w.net.inFlightTotal())+uint64(held),
		"message conservation: sent+dup == delivered+dropped+in flight+held")
}

func TestWorld_ConservationHoldsOnEmptyWorld(t *testing.T) {
	w := New(DefaultConfig(1))
	checkConservation(t, w)
	require.False(t, w.Step())
}
