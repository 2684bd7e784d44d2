package server

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/model"
	"zoosim/node"
	"zoosim/sim"
	"zoosim/wire"
)

// worker is a raw client that keeps writing and reconnects (to the next
// server, same session) when its connection breaks or goes silent.
type worker struct {
	rawClient
	servers    []node.ID
	next       int
	rnd        *rand.Rand
	heard      node.Time
	reconnect  node.Time
	inflight   map[int32]bool
	acked      []ack
	keys       int
	madeParent bool
	stopped    bool
	parentXid  int32
}

type ack struct {
	zxid    model.Zxid
	session int64
	xid     int32
}

func (w *worker) Step(now node.Time, m node.Message) {
	before := len(w.replies)
	w.rawClient.Step(now, m)
	w.heard = now
	for _, r := range w.replies[before:] {
		if r.Xid == w.parentXid && (r.Err == model.ErrOK || r.Err == model.ErrNodeExists) {
			w.madeParent = true
		}
		if w.inflight[r.Xid] {
			delete(w.inflight, r.Xid)
			if r.Err == model.ErrOK {
				w.acked = append(w.acked, ack{zxid: r.Zxid, session: w.session, xid: r.Xid})
			}
		}
	}
	if w.closed != nil && w.reconnect == 0 {
		w.reconnect = now + 20*ms
	}
	if w.expired {
		// Start over with a new session.
		w.session, w.passwd, w.expired = 0, nil, false
		w.reconnect = now + 20*ms
	}
}

func (w *worker) Tick(now node.Time) {
	w.now = now
	if w.connected && now-w.heard > node.Time(w.timeoutMs)*ms*2/3 {
		w.connected = false
		w.reconnect = now
	}
	if !w.connected && w.reconnect != 0 && now >= w.reconnect {
		w.reconnect = now + node.Time(w.timeoutMs)*ms/3
		clear(w.inflight)
		w.heard = now
		w.connect(w.servers[w.next%len(w.servers)])
		w.next++
		return
	}
	if w.connected && len(w.inflight) < 2 && !w.stopped {
		k := w.rnd.IntN(w.keys)
		var xid int32
		if !w.madeParent {
			if len(w.inflight) > 0 {
				w.rawClient.Tick(now)
				return
			}
			xid = w.request(&wire.Request{Op: model.OpCreate, Write: model.Create{Path: "/q", ACL: model.OpenACLUnsafe, Mode: model.ModePersistent}})
			w.parentXid = xid
		} else if w.rnd.IntN(4) == 0 {
			xid = w.request(&wire.Request{Op: model.OpCreate, Write: model.Create{Path: fmt.Sprintf("/q/%d-", k), ACL: model.OpenACLUnsafe, Mode: model.ModePersistentSequential}})
		} else {
			xid = w.request(&wire.Request{Op: model.OpSetData, Write: model.SetData{Path: "/q", Data: []byte{byte(k)}, Version: -1}})
		}
		w.inflight[xid] = true
	}
	w.rawClient.Tick(now)
}

func (w *worker) Ready() node.Ready {
	rd := w.rawClient.Ready()
	rd.WakeAt = w.now + 10*ms
	return rd
}

// TestServer_RandomFaultsKeepEveryAcknowledgedWrite: servers on Zab with
// clients writing through crashes, restarts, partitions and lossy links;
// white-box checks: the applied sequences of all servers agree, every write
// a client saw acknowledged is in them, and after healing a write succeeds.
func TestServer_RandomFaultsKeepEveryAcknowledgedWrite(t *testing.T) {
	seeds := 500
	if testing.Short() {
		seeds = 50
	}
	var recoveries []node.Time
	var events, writes uint64
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		rec, ev, wr := runServiceSeed(t, seed)
		recoveries = append(recoveries, rec)
		events += ev
		writes += wr
	}
	slices.Sort(recoveries)
	t.Logf("%d seeds: first write after heal median %d ms, worst %d ms; %.1f simulated events per acknowledged write",
		seeds, recoveries[len(recoveries)/2]/ms, recoveries[len(recoveries)-1]/ms, float64(events)/float64(writes))
}

func runServiceSeed(t *testing.T, seed uint64) (node.Time, uint64, uint64) {
	n := 3 + int(seed%3)
	e := newEnsemble(t, seed, n)
	var servers []node.ID
	for i := 1; i <= n; i++ {
		servers = append(servers, node.ID(i))
	}
	var ws []*worker
	for i := 0; i < 4; i++ {
		w := &worker{rawClient: rawClient{id: node.ID(100 + i), timeoutMs: 1000}, servers: servers, next: i,
			rnd: sim.NewStream(seed, fmt.Sprintf("worker/%d", i)), inflight: map[int32]bool{}, keys: 3, reconnect: 1}
		ws = append(ws, w)
		e.w.AddNode(w.id, func(env node.Env) node.Machine { w.now = env.Now; return w })
	}
	e.waitServing(5 * node.Second)

	lost := map[node.ID][][]AppliedTxn{}
	crash := func(id node.ID) {
		if s := e.server(id); s != nil {
			lost[id] = append(lost[id], s.Applied())
		}
		e.w.Crash(id)
	}
	rnd := sim.NewStream(seed, "test-nemesis")
	lossy := sim.DefaultLinkParams()
	lossy.LossProb, lossy.DupProb, lossy.ReorderProb = 0.002, 0.002, 0.002
	e.w.SetAllLinks(lossy)
	for step := 0; step < 10; step++ {
		e.w.RunFor(node.Time(200+rnd.IntN(600)) * ms)
		id := node.ID(1 + rnd.IntN(n))
		switch rnd.IntN(5) {
		case 0:
			crash(id)
		case 1:
			e.w.Restart(id)
		case 2:
			e.w.Heal()
			var a, b []node.ID
			for _, s := range servers {
				if rnd.IntN(2) == 0 {
					a = append(a, s)
				} else {
					b = append(b, s)
				}
			}
			e.w.Partition(a, b)
		case 3:
			e.w.Heal()
		case 4:
			for _, s := range servers {
				if sv := e.server(s); sv != nil && sv.lead != nil {
					crash(s)
				}
			}
		}
	}
	e.w.Heal()
	e.w.SetAllLinks(sim.DefaultLinkParams())
	for _, s := range servers {
		e.w.Restart(s)
	}
	healed := e.w.Now()
	before := 0
	for _, w := range ws {
		before += len(w.acked)
	}
	var recovered node.Time
	for e.w.Now() < healed+30*node.Second {
		e.w.RunFor(10 * ms)
		after := 0
		for _, w := range ws {
			for _, a := range w.acked {
				if a.zxid > 0 {
					after++
				}
			}
		}
		if after > before {
			recovered = e.w.Now() - healed
			break
		}
	}
	require.NotZero(t, recovered, "seed %d: no write acknowledged within 30 s of healing", seed)
	for _, w := range ws {
		w.stopped = true
	}
	e.w.RunFor(2 * node.Second) // let every server catch up
	for _, s := range servers {
		require.Equal(t, e.server(1).Tree().LastZxid(), e.server(s).Tree().LastZxid(), "seed %d: server %d did not catch up", seed, s)
		require.Equal(t, e.server(1).Tree().Digest(), e.server(s).Tree().Digest(), "seed %d: server %d's tree differs", seed, s)
	}

	// Agreement: every server's applied sequence (including those of earlier
	// incarnations) is a contiguous run of one global sequence.
	global := map[model.Zxid]AppliedTxn{}
	var runs [][]AppliedTxn
	for _, s := range servers {
		runs = append(runs, lost[s]...)
		runs = append(runs, e.server(s).Applied())
	}
	for _, run := range runs {
		for _, a := range run {
			if g, ok := global[a.Zxid]; ok {
				require.Equal(t, g.Digest, a.Digest, "seed %d: servers disagree at %v", seed, a.Zxid)
				if a.Txn != nil && g.Txn != nil {
					require.Equal(t, g.Session, a.Session, "seed %d: servers disagree at %v", seed, a.Zxid)
				}
			}
			if g, ok := global[a.Zxid]; !ok || g.Txn == nil {
				global[a.Zxid] = a
			}
		}
	}
	var order []model.Zxid
	for z := range global {
		order = append(order, z)
	}
	slices.Sort(order)
	index := map[model.Zxid]int{}
	for i, z := range order {
		index[z] = i
	}
	for _, run := range runs {
		for i := 1; i < len(run); i++ {
			if run[i].Txn == nil {
				continue // a snapshot restore jumps
			}
			require.Equal(t, index[run[i-1].Zxid]+1, index[run[i].Zxid], "seed %d: a server skipped txns between %v and %v", seed, run[i-1].Zxid, run[i].Zxid)
		}
	}
	// Durability: every acknowledged write is in the final sequence.
	final := e.server(1).Applied()
	last := final[len(final)-1].Zxid
	var writes uint64
	for _, w := range ws {
		for _, a := range w.acked {
			g, ok := global[a.zxid]
			require.True(t, ok, "seed %d: acknowledged write %v lost", seed, a.zxid)
			if g.Txn != nil { // else only seen inside a snapshot
				require.Equal(t, a.session, g.Session, "seed %d: acknowledged write %v has another session's txn", seed, a.zxid)
				require.Equal(t, a.xid, g.Cxid, "seed %d", seed)
			}
			require.LessOrEqual(t, a.zxid, last)
			writes++
		}
	}
	return recovered, e.w.Stats().Events, writes
}
