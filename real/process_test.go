package real

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"
)

// The tests that run real `zoosim serve` processes build the binary once
// per test run, start ensembles on loopback ports chosen free at run time
// under t.TempDir(), and kill every process in t.Cleanup (the processes
// also die with the test binary: Pdeathsig). They are skipped with -short.

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// zoosimBinary builds cmd/zoosim (once) and returns its path.
func zoosimBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "zoosim-bin-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "zoosim")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Dir(filepath.Dir(file))
		cmd := exec.Command("go", "build", "-o", buildBin, "./cmd/zoosim")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/zoosim: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return buildBin
}

func skipProcesses(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts zoosim serve processes; skipped with -short")
	}
}

// startEnsemble writes and starts an n-server ensemble; cleanup kills it
// and, if the test failed, prints the tail of every server's log.
func startEnsemble(t testing.TB, n int, opt LocalOptions) *LocalEnsemble {
	t.Helper()
	opt.Binary = zoosimBinary(t)
	e, err := WriteLocalEnsemble(t.TempDir(), n, opt)
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, s := range e.Servers {
			s.Kill()
		}
		if t.Failed() {
			for _, s := range e.Servers {
				b, _ := os.ReadFile(s.Log)
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				if len(lines) > 40 {
					lines = lines[len(lines)-40:]
				}
				t.Logf("server %d log (tail):\n%s", s.ID, strings.Join(lines, "\n"))
			}
		}
	})
	require.NoError(t, e.Start())
	return e
}

// quiet discards go-zookeeper's log lines.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

// testLogger keeps go-zookeeper's log lines in the test log.
type testLogger struct{ t *testing.T }

func (l testLogger) Printf(f string, args ...any) { l.t.Logf("zk: "+f, args...) }

// session is a go-zookeeper connection and its events.
type session struct {
	*zk.Conn
	events <-chan zk.Event
}

// connect opens a session on addrs and waits until it has one.
func connect(t testing.TB, addrs []string, timeout time.Duration) *session {
	t.Helper()
	return connectVia(t, addrs, timeout, nil)
}

// connectVia connects through a dialer (nil: the default).
func connectVia(t testing.TB, addrs []string, timeout time.Duration, dialer zk.Dialer) *session {
	t.Helper()
	if dialer == nil {
		d := net.Dialer{}
		dialer = func(network, addr string, timeout time.Duration) (net.Conn, error) {
			d.Timeout = timeout
			return d.Dial(network, addr)
		}
	}
	conn, events, err := zk.Connect(addrs, timeout, zk.WithLogger(quiet{}), zk.WithDialer(dialer))
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	s := &session{Conn: conn, events: events}
	s.waitState(t, zk.StateHasSession, 30*time.Second)
	return s
}

// waitState waits for a session event with the given state.
func (s *session) waitState(t testing.TB, want zk.State, guard time.Duration) {
	t.Helper()
	deadline := time.After(guard)
	for {
		select {
		case ev, ok := <-s.events:
			require.True(t, ok, "the session's events ended before %v", want)
			if ev.Type == zk.EventSession && ev.State == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %v within the hang guard (state %v)", want, s.State())
		}
	}
}

// eventually retries fn until it returns nil, within a hang guard.
func eventually(t testing.TB, guard time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(guard)
	var err error
	for {
		if err = fn(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after the hang guard: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitServing waits until every server answers a write (through a session
// on that server alone).
func waitServing(t testing.TB, e *LocalEnsemble) {
	t.Helper()
	waitServingAt(t, e.ClientAddrs())
}

// waitServingAt waits until the server at each address answers a sync
// (through a session on that server alone).
func waitServingAt(t testing.TB, addrs []string) {
	t.Helper()
	for _, addr := range addrs {
		sess := connect(t, []string{addr}, 4*time.Second)
		eventually(t, 60*time.Second, fmt.Sprintf("the server at %s serves", addr), func() error {
			_, err := sess.Sync("/")
			return err
		})
		sess.Close()
	}
}

// node is one znode as a tree dump shows it.
type dumpNode struct {
	Data                string
	Version, CVersion   int32
	Czxid, Mzxid, Pzxid int64
	EphemeralOwner      int64
	NumChildren         int32
}

// dumpTree reads a server's whole tree (below /zookeeper excluded) through
// a session on that server alone: local reads, that server's state.
func dumpTree(conn *zk.Conn) (map[string]dumpNode, error) {
	out := map[string]dumpNode{}
	var walk func(p string) error
	walk = func(p string) error {
		data, st, err := conn.Get(p)
		if errors.Is(err, zk.ErrNoNode) {
			return nil // deleted between the listing and the read
		}
		if err != nil {
			return err
		}
		out[p] = dumpNode{Data: string(data), Version: st.Version, CVersion: st.Cversion, Czxid: st.Czxid, Mzxid: st.Mzxid,
			Pzxid: st.Pzxid, EphemeralOwner: st.EphemeralOwner, NumChildren: st.NumChildren}
		kids, _, err := conn.Children(p)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		sort.Strings(kids)
		for _, k := range kids {
			c := p + "/" + k
			if p == "/" {
				c = "/" + k
			}
			if c == "/zookeeper" {
				continue
			}
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk("/")
}

// dumpAll reads every server's tree, each through its own session.
func dumpAll(t *testing.T, e *LocalEnsemble) []map[string]dumpNode {
	t.Helper()
	var out []map[string]dumpNode
	for _, s := range e.Servers {
		sess := connect(t, []string{s.ClientAddr()}, 4*time.Second)
		var tree map[string]dumpNode
		eventually(t, 30*time.Second, fmt.Sprintf("dump server %d", s.ID), func() error {
			var err error
			tree, err = dumpTree(sess.Conn)
			return err
		})
		sess.Close()
		out = append(out, tree)
	}
	return out
}

// dialRaw opens a plain TCP connection to a client port.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func dialTCP(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 2*time.Second) }
