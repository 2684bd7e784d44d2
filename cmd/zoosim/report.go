package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sync"

	"zoosim/checker"
	"zoosim/report"
	"zoosim/scenarios"
)

const reportAbout = `
Write the HTML report of a sweep from its suite JSON: one file of zoosim
suite --json, or the JSON of every shard of one sweep (zoosim suite --shard
I/N --json), which are merged first exactly as zoosim merge does (and
refused as it refuses them).

The report is one self-contained page (no script, font or picture from the
network): the sweep's counts and identity, a table per scenario, every
failure with its repro line, every harness error and inconclusive run, and
the first --max-details failures replayed in full from their repro lines,
each with its timeline (latencies, throughput, faults, the leader and every
server's role), its checkers' explanations and the ops they point at, and,
for a linearizability violation, porcupine's visualization. A replay whose
trace hash differs from the one the sweep recorded (another build of
zoosim) says so in the report.

The page goes to stdout, or to --html FILE.

  zoosim suite --suite nightly --shard 3/8 --json > shard-3.json   # on each machine
  zoosim report shard-*.json --html nightly.html

Exit status: as zoosim merge's for the sweep (2 for a harness error in any
run, 1 for a violation or inconclusive runs beyond the budget, 0
otherwise), and 2 for bad usage or files that do not belong together.`

// defaultMaxDetails is how many failures a suite report replays in full.
const defaultMaxDetails = 20

func cmdReport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("report", "zoosim report [--html FILE] [--max-details N] [--parallel P] SUITE.json...", reportAbout)
	htmlPath := fs.String("html", "", "write the page to `FILE` (default: stdout)")
	maxDetails := &countFlag{n: defaultMaxDetails, min: 0, max: 1000}
	fs.Var(maxDetails, "max-details", fmt.Sprintf("replay at most `N` failures in full, 0..1000 (default %d)", defaultMaxDetails))
	parallel := &countFlag{n: min(runtime.NumCPU(), scenarios.MaxParallel), min: 1, max: scenarios.MaxParallel}
	fs.Var(parallel, "parallel", "replay `P` failures at a time (default: the number of CPUs)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	files, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(files) == 0 {
		return usageErr(stderr, fs, "no suite JSON files given")
	}
	var parts []suitePart
	for _, path := range files {
		part, err := readSuiteJSON(path)
		if err != nil {
			return inputErr(stderr, fs, err)
		}
		parts = append(parts, suitePart{path: path, res: part})
	}
	sweep := parts[0].res
	if len(parts) > 1 || sweep.Shard != "1/1" {
		merged, err := mergeSuites(parts)
		if err != nil {
			return inputErr(stderr, fs, err)
		}
		sweep = merged
	}
	out := stdout
	page, err := createHTML(*htmlPath)
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	rep := suiteReport(sweep, maxDetails.n, parallel.n, progressWriter(stderr, *quiet))
	if len(files) > 1 {
		rep.Identity = append(rep.Identity, [2]string{"merged from", fmt.Sprintf("%d shard files", len(files))})
	}
	if page != nil {
		err = page.write(func(w *bufio.Writer) error { return report.WriteSuite(w, rep) })
	} else {
		w := bufio.NewWriter(out)
		if err = report.WriteSuite(w, rep); err == nil {
			err = w.Flush()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		return exitUsage
	}
	code, why := sweep.exitCode()
	if why != "" {
		fmt.Fprintf(stderr, "%s: %s\n", fs.Name(), why)
	}
	return code
}

func progressWriter(stderr io.Writer, quiet bool) io.Writer {
	if quiet {
		return io.Discard
	}
	return stderr
}

// suiteReport turns a sweep's JSON into its report, replaying up to
// maxDetails of its failures (violations first, then harness errors), P at
// a time.
func suiteReport(sw suiteResultJSON, maxDetails, parallel int, progress io.Writer) report.Suite {
	title := "zoosim suite " + sw.Suite
	if sw.Corpus != "" {
		title = "zoosim corpus"
	}
	ov, _ := json.Marshal(sw.Overrides)
	rep := report.Suite{Title: title, WallMs: sw.WallMs, Identity: [][2]string{
		{"suite", sw.Suite},
		{"seeds", fmt.Sprintf("%d per scenario from seed %d", sw.Seeds, sw.FirstSeed)},
		{"shard", sw.Shard},
		{"overrides", string(ov)},
		{"engine", sw.Engine},
		{"max inconclusive", fmt.Sprint(sw.MaxInconclusive)},
		{"zoosim version", sw.ZoosimVersion},
	}}
	if sw.Corpus != "" {
		rep.Identity[1] = [2]string{"corpus", sw.Corpus}
	}
	if v := version(); v != sw.ZoosimVersion {
		rep.Identity = append(rep.Identity, [2]string{"replayed by", v + " (another build: replays may differ)"})
	}
	repro := map[scenarios.RunID]string{}
	errs := map[scenarios.RunID]string{}
	for _, f := range sw.Failures {
		repro[scenarios.RunID{Scenario: f.Scenario, Engine: f.Engine, Seed: f.Seed}] = f.Repro
	}
	for _, e := range sw.HarnessErrors {
		id := scenarios.RunID{Scenario: e.Scenario, Engine: e.Engine, Seed: e.Seed}
		repro[id], errs[id] = e.Repro, e.Error
	}
	var todo []replayJob
	failures := 0
	for _, r := range sw.Results {
		id := scenarios.RunID{Scenario: r.Scenario, Engine: r.Engine, Seed: r.Seed}
		rep.Runs = append(rep.Runs, report.SuiteRun{Scenario: r.Scenario, Seed: r.Seed, Engine: r.Engine,
			Verdict: r.Verdict, TraceHash: r.TraceHash, Repro: repro[id], Err: errs[id]})
		if r.Verdict == checker.VerdictViolation {
			failures++
			if len(todo) < maxDetails {
				todo = append(todo, replayJob{repro: repro[id], hash: r.TraceHash, verdict: r.Verdict})
			}
		}
	}
	for _, r := range sw.Results {
		if r.Verdict == scenarios.VerdictError && len(todo) < maxDetails {
			id := scenarios.RunID{Scenario: r.Scenario, Engine: r.Engine, Seed: r.Seed}
			todo = append(todo, replayJob{repro: repro[id], hash: r.TraceHash, verdict: r.Verdict})
		}
	}
	rep.Omitted = max(failures-maxDetails, 0)
	if len(todo) > 0 {
		fmt.Fprintf(progress, "report: replaying %s for their timelines\n", plural(len(todo), "failure"))
	}
	rep.Details = replayAll(todo, parallel)
	return rep
}

// replayJob is a run to replay from its repro line, with what the sweep
// recorded of it.
type replayJob struct {
	repro   string
	hash    string
	verdict checker.Verdict
}

// replayAll replays the jobs, parallel at a time, and returns their runs in
// the jobs' order (skipping a line that no longer parses).
func replayAll(jobs []replayJob, parallel int) []report.Run {
	runs := make([]report.Run, len(jobs))
	okAt := make([]bool, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range max(min(parallel, len(jobs)), 1) {
		wg.Go(func() {
			for i := range next {
				runs[i], okAt[i] = replay(jobs[i], i)
			}
		})
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	var out []report.Run
	for i, r := range runs {
		if okAt[i] {
			out = append(out, r)
		}
	}
	return out
}

// replay runs a repro line again, as zoosim repro would, and says whether
// it reproduced what the sweep recorded.
func replay(j replayJob, i int) (report.Run, bool) {
	words, err := splitWords(j.repro)
	if err != nil {
		return report.Run{}, false
	}
	args, err := reproArgs(words)
	if err != nil {
		return report.Run{}, false
	}
	rf := newRunFlags("report", "", "")
	if _, _, ok := parseFlags(rf.fs, args, io.Discard, io.Discard); !ok {
		return report.Run{}, false
	}
	sc, opt, _, ok := rf.prepare(io.Discard)
	if !ok || !rf.seed.set {
		return report.Run{}, false
	}
	res, viz, err := runWithViz(sc, rf.seed.seed, opt)
	if err != nil {
		return report.Run{}, false
	}
	r := report.Run{Result: res, Scenario: &sc, Repro: rf.repro(res), Viz: viz, ID: fmt.Sprintf("failure-%d", i+1)}
	switch got := hashText(res.TraceHash); {
	case j.hash == "":
		r.Notes = append(r.Notes, fmt.Sprintf("Replayed from its repro line (trace hash %s).", got))
	case got != j.hash:
		r.Notes = append(r.Notes, fmt.Sprintf("Replayed from its repro line, but the trace hash is %s where the sweep recorded %s: "+
			"this build of zoosim runs it differently, so what follows may not be what the sweep saw.", got, j.hash))
	case res.Verdict != j.verdict:
		r.Notes = append(r.Notes, fmt.Sprintf("Replayed from its repro line with the same trace hash (%s), but the verdict is %s where the sweep "+
			"recorded %s (a check that ran out of wall time?).", got, res.Verdict, j.verdict))
	default:
		r.Notes = append(r.Notes, fmt.Sprintf("Replayed from its repro line: the same trace hash (%s) and verdict as in the sweep.", got))
	}
	return r, true
}

// writeSuiteHTML writes a finished sweep's report to the --html file of
// suite.
func writeSuiteHTML(page *htmlOut, out suiteResultJSON, parallel int, progress io.Writer) error {
	rep := suiteReport(out, defaultMaxDetails, parallel, progress)
	return page.write(func(w *bufio.Writer) error { return report.WriteSuite(w, rep) })
}
