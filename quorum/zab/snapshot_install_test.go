package zab

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/model"
	"zoosim/node"
	"zoosim/quorum"
)

// memDisk is a node.Storage built by applying disk ops, with no checksums
// to fail.
type memDisk map[string][]node.Record

func (d memDisk) Files() []string {
	var out []string
	for f := range d {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

func (d memDisk) Read(file string) []node.Record { return d[file] }

func (d memDisk) apply(op node.DiskOp) {
	switch op.Kind {
	case node.Append:
		d[op.File] = append(d[op.File], node.Record{Data: slices.Clone(op.Data)})
	case node.Truncate:
		d[op.File] = d[op.File][:op.N]
	case node.Replace:
		d[op.File] = []node.Record{{Data: slices.Clone(op.Data)}}
	case node.Remove:
		delete(d, op.File)
	}
}

func (d memDisk) clone() memDisk {
	out := memDisk{}
	for f, recs := range d {
		out[f] = slices.Clone(recs)
	}
	return out
}

// TestZab_ACrashWhileInstallingASnapshotLeavesNoHoleInTheLog: a follower
// told to install the leader's snapshot writes it and drops its old log.
// Whatever prefix of those disk ops a crash keeps, the server recovers
// either its old state or the new snapshot, followed by a log without a
// gap: every txn it recovers after its snapshot comes with all the txns of
// its old log before it. (Removing the oldest segment first and crashing
// before the snapshot was written recovered the old snapshot and the newer
// segments only: txns missing in the middle of a log the server reported
// whole, which a DIFF then never sent.)
func TestZab_ACrashWhileInstallingASnapshotLeavesNoHoleInTheLog(t *testing.T) {
	v, err := quorum.Parse("majority", 3)
	require.NoError(t, err)
	// The old disk: a snapshot at 0x100000002, then three segments over
	// two epochs.
	disk := memDisk{}
	disk.apply(node.DiskOp{Kind: node.Replace, File: fileSnapshot, Data: encodeEntry(model.MakeZxid(1, 2), nil)})
	var old []model.Zxid
	for _, seg := range [][]model.Zxid{
		{model.MakeZxid(1, 3), model.MakeZxid(1, 4)},
		{model.MakeZxid(1, 5), model.MakeZxid(2, 1)},
		{model.MakeZxid(2, 2), model.MakeZxid(2, 3)},
	} {
		for _, z := range seg {
			disk.apply(node.DiskOp{Kind: node.Append, File: segmentName(seg[0]), Data: encodeEntry(z, []byte(fmt.Sprint(z)))})
			old = append(old, z)
		}
	}
	z, err := New(DefaultConfig(v, snapshotter{}), node.Env{ID: 2, Rand: rand.New(rand.NewPCG(1, 2)), Storage: disk})
	require.NoError(t, err)
	require.Len(t, z.segs, 3)
	z.rd.Disk = z.rd.Disk[:0]

	z.installSnapshot(&quorum.Snapshot{Zxid: model.MakeZxid(2, 5), Data: nil})
	ops := slices.Clone(z.rd.Disk)
	require.NotEmpty(t, ops)
	for k := 0; k <= len(ops); k++ {
		d := disk.clone()
		for _, op := range ops[:k] {
			d.apply(op)
		}
		r := recoverStorage(d, false)
		require.False(t, r.damaged, "after %d of %d ops: %s", k, len(ops), r.reason)
		require.NotNil(t, r.snap)
		base := r.snap.Zxid
		var got []model.Zxid
		for _, e := range r.entries {
			got = append(got, e.Zxid)
		}
		// What is recovered after the snapshot is a prefix of what the old
		// log held after it.
		var want []model.Zxid
		for _, o := range old {
			if o > base {
				want = append(want, o)
			}
		}
		require.LessOrEqual(t, len(got), len(want), "after %d of %d ops", k, len(ops))
		require.Equal(t, want[:len(got)], got, "after %d of %d ops: txns missing in the middle of the log (snapshot at %s)", k, len(ops), base)
	}
}

type snapshotter struct{}

func (snapshotter) Snapshot() quorum.Snapshot { return quorum.Snapshot{} }
