package checker

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"zoosim/model"
)

func TestGenerated_CorrectHistoryPassesEveryChecker(t *testing.T) {
	cfg := defaultGenConfig()
	cfg.ops = 3000
	h := generate(rand.New(rand.NewPCG(1, 2)), cfg)
	start := time.Now()
	rep := Check(h, Options{})
	t.Logf("%d ops, %d txns, %d notices, checked in %s\n%s", len(h.Ops), len(h.Applied[1]), len(h.Watches), time.Since(start), rep)
	require.Equal(t, VerdictOK, rep.Verdict, rep.String())
}

func drawGenConfig(t *rapid.T) genConfig {
	return genConfig{
		clients:         rapid.IntRange(1, 5).Draw(t, "clients"),
		groups:          rapid.IntRange(1, 4).Draw(t, "groups"),
		ops:             rapid.IntRange(5, 120).Draw(t, "ops"),
		servers:         rapid.IntRange(1, 3).Draw(t, "servers"),
		unknownPermille: rapid.SampledFrom([]int{0, 50, 200}).Draw(t, "unknownPermille"),
		ephemeralGroups: rapid.IntRange(0, 1).Draw(t, "ephemeralGroups"),
		seqGroups:       rapid.IntRange(0, 2).Draw(t, "seqGroups"),
		watchPct:        30,
		linReadPct:      40,
		closeAtEnd:      rapid.Bool().Draw(t, "closeAtEnd"),
	}
}

// A history made by a correct (sequential, one txn at a time) service, with
// random overlapping timings, stale followers and unknown outcomes, is
// judged ok by every checker.
func TestProperty_CorrectHistoriesPassEveryChecker(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		h := generate(rapidSource{rt}, drawGenConfig(rt))
		if rep := Check(h, Options{}); rep.Verdict != VerdictOK {
			rt.Fatalf("a correct history was judged %s:\n%s", rep.Verdict, rep)
		}
	})
}

// The same histories without their server records are linearizable by the
// search (or it says it ran out of budget, never a violation).
func TestProperty_CorrectHistoriesAreLinearizableWithoutServerRecords(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		h := generate(rapidSource{rt}, drawGenConfig(rt))
		if res := CheckLinearizable(blackBox(h), Options{}); res.Verdict == VerdictViolation {
			rt.Fatalf("a correct history without its server records was judged %s: %s\n%s", res.Verdict, res.Explanation, res.Details)
		}
	})
}

// Changing one acknowledged result of such a history is caught.
func TestProperty_OneMutatedResultIsCaught(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		h := generate(rapidSource{rt}, drawGenConfig(rt))
		kind := rapid.SampledFrom(mutations).Draw(rt, "mutation")
		if !mutate(h, kind, rapid.IntRange(0, 1<<20).Draw(rt, "pick")) {
			return // nothing of that kind in this history
		}
		if rep := Check(h, Options{}); rep.Verdict != VerdictViolation {
			rt.Fatalf("mutation %q was not caught:\n%s", kind, rep)
		}
	})
}

type mutation string

const (
	mutationWrongVersion    mutation = "wrong version in a setData reply"
	mutationLostWrite       mutation = "an acknowledged write missing from every server"
	mutationReorderedZxid   mutation = "two writes in real-time order swap zxids"
	mutationStaleRead       mutation = "a read older than its session's last zxid"
	mutationReadData        mutation = "a read returns other data"
	mutationDuplicateNotice mutation = "a watch fires twice"
	mutationLinReadOld      mutation = "a linearizable read misses a write that returned before it"
)

var mutations = []mutation{mutationWrongVersion, mutationLostWrite, mutationReorderedZxid, mutationStaleRead,
	mutationReadData, mutationDuplicateNotice, mutationLinReadOld}

// mutate breaks the pick-th (modulo) candidate of one kind; false if the
// history has none.
func mutate(h *History, kind mutation, pick int) bool {
	var cands []int
	for i := range h.Ops {
		op := &h.Ops[i]
		ok := false
		switch kind {
		case mutationWrongVersion:
			ok = op.Kind == OpSetData && acknowledgedWrite(op) && op.Err == model.ErrOK
		case mutationLostWrite, mutationReorderedZxid:
			ok = acknowledgedWrite(op) && op.Err == model.ErrOK
		case mutationStaleRead:
			ok = isRead(op.Kind) && classify(op) == outcomeDone && op.Zxid > model.MakeZxid(1, 1)
		case mutationReadData:
			ok = op.Kind == OpGetData && classify(op) == outcomeDone && op.Err == model.ErrOK
		case mutationLinReadOld:
			ok = linearizableRead(op)
		}
		if ok {
			cands = append(cands, i)
		}
	}
	if kind == mutationDuplicateNotice {
		for n, w := range h.Watches {
			if w.Registered >= 0 {
				cands = append(cands, n)
			}
		}
	}
	if len(cands) == 0 {
		return false
	}
	c := cands[pick%len(cands)]
	op := &h.Ops[min(c, len(h.Ops)-1)]
	switch kind {
	case mutationWrongVersion:
		op.Stat.Version++
	case mutationLostWrite:
		for s := range h.Applied {
			h.Applied[s] = slices.DeleteFunc(h.Applied[s], func(t Txn) bool { return t.Zxid == op.Zxid })
		}
	case mutationReorderedZxid:
		// The first acknowledged write called after this one returned.
		for j := range h.Ops {
			b := &h.Ops[j]
			if acknowledgedWrite(b) && b.Call > op.Return {
				op.Zxid, b.Zxid = b.Zxid, op.Zxid
				return true
			}
		}
		return false
	case mutationStaleRead:
		// The session had seen at least the read's own zxid (a session
		// that only read can have seen less).
		seen := model.Zxid(0)
		for j := range h.Ops {
			if o := &h.Ops[j]; o.Session == op.Session && answered(o) && o.Return < op.Return && o.Zxid > seen {
				seen = o.Zxid
			}
		}
		if seen < model.MakeZxid(1, 2) {
			return false
		}
		op.Zxid = seen - 1
	case mutationReadData:
		op.ResultData = append(slices.Clone(op.ResultData), '!')
	case mutationDuplicateNotice:
		dup := h.Watches[c]
		dup.Time++
		h.Watches = append(h.Watches, dup)
	case mutationLinReadOld:
		// Pretend the read came after the last write that precedes its
		// zxid had already returned... by moving its call past that
		// write's return and answering from just before it.
		var last *Op
		for j := range h.Ops {
			w := &h.Ops[j]
			if acknowledgedWrite(w) && w.Zxid <= op.Zxid && (last == nil || w.Zxid > last.Zxid) {
				last = w
			}
		}
		if last == nil || last.Zxid < model.MakeZxid(1, 2) || linearizableCalls(h)[c] != op.Call {
			return false // a read after a sync is linearizable from the sync's call
		}
		op.Call = max(op.Call, last.Return+1)
		op.Return = max(op.Return, op.Call)
		op.Zxid = last.Zxid - 1
	}
	return true
}
