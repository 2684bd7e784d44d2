// Package codec is the byte encoding of the messages servers send each
// other (the peer transport of the real driver): a registry of codecs, one
// per message type, keyed by a type tag, with a version byte on every
// message and length framing. The simulator never encodes anything; the
// real driver calls Registry.AppendFrame to send a node.Message body and
// Registry.Decode on every frame it receives.
//
// A message is
//
//	tag u16 | version u8 | body
//
// big-endian, and a frame is a u32 length followed by one message. A body
// may hold other messages (a zab relay carries a server payload); they are
// nested as u32 length | message, at most MaxDepth deep.
//
// Decoding is total: any byte string gives a value or an error, never a
// panic. Every length and count is checked against the bytes that remain
// before anything is allocated, so decoding a frame never allocates more
// than a small multiple of the frame's size, and a frame is at most
// Registry.MaxFrame bytes.
//
// # Adding a codec
//
// A package that sends messages between servers registers one Codec per
// Go type it puts in node.Message.Body, from a RegisterCodecs(*Registry)
// function of its own (quorum/zab and server have one; the real driver
// calls them all). Take the next free tag in the package's block below, set
// Version to 1, and write Append and Decode with the Writer and Reader
// helpers; test the pair with a rapid round trip (see zab's codec_test.go).
// To change a message's layout later, bump Version and keep decoding the
// old versions for as long as a mixed-version ensemble may run.
//
// Tag blocks:
//
//	0x0100-0x01ff  quorum/zab
//	0x0200-0x02ff  server (payloads relayed on the engine's channel)
//	0x0300-0x03ff  quorum/raft
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"

	"zoosim/internal/frame"
)

// Tag names a message type on the wire.
type Tag uint16

// The first tag of each package's block.
const (
	ZabTags    Tag = 0x0100
	ServerTags Tag = 0x0200
	RaftTags   Tag = 0x0300
)

// MaxDepth bounds how deep messages nest in one another.
const MaxDepth = 4

// DefaultMaxFrame is the largest frame a Registry accepts unless told
// otherwise: 64 MiB, room for the snapshot a sync carries (zoosim sends a
// follower's snapshot in one message). Decoding allocates at most about 16
// bytes per frame byte (a frame of empty multi ops), so this also bounds
// what a bad frame can cost.
const DefaultMaxFrame = 64 << 20

// Errors that decoding reports (wrapped with detail).
var (
	// ErrMalformed: the bytes are not a message of a known type.
	ErrMalformed = errors.New("codec: malformed message")
	// ErrUnknown: no codec handles the tag, or the Go type (encoding).
	ErrUnknown = errors.New("codec: no codec for the message")
)

// Codec encodes one Go type.
type Codec struct {
	Tag  Tag
	Name string
	// Version is what Append writes; Decode gets the version the sender
	// wrote and refuses the ones it does not know.
	Version uint8
	// Type is the Go type of the bodies, e.g. reflect.TypeFor[*zab.Msg]().
	Type reflect.Type
	// Append writes body (of Type); errors go through w.Fail.
	Append func(w *Writer, body any)
	// Decode reads a body written by version; errors go through r.Fail
	// (the value is then ignored).
	Decode func(r *Reader, version uint8) any
}

// Registry holds the codecs of every message type. Register them all
// before use; a Registry is then safe for concurrent use (it is only read).
type Registry struct {
	byTag  map[Tag]*Codec
	byType map[reflect.Type]*Codec
	// MaxFrame is the largest frame AppendFrame writes and NewFramer
	// accepts.
	MaxFrame int
}

// NewRegistry returns an empty registry with DefaultMaxFrame.
func NewRegistry() *Registry {
	return &Registry{byTag: map[Tag]*Codec{}, byType: map[reflect.Type]*Codec{}, MaxFrame: DefaultMaxFrame}
}

// Register adds a codec; a tag or a type registered twice is an error.
func (g *Registry) Register(c Codec) error {
	switch {
	case c.Type == nil || c.Append == nil || c.Decode == nil || c.Version == 0:
		return fmt.Errorf("codec: %q needs a Type, Append, Decode and a version above 0", c.Name)
	case g.byTag[c.Tag] != nil:
		return fmt.Errorf("codec: tag %#04x of %q is %q's already", c.Tag, c.Name, g.byTag[c.Tag].Name)
	case g.byType[c.Type] != nil:
		return fmt.Errorf("codec: type %v of %q is %q's already", c.Type, c.Name, g.byType[c.Type].Name)
	}
	cc := c
	g.byTag[c.Tag], g.byType[c.Type] = &cc, &cc
	return nil
}

// Codecs lists the registered codecs by tag.
func (g *Registry) Codecs() []Codec {
	out := make([]Codec, 0, len(g.byTag))
	for _, c := range g.byTag {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Codec) int { return int(a.Tag) - int(b.Tag) })
	return out
}

// Append appends body's message (tag, version, body) to dst.
func (g *Registry) Append(dst []byte, body any) ([]byte, error) {
	w := Writer{reg: g, b: dst}
	w.Message(body)
	if w.err != nil {
		return dst, w.err
	}
	return w.b, nil
}

// AppendFrame appends body's frame (u32 length, message) to dst.
func (g *Registry) AppendFrame(dst []byte, body any) ([]byte, error) {
	out, start := frame.Begin(dst)
	out, err := g.Append(out, body)
	if err != nil {
		return dst, err
	}
	return frame.End(out, start, g.MaxFrame)
}

// NewFramer returns a frame splitter for a peer connection.
func (g *Registry) NewFramer() *frame.Framer { return frame.New(g.MaxFrame) }

// Decode reads one message (a frame's contents) and requires that nothing
// is left over.
func (g *Registry) Decode(b []byte) (any, error) {
	r := Reader{reg: g, b: b}
	v := r.message()
	if r.err == nil && r.Remaining() != 0 {
		r.Fail(fmt.Errorf("%d bytes after the message", r.Remaining()))
	}
	if r.err != nil {
		return nil, r.err
	}
	return v, nil
}

// Writer appends a message's fields.
type Writer struct {
	reg   *Registry
	b     []byte
	depth int
	err   error
}

// Fail records an encoding error (the first one wins).
func (w *Writer) Fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *Writer) U8(v uint8)   { w.b = append(w.b, v) }
func (w *Writer) U16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *Writer) U32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *Writer) U64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *Writer) I32(v int32)  { w.U32(uint32(v)) }
func (w *Writer) I64(v int64)  { w.U64(uint64(v)) }

func (w *Writer) Bool(v bool) {
	if v {
		w.U8(1)
	} else {
		w.U8(0)
	}
}

// nilLen is the length written for a nil slice.
const nilLen = math.MaxUint32

// Len writes a length or count; isNil writes the nil marker instead, so a
// nil slice and an empty one come back as they were.
func (w *Writer) Len(n int, isNil bool) {
	switch {
	case isNil:
		w.U32(nilLen)
	case n >= nilLen:
		w.Fail(fmt.Errorf("codec: a length of %d", n))
	default:
		w.U32(uint32(n))
	}
}

// Bytes writes a byte slice, keeping nil and empty apart.
func (w *Writer) Bytes(b []byte) {
	w.Len(len(b), b == nil)
	w.b = append(w.b, b...)
}

// String writes a string.
func (w *Writer) String(s string) {
	w.Len(len(s), false)
	w.b = append(w.b, s...)
}

// Message writes a nested message (u32 length, tag, version, body) at the
// top level it writes the message without a length.
func (w *Writer) Message(body any) {
	if w.err != nil {
		return
	}
	if w.depth >= MaxDepth {
		w.Fail(fmt.Errorf("codec: messages nested deeper than %d", MaxDepth))
		return
	}
	c := w.reg.byType[reflect.TypeOf(body)]
	if c == nil {
		w.Fail(fmt.Errorf("%w: %T", ErrUnknown, body))
		return
	}
	start := len(w.b)
	if w.depth > 0 {
		w.U32(0) // the length, filled in below
	}
	w.U16(uint16(c.Tag))
	w.U8(c.Version)
	w.depth++
	c.Append(w, body)
	w.depth--
	if w.depth > 0 {
		n := len(w.b) - start - 4
		if n >= nilLen {
			w.Fail(fmt.Errorf("codec: a nested message of %d bytes", n))
			return
		}
		binary.BigEndian.PutUint32(w.b[start:], uint32(n))
	}
}

// Reader reads a message's fields. Errors are sticky: after the first one
// every read returns a zero value.
type Reader struct {
	reg   *Registry
	b     []byte
	off   int
	depth int
	err   error
}

// Fail records a decoding error (the first one wins); every decoding
// error is an ErrMalformed (an unknown tag is an ErrUnknown as well).
func (r *Reader) Fail(err error) {
	if r.err == nil {
		if !errors.Is(err, ErrMalformed) {
			err = fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		r.err = err
	}
}

// Err is the first error.
func (r *Reader) Err() error { return r.err }

// Remaining is the number of bytes not read yet.
func (r *Reader) Remaining() int { return len(r.b) - r.off }

var errShort = errors.New("message cut short")

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.Remaining() {
		r.Fail(errShort)
		return nil
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v
}

func (r *Reader) U8() uint8 {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *Reader) U16() uint16 {
	if v := r.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *Reader) U32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *Reader) U64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *Reader) I32() int32 { return int32(r.U32()) }
func (r *Reader) I64() int64 { return int64(r.U64()) }

// Bool reads a boolean; only 0 and 1 are booleans.
func (r *Reader) Bool() bool {
	switch v := r.U8(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		r.Fail(fmt.Errorf("boolean byte %d", v))
		return false
	}
}

// Len reads a length or count written by Writer.Len and checks that that
// many elements of at least minSize bytes fit in what remains, so the
// caller may allocate them.
func (r *Reader) Len(minSize int) (n int, isNil bool) {
	v := r.U32()
	if r.err != nil {
		return 0, false
	}
	if v == nilLen {
		return 0, true
	}
	if minSize < 1 {
		minSize = 1
	}
	if uint64(v) > uint64(r.Remaining()/minSize) {
		r.Fail(fmt.Errorf("a length of %d with %d bytes left", v, r.Remaining()))
		return 0, false
	}
	return int(v), false
}

// Bytes reads a byte slice (copied: it never aliases the frame).
func (r *Reader) Bytes() []byte {
	n, isNil := r.Len(1)
	if isNil || r.err != nil {
		return nil
	}
	v := r.take(n)
	if v == nil {
		return nil
	}
	return append(make([]byte, 0, n), v...)
}

// String reads a string.
func (r *Reader) String() string {
	n, isNil := r.Len(1)
	if isNil {
		r.Fail(errors.New("a nil string"))
	}
	if r.err != nil {
		return ""
	}
	return string(r.take(n))
}

// Message reads a nested message.
func (r *Reader) Message() any {
	n, isNil := r.Len(1)
	if isNil {
		r.Fail(errors.New("a nil nested message"))
	}
	if r.err != nil {
		return nil
	}
	if r.depth >= MaxDepth {
		r.Fail(fmt.Errorf("messages nested deeper than %d", MaxDepth))
		return nil
	}
	inner := Reader{reg: r.reg, b: r.take(n), depth: r.depth + 1}
	v := inner.message()
	if inner.err == nil && inner.Remaining() != 0 {
		inner.Fail(fmt.Errorf("%d bytes after a nested message", inner.Remaining()))
	}
	if inner.err != nil {
		r.Fail(inner.err)
		return nil
	}
	return v
}

func (r *Reader) message() any {
	tag, version := Tag(r.U16()), r.U8()
	if r.err != nil {
		return nil
	}
	c := r.reg.byTag[tag]
	if c == nil {
		r.Fail(fmt.Errorf("%w: tag %#04x", ErrUnknown, tag))
		return nil
	}
	if version == 0 || version > c.Version {
		r.Fail(fmt.Errorf("%s: version %d (this build writes %d)", c.Name, version, c.Version))
		return nil
	}
	v := c.Decode(r, version)
	if r.err != nil {
		r.err = fmt.Errorf("%s v%d: %w", c.Name, version, r.err)
		return nil
	}
	return v
}
