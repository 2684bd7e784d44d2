package real

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/node"
	"zoosim/server"
)

type peerRig struct {
	p      *Peers
	in     chan node.Message
	cancel context.CancelFunc
	done   chan struct{}
}

func startPeer(t *testing.T, self node.ID, addrs map[node.ID]string, queue int) *peerRig {
	t.Helper()
	reg, err := PeerRegistry()
	require.NoError(t, err)
	in := make(chan node.Message, 1024)
	logs := &logBuffer{}
	p, err := ListenPeers(PeerOptions{Self: self, Addrs: addrs, Registry: reg, Logger: logs.logger(), QueueLen: queue,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		Deliver: func(ctx context.Context, m node.Message) bool {
			select {
			case in <- m:
				return true
			case <-ctx.Done():
				return false
			}
		}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &peerRig{p: p, in: in, cancel: cancel, done: make(chan struct{})}
	go func() { p.Run(ctx); close(r.done) }()
	t.Cleanup(r.stop)
	return r
}

func (r *peerRig) stop() {
	r.cancel()
	<-r.done
}

func (r *peerRig) next(t *testing.T) node.Message {
	t.Helper()
	select {
	case m := <-r.in:
		return m
	case <-time.After(hangGuard):
		t.Fatal("no message arrived")
		return node.Message{}
	}
}

func twoAddrs(t *testing.T) map[node.ID]string {
	ports, err := freePorts(2)
	require.NoError(t, err)
	return map[node.ID]string{1: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		2: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))}
}

func TestPeers_MessagesArriveInOrderFromTheirServer(t *testing.T) {
	addrs := twoAddrs(t)
	a := startPeer(t, 1, addrs, 0)
	b := startPeer(t, 2, addrs, 0)
	for i := int64(0); i < 100; i++ {
		a.p.Send(node.Message{From: 1, To: 2, Body: &server.Touch{Sessions: []int64{i}}})
	}
	for i := int64(0); i < 100; i++ {
		m := b.next(t)
		assert.Equal(t, node.ID(1), m.From)
		assert.Equal(t, node.ID(2), m.To)
		assert.Equal(t, &server.Touch{Sessions: []int64{i}}, m.Body)
	}
	b.p.Send(node.Message{From: 2, To: 1, Body: &server.Touch{}})
	assert.Equal(t, node.ID(2), a.next(t).From)
}

func TestPeers_RedialsAPeerThatCameBack(t *testing.T) {
	addrs := twoAddrs(t)
	a := startPeer(t, 1, addrs, 0)
	b := startPeer(t, 2, addrs, 0)
	a.p.Send(node.Message{From: 1, To: 2, Body: &server.Touch{Sessions: []int64{1}}})
	b.next(t)
	b.stop()
	b2 := startPeer(t, 2, addrs, 0) // the same server, restarted
	eventually(t, hangGuard, "a message reaches the restarted peer", func() error {
		a.p.Send(node.Message{From: 1, To: 2, Body: &server.Touch{Sessions: []int64{2}}})
		select {
		case <-b2.in:
			return nil
		case <-time.After(20 * time.Millisecond):
			return io.ErrNoProgress
		}
	})
}

func TestPeers_AFullQueueDropsInsteadOfBlocking(t *testing.T) {
	addrs := twoAddrs(t)
	a := startPeer(t, 1, addrs, 4) // server 2 never starts
	for i := 0; i < 100; i++ {
		a.p.Send(node.Message{From: 1, To: 2, Body: &server.Touch{}})
	}
	assert.GreaterOrEqual(t, a.p.Dropped(), uint64(90))
	a.p.Send(node.Message{From: 1, To: 7, Body: &server.Touch{}}) // not a peer
}

func handshake(from, to node.ID) []byte {
	h := append([]byte(peerMagic), peerVersion)
	h = binary.BigEndian.AppendUint32(h, uint32(from))
	return binary.BigEndian.AppendUint32(h, uint32(to))
}

func TestPeers_TheHandshakeRefusesStrangersAndWrongPorts(t *testing.T) {
	addrs := twoAddrs(t)
	startPeer(t, 2, addrs, 0)
	cases := map[string][]byte{
		"a server not in the configuration": handshake(9, 2),
		"a handshake meant for another id":  handshake(1, 3),
		"not a zoosim peer":                 []byte("GET / HTTP/1.1\r\n"),
		"another version":                   append(append([]byte(peerMagic), 9), make([]byte, 8)...),
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, addrs[2])
			_, err := c.Write(h)
			require.NoError(t, err)
			c.SetReadDeadline(time.Now().Add(hangGuard))
			var b [1]byte
			_, err = c.Read(b[:])
			assert.Error(t, err, "refused: closed without the accept byte")
		})
	}
	c := dialRaw(t, addrs[2])
	_, err := c.Write(handshake(1, 2))
	require.NoError(t, err)
	var ok [1]byte
	c.SetReadDeadline(time.Now().Add(hangGuard))
	_, err = io.ReadFull(c, ok[:])
	require.NoError(t, err)
	assert.Equal(t, byte(1), ok[0])
	// A frame that does not decode closes the connection.
	_, err = c.Write([]byte{0, 0, 0, 3, 0xde, 0xad, 0x00})
	require.NoError(t, err)
	_, err = c.Read(ok[:])
	assert.Error(t, err)
}
