package real

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Apache ZooKeeper 3.8 on this machine: Debian's zookeeper package (java +
// zookeeper.jar, whose manifest names its dependencies) started on loopback
// ports with a generated zoo.cfg and myid per server. The side-by-side
// tests, `zoosim bench` and `zoosim real --target zookeeper` use it.

// ZooKeeperJar is where Debian's package puts ZooKeeper;
// ZOOSIM_ZOOKEEPER_CLASSPATH overrides the class path.
const ZooKeeperJar = "/usr/share/java/zookeeper.jar"

// zooKeeperLogBinding is slf4j's simple binding, which Debian installs
// with ZooKeeper's slf4j-api.
const zooKeeperLogBinding = "/usr/share/java/slf4j-simple.jar"

// ZooKeeperClassPath returns the class path to run Apache ZooKeeper with,
// or an error that says why it cannot run here and how to install it.
func ZooKeeperClassPath() (string, error) {
	if _, err := exec.LookPath("java"); err != nil {
		return "", errors.New("java is not installed (make clients installs Apache ZooKeeper 3.8 and its JRE)")
	}
	if cp := os.Getenv("ZOOSIM_ZOOKEEPER_CLASSPATH"); cp != "" {
		return cp, nil
	}
	if _, err := os.Stat(ZooKeeperJar); err != nil {
		return "", errors.New("Apache ZooKeeper is not installed: no " + ZooKeeperJar + " (make clients runs apt-get install -y zookeeper)")
	}
	return ZooKeeperJar, nil
}

// ZooKeeperOptions configure an Apache ZooKeeper ensemble.
type ZooKeeperOptions struct {
	// ClassPath to run with (default: ZooKeeperClassPath()).
	ClassPath string
	// TickTimeMs, InitLimit and SyncLimit go into every zoo.cfg (defaults
	// 200 ms, 10, 5, as for zoosim's local ensembles).
	TickTimeMs, InitLimit, SyncLimit int
	// HeapMB is each JVM's -Xmx (default 256: the machine is shared).
	HeapMB int
	// PeerAddr, when set, gives the address that server from's server.to
	// line names for server to's quorum (kind "peer") and election (kind
	// "election") ports, so that peer traffic can go through proxies (one
	// per ordered pair); the servers still bind their own ports. nil: the
	// servers' own ports.
	PeerAddr func(from, to int, kind string, port int) string
	// Extra lines appended to every zoo.cfg.
	Extra []string
}

// ZooKeeperEnsemble is n Apache ZooKeeper servers on this machine
// (standalone for n = 1), each under Dir/N (zoo.cfg, data/myid,
// server.log).
type ZooKeeperEnsemble struct {
	Dir     string
	opt     ZooKeeperOptions
	Servers []*ZooKeeperServer
}

// ZooKeeperServer is one Apache ZooKeeper process.
type ZooKeeperServer struct {
	ID                                 int
	Dir, Config, Log                   string
	ClientPort, PeerPort, ElectionPort int

	cp     string
	heapMB int
	process
}

// WriteZooKeeperEnsemble writes the configs of an n-server Apache
// ZooKeeper ensemble under dir, on free loopback ports.
func WriteZooKeeperEnsemble(dir string, n int, opt ZooKeeperOptions) (*ZooKeeperEnsemble, error) {
	if n < 1 || n > 63 {
		return nil, fmt.Errorf("real: a ZooKeeper ensemble of %d servers (1..63)", n)
	}
	if opt.ClassPath == "" {
		cp, err := ZooKeeperClassPath()
		if err != nil {
			return nil, err
		}
		opt.ClassPath = cp
	}
	opt.TickTimeMs = cmpOr(opt.TickTimeMs, 200)
	opt.InitLimit = cmpOr(opt.InitLimit, 10)
	opt.SyncLimit = cmpOr(opt.SyncLimit, 5)
	opt.HeapMB = cmpOr(opt.HeapMB, 256)
	ports, err := freePorts(3 * n)
	if err != nil {
		return nil, err
	}
	e := &ZooKeeperEnsemble{Dir: dir, opt: opt}
	for i := 1; i <= n; i++ {
		s := &ZooKeeperServer{ID: i, Dir: filepath.Join(dir, strconv.Itoa(i)), ClientPort: ports[3*(i-1)],
			PeerPort: ports[3*(i-1)+1], ElectionPort: ports[3*(i-1)+2], cp: opt.ClassPath, heapMB: opt.HeapMB}
		s.Config, s.Log = filepath.Join(s.Dir, "zoo.cfg"), filepath.Join(s.Dir, "server.log")
		e.Servers = append(e.Servers, s)
	}
	for _, s := range e.Servers {
		data := filepath.Join(s.Dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(strconv.Itoa(s.ID)+"\n"), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(s.Config, []byte(e.configText(s)), 0o644); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func (e *ZooKeeperEnsemble) configText(s *ZooKeeperServer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# written by zoosim\ntickTime=%d\ninitLimit=%d\nsyncLimit=%d\n", e.opt.TickTimeMs, e.opt.InitLimit, e.opt.SyncLimit)
	fmt.Fprintf(&b, "dataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n", filepath.Join(s.Dir, "data"), s.ClientPort)
	b.WriteString("admin.enableServer=false\n")
	if len(e.Servers) > 1 {
		for _, o := range e.Servers {
			// ZooKeeper binds the ports of its own line: a server's own line
			// names its real ports, the others' lines what PeerAddr says.
			fmt.Fprintf(&b, "server.%d=%s\n", o.ID, peerLine(e.opt.PeerAddr, s.ID, o.ID, o.PeerPort, o.ElectionPort))
		}
	}
	for _, l := range e.opt.Extra {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// ClientAddrs are the servers' client addresses in id order.
func (e *ZooKeeperEnsemble) ClientAddrs() []string {
	var out []string
	for _, s := range e.Servers {
		out = append(out, s.ClientAddr())
	}
	return out
}

// Start starts every server.
func (e *ZooKeeperEnsemble) Start() error {
	for _, s := range e.Servers {
		if err := s.Start(); err != nil {
			e.Kill()
			return err
		}
	}
	return nil
}

// Kill kills every server and waits for them to exit.
func (e *ZooKeeperEnsemble) Kill() {
	for _, s := range e.Servers {
		s.Kill()
	}
}

// WaitServing waits until every server's srvr names its mode (it has
// joined an established ensemble, or it is a standalone server that
// serves), for at most d.
func (e *ZooKeeperEnsemble) WaitServing(d time.Duration) error {
	deadline := time.Now().Add(d)
	for _, s := range e.Servers {
		if err := s.WaitMode(time.Until(deadline)); err != nil {
			return err
		}
	}
	return nil
}

// ClientAddr is the server's client address.
func (s *ZooKeeperServer) ClientAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ClientPort))
}

// Start starts the server (a no-op if it runs); its output goes to Log.
func (s *ZooKeeperServer) Start() error {
	// A small heap and no JMX: the machine is shared. Debian's class path
	// has no slf4j binding, so ZooKeeper would log nothing: with slf4j's
	// simple binding (Debian's libslf4j-java, installed with it) its
	// warnings and errors go to the log, and a server that exits on its
	// own says why.
	cp := s.cp
	args := []string{"-Xmx" + strconv.Itoa(s.heapMB) + "m", "-XX:+UseSerialGC", "-Dzookeeper.admin.enableServer=false"}
	if _, err := os.Stat(zooKeeperLogBinding); err == nil {
		cp += string(os.PathListSeparator) + zooKeeperLogBinding
		args = append(args, "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-Dorg.slf4j.simpleLogger.showDateTime=true",
			"-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS")
	}
	args = append(args, "-cp", cp, "org.apache.zookeeper.server.quorum.QuorumPeerMain", s.Config)
	err := s.start(s.Log, func() *exec.Cmd { return exec.Command("java", args...) })
	if err != nil {
		return fmt.Errorf("start zookeeper %d: %w", s.ID, err)
	}
	return nil
}

// WaitMode waits up to d until the server's srvr names its mode.
func (s *ZooKeeperServer) WaitMode(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		out, err := FourLetterWord(s.ClientAddr(), "srvr")
		if err == nil && strings.Contains(out, "Mode: ") {
			return nil
		}
		if !s.Running() {
			return fmt.Errorf("zookeeper %d exited while starting (log: %s)", s.ID, s.Log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zookeeper %d does not serve after %v (last srvr: %q, %v; log: %s)", s.ID, d, out, err, s.Log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// FourLetterWord sends a four-letter word to addr and returns the answer.
func FourLetterWord(addr, word string) (string, error) {
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
