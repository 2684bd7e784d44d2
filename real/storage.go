package real

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"zoosim/node"
)

// A node's files on disk. The core names files and asks for four kinds of
// op (node.DiskOp); the simulated disk (sim/disk.go) defines what they
// mean, and this file gives them the same meaning on a real file system:
//
//   - a file is a sequence of records, each stored as
//
//     length u32 | crc32c(length) u32 | crc32c(data) u32 | data
//
//     big-endian. The header's own checksum tells a torn write (the file
//     ends inside a record whose header is intact) from a damaged length
//     (which would otherwise make every later record unreadable);
//   - Append writes one record at the end of the file. It is durable once a
//     sync that started after it has completed;
//   - Truncate, Replace and Remove are durable when they return, and so is
//     everything written before them (each is a barrier: it first syncs
//     whatever earlier appends no completed sync covers). The core relies on
//     the order of its ops (an epoch must never be durable without the log
//     it was written after), and a file system keeps no order between
//     unsynced writes to different files. These ops are rare (a sync with a
//     leader that truncates, an epoch change, a snapshot, a segment removed
//     after it), so their fsyncs cost little;
//   - for the same reason an Append to another file than the one the last
//     unsynced appends went to is a barrier too: at any moment at most one
//     file has unsynced appends, so a crash keeps a prefix of the ops, as
//     the simulated disk's crash does (within that one file, a torn tail);
//   - Replace writes the record to NAME.tmp, syncs it, renames it over NAME
//     and syncs the directory: after a crash the file holds the old record
//     or the new one. A NAME.tmp left by a crash is removed at the next
//     open.
//
// Recovery (OpenStorage) reads every file: a last record that the file ends
// inside of (a write the crash interrupted, never acknowledged: a sync
// completes only after the write did), or a tail of zero bytes (blocks the
// file system allocated but never wrote), is dropped and cut off the file,
// with a log line. A whole record whose checksum fails is reported to the
// core as node.Record{Corrupt: true}, wherever it is, also at the end: it
// may be a record that was synced and acknowledged, and only the core can
// decide what its loss means (zab marks the server damaged and abstains
// from every quorum until a leader has resynced it). A damaged header makes
// the rest of the file one corrupt record.
//
// The files of one node live in DIR/zoosim-v1 (and, when a log directory is
// configured, the files whose names start with "log." in LOGDIR/zoosim-v1),
// so that a myid file or anything else in the data directory is never
// mistaken for a core's file.

// StorageSubdir is the folder, inside the data and log directories, that
// holds a node's files.
const StorageSubdir = "zoosim-v1"

const (
	recordHeaderLen = 12
	tmpSuffix       = ".tmp"
	// maxRecordLen bounds one record (a snapshot of the whole tree is the
	// largest): the peer transport's frame limit is the same.
	maxRecordLen = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrFsync wraps a failed fsync. After one, the kernel may have dropped the
// dirty pages it could not write, so nothing written since the last good
// sync can be trusted: the driver stops the node (PostgreSQL's "fsyncgate"
// lesson), and its restart recovers from what is on disk.
var ErrFsync = errors.New("real: fsync failed")

// StorageOptions configure OpenStorage.
type StorageOptions struct {
	// Dir is the node's data directory (ZooKeeper's dataDir).
	Dir string
	// LogDir, if set, holds the files whose names start with "log."
	// (ZooKeeper's dataLogDir: put the log on its own disk).
	LogDir string
	// Logger receives recovery reports; nil is slog.Default().
	Logger *slog.Logger
	// Fsync makes a file's data durable; nil is fdatasync(2) (fsync(2)
	// where there is none). Tests replace it to observe or delay syncs.
	Fsync func(f *os.File) error
	// NoSync skips every fsync (ZooKeeper's forceSync=no): fast and unsafe,
	// a crash of the machine may lose acknowledged writes.
	NoSync bool
	// Faults turns on the fault-injecting layer (faults.go): for the
	// harness's disk faults only.
	Faults bool
}

// Storage is a node's files. It is used by one goroutine (the driver's),
// except for the syncBatch it hands to the syncer.
type Storage struct {
	dir, logDir string
	log         *slog.Logger
	fsync       func(*os.File) error
	noSync      bool
	faults      *diskFaults // nil unless StorageOptions.Faults

	files map[string]*diskFile
	// recovered is what the core sees at start (node.Storage).
	recovered *recoveredFiles

	// dirty is the file with appends no sync covers (at most one, see the
	// barrier rule above); dirDirty lists directories whose entries changed
	// (a file created) since the last sync.
	dirty    *diskFile
	dirDirty map[string]bool
	// inflight is the batch the syncer is running, if any: a barrier syncs
	// its files too, since the syncer may not have finished them.
	inflight *syncBatch
	// retired files were removed or replaced while a batch that holds them
	// may still run; they are closed once no batch is in flight.
	retired []*os.File
	scratch []byte
}

type diskFile struct {
	name string
	dir  string
	f    *os.File // nil until the first append after open
	// ends[i] is the end offset of record i; the file's size is the last.
	ends []int64
}

func (d *diskFile) size() int64 {
	if len(d.ends) == 0 {
		return 0
	}
	return d.ends[len(d.ends)-1]
}

func (d *diskFile) path() string { return filepath.Join(d.dir, d.name) }

// OpenStorage opens (creating if needed) a node's directories, recovers
// every file as described above and returns the storage with the records
// the core will see at start (Recovered).
func OpenStorage(opt StorageOptions) (*Storage, error) {
	if opt.Dir == "" {
		return nil, errors.New("real: storage needs a data directory")
	}
	s := &Storage{
		dir:      filepath.Join(opt.Dir, StorageSubdir),
		log:      opt.Logger,
		fsync:    opt.Fsync,
		noSync:   opt.NoSync,
		files:    map[string]*diskFile{},
		dirDirty: map[string]bool{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.fsync == nil {
		s.fsync = fdatasync
	}
	s.logDir = s.dir
	if opt.LogDir != "" {
		s.logDir = filepath.Join(opt.LogDir, StorageSubdir)
	}
	if opt.Faults {
		s.faults = newDiskFaults(opt.Dir, s.log.Warn)
		s.log.Warn("storage: the fault-injecting layer is on (" + DiskFaultsEnv + "): syncs lie while the harness says so")
		if err := s.faults.recover(); err != nil {
			return nil, err
		}
	}
	rec := &recoveredFiles{records: map[string][]node.Record{}}
	for _, dir := range s.dirs() {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		changed := false
		for _, e := range entries {
			name := e.Name()
			if strings.HasSuffix(name, tmpSuffix) {
				s.log.Warn("storage: removing a file an interrupted replace left", "file", filepath.Join(dir, name))
				if err := os.Remove(filepath.Join(dir, name)); err != nil {
					return nil, err
				}
				changed = true
				continue
			}
			if !e.Type().IsRegular() || s.dirFor(name) != dir || validFileName(name) != nil {
				s.log.Warn("storage: ignoring a file that is not a node file here", "file", filepath.Join(dir, name))
				continue
			}
			df := &diskFile{name: name, dir: dir}
			recs, cut, err := s.recoverFile(df)
			if err != nil {
				return nil, err
			}
			changed = changed || cut
			s.files[name] = df
			rec.records[name] = recs
		}
		if changed {
			if err := s.syncDir(dir); err != nil {
				return nil, err
			}
		}
	}
	rec.names = slices.Sorted(maps.Keys(rec.records))
	s.recovered = rec
	records := 0
	for _, r := range rec.records {
		records += len(r)
	}
	s.log.Info("storage: recovered", "dir", s.dir, "logDir", s.logDir, "files", len(rec.names), "records", records)
	return s, nil
}

func (s *Storage) dirs() []string {
	if s.logDir == s.dir {
		return []string{s.dir}
	}
	return []string{s.dir, s.logDir}
}

func (s *Storage) dirFor(name string) string {
	if strings.HasPrefix(name, "log.") {
		return s.logDir
	}
	return s.dir
}

// validFileName refuses names that would leave the directory or collide
// with the storage's own temporary files.
func validFileName(name string) error {
	if name == "" || name == "." || name == ".." || strings.HasSuffix(name, tmpSuffix) || len(name) > 200 {
		return fmt.Errorf("real: invalid file name %q", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("real: invalid file name %q", name)
		}
	}
	return nil
}

// recoverFile reads one file's records, cuts a torn tail off it and
// reports whether it did.
func (s *Storage) recoverFile(df *diskFile) ([]node.Record, bool, error) {
	b, err := os.ReadFile(df.path())
	if err != nil {
		return nil, false, err
	}
	p := parseRecords(b)
	for _, i := range p.corrupt {
		s.log.Error("storage: a record fails its checksum; the core is told it is corrupt (zab then treats the disk as damaged and abstains until a leader resyncs it)",
			"file", df.path(), "record", i, "offset", startOf(p.ends, i))
	}
	if p.headerDamaged {
		s.log.Error("storage: a record header is damaged; the rest of the file is one corrupt record",
			"file", df.path(), "record", len(p.records)-1, "offset", startOf(p.ends, len(p.records)-1))
	}
	df.ends = p.ends
	if s.faults != nil {
		if err := s.faults.opened(df.path(), p.good); err != nil {
			return nil, false, err
		}
	}
	if p.good == int64(len(b)) {
		return p.records, false, nil
	}
	s.log.Warn("storage: dropped a torn last record (a write a crash interrupted, never synced)",
		"file", df.path(), "offset", p.good, "bytes", int64(len(b))-p.good, "zeros", p.zeroTail)
	f, err := os.OpenFile(df.path(), os.O_RDWR, 0)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	if err := f.Truncate(p.good); err != nil {
		return nil, false, err
	}
	if err := s.syncFile(f); err != nil {
		return nil, false, err
	}
	return p.records, true, nil
}

func startOf(ends []int64, i int) int64 {
	if i <= 0 || i > len(ends) {
		return 0
	}
	return ends[i-1]
}

// parsed is a file's bytes cut into records.
type parsed struct {
	records       []node.Record
	ends          []int64
	good          int64 // bytes up to the end of the last whole record
	corrupt       []int // indexes of records whose data checksum fails
	headerDamaged bool  // the last record is the rest of the file: its header is damaged
	zeroTail      bool  // the dropped tail is all zero bytes
}

// parseRecords cuts b into records (see the format above). It never fails:
// every byte string is some records, perhaps corrupt, and a torn tail.
func parseRecords(b []byte) parsed {
	var p parsed
	off := 0
	for off < len(b) {
		rest := b[off:]
		if allZero(rest) {
			p.zeroTail = true
			break
		}
		if len(rest) < recordHeaderLen {
			break // a torn header
		}
		n := binary.BigEndian.Uint32(rest)
		if crc32.Checksum(rest[:4], castagnoli) != binary.BigEndian.Uint32(rest[4:]) || n > maxRecordLen {
			p.headerDamaged = true
			p.records = append(p.records, node.Record{Data: bytes.Clone(rest), Corrupt: true})
			p.ends = append(p.ends, int64(len(b)))
			off = len(b)
			break
		}
		if int64(n) > int64(len(rest)-recordHeaderLen) {
			break // the data runs past the end: a torn write
		}
		data := rest[recordHeaderLen : recordHeaderLen+int(n)]
		bad := crc32.Checksum(data, castagnoli) != binary.BigEndian.Uint32(rest[8:])
		p.records = append(p.records, node.Record{Data: bytes.Clone(data), Corrupt: bad})
		if bad {
			p.corrupt = append(p.corrupt, len(p.records)-1)
		}
		off += recordHeaderLen + int(n)
		p.ends = append(p.ends, int64(off))
	}
	p.good = int64(off)
	return p
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// appendRecord appends the stored form of one record to dst.
func appendRecord(dst, data []byte) []byte {
	h := recordHeader(data)
	return append(append(dst, h[:]...), data...)
}

// recordHeader is the header of a record holding data.
func recordHeader(data []byte) [recordHeaderLen]byte {
	var h [recordHeaderLen]byte
	binary.BigEndian.PutUint32(h[0:], uint32(len(data)))
	binary.BigEndian.PutUint32(h[4:], crc32.Checksum(h[:4], castagnoli))
	binary.BigEndian.PutUint32(h[8:], crc32.Checksum(data, castagnoli))
	return h
}

// Recovered is the durable state found at open, for the core's node.Env.
func (s *Storage) Recovered() node.Storage { return s.recovered }

// recoveredFiles implements node.Storage over what OpenStorage read.
type recoveredFiles struct {
	records map[string][]node.Record
	names   []string
}

var _ node.Storage = (*recoveredFiles)(nil)

func (r *recoveredFiles) Files() []string { return slices.Clone(r.names) }

func (r *recoveredFiles) Read(file string) []node.Record {
	recs, ok := r.records[file]
	if !ok {
		return nil
	}
	out := make([]node.Record, len(recs))
	for i, rec := range recs {
		out[i] = node.Record{Data: bytes.Clone(rec.Data), Corrupt: rec.Corrupt}
	}
	return out
}

// Apply performs one disk op of a Ready (see the rules above).
func (s *Storage) Apply(op node.DiskOp) error {
	if err := validFileName(op.File); err != nil {
		return err
	}
	switch op.Kind {
	case node.Append:
		return s.append(op.File, op.Data)
	case node.Truncate:
		if op.N < 0 {
			return fmt.Errorf("real: truncate %q to %d records", op.File, op.N)
		}
		return s.truncate(op.File, op.N)
	case node.Replace:
		return s.replace(op.File, op.Data)
	case node.Remove:
		return s.remove(op.File)
	}
	return fmt.Errorf("real: unknown disk op kind %d on %q", op.Kind, op.File)
}

func (s *Storage) append(name string, data []byte) error {
	if len(data) > maxRecordLen {
		return fmt.Errorf("real: a record of %d bytes for %q is over the %d-byte limit", len(data), name, maxRecordLen)
	}
	df := s.files[name]
	if s.dirty != nil && s.dirty != df {
		if err := s.barrier(); err != nil {
			return err
		}
	}
	if df == nil {
		df = &diskFile{name: name, dir: s.dirFor(name)}
		f, err := os.OpenFile(df.path(), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		df.f = f
		s.files[name] = df
		s.dirDirty[df.dir] = true
	} else if df.f == nil {
		f, err := os.OpenFile(df.path(), os.O_RDWR, 0)
		if err != nil {
			return err
		}
		df.f = f
	}
	s.scratch = appendRecord(s.scratch[:0], data)
	at := df.size()
	if _, err := df.f.WriteAt(s.scratch, at); err != nil {
		return err
	}
	df.ends = append(df.ends, at+int64(len(s.scratch)))
	s.dirty = df
	if s.faults != nil {
		return s.faults.appended(df.path())
	}
	return nil
}

func (s *Storage) truncate(name string, n int) error {
	df := s.files[name]
	if df == nil || n >= len(df.ends) {
		return nil
	}
	if err := s.barrier(); err != nil {
		return err
	}
	f := df.f
	if f == nil {
		var err error
		if f, err = os.OpenFile(df.path(), os.O_RDWR, 0); err != nil {
			return err
		}
		df.f = f
	}
	df.ends = df.ends[:n]
	if err := f.Truncate(df.size()); err != nil {
		return err
	}
	return s.syncFile(f)
}

func (s *Storage) replace(name string, data []byte) error {
	if err := s.barrier(); err != nil {
		return err
	}
	dir := s.dirFor(name)
	tmp := filepath.Join(dir, name+tmpSuffix)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	// The header, then the data as it is: a snapshot of the whole tree is
	// tens of megabytes, not worth a copy (nor a scratch buffer that keeps
	// its size).
	h := recordHeader(data)
	size := int64(len(h) + len(data))
	if _, err := f.Write(h[:]); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := s.syncFile(f); err != nil {
		f.Close()
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		f.Close()
		return err
	}
	f.Close() // an append to the new file reopens it by its name
	if err := s.syncDir(dir); err != nil {
		return err
	}
	if old := s.files[name]; old != nil {
		s.retire(old)
	}
	s.files[name] = &diskFile{name: name, dir: dir, ends: []int64{size}}
	if s.faults != nil {
		if err := s.faults.removed(tmp); err != nil {
			return err
		}
		return s.faults.opened(filepath.Join(dir, name), size)
	}
	return nil
}

func (s *Storage) remove(name string) error {
	df := s.files[name]
	if df == nil {
		return nil
	}
	if err := s.barrier(); err != nil {
		return err
	}
	if err := os.Remove(df.path()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := s.syncDir(df.dir); err != nil {
		return err
	}
	delete(s.files, name)
	s.retire(df)
	if s.faults != nil {
		return s.faults.removed(df.path())
	}
	return nil
}

// retire drops a file from the live set; its handle is closed once no
// batch that may hold it is running.
func (s *Storage) retire(df *diskFile) {
	if s.dirty == df {
		s.dirty = nil
	}
	if df.f == nil {
		return
	}
	if s.inflight == nil {
		df.f.Close()
	} else {
		s.retired = append(s.retired, df.f)
	}
	df.f = nil
}

// barrier makes every earlier op durable: the file with unsynced appends,
// the batch the syncer may still be running, the directories.
func (s *Storage) barrier() error {
	b := s.takeBatch()
	if s.inflight != nil {
		b.files = append(b.files, s.inflight.files...)
		for _, d := range s.inflight.dirs {
			if !slices.Contains(b.dirs, d) {
				b.dirs = append(b.dirs, d)
			}
		}
	}
	return b.run()
}

// syncBatch is the work of one group commit: files whose appends it makes
// durable and directories whose entries it makes durable.
type syncBatch struct {
	s     *Storage
	files []*os.File
	dirs  []string
}

// takeBatch hands over everything unsynced; the driver gives the batch to
// the syncer and calls batchDone when it has run.
func (s *Storage) takeBatch() *syncBatch {
	b := &syncBatch{s: s}
	if s.dirty != nil && s.dirty.f != nil {
		b.files = append(b.files, s.dirty.f)
	}
	s.dirty = nil
	for _, d := range slices.Sorted(maps.Keys(s.dirDirty)) {
		b.dirs = append(b.dirs, d)
	}
	clear(s.dirDirty)
	return b
}

// startBatch takes a batch for the syncer; batchDone must follow.
func (s *Storage) startBatch() *syncBatch {
	if s.inflight != nil {
		panic("real: invariant violated: a sync batch started while another runs")
	}
	s.inflight = s.takeBatch()
	return s.inflight
}

func (s *Storage) batchDone() {
	s.inflight = nil
	for _, f := range s.retired {
		f.Close()
	}
	clear(s.retired)
	s.retired = s.retired[:0]
}

// run performs the batch: it is safe to call from another goroutine while
// the driver writes (fsync covers at least what was written before it).
func (b *syncBatch) run() error {
	for _, f := range b.files {
		if err := b.s.syncFile(f); err != nil {
			return err
		}
	}
	for _, d := range b.dirs {
		if err := b.s.syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

func (s *Storage) syncFile(f *os.File) error {
	if s.noSync {
		return nil
	}
	if s.faults != nil {
		if _, err := s.faults.sync(f, s.fsync); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrFsync, f.Name(), err)
		}
		return nil
	}
	if err := s.fsync(f); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrFsync, f.Name(), err)
	}
	return nil
}

func (s *Storage) syncDir(dir string) error {
	if s.noSync || (s.faults != nil && s.faults.lying()) {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("%w: directory %s: %v", ErrFsync, dir, err)
	}
	return nil
}

// Close closes every open file. Unsynced appends stay where the kernel has
// them (a clean stop loses nothing the core was told is durable).
func (s *Storage) Close() error {
	var first error
	for _, df := range s.files {
		if df.f != nil {
			if err := df.f.Close(); err != nil && first == nil {
				first = err
			}
			df.f = nil
		}
	}
	for _, f := range s.retired {
		f.Close()
	}
	s.retired = nil
	if s.faults != nil {
		if err := s.faults.close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
