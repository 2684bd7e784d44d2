package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"zoosim/checker"
	"zoosim/nemesis"
	"zoosim/scenarios"
)

const shrinkAbout = `
Shrink a failing run: replay the seed's world with fewer and fewer faults,
then with a smaller and smaller per-client operation budget, as long as the
same checker still reports a violation. Every step is itself a
reproducible run.

Prints the checker kept, the minimal fault schedule, the minimal per-client
op budget, the minimal run's violating ops and its repro line. The minimal
schedule is written as JSON to --out (default shrink-SCENARIO-SEED.json in
the working directory), which the repro line names:

  zoosim run --scenario S --seed N --schedule shrink-S-N.json --max-ops K

With --json, one object on stdout:
  {"scenario","seed","checker","runs","schedule_file","schedule","max_ops",
   "ops","explanation","trace_hash","repro"}
(schedule as in the file, ops the violating op IDs, max_ops 0 when the
whole workload was needed).

Exit status: 1 when the run fails and was shrunk (the minimal run is a
violation), 2 for bad usage, bad input, a run that does not fail or one
the harness failed (a harness error is not a violation to shrink).`

type shrinkJSON struct {
	Scenario     string           `json:"scenario"`
	Seed         uint64           `json:"seed"`
	Checker      string           `json:"checker"`
	Runs         int              `json:"runs"`
	ScheduleFile string           `json:"schedule_file"`
	Schedule     nemesis.Schedule `json:"schedule"`
	MaxOps       int              `json:"max_ops"`
	Ops          []int            `json:"ops"`
	Explanation  string           `json:"explanation"`
	TraceHash    string           `json:"trace_hash"`
	Repro        string           `json:"repro"`
}

func cmdShrink(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("shrink", "zoosim shrink --scenario NAME --seed N [--max-runs R] [flags]", shrinkAbout)
	scenario := fs.String("scenario", "", "the `NAME` of the failing run's scenario")
	var seed seedFlag
	fs.Var(&seed, "seed", "the failing run's seed `N`")
	ov := addOverrideFlags(fs)
	maxRuns := fs.Int("max-runs", 200, "give up shrinking after `R` runs")
	out := fs.String("out", "", "write the minimal schedule to `FILE` (default shrink-SCENARIO-SEED.json)")
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	switch {
	case len(pos) > 0:
		return usageErr(stderr, fs, "unexpected argument %q", pos[0])
	case *scenario == "":
		return usageErr(stderr, fs, "--scenario is required")
	case !seed.set:
		return usageErr(stderr, fs, "--seed is required")
	case *maxRuns < 1:
		return usageErr(stderr, fs, "--max-runs must be at least 1")
	}
	sc, err := scenarios.Lookup(*scenario)
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	if sc, err = sc.Apply(ov.overrides()); err != nil {
		return inputErr(stderr, fs, err)
	}
	opt, err := ov.options()
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	if err := ov.makeVizDir(); err != nil {
		return inputErr(stderr, fs, err)
	}
	schedulePath := *out
	if schedulePath == "" {
		schedulePath = fmt.Sprintf("shrink-%s-%d.json", sc.Name, seed.seed)
	}

	fmt.Fprintf(stderr, "shrinking %s seed %d (at most %d runs)...\n", sc.Name, seed.seed, *maxRuns)
	res, err := scenarios.Shrink(sc, seed.seed, opt, *maxRuns)
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	b, err := json.MarshalIndent(res.Schedule, "", "  ")
	if err == nil {
		err = os.WriteFile(schedulePath, append(b, '\n'), 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: writing the minimal schedule: %v\n", fs.Name(), err)
		return exitUsage
	}

	repro := res.Minimal.Repro + " --schedule " + shellQuote(schedulePath)
	if res.MaxOpsPerClient > 0 {
		repro += fmt.Sprintf(" --max-ops %d", res.MaxOpsPerClient)
	}
	var kept checker.Result
	for _, r := range res.Minimal.Report.Results {
		if r.Checker == res.Checker {
			kept = r
		}
	}
	code = exitFor(res.Minimal.Verdict)

	if *asJSON {
		j := shrinkJSON{Scenario: sc.Name, Seed: seed.seed, Checker: res.Checker, Runs: res.Runs,
			ScheduleFile: schedulePath, Schedule: res.Schedule, MaxOps: res.MaxOpsPerClient, Ops: kept.Ops,
			Explanation: kept.Explanation, TraceHash: hashText(res.Minimal.TraceHash), Repro: repro}
		if j.Schedule == nil {
			j.Schedule = nemesis.Schedule{}
		}
		if j.Ops == nil {
			j.Ops = []int{}
		}
		if err := writeJSON(stdout, j); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
			return exitUsage
		}
		return code
	}

	fmt.Fprintf(stdout, "shrink %s seed %d: %d runs\n", sc.Name, seed.seed, res.Runs)
	fmt.Fprintf(stdout, "checker kept: %s\n", res.Checker)
	fmt.Fprintf(stdout, "original: %d faults, %d ops\n", len(res.Original.Schedule), res.Original.Ops)
	fmt.Fprintf(stdout, "minimal schedule (%d faults):\n  %s\n", len(res.Schedule), indent(res.Schedule.String(), "  "))
	if res.MaxOpsPerClient > 0 {
		fmt.Fprintf(stdout, "minimal op budget: %d ops per client\n", res.MaxOpsPerClient)
	} else {
		fmt.Fprintln(stdout, "minimal op budget: the whole workload (no smaller budget fails)")
	}
	fmt.Fprintf(stdout, "minimal run: %d ops, %d faults applied, trace %s\n", res.Minimal.Ops, res.Minimal.Faults, hashText(res.Minimal.TraceHash))
	if kept.Explanation != "" {
		fmt.Fprintf(stdout, "violation: %s\n", indent(kept.Explanation, "  "))
	}
	if len(kept.Ops) > 0 {
		fmt.Fprintf(stdout, "violating ops (%d):\n", len(kept.Ops))
		printOps(stdout, kept.Ops, res.Minimal.History, "  ")
	}
	fmt.Fprintf(stdout, "minimal schedule written to %s\n", schedulePath)
	fmt.Fprintf(stdout, "repro: %s\n", repro)
	return code
}
