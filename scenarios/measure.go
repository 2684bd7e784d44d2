package scenarios

import (
	"fmt"
	"slices"

	"zoosim/checker"
)

// BugMeasure is how well a suite finds one seeded bug: the share of its
// runs that fail with the bug switched on, the first failing run, and the
// checkers that fired.
type BugMeasure struct {
	// Bug is the bug's name, or "" for the clean suite (no bug), whose
	// failing runs are false alarms.
	Bug      string
	Runs     int
	Failing  int
	Errors   int // runs that could not run
	Scenario string
	// FirstSeed is the lowest failing seed of the first scenario (in suite
	// order) that has one, and FirstRepro its repro line; 0 and "" if no
	// run failed.
	FirstSeed  uint64
	FirstRepro string
	// Checkers counts, per checker, the failing runs in which it found a
	// violation.
	Checkers map[string]int
	// ByScenario counts failing runs per scenario.
	ByScenario map[string]int
	WallMs     int64
}

// Rate is Failing / Runs.
func (m BugMeasure) Rate() float64 {
	if m.Runs == 0 {
		return 0
	}
	return float64(m.Failing) / float64(m.Runs)
}

// MeasureBugs runs suite once clean and once with each of bugs switched on
// (alone), with opt's seeds, parallelism and overrides, and reports what
// each found. The clean measure comes first. opt.Progress, if set, is
// called for every run of every pass; measure is called after each pass.
func MeasureBugs(suite Suite, bugs []string, opt SuiteOptions, measured func(BugMeasure)) ([]BugMeasure, error) {
	for _, b := range bugs {
		if _, ok := LookupBug(b); !ok {
			return nil, fmt.Errorf("unknown bug %q (known: %v)", b, BugNames)
		}
	}
	var out []BugMeasure
	for _, b := range append([]string{""}, bugs...) {
		o := opt
		o.Overrides.Bugs = nil
		if b != "" {
			o.Overrides.Bugs = []string{b}
			if bug, _ := LookupBug(b); bug.Engine() != "" && o.Overrides.Engine == "" {
				o.Overrides.Engine = bug.Engine() // an engine's bug runs on its engine only
			}
		}
		res, err := RunSuite(suite, o)
		if err != nil {
			return nil, err
		}
		m := BugMeasure{Bug: b, Runs: len(res.Runs), Checkers: map[string]int{}, ByScenario: map[string]int{}, WallMs: res.WallMs}
		for _, r := range res.Runs {
			if r.Err != "" {
				m.Errors++
				continue
			}
			if r.Verdict != checker.VerdictViolation {
				continue
			}
			m.Failing++
			m.ByScenario[r.Scenario]++
			for name, v := range r.Checks {
				if v == checker.VerdictViolation {
					m.Checkers[name]++
				}
			}
			if m.FirstRepro == "" || firstBefore(suite, r, m) {
				m.Scenario, m.FirstSeed, m.FirstRepro = r.Scenario, r.Seed, r.Repro
			}
		}
		out = append(out, m)
		if measured != nil {
			measured(m)
		}
	}
	return out, nil
}

// firstBefore reports whether run r comes before the measure's first
// failing run in suite order (scenario order, then seed).
func firstBefore(suite Suite, r RunSummary, m BugMeasure) bool {
	a, b := slices.Index(suite.Scenarios, r.Scenario), slices.Index(suite.Scenarios, m.Scenario)
	return a < b || a == b && r.Seed < m.FirstSeed
}

// CheckerNames returns the checkers of m: those of checker.Names in the
// order checkers run, then any other (such as "invariant") sorted.
func (m BugMeasure) CheckerNames() []string {
	var known, other []string
	for _, n := range checker.Names {
		if m.Checkers[n] > 0 {
			known = append(known, n)
		}
	}
	for n := range m.Checkers {
		if !slices.Contains(checker.Names, n) {
			other = append(other, n)
		}
	}
	slices.Sort(other)
	return append(known, other...)
}
