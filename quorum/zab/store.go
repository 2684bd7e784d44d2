package zab

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"zoosim/model"
	"zoosim/node"
	"zoosim/quorum"
)

// On-disk layout, one node's disk (files are sequences of checksummed
// records, see node.DiskOp):
//
//	acceptedEpoch   one record: the epoch this server last accepted (LEADERINFO)
//	currentEpoch    one record: the epoch of the history it last synced to (NEWLEADER)
//	snapshot        one record: zxid + the serialized state machine
//	log.<zxid hex>  a log segment: one record per txn, zxid + data, in zxid order
//
// ZooKeeper keeps the same four things in the same roles (acceptedEpoch and
// currentEpoch files, snapshot.<zxid>, log.<zxid>).
const (
	fileAcceptedEpoch = "acceptedEpoch"
	fileCurrentEpoch  = "currentEpoch"
	fileSnapshot      = "snapshot"
	// fileDamaged marks a disk that lost records: it is written with the
	// repairs and removed only once a leader has synced the server again,
	// so that a crash in between cannot make the loss look clean.
	fileDamaged = "damaged"
	logPrefix   = "log."
)

func segmentName(first model.Zxid) string { return fmt.Sprintf("%s%016x", logPrefix, uint64(first)) }

func encodeEpoch(e uint32) []byte { return binary.BigEndian.AppendUint32(nil, e) }

func encodeEntry(zxid model.Zxid, data []byte) []byte {
	b := make([]byte, 8, 8+len(data))
	binary.BigEndian.PutUint64(b, uint64(zxid))
	return append(b, data...)
}

func decodeEntry(b []byte) (model.Zxid, []byte, bool) {
	if len(b) < 8 {
		return 0, nil, false
	}
	return model.Zxid(binary.BigEndian.Uint64(b)), b[8:], true
}

// segment is one log file and the number of records in it.
type segment struct {
	name  string
	first model.Zxid
	last  model.Zxid
	count int
}

// recovered is what a server finds on its disk when it starts.
type recovered struct {
	acceptedEpoch, currentEpoch uint32
	snap                        *quorum.Snapshot
	entries                     []quorum.Entry // txns after the snapshot, in zxid order
	segs                        []segment
	repair                      []node.DiskOp // ops that cut a damaged log back to its clean prefix
	// damaged is set when a record failed its checksum or the log was out
	// of order: the server may have lost acknowledged state, so it must not
	// count toward any quorum until a leader has synced it again.
	damaged bool
	reason  string
}

// recover reads the disk. A corrupt record is never applied: the log is cut
// at the first bad record (the rest of that segment and every later one is
// dropped) and the server marks itself damaged.
//
// corruptAsEOF is a seeded bug (ZOOKEEPER-1520): a corrupt record is taken
// for the end of the log, which is cut there without marking the server
// damaged.
func recoverStorage(st node.Storage, corruptAsEOF bool) recovered {
	var r recovered
	if st == nil {
		return r
	}
	damage := func(why string) {
		if !r.damaged {
			r.damaged, r.reason = true, why
		}
	}
	readEpoch := func(file string) uint32 {
		recs := st.Read(file)
		if len(recs) == 0 {
			return 0
		}
		rec := recs[len(recs)-1]
		if rec.Corrupt || len(rec.Data) != 4 {
			damage(file + " is corrupt")
			return 0
		}
		return binary.BigEndian.Uint32(rec.Data)
	}
	if st.Read(fileDamaged) != nil {
		damage("an earlier start found this disk damaged and no leader has synced it since")
	}
	r.acceptedEpoch = readEpoch(fileAcceptedEpoch)
	r.currentEpoch = readEpoch(fileCurrentEpoch)
	if r.currentEpoch > r.acceptedEpoch {
		// ZooKeeper refuses to start here (ZOOKEEPER-1653 territory); we
		// keep going as a damaged server that must resync.
		damage("currentEpoch is ahead of acceptedEpoch")
		r.acceptedEpoch = r.currentEpoch
	}

	if recs := st.Read(fileSnapshot); len(recs) > 0 {
		rec := recs[len(recs)-1]
		zxid, data, ok := decodeEntry(rec.Data)
		if rec.Corrupt || !ok {
			damage("snapshot is corrupt")
		} else {
			r.snap = &quorum.Snapshot{Zxid: zxid, Data: data}
		}
	}
	base := model.Zxid(0)
	if r.snap != nil {
		base = r.snap.Zxid
	}
	// Without a trustworthy snapshot the log cannot rebuild the state (older
	// segments may have been compacted away), so a damaged snapshot drops
	// the whole log: the leader will send this server a full snapshot.
	dropAll := r.damaged && r.snap == nil && st.Read(fileSnapshot) != nil

	var logs []string
	for _, f := range st.Files() {
		if strings.HasPrefix(f, logPrefix) {
			logs = append(logs, f)
		}
	}
	var last model.Zxid
	cut := false
	for li, f := range logs {
		if cut || dropAll {
			r.repair = append(r.repair, node.DiskOp{Kind: node.Remove, File: f})
			continue
		}
		// A segment whose successor starts at or before the snapshot's
		// zxid + 1 holds only txns the snapshot already has: it is kept
		// only for diffs, and damage in it loses nothing.
		if li+1 < len(logs) && r.snap != nil {
			if next, err := strconv.ParseUint(strings.TrimPrefix(logs[li+1], logPrefix), 16, 64); err == nil && model.Zxid(next) <= base+1 {
				r.repair = append(r.repair, node.DiskOp{Kind: node.Remove, File: f})
				continue
			}
		}
		seg := segment{name: f}
		for i, rec := range st.Read(f) {
			zxid, data, ok := decodeEntry(rec.Data)
			inOrder := len(r.segs) == 0 && seg.count == 0 || zxid > last
			if rec.Corrupt || !ok || !inOrder {
				if !corruptAsEOF {
					damage(fmt.Sprintf("record %d of %s is corrupt or out of order", i, f))
				}
				cut = true
				r.repair = append(r.repair, node.DiskOp{Kind: node.Truncate, File: f, N: i})
				break
			}
			if seg.count == 0 {
				seg.first = zxid
			}
			seg.last, last = zxid, zxid
			seg.count++
			if zxid > base {
				r.entries = append(r.entries, entry(zxid, data))
			}
		}
		if seg.count > 0 {
			r.segs = append(r.segs, seg)
		} else {
			r.repair = append(r.repair, node.DiskOp{Kind: node.Remove, File: f})
		}
	}
	if r.damaged {
		// Before any repair: the marker must be on disk whenever the cut is.
		r.repair = append([]node.DiskOp{{Kind: node.Replace, File: fileDamaged, Data: []byte(r.reason)}}, r.repair...)
	}
	return r
}
