package sim

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"zoosim/node"
)

// diskModel is the reference: files as lists of byte strings, changed by
// applying DiskOps one by one.
type diskModel map[string][][]byte

func (m diskModel) clone() diskModel {
	c := diskModel{}
	for f, recs := range m {
		c[f] = slices.Clone(recs)
	}
	return c
}

func (m diskModel) apply(op node.DiskOp) {
	switch op.Kind {
	case node.Append:
		m[op.File] = append(m[op.File], bytes.Clone(op.Data))
	case node.Truncate:
		if recs, ok := m[op.File]; ok && op.N < len(recs) {
			m[op.File] = recs[:op.N]
		}
	case node.Replace:
		m[op.File] = [][]byte{bytes.Clone(op.Data)}
	case node.Remove:
		delete(m, op.File)
	}
}

func (m diskModel) String() string {
	var b bytes.Buffer
	for _, f := range slices.Sorted(func(yield func(string) bool) {
		for f := range m {
			if !yield(f) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "%s:%q ", f, m[f])
	}
	return b.String()
}

func (m diskModel) equal(o diskModel) bool {
	if len(m) != len(o) {
		return false
	}
	for f, recs := range m {
		orecs, ok := o[f]
		if !ok || len(recs) != len(orecs) {
			return false
		}
		for i := range recs {
			if !bytes.Equal(recs[i], orecs[i]) {
				return false
			}
		}
	}
	return true
}

// readStorage reads everything a core would see, failing on corruption.
func readStorage(t require.TestingT, s node.Storage) diskModel {
	m := diskModel{}
	files := s.Files()
	require.True(t, slices.IsSorted(files), "Files must be sorted: %v", files)
	for _, f := range files {
		recs := s.Read(f)
		require.NotNil(t, recs, "listed file %q must be readable", f)
		m[f] = [][]byte{}
		for i, r := range recs {
			require.False(t, r.Corrupt, "%s[%d] is corrupt", f, i)
			m[f] = append(m[f], r.Data)
		}
	}
	return m
}

type ackBody struct{ ops int }

var diskOpGen = rapid.Custom(func(t *rapid.T) node.DiskOp {
	op := node.DiskOp{
		Kind: rapid.SampledFrom([]node.DiskOpKind{node.Append, node.Append, node.Append, node.Truncate, node.Replace, node.Remove}).Draw(t, "kind"),
		File: rapid.SampledFrom([]string{"log", "epoch", "snap"}).Draw(t, "file"),
	}
	switch op.Kind {
	case node.Append, node.Replace:
		op.Data = rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "data")
	case node.Truncate:
		op.N = rapid.IntRange(0, 6).Draw(t, "n")
	}
	return op
})

// TestDisk_SyncedDataSurvivesCrashAndUnsyncedOnlyAsPrefix drives one node
// through writes, syncs that release an acknowledgement to itself, time and
// crashes. After each restart its storage must be the state after some
// prefix of the ops it wrote: at least every op acknowledged after a sync
// (durability), exactly the ops the last completed sync covered under
// LoseAll, and never anything but a prefix under RandomTail.
func TestDisk_SyncedDataSurvivesCrashAndUnsyncedOnlyAsPrefix(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		policy := rapid.SampledFrom([]CrashLoss{LoseAll, RandomTail}).Draw(t, "policy")
		cfg := Config{Seed: rapid.Uint64().Draw(t, "seed"), CrashLoss: policy,
			SyncLatencyMin: Time(rapid.Int64Range(0, 1_000_000).Draw(t, "syncMin"))}
		cfg.SyncLatencyMax = cfg.SyncLatencyMin + Time(rapid.Int64Range(0, 2_000_000).Draw(t, "syncSpread"))

		base := diskModel{}
		var ops []node.DiskOp
		acked := 0
		synced := 0 // ops covered by the last completed sync, from the trace
		var opBase uint64
		w, get := probeWorld(cfg, 1, func(p *probe) {
			p.onStep = func(_ *probe, _ Time, m node.Message) {
				a := m.Body.(*ackBody)
				require.GreaterOrEqual(t, a.ops, acked, "acks arrive in order")
				acked = a.ops
			}
		})
		w.SetTracer(func(e TraceEvent) {
			if e.Kind == TraceSyncDone && e.M == 0 {
				synced = int(uint64(e.N) - opBase)
			}
		})
		w.Run(0)
		steps := rapid.IntRange(20, 150).Draw(t, "steps")
		for range steps {
			switch rapid.IntRange(0, 9).Draw(t, "action") {
			case 0, 1, 2, 3:
				op := diskOpGen.Draw(t, "op")
				ops = append(ops, node.DiskOp{Kind: op.Kind, File: op.File, Data: bytes.Clone(op.Data), N: op.N})
				get(1).write(op)
				w.Drain(1)
			case 4, 5:
				p := get(1)
				p.out.Sync = true
				p.send(1, &ackBody{ops: len(ops)})
				w.Drain(1)
			case 6, 7, 8:
				w.RunFor(Time(rapid.Int64Range(0, 3_000_000).Draw(t, "run")))
			case 9:
				require.LessOrEqual(t, acked, synced, "an ack was released before its sync completed")
				w.Crash(1)
				w.Restart(1)
				got := readStorage(t, get(1).env.Storage)
				low := acked
				if policy == LoseAll {
					low = synced
				}
				found := -1
				m := base.clone()
				for k := 0; k <= len(ops); k++ {
					if k > 0 {
						m.apply(ops[k-1])
					}
					if k >= low && m.equal(got) {
						found = k
						break
					}
				}
				require.GreaterOrEqual(t, found, 0,
					"after crash the disk %v is not the result of a prefix of at least %d of the %d ops on %v (%v)",
					got, low, len(ops), base, ops)
				if policy == LoseAll {
					require.Equal(t, synced, found, "LoseAll keeps exactly the synced ops")
				}
				base, ops, acked, synced = got, nil, 0, 0
				opBase = w.nodes[0].disk.written
			}
		}
	})
}

func TestDisk_ReplaceIsAtomic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := Config{Seed: rapid.Uint64().Draw(t, "seed"), CrashLoss: RandomTail,
			SyncLatencyMin: node.Millisecond, SyncLatencyMax: 2 * node.Millisecond}
		w, get := probeWorld(cfg, 1, nil)
		w.Run(0)
		written := [][]byte{}
		for range rapid.IntRange(1, 40).Draw(t, "rounds") {
			for range rapid.IntRange(0, 4).Draw(t, "replaces") {
				data := rapid.SliceOfN(rapid.Byte(), 1, 64).Draw(t, "data")
				written = append(written, data)
				get(1).write(node.DiskOp{Kind: node.Replace, File: "snap", Data: data})
			}
			get(1).out.Sync = rapid.Bool().Draw(t, "sync")
			w.Drain(1)
			w.RunFor(Time(rapid.Int64Range(0, 3_000_000).Draw(t, "run")))
			if rapid.IntRange(0, 4).Draw(t, "crash") == 0 {
				w.Crash(1)
				w.Restart(1)
				recs := get(1).env.Storage.Read("snap")
				if recs == nil {
					continue
				}
				require.Len(t, recs, 1, "a replaced file holds exactly one record")
				require.False(t, recs[0].Corrupt)
				require.True(t, slices.ContainsFunc(written, func(d []byte) bool { return bytes.Equal(d, recs[0].Data) }),
					"snapshot %x is not one of the values written", recs[0].Data)
				written = [][]byte{recs[0].Data}
			}
		}
	})
}

func TestDisk_CorruptionIsAlwaysDetected(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w, get := probeWorld(Config{Seed: rapid.Uint64().Draw(t, "seed")}, 1, nil)
		w.Run(0)
		want := diskModel{}
		for range rapid.IntRange(1, 40).Draw(t, "records") {
			op := node.DiskOp{Kind: node.Append, File: rapid.SampledFrom([]string{"a", "b"}).Draw(t, "file"),
				Data: rapid.SliceOfN(rapid.Byte(), 0, 16).Draw(t, "data")}
			want.apply(op)
			get(1).write(op)
		}
		get(1).out.Sync = true
		w.Drain(1)
		w.Run(maxTime)
		clean := w.Storage(1) // a snapshot taken before the damage must stay clean
		hits := map[[2]any]int{}
		for range rapid.IntRange(0, 10).Draw(t, "corruptions") {
			if rapid.Bool().Draw(t, "random") {
				f, i, ok := w.CorruptRandom(1)
				require.True(t, ok)
				hits[[2]any{f, i}]++
			} else {
				f := rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "cfile")
				i := rapid.IntRange(-1, 20).Draw(t, "cindex")
				ok := w.CorruptRecord(1, f, i)
				require.Equal(t, i >= 0 && i < len(want[f]), ok)
				if ok {
					hits[[2]any{f, i}]++
				}
			}
		}
		require.True(t, readStorage(t, clean).equal(want), "earlier snapshots are not affected by corruption")
		w.Crash(1)
		w.Restart(1)
		s := get(1).env.Storage
		for f, recs := range want {
			got := s.Read(f)
			require.Len(t, got, len(recs))
			for i, r := range got {
				n := hits[[2]any{f, i}]
				if !r.Corrupt {
					require.Equal(t, recs[i], r.Data, "%s[%d] passed its checksum with wrong data", f, i)
				}
				switch n {
				case 0:
					require.False(t, r.Corrupt, "%s[%d] was never damaged", f, i)
				case 1:
					require.True(t, r.Corrupt, "%s[%d] was damaged once and not detected", f, i)
				}
			}
		}
	})
}

func TestDisk_AckWaitsForSyncAndCrashLosesBoth(t *testing.T) {
	setup := func() (*World, func(node.ID) *probe) {
		cfg := Config{Seed: 1, CrashLoss: LoseAll, SyncLatencyMin: node.Millisecond, SyncLatencyMax: node.Millisecond}
		w, get := probeWorld(cfg, 2, nil)
		w.Run(0)
		p := get(1)
		p.write(node.DiskOp{Kind: node.Append, File: "log", Data: []byte("x")})
		p.out.Sync = true
		p.send(2, &tmsg{ID: 1})
		w.Drain(1)
		p.send(2, &tmsg{ID: 2}) // a later Ready without Sync still waits behind the barrier
		w.Drain(1)
		return w, get
	}

	w, get := setup()
	w.Run(maxTime)
	steps := get(2).steps
	require.Len(t, steps, 2)
	require.Equal(t, node.Millisecond, steps[0].global, "the ack leaves when the sync completes")
	require.Equal(t, uint64(1), steps[0].msg.Body.(*tmsg).ID)
	require.Equal(t, uint64(2), steps[1].msg.Body.(*tmsg).ID)

	w, get = setup()
	w.Run(node.Millisecond / 2)
	w.Crash(1)
	w.Restart(1)
	w.Run(maxTime)
	require.Empty(t, get(2).steps)
	require.Equal(t, uint64(2), w.Stats().Dropped[DropCrashOutbox])
	require.Empty(t, get(1).env.Storage.Files(), "the unsynced append is lost")
	checkConservation(t, w)
}

func TestDisk_SyncLiesLoseAcknowledgedData(t *testing.T) {
	cfg := Config{Seed: 1, CrashLoss: LoseAll}
	w, get := probeWorld(cfg, 2, nil)
	w.Run(0)
	w.SetSyncLies(1, true)
	p := get(1)
	p.write(node.DiskOp{Kind: node.Append, File: "log", Data: []byte("x")})
	p.out.Sync = true
	p.send(2, &tmsg{ID: 1})
	w.Drain(1)
	w.Run(maxTime)
	require.Len(t, get(2).steps, 1, "a lying sync still releases the ack")
	require.Equal(t, uint64(1), w.Stats().SyncLies)
	require.Equal(t, 1, w.Unsynced(1))
	w.Crash(1)
	w.Restart(1)
	require.Empty(t, get(1).env.Storage.Files(), "the acknowledged write was never durable")

	w.SetSyncLies(1, false)
	p = get(1)
	p.write(node.DiskOp{Kind: node.Append, File: "log", Data: []byte("y")})
	p.out.Sync = true
	w.Drain(1)
	w.Run(maxTime)
	w.Crash(1)
	w.Restart(1)
	require.Equal(t, diskModel{"log": {[]byte("y")}}, readStorage(t, get(1).env.Storage))
}

func TestDisk_UnsyncedLayerIsBoundedByWriteback(t *testing.T) {
	w, get := probeWorld(Config{Seed: 1, CrashLoss: LoseAll, MaxUnsyncedOps: 4}, 1, nil)
	w.Run(0)
	for i := range 10 {
		get(1).write(node.DiskOp{Kind: node.Append, File: "log", Data: []byte{byte(i)}})
	}
	w.Drain(1)
	require.Equal(t, 4, w.Unsynced(1))
	require.Equal(t, uint64(6), w.Stats().Writebacks)
	w.Crash(1)
	w.Restart(1)
	require.Len(t, get(1).env.Storage.Read("log"), 6, "the written-back prefix survives")
}

func TestDisk_BadOpsAreInvariantViolations(t *testing.T) {
	for _, op := range []node.DiskOp{{Kind: 0, File: "x"}, {Kind: node.Truncate, File: "x", N: -1}, {Kind: node.Append}} {
		w, get := probeWorld(Config{Seed: 1}, 1, nil)
		get(1).write(op)
		require.Panics(t, func() { w.Drain(1) }, "%+v", op)
	}
}
