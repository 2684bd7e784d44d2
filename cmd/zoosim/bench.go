package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"zoosim/real"
	"zoosim/real/bench"
)

const benchAbout = `
Measure throughput and latency of a real ensemble under go-zookeeper
clients: zoosim's own servers (zoosim serve processes) and Apache ZooKeeper
3.8 (as installed by make clients), in this one invocation, op by op and
for each op one target after the other (so that the two figures a ratio
compares are measured close together), on loopback, with fsync on (forceSync=yes, both targets' default)
and the same tickTime, snapCount and connection settings. ZooKeeper runs with
a 1 GB heap.

Each (target, op) gets a fresh ensemble; on it, one cell per client count:
that many sessions spread round-robin over the servers, each with one
request outstanding in a loop, for a warm-up (--warmup, not counted;
default a quarter of the duration, at most 5s: ZooKeeper's JIT needs it) and then for --duration. Ops: set is setData of
100 bytes on the client's own node, get is getData on it, create is a
sequential persistent create of 100 bytes under a parent (/bench/cN/n-).
Each cell reports ops/s and the p50 and p99 latency in ms of the requests
that started and ended in the measured time, and the errors (warm-up
included); a cell with errors is flagged. Where both targets ran, the
ratios zoosim / ZooKeeper of ops/s and of p99 follow.

A target that cannot run here (Apache ZooKeeper not installed) is
reported as skipped, with the reason. --profile DIR writes a pprof CPU
profile of every zoosim server (zoosim serve --cpuprofile); the output
names each ensemble's leader.

With --json, one object on stdout:
  {"rows":[{"target","op","clients","ops_per_s","p50_ms","p99_ms","errors","first_error","ops"}],
   "ratios":[{"op","clients","ops_per_s","p99"}],"servers","duration_ms",
   "skipped":[{"target","reason"}],"ensembles":[{"target","op","dir","leader","profiles"}],
   "log_dir","kept","error"}

The whole run is bounded; Ctrl-C stops it, and every server process and,
unless --keep, the directory are removed either way.

Exit status: 0 every cell ran without errors, 1 some cell had errors, 2
bad usage or a harness error (an ensemble did not start, the run was
interrupted).`

func cmdBench(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench", "zoosim bench [--target zoosim,zookeeper] [--servers 3] [--clients 1,16,64] [--op set,get,create] [--duration 20s] [flags]", benchAbout)
	targets := []string{bench.TargetZoosim, bench.TargetZooKeeper}
	fs.Func("target", "the `TARGETS` to measure, in order: zoosim, zookeeper or both, comma-separated (default zoosim,zookeeper)", func(s string) error {
		l, err := wordList(s, []string{bench.TargetZoosim, bench.TargetZooKeeper})
		targets = l
		return err
	})
	servers := &countFlag{n: 3, min: 1, max: bench.MaxServers}
	fs.Var(servers, "servers", "`N` servers per ensemble, 1..9 (default 3)")
	clients := []int{1, 16, 64}
	fs.Func("clients", "the client `COUNTS`, comma-separated, each 1..1000 (default 1,16,64)", func(s string) error {
		l, err := countList(s, 1, bench.MaxClients)
		clients = l
		return err
	})
	ops := slices.Clone(bench.Ops)
	fs.Func("op", "the `OPS` to measure, comma-separated: set, get, create (default set,get,create)", func(s string) error {
		l, err := wordList(s, bench.Ops)
		ops = l
		return err
	})
	duration := 20 * time.Second
	fs.Func("duration", "the measured `DURATION` of each cell, 1s..10m (default 20s)", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("want a duration such as 20s or 1m: %w", err)
		}
		if d < bench.MinDuration || d > bench.MaxDuration {
			return fmt.Errorf("%s is outside [%s, %s]", d, bench.MinDuration, bench.MaxDuration)
		}
		duration = d
		return nil
	})
	var warmup time.Duration
	fs.Func("warmup", "the uncounted `DURATION` before each cell's measured time, 0s..10m (default: a quarter of --duration, at most 5s)", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("want a duration such as 5s: %w", err)
		}
		if d < 0 || d > bench.MaxDuration {
			return fmt.Errorf("%s is outside [0s, %s]", d, bench.MaxDuration)
		}
		warmup = d
		if d == 0 {
			warmup = bench.NoWarmup
		}
		return nil
	})
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	keep := fs.Bool("keep", false, "keep the directory with the servers' configs, data and logs")
	dir := fs.String("dir", "", "put the servers' configs, data and logs in `DIR` (must not exist or be empty; default: a new temporary directory)")
	profile := fs.String("profile", "", "write a CPU profile of every zoosim server into `DIR` (zoosim-OP-sN.pprof)")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, fs, "unexpected argument %q", pos[0])
	}
	if *dir != "" {
		if err := emptyOrMissing(*dir); err != nil {
			return usageErr(stderr, fs, "--dir: %v", err)
		}
		abs, err := filepath.Abs(*dir)
		if err != nil {
			return inputErr(stderr, fs, err)
		}
		*dir = abs
	}
	if *profile != "" {
		if !slices.Contains(targets, bench.TargetZoosim) {
			return usageErr(stderr, fs, "--profile profiles zoosim's servers: --target has no zoosim")
		}
		abs, err := filepath.Abs(*profile)
		if err != nil {
			return inputErr(stderr, fs, err)
		}
		*profile = abs
	}
	opt := bench.Options{Targets: targets, Servers: servers.n, Clients: clients, Ops: ops, Duration: duration,
		Warmup: warmup, Dir: *dir, Keep: *keep, ProfileDir: *profile}
	if slices.Contains(targets, bench.TargetZoosim) {
		bin, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
			return exitHarness
		}
		opt.Binary = bin
	}
	if err := opt.Validate(); err != nil {
		return usageErr(stderr, fs, "%v", err)
	}
	opt.Logf = func(format string, args ...any) {
		fmt.Fprintf(stderr, "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	}
	if slices.Contains(targets, bench.TargetZooKeeper) {
		if _, err := real.ZooKeeperClassPath(); err != nil {
			fmt.Fprintf(stderr, "%s: target zookeeper will be skipped: %v\n", fs.Name(), err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stderr, "%s: %s, %s, %s clients, %d servers, %v per cell (at most %v in all)\n", fs.Name(),
		strings.Join(targets, ", "), strings.Join(ops, " then "), joinInts(clients), servers.n, duration, opt.Bound().Round(time.Second))
	res, err := bench.Run(ctx, opt)
	if res == nil {
		res = &bench.Result{Dir: *dir}
	}
	out := benchJSONOf(res, servers.n, duration, *keep)
	code = exitOK
	for _, r := range res.Rows {
		if r.Errors > 0 {
			code = exitViolation
		}
	}
	if err != nil {
		out.Error = err.Error()
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(stderr, "%s: interrupted; every server it started is stopped\n", fs.Name())
		} else {
			fmt.Fprintf(stderr, "%s: harness error: %v\n", fs.Name(), err)
		}
		code = exitHarness
	}
	if *asJSON {
		if werr := writeJSON(stdout, out); werr != nil {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), werr)
			return exitHarness
		}
		return code
	}
	printBench(stdout, out)
	return code
}

// benchJSON is bench's --json object.
type benchJSON struct {
	Rows       []bench.Row      `json:"rows"`
	Ratios     []bench.Ratio    `json:"ratios"`
	Servers    int              `json:"servers"`
	DurationMs int64            `json:"duration_ms"`
	Skipped    []bench.Skipped  `json:"skipped"`
	Ensembles  []bench.Ensemble `json:"ensembles"`
	LogDir     string           `json:"log_dir"`
	Kept       bool             `json:"kept"`
	Error      string           `json:"error,omitempty"`
}

func benchJSONOf(res *bench.Result, servers int, duration time.Duration, keep bool) benchJSON {
	b := benchJSON{Rows: res.Rows, Ratios: res.Ratios, Servers: servers, DurationMs: duration.Milliseconds(),
		Skipped: res.Skipped, Ensembles: res.Ensembles, LogDir: res.Dir, Kept: keep}
	if b.Rows == nil {
		b.Rows = []bench.Row{}
	}
	if b.Ratios == nil {
		b.Ratios = []bench.Ratio{}
	}
	if b.Skipped == nil {
		b.Skipped = []bench.Skipped{}
	}
	if b.Ensembles == nil {
		b.Ensembles = []bench.Ensemble{}
	}
	return b
}

// printBench prints the table for people.
func printBench(w io.Writer, b benchJSON) {
	fmt.Fprintf(w, "%d servers per ensemble, %v measured per cell, fsync on, loopback\n", b.Servers, time.Duration(b.DurationMs)*time.Millisecond)
	for _, s := range b.Skipped {
		fmt.Fprintf(w, "target %s skipped: %s\n", s.Target, s.Reason)
	}
	if len(b.Rows) > 0 {
		fmt.Fprintf(w, "\n%-10s %-7s %7s %10s %8s %8s %7s\n", "target", "op", "clients", "ops/s", "p50 ms", "p99 ms", "errors")
		for _, r := range b.Rows {
			flag := ""
			if r.Errors > 0 {
				flag = "  <- errors, the first: " + r.FirstError
			}
			fmt.Fprintf(w, "%-10s %-7s %7d %10.0f %8.2f %8.2f %7d%s\n", r.Target, r.Op, r.Clients, r.OpsPerS, r.P50Ms, r.P99Ms, r.Errors, flag)
		}
	}
	if len(b.Ratios) > 0 {
		fmt.Fprintf(w, "\nzoosim / zookeeper (ops/s above 1: zoosim does more; p99 below 1: zoosim's is lower)\n")
		fmt.Fprintf(w, "%-7s %7s %8s %8s\n", "op", "clients", "ops/s", "p99")
		for _, r := range b.Ratios {
			fmt.Fprintf(w, "%-7s %7d %7.2fx %7.2fx\n", r.Op, r.Clients, r.OpsPerS, r.P99)
		}
	}
	if len(b.Ensembles) > 0 {
		fmt.Fprintln(w)
		for _, e := range b.Ensembles {
			line := fmt.Sprintf("%s %s: leader server %d", e.Target, e.Op, e.Leader)
			if e.Leader == 0 {
				line = fmt.Sprintf("%s %s: no server said leader", e.Target, e.Op)
			}
			if len(e.Profiles) > 0 {
				line += ", CPU profiles " + strings.Join(e.Profiles, " ")
			}
			fmt.Fprintln(w, line)
		}
	}
	if b.LogDir != "" {
		if b.Kept {
			fmt.Fprintf(w, "logs: %s (kept: TARGET-OP/N/server.log, zoo.cfg, data)\n", b.LogDir)
		} else {
			fmt.Fprintf(w, "logs: %s (removed; --keep keeps them)\n", b.LogDir)
		}
	}
	if b.Error != "" {
		fmt.Fprintf(w, "error: %s\n", b.Error)
	}
}

// wordList parses a comma-separated list of distinct words from known.
func wordList(s string, known []string) ([]string, error) {
	var out []string
	for w := range strings.SplitSeq(s, ",") {
		w = strings.TrimSpace(w)
		switch {
		case !slices.Contains(known, w):
			return nil, fmt.Errorf("%q: want a comma-separated list of %s", w, strings.Join(known, ", "))
		case slices.Contains(out, w):
			return nil, fmt.Errorf("%q is given twice", w)
		}
		out = append(out, w)
	}
	return out, nil
}

// countList parses a comma-separated list of distinct whole numbers in
// [lo, hi].
func countList(s string, lo, hi int) ([]int, error) {
	var out []int
	for w := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		switch {
		case err != nil || n < lo || n > hi:
			return nil, fmt.Errorf("%q: want comma-separated whole numbers from %d to %d", w, lo, hi)
		case slices.Contains(out, n):
			return nil, fmt.Errorf("%d is given twice", n)
		}
		out = append(out, n)
	}
	return out, nil
}

func joinInts(l []int) string {
	var s []string
	for _, n := range l {
		s = append(s, strconv.Itoa(n))
	}
	return strings.Join(s, ",")
}
