package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"zoosim/checker"
	"zoosim/scenarios"
)

const suiteAbout = `
Run every scenario of a suite for K seeds each (seeds first-seed,
first-seed+1, ...), P worlds at a time. Worlds share nothing, so every run
is as deterministic as it is alone.

Progress goes to stderr: a live bar with the rate and the time left when
stderr is a terminal, otherwise a line every 10% (and a line for each violation or harness error as soon as it is
found). Then stdout gets a table, one row per scenario (per engine and
scenario when the sweep runs several engines): runs, ok,
violations, inconclusive, harness errors, ops per run, seeds per minute and
wall time (a scenario's wall time is the sum of its runs' wall times, so
its seeds per minute are per worker; the total row is elapsed time with
every worker), and then every failure with its repro line.

--shard I/N runs only every N-th run of the sweep, starting with the I-th
(the runs are numbered in suite order: engine by engine when the suite runs
several, as ci runs zab and raft, then scenario by scenario, seed by seed),
so that N machines of a batch runner (a CI matrix, Kubernetes Indexed Jobs
with I = JOB_COMPLETION_INDEX+1) together run the whole sweep exactly once.
Save each shard's --json output and join them with zoosim merge.

--html FILE writes the sweep's report (zoosim report writes the same from
suite JSON, merged shards included): the table, every failure with its
repro line, and the first failures replayed with their timelines,
checkers' explanations and porcupine's visualization.

--corpus FILE runs a regression corpus instead of a suite: every entry's
scenario, seed and overrides exactly (see corpus/regressions.json), with a
table of what each entry found and whether it has its expected verdict.
It takes no seeds, shard or overrides.

A harness error is a run zoosim itself could not carry out or judge: it is
a bug in zoosim, never counted as a violation of the service.

With --json, one object on stdout:
  {"format":"zoosim-suite","format_version","zoosim_version","suite",
   "corpus","seeds","first_seed","shard":"I/N","overrides","engine",
   "max_inconclusive","runs","ok","violations","inconclusive","errors",
   "unexpected","failures":[{"scenario","seed","engine","repro"}],
   "harness_errors":[{"scenario","seed","engine","error","repro"}],
   "results":[{"scenario","seed","engine","verdict","trace_hash","unchecked"}],"wall_ms"}
The fields up to max_inconclusive identify the sweep: zoosim merge joins
only shards that agree on all of them. results lists every run in sweep
order; verdict is "ok", "violation", "inconclusive" or "error". corpus is
the corpus file's SHA-256 ("" for a suite); unexpected counts the corpus
entries without their expected verdict.

Exit status: 2 bad usage, bad input or a harness error in any run; else 1
a violation (with --corpus: an entry without its expected verdict) or more
inconclusive runs than --max-inconclusive; else 0.`

const (
	suiteFormat        = "zoosim-suite"
	suiteFormatVersion = 2
	// maxSuiteFileBytes bounds what merge reads of one file (a shard of
	// the largest sweep scenarios.MaxSeeds allows stays below it).
	maxSuiteFileBytes = 512 << 20
)

// suiteResultJSON is suite's (and merge's) --json object.
type suiteResultJSON struct {
	Format          string              `json:"format"`
	FormatVersion   int                 `json:"format_version"`
	ZoosimVersion   string              `json:"zoosim_version"`
	Suite           string              `json:"suite"`
	Corpus          string              `json:"corpus"`
	Seeds           int                 `json:"seeds"`
	FirstSeed       uint64              `json:"first_seed"`
	Shard           string              `json:"shard"`
	Overrides       scenarios.Overrides `json:"overrides"`
	Engine          string              `json:"engine"`
	MaxInconclusive int                 `json:"max_inconclusive"`
	Runs            int                 `json:"runs"`
	OK              int                 `json:"ok"`
	Violations      int                 `json:"violations"`
	Inconclusive    int                 `json:"inconclusive"`
	Errors          int                 `json:"errors"`
	Unexpected      int                 `json:"unexpected"`
	Failures        []failureJSON       `json:"failures"`
	HarnessErrors   []harnessErrorJSON  `json:"harness_errors"`
	Results         []resultJSON        `json:"results"`
	WallMs          int64               `json:"wall_ms"`
}

type failureJSON struct {
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed"`
	Engine   string `json:"engine"`
	Repro    string `json:"repro"`
}

type harnessErrorJSON struct {
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed"`
	Engine   string `json:"engine"`
	Error    string `json:"error"`
	Repro    string `json:"repro"`
}

type resultJSON struct {
	Scenario  string          `json:"scenario"`
	Seed      uint64          `json:"seed"`
	Engine    string          `json:"engine"`
	Verdict   checker.Verdict `json:"verdict"`
	TraceHash string          `json:"trace_hash"`
	// Unchecked: ops the checkers drew no conclusion about (the run's
	// report says why).
	Unchecked int `json:"unchecked"`
}

// sweep is a suite or corpus run: what identifies it (as its JSON
// records it) and how to run it.
type sweep struct {
	// Identity.
	suite, corpus   string // corpus: the corpus file's digest, "" for a suite
	seeds           int
	firstSeed       uint64
	shard, shards   int
	overrides       scenarios.Overrides
	engine          string
	maxInconclusive int

	// How to run it.
	suiteDef      scenarios.Suite
	corpusPath    string
	corpusEntries []scenarios.CorpusEntry
	parallel      int
	opt           scenarios.Options
}

func cmdSuite(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("suite", "zoosim suite (--suite NAME | --corpus FILE) [--seeds K] [--parallel P] [--shard I/N] [flags]", suiteAbout)
	suiteName := fs.String("suite", "", "the `NAME` of the suite to run (see zoosim list)")
	corpusPath := fs.String("corpus", "", "run the regression corpus in `FILE` instead of a suite")
	seeds := &countFlag{min: 1, max: scenarios.MaxSeeds}
	fs.Var(seeds, "seeds", fmt.Sprintf("`K` seeds per scenario, 1..%d (default: the suite's)", scenarios.MaxSeeds))
	var firstSeed seedFlag
	fs.Var(&firstSeed, "first-seed", "the first seed `N` (>= 1; default 1)")
	parallel := &countFlag{n: min(runtime.NumCPU(), scenarios.MaxParallel), min: 1, max: scenarios.MaxParallel}
	fs.Var(parallel, "parallel", fmt.Sprintf("run `P` worlds at a time, 1..%d (default: the number of CPUs)", scenarios.MaxParallel))
	shard, shards := 1, 1
	fs.Func("shard", "run only shard `I/N` of the sweep (1 <= I <= N)", func(s string) error {
		var err error
		shard, shards, err = parseShard(s)
		return err
	})
	maxInconclusive := &countFlag{n: 0, min: -1, max: math.MaxInt32}
	fs.Var(maxInconclusive, "max-inconclusive", "fail (exit 1) when more than `N` runs are inconclusive; -1: no limit (default 0)")
	ov := addOverrideFlags(fs)
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	htmlPath := fs.String("html", "", "write the sweep's HTML report (table, failures with timelines, porcupine's visualization) to `FILE`")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	switch {
	case len(pos) > 0:
		return usageErr(stderr, fs, "unexpected argument %q", pos[0])
	case *suiteName == "" && *corpusPath == "":
		return usageErr(stderr, fs, "--suite or --corpus is required (see zoosim list)")
	case *suiteName != "" && *corpusPath != "":
		return usageErr(stderr, fs, "--suite and --corpus are exclusive")
	case *corpusPath != "" && (seeds.set || firstSeed.set || shards > 1 || !ov.overrides().IsZero()):
		return usageErr(stderr, fs, "--corpus replays exact runs: it takes no --seeds, --first-seed, --shard or overrides")
	}
	opt, err := ov.options()
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	sw := sweep{shard: shard, shards: shards, overrides: ov.overrides(), engine: ov.engine,
		maxInconclusive: maxInconclusive.n, parallel: parallel.n, opt: opt}
	var total int
	if *corpusPath != "" {
		b, c, err := readCorpusFile(*corpusPath)
		if err != nil {
			return inputErr(stderr, fs, err)
		}
		sw.suite, sw.corpus, sw.corpusPath, sw.corpusEntries = "corpus", corpusDigest(b), *corpusPath, c.Entries
		total = len(c.Entries)
		var scs []scenarios.Scenario
		for _, e := range c.Entries {
			sc, _ := e.Resolve() // ReadCorpus resolved every entry
			scs = append(scs, sc)
		}
		sw.engine = sweepEngine(scs)
	} else {
		suite, err := scenarios.LookupSuite(*suiteName)
		if err != nil {
			return inputErr(stderr, fs, err)
		}
		sw.suite, sw.suiteDef, sw.seeds, sw.firstSeed = suite.Name, suite, suite.Seeds, 1
		if seeds.set {
			sw.seeds = seeds.n
		}
		if firstSeed.set {
			sw.firstSeed = firstSeed.seed
		}
		// Plan the sweep now, so that every mistake shows before a run starts.
		runs, err := scenarios.SuiteRuns(suite, sw.suiteOptions())
		if err != nil {
			return inputErr(stderr, fs, err)
		}
		total = len(runs)
		scs, _ := suite.Resolved(sw.overrides) // SuiteRuns resolved every scenario
		sw.engine = sweepEngine(scs)
	}
	if err := ov.makeVizDir(); err != nil {
		return inputErr(stderr, fs, err)
	}
	page, err := createHTML(*htmlPath)
	if err != nil {
		return inputErr(stderr, fs, err)
	}

	prog := newProgress(stderr, sw.suite, *quiet)
	if shards > 1 && !*quiet {
		fmt.Fprintf(stderr, "suite %s: shard %d/%d, %d runs\n", sw.suite, shard, shards, total)
	}
	so := sw.suiteOptions()
	so.Progress = prog.update
	var res *scenarios.SuiteResult
	if sw.corpusEntries != nil {
		so.Seeds, so.FirstSeed, so.Shard, so.Shards = 0, 0, 0, 0
		res, err = scenarios.RunCorpus(scenarios.Corpus{Entries: sw.corpusEntries}, so)
	} else {
		res, err = scenarios.RunSuite(sw.suiteDef, so)
	}
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	prog.finish()

	out := sw.resultJSON(res)
	code, why := out.exitCode()
	if page != nil {
		if err := writeSuiteHTML(page, out, sw.parallel, progressWriter(stderr, *quiet)); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
			code = max(code, exitUsage)
		}
	}
	if *asJSON {
		if err := writeJSON(stdout, out); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
			return exitUsage
		}
	} else {
		if sw.corpusEntries != nil {
			printCorpus(stdout, sw.corpusPath, sw.corpusEntries, res, sw.parallel)
		} else {
			printSuite(stdout, res, sw.parallel)
		}
		if shards > 1 {
			fmt.Fprintf(stdout, "this was shard %d/%d: join the shards' --json outputs with zoosim merge\n", shard, shards)
		}
	}
	if why != "" {
		fmt.Fprintf(stderr, "%s: %s\n", fs.Name(), why)
	}
	return code
}

func (sw sweep) suiteOptions() scenarios.SuiteOptions {
	return scenarios.SuiteOptions{Seeds: sw.seeds, FirstSeed: sw.firstSeed, Parallel: sw.parallel,
		Shard: sw.shard, Shards: sw.shards, Overrides: sw.overrides, Options: sw.opt}
}

func readCorpusFile(path string) ([]byte, scenarios.Corpus, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, scenarios.Corpus{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, scenarios.MaxCorpusBytes+1))
	if err != nil {
		return nil, scenarios.Corpus{}, err
	}
	c, err := scenarios.ReadCorpus(bytes.NewReader(b))
	if err != nil {
		return nil, scenarios.Corpus{}, fmt.Errorf("%s: %w", path, err)
	}
	return b, c, nil
}

func corpusDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// resultJSON is the sweep's --json object.
func (sw sweep) resultJSON(res *scenarios.SuiteResult) suiteResultJSON {
	out := suiteResultJSON{Format: suiteFormat, FormatVersion: suiteFormatVersion, ZoosimVersion: version(),
		Suite: sw.suite, Corpus: sw.corpus, Seeds: sw.seeds, FirstSeed: sw.firstSeed,
		Shard: fmt.Sprintf("%d/%d", sw.shard, sw.shards), Overrides: sw.overrides, Engine: sw.engine,
		MaxInconclusive: sw.maxInconclusive, Runs: len(res.Runs), OK: res.OK, Violations: res.Violations,
		Inconclusive: res.Inconclusive, Errors: res.Errors, Unexpected: res.Unexpected,
		Failures: []failureJSON{}, HarnessErrors: []harnessErrorJSON{}, Results: []resultJSON{}, WallMs: res.WallMs}
	for _, r := range res.Runs {
		out.Results = append(out.Results, resultJSON{Scenario: r.Scenario, Seed: r.Seed, Engine: r.Engine,
			Verdict: r.Verdict, TraceHash: hashText(r.TraceHash), Unchecked: r.Unchecked})
		switch r.Verdict {
		case checker.VerdictViolation:
			out.Failures = append(out.Failures, failureJSON{Scenario: r.Scenario, Seed: r.Seed, Engine: r.Engine, Repro: r.Repro})
		case scenarios.VerdictError:
			out.HarnessErrors = append(out.HarnessErrors, harnessErrorJSON{Scenario: r.Scenario, Seed: r.Seed, Engine: r.Engine, Error: r.Err, Repro: r.Repro})
		}
	}
	return out
}

// sweepEngine is the engines a sweep's scenarios run with, in the order
// the sweep first runs them, joined by commas ("zab", or "zab,raft" for a
// suite that runs both). It is the sweep's, not a shard's: every shard of
// one sweep says the same.
func sweepEngine(scs []scenarios.Scenario) string {
	var engines []string
	for _, sc := range scs {
		if !slices.Contains(engines, sc.Engine) {
			engines = append(engines, sc.Engine)
		}
	}
	return strings.Join(engines, ",")
}

// exitCode is the exit status a sweep's result calls for, and why when it
// is not 0.
func (r suiteResultJSON) exitCode() (int, string) {
	switch {
	case r.Errors > 0:
		return exitHarness, fmt.Sprintf("%s: the harness failed (a bug in zoosim, not in the service); those runs have no verdict",
			plural(r.Errors, "harness error"))
	case r.Corpus != "" && r.Unexpected > 0:
		return exitViolation, fmt.Sprintf("%d corpus entries do not have their expected verdict", r.Unexpected)
	case r.Corpus == "" && r.Violations > 0:
		return exitViolation, ""
	case r.MaxInconclusive >= 0 && r.Inconclusive > r.MaxInconclusive:
		return exitViolation, fmt.Sprintf("%d inconclusive runs, more than --max-inconclusive %d allows", r.Inconclusive, r.MaxInconclusive)
	}
	return exitOK, ""
}

// scenarioRow sums one scenario's runs for the table.
type scenarioRow struct {
	name                                  string
	runs, ok, violations, inconcl, errors int
	ops, unchecked                        int
	wallMs                                int64
}

func (r *scenarioRow) add(s scenarios.RunSummary) {
	r.runs++
	r.ops += s.Ops
	r.unchecked += s.Unchecked
	r.wallMs += s.WallMs
	switch s.Verdict {
	case checker.VerdictOK:
		r.ok++
	case checker.VerdictInconclusive:
		r.inconcl++
	case checker.VerdictViolation:
		r.violations++
	default:
		r.errors++
	}
}

const tableHeader = "runs\tok\tviolations\tinconclusive\terrors\tops/run\tunchecked\tseeds/min\twall\t"

func printSuite(w io.Writer, res *scenarios.SuiteResult, parallel int) {
	engines := map[string]bool{}
	for _, r := range res.Runs {
		engines[r.Engine] = true
	}
	rows := map[string]*scenarioRow{}
	var order []string
	for _, r := range res.Runs {
		name := r.Scenario
		if len(engines) > 1 { // a row per engine and scenario
			name = r.Engine + " " + r.Scenario
		}
		row := rows[name]
		if row == nil {
			row = &scenarioRow{name: name}
			rows[name] = row
			order = append(order, name)
		}
		row.add(r)
	}
	fmt.Fprintf(w, "suite %s: %d runs, %d at a time\n\n", res.Suite, len(res.Runs), parallel)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\t"+tableHeader)
	total := scenarioRow{name: "total"}
	for _, name := range order {
		row := rows[name]
		fmt.Fprintln(tw, row.line(row.wallMs))
		total.runs += row.runs
		total.ok += row.ok
		total.violations += row.violations
		total.inconcl += row.inconcl
		total.errors += row.errors
		total.ops += row.ops
		total.unchecked += row.unchecked
	}
	fmt.Fprintln(tw, total.line(res.WallMs))
	tw.Flush()
	printOutcomes(w, res)
}

// printOutcomes lists a sweep's violations, harness errors and
// inconclusive runs with their repro lines, and the summary line.
func printOutcomes(w io.Writer, res *scenarios.SuiteResult) {
	if res.Violations > 0 {
		fmt.Fprintf(w, "\nfailures (%d):\n", res.Violations)
		for _, r := range res.Runs {
			if r.Verdict != checker.VerdictViolation {
				continue
			}
			fmt.Fprintf(w, "  %s seed %d on %s: %s\n", r.Scenario, r.Seed, r.Engine, failedChecks(r))
			if r.Repro != "" {
				fmt.Fprintf(w, "    repro: %s\n", r.Repro)
			}
		}
	}
	if res.Errors > 0 {
		fmt.Fprintf(w, "\nharness errors (%d; bugs in zoosim, not violations of the service):\n", res.Errors)
		for _, r := range res.Runs {
			if r.Verdict == scenarios.VerdictError {
				fmt.Fprintf(w, "  %s seed %d on %s: %s\n    repro: %s\n", r.Scenario, r.Seed, r.Engine, r.Err, r.Repro)
			}
		}
	}
	if res.Inconclusive > 0 {
		fmt.Fprintf(w, "\ninconclusive (%d; not failures):\n", res.Inconclusive)
		shown := 0
		for _, r := range res.Runs {
			if r.Verdict != checker.VerdictInconclusive {
				continue
			}
			if shown == maxOpsShown {
				fmt.Fprintf(w, "  ... and %d more\n", res.Inconclusive-shown)
				break
			}
			shown++
			fmt.Fprintf(w, "  %s seed %d on %s: %s inconclusive\n    repro: %s\n", r.Scenario, r.Seed, r.Engine, checksWith(r.Checks, checker.VerdictInconclusive), r.Repro)
		}
	}
	fmt.Fprintf(w, "\nsuite %s: %d runs, %d ok, %d violations, %d inconclusive, %d harness errors\n",
		res.Suite, len(res.Runs), res.OK, res.Violations, res.Inconclusive, res.Errors)
}

// printCorpus prints a corpus run: one row per entry with what it once
// found and the verdict it has now.
func printCorpus(w io.Writer, path string, entries []scenarios.CorpusEntry, res *scenarios.SuiteResult, parallel int) {
	fmt.Fprintf(w, "corpus %s: %d entries, %d at a time\n\n", path, len(res.Runs), parallel)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tseed\toverrides\texpect\tverdict\tfixed by\tfound")
	for i, r := range res.Runs {
		e := entries[i]
		ov, _ := json.Marshal(e.Overrides)
		mark := ""
		if r.Unexpected() {
			mark = "  <-- not " + string(r.Expect)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s%s\t%s\t%s\n", r.Scenario, r.Seed, ov, r.Expect, r.Verdict, mark, e.FixedBy, clipText(e.Found, 60))
	}
	tw.Flush()
	if res.Unexpected > 0 {
		fmt.Fprintf(w, "\nentries without their expected verdict (%d):\n", res.Unexpected)
		for _, r := range res.Runs {
			if r.Unexpected() {
				fmt.Fprintf(w, "  %s seed %d: %s, expected %s\n    repro: %s\n", r.Scenario, r.Seed, r.Verdict, r.Expect, r.Repro)
			}
		}
	}
	printOutcomes(w, res)
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func (r scenarioRow) line(wallMs int64) string {
	opsPerRun, seedsPerMin := 0, "-"
	if r.runs > 0 {
		opsPerRun = r.ops / r.runs
	}
	if wallMs > 0 {
		seedsPerMin = fmt.Sprintf("%.1f", float64(r.runs)*60000/float64(wallMs))
	}
	wall := (time.Duration(wallMs) * time.Millisecond).Round(time.Millisecond)
	return fmt.Sprintf("%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t", r.name, r.runs, r.ok, r.violations, r.inconcl, r.errors, opsPerRun,
		r.unchecked, seedsPerMin, wall)
}

// failedChecks names what failed in a run: its violated checkers.
func failedChecks(r scenarios.RunSummary) string {
	if s := checksWith(r.Checks, checker.VerdictViolation); s != "" {
		return s + " violated"
	}
	return "violation"
}

func checksWith(checks map[string]checker.Verdict, v checker.Verdict) string {
	var names []string
	for _, k := range sortedKeys(checks) {
		if checks[k] == v {
			names = append(names, k)
		}
	}
	return strings.Join(names, ", ")
}

// progress reports a suite's progress on stderr: a bar redrawn in place
// on a terminal, a line every 10% elsewhere (CI logs), and a line for each
// violation or harness error as soon as it is found, so that a job killed
// at its time limit still shows what it found.
type progress struct {
	w                                io.Writer
	suite                            string
	tty, off                         bool
	start                            time.Time
	violations, inconclusive, errors int
	lastTenth                        int
	bar                              *termBar // on a terminal
}

func newProgress(w io.Writer, suite string, off bool) *progress {
	return &progress{w: w, suite: suite, tty: isTerminal(w), off: off, start: time.Now()}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// update is RunSuite's Progress callback; RunSuite serializes the calls.
func (p *progress) update(done, total int, r *scenarios.RunSummary) {
	var line string
	switch r.Verdict {
	case checker.VerdictOK:
	case checker.VerdictInconclusive:
		p.inconclusive++
	case checker.VerdictViolation:
		p.violations++
		line = fmt.Sprintf("violation: %s seed %d on %s: %s", r.Scenario, r.Seed, r.Engine, failedChecks(*r))
	default:
		p.errors++
		line = fmt.Sprintf("harness error (not a violation): %s seed %d on %s: %s", r.Scenario, r.Seed, r.Engine, r.Err)
	}
	if p.off {
		return
	}
	if p.tty {
		if p.bar == nil {
			p.bar = newTermBar(p.w, total, "suite "+p.suite)
		}
		if line != "" {
			p.bar.println("%s", line)
			if r.Repro != "" {
				p.bar.println("  repro: %s", r.Repro)
			}
		}
		p.bar.set(done, fmt.Sprintf("suite %s: %d violations, %d inconclusive, %d errors", p.suite, p.violations, p.inconclusive, p.errors))
		return
	}
	if line != "" {
		fmt.Fprintln(p.w, line)
		if r.Repro != "" {
			fmt.Fprintf(p.w, "  repro: %s\n", r.Repro)
		}
	}
	elapsed := time.Since(p.start)
	if tenth := 10 * done / total; tenth > p.lastTenth || done == total {
		p.lastTenth = tenth
		fmt.Fprintf(p.w, "suite %s: %d/%d runs (%d%%), %d violations, %d inconclusive, %d harness errors, %s\n",
			p.suite, done, total, 100*done/total, p.violations, p.inconclusive, p.errors, elapsed.Round(time.Millisecond))
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.finish()
	}
}

const mergeAbout = `
Join the --json outputs of every shard of one sweep (zoosim suite --shard
I/N --json) into one suite JSON object, printed on stdout, with the same
schema: the results in sweep order (as an unsharded run lists them), the
counts summed, the failures and harness errors in sweep order, shard "1/1"
and wall_ms the longest shard's (the shards ran side by side).

The files must be the shards of one sweep: the same zoosim version, suite,
seeds, first seed, number of shards, overrides, engine and
--max-inconclusive, each shard exactly once and none missing, and each
holding exactly the runs its shard of the sweep has. Anything else is
refused with exit status 2. A one-line summary goes to stderr.

Exit status: as suite's for the merged sweep (2 for a harness error in any
run, 1 for a violation or inconclusive runs beyond the budget, 0
otherwise), and 2 for bad usage or files that do not belong together.`

func cmdMerge(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("merge", "zoosim merge FILE...", mergeAbout)
	files, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(files) == 0 {
		return usageErr(stderr, fs, "no files to merge")
	}
	var parts []suitePart
	for _, path := range files {
		part, err := readSuiteJSON(path)
		if err != nil {
			return inputErr(stderr, fs, err)
		}
		parts = append(parts, suitePart{path: path, res: part})
	}
	merged, err := mergeSuites(parts)
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	if err := writeJSON(stdout, merged); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "merged %d files of suite %s: %d runs, %d ok, %d violations, %d inconclusive, %d harness errors\n",
		len(files), merged.Suite, merged.Runs, merged.OK, merged.Violations, merged.Inconclusive, merged.Errors)
	code, why := merged.exitCode()
	if why != "" {
		fmt.Fprintf(stderr, "%s: %s\n", fs.Name(), why)
	}
	return code
}

// suitePart is one file given to merge.
type suitePart struct {
	path string
	res  suiteResultJSON
	// shard, shards are res.Shard parsed.
	shard, shards int
}

// readSuiteJSON reads one suite result strictly and checks that it is one:
// this format and version, every key present and no other, nothing after
// the object, a valid shard, and counts, failures and harness errors that
// agree with its results.
func readSuiteJSON(path string) (suiteResultJSON, error) {
	var out suiteResultJSON
	f, err := os.Open(path)
	if err != nil {
		return out, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSuiteFileBytes+1))
	if err != nil {
		return out, err
	}
	if len(b) > maxSuiteFileBytes {
		return out, fmt.Errorf("%s: not a suite result: larger than %d bytes", path, maxSuiteFileBytes)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return out, fmt.Errorf("%s: not a suite result: %v", path, err)
	}
	if format, ok := keys["format"]; !ok || string(format) != `"`+suiteFormat+`"` {
		if _, old := keys["suite"]; old && !ok {
			return out, fmt.Errorf("%s: a suite result of an older zoosim, which does not record what identifies its sweep: rerun the shards with this build", path)
		}
		return out, fmt.Errorf("%s: not a suite result: no \"format\": %q", path, suiteFormat)
	}
	for _, k := range []string{"format_version", "zoosim_version", "suite", "corpus", "seeds", "first_seed", "shard",
		"overrides", "engine", "max_inconclusive", "runs", "ok", "violations", "inconclusive", "errors", "unexpected",
		"failures", "harness_errors", "results", "wall_ms"} {
		if _, ok := keys[k]; !ok {
			return out, fmt.Errorf("%s: not a suite result: no %q", path, k)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return out, fmt.Errorf("%s: not a suite result: %v", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return out, fmt.Errorf("%s: not a suite result: trailing data after the object", path)
	}
	if err := checkSuiteJSON(out); err != nil {
		return out, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// checkSuiteJSON checks a suite result against itself.
func checkSuiteJSON(r suiteResultJSON) error {
	if r.FormatVersion != suiteFormatVersion {
		return fmt.Errorf("format version %d, this build reads version %d", r.FormatVersion, suiteFormatVersion)
	}
	if _, _, err := parseShard(r.Shard); err != nil {
		return err
	}
	if r.Corpus == "" && (r.Seeds < 1 || r.Seeds > scenarios.MaxSeeds || r.FirstSeed < 1) {
		return fmt.Errorf("seeds %d from %d: want 1..%d seeds from seed 1 on", r.Seeds, r.FirstSeed, scenarios.MaxSeeds)
	}
	if r.Runs != len(r.Results) {
		return fmt.Errorf("runs %d but %d results", r.Runs, len(r.Results))
	}
	var count [4]int // ok, violation, inconclusive, error
	var violations, errs []scenarios.RunID
	for i, res := range r.Results {
		id := scenarios.RunID{Scenario: res.Scenario, Engine: res.Engine, Seed: res.Seed}
		switch res.Verdict {
		case checker.VerdictOK:
			count[0]++
		case checker.VerdictViolation:
			count[1]++
			violations = append(violations, id)
		case checker.VerdictInconclusive:
			count[2]++
		case scenarios.VerdictError:
			count[3]++
			errs = append(errs, id)
		default:
			return fmt.Errorf("result %d: unknown verdict %q", i, res.Verdict)
		}
		if res.Scenario == "" || res.Seed < 1 || !isHashText(res.TraceHash) {
			return fmt.Errorf("result %d: want a scenario, a seed >= 1 and a trace hash of 16 hex digits", i)
		}
	}
	if got := [4]int{r.OK, r.Violations, r.Inconclusive, r.Errors}; got != count {
		return fmt.Errorf("counts ok %d, violations %d, inconclusive %d, errors %d disagree with the results (%d, %d, %d, %d)",
			r.OK, r.Violations, r.Inconclusive, r.Errors, count[0], count[1], count[2], count[3])
	}
	if r.Unexpected < 0 || r.Unexpected > r.Runs || r.Corpus == "" && r.Unexpected != 0 || r.WallMs < 0 {
		return fmt.Errorf("unexpected %d, wall_ms %d: out of range", r.Unexpected, r.WallMs)
	}
	if len(r.Failures) != len(violations) {
		return fmt.Errorf("%d failures listed for %d violations", len(r.Failures), len(violations))
	}
	for i, f := range r.Failures {
		if (scenarios.RunID{Scenario: f.Scenario, Engine: f.Engine, Seed: f.Seed}) != violations[i] {
			return fmt.Errorf("failure %d (%s seed %d) is not the %d-th violation of the results", i, f.Scenario, f.Seed, i+1)
		}
	}
	if len(r.HarnessErrors) != len(errs) {
		return fmt.Errorf("%d harness errors listed for %d error results", len(r.HarnessErrors), len(errs))
	}
	for i, e := range r.HarnessErrors {
		if (scenarios.RunID{Scenario: e.Scenario, Engine: e.Engine, Seed: e.Seed}) != errs[i] {
			return fmt.Errorf("harness error %d (%s seed %d) is not the %d-th error of the results", i, e.Scenario, e.Seed, i+1)
		}
	}
	return nil
}

func isHashText(s string) bool {
	if len(s) != 16 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// mergeSuites joins the shards of one sweep. It refuses files that are not
// shards of the same sweep, a shard given twice, missing shards and a
// shard whose runs are not its share of the sweep. The merged results come
// out in the order an unsharded run lists them.
func mergeSuites(parts []suitePart) (suiteResultJSON, error) {
	first := &parts[0]
	for i := range parts {
		p := &parts[i]
		p.shard, p.shards, _ = parseShard(p.res.Shard) // checked by readSuiteJSON
		if p.res.Corpus != "" {
			return suiteResultJSON{}, fmt.Errorf("%s: a corpus run is never sharded: there is nothing to merge", p.path)
		}
		if diff := sweepDiff(first.res, p.res); diff != "" {
			return suiteResultJSON{}, fmt.Errorf("%s and %s are not shards of the same sweep: %s", first.path, p.path, diff)
		}
	}
	n := first.shards
	byShard := make([]*suitePart, n+1)
	for i := range parts {
		p := &parts[i]
		if prev := byShard[p.shard]; prev != nil {
			return suiteResultJSON{}, fmt.Errorf("shard %s is given twice (%s and %s)", p.res.Shard, prev.path, p.path)
		}
		byShard[p.shard] = p
	}
	var missing []string
	for k := 1; k <= n; k++ {
		if byShard[k] == nil {
			missing = append(missing, fmt.Sprintf("%d/%d", k, n))
		}
	}
	if len(missing) > 0 {
		return suiteResultJSON{}, fmt.Errorf("%d of %d shards missing: %s", len(missing), n, clipText(strings.Join(missing, ", "), 200))
	}
	suite, err := scenarios.LookupSuite(first.res.Suite)
	if err != nil {
		return suiteResultJSON{}, fmt.Errorf("%s: %w", first.path, err)
	}
	total := 0
	for k := 1; k <= n; k++ {
		p := byShard[k]
		want, err := scenarios.SuiteRuns(suite, scenarios.SuiteOptions{Seeds: p.res.Seeds, FirstSeed: p.res.FirstSeed,
			Shard: k, Shards: n, Overrides: p.res.Overrides})
		if err != nil {
			return suiteResultJSON{}, fmt.Errorf("%s: %w", p.path, err)
		}
		if len(want) != len(p.res.Results) {
			return suiteResultJSON{}, fmt.Errorf("%s: shard %d/%d of this sweep has %d runs, the file %d", p.path, k, n, len(want), len(p.res.Results))
		}
		for i, r := range p.res.Results {
			if (scenarios.RunID{Scenario: r.Scenario, Engine: r.Engine, Seed: r.Seed}) != want[i] {
				return suiteResultJSON{}, fmt.Errorf("%s: run %d is %s seed %d, but shard %d/%d of this sweep runs %s seed %d there",
					p.path, i+1, r.Scenario, r.Seed, k, n, want[i].Scenario, want[i].Seed)
			}
		}
		total += len(want)
	}

	out := first.res
	out.Shard = "1/1"
	out.Results = make([]resultJSON, 0, total)
	out.Failures, out.HarnessErrors = []failureJSON{}, []harnessErrorJSON{}
	out.Runs, out.OK, out.Violations, out.Inconclusive, out.Errors, out.WallMs = 0, 0, 0, 0, 0, 0
	failures := map[scenarios.RunID]failureJSON{}
	errs := map[scenarios.RunID]harnessErrorJSON{}
	for _, p := range parts {
		out.WallMs = max(out.WallMs, p.res.WallMs)
		for _, f := range p.res.Failures {
			failures[scenarios.RunID{Scenario: f.Scenario, Engine: f.Engine, Seed: f.Seed}] = f
		}
		for _, e := range p.res.HarnessErrors {
			errs[scenarios.RunID{Scenario: e.Scenario, Engine: e.Engine, Seed: e.Seed}] = e
		}
	}
	// Run i of the sweep is run i/n of shard i%n+1.
	for i := 0; i < total; i++ {
		r := byShard[i%n+1].res.Results[i/n]
		out.Results = append(out.Results, r)
		out.Runs++
		id := scenarios.RunID{Scenario: r.Scenario, Engine: r.Engine, Seed: r.Seed}
		switch r.Verdict {
		case checker.VerdictOK:
			out.OK++
		case checker.VerdictViolation:
			out.Violations++
			out.Failures = append(out.Failures, failures[id])
		case checker.VerdictInconclusive:
			out.Inconclusive++
		default:
			out.Errors++
			out.HarnessErrors = append(out.HarnessErrors, errs[id])
		}
	}
	return out, nil
}

// sweepDiff says how two suite results differ in what identifies their
// sweep ("" if they do not).
func sweepDiff(a, b suiteResultJSON) string {
	_, an, _ := parseShard(a.Shard)
	_, bn, _ := parseShard(b.Shard)
	ao, _ := json.Marshal(a.Overrides)
	bo, _ := json.Marshal(b.Overrides)
	for _, d := range []struct {
		what   string
		av, bv any
	}{
		{"zoosim version", a.ZoosimVersion, b.ZoosimVersion},
		{"suite", a.Suite, b.Suite},
		{"seeds", a.Seeds, b.Seeds},
		{"first seed", a.FirstSeed, b.FirstSeed},
		{"number of shards", an, bn},
		{"overrides", string(ao), string(bo)},
		{"engine", a.Engine, b.Engine},
		{"max inconclusive", a.MaxInconclusive, b.MaxInconclusive},
	} {
		if d.av != d.bv {
			return fmt.Sprintf("%s %v and %v", d.what, d.av, d.bv)
		}
	}
	return ""
}
