package real

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A local ensemble: N `zoosim serve` processes on loopback, each with its
// own directory (DIR/N/zoo.cfg, DIR/N/data with myid, DIR/N/server.log),
// on ports chosen free when the configs are written. `zoosim ensemble` and
// the tests that run real processes use it.

// LocalOptions configure a local ensemble.
type LocalOptions struct {
	// Binary is the zoosim executable to run (`Binary serve --config ...`).
	Binary string
	// PeerAddr, when set, gives the address that server from's server.to
	// line names for server to's peer (kind "peer") and election (kind
	// "election") ports, so that peer traffic can go through proxies; a
	// server's own line always names its real ports, which it binds. nil:
	// the servers' own ports.
	PeerAddr func(from, to int, kind string, port int) string
	// Env is added to every server process's environment.
	Env []string
	// TickTimeMs, InitLimit and SyncLimit go into every zoo.cfg (defaults
	// 200 ms, 10, 5: quick elections on loopback).
	TickTimeMs, InitLimit, SyncLimit int
	// Extra lines appended to every zoo.cfg.
	Extra []string
	// ServeArgs, when set, gives extra `zoosim serve` arguments for server
	// id (such as --cpuprofile FILE).
	ServeArgs func(id int) []string
}

// LocalEnsemble is a set of server processes on this machine.
type LocalEnsemble struct {
	Dir     string
	opt     LocalOptions
	Servers []*LocalServer
}

// LocalServer is one member of a local ensemble.
type LocalServer struct {
	ID                                 int
	Dir, Config, Log                   string
	ClientPort, PeerPort, ElectionPort int

	env  []string
	args []string
	process
}

// WriteLocalEnsemble writes the configs of an n-server ensemble under dir
// (creating it; data already there is kept) and picks free loopback ports.
func WriteLocalEnsemble(dir string, n int, opt LocalOptions) (*LocalEnsemble, error) {
	if n < 1 || n > 63 {
		return nil, fmt.Errorf("real: an ensemble of %d servers (1..63)", n)
	}
	if opt.TickTimeMs == 0 {
		opt.TickTimeMs = 200
	}
	if opt.InitLimit == 0 {
		opt.InitLimit = 10
	}
	if opt.SyncLimit == 0 {
		opt.SyncLimit = 5
	}
	ports, err := freePorts(3 * n)
	if err != nil {
		return nil, err
	}
	e := &LocalEnsemble{Dir: dir, opt: opt}
	for i := 1; i <= n; i++ {
		s := &LocalServer{ID: i, Dir: filepath.Join(dir, strconv.Itoa(i)),
			ClientPort: ports[3*(i-1)], PeerPort: ports[3*(i-1)+1], ElectionPort: ports[3*(i-1)+2]}
		s.Config = filepath.Join(s.Dir, "zoo.cfg")
		s.Log = filepath.Join(s.Dir, "server.log")
		s.env = opt.Env
		if opt.ServeArgs != nil {
			s.args = opt.ServeArgs(i)
		}
		e.Servers = append(e.Servers, s)
	}
	for _, s := range e.Servers {
		if err := os.MkdirAll(filepath.Join(s.Dir, "data"), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(s.Dir, "data", "myid"), []byte(strconv.Itoa(s.ID)+"\n"), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(s.Config, []byte(e.configText(s)), 0o644); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (e *LocalEnsemble) configText(s *LocalServer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# written by zoosim ensemble\ntickTime=%d\ninitLimit=%d\nsyncLimit=%d\n", e.opt.TickTimeMs, e.opt.InitLimit, e.opt.SyncLimit)
	fmt.Fprintf(&b, "dataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n", filepath.Join(s.Dir, "data"), s.ClientPort)
	if len(e.Servers) > 1 {
		for _, o := range e.Servers {
			fmt.Fprintf(&b, "server.%d=%s\n", o.ID, peerLine(e.opt.PeerAddr, s.ID, o.ID, o.PeerPort, o.ElectionPort))
		}
	}
	for _, l := range e.opt.Extra {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// peerLine is the host:peerPort:electionPort of server to's line in server
// from's config: the real ports on its own line and without addr, else what
// addr says (on loopback: the host is always 127.0.0.1).
func peerLine(addr func(from, to int, kind string, port int) string, from, to, peerPort, electionPort int) string {
	peer := net.JoinHostPort("127.0.0.1", strconv.Itoa(peerPort))
	elect := net.JoinHostPort("127.0.0.1", strconv.Itoa(electionPort))
	if addr != nil && from != to {
		peer = addr(from, to, "peer", peerPort)
		elect = addr(from, to, "election", electionPort)
	}
	_, pp, _ := net.SplitHostPort(peer)
	_, ep, _ := net.SplitHostPort(elect)
	return "127.0.0.1:" + pp + ":" + ep
}

// freePorts asks the kernel for n distinct free loopback ports. They are
// free when this returns; a process could take one before a server binds
// it, which is unlikely on a test machine and reported by the server.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var out []int
	for len(out) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// ConnectString is the client connect string (host:port,host:port,...).
func (e *LocalEnsemble) ConnectString() string {
	return strings.Join(e.ClientAddrs(), ",")
}

// ClientAddrs are the servers' client addresses, in id order.
func (e *LocalEnsemble) ClientAddrs() []string {
	var out []string
	for _, s := range e.Servers {
		out = append(out, s.ClientAddr())
	}
	return out
}

// ClientAddr is the server's client address.
func (s *LocalServer) ClientAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ClientPort))
}

// Start starts every server that is not running.
func (e *LocalEnsemble) Start() error {
	for _, s := range e.Servers {
		if err := s.Start(e.opt.Binary); err != nil {
			return err
		}
	}
	return nil
}

// Stop stops every server (SIGTERM, then SIGKILL after grace).
func (e *LocalEnsemble) Stop(grace time.Duration) {
	for _, s := range e.Servers {
		s.Signal(syscall.SIGTERM)
	}
	for _, s := range e.Servers {
		if !s.Wait(grace) {
			s.Signal(syscall.SIGKILL)
			s.Wait(grace)
		}
	}
}

// Start runs the server's process, its output appended to its log. It
// does nothing if the process is running.
func (s *LocalServer) Start(binary string) error {
	err := s.start(s.Log, func() *exec.Cmd {
		cmd := exec.Command(binary, append([]string{"serve", "--config", s.Config}, s.args...)...)
		if len(s.env) > 0 {
			cmd.Env = append(os.Environ(), s.env...)
		}
		return cmd
	})
	if err != nil {
		return fmt.Errorf("real: start server %d: %w", s.ID, err)
	}
	return nil
}
