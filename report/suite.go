package report

import (
	"fmt"
	"io"
	"strings"

	"zoosim/checker"
	"zoosim/scenarios"
)

// SuiteRun is one run of a sweep as its suite result records it.
type SuiteRun struct {
	Scenario  string
	Seed      uint64
	Engine    string
	Verdict   checker.Verdict
	TraceHash string // 16 hex digits
	Repro     string // of a failure or a harness error ("" otherwise)
	Err       string // of a harness error
}

// Suite is a whole sweep to report: what identifies it, every run, and the
// failures replayed in full (with their histories) for their sections.
type Suite struct {
	Title string
	// Identity lists what identifies the sweep (suite, seeds, shard,
	// overrides, engine, zoosim version), as name/value pairs.
	Identity [][2]string
	Runs     []SuiteRun
	WallMs   int64
	// Details are the failures replayed, in sweep order; Omitted counts
	// the failures that were not (beyond the report's bound).
	Details []Run
	Omitted int
}

// maxInconclusiveListed bounds the list of inconclusive runs.
const maxInconclusiveListed = 40

// WriteSuite writes the suite report: counts, the table per scenario, the
// list of failures with their repro lines, harness errors, inconclusive
// runs, then every replayed failure with its timeline and checkers.
func WriteSuite(w io.Writer, s Suite) error {
	d := NewDocument(s.Title)
	var ok, viol, inconcl, errs int
	type row struct {
		name                          string
		engines                       []string
		runs, ok, viol, inconcl, errs int
	}
	var order []string
	rows := map[string]*row{}
	for _, r := range s.Runs {
		sr := rows[r.Scenario]
		if sr == nil {
			sr = &row{name: r.Scenario}
			rows[r.Scenario] = sr
			order = append(order, r.Scenario)
		}
		if !contains(sr.engines, r.Engine) {
			sr.engines = append(sr.engines, r.Engine)
		}
		sr.runs++
		switch r.Verdict {
		case checker.VerdictOK:
			ok++
			sr.ok++
		case checker.VerdictViolation:
			viol++
			sr.viol++
		case checker.VerdictInconclusive:
			inconcl++
			sr.inconcl++
		default:
			errs++
			sr.errs++
		}
	}
	cls := func(n int, c string) string {
		if n > 0 {
			return c
		}
		return ""
	}
	d.Raw(Cards(
		[3]string{fmt.Sprint(len(s.Runs)), "runs", ""},
		[3]string{fmt.Sprint(ok), "ok", ""},
		[3]string{fmt.Sprint(viol), "violations", cls(viol, "bad")},
		[3]string{fmt.Sprint(inconcl), "inconclusive", cls(inconcl, "warn")},
		[3]string{fmt.Sprint(errs), "harness errors", cls(errs, "bad")},
		[3]string{wallText(s.WallMs), "wall time", ""}))
	var facts [][2]string
	for _, f := range s.Identity {
		facts = append(facts, [2]string{f[0], Esc(f[1])})
	}
	d.Raw(Facts(facts...))

	d.Heading(2, "scenarios", "Scenarios")
	var table [][]string
	for _, name := range order {
		r := rows[name]
		bar := ""
		if r.viol > 0 {
			bar = fmt.Sprintf("<span class=\"bar\" style=\"width:%.1fem\"></span>", 6*float64(r.viol)/float64(r.runs))
		}
		table = append(table, []string{Esc(name), Esc(strings.Join(r.engines, ", ")), num(r.runs), num(r.ok),
			"<span class=\"nowrap\">" + bar + num(r.viol) + "</span>", num(r.inconcl), num(r.errs)})
	}
	table = append(table, []string{"total", "", num(len(s.Runs)), num(ok), num(viol), num(inconcl), num(errs)})
	d.Table("suite", []string{"scenario", "engine", "runs", "ok", "violations", "inconclusive", "harness errors"}, table)

	detail := map[scenarios.RunID]Run{}
	for _, r := range s.Details {
		detail[scenarios.RunID{Scenario: r.Result.Scenario, Engine: r.Result.Engine, Seed: r.Result.Seed}] = r
	}
	if viol > 0 {
		d.Heading(2, "failures", fmt.Sprintf("Failures (%d)", viol))
		d.Note("Every run a checker rejected, with the line that replays it exactly. Replayed runs link to their section below.")
		d.Raw("<ol class=\"failures\">\n")
		for _, r := range s.Runs {
			if r.Verdict != checker.VerdictViolation {
				continue
			}
			what := ""
			if dr, ok := detail[scenarios.RunID{Scenario: r.Scenario, Engine: r.Engine, Seed: r.Seed}]; ok {
				what = fmt.Sprintf(" — <a href=\"#%s\">%s</a>", Esc(dr.ID), Esc(violated(dr.Result)))
			}
			fmt.Fprintf(&d.body, "<li><b>%s</b> seed %d (%s)%s<div class=\"cmd\"><code>%s</code></div></li>\n",
				Esc(r.Scenario), r.Seed, Esc(r.Engine), what, Esc(r.Repro))
		}
		d.Raw("</ol>\n")
		if s.Omitted > 0 {
			d.Note("%d failure(s) beyond the report's bound were not replayed here; their repro lines above replay them.", s.Omitted)
		}
	}
	if errs > 0 {
		d.Heading(2, "harness-errors", fmt.Sprintf("Harness errors (%d)", errs))
		d.Note("Runs zoosim itself could not carry out or judge: bugs in zoosim, never violations of the service.")
		d.Raw("<ol>\n")
		for _, r := range s.Runs {
			if r.Verdict == scenarios.VerdictError {
				fmt.Fprintf(&d.body, "<li><b>%s</b> seed %d: %s<div class=\"cmd\"><code>%s</code></div></li>\n",
					Esc(r.Scenario), r.Seed, Esc(r.Err), Esc(r.Repro))
			}
		}
		d.Raw("</ol>\n")
	}
	if inconcl > 0 {
		d.Heading(2, "inconclusive", fmt.Sprintf("Inconclusive (%d)", inconcl))
		d.Note("No violation found, but a check could not decide (porcupine ran out of time): not failures, not passes.")
		var b strings.Builder
		shown := 0
		for _, r := range s.Runs {
			if r.Verdict != checker.VerdictInconclusive {
				continue
			}
			if shown == maxInconclusiveListed {
				fmt.Fprintf(&b, "... and %d more\n", inconcl-shown)
				break
			}
			shown++
			fmt.Fprintf(&b, "%s seed %d (%s)\n", r.Scenario, r.Seed, r.Engine)
		}
		fmt.Fprintf(&d.body, "<pre>%s</pre>\n", Esc(b.String()))
	}
	if len(s.Details) > 0 {
		d.Heading(2, "details", "Failures replayed")
		for _, r := range s.Details {
			d.RunSection(r, 3)
		}
	}
	_, err := d.WriteTo(w)
	return err
}

// violated names the checkers a run violated.
func violated(res *scenarios.Result) string {
	var names []string
	for _, c := range res.Report.Results {
		if c.Verdict == checker.VerdictViolation {
			names = append(names, c.Checker)
		}
	}
	if len(names) == 0 {
		return string(res.Verdict)
	}
	return strings.Join(names, ", ") + " violated"
}

func num(n int) string { return fmt.Sprintf("<span class=\"mono\">%d</span>", n) }

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
