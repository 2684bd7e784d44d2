package real

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/model"
	"zoosim/server"
	"zoosim/wire"
	"zoosim/wire/jute"
)

// inProcess runs a standalone server in this process (the same code as
// zoosim serve) on a free loopback port.
func inProcess(t *testing.T, extra string) (*Server, *logBuffer) {
	t.Helper()
	ports, err := freePorts(1)
	require.NoError(t, err)
	tick := "tickTime=100\n"
	if strings.Contains(extra, "tickTime=") {
		tick = ""
	}
	text := fmt.Sprintf("%sdataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n%s", tick, t.TempDir(), ports[0], extra)
	cfg, err := ParseConfig(t.TempDir()+"/zoo.cfg", strings.NewReader(text))
	require.NoError(t, err)
	cfg.MyID = 1
	logs := &logBuffer{}
	s, err := NewServer(cfg, logs.logger())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(hangGuard):
			t.Error("the server did not stop")
		}
	})
	return s, logs
}

func waitWritable(t *testing.T, addr string) {
	t.Helper()
	c := connect(t, []string{addr}, 2*time.Second)
	eventually(t, 30*time.Second, "a write", func() error {
		_, err := c.Sync("/")
		return err
	})
	c.Close()
}

func TestClientPort_AFrameOverJuteMaxbufferClosesTheConnection(t *testing.T) {
	s, logs := inProcess(t, "")
	addr := s.ClientAddr().String()
	waitWritable(t, addr)
	rc := rawConnect(t, addr)
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], jute.MaxBuffer+1)
	_, err := rc.c.Write(hdr[:])
	require.NoError(t, err)
	assert.True(t, rc.closed(t), "the server closes the connection")
	assert.Contains(t, logs.String(), "over jute.maxbuffer")
	// A frame of exactly jute.maxbuffer is a frame (here not a valid
	// request: the server closes it as malformed, not as too large).
	rc2 := rawConnect(t, addr)
	big := make([]byte, 4+jute.MaxBuffer)
	binary.BigEndian.PutUint32(big, jute.MaxBuffer)
	binary.BigEndian.PutUint32(big[4:], 1)                       // xid
	binary.BigEndian.PutUint32(big[8:], uint32(model.OpSetData)) // then a bad body
	binary.BigEndian.PutUint32(big[12:], 0xffffff00)
	_, err = rc2.c.Write(big)
	require.NoError(t, err)
	assert.True(t, rc2.closed(t))
	waitWritable(t, addr)
}

// Malformed frames, of every sort a fuzzer throws, close their connection
// and nothing else: the server keeps serving.
func TestClientPort_MalformedFramesNeverCrashTheServer(t *testing.T) {
	s, _ := inProcess(t, "maxClientCnxns=0")
	addr := s.ClientAddr().String()
	waitWritable(t, addr)
	r := rand.New(rand.NewPCG(1, 2))
	frames := [][]byte{
		{},                       // an empty connect
		{0, 0, 0, 0, 0, 0},       // a short connect
		[]byte("ruok"),           // a four-letter word first (answered as not whitelisted, then closed)
		{0xff, 0xff, 0xff, 0xff}, // a negative length
	}
	for i := 0; i < 200; i++ {
		b := make([]byte, r.IntN(64))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		frames = append(frames, b)
	}
	for i, f := range frames {
		var rc *rawClient
		if i%2 == 0 {
			rc = rawDial(t, addr) // garbage as the connect
		} else {
			rc = rawConnect(t, addr) // garbage after a good connect
		}
		out := binary.BigEndian.AppendUint32(nil, uint32(len(f)))
		if i < 4 {
			out = f
		} else {
			out = append(out, f...)
		}
		_, err := rc.c.Write(out)
		require.NoError(t, err)
		rc.c.Close()
	}
	waitWritable(t, addr)
	c := connect(t, []string{addr}, 2*time.Second)
	_, err := c.Create("/still-here", nil, 0, openACL)
	require.NoError(t, err)
}

func TestClientPort_MaxClientCnxnsPerHost(t *testing.T) {
	s, logs := inProcess(t, "maxClientCnxns=2")
	addr := s.ClientAddr().String()
	waitWritable(t, addr)
	eventually(t, hangGuard, "no connection left", func() error {
		if n := s.clients.Connections(); n != 0 {
			return fmt.Errorf("%d connections", n)
		}
		return nil
	})
	a := rawConnect(t, addr)
	b := rawConnect(t, addr)
	third := rawDial(t, addr)
	assert.True(t, third.closed(t), "the third connection from one host is closed")
	assert.Contains(t, logs.String(), "too many connections from 127.0.0.1")
	assert.Equal(t, uint64(1), s.clients.Refused())
	a.c.Close()
	eventually(t, hangGuard, "the closed connection is forgotten", func() error {
		if n := s.clients.Connections(); n != 1 {
			return fmt.Errorf("%d connections", n)
		}
		return nil
	})
	rawConnect(t, addr) // a place again
	_ = b
}

// Session passwords come from a secret drawn at start, travel with the
// session and are checked when a client resumes it.
func TestClientPort_ResumingNeedsTheSessionsPassword(t *testing.T) {
	s, _ := inProcess(t, "")
	addr := s.ClientAddr().String()
	waitWritable(t, addr)
	rc := rawConnect(t, addr)
	session, pw := rc.connected.SessionID, rc.connected.Passwd
	require.Len(t, pw, model.PasswdLen)
	derived := server.DerivedPasswd(session)
	assert.NotEqual(t, derived[:], pw, "not the fixed function of the id")
	rc.c.Close()

	bad := rawDial(t, addr)
	wrong := append([]byte(nil), pw...)
	wrong[3] ^= 0x10
	bad.send(t, &wire.Connect{TimeoutMs: 4000, SessionID: session, Passwd: wrong})
	m := bad.recv(t).(*wire.Connected)
	assert.True(t, m.Expired(), "a wrong password is answered as an expired session")
	assert.True(t, bad.closed(t))

	good := rawDial(t, addr)
	good.send(t, &wire.Connect{TimeoutMs: 4000, SessionID: session, Passwd: pw})
	m = good.recv(t).(*wire.Connected)
	assert.False(t, m.Expired())
	assert.Equal(t, session, m.SessionID)
	assert.Equal(t, pw, m.Passwd)
}

// Two server starts draw different secrets: the same session id gets a
// different password.
func TestSecretPasswd_DependsOnASecretDrawnAtStart(t *testing.T) {
	a, err := SecretPasswd()
	require.NoError(t, err)
	b, err := SecretPasswd()
	require.NoError(t, err)
	assert.Equal(t, a(7), a(7))
	assert.NotEqual(t, a(7), a(8))
	assert.NotEqual(t, a(7), b(7))
	assert.NotEqual(t, server.DerivedPasswd(7), a(7))
}

func TestClientPort_GoZKAgainstAnInProcessServer(t *testing.T) {
	s, _ := inProcess(t, "")
	addr := s.ClientAddr().String()
	waitWritable(t, addr)
	c := connect(t, []string{addr}, 2*time.Second)
	for i := 0; i < 50; i++ {
		_, err := c.Create(fmt.Sprintf("/n%d", i), []byte{byte(i)}, zk.FlagEphemeral, openACL)
		require.NoError(t, err)
	}
	kids, _, err := c.Children("/")
	require.NoError(t, err)
	assert.Len(t, kids, 51) // and /zookeeper
	st := s.Driver().Stats()
	assert.Positive(t, st.FsyncBatches)
	assert.LessOrEqual(t, st.FsyncBatches, st.SyncReadies)
}
