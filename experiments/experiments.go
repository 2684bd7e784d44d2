// Package experiments owns zoosim's quorum experiments: for every
// combination of ensemble size and quorum it measures, in the simulated
// world, what the quorum buys and costs (lost acknowledged writes,
// availability, crash tolerance, write latency, election time, reads
// served). Every figure is measured from histories of scenario runs, never
// worked out from a formula.
//
// The package is a layer over package scenarios: it builds scenarios and
// explicit nemesis schedules, runs them and reads their results. It never
// judges a history itself (the checkers do); it renders reports (CSV,
// HTML) to the writers it is given and leaves the terminal to the command.
package experiments

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"zoosim/checker"
	"zoosim/model"
	"zoosim/nemesis"
	"zoosim/node"
	"zoosim/quorum"
	"zoosim/quorum/engines"
	"zoosim/scenarios"
)

// BaseScenario is the catalogue scenario every experiment varies: registers
// under partitions and leader crashes, the setting in which a quorum that
// does not intersect loses acknowledged writes.
const BaseScenario = "quorum-2-of-5"

// Defaults of a sweep.
const (
	DefaultDuration = 20 * node.Second
	// crashAt is when the crash-k and crash-leader experiments strike: late
	// enough for the first leader to be established.
	crashAt = 3 * node.Second
	// commitBound is how long after the crash a write must be acknowledged
	// for the ensemble to count as still committing.
	commitBound = 8 * node.Second
	// DefaultProbeSeeds is how many seeds the crash-k and crash-leader
	// experiments run per combination.
	DefaultProbeSeeds = 3
)

// Config says which combinations to sweep and how hard.
type Config struct {
	Servers []int
	Quorums []string
	// Seeds is the number of seeds of the safety experiment per row
	// (FirstSeed, FirstSeed+1, ...).
	Seeds     int
	FirstSeed uint64
	// ProbeSeeds is the number of seeds of the crash-k and crash-leader
	// experiments (0: DefaultProbeSeeds).
	ProbeSeeds int
	// Faults, when not nil, replaces the base scenario's fault kinds in the
	// safety experiment.
	Faults *[]string
	// Engine is the engine of every row ("": the scenario's); Engines, when
	// set, runs every combination on each of these engines instead, side by
	// side.
	Engine   string
	Engines  []string
	Duration node.Time // the safety phase of each run (0: DefaultDuration)
	Parallel int
	// SafetyOnly skips the crash-k and crash-leader experiments (their
	// figures are then -1 and NaN): for quick sweeps of safety alone.
	SafetyOnly bool
	// Progress is called after each run, one call at a time.
	Progress func(done, total int)
}

// Row is one combination's measured figures. Latencies are virtual
// milliseconds; a figure that could not be measured (no acknowledged write,
// no election) is NaN.
type Row struct {
	Engine  string
	Servers int
	Quorum  string
	Safe    bool // every election quorum meets every commit quorum
	// NotApplicable says why the engine cannot run this quorum (raft runs
	// majorities only); the row then has no runs and no figures.
	NotApplicable string
	Seeds         int
	// Violations counts the seeds whose history a checker rejected:
	// LostWriteSeeds of them lost acknowledged writes (LostWrites of them
	// in all, as checker.LostWrites counts), OtherViolationSeeds lost none
	// but broke another promise.
	Violations          int
	LostWriteSeeds      int
	LostWrites          int
	OtherViolationSeeds int
	FirstViolationSeed  uint64
	Repro               string // of the first violating seed
	// Availability is the share of write attempts acknowledged, averaged
	// over seeds; DuringFaults counts only attempts made while a fault was
	// active.
	Availability, AvailabilityDuringFaults float64
	// CrashTolerance is the largest k such that, with servers N, N-1, ...
	// crashed for good (k of them), every probe seed still acknowledged a
	// write; -1 if not even k = 0 commits.
	CrashTolerance int
	// CrashCommitShare[k] is the share of probe seeds that still
	// acknowledged a write with k servers crashed for good (nil with
	// SafetyOnly).
	CrashCommitShare       []float64
	WriteP50Ms, WriteP99Ms float64
	ElectionP50Ms          float64
	ElectionP99Ms          float64
	ReadsPerS              float64 // successful reads per virtual second: of the read-capacity probe (servers with a CPU), or of the safety runs with SafetyOnly
	WallMs                 int64
	_                      struct{}
}

// Skipped is a combination that cannot be run, with the reason.
type Skipped struct {
	Servers int
	Quorum  string
	Reason  string
}

// Report is a whole sweep's outcome.
type Report struct {
	Rows    []Row
	Skipped []Skipped
	WallMs  int64
}

// Scenario is the base scenario with the combination applied.
func Scenario(servers int, q string, cfg Config) (scenarios.Scenario, error) {
	sc, err := scenarios.Lookup(BaseScenario)
	if err != nil {
		return sc, err
	}
	d := cfg.Duration
	if d == 0 {
		d = DefaultDuration
	}
	return sc.Apply(scenarios.Overrides{Servers: servers, Quorum: q, Engine: cfg.Engine, Duration: d, Faults: cfg.Faults, Knobs: "default"})
}

// task is one run of a sweep; its outcome is folded into a row.
type task struct {
	row  int
	kind taskKind
	sc   scenarios.Scenario
	seed uint64
	opt  scenarios.Options
	k    int // crash-k: servers crashed
}

type taskKind int

const (
	taskSafety taskKind = iota + 1
	taskCrashK
	taskElection
	// taskReads runs the read-capacity scenario (servers with a CPU,
	// read-only clients) with the row's ensemble and quorum.
	taskReads
)

// outcome is what a task measured.
type outcome struct {
	res       *scenarios.Result
	err       error
	committed bool      // crash-k
	lost      int       // safety: acknowledged writes lost
	election  node.Time // crash-leader; -1 if not measured
	readsPerS float64
}

// Sweep runs every valid combination of cfg.Servers and cfg.Quorums.
func Sweep(cfg Config) (*Report, error) {
	start := time.Now()
	if cfg.Seeds <= 0 {
		return nil, fmt.Errorf("experiments: %d seeds: want at least one", cfg.Seeds)
	}
	if cfg.FirstSeed == 0 {
		cfg.FirstSeed = 1
	}
	if cfg.ProbeSeeds <= 0 {
		cfg.ProbeSeeds = DefaultProbeSeeds
	}
	rep := &Report{}
	var tasks []task
	engineList := cfg.Engines
	if len(engineList) == 0 {
		engineList = []string{cfg.Engine}
	}
	base := cfg
	for ei, engine := range engineList {
		cfg := base
		cfg.Engine = engine
		for _, n := range cfg.Servers {
			for _, q := range cfg.Quorums {
				v, err := quorum.Parse(q, n)
				if err != nil {
					if ei == 0 { // the same for every engine: said once
						rep.Skipped = append(rep.Skipped, Skipped{Servers: n, Quorum: q, Reason: err.Error()})
					}
					continue
				}
				t, err := plan(&rep.Rows, n, q, v, cfg)
				if err != nil {
					return nil, err
				}
				tasks = append(tasks, t...)
			}
		}
	}
	outs := runAll(tasks, cfg.Parallel, cfg.Progress)
	for i := range rep.Rows {
		if err := fold(&rep.Rows[i], i, tasks, outs); err != nil {
			return nil, err
		}
	}
	rep.WallMs = time.Since(start).Milliseconds()
	return rep, nil
}

// plan adds the row of one combination and returns its runs: none if the
// engine cannot run the quorum (the row says why).
func plan(rows *[]Row, n int, q string, v quorum.Verifier, cfg Config) ([]task, error) {
	var tasks []task
	row := len(*rows)
	r := Row{Engine: cfg.Engine, Servers: n, Quorum: v.String(), Safe: v.Safe(), Seeds: cfg.Seeds}
	sc, err := Scenario(n, q, cfg)
	if err != nil {
		if eng, lerr := engines.Lookup(cfg.Engine); lerr == nil {
			if cerr := eng.Check(v); cerr != nil {
				r.Seeds, r.NotApplicable = 0, cerr.Error()
				*rows = append(*rows, r)
				return nil, nil
			}
		}
		return nil, err
	}
	r.Engine = sc.Engine
	*rows = append(*rows, r)
	for s := range cfg.Seeds {
		tasks = append(tasks, task{row: row, kind: taskSafety, sc: sc, seed: cfg.FirstSeed + uint64(s)})
	}
	if cfg.SafetyOnly {
		return tasks, nil
	}
	for k := 0; k < n; k++ {
		csc, sched := CrashK(sc, crashedServers(n, k))
		for s := range cfg.ProbeSeeds {
			tasks = append(tasks, task{row: row, kind: taskCrashK, sc: csc, seed: cfg.FirstSeed + uint64(s),
				opt: scenarios.Options{Schedule: &sched}, k: k})
		}
	}
	rsc, err := scenarios.Lookup("read-capacity")
	if err != nil {
		return nil, err
	}
	if rsc, err = rsc.Apply(scenarios.Overrides{Servers: n, Quorum: q, Engine: cfg.Engine, Knobs: "default"}); err != nil {
		return nil, err
	}
	tasks = append(tasks, task{row: row, kind: taskReads, sc: rsc, seed: cfg.FirstSeed})
	esc, sched := CrashLeader(sc)
	for s := range cfg.ProbeSeeds {
		tasks = append(tasks, task{row: row, kind: taskElection, sc: esc, seed: cfg.FirstSeed + uint64(s),
			opt: scenarios.Options{Schedule: &sched}})
	}
	return tasks, nil
}

// crashedServers are the k servers the crash-k experiment crashes: the
// highest IDs, so that k and k+1 crash nested sets.
func crashedServers(n, k int) []node.ID {
	ids := make([]node.ID, 0, k)
	for i := range k {
		ids = append(ids, node.ID(n-i))
	}
	return ids
}

// CrashK is the crash-k experiment's scenario and schedule: no swarm, the
// given servers crash at crashAt and never restart, and the safety phase
// ends commitBound later (before the liveness phase restarts them).
func CrashK(sc scenarios.Scenario, crashed []node.ID) (scenarios.Scenario, nemesis.Schedule) {
	sc.Nemesis.Kinds = nil
	sc.Duration = crashAt + commitBound
	if len(crashed) == 0 {
		return sc, nemesis.Schedule{}
	}
	return sc, nemesis.Schedule{{At: crashAt, Kind: nemesis.Crash, Nodes: slices.Clone(crashed)}}
}

// CrashLeader is the election experiment's scenario and schedule: the
// leader crashes once at crashAt and stays down.
func CrashLeader(sc scenarios.Scenario) (scenarios.Scenario, nemesis.Schedule) {
	sc.Nemesis.Kinds = nil
	sc.Duration = crashAt + commitBound
	return sc, nemesis.Schedule{{At: crashAt, Kind: nemesis.CrashLeader}}
}

// CrashCommits runs the crash-k experiment of the combination sc with the
// given servers crashed for good, for seeds firstSeed.., and reports
// whether every seed still acknowledged a write after the crash.
func CrashCommits(sc scenarios.Scenario, crashed []node.ID, firstSeed uint64, seeds int) (bool, error) {
	csc, sched := CrashK(sc, crashed)
	for s := range seeds {
		r, err := scenarios.Run(csc, firstSeed+uint64(s), scenarios.Options{Schedule: &sched})
		if err != nil {
			return false, err
		}
		if r.Verdict == scenarios.VerdictError {
			return false, fmt.Errorf("harness error (a bug in zoosim, not in the service): %s; repro: %s", r.Err, r.Repro)
		}
		if !CommitsAfterCrash(r, csc.Duration) {
			return false, nil
		}
	}
	return true, nil
}

// CrashTolerance measures the largest k such that the combination sc, with
// servers N, N-1, ... (k of them) crashed for good, still acknowledges a
// write in every seed; -1 if not even k = 0 does.
func CrashTolerance(sc scenarios.Scenario, firstSeed uint64, seeds int) (int, error) {
	tolerance := -1
	for k := 0; k < sc.Servers; k++ {
		ok, err := CrashCommits(sc, crashedServers(sc.Servers, k), firstSeed, seeds)
		if err != nil || !ok {
			return tolerance, err
		}
		tolerance = k
	}
	return tolerance, nil
}

// CommitsAfterCrash reports whether a run acknowledged a write called after
// crashAt and returned before the safety phase ended.
func CommitsAfterCrash(r *scenarios.Result, end node.Time) bool {
	return firstAckAfter(r.History, crashAt, end) >= 0
}

// firstAckAfter is the earliest return of a write called at or after t and
// acknowledged by end; -1 if there is none.
func firstAckAfter(h *checker.History, t, end node.Time) node.Time {
	if h == nil {
		return -1
	}
	first := node.Time(-1)
	for _, op := range h.Ops {
		if !op.Kind.IsWrite() || op.Unknown || op.Err != model.ErrOK || op.Call < t || op.Return > end {
			continue
		}
		if first < 0 || op.Return < first {
			first = op.Return
		}
	}
	return first
}

// readsPerSecond counts the reads answered without error during the safety
// phase, per virtual second.
func readsPerSecond(h *checker.History, end node.Time) float64 {
	if h == nil || end <= 0 {
		return 0
	}
	reads := 0
	for _, op := range h.Ops {
		if op.Kind.IsWrite() || op.Unknown || op.Err != model.ErrOK || op.Return > end {
			continue
		}
		reads++
	}
	return float64(reads) / (float64(end) / float64(node.Second))
}

func runAll(tasks []task, parallel int, progress func(done, total int)) []outcome {
	outs := make([]outcome, len(tasks))
	var mu sync.Mutex
	next, done := 0, 0
	var wg sync.WaitGroup
	for range max(parallel, 1) {
		wg.Go(func() {
			for {
				mu.Lock()
				if next >= len(tasks) {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				outs[i] = runTask(tasks[i])
				mu.Lock()
				done++
				if progress != nil {
					progress(done, len(tasks))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return outs
}

func runTask(t task) outcome {
	r, err := scenarios.Run(t.sc, t.seed, t.opt)
	if err != nil {
		return outcome{err: err}
	}
	if r.Verdict == scenarios.VerdictError {
		// The harness failed: no figure of this run means anything.
		return outcome{err: fmt.Errorf("harness error (a bug in zoosim, not in the service): %s; repro: %s", r.Err, r.Repro)}
	}
	o := outcome{election: -1}
	switch t.kind {
	case taskSafety:
		o.readsPerS = readsPerSecond(r.History, t.sc.Duration)
		if r.Verdict == checker.VerdictViolation {
			o.lost = len(checker.LostWrites(r.History))
		}
	case taskReads:
		o.readsPerS = readsPerSecond(r.History, t.sc.Duration)
	case taskCrashK:
		o.committed = CommitsAfterCrash(r, t.sc.Duration)
	case taskElection:
		if crashed := leaderCrashedAt(r); crashed >= 0 {
			if first := firstAckAfter(r.History, crashed, t.sc.Duration); first >= 0 {
				o.election = first - crashed
			}
		}
	}
	// Keep only what folding needs: histories are large.
	r.History, r.Report = nil, checker.Report{}
	o.res = r
	return o
}

// leaderCrashedAt is when the crash-leader fault struck; -1 if it was
// skipped (no established leader at the time).
func leaderCrashedAt(r *scenarios.Result) node.Time {
	for _, a := range r.Applied {
		if a.Kind == nemesis.CrashLeader && !a.Skipped {
			return a.Start
		}
	}
	return -1
}

func fold(row *Row, i int, tasks []task, outs []outcome) error {
	if row.NotApplicable != "" {
		nan := math.NaN()
		row.Availability, row.AvailabilityDuringFaults, row.ReadsPerS = nan, nan, nan
		row.WriteP50Ms, row.WriteP99Ms, row.ElectionP50Ms, row.ElectionP99Ms = nan, nan, nan, nan
		row.CrashTolerance = -1
		return nil
	}
	var avail, availFaults, reads, probeReads float64
	readProbes := 0
	var writes, elections []node.Time
	committed := map[int]bool{} // k -> every seed committed
	commits, probes := map[int]int{}, map[int]int{}
	for j, t := range tasks {
		if t.row != i {
			continue
		}
		o := outs[j]
		if o.err != nil {
			return fmt.Errorf("experiments: %d servers, quorum %s, seed %d: %w", row.Servers, row.Quorum, t.seed, o.err)
		}
		row.WallMs += o.res.WallMs
		switch t.kind {
		case taskSafety:
			if o.res.Verdict == checker.VerdictViolation {
				row.Violations++
				row.LostWrites += o.lost
				if o.lost > 0 {
					row.LostWriteSeeds++
				} else {
					row.OtherViolationSeeds++
				}
				if row.Repro == "" || t.seed < row.FirstViolationSeed {
					row.FirstViolationSeed, row.Repro = t.seed, o.res.Repro
				}
			}
			avail += o.res.WriteAvailability
			availFaults += o.res.DuringFaults
			reads += o.readsPerS
			writes = append(writes, o.res.WriteLatencies...)
		case taskReads:
			probeReads += o.readsPerS
			readProbes++
		case taskCrashK:
			all, seen := committed[t.k]
			committed[t.k] = (all || !seen) && o.committed
			probes[t.k]++
			if o.committed {
				commits[t.k]++
			}
		case taskElection:
			if o.election >= 0 {
				elections = append(elections, o.election)
			}
		}
	}
	seeds := float64(row.Seeds)
	row.Availability, row.AvailabilityDuringFaults, row.ReadsPerS = avail/seeds, availFaults/seeds, reads/seeds
	if readProbes > 0 {
		// The capacity probe loads servers that have a CPU; the safety
		// runs' reads only follow their clients' pace.
		row.ReadsPerS = probeReads / float64(readProbes)
	}
	row.WriteP50Ms, row.WriteP99Ms = Percentile(writes, 50), Percentile(writes, 99)
	row.ElectionP50Ms, row.ElectionP99Ms = Percentile(elections, 50), Percentile(elections, 99)
	// Tolerance is the largest k below which every k commits too: a
	// configuration that stalls at k and recovers at k+1 would be a bug.
	row.CrashTolerance = -1
	for k := 0; k < row.Servers && committed[k]; k++ {
		row.CrashTolerance = k
	}
	for k := 0; k < row.Servers && probes[k] > 0; k++ {
		row.CrashCommitShare = append(row.CrashCommitShare, float64(commits[k])/float64(probes[k]))
	}
	return nil
}

// Percentile is the p-th percentile (nearest rank) of ts in virtual
// milliseconds; NaN for none.
func Percentile(ts []node.Time, p float64) float64 {
	if len(ts) == 0 {
		return math.NaN()
	}
	s := slices.Clone(ts)
	slices.Sort(s)
	rank := int(math.Ceil(p/100*float64(len(s)))) - 1
	rank = min(max(rank, 0), len(s)-1)
	return float64(s[rank]) / float64(node.Millisecond)
}

// EngineFigures is what one engine showed over a differential run.
type EngineFigures struct {
	Engine string
	Runs   int
	// Violations counts the runs a checker rejected; Failures lists their
	// repro lines.
	Violations int
	Failures   []string
	// Availability and DuringFaults are write availability averaged over
	// runs (see scenarios.Result); the latencies are over every
	// acknowledged write of every run, in virtual ms.
	Availability, DuringFaults float64
	WriteP50Ms, WriteP99Ms     float64
	Ops                        int
}

// Differential runs scenario sc for seeds firstSeed.. on each engine, the
// same seed on both, and reports each engine's figures: a violation on one
// engine and not the other points at that protocol, one on both at the
// layers above them.
func Differential(sc scenarios.Scenario, engineNames []string, firstSeed uint64, seeds, parallel int) ([]EngineFigures, error) {
	var tasks []task
	for i, e := range engineNames {
		esc, err := sc.Apply(scenarios.Overrides{Engine: e})
		if err != nil {
			return nil, err
		}
		for s := range seeds {
			tasks = append(tasks, task{row: i, kind: taskSafety, sc: esc, seed: firstSeed + uint64(s)})
		}
	}
	outs := runAll(tasks, parallel, nil)
	figs := make([]EngineFigures, len(engineNames))
	lat := make([][]node.Time, len(engineNames))
	for i, e := range engineNames {
		figs[i].Engine = e
	}
	for j, t := range tasks {
		o, f := outs[j], &figs[t.row]
		if o.err != nil {
			return nil, fmt.Errorf("experiments: %s seed %d on %s: %w", t.sc.Name, t.seed, t.sc.Engine, o.err)
		}
		f.Runs++
		f.Ops += o.res.Ops
		if o.res.Verdict == checker.VerdictViolation {
			f.Violations++
			f.Failures = append(f.Failures, o.res.Repro)
		}
		f.Availability += o.res.WriteAvailability
		f.DuringFaults += o.res.DuringFaults
		lat[t.row] = append(lat[t.row], o.res.WriteLatencies...)
	}
	for i := range figs {
		if n := float64(figs[i].Runs); n > 0 {
			figs[i].Availability /= n
			figs[i].DuringFaults /= n
		}
		figs[i].WriteP50Ms, figs[i].WriteP99Ms = Percentile(lat[i], 50), Percentile(lat[i], 99)
	}
	return figs, nil
}
