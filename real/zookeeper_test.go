package real

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Apache ZooKeeper 3.8 side by side: the tests that compare zoosim with the
// real thing start Debian's zookeeper package (java + zookeeper.jar, whose
// manifest names its dependencies) on loopback ports under t.TempDir(),
// and kill it in t.Cleanup. They skip, saying so, when ZooKeeper is not
// installed (`make zookeeper` installs it) and with -short.

// zkJar is where Debian's package puts ZooKeeper; ZOOSIM_ZOOKEEPER_CLASSPATH
// overrides the class path.
const zkJar = "/usr/share/java/zookeeper.jar"

// zookeeperClassPath returns the class path to run ZooKeeper with, or why
// it cannot run.
func zookeeperClassPath() (string, string) {
	if _, err := exec.LookPath("java"); err != nil {
		return "", "java is not installed (make zookeeper installs Apache ZooKeeper 3.8 and its JRE)"
	}
	if cp := os.Getenv("ZOOSIM_ZOOKEEPER_CLASSPATH"); cp != "" {
		return cp, ""
	}
	if _, err := os.Stat(zkJar); err != nil {
		return "", "Apache ZooKeeper is not installed: no " + zkJar + " (make zookeeper runs apt-get install -y zookeeper)"
	}
	return zkJar, ""
}

// skipWithoutZooKeeper skips a test that needs Apache ZooKeeper when it is
// missing (and with -short: a JVM per server is slow to start).
func skipWithoutZooKeeper(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Apache ZooKeeper; skipped with -short")
	}
	cp, why := zookeeperClassPath()
	if why != "" {
		t.Skip(why)
	}
	return cp
}

// zkServer is one Apache ZooKeeper process.
type zkServer struct {
	id                                 int
	dir, cfg, log                      string
	clientPort, peerPort, electionPort int
	cmd                                *exec.Cmd
	exited                             chan struct{}
}

func (s *zkServer) ClientAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.clientPort))
}

// zkEnsemble is n Apache ZooKeeper servers.
type zkEnsemble struct {
	servers []*zkServer
}

func (e *zkEnsemble) ClientAddrs() []string {
	var out []string
	for _, s := range e.servers {
		out = append(out, s.ClientAddr())
	}
	return out
}

// startZooKeeper starts an n-server Apache ZooKeeper ensemble (standalone
// for n = 1) with zoosim's test settings (tickTime 200 ms, initLimit 10,
// syncLimit 5) plus extra zoo.cfg lines, and waits until every server
// answers srvr with a mode.
func startZooKeeper(t testing.TB, n int, extra ...string) *zkEnsemble {
	t.Helper()
	cp := skipWithoutZooKeeper(t)
	ports, err := freePorts(3 * n)
	require.NoError(t, err)
	root := t.TempDir()
	e := &zkEnsemble{}
	for i := 1; i <= n; i++ {
		s := &zkServer{id: i, dir: filepath.Join(root, strconv.Itoa(i)), clientPort: ports[3*(i-1)],
			peerPort: ports[3*(i-1)+1], electionPort: ports[3*(i-1)+2]}
		s.cfg, s.log = filepath.Join(s.dir, "zoo.cfg"), filepath.Join(s.dir, "server.log")
		e.servers = append(e.servers, s)
	}
	for _, s := range e.servers {
		data := filepath.Join(s.dir, "data")
		require.NoError(t, os.MkdirAll(data, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(data, "myid"), []byte(strconv.Itoa(s.id)+"\n"), 0o644))
		var b strings.Builder
		fmt.Fprintf(&b, "tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n", data, s.clientPort)
		b.WriteString("admin.enableServer=false\n")
		if n > 1 {
			for _, o := range e.servers {
				fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d\n", o.id, o.peerPort, o.electionPort)
			}
		}
		for _, l := range extra {
			b.WriteString(l + "\n")
		}
		require.NoError(t, os.WriteFile(s.cfg, []byte(b.String()), 0o644))
	}
	t.Cleanup(func() {
		for _, s := range e.servers {
			s.kill()
		}
		if t.Failed() {
			for _, s := range e.servers {
				b, _ := os.ReadFile(s.log)
				t.Logf("zookeeper %d output:\n%s", s.id, tail(string(b), 30))
			}
		}
	})
	for _, s := range e.servers {
		require.NoError(t, s.start(cp))
	}
	for _, s := range e.servers {
		waitZooKeeperMode(t, s)
	}
	return e
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (s *zkServer) start(cp string) error {
	logf, err := os.OpenFile(s.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// A small heap and no JMX: the machine is shared. slf4j finds no
	// binding in Debian's class path and logs nothing.
	s.cmd = exec.Command("java", "-Xmx256m", "-XX:+UseSerialGC", "-Dzookeeper.admin.enableServer=false",
		"-cp", cp, "org.apache.zookeeper.server.quorum.QuorumPeerMain", s.cfg)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = childProcAttr()
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start zookeeper %d: %w", s.id, err)
	}
	s.exited = make(chan struct{})
	go func() {
		s.cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	return nil
}

func (s *zkServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-s.exited:
	case <-time.After(time.Minute):
	}
}

// fourLetterWord sends a four-letter word and returns the answer.
func fourLetterWord(addr, word string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, word); err != nil {
		return "", err
	}
	b, err := io.ReadAll(bufio.NewReader(c))
	return string(b), err
}

// waitZooKeeperMode waits until a server's srvr names its mode (it has
// joined an established ensemble, or it is a standalone server that serves).
func waitZooKeeperMode(t testing.TB, s *zkServer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := fourLetterWord(s.ClientAddr(), "srvr")
		if err == nil && strings.Contains(out, "Mode: ") {
			return
		}
		select {
		case <-s.exited:
			t.Fatalf("zookeeper %d exited while starting", s.id)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("zookeeper %d does not serve after the hang guard (last srvr: %q, %v)", s.id, out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
