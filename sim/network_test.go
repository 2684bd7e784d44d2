package sim

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"zoosim/node"
)

type netFaults struct {
	loss, dup, reorder, tail, partitions bool
}

func linkParamsGen(f netFaults) *rapid.Generator[LinkParams] {
	return rapid.Custom(func(t *rapid.T) LinkParams {
		p := LinkParams{}
		p.LatencyMin = Time(rapid.Int64Range(0, 2_000_000).Draw(t, "latMin"))
		p.LatencyMax = p.LatencyMin + Time(rapid.Int64Range(0, 3_000_000).Draw(t, "latSpread"))
		if f.tail {
			p.TailProb = rapid.Float64Range(0, 0.3).Draw(t, "tail")
			p.TailLatencyMin = Time(rapid.Int64Range(0, 10_000_000).Draw(t, "tailMin"))
			p.TailLatencyMax = p.TailLatencyMin + Time(rapid.Int64Range(0, 40_000_000).Draw(t, "tailSpread"))
		}
		if f.loss {
			p.LossProb = rapid.Float64Range(0, 0.5).Draw(t, "loss")
		}
		if f.dup {
			p.DupProb = rapid.Float64Range(0, 0.5).Draw(t, "dup")
		}
		if f.reorder {
			p.ReorderProb = rapid.Float64Range(0, 0.5).Draw(t, "reorder")
		}
		return p
	})
}

type netActKind int

const (
	actSend netActKind = iota
	actBlock
	actUnblock
	actPartition
	actIsolate
	actHeal
)

type netAct struct {
	at       Time
	kind     netActKind
	from, to node.ID
	count    int
	split    []bool // actPartition: group of each node
}

type sentRec struct {
	from, to       node.ID
	blockedAtSend  bool
	afterLastBlock bool // sent after the last partition change of the schedule
}

type deliveredRec struct {
	id      uint64
	seq     uint64
	from    node.ID
	to      node.ID
	blocked bool // the reference model's state of the link at delivery
}

type netResult struct {
	sent      []sentRec // indexed by message id
	delivered []deliveredRec
}

// runNetScenario builds n probes, applies a schedule drawn by rapid (sends
// and, if allowed, partition changes) and runs until the network is quiet.
// It keeps its own model of which directed links are blocked, applying the
// same operations, as the reference for the world's partitions.
func runNetScenario(t *rapid.T, f netFaults) netResult {
	n := rapid.IntRange(2, 4).Draw(t, "nodes")
	cfg := Config{Seed: rapid.Uint64().Draw(t, "seed"), Links: linkParamsGen(f).Draw(t, "links")}
	ids := make([]node.ID, n)
	for i := range ids {
		ids[i] = node.ID(i + 1)
	}
	var res netResult
	blocked := map[[2]node.ID]bool{}
	w, get := probeWorld(cfg, n, func(p *probe) {
		p.onStep = func(p *probe, _ Time, m node.Message) {
			b := m.Body.(*tmsg)
			res.delivered = append(res.delivered, deliveredRec{id: b.ID, seq: b.Seq, from: m.From, to: m.To,
				blocked: blocked[[2]node.ID{m.From, m.To}]})
		}
	})
	for _, from := range ids {
		for _, to := range ids {
			if rapid.IntRange(0, 3).Draw(t, "override") == 0 {
				w.SetLink(from, to, linkParamsGen(f).Draw(t, "link"))
			}
		}
	}
	idGen := rapid.SampledFrom(ids)
	kinds := []netActKind{actSend}
	if f.partitions {
		kinds = append(kinds, actBlock, actUnblock, actPartition, actIsolate, actHeal)
	}
	acts := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) netAct {
		a := netAct{
			at:   Time(rapid.Int64Range(0, 50_000_000).Draw(t, "at")),
			kind: rapid.SampledFrom(kinds).Draw(t, "kind"),
			from: idGen.Draw(t, "from"), to: idGen.Draw(t, "to"),
		}
		a.count = rapid.IntRange(1, 20).Draw(t, "count")
		a.split = rapid.SliceOfN(rapid.Bool(), n, n).Draw(t, "split")
		return a
	}), 20, 100).Draw(t, "schedule")

	lastChange := Time(-1)
	for _, a := range acts {
		if a.kind != actSend && a.at > lastChange {
			lastChange = a.at
		}
	}
	seqs := map[[2]node.ID]uint64{}
	for _, a := range acts {
		w.At(a.at, func() {
			switch a.kind {
			case actSend:
				p := get(a.from)
				for range a.count {
					l := [2]node.ID{a.from, a.to}
					seqs[l]++
					res.sent = append(res.sent, sentRec{from: a.from, to: a.to, blockedAtSend: blocked[l],
						afterLastBlock: w.Now() > lastChange})
					p.send(a.to, &tmsg{ID: uint64(len(res.sent) - 1), Seq: seqs[l]})
				}
				w.Drain(a.from)
			case actBlock:
				w.Block(a.from, a.to)
				blocked[[2]node.ID{a.from, a.to}] = true
			case actUnblock:
				w.Unblock(a.from, a.to)
				blocked[[2]node.ID{a.from, a.to}] = false
			case actPartition:
				var g1, g2 []node.ID
				for i, id := range ids {
					if a.split[i] {
						g1 = append(g1, id)
					} else {
						g2 = append(g2, id)
					}
				}
				w.Partition(g1, g2)
				for _, x := range g1 {
					for _, y := range g2 {
						blocked[[2]node.ID{x, y}] = true
						blocked[[2]node.ID{y, x}] = true
					}
				}
			case actIsolate:
				w.Isolate(a.from)
				for _, o := range ids {
					if o != a.from {
						blocked[[2]node.ID{a.from, o}] = true
						blocked[[2]node.ID{o, a.from}] = true
					}
				}
			case actHeal:
				w.Heal()
				clear(blocked)
			}
			for l, b := range blocked {
				require.Equal(t, b, w.Blocked(l[0], l[1]), "world and reference disagree on link %v", l)
			}
		})
	}
	w.Run(maxTime)
	require.Zero(t, w.Pending())
	require.Zero(t, w.net.inFlightTotal())
	checkConservation(t, w)
	s := w.Stats()
	require.Equal(t, uint64(len(res.sent)), s.Sent)
	require.Equal(t, uint64(len(res.delivered)), s.Delivered)
	return res
}

func TestNetwork_BlockedLinkDeliversNothing(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := netFaults{loss: true, dup: true, reorder: true, tail: true, partitions: true}
		res := runNetScenario(t, f)
		for _, d := range res.delivered {
			require.False(t, d.blocked, "message %d delivered on blocked link %d->%d", d.id, d.from, d.to)
			require.False(t, res.sent[d.id].blockedAtSend, "message %d sent on a blocked link was delivered", d.id)
		}
	})
}

func TestNetwork_MessagesFlowAfterHeal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Without loss, every message sent after the last partition change
		// on a link left open must arrive; the schedule ends healed when its
		// last change is a heal, which rapid draws often enough.
		res := runNetScenario(t, netFaults{reorder: true, tail: true, partitions: true})
		got := map[uint64]int{}
		for _, d := range res.delivered {
			got[d.id]++
		}
		for id, s := range res.sent {
			if s.afterLastBlock && !s.blockedAtSend {
				require.Equal(t, 1, got[uint64(id)], "message %d %d->%d sent over an open link after the last partition change", id, s.from, s.to)
			}
		}
	})
}

func TestNetwork_HealRestoresEveryLink(t *testing.T) {
	w, get := probeWorld(Config{Seed: 1}, 3, nil)
	w.Partition([]node.ID{1}, []node.ID{2, 3})
	w.Block(2, 3)
	w.Isolate(3)
	w.Heal()
	for _, a := range w.Nodes() {
		for _, b := range w.Nodes() {
			require.False(t, w.Blocked(a, b))
			get(a).send(b, &tmsg{})
		}
		w.Drain(a)
	}
	w.Run(maxTime)
	require.Equal(t, uint64(9), w.Stats().Delivered)
}

func TestNetwork_NoDuplicatesWithoutDuplication(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		dup := rapid.Bool().Draw(t, "dupOn")
		res := runNetScenario(t, netFaults{loss: true, dup: dup, reorder: true, tail: true, partitions: true})
		got := map[uint64]int{}
		for _, d := range res.delivered {
			got[d.id]++
		}
		limit := 1
		if dup {
			limit = 2 // a send makes at most one extra copy
		}
		for id, c := range got {
			require.LessOrEqual(t, c, limit, "message %d delivered %d times (dup %v)", id, c, dup)
		}
	})
}

func TestNetwork_FIFOPerLinkWithoutReordering(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		res := runNetScenario(t, netFaults{loss: true, tail: true, partitions: true})
		last := map[[2]node.ID]uint64{}
		for _, d := range res.delivered {
			l := [2]node.ID{d.from, d.to}
			require.Greater(t, d.seq, last[l], "link %d->%d delivered seq %d after %d", d.from, d.to, d.seq, last[l])
			last[l] = d.seq
		}
	})
}

func TestNetwork_LosslessHealthyNetworkDeliversEverything(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		res := runNetScenario(t, netFaults{reorder: true, tail: true})
		got := make([]int, len(res.sent))
		for _, d := range res.delivered {
			got[d.id]++
		}
		for id, c := range got {
			require.Equal(t, 1, c, "message %d", id)
		}
	})
}

func TestNetwork_ReorderingReordersSometimes(t *testing.T) {
	// The FIFO property must be able to fail: with reordering on, a burst
	// on one link arrives out of order.
	w, get := probeWorld(Config{Seed: 7, Links: LinkParams{LatencyMin: 1000, LatencyMax: 2000, ReorderProb: 0.5}}, 2, nil)
	for i := range 100 {
		get(1).send(2, &tmsg{ID: uint64(i), Seq: uint64(i + 1)})
	}
	w.Drain(1)
	w.Run(maxTime)
	steps := get(2).steps
	require.Len(t, steps, 100)
	inversions := 0
	for i := 1; i < len(steps); i++ {
		if steps[i].msg.Body.(*tmsg).Seq < steps[i-1].msg.Body.(*tmsg).Seq {
			inversions++
		}
	}
	require.Positive(t, inversions)
	require.Positive(t, w.Stats().Reordered)
}

func TestNetwork_PartitionDuringFlightDropsOnArrival(t *testing.T) {
	w, get := probeWorld(Config{Seed: 1, Links: LinkParams{LatencyMin: 1000, LatencyMax: 1000}}, 2, nil)
	get(1).send(2, &tmsg{ID: 1})
	w.Drain(1)
	w.Run(500)
	w.Block(1, 2)
	w.Run(maxTime)
	require.Empty(t, get(2).steps)
	require.Equal(t, uint64(1), w.Stats().Dropped[DropBlockedInFlight])
}

func TestNetwork_OneWayPartition(t *testing.T) {
	w, get := probeWorld(Config{Seed: 1}, 2, nil)
	w.Block(1, 2)
	get(1).send(2, &tmsg{ID: 1})
	get(2).send(1, &tmsg{ID: 2})
	w.Drain(1)
	w.Drain(2)
	w.Run(maxTime)
	require.Empty(t, get(2).steps)
	require.Len(t, get(1).steps, 1)
	require.Equal(t, uint64(1), w.Stats().Dropped[DropBlocked])
}

func TestNetwork_InFlightBoundDropsExcess(t *testing.T) {
	w, get := probeWorld(Config{Seed: 1, Links: LinkParams{LatencyMin: 1000, LatencyMax: 1000, MaxInFlight: 3}}, 2, nil)
	for i := range 10 {
		get(1).send(2, &tmsg{ID: uint64(i)})
	}
	w.Drain(1)
	w.Run(maxTime)
	require.Len(t, get(2).steps, 3)
	require.Equal(t, uint64(7), w.Stats().Dropped[DropOverflow])
	checkConservation(t, w)
}

func TestNetwork_UnknownDestinationIsDropped(t *testing.T) {
	w, get := probeWorld(Config{Seed: 1}, 1, nil)
	get(1).send(99, &tmsg{})
	w.Drain(1)
	w.Run(maxTime)
	require.Equal(t, uint64(1), w.Stats().Dropped[DropUnknownNode])
	checkConservation(t, w)
}

func TestNetwork_MessagesToACrashedIncarnationAreDropped(t *testing.T) {
	w, get := probeWorld(Config{Seed: 1, Links: LinkParams{LatencyMin: 1000, LatencyMax: 1000}}, 2, nil)
	get(1).send(2, &tmsg{ID: 1})
	w.Drain(1)
	w.Run(100)
	w.Crash(2)
	w.Restart(2)
	w.Run(maxTime)
	require.Empty(t, get(2).steps, "the restarted node must not see a message sent to its previous incarnation")
	require.Equal(t, uint64(1), w.Stats().Dropped[DropNodeDown])
}

func TestNetwork_InvalidLinkParamsPanic(t *testing.T) {
	w, _ := probeWorld(Config{Seed: 1}, 2, nil)
	require.Panics(t, func() { w.SetLink(1, 2, LinkParams{LatencyMin: 5, LatencyMax: 1}) })
	require.Panics(t, func() { w.SetAllLinks(LinkParams{LossProb: 1.5}) })
	require.Panics(t, func() { w.Partition([]node.ID{1, 2}, []node.ID{2}) })
}
