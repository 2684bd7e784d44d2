package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"zoosim/quorum/engines"
	"zoosim/scenarios"
)

type listJSON struct {
	Scenarios []scenarioJSON `json:"scenarios"`
	Suites    []suiteJSON    `json:"suites"`
	Bugs      []bugJSON      `json:"bugs"`
	Engines   []engineJSON   `json:"engines"`
}

type engineJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

type scenarioJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

type suiteJSON struct {
	Name      string   `json:"name"`
	Scenarios []string `json:"scenarios"`
	Engines   []string `json:"engines"`
}

func cmdList(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("list", "zoosim list [--json]", `
List every scenario of the catalogue (its name, shape and description) and
every suite (its scenarios, default seeds per scenario and duration, and
the engines it runs them on), every seeded bug, and every replication
engine.

With --json: {"scenarios":[{"name","description"}],"suites":[{"name","scenarios",
"engines"}],"bugs":[{"name","models","description","scenario","layer"}],
"engines":[{"name","description"}]} (see zoosim bugs); a suite's engines are []
when each scenario runs on its own.`)
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, fs, "list takes no arguments (got %q)", pos[0])
	}
	if *asJSON {
		out := listJSON{Scenarios: []scenarioJSON{}, Suites: []suiteJSON{}, Bugs: catalogJSON(), Engines: []engineJSON{}}
		for _, s := range scenarios.Catalog {
			out.Scenarios = append(out.Scenarios, scenarioJSON{Name: s.Name, Description: s.Description})
		}
		for _, s := range scenarios.Suites {
			out.Suites = append(out.Suites, suiteJSON{Name: s.Name, Scenarios: append([]string{}, s.Scenarios...),
				Engines: append([]string{}, s.Engines...)})
		}
		for _, e := range engines.Registry {
			out.Engines = append(out.Engines, engineJSON{Name: e.Name, Description: e.Description})
		}
		if err := writeJSON(stdout, out); err != nil {
			fmt.Fprintf(stderr, "zoosim list: %v\n", err)
			return exitUsage
		}
		return exitOK
	}

	width := 0
	for _, s := range scenarios.Catalog {
		width = max(width, len(s.Name))
	}
	fmt.Fprintln(stdout, "Scenarios:")
	for _, s := range scenarios.Catalog {
		faults := strings.Join(s.Nemesis.Kinds, ",")
		if faults == "" {
			faults = "none"
		}
		fmt.Fprintf(stdout, "  %-*s  %s, quorum %s, %s, %s, %s reads, faults %s\n",
			width, s.Name, plural(s.Servers, "server"), s.Quorum, plural(s.Clients, "client"), time.Duration(s.Duration), s.ReadMode, faults)
		fmt.Fprintf(stdout, "  %-*s  %s\n", width, "", s.Description)
	}
	fmt.Fprintln(stdout, "\nSuites:")
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, s := range scenarios.Suites {
		dur := "scenario's duration"
		if s.Duration > 0 {
			dur = time.Duration(s.Duration).String() + " each"
		}
		on := "each scenario's engine"
		if len(s.Engines) > 0 {
			on = "on " + strings.Join(s.Engines, " and ")
		}
		fmt.Fprintf(tw, "  %s\t%s per scenario, %s, %s\t%s: %s\n",
			s.Name, plural(s.Seeds, "seed"), dur, on, plural(len(s.Scenarios), "scenario"), strings.Join(s.Scenarios, " "))
	}
	tw.Flush()
	fmt.Fprintln(stdout, "\nEngines:")
	for _, e := range engines.Registry {
		fmt.Fprintf(stdout, "  %s  %s\n", e.Name, e.Description)
	}
	return exitOK
}
