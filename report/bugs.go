package report

import (
	"fmt"
	"io"
	"strings"
)

// BugRow is how often a suite found one seeded bug.
type BugRow struct {
	// Bug is "" for the clean suite: its failing runs are false alarms.
	Bug, Layer, Models, Description string
	Runs, Failing, Errors           int
	FirstScenario                   string
	FirstSeed                       uint64
	FirstRepro                      string
	// Checkers are the checkers that fired, each with its count of
	// failing runs, in the order checkers run.
	Checkers []CheckerCount
	// Detail is the index in Bugs.Details of its first failing run
	// replayed (-1: none).
	Detail int
}

// CheckerCount is a checker and the failing runs in which it fired.
type CheckerCount struct {
	Checker string
	Runs    int
}

// Bugs is a detection-rate measurement (zoosim bugs --measure).
type Bugs struct {
	Suite     string
	Seeds     int
	FirstSeed uint64
	Rows      []BugRow
	WallMs    int64
	// Details are the first failing runs, replayed.
	Details []Run
}

func (r BugRow) rate() float64 {
	if r.Runs == 0 {
		return 0
	}
	return float64(r.Failing) / float64(r.Runs)
}

// WriteBugs writes the detection-rate report: a chart of the rates, the
// table (bug, layer, runs, failing runs, rate, first failing run with its
// repro line, checkers that fired), and each bug's first failing run in
// full.
func WriteBugs(w io.Writer, b Bugs) error {
	d := NewDocument("zoosim bugs: detection rates")
	falseAlarms, missed := 0, 0
	for _, r := range b.Rows {
		switch {
		case r.Bug == "":
			falseAlarms = r.Failing
		case r.Failing == 0:
			missed++
		}
	}
	cls := func(n int, c string) string {
		if n > 0 {
			return c
		}
		return ""
	}
	d.Raw(Cards(
		[3]string{fmt.Sprint(len(b.Rows) - 1), "bugs measured", ""},
		[3]string{fmt.Sprint(missed), "never detected", cls(missed, "bad")},
		[3]string{fmt.Sprint(falseAlarms), "false alarms (clean suite)", cls(falseAlarms, "bad")},
		[3]string{wallText(b.WallMs), "wall time", ""}))
	d.Para("Suite %s, %d seed(s) per scenario from seed %d, run once clean and once with each bug switched on alone. "+
		"A bug's rate is its failing runs over its runs; the clean row counts false alarms and must be 0.", b.Suite, b.Seeds, b.FirstSeed)
	d.Figure(rateChart(b.Rows), "Detection rate per seeded bug: the share of the suite's runs that fail with the bug switched on. "+
		"A bug no run catches shows an empty bar and is marked.")

	var rows [][]string
	for _, r := range b.Rows {
		name := Esc(r.Bug)
		if r.Bug == "" {
			name = "(none: false alarms)"
		}
		if r.Detail >= 0 && r.Detail < len(b.Details) {
			name = fmt.Sprintf("<a href=\"#%s\">%s</a>", Esc(b.Details[r.Detail].ID), name)
		}
		first := "-"
		if r.FirstRepro != "" {
			first = fmt.Sprintf("%s seed %d<div class=\"cmd\"><code>%s</code></div>", Esc(r.FirstScenario), r.FirstSeed, Esc(r.FirstRepro))
		}
		var checks []string
		for _, c := range r.Checkers {
			checks = append(checks, fmt.Sprintf("%s×%d", c.Checker, c.Runs))
		}
		barClass := "bar good"
		if r.Bug == "" {
			barClass = "bar"
		}
		rate := fmt.Sprintf("<span class=\"nowrap\"><span class=\"%s\" style=\"width:%.2fem\"></span>%.1f%%</span>", barClass, 4*r.rate(), 100*r.rate())
		errs := ""
		if r.Errors > 0 {
			errs = fmt.Sprintf(" (%d could not run)", r.Errors)
		}
		rows = append(rows, []string{name, Esc(r.Layer), fmt.Sprint(r.Runs) + Esc(errs), fmt.Sprint(r.Failing), rate,
			Esc(strings.Join(checks, ", ")), first, Esc(r.Models)})
	}
	d.Heading(2, "rates", "Detection rates")
	d.Table("bugs", []string{"bug", "layer", "runs", "failing", "rate", "checkers that fired", "first failing run", "models"}, rows)
	if len(b.Details) > 0 {
		d.Heading(2, "first-failures", "First failing run of each bug")
		for _, r := range b.Details {
			d.RunSection(r, 3)
		}
	}
	_, err := d.WriteTo(w)
	return err
}

// rateChart draws one horizontal bar per row, 0..100%.
func rateChart(rows []BugRow) string {
	const left, right, barH, gap, top = 190.0, 60.0, 13.0, 5.0, 26.0
	s := &svgDoc{w: 760}
	x := linear{0, 1, left, s.w - right}
	h := top + float64(len(rows))*(barH+gap)
	for _, v := range []float64{0, .25, .5, .75, 1} {
		gx := x.at(v)
		s.line(gx, top-4, gx, h, "#d0d7de", ` stroke-width=".6"`)
		s.text(gx, top-8, "middle", "small", fmt.Sprintf("%g%%", 100*v))
	}
	for i, r := range rows {
		y := top + float64(i)*(barH+gap)
		name := r.Bug
		if name == "" {
			name = "(clean: false alarms)"
		}
		s.text(left-6, y+barH-2.5, "end", "small", name)
		col := colOK
		if r.Bug == "" {
			col = colBad
		}
		s.printf(`<g><title>%s: %d of %d runs fail (%.1f%%)</title>`, Esc(name), r.Failing, r.Runs, 100*r.rate())
		s.rect(left, y, x.at(r.rate())-left, barH, col, "")
		label := fmt.Sprintf("%.0f%%", 100*r.rate())
		cls := "small"
		if r.Bug != "" && r.Failing == 0 {
			label, cls = "never detected", "small bad"
		}
		s.text(x.at(r.rate())+4, y+barH-2.5, "start", cls, label)
		s.printf("</g>\n")
	}
	s.h = h + 6
	return s.String("plot", "detection rate per seeded bug")
}
