package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

Progress goes to stderr: a bar when stderr is a terminal, otherwise a line
every 10% (and a line for each violation as soon as it is found). Then
stdout gets a table, one row per scenario: runs, ok, violations,
inconclusive, ops per run, seeds per minute and wall time (a scenario's
wall time is the sum of its runs' wall times, so its seeds per minute are
per worker; the total row is elapsed time with every worker), and then
every failure with its repro line.

--shard I/N runs only every N-th run of the sweep, starting with the I-th
(the runs are numbered in suite order, scenario by scenario, seed by seed),
so that N machines of a batch runner (a CI matrix, Kubernetes Indexed Jobs
with I = JOB_COMPLETION_INDEX+1) together run the whole sweep exactly once.
Save each shard's --json output and join them with zoosim merge.

With --json, one object on stdout:
  {"suite","runs","ok","violations","inconclusive",
   "failures":[{"scenario","seed","repro"}],"wall_ms"}

Exit status: 0 no violation (inconclusive runs included, and said), 1 a
violation, 2 bad usage or bad input.`

// suiteResultJSON is suite's (and merge's) --json object.
type suiteResultJSON struct {
	Suite        string        `json:"suite"`
	Runs         int           `json:"runs"`
	OK           int           `json:"ok"`
	Violations   int           `json:"violations"`
	Inconclusive int           `json:"inconclusive"`
	Failures     []failureJSON `json:"failures"`
	WallMs       int64         `json:"wall_ms"`
}

type failureJSON struct {
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed"`
	Repro    string `json:"repro"`
}

func cmdSuite(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("suite", "zoosim suite --suite NAME [--seeds K] [--parallel P] [--shard I/N] [flags]", suiteAbout)
	suiteName := fs.String("suite", "", "the `NAME` of the suite to run (see zoosim list)")
	seeds := fs.Int("seeds", 0, "`K` seeds per scenario (default: the suite's)")
	firstSeed := fs.Uint64("first-seed", 1, "the first seed `N` (>= 1)")
	parallel := fs.Int("parallel", runtime.NumCPU(), "run `P` worlds at a time (default: the number of CPUs)")
	shard, shards := 1, 1
	fs.Func("shard", "run only shard `I/N` of the sweep (1 <= I <= N)", func(s string) error {
		var err error
		shard, shards, err = parseShard(s)
		return err
	})
	ov := addOverrideFlags(fs)
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	switch {
	case len(pos) > 0:
		return usageErr(stderr, fs, "unexpected argument %q", pos[0])
	case *suiteName == "":
		return usageErr(stderr, fs, "--suite is required (see zoosim list)")
	case *seeds < 0:
		return usageErr(stderr, fs, "--seeds must be positive")
	case *firstSeed < 1:
		return usageErr(stderr, fs, "--first-seed must be at least 1")
	case *parallel < 1:
		return usageErr(stderr, fs, "--parallel must be at least 1")
	}
	suite, err := scenarios.LookupSuite(*suiteName)
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	opt, err := ov.options()
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	perScenario := *seeds
	if perScenario == 0 {
		perScenario = suite.Seeds
	}
	total := len(suite.Scenarios) * perScenario
	prog := newProgress(stderr, suite.Name, *quiet)
	if shards > 1 && !*quiet {
		fmt.Fprintf(stderr, "suite %s: shard %d/%d of %d runs\n", suite.Name, shard, shards, total)
	}
	res, err := scenarios.RunSuite(suite, scenarios.SuiteOptions{Seeds: perScenario, FirstSeed: *firstSeed,
		Parallel: *parallel, Shard: shard, Shards: shards, Overrides: ov.overrides(), Options: opt,
		Progress: prog.update})
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	prog.finish()

	code = exitOK
	if res.Violations > 0 {
		code = exitViolation
	}
	if *asJSON {
		if err := writeJSON(stdout, suiteJSONOf(res)); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
			return exitUsage
		}
		return code
	}
	printSuite(stdout, suite, res, *parallel)
	if shards > 1 {
		fmt.Fprintf(stdout, "this was shard %d/%d: join the shards' --json outputs with zoosim merge\n", shard, shards)
	}
	return code
}

func suiteJSONOf(res *scenarios.SuiteResult) suiteResultJSON {
	out := suiteResultJSON{Suite: res.Suite, Runs: len(res.Runs), OK: res.OK, Violations: res.Violations,
		Inconclusive: res.Inconclusive, Failures: []failureJSON{}, WallMs: res.WallMs}
	for _, f := range res.Failures {
		out.Failures = append(out.Failures, failureJSON{Scenario: f.Scenario, Seed: f.Seed, Repro: f.Repro})
	}
	return out
}

// scenarioRow sums one scenario's runs for the table.
type scenarioRow struct {
	name                          string
	runs, ok, violations, inconcl int
	ops                           int
	wallMs                        int64
}

func printSuite(w io.Writer, suite scenarios.Suite, res *scenarios.SuiteResult, parallel int) {
	rows := map[string]*scenarioRow{}
	var order []string
	for _, r := range res.Runs {
		row := rows[r.Scenario]
		if row == nil {
			row = &scenarioRow{name: r.Scenario}
			rows[r.Scenario] = row
			order = append(order, r.Scenario)
		}
		row.runs++
		row.ops += r.Ops
		row.wallMs += r.WallMs
		switch r.Verdict {
		case checker.VerdictOK:
			row.ok++
		case checker.VerdictInconclusive:
			row.inconcl++
		default:
			row.violations++
		}
	}
	fmt.Fprintf(w, "suite %s: %d runs, %d at a time\n\n", res.Suite, len(res.Runs), parallel)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\truns\tok\tviolations\tinconclusive\tops/run\tseeds/min\twall\t")
	total := scenarioRow{name: "total"}
	for _, name := range order {
		row := rows[name]
		fmt.Fprintln(tw, row.line(row.wallMs))
		total.runs += row.runs
		total.ok += row.ok
		total.violations += row.violations
		total.inconcl += row.inconcl
		total.ops += row.ops
	}
	fmt.Fprintln(tw, total.line(res.WallMs))
	tw.Flush()

	if len(res.Failures) > 0 {
		fmt.Fprintf(w, "\nfailures (%d):\n", len(res.Failures))
		for _, r := range res.Runs {
			if r.Verdict == checker.VerdictOK || r.Verdict == checker.VerdictInconclusive {
				continue
			}
			fmt.Fprintf(w, "  %s seed %d: %s\n", r.Scenario, r.Seed, failedChecks(r))
			if r.Repro != "" {
				fmt.Fprintf(w, "    repro: %s\n", r.Repro)
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
			fmt.Fprintf(w, "  %s seed %d: %s inconclusive\n    repro: %s\n", r.Scenario, r.Seed, checksWith(r.Checks, checker.VerdictInconclusive), r.Repro)
		}
	}
	fmt.Fprintf(w, "\nsuite %s: %d runs, %d ok, %d violations, %d inconclusive\n",
		res.Suite, len(res.Runs), res.OK, res.Violations, res.Inconclusive)
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
	return fmt.Sprintf("%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t", r.name, r.runs, r.ok, r.violations, r.inconcl, opsPerRun, seedsPerMin, wall)
}

// failedChecks names what failed in a run: its violated checkers, or why
// it could not run.
func failedChecks(r scenarios.RunSummary) string {
	if r.Err != "" {
		return "could not run: " + r.Err
	}
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
// violation as soon as it is found, so that a job killed at its time limit
// still shows what it found.
type progress struct {
	w                        io.Writer
	suite                    string
	tty, off                 bool
	start                    time.Time
	violations, inconclusive int
	lastTenth                int
	drawn                    bool
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
	switch r.Verdict {
	case checker.VerdictOK:
	case checker.VerdictInconclusive:
		p.inconclusive++
	default:
		p.violations++
	}
	if p.off {
		return
	}
	if r.Verdict != checker.VerdictOK && r.Verdict != checker.VerdictInconclusive {
		if p.tty {
			fmt.Fprint(p.w, "\r\033[K")
		}
		fmt.Fprintf(p.w, "violation: %s seed %d: %s\n", r.Scenario, r.Seed, failedChecks(*r))
		if r.Repro != "" {
			fmt.Fprintf(p.w, "  repro: %s\n", r.Repro)
		}
	}
	elapsed := time.Since(p.start)
	if p.tty {
		const width = 30
		filled := width * done / total
		eta := "-"
		if done > 0 && done < total {
			eta = (elapsed / time.Duration(done) * time.Duration(total-done)).Round(time.Second).String()
		}
		fmt.Fprintf(p.w, "\r\033[K[%s%s] %d/%d %3d%%  %d violations  %d inconclusive  %s elapsed, eta %s",
			strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total, 100*done/total,
			p.violations, p.inconclusive, elapsed.Round(time.Second), eta)
		p.drawn = true
		return
	}
	if tenth := 10 * done / total; tenth > p.lastTenth || done == total {
		p.lastTenth = tenth
		fmt.Fprintf(p.w, "suite %s: %d/%d runs (%d%%), %d violations, %d inconclusive, %s\n",
			p.suite, done, total, 100*done/total, p.violations, p.inconclusive, elapsed.Round(time.Millisecond))
	}
}

func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

const mergeAbout = `
Join the --json outputs of the shards of one suite (zoosim suite --shard I/N
--json) into one suite JSON object, printed on stdout, with the same schema:
runs, ok, violations and inconclusive are summed, the failures are
concatenated in suite order (scenario by scenario as the suite lists them,
then by seed), and wall_ms is the longest shard's (the shards ran side by
side).

The files must all be of the same suite; the same failing run in two files
(a shard merged twice) is an error. A one-line summary goes to stderr.

Exit status: 0 no violation in the merged result, 1 a violation, 2 bad
usage or a bad file.`

func cmdMerge(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("merge", "zoosim merge FILE...", mergeAbout)
	files, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(files) == 0 {
		return usageErr(stderr, fs, "no files to merge")
	}
	var parts []suiteResultJSON
	for _, path := range files {
		part, err := readSuiteJSON(path)
		if err != nil {
			return inputErr(stderr, fs, err)
		}
		parts = append(parts, part)
	}
	merged, err := mergeSuites(parts)
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	if err := writeJSON(stdout, merged); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "merged %d files of suite %s: %d runs, %d ok, %d violations, %d inconclusive\n",
		len(files), merged.Suite, merged.Runs, merged.OK, merged.Violations, merged.Inconclusive)
	if merged.Violations > 0 {
		return exitViolation
	}
	return exitOK
}

// readSuiteJSON reads one suite result and checks that it is one: every
// key present, the counts adding up.
func readSuiteJSON(path string) (suiteResultJSON, error) {
	var out suiteResultJSON
	b, err := os.ReadFile(path)
	if err != nil {
		return out, err
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return out, fmt.Errorf("%s: not a suite result: %v", path, err)
	}
	for _, k := range []string{"suite", "runs", "ok", "violations", "inconclusive", "failures", "wall_ms"} {
		if _, ok := keys[k]; !ok {
			return out, fmt.Errorf("%s: not a suite result: no %q", path, k)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&out); err != nil {
		return out, fmt.Errorf("%s: not a suite result: %v", path, err)
	}
	switch {
	case out.Runs < 0 || out.OK < 0 || out.Violations < 0 || out.Inconclusive < 0 || out.WallMs < 0:
		return out, fmt.Errorf("%s: negative counts", path)
	case out.OK+out.Violations+out.Inconclusive != out.Runs:
		return out, fmt.Errorf("%s: ok %d + violations %d + inconclusive %d != runs %d", path, out.OK, out.Violations, out.Inconclusive, out.Runs)
	case len(out.Failures) != out.Violations:
		return out, fmt.Errorf("%s: %d failures listed for %d violations", path, len(out.Failures), out.Violations)
	}
	return out, nil
}

// mergeSuites joins shard results. The failures come out in the order an
// unsharded run lists them: the suite's scenario order, then the seed.
func mergeSuites(parts []suiteResultJSON) (suiteResultJSON, error) {
	out := suiteResultJSON{Suite: parts[0].Suite, Failures: []failureJSON{}}
	for _, p := range parts {
		if p.Suite != out.Suite {
			return out, fmt.Errorf("the files are of different suites (%q and %q)", out.Suite, p.Suite)
		}
		out.Runs += p.Runs
		out.OK += p.OK
		out.Violations += p.Violations
		out.Inconclusive += p.Inconclusive
		out.WallMs = max(out.WallMs, p.WallMs)
		out.Failures = append(out.Failures, p.Failures...)
	}
	rank := map[string]int{}
	if suite, err := scenarios.LookupSuite(out.Suite); err == nil {
		for i, name := range suite.Scenarios {
			rank[name] = i + 1
		}
	}
	slices.SortStableFunc(out.Failures, func(a, b failureJSON) int {
		ra, rb := rank[a.Scenario], rank[b.Scenario]
		switch {
		case ra != rb && ra != 0 && rb != 0:
			return ra - rb
		case ra != rb: // names the suite does not list go last
			return rb - ra
		case a.Scenario != b.Scenario:
			return strings.Compare(a.Scenario, b.Scenario)
		case a.Seed != b.Seed:
			if a.Seed < b.Seed {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Repro, b.Repro)
	})
	for i := 1; i < len(out.Failures); i++ {
		if out.Failures[i] == out.Failures[i-1] {
			f := out.Failures[i]
			return out, errors.New("the same failing run (" + f.Scenario + " seed " + fmt.Sprint(f.Seed) + ") is in two files: a shard merged twice?")
		}
	}
	return out, nil
}
