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
// Lying syncs. While the file DATADIR/zoosim-faults/lie exists, every
// sync of a file or a directory reports success without calling fsync.
// The layer remembers, in DATADIR/zoosim-faults/unsynced (JSON, written
// with a rename, not synced: it models the disk, and only the process
// dies), each file a sync lied about and its size at the last honest sync
// (-1: the file was created since). The next time the storage opens (the
// restart after a crash), it first cuts every such file back to that size
// (removes it for -1): what the disk claimed durable and never was is lost,
// as the simulated disk loses it. When the lie file is gone, the next sync
// is honest and first really syncs every file the layer lied about, then
// forgets them: a disk that stops lying flushes its cache. Truncates,
// replaces and removes done while syncs lie are kept (only appended tails
// are lost).
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
// and the driver's both sync, hence the lock.
type diskFaults struct {
	dir   string
	log   func(msg string, args ...any)
	sleep func(time.Duration) // time.Sleep; tests watch it

	mu sync.Mutex
	// durable is each file's size at its last honest sync (or at open).
	durable map[string]int64
	// unsynced are the files a sync lied about -> their durable size (-1:
	// created since the last honest sync of its directory).
	unsynced map[string]int64
}

func newDiskFaults(dataDir string, log func(string, ...any)) *diskFaults {
	return &diskFaults{dir: filepath.Join(dataDir, faultsSubdir), log: log, sleep: time.Sleep, durable: map[string]int64{}, unsynced: map[string]int64{}}
}

func (d *diskFaults) lying() bool {
	_, err := os.Stat(filepath.Join(d.dir, lieFile))
	return err == nil
}

// recover cuts every file that syncs lied about back to its durable size;
// OpenStorage calls it before it reads any file.
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
			d.log("disk faults: removing a file created while syncs lied", "file", path)
			if err := os.Remove(path); err != nil {
				return err
			}
		case st.Size() > size:
			d.log("disk faults: cutting what lying syncs never made durable", "file", path, "from", st.Size(), "to", size)
			if err := os.Truncate(path, size); err != nil {
				return err
			}
		}
	}
	return os.Remove(filepath.Join(d.dir, unsyncedFile))
}

// opened records a file's size at open (it is durable).
func (d *diskFaults) opened(path string, size int64) {
	d.mu.Lock()
	d.durable[path] = size
	d.mu.Unlock()
}

// sync is called instead of each fsync of f: it lies (returns true: skip
// the fsync) or, honest, first really syncs whatever it lied about.
func (d *diskFaults) sync(f *os.File, fsync func(*os.File) error) (lied bool, err error) {
	d.delay()
	d.mu.Lock()
	defer d.mu.Unlock()
	path := f.Name()
	if d.lying() {
		if _, ok := d.unsynced[path]; !ok {
			size, ok := d.durable[path]
			if !ok {
				size = -1
			}
			d.unsynced[path] = size
			if err := d.writeUnsynced(); err != nil {
				return false, err
			}
		}
		return true, nil
	}
	if len(d.unsynced) > 0 {
		for _, p := range slices.Sorted(maps.Keys(d.unsynced)) {
			if p == path {
				continue
			}
			if g, err := os.OpenFile(p, os.O_RDWR, 0); err == nil {
				err = fsync(g)
				g.Close()
				if err != nil {
					return false, err
				}
			}
		}
	}
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	if err := fsync(f); err != nil {
		return false, err
	}
	d.durable[path] = st.Size()
	if len(d.unsynced) > 0 {
		clear(d.unsynced)
		if err := os.Remove(filepath.Join(d.dir, unsyncedFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
	}
	return false, nil
}

// writeUnsynced saves the unsynced map (rename, no fsync: see above).
func (d *diskFaults) writeUnsynced() error {
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(d.unsynced)
	if err != nil {
		return err
	}
	tmp := filepath.Join(d.dir, unsyncedFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(d.dir, unsyncedFile))
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
