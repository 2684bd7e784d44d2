package real

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"zoosim/node"
)

// countingFsync counts the real fsyncs a storage makes.
func countingFsync(n *atomic.Int64) func(*os.File) error {
	return func(f *os.File) error { n.Add(1); return fdatasync(f) }
}

func TestDiskFaults_ACrashLosesWhatLyingSyncsNeverMadeDurable(t *testing.T) {
	dir := t.TempDir()
	var fsyncs atomic.Int64
	s, _ := openTest(t, StorageOptions{Dir: dir, Faults: true, Fsync: countingFsync(&fsyncs)})
	apply(t, s, appendOp("log.1", "a"))
	syncAll(t, s)
	honest := fsyncs.Load()
	require.Positive(t, honest)

	require.NoError(t, SetSyncLies(dir, true))
	apply(t, s, appendOp("log.1", "b"))
	syncAll(t, s)
	apply(t, s, appendOp("log.2", "c")) // a barrier (another file), then a new file
	syncAll(t, s)
	require.Equal(t, honest, fsyncs.Load(), "a lying sync calls no fsync")

	// A crash: the process dies without closing; the next open recovers.
	s2, logs := openTest(t, StorageOptions{Dir: dir, Faults: true})
	rec := s2.Recovered()
	require.Equal(t, []string{"a"}, datas(rec.Read("log.1")), "the tail appended while syncs lied is lost")
	require.NotContains(t, rec.Files(), "log.2", "a file created while syncs lied is gone")
	require.Contains(t, logs.String(), "no honest sync made durable")
	_, err := os.Stat(filepath.Join(dir, faultsSubdir, unsyncedFile))
	require.True(t, os.IsNotExist(err), "the record of the lies is used once")
}

func TestDiskFaults_HonestSyncsAgainFlushWhatTheyLiedAbout(t *testing.T) {
	dir := t.TempDir()
	var fsyncs atomic.Int64
	s, _ := openTest(t, StorageOptions{Dir: dir, Faults: true, Fsync: countingFsync(&fsyncs)})
	require.NoError(t, SetSyncLies(dir, true))
	apply(t, s, appendOp("log.1", "a"))
	syncAll(t, s)
	apply(t, s, appendOp("log.2", "b"))
	require.Zero(t, fsyncs.Load())
	require.NoError(t, SetSyncLies(dir, false))
	syncAll(t, s)
	require.GreaterOrEqual(t, fsyncs.Load(), int64(2), "log.1, which a sync lied about, is synced for real too")

	s2, _ := openTest(t, StorageOptions{Dir: dir, Faults: true})
	rec := s2.Recovered()
	require.Equal(t, []string{"a"}, datas(rec.Read("log.1")))
	require.Equal(t, []string{"b"}, datas(rec.Read("log.2")))
}

func TestDiskFaults_OffByDefault(t *testing.T) {
	dir := t.TempDir()
	var fsyncs atomic.Int64
	s, _ := openTest(t, StorageOptions{Dir: dir, Fsync: countingFsync(&fsyncs)})
	require.NoError(t, SetSyncLies(dir, true)) // no layer: nothing reads the lie file
	apply(t, s, appendOp("log.1", "a"))
	syncAll(t, s)
	require.Positive(t, fsyncs.Load())
}

func TestCorruptRecord_TheNextOpenSeesOneCorruptRecord(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, StorageOptions{Dir: dir})
	apply(t, s, appendOp("log.1", "aaaa"), appendOp("log.1", "bbbb"), appendOp("log.1", "cccc"))
	syncAll(t, s)
	rec, ok, err := CorruptRecord(dir, rand.New(rand.NewPCG(1, 2)))
	require.NoError(t, err)
	require.True(t, ok)
	require.Regexp(t, `^log\.1#[0-2]$`, rec)

	s2, logs := openTest(t, StorageOptions{Dir: dir})
	recs := s2.Recovered().Read("log.1")
	require.Len(t, recs, 3)
	corrupt := 0
	for _, r := range recs {
		if r.Corrupt {
			corrupt++
		}
	}
	require.Equal(t, 1, corrupt)
	require.Contains(t, logs.String(), "fails its checksum")

	_, ok, err = CorruptRecord(t.TempDir(), rand.New(rand.NewPCG(1, 2)))
	require.NoError(t, err)
	require.False(t, ok, "no files, no record")
}

func TestDiskFaults_SlowSyncsWaitUpToTheDelay(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, StorageOptions{Dir: dir, Faults: true})
	var waits []time.Duration
	s.faults.sleep = func(d time.Duration) { waits = append(waits, d) }
	apply(t, s, appendOp("log.1", "a"))
	syncAll(t, s)
	require.Empty(t, waits, "no delay file, no wait")
	require.NoError(t, SetSyncDelay(dir, 50*time.Millisecond))
	for range 20 {
		apply(t, s, appendOp("log.1", "b"))
		syncAll(t, s)
	}
	require.Len(t, waits, 20)
	for _, w := range waits {
		require.Greater(t, w, time.Duration(0))
		require.LessOrEqual(t, w, 50*time.Millisecond)
	}
	require.NoError(t, SetSyncDelay(dir, 0))
	apply(t, s, appendOp("log.1", "c"))
	syncAll(t, s)
	require.Len(t, waits, 20, "the delay is gone")
}

func TestDiskFaults_ACrashIsAPowerLossAndACleanStopKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, StorageOptions{Dir: dir, Faults: true})
	apply(t, s, appendOp("log.1", "a"))
	syncAll(t, s)
	apply(t, s, appendOp("log.1", "b"), node.DiskOp{Kind: node.Replace, File: "epoch", Data: []byte("1")})
	apply(t, s, appendOp("log.1", "c")) // after the replace's barrier: unsynced

	s2, logs := openTest(t, StorageOptions{Dir: dir, Faults: true}) // the first one "crashed"
	rec := s2.Recovered()
	require.Equal(t, []string{"a", "b"}, datas(rec.Read("log.1")), "what no sync covered is lost; the barrier synced b")
	require.Equal(t, []string{"1"}, datas(rec.Read("epoch")), "a replace is durable when it returns")
	require.Contains(t, logs.String(), "no honest sync made durable")

	apply(t, s2, appendOp("log.1", "d"))
	require.NoError(t, s2.Close()) // a clean stop
	s3, _ := openTest(t, StorageOptions{Dir: dir, Faults: true})
	require.Equal(t, []string{"a", "b", "d"}, datas(s3.Recovered().Read("log.1")), "a clean stop loses nothing")
}
