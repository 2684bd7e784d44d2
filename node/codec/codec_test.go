package codec

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

type point struct {
	X, Y int64
	Tags []string
	Raw  []byte
	Next any
}

func pointCodec() Codec {
	return Codec{Tag: 0x7f01, Name: "test.point", Version: 2, Type: reflect.TypeFor[*point](),
		Append: func(w *Writer, b any) {
			p := b.(*point)
			w.I64(p.X)
			w.I64(p.Y)
			w.Len(len(p.Tags), p.Tags == nil)
			for _, s := range p.Tags {
				w.String(s)
			}
			w.Bytes(p.Raw)
			w.Bool(p.Next != nil)
			if p.Next != nil {
				w.Message(p.Next)
			}
		},
		Decode: func(r *Reader, version uint8) any {
			p := &point{X: r.I64()}
			if version >= 2 {
				p.Y = r.I64()
			}
			n, isNil := r.Len(4)
			if !isNil {
				p.Tags = make([]string, n)
			}
			for i := range p.Tags {
				p.Tags[i] = r.String()
			}
			p.Raw = r.Bytes()
			if r.Bool() {
				p.Next = r.Message()
			}
			return p
		}}
}

func TestRegistry_RefusesATagOrATypeTwice(t *testing.T) {
	r := NewRegistry()
	require.NoError(t, r.Register(pointCodec()))
	c := pointCodec()
	c.Type = reflect.TypeFor[*int]()
	require.ErrorContains(t, r.Register(c), "tag 0x7f01")
	c = pointCodec()
	c.Tag = 0x7f02
	require.ErrorContains(t, r.Register(c), "type *codec.point")
	require.Error(t, r.Register(Codec{Tag: 1, Name: "incomplete"}))
	assert.Len(t, r.Codecs(), 1)
}

func TestRegistry_OlderVersionsStillDecode(t *testing.T) {
	r := NewRegistry()
	require.NoError(t, r.Register(pointCodec()))
	// A version 1 point: the tag, version 1, x, no tags, nil raw, no next.
	v1 := []byte{0x7f, 0x01, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0}
	got, err := r.Decode(v1)
	require.NoError(t, err)
	assert.Equal(t, &point{X: 9}, got)
	v1[2] = 3
	_, err = r.Decode(v1)
	require.ErrorIs(t, err, ErrMalformed, "a version from the future")
}

func TestRegistry_RoundTripsAndRefusesEveryTruncation(t *testing.T) {
	r := NewRegistry()
	require.NoError(t, r.Register(pointCodec()))
	rapid.Check(t, func(t *rapid.T) {
		gen := rapid.Custom(func(t *rapid.T) *point {
			p := &point{X: rapid.Int64().Draw(t, "x"), Y: rapid.Int64().Draw(t, "y")}
			if rapid.Bool().Draw(t, "tags") {
				p.Tags = rapid.SliceOfN(rapid.String(), 0, 3).Draw(t, "tagList")
			}
			p.Raw = rapid.OneOf(rapid.Just([]byte(nil)), rapid.SliceOfN(rapid.Byte(), 0, 8)).Draw(t, "raw")
			return p
		})
		p := gen.Draw(t, "p")
		if rapid.Bool().Draw(t, "nested") {
			p.Next = gen.Draw(t, "next")
		}
		b, err := r.AppendFrame(nil, p)
		require.NoError(t, err)
		got, err := r.Decode(b[4:])
		require.NoError(t, err)
		require.Equal(t, p, got)
		for cut := range len(b) - 4 {
			_, err := r.Decode(b[4 : 4+cut])
			require.ErrorIs(t, err, ErrMalformed)
		}
	})
}

func TestRegistry_BoundsNestingAndFrames(t *testing.T) {
	r := NewRegistry()
	require.NoError(t, r.Register(pointCodec()))
	var p any = &point{}
	for range MaxDepth {
		p = &point{Next: p}
	}
	_, err := r.Append(nil, p)
	require.ErrorContains(t, err, "nested deeper")

	r.MaxFrame = 16
	_, err = r.AppendFrame(nil, &point{Raw: make([]byte, 16)})
	require.Error(t, err)
	f := r.NewFramer()
	f.Write([]byte{0, 0, 0, 17})
	_, err = f.Next()
	require.Error(t, err)

	_, err = r.Append(nil, 42)
	require.ErrorIs(t, err, ErrUnknown)
}

func TestReader_CountsPastTheEndAreRefusedBeforeAllocating(t *testing.T) {
	r := Reader{b: []byte{0x7f, 0xff, 0xff, 0xff, 0, 0}}
	n, isNil := r.Len(8)
	assert.Zero(t, n)
	assert.False(t, isNil)
	require.ErrorIs(t, r.Err(), ErrMalformed)
}
