package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"zoosim/checker"
	"zoosim/nemesis"
	"zoosim/node"
	"zoosim/real"
	"zoosim/real/harness"
	realrun "zoosim/real/run"
	"zoosim/scenarios"
)

const realAbout = `
Run a scenario against a real ensemble: N server processes on loopback
(zoosim serve, or Apache ZooKeeper 3.8 with --target zookeeper, as
installed by make clients), each link through a TCP proxy. The scenario's
workload runs through zoosim's own client library (the same code as in the
simulator) over TCP, its op mix drawn from the seed; the swarm nemesis's
schedule for that seed is applied to the real processes and proxies in
wall-clock time (crash by SIGKILL and restart, pause by SIGSTOP,
partitions and degraded links in the proxies; the faults a real world
cannot carry out, such as clock jumps, are skipped and listed); the history
(wall-clock times, zxids) is judged by the same checkers as a simulated run.

The checkers that need the servers' txn records (stale-reads, agreement,
watches) run for target zoosim, whose servers report what they commit; for
target zookeeper they are not applicable and the output says so: Apache
ZooKeeper is judged black-box (linearizability by search, zxid order,
sessions, liveness, recipes).

A real run adds one check, processes: no server process may exit without
the harness killing it (its log's end is shown if one does).

The real world is not deterministic: the same seed issues the same op mix
and the same fault schedule, not the same history. --save-history writes
the history for zoosim check to re-judge offline.

With --json, one object on stdout:
  {"target","scenario","seed","servers","verdict","checks","not_applicable",
   "unchecked","ops","faults","faults_skipped","skipped","wall_ms",
   "log_dir","kept","client_stats","again","error"}
again is the command that plays the same workload and fault schedule.

Ctrl-C stops the run and removes everything it started (the directory too,
unless --keep).

Exit status: 0 no violation (inconclusive included, and said), 1 a
violation, 2 bad usage or a harness error (the ensemble did not start, the
run was interrupted).`

// maxRealServers bounds --servers (the harness's limit).
const maxRealServers = 9

func cmdReal(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("real", "zoosim real --scenario NAME [--target zoosim|zookeeper] [--servers N] [--seed N] [--duration D] [flags]", realAbout)
	target := fs.String("target", harness.TargetZoosim, "the `TARGET` servers: zoosim (zoosim serve processes) or zookeeper (Apache ZooKeeper 3.8)")
	servers := &countFlag{n: 3, min: 1, max: maxRealServers}
	fs.Var(servers, "servers", "`N` servers in the ensemble, 1..9 (default 3)")
	scenario := fs.String("scenario", "", "the `NAME` of the scenario to run (see zoosim list)")
	var seed seedFlag
	fs.Var(&seed, "seed", "the `N` that draws the workload and the fault schedule (default: a random seed, printed)")
	var duration time.Duration
	fs.Func("duration", "the safety phase's wall-clock `DURATION`, 1s..10m (default: the scenario's, at most 10m)", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("want a duration such as 30s or 1m30s: %w", err)
		}
		if d < time.Second || d > realrun.MaxDuration {
			return fmt.Errorf("%s is outside [1s, %s]", d, realrun.MaxDuration)
		}
		duration = d
		return nil
	})
	var bugs []string
	fs.Func("bug", "switch on seeded `BUGS` of zoosim's client library (comma-separated: "+strings.Join(clientBugNames(), ", ")+
		"); the servers are real processes, their bugs cannot be switched on", func(s string) error {
		for b := range strings.SplitSeq(s, ",") {
			if !slices.Contains(clientBugNames(), b) {
				return fmt.Errorf("bug %q: only the client library's seeded bugs run for real (%s)", b, strings.Join(clientBugNames(), ", "))
			}
			bugs = append(bugs, b)
		}
		return nil
	})
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	historyPath := fs.String("save-history", "", "save the run's history as JSON to `FILE` (for zoosim check)")
	keep := fs.Bool("keep", false, "keep the directory with the servers' configs, data and logs")
	dir := fs.String("dir", "", "put the servers' configs, data and logs in `DIR` (must not exist or be empty; default: a new temporary directory)")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, fs, "unexpected argument %q", pos[0])
	}
	if *target != harness.TargetZoosim && *target != harness.TargetZooKeeper {
		return usageErr(stderr, fs, "--target %q: want zoosim or zookeeper", *target)
	}
	if *scenario == "" {
		return usageErr(stderr, fs, "--scenario is required (see zoosim list)")
	}
	sc, err := scenarios.Lookup(*scenario)
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	ov := scenarios.Overrides{Servers: servers.n, Bugs: bugs}
	if duration > 0 {
		ov.Duration = node.Time(duration)
	} else if sc.Duration > node.Time(realrun.MaxDuration) {
		ov.Duration = node.Time(realrun.MaxDuration)
	}
	if sc, err = sc.Apply(ov); err != nil {
		return inputErr(stderr, fs, err)
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
	var binary string
	if *target == harness.TargetZoosim {
		if binary, err = os.Executable(); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
			return exitHarness
		}
	} else if _, err := real.ZooKeeperClassPath(); err != nil {
		fmt.Fprintf(stderr, "%s: Apache ZooKeeper is not installed (make clients installs it): %v\n", fs.Name(), err)
		return exitUsage
	}
	var historyFile *os.File
	if *historyPath != "" {
		if historyFile, err = os.Create(*historyPath); err != nil {
			return inputErr(stderr, fs, err)
		}
		defer historyFile.Close()
	}
	if !seed.set {
		seed.seed, seed.set = 1+rand.Uint64N(math.MaxUint64), true
		fmt.Fprintf(stderr, "%s: no --seed given: drew seed %d\n", fs.Name(), seed.seed)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	progress := func(format string, args ...any) {
		if !strings.HasPrefix(format, "run:") {
			return // the harness's own lines go to the servers' directory only
		}
		fmt.Fprintf(stderr, "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(stderr, "%s: %s against %d %s servers for %v (then heal, liveness, quiesce)\n", fs.Name(), sc.Name,
		sc.Servers, *target, time.Duration(sc.Duration))
	out, err := realrun.Run(ctx, realrun.Options{Target: *target, Scenario: sc, Seed: seed.seed, Dir: *dir, Keep: *keep,
		Binary: binary, Check: scenarios.Options{}, Logf: progress})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(stderr, "%s: interrupted; everything the run started is stopped and removed\n", fs.Name())
		} else {
			fmt.Fprintf(stderr, "%s: harness error: %v\n", fs.Name(), err)
		}
		if *asJSON {
			writeJSON(stdout, realJSON{Target: *target, Scenario: sc.Name, Seed: seed.seed, Servers: sc.Servers,
				Verdict: scenarios.VerdictError, Checks: map[string]checker.Verdict{}, Error: err.Error()})
		}
		return exitHarness
	}
	res := out.Result
	code = exitFor(res.Verdict)
	if historyFile != nil {
		if err := saveHistory(historyFile, res.History); err != nil {
			fmt.Fprintf(stderr, "%s: saving the history: %v\n", fs.Name(), err)
			code = max(code, exitUsage)
		}
	}
	if *asJSON {
		if err := writeJSON(stdout, realJSONOf(out, *keep)); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
			return exitUsage
		}
		return code
	}
	printReal(stdout, sc, out, *keep)
	if *historyPath != "" {
		fmt.Fprintf(stdout, "history saved to %s (zoosim check %s)\n", *historyPath, shellQuote(*historyPath))
	}
	return code
}

// clientBugNames are the seeded bugs of the client library, the only ones
// a real run can switch on.
func clientBugNames() []string {
	var out []string
	for _, b := range scenarios.Bugs {
		if b.Layer == "client" {
			out = append(out, b.Name)
		}
	}
	return out
}

// emptyOrMissing checks that dir does not exist or is an empty directory.
func emptyOrMissing(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("%s is not empty", dir)
	}
	return nil
}

// realJSON is real's --json object.
type realJSON struct {
	Target        string                     `json:"target"`
	Scenario      string                     `json:"scenario"`
	Seed          uint64                     `json:"seed"`
	Servers       int                        `json:"servers"`
	Verdict       checker.Verdict            `json:"verdict"`
	Checks        map[string]checker.Verdict `json:"checks"`
	NotApplicable map[string]string          `json:"not_applicable,omitempty"`
	Unchecked     map[string]uncheckedJSON   `json:"unchecked,omitempty"`
	Ops           int                        `json:"ops"`
	Faults        int                        `json:"faults"`
	FaultsSkipped int                        `json:"faults_skipped"`
	Skipped       []string                   `json:"skipped,omitempty"`
	WallMs        int64                      `json:"wall_ms"`
	LogDir        string                     `json:"log_dir,omitempty"`
	Kept          bool                       `json:"kept"`
	ClientStats   *real.ClientDriverStats    `json:"client_stats,omitempty"`
	// Again is the command that runs the same workload and fault schedule
	// again (not the same history: the real world is not deterministic).
	Again string `json:"again"`
	Error string `json:"error"`
}

func realJSONOf(out *realrun.Outcome, keep bool) realJSON {
	res := out.Result
	r := runJSONOf(res, "")
	stats := out.Clients
	j := realJSON{Target: out.Target, Scenario: res.Scenario, Seed: res.Seed, Servers: res.Servers, Verdict: res.Verdict,
		Checks: r.Checks, NotApplicable: res.NotApplicable, Unchecked: r.Unchecked, Ops: res.Ops,
		Faults: res.Faults - len(out.Skipped), FaultsSkipped: len(out.Skipped), WallMs: res.WallMs, LogDir: out.LogDir,
		Kept: keep, ClientStats: &stats, Again: againLine(out), Error: res.Err}
	for _, a := range out.Skipped {
		j.Skipped = append(j.Skipped, a.String())
	}
	return j
}

// printReal prints a real run for people.
func printReal(w io.Writer, sc scenarios.Scenario, out *realrun.Outcome, keep bool) {
	res := out.Result
	fmt.Fprintf(w, "scenario %s, seed %d, target %s\n", res.Scenario, res.Seed, out.Target)
	fmt.Fprintf(w, "  %s, %s, duration %s, liveness bound %s, workload %s\n", plural(res.Servers, "server"),
		plural(sc.Clients, "client"), time.Duration(sc.Duration), time.Duration(sc.LivenessBound), workloadText(sc.Workload))
	if keep {
		fmt.Fprintf(w, "logs: %s (kept: run.log, the harness's actions; N/server.log, N/zoo.cfg, N/data)\n", out.LogDir)
	} else {
		fmt.Fprintf(w, "logs: %s (removed; --keep keeps them)\n", out.LogDir)
	}
	if res.Swarm != "" {
		fmt.Fprintf(w, "nemesis: %s\n", res.Swarm)
	} else {
		fmt.Fprintln(w, "nemesis: none")
	}
	applied := slices.DeleteFunc(slices.Clone(res.Applied), func(a nemesis.Applied) bool { return a.Skipped })
	if len(applied) > 0 {
		fmt.Fprintf(w, "faults applied (%d):\n", len(applied))
		for i, a := range applied {
			if i == maxAppliedShown {
				fmt.Fprintf(w, "  ... and %d more\n", len(applied)-maxAppliedShown)
				break
			}
			fmt.Fprintf(w, "  %s\n", a)
		}
	}
	if len(out.Skipped) > 0 {
		fmt.Fprintf(w, "faults skipped (%d: the target cannot carry them out, or nothing fit them):\n", len(out.Skipped))
		for i, a := range out.Skipped {
			if i == maxAppliedShown {
				fmt.Fprintf(w, "  ... and %d more\n", len(out.Skipped)-maxAppliedShown)
				break
			}
			fmt.Fprintf(w, "  %s\n", a)
		}
	}
	c := out.Clients
	fmt.Fprintf(w, "ops %d  faults %d (skipped %d)  wall %dms  connections %d (dial errors %d, broken %d)\n",
		res.Ops, len(applied), len(out.Skipped), res.WallMs, c.Dials, c.DialErrors, c.Broken)
	if res.History != nil {
		fmt.Fprintf(w, "writes acknowledged %.1f%%", 100*res.WriteAvailability)
		if slices.ContainsFunc(applied, func(a nemesis.Applied) bool { return a.End > a.Start }) {
			fmt.Fprintf(w, " (during faults %.1f%%)", 100*res.DuringFaults)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "checks:")
	printResults(w, res.Report.Results, res.History)
	width := 0
	for _, r := range res.Report.Results {
		width = max(width, len(r.Checker))
	}
	for _, name := range checker.Names {
		if why, ok := res.NotApplicable[name]; ok {
			fmt.Fprintf(w, "  %-*s  not applicable: %s\n", max(width, len(name)), name, why)
		}
	}
	fmt.Fprintln(w, verdictLine(res.Verdict))
	fmt.Fprintf(w, "again: %s (the same workload and faults, not the same history)\n", againLine(out))
}

// againLine is the command that plays the same workload and schedule.
func againLine(out *realrun.Outcome) string {
	res := out.Result
	line := fmt.Sprintf("zoosim real --target %s --scenario %s --servers %d --duration %s --seed %d", out.Target, res.Scenario,
		res.Servers, time.Duration(out.Duration), res.Seed)
	if len(out.Bugs) > 0 {
		line += " --bug " + strings.Join(out.Bugs, ",")
	}
	return line
}
