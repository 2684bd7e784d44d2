package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"zoosim/nemesis"
	"zoosim/node"
	"zoosim/real"
)

// Targets.
const (
	TargetZoosim    = "zoosim"
	TargetZooKeeper = "zookeeper"
)

// Options configure Start.
type Options struct {
	// Target is TargetZoosim (`zoosim serve` processes) or
	// TargetZooKeeper (Apache ZooKeeper 3.8, see real.ZooKeeperClassPath).
	Target string
	// Servers is the ensemble's size, 1..9; the servers are node IDs
	// 1..Servers, as in the scenarios.
	Servers int
	// Clients are the client IDs the workload uses, each with its own
	// proxy to every server (ClientAddr). They must not be server IDs.
	Clients []node.ID
	// Dir is the root of every config, data directory and log. Empty: a
	// new directory under os.TempDir(). A given Dir must not exist or be
	// empty (Close removes it). Close removes it unless Keep.
	Dir  string
	Keep bool
	// Binary is the zoosim executable (target zoosim).
	Binary string
	// TickTimeMs, InitLimit and SyncLimit go into every zoo.cfg (defaults
	// 200 ms, 10, 5); MinSessionTimeoutMs and MaxSessionTimeoutMs too when
	// set.
	TickTimeMs, InitLimit, SyncLimit         int
	MinSessionTimeoutMs, MaxSessionTimeoutMs int
	// Extra lines appended to every zoo.cfg.
	Extra []string
	// DiskFaults starts zoosim's servers with the fault-injecting file
	// layer (real.DiskFaultsEnv), which SyncLies and CorruptRecord need;
	// with it a Crash is a power loss (unsynced appends are lost) and
	// SetLag slows syncs too. Never on by default; not available for
	// zookeeper.
	DiskFaults bool
	// Seed seeds the proxies' loss and reorder draws and CorruptRecord's
	// choice. The real world is not deterministic; the seed only makes the
	// harness's own choices repeatable.
	Seed uint64
	// StartTimeout bounds Start's wait for a leader (default 30 s for
	// zoosim, 90 s for zookeeper, whose JVMs start slowly).
	StartTimeout time.Duration
	// Epoch is time zero of Committed's apply times (default: when Start
	// was called).
	Epoch time.Time
	// Logf, if set, receives what the harness does (faults, restarts).
	Logf func(format string, args ...any)

	_ struct{}
}

// ClientControl lets the workload side carry out the nemesis's faults on
// clients (crash, restart, pause, resume). Without one, those faults are
// reported as skipped.
type ClientControl interface {
	Up(c node.ID) bool
	Crash(c node.ID)
	Restart(c node.ID)
	Pause(c node.ID)
	Resume(c node.ID)
}

// process is one server process, zoosim's or Apache ZooKeeper's.
type process interface {
	Start() error
	Kill()
	Signal(sig syscall.Signal)
	Running() bool
	Exited() <-chan struct{}
}

// Death is a server process that exited without the harness killing it (a
// failed fsync, a broken invariant, a bad config): a finding of the run.
type Death struct {
	Server node.ID
	// After is when the harness noticed, from Options.Epoch.
	After time.Duration
	// LogTail is the end of the server's log at that moment.
	LogTail string
}

type zoosimProcess struct {
	*real.LocalServer
	binary string
}

func (p zoosimProcess) Start() error { return p.LocalServer.Start(p.binary) }

// peerKey names one peer proxy: server from's connections to server to's
// port of kind "peer" (the quorum port) or "election".
type peerKey struct {
	from, to node.ID
	kind     string
}

// Cluster is a running ensemble behind proxies. It implements
// nemesis.Target, nemesis.LagTarget and nemesis.LimitedTarget. Its methods
// are safe for concurrent use (the Runner calls one at a time; Close may
// come from a signal handler's goroutine at any moment).
type Cluster struct {
	opt     Options
	dir     string
	servers []node.ID
	clients []node.ID
	epoch   time.Time

	procs      map[node.ID]process
	serverDirs map[node.ID]string // DIR/N: zoo.cfg, data/, server.log, report/
	realAddrs  map[node.ID]string // each server's own client port
	peerPorts  map[node.ID][2]int // each server's own peer and election ports

	net     *network
	peers   map[peerKey]*proxy
	toSrv   map[link]*proxy // (client, server)
	proxyWG sync.WaitGroup

	mu     sync.Mutex // process state; held while a process starts or dies
	paused map[node.ID]bool
	cc     ClientControl
	rnd    *rand.Rand
	// gen counts each server's starts; killing marks the servers the
	// harness killed (until their next start); deaths are the others.
	gen     map[node.ID]int
	killing map[node.ID]bool
	deaths  []Death
	closed  bool
	stopped chan struct{} // closed by Close: Start's wait ends

	closeOnce sync.Once
	closeErr  error
}

var (
	_ nemesis.Target        = (*Cluster)(nil)
	_ nemesis.LagTarget     = (*Cluster)(nil)
	_ nemesis.LimitedTarget = (*Cluster)(nil)
)

// Start writes the configs, opens the proxies, starts every server and
// waits until one of them leads (bounded by opt.StartTimeout and ctx). On
// any failure it cleans up everything it made and returns the error.
func Start(ctx context.Context, opt Options) (*Cluster, error) {
	if err := check(&opt); err != nil {
		return nil, err
	}
	c := &Cluster{opt: opt, epoch: opt.Epoch,
		procs: map[node.ID]process{}, serverDirs: map[node.ID]string{}, realAddrs: map[node.ID]string{}, peerPorts: map[node.ID][2]int{},
		net: newNetwork(opt.Seed), peers: map[peerKey]*proxy{}, toSrv: map[link]*proxy{},
		paused: map[node.ID]bool{}, rnd: rand.New(rand.NewPCG(opt.Seed, 0x636f7272)), gen: map[node.ID]int{}, killing: map[node.ID]bool{},
		stopped: make(chan struct{})}
	if c.epoch.IsZero() {
		c.epoch = time.Now()
	}
	for i := 1; i <= opt.Servers; i++ {
		c.servers = append(c.servers, node.ID(i))
	}
	c.clients = slices.Clone(opt.Clients)
	slices.Sort(c.clients)
	if err := c.makeDir(); err != nil {
		return nil, err
	}
	if err := c.setUp(); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.waitLeader(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func check(opt *Options) error {
	switch opt.Target {
	case TargetZoosim:
		if opt.Binary == "" {
			return errors.New("harness: target zoosim needs the zoosim executable (Options.Binary)")
		}
	case TargetZooKeeper:
		if opt.DiskFaults {
			return errors.New("harness: disk faults need zoosim's fault-injecting file layer; Apache ZooKeeper has none")
		}
	default:
		return fmt.Errorf("harness: unknown target %q (zoosim or zookeeper)", opt.Target)
	}
	if opt.Servers < 1 || opt.Servers > 9 {
		return fmt.Errorf("harness: %d servers (1..9)", opt.Servers)
	}
	seen := map[node.ID]bool{}
	for _, id := range opt.Clients {
		if id <= node.ID(opt.Servers) {
			return fmt.Errorf("harness: client ID %d is not above the server IDs 1..%d", id, opt.Servers)
		}
		if seen[id] {
			return fmt.Errorf("harness: client ID %d is given twice", id)
		}
		seen[id] = true
	}
	if opt.StartTimeout == 0 {
		opt.StartTimeout = 30 * time.Second
		if opt.Target == TargetZooKeeper {
			opt.StartTimeout = 90 * time.Second
		}
	}
	return nil
}

func (c *Cluster) logf(format string, args ...any) {
	if c.opt.Logf != nil {
		c.opt.Logf(format, args...)
	}
}

func (c *Cluster) makeDir() error {
	if c.opt.Dir == "" {
		d, err := os.MkdirTemp("", "zoosim-real-")
		if err != nil {
			return fmt.Errorf("harness: %w", err)
		}
		c.dir = d
		return nil
	}
	d, err := filepath.Abs(c.opt.Dir)
	if err != nil {
		return fmt.Errorf("harness: %w", err)
	}
	if entries, err := os.ReadDir(d); err == nil && len(entries) > 0 {
		return fmt.Errorf("harness: %s is not empty (Close removes the directory it is given)", d)
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("harness: %w", err)
	}
	c.dir = d
	return nil
}

// DiskFaultsEnv is the environment the harness gives zoosim's servers when
// Options.DiskFaults is set.
var DiskFaultsEnv = real.DiskFaultsEnv + "=1"

func (c *Cluster) setUp() error {
	n := c.opt.Servers
	if n > 1 {
		for _, from := range c.servers {
			for _, to := range c.servers {
				if from == to {
					continue
				}
				for _, kind := range []string{"peer", "election"} {
					p, err := listenProxy(from, to, c.net, &c.proxyWG, c.logf)
					if err != nil {
						return fmt.Errorf("harness: proxy: %w", err)
					}
					c.peers[peerKey{from, to, kind}] = p
				}
			}
		}
	}
	peerAddr := func(from, to int, kind string, port int) string {
		p := c.peers[peerKey{node.ID(from), node.ID(to), kind}]
		p.setUpstream(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		return p.addr()
	}
	extra := []string{"4lw.commands.whitelist=*"}
	if c.opt.MinSessionTimeoutMs > 0 {
		extra = append(extra, "minSessionTimeout="+strconv.Itoa(c.opt.MinSessionTimeoutMs))
	}
	if c.opt.MaxSessionTimeoutMs > 0 {
		extra = append(extra, "maxSessionTimeout="+strconv.Itoa(c.opt.MaxSessionTimeoutMs))
	}
	switch c.opt.Target {
	case TargetZoosim:
		// Relative to each zoo.cfg: DIR/N/report.
		extra = append(extra, "zoosim.reportDir=report")
		lo := real.LocalOptions{Binary: c.opt.Binary, TickTimeMs: c.opt.TickTimeMs, InitLimit: c.opt.InitLimit,
			SyncLimit: c.opt.SyncLimit, Extra: append(extra, c.opt.Extra...), PeerAddr: peerAddr}
		if c.opt.DiskFaults {
			lo.Env = []string{DiskFaultsEnv}
		}
		e, err := real.WriteLocalEnsemble(c.dir, n, lo)
		if err != nil {
			return fmt.Errorf("harness: %w", err)
		}
		for _, s := range e.Servers {
			id := node.ID(s.ID)
			c.procs[id] = zoosimProcess{LocalServer: s, binary: c.opt.Binary}
			c.serverDirs[id] = s.Dir
			c.realAddrs[id] = s.ClientAddr()
			c.peerPorts[id] = [2]int{s.PeerPort, s.ElectionPort}
		}
	case TargetZooKeeper:
		e, err := real.WriteZooKeeperEnsemble(c.dir, n, real.ZooKeeperOptions{TickTimeMs: c.opt.TickTimeMs,
			InitLimit: c.opt.InitLimit, SyncLimit: c.opt.SyncLimit, PeerAddr: peerAddr, Extra: append(extra, c.opt.Extra...)})
		if err != nil {
			return fmt.Errorf("harness: %w", err)
		}
		for _, s := range e.Servers {
			id := node.ID(s.ID)
			c.procs[id] = s
			c.serverDirs[id] = s.Dir
			c.realAddrs[id] = s.ClientAddr()
			c.peerPorts[id] = [2]int{s.PeerPort, s.ElectionPort}
		}
	}
	if c.opt.Target == TargetZooKeeper {
		for k, p := range c.peers {
			if k.kind == "election" {
				p.hello = zkElectionHello(c.peers[peerKey{k.to, k.from, "election"}].addr())
			}
		}
	}
	for _, cl := range c.clients {
		for _, s := range c.servers {
			p, err := listenProxy(cl, s, c.net, &c.proxyWG, c.logf)
			if err != nil {
				return fmt.Errorf("harness: proxy: %w", err)
			}
			p.setUpstream(c.realAddrs[s])
			c.toSrv[link{cl, s}] = p
		}
	}
	for _, p := range c.allProxies() {
		p.serve()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range c.servers {
		if err := c.start(id); err != nil {
			return fmt.Errorf("harness: %w", err)
		}
	}
	c.logf("harness: %d %s servers under %s", n, c.opt.Target, c.dir)
	return nil
}

// allProxies returns every proxy in a fixed order.
func (c *Cluster) allProxies() []*proxy {
	var out []*proxy
	for _, from := range c.servers {
		for _, to := range c.servers {
			for _, kind := range []string{"peer", "election"} {
				if p := c.peers[peerKey{from, to, kind}]; p != nil {
					out = append(out, p)
				}
			}
		}
	}
	for _, cl := range c.clients {
		for _, s := range c.servers {
			out = append(out, c.toSrv[link{cl, s}])
		}
	}
	return out
}

// proxiesOf returns the proxies of every connection node id is an end of.
func (c *Cluster) proxiesOf(id node.ID) []*proxy {
	var out []*proxy
	for _, p := range c.allProxies() {
		if p.from == id || p.to == id {
			out = append(out, p)
		}
	}
	return out
}

func (c *Cluster) waitLeader(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.opt.StartTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if l := c.Leader(); l != 0 {
			c.logf("harness: server %d leads", l)
			return nil
		}
		for _, id := range c.servers {
			if !c.procs[id].Running() {
				return fmt.Errorf("harness: %s server %d exited while starting; the end of its log:\n%s", c.opt.Target, id, c.logTail(id, 20))
			}
		}
		select {
		case <-ctx.Done():
			var tails strings.Builder
			for _, id := range c.servers {
				fmt.Fprintf(&tails, "\nserver %d:\n%s", id, c.logTail(id, 5))
			}
			return fmt.Errorf("harness: no %s server leads after %v: %w; the ends of the logs:%s", c.opt.Target, c.opt.StartTimeout, ctx.Err(), tails.String())
		case <-c.stopped:
			return errors.New("harness: closed while starting")
		case <-tick.C:
		}
	}
}

// Servers returns the server IDs, 1..n.
func (c *Cluster) Servers() []node.ID { return slices.Clone(c.servers) }

// Clients returns the client IDs of Options.Clients, in increasing order.
func (c *Cluster) Clients() []node.ID { return slices.Clone(c.clients) }

// ClientAddr is where client dials to reach server: the proxy of that
// (client, server) link. "" if either is unknown.
func (c *Cluster) ClientAddr(client, server node.ID) string {
	if p := c.toSrv[link{client, server}]; p != nil {
		return p.addr()
	}
	return ""
}

// ServerAddr is server id's own client port, behind no proxy (for
// white-box observation that no fault should touch). "" if unknown.
func (c *Cluster) ServerAddr(id node.ID) string { return c.realAddrs[id] }

// LogDir is the root of every config, data directory and log: server N's
// log is LogDir()/N/server.log.
func (c *Cluster) LogDir() string { return c.dir }

// ServerLog is server id's log file.
func (c *Cluster) ServerLog(id node.ID) string {
	return filepath.Join(c.serverDirs[id], "server.log")
}

// Target is the target the cluster runs (TargetZoosim or TargetZooKeeper).
func (c *Cluster) Target() string { return c.opt.Target }

// SetClientControl hands the harness the workload's control of its
// clients, for the nemesis's client faults. Call it before a Runner uses
// the cluster.
func (c *Cluster) SetClientControl(cc ClientControl) {
	c.mu.Lock()
	c.cc = cc
	c.mu.Unlock()
}

func (c *Cluster) isServer(id node.ID) bool { return id >= 1 && int(id) <= len(c.servers) }

// Leader asks every running server that is not paused for its mode (srvr,
// with short timeouts) and returns the one server that says it leads (a
// standalone server leads itself); 0 if none or more than one do.
func (c *Cluster) Leader() node.ID {
	c.mu.Lock()
	var ask []node.ID
	for _, id := range c.servers {
		if !c.paused[id] && !c.closed {
			ask = append(ask, id)
		}
	}
	c.mu.Unlock()
	type answer struct {
		leads bool
		epoch int64 // the epoch of srvr's Zxid line; -1 when unreadable
	}
	answers := make([]answer, len(ask))
	var wg sync.WaitGroup
	for i, id := range ask {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := srvr(c.realAddrs[id])
			answers[i] = answer{leads: err == nil && (strings.Contains(out, "Mode: leader") || strings.Contains(out, "Mode: standalone")),
				epoch: srvrEpoch(out)}
		}()
	}
	wg.Wait()
	// A deposed leader that has not noticed yet still says leader; the
	// leader of the highest epoch is the one in charge. Two of one epoch
	// (unreadable epochs count as one epoch, -1) is no answer.
	leader, best, tie := node.ID(0), int64(-1), false
	for i, a := range answers {
		if !a.leads {
			continue
		}
		switch {
		case leader == 0 || a.epoch > best:
			leader, best, tie = ask[i], a.epoch, false
		case a.epoch == best:
			tie = true
		}
	}
	if tie {
		return 0
	}
	return leader
}

// srvrEpoch reads the epoch (the high 32 bits) of srvr's "Zxid: 0x..."
// line, -1 if there is none.
func srvrEpoch(out string) int64 {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Zxid: 0x"); ok {
			z, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return -1
			}
			return int64(z >> 32)
		}
	}
	return -1
}

// srvr asks addr for srvr with timeouts short enough that a stopped
// process cannot hang the caller.
func srvr(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(conn, "srvr"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(conn, 64<<10))
	return string(b), err
}

// Up reports whether node id runs: a server's process, or what the
// ClientControl says of a client (true without one).
func (c *Cluster) Up(id node.ID) bool {
	if c.isServer(id) {
		return c.procs[id].Running()
	}
	c.mu.Lock()
	cc := c.cc
	c.mu.Unlock()
	if cc != nil {
		return cc.Up(id)
	}
	return true
}

// Crash SIGKILLs server id (after a SIGCONT if it is paused), waits for it
// to be gone and resets every proxied connection it was an end of.
func (c *Cluster) Crash(id node.ID) {
	if !c.isServer(id) {
		if cc := c.clientControl(); cc != nil {
			cc.Crash(id)
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	p := c.procs[id]
	if !p.Running() {
		return
	}
	c.killing[id] = true
	p.Signal(syscall.SIGCONT)
	p.Kill()
	delete(c.paused, id)
	for _, px := range c.proxiesOf(id) {
		px.resetAll()
	}
	c.logf("harness: crashed server %d", id)
}

// Restart starts crashed server id again from its data directory.
func (c *Cluster) Restart(id node.ID) {
	if !c.isServer(id) {
		if cc := c.clientControl(); cc != nil {
			cc.Restart(id)
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	p := c.procs[id]
	if p.Running() {
		return
	}
	if err := c.start(id); err != nil {
		c.logf("harness: restart server %d: %v", id, err)
		return
	}
	c.logf("harness: restarted server %d", id)
}

// Pause stops server id (SIGSTOP).
func (c *Cluster) Pause(id node.ID) {
	if !c.isServer(id) {
		if cc := c.clientControl(); cc != nil {
			cc.Pause(id)
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || !c.procs[id].Running() {
		return
	}
	c.procs[id].Signal(syscall.SIGSTOP)
	c.paused[id] = true
	c.logf("harness: paused server %d", id)
}

// Resume continues server id (SIGCONT).
func (c *Cluster) Resume(id node.ID) {
	if !c.isServer(id) {
		if cc := c.clientControl(); cc != nil {
			cc.Resume(id)
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.procs[id].Signal(syscall.SIGCONT)
	delete(c.paused, id)
	c.logf("harness: resumed server %d", id)
}

// start starts server id's process and watches for its exit; c.mu is held.
func (c *Cluster) start(id node.ID) error {
	p := c.procs[id]
	if err := p.Start(); err != nil {
		return err
	}
	c.gen[id]++
	c.killing[id] = false
	gen, exited := c.gen[id], p.Exited()
	go func() {
		<-exited
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed || c.killing[id] || c.gen[id] != gen {
			return
		}
		d := Death{Server: id, After: time.Since(c.epoch), LogTail: c.logTail(id, 20)}
		c.deaths = append(c.deaths, d)
		c.logf("harness: server %d exited on its own; the end of its log:\n%s", id, d.LogTail)
	}()
	return nil
}

// Deaths returns the server processes that exited without the harness
// killing them, in the order it noticed.
func (c *Cluster) Deaths() []Death {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.deaths)
}

func (c *Cluster) clientControl() ClientControl {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cc
}

// Block drops the bytes from -> to on every connection between the two,
// whichever end opened it, silently (see the package doc).
func (c *Cluster) Block(from, to node.ID) {
	c.net.mu.Lock()
	c.net.blocked[link{from, to}] = true
	c.net.mu.Unlock()
}

// Unblock restores the link from -> to; the connections between the two
// that a block left with a gap are reset.
func (c *Cluster) Unblock(from, to node.ID) {
	c.net.mu.Lock()
	delete(c.net.blocked, link{from, to})
	c.net.mu.Unlock()
	for _, p := range c.proxiesBetween(from, to) {
		p.resetTainted()
	}
}

// proxiesBetween returns the proxies of every connection between a and b.
func (c *Cluster) proxiesBetween(a, b node.ID) []*proxy {
	var out []*proxy
	for _, p := range c.allProxies() {
		if (p.from == a && p.to == b) || (p.from == b && p.to == a) {
			out = append(out, p)
		}
	}
	return out
}

// SetLinkQuality degrades the link from -> to (see the package doc for
// what loss, reordering and latency mean over TCP); the zero quality
// restores it.
func (c *Cluster) SetLinkQuality(from, to node.ID, q nemesis.LinkQuality) {
	c.net.mu.Lock()
	if q.IsZero() {
		delete(c.net.quality, link{from, to})
	} else {
		c.net.quality[link{from, to}] = q
	}
	c.net.mu.Unlock()
}

// Heal unblocks every link and restores every link's quality (lags stay:
// SetLag owns them).
func (c *Cluster) Heal() {
	c.net.mu.Lock()
	clear(c.net.blocked)
	clear(c.net.quality)
	c.net.mu.Unlock()
	for _, p := range c.allProxies() {
		p.resetTainted()
	}
}

// SetLag adds lag to every byte to and from server id (0 restores it); on
// target zoosim with DiskFaults each of its syncs also waits up to lag
// (real.SetSyncDelay). Otherwise its disk is not slowed.
func (c *Cluster) SetLag(id node.ID, lag node.Time) {
	c.net.mu.Lock()
	if lag <= 0 {
		delete(c.net.lag, id)
	} else {
		c.net.lag[id] = time.Duration(lag)
	}
	c.net.mu.Unlock()
	if c.isServer(id) && c.opt.Target == TargetZoosim && c.opt.DiskFaults {
		if err := real.SetSyncDelay(c.dataDir(id), time.Duration(max(lag, 0))); err != nil {
			c.logf("harness: slow syncs on server %d: %v", id, err)
		}
	}
}

// MoveClient reports false: the workload side owns its clients'
// connections.
func (c *Cluster) MoveClient(cl, s node.ID) bool { return false }

// SetClock does nothing: a real process's clock cannot be moved without
// privileges, and Supports refuses the clock faults.
func (c *Cluster) SetClock(id node.ID, jump node.Time, driftPPM int64) {}

// Supports says which faults the cluster cannot carry out, and why.
func (c *Cluster) Supports(f nemesis.Fault) (bool, string) {
	switch f.Kind {
	case nemesis.ClockJump, nemesis.ClockDrift:
		return false, "a real process's clock cannot be moved without privileges"
	case nemesis.LinkDup:
		return false, "TCP delivers every byte once: a duplicated packet never reaches the application"
	case nemesis.DiskSyncLies, nemesis.DiskCorrupt:
		if c.opt.Target == TargetZooKeeper {
			return false, "Apache ZooKeeper's disk has no fault-injecting layer"
		}
		if !c.opt.DiskFaults {
			return false, "the servers run without the fault-injecting file layer (Options.DiskFaults)"
		}
	case nemesis.Crash, nemesis.Restart, nemesis.Pause, nemesis.Resume:
		onClients := f.Pick == nemesis.PickClient
		for _, id := range f.Nodes {
			onClients = onClients || !c.isServer(id)
		}
		if onClients && c.clientControl() == nil {
			return false, "the workload gave the harness no control of its clients (SetClientControl)"
		}
	}
	return true, ""
}

// SyncLies makes server id's syncs lie or be honest again (target zoosim
// with DiskFaults; see real.DiskFaultsEnv).
func (c *Cluster) SyncLies(id node.ID, lies bool) {
	if !c.isServer(id) || c.opt.Target != TargetZoosim || !c.opt.DiskFaults {
		return
	}
	if err := real.SetSyncLies(c.dataDir(id), lies); err != nil {
		c.logf("harness: sync lies on server %d: %v", id, err)
		return
	}
	c.logf("harness: syncs of server %d lie: %v", id, lies)
}

// CorruptRecord damages one byte of the data of one record of server id's
// files, chosen from the harness's seeded stream. A running server sees it
// when it next reads its files (after a restart), as in the simulator.
func (c *Cluster) CorruptRecord(id node.ID) (string, bool) {
	if !c.isServer(id) || c.opt.Target != TargetZoosim || !c.opt.DiskFaults {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok, err := real.CorruptRecord(c.dataDir(id), c.rnd)
	if err != nil {
		c.logf("harness: corrupt a record of server %d: %v", id, err)
		return "", false
	}
	return rec, ok
}

func (c *Cluster) dataDir(id node.ID) string { return filepath.Join(c.serverDirs[id], "data") }

// Close kills every server process (SIGCONT, then SIGKILL, waiting for each
// to be gone), closes every proxy and removes the directory unless
// Options.Keep. It is idempotent and safe to call from any goroutine, at
// any time, also while Start waits.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		close(c.stopped)
		c.mu.Lock()
		c.closed = true
		for _, id := range c.servers {
			if p := c.procs[id]; p != nil {
				p.Signal(syscall.SIGCONT)
				p.Kill()
			}
		}
		c.mu.Unlock()
		for _, p := range c.allProxies() {
			p.close()
		}
		done := make(chan struct{})
		go func() { c.proxyWG.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			c.closeErr = errors.New("harness: proxy connections still open 10s after Close")
		}
		if c.dir != "" && !c.opt.Keep {
			if err := os.RemoveAll(c.dir); err != nil && c.closeErr == nil {
				c.closeErr = fmt.Errorf("harness: %w", err)
			}
		}
	})
	return c.closeErr
}

// logTail returns the last n lines of server id's log (Start's errors
// quote it: a failed Start removes the directory).
func (c *Cluster) logTail(id node.ID, n int) string {
	b, err := os.ReadFile(c.ServerLog(id))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
