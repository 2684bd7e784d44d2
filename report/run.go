package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"zoosim/checker"
	"zoosim/scenarios"
)

// maxOpsListed bounds the ops listed under one checker: the picture and
// the repro line carry the rest.
const maxOpsListed = 40

// Run is one run to show: its result (with its history), the line that
// replays it, and porcupine's visualization when its linearizability check
// failed.
type Run struct {
	Result *scenarios.Result
	// Scenario, when set, adds its workload facts (clients, read mode).
	Scenario *scenarios.Scenario
	Repro    string
	// Viz is porcupine's HTML visualization of the failing part of the
	// history (nil: none).
	Viz []byte
	// Notes are said first (how the run was obtained, a replay that did
	// not match).
	Notes []string
	// ID is the section's anchor.
	ID string
}

// WriteRun writes the report of one run as a page of its own.
func WriteRun(w io.Writer, r Run) error {
	res := r.Result
	d := NewDocument(fmt.Sprintf("zoosim run: %s seed %d", res.Scenario, res.Seed))
	d.RunSection(r, 2)
	_, err := d.WriteTo(w)
	return err
}

// RunSection appends a run: verdict, repro line, parameters and figures,
// the timeline, every checker's verdict with the explanation and the ops of
// each violation, porcupine's visualization and the faults applied.
// level is the level of its heading.
func (d *Document) RunSection(r Run, level int) {
	res := r.Result
	failed := res.Verdict != checker.VerdictOK && res.Verdict != checker.VerdictInconclusive
	cls := "run"
	if failed {
		cls += " failed"
	}
	id := r.ID
	if id == "" {
		id = fmt.Sprintf("run-%s-%d", res.Scenario, res.Seed)
	}
	fmt.Fprintf(&d.body, "<section class=\"%s\" id=\"%s\">\n<h%d>%s seed %d %s</h%d>\n", cls, Esc(id), level,
		Esc(res.Scenario), res.Seed, VerdictBadge(string(res.Verdict)), level)
	for _, n := range r.Notes {
		d.Note("%s", n)
	}
	if r.Repro != "" {
		d.Command("repro", r.Repro)
	}
	d.Raw(runFacts(r))
	if res.Verdict == scenarios.VerdictError {
		d.Raw(fmt.Sprintf("<p><b>Harness error</b> (a bug in zoosim, not a violation of the service):</p><pre>%s</pre>\n", Esc(res.Err)))
	}
	if tl := TimelineOf(res); tl != nil {
		caption := "Each dot is an operation at its call time, at its latency (log scale); unknown outcomes sit in the strip on top. " +
			"Shaded bands and labelled bars are the faults; the lanes below show the established leader and each server's role, sampled every " +
			time.Duration(scenarios.RoleSampleInterval).String() + " of virtual time. Hover for details."
		if len(tl.Violating) > 0 {
			caption += fmt.Sprintf(" Ringed in red: the %d operation(s) the violated checkers point at.", len(tl.Violating))
		}
		d.Figure(tl.SVG(), caption)
	} else if res.Verdict != scenarios.VerdictError {
		d.Note("The run stopped at a broken invariant: it recorded no history, so there is no timeline.")
	}
	d.checks(res, level+1)
	if len(r.Viz) > 0 {
		fmt.Fprintf(&d.body, "<h%d>Linearizability: porcupine's visualization</h%d>\n", level+1, level+1)
		d.Note("The failing part of the history as porcupine draws it (interactive: click an operation). Fault intervals are its annotations.")
		fmt.Fprintf(&d.body, "<iframe class=\"viz\" sandbox=\"allow-scripts\" title=\"porcupine visualization\" srcdoc=\"%s\"></iframe>\n", Esc(string(r.Viz)))
		d.Raw("<p class=\"print-only note\">porcupine's visualization is interactive: open this report in a browser to see it.</p>\n")
	}
	if len(res.Applied) > 0 {
		var b strings.Builder
		for _, a := range res.Applied {
			b.WriteString(a.String())
			b.WriteByte('\n')
		}
		fmt.Fprintf(&d.body, "<details><summary>faults applied (%d)</summary><pre>%s</pre></details>\n", len(res.Applied), Esc(b.String()))
	}
	d.Raw("</section>\n")
}

func runFacts(r Run) string {
	res := r.Result
	quorum := Esc(res.Quorum)
	if !res.QuorumSafe && res.History != nil {
		quorum += " <b>(unsafe: quorums need not intersect)</b>"
	}
	pairs := [][2]string{
		{"ensemble", fmt.Sprintf("%s, %d servers, quorum %s", Esc(res.Engine), res.Servers, quorum)},
	}
	if sc := r.Scenario; sc != nil {
		pairs = append(pairs, [2]string{"workload", Esc(fmt.Sprintf("%d clients, %s reads, %s safety phase",
			sc.Clients, sc.ReadMode, time.Duration(sc.Duration)))})
	}
	pairs = append(pairs,
		[2]string{"figures", Esc(fmt.Sprintf("%d ops, %d faults, %d events, %d virtual ms, %d wall ms",
			res.Ops, res.Faults, res.Events, res.VirtualMs, res.WallMs))},
		[2]string{"trace hash", "<code>" + fmt.Sprintf("%016x", res.TraceHash) + "</code>"})
	if res.History != nil {
		pairs = append(pairs, [2]string{"writes acknowledged", Esc(fmt.Sprintf("%.1f%% (during faults %.1f%%)",
			100*res.WriteAvailability, 100*res.DuringFaults))})
	}
	if k := res.Knobs.String(); k != "" {
		pairs = append(pairs, [2]string{"knobs", "<code>" + Esc(k) + "</code>"})
	}
	if len(res.BuggifyFired) > 0 {
		pairs = append(pairs, [2]string{"buggify fired", "<code>" + Esc(strings.Join(res.BuggifyFired, " ")) + "</code>"})
	}
	switch {
	case res.Swarm != "":
		pairs = append(pairs, [2]string{"nemesis", Esc(res.Swarm)})
	case len(res.Schedule) > 0:
		pairs = append(pairs, [2]string{"nemesis", Esc(fmt.Sprintf("an explicit schedule of %d faults", len(res.Schedule)))})
	}
	return Facts(pairs...)
}

// checks appends every checker's verdict, then the explanation, ops, txns
// and details of each one that did not pass.
func (d *Document) checks(res *scenarios.Result, level int) {
	results := res.Report.Results
	if len(results) == 0 {
		return
	}
	fmt.Fprintf(&d.body, "<h%d>Checkers</h%d>\n", level, level)
	var rows [][]string
	for _, c := range results {
		rows = append(rows, []string{Esc(c.Checker), VerdictBadge(string(c.Verdict)), Esc(c.Explanation)})
	}
	d.Table("checks", []string{"checker", "verdict", "explanation"}, rows)
	for _, c := range results {
		if c.Verdict != checker.VerdictViolation {
			continue
		}
		fmt.Fprintf(&d.body, "<h%d>%s: violation</h%d>\n<p>%s</p>\n", level+1, Esc(c.Checker), level+1, Esc(c.Explanation))
		if len(c.Ops) > 0 && res.History != nil {
			var b strings.Builder
			for i, id := range c.Ops {
				if i == maxOpsListed {
					fmt.Fprintf(&b, "... and %d more\n", len(c.Ops)-maxOpsListed)
					break
				}
				if id < 0 || id >= len(res.History.Ops) {
					fmt.Fprintf(&b, "#%d (not in the history)\n", id)
					continue
				}
				b.WriteString(OpText(&res.History.Ops[id]) + "\n")
			}
			fmt.Fprintf(&d.body, "<p class=\"note\">ops involved (%d):</p><pre>%s</pre>\n", len(c.Ops), Esc(b.String()))
		}
		if len(c.Txns) > 0 {
			zs := make([]string, len(c.Txns))
			for i, z := range c.Txns {
				zs[i] = z.String()
			}
			fmt.Fprintf(&d.body, "<p class=\"note\">txns involved: <code>%s</code></p>\n", Esc(strings.Join(zs, " ")))
		}
		if det := strings.TrimRight(c.Details, "\n"); det != "" {
			fmt.Fprintf(&d.body, "<details><summary>details</summary><pre>%s</pre></details>\n", Esc(det))
		}
	}
}
