package sim

import (
	"fmt"
	"hash/crc32"
	"maps"
	"math/rand/v2"
	"slices"

	"zoosim/node"
)

// A node's disk has two layers. The durable layer (files) is what survives
// a crash. Ops a core asked for but that no completed sync covers wait in
// pending, in order; a crash keeps none of them (LoseAll) or a random prefix
// (RandomTail). Because every op is applied whole and in order, a Replace is
// atomic and a file is always some prefix of the ops it was given.

// CrashLoss says what happens to writes no sync covered when a node crashes.
type CrashLoss uint8

const (
	// RandomTail keeps a random prefix of the unsynced ops (possibly all,
	// possibly none): the kernel may have flushed some of them already.
	RandomTail CrashLoss = iota + 1
	// LoseAll drops every unsynced op.
	LoseAll
)

func (c CrashLoss) String() string {
	switch c {
	case RandomTail:
		return "random-tail"
	case LoseAll:
		return "lose-all"
	}
	return "unknown"
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// storedRecord is one record on disk with the checksum computed when it was
// written. Its data slice is never modified in place once stored (corruption
// replaces it), so snapshots handed to cores can share it.
type storedRecord struct {
	data []byte
	crc  uint32
}

type diskOp struct {
	kind node.DiskOpKind
	file string
	rec  storedRecord
	n    int
}

type disk struct {
	// files is the durable layer. Slices are shared with Storage snapshots,
	// so they are only ever appended to past their length or replaced, never
	// written in place (Truncate caps the capacity so a later append copies).
	files map[string][]storedRecord
	// pending[head:] are the unsynced ops, op numbers durable..written-1.
	pending          []diskOp
	head             int
	written, durable uint64
	syncLies         bool
}

func newDisk() disk { return disk{files: map[string][]storedRecord{}} }

// write records an op the core asked for. Data is copied: the core owns its
// slices and may reuse them after Advance.
func (d *disk) write(op node.DiskOp, id node.ID) diskOp {
	switch op.Kind {
	case node.Append, node.Replace, node.Remove:
	case node.Truncate:
		if op.N < 0 {
			panic(fmt.Sprintf("sim: invariant violated: node %d truncated %q to %d records", id, op.File, op.N))
		}
	default:
		panic(fmt.Sprintf("sim: invariant violated: node %d asked for disk op kind %d", id, op.Kind))
	}
	if op.File == "" {
		panic(fmt.Sprintf("sim: invariant violated: node %d asked for a disk op on an empty file name", id))
	}
	o := diskOp{kind: op.Kind, file: op.File, n: op.N}
	if op.Kind == node.Append || op.Kind == node.Replace {
		data := slices.Clone(op.Data)
		if data == nil {
			data = []byte{}
		}
		o.rec = storedRecord{data: data, crc: crc32.Checksum(data, castagnoli)}
	}
	d.pending = append(d.pending, o)
	d.written++
	return o
}

// apply performs one op on the durable layer.
func (d *disk) apply(o *diskOp) {
	switch o.kind {
	case node.Append:
		d.files[o.file] = append(d.files[o.file], o.rec)
	case node.Truncate:
		if recs, ok := d.files[o.file]; ok && o.n < len(recs) {
			d.files[o.file] = recs[:o.n:o.n]
		}
	case node.Replace:
		d.files[o.file] = []storedRecord{o.rec}
	case node.Remove:
		delete(d.files, o.file)
	}
}

// makeDurable applies pending ops up to op number mark.
func (d *disk) makeDurable(mark uint64) {
	for d.durable < mark {
		d.apply(&d.pending[d.head])
		d.pending[d.head] = diskOp{}
		d.head++
		d.durable++
	}
	if d.head == len(d.pending) {
		d.pending, d.head = d.pending[:0], 0
	} else if d.head > len(d.pending)/2 {
		k := copy(d.pending, d.pending[d.head:])
		clear(d.pending[k:])
		d.pending, d.head = d.pending[:k], 0
	}
}

func (d *disk) unsynced() int { return len(d.pending) - d.head }

// crash loses unsynced ops as policy says and returns how many were lost.
func (d *disk) crash(policy CrashLoss, r *rand.Rand) int {
	n := d.unsynced()
	keep := 0
	if policy == RandomTail && n > 0 {
		keep = belowInt(r, n+1)
	}
	d.makeDurable(d.durable + uint64(keep))
	clear(d.pending)
	d.pending, d.head = d.pending[:0], 0
	d.written = d.durable
	return n - keep
}

// snapshot returns a read-only view of the durable layer as it is now.
func (d *disk) snapshot() *storage {
	files := maps.Clone(d.files)
	return &storage{files: files, names: slices.Sorted(maps.Keys(files))}
}

// storage implements node.Storage over a snapshot of a durable layer.
type storage struct {
	files map[string][]storedRecord
	names []string
}

var _ node.Storage = (*storage)(nil)

func (s *storage) Files() []string { return slices.Clone(s.names) }

// Read verifies every record's checksum; the caller gets copies it may keep.
func (s *storage) Read(file string) []node.Record {
	recs, ok := s.files[file]
	if !ok {
		return nil
	}
	out := make([]node.Record, len(recs))
	for i, r := range recs {
		out[i] = node.Record{Data: slices.Clone(r.data), Corrupt: crc32.Checksum(r.data, castagnoli) != r.crc}
	}
	return out
}

// Syncs and the output barrier. A Ready with Sync asks for everything written
// so far to become durable; the sync completes after a random latency.
// Messages of that Ready, and of any later Ready, wait in the node's outbox
// until the syncs they follow have completed: a core may acknowledge a write
// only once it is durable, and a crash before that loses both the data and
// the acknowledgement. Syncs are serialized: a sync requested while one is
// running starts when it completes and covers everything written by then.

type heldMsg struct {
	msg      node.Message
	needSync uint64 // released once syncsDone >= needSync
}

func (w *World) requestSync(n *nodeState) {
	n.syncsRequested++
	if !n.syncing {
		w.startSync(n)
	}
}

func (w *World) startSync(n *nodeState) {
	n.syncing = true
	n.syncCovers = n.syncsRequested
	n.syncMark = n.disk.written
	lo, hi := w.cfg.SyncLatencyMin, w.cfg.SyncLatencyMax
	if n.syncMax > 0 {
		lo, hi = n.syncMin, n.syncMax
	}
	at := w.now + uniform(n.diskRand, lo, hi)
	w.stats.Syncs++
	w.fold(TraceSync, n.id, 0, n.syncMark, uint64(at))
	if w.tracer != nil {
		w.tracer(TraceEvent{Time: w.now, Kind: TraceSync, Node: n.id, N: int64(at), M: int64(n.disk.unsynced())})
	}
	w.push(at, evSyncDone, uint32(n.idx), n.incarnation)
}

func (w *World) onSyncDone(n *nodeState, inc uint32) {
	if inc != n.incarnation || !n.syncing {
		w.stats.StaleEvents++ // the node crashed while syncing
		return
	}
	n.syncing = false
	lied := n.disk.syncLies
	if lied {
		w.stats.SyncLies++
	} else {
		n.disk.makeDurable(n.syncMark)
	}
	n.syncsDone = n.syncCovers
	w.fold(TraceSyncDone, n.id, 0, n.syncMark, b2u(lied))
	if w.tracer != nil {
		w.tracer(TraceEvent{Time: w.now, Kind: TraceSyncDone, Node: n.id, N: int64(n.syncMark), M: int64(b2u(lied))})
	}
	if w.atCrashPoint(n, CrashAfterSync, nil) {
		return
	}
	if !n.paused {
		// A paused process cannot send or learn anything; it does both on
		// Resume.
		w.flushOutbox(n)
		if !n.up {
			return // crashed right after sending (CrashOnSend)
		}
	}
	if n.syncsRequested > n.syncsDone {
		w.startSync(n)
	}
	if !n.paused {
		w.notifySynced(n)
	}
}

// notifySynced tells a core that observes syncs how many of its sync
// requests are now durable, and performs what it then wants.
func (w *World) notifySynced(n *nodeState) {
	o, ok := n.m.(node.SyncObserver)
	if !ok || n.syncsDone <= n.syncsNotified {
		return
	}
	n.syncsNotified = n.syncsDone
	w.inMachine = true
	o.Synced(n.clock.local(w.now), n.syncsDone)
	w.inMachine = false
	w.drain(n)
}

// flushOutbox sends, in order, the held messages whose syncs have completed.
// A crash point may crash n on the way; the crash empties the outbox.
func (w *World) flushOutbox(n *nodeState) {
	for n.outHead < len(n.outbox) && n.outbox[n.outHead].needSync <= n.syncsDone {
		m := n.outbox[n.outHead].msg
		n.outbox[n.outHead] = heldMsg{}
		n.outHead++
		w.transmit(n, m)
		if !n.up {
			return
		}
	}
	if n.outHead == len(n.outbox) {
		n.outbox, n.outHead = n.outbox[:0], 0
	} else if n.outHead > len(n.outbox)/2 {
		k := copy(n.outbox, n.outbox[n.outHead:])
		clear(n.outbox[k:])
		n.outbox, n.outHead = n.outbox[:k], 0
	}
}

// writeDisk performs one op of n's Ready.
func (w *World) writeDisk(n *nodeState, op node.DiskOp) {
	o := n.disk.write(op, n.id)
	w.stats.DiskOps++
	w.fold(TraceDisk, n.id, 0, uint64(o.kind)|uint64(o.n)<<8, fnv64a(o.file)^uint64(o.rec.crc)<<32)
	if w.tracer != nil {
		w.tracer(TraceEvent{Time: w.now, Kind: TraceDisk, Node: n.id, Op: o.kind, File: o.file,
			N: int64(o.n), M: int64(len(o.rec.data))})
	}
	// Bound the unsynced layer the way a kernel does: write back the oldest
	// op. This keeps prefix semantics (the oldest unsynced ops are the ones
	// that may survive anyway).
	if n.disk.unsynced() > w.cfg.MaxUnsyncedOps {
		n.disk.makeDurable(n.disk.durable + 1)
		w.stats.Writebacks++
	}
}

// SetSyncLatency makes node id's syncs take between lo and hi (a slow or
// overloaded disk); hi = 0 restores the world's latency. It applies to
// syncs that start from now on.
func (w *World) SetSyncLatency(id node.ID, lo, hi Time) {
	if lo < 0 || hi < lo && hi != 0 {
		panic(fmt.Sprintf("sim: SetSyncLatency: invalid range [%d, %d]", lo, hi))
	}
	n := w.mustNode(id)
	n.syncMin, n.syncMax = lo, hi
	if hi == 0 {
		n.syncMin = 0
	}
	w.fold(TraceDiskLatency, id, 0, uint64(lo), uint64(hi))
	if w.tracer != nil {
		w.tracer(TraceEvent{Time: w.now, Kind: TraceDiskLatency, Node: id, N: int64(lo), M: int64(hi)})
	}
}

// SetSyncLies makes node id's syncs report success without making anything
// durable (a disk or virtual machine that acknowledges a flush it did not
// perform), or restores honest syncs.
func (w *World) SetSyncLies(id node.ID, lies bool) {
	n := w.mustNode(id)
	n.disk.syncLies = lies
	w.fold(TraceSyncLies, n.id, 0, b2u(lies), 0)
	if w.tracer != nil {
		w.tracer(TraceEvent{Time: w.now, Kind: TraceSyncLies, Node: n.id, N: int64(b2u(lies))})
	}
}

// CorruptRecord damages record index of file on node id's durable layer
// (what a crash leaves), so that reading it back reports Corrupt. It returns
// false if there is no such durable record.
func (w *World) CorruptRecord(id node.ID, file string, index int) bool {
	n := w.mustNode(id)
	recs, ok := n.disk.files[file]
	if !ok || index < 0 || index >= len(recs) {
		return false
	}
	// Copy before writing: snapshots may share the slice and the data.
	recs = slices.Clone(recs)
	r := recs[index]
	if len(r.data) == 0 {
		r.crc ^= 1 << below(n.diskRand, 32) // nothing to flip but the stored checksum
	} else {
		data := slices.Clone(r.data)
		// CRC-32C detects every error confined to 32 consecutive bits, so
		// any change within one byte is caught.
		data[belowInt(n.diskRand, len(data))] ^= byte(1 + below(n.diskRand, 255))
		r.data = data
	}
	recs[index] = r
	n.disk.files[file] = recs
	w.stats.Corruptions++
	w.fold(TraceCorrupt, n.id, 0, fnv64a(file), uint64(index))
	if w.tracer != nil {
		w.tracer(TraceEvent{Time: w.now, Kind: TraceCorrupt, Node: n.id, File: file, N: int64(index)})
	}
	return true
}

// CorruptRandom damages one durable record of node id chosen uniformly from
// the node's disk stream and reports which; ok is false if the disk holds no
// record.
func (w *World) CorruptRandom(id node.ID) (file string, index int, ok bool) {
	n := w.mustNode(id)
	names := slices.Sorted(maps.Keys(n.disk.files))
	total := 0
	for _, f := range names {
		total += len(n.disk.files[f])
	}
	if total == 0 {
		return "", 0, false
	}
	k := belowInt(n.diskRand, total)
	for _, f := range names {
		if k < len(n.disk.files[f]) {
			return f, k, w.CorruptRecord(id, f, k)
		}
		k -= len(n.disk.files[f])
	}
	panic("sim: invariant violated: CorruptRandom index beyond the records counted")
}

// Storage returns a view of node id's durable disk as it is now: what a
// restart would see if every unsynced op were lost.
func (w *World) Storage(id node.ID) node.Storage {
	return w.mustNode(id).disk.snapshot()
}

// Unsynced returns the number of node id's disk ops that no completed sync
// covers yet.
func (w *World) Unsynced(id node.ID) int {
	return w.mustNode(id).disk.unsynced()
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
