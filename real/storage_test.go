package real

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"zoosim/node"
)

// logBuffer collects a storage's log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// problems returns the warning and error lines.
func (l *logBuffer) problems() []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			out = append(out, line)
		}
	}
	return out
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func openTest(t *testing.T, opt StorageOptions) (*Storage, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	opt.Logger = logs.logger()
	s, err := OpenStorage(opt)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, logs
}

func apply(t *testing.T, s *Storage, ops ...node.DiskOp) {
	t.Helper()
	for _, op := range ops {
		require.NoError(t, s.Apply(op), "%s %q", op.Kind, op.File)
	}
}

func syncAll(t *testing.T, s *Storage) {
	t.Helper()
	require.NoError(t, s.startBatch().run())
	s.batchDone()
}

func appendOp(file, data string) node.DiskOp {
	return node.DiskOp{Kind: node.Append, File: file, Data: []byte(data)}
}

func datas(recs []node.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Data)
		if r.Corrupt {
			out[i] = "CORRUPT"
		}
	}
	return out
}

func reopen(t *testing.T, s *Storage, opt StorageOptions) (*Storage, *logBuffer) {
	t.Helper()
	require.NoError(t, s.Close())
	return openTest(t, opt)
}

// refDisk is the simulated disk's meaning of the ops, as simply as it can
// be written: files are lists of records.
type refDisk map[string][]string

func (r refDisk) apply(op node.DiskOp) {
	switch op.Kind {
	case node.Append:
		r[op.File] = append(r[op.File], string(op.Data))
	case node.Truncate:
		if recs, ok := r[op.File]; ok && op.N < len(recs) {
			r[op.File] = recs[:op.N:op.N]
		}
	case node.Replace:
		r[op.File] = []string{string(op.Data)}
	case node.Remove:
		delete(r, op.File)
	}
}

func TestStorage_OpsMeanWhatTheSimulatedDiskMeans(t *testing.T) {
	cases := []struct {
		name string
		ops  []node.DiskOp
	}{
		{"appends", []node.DiskOp{appendOp("log.1", "a"), appendOp("log.1", "b"), appendOp("log.1", "")}},
		{"truncate keeps a prefix", []node.DiskOp{appendOp("log.1", "a"), appendOp("log.1", "b"), appendOp("log.1", "c"),
			{Kind: node.Truncate, File: "log.1", N: 1}, appendOp("log.1", "d")}},
		{"truncate beyond the end is nothing", []node.DiskOp{appendOp("f", "a"), {Kind: node.Truncate, File: "f", N: 5}}},
		{"truncate to zero keeps the file", []node.DiskOp{appendOp("f", "a"), {Kind: node.Truncate, File: "f", N: 0}}},
		{"truncate of a missing file", []node.DiskOp{{Kind: node.Truncate, File: "nope", N: 0}}},
		{"replace swaps the whole file", []node.DiskOp{appendOp("epoch", "1"), appendOp("epoch", "x"),
			{Kind: node.Replace, File: "epoch", Data: []byte("2")}}},
		{"replace then append", []node.DiskOp{{Kind: node.Replace, File: "snap", Data: []byte("s")}, appendOp("snap", "t")}},
		{"remove", []node.DiskOp{appendOp("log.1", "a"), appendOp("log.2", "b"), {Kind: node.Remove, File: "log.1"}}},
		{"remove then recreate", []node.DiskOp{appendOp("f", "a"), {Kind: node.Remove, File: "f"}, appendOp("f", "b")}},
		{"remove of a missing file", []node.DiskOp{{Kind: node.Remove, File: "nope"}}},
		{"many files, interleaved", []node.DiskOp{appendOp("a", "1"), appendOp("b", "2"), appendOp("a", "3"),
			{Kind: node.Replace, File: "c", Data: []byte("4")}, appendOp("b", "5")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opt := StorageOptions{Dir: t.TempDir()}
			s, _ := openTest(t, opt)
			ref := refDisk{}
			for _, op := range tc.ops {
				require.NoError(t, s.Apply(op))
				ref.apply(op)
			}
			syncAll(t, s)
			s2, logs := reopen(t, s, opt)
			checkAgainst(t, s2.Recovered(), ref)
			assert.Empty(t, logs.problems())
		})
	}
}

func checkAgainst(t *testing.T, st node.Storage, ref refDisk) {
	t.Helper()
	want := slices.Sorted(func(yield func(string) bool) {
		for k := range ref {
			if !yield(k) {
				return
			}
		}
	})
	require.Equal(t, nonNil(want), nonNil(st.Files()))
	for _, f := range want {
		assert.Equal(t, nonNil(ref[f]), nonNil(datas(st.Read(f))), f)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// A rapid property: any sequence of ops, reopened, reads back as the
// reference says (with a log directory too).
func TestStorage_AnyOpSequenceReadsBackAsTheReference(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp(t.TempDir(), "prop")
		require.NoError(rt, err)
		opt := StorageOptions{Dir: filepath.Join(dir, "data")}
		if rapid.Bool().Draw(rt, "logDir") {
			opt.LogDir = filepath.Join(dir, "log")
		}
		s, err := OpenStorage(opt)
		require.NoError(rt, err)
		ref := refDisk{}
		files := []string{"log.1", "log.2", "epoch", "snap"}
		n := rapid.IntRange(1, 40).Draw(rt, "ops")
		for i := 0; i < n; i++ {
			op := node.DiskOp{Kind: node.DiskOpKind(rapid.IntRange(1, 4).Draw(rt, "kind")),
				File: rapid.SampledFrom(files).Draw(rt, "file")}
			switch op.Kind {
			case node.Append, node.Replace:
				op.Data = rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(rt, "data")
			case node.Truncate:
				op.N = rapid.IntRange(0, 5).Draw(rt, "n")
			}
			require.NoError(rt, s.Apply(op))
			ref.apply(op)
			if rapid.IntRange(0, 4).Draw(rt, "sync") == 0 {
				require.NoError(rt, s.startBatch().run())
				s.batchDone()
			}
		}
		require.NoError(rt, s.startBatch().run())
		s.batchDone()
		require.NoError(rt, s.Close())
		s2, err := OpenStorage(StorageOptions{Dir: opt.Dir, LogDir: opt.LogDir, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(rt, err)
		defer s2.Close()
		st := s2.Recovered()
		var want []string
		for f := range ref {
			want = append(want, f)
		}
		slices.Sort(want)
		require.Equal(rt, nonNil(want), nonNil(st.Files()))
		for _, f := range want {
			require.Equal(rt, nonNil(ref[f]), nonNil(datas(st.Read(f))), f)
		}
	})
}

func TestStorage_LogFilesGoToTheLogDirectory(t *testing.T) {
	dir := t.TempDir()
	opt := StorageOptions{Dir: filepath.Join(dir, "data"), LogDir: filepath.Join(dir, "log")}
	s, _ := openTest(t, opt)
	apply(t, s, appendOp("log.0000000100000001", "txn"), node.DiskOp{Kind: node.Replace, File: "currentEpoch", Data: []byte("e")})
	syncAll(t, s)
	assert.FileExists(t, filepath.Join(dir, "log", StorageSubdir, "log.0000000100000001"))
	assert.FileExists(t, filepath.Join(dir, "data", StorageSubdir, "currentEpoch"))
	assert.NoFileExists(t, filepath.Join(dir, "data", StorageSubdir, "log.0000000100000001"))
}

func TestStorage_RefusesFileNamesOutsideItsDirectory(t *testing.T) {
	s, _ := openTest(t, StorageOptions{Dir: t.TempDir()})
	for _, name := range []string{"", ".", "..", "../x", "a/b", "x.tmp", strings.Repeat("a", 201), "sp ace"} {
		assert.Error(t, s.Apply(appendOp(name, "x")), "%q", name)
	}
}

func TestStorage_IgnoresFilesThatAreNotItsOwn(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "myid"), []byte("1\n"), 0o644))
	s, logs := openTest(t, StorageOptions{Dir: dir})
	assert.Empty(t, s.Recovered().Files())
	assert.Empty(t, logs.problems())
}

// recordsFile writes records through a storage and returns the file's path
// and each record's end offset.
func recordsFile(t *testing.T, opt StorageOptions, file string, recs ...string) (string, []int64) {
	t.Helper()
	s, _ := openTest(t, opt)
	for _, r := range recs {
		apply(t, s, appendOp(file, r))
	}
	syncAll(t, s)
	ends := slices.Clone(s.files[file].ends)
	require.NoError(t, s.Close())
	return filepath.Join(opt.Dir, StorageSubdir, file), ends
}

func TestStorage_DropsATornLastRecordAndCutsItOff(t *testing.T) {
	recs := []string{"first", "second", "a third, longer record"}
	// Cut the file at every offset inside the last record: its header torn,
	// or its data short.
	opt0 := StorageOptions{Dir: t.TempDir()}
	_, ends := recordsFile(t, opt0, "log.1", recs...)
	for cut := ends[1] + 1; cut < ends[2]; cut++ {
		t.Run(fmt.Sprintf("cut at %d", cut), func(t *testing.T) {
			opt := StorageOptions{Dir: t.TempDir()}
			path, _ := recordsFile(t, opt, "log.1", recs...)
			require.NoError(t, os.Truncate(path, cut))
			s, logs := openTest(t, opt)
			assert.Equal(t, recs[:2], datas(s.Recovered().Read("log.1")))
			assert.Contains(t, logs.String(), "dropped a torn last record")
			assert.Contains(t, logs.String(), "log.1")
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, ends[1], fi.Size(), "the torn bytes are cut off the file")
			// The next append lands after the last whole record.
			apply(t, s, appendOp("log.1", "again"))
			syncAll(t, s)
			s2, logs2 := reopen(t, s, opt)
			assert.Equal(t, []string{"first", "second", "again"}, datas(s2.Recovered().Read("log.1")))
			assert.Empty(t, logs2.problems())
		})
	}
}

func TestStorage_DropsAZeroTail(t *testing.T) {
	opt := StorageOptions{Dir: t.TempDir()}
	path, ends := recordsFile(t, opt, "log.1", "a", "b")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(make([]byte, 4096))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	s, logs := openTest(t, opt)
	assert.Equal(t, []string{"a", "b"}, datas(s.Recovered().Read("log.1")))
	assert.Contains(t, logs.String(), "zeros=true")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, ends[1], fi.Size())
}

func TestStorage_ReportsACorruptRecordWhereverItIs(t *testing.T) {
	recs := []string{"zero", "one", "two"}
	for i := range recs {
		t.Run(fmt.Sprintf("record %d", i), func(t *testing.T) {
			opt := StorageOptions{Dir: t.TempDir()}
			path, ends := recordsFile(t, opt, "log.1", recs...)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			b[startOf(ends, i)+recordHeaderLen] ^= 0x40 // a bit of the data
			require.NoError(t, os.WriteFile(path, b, 0o644))
			s, logs := openTest(t, opt)
			got := s.Recovered().Read("log.1")
			require.Len(t, got, 3)
			for j, r := range got {
				assert.Equal(t, j == i, r.Corrupt, "record %d", j)
				if j != i {
					assert.Equal(t, recs[j], string(r.Data))
				}
			}
			assert.Contains(t, logs.String(), "fails its checksum")
			assert.Contains(t, logs.String(), fmt.Sprintf("record=%d", i))
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, int64(len(b)), fi.Size(), "nothing is cut: the core decides")
			// The core cuts the damaged log back itself (zab's repair ops).
			apply(t, s, node.DiskOp{Kind: node.Truncate, File: "log.1", N: i})
			s2, _ := reopen(t, s, opt)
			assert.Equal(t, recs[:i], nonNil(datas(s2.Recovered().Read("log.1"))))
		})
	}
}

func TestStorage_ADamagedHeaderMakesTheRestOneCorruptRecord(t *testing.T) {
	opt := StorageOptions{Dir: t.TempDir()}
	path, ends := recordsFile(t, opt, "log.1", "zero", "one", "two")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[ends[0]] ^= 0x7f // the length of record 1
	require.NoError(t, os.WriteFile(path, b, 0o644))
	s, logs := openTest(t, opt)
	got := s.Recovered().Read("log.1")
	require.Len(t, got, 2)
	assert.Equal(t, "zero", string(got[0].Data))
	assert.False(t, got[0].Corrupt)
	assert.True(t, got[1].Corrupt)
	assert.Contains(t, logs.String(), "header is damaged")
}

func TestStorage_RemovesWhatAnInterruptedReplaceLeft(t *testing.T) {
	opt := StorageOptions{Dir: t.TempDir()}
	s, _ := openTest(t, opt)
	apply(t, s, node.DiskOp{Kind: node.Replace, File: "currentEpoch", Data: []byte("old")})
	require.NoError(t, s.Close())
	tmp := filepath.Join(opt.Dir, StorageSubdir, "currentEpoch"+tmpSuffix)
	require.NoError(t, os.WriteFile(tmp, []byte("half a new record"), 0o644))
	s2, logs := openTest(t, opt)
	assert.Equal(t, []string{"old"}, datas(s2.Recovered().Read("currentEpoch")))
	assert.Equal(t, []string{"currentEpoch"}, s2.Recovered().Files())
	assert.NoFileExists(t, tmp)
	assert.Contains(t, logs.String(), "interrupted replace")
}

// fsyncLog records which files were synced, in order.
type fsyncLog struct {
	mu    sync.Mutex
	files []string
}

func (l *fsyncLog) fsync(f *os.File) error {
	l.mu.Lock()
	l.files = append(l.files, filepath.Base(f.Name()))
	l.mu.Unlock()
	return nil
}

func (l *fsyncLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.files
	l.files = nil
	return out
}

// The ordering rules: every op but an append to the file that already has
// unsynced appends first makes earlier appends durable.
func TestStorage_OpsOtherThanAppendsToOneFileAreBarriers(t *testing.T) {
	var log fsyncLog
	s, _ := openTest(t, StorageOptions{Dir: t.TempDir(), Fsync: log.fsync})
	apply(t, s, appendOp("log.1", "a"), appendOp("log.1", "b"))
	assert.Empty(t, log.take(), "appends to one file wait for the sync")
	apply(t, s, appendOp("log.2", "c"))
	assert.Equal(t, []string{"log.1"}, log.take(), "a second file: the first one's appends first")
	apply(t, s, node.DiskOp{Kind: node.Replace, File: "currentEpoch", Data: []byte("e")})
	assert.Equal(t, []string{"log.2", "currentEpoch.tmp"}, log.take(), "replace: earlier appends, then the new record")
	apply(t, s, appendOp("log.2", "d"), node.DiskOp{Kind: node.Truncate, File: "log.2", N: 1})
	assert.Equal(t, []string{"log.2", "log.2"}, log.take(), "truncate: earlier appends, then the cut")
	apply(t, s, appendOp("log.2", "e"), node.DiskOp{Kind: node.Remove, File: "log.1"})
	assert.Equal(t, []string{"log.2"}, log.take(), "remove: earlier appends first")
	apply(t, s, appendOp("log.2", "f"))
	b := s.startBatch()
	require.NoError(t, b.run())
	s.batchDone()
	assert.Equal(t, []string{"log.2"}, log.take(), "the group commit syncs the one dirty file")
}

// A barrier while the syncer runs a batch also syncs the batch's files: the
// syncer may not have got to them yet.
func TestStorage_ABarrierCoversTheBatchInFlight(t *testing.T) {
	var log fsyncLog
	s, _ := openTest(t, StorageOptions{Dir: t.TempDir(), Fsync: log.fsync})
	apply(t, s, appendOp("log.1", "a"))
	b := s.startBatch() // handed to the syncer, not run yet
	apply(t, s, node.DiskOp{Kind: node.Replace, File: "epoch", Data: []byte("e")})
	assert.Equal(t, []string{"log.1", "epoch.tmp"}, log.take())
	require.NoError(t, b.run())
	s.batchDone()
}

func TestStorage_AFailedFsyncIsAnError(t *testing.T) {
	s, _ := openTest(t, StorageOptions{Dir: t.TempDir(), Fsync: func(*os.File) error { return fmt.Errorf("EIO") }})
	apply(t, s, appendOp("log.1", "a"))
	err := s.startBatch().run()
	require.ErrorIs(t, err, ErrFsync)
	assert.Contains(t, err.Error(), "EIO")
	assert.ErrorIs(t, s.Apply(node.DiskOp{Kind: node.Replace, File: "e", Data: nil}), ErrFsync)
}

func TestParseRecords_NeverFailsAndCoversTheBytes(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var b []byte
		for _, r := range rapid.SliceOfN(rapid.SliceOfN(rapid.Byte(), 0, 40), 0, 5).Draw(rt, "records") {
			b = appendRecord(b, r)
		}
		if rapid.Bool().Draw(rt, "damage") && len(b) > 0 {
			i := rapid.IntRange(0, len(b)-1).Draw(rt, "at")
			b[i] ^= byte(rapid.IntRange(1, 255).Draw(rt, "bits"))
		}
		if rapid.Bool().Draw(rt, "cut") && len(b) > 0 {
			b = b[:rapid.IntRange(0, len(b)-1).Draw(rt, "len")]
		}
		p := parseRecords(b)
		require.Len(rt, p.ends, len(p.records))
		require.LessOrEqual(rt, p.good, int64(len(b)))
		if len(p.ends) > 0 {
			require.Equal(rt, p.good, p.ends[len(p.ends)-1])
		} else {
			require.Zero(rt, p.good)
		}
		require.True(rt, allZero(b[p.good:]) || len(b)-int(p.good) < recordHeaderLen ||
			!p.headerDamaged, "what is dropped is a torn tail")
	})
}
