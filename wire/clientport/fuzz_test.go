package clientport

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/internal/frame"
	"zoosim/internal/golden"
	"zoosim/wire"
	"zoosim/wire/jute"
)

// FuzzServerDecode feeds a byte stream from a "client" to the server side,
// as the real driver will: the jute framer cuts it (refusing frames over
// jute.maxbuffer), the first frame is the connect. Nothing may panic, and
// every request that decodes must encode again (from zoosim's client side)
// into a frame that decodes to the same request.
func FuzzServerDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte) {
		fr := jute.NewFramer()
		fr.Write(stream)
		sc := NewServerConn(1)
		for {
			body, err := fr.Next()
			if err != nil || body == nil {
				return
			}
			msg, err := sc.Decode(body)
			if err != nil {
				require.ErrorIs(t, err, ErrProtocol)
				return
			}
			checkRequestReencodes(t, msg)
		}
	})
}

func checkRequestReencodes(t *testing.T, msg any) {
	cc := NewClientConn(1)
	sc := NewServerConn(1)
	if _, ok := msg.(*wire.Connect); !ok {
		cc.connected, sc.connected = true, true
	}
	b, err := cc.Append(nil, msg)
	if err != nil {
		return // a request the client side cannot send (an unknown opcode)
	}
	again, err := sc.Decode(b[frame.HeaderLen:])
	require.NoError(t, err)
	setHeader(again, headerOf(msg))
	require.Equal(t, msg, again)
}

func headerOf(body any) wire.Header {
	switch m := body.(type) {
	case *wire.Connect:
		return m.Header
	case *wire.Request:
		return m.Header
	case *wire.Ping:
		return m.Header
	}
	return wire.Header{}
}

// FuzzClientDecode feeds one frame from a "server" to the client side, with
// a request of the opcode op outstanding under the frame's xid. Nothing may
// panic, and a reply that decodes must encode again (from the server side)
// and decode to the same reply.
func FuzzClientDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		if len(body) > jute.MaxBuffer {
			return
		}
		cc := NewClientConn(1)
		cc.connected = true
		code := requestOps[int(op)%len(requestOps)]
		if len(body) >= 4 {
			require.NoError(t, cc.pending.push(int32(binary.BigEndian.Uint32(body)), code))
		}
		msg, err := cc.Decode(body)
		if err != nil {
			require.ErrorIs(t, err, ErrProtocol)
			return
		}
		sc := NewServerConn(1)
		sc.connected = true
		if rp, ok := msg.(*wire.Reply); ok {
			require.NoError(t, sc.pending.push(rp.Xid, code))
		}
		b, err := sc.Append(nil, msg)
		require.NoError(t, err)
		cc2 := NewClientConn(1)
		cc2.connected = true
		if rp, ok := msg.(*wire.Reply); ok {
			require.NoError(t, cc2.pending.push(rp.Xid, code))
		}
		again, err := cc2.Decode(b[frame.HeaderLen:])
		require.NoError(t, err)
		require.Equal(t, msg, again)
	})
}

// The seed corpora under testdata/fuzz are the frames of the go-zk
// conversation and of the hand-built fixtures; -update rewrites them.
func TestClientPort_FuzzSeedCorporaAreCurrent(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "gozk.golden"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	var server, client []string
	var stream []byte
	for i := 0; i+1 < len(lines); i += 2 {
		b := mustHex(t, lines[i+1])
		framed, start := frame.Begin(nil)
		framed, err = frame.End(append(framed, b...), start, jute.MaxBuffer)
		require.NoError(t, err)
		switch {
		case lines[i] == "client *wire.Connect":
			if stream != nil {
				server = append(server, corpusEntry(stream))
			}
			stream = framed
		case strings.HasPrefix(lines[i], "client "):
			stream = append(stream, framed...)
			op := strings.Fields(lines[i])[5]
			client = append(client, fmt.Sprintf("uint8(%d)", opIndex(op)))
		default:
			if len(client) > 0 && !strings.Contains(client[len(client)-1], "\n") {
				client[len(client)-1] += "\n" + corpusEntry(b)
			}
		}
	}
	server = append(server, corpusEntry(stream))
	for _, fx := range fixtures {
		if fx.req != nil {
			if _, ok := fx.req.(*wire.Connect); !ok {
				connect := (&jute.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}).Append(nil)
				s := appendFramed(nil, connect)
				server = append(server, corpusEntry(appendFramed(s, fixtureBytes(t, fx.reqHex))))
			}
		}
	}
	var clientFiles []string
	for _, c := range client {
		if strings.Contains(c, "\n") {
			clientFiles = append(clientFiles, c)
		}
	}
	golden.CheckCorpus(t, "FuzzServerDecode", server)
	golden.CheckCorpus(t, "FuzzClientDecode", clientFiles)
}

func appendFramed(dst, body []byte) []byte {
	dst, start := frame.Begin(dst)
	dst, _ = frame.End(append(dst, body...), start, 1<<31-1)
	return dst
}

func opIndex(op string) int {
	for i, o := range requestOps {
		if fmt.Sprint(int32(o)) == op {
			return i
		}
	}
	return 0
}

func corpusEntry(b []byte) string { return golden.Bytes(b) }
