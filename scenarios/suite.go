package scenarios

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"zoosim/checker"
)

// Bounds on a sweep. A suite keeps a summary of every run, so its memory
// grows with the number of runs; these keep a typing mistake from asking
// for more than a machine has (the nightly suite runs 200 seeds).
const (
	MaxSeeds    = 100_000 // seeds per scenario
	MaxParallel = 1024    // worlds at a time
)

// SuiteOptions say how to run a suite.
type SuiteOptions struct {
	Seeds     int    // seeds per scenario, 1..MaxSeeds (0: the suite's default)
	FirstSeed uint64 // seeds are FirstSeed, FirstSeed+1, ... (0: 1)
	// Parallel runs this many worlds at once (each on its own goroutine:
	// worlds share nothing, so every run stays deterministic).
	Parallel int
	// Shard I of N (1-based): run only the jobs whose index is I-1 mod N,
	// so that a batch runner can split a sweep across machines. N may not
	// exceed the sweep's runs: every shard has at least one.
	Shard, Shards int
	Overrides     Overrides
	Options       Options
	// Progress is called after each run, from the worker that ran it, one
	// call at a time.
	Progress func(done, total int, r *RunSummary)
}

// RunSummary is one run of a suite.
type RunSummary struct {
	Scenario string
	Seed     uint64
	Engine   string
	// Verdict is the run's verdict; VerdictError when the harness failed
	// (Err says how).
	Verdict checker.Verdict
	// Expect is the verdict a corpus entry expects ("" in a suite).
	Expect    checker.Verdict
	Checks    map[string]checker.Verdict
	Ops       int
	Faults    int
	Events    uint64
	VirtualMs int64
	WallMs    int64
	TraceHash uint64
	Repro     string
	Err       string
	// Unchecked is how many ops the checkers drew no conclusion about
	// (summed over checkers; each says why in the run's report).
	Unchecked int
}

// Unexpected reports whether a corpus run's verdict differs from the one
// its entry expects (an inconclusive run is neither: it is counted apart).
func (r RunSummary) Unexpected() bool {
	return r.Expect != "" && r.Verdict != r.Expect && r.Verdict != checker.VerdictInconclusive
}

// SuiteResult is a whole suite's outcome.
type SuiteResult struct {
	Suite string
	Runs  []RunSummary
	// OK + Violations + Inconclusive + Errors == len(Runs). Errors are runs
	// the harness failed: they say nothing about the service.
	OK, Violations, Inconclusive, Errors int
	// Unexpected counts corpus runs whose verdict is not the expected one.
	Unexpected int
	Failures   []Failure // the violations, in suite order
	WallMs     int64
}

// Failure names a run that found a violation.
type Failure struct {
	Scenario string
	Engine   string
	Seed     uint64
	Repro    string
}

// RunID names one run of a sweep (a sweep may run a scenario on several
// engines).
type RunID struct {
	Scenario string
	Engine   string
	Seed     uint64
}

type job struct {
	index  int
	sc     Scenario
	seed   uint64
	expect checker.Verdict
}

// RunSuite runs every scenario of the suite for every seed (of the shard).
func RunSuite(suite Suite, opt SuiteOptions) (*SuiteResult, error) {
	jobs, err := planSuite(suite, opt)
	if err != nil {
		return nil, err
	}
	return runJobs(suite.Name, jobs, opt)
}

// SuiteRuns lists the runs RunSuite would make with opt, in order: what a
// shard of the sweep must contain.
func SuiteRuns(suite Suite, opt SuiteOptions) ([]RunID, error) {
	jobs, err := planSuite(suite, opt)
	if err != nil {
		return nil, err
	}
	ids := make([]RunID, len(jobs))
	for i, j := range jobs {
		ids[i] = RunID{Scenario: j.sc.Name, Engine: j.sc.Engine, Seed: j.seed}
	}
	return ids, nil
}

func planSuite(suite Suite, opt SuiteOptions) ([]job, error) {
	seeds := opt.Seeds
	if seeds == 0 {
		seeds = suite.Seeds
	}
	if seeds < 1 || seeds > MaxSeeds {
		return nil, fmt.Errorf("%d seeds per scenario: want 1..%d", seeds, MaxSeeds)
	}
	first := opt.FirstSeed
	if first == 0 {
		first = 1
	}
	if first > math.MaxUint64-uint64(seeds-1) {
		return nil, fmt.Errorf("first seed %d and %d seeds: the last seed would pass 2^64-1", first, seeds)
	}
	if opt.Shards <= 0 {
		opt.Shard, opt.Shards = 1, 1
	}
	if opt.Shard < 1 || opt.Shard > opt.Shards {
		return nil, fmt.Errorf("shard %d/%d: the shard must be between 1 and %d", opt.Shard, opt.Shards, opt.Shards)
	}
	if len(suite.Scenarios) == 0 {
		return nil, fmt.Errorf("suite %s has no scenarios", suite.Name)
	}
	engines := suite.engines(opt.Overrides.Engine)
	if total := len(engines) * len(suite.Scenarios) * seeds; opt.Shards > total {
		return nil, fmt.Errorf("%d shards of a sweep of %d runs: every shard must have a run", opt.Shards, total)
	}
	var jobs []job
	index := 0
	for _, eng := range engines {
		ov := opt.Overrides
		if eng != "" {
			ov.Engine = eng
		}
		for _, name := range suite.Scenarios {
			sc, err := Lookup(name)
			if err != nil {
				return nil, err
			}
			if suite.Duration > 0 {
				sc.Duration = suite.Duration
			}
			if sc, err = sc.Apply(ov); err != nil {
				return nil, err
			}
			for k := 0; k < seeds; k++ {
				if index%opt.Shards == opt.Shard-1 {
					jobs = append(jobs, job{index: index, sc: sc, seed: first + uint64(k)})
				}
				index++
			}
		}
	}
	return jobs, nil
}

// engines are the engines a suite runs on, one after the other: the one
// the overrides name, or the suite's, or (a suite without any) each
// scenario's own, spelled "".
func (s Suite) engines(override string) []string {
	switch {
	case override != "":
		return []string{override}
	case len(s.Engines) > 0:
		return s.Engines
	}
	return []string{""}
}

// Resolved returns the scenarios of the suite's sweep with the overrides
// applied, engine by engine.
func (s Suite) Resolved(ov Overrides) ([]Scenario, error) {
	var out []Scenario
	for _, eng := range s.engines(ov.Engine) {
		o := ov
		if eng != "" {
			o.Engine = eng
		}
		for _, name := range s.Scenarios {
			sc, err := Lookup(name)
			if err != nil {
				return nil, err
			}
			if s.Duration > 0 {
				sc.Duration = s.Duration
			}
			if sc, err = sc.Apply(o); err != nil {
				return nil, err
			}
			out = append(out, sc)
		}
	}
	return out, nil
}

// RunCorpus replays every entry of a regression corpus, each with its own
// scenario, seed and overrides. Of opt only Parallel, Options and Progress
// apply: a corpus entry is an exact run, so seeds, shards and overrides are
// refused.
func RunCorpus(c Corpus, opt SuiteOptions) (*SuiteResult, error) {
	if opt.Seeds != 0 || opt.FirstSeed != 0 || opt.Shards > 1 || !opt.Overrides.IsZero() {
		return nil, errors.New("a corpus replays exact runs: no seeds, first seed, shards or overrides")
	}
	if len(c.Entries) == 0 {
		return nil, errors.New("the corpus has no entries")
	}
	jobs := make([]job, len(c.Entries))
	for i, e := range c.Entries {
		sc, err := e.Resolve()
		if err != nil {
			return nil, fmt.Errorf("corpus entry %d: %w", i+1, err)
		}
		jobs[i] = job{index: i, sc: sc, seed: e.Seed, expect: e.Expect}
	}
	return runJobs("corpus", jobs, opt)
}

func runJobs(name string, jobs []job, opt SuiteOptions) (*SuiteResult, error) {
	if opt.Parallel > MaxParallel {
		return nil, fmt.Errorf("%d worlds at a time: at most %d", opt.Parallel, MaxParallel)
	}
	start := time.Now()
	results := make([]RunSummary, len(jobs))
	par := min(max(opt.Parallel, 1), max(len(jobs), 1))
	var mu sync.Mutex
	done := 0
	next := 0
	var wg sync.WaitGroup
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= len(jobs) {
					mu.Unlock()
					return
				}
				j := next
				next++
				mu.Unlock()
				results[j] = runOne(jobs[j], opt.Options)
				mu.Lock()
				done++
				if opt.Progress != nil {
					opt.Progress(done, len(jobs), &results[j])
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	out := &SuiteResult{Suite: name, Runs: results}
	for _, r := range results {
		switch r.Verdict {
		case checker.VerdictOK:
			out.OK++
		case checker.VerdictInconclusive:
			out.Inconclusive++
		case checker.VerdictViolation:
			out.Violations++
			out.Failures = append(out.Failures, Failure{Scenario: r.Scenario, Engine: r.Engine, Seed: r.Seed, Repro: r.Repro})
		default:
			out.Errors++
		}
		if r.Unexpected() {
			out.Unexpected++
		}
	}
	out.WallMs = time.Since(start).Milliseconds()
	return out, nil
}

func runOne(j job, opt Options) RunSummary {
	s := RunSummary{Scenario: j.sc.Name, Seed: j.seed, Engine: j.sc.Engine, Expect: j.expect}
	r, err := Run(j.sc, j.seed, opt)
	if err != nil {
		// Every job's scenario was validated when the sweep was planned:
		// the run failing to start is the harness's fault.
		s.Verdict, s.Err, s.Repro = VerdictError, err.Error(), reproLine(j.sc, j.seed, j.sc.Knobs)
		return s
	}
	unchecked := 0
	for _, c := range r.Report.Results {
		unchecked += c.Unchecked
	}
	return RunSummary{Scenario: r.Scenario, Seed: r.Seed, Engine: r.Engine, Verdict: r.Verdict, Expect: j.expect,
		Checks: r.Checks, Ops: r.Ops, Faults: r.Faults, Events: r.Events, VirtualMs: r.VirtualMs, WallMs: r.WallMs,
		TraceHash: r.TraceHash, Repro: r.Repro, Err: r.Err, Unchecked: unchecked}
}
