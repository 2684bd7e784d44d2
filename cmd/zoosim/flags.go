package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"zoosim/checker"
	"zoosim/nemesis"
	"zoosim/node"
	"zoosim/quorum/engines"
	"zoosim/scenarios"
)

// flagSet is a subcommand's flags with the words its --help prints.
type flagSet struct {
	*flag.FlagSet
	synopsis string // "zoosim run --scenario S --seed N [flags]"
	about    string // what the command does, in a paragraph or two
}

func newFlagSet(name, synopsis, about string) *flagSet {
	fs := flag.NewFlagSet("zoosim "+name, flag.ContinueOnError)
	// The flag package reports a bad flag to Output and then calls Usage;
	// parseFlags prints the hint and the full usage itself.
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, synopsis: synopsis, about: about}
}

// printUsage prints the synopsis, the description and every flag, with
// the double dashes the documentation uses.
func (fs *flagSet) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage:\n  %s\n\n%s\n", fs.synopsis, strings.TrimSpace(fs.about))
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprint(w, "\nFlags:\n")
			first = false
		}
		arg, usage := flag.UnquoteUsage(f)
		if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); isBool {
			arg = ""
		}
		line := "  --" + f.Name
		if arg != "" {
			line += " " + arg
		}
		fmt.Fprintf(w, "%s\n        %s", line, strings.ReplaceAll(usage, "\n", "\n        "))
		switch {
		case f.DefValue == "" || f.DefValue == "0" || f.DefValue == "false" || f.DefValue == "0s":
		case strings.Contains(usage, "(default"): // the usage says it in words
		default:
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// parseFlags parses args, flags and positional arguments in any order (a
// lone "--" ends the flags). On --help it prints the usage on stdout; on a
// bad flag, the flag package's message and a hint on stderr. ok is false
// when the command must stop and return code.
func parseFlags(fs *flagSet, args []string, stdout, stderr io.Writer) (positional []string, code int, ok bool) {
	fs.SetOutput(stderr)
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fs.printUsage(stdout)
			return nil, exitOK, false
		}
		if err != nil {
			fmt.Fprintf(stderr, "run '%s --help' for usage\n", fs.Name())
			return nil, exitUsage, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, exitOK, true
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), exitOK, true
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// usageErr reports bad usage of a command and returns exitUsage.
func usageErr(stderr io.Writer, fs *flagSet, format string, args ...any) int {
	fmt.Fprintf(stderr, "%s: %s\nrun '%s --help' for usage\n", fs.Name(), fmt.Sprintf(format, args...), fs.Name())
	return exitUsage
}

// inputErr reports bad input (an unknown scenario, a malformed file, a
// scenario the overrides make invalid) and returns exitUsage.
func inputErr(stderr io.Writer, fs *flagSet, err error) int {
	fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
	return exitUsage
}

// overrideFlags are the scenario changes run, suite and shrink share.
type overrideFlags struct {
	bugs                    []string
	servers, clients        int
	quorum, engine          string
	readMode                string
	duration                node.Time
	faults                  *[]string
	checkTimeout            time.Duration
	checkBudget             int64
	visualizeDir            string
	durationText, faultText string // as given, for messages
	knobs                   string
}

func addOverrideFlags(fs *flagSet) *overrideFlags {
	o := &overrideFlags{}
	fs.Func("servers", "`N` servers in the ensemble (1..15; default: the scenario's)", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return errors.New("want a number of servers >= 1")
		}
		o.servers = n
		return nil
	})
	fs.StringVar(&o.quorum, "quorum", "", "the quorum `Q`: majority, a size such as 2, flex:E:C, hier:... (default: the scenario's)")
	fs.StringVar(&o.engine, "engine", "", "the replication `ENGINE`: "+strings.Join(engines.Names(), " or ")+" (default: the scenario's, or each of a suite's)")
	fs.Func("clients", "`N` clients (1..200; default: the scenario's)", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return errors.New("want a number of clients >= 1")
		}
		o.clients = n
		return nil
	})
	fs.Func("duration", "the safety phase's virtual `DURATION`, 1s..1h, such as 30s or 2m (default: the scenario's or the suite's)", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("want a duration such as 30s or 1m30s: %w", err)
		}
		if d <= 0 {
			return errors.New("want a positive duration")
		}
		if node.Time(d) < scenarios.MinDuration || node.Time(d) > scenarios.MaxDuration {
			return fmt.Errorf("%s is outside [%s, %s]: a shorter run ends before the first election", d,
				time.Duration(scenarios.MinDuration), time.Duration(scenarios.MaxDuration))
		}
		o.duration, o.durationText = node.Time(d), s
		return nil
	})
	fs.Func("faults", "the fault `KINDS` the swarm nemesis may draw from: kinds or families separated by commas\n(\"partition,crash\", \"all,-disk\"), or none (default: the scenario's)", func(s string) error {
		list, err := parseFaults(s)
		if err != nil {
			return err
		}
		o.faults, o.faultText = &list, s
		return nil
	})
	fs.Func("read-mode", "how servers answer reads, `MODE` local, synced or linearizable (default: the scenario's)", func(s string) error {
		switch s {
		case "local", "synced", "linearizable":
			o.readMode = s
			return nil
		}
		return errors.New("want local, synced or linearizable")
	})
	fs.Func("bug", "switch on seeded `BUGS` (comma-separated: "+strings.Join(scenarios.BugNames, ", ")+") to see the checkers catch them", func(s string) error {
		for b := range strings.SplitSeq(s, ",") {
			if !slices.Contains(scenarios.BugNames, b) {
				return fmt.Errorf("unknown bug %q (known: %s)", b, strings.Join(scenarios.BugNames, ", "))
			}
			o.bugs = append(o.bugs, b)
		}
		return nil
	})
	fs.Func("knobs", "pin protocol and server `KNOBS` (name=value,...: "+strings.Join(scenarios.KnobNames(), ", ")+
		"; \"default\" pins ZooKeeper's defaults); knobs not pinned are drawn from the seed", func(s string) error {
		if _, err := scenarios.ParseKnobs(s, scenarios.Scenario{}); err != nil {
			return err
		}
		o.knobs = s
		return nil
	})
	fs.DurationVar(&o.checkTimeout, "check-timeout", checker.DefaultLinearizabilityTimeout, "wall-clock guard `TIME` on the linearizability search, a last resort: hitting it makes the verdict inconclusive and says \"guard hit\" (0: no guard)")
	fs.Int64Var(&o.checkBudget, "check-budget", checker.DefaultLinearizabilityBudget, "`STEPS` the linearizability search of a history without server records may take per partition; past them the verdict is inconclusive, the same on every machine (0: no limit)")
	fs.StringVar(&o.visualizeDir, "viz", "", "write porcupine's HTML visualization of a failing linearizability check into `DIR`")
	return o
}

// parseFaults turns --faults into the overrides' list: "none" is the empty
// list; anything else must be a list nemesis.ParseKinds accepts.
func parseFaults(s string) ([]string, error) {
	if strings.TrimSpace(s) == "none" {
		return []string{}, nil
	}
	if _, err := nemesis.ParseKinds(s); err != nil {
		return nil, err
	}
	var list []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			list = append(list, item)
		}
	}
	return list, nil
}

func (o *overrideFlags) overrides() scenarios.Overrides {
	return scenarios.Overrides{Servers: o.servers, Quorum: o.quorum, Engine: o.engine, Clients: o.clients,
		Duration: o.duration, Faults: o.faults, ReadMode: o.readMode, Bugs: o.bugs, Knobs: o.knobs}
}

// options are the judging options the flags ask for. The check timeout 0
// means no limit to a user; the harness spells that as a negative value.
func (o *overrideFlags) options() (scenarios.Options, error) {
	opt := scenarios.Options{CheckTimeout: o.checkTimeout, CheckBudget: o.checkBudget, VisualizeDir: o.visualizeDir}
	if o.checkTimeout < 0 || o.checkBudget < 0 {
		return opt, errors.New("--check-timeout and --check-budget must not be negative")
	}
	if o.checkTimeout == 0 {
		opt.CheckTimeout = -1
	}
	if o.checkBudget == 0 {
		opt.CheckBudget = -1
	}
	return opt, nil
}

// makeVizDir creates the --viz directory, once the run is about to start.
func (o *overrideFlags) makeVizDir() error {
	if o.visualizeDir == "" {
		return nil
	}
	if err := os.MkdirAll(o.visualizeDir, 0o755); err != nil {
		return fmt.Errorf("--viz: %w", err)
	}
	return nil
}

// seedFlag is a uint64 seed that remembers whether it was given.
type seedFlag struct {
	seed uint64
	set  bool
}

func (s *seedFlag) String() string {
	if s == nil || !s.set {
		return ""
	}
	return strconv.FormatUint(s.seed, 10)
}

func (s *seedFlag) Set(v string) error {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return errors.New("want a seed from 1 to 18446744073709551615")
	}
	s.seed, s.set = n, true
	return nil
}

// countFlag is an int flag with bounds that remembers whether it was given
// (so that an explicit 0 is an error, not the default).
type countFlag struct {
	n        int
	set      bool
	min, max int
}

func (c *countFlag) String() string {
	if c == nil || !c.set {
		return ""
	}
	return strconv.Itoa(c.n)
}

func (c *countFlag) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < c.min || n > c.max {
		return fmt.Errorf("want a whole number from %d to %d", c.min, c.max)
	}
	c.n, c.set = n, true
	return nil
}

// maxShards bounds --shard's N (a sweep's runs bound it further).
const maxShards = 1 << 20

// parseShard reads "I/N" with 1 <= I <= N <= maxShards, both in plain
// decimal digits.
func parseShard(s string) (shard, shards int, err error) {
	i, n, ok := strings.Cut(s, "/")
	if ok && digits(i) && digits(n) {
		shard, err1 := strconv.Atoi(i)
		shards, err2 := strconv.Atoi(n)
		if err1 == nil && err2 == nil && shards >= 1 && shards <= maxShards && shard >= 1 && shard <= shards {
			return shard, shards, nil
		}
	}
	return 0, 0, fmt.Errorf("shard %.40q: want I/N with 1 <= I <= N <= %d, such as 2/4", s, maxShards)
}

func digits(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
