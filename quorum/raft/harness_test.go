package raft

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/model"
	"zoosim/node"
	"zoosim/quorum"
	"zoosim/sim"
)

// replica is a test server: a raft engine replicating a trivial state
// machine (the list of applied entries), proposing a numbered value every
// proposeEvery while it is a serving leader, and recording what the relay
// channel and read points deliver.
type replica struct {
	id       node.ID
	e        *Engine
	applied  []quorum.Entry // the whole applied history since genesis
	restores int
	relayed  []quorum.Relay
	reads    []uint64
	now      node.Time
	c        *cluster

	nextPropose node.Time
	out         node.Ready
}

func (r *replica) Snapshot() quorum.Snapshot {
	var b []byte
	for _, e := range r.applied {
		b = binary.BigEndian.AppendUint64(b, uint64(e.Zxid))
		b = binary.BigEndian.AppendUint32(b, uint32(len(e.Data)))
		b = append(b, e.Data...)
	}
	var z model.Zxid
	if len(r.applied) > 0 {
		z = r.applied[len(r.applied)-1].Zxid
	}
	return quorum.Snapshot{Zxid: z, Data: b}
}

func restoreEntries(b []byte) []quorum.Entry {
	var out []quorum.Entry
	for len(b) > 0 {
		z := model.Zxid(binary.BigEndian.Uint64(b))
		n := binary.BigEndian.Uint32(b[8:])
		out = append(out, quorum.Entry{Zxid: z, Data: slices.Clone(b[12 : 12+n])})
		b = b[12+n:]
	}
	return out
}

func (r *replica) applyNow() {
	a := r.e.TakeApply()
	if a.Restore != nil {
		r.applied = restoreEntries(a.Restore.Data)
		r.restores++
	}
	for _, e := range a.Committed {
		if n := len(r.applied); n > 0 && r.applied[n-1].Zxid >= e.Zxid {
			panic(fmt.Sprintf("replica %d applies %v after %v", r.id, e.Zxid, r.applied[n-1].Zxid))
		}
		r.applied = append(r.applied, quorum.Entry{Zxid: e.Zxid, Data: slices.Clone(e.Data)})
		if r.e.Status().Role == quorum.Leading {
			r.c.acked[e.Zxid] = string(e.Data)
		}
	}
	r.relayed = append(r.relayed, a.Relayed...)
	r.reads = append(r.reads, a.Reads...)
}

func (r *replica) Step(now node.Time, m node.Message) {
	r.now = now
	r.e.Step(now, m)
	r.applyNow()
}

func (r *replica) Tick(now node.Time) {
	r.now = now
	r.e.Tick(now)
	r.applyNow()
	if r.c.proposeEvery > 0 && now >= r.nextPropose {
		r.nextPropose = now + r.c.proposeEvery
		if st := r.e.Status(); st.Role == quorum.Leading && st.Serving && r.c.proposing {
			r.c.seq++
			if _, err := r.e.Propose(now, fmt.Appendf(nil, "v%d", r.c.seq)); err != nil {
				panic(err)
			}
			r.applyNow()
		}
	}
}

func (r *replica) Ready() node.Ready {
	r.out = r.e.Ready()
	if r.c.proposeEvery > 0 && r.nextPropose > r.now && (r.out.WakeAt == 0 || r.nextPropose < r.out.WakeAt) {
		r.out.WakeAt = r.nextPropose
	}
	return r.out
}

func (r *replica) Synced(now node.Time, count uint64) {
	r.now = now
	r.e.Synced(now, count)
	r.applyNow()
}

func (r *replica) Advance() {
	r.e.Advance()
	r.applyNow()
}

// cluster is a raft ensemble in a simulated world.
type cluster struct {
	t            testing.TB
	w            *sim.World
	n            int
	reps         map[node.ID]*replica
	proposeEvery node.Time
	proposing    bool
	seq          int
	acked        map[model.Zxid]string // applied at a leader (a client would be told)
}

func newCluster(t testing.TB, seed uint64, n int, tune func(*Config)) *cluster {
	return newClusterConfig(t, sim.DefaultConfig(seed), n, tune)
}

func newClusterConfig(t testing.TB, wcfg sim.Config, n int, tune func(*Config)) *cluster {
	c := &cluster{t: t, n: n, reps: map[node.ID]*replica{}, acked: map[model.Zxid]string{}, proposing: true}
	c.w = sim.New(wcfg)
	v := quorum.NewMajority(n)
	for i := 1; i <= n; i++ {
		id := node.ID(i)
		c.w.AddNode(id, func(env node.Env) node.Machine {
			r := &replica{id: id, c: c, now: env.Now}
			cfg := DefaultConfig(v, r)
			if tune != nil {
				tune(&cfg)
			}
			e, err := New(cfg, env)
			if err != nil {
				panic(err)
			}
			r.e = e
			r.applyNow()
			c.reps[id] = r
			return r
		})
	}
	return c
}

func (c *cluster) rep(id node.ID) *replica {
	if !c.w.Up(id) {
		return nil
	}
	return c.reps[id]
}

// leader returns the serving leader among the live servers, or 0.
func (c *cluster) leader() node.ID {
	for i := 1; i <= c.n; i++ {
		if r := c.rep(node.ID(i)); r != nil {
			if st := r.e.Status(); st.Role == quorum.Leading && st.Serving {
				return node.ID(i)
			}
		}
	}
	return 0
}

// runUntil runs the world until cond holds or the budget of virtual time
// is spent; it reports whether cond held.
func (c *cluster) runUntil(budget node.Time, cond func() bool) bool {
	end := c.w.Now() + budget
	for c.w.Now() < end {
		if cond() {
			return true
		}
		c.w.RunFor(10 * node.Millisecond)
	}
	return cond()
}

// allServing: one serving leader, and every live server serves under it.
func (c *cluster) allServing() bool {
	l := c.leader()
	if l == 0 {
		return false
	}
	for i := 1; i <= c.n; i++ {
		if r := c.rep(node.ID(i)); r != nil {
			if st := r.e.Status(); !st.Serving || st.Leader != l {
				return false
			}
		}
	}
	return true
}

// checkAgreement: every replica's applied history is a prefix of the
// longest one, zxids grow along it, and every entry a leader applied is in
// it.
func (c *cluster) checkAgreement(t testing.TB) []quorum.Entry {
	var longest []quorum.Entry
	for i := 1; i <= c.n; i++ {
		if r := c.reps[node.ID(i)]; r != nil && len(r.applied) > len(longest) {
			longest = r.applied
		}
	}
	for i := 1; i <= c.n; i++ {
		r := c.reps[node.ID(i)]
		if r == nil {
			continue
		}
		for j, e := range r.applied {
			require.Equal(t, longest[j].Zxid, e.Zxid, "server %d entry %d", i, j)
			require.Equal(t, string(longest[j].Data), string(e.Data), "server %d entry %d (%v)", i, j, e.Zxid)
		}
	}
	in := map[model.Zxid]string{}
	for j, e := range longest {
		if j > 0 {
			require.Less(t, longest[j-1].Zxid, e.Zxid, "zxids go back at entry %d", j)
		}
		in[e.Zxid] = string(e.Data)
	}
	for z, d := range c.acked {
		got, ok := in[z]
		require.True(t, ok, "acknowledged %v (%s) lost", z, d)
		require.Equal(t, d, got, "acknowledged %v", z)
	}
	return longest
}
