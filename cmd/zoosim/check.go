package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"zoosim/checker"
	"zoosim/node"
)

const checkAbout = `
Run the checkers over a history saved by zoosim run --save-history FILE
and print each checker's verdict; a violation comes with its explanation
and the ops it involves.

A saved history does not record the run's check options: --liveness-bound
defaults to the checker's own default, and when the history's quorum
configuration is unsafe the liveness check is left out (as run does).

With --json, one object on stdout:
  {"file","verdict","checks":{NAME: VERDICT},
   "results":[{"checker","verdict","explanation","ops","txns","details",
               "unchecked","unchecked_why":{REASON: OPS}}]}
(txns as zxids in hex, "0x..."; "unchecked" counts the ops a checker
could not judge, and "unchecked_why" says why).

The file is checked before any checker runs: at most 256 MiB, paths that
follow ZooKeeper's rules, data of at most 1 MiB, an ensemble of 1..255
servers. Histories saved by earlier zoosim builds (format version 1) load.

Exit status: 0 no violation (inconclusive included, and said), 1 a
violation, 2 bad usage or a malformed file.`

type checkJSON struct {
	File    string                     `json:"file"`
	Verdict checker.Verdict            `json:"verdict"`
	Checks  map[string]checker.Verdict `json:"checks"`
	Results []checkResultJSON          `json:"results"`
}

type checkResultJSON struct {
	Checker     string          `json:"checker"`
	Verdict     checker.Verdict `json:"verdict"`
	Explanation string          `json:"explanation"`
	Ops         []int           `json:"ops"`
	Txns        []string        `json:"txns"`
	Details     string          `json:"details"`
	// Unchecked: how many ops the checker could not judge, and why.
	Unchecked    int            `json:"unchecked"`
	UncheckedWhy map[string]int `json:"unchecked_why"`
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check", "zoosim check FILE [--json] [flags]", checkAbout)
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	checkTimeout := fs.Duration("check-timeout", checker.DefaultLinearizabilityTimeout, "wall-clock guard `TIME` on the linearizability search, a last resort: hitting it makes the verdict inconclusive and says \"guard hit\" (0: no guard)")
	checkBudget := fs.Int64("check-budget", checker.DefaultLinearizabilityBudget, "`STEPS` the linearizability search of a history without server records may take per partition; past them the verdict is inconclusive, the same on every machine (0: no limit)")
	checks := fs.String("checks", "", "run only these checkers, `NAMES` separated by commas (default: all)")
	livenessBound := fs.Duration("liveness-bound", 0, "virtual `TIME` a healed ensemble may take to serve a write (default: the checker's)")
	viz := fs.String("viz", "", "write porcupine's HTML visualization of a failing linearizability check into `DIR`")
	files, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	switch {
	case len(files) == 0:
		return usageErr(stderr, fs, "no history file given")
	case len(files) > 1:
		return usageErr(stderr, fs, "one history file at a time (got %d)", len(files))
	case *checkTimeout < 0 || *checkBudget < 0 || *livenessBound < 0:
		return usageErr(stderr, fs, "--check-timeout, --check-budget and --liveness-bound must not be negative")
	}
	path := files[0]
	opt := checker.Options{LinearizabilityTimeout: *checkTimeout, LinearizabilityBudget: *checkBudget,
		LivenessBound: node.Time(*livenessBound)}
	if *checkTimeout == 0 {
		opt.LinearizabilityTimeout = -1 // no guard
	}
	if *checkBudget == 0 {
		opt.LinearizabilityBudget = -1 // no limit
	}
	if *checks != "" {
		for name := range strings.SplitSeq(*checks, ",") {
			if name = strings.TrimSpace(name); name != "" {
				opt.Checks = append(opt.Checks, name)
			}
		}
		if err := checker.ValidateChecks(opt.Checks); err != nil {
			return usageErr(stderr, fs, "%v", err)
		}
	}
	if *viz != "" {
		if err := os.MkdirAll(*viz, 0o755); err != nil {
			return inputErr(stderr, fs, err)
		}
		opt.VisualizePath = filepath.Join(*viz, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))+".html")
	}

	f, err := os.Open(path)
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > checker.MaxHistoryBytes {
		f.Close()
		return inputErr(stderr, fs, fmt.Errorf("%s: not a history: %d bytes, more than a history may have (%d)", path, st.Size(), checker.MaxHistoryBytes))
	}
	h, err := checker.ReadJSON(bufio.NewReader(f))
	f.Close()
	if err != nil {
		return inputErr(stderr, fs, fmt.Errorf("%s: not a history: %w", path, err))
	}
	if opt.Checks == nil && !h.QuorumSafe {
		// Liveness is promised only for quorums that intersect.
		opt.Checks = slices.DeleteFunc(slices.Clone(checker.Names), func(c string) bool { return c == checker.NameLiveness })
	}
	rep := checker.Check(h, opt)
	code = exitFor(rep.Verdict)

	if *asJSON {
		out := checkJSON{File: path, Verdict: rep.Verdict, Checks: map[string]checker.Verdict{}, Results: []checkResultJSON{}}
		for _, r := range rep.Results {
			out.Checks[r.Checker] = r.Verdict
			j := checkResultJSON{Checker: r.Checker, Verdict: r.Verdict, Explanation: r.Explanation,
				Ops: r.Ops, Txns: []string{}, Details: r.Details, Unchecked: r.Unchecked, UncheckedWhy: uncheckedWhy(r)}
			if j.Ops == nil {
				j.Ops = []int{}
			}
			for _, z := range r.Txns {
				j.Txns = append(j.Txns, z.String())
			}
			out.Results = append(out.Results, j)
		}
		if err := writeJSON(stdout, out); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
			return exitUsage
		}
		return code
	}
	fmt.Fprintf(stdout, "history %s: %d ops, %d watch notifications, %d session events, %d servers, %d faults\n",
		path, len(h.Ops), len(h.Watches), len(h.Sessions), h.Servers, len(h.Faults))
	fmt.Fprintln(stdout, "checks:")
	printResults(stdout, rep.Results, h)
	fmt.Fprintln(stdout, verdictLine(rep.Verdict))
	return code
}
