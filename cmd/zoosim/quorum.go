package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"zoosim/experiments"
	"zoosim/node"
	"zoosim/quorum/engines"
	"zoosim/scenarios"
)

const quorumAbout = `
Run the quorum experiments for every combination of ensemble size and
quorum: the same scenario (quorum-2-of-5's registers under partitions and
leader crashes, or the --faults given) for K seeds each, unsafe quorums
included and labelled, and combinations that cannot exist (a quorum larger
than the ensemble) skipped with a note. One row per combination:

  engine            the replication engine: --engine zab,raft runs every
                    combination on both, side by side; a quorum an engine
                    cannot run (raft decides by majorities only) is a row
                    marked n/a, with the reason under the table
  servers, quorum   the ensemble size and the quorum as spelled
  safe              every election quorum meets every commit quorum
  viol              seeds whose history a checker rejected, and the first
                    such seed (its repro line is printed under the table
                    and replays with zoosim repro)
  lost              of those, the seeds that lost acknowledged writes (the
                    rest broke other promises only)
  avail, faults     the share of write attempts acknowledged over the run
                    and during faults only, averaged over seeds
  crash-tol         measured, not computed: the largest k such that, with k
                    servers (the highest IDs) crashed for good 3s into a
                    run, every probe seed still acknowledges a write
                    within 8s
  write p50/p99     write latency in virtual ms
  elect p50/p99     virtual ms from the leader's crash (once, at 3s, no
                    restart) to the first acknowledged write after it,
                    over the probe seeds
  reads/s           reads answered per virtual second of the safety phase

--quorum takes a comma-separated list: majority, a size such as 3,
flex:E:C (election and commit quorum sizes), hier:1=3,2=1|3=1,... (groups
separated by '|', members ID=WEIGHT; the commas inside a hier quorum stay
with it).

With --json, one object on stdout:
  {"rows":[{"engine","servers","quorum","safe","seeds","violations",
   "lost_write_seeds","lost_writes","other_violation_seeds",
   "first_violation_seed","repro" ("" if none),"availability",
   "availability_during_faults","crash_tolerance","crash_commit_share"
   (per k crashed servers, the share of probe seeds still committing),"write_p50_ms",
   "write_p99_ms","election_p50_ms","election_p99_ms","reads_per_s",
   "not_applicable" ("" if the engine runs the quorum)}],
   "skipped":[{"servers","quorum","reason"}],"wall_ms"}
A figure that could not be measured is null. --csv FILE writes the rows as
CSV; --html FILE writes a self-contained report: plots (gonum/plot, inline
SVG) of availability, write latency and election time (p50 and p99), crash
tolerance per ensemble size and quorum, and lost acknowledged writes apart
from other broken promises, then the table.

Exit status: 0 no violation in a combination labelled safe (violations of
unsafe quorums are the experiment's findings), 1 a violation in a safe
combination, 2 bad usage, bad input (no valid combination at all included)
or a harness error.`

func cmdQuorum(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("quorum", "zoosim quorum --servers N,... --quorum Q,... [--seeds K] [--parallel P] [flags]", quorumAbout)
	var servers []int
	fs.Func("servers", "ensemble sizes `N,...` (each 1..15), such as 3,4,5,7", func(s string) error {
		servers = nil
		for item := range strings.SplitSeq(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(item))
			if err != nil || n < 1 || n > 15 {
				return fmt.Errorf("%q: want ensemble sizes 1..15 separated by commas", item)
			}
			servers = append(servers, n)
		}
		return nil
	})
	var quorums []string
	fs.Func("quorum", "quorums `Q,...`: majority, a size, flex:E:C, hier:...", func(s string) error {
		quorums = splitQuorums(s)
		if len(quorums) == 0 {
			return errors.New("want at least one quorum")
		}
		return nil
	})
	seeds := fs.Int("seeds", 200, "`K` seeds of the safety experiment per combination")
	firstSeed := fs.Uint64("first-seed", 1, "the first seed `N` (>= 1)")
	probeSeeds := fs.Int("probe-seeds", experiments.DefaultProbeSeeds, "`K` seeds of the crash-k and crash-leader experiments per combination")
	var engineList []string
	fs.Func("engine", "the replication `ENGINES` to compare, side by side: "+strings.Join(engines.Names(), ", ")+
		", comma-separated (default: the scenario's)", func(s string) error {
		engineList = nil
		for item := range strings.SplitSeq(s, ",") {
			item = strings.TrimSpace(item)
			if _, err := engines.Lookup(item); err != nil {
				return err
			}
			engineList = append(engineList, item)
		}
		return nil
	})
	var faults *[]string
	fs.Func("faults", "the fault `KINDS` of the safety experiment (default: partition-majority,\npartition-halves,crash-leader,heal)", func(s string) error {
		list, err := parseFaults(s)
		if err != nil {
			return err
		}
		faults = &list
		return nil
	})
	duration := node.Time(experiments.DefaultDuration)
	fs.Func("duration", "the safety phase's virtual `DURATION` per run (default 20s)", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil || node.Time(d) < scenarios.MinDuration || node.Time(d) > scenarios.MaxDuration {
			return fmt.Errorf("want a duration from %s to %s, such as 20s", time.Duration(scenarios.MinDuration), time.Duration(scenarios.MaxDuration))
		}
		duration = node.Time(d)
		return nil
	})
	parallel := fs.Int("parallel", runtime.NumCPU(), "run `P` worlds at a time (default: the number of CPUs)")
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	csvPath := fs.String("csv", "", "write the rows as CSV to `FILE`")
	htmlPath := fs.String("html", "", "write a self-contained HTML report with plots to `FILE`")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	switch {
	case len(pos) > 0:
		return usageErr(stderr, fs, "unexpected argument %q", pos[0])
	case len(servers) == 0:
		return usageErr(stderr, fs, "--servers is required, such as --servers 3,5")
	case len(quorums) == 0:
		return usageErr(stderr, fs, "--quorum is required, such as --quorum majority,2")
	case *seeds < 1 || *seeds > scenarios.MaxSeeds:
		return usageErr(stderr, fs, "--seeds must be from 1 to %d", scenarios.MaxSeeds)
	case *probeSeeds < 1 || *probeSeeds > scenarios.MaxSeeds:
		return usageErr(stderr, fs, "--probe-seeds must be from 1 to %d", scenarios.MaxSeeds)
	case *firstSeed > math.MaxUint64-uint64(max(*seeds, *probeSeeds)):
		return usageErr(stderr, fs, "--first-seed %d: the last seed would pass 2^64-1", *firstSeed)
	case *parallel > scenarios.MaxParallel:
		return usageErr(stderr, fs, "--parallel must be at most %d", scenarios.MaxParallel)
	case len(quorums) > maxQuorums:
		return usageErr(stderr, fs, "at most %d quorums at a time", maxQuorums)
	case hasDuplicate(servers) || hasDuplicate(quorums):
		return usageErr(stderr, fs, "--servers and --quorum must not name a value twice")
	case *firstSeed < 1:
		return usageErr(stderr, fs, "--first-seed must be at least 1")
	case *parallel < 1:
		return usageErr(stderr, fs, "--parallel must be at least 1")
	}
	// Create the output files first, so that a bad path fails fast.
	var csvFile, htmlFile *os.File
	var err error
	if *csvPath != "" {
		if csvFile, err = os.Create(*csvPath); err != nil {
			return inputErr(stderr, fs, err)
		}
		defer csvFile.Close()
	}
	if *htmlPath != "" {
		if htmlFile, err = os.Create(*htmlPath); err != nil {
			return inputErr(stderr, fs, err)
		}
		defer htmlFile.Close()
	}
	prog := func(done, total int) {}
	var bar *termBar
	switch {
	case *quiet:
	case isTerminal(stderr):
		prog = func(done, total int) {
			if bar == nil {
				bar = newTermBar(stderr, total, "quorum")
			}
			bar.set(done, "quorum")
		}
	default:
		step := 0
		prog = func(done, total int) {
			if 10*done/total > step || done == total {
				step = 10 * done / total
				fmt.Fprintf(stderr, "quorum: %d/%d runs\n", done, total)
			}
		}
	}
	rep, err := experiments.Sweep(experiments.Config{Servers: servers, Quorums: quorums, Seeds: *seeds,
		FirstSeed: *firstSeed, ProbeSeeds: *probeSeeds, Faults: faults, Engines: engineList, Duration: duration,
		Parallel: *parallel, Progress: prog})
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return inputErr(stderr, fs, err)
	}
	if len(rep.Rows) == 0 {
		for _, s := range rep.Skipped {
			fmt.Fprintf(stderr, "%s: skipped %s with quorum %s: %s\n", fs.Name(), plural(s.Servers, "server"), s.Quorum, s.Reason)
		}
		return inputErr(stderr, fs, errors.New("no combination of --servers and --quorum is valid: nothing to run"))
	}
	code = exitOK
	for _, r := range rep.Rows {
		if r.Safe && r.Violations > 0 {
			code = exitViolation
		}
	}
	if csvFile != nil {
		if err := experiments.WriteCSV(csvFile, rep.Rows); err != nil {
			fmt.Fprintf(stderr, "%s: writing %s: %v\n", fs.Name(), *csvPath, err)
			code = exitUsage
		}
	}
	if htmlFile != nil {
		title := fmt.Sprintf("zoosim quorum: %d seeds per combination", *seeds)
		if err := experiments.WriteHTML(htmlFile, rep, title); err != nil {
			fmt.Fprintf(stderr, "%s: writing %s: %v\n", fs.Name(), *htmlPath, err)
			code = exitUsage
		}
	}
	if *asJSON {
		if err := writeJSON(stdout, quorumJSONOf(rep)); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
			return exitUsage
		}
		return code
	}
	printQuorum(stdout, rep)
	return code
}

// maxQuorums bounds --quorum's list (every one runs with every ensemble size).
const maxQuorums = 64

func hasDuplicate[T comparable](xs []T) bool {
	seen := map[T]bool{}
	for _, x := range xs {
		if seen[x] {
			return true
		}
		seen[x] = true
	}
	return false
}

// hierMember is the tail of a hier quorum that a comma split cut off.
var hierMember = regexp.MustCompile(`^\d+=\d+`)

// splitQuorums splits a --quorum list at commas, keeping the ID=WEIGHT
// members of a hier quorum with it.
func splitQuorums(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if n := len(out); n > 0 && strings.HasPrefix(out[n-1], "hier:") && hierMember.MatchString(item) {
			out[n-1] += "," + item
			continue
		}
		out = append(out, item)
	}
	return out
}

// quorumRowJSON is one row of quorum's --json object; figures that were
// not measured are null.
type quorumRowJSON struct {
	Engine                   string    `json:"engine"`
	Servers                  int       `json:"servers"`
	Quorum                   string    `json:"quorum"`
	Safe                     bool      `json:"safe"`
	Seeds                    int       `json:"seeds"`
	Violations               int       `json:"violations"`
	LostWriteSeeds           int       `json:"lost_write_seeds"`
	LostWrites               int       `json:"lost_writes"`
	OtherViolationSeeds      int       `json:"other_violation_seeds"`
	FirstViolationSeed       *uint64   `json:"first_violation_seed"`
	Repro                    string    `json:"repro"`
	Availability             *float64  `json:"availability"`
	AvailabilityDuringFaults *float64  `json:"availability_during_faults"`
	CrashTolerance           int       `json:"crash_tolerance"`
	CrashCommitShare         []float64 `json:"crash_commit_share"`
	WriteP50Ms               *float64  `json:"write_p50_ms"`
	WriteP99Ms               *float64  `json:"write_p99_ms"`
	ElectionP50Ms            *float64  `json:"election_p50_ms"`
	ElectionP99Ms            *float64  `json:"election_p99_ms"`
	ReadsPerS                *float64  `json:"reads_per_s"`
	NotApplicable            string    `json:"not_applicable"`
}

type quorumSkippedJSON struct {
	Servers int    `json:"servers"`
	Quorum  string `json:"quorum"`
	Reason  string `json:"reason"`
}

type quorumJSON struct {
	Rows    []quorumRowJSON     `json:"rows"`
	Skipped []quorumSkippedJSON `json:"skipped"`
	WallMs  int64               `json:"wall_ms"`
}

func quorumJSONOf(rep *experiments.Report) quorumJSON {
	opt := func(f float64) *float64 {
		if math.IsNaN(f) {
			return nil
		}
		return &f
	}
	out := quorumJSON{Rows: []quorumRowJSON{}, Skipped: []quorumSkippedJSON{}, WallMs: rep.WallMs}
	for _, r := range rep.Rows {
		row := quorumRowJSON{Engine: r.Engine, Servers: r.Servers, Quorum: r.Quorum, Safe: r.Safe, Seeds: r.Seeds, Violations: r.Violations,
			LostWriteSeeds: r.LostWriteSeeds, LostWrites: r.LostWrites, OtherViolationSeeds: r.OtherViolationSeeds,
			CrashCommitShare: r.CrashCommitShare, Repro: r.Repro, Availability: opt(r.Availability), AvailabilityDuringFaults: opt(r.AvailabilityDuringFaults),
			CrashTolerance: r.CrashTolerance, WriteP50Ms: opt(r.WriteP50Ms), WriteP99Ms: opt(r.WriteP99Ms),
			ElectionP50Ms: opt(r.ElectionP50Ms), ElectionP99Ms: opt(r.ElectionP99Ms), ReadsPerS: opt(r.ReadsPerS),
			NotApplicable: r.NotApplicable}
		if r.Violations > 0 {
			seed := r.FirstViolationSeed
			row.FirstViolationSeed = &seed
		}
		out.Rows = append(out.Rows, row)
	}
	for _, s := range rep.Skipped {
		out.Skipped = append(out.Skipped, quorumSkippedJSON{Servers: s.Servers, Quorum: s.Quorum, Reason: s.Reason})
	}
	return out
}

func printQuorum(w io.Writer, rep *experiments.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "engine\tservers\tquorum\tsafe\tseeds\tviol\tlost\tfirst\tavail\tfaults\tcrash-tol\twrite p50\tp99\telect p50\tp99\treads/s\t")
	for _, r := range rep.Rows {
		safe, first := "safe", "-"
		if !r.Safe {
			safe = "UNSAFE"
		}
		if r.NotApplicable != "" {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\tn/a\t\t\t\t\t\t\t\t\t\t\t\t\n", r.Engine, r.Servers, r.Quorum, safe)
			continue
		}
		if r.Violations > 0 {
			first = strconv.FormatUint(r.FirstViolationSeed, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%d\t%s\t%.1f%%\t%.1f%%\t%d\t%s\t%s\t%s\t%s\t%.1f\t\n", r.Engine, r.Servers, r.Quorum, safe,
			r.Seeds, r.Violations, r.LostWriteSeeds, first, 100*r.Availability, 100*r.AvailabilityDuringFaults, r.CrashTolerance,
			msText(r.WriteP50Ms), msText(r.WriteP99Ms), msText(r.ElectionP50Ms), msText(r.ElectionP99Ms), r.ReadsPerS)
	}
	tw.Flush()
	for _, r := range rep.Rows {
		if r.NotApplicable != "" {
			fmt.Fprintf(w, "not applicable: %s %s, quorum %s: %s\n", r.Engine, plural(r.Servers, "server"), r.Quorum, r.NotApplicable)
		}
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "skipped %s with quorum %s: %s\n", plural(s.Servers, "server"), s.Quorum, s.Reason)
	}
	for _, r := range rep.Rows {
		if r.Violations > 0 {
			fmt.Fprintf(w, "%s %s, quorum %s: %d of %d seeds broke a promise (%d lost %s, %d only other promises); first:\n  repro: %s\n",
				r.Engine, plural(r.Servers, "server"), r.Quorum, r.Violations, r.Seeds, r.LostWriteSeeds,
				plural(r.LostWrites, "acknowledged write"), r.OtherViolationSeeds, r.Repro)
		}
	}
	fmt.Fprintf(w, "latencies in virtual ms; wall time %.1fs\n", float64(rep.WallMs)/1000)
}

func msText(ms float64) string {
	if math.IsNaN(ms) {
		return "-"
	}
	return strconv.FormatFloat(ms, 'f', 1, 64)
}
