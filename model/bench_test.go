package model

import (
	"strconv"
	"testing"
)

// benchTree has 10 parents with 100 children each under /bench.
func benchTree(b *testing.B) (*Tree, []string, uint32) {
	b.Helper()
	t := NewTree()
	var counter uint32
	apply := func(session int64, txn Txn) {
		counter++
		if r := t.Apply(TxnHeader{Session: session, Zxid: MakeZxid(1, counter), TimeMs: int64(counter)}, txn); r.Err != ErrOK {
			b.Fatalf("setup: %v", r.Err)
		}
	}
	apply(1, CreateSessionTxn{TimeoutMs: 30000})
	apply(1, CreateTxn{Path: "/bench", ACL: OpenACLUnsafe, ParentCVersion: -1})
	var leaves []string
	for p := 0; p < 10; p++ {
		parent := "/bench/p" + strconv.Itoa(p)
		apply(1, CreateTxn{Path: parent, ACL: OpenACLUnsafe, ParentCVersion: -1})
		for c := 0; c < 100; c++ {
			leaf := parent + "/c" + strconv.Itoa(c)
			apply(1, CreateTxn{Path: leaf, Data: make([]byte, 64), ACL: OpenACLUnsafe, ParentCVersion: -1})
			leaves = append(leaves, leaf)
		}
	}
	return t, leaves, counter
}

func BenchmarkApplySetData(b *testing.B) {
	t, leaves, counter := benchTree(b)
	txns := make([]Txn, len(leaves))
	for i, p := range leaves {
		txns[i] = SetDataTxn{Path: p, Data: make([]byte, 128), Version: 1}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		counter++
		r := t.Apply(TxnHeader{Session: 1, Zxid: MakeZxid(1, counter), TimeMs: int64(i)}, txns[i%len(txns)])
		if r.Err != ErrOK {
			b.Fatal(r.Err)
		}
	}
}

// BenchmarkApplyCreate creates nodes the way big fan-outs grow in practice,
// with names in increasing order (sequential nodes), ten parents round-robin.
func BenchmarkApplyCreate(b *testing.B) {
	benchmarkApplyCreate(b, func(i int) string {
		return "/bench/p" + strconv.Itoa(i%10) + "/n" + formatSequence(int32(i))
	})
}

// BenchmarkApplyCreateScattered inserts names in scattered order into a
// thousand parents, so every insertion lands inside a sorted child list.
func BenchmarkApplyCreateScattered(b *testing.B) {
	benchmarkApplyCreate(b, func(i int) string {
		return "/bench/p" + strconv.Itoa(i%10) + "/c" + strconv.Itoa((i/10)%100) + "/n" + strconv.Itoa(int(uint32(i)*2654435761))
	})
}

func benchmarkApplyCreate(b *testing.B, name func(int) string) {
	t, _, counter := benchTree(b)
	txns := make([]Txn, b.N)
	for i := range txns {
		txns[i] = CreateTxn{Path: name(i), Data: make([]byte, 64), ACL: OpenACLUnsafe, ParentCVersion: -1}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		counter++
		r := t.Apply(TxnHeader{Session: 1, Zxid: MakeZxid(1, counter), TimeMs: int64(i)}, txns[i])
		if r.Err != ErrOK {
			b.Fatal(r.Err)
		}
	}
}

func BenchmarkPrepareSetData(b *testing.B) {
	t, leaves, _ := benchTree(b)
	data := make([]byte, 128)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if txn := Prepare(t, 1, SetData{Path: leaves[i%len(leaves)], Data: data, Version: -1}, 0); txn.Op() != OpSetData {
			b.Fatal(txn)
		}
	}
}

func BenchmarkPrepareApplySequentialCreateDelete(b *testing.B) {
	// A queue's life: create-sequential, then delete the node.
	t, _, counter := benchTree(b)
	next := func() TxnHeader {
		counter++
		return TxnHeader{Session: 1, Zxid: MakeZxid(1, counter)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := t.Apply(next(), Prepare(t, 1, Create{Path: "/bench/p0/q-", ACL: OpenACLUnsafe, Mode: ModeEphemeralSequential}, 0))
		if r.Err != ErrOK {
			b.Fatal(r.Err)
		}
		if r = t.Apply(next(), Prepare(t, 1, Delete{Path: r.Path, Version: -1}, 0)); r.Err != ErrOK {
			b.Fatal(r.Err)
		}
	}
}

func BenchmarkApplyMulti(b *testing.B) {
	t, leaves, counter := benchTree(b)
	txns := make([]Txn, len(leaves)/4)
	for i := range txns {
		sub := make([]Txn, 4)
		for j := range sub {
			sub[j] = SetDataTxn{Path: leaves[4*i+j], Data: []byte("x"), Version: 1}
		}
		txns[i] = MultiTxn{Txns: sub}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		counter++
		if r := t.Apply(TxnHeader{Session: 1, Zxid: MakeZxid(1, counter)}, txns[i%len(txns)]); r.Err != ErrOK {
			b.Fatal(r.Err)
		}
	}
}

func BenchmarkWatchTrigger(b *testing.B) {
	var wt WatchTable
	for w := WatcherID(0); w < 100; w++ {
		wt.Add("/bench/p"+strconv.Itoa(int(w%10)), WatchPersistent, w)
	}
	events := []WatchEvent{{EventNodeCreated, "/bench/p3/x"}, {EventNodeChildrenChanged, "/bench/p3"}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(wt.Trigger(events)) != 10 {
			b.Fatal("wrong deliveries")
		}
	}
}

func BenchmarkMarshalBinary(b *testing.B) {
	t, _, _ := benchTree(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := t.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClone(b *testing.B) {
	t, _, _ := benchTree(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t.Clone()
	}
}
