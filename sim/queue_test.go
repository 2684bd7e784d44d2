package sim

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestQueue_PopsInTimeThenSequenceOrder(t *testing.T) {
	tests := []struct {
		name string
		at   []Time // pushed in this order; seq = position
		want []int  // positions in pop order
	}{
		{"empty", nil, nil},
		{"single", []Time{5}, []int{0}},
		{"ascending", []Time{1, 2, 3}, []int{0, 1, 2}},
		{"descending", []Time{3, 2, 1}, []int{2, 1, 0}},
		{"ties keep insertion order", []Time{7, 7, 7, 7}, []int{0, 1, 2, 3}},
		{"mixed ties", []Time{2, 1, 2, 1, 0, 2}, []int{4, 1, 3, 0, 2, 5}},
		{"zero and large", []Time{maxTime, 0, maxTime, 0}, []int{1, 3, 0, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q eventQueue
			for i, at := range tt.at {
				q.push(event{at: at, key: uint64(i+1)<<kindBits | uint64(evAction), ref: uint32(i)})
			}
			var got []int
			for q.len() > 0 {
				e := q.pop()
				require.Equal(t, evAction, e.kind())
				got = append(got, int(e.ref))
			}
			require.Equal(t, tt.want, got)
		})
	}
}

// TestQueue_MatchesStableSortReference interleaves pushes and pops and
// compares every pop with a sorted-slice reference.
func TestQueue_MatchesStableSortReference(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var q eventQueue
		var ref []event
		seq := uint64(0)
		ops := rapid.SliceOfN(rapid.IntRange(-1, 50), 1, 400).Draw(rt, "ops") // -1 pops, else push at that time
		for _, op := range ops {
			if op < 0 {
				if len(ref) == 0 {
					continue
				}
				got := q.pop()
				require.Equal(rt, ref[0], got)
				ref = ref[1:]
				continue
			}
			seq++
			e := event{at: Time(op), key: seq << kindBits, ref: uint32(seq)}
			q.push(e)
			i, _ := slices.BinarySearchFunc(ref, e, func(a, b event) int {
				if a.before(&b) {
					return -1
				}
				return 1
			})
			ref = slices.Insert(ref, i, e)
			require.Equal(rt, len(ref), q.len())
			require.Equal(rt, ref[0], *q.peek())
		}
		for len(ref) > 0 {
			require.Equal(rt, ref[0], q.pop())
			ref = ref[1:]
		}
	})
}

func TestQueue_BoundIsAnInvariant(t *testing.T) {
	cfg := DefaultConfig(1)
	cfg.MaxQueueLen = 3
	w := New(cfg)
	for range 3 {
		w.At(10, func() {})
	}
	require.PanicsWithValue(t,
		"sim: invariant violated: event queue length would exceed MaxQueueLen=3 at time 0",
		func() { w.At(10, func() {}) })
}

func TestQueue_PushPopDoesNotAllocate(t *testing.T) {
	var q eventQueue
	q.ev = make([]event, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		for i := range 64 {
			q.push(event{at: Time(i * 7919 % 64), key: uint64(i) << kindBits})
		}
		for q.len() > 0 {
			q.pop()
		}
	})
	require.Zero(t, allocs)
}

// BenchmarkQueuePopPush measures one pop and one push on a heap holding as
// many events as the five-node benchmark keeps queued.
func BenchmarkQueuePopPush(b *testing.B) {
	var q eventQueue
	seq := uint64(0)
	x := uint64(1)
	next := func() Time { x = splitmix64(x); return Time(x % 1000) }
	for range 74 {
		seq++
		q.push(event{at: next(), key: seq << kindBits})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := q.pop()
		seq++
		q.push(event{at: e.at + next(), key: seq << kindBits})
	}
}
