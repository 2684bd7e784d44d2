// Package jute is ZooKeeper's client protocol as bytes: the jute primitives
// (big-endian int, long, boolean, buffer, ustring, vector, with -1 for
// null), the 4-byte length framing of the client port with ZooKeeper's
// jute.maxbuffer limit, and every record of zookeeper.jute (Apache
// ZooKeeper 3.8) that a client and a server exchange, plus the two records
// ZooKeeper writes by hand (MultiOperationRecord and MultiResponse).
//
// Field orders are zookeeper.jute's; the multi framing is
// MultiOperationRecord.java and MultiResponse.java; which response record
// follows which request is FinalRequestProcessor.java's. The package knows
// nothing of zoosim's Go values (wire/clientport maps between the two) and
// imports only the standard library and zoosim's I/O-free framer.
//
// Decoding is total: any byte string gives a record or an error, never a
// panic, and every length or count is checked against the bytes that
// remain before anything is allocated for it, so a record never costs more
// memory than a small multiple of its frame.
//
// Two normalizations, both invisible to ZooKeeper's clients and servers: a
// null ustring (-1) decodes as "" (Go strings have no null), and a vector is
// always written with its count (never -1) and decodes as nil when empty or
// null. Buffers keep nil (-1) and empty (0) apart, as ZooKeeper does.
package jute

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"zoosim/internal/frame"
)

// MaxBuffer is jute.maxbuffer's default, 0xfffff (1,048,575 bytes): the
// largest frame a ZooKeeper 3.8 server accepts from a client
// (BinaryInputArchive.maxBuffer; the server refuses a length over it with
// "Len error" and closes the connection).
const MaxBuffer = 0xfffff

// NewFramer returns a frame splitter for the client port: frames over
// MaxBuffer are refused.
func NewFramer() *frame.Framer { return frame.New(MaxBuffer) }

// Errors a Reader reports.
var (
	// ErrShort: the record runs past the end of its frame.
	ErrShort = errors.New("jute: record runs past the end of the frame")
	// ErrLength: a length or count below -1, or larger than what remains.
	ErrLength = errors.New("jute: bad length")
)

// Record is a jute record: its fields in order.
type Record interface {
	// Append appends the record's encoding to dst.
	Append(dst []byte) []byte
	// Decode reads the record; errors stay in the Reader.
	Decode(r *Reader)
}

// Reader reads jute primitives from one frame. Errors are sticky: after the
// first one every read returns a zero value, and Err reports it.
type Reader struct {
	b   []byte
	off int
	err error
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Reset makes the Reader read b from its start, with no error.
func (r *Reader) Reset(b []byte) { *r = Reader{b: b} }

// Err is the first error, if any.
func (r *Reader) Err() error { return r.err }

// Len is the number of bytes not read yet.
func (r *Reader) Len() int { return len(r.b) - r.off }

// Fail records err (the first error wins).
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = ErrShort
		return nil
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v
}

// Int reads a jute int (4 bytes).
func (r *Reader) Int() int32 {
	if v := r.take(4); v != nil {
		return int32(binary.BigEndian.Uint32(v))
	}
	return 0
}

// Long reads a jute long (8 bytes).
func (r *Reader) Long() int64 {
	if v := r.take(8); v != nil {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

// Bool reads a jute boolean: one byte, true only when it is 1
// (BinaryInputArchive.readBool).
func (r *Reader) Bool() bool {
	if v := r.take(1); v != nil {
		return v[0] == 1
	}
	return false
}

// length reads a length prefix: -1 (null) or 0..remaining.
func (r *Reader) length() int {
	n := r.Int()
	if r.err != nil {
		return 0
	}
	if n < -1 || int64(n) > int64(r.Len()) {
		r.err = fmt.Errorf("%w: %d with %d bytes left", ErrLength, n, r.Len())
		return 0
	}
	return int(n)
}

// Buffer reads a jute buffer; -1 gives nil, 0 an empty slice. The bytes
// are copied: the result never aliases the frame.
func (r *Reader) Buffer() []byte {
	n := r.length()
	if r.err != nil || n < 0 {
		return nil
	}
	v := r.take(n)
	if v == nil {
		return nil
	}
	out := make([]byte, n)
	copy(out, v)
	return out
}

// UString reads a jute ustring; null (-1) reads as "".
func (r *Reader) UString() string {
	n := r.length()
	if r.err != nil || n <= 0 {
		return ""
	}
	return string(r.take(n))
}

// VectorLen reads a vector's count and checks that that many elements of
// at least minSize bytes each fit in what remains, so the caller may
// allocate count elements. Null (-1) and empty both give 0.
func (r *Reader) VectorLen(minSize int) int {
	n := r.Int()
	if r.err != nil || n == -1 || n == 0 {
		return 0
	}
	if n < 0 || minSize > 0 && int64(n) > int64(r.Len()/minSize) {
		r.err = fmt.Errorf("%w: vector of %d with %d bytes left", ErrLength, n, r.Len())
		return 0
	}
	return int(n)
}

// Strings reads a vector<ustring>.
func (r *Reader) Strings() []string {
	n := r.VectorLen(4)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.UString()
	}
	if r.err != nil {
		return nil
	}
	return out
}

// The append functions write jute primitives.

// AppendInt appends a jute int.
func AppendInt(dst []byte, v int32) []byte { return binary.BigEndian.AppendUint32(dst, uint32(v)) }

// AppendLong appends a jute long.
func AppendLong(dst []byte, v int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) }

// AppendBool appends a jute boolean (1 or 0).
func AppendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// AppendBuffer appends a jute buffer; nil is written as -1 (null).
func AppendBuffer(dst, b []byte) []byte {
	if b == nil {
		return AppendInt(dst, -1)
	}
	dst = AppendInt(dst, checkedLen(len(b)))
	return append(dst, b...)
}

// AppendUString appends a jute ustring.
func AppendUString(dst []byte, s string) []byte {
	dst = AppendInt(dst, checkedLen(len(s)))
	return append(dst, s...)
}

// AppendStrings appends a vector<ustring>.
func AppendStrings(dst []byte, ss []string) []byte {
	dst = AppendInt(dst, checkedLen(len(ss)))
	for _, s := range ss {
		dst = AppendUString(dst, s)
	}
	return dst
}

// checkedLen guards the one thing an encoder cannot express: a length over
// 2^31-1. Nothing that fits in a frame comes near it.
func checkedLen(n int) int32 {
	if n > math.MaxInt32 {
		panic(fmt.Sprintf("jute: length %d does not fit a jute int", n))
	}
	return int32(n)
}

// Decode reads rec from b and requires that nothing is left over.
func Decode(b []byte, rec Record) error {
	r := Reader{b: b}
	rec.Decode(&r)
	if r.err == nil && r.Len() != 0 {
		return fmt.Errorf("jute: %d bytes after the record", r.Len())
	}
	return r.err
}
