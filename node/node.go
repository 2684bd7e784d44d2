// Package node is the contract between zoosim's protocol cores and the two
// drivers that run them (sim and real).
//
// A core is an I/O-free state machine: it never reads a clock, opens a
// socket or a file, starts a goroutine, or draws from a global random
// source. A driver feeds it input (Step for a message, Tick for time) and
// then asks it what it wants done (Ready): messages to send, records to
// persist, a disk sync, the next time it wants to be woken. Once the driver
// has done all of that, it calls Advance. The shape is etcd raft's RawNode.
//
// The package owns only these types; it knows nothing of ZooKeeper, of the
// simulator or of TCP.
package node

import "math/rand/v2"

// Time is a point on a node's own clock, in nanoseconds. In the simulator it
// is virtual time as seen through the node's (possibly skewed) clock; for
// real it is wall-clock time. Cores compare and subtract Times; they never
// ask the operating system for one.
type Time int64

// Common durations in Time units.
const (
	Nanosecond  Time = 1
	Microsecond Time = 1000 * Nanosecond
	Millisecond Time = 1000 * Microsecond
	Second      Time = 1000 * Millisecond
)

// Millis returns t in whole milliseconds, the unit ZooKeeper uses for ctime,
// mtime and session timeouts.
func (t Time) Millis() int64 { return int64(t / Millisecond) }

// ID names a node of a world: a server or a client. IDs are small positive
// integers; 0 is never a valid ID.
type ID int32

// Message is what one node sends another. Body is owned by the protocol; a
// driver moves it without looking inside (the real driver encodes it with a
// codec the protocol registers).
type Message struct {
	From, To ID
	Body     any
}

// TraceHasher is implemented by message bodies that want their contents
// folded into the simulator's trace hash (so that a run whose messages
// differ only in content still gets a different hash). It must be cheap and
// must not allocate.
type TraceHasher interface {
	TraceHash() uint64
}

// DiskOpKind says what a DiskOp does to a file.
type DiskOpKind uint8

const (
	// Append adds one record at the end of the file.
	Append DiskOpKind = iota + 1
	// Truncate keeps only the first N records of the file.
	Truncate
	// Replace atomically swaps the whole file for one record (a snapshot, an
	// epoch file). It is atomic like write-to-temp-then-rename: after a crash
	// the file holds either the old contents or the new record.
	Replace
	// Remove deletes the file.
	Remove
)

func (k DiskOpKind) String() string {
	switch k {
	case Append:
		return "append"
	case Truncate:
		return "truncate"
	case Replace:
		return "replace"
	case Remove:
		return "remove"
	}
	return "unknown"
}

// DiskOp is one change a node asks its disk to make. Files are named
// sequences of records; a record is an opaque byte slice that the driver
// stores with a checksum.
type DiskOp struct {
	Kind DiskOpKind
	File string
	Data []byte // Append, Replace
	N    int    // Truncate: the number of records kept
}

// Ready is the batch of work a core hands its driver. The driver performs it
// in this order: apply Disk, then (if Sync) make everything written so far
// durable, then send Messages (only after the sync has completed), then arm
// the timer. Slices stay owned by the core; the driver must not keep them
// after Advance.
type Ready struct {
	Disk     []DiskOp
	Sync     bool
	Messages []Message
	// WakeAt is the time on the node's own clock at which it wants Tick to
	// be called; 0 means no timer. Each Ready replaces the previous request.
	WakeAt Time
}

// Empty reports whether the batch asks for nothing but a timer.
func (r *Ready) Empty() bool {
	return len(r.Disk) == 0 && !r.Sync && len(r.Messages) == 0
}

// Machine is an I/O-free protocol core driven by a driver.
type Machine interface {
	// Step hands the core one message that arrived at local time now.
	Step(now Time, m Message)
	// Tick tells the core that its clock reads now (at or after the WakeAt
	// it asked for, possibly much later after a pause).
	Tick(now Time)
	// Ready returns the work the core wants done. Calling it twice without
	// Advance in between returns the same work.
	Ready() Ready
	// Advance tells the core the driver did everything the last Ready asked.
	Advance()
}

// SyncObserver is implemented by cores that need to know when their data
// is durable, not only when the driver has started to make it so. A driver
// that reports syncs sets Env.ReportsSyncs and calls Synced with the number
// of Readies carrying Sync (counted from the core's start, in order) whose
// writes are now on stable storage. Cores that do not implement it may
// treat Advance as durable; the driver still holds their messages until
// the sync completes.
type SyncObserver interface {
	Synced(now Time, count uint64)
}

// Record is one record read back from a disk.
type Record struct {
	Data []byte
	// Corrupt is set when the stored checksum does not match the data: the
	// reader must not trust Data.
	Corrupt bool
}

// Storage is what a core sees of its disk when it starts: the files that
// survived, record by record. Writes go through Ready.Disk, never here.
type Storage interface {
	// Files returns the names of the existing files in sorted order.
	Files() []string
	// Read returns the records of a file (nil if the file does not exist).
	Read(file string) []Record
}

// Env is what a driver gives a core when it builds one (at the start of a
// run or on a restart after a crash).
type Env struct {
	ID      ID
	Now     Time       // the node's clock at start
	Storage Storage    // the durable state that survived
	Rand    *rand.Rand // the node's own random stream; the only randomness it may use
	Restart int        // 0 for the first start, then 1, 2, ... after each crash
	// ReportsSyncs: the driver calls SyncObserver.Synced when syncs
	// complete.
	ReportsSyncs bool
	// Buggify forces rare branches at named points (nil: never; the real
	// driver always passes nil).
	Buggify *Buggify
}

// Factory builds a core from its environment.
type Factory func(env Env) Machine
