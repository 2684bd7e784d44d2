// Package run plays a scenario against a real ensemble: the scenario's
// client nodes (package scenarios, the same code the simulator runs) over
// TCP through the client driver (package real), the scenario's nemesis
// schedule applied to real processes and proxies (package real/harness),
// in wall-clock time, and the same checkers over the recorded history.
//
// A run has the simulator's phases: the safety phase (workload and faults
// for the scenario's duration), the liveness phase (heal everything; a
// write issued after the heal must be acknowledged within the scenario's
// bound), and the quiesce (no new operations for 3 s; outstanding ones
// finish or time out). Time zero is when the clients start, after the
// ensemble has elected a leader.
package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"zoosim/checker"
	"zoosim/nemesis"
	"zoosim/node"
	"zoosim/real"
	"zoosim/real/harness"
	"zoosim/scenarios"
)

// MaxDuration bounds a real run's safety phase.
const MaxDuration = 10 * time.Minute

// quiesce is how long the clients get to finish after they stop issuing.
const quiesce = 3 * time.Second

// Options configure a run.
type Options struct {
	// Target is harness.TargetZoosim or harness.TargetZooKeeper.
	Target string
	// Scenario is the scenario to play, with its servers and duration as
	// run (Servers 1..9, Duration at most MaxDuration).
	Scenario scenarios.Scenario
	Seed     uint64
	// Dir holds every config, data directory and log (empty: a new
	// directory under the system's temporary one); Keep keeps it.
	Dir  string
	Keep bool
	// Binary is the zoosim executable (target zoosim).
	Binary string
	// Check tunes the checkers (scenarios.Options; only the check
	// settings apply).
	Check scenarios.Options
	// Logf, if set, receives what the run does (the harness's faults too).
	Logf func(format string, args ...any)
}

// Outcome is a finished run.
type Outcome struct {
	Target string
	// Duration and Bugs are the safety phase's length and the seeded
	// bugs, as run.
	Duration node.Time
	Bugs     []string
	Result   *scenarios.Result
	// LogDir is where the servers' configs, data and logs are (removed at
	// the end unless Options.Keep).
	LogDir string
	// Skipped are the faults the target could not carry out, with why.
	Skipped []nemesis.Applied
	Clients real.ClientDriverStats
	// Committed reports whether the servers' txn records were available
	// (the white-box checkers ran).
	Committed bool
}

func (o *Options) validate() error {
	switch o.Target {
	case harness.TargetZoosim, harness.TargetZooKeeper:
	default:
		return fmt.Errorf("unknown target %q (zoosim or zookeeper)", o.Target)
	}
	if o.Scenario.Servers < 1 || o.Scenario.Servers > 9 {
		return fmt.Errorf("%d servers: a real ensemble has 1..9", o.Scenario.Servers)
	}
	if d := time.Duration(o.Scenario.Duration); d <= 0 || d > MaxDuration {
		return fmt.Errorf("duration %v: a real run lasts more than 0 and at most %v", d, MaxDuration)
	}
	if o.Target == harness.TargetZoosim && o.Binary == "" {
		return errors.New("target zoosim needs the zoosim executable")
	}
	return nil
}

// Run plays the scenario. The error is for bad options and for a harness
// that could not run (the ensemble did not start, ctx was cancelled); a
// run that finished has an Outcome whose Result holds the verdict.
// Everything Run started is gone when it returns.
func Run(ctx context.Context, opt Options) (*Outcome, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	wallStart := time.Now()
	rl := &runLog{logf: opt.Logf, start: wallStart}
	defer rl.close()
	logf := rl.printf
	rr, err := scenarios.PrepareReal(opt.Scenario, opt.Seed, opt.Check)
	if err != nil {
		return nil, err
	}
	diskFaults := opt.Target == harness.TargetZoosim && slices.ContainsFunc(rr.Schedule, func(f nemesis.Fault) bool {
		return f.Kind == nemesis.DiskSyncLies || f.Kind == nemesis.DiskCorrupt
	})
	epoch := time.Now()
	hopt := harness.Options{Target: opt.Target, Servers: rr.Scenario.Servers, Clients: rr.Clients,
		Dir: opt.Dir, Keep: opt.Keep, Binary: opt.Binary, Seed: opt.Seed, Epoch: epoch, DiskFaults: diskFaults, Logf: logf,
		TickTimeMs: int(rr.Knobs.TickTime / node.Millisecond), InitLimit: rr.Knobs.InitLimit, SyncLimit: rr.Knobs.SyncLimit}
	cluster, err := harness.Start(ctx, hopt)
	if err != nil && !opt.Keep && ctx.Err() == nil && strings.Contains(strings.ToLower(err.Error()), "address already in use") {
		// The ports were free when the harness chose them; another process
		// took one before a server bound it (Go's "address already in use",
		// Java's BindException "Address already in use"). Once more, with new ports (the
		// failed attempt's directory is gone).
		logf("run: a port was taken before a server bound it; starting the ensemble again")
		epoch = time.Now()
		hopt.Epoch = epoch
		cluster, err = harness.Start(ctx, hopt)
	}
	if err != nil {
		return nil, fmt.Errorf("the %s ensemble did not start: %w", opt.Target, err)
	}
	defer cluster.Close()
	rl.open(filepath.Join(cluster.LogDir(), "run.log"))
	out := &Outcome{Target: opt.Target, LogDir: cluster.LogDir(), Duration: rr.Scenario.Duration, Bugs: rr.Scenario.Bugs}
	logf("run: %s ensemble of %d up in %v; logs in %s", opt.Target, rr.Scenario.Servers, time.Since(epoch).Round(time.Millisecond), out.LogDir)

	machines := map[node.ID]node.Machine{}
	for _, id := range rr.Clients {
		machines[id] = rr.Machine(id)
	}
	start := time.Now()
	rl.note("the clients start: time zero of the history and of the faults' times (run.log's first column is the time since the command started)")
	driver, err := real.NewClientDriver(real.ClientDriverOptions{Machines: machines, Addr: cluster.ClientAddr, Start: start})
	if err != nil {
		return nil, err
	}
	cc := &clients{ctx: ctx, d: driver, rr: rr, logf: logf}
	cluster.SetClientControl(cc)
	runner, err := nemesis.NewRunner(rr.Schedule, cluster, rr.NemesisStream())
	if err != nil {
		return nil, fmt.Errorf("the nemesis refuses the schedule: %w", err)
	}

	dctx, stopDriver := context.WithCancel(context.Background())
	driverDone := make(chan error, 1)
	go func() { driverDone <- driver.Run(dctx) }()
	var stopOnce sync.Once
	var driverErr error
	stop := func() {
		stopOnce.Do(func() {
			stopDriver()
			driverErr = <-driverDone
		})
	}
	defer stop()

	// Safety phase: the nemesis's faults at their times.
	end := rr.Scenario.Duration
	for {
		next, ok := runner.Next()
		if !ok || next > end {
			break
		}
		if err := sleepUntil(ctx, start, next); err != nil {
			return nil, err
		}
		runner.Apply(driver.Now())
	}
	if err := sleepUntil(ctx, start, end); err != nil {
		return nil, err
	}

	// Liveness phase.
	runner.HealAll(driver.Now())
	healed := driver.Now()
	if err := driver.Do(ctx, func(now node.Time) { rr.Healed(now) }); err != nil {
		return nil, harnessErr(err, driverDone)
	}
	for _, a := range runner.Applied() {
		rl.note("nemesis: %s", a)
	}
	logf("run: healed at %v", time.Duration(healed).Round(time.Millisecond))
	limit := healed + rr.Scenario.LivenessBound + 5*node.Second
	for driver.Now() < limit {
		live := false
		if err := driver.Do(ctx, func(node.Time) { live = rr.Live() }); err != nil {
			return nil, harnessErr(err, driverDone)
		}
		if live {
			break
		}
		if err := sleepUntil(ctx, start, driver.Now()+50*node.Millisecond); err != nil {
			return nil, err
		}
	}

	// Quiesce.
	if err := driver.Do(ctx, func(node.Time) { rr.Stop() }); err != nil {
		return nil, harnessErr(err, driverDone)
	}
	if err := sleepUntil(ctx, start, driver.Now()+node.Time(quiesce)); err != nil {
		return nil, err
	}
	endAt := driver.Now()
	stop()
	if driverErr != nil {
		return nil, fmt.Errorf("the client driver failed: %w", driverErr)
	}
	out.Clients = driver.Stats()

	var committed map[node.ID][]checker.Txn
	if c, err := cluster.Committed(); err == nil {
		committed = shift(c, start.Sub(epoch))
		out.Committed = true
	} else if !errors.Is(err, harness.ErrNotAvailable) {
		return nil, err
	}
	var logs map[node.ID][]checker.Txn
	if !out.Committed {
		// Apache ZooKeeper: its txn logs, read before Close removes them.
		if logs, err = cluster.TxnLogs(); err != nil {
			return nil, err
		}
	}
	deaths := cluster.Deaths()
	if err := cluster.Close(); err != nil {
		logf("run: closing the cluster: %v", err)
	}
	res := rr.Finish(scenarios.RealEnd{End: endAt, Applied: runner.Applied(), Committed: committed})
	judgeDeaths(res, deaths, start.Sub(epoch))
	if logs != nil {
		judgeTxnLogs(res, logs)
	}
	res.WallMs = time.Since(wallStart).Milliseconds()
	out.Result = res
	for _, a := range res.Applied {
		if a.Skipped {
			out.Skipped = append(out.Skipped, a)
		}
	}
	return out, nil
}

// clients carries out the nemesis's client faults on the client driver's
// machines (the harness calls it from the nemesis's goroutine; every
// action runs on the driver's).
type clients struct {
	ctx  context.Context
	d    *real.ClientDriver
	rr   *scenarios.RealRun
	logf func(string, ...any)
}

var _ harness.ClientControl = (*clients)(nil)

func (c *clients) do(what string, id node.ID, fn func(now node.Time) error) {
	var ferr error
	if err := c.d.Do(c.ctx, func(now node.Time) { ferr = fn(now) }); err != nil {
		ferr = err
	}
	if ferr != nil {
		c.logf("run: %s client %d: %v", what, id, ferr)
	}
}

func (c *clients) Up(id node.ID) bool {
	up := false
	c.do("up", id, func(node.Time) error { up = c.d.Up(id); return nil })
	return up
}

func (c *clients) Crash(id node.ID) {
	c.do("crash", id, func(now node.Time) error {
		c.rr.CrashClient(id, now)
		c.d.Crash(id)
		return nil
	})
}

func (c *clients) Restart(id node.ID) {
	c.do("restart", id, func(now node.Time) error {
		if !c.d.Up(id) {
			if m := c.rr.RestartClient(id, now); m != nil {
				return c.d.Restart(id, m)
			}
		}
		return nil
	})
}

func (c *clients) Pause(id node.ID) {
	c.do("pause", id, func(node.Time) error { c.d.Pause(id); return nil })
}

func (c *clients) Resume(id node.ID) {
	c.do("resume", id, func(node.Time) error { return c.d.Resume(id) })
}

// runLog writes what the run and the harness do to DIR/run.log (what
// comes before the directory exists is kept until it does) and hands it
// to Options.Logf.
type runLog struct {
	mu      sync.Mutex
	logf    func(string, ...any)
	start   time.Time
	f       *os.File
	pending []string
}

// printf logs a line to the file and to Options.Logf.
func (l *runLog) printf(format string, args ...any) {
	l.note(format, args...)
	if l.logf != nil {
		l.logf(format, args...)
	}
}

// note logs a line to the file only.
func (l *runLog) note(format string, args ...any) {
	line := fmt.Sprintf("%s %s\n", time.Since(l.start).Round(time.Millisecond), fmt.Sprintf(format, args...))
	l.mu.Lock()
	if l.f != nil {
		l.f.WriteString(line)
	} else if len(l.pending) < 1000 {
		l.pending = append(l.pending, line)
	}
	l.mu.Unlock()
}

func (l *runLog) open(path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return // the log is a convenience; the run goes on
	}
	l.f = f
	for _, line := range l.pending {
		f.WriteString(line)
	}
	l.pending = nil
}

func (l *runLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// harnessErr is the driver's failure if it stopped, else err.
func harnessErr(err error, driverDone chan error) error {
	select {
	case derr := <-driverDone:
		driverDone <- derr
		if derr != nil {
			return fmt.Errorf("the client driver failed: %w", derr)
		}
	default:
	}
	return err
}

// NameProcesses is the check a real run adds: no server process exited
// without the harness killing it (a crash of its own is a finding, as a
// broken invariant is in the simulator).
const NameProcesses = "processes"

func judgeDeaths(res *scenarios.Result, deaths []harness.Death, offset time.Duration) {
	r := checker.Result{Checker: NameProcesses, Verdict: checker.VerdictOK,
		Explanation: "no server process exited without the harness killing it"}
	if len(deaths) > 0 {
		var b strings.Builder
		for _, d := range deaths {
			fmt.Fprintf(&b, "server %d exited on its own, noticed at %v; the end of its log:\n%s\n", d.Server,
				(d.After - offset).Round(time.Millisecond), strings.TrimRight(d.LogTail, "\n"))
		}
		r.Verdict = checker.VerdictViolation
		r.Explanation = fmt.Sprintf("%d server process(es) exited without the harness killing them", len(deaths))
		r.Details = b.String()
	}
	addCheck(res, r)
}

// addCheck adds a check the real world runs after the checkers' own to the
// result; a violation makes the run's verdict one.
func addCheck(res *scenarios.Result, r checker.Result) {
	if r.Verdict == checker.VerdictViolation {
		res.Verdict = checker.VerdictViolation
		res.Report.Verdict = checker.VerdictViolation
	}
	res.Report.Results = append(res.Report.Results, r)
	res.Checks[r.Checker] = r.Verdict
}

// judgeTxnLogs adds the txn-logs check: the history against the txn logs
// the servers left (checker.CheckTxnLogs).
func judgeTxnLogs(res *scenarios.Result, logs map[node.ID][]checker.Txn) {
	byServer := make([][]checker.Txn, res.Servers+1)
	for id, txns := range logs {
		if int(id) < len(byServer) {
			byServer[id] = txns
		}
	}
	addCheck(res, checker.CheckTxnLogs(res.History, byServer))
}

// shift moves the apply times of the servers' records from the harness's
// epoch to the run's time zero.
func shift(c map[node.ID][]checker.Txn, by time.Duration) map[node.ID][]checker.Txn {
	for id, txns := range c {
		for i := range txns {
			txns[i].Time -= node.Time(by)
		}
		c[id] = txns
	}
	return c
}

// sleepUntil waits until the run's clock (since start) reads at, or ctx is
// done.
func sleepUntil(ctx context.Context, start time.Time, at node.Time) error {
	d := time.Until(start.Add(time.Duration(at)))
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
