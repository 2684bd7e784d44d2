package real

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"zoosim/model"
	"zoosim/wire"
	"zoosim/wire/clientport"
	"zoosim/wire/jute"

	"zoosim/internal/frame"
)

// rawClient speaks the client protocol byte by byte with wire/clientport's
// client side: for the operations go-zookeeper does not have (create2) and
// for frames no client library would send.
type rawClient struct {
	c         net.Conn
	codec     *clientport.ClientConn
	framer    *frame.Framer
	xid       int32
	buf       []byte
	connected *wire.Connected
}

func rawDial(t *testing.T, addr string) *rawClient {
	t.Helper()
	return &rawClient{c: dialRaw(t, addr), codec: clientport.NewClientConn(1), framer: jute.NewFramer(), buf: make([]byte, 64<<10)}
}

// rawConnect opens a session.
func rawConnect(t *testing.T, addr string) *rawClient {
	t.Helper()
	rc := rawDial(t, addr)
	rc.send(t, &wire.Connect{TimeoutMs: 4000, Passwd: make([]byte, 16)})
	m, ok := rc.recv(t).(*wire.Connected)
	require.True(t, ok, "the first answer is a ConnectResponse")
	require.False(t, m.Expired())
	rc.connected = m
	return rc
}

func (rc *rawClient) send(t *testing.T, body any) {
	t.Helper()
	out, err := rc.codec.Append(nil, body)
	require.NoError(t, err)
	rc.c.SetWriteDeadline(time.Now().Add(hangGuard))
	_, err = rc.c.Write(out)
	require.NoError(t, err)
}

// recv returns the next message the server sent (pings answered are
// skipped).
func (rc *rawClient) recv(t *testing.T) any {
	t.Helper()
	for {
		f, err := rc.framer.Next()
		require.NoError(t, err)
		if f != nil {
			body, err := rc.codec.Decode(f)
			require.NoError(t, err)
			if _, pong := body.(*wire.Pong); pong {
				continue
			}
			return body
		}
		rc.c.SetReadDeadline(time.Now().Add(hangGuard))
		n, err := rc.c.Read(rc.buf)
		require.NoError(t, err)
		rc.framer.Write(rc.buf[:n])
	}
}

// closed reports whether the server closed the connection (reading what
// it still sent first).
func (rc *rawClient) closed(t *testing.T) bool {
	t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(hangGuard))
	for {
		_, err := rc.c.Read(rc.buf)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return false
			}
			return true
		}
	}
}

func (rc *rawClient) request(t *testing.T, req *wire.Request) *wire.Reply {
	t.Helper()
	rc.xid++
	req.Xid = rc.xid
	rc.send(t, req)
	for {
		switch m := rc.recv(t).(type) {
		case *wire.Reply:
			require.Equal(t, req.Xid, m.Xid)
			return m
		case *wire.Event:
			continue
		default:
			t.Fatalf("unexpected %T", m)
		}
	}
}

func (rc *rawClient) create2(t *testing.T, path string, data []byte) *wire.Reply {
	t.Helper()
	return rc.request(t, &wire.Request{Op: model.OpCreate2, Path: path,
		Write: model.Create{Path: path, Data: data, ACL: model.OpenACLUnsafe, Mode: model.ModePersistent}})
}
