package real

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
)

// The fault-injecting file layer, for the harness's disk faults on real
// processes (zoosim/real/harness). It exists only in a server started with
// DiskFaultsEnv=1 in its environment; nothing else turns it on.
//
// A crash is a power loss. The layer keeps a journal,
// DATADIR/zoosim-faults/unsynced (JSON, written with a rename and never
// synced: it models the disk's cache, and only the process dies), of every
// file holding bytes that no honest sync covered, with its size at its last
// honest sync (-1: created since). The next time the storage opens (the
// restart after a SIGKILL), it first cuts every such file back to that size
// (removes it for -1): what no sync made durable is lost, as the simulated
// disk loses it. A clean stop (Close) clears the journal. Truncates,
// replaces and removes are durable when they return, as without the layer
// (only appended tails are lost).
//
// Lying syncs. While the file DATADIR/zoosim-faults/lie exists, every sync
// of a file or a directory reports success without calling fsync and
// leaves the journal as it is: the next crash loses everything appended
// since the last honest sync. When the lie file is gone, the next sync is
// honest and first really syncs every file a sync lied about: a disk that
// stops lying flushes its cache.
//
// Slow syncs: while DATADIR/zoosim-faults/sync-delay holds a duration
// (time.ParseDuration), each sync first waits a uniformly drawn time up to
// it (the harness's lag fault slows a server's disk as the simulator's
// does).
//
// A torn or corrupt record: CorruptRecord flips one byte of one record's
// data in a node's files, which the server sees as a corrupt record when
// it next opens its storage.

// DiskFaultsEnv is the environment variable that turns the layer on (its
// value must be 1).
const DiskFaultsEnv = "ZOOSIM_DISK_FAULTS"

// faultsSubdir is the layer's folder in the data directory.
const faultsSubdir = "zoosim-faults"

const (
	lieFile      = "lie"
	unsyncedFile = "unsynced"
	delayFile    = "sync-delay"
)

// SetSyncLies makes the syncs of the server whose data directory is
// dataDir lie (creating the lie file) or be honest again (removing it).
func SetSyncLies(dataDir string, lies bool) error {
	dir := filepath.Join(dataDir, faultsSubdir)
	path := filepath.Join(dir, lieFile)
	if !lies {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, nil, 0o644)
}

// SetSyncDelay makes every sync of the server whose data directory is
// dataDir wait up to d first (0: no wait).
func SetSyncDelay(dataDir string, d time.Duration) error {
	dir := filepath.Join(dataDir, faultsSubdir)
	path := filepath.Join(dir, delayFile)
	if d <= 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(d.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// delay waits what the sync-delay file asks for, if it exists.
func (d *diskFaults) delay() {
	b, err := os.ReadFile(filepath.Join(d.dir, delayFile))
	if err != nil {
		return
	}
	most, err := time.ParseDuration(string(b))
	if err != nil || most <= 0 {
		return
	}
	d.sleep(time.Duration(rand.Int64N(int64(most)) + 1))
}

// diskFaults is the layer's state in one Storage. The syncer's goroutine
// and the driver's both use it, hence the lock.
type diskFaults struct {
	dir   string
	log   func(msg string, args ...any)
	sleep func(time.Duration) // time.Sleep; tests watch it

	mu sync.Mutex
	// durable is each file's size at its last honest sync (or at open, or
	// after a replace).
	durable map[string]int64
	// pending holds the files with bytes no honest sync covered -> their
	// durable size (-1: created since). It is what the journal says.
	pending map[string]int64
	// lied are the files a sync lied about since the last honest one.
	lied map[string]bool
}

func newDiskFaults(dataDir string, log func(string, ...any)) *diskFaults {
	return &diskFaults{dir: filepath.Join(dataDir, faultsSubdir), log: log, sleep: time.Sleep,
		durable: map[string]int64{}, pending: map[string]int64{}, lied: map[string]bool{}}
}

func (d *diskFaults) lying() bool {
	_, err := os.Stat(filepath.Join(d.dir, lieFile))
	return err == nil
}

// recover cuts every file the journal names back to its durable size (a
// crash with the layer on is a power loss); OpenStorage calls it before it
// reads any file.
func (d *diskFaults) recover() error {
	b, err := os.ReadFile(filepath.Join(d.dir, unsyncedFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var m map[string]int64
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("real: disk faults: %s: %w", unsyncedFile, err)
	}
	for _, path := range slices.Sorted(maps.Keys(m)) {
		size := m[path]
		st, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		switch {
		case size < 0:
			d.log("disk faults: removing a file no honest sync made durable", "file", path)
			if err := os.Remove(path); err != nil {
				return err
			}
		case st.Size() > size:
			d.log("disk faults: cutting what no honest sync made durable", "file", path, "from", st.Size(), "to", size)
			if err := os.Truncate(path, size); err != nil {
				return err
			}
		}
	}
	return os.Remove(filepath.Join(d.dir, unsyncedFile))
}

// opened records that path is durable at size (at open, after a replace).
func (d *diskFaults) opened(path string, size int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.durable[path] = size
	delete(d.lied, path)
	if _, ok := d.pending[path]; ok {
		delete(d.pending, path)
		return d.writeJournal()
	}
	return nil
}

// removed forgets a removed file.
func (d *diskFaults) removed(path string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.durable, path)
	delete(d.lied, path)
	if _, ok := d.pending[path]; ok {
		delete(d.pending, path)
		return d.writeJournal()
	}
	return nil
}

// appended notes bytes written to path that no sync covers yet; the first
// such append after an honest sync writes the journal (after the bytes: a
// crash in between keeps them, as a lucky power loss would).
func (d *diskFaults) appended(path string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.pending[path]; ok {
		return nil
	}
	d.pending[path] = d.durableSize(path)
	return d.writeJournal()
}

func (d *diskFaults) durableSize(path string) int64 {
	if size, ok := d.durable[path]; ok {
		return size
	}
	return -1
}

// sync is called instead of each fsync of f: it lies (returns true: skip
// the fsync) or, honest, first really syncs whatever it lied about. No
// lock is held across an fsync, so that the driver appends meanwhile, as
// without the layer.
func (d *diskFaults) sync(f *os.File, fsync func(*os.File) error) (lied bool, err error) {
	d.delay()
	d.mu.Lock()
	path := f.Name()
	if d.lying() {
		defer d.mu.Unlock()
		d.lied[path] = true
		if _, ok := d.pending[path]; !ok {
			d.pending[path] = d.durableSize(path)
			if err := d.writeJournal(); err != nil {
				return false, err
			}
		}
		return true, nil
	}
	flush := slices.Sorted(maps.Keys(d.lied))
	clear(d.lied)
	d.mu.Unlock()
	for _, p := range flush {
		if p == path {
			continue
		}
		g, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			continue // removed or replaced since
		}
		err = d.honest(g, fsync)
		g.Close()
		if err != nil {
			return false, err
		}
	}
	return false, d.honest(f, fsync)
}

// honest fsyncs f and advances its durable size to what the fsync
// covered (its size before).
func (d *diskFaults) honest(f *os.File, fsync func(*os.File) error) error {
	before, err := f.Stat()
	if err != nil {
		return err
	}
	if err := fsync(f); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// An append that wrote before this stat finds its entry still pending
	// (and so wrote no journal); one that writes after it adds its entry
	// once the lock is free.
	after, err := f.Stat()
	if err != nil {
		return err
	}
	path := f.Name()
	d.durable[path] = before.Size()
	if _, ok := d.pending[path]; !ok {
		return nil
	}
	if after.Size() == before.Size() {
		delete(d.pending, path)
	} else { // appended while the fsync ran
		d.pending[path] = before.Size()
	}
	return d.writeJournal()
}

// writeJournal saves pending (rename, no fsync: see above), or removes the
// journal when nothing is pending.
func (d *diskFaults) writeJournal() error {
	path := filepath.Join(d.dir, unsyncedFile)
	if len(d.pending) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(d.pending)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// close is a clean stop: the kernel keeps what was written, so nothing is
// lost at the next open.
func (d *diskFaults) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.pending)
	return d.writeJournal()
}

// CorruptRecord flips one byte of the data of one durable record of the
// node files in dataDir (a record chosen uniformly among every record with
// data that lying syncs did not leave undurable, from rnd) and says which ("log.1#3": the file and the record's index). ok is
// false when there is no such record. The server sees the damage when it
// next opens its storage; a running server does not read its files again.
func CorruptRecord(dataDir string, rnd *rand.Rand) (record string, ok bool, err error) {
	dir := filepath.Join(dataDir, StorageSubdir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	type target struct {
		file  string
		index int
		off   int64 // of the record's data
		n     int
	}
	// Records past what lying syncs left durable will be lost at the next
	// open: they are no durable records to damage.
	durable := map[string]int64{}
	if b, err := os.ReadFile(filepath.Join(dataDir, faultsSubdir, unsyncedFile)); err == nil {
		if err := json.Unmarshal(b, &durable); err != nil {
			return "", false, fmt.Errorf("real: disk faults: %s: %w", unsyncedFile, err)
		}
	}
	var targets []target
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || validFileName(name) != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", false, err
		}
		p := parseRecords(b)
		for i, r := range p.records {
			if r.Corrupt || len(r.Data) == 0 || (p.headerDamaged && i == len(p.records)-1) {
				continue
			}
			if size, ok := durable[filepath.Join(dir, name)]; ok && p.ends[i] > size {
				continue
			}
			targets = append(targets, target{file: name, index: i, off: startOf(p.ends, i) + recordHeaderLen, n: len(r.Data)})
		}
	}
	if len(targets) == 0 {
		return "", false, nil
	}
	t := targets[rnd.IntN(len(targets))]
	f, err := os.OpenFile(filepath.Join(dir, t.file), os.O_RDWR, 0)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	at := t.off + int64(rnd.IntN(t.n))
	var b [1]byte
	if _, err := f.ReadAt(b[:], at); err != nil {
		return "", false, err
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b[:], at); err != nil {
		return "", false, err
	}
	return t.file + "#" + strconv.Itoa(t.index), true, nil
}
