package model

import "strconv"

// Zxid is ZooKeeper's transaction id: the epoch of the leader that proposed the
// txn in the high 32 bits and a counter that restarts with every epoch in the
// low 32 bits. Zxids of committed txns are totally ordered.
type Zxid int64

// MakeZxid builds the zxid of the counter-th txn of an epoch.
func MakeZxid(epoch, counter uint32) Zxid {
	return Zxid(uint64(epoch)<<32 | uint64(counter))
}

// Epoch is the high 32 bits: the epoch of the leader that proposed the txn.
func (z Zxid) Epoch() uint32 { return uint32(uint64(z) >> 32) }

// Counter is the low 32 bits: the position of the txn within its epoch.
func (z Zxid) Counter() uint32 { return uint32(uint64(z)) }

// String formats the zxid the way ZooKeeper logs it ("0x" + Long.toHexString),
// so -1 reads 0xffffffffffffffff.
func (z Zxid) String() string { return "0x" + strconv.FormatUint(uint64(z), 16) }
