package checker

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/model"
	"zoosim/node"
)

// builder makes hand-written histories that a correct service could have
// produced: writes go through model.Prepare and are committed at the next
// zxid on every server; reads are answered from the state at a chosen zxid.
// Tests then break one thing.
type builder struct {
	tb      testing.TB
	h       *History
	tree    *model.Tree
	states  map[model.Zxid]*model.Tree // the state after each zxid
	counter uint32
}

const servers = 3

func newBuilder(tb testing.TB, sessions ...int64) *builder {
	b := &builder{tb: tb, h: &History{Servers: servers, QuorumSafe: true}, tree: model.NewTree(),
		states: map[model.Zxid]*model.Tree{}}
	b.h.Applied = make([][]Txn, servers+1)
	b.states[0] = b.tree.Clone()
	for _, s := range sessions {
		b.commit(s, model.CreateSessionTxn{TimeoutMs: 10_000})
	}
	return b
}

func ms(n float64) node.Time { return node.Time(n * float64(node.Millisecond)) }

// commit applies a txn at the next zxid on every server.
func (b *builder) commit(session int64, txn model.Txn) (model.Zxid, model.Result) {
	return b.commitRequest(session, 0, txn)
}

// commitRequest commits the txn of a session's request with that xid.
func (b *builder) commitRequest(session int64, xid int32, txn model.Txn) (model.Zxid, model.Result) {
	b.counter++
	z := model.MakeZxid(1, b.counter)
	t := Txn{Zxid: z, Session: session, Cxid: xid, TimeMs: int64(b.counter), Txn: txn}
	res := b.tree.Apply(model.TxnHeader{Session: session, Zxid: z, TimeMs: t.TimeMs}, txn)
	t.Digest = b.tree.Digest()
	for s := 1; s <= servers; s++ {
		b.h.Applied[s] = append(b.h.Applied[s], t)
	}
	b.states[z] = b.tree.Clone()
	return z, res
}

func (b *builder) add(op Op) int {
	op.ID = len(b.h.Ops)
	if op.Server == 0 {
		op.Server = 1
	}
	b.h.Ops = append(b.h.Ops, op)
	return op.ID
}

// write runs a write through Prepare and commit and records its reply
// (with op.Xid as the txn's cxid).
func (b *builder) write(client node.ID, session int64, op Op, call, ret node.Time) int {
	txn := model.Prepare(b.tree, session, request(&op), 0)
	z, res := b.commitRequest(session, op.Xid, txn)
	op.Client, op.Session, op.Call, op.Return = client, session, call, ret
	op.Zxid, op.Err = z, res.Err
	switch op.Kind {
	case OpCreate:
		op.CreatedPath, op.Stat = res.Path, res.Stat
	case OpSetData:
		op.Stat = res.Stat
	case OpMulti:
		op.Multi = slices.Clone(op.Multi)
		for i := range op.Multi {
			op.Multi[i].Err, op.Multi[i].Stat = res.Multi[i].Err, res.Multi[i].Stat
			if op.Multi[i].Kind == OpCreate {
				op.Multi[i].CreatedPath = res.Multi[i].Path
			}
		}
	}
	return b.add(op)
}

// unknown records a write whose client never learned the outcome; applied
// says whether the service committed it (at the time of the call).
func (b *builder) unknown(client node.ID, session int64, op Op, call node.Time, applied bool) int {
	if applied {
		b.commitRequest(session, op.Xid, model.Prepare(b.tree, session, request(&op), 0))
	}
	op.Client, op.Session, op.Call, op.Return = client, session, call, Infinity
	op.Unknown, op.Err = true, model.ErrConnectionLoss
	return b.add(op)
}

// read answers a read from the state after zxid at (the latest if at < 0).
func (b *builder) read(client node.ID, session int64, op Op, call, ret node.Time, at model.Zxid) int {
	if at < 0 {
		at = b.tree.LastZxid()
	}
	t := b.states[at]
	require.NotNil(b.tb, t, "no state at zxid %s", at)
	op.Client, op.Session, op.Call, op.Return, op.Zxid = client, session, call, ret, at
	switch op.Kind {
	case OpGetData:
		data, st, err := t.GetData(op.Path)
		if err != nil {
			op.Err = model.ErrNoNode
		} else {
			op.ResultData, op.Stat = slices.Clone(data), st
		}
	case OpExists:
		st, ok := t.Exists(op.Path)
		if strings.IndexByte(op.Path, 0) >= 0 {
			op.Err = model.ErrBadArguments // as the server answers (ZooKeeper checks only for NUL)
		} else if ok {
			op.Stat = st
		} else {
			op.Err = model.ErrNoNode
		}
	case OpGetChildren:
		kids, _, err := t.Children(op.Path)
		if err != nil {
			op.Err = model.ErrNoNode
		} else {
			op.Children = kids
		}
	}
	return b.add(op)
}

func (b *builder) last() model.Zxid { return b.tree.LastZxid() }

// Shorthands for ops.
func create(path string, data string) Op {
	return Op{Kind: OpCreate, Path: path, Data: []byte(data)}
}

func createMode(path string, mode model.CreateMode) Op {
	return Op{Kind: OpCreate, Path: path, Mode: mode}
}

func setData(path, data string, version int32) Op {
	return Op{Kind: OpSetData, Path: path, Data: []byte(data), Version: version}
}

func del(path string, version int32) Op { return Op{Kind: OpDelete, Path: path, Version: version} }

func getData(path string) Op { return Op{Kind: OpGetData, Path: path} }

func linGetData(path string) Op { return Op{Kind: OpGetData, Path: path, Linearizable: true} }

// blackBox is the history without its server records, as real processes
// would give it.
func blackBox(h *History) *History {
	c := *h
	c.Applied = nil
	return &c
}

// requireLinBothWays checks linearizability with the server records (by
// the zxid order) and without them (by the search); both must say want.
func requireLinBothWays(t *testing.T, want Verdict, h *History) (white, black Result) {
	t.Helper()
	white = CheckLinearizable(h, Options{})
	require.Equal(t, want, white.Verdict, "with server records: %s\n%s", white.Explanation, white.Details)
	black = CheckLinearizable(blackBox(h), Options{})
	require.Equal(t, want, black.Verdict, "without server records: %s\n%s", black.Explanation, black.Details)
	return white, black
}

func requireVerdict(t *testing.T, want Verdict, res Result) {
	t.Helper()
	require.Equal(t, want, res.Verdict, "%s: %s\n%s", res.Checker, res.Explanation, res.Details)
}
