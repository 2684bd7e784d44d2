package raft

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"zoosim/node"
)

// fakeDisk is a node.Storage of records, some marked corrupt.
type fakeDisk map[string][]node.Record

func (d fakeDisk) Files() []string {
	var out []string
	for f := range d {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

func (d fakeDisk) Read(f string) []node.Record { return d[f] }

func ent(index, term uint64, data string) *pb.Entry {
	return &pb.Entry{Index: proto.Uint64(index), Term: proto.Uint64(term), Type: pb.EntryType_EntryNormal.Enum(), Data: []byte(data)}
}

func rec(b []byte) node.Record { return node.Record{Data: b} }

// disk holds a HardState, a snapshot at index 3 and two segments: 2..5 and
// 6..8.
func disk() fakeDisk {
	hs := encodeHardState(&pb.HardState{Term: proto.Uint64(4), Vote: proto.Uint64(2), Commit: proto.Uint64(7)})
	d := fakeDisk{
		hardStateFiles[0]: {rec(hs)}, hardStateFiles[1]: {rec(hs)},
		fileSnapshot: {rec(encodeSnapshot(3, 2, snapData{termStart: 2, zxid: 0x200000001, state: []byte("tree")}.encode()))},
	}
	for i := uint64(2); i <= 5; i++ {
		d[segmentName(2)] = append(d[segmentName(2)], rec(encodeEntry(ent(i, 2, "x"))))
	}
	for i := uint64(6); i <= 8; i++ {
		d[segmentName(6)] = append(d[segmentName(6)], rec(encodeEntry(ent(i, 4, "y"))))
	}
	return d
}

func indexes(es []*pb.Entry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.GetIndex())
	}
	return out
}

func TestRecover_CleanDiskGivesBackEverything(t *testing.T) {
	r := recoverStorage(disk())
	require.False(t, r.damaged, r.reason)
	assert.True(t, r.snap)
	assert.Equal(t, uint64(3), r.index)
	assert.Equal(t, []uint64{4, 5, 6, 7, 8}, indexes(r.entries))
	assert.Equal(t, uint64(7), r.hs.GetCommit())
	assert.Equal(t, uint64(2), r.hs.GetVote())
	assert.Empty(t, r.repair)
}

func TestRecover_CorruptRecordCutsTheLogThere(t *testing.T) {
	d := disk()
	d[segmentName(6)][1].Corrupt = true // entry 7
	r := recoverStorage(d)
	require.True(t, r.damaged)
	assert.Equal(t, []uint64{4, 5, 6}, indexes(r.entries))
	assert.Equal(t, uint64(8), r.repairIndex, "every record on disk may have been acknowledged")
	assert.Equal(t, uint64(6), r.hs.GetCommit(), "commit cut back to the log")
	require.NotEmpty(t, r.repair)
	assert.Equal(t, node.DiskOp{Kind: node.Replace, File: fileDamaged, Data: encodeDamaged(8, r.reason)}, r.repair[0], "the marker goes first")
	assert.Contains(t, r.repair, node.DiskOp{Kind: node.Truncate, File: segmentName(6), N: 1})
}

func TestRecover_TornTailIsATruncation(t *testing.T) {
	d := disk()
	d[segmentName(6)][2].Corrupt = true // the last record, half written
	r := recoverStorage(d)
	require.True(t, r.damaged)
	assert.Equal(t, []uint64{4, 5, 6, 7}, indexes(r.entries))
}

func TestRecover_DamageBehindTheSnapshotLosesNothing(t *testing.T) {
	d := disk()
	d[segmentName(2)][0].Corrupt = true // entry 2, which the snapshot covers
	r := recoverStorage(d)
	assert.False(t, r.damaged, r.reason)
	assert.Equal(t, []uint64{4, 5, 6, 7, 8}, indexes(r.entries))
}

func TestRecover_OneHardStateCopyIsEnough(t *testing.T) {
	d := disk()
	d[hardStateFiles[1]][0].Corrupt = true
	r := recoverStorage(d)
	require.False(t, r.damaged, r.reason)
	assert.Equal(t, uint64(2), r.hs.GetVote())

	older := encodeHardState(&pb.HardState{Term: proto.Uint64(4), Commit: proto.Uint64(5)})
	d = disk()
	d[hardStateFiles[1]] = []node.Record{rec(older)} // a crash between the two writes
	r = recoverStorage(d)
	assert.Equal(t, uint64(2), r.hs.GetVote(), "the newer copy wins")
	assert.Equal(t, uint64(7), r.hs.GetCommit())
}

func TestRecover_BothHardStateCopiesLostIsDamage(t *testing.T) {
	d := disk()
	d[hardStateFiles[0]][0].Corrupt = true
	d[hardStateFiles[1]][0].Corrupt = true
	r := recoverStorage(d)
	require.True(t, r.damaged)
	assert.Equal(t, uint64(4), r.hs.GetTerm(), "the term is at least the log's")
	assert.Zero(t, r.hs.GetVote())
}

func TestRecover_CorruptSnapshotDropsTheLog(t *testing.T) {
	d := disk()
	d[fileSnapshot][0].Corrupt = true
	r := recoverStorage(d)
	require.True(t, r.damaged)
	assert.False(t, r.snap)
	assert.Empty(t, r.entries)
	assert.Contains(t, r.repair, node.DiskOp{Kind: node.Remove, File: segmentName(2)})
	assert.Contains(t, r.repair, node.DiskOp{Kind: node.Remove, File: segmentName(6)})
}

func TestRecover_MarkerSurvivesUntilRepaired(t *testing.T) {
	d := disk()
	d[fileDamaged] = []node.Record{rec(encodeDamaged(12, "earlier"))}
	r := recoverStorage(d)
	require.True(t, r.damaged)
	assert.Equal(t, uint64(12), r.repairIndex)
}

func TestRecover_EmptyDiskIsTheBootstrapState(t *testing.T) {
	r := recoverStorage(fakeDisk{})
	assert.False(t, r.damaged)
	assert.False(t, r.snap)
	assert.Equal(t, uint64(bootstrapIndex), r.index)
	assert.Empty(t, r.entries)
}

// The relay channel needs a node's incarnations to grow, whatever the
// driver counts (the real driver cannot count its process's restarts).
func TestIncarnation_GrowsAcrossStarts(t *testing.T) {
	assert.Equal(t, uint64(1), incarnation(fakeDisk{}, node.Env{}))
	assert.Equal(t, uint64(4), incarnation(fakeDisk{}, node.Env{Restart: 3}))
	five := fakeDisk{fileIncarnation: {rec([]byte{0, 0, 0, 0, 0, 0, 0, 5})}}
	assert.Equal(t, uint64(6), incarnation(five, node.Env{Restart: 1}), "one above what the disk remembers")
	assert.Equal(t, uint64(10), incarnation(five, node.Env{Restart: 9}), "never below the driver's count")
	bad := fakeDisk{fileIncarnation: {{Data: []byte{1}, Corrupt: true}}}
	assert.Greater(t, incarnation(bad, node.Env{Restart: 1, Now: 5 * node.Second}), uint64(5*node.Second), "a damaged record: the clock")
}
