package frame

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestFrame_LengthAllowsExactlyTheLimit(t *testing.T) {
	n, err := Length([]byte{0, 0, 0, 10}, 10)
	require.NoError(t, err)
	assert.Equal(t, 10, n)
	_, err = Length([]byte{0, 0, 0, 11}, 10)
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = Length([]byte{0x80, 0, 0, 0}, 10)
	require.ErrorIs(t, err, ErrTooLarge, "a negative length is refused")
	_, err = Length([]byte{0, 0}, 10)
	require.Error(t, err)
}

func TestFrame_EndRefusesABodyOverTheLimit(t *testing.T) {
	b, start := Begin([]byte("x"))
	b = append(b, "hello"...)
	b, err := End(b, start, 5)
	require.NoError(t, err)
	assert.Equal(t, []byte("x\x00\x00\x00\x05hello"), b)

	b, start = Begin(b)
	b = append(b, "toolong"...)
	b, err = End(b, start, 5)
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Equal(t, []byte("x\x00\x00\x00\x05hello"), b, "a refused frame is cut off")
}

func TestFramer_RefusesAnOversizedFrameBeforeBufferingIt(t *testing.T) {
	f := New(16)
	f.Write([]byte{0x7f, 0xff, 0xff, 0xff})
	frame, err := f.Next()
	assert.Nil(t, frame)
	require.ErrorIs(t, err, ErrTooLarge)
	f.Write(make([]byte, 100))
	_, err = f.Next()
	require.ErrorIs(t, err, ErrTooLarge, "the error is sticky")
	assert.Zero(t, f.Buffered(), "nothing is kept after a refused frame")
}

// Any way of cutting a stream of frames into reads gives the same frames.
func TestFramer_SplitsAStreamHoweverItArrives(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		bodies := rapid.SliceOfN(rapid.SliceOfN(rapid.Byte(), 0, 40), 0, 10).Draw(t, "bodies")
		var stream []byte
		for _, b := range bodies {
			var start int
			stream, start = Begin(stream)
			stream = append(stream, b...)
			var err error
			stream, err = End(stream, start, 40)
			require.NoError(t, err)
		}
		f := New(40)
		var got [][]byte
		for len(stream) > 0 {
			n := rapid.IntRange(1, len(stream)).Draw(t, "read")
			f.Write(stream[:n])
			stream = stream[n:]
			for {
				fr, err := f.Next()
				require.NoError(t, err)
				if fr == nil {
					break
				}
				got = append(got, append([]byte{}, fr...))
			}
		}
		require.Len(t, got, len(bodies))
		for i := range bodies {
			assert.Equal(t, len(bodies[i]), len(got[i]))
			if len(bodies[i]) > 0 {
				assert.Equal(t, bodies[i], got[i])
			}
		}
		assert.Zero(t, f.Buffered())
	})
}
