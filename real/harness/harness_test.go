package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"zoosim/model"
	"zoosim/nemesis"
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
		require.Empty(t, processesUnder(c.LogDir()), "no process runs with a config under the cluster's directory")
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
	require.Len(t, processesUnder(c.LogDir()), 3, "the leak check sees the servers")
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

// isolate blocks every peer link between x and the other servers.
func isolate(c *Cluster, x node.ID) {
	for _, y := range c.Servers() {
		if y != x {
			c.Block(x, y)
			c.Block(y, x)
		}
	}
}

// requireAgreement checks that wherever two servers applied a txn at the
// same zxid it is the same txn (a record of a snapshot restore, with a nil
// Txn, is no txn: the checker compares its digest), and returns how many
// zxids some server applied.
func requireAgreement(t *testing.T, c *Cluster) int {
	t.Helper()
	cm, err := c.Committed()
	require.NoError(t, err)
	at := map[model.Zxid]string{}
	who := map[model.Zxid]node.ID{}
	for _, id := range c.Servers() {
		last := model.Zxid(-1)
		for _, x := range cm[id] {
			require.Greater(t, x.Zxid, last, "server %d's zxids increase", id)
			last = x.Zxid
			if x.Txn == nil {
				continue
			}
			txt := fmt.Sprintf("%d %d %T %+v", x.Session, x.Cxid, x.Txn, x.Txn)
			if prev, ok := at[x.Zxid]; ok {
				require.Equal(t, prev, txt, "servers %d and %d at zxid %x", who[x.Zxid], id, int64(x.Zxid))
				continue
			}
			at[x.Zxid], who[x.Zxid] = txt, id
		}
	}
	return len(at)
}

// zxidOf is the last zxid server id's srvr reports, if it serves.
func zxidOf(c *Cluster, id node.ID) (string, error) {
	out, err := srvr(c.ServerAddr(id))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(out, "\n") {
		if z, ok := strings.CutPrefix(line, "Zxid: "); ok {
			return z, nil
		}
	}
	return "", fmt.Errorf("server %d does not serve: %q", id, out)
}

// requireCaughtUp waits until follower f serves at leader l's last zxid.
func requireCaughtUp(t *testing.T, c *Cluster, f, l node.ID) {
	t.Helper()
	eventually(t, 20*time.Second, fmt.Sprintf("server %d catches up with leader %d", f, l), func() error {
		zf, err := zxidOf(c, f)
		if err != nil {
			return err
		}
		zl, err := zxidOf(c, l)
		if err != nil {
			return err
		}
		if zf != zl {
			return fmt.Errorf("server %d at %s, leader %d at %s", f, zf, l, zl)
		}
		return nil
	})
}

func TestCluster_AnIsolatedLeaderIsReplacedAndTheMajorityServes(t *testing.T) {
	skipProcesses(t)
	c := startCluster(t, Options{Servers: 3})
	old := waitLeader(t, c, 10*time.Second, anyLeader)
	isolate(c, old)
	l := waitLeader(t, c, 20*time.Second, func(id node.ID) bool { return id != old })
	conn := connect(t, c, 101, l)
	for i := range 5 {
		_, err := conn.Create(fmt.Sprintf("/p%d", i), nil, 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
	}
	// The old leader cannot commit anything: a client of its own gets no
	// write through (it has no quorum), whatever it says meanwhile.
	c.Heal()
	requireCaughtUp(t, c, old, l)
	conn2 := connect(t, c, 102, old)
	_, err := conn2.Sync("/")
	require.NoError(t, err)
	ok, _, err := conn2.Exists("/p4")
	require.NoError(t, err)
	require.True(t, ok, "the old leader, healed, serves what the majority wrote")
	requireAgreement(t, c)
	requireNoBypass(t, c)
}

func TestCluster_AClientCutFromItsServerLosesItsConnection(t *testing.T) {
	skipProcesses(t)
	c := startCluster(t, Options{Servers: 3})
	waitLeader(t, c, 10*time.Second, anyLeader)
	conn := connect(t, c, 101, 1)
	_, err := conn.Create("/before", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	c.Block(101, 1)
	c.Block(1, 101)
	eventually(t, 10*time.Second, "the cut client loses its connection", func() error {
		if s := conn.State(); s == zk.StateHasSession {
			return fmt.Errorf("state %v", s)
		}
		return nil
	})
	c.Heal()
	eventually(t, 10*time.Second, "the client reconnects after the heal", func() error {
		if s := conn.State(); s != zk.StateHasSession {
			return fmt.Errorf("state %v", s)
		}
		return nil
	})
	_, err = conn.Create("/after", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
}

func TestCluster_ACrashedFollowerRestartsFromItsDisk(t *testing.T) {
	skipProcesses(t)
	c := startCluster(t, Options{Servers: 3})
	l := waitLeader(t, c, 10*time.Second, anyLeader)
	f := l%3 + 1
	conn := connect(t, c, 101, l)
	_, err := conn.Create("/a", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	c.Crash(f)
	require.False(t, c.Up(f))
	c.Crash(f) // a no-op on a crashed server
	_, err = conn.Create("/b", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err, "two of three serve")
	c.Restart(f)
	require.True(t, c.Up(f))
	requireCaughtUp(t, c, f, l)
	require.GreaterOrEqual(t, requireAgreement(t, c), 3)
	b, err := os.ReadDir(filepath.Join(c.LogDir(), fmt.Sprint(f), "report"))
	require.NoError(t, err)
	require.Len(t, b, 2, "one report per incarnation")
	require.Empty(t, c.Deaths(), "the harness's own kills are no deaths")

	// A process that dies behind the harness's back is a finding.
	require.NoError(t, syscall.Kill(c.pid(f), syscall.SIGKILL))
	eventually(t, 10*time.Second, "the death is noticed", func() error {
		if len(c.Deaths()) == 0 {
			return fmt.Errorf("no death")
		}
		return nil
	})
	d := c.Deaths()
	require.Len(t, d, 1)
	require.Equal(t, f, d[0].Server)
	require.Contains(t, d[0].LogTail, "zoosim serve")
	require.False(t, c.Up(f))
}

func TestCluster_APausedLeaderIsReplacedAndResumesAsAFollower(t *testing.T) {
	skipProcesses(t)
	c := startCluster(t, Options{Servers: 3})
	old := waitLeader(t, c, 10*time.Second, anyLeader)
	c.Pause(old)
	require.True(t, c.Up(old), "a paused server is up")
	l := waitLeader(t, c, 20*time.Second, func(id node.ID) bool { return id != old })
	conn := connect(t, c, 101, l)
	_, err := conn.Create("/while-paused", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	c.Resume(old)
	eventually(t, 20*time.Second, "the resumed server follows", func() error {
		out, err := srvr(c.ServerAddr(old))
		if err != nil || !strings.Contains(out, "Mode: follower") {
			return fmt.Errorf("srvr: %q %v", out, err)
		}
		return nil
	})
	require.Equal(t, l, c.Leader())
}

func TestCluster_ZooKeeperLeadsReplacesAnIsolatedLeaderAndRestartsACrashedServer(t *testing.T) {
	skipProcesses(t)
	if _, err := real.ZooKeeperClassPath(); err != nil {
		t.Skip(err)
	}
	c := startCluster(t, Options{Target: TargetZooKeeper, Servers: 3})
	old := waitLeader(t, c, 30*time.Second, anyLeader)
	conn := connect(t, c, 101, old%3+1)
	_, err := conn.Create("/a", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	isolate(c, old)
	l := waitLeader(t, c, 60*time.Second, func(id node.ID) bool { return id != old })
	conn2 := connect(t, c, 102, l)
	_, err = conn2.Create("/b", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err, "the majority serves writes")
	_, err = c.Committed()
	require.ErrorIs(t, err, ErrNotAvailable)
	ok, why := c.Supports(nemesis.Fault{Kind: nemesis.DiskSyncLies})
	require.False(t, ok)
	require.Contains(t, why, "Apache ZooKeeper")
	c.Heal()
	eventually(t, 60*time.Second, "the old leader follows", func() error {
		out, err := srvr(c.ServerAddr(old))
		if err != nil || !strings.Contains(out, "Mode: follower") {
			return fmt.Errorf("srvr: %q %v", out, err)
		}
		return nil
	})
	requireNoBypass(t, c)

	// A crashed ZooKeeper follower restarts from its data directory.
	c.Crash(old)
	require.False(t, c.Up(old))
	_, err = conn2.Create("/c", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err, "two of three serve")
	c.Restart(old)
	eventually(t, 60*time.Second, "the restarted server follows", func() error {
		out, err := srvr(c.ServerAddr(old))
		if err != nil || !strings.Contains(out, "Mode: follower") {
			return fmt.Errorf("srvr: %q %v", out, err)
		}
		return nil
	})
	require.Empty(t, c.Deaths())
}

func TestCluster_LyingSyncsLoseTheFollowersTailAtItsCrashAndItResyncs(t *testing.T) {
	skipProcesses(t)
	c := startCluster(t, Options{Servers: 3, DiskFaults: true})
	l := waitLeader(t, c, 10*time.Second, anyLeader)
	f := l%3 + 1
	conn := connect(t, c, 101, l)
	_, err := conn.Create("/honest", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	requireCaughtUp(t, c, f, l)
	c.SyncLies(f, true)
	for i := range 20 {
		_, err := conn.Create(fmt.Sprintf("/lied%d", i), nil, 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
	}
	c.Crash(f)
	rec, ok := c.CorruptRecord(f)
	require.True(t, ok, "the follower's disk holds records")
	t.Logf("corrupted %s", rec)
	c.SyncLies(f, false)
	c.Restart(f)
	requireCaughtUp(t, c, f, l)
	requireAgreement(t, c)
	b, err := os.ReadFile(c.ServerLog(f))
	require.NoError(t, err)
	require.Contains(t, string(b), "no honest sync made durable", "the restart cut the tail the lies left")
	require.Contains(t, string(b), "fails its checksum", "the restart found the corrupt record")
}

func TestCluster_TheRunnerSkipsWhatTheClusterCannotDoAndAppliesTheRest(t *testing.T) {
	skipProcesses(t)
	c := startCluster(t, Options{Servers: 3})
	waitLeader(t, c, 10*time.Second, anyLeader)
	sec := func(x int) node.Time { return node.Time(x) * node.Second }
	s := nemesis.Schedule{
		{At: 0, Kind: nemesis.ClockJump, Pick: nemesis.PickLeader, Jump: sec(1)},
		{At: 0, Kind: nemesis.DiskSyncLies, Pick: nemesis.PickRandom, Duration: sec(1)},
		{At: 0, Kind: nemesis.LinkDup, Pick: nemesis.PickRandom, Prob: 0.5, Duration: sec(1)},
		{At: 0, Kind: nemesis.Crash, Pick: nemesis.PickClient},
		{At: 0, Kind: nemesis.PartitionLeader, Duration: sec(1)},
	}
	r, err := nemesis.NewRunner(s, c, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	r.Apply(0)
	a := r.Applied()
	require.Len(t, a, 5)
	for i := range 4 {
		require.True(t, a[i].Skipped, "%s", a[i])
		require.Contains(t, a[i].Description, "the target cannot: ")
	}
	require.False(t, a[4].Skipped, "%s", a[4])
	old := a[4].Nodes
	require.Len(t, old, 3)
	require.Contains(t, a[4].Description, "isolate leader")
	r.HealAll(sec(1))
	waitLeader(t, c, 20*time.Second, anyLeader)
	for _, id := range c.Servers() {
		require.True(t, c.Up(id))
	}
}

func TestCluster_ALoneServerLeadsItselfAndKeepsItsDataAcrossACrash(t *testing.T) {
	skipProcesses(t)
	c := startCluster(t, Options{Servers: 1, DiskFaults: true})
	require.Equal(t, node.ID(1), c.Leader(), "a standalone server leads")
	conn := connect(t, c, 101, 1)
	_, err := conn.Create("/kept", []byte("v"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	c.Crash(1)
	require.Equal(t, node.ID(0), c.Leader(), "nobody leads while it is down")
	c.Restart(1)
	waitLeader(t, c, 10*time.Second, anyLeader)
	conn2 := connect(t, c, 102, 1)
	b, _, err := conn2.Get("/kept")
	require.NoError(t, err)
	require.Equal(t, "v", string(b), "an acknowledged write survives a power loss")
}

func TestCluster_SlowAndLossyLinksStillServe(t *testing.T) {
	skipProcesses(t)
	c := startCluster(t, Options{Servers: 3})
	l := waitLeader(t, c, 10*time.Second, anyLeader)
	for _, a := range c.Servers() {
		for _, b := range append(c.Servers(), c.Clients()...) {
			if a != b {
				q := nemesis.LinkQuality{ExtraLatency: 5 * node.Millisecond, LossProb: 0.05, ReorderProb: 0.1}
				c.SetLinkQuality(a, b, q)
				c.SetLinkQuality(b, a, q)
			}
		}
	}
	c.SetLag(l%3+1, 20*node.Millisecond)
	conn := connect(t, c, 101, l)
	for i := range 10 {
		_, err := conn.Create(fmt.Sprintf("/slow%d", i), nil, 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
	}
	c.Heal()
	c.SetLag(l%3+1, 0)
	requireCaughtUp(t, c, l%3+1, waitLeader(t, c, 20*time.Second, anyLeader))
	requireAgreement(t, c)
}

func TestCluster_CloseWhileTheNemesisActsLeavesNothing(t *testing.T) {
	skipProcesses(t)
	c := startCluster(t, Options{Servers: 3})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // the nemesis's goroutine, busy when the "signal" comes
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := node.ID(i%3 + 1)
			c.Leader()
			c.Crash(id)
			c.Restart(id)
			c.Pause(id)
			c.Resume(id)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, c.Close()) // as a signal handler would, mid-action
	close(stop)
	<-done
	for _, id := range c.Servers() {
		require.False(t, c.Up(id), "nothing restarts after Close")
	}
	// The cleanup checks that no process and no directory is left.
}

// processesUnder lists the processes whose command line names a path under
// dir (every server's names its zoo.cfg).
func processesUnder(dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), dir+"/") {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}
