package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"zoosim/node"
	"zoosim/real"
)

// The tests start real processes on loopback under a temporary directory,
// bounded in time; every one checks in its cleanup that Close left no
// process and no directory behind. They are skipped with -short.

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

func zoosimBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "zoosim-bin-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "zoosim")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
		cmd := exec.Command("go", "build", "-o", buildBin, "./cmd/zoosim")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/zoosim: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return buildBin
}

func skipProcesses(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts server processes; skipped with -short")
	}
}

var testClients = []node.ID{101, 102}

// startCluster starts a cluster; its cleanup closes it, prints the servers'
// log tails if the test failed, and checks that nothing is left behind.
func startCluster(t *testing.T, opt Options) *Cluster {
	t.Helper()
	if opt.Target == "" {
		opt.Target = TargetZoosim
	}
	if opt.Target == TargetZoosim {
		opt.Binary = zoosimBinary(t)
	}
	if opt.Clients == nil {
		opt.Clients = testClients
	}
	opt.Dir = filepath.Join(t.TempDir(), "cluster")
	opt.Logf = t.Logf
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, opt)
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			for _, id := range c.Servers() {
				b, _ := os.ReadFile(c.ServerLog(id))
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				if len(lines) > 30 {
					lines = lines[len(lines)-30:]
				}
				t.Logf("server %d log (tail):\n%s", id, strings.Join(lines, "\n"))
			}
		}
		var pids []int
		for _, id := range c.Servers() {
			if pid := c.pid(id); pid > 0 {
				pids = append(pids, pid)
			}
		}
		require.NoError(t, c.Close())
		require.NoError(t, c.Close(), "Close is idempotent")
		_, err := os.Stat(c.LogDir())
		require.True(t, os.IsNotExist(err), "Close removes %s", c.LogDir())
		for _, pid := range pids {
			_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
			require.True(t, os.IsNotExist(err), "process %d is gone", pid)
		}
		for _, id := range c.Servers() {
			require.False(t, c.Up(id))
		}
	})
	return c
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

// connect opens a go-zookeeper session from client cl to server s through
// its proxy and waits for it.
func connect(t *testing.T, c *Cluster, cl, s node.ID) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect([]string{c.ClientAddr(cl, s)}, 4*time.Second, zk.WithLogger(quiet{}))
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn
			}
		case <-deadline:
			t.Fatalf("client %d gets no session from server %d", cl, s)
		}
	}
}

// eventually retries f every 100 ms until it returns nil, for at most d.
func eventually(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitLeader(t *testing.T, c *Cluster, d time.Duration, ok func(node.ID) bool) node.ID {
	t.Helper()
	var l node.ID
	eventually(t, d, "a leader", func() error {
		if l = c.Leader(); l == 0 || !ok(l) {
			return fmt.Errorf("leader %d", l)
		}
		return nil
	})
	return l
}

func anyLeader(node.ID) bool { return true }

func TestCluster_StartsServesThroughProxiesAndReportsCommitted(t *testing.T) {
	skipProcesses(t)
	c := startCluster(t, Options{Servers: 3})
	require.Equal(t, []node.ID{1, 2, 3}, c.Servers())
	require.Equal(t, testClients, c.Clients())
	l := waitLeader(t, c, 10*time.Second, anyLeader)
	conn := connect(t, c, 101, l%3+1)
	_, err := conn.Create("/a", []byte("x"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	_, err = conn.Set("/a", []byte("y"), -1)
	require.NoError(t, err)
	var got map[node.ID][]string
	eventually(t, 10*time.Second, "every server applied the set", func() error {
		cm, err := c.Committed()
		if err != nil {
			return err
		}
		got = map[node.ID][]string{}
		for id, txns := range cm {
			for _, x := range txns {
				got[id] = append(got[id], fmt.Sprintf("%x %T", int64(x.Zxid), x.Txn))
			}
			if len(txns) < 3 { // createSession, create, setData
				return fmt.Errorf("server %d applied %d txns", id, len(txns))
			}
		}
		return nil
	})
	require.Equal(t, got[1], got[2])
	require.Equal(t, got[1], got[3])
}

// pid is server id's process id (0 if none runs), for the tests' check
// that Close leaves nothing behind.
func (c *Cluster) pid(id node.ID) int {
	switch p := c.procs[id].(type) {
	case zoosimProcess:
		return p.Pid()
	case *real.ZooKeeperServer:
		return p.Pid()
	}
	return 0
}
