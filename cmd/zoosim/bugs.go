package main

import (
	"bufio"
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"zoosim/checker"
	"zoosim/report"
	"zoosim/scenarios"
)

const bugsAbout = `
Without --measure: print the seeded-bug catalog, each bug with the layer
it lives in, the real bug it models, what it does and the scenario meant
to find it. Switch one on in any run with --bug NAME.

With --measure: run the suite once clean and once with each bug switched
on (alone), and print per bug its detection rate (failing runs / runs),
its first failing run (scenario and seed, with its repro line) and the
checkers that fired. The clean row counts false alarms: it must be 0.
--html FILE writes the same as a page: a chart of the rates, the table,
and each bug's first failing run replayed with its timeline and checkers.

With --json:
  {"bugs":[{"name","models","description","scenario","layer"}]}            (catalog)
  {"suite","seeds","first_seed","rows":[{"bug","runs","failing","rate",
    "first_scenario","first_seed","first_repro","checkers":{...}}]}        (--measure)

Exit status: 0, or 1 with --measure when the clean suite has a violation or
a bug goes undetected; 2 bad usage.`

type bugJSON struct {
	Name        string `json:"name"`
	Models      string `json:"models"`
	Description string `json:"description"`
	Scenario    string `json:"scenario"`
	Layer       string `json:"layer"`
}

type bugsJSON struct {
	Bugs []bugJSON `json:"bugs"`
}

func catalogJSON() []bugJSON {
	out := []bugJSON{}
	for _, b := range scenarios.Bugs {
		out = append(out, bugJSON{Name: b.Name, Models: b.Models, Description: b.Description, Scenario: b.Scenario, Layer: b.Layer})
	}
	return out
}

type measureRowJSON struct {
	Bug           string         `json:"bug"`
	Runs          int            `json:"runs"`
	Failing       int            `json:"failing"`
	Errors        int            `json:"errors"`
	Rate          float64        `json:"rate"`
	FirstScenario string         `json:"first_scenario"`
	FirstSeed     uint64         `json:"first_seed"`
	FirstRepro    string         `json:"first_repro"`
	Checkers      map[string]int `json:"checkers"`
	WallMs        int64          `json:"wall_ms"`
}

type measureJSON struct {
	Suite     string           `json:"suite"`
	Seeds     int              `json:"seeds"`
	FirstSeed uint64           `json:"first_seed"`
	Rows      []measureRowJSON `json:"rows"`
}

func cmdBugs(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bugs", "zoosim bugs [--json] | zoosim bugs --measure --suite NAME [--seeds K] [--bug A,B] [flags]", bugsAbout)
	measure := fs.Bool("measure", false, "run the suite with each bug on and print detection rates")
	suiteName := fs.String("suite", "ci", "the `NAME` of the suite --measure runs")
	seeds := fs.Int("seeds", 0, "`K` seeds per scenario (default: the suite's)")
	firstSeed := fs.Uint64("first-seed", 1, "the first seed `N` (>= 1)")
	parallel := fs.Int("parallel", runtime.NumCPU(), "run `P` worlds at a time")
	only := fs.String("bug", "", "measure only these `BUGS` (comma-separated; default: every bug)")
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	htmlPath := fs.String("html", "", "with --measure: write the detection-rate report (table, chart, each bug's first failing run\nwith its timeline) to `FILE`")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	switch {
	case len(pos) > 0:
		return usageErr(stderr, fs, "unexpected argument %q", pos[0])
	case *seeds < 0:
		return usageErr(stderr, fs, "--seeds must be positive")
	case *firstSeed < 1:
		return usageErr(stderr, fs, "--first-seed must be at least 1")
	case *parallel < 1:
		return usageErr(stderr, fs, "--parallel must be at least 1")
	case *htmlPath != "" && !*measure:
		return usageErr(stderr, fs, "--html needs --measure")
	}
	if !*measure {
		if *asJSON {
			return writeOut(stdout, stderr, fs.Name(), bugsJSON{Bugs: catalogJSON()})
		}
		printCatalog(stdout)
		return exitOK
	}
	suite, err := scenarios.LookupSuite(*suiteName)
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	names := scenarios.BugNames
	if *only != "" {
		names = strings.Split(*only, ",")
		for _, n := range names {
			if _, ok := scenarios.LookupBug(n); !ok {
				return usageErr(stderr, fs, "unknown bug %q (known: %s)", n, strings.Join(scenarios.BugNames, ", "))
			}
		}
	}
	page, err := createHTML(*htmlPath)
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	perScenario := *seeds
	if perScenario == 0 {
		perScenario = suite.Seeds
	}
	passes, done := len(names)+1, 0
	start := time.Now()
	opt := scenarios.SuiteOptions{Seeds: perScenario, FirstSeed: *firstSeed, Parallel: *parallel}
	var bar *termBar
	if !*quiet && isTerminal(stderr) {
		// One bar over every run of every pass; each pass's result is
		// printed above it as it ends.
		perPass, err := scenarios.SuiteRuns(suite, opt)
		if err != nil {
			return inputErr(stderr, fs, err)
		}
		bar = newTermBar(stderr, passes*len(perPass), "bugs --measure")
		runs := 0
		opt.Progress = func(int, int, *scenarios.RunSummary) {
			runs++
			bar.set(runs, fmt.Sprintf("bugs --measure: pass %d/%d", min(done+1, passes), passes))
		}
	}
	rows, err := scenarios.MeasureBugs(suite, names, opt, func(m scenarios.BugMeasure) {
		done++
		switch {
		case *quiet:
		case bar != nil:
			bar.println("bugs --measure: %d/%d %s: %d of %d runs fail", done, passes, orNone(m.Bug), m.Failing, m.Runs)
		default:
			fmt.Fprintf(stderr, "bugs --measure: %d/%d %s: %d of %d runs fail (%s)\n", done, passes, orNone(m.Bug),
				m.Failing, m.Runs, time.Since(start).Round(time.Second))
		}
	})
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	code = exitOK
	for _, m := range rows {
		if m.Bug == "" && m.Failing > 0 || m.Bug != "" && m.Failing == 0 || m.Errors > 0 {
			code = exitViolation
		}
	}
	if page != nil {
		rep := bugsReport(suite.Name, perScenario, *firstSeed, rows, time.Since(start).Milliseconds(), *parallel)
		if err := page.write(func(w *bufio.Writer) error { return report.WriteBugs(w, rep) }); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
			code = exitUsage
		}
	}
	if *asJSON {
		out := measureJSON{Suite: suite.Name, Seeds: perScenario, FirstSeed: *firstSeed}
		for _, m := range rows {
			name := m.Bug
			if name == "" {
				name = "(none)"
			}
			out.Rows = append(out.Rows, measureRowJSON{Bug: name, Runs: m.Runs, Failing: m.Failing, Errors: m.Errors,
				Rate: m.Rate(), FirstScenario: m.Scenario, FirstSeed: m.FirstSeed, FirstRepro: m.FirstRepro,
				Checkers: m.Checkers, WallMs: m.WallMs})
		}
		if c := writeOut(stdout, stderr, fs.Name(), out); c != exitOK {
			return c
		}
		return code
	}
	printMeasure(stdout, suite.Name, perScenario, *firstSeed, rows)
	return code
}

// bugsReport is the detection-rate report of rows, with each first failing
// run replayed from its repro line.
func bugsReport(suite string, seeds int, first uint64, rows []scenarios.BugMeasure, wallMs int64, parallel int) report.Bugs {
	rep := report.Bugs{Suite: suite, Seeds: seeds, FirstSeed: first, WallMs: wallMs}
	var jobs []replayJob
	for _, m := range rows {
		r := report.BugRow{Bug: m.Bug, Runs: m.Runs, Failing: m.Failing, Errors: m.Errors, FirstScenario: m.Scenario,
			FirstSeed: m.FirstSeed, FirstRepro: m.FirstRepro, Detail: -1}
		if b, ok := scenarios.LookupBug(m.Bug); ok {
			r.Layer, r.Models, r.Description = b.Layer, b.Models, b.Description
		}
		for _, c := range m.CheckerNames() {
			r.Checkers = append(r.Checkers, report.CheckerCount{Checker: c, Runs: m.Checkers[c]})
		}
		if m.FirstRepro != "" {
			r.Detail = len(jobs)
			jobs = append(jobs, replayJob{repro: m.FirstRepro, verdict: checker.VerdictViolation})
		}
		rep.Rows = append(rep.Rows, r)
	}
	rep.Details = replayAll(jobs, parallel)
	for i := range rep.Rows {
		r := &rep.Rows[i]
		switch {
		case len(rep.Details) != len(jobs): // a line that no longer parses: unlink every row
			r.Detail = -1
		case r.Detail >= 0:
			d := &rep.Details[r.Detail]
			what := "the clean suite's first false alarm"
			if r.Bug != "" {
				what = "the first run that failed with " + r.Bug + " switched on"
			}
			d.Notes = append([]string{"This is " + what + "."}, d.Notes...)
		}
	}
	return rep
}

func writeOut(stdout, stderr io.Writer, name string, v any) int {
	if err := writeJSON(stdout, v); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	return exitOK
}

func printCatalog(w io.Writer) {
	fmt.Fprintf(w, "%d seeded bugs (switch one on with --bug NAME):\n\n", len(scenarios.Bugs))
	for _, b := range scenarios.Bugs {
		fmt.Fprintf(w, "%s  [%s; found by %s]\n  %s\n  models: %s\n\n", b.Name, b.Layer, b.Scenario, b.Description, b.Models)
	}
}

func printMeasure(w io.Writer, suite string, seeds int, first uint64, rows []scenarios.BugMeasure) {
	fmt.Fprintf(w, "detection rates: suite %s, %s per scenario from seed %d\n\n", suite, plural(seeds, "seed"), first)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "bug\truns\tfailing\trate\tfirst failing run\tcheckers\t")
	for _, m := range rows {
		name := m.Bug
		if name == "" {
			name = "(none: false alarms)"
		}
		first := "-"
		if m.FirstRepro != "" {
			first = fmt.Sprintf("%s seed %d", m.Scenario, m.FirstSeed)
		}
		checks := strings.Join(m.CheckerNames(), ",")
		if checks == "" {
			checks = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f%%\t%s\t%s\t\n", name, m.Runs, m.Failing, 100*m.Rate(), first, checks)
	}
	tw.Flush()
	for _, m := range rows {
		if m.Errors > 0 {
			fmt.Fprintf(w, "\n%s: %s could not run", orNone(m.Bug), plural(m.Errors, "run"))
		}
	}
	fmt.Fprintln(w, "\nfirst failing runs:")
	for _, m := range rows {
		if m.FirstRepro != "" {
			fmt.Fprintf(w, "  %s: %s\n", orNone(m.Bug), m.FirstRepro)
		}
	}
}

func orNone(b string) string {
	if b == "" {
		return "(none)"
	}
	return b
}
