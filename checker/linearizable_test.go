package checker

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"zoosim/model"
)

// Every hand-made history here is checked twice where both checks can
// decide it: with its server records (the zxid order, order.go) and
// without them (the search, porcupine).

func TestLinearizable_SequentialHistoryPasses(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.write(1, 1, setData("/a", "y", 0), ms(3), ms(4))
	b.read(1, 1, linGetData("/a"), ms(5), ms(6), -1)
	b.write(1, 1, del("/a", 1), ms(7), ms(8))
	b.read(1, 1, Op{Kind: OpExists, Path: "/a", Linearizable: true}, ms(9), ms(10), -1)
	white, black := requireLinBothWays(t, VerdictOK, b.h)
	assert.Contains(t, white.Explanation, "3 writes and 2 linearizable reads follow the committed zxid order")
	assert.Contains(t, black.Explanation, "no server records")
	assert.Zero(t, white.Unchecked)
	assert.Zero(t, black.Unchecked)
}

func TestLinearizable_FailsWhenLinearizableReadIsStale(t *testing.T) {
	for _, records := range []bool{true, false} {
		b := newBuilder(t, 1, 2)
		b.write(1, 1, create("/a", "x"), ms(1), ms(2))
		afterCreate := b.last()
		set := b.write(1, 1, setData("/a", "y", 0), ms(3), ms(4))
		read := b.read(2, 2, linGetData("/a"), ms(5), ms(6), afterCreate)
		vis := filepath.Join(t.TempDir(), "lin.html")
		h := b.h
		if !records {
			h = blackBox(h)
		}

		res := CheckLinearizable(h, Options{VisualizePath: vis})

		requireVerdict(t, VerdictViolation, res)
		assert.Contains(t, res.Ops, read)
		assert.Contains(t, res.Ops, set)
		assert.LessOrEqual(t, len(res.Ops), 4, "the witness should be small: %v", res.Ops)
		if records {
			assert.Contains(t, res.Explanation, "linearizable read op 2 was called at 5.000ms, after write op 1 returned")
		} else {
			assert.Contains(t, res.Explanation, "op 2 (getData")
		}
		html, err := os.ReadFile(vis)
		require.NoError(t, err)
		assert.Contains(t, string(html), "<html")
	}
}

func TestLinearizable_ConcurrentWriteAndReadMayOrderEitherWay(t *testing.T) {
	for _, sees := range []string{"old", "new"} {
		t.Run(sees, func(t *testing.T) {
			b := newBuilder(t, 1, 2)
			b.write(1, 1, create("/a", "x"), ms(1), ms(2))
			old := b.last()
			b.write(1, 1, setData("/a", "y", -1), ms(3), ms(6))
			at := b.last()
			if sees == "old" {
				at = old
			}
			b.read(2, 2, linGetData("/a"), ms(4), ms(5), at)
			requireLinBothWays(t, VerdictOK, b.h)
		})
	}
}

func TestLinearizable_UnknownWriteMayOrMayNotTakeEffect(t *testing.T) {
	for _, applied := range []bool{true, false} {
		b := newBuilder(t, 1, 2)
		b.write(1, 1, create("/a", "x"), ms(1), ms(2))
		b.unknown(1, 1, setData("/a", "y", 0), ms(3), applied)
		b.read(2, 2, linGetData("/a"), ms(10), ms(11), -1)
		b.write(2, 2, setData("/a", "z", -1), ms(12), ms(13))
		white, _ := requireLinBothWays(t, VerdictOK, b.h)
		if applied {
			assert.Contains(t, white.Explanation, "1 took effect, 0 were committed as failures and 0 never were")
		} else {
			assert.Contains(t, white.Explanation, "0 took effect, 0 were committed as failures and 1 never were")
		}
	}
}

func TestLinearizable_FailsWhenUnknownWriteTakesEffectBeforeItsCall(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.unknown(1, 1, setData("/a", "y", 0), ms(10), true)
	b.read(2, 2, linGetData("/a"), ms(3), ms(4), -1) // sees y before y was written
	white, _ := requireLinBothWays(t, VerdictViolation, b.h)
	assert.Contains(t, white.Explanation, "outcome unknown to its client")
}

func TestLinearizable_SequentialSuffixCountsEveryChildCreation(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/q", ""), ms(1), ms(2))
	b.write(1, 1, create("/q/x", ""), ms(3), ms(4))
	b.write(1, 1, del("/q/x", -1), ms(5), ms(6))
	seq := b.write(1, 1, createMode("/q/s-", model.ModePersistentSequential), ms(7), ms(8))
	require.Equal(t, "/q/s-0000000001", b.h.Ops[seq].CreatedPath, "model.Prepare: the plain child counted")
	requireLinBothWays(t, VerdictOK, b.h)

	b.h.Ops[seq].CreatedPath = "/q/s-0000000000"
	requireLinBothWays(t, VerdictViolation, b.h)
}

func TestLinearizable_UnknownSequentialCreateConsumesSuffixOnlyIfApplied(t *testing.T) {
	for _, applied := range []bool{true, false} {
		b := newBuilder(t, 1, 2)
		b.write(1, 1, create("/q", ""), ms(1), ms(2))
		b.unknown(1, 1, createMode("/q/s-", model.ModePersistentSequential), ms(3), applied)
		next := b.write(2, 2, createMode("/q/s-", model.ModePersistentSequential), ms(10), ms(11))
		requireLinBothWays(t, VerdictOK, b.h)

		b.h.Ops[next].CreatedPath = "/q/s-0000000002" // a suffix nobody could have used up
		requireLinBothWays(t, VerdictViolation, b.h)
	}
}

func TestLinearizable_FailsWhenAnErrorIsNotWhatTheStatePredicts(t *testing.T) {
	cases := []struct {
		name  string
		op    Op
		wrong func(*Op)
	}{
		{"create of an existing node succeeds", create("/a", "x"), func(op *Op) { op.Err, op.CreatedPath = model.ErrOK, "/a" }},
		{"setData with a wrong version succeeds", setData("/a", "y", 7), func(op *Op) {
			op.Err, op.Stat = model.ErrOK, model.Stat{Version: 1, DataLength: 1}
		}},
		{"delete of a node with children succeeds", del("/a", -1), func(op *Op) { op.Err = model.ErrOK }},
		{"delete of a missing node says BadVersion", del("/missing", 3), func(op *Op) { op.Err = model.ErrBadVersion }},
		{"create under a missing parent says NodeExists", create("/no/child", ""), func(op *Op) { op.Err = model.ErrNodeExists }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBuilder(t, 1)
			b.write(1, 1, create("/a", "x"), ms(1), ms(2))
			b.write(1, 1, create("/a/kid", ""), ms(3), ms(4))
			id := b.write(1, 1, c.op, ms(5), ms(6))
			require.NotEqual(t, model.ErrOK, b.h.Ops[id].Err, "the op must fail for the test to mean anything")
			requireLinBothWays(t, VerdictOK, b.h)
			c.wrong(&b.h.Ops[id])
			requireLinBothWays(t, VerdictViolation, b.h)
		})
	}
}

// The servers' own decision is judged too, not only the reply: a leader
// that commits what the state forbids is caught even when the reply
// agrees with the txn.
func TestLinearizable_FailsWhenTheCommittedTxnIsNotWhatTheRequestGives(t *testing.T) {
	cases := []struct {
		name      string
		op        Op
		committed func(b *builder) model.Txn
		err       model.Err
		want      string
	}{
		{"setData succeeds twice on one version", setData("/a", "z", 0),
			func(*builder) model.Txn { return model.SetDataTxn{Path: "/a", Data: []byte("z"), Version: 1} }, model.ErrOK,
			"fails with BadVersion"},
		{"a wrong NodeExists", create("/b", "x"),
			func(*builder) model.Txn { return model.ErrorTxn{Err: model.ErrNodeExists} }, model.ErrNodeExists,
			"succeeds at that state"},
		{"a wrong BadVersion", setData("/a", "z", 1),
			func(*builder) model.Txn { return model.ErrorTxn{Err: model.ErrBadVersion} }, model.ErrBadVersion,
			"succeeds at that state"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBuilder(t, 1, 2)
			b.write(1, 1, create("/a", "x"), ms(1), ms(2))
			b.write(1, 1, setData("/a", "y", 0), ms(3), ms(4))
			z, res := b.commit(2, c.committed(b))
			op := c.op
			op.Client, op.Session, op.Call, op.Return, op.Zxid, op.Err = 2, 2, ms(5), ms(6), z, c.err
			op.Stat = res.Stat
			b.add(op)
			white := CheckLinearizable(b.h, Options{})
			requireVerdict(t, VerdictViolation, white)
			assert.Contains(t, white.Explanation, "which ZooKeeper would not commit there")
			assert.Contains(t, white.Explanation, c.want)
			requireVerdict(t, VerdictViolation, CheckLinearizable(blackBox(b.h), Options{}))
		})
	}
}

func TestLinearizable_FailsWhenStatVersionIsWrong(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	set := b.write(1, 1, setData("/a", "y", -1), ms(3), ms(4))
	requireLinBothWays(t, VerdictOK, b.h)
	b.h.Ops[set].Stat.Version++
	requireLinBothWays(t, VerdictViolation, b.h)
}

func TestLinearizable_ChecksCversionAndNumChildren(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/p", ""), ms(1), ms(2))
	b.write(1, 1, create("/p/c", ""), ms(3), ms(4))
	b.write(1, 1, create("/p/d", ""), ms(5), ms(6))
	b.write(1, 1, del("/p/c", -1), ms(7), ms(8))
	ex := b.read(1, 1, Op{Kind: OpExists, Path: "/p", Linearizable: true}, ms(9), ms(10), -1)
	require.Equal(t, int32(3), b.h.Ops[ex].Stat.Cversion, "2 creations + 1 deletion")
	require.Equal(t, int32(1), b.h.Ops[ex].Stat.NumChildren)
	requireLinBothWays(t, VerdictOK, b.h)

	b.h.Ops[ex].Stat.Cversion = 2
	requireLinBothWays(t, VerdictViolation, b.h)
	b.h.Ops[ex].Stat.Cversion, b.h.Ops[ex].Stat.NumChildren = 3, 2
	requireLinBothWays(t, VerdictViolation, b.h)
}

func TestLinearizable_MultiIsAllOrNothing(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	multi := b.write(1, 1, Op{Kind: OpMulti, Multi: []SubOp{
		{Kind: OpSetData, Path: "/a", Data: []byte("z"), Version: -1},
		{Kind: OpCreate, Path: "/a"}, // NodeExists
		{Kind: OpCheck, Path: "/a", Version: 0},
	}}, ms(3), ms(4))
	require.Equal(t, model.ErrNodeExists, b.h.Ops[multi].Err)
	read := b.read(1, 1, linGetData("/a"), ms(5), ms(6), -1)
	requireLinBothWays(t, VerdictOK, b.h)

	t.Run("a read sees part of the failed multi", func(t *testing.T) {
		op := &b.h.Ops[read]
		saved := *op
		defer func() { *op = saved }()
		op.ResultData, op.Stat.Version, op.Stat.DataLength = []byte("z"), 1, 1
		requireLinBothWays(t, VerdictViolation, b.h)
	})
	t.Run("the per-op errors are not ok, error, runtime inconsistency", func(t *testing.T) {
		sub := &b.h.Ops[multi].Multi[2]
		saved := sub.Err
		defer func() { sub.Err = saved }()
		sub.Err = model.ErrOK
		requireLinBothWays(t, VerdictViolation, b.h)
	})
	t.Run("a successful multi's created path is checked", func(t *testing.T) {
		b := newBuilder(t, 1)
		b.write(1, 1, create("/q", ""), ms(1), ms(2))
		m := b.write(1, 1, Op{Kind: OpMulti, Multi: []SubOp{
			{Kind: OpCreate, Path: "/q/s-", Mode: model.ModePersistentSequential},
			{Kind: OpCreate, Path: "/q/s-", Mode: model.ModePersistentSequential},
		}}, ms(3), ms(4))
		requireLinBothWays(t, VerdictOK, b.h)
		b.h.Ops[m].Multi[1].CreatedPath = "/q/s-0000000000"
		requireLinBothWays(t, VerdictViolation, b.h)
	})
}

// Ephemeral nodes and sessions are checked like everything else.

func TestLinearizable_EphemeralNodeLivesUntilItsSessionCloses(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, createMode("/e", model.ModeEphemeral), ms(1), ms(2))
	seen := b.read(2, 2, linGetData("/e"), ms(3), ms(4), -1)
	require.Equal(t, int64(1), b.h.Ops[seen].Stat.EphemeralOwner)
	b.closeSession(1)
	b.h.Sessions = append(b.h.Sessions, SessionEvent{Client: 1, Session: 1, State: SessionClosed, Time: ms(5)})
	gone := b.read(2, 2, linGetData("/e"), ms(6), ms(7), -1)
	require.Equal(t, model.ErrNoNode, b.h.Ops[gone].Err)
	white, black := requireLinBothWays(t, VerdictOK, b.h)
	assert.Zero(t, white.Unchecked)
	assert.Contains(t, black.Explanation, "1 closeSessions placed by the search")

	t.Run("the node is gone while its session lives", func(t *testing.T) {
		op := &b.h.Ops[seen]
		saved := *op
		defer func() { *op = saved }()
		op.Err, op.ResultData, op.Stat = model.ErrNoNode, nil, model.Stat{}
		requireVerdict(t, VerdictViolation, CheckLinearizable(b.h, Options{}))
		// Without the records the close may have come before the read...
		requireVerdict(t, VerdictOK, CheckLinearizable(blackBox(b.h), Options{}))
		// ...unless the session still wrote after it.
		later := *b
		later.h = blackBox(b.h)
		later.h.Ops = append([]Op(nil), b.h.Ops...)
		later.add(Op{Client: 1, Session: 1, Kind: OpCheck, Path: "/e", Version: 0, Call: ms(4.2), Return: ms(4.4),
			Zxid: b.h.Ops[seen].Zxid + 1})
		requireVerdict(t, VerdictViolation, CheckLinearizable(later.h, Options{}))
	})
	t.Run("the node outlives its closed session", func(t *testing.T) {
		op := &b.h.Ops[gone]
		saved := *op
		defer func() { *op = saved }()
		*op = b.h.Ops[seen]
		op.ID, op.Call, op.Return, op.Zxid = gone, ms(6), ms(7), saved.Zxid
		requireVerdict(t, VerdictViolation, CheckLinearizable(b.h, Options{}))
		// Without the records nothing says the close committed: a client
		// sees Closed even when it closed while cut off, and its session
		// expires on the servers later.
		requireVerdict(t, VerdictOK, CheckLinearizable(blackBox(b.h), Options{}))
	})
	t.Run("the wrong owner", func(t *testing.T) {
		op := &b.h.Ops[seen]
		saved := op.Stat
		defer func() { op.Stat = saved }()
		op.Stat.EphemeralOwner = 2
		requireLinBothWays(t, VerdictViolation, b.h)
	})
}

// A client that saw its session expire cannot say when the closeSession
// committed (the leader may tell it before): with the servers' records the
// close is where the sequence puts it; without them it may be anywhere
// after the session began, or nowhere.
func TestLinearizable_ExpiryIsWhereTheSequencePutsIt(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, createMode("/e", model.ModeEphemeral), ms(1), ms(2))
	b.closeSession(1)
	b.h.Sessions = append(b.h.Sessions, SessionEvent{Client: 1, Session: 1, State: SessionExpired, Time: ms(9)})
	gone := b.read(2, 2, Op{Kind: OpExists, Path: "/e", Linearizable: true}, ms(3), ms(4), -1)
	requireLinBothWays(t, VerdictOK, b.h)

	// The read says the node is still there after the close committed.
	b.h.Ops[gone].Err, b.h.Ops[gone].Stat = model.ErrOK, model.Stat{EphemeralOwner: 1, Czxid: b.h.Ops[0].Zxid,
		Mzxid: b.h.Ops[0].Zxid, Pzxid: b.h.Ops[0].Zxid, Ctime: b.h.Ops[0].Stat.Ctime, Mtime: b.h.Ops[0].Stat.Mtime}
	requireVerdict(t, VerdictViolation, CheckLinearizable(b.h, Options{}))
	requireVerdict(t, VerdictOK, CheckLinearizable(blackBox(b.h), Options{}))
}

func TestLinearizable_ChecksEphemeralParentsAndOwners(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, createMode("/e", model.ModeEphemeral), ms(1), ms(2))
	kid := b.write(2, 2, create("/e/kid", ""), ms(3), ms(4))
	require.Equal(t, model.ErrNoChildrenForEphemerals, b.h.Ops[kid].Err)
	again := b.write(2, 2, createMode("/e", model.ModeEphemeral), ms(5), ms(6))
	require.Equal(t, model.ErrNodeExists, b.h.Ops[again].Err)
	requireLinBothWays(t, VerdictOK, b.h)

	b.h.Ops[kid].Err, b.h.Ops[kid].CreatedPath = model.ErrOK, "/e/kid"
	requireLinBothWays(t, VerdictViolation, b.h)
}

func TestLinearizable_FailsWhenAClosedSessionsWriteIsDecided(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, createMode("/e", model.ModeEphemeral), ms(1), ms(2))
	b.closeSession(1)
	b.h.Sessions = append(b.h.Sessions, SessionEvent{Client: 1, Session: 1, State: SessionClosed, Time: ms(3)})
	// A stale leader commits the session's write after its close.
	z, _ := b.commit(1, model.SetDataTxn{Path: "/x", Version: 1})
	b.add(Op{Client: 1, Session: 1, Kind: OpCreate, Path: "/e", Mode: model.ModeEphemeral, Call: ms(4), Return: ms(5),
		Zxid: z, Err: model.ErrNodeExists})
	white := CheckLinearizable(b.h, Options{})
	requireVerdict(t, VerdictViolation, white)
	assert.Contains(t, white.Explanation, "fails with Session expired")
	// Without the records the close may come after the write (the
	// sessions checker holds the client's view: nothing succeeds after it
	// saw Closed).
	requireVerdict(t, VerdictOK, CheckLinearizable(blackBox(b.h), Options{}))
	requireVerdict(t, VerdictViolation, CheckSessions(blackBox(b.h), Options{}))
}

// Writes of unknown outcome are tied to their txn by the request's xid.
func TestLinearizable_UnknownWritesAreTiedToTheirTxnByXid(t *testing.T) {
	build := func() *builder {
		b := newBuilder(t, 1, 2)
		w := create("/a", "x")
		w.Xid = 1
		b.write(1, 1, w, ms(1), ms(2))
		return b
	}
	t.Run("applied, and what the state allowed", func(t *testing.T) {
		b := build()
		u := setData("/a", "y", 0)
		u.Xid = 2
		b.unknown(1, 1, u, ms(3), true)
		b.read(2, 2, linGetData("/a"), ms(10), ms(11), -1)
		white := CheckLinearizable(b.h, Options{})
		requireVerdict(t, VerdictOK, white)
		assert.Contains(t, white.Explanation, "1 took effect, 0 were committed as failures and 0 never were")
	})
	t.Run("committed as a failure, and the right one", func(t *testing.T) {
		b := build()
		u := setData("/a", "y", 3)
		u.Xid = 2
		b.unknown(1, 1, u, ms(3), true) // BadVersion
		white := CheckLinearizable(b.h, Options{})
		requireVerdict(t, VerdictOK, white)
		assert.Contains(t, white.Explanation, "0 took effect, 1 were committed as failures")
		b.h.Ops[1].Version = 0 // the request that would have succeeded
		requireVerdict(t, VerdictViolation, CheckLinearizable(b.h, Options{}))
	})
	t.Run("applied against a version the node did not have", func(t *testing.T) {
		b := build()
		b.commitRequest(1, 2, model.SetDataTxn{Path: "/a", Data: []byte("y"), Version: 1})
		b.add(Op{Client: 1, Session: 1, Xid: 2, Kind: OpSetData, Path: "/a", Data: []byte("y"), Version: 5,
			Call: ms(3), Return: Infinity, Unknown: true, Err: model.ErrConnectionLoss})
		white := CheckLinearizable(b.h, Options{})
		requireVerdict(t, VerdictViolation, white)
		assert.Contains(t, white.Explanation, "fails with BadVersion")
	})
	t.Run("applied twice", func(t *testing.T) {
		b := build()
		u := setData("/a", "y", -1)
		u.Xid = 2
		b.unknown(1, 1, u, ms(3), true)
		b.commitRequest(1, 2, model.SetDataTxn{Path: "/a", Data: []byte("y"), Version: 2})
		white := CheckLinearizable(b.h, Options{})
		requireVerdict(t, VerdictViolation, white)
		assert.Contains(t, white.Explanation, "took effect twice")
	})
	t.Run("an acknowledged write tied to another request", func(t *testing.T) {
		b := build()
		b.h.Ops[0].Xid = 7
		white := CheckLinearizable(b.h, Options{})
		requireVerdict(t, VerdictViolation, white)
		assert.Contains(t, white.Explanation, "the session's request 1")
	})
}

// Without xids, writes of unknown outcome that cannot be told apart are
// counted as unchecked, never silently passed.
func TestLinearizable_CountsUnknownWritesItCannotTie(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.unknown(1, 1, del("/a", -1), ms(3), true)
	b.add(Op{Client: 1, Session: 1, Kind: OpDelete, Path: "/a", Version: -1, Call: ms(4), Return: Infinity,
		Unknown: true, Err: model.ErrConnectionLoss})
	res := CheckLinearizable(b.h, Options{})
	requireVerdict(t, VerdictOK, res)
	assert.Equal(t, 2, res.Unchecked)
	require.Len(t, res.UncheckedWhy, 1)
	assert.Equal(t, whyAmbiguous, res.UncheckedWhy[0].Why)
	rep := Check(b.h, Options{Checks: []string{NameLinearizable}})
	assert.Contains(t, rep.String(), "2 op(s) not checked")
}

func TestLinearizable_SyncThenReadIsLinearizableFromTheSync(t *testing.T) {
	build := func(withSync bool) *History {
		b := newBuilder(t, 1, 2)
		b.write(1, 1, create("/a", "x"), ms(0.1), ms(0.2))
		old := b.last()
		if withSync {
			b.add(Op{Client: 2, Session: 2, Kind: OpSync, Path: "/", Call: ms(1), Return: ms(2), Zxid: old})
		} else {
			b.read(2, 2, getData("/b"), ms(1), ms(2), old) // a plain read instead
		}
		b.write(1, 1, setData("/a", "y", -1), ms(2.5), ms(3))
		b.read(2, 2, linGetData("/a"), ms(4), ms(5), old)
		return b.h
	}
	requireLinBothWays(t, VerdictOK, build(true))
	requireLinBothWays(t, VerdictViolation, build(false))
}

func TestLinearizable_PlainReadsAreLeftToTheStaleReadChecker(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	old := b.last()
	b.write(1, 1, setData("/a", "y", -1), ms(3), ms(4))
	b.read(2, 2, getData("/a"), ms(5), ms(6), old)
	requireLinBothWays(t, VerdictOK, b.h)
}

func TestLinearizable_RefusedWritesTakeNoEffect(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.add(Op{Client: 2, Session: 2, Kind: OpSetData, Path: "/a", Data: []byte("y"), Version: -1,
		Call: ms(3), Return: ms(4), Err: model.ErrSessionMoved})
	b.read(1, 1, linGetData("/a"), ms(5), ms(6), -1)
	requireLinBothWays(t, VerdictOK, b.h)
}

// Containers and TTL nodes are removed by the leader on its own: the search
// cannot place that, so it counts their partitions' ops as unchecked; the
// zxid order has the removal as a txn and checks them.
func TestLinearizable_ContainersAreCheckedByTheOrderAndCountedByTheSearch(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, createMode("/c", model.ModeContainer), ms(1), ms(2))
	b.write(1, 1, create("/c/x", ""), ms(3), ms(4))
	b.write(1, 1, del("/c/x", -1), ms(5), ms(6))
	b.commit(0, model.Prepare(b.tree, 0, model.DeleteContainer{Path: "/c"}, 0)) // the leader's sweep
	b.read(2, 2, Op{Kind: OpExists, Path: "/c", Linearizable: true}, ms(7), ms(8), -1)
	b.write(2, 2, create("/other", ""), ms(9), ms(10))
	white, black := requireLinBothWays(t, VerdictOK, b.h)
	assert.Zero(t, white.Unchecked)
	assert.Equal(t, 4, black.Unchecked)
	require.Len(t, black.UncheckedWhy, 1)
	assert.Equal(t, whyContainer, black.UncheckedWhy[0].Why)

	b.h.Ops[len(b.h.Ops)-2].Err = model.ErrOK // the container is still there
	requireVerdict(t, VerdictViolation, CheckLinearizable(b.h, Options{}))
}

func concurrentBlindWrites(t *testing.T, n int) *History {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/a", ""), ms(1), ms(2))
	// Many concurrent blind writes and reads of one node, none of them
	// with a zxid (as a client may record them): a large search.
	for i := range n {
		b.write(1, 1, setData("/a", string(rune('a'+i%26)), -1), ms(3), ms(100))
		b.read(1, 1, linGetData("/a"), ms(3), ms(100), -1)
	}
	h := blackBox(b.h)
	for i := range h.Ops {
		h.Ops[i].Zxid = 0
	}
	return h
}

// The search is bounded by steps, not time: the same history gets the same
// verdict whatever the machine, the cores or the runs beside it.
func TestLinearizable_SearchBudgetIsDeterministic(t *testing.T) {
	h := concurrentBlindWrites(t, 60)
	opt := Options{LinearizabilityBudget: 5000}
	first := CheckLinearizable(h, opt)
	requireVerdict(t, VerdictInconclusive, first)
	assert.Contains(t, first.Explanation, "ran past its budget (5000 steps")
	assert.Equal(t, 121, first.Unchecked)
	require.Len(t, first.UncheckedWhy, 1)
	assert.Equal(t, whyBudget, first.UncheckedWhy[0].Why)
	procs := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(procs)
	for _, p := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(p)
		again := CheckLinearizable(h, opt)
		first.Duration, again.Duration = 0, 0
		assert.Equal(t, first, again, "GOMAXPROCS=%d", p)
	}
}

func TestLinearizable_WallClockGuardSaysItWasHit(t *testing.T) {
	h := concurrentBlindWrites(t, 60)
	res := CheckLinearizable(h, Options{LinearizabilityBudget: -1, LinearizabilityTimeout: time.Nanosecond})
	requireVerdict(t, VerdictInconclusive, res)
	assert.Contains(t, res.Explanation, "guard hit")
	assert.Equal(t, whyGuard, res.UncheckedWhy[0].Why)
}

func TestLinearizable_PartitionsFollowPathGroups(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/g1", ""), ms(1), ms(2))
	b.write(1, 1, create("/g2", ""), ms(1), ms(2))
	b.write(1, 1, create("/g1/a", ""), ms(3), ms(4))
	b.write(1, 1, create("/g1/b", ""), ms(3), ms(4))
	b.write(1, 1, setData("/g2", "v", -1), ms(3), ms(4))
	b.read(1, 1, linGetData("/g3"), ms(3), ms(4), -1)
	plan := planLinearizability(b.h, nil)
	assert.Len(t, plan.parts, 3, "/g1 with its children, /g2, /g3")
	assert.False(t, plan.model.trackRoot)

	b.read(1, 1, Op{Kind: OpGetChildren, Path: "/", Linearizable: true}, ms(5), ms(6), -1)
	plan = planLinearizability(b.h, nil)
	assert.True(t, plan.model.trackRoot)
	assert.Len(t, plan.parts, 2, "the root joins every top-level create; /g3 is only read")
	requireLinBothWays(t, VerdictOK, b.h)

	kids := b.h.Ops[len(b.h.Ops)-1].Children
	assert.Equal(t, []string{"g1", "g2", "zookeeper"}, kids)
	b.h.Ops[len(b.h.Ops)-1].Children = []string{"g1", "zookeeper"}
	requireLinBothWays(t, VerdictViolation, b.h)
}

func TestLinearizable_SequentialChildrenJoinTheirParentsPartition(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/q", ""), ms(1), ms(2))
	// The outcome is unknown, so only the parent's counter knows the name.
	b.unknown(1, 1, createMode("/q/s-", model.ModePersistentSequential), ms(3), true)
	b.read(2, 2, linGetData("/q/s-0000000000"), ms(10), ms(11), -1)
	plan := planLinearizability(b.h, nil)
	assert.Len(t, plan.parts, 1)
	requireLinBothWays(t, VerdictOK, b.h)
}

func TestLinearizable_VisualizeLinearizableWritesHTML(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.read(1, 1, linGetData("/a"), ms(3), ms(4), -1)
	b.h.Faults = []Fault{{Start: ms(1), End: Infinity, Kind: "partition", Description: "{1} | {2,3}"}}
	var out bytes.Buffer
	require.NoError(t, VisualizeLinearizable(b.h, Options{}, &out))
	assert.Contains(t, out.String(), "partition")
}

// The porcupine model must predict exactly what model.Prepare and Apply do,
// errors and their order included, for any sequence of ops run one at a
// time.
func TestLinModel_AgreesWithPrepareAndApply(t *testing.T) {
	// Weighted towards a small tree, so that ops collide.
	paths := []string{"/a", "/a", "/a", "/a/b", "/a/b", "/a/b/c", "/a/s-", "/a/s-", "/b",
		"/a/s-0000000000", "/a/s-0000000001", "/", "/a/", "bad", "/zookeeper/x"}
	modes := []model.CreateMode{model.ModePersistent, model.ModePersistentSequential, model.ModeEphemeral,
		model.ModeEphemeralSequential, 9}
	rapid.Check(t, func(rt *rapid.T) {
		b := newBuilder(t, 1, 2)
		path := func() string { return rapid.SampledFrom(paths).Draw(rt, "path") }
		version := func() int32 { return rapid.SampledFrom([]int32{-1, 0, 1}).Draw(rt, "version") }
		n := rapid.IntRange(10, 80).Draw(rt, "ops")
		for i := range n {
			call, ret := ms(float64(2*i)), ms(float64(2*i+1))
			session := rapid.Int64Range(1, 2).Draw(rt, "session")
			var op Op
			switch rapid.IntRange(0, 5).Draw(rt, "kind") {
			case 0:
				op = createMode(path(), rapid.SampledFrom(modes).Draw(rt, "mode"))
				op.Data = []byte{byte(i)}
			case 1:
				op = del(path(), version())
			case 2:
				op = setData(path(), string(rune('a'+i%26)), version())
			case 3:
				op = Op{Kind: OpCheck, Path: path(), Version: version()}
			case 4:
				op = Op{Kind: OpMulti}
				for range rapid.IntRange(0, 3).Draw(rt, "subs") {
					k := rapid.SampledFrom([]OpKind{OpCreate, OpDelete, OpSetData, OpCheck}).Draw(rt, "subkind")
					op.Multi = append(op.Multi, SubOp{Kind: k, Path: path(), Version: version(),
						Mode: rapid.SampledFrom(modes).Draw(rt, "mode"), Data: []byte("m")})
				}
			default:
				rd := rapid.SampledFrom([]OpKind{OpGetData, OpExists, OpGetChildren}).Draw(rt, "read")
				b.read(1, session, Op{Kind: rd, Path: path(), Linearizable: true}, call, ret, -1)
				continue
			}
			b.write(1, session, op, call, ret)
		}
		m := &linModel{trackRoot: true}
		states := stateSet{m.initState()}
		for i := range b.h.Ops {
			op := &b.h.Ops[i]
			// Refused ops (BadArguments) too: the model must refuse them
			// the same way.
			ok, next := m.step(states, buildLinOp(op, false))
			if !ok {
				rt.Fatalf("the model rejects %s", describeOp(op))
			}
			states = next.(stateSet)
			require.Len(t, states, 1)
		}
	})
}

// An op placed in the zxid order takes effect after the calls of the ops
// before it and before the returns of the ops after it; an interval that
// would become empty is left for the search to reject.
func TestLinearizable_ZxidOrderNarrowsTheSearchIntervals(t *testing.T) {
	op := func(pos uint64, call, ret int64) porcupine.Operation {
		return porcupine.Operation{Input: &linOp{pos: pos}, Call: call, Return: ret}
	}
	part := []porcupine.Operation{op(2, 0, 10), op(4, 1, 5), op(5, 3, 4), op(6, 2, 20), op(0, 0, 100)}
	tightenByPosition(part)
	got := make([][2]int64, len(part))
	for i, o := range part {
		got[i] = [2]int64{o.Call, o.Return}
	}
	assert.Equal(t, [][2]int64{{0, 4}, {1, 4}, {3, 4}, {3, 20}, {0, 100}}, got)

	contradiction := []porcupine.Operation{op(2, 10, 12), op(4, 0, 5)}
	tightenByPosition(contradiction)
	assert.Equal(t, int64(10), contradiction[0].Call)
	assert.Equal(t, int64(12), contradiction[0].Return)
	assert.Equal(t, int64(0), contradiction[1].Call)
	assert.Equal(t, int64(5), contradiction[1].Return)
}
