// Package frame splits a byte stream into length-prefixed frames (a 4-byte
// big-endian length, then that many bytes) and builds such frames, without
// doing any I/O. Both of zoosim's byte protocols use it: ZooKeeper's client
// port (jute, where the limit is jute.maxbuffer) and the peer transport
// between servers.
//
// A frame longer than the limit is refused before a single byte of it is
// buffered, so a peer that announces a huge frame cannot make the reader
// allocate for it: the driver closes the connection instead.
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderLen is the size of the length prefix.
const HeaderLen = 4

// ErrTooLarge reports a frame whose announced length is over the limit (or
// negative when read as a signed int, as Java's readInt sees it).
var ErrTooLarge = errors.New("frame: length over the limit")

// Length decodes a frame's length from its 4-byte header and checks it
// against max (a frame of exactly max bytes is allowed).
func Length(header []byte, max int) (int, error) {
	if len(header) < HeaderLen {
		return 0, fmt.Errorf("frame: header of %d bytes", len(header))
	}
	n := int32(binary.BigEndian.Uint32(header))
	if n < 0 || int64(n) > int64(max) {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, max)
	}
	return int(n), nil
}

// Begin reserves room for a length prefix at the end of dst; write the body
// after it and call End with the returned offset.
func Begin(dst []byte) ([]byte, int) {
	return append(dst, 0, 0, 0, 0), len(dst)
}

// End fills in the length prefix that Begin reserved at start. A body over
// max is refused (dst is returned cut back to start, so the caller can go on
// using it).
func End(dst []byte, start, max int) ([]byte, error) {
	n := len(dst) - start - HeaderLen
	if n < 0 {
		panic("frame: End without Begin")
	}
	if n > max {
		return dst[:start], fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, max)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(n))
	return dst, nil
}

// Framer cuts a byte stream into frames. The driver hands it what it read
// (Write) and takes whole frames out (Next). It keeps at most the bytes of
// the frame being assembled plus what the last Write brought.
//
// The zero value is not usable; build one with New.
type Framer struct {
	max int
	buf []byte
	off int   // start of the unconsumed bytes in buf
	err error // sticky: a refused frame ends the stream
}

// New returns a Framer that refuses frames longer than max bytes.
func New(max int) *Framer {
	if max < 0 {
		panic("frame: negative limit")
	}
	return &Framer{max: max}
}

// Max is the largest frame the Framer accepts.
func (f *Framer) Max() int { return f.max }

// Write appends bytes read from the stream.
func (f *Framer) Write(p []byte) {
	if f.err != nil {
		return
	}
	if f.off > 0 && f.off == len(f.buf) {
		f.buf, f.off = f.buf[:0], 0
	} else if f.off > 0 && f.off >= cap(f.buf)/2 {
		// Move the unconsumed tail to the front rather than grow.
		n := copy(f.buf, f.buf[f.off:])
		f.buf, f.off = f.buf[:n], 0
	}
	f.buf = append(f.buf, p...)
}

// Next returns the next whole frame's body, or nil when more bytes are
// needed. The slice is valid until the next Write. After an error (a frame
// over the limit) the Framer refuses everything: close the connection.
func (f *Framer) Next() ([]byte, error) {
	if f.err != nil {
		return nil, f.err
	}
	rest := f.buf[f.off:]
	if len(rest) < HeaderLen {
		return nil, nil
	}
	n, err := Length(rest, f.max)
	if err != nil {
		f.err = err
		f.buf, f.off = nil, 0
		return nil, err
	}
	if len(rest) < HeaderLen+n {
		return nil, nil
	}
	f.off += HeaderLen + n
	return rest[HeaderLen : HeaderLen+n : HeaderLen+n], nil
}

// Buffered is the number of bytes received but not yet returned as frames.
func (f *Framer) Buffered() int { return len(f.buf) - f.off }
