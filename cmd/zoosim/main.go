// Command zoosim runs zoosim's deterministic simulations from the command
// line: one scenario for one seed (run, repro), a suite of scenarios over
// many seeds, sharded across machines if need be (suite, merge), the
// shrinking of a failing run to a minimal one (shrink), the checkers
// alone over a saved history (check), and the quorum experiments (quorum).
// It also runs the same servers for real: one ensemble member from a
// zoo.cfg (serve) or a local ensemble of them (ensemble), and measures
// them next to Apache ZooKeeper under go-zookeeper clients (bench).
//
// Every command prints for people by default and, with --json, one JSON
// object on stdout and nothing else there. The exit status is 0 when no
// violation was found (an inconclusive check is not a violation, and the
// output says so), 1 when one was (or a suite had more inconclusive runs
// than --max-inconclusive allows), and 2 for bad usage, bad input or a
// harness error (zoosim's own bug: it says nothing about the service).
//
// The command is a thin shell over package scenarios: it parses flags,
// calls the harness and formats what comes back. It never decides a
// verdict itself.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// Exit statuses.
const (
	exitOK        = 0 // no violation (possibly inconclusive)
	exitViolation = 1 // a checker found a violation; a suite over its inconclusive budget
	exitUsage     = 2 // bad usage or bad input
	exitHarness   = 2 // the harness failed (a bug in zoosim, not in the service)
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"list", "list the scenarios and suites", cmdList},
		{"run", "run one scenario for one seed", cmdRun},
		{"repro", "replay a run from the repro line a failing run printed", cmdRepro},
		{"suite", "run a suite of scenarios over many seeds (shardable)", cmdSuite},
		{"merge", "join the JSON results of suite shards into one", cmdMerge},
		{"report", "write the HTML report of a suite's JSON (or of its shards' JSON, merged)", cmdReport},
		{"shrink", "shrink a failing run to a minimal fault schedule and workload", cmdShrink},
		{"check", "run the checkers over a saved history", cmdCheck},
		{"quorum", "compare ensemble sizes and quorums: safety, availability, crash tolerance, latency", cmdQuorum},
		{"bugs", "the seeded-bug catalog, and how often a suite finds each bug (--measure)", cmdBugs},
		{"serve", "run one ensemble member for real (zoo.cfg, TCP, files, ZooKeeper clients)", cmdServe},
		{"ensemble", "start a local ensemble of zoosim serve processes on loopback", cmdEnsemble},
		{"real", "run a scenario's workload and faults against a real ensemble (zoosim or Apache ZooKeeper) and judge it", cmdReal},
		{"bench", "measure zoosim's servers and Apache ZooKeeper side by side: ops/s, p50, p99 under go-zookeeper clients", cmdBench},
		{"version", "print the version", cmdVersion},
		{"help", "show help for a command", nil}, // handled by run
	}
}

// run is the whole command line: it dispatches args (without the program
// name) to a subcommand and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage())
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, mainUsage())
		return exitOK
	case "-version", "--version":
		return cmdVersion(nil, stdout, stderr)
	case "help":
		if len(rest) == 0 {
			fmt.Fprint(stdout, mainUsage())
			return exitOK
		}
		// "zoosim help run" is "zoosim run --help".
		return run([]string{rest[0], "--help"}, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == name && c.run != nil {
			return c.run(rest, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "zoosim: unknown command %q\n\n%s", name, mainUsage())
	return exitUsage
}

func mainUsage() string {
	var b strings.Builder
	b.WriteString(`zoosim: a ZooKeeper-style coordination service under deterministic simulation

Usage:
  zoosim <command> [flags] [arguments]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	b.WriteString(`
Examples:
  zoosim list
  zoosim run --scenario standard --seed 42
  zoosim repro "repro: zoosim run --scenario standard --seed 42"
  zoosim suite --suite ci --seeds 20 --shard 2/4 --json > shard-2.json
  zoosim merge shard-*.json
  zoosim report shard-*.json --html nightly.html
  zoosim suite --corpus corpus/regressions.json
  zoosim shrink --scenario quorum-2-of-5 --seed 7
  zoosim check history.json
  zoosim quorum --servers 3,4,5,7 --quorum majority,2,3 --seeds 200 --html q.html
  zoosim ensemble --servers 3 --dir /tmp/zk
  zoosim serve --config zoo.cfg

Exit status: 0 no violation (an inconclusive check is not a violation; the
output says so), 1 a violation (or more inconclusive suite runs than
--max-inconclusive allows), 2 bad usage, bad input or a harness error (a
bug in zoosim itself, never counted as a violation of the service).
With --json a command prints one JSON object on stdout and nothing else.
Run "zoosim <command> --help" for a command's flags.
`)
	return b.String()
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "zoosim version", "Print zoosim's version, its VCS revision and the Go version it was built with.")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, fs, "version takes no arguments")
	}
	fmt.Fprintln(stdout, version())
	return exitOK
}

func version() string {
	v := "zoosim (devel)"
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v + " " + runtime.Version()
	}
	if info.Main.Version != "" {
		v = "zoosim " + info.Main.Version
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (modified)"
			}
		}
	}
	v += " " + info.GoVersion
	if rev != "" {
		v += " rev " + rev + modified
	}
	return v
}
