package checker

import (
	"bytes"
	"fmt"
	"slices"

	"zoosim/model"
)

// committedSeq is the one sequence of committed txns, merged from what every
// server applied (History.Applied), with the disagreements found on the way.
//
// The longest server sequence is taken first, so that its txns win where
// servers disagree; every other server's txns are merged in by zxid. A
// server's sequence may have gaps (it restored a snapshot) and may go back
// (a restart replayed its log): it is treated as a set of (zxid, txn,
// digest) records, each of which must agree with every other server's
// record at that zxid. That a server's state after a gap is right is checked
// by the digests (agreement checker), including the digest a server
// recorded where it restored a snapshot (a record with a nil Txn).
type committedSeq struct {
	txns []Txn // zxid order, one per zxid
	// digestServer[i] is the server whose digest txns[i].Digest is (-1 if
	// no server recorded one).
	digestServer []int
	// restores are the snapshot restores servers recorded (records with a
	// nil Txn), by zxid: the state they landed in must be the state of the
	// sequence at that zxid.
	restores  map[model.Zxid][]restore
	conflicts []violation
}

type restore struct {
	server int
	digest uint64
}

func mergeCommitted(h *History) *committedSeq {
	c := &committedSeq{}
	if len(h.Applied) == 0 {
		return c
	}
	ref := 0
	for s := range h.Applied {
		if len(h.Applied[s]) > len(h.Applied[ref]) {
			ref = s
		}
	}
	order := []int{ref}
	for s := range h.Applied {
		if s != ref {
			order = append(order, s)
		}
	}
	type rec struct {
		txn          Txn
		server       int
		digestServer int
	}
	byZxid := make(map[model.Zxid]*rec, len(h.Applied[ref]))
	var zxids []model.Zxid
	conflictAt := map[model.Zxid]bool{}
	c.restores = map[model.Zxid][]restore{}
	for _, s := range order {
		for i := range h.Applied[s] {
			t := &h.Applied[s][i]
			if t.Txn == nil {
				if t.Digest != 0 {
					c.restores[t.Zxid] = append(c.restores[t.Zxid], restore{server: s, digest: t.Digest})
				}
				continue
			}
			r := byZxid[t.Zxid]
			if r == nil {
				r = &rec{txn: *t, server: s, digestServer: -1}
				if t.Digest != 0 {
					r.digestServer = s
				}
				byZxid[t.Zxid] = r
				zxids = append(zxids, t.Zxid)
				continue
			}
			if conflictAt[t.Zxid] {
				continue
			}
			if !sameTxn(&r.txn, t) {
				conflictAt[t.Zxid] = true
				c.conflicts = append(c.conflicts, violation{
					key: [2]int64{int64(t.Zxid), 0},
					explanation: fmt.Sprintf("servers %d and %d applied different txns at zxid %s: the replicas do not share one sequence",
						r.server, s, t.Zxid),
					txns:    []model.Zxid{t.Zxid},
					details: fmt.Sprintf("server %d: %s\nserver %d: %s\n", r.server, describeTxn(&r.txn), s, describeTxn(t)),
				})
				continue
			}
			if t.Digest == 0 {
				continue
			}
			if r.txn.Digest == 0 {
				r.txn.Digest, r.digestServer = t.Digest, s
				continue
			}
			if r.txn.Digest != t.Digest {
				conflictAt[t.Zxid] = true
				c.conflicts = append(c.conflicts, violation{
					key: [2]int64{int64(t.Zxid), 1},
					explanation: fmt.Sprintf("servers %d and %d applied the same txn at zxid %s but their states differ after it (digest %#x vs %#x)",
						r.digestServer, s, t.Zxid, r.txn.Digest, t.Digest),
					txns:    []model.Zxid{t.Zxid},
					details: describeTxn(t) + "\n",
				})
			}
		}
	}
	slices.Sort(zxids)
	c.txns = make([]Txn, len(zxids))
	c.digestServer = make([]int, len(zxids))
	for i, z := range zxids {
		c.txns[i] = byZxid[z].txn
		c.digestServer[i] = byZxid[z].digestServer
	}
	return c
}

// find returns the index of the txn with zxid z.
func (c *committedSeq) find(z model.Zxid) (int, bool) {
	return slices.BinarySearchFunc(c.txns, z, func(t Txn, z model.Zxid) int { return cmpInt64(int64(t.Zxid), int64(z)) })
}

func (c *committedSeq) last() model.Zxid {
	if len(c.txns) == 0 {
		return 0
	}
	return c.txns[len(c.txns)-1].Zxid
}

// sameTxn compares two records of a txn, treating nil and empty byte slices
// alike (a codec may decode one as the other).
func sameTxn(a, b *Txn) bool {
	return a.Zxid == b.Zxid && a.Session == b.Session && a.Cxid == b.Cxid && a.TimeMs == b.TimeMs &&
		txnEqual(a.Txn, b.Txn)
}

func txnEqual(a, b model.Txn) bool {
	switch x := a.(type) {
	case model.CreateTxn:
		y, ok := b.(model.CreateTxn)
		return ok && x.Path == y.Path && bytes.Equal(x.Data, y.Data) && slices.Equal(x.ACL, y.ACL) &&
			x.Mode == y.Mode && x.TTL == y.TTL && x.ParentCVersion == y.ParentCVersion
	case model.DeleteTxn:
		y, ok := b.(model.DeleteTxn)
		return ok && x == y
	case model.SetDataTxn:
		y, ok := b.(model.SetDataTxn)
		return ok && x.Path == y.Path && bytes.Equal(x.Data, y.Data) && x.Version == y.Version
	case model.CheckVersionTxn:
		y, ok := b.(model.CheckVersionTxn)
		return ok && x == y
	case model.SetACLTxn:
		y, ok := b.(model.SetACLTxn)
		return ok && x.Path == y.Path && slices.Equal(x.ACL, y.ACL) && x.Version == y.Version
	case model.CreateSessionTxn:
		y, ok := b.(model.CreateSessionTxn)
		return ok && x == y
	case model.CloseSessionTxn:
		y, ok := b.(model.CloseSessionTxn)
		return ok && slices.Equal(x.Paths, y.Paths)
	case model.ErrorTxn:
		y, ok := b.(model.ErrorTxn)
		return ok && x == y
	case model.MultiTxn:
		y, ok := b.(model.MultiTxn)
		return ok && slices.EqualFunc(x.Txns, y.Txns, txnEqual)
	case nil:
		return b == nil
	}
	return false
}

// replay applies the committed sequence to the checker's reference tree,
// one txn at a time, in zxid order. It runs once per check (replayAll),
// answering on the way every question the checkers ask of a state.
type replay struct {
	tree *refTree
	seq  []Txn
	next int // index of the next txn to apply
}

func newReplay(seq []Txn) *replay { return &replay{tree: newRefTree(), seq: seq} }

func (r *replay) done() bool { return r.next >= len(r.seq) }

// step applies the next txn and returns it with what applying it did, and
// why it did not fit the state ("" when it did).
func (r *replay) step() (*Txn, refResult, string) {
	t := &r.seq[r.next]
	r.next++
	res, problem := r.tree.apply(model.TxnHeader{Session: t.Session, Zxid: t.Zxid, TimeMs: t.TimeMs}, t.Txn)
	return t, res, problem
}

// replayed is the committed sequence replayed once by the reference, with
// what every checker asks of it gathered on the way, so that no checker
// replays it again.
type replayed struct {
	results  []refResult // per committed txn, what applying it did
	problems []string    // per committed txn, why it does not fit the state before it ("" fits)
	// digests[i] is the reference's digest after txn i; digest0 before
	// the first.
	digests []uint64
	digest0 uint64
	// liveAfter[i]: txn i's session is live after it applied.
	liveAfter []bool
	// decisions[i], for a txn tied to an op, says how the op's request
	// decided against the state before it differs from the txn ("" alike).
	decisions []string
	// reads holds, for every answered read whose zxid is in the sequence's
	// range, how it differs from the state at its zxid ("" equal).
	reads map[int]string
	// final is the state after the last txn.
	final *refTree
}

func (r *run) replayed() *replayed {
	if r.rep == nil {
		r.rep = replayAll(r.h, r.committed(), r.attributed())
	}
	return r.rep
}

// answeredRead reports a read whose answer the state decided (the data or
// NoNode).
func answeredRead(op *Op) bool {
	return isRead(op.Kind) && classify(op) == outcomeDone && (op.Err == model.ErrOK || op.Err == model.ErrNoNode)
}

func replayAll(h *History, seq *committedSeq, att *attribution) *replayed {
	n := len(seq.txns)
	out := &replayed{results: make([]refResult, n), problems: make([]string, n), digests: make([]uint64, n),
		liveAfter: make([]bool, n), decisions: make([]string, n), reads: map[int]string{}}
	var reads []int
	last := seq.last()
	for i := range h.Ops {
		if op := &h.Ops[i]; answeredRead(op) && op.Zxid <= last {
			reads = append(reads, i)
		}
	}
	slices.SortStableFunc(reads, func(a, b int) int { return cmpInt64(int64(h.Ops[a].Zxid), int64(h.Ops[b].Zxid)) })
	rp := newReplay(seq.txns)
	out.digest0 = rp.tree.digest
	next := 0
	answer := func(below model.Zxid) {
		for ; next < len(reads) && h.Ops[reads[next]].Zxid < below; next++ {
			out.reads[reads[next]] = readMismatch(rp.tree, &h.Ops[reads[next]])
		}
	}
	for !rp.done() {
		j := rp.next
		t := &seq.txns[j]
		answer(t.Zxid)
		if i := att.opOf[j]; i >= 0 {
			op := &h.Ops[i]
			out.decisions[j] = sameDecision(rp.tree.decide(op.Session, requestOf(op)), t.Txn)
		}
		_, out.results[j], out.problems[j] = rp.step()
		out.digests[j] = rp.tree.digest
		out.liveAfter[j] = rp.tree.live(t.Session)
	}
	answer(last + 1)
	out.final = rp.tree
	return out
}
