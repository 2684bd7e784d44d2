package raft

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"zoosim/model"
	"zoosim/node"
)

// On-disk layout, one node's disk (files are sequences of checksummed
// records, see node.DiskOp):
//
//		hardstate.0, hardstate.1  one record each: term, vote, commit (the same
//		                          HardState written twice, so that one damaged
//		                          record never loses a vote)
//		snapshot                  one record: index, term, then the snapshot's
//		                          data (see snapData)
//		wal.<index hex>           a log segment: one record per entry (index,
//		                          term, type, data), in index order
//		damaged                   the repair point of a disk that lost records
//		incarnation               one record: how many times the node started
//	                           (its relay streams are numbered by it)
//
// etcd keeps the same things in its WAL (HardState and entry records) and
// its snap directory.
const (
	fileSnapshot    = "snapshot"
	fileDamaged     = "damaged"
	fileIncarnation = "incarnation"
	walPrefix       = "wal."
)

var hardStateFiles = [2]string{"hardstate.0", "hardstate.1"}

func segmentName(first uint64) string { return fmt.Sprintf("%s%016x", walPrefix, first) }

// segment is one log file: the index of its first record and how many it
// holds (they are consecutive).
type segment struct {
	name  string
	first uint64
	count uint64
}

func (s segment) last() uint64 { return s.first + s.count - 1 }

func encodeHardState(hs *pb.HardState) []byte {
	b := make([]byte, 0, 24)
	b = binary.BigEndian.AppendUint64(b, hs.GetTerm())
	b = binary.BigEndian.AppendUint64(b, hs.GetVote())
	return binary.BigEndian.AppendUint64(b, hs.GetCommit())
}

func decodeHardState(b []byte) (*pb.HardState, bool) {
	if len(b) != 24 {
		return nil, false
	}
	return &pb.HardState{Term: proto.Uint64(binary.BigEndian.Uint64(b)), Vote: proto.Uint64(binary.BigEndian.Uint64(b[8:])),
		Commit: proto.Uint64(binary.BigEndian.Uint64(b[16:]))}, true
}

// newerHardState reports whether a was written after b: terms only grow, a
// vote is cast once per term, and so does the commit index.
func newerHardState(a, b *pb.HardState) bool {
	if a.GetTerm() != b.GetTerm() {
		return a.GetTerm() > b.GetTerm()
	}
	if (a.GetVote() != 0) != (b.GetVote() != 0) {
		return a.GetVote() != 0
	}
	return a.GetCommit() > b.GetCommit()
}

func encodeEntry(e *pb.Entry) []byte {
	b := make([]byte, 0, 17+len(e.GetData()))
	b = binary.BigEndian.AppendUint64(b, e.GetIndex())
	b = binary.BigEndian.AppendUint64(b, e.GetTerm())
	b = append(b, byte(e.GetType()))
	return append(b, e.GetData()...)
}

func decodeEntry(b []byte) (*pb.Entry, bool) {
	if len(b) < 17 {
		return nil, false
	}
	t := pb.EntryType(b[16])
	if t != pb.EntryType_EntryNormal {
		return nil, false // this engine never proposes configuration changes
	}
	e := &pb.Entry{Index: proto.Uint64(binary.BigEndian.Uint64(b)), Term: proto.Uint64(binary.BigEndian.Uint64(b[8:])), Type: t.Enum()}
	if len(b) > 17 {
		e.Data = b[17:]
	}
	return e, true
}

// snapData is what a raft snapshot carries besides raft's metadata: the
// first index of the term of the snapshot's last entry (so that zxids of
// later entries of that term can be worked out), the zxid the state
// machine was at, and the state machine itself.
type snapData struct {
	termStart uint64
	zxid      model.Zxid
	state     []byte
}

func (d snapData) encode() []byte {
	b := make([]byte, 0, 16+len(d.state))
	b = binary.BigEndian.AppendUint64(b, d.termStart)
	b = binary.BigEndian.AppendUint64(b, uint64(d.zxid))
	return append(b, d.state...)
}

func decodeSnapData(b []byte) (snapData, bool) {
	if len(b) < 16 {
		return snapData{}, false
	}
	return snapData{termStart: binary.BigEndian.Uint64(b), zxid: model.Zxid(binary.BigEndian.Uint64(b[8:])), state: b[16:]}, true
}

func encodeSnapshot(index, term uint64, data []byte) []byte {
	b := make([]byte, 0, 16+len(data))
	b = binary.BigEndian.AppendUint64(b, index)
	b = binary.BigEndian.AppendUint64(b, term)
	return append(b, data...)
}

func decodeSnapshot(b []byte) (index, term uint64, d snapData, ok bool) {
	if len(b) < 16 {
		return 0, 0, snapData{}, false
	}
	d, ok = decodeSnapData(b[16:])
	return binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:]), d, ok
}

func encodeDamaged(repair uint64, reason string) []byte {
	return append(binary.BigEndian.AppendUint64(nil, repair), reason...)
}

// incarnation numbers this start of the node: one above the last start its
// disk remembers, and never below the driver's restart count. A damaged
// record falls back to the node's clock, far above any count: the relay
// channel needs only that a node's incarnations grow.
func incarnation(st node.Storage, env node.Env) uint64 {
	inc := uint64(env.Restart) + 1
	if st == nil {
		return inc
	}
	recs := st.Read(fileIncarnation)
	if len(recs) == 0 {
		return inc
	}
	rec := recs[len(recs)-1]
	if rec.Corrupt || len(rec.Data) != 8 {
		return max(inc, uint64(max(env.Now, 0))+inc)
	}
	return max(inc, binary.BigEndian.Uint64(rec.Data)+1)
}

// recovered is what a server finds on its disk when it starts.
type recovered struct {
	hs      *pb.HardState
	snap    bool   // a snapshot was on disk (else the bootstrap state)
	index   uint64 // the snapshot's last index and term
	term    uint64
	data    snapData
	entries []*pb.Entry // after the snapshot, consecutive
	segs    []segment
	repair  []node.DiskOp // ops that cut a damaged log back to its clean prefix
	// damaged is set when a record failed its checksum or the log did not
	// hold together: the server may have lost entries (or a vote) it had
	// acknowledged, so it must not vote or campaign until a leader has
	// brought its log past repairIndex, the last index it could have
	// acknowledged.
	damaged     bool
	repairIndex uint64
	reason      string
}

// recoverStorage reads the disk. A corrupt record is never used: the log is
// cut at the first bad record (the rest of that segment and every later one
// is dropped) and the server marks itself damaged, as the Zab engine does.
func recoverStorage(st node.Storage) recovered {
	r := recovered{index: bootstrapIndex, term: bootstrapTerm, data: snapData{termStart: bootstrapIndex}}
	if st == nil {
		return r
	}
	damage := func(why string) {
		if !r.damaged {
			r.damaged, r.reason = true, why
		}
	}
	if recs := st.Read(fileDamaged); recs != nil {
		damage("an earlier start found this disk damaged and no leader has repaired it since")
		if rec := recs[len(recs)-1]; !rec.Corrupt && len(rec.Data) >= 8 {
			r.repairIndex = binary.BigEndian.Uint64(rec.Data)
		}
	}
	for _, f := range hardStateFiles {
		recs := st.Read(f)
		if len(recs) == 0 {
			continue
		}
		rec := recs[len(recs)-1]
		hs, ok := decodeHardState(rec.Data)
		if rec.Corrupt || !ok {
			continue // the other copy decides; both bad is handled below
		}
		if r.hs == nil || newerHardState(hs, r.hs) {
			r.hs = hs
		}
	}
	if r.hs == nil && (st.Read(hardStateFiles[0]) != nil || st.Read(hardStateFiles[1]) != nil) {
		damage("both hardstate records are corrupt")
	}

	if recs := st.Read(fileSnapshot); len(recs) > 0 {
		rec := recs[len(recs)-1]
		index, term, d, ok := decodeSnapshot(rec.Data)
		if rec.Corrupt || !ok || index < bootstrapIndex {
			damage("snapshot is corrupt")
		} else {
			r.snap, r.index, r.term, r.data = true, index, term, d
		}
	}
	// Without a trustworthy snapshot the log cannot rebuild the state
	// (older segments were compacted away), so a damaged snapshot drops the
	// whole log: the leader will send this server a snapshot.
	dropAll := r.damaged && !r.snap && st.Read(fileSnapshot) != nil

	var logs []string
	for _, f := range st.Files() {
		if strings.HasPrefix(f, walPrefix) {
			logs = append(logs, f)
		}
	}
	next := r.index + 1 // the index the next kept entry must have
	lastTerm := r.term
	cut := false
	for li, f := range logs {
		first, err := strconv.ParseUint(strings.TrimPrefix(f, walPrefix), 16, 64)
		recs := st.Read(f)
		// Every record on disk may have been acknowledged: the repair point
		// covers them all, damaged or not.
		if err == nil && len(recs) > 0 {
			r.repairIndex = max(r.repairIndex, first+uint64(len(recs))-1)
		}
		if cut || dropAll || err != nil {
			if err != nil {
				damage(fmt.Sprintf("log segment %q has no index in its name", f))
			}
			cut = cut || err != nil
			r.repair = append(r.repair, node.DiskOp{Kind: node.Remove, File: f})
			continue
		}
		// A segment that ends at or before the snapshot holds only entries
		// the snapshot already has: damage in it loses nothing.
		if li+1 < len(logs) {
			if nf, err := strconv.ParseUint(strings.TrimPrefix(logs[li+1], walPrefix), 16, 64); err == nil && nf <= next {
				r.repair = append(r.repair, node.DiskOp{Kind: node.Remove, File: f})
				continue
			}
		}
		keep := len(recs) // records of this file that stay
		for i, rec := range recs {
			idx := first + uint64(i)
			if idx < next {
				continue // the snapshot has it: damage here loses nothing
			}
			e, ok := decodeEntry(rec.Data)
			switch {
			case rec.Corrupt || !ok || e.GetIndex() != idx:
				damage(fmt.Sprintf("record %d of %s is corrupt", i, f))
			case idx > next:
				damage(fmt.Sprintf("%s starts at %d, after a gap at %d", f, idx, next))
			case e.GetTerm() < lastTerm:
				damage(fmt.Sprintf("record %d of %s goes back to term %d after %d", i, f, e.GetTerm(), lastTerm))
			default:
				r.entries = append(r.entries, e)
				lastTerm = e.GetTerm()
				next++
				continue
			}
			cut, keep = true, i
			r.repair = append(r.repair, node.DiskOp{Kind: node.Truncate, File: f, N: i})
			break
		}
		if keep > 0 {
			r.segs = append(r.segs, segment{name: f, first: first, count: uint64(keep)})
		} else {
			r.repair = append(r.repair, node.DiskOp{Kind: node.Remove, File: f})
		}
	}
	// A term never trails the log, and the commit index can only point into
	// the log that survived (a cut log commits less; the leader tells the
	// rest again). Without a HardState on disk the node never voted: a vote
	// is answered only once it is durable. With both copies corrupt it may
	// have, and as a damaged node it votes for no one until repaired.
	last := r.index + uint64(len(r.entries))
	term, vote, commit := lastTerm, uint64(0), r.index
	if r.hs != nil {
		term, vote, commit = r.hs.GetTerm(), r.hs.GetVote(), min(max(r.hs.GetCommit(), r.index), last)
		if lastTerm > term {
			// Only a damaged HardState trails the log: it is written before
			// the entries of its Ready. Its vote was for an older term.
			term, vote = lastTerm, 0
		}
	}
	r.hs = &pb.HardState{Term: proto.Uint64(term), Vote: proto.Uint64(vote), Commit: proto.Uint64(commit)}
	if r.damaged {
		// Before any repair: the marker must be on disk whenever the cut is.
		r.repair = append([]node.DiskOp{{Kind: node.Replace, File: fileDamaged, Data: encodeDamaged(r.repairIndex, r.reason)}}, r.repair...)
	}
	return r
}
