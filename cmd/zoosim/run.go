package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"zoosim/checker"
	"zoosim/nemesis"
	"zoosim/report"
	"zoosim/scenarios"
	"zoosim/sim"
)

const runAbout = `
Run one scenario for one seed in the simulated world and judge its history.
A run is a pure function of its scenario, seed and overrides: the last line
printed, "repro: zoosim run ...", replays it exactly (the same trace hash).
Without --seed a seed is drawn at random and printed.

The report shows the run's parameters, the swarm nemesis's configuration
and every fault it applied, a line of figures (ops, faults, events, virtual
and wall milliseconds, trace hash), then each checker's verdict (with how many ops it could not judge, and
why, whenever there are any); a violation comes with its explanation and
the ops it involves:

  #id c<client> s<session> kind path [args] -> result zxid=... call=...ms ret=...ms srv=<server>

--html FILE writes the run's report as one self-contained page: the
timeline (each op's latency at its call time, coloured by outcome;
throughput per 100 ms; every fault shaded and labelled; the established
leader and each server's role; the ops a violated checker points at
ringed), the checkers' explanations and, for a linearizability violation,
porcupine's visualization.

--schedule replays an exact fault schedule (JSON, as shrink writes it)
instead of the swarm nemesis, and --max-ops stops each client after that
many operations; both go into the repro line.

With --json, one object on stdout:
  {"scenario","seed","engine","servers","quorum","verdict","checks",
   "unchecked","ops","faults","virtual_ms","wall_ms","trace_hash","knobs",
   "buggify_fired","repro","error"}
verdict and every value of checks (a map from checker name) are "ok",
"violation" or "inconclusive"; verdict is "error" when the harness itself
failed (error says how; it is a bug in zoosim, not in the service);
unchecked (absent when empty) maps a checker that left ops unjudged to
{"ops": N, "why": {REASON: N}}; trace_hash is the 64-bit trace hash as 16
lowercase hex digits (a string: JSON numbers cannot hold 64 bits exactly).

Every flag and file is checked before the run starts: a --duration of at
least 1s, a schedule that fits the scenario's world, counts in range.

Exit status: 0 no violation (inconclusive included, and said), 1 a
violation, 2 bad usage, bad input or a harness error.`

// runFlags are the flags of run (and of repro, which parses a repro line
// with them).
type runFlags struct {
	fs           *flagSet
	scenario     string
	seed         seedFlag
	ov           *overrideFlags
	asJSON       bool
	tracePath    string
	historyPath  string
	schedulePath string
	maxOps       int
	htmlPath     string
}

func newRunFlags(name, synopsis, about string) *runFlags {
	rf := &runFlags{fs: newFlagSet(name, synopsis, about)}
	fs := rf.fs
	fs.StringVar(&rf.scenario, "scenario", "", "the `NAME` of the scenario to run (see zoosim list)")
	fs.Var(&rf.seed, "seed", "the `N` to seed the world with (default: a random seed, printed)")
	rf.ov = addOverrideFlags(fs)
	fs.BoolVar(&rf.asJSON, "json", false, "print one JSON object on stdout")
	fs.StringVar(&rf.tracePath, "trace", "", "write the world's readable trace, one event a line, to `FILE`")
	fs.StringVar(&rf.historyPath, "save-history", "", "save the run's history as JSON to `FILE` (for zoosim check)")
	fs.StringVar(&rf.schedulePath, "schedule", "", "replay the fault schedule in `FILE` (JSON) instead of the swarm nemesis")
	fs.IntVar(&rf.maxOps, "max-ops", 0, "stop each client after `N` operations (0: no limit)")
	fs.StringVar(&rf.htmlPath, "html", "", "write the run's report (timeline, checkers, porcupine's visualization) as one HTML page to `FILE`")
	return rf
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	rf := newRunFlags("run", "zoosim run --scenario NAME [--seed N] [flags]", runAbout)
	pos, code, ok := parseFlags(rf.fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, rf.fs, "unexpected argument %q", pos[0])
	}
	return rf.execute(stdout, stderr)
}

// prepare checks every flag and input file and resolves the scenario and
// the options of the run, without touching the file system beyond reading
// the schedule. ok is false when the command must stop with code.
func (rf *runFlags) prepare(stderr io.Writer) (sc scenarios.Scenario, opt scenarios.Options, code int, ok bool) {
	fs := rf.fs
	if rf.scenario == "" {
		return sc, opt, usageErr(stderr, fs, "--scenario is required (see zoosim list)"), false
	}
	if rf.maxOps < 0 {
		return sc, opt, usageErr(stderr, fs, "--max-ops must not be negative"), false
	}
	sc, err := scenarios.Lookup(rf.scenario)
	if err != nil {
		return sc, opt, inputErr(stderr, fs, err), false
	}
	if sc, err = sc.Apply(rf.ov.overrides()); err != nil {
		return sc, opt, inputErr(stderr, fs, err), false
	}
	if opt, err = rf.ov.options(); err != nil {
		return sc, opt, inputErr(stderr, fs, err), false
	}
	opt.MaxOpsPerClient = rf.maxOps
	if rf.schedulePath != "" {
		sched, err := readSchedule(rf.schedulePath, sc)
		if err != nil {
			return sc, opt, inputErr(stderr, fs, err), false
		}
		opt.Schedule = &sched
	}
	return sc, opt, exitOK, true
}

// execute runs the scenario the flags name and prints the report.
func (rf *runFlags) execute(stdout, stderr io.Writer) int {
	fs := rf.fs
	sc, opt, code, ok := rf.prepare(stderr)
	if !ok {
		return code
	}
	if !rf.seed.set {
		rf.seed.seed, rf.seed.set = 1+rand.Uint64N(math.MaxUint64), true
		fmt.Fprintf(stderr, "%s: no --seed given: drew seed %d\n", fs.Name(), rf.seed.seed)
	}
	if err := rf.ov.makeVizDir(); err != nil {
		return inputErr(stderr, fs, err)
	}

	// Open the output files before the run, so that a bad path fails fast
	// and never hides the run's verdict afterwards.
	var err error
	var trace *bufio.Writer
	var traceFile, historyFile *os.File
	if rf.tracePath != "" {
		if traceFile, err = os.Create(rf.tracePath); err != nil {
			return inputErr(stderr, fs, err)
		}
		defer traceFile.Close()
		trace = bufio.NewWriterSize(traceFile, 1<<20)
		opt.Trace = sim.TraceWriter(trace)
	}
	if rf.historyPath != "" {
		if historyFile, err = os.Create(rf.historyPath); err != nil {
			return inputErr(stderr, fs, err)
		}
		defer historyFile.Close()
	}

	page, err := createHTML(rf.htmlPath)
	if err != nil {
		return inputErr(stderr, fs, err)
	}

	var res *scenarios.Result
	var viz []byte
	if page != nil {
		res, viz, err = runWithViz(sc, rf.seed.seed, opt)
	} else {
		res, err = scenarios.Run(sc, rf.seed.seed, opt)
	}
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	code = exitFor(res.Verdict)
	if res.Verdict == scenarios.VerdictError {
		fmt.Fprintf(stderr, "%s: harness error (a bug in zoosim, not a violation of the service): %s\n", fs.Name(), res.Err)
	}
	if trace != nil {
		if err := trace.Flush(); err != nil {
			fmt.Fprintf(stderr, "%s: writing the trace: %v\n", fs.Name(), err)
			code = max(code, exitUsage)
		}
	}
	if historyFile != nil && res.Verdict != scenarios.VerdictError {
		if err := saveHistory(historyFile, res.History); err != nil {
			fmt.Fprintf(stderr, "%s: saving the history: %v\n", fs.Name(), err)
			code = max(code, exitUsage)
		}
	}

	repro := rf.repro(res)
	if page != nil {
		err := page.write(func(w *bufio.Writer) error {
			return report.WriteRun(w, report.Run{Result: res, Scenario: &sc, Repro: repro, Viz: viz})
		})
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
			code = max(code, exitUsage)
		}
	}
	if rf.asJSON {
		if err := writeJSON(stdout, runJSONOf(res, repro)); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
			return exitUsage
		}
		return code
	}
	printRun(stdout, sc, res, rf.schedulePath, repro)
	if rf.htmlPath != "" {
		fmt.Fprintf(stdout, "report written to %s\n", rf.htmlPath)
	}
	if rf.historyPath != "" && res.History != nil {
		fmt.Fprintf(stdout, "history saved to %s (zoosim check %s)\n", rf.historyPath, shellQuote(rf.historyPath))
	}
	return code
}

// repro is the run's repro line with what the harness's line cannot know:
// the schedule file and the op budget.
func (rf *runFlags) repro(res *scenarios.Result) string {
	line := res.Repro
	if rf.schedulePath != "" {
		line += " --schedule " + shellQuote(rf.schedulePath)
	}
	if rf.maxOps > 0 {
		line += fmt.Sprintf(" --max-ops %d", rf.maxOps)
	}
	return line
}

// maxScheduleBytes bounds a schedule file: nemesis.MaxFaultsTotal faults
// of a few hundred bytes each fit with room to spare.
const maxScheduleBytes = 32 << 20

func readSchedule(path string, sc scenarios.Scenario) (nemesis.Schedule, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxScheduleBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxScheduleBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes: not a schedule", path, maxScheduleBytes)
	}
	var sched nemesis.Schedule
	if err := json.Unmarshal(b, &sched); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := sched.Validate(sc.Servers, sc.Clients); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sched, nil
}

func saveHistory(f *os.File, h *checker.History) error {
	if h == nil {
		return fmt.Errorf("the run recorded no history (it stopped at a broken invariant); %s is empty", f.Name())
	}
	w := bufio.NewWriter(f)
	if err := checker.WriteJSON(w, h); err != nil {
		return err
	}
	return w.Flush()
}

// runJSON is run's --json object.
type runJSON struct {
	Scenario string                     `json:"scenario"`
	Seed     uint64                     `json:"seed"`
	Engine   string                     `json:"engine"`
	Servers  int                        `json:"servers"`
	Quorum   string                     `json:"quorum"`
	Verdict  checker.Verdict            `json:"verdict"`
	Checks   map[string]checker.Verdict `json:"checks"`
	// Unchecked lists, for each checker that left ops unjudged, how many
	// and why (absent when every checker judged every op).
	Unchecked map[string]uncheckedJSON `json:"unchecked,omitempty"`
	Ops       int                      `json:"ops"`
	Faults    int                      `json:"faults"`
	VirtualMs int64                    `json:"virtual_ms"`
	WallMs    int64                    `json:"wall_ms"`
	TraceHash string                   `json:"trace_hash"`
	Knobs     string                   `json:"knobs"`
	Buggify   []string                 `json:"buggify_fired"`
	Repro     string                   `json:"repro"`
	Error     string                   `json:"error"` // why the harness failed ("" unless verdict is "error")
}

type uncheckedJSON struct {
	Ops int            `json:"ops"`
	Why map[string]int `json:"why"`
}

func runJSONOf(res *scenarios.Result, repro string) runJSON {
	checks := map[string]checker.Verdict{}
	for k, v := range res.Checks {
		checks[k] = v
	}
	var unchecked map[string]uncheckedJSON
	for _, r := range res.Report.Results {
		if r.Unchecked > 0 {
			if unchecked == nil {
				unchecked = map[string]uncheckedJSON{}
			}
			unchecked[r.Checker] = uncheckedJSON{Ops: r.Unchecked, Why: uncheckedWhy(r)}
		}
	}
	return runJSON{Scenario: res.Scenario, Seed: res.Seed, Engine: res.Engine, Servers: res.Servers,
		Quorum: res.Quorum, Verdict: res.Verdict, Checks: checks, Unchecked: unchecked, Ops: res.Ops, Faults: res.Faults,
		VirtualMs: res.VirtualMs, WallMs: res.WallMs, TraceHash: hashText(res.TraceHash), Knobs: res.Knobs.String(),
		Buggify: res.BuggifyFired, Repro: repro, Error: res.Err}
}

// printRun prints a run for people: parameters, nemesis, figures, checks,
// verdict, repro line.
func printRun(w io.Writer, sc scenarios.Scenario, res *scenarios.Result, schedulePath, repro string) {
	fmt.Fprintf(w, "scenario %s, seed %d\n", res.Scenario, res.Seed)
	quorum := res.Quorum
	if !res.QuorumSafe && res.History != nil {
		quorum += " (UNSAFE: quorums need not intersect)"
	}
	fmt.Fprintf(w, "  engine %s, %s, quorum %s, read mode %s, %s\n",
		res.Engine, plural(res.Servers, "server"), quorum, sc.ReadMode, plural(sc.Clients, "client"))
	fmt.Fprintf(w, "  duration %s, liveness bound %s, workload %s\n",
		time.Duration(sc.Duration), time.Duration(sc.LivenessBound), workloadText(sc.Workload))
	fmt.Fprintf(w, "knobs: %s\n", res.Knobs)
	if len(res.BuggifyFired) > 0 {
		fmt.Fprintf(w, "buggify fired: %s\n", strings.Join(res.BuggifyFired, " "))
	}
	switch {
	case schedulePath != "":
		fmt.Fprintf(w, "nemesis: the schedule in %s (%d faults)\n", schedulePath, len(res.Schedule))
	case res.Swarm != "":
		fmt.Fprintf(w, "nemesis: %s\n", res.Swarm)
	case len(sc.Nemesis.Kinds) == 0:
		fmt.Fprintln(w, "nemesis: none")
	}
	if len(res.Applied) > 0 {
		fmt.Fprintf(w, "faults applied (%d):\n", len(res.Applied))
		for i, a := range res.Applied {
			if i == maxAppliedShown {
				fmt.Fprintf(w, "  ... and %d more\n", len(res.Applied)-maxAppliedShown)
				break
			}
			fmt.Fprintf(w, "  %s\n", a)
		}
	}
	fmt.Fprintf(w, "ops %d  faults %d  events %d  virtual %dms  wall %dms  trace %s\n",
		res.Ops, res.Faults, res.Events, res.VirtualMs, res.WallMs, hashText(res.TraceHash))
	switch {
	case res.Verdict == scenarios.VerdictError:
		fmt.Fprintf(w, "harness error: %s\n", res.Err)
	case res.History == nil:
		fmt.Fprintln(w, "the run stopped at a broken invariant: it recorded no history and no figures")
	default:
		fmt.Fprintf(w, "writes acknowledged %.1f%%", 100*res.WriteAvailability)
		if slices.ContainsFunc(res.Applied, func(a nemesis.Applied) bool { return a.End > a.Start }) {
			fmt.Fprintf(w, " (during faults %.1f%%)", 100*res.DuringFaults)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "checks:")
	printResults(w, res.Report.Results, res.History)
	fmt.Fprintln(w, verdictLine(res.Verdict))
	fmt.Fprintf(w, "repro: %s\n", repro)
}

func workloadText(wl scenarios.Workload) string {
	parts := []string{}
	for _, b := range sortedKeys(behaviourKeys(wl.Mix)) {
		parts = append(parts, fmt.Sprintf("%s:%d", b, wl.Mix[scenarios.Behaviour(b)]))
	}
	return fmt.Sprintf("%s, think %s, %d groups", strings.Join(parts, " "), time.Duration(wl.ThinkTime), wl.Groups)
}

func behaviourKeys(m map[scenarios.Behaviour]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[string(k)] = v
	}
	return out
}

const reproAbout = `
Replay a run from its repro line, exactly as a failing run or a CI job
printed it: the whole line is accepted, with or without a leading "repro:"
(and anything before it, such as a log prefix) and with the leading
"zoosim run". The line is parsed like run's arguments and the run is
printed as run prints it.

Flags given before LINE (--json, --trace, --save-history, --viz,
--check-timeout, ...) are added to the line's and win over them.

  zoosim repro "repro: zoosim run --scenario standard --seed 42"
  zoosim repro --trace t.log zoosim run --scenario standard --seed 42

Exit status: as run.`

func cmdRepro(args []string, stdout, stderr io.Writer) int {
	// Parse repro's own flags (the run flags) up to the line, then the line
	// with those flags appended, so that the command line wins.
	front := newRunFlags("repro", "zoosim repro [run flags] LINE", reproAbout)
	front.fs.SetOutput(stderr)
	if err := front.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			front.fs.printUsage(stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "run 'zoosim repro --help' for usage\n")
		return exitUsage
	}
	line := front.fs.Args()
	flagArgs := args[:len(args)-len(line)]
	if len(line) == 0 {
		return usageErr(stderr, front.fs, "no repro line given")
	}
	runArgs, err := reproArgs(line)
	if err != nil {
		return usageErr(stderr, front.fs, "%v", err)
	}
	rf := newRunFlags("repro", front.fs.synopsis, reproAbout)
	pos, code, ok := parseFlags(rf.fs, append(runArgs, flagArgs...), stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, rf.fs, "unexpected word %q in the repro line", pos[0])
	}
	if !rf.seed.set {
		return usageErr(stderr, rf.fs, "the repro line has no --seed")
	}
	return rf.execute(stdout, stderr)
}

// reproArgs finds run's arguments in a repro line given as one or more
// words: after "zoosim run" (zoosim may be a path), or after "repro:".
func reproArgs(line []string) ([]string, error) {
	var words []string
	for _, a := range line {
		if !strings.ContainsAny(a, " \t\r\n") {
			words = append(words, a)
			continue
		}
		ws, err := splitWords(a)
		if err != nil {
			return nil, fmt.Errorf("the repro line: %v", err)
		}
		words = append(words, ws...)
	}
	for i, w := range words {
		if w == "run" && (i == 0 || filepath.Base(words[i-1]) == "zoosim") {
			return words[i+1:], nil
		}
		if i > 0 && filepath.Base(words[i-1]) == "zoosim" {
			return nil, fmt.Errorf("only run lines can be replayed, not %q", "zoosim "+w)
		}
	}
	// No "zoosim run": accept "[... repro:] --scenario S --seed N ...".
	for i := len(words) - 1; i >= 0; i-- {
		if strings.HasSuffix(words[i], "repro:") {
			words = words[i+1:]
			break
		}
	}
	if len(words) == 0 || !strings.HasPrefix(words[0], "-") {
		return nil, fmt.Errorf("no \"zoosim run ...\" in the repro line %q", strings.Join(line, " "))
	}
	return words, nil
}
