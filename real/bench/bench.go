// Package bench measures a real ensemble's throughput and latency under
// go-zookeeper clients: zoosim's own servers (`zoosim serve` processes)
// and Apache ZooKeeper 3.8, one after the other on this machine's
// loopback, with fsync on. `zoosim bench` is a thin shell over Run.
//
// A cell is one (target, op, clients): that many go-zookeeper sessions,
// spread round-robin over the servers, each with one request outstanding
// in a loop, first for a warm-up (not counted), then for the measured
// duration. Each (target, op) gets a fresh ensemble, so that one op's
// data (a create cell's nodes, its snapshots) never weighs on another's;
// the client counts of one op run one after the other on it.
package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"zoosim/real"
)

// Targets.
const (
	TargetZoosim    = "zoosim"
	TargetZooKeeper = "zookeeper"
)

// Ops are the operations a cell can measure: set is setData on the
// client's own node, get is getData on it, create is a sequential
// persistent create under a parent per cell (/bench/cN/n-0000000001...).
var Ops = []string{"set", "get", "create"}

// Bounds of the options.
const (
	MaxServers  = 9
	MaxClients  = 1000
	MinDuration = time.Second
	MaxDuration = 10 * time.Minute
	// NoWarmup as Options.Warmup: none.
	NoWarmup = time.Duration(-1)
	// ValueSize is the bytes each set and create writes.
	ValueSize = 100
)

// Options say what to measure.
type Options struct {
	Targets  []string      // zoosim, zookeeper, in the order to run them
	Servers  int           // servers per ensemble, 1..MaxServers
	Clients  []int         // client counts, each 1..MaxClients
	Ops      []string      // of Ops
	Duration time.Duration // the measured time of each cell
	// Warmup runs before each cell's measured time, uncounted (default:
	// a quarter of Duration, at most 5 s: ZooKeeper's JIT needs seconds).
	Warmup time.Duration
	// Dir holds every ensemble's configs, data and logs (Dir/TARGET-OP/N);
	// "" is a new temporary directory. It is removed at the end unless
	// Keep.
	Dir  string
	Keep bool
	// Binary is the zoosim executable (target zoosim).
	Binary string
	// ProfileDir, when set, gets a CPU profile of every zoosim server
	// (zoosim-OP-sN.pprof, written when it stops).
	ProfileDir string
	// TickTimeMs goes into both targets' zoo.cfg (default 200).
	TickTimeMs int
	// HeapMB is each ZooKeeper JVM's -Xmx (default 1024).
	HeapMB int
	// Logf, when set, gets a line per step (ensemble up, cell done).
	Logf func(format string, args ...any)
}

// Row is one cell's figures.
type Row struct {
	Target  string  `json:"target"`
	Op      string  `json:"op"`
	Clients int     `json:"clients"`
	OpsPerS float64 `json:"ops_per_s"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	// Errors are the requests that failed, warm-up included; a cell with
	// errors is not a clean measurement.
	Errors int64 `json:"errors"`
	// FirstError is the first error's text ("" without errors).
	FirstError string `json:"first_error,omitempty"`
	// Ops are the requests completed in the measured time.
	Ops int64 `json:"ops"`
}

// Ratio compares zoosim with Apache ZooKeeper in one (op, clients).
type Ratio struct {
	Op      string `json:"op"`
	Clients int    `json:"clients"`
	// OpsPerS is zoosim's ops/s over ZooKeeper's (above 1: zoosim does
	// more), P99 zoosim's p99 over ZooKeeper's (below 1: zoosim's is
	// lower).
	OpsPerS float64 `json:"ops_per_s"`
	P99     float64 `json:"p99"`
}

// Skipped is a target that did not run, and why.
type Skipped struct {
	Target string `json:"target"`
	Reason string `json:"reason"`
}

// Ensemble is one (target, op)'s ensemble: where it ran and which server
// led it when the cells started.
type Ensemble struct {
	Target string `json:"target"`
	Op     string `json:"op"`
	Dir    string `json:"dir"`
	// Leader is the server whose srvr said leader or standalone (0: none
	// said it).
	Leader int `json:"leader"`
	// Profiles are the servers' CPU profiles (ProfileDir set, zoosim).
	Profiles []string `json:"profiles,omitempty"`
}

// Result is a whole run.
type Result struct {
	Rows      []Row      `json:"rows"`
	Ratios    []Ratio    `json:"ratios"`
	Skipped   []Skipped  `json:"skipped"`
	Ensembles []Ensemble `json:"ensembles"`
	Dir       string     `json:"dir"`
}

// Validate checks the options.
func (o *Options) Validate() error {
	if len(o.Targets) == 0 {
		return errors.New("no target")
	}
	for i, t := range o.Targets {
		if t != TargetZoosim && t != TargetZooKeeper {
			return fmt.Errorf("target %q: want zoosim or zookeeper", t)
		}
		if slices.Contains(o.Targets[:i], t) {
			return fmt.Errorf("target %q given twice", t)
		}
	}
	if o.Servers < 1 || o.Servers > MaxServers {
		return fmt.Errorf("%d servers: want 1..%d", o.Servers, MaxServers)
	}
	if len(o.Clients) == 0 {
		return errors.New("no client count")
	}
	for i, c := range o.Clients {
		if c < 1 || c > MaxClients {
			return fmt.Errorf("%d clients: want 1..%d", c, MaxClients)
		}
		if slices.Contains(o.Clients[:i], c) {
			return fmt.Errorf("%d clients given twice", c)
		}
	}
	if len(o.Ops) == 0 {
		return errors.New("no op")
	}
	for i, op := range o.Ops {
		if !slices.Contains(Ops, op) {
			return fmt.Errorf("op %q: want %s", op, strings.Join(Ops, ", "))
		}
		if slices.Contains(o.Ops[:i], op) {
			return fmt.Errorf("op %q given twice", op)
		}
	}
	if o.Duration < MinDuration || o.Duration > MaxDuration {
		return fmt.Errorf("duration %v is outside [%v, %v]", o.Duration, MinDuration, MaxDuration)
	}
	if o.Warmup < 0 && o.Warmup != NoWarmup || o.Warmup > MaxDuration {
		return fmt.Errorf("warm-up %v is outside [0, %v]", o.Warmup, MaxDuration)
	}
	if slices.Contains(o.Targets, TargetZoosim) && o.Binary == "" {
		return errors.New("no zoosim binary for target zoosim")
	}
	return nil
}

func (o *Options) warmup() time.Duration {
	if o.Warmup == NoWarmup {
		return 0
	}
	if o.Warmup > 0 {
		return o.Warmup
	}
	return min(5*time.Second, o.Duration/4)
}

// Per-step bounds: starting an ensemble, connecting a cell's sessions,
// stopping.
const (
	startBound   = 90 * time.Second
	connectBound = 60 * time.Second
	stopGrace    = 20 * time.Second
	// sessionTimeout is what the clients ask for (both targets' zoo.cfg
	// allow it): a stall of a few seconds must not expire sessions.
	sessionTimeout = 20 * time.Second
)

// Bound is the longest a run with these options may take: Run stops at
// it with an error.
func (o *Options) Bound() time.Duration {
	ensembles := time.Duration(len(o.Targets) * len(o.Ops))
	cells := ensembles * time.Duration(len(o.Clients))
	return ensembles*(startBound+2*stopGrace) + cells*(o.warmup()+o.Duration+2*connectBound)
}

// Run measures every cell. ctx cancelled (Ctrl-C) stops it; either way
// every process it started is stopped and, unless Keep, its directory is
// removed. A target that cannot run here (ZooKeeper not installed) is in
// Skipped; the Result holds the cells measured before an error.
func Run(ctx context.Context, opt Options) (*Result, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	opt.TickTimeMs = cmpOr(opt.TickTimeMs, 200)
	opt.HeapMB = cmpOr(opt.HeapMB, 1024)
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithTimeout(ctx, opt.Bound())
	defer cancel()
	dir := opt.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "zoosim-bench-")
		if err != nil {
			return nil, err
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if !opt.Keep {
		defer os.RemoveAll(dir)
	}
	if opt.ProfileDir != "" {
		if err := os.MkdirAll(opt.ProfileDir, 0o755); err != nil {
			return nil, err
		}
	}
	res := &Result{Dir: dir, Rows: []Row{}, Ratios: []Ratio{}, Skipped: []Skipped{}, Ensembles: []Ensemble{}}
	var targets []string
	for _, target := range opt.Targets {
		if target == TargetZooKeeper {
			if _, err := real.ZooKeeperClassPath(); err != nil {
				res.Skipped = append(res.Skipped, Skipped{Target: target, Reason: err.Error()})
				opt.Logf("%s: skipped: %v", target, err)
				continue
			}
		}
		targets = append(targets, target)
	}
	// Op by op, the targets one after the other: the two figures a ratio
	// compares are measured minutes apart at most, so that a change in
	// what else loads the machine skews them less.
	for _, op := range opt.Ops {
		for _, target := range targets {
			if err := runEnsemble(ctx, &opt, res, target, op, filepath.Join(dir, target+"-"+op)); err != nil {
				res.Ratios = ratios(res.Rows)
				if ctx.Err() != nil {
					return res, fmt.Errorf("%s %s: %w (%v)", target, op, ctx.Err(), err)
				}
				return res, fmt.Errorf("%s %s: %w", target, op, err)
			}
		}
	}
	res.Ratios = ratios(res.Rows)
	return res, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// ensemble is what a cell needs of either target's ensemble.
type ensemble struct {
	addrs []string
	stop  func()
}

// extra are the zoo.cfg lines both targets get: no per-address connection
// limit (every client comes from 127.0.0.1) and room for the clients'
// session timeout. Both keep fsync on (forceSync's default, yes) and
// snapCount's default (100000).
func extra(opt *Options) []string {
	return []string{"maxClientCnxns=0", "maxSessionTimeout=" + strconv.Itoa(int(sessionTimeout/time.Millisecond))}
}

// runEnsemble starts a fresh ensemble of target under dir and runs op's
// cells on it, one per client count.
func runEnsemble(ctx context.Context, opt *Options, res *Result, target, op, dir string) error {
	info := Ensemble{Target: target, Op: op, Dir: dir}
	var e ensemble
	switch target {
	case TargetZoosim:
		lo := real.LocalOptions{Binary: opt.Binary, TickTimeMs: opt.TickTimeMs, Extra: extra(opt)}
		if opt.ProfileDir != "" {
			lo.ServeArgs = func(id int) []string {
				return []string{"--cpuprofile", profilePath(opt.ProfileDir, op, id)}
			}
		}
		le, err := real.WriteLocalEnsemble(dir, opt.Servers, lo)
		if err != nil {
			return err
		}
		// SIGTERM first: a server writes its CPU profile and its stop line
		// (group commit figures) when it stops.
		e = ensemble{addrs: le.ClientAddrs(), stop: func() { le.Stop(stopGrace) }}
		if err := le.Start(); err != nil {
			e.stop()
			return err
		}
		for _, s := range le.Servers {
			if opt.ProfileDir != "" {
				info.Profiles = append(info.Profiles, profilePath(opt.ProfileDir, op, s.ID))
			}
		}
	case TargetZooKeeper:
		ze, err := real.WriteZooKeeperEnsemble(dir, opt.Servers, real.ZooKeeperOptions{TickTimeMs: opt.TickTimeMs,
			HeapMB: opt.HeapMB, Extra: extra(opt)})
		if err != nil {
			return err
		}
		e = ensemble{addrs: ze.ClientAddrs(), stop: ze.Kill}
		if err := ze.Start(); err != nil {
			return err
		}
	}
	defer e.stop()
	if err := waitServing(ctx, e.addrs, startBound); err != nil {
		return fmt.Errorf("the ensemble does not serve (logs in %s): %w", dir, err)
	}
	info.Leader = leader(e.addrs)
	res.Ensembles = append(res.Ensembles, info)
	opt.Logf("%s %s: %d servers serving (leader %d; logs in %s)", target, op, opt.Servers, info.Leader, dir)
	for _, n := range opt.Clients {
		row, err := runCell(ctx, e.addrs, op, n, opt.warmup(), opt.Duration)
		if err != nil {
			return err
		}
		row.Target = target
		res.Rows = append(res.Rows, row)
		flag := ""
		if row.Errors > 0 {
			flag = fmt.Sprintf(" (%d ERRORS, the first: %s)", row.Errors, row.FirstError)
		}
		opt.Logf("%s %s %d clients: %.0f ops/s, p50 %.2f ms, p99 %.2f ms%s", target, op, n, row.OpsPerS, row.P50Ms, row.P99Ms, flag)
	}
	return nil
}

func profilePath(dir, op string, id int) string {
	return filepath.Join(dir, fmt.Sprintf("zoosim-%s-s%d.pprof", op, id))
}

// waitServing waits until every server answers a sync through a session
// on it alone.
func waitServing(ctx context.Context, addrs []string, bound time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	for _, addr := range addrs {
		for {
			err := func() error {
				c, err := dial(ctx, addr)
				if err != nil {
					return err
				}
				defer c.Close()
				_, err = c.Sync("/")
				return err
			}()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%s: %v (%w)", addr, err, ctx.Err())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// leader is the id (1-based, in address order) of the server whose srvr
// says leader (or standalone), 0 if none does.
func leader(addrs []string) int {
	for i, a := range addrs {
		out, err := real.FourLetterWord(a, "srvr")
		if err == nil && (strings.Contains(out, "Mode: leader") || strings.Contains(out, "Mode: standalone")) {
			return i + 1
		}
	}
	return 0
}

// quiet drops go-zookeeper's log lines.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

// dial opens a session on the server at addr alone and waits until it has
// one (ctx bounds the wait).
func dial(ctx context.Context, addr string) (*zk.Conn, error) {
	d := net.Dialer{}
	conn, events, err := zk.Connect([]string{addr}, sessionTimeout, zk.WithLogger(quiet{}),
		zk.WithDialer(func(network, address string, timeout time.Duration) (net.Conn, error) {
			d.Timeout = timeout
			return d.DialContext(ctx, network, address)
		}))
	if err != nil {
		return nil, err
	}
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn, nil
			}
		case <-ctx.Done():
			conn.Close()
			return nil, fmt.Errorf("no session on %s: %w", addr, ctx.Err())
		}
	}
}

// runCell runs n clients doing op against the servers at addrs: warm-up,
// then the measured duration.
func runCell(ctx context.Context, addrs []string, op string, n int, warmup, duration time.Duration) (Row, error) {
	row := Row{Op: op, Clients: n}
	conns := make([]*zk.Conn, n)
	defer func() {
		var wg sync.WaitGroup
		for _, c := range conns {
			if c != nil {
				wg.Add(1)
				go func() { defer wg.Done(); c.Close() }()
			}
		}
		wg.Wait()
	}()
	cctx, cancel := context.WithTimeout(ctx, connectBound)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Round-robin over the servers, as a client library's shuffled
			// connect string spreads sessions.
			conns[i], errs[i] = dial(cctx, addrs[i%len(addrs)])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return row, fmt.Errorf("%d clients: %w", n, err)
	}
	value := make([]byte, ValueSize)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	parent := "/bench/c" + strconv.Itoa(n)
	for _, p := range []string{"/bench", parent} {
		if _, err := conns[0].Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return row, fmt.Errorf("create %s: %w", p, err)
		}
	}
	nodes := make([]string, n)
	if op != "create" {
		for i := range nodes {
			nodes[i] = fmt.Sprintf("%s/client-%d", parent, i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := conns[i].Create(nodes[i], value, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
					errs[i] = fmt.Errorf("create %s: %w", nodes[i], err)
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return row, err
		}
	}
	acl := zk.WorldACL(zk.PermAll)
	do := func(i int) error {
		switch op {
		case "set":
			_, err := conns[i].Set(nodes[i], value, -1)
			return err
		case "get":
			_, _, err := conns[i].Get(nodes[i])
			return err
		default:
			_, err := conns[i].Create(parent+"/n-", value, zk.FlagSequence, acl)
			return err
		}
	}
	var errCount atomic.Int64
	var firstErr atomic.Pointer[string]
	lat := make([][]time.Duration, n)
	begin := time.Now()
	from, until := begin.Add(warmup), begin.Add(warmup+duration)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(until) {
					break
				}
				err := do(i)
				t1 := time.Now()
				if err != nil {
					errCount.Add(1)
					msg := fmt.Sprintf("%s after %v: %v", op, t1.Sub(begin).Round(time.Millisecond), err)
					firstErr.CompareAndSwap(nil, &msg)
					time.Sleep(10 * time.Millisecond) // a failing server must not spin the clients
					continue
				}
				if !t0.Before(from) && t1.Before(until) {
					mine = append(mine, t1.Sub(t0))
				}
			}
			lat[i] = mine
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return row, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	row.Ops = int64(len(all))
	row.OpsPerS = round(float64(len(all))/duration.Seconds(), 10)
	row.P50Ms = round(ms(quantile(all, 0.50)), 1000)
	row.P99Ms = round(ms(quantile(all, 0.99)), 1000)
	row.Errors = errCount.Load()
	if p := firstErr.Load(); p != nil {
		row.FirstError = *p
	}
	return row, nil
}

// quantile is the q-quantile of sorted (nearest rank), 0 for none.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// round rounds x to 1/per.
func round(x, per float64) float64 { return math.Round(x*per) / per }

// ratios compares zoosim's rows with ZooKeeper's where both ran.
func ratios(rows []Row) []Ratio {
	out := []Ratio{}
	for _, z := range rows {
		if z.Target != TargetZoosim {
			continue
		}
		for _, k := range rows {
			if k.Target == TargetZooKeeper && k.Op == z.Op && k.Clients == z.Clients {
				r := Ratio{Op: z.Op, Clients: z.Clients}
				if k.OpsPerS > 0 {
					r.OpsPerS = round(z.OpsPerS/k.OpsPerS, 1000)
				}
				if k.P99Ms > 0 {
					r.P99 = round(z.P99Ms/k.P99Ms, 1000)
				}
				out = append(out, r)
			}
		}
	}
	return out
}
