package scenarios

import (
	"fmt"
	"sync"
	"time"

	"zoosim/checker"
)

// SuiteOptions say how to run a suite.
type SuiteOptions struct {
	Seeds     int    // seeds per scenario (0: the suite's default)
	FirstSeed uint64 // seeds are FirstSeed, FirstSeed+1, ...
	// Parallel runs this many worlds at once (each on its own goroutine:
	// worlds share nothing, so every run stays deterministic).
	Parallel int
	// Shard I of N (1-based): run only the jobs whose index is I-1 mod N,
	// so that a batch runner can split a sweep across machines.
	Shard, Shards int
	Overrides     Overrides
	Options       Options
	// Progress is called after each run, from the worker that ran it, one
	// call at a time.
	Progress func(done, total int, r *RunSummary)
}

// RunSummary is one run of a suite.
type RunSummary struct {
	Scenario  string
	Seed      uint64
	Verdict   checker.Verdict
	Checks    map[string]checker.Verdict
	Ops       int
	Faults    int
	Events    uint64
	VirtualMs int64
	WallMs    int64
	TraceHash uint64
	Repro     string
	Err       string // a run that could not start (bad overrides)
}

// SuiteResult is a whole suite's outcome.
type SuiteResult struct {
	Suite        string
	Runs         []RunSummary
	OK           int
	Violations   int
	Inconclusive int
	Failures     []Failure
	WallMs       int64
}

// Failure names a run that found a violation.
type Failure struct {
	Scenario string
	Seed     uint64
	Repro    string
}

type job struct {
	index int
	sc    Scenario
	seed  uint64
}

// RunSuite runs every scenario of the suite for every seed.
func RunSuite(suite Suite, opt SuiteOptions) (*SuiteResult, error) {
	start := time.Now()
	seeds := opt.Seeds
	if seeds <= 0 {
		seeds = suite.Seeds
	}
	if opt.FirstSeed == 0 {
		opt.FirstSeed = 1
	}
	if opt.Shards <= 0 {
		opt.Shard, opt.Shards = 1, 1
	}
	if opt.Shard < 1 || opt.Shard > opt.Shards {
		return nil, fmt.Errorf("shard %d/%d: the shard must be between 1 and %d", opt.Shard, opt.Shards, opt.Shards)
	}
	var jobs []job
	index := 0
	for _, name := range suite.Scenarios {
		sc, err := Lookup(name)
		if err != nil {
			return nil, err
		}
		if suite.Duration > 0 {
			sc.Duration = suite.Duration
		}
		if sc, err = sc.Apply(opt.Overrides); err != nil {
			return nil, err
		}
		for k := 0; k < seeds; k++ {
			if index%opt.Shards == opt.Shard-1 {
				jobs = append(jobs, job{index: index, sc: sc, seed: opt.FirstSeed + uint64(k)})
			}
			index++
		}
	}
	results := make([]RunSummary, len(jobs))
	par := max(opt.Parallel, 1)
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
	out := &SuiteResult{Suite: suite.Name, Runs: results}
	for _, r := range results {
		switch r.Verdict {
		case checker.VerdictOK:
			out.OK++
		case checker.VerdictInconclusive:
			out.Inconclusive++
		default:
			out.Violations++
			out.Failures = append(out.Failures, Failure{Scenario: r.Scenario, Seed: r.Seed, Repro: r.Repro})
		}
	}
	out.WallMs = time.Since(start).Milliseconds()
	return out, nil
}

func runOne(j job, opt Options) RunSummary {
	s := RunSummary{Scenario: j.sc.Name, Seed: j.seed}
	r, err := Run(j.sc, j.seed, opt)
	if err != nil {
		s.Verdict, s.Err, s.Repro = checker.VerdictViolation, err.Error(), reproLine(j.sc, j.seed, j.sc.Knobs)
		return s
	}
	return RunSummary{Scenario: r.Scenario, Seed: r.Seed, Verdict: r.Verdict, Checks: r.Checks, Ops: r.Ops,
		Faults: r.Faults, Events: r.Events, VirtualMs: r.VirtualMs, WallMs: r.WallMs, TraceHash: r.TraceHash, Repro: r.Repro}
}
