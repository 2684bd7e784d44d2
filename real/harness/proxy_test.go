package harness

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"zoosim/nemesis"
	"zoosim/node"
)

// The proxies against plain TCP servers in this process: no server
// processes, so these run with -short too.

// upstream is a TCP server that echoes (echo) or only collects what it
// receives.
type upstream struct {
	ln       net.Listener
	echo     bool
	mu       sync.Mutex
	got      bytes.Buffer
	accepted int
	wg       sync.WaitGroup
}

func newUpstream(t *testing.T, echo bool) *upstream {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	u := &upstream{ln: ln, echo: echo}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.mu.Lock()
			u.accepted++
			u.mu.Unlock()
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						u.mu.Lock()
						u.got.Write(buf[:n])
						u.mu.Unlock()
						if u.echo {
							c.Write(buf[:n])
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); u.wg.Wait() })
	return u
}

func (u *upstream) connections() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.accepted
}

func (u *upstream) received() []byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	return bytes.Clone(u.got.Bytes())
}

// testProxy is the proxy of link 1 -> 2 in front of u.
func testProxy(t *testing.T, u *upstream) (*proxy, *network) {
	return testProxyHello(t, u, nil)
}

func testProxyHello(t *testing.T, u *upstream, hello func(io.Reader) ([]byte, error)) (*proxy, *network) {
	nw := newNetwork(1)
	nw.rto = time.Millisecond
	var wg sync.WaitGroup
	p, err := listenProxy(1, 2, nw, &wg, t.Logf)
	require.NoError(t, err)
	p.hello = hello
	p.setUpstream(u.ln.Addr().String())
	p.serve()
	t.Cleanup(func() { p.close(); wg.Wait() })
	return p, nw
}

func dial(t *testing.T, p *proxy) net.Conn {
	c, err := net.DialTimeout("tcp", p.addr(), time.Second)
	require.NoError(t, err)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

func block(nw *network, from, to node.ID, on bool) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if on {
		nw.blocked[link{from, to}] = true
	} else {
		delete(nw.blocked, link{from, to})
	}
}

func TestProxy_CarriesBothDirectionsInOrderThroughLatencyAndReordering(t *testing.T) {
	u := newUpstream(t, true)
	p, nw := testProxy(t, u)
	nw.quality[link{1, 2}] = nemesis.LinkQuality{ReorderProb: 1, ExtraLatency: node.Time(time.Millisecond)}
	nw.quality[link{2, 1}] = nemesis.LinkQuality{ReorderProb: 0.5, LossProb: 0.2}
	c := dial(t, p)
	var want []byte
	for i := range 200 {
		msg := []byte{byte(i), byte(i >> 8), 'x'}
		want = append(want, msg...)
		_, err := c.Write(msg)
		require.NoError(t, err)
	}
	got := make([]byte, len(want))
	_, err := io.ReadFull(c, got)
	require.NoError(t, err)
	require.Equal(t, want, got, "TCP's order survives the reordering: it becomes stalls")
}

// tainted reports whether p holds a connection a block left with a gap.
func tainted(p *proxy) bool { return taintedCount(p) > 0 }

func taintedCount(p *proxy) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.conns {
		if c.tainted.Load() {
			n++
		}
	}
	return n
}

func TestProxy_ABlockedLinkDropsSilentlyAndItsConnectionsResetWhenItHeals(t *testing.T) {
	u := newUpstream(t, false)
	p, nw := testProxy(t, u)
	c := dial(t, p)
	_, err := c.Write([]byte("before"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return string(u.received()) == "before" }, 5*time.Second, 10*time.Millisecond)
	block(nw, 1, 2, true)
	_, err = c.Write([]byte("during"))
	require.NoError(t, err, "a partition gives the sender no signal")
	require.Eventually(t, func() bool { return tainted(p) }, 5*time.Second, time.Millisecond, "the bytes were dropped")
	c2 := dial(t, p) // across the block: held, never reaching the server
	_, err = c2.Write([]byte("lost"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return taintedCount(p) == 2 }, 5*time.Second, time.Millisecond, "the proxy holds it")
	require.Equal(t, 1, u.connections(), "a connection opened across the block never reaches the server")

	block(nw, 1, 2, false)
	p.resetTainted()
	_, err = c.Read(make([]byte, 1))
	requireBroken(t, err, "the connection with a gap is reset when the link heals")
	_, err = c2.Read(make([]byte, 1))
	requireBroken(t, err, "so is the held one")
	require.Equal(t, "before", string(u.received()), "nothing written during the block ever arrives")

	c3 := dial(t, p)
	_, err = c3.Write([]byte("after"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return string(u.received()) == "beforeafter" }, 5*time.Second, 10*time.Millisecond)
}

func TestProxy_AOneWayBlockKeepsTheOtherDirectionOfAnOpenConnection(t *testing.T) {
	u := newUpstream(t, true)
	p, nw := testProxy(t, u)
	c := dial(t, p)
	_, err := c.Write([]byte("a"))
	require.NoError(t, err)
	_, err = io.ReadFull(c, make([]byte, 1))
	require.NoError(t, err)
	block(nw, 2, 1, true) // the reverse direction: the echo cannot come back
	_, err = c.Write([]byte("b"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return string(u.received()) == "ab" }, 5*time.Second, 10*time.Millisecond,
		"1 -> 2 still carries bytes")
	require.Eventually(t, func() bool { return tainted(p) }, 5*time.Second, time.Millisecond, "the echo 2 -> 1 was dropped")
	p.resetTainted()
	require.True(t, tainted(p), "no reset while a link of the connection is still blocked")
	block(nw, 2, 1, false)
	p.resetTainted()
	_, err = c.Read(make([]byte, 1))
	requireBroken(t, err, "the connection that lost the echo is reset when the link heals")
}

func TestProxy_PersistentLossResetsTheConnection(t *testing.T) {
	u := newUpstream(t, true)
	p, nw := testProxy(t, u)
	nw.quality[link{1, 2}] = nemesis.LinkQuality{LossProb: 1}
	c := dial(t, p)
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		_, err = c.Write([]byte("x"))
		time.Sleep(time.Millisecond)
	}
	if err == nil {
		_, err = c.Read(make([]byte, 1))
	}
	requireBroken(t, err, "TCP gives up on a connection whose every segment is lost")
}

func TestProxy_ADownUpstreamRefusesTheConnection(t *testing.T) {
	u := newUpstream(t, true)
	p, _ := testProxy(t, u)
	u.ln.Close()
	requireRefused(t, p, "the proxy resets a connection its upstream refuses")
}

// requireRefused checks that a connection to p fails: at the dial, or at
// the first read.
func requireRefused(t *testing.T, p *proxy, why string) {
	c, err := net.DialTimeout("tcp", p.addr(), time.Second)
	if err == nil {
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Read(make([]byte, 1))
	}
	requireBroken(t, err, why)
}

// requireBroken checks that err is a broken connection, not the test's
// deadline passing (a proxy that held the bytes would fail that way).
func requireBroken(t *testing.T, err error, why string) {
	t.Helper()
	require.Error(t, err, why)
	require.False(t, os.IsTimeout(err), "%s: the connection timed out instead of breaking: %v", why, err)
}

func TestZKElectionHello_NamesTheBackProxyAsTheDialersAddress(t *testing.T) {
	msg := func(version int64, sid int64, addr string) []byte {
		b := binary.BigEndian.AppendUint64(nil, uint64(version))
		b = binary.BigEndian.AppendUint64(b, uint64(sid))
		b = binary.BigEndian.AppendUint32(b, uint32(len(addr)))
		return append(b, addr...)
	}
	rewrite := zkElectionHello("127.0.0.1:40001")
	rest := []byte("notification bytes")
	in := bytes.NewReader(append(msg(zkProtocolV2, 2, "127.0.0.1:3888|127.0.0.2:3888"), rest...))
	got, err := rewrite(in)
	require.NoError(t, err)
	require.Equal(t, msg(zkProtocolV2, 2, "127.0.0.1:40001"), got)
	tail, _ := io.ReadAll(in)
	require.Equal(t, rest, tail, "what follows the handshake is not consumed")

	got, err = rewrite(bytes.NewReader(msg(zkProtocolV1, 3, "127.0.0.1:3888")))
	require.NoError(t, err)
	require.Equal(t, msg(zkProtocolV1, 3, "127.0.0.1:40001"), got)

	old := binary.BigEndian.AppendUint64(nil, 5) // the oldest protocol: just the sid
	got, err = rewrite(bytes.NewReader(append(old, rest...)))
	require.NoError(t, err)
	require.Equal(t, old, got)

	_, err = rewrite(bytes.NewReader(msg(zkProtocolV2, 2, string(make([]byte, zkHelloAddrMax+1)))))
	require.Error(t, err)
}

func TestProxy_RewritesTheHelloOnlyOnItsForwardStream(t *testing.T) {
	u := newUpstream(t, true)
	p, _ := testProxyHello(t, u, func(r io.Reader) ([]byte, error) {
		var b [2]byte
		_, err := io.ReadFull(r, b[:])
		return []byte("HELLO"), err
	})
	c := dial(t, p)
	_, err := c.Write([]byte("hi and more"))
	require.NoError(t, err)
	got := make([]byte, len("HELLO and more"))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.Equal(t, "HELLO and more", string(got), "the echo of the rewritten stream comes back as it is")
}
