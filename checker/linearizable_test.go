package checker

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"zoosim/model"
)

func TestLinearizable_SequentialHistoryPasses(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.write(1, 1, setData("/a", "y", 0), ms(3), ms(4))
	b.read(1, 1, linGetData("/a"), ms(5), ms(6), -1)
	b.write(1, 1, del("/a", 1), ms(7), ms(8))
	b.read(1, 1, Op{Kind: OpExists, Path: "/a", Linearizable: true}, ms(9), ms(10), -1)
	requireVerdict(t, VerdictOK, CheckLinearizable(b.h, Options{}))
}

func TestLinearizable_FailsWhenLinearizableReadIsStale(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	afterCreate := b.last()
	set := b.write(1, 1, setData("/a", "y", 0), ms(3), ms(4))
	read := b.read(2, 2, linGetData("/a"), ms(5), ms(6), afterCreate)
	vis := filepath.Join(t.TempDir(), "lin.html")

	res := CheckLinearizable(b.h, Options{VisualizePath: vis})

	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Ops, read)
	assert.Contains(t, res.Ops, set)
	assert.LessOrEqual(t, len(res.Ops), 4, "the witness should be small: %v", res.Ops)
	assert.Contains(t, res.Explanation, "op 2 (getData")
	html, err := os.ReadFile(vis)
	require.NoError(t, err)
	assert.Contains(t, string(html), "<html")
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
			requireVerdict(t, VerdictOK, CheckLinearizable(b.h, Options{}))
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
		requireVerdict(t, VerdictOK, CheckLinearizable(b.h, Options{}))
	}
}

func TestLinearizable_FailsWhenUnknownWriteTakesEffectBeforeItsCall(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.unknown(1, 1, setData("/a", "y", 0), ms(10), true)
	b.read(2, 2, linGetData("/a"), ms(3), ms(4), -1) // sees y before y was written
	requireVerdict(t, VerdictViolation, CheckLinearizable(b.h, Options{}))
}

func TestLinearizable_SequentialSuffixCountsEveryChildCreation(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/q", ""), ms(1), ms(2))
	b.write(1, 1, create("/q/x", ""), ms(3), ms(4))
	b.write(1, 1, del("/q/x", -1), ms(5), ms(6))
	seq := b.write(1, 1, createMode("/q/s-", model.ModePersistentSequential), ms(7), ms(8))
	require.Equal(t, "/q/s-0000000001", b.h.Ops[seq].CreatedPath, "model.Prepare: the plain child counted")
	requireVerdict(t, VerdictOK, CheckLinearizable(b.h, Options{}))

	b.h.Ops[seq].CreatedPath = "/q/s-0000000000"
	requireVerdict(t, VerdictViolation, CheckLinearizable(b.h, Options{}))
}

func TestLinearizable_UnknownSequentialCreateConsumesSuffixOnlyIfApplied(t *testing.T) {
	for _, applied := range []bool{true, false} {
		b := newBuilder(t, 1, 2)
		b.write(1, 1, create("/q", ""), ms(1), ms(2))
		b.unknown(1, 1, createMode("/q/s-", model.ModePersistentSequential), ms(3), applied)
		next := b.write(2, 2, createMode("/q/s-", model.ModePersistentSequential), ms(10), ms(11))
		requireVerdict(t, VerdictOK, CheckLinearizable(b.h, Options{}))

		b.h.Ops[next].CreatedPath = "/q/s-0000000002" // a suffix nobody could have used up
		requireVerdict(t, VerdictViolation, CheckLinearizable(b.h, Options{}))
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
			requireVerdict(t, VerdictOK, CheckLinearizable(b.h, Options{}))
			c.wrong(&b.h.Ops[id])
			requireVerdict(t, VerdictViolation, CheckLinearizable(b.h, Options{}))
		})
	}
}

func TestLinearizable_FailsWhenStatVersionIsWrong(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	set := b.write(1, 1, setData("/a", "y", -1), ms(3), ms(4))
	requireVerdict(t, VerdictOK, CheckLinearizable(b.h, Options{}))
	b.h.Ops[set].Stat.Version++
	requireVerdict(t, VerdictViolation, CheckLinearizable(b.h, Options{}))
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
	requireVerdict(t, VerdictOK, CheckLinearizable(b.h, Options{}))

	b.h.Ops[ex].Stat.Cversion = 2
	requireVerdict(t, VerdictViolation, CheckLinearizable(b.h, Options{}))
	b.h.Ops[ex].Stat.Cversion, b.h.Ops[ex].Stat.NumChildren = 3, 2
	requireVerdict(t, VerdictViolation, CheckLinearizable(b.h, Options{}))
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
	requireVerdict(t, VerdictOK, CheckLinearizable(b.h, Options{}))

	t.Run("a read sees part of the failed multi", func(t *testing.T) {
		op := &b.h.Ops[read]
		saved := *op
		defer func() { *op = saved }()
		op.ResultData, op.Stat.Version, op.Stat.DataLength = []byte("z"), 1, 1
		requireVerdict(t, VerdictViolation, CheckLinearizable(b.h, Options{}))
	})
	t.Run("the per-op errors are not ok, error, runtime inconsistency", func(t *testing.T) {
		sub := &b.h.Ops[multi].Multi[2]
		saved := sub.Err
		defer func() { sub.Err = saved }()
		sub.Err = model.ErrOK
		requireVerdict(t, VerdictViolation, CheckLinearizable(b.h, Options{}))
	})
	t.Run("a successful multi's created path is checked", func(t *testing.T) {
		b := newBuilder(t, 1)
		b.write(1, 1, create("/q", ""), ms(1), ms(2))
		m := b.write(1, 1, Op{Kind: OpMulti, Multi: []SubOp{
			{Kind: OpCreate, Path: "/q/s-", Mode: model.ModePersistentSequential},
			{Kind: OpCreate, Path: "/q/s-", Mode: model.ModePersistentSequential},
		}}, ms(3), ms(4))
		requireVerdict(t, VerdictOK, CheckLinearizable(b.h, Options{}))
		b.h.Ops[m].Multi[1].CreatedPath = "/q/s-0000000000"
		requireVerdict(t, VerdictViolation, CheckLinearizable(b.h, Options{}))
	})
}

func TestLinearizable_SkipsPartitionsWithEphemeralNodes(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, createMode("/e", model.ModeEphemeral), ms(1), ms(2))
	r := b.read(1, 1, linGetData("/e"), ms(3), ms(4), -1)
	// The node could have vanished with its session: the model leaves it to
	// the session checker, whatever the read says.
	b.h.Ops[r].Err, b.h.Ops[r].Stat = model.ErrNoNode, model.Stat{}
	res := CheckLinearizable(b.h, Options{})
	requireVerdict(t, VerdictOK, res)
	assert.Contains(t, res.Details, "ephemeral")
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
	requireVerdict(t, VerdictOK, CheckLinearizable(build(true), Options{}))
	requireVerdict(t, VerdictViolation, CheckLinearizable(build(false), Options{}))
}

func TestLinearizable_PlainReadsAreLeftToTheStaleReadChecker(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	old := b.last()
	b.write(1, 1, setData("/a", "y", -1), ms(3), ms(4))
	b.read(2, 2, getData("/a"), ms(5), ms(6), old)
	requireVerdict(t, VerdictOK, CheckLinearizable(b.h, Options{}))
}

func TestLinearizable_RefusedWritesTakeNoEffect(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.add(Op{Client: 2, Session: 2, Kind: OpSetData, Path: "/a", Data: []byte("y"), Version: -1,
		Call: ms(3), Return: ms(4), Err: model.ErrSessionMoved})
	b.read(1, 1, linGetData("/a"), ms(5), ms(6), -1)
	requireVerdict(t, VerdictOK, CheckLinearizable(b.h, Options{}))
}

func TestLinearizable_PartitionsFollowPathGroups(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/g1", ""), ms(1), ms(2))
	b.write(1, 1, create("/g2", ""), ms(1), ms(2))
	b.write(1, 1, create("/g1/a", ""), ms(3), ms(4))
	b.write(1, 1, create("/g1/b", ""), ms(3), ms(4))
	b.write(1, 1, setData("/g2", "v", -1), ms(3), ms(4))
	b.read(1, 1, linGetData("/g3"), ms(3), ms(4), -1)
	plan := planLinearizability(b.h, mergeCommitted(b.h))
	assert.Len(t, plan.parts, 3, "/g1 with its children, /g2, /g3")
	assert.False(t, plan.model.trackRoot)

	b.read(1, 1, Op{Kind: OpGetChildren, Path: "/", Linearizable: true}, ms(5), ms(6), -1)
	plan = planLinearizability(b.h, mergeCommitted(b.h))
	assert.True(t, plan.model.trackRoot)
	assert.Len(t, plan.parts, 2, "the root joins every top-level create; /g3 is only read")
	requireVerdict(t, VerdictOK, CheckLinearizable(b.h, Options{}))

	kids := b.h.Ops[len(b.h.Ops)-1].Children
	assert.Equal(t, []string{"g1", "g2", "zookeeper"}, kids)
	b.h.Ops[len(b.h.Ops)-1].Children = []string{"g1", "zookeeper"}
	requireVerdict(t, VerdictViolation, CheckLinearizable(b.h, Options{}))
}

func TestLinearizable_SequentialChildrenJoinTheirParentsPartition(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/q", ""), ms(1), ms(2))
	// The outcome is unknown, so only the parent's counter knows the name.
	b.unknown(1, 1, createMode("/q/s-", model.ModePersistentSequential), ms(3), true)
	b.read(2, 2, linGetData("/q/s-0000000000"), ms(10), ms(11), -1)
	plan := planLinearizability(b.h, mergeCommitted(b.h))
	assert.Len(t, plan.parts, 1)
	requireVerdict(t, VerdictOK, CheckLinearizable(b.h, Options{}))
}

func TestLinearizable_TimeoutIsInconclusive(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/a", ""), ms(1), ms(2))
	// Many concurrent blind writes and reads of one node: a search that
	// cannot finish in a nanosecond.
	for i := range 60 {
		b.write(1, 1, setData("/a", string(rune('a'+i%26)), -1), ms(3), ms(100))
		b.read(1, 1, linGetData("/a"), ms(3), ms(100), -1)
	}
	res := CheckLinearizable(b.h, Options{LinearizabilityTimeout: time.Nanosecond})
	requireVerdict(t, VerdictInconclusive, res)
	assert.Contains(t, res.Explanation, "ran out of time")
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

// The model must predict exactly what model.Prepare and Apply do, errors
// and their order included, for any sequence of ops run one at a time.
func TestLinModel_AgreesWithPrepareAndApply(t *testing.T) {
	// Weighted towards a small tree, so that ops collide.
	paths := []string{"/a", "/a", "/a", "/a/b", "/a/b", "/a/b/c", "/a/s-", "/a/s-", "/b",
		"/a/s-0000000000", "/a/s-0000000001", "/", "/a/", "bad"}
	modes := []model.CreateMode{model.ModePersistent, model.ModePersistentSequential, model.ModeEphemeral, 9}
	rapid.Check(t, func(rt *rapid.T) {
		b := newBuilder(t, 1)
		path := func() string { return rapid.SampledFrom(paths).Draw(rt, "path") }
		version := func() int32 { return rapid.SampledFrom([]int32{-1, 0, 1}).Draw(rt, "version") }
		n := rapid.IntRange(10, 80).Draw(rt, "ops")
		for i := range n {
			call, ret := ms(float64(2*i)), ms(float64(2*i+1))
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
				b.read(1, 1, Op{Kind: rd, Path: path(), Linearizable: true}, call, ret, -1)
				continue
			}
			b.write(1, 1, op, call, ret)
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
