package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/checker"
	"zoosim/model"
	"zoosim/scenarios"
)

// zoosim runs the command line in-process. A panic fails the test with
// the arguments that caused it: no input may make a command panic.
func zoosim(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("zoosim %q panicked: %v", args, p)
		}
	}()
	code = run(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// oneObject decodes stdout as exactly one JSON object into a map of raw
// values, failing if anything else is there.
func oneObject(t *testing.T, stdout string) map[string]json.RawMessage {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	var obj map[string]json.RawMessage
	require.NoError(t, dec.Decode(&obj), "stdout is not a JSON object:\n%s", stdout)
	require.False(t, dec.More(), "stdout holds more than one JSON value:\n%s", stdout)
	return obj
}

func requireKeys(t *testing.T, obj map[string]json.RawMessage, keys ...string) {
	t.Helper()
	for _, k := range keys {
		require.Contains(t, obj, k, "missing key %q", k)
	}
	require.Len(t, obj, len(keys), "unexpected keys in %v", slices.Sorted(func(yield func(string) bool) {
		for k := range obj {
			if !yield(k) {
				return
			}
		}
	}))
}

var runKeys = []string{"scenario", "seed", "engine", "servers", "quorum", "verdict", "checks", "ops",
	"faults", "virtual_ms", "wall_ms", "trace_hash", "knobs", "buggify_fired", "repro", "error"}

var suiteKeys = []string{"format", "format_version", "zoosim_version", "suite", "corpus", "seeds", "first_seed",
	"shard", "overrides", "engine", "max_inconclusive", "runs", "ok", "violations", "inconclusive", "errors",
	"unexpected", "failures", "harness_errors", "results", "wall_ms"}

func TestList_JSONListsEveryScenarioAndSuite(t *testing.T) {
	stdout, stderr, code := zoosim(t, "list", "--json")
	require.Equal(t, exitOK, code, stderr)
	obj := oneObject(t, stdout)
	requireKeys(t, obj, "scenarios", "suites", "bugs", "engines")
	var bugs []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(obj["bugs"], &bugs))
	require.Len(t, bugs, len(scenarios.Bugs))
	for _, b := range bugs {
		requireKeys(t, b, "name", "models", "description", "scenario", "layer")
	}

	var scs []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(obj["scenarios"], &scs))
	require.Len(t, scs, len(scenarios.Catalog))
	for i, s := range scs {
		requireKeys(t, s, "name", "description")
		var name string
		require.NoError(t, json.Unmarshal(s["name"], &name))
		assert.Equal(t, scenarios.Catalog[i].Name, name)
	}

	var suites []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(obj["suites"], &suites))
	require.Len(t, suites, len(scenarios.Suites))
	for i, s := range suites {
		requireKeys(t, s, "name", "scenarios", "engines")
		var names []string
		require.NoError(t, json.Unmarshal(s["scenarios"], &names))
		assert.Equal(t, scenarios.Suites[i].Scenarios, names)
	}
}

func TestList_TextNamesEveryScenarioAndSuite(t *testing.T) {
	stdout, _, code := zoosim(t, "list")
	require.Equal(t, exitOK, code)
	for _, s := range scenarios.Catalog {
		assert.Contains(t, stdout, s.Name)
	}
	for _, s := range scenarios.Suites {
		assert.Contains(t, stdout, s.Name)
	}
}

func TestUsage_BadUsageAndBadInputExitTwoWithAMessage(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.json")
	require.NoError(t, os.WriteFile(garbage, []byte("{not json"), 0o644))
	runJSON := filepath.Join(dir, "run.json")
	require.NoError(t, os.WriteFile(runJSON, []byte(`{"scenario":"standalone","seed":1}`), 0o644))

	tests := []struct {
		name    string
		args    []string
		message string // a part of what stderr must say
	}{
		{"no command", nil, "Usage"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", []string{"run", "--scenario", "standalone", "--seed", "1", "--frob"}, "frob"},
		{"unknown scenario", []string{"run", "--scenario", "nope", "--seed", "1"}, `unknown scenario "nope"`},
		{"missing scenario", []string{"run", "--seed", "1"}, "--scenario is required"},
		{"bad seed", []string{"run", "--scenario", "standalone", "--seed", "-3"}, "seed"},
		{"bad duration", []string{"run", "--scenario", "standalone", "--seed", "1", "--duration", "3 parsecs"}, "duration"},
		{"negative duration", []string{"run", "--scenario", "standalone", "--seed", "1", "--duration", "-3s"}, "positive"},
		{"bad faults", []string{"run", "--scenario", "standalone", "--seed", "1", "--faults", "meteor"}, "meteor"},
		{"bad read mode", []string{"run", "--scenario", "standalone", "--seed", "1", "--read-mode", "psychic"}, "read-mode"},
		{"bad engine", []string{"run", "--scenario", "standalone", "--seed", "1", "--engine", "paxos"}, "paxos"},
		{"a quorum raft cannot run", []string{"run", "--scenario", "quorum-2-of-5", "--seed", "1", "--engine", "raft"}, "engine raft decides by majorities only"},
		{"another engine's bug", []string{"run", "--scenario", "standard", "--seed", "1", "--engine", "raft", "--bug", "ack-before-sync"}, "engine zab's"},
		{"too many servers", []string{"run", "--scenario", "standalone", "--seed", "1", "--servers", "99"}, "servers 99"},
		{"missing schedule file", []string{"run", "--scenario", "standalone", "--seed", "1", "--schedule", filepath.Join(dir, "none.json")}, "none.json"},
		{"malformed schedule file", []string{"run", "--scenario", "standalone", "--seed", "1", "--schedule", garbage}, "garbage.json"},
		{"stray argument", []string{"run", "--scenario", "standalone", "--seed", "1", "extra"}, `"extra"`},
		{"unknown suite", []string{"suite", "--suite", "nope"}, `unknown suite "nope"`},
		{"missing suite", []string{"suite"}, "--suite or --corpus is required"},
		{"shard zero", []string{"suite", "--suite", "smoke", "--shard", "0/2"}, "shard"},
		{"shard past the end", []string{"suite", "--suite", "smoke", "--shard", "3/2"}, "shard"},
		{"shard not a fraction", []string{"suite", "--suite", "smoke", "--shard", "half"}, "shard"},
		{"parallel zero", []string{"suite", "--suite", "smoke", "--parallel", "0"}, "parallel"},
		{"repro without a line", []string{"repro"}, "no repro line"},
		{"repro of something else", []string{"repro", "hello world"}, "no \"zoosim run"},
		{"repro of a suite line", []string{"repro", "zoosim suite --suite smoke"}, "only run lines"},
		{"repro without a seed", []string{"repro", "zoosim run --scenario standalone"}, "no --seed"},
		{"repro with an open quote", []string{"repro", "zoosim run --scenario 'standalone --seed 1"}, "quote"},
		{"shrink without a seed", []string{"shrink", "--scenario", "standalone"}, "--seed is required"},
		{"check without a file", []string{"check"}, "no history file"},
		{"check of a missing file", []string{"check", filepath.Join(dir, "none.json")}, "none.json"},
		{"check of a malformed file", []string{"check", garbage}, "not a history"},
		{"check with an unknown checker", []string{"check", garbage, "--checks", "vibes"}, "vibes"},
		{"merge without files", []string{"merge"}, "no files"},
		{"merge of a malformed file", []string{"merge", garbage}, "not a suite result"},
		{"merge of a run result", []string{"merge", runJSON}, "not a suite result"},
		{"help for an unknown command", []string{"help", "frobnicate"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := zoosim(t, tt.args...)
			assert.Equal(t, exitUsage, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			assert.Contains(t, stderr, tt.message)
			assert.Empty(t, stdout)
		})
	}
}

func TestHelp_EveryCommandPrintsItsUsageAndExitsZero(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := zoosim(t, c.name, "--help")
			if c.name == "help" {
				stdout, stderr, code = zoosim(t, "help")
			}
			require.Equal(t, exitOK, code, stderr)
			assert.Contains(t, stdout, "Usage")
			assert.Empty(t, stderr)
		})
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help", "run"}, {"run", "-h"}} {
		stdout, _, code := zoosim(t, args...)
		assert.Equal(t, exitOK, code, "%v", args)
		assert.Contains(t, stdout, "Usage", "%v", args)
	}
	stdout, _, code := zoosim(t, "help", "suite")
	require.Equal(t, exitOK, code)
	for _, flag := range []string{"--suite", "--seeds", "--parallel", "--shard", "--json", "--duration", "--faults"} {
		assert.Contains(t, stdout, flag)
	}
}

func TestVersion_PrintsOneLine(t *testing.T) {
	stdout, _, code := zoosim(t, "version")
	require.Equal(t, exitOK, code)
	assert.True(t, strings.HasPrefix(stdout, "zoosim "))
	assert.Equal(t, 1, strings.Count(stdout, "\n"))
}

// runJSONResult is run's --json object, decoded.
type runJSONResult struct {
	Scenario  string            `json:"scenario"`
	Seed      uint64            `json:"seed"`
	Verdict   string            `json:"verdict"`
	Checks    map[string]string `json:"checks"`
	Ops       int               `json:"ops"`
	TraceHash string            `json:"trace_hash"`
	Repro     string            `json:"repro"`
}

func runStandalone(t *testing.T, extra ...string) (runJSONResult, int) {
	t.Helper()
	args := append([]string{"run", "--scenario", "standalone", "--seed", "7", "--duration", "3s", "--json"}, extra...)
	stdout, stderr, code := zoosim(t, args...)
	require.Contains(t, []int{exitOK, exitViolation}, code, stderr)
	obj := oneObject(t, stdout)
	requireKeys(t, obj, runKeys...)
	var res runJSONResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	return res, code
}

func TestRun_JSONHasEveryKeyAndItsExitStatusFollowsTheVerdict(t *testing.T) {
	res, code := runStandalone(t)
	assert.Equal(t, "standalone", res.Scenario)
	assert.EqualValues(t, 7, res.Seed)
	assert.Regexp(t, `^[0-9a-f]{16}$`, res.TraceHash)
	assert.True(t, strings.HasPrefix(res.Repro, "zoosim run --scenario standalone --seed 7"), res.Repro)
	assert.Contains(t, res.Repro, "--duration 3s")
	verdicts := []string{"ok", "violation", "inconclusive"}
	assert.Contains(t, verdicts, res.Verdict)
	require.NotEmpty(t, res.Checks)
	for name, v := range res.Checks {
		assert.Contains(t, verdicts, v, name)
	}
	if res.Verdict == "violation" {
		assert.Equal(t, exitViolation, code)
	} else {
		assert.Equal(t, exitOK, code)
	}
}

func TestRun_TextEndsWithAReproLineThatReplaysTheRun(t *testing.T) {
	stdout, stderr, code := zoosim(t, "run", "--scenario", "standalone", "--seed", "7", "--duration", "3s")
	require.Contains(t, []int{exitOK, exitViolation}, code, stderr)
	for _, part := range []string{"scenario standalone, seed 7", "nemesis:", "ops ", "trace ", "checks:", "verdict: "} {
		assert.Contains(t, stdout, part)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	last := lines[len(lines)-1]
	require.True(t, strings.HasPrefix(last, "repro: zoosim run "), last)

	want, _ := runStandalone(t)
	// The line exactly as printed, "repro:" and all.
	stdout, stderr, code = zoosim(t, "repro", "--json", last)
	require.Contains(t, []int{exitOK, exitViolation}, code, stderr)
	var got runJSONResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	assert.Equal(t, want.TraceHash, got.TraceHash)
}

func TestRepro_ReplaysARunWithTheSameTraceHash(t *testing.T) {
	want, wantCode := runStandalone(t, "--clients", "3", "--faults", "crash,pause")
	assert.Contains(t, want.Repro, "--clients 3")
	for _, line := range []string{
		want.Repro,
		"repro: " + want.Repro,
		"2031-01-01T00:00:00Z job 4: repro: ./bin/" + want.Repro,
	} {
		stdout, stderr, code := zoosim(t, "repro", line, "--json")
		require.Equal(t, wantCode, code, "%s\n%s", line, stderr)
		var got runJSONResult
		require.NoError(t, json.Unmarshal([]byte(stdout), &got), stdout)
		assert.Equal(t, want.TraceHash, got.TraceHash, line)
		assert.Equal(t, want.Verdict, got.Verdict, line)
		assert.Equal(t, want.Repro, got.Repro, line)
	}
	// The line split into words by a shell works too.
	words := append([]string{"repro", "--json"}, strings.Fields(want.Repro)...)
	stdout, _, code := zoosim(t, words...)
	require.Equal(t, wantCode, code)
	var got runJSONResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	assert.Equal(t, want.TraceHash, got.TraceHash)
}

func TestRun_ScheduleFileAndOpBudgetReplayExactlyAndJoinTheReproLine(t *testing.T) {
	dir := t.TempDir()
	sched := filepath.Join(dir, "sched.json")
	require.NoError(t, os.WriteFile(sched, []byte(`[{"at":"1s","kind":"crash","nodes":[1],"duration":"500ms"}]`), 0o644))
	first, code := runStandalone(t, "--schedule", sched, "--max-ops", "5")
	assert.Contains(t, first.Repro, "--schedule "+sched)
	assert.Contains(t, first.Repro, "--max-ops 5")
	stdout, _, code2 := zoosim(t, "repro", "--json", first.Repro)
	require.Equal(t, code, code2)
	var again runJSONResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &again))
	assert.Equal(t, first.TraceHash, again.TraceHash)
	assert.LessOrEqual(t, first.Ops, 5*5) // 5 clients, at most 5 ops each
}

func TestCheck_ASavedHistoryGetsTheRunsVerdict(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.json")
	res, runCode := runStandalone(t, "--save-history", path)

	stdout, stderr, code := zoosim(t, "check", path, "--json")
	require.Equal(t, runCode, code, stderr)
	obj := oneObject(t, stdout)
	requireKeys(t, obj, "file", "verdict", "checks", "results")
	var got struct {
		Verdict string            `json:"verdict"`
		Checks  map[string]string `json:"checks"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	assert.Equal(t, res.Verdict, got.Verdict)
	for name, v := range res.Checks {
		if name != "liveness" { // the saved history does not carry the scenario's liveness bound
			assert.Equal(t, v, got.Checks[name], name)
		}
	}

	stdout, _, code = zoosim(t, "check", path)
	assert.Equal(t, runCode, code)
	assert.Contains(t, stdout, "verdict: "+res.Verdict)
}

// A check that leaves ops unjudged says how many and why, in the text and
// in the JSON, whatever its verdict.
func TestCheck_SaysHowManyOpsItLeftUnchecked(t *testing.T) {
	z := func(n uint32) model.Zxid { return model.MakeZxid(1, n) }
	h := &checker.History{Servers: 1, QuorumSafe: true, Applied: [][]checker.Txn{nil, {
		{Zxid: z(1), Session: 1, Txn: model.CreateSessionTxn{TimeoutMs: 5000}},
		{Zxid: z(2), Session: 1, Txn: model.CreateTxn{Path: "/a", ParentCVersion: 1}},
		{Zxid: z(3), Session: 1, Txn: model.DeleteTxn{Path: "/a"}},
	}}, Ops: []checker.Op{
		{ID: 0, Client: 1, Session: 1, Kind: checker.OpCreate, Path: "/a", Call: 1, Return: 2, Zxid: z(2), CreatedPath: "/a"},
		// Two deletes of unknown outcome, no xids: either may be the txn.
		{ID: 1, Client: 1, Session: 1, Kind: checker.OpDelete, Path: "/a", Version: -1, Call: 3, Return: checker.Infinity,
			Unknown: true, Err: model.ErrConnectionLoss},
		{ID: 2, Client: 1, Session: 1, Kind: checker.OpDelete, Path: "/a", Version: -1, Call: 4, Return: checker.Infinity,
			Unknown: true, Err: model.ErrConnectionLoss},
	}}
	path := filepath.Join(t.TempDir(), "h.json")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, checker.WriteJSON(f, h))
	require.NoError(t, f.Close())

	stdout, stderr, code := zoosim(t, "check", path)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "linearizable  ok\n      2 op(s) not checked: 2 writes of unknown outcome")

	stdout, _, _ = zoosim(t, "check", "--json", path)
	var got struct {
		Results []struct {
			Checker      string         `json:"checker"`
			Unchecked    int            `json:"unchecked"`
			UncheckedWhy map[string]int `json:"unchecked_why"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	require.Equal(t, checker.NameLinearizable, got.Results[0].Checker)
	assert.Equal(t, 2, got.Results[0].Unchecked)
	assert.Len(t, got.Results[0].UncheckedWhy, 1)
}

func runSmoke(t *testing.T, dir, name string, extra ...string) (string, suiteResultJSON) {
	t.Helper()
	args := append([]string{"suite", "--suite", "smoke", "--seeds", "1", "--duration", "2s", "--json", "--parallel", "2",
		"--max-inconclusive", "-1"}, extra...)
	stdout, stderr, code := zoosim(t, args...)
	obj := oneObject(t, stdout)
	requireKeys(t, obj, suiteKeys...)
	var res suiteResultJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	switch {
	case res.Errors > 0:
		require.Equal(t, exitHarness, code, stderr)
	case res.Violations > 0:
		require.Equal(t, exitViolation, code, stderr)
	default:
		require.Equal(t, exitOK, code, stderr)
	}
	require.Equal(t, res.Runs, res.OK+res.Violations+res.Inconclusive+res.Errors)
	require.Len(t, res.Results, res.Runs)
	require.Len(t, res.Failures, res.Violations)
	require.Len(t, res.HarnessErrors, res.Errors)
	for _, r := range res.Results {
		require.NotEmpty(t, r.Engine, "a run without its engine")
	}
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(stdout), 0o644))
	return path, res
}

func TestSuite_ShardsMergeIntoTheUnshardedSweep(t *testing.T) {
	dir := t.TempDir()
	_, all := runSmoke(t, dir, "all.json")
	smoke, err := scenarios.LookupSuite("smoke")
	require.NoError(t, err)
	assert.Equal(t, "smoke", all.Suite)
	assert.Equal(t, len(smoke.Engines)*len(smoke.Scenarios), all.Runs)
	for i, eng := range smoke.Engines { // engine by engine, scenario by scenario
		for j, name := range smoke.Scenarios {
			r := all.Results[i*len(smoke.Scenarios)+j]
			assert.Equal(t, eng, r.Engine)
			assert.Equal(t, name, r.Scenario)
		}
	}

	p1, s1 := runSmoke(t, dir, "s1.json", "--shard", "1/2")
	p2, s2 := runSmoke(t, dir, "s2.json", "--shard", "2/2")
	assert.Equal(t, all.Runs, s1.Runs+s2.Runs)

	assert.Equal(t, "1/2", s1.Shard)
	assert.Equal(t, "smoke", s1.Suite)
	assert.Equal(t, 1, s1.Seeds)
	assert.EqualValues(t, 1, s1.FirstSeed)
	assert.JSONEq(t, `{"duration":"2s"}`, mustJSON(t, s1.Overrides))
	assert.Equal(t, "zab,raft", s1.Engine, "smoke runs on both engines")
	assert.Equal(t, version(), s1.ZoosimVersion)

	stdout, stderr, code := zoosim(t, "merge", p2, p1)
	obj := oneObject(t, stdout)
	requireKeys(t, obj, suiteKeys...)
	var merged suiteResultJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &merged))
	assert.Contains(t, stderr, "merged 2 files")
	assert.Equal(t, "1/1", merged.Shard)
	assert.Equal(t, all.Suite, merged.Suite)
	assert.Equal(t, all.Runs, merged.Runs)
	assert.Equal(t, all.OK, merged.OK)
	assert.Equal(t, all.Violations, merged.Violations)
	assert.Equal(t, all.Inconclusive, merged.Inconclusive)
	assert.Equal(t, all.Errors, merged.Errors)
	assert.Equal(t, all.Results, merged.Results, "every run, its verdict and trace hash, in the unsharded order")
	assert.Equal(t, all.Failures, merged.Failures, "failures in the unsharded order")
	assert.Equal(t, max(s1.WallMs, s2.WallMs), merged.WallMs)
	wantCode, _ := all.exitCode()
	assert.Equal(t, wantCode, code)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestSuite_TextHasATableRowPerScenarioAndProgressOnStderr(t *testing.T) {
	stdout, stderr, code := zoosim(t, "suite", "--suite", "smoke", "--seeds", "1", "--duration", "3s")
	require.Contains(t, []int{exitOK, exitViolation}, code, stderr)
	smoke, err := scenarios.LookupSuite("smoke")
	require.NoError(t, err)
	for _, col := range []string{"runs", "ok", "violations", "inconclusive", "ops/run", "seeds/min", "wall"} {
		assert.Contains(t, stdout, col)
	}
	for _, name := range smoke.Scenarios {
		assert.Contains(t, stdout, name)
	}
	// stderr is not a terminal here: progress comes as lines, the last at 100%.
	assert.Contains(t, stderr, "(100%)")
	assert.NotContains(t, stderr, "\r")
	if code == exitViolation {
		assert.Contains(t, stdout, "failures (")
		assert.Contains(t, stdout, "repro: zoosim run ")
	}
}

// TestMerge_RefusesShardsThatDoNotBelongTogether: shards of different
// sweeps (suite, seeds, first seed, shard count, overrides), the same
// shard twice, missing shards, doctored counts and a result of an older
// zoosim are refused with exit status 2 and a message, and nothing on
// stdout.
func TestMerge_RefusesShardsThatDoNotBelongTogether(t *testing.T) {
	dir := t.TempDir()
	shard := func(name string, extra ...string) string {
		args := append([]string{"suite", "--suite", "smoke", "--duration", "1s", "--json", "--quiet", "--max-inconclusive", "-1",
			"--faults", "none", "--clients", "1"}, extra...)
		stdout, stderr, code := zoosim(t, args...)
		require.Contains(t, []int{exitOK, exitViolation}, code, stderr)
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(stdout), 0o644))
		return p
	}
	a1 := shard("a1.json", "--seeds", "1", "--shard", "1/2")
	a2 := shard("a2.json", "--seeds", "1", "--shard", "2/2")
	seeds2 := shard("seeds2.json", "--seeds", "2", "--shard", "2/2")
	first5 := shard("first5.json", "--seeds", "1", "--first-seed", "5", "--shard", "2/2")
	of3 := shard("of3.json", "--seeds", "1", "--shard", "2/3")
	servers3 := shard("servers3.json", "--seeds", "1", "--shard", "2/2", "--servers", "3")

	_, _, code := zoosim(t, "merge", a1, a2)
	require.Contains(t, []int{exitOK, exitViolation}, code, "the right shards merge")

	doctor := func(name, from string, change func(map[string]any)) string {
		b, err := os.ReadFile(from)
		require.NoError(t, err)
		var obj map[string]any
		require.NoError(t, json.Unmarshal(b, &obj))
		change(obj)
		b, err = json.Marshal(obj)
		require.NoError(t, err)
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		return p
	}
	otherSuite := doctor("other-suite.json", a2, func(o map[string]any) { o["suite"] = "ci" })
	moreOK := doctor("more-ok.json", a2, func(o map[string]any) { o["ok"] = o["ok"].(float64) + 1 })
	otherBuild := doctor("other-build.json", a2, func(o map[string]any) { o["zoosim_version"] = "zoosim v0.0.1" })
	swapped := doctor("swapped.json", a2, func(o map[string]any) {
		rs := o["results"].([]any)
		rs[0], rs[1] = rs[1], rs[0]
	})
	old := doctor("old.json", a2, func(o map[string]any) {
		for _, k := range []string{"format", "format_version", "zoosim_version", "corpus", "seeds", "first_seed", "shard",
			"overrides", "engine", "max_inconclusive", "errors", "unexpected", "harness_errors", "results"} {
			delete(o, k)
		}
	})

	for _, tt := range []struct {
		name  string
		files []string
		want  string
	}{
		{"different suites", []string{a1, otherSuite}, "suite smoke and ci"},
		{"different seeds", []string{a1, seeds2}, "seeds 1 and 2"},
		{"different first seeds", []string{a1, first5}, "first seed 1 and 5"},
		{"different shard counts", []string{a1, of3}, "number of shards 2 and 3"},
		{"different overrides", []string{a1, servers3}, "overrides"},
		{"different builds", []string{a1, otherBuild}, "zoosim version"},
		{"the same shard twice", []string{a1, a1}, "shard 1/2 is given twice"},
		{"the same shard twice, whole", []string{a1, a2, a2}, "shard 2/2 is given twice"},
		{"half the shards", []string{a1}, "1 of 2 shards missing: 2/2"},
		{"doctored counts", []string{a1, moreOK}, "disagree with the results"},
		{"runs of another shard", []string{a1, swapped}, "shard 2/2 of this sweep runs"},
		{"an older zoosim", []string{a1, old}, "older zoosim"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := zoosim(t, append([]string{"merge"}, tt.files...)...)
			assert.Equal(t, exitUsage, code, stderr)
			assert.Contains(t, stderr, tt.want)
			assert.Empty(t, stdout)
		})
	}
}

// TestMerge_ResultsComeInSweepOrderWithTheirFailures: merging interleaves
// the shards' runs back into sweep order, and the failures and harness
// errors follow it; the exit status is the merged sweep's.
func TestMerge_ResultsComeInSweepOrderWithTheirFailures(t *testing.T) {
	smoke, err := scenarios.LookupSuite("smoke")
	require.NoError(t, err)
	const n = 3
	var parts []suitePart
	verdictOf := func(id scenarios.RunID) checker.Verdict {
		switch {
		case id.Seed == 2 && id.Scenario == "standalone":
			return checker.VerdictViolation
		case id.Seed == 3 && id.Scenario == "standard":
			return checker.VerdictViolation
		case id.Seed == 1 && id.Scenario == "session-expiry":
			return scenarios.VerdictError
		}
		return checker.VerdictOK
	}
	for k := n; k >= 1; k-- { // given in reverse
		ids, err := scenarios.SuiteRuns(smoke, scenarios.SuiteOptions{Seeds: 3, FirstSeed: 1, Shard: k, Shards: n})
		require.NoError(t, err)
		res := &scenarios.SuiteResult{Suite: "smoke"}
		for _, id := range ids {
			v := verdictOf(id)
			res.Runs = append(res.Runs, scenarios.RunSummary{Scenario: id.Scenario, Seed: id.Seed, Engine: id.Engine, Verdict: v,
				TraceHash: id.Seed, Repro: fmt.Sprintf("zoosim run --scenario %s --seed %d", id.Scenario, id.Seed), Err: "boom"})
			switch v {
			case checker.VerdictOK:
				res.OK++
			case checker.VerdictViolation:
				res.Violations++
			default:
				res.Errors++
			}
		}
		sw := sweep{suite: "smoke", seeds: 3, firstSeed: 1, shard: k, shards: n, engine: ""}
		out := sw.resultJSON(res)
		require.NoError(t, checkSuiteJSON(out))
		parts = append(parts, suitePart{path: fmt.Sprintf("s%d.json", k), res: out})
	}
	merged, err := mergeSuites(parts)
	require.NoError(t, err)
	all, err := scenarios.SuiteRuns(smoke, scenarios.SuiteOptions{Seeds: 3, FirstSeed: 1})
	require.NoError(t, err)
	require.Len(t, merged.Results, len(all))
	for i, id := range all {
		assert.Equal(t, id, scenarios.RunID{Scenario: merged.Results[i].Scenario, Engine: merged.Results[i].Engine, Seed: merged.Results[i].Seed}, "run %d", i)
	}
	var failed []string
	for _, f := range merged.Failures {
		failed = append(failed, fmt.Sprintf("%s/%s/%d", f.Engine, f.Scenario, f.Seed))
	}
	assert.Equal(t, []string{"zab/standard/3", "zab/standalone/2", "raft/standard/3", "raft/standalone/2"}, failed,
		"in the suite's order: engine by engine, scenario by scenario")
	require.Len(t, merged.HarnessErrors, 2) // session-expiry seed 1 on each engine
	for i, e := range merged.HarnessErrors {
		assert.Equal(t, "session-expiry", e.Scenario)
		assert.Equal(t, smoke.Engines[i], e.Engine)
		assert.Equal(t, "boom", e.Error)
	}
	assert.Equal(t, len(all)-6, merged.OK)
	code, why := merged.exitCode()
	assert.Equal(t, exitHarness, code, "a harness error wins over the violations")
	assert.Contains(t, why, "harness error")
	require.NoError(t, checkSuiteJSON(merged))
}

func TestShrink_PrintsAMinimalReproThatReplaysTheMinimalRun(t *testing.T) {
	if testing.Short() {
		t.Skip("searches for a failing seed")
	}
	dir := t.TempDir()
	// quorum-2-of-5 loses acknowledged writes on purpose; find a seed that
	// shows it.
	var seed string
	for s := 1; s <= 20 && seed == ""; s++ {
		_, _, code := zoosim(t, "run", "--scenario", "quorum-2-of-5", "--seed", fmt.Sprint(s), "--duration", "10s", "--json")
		if code == exitViolation {
			seed = fmt.Sprint(s)
		}
	}
	// The test exists to see the unsafe scenario fail: not finding a
	// failing seed is a failure, not a reason to skip.
	require.NotEmpty(t, seed, "no seed of quorum-2-of-5 in 1..20 lost an acknowledged write")
	out := filepath.Join(dir, "min.json")
	stdout, stderr, code := zoosim(t, "shrink", "--scenario", "quorum-2-of-5", "--seed", seed, "--duration", "10s",
		"--max-runs", "30", "--out", out, "--json")
	require.Equal(t, exitViolation, code, stderr)
	obj := oneObject(t, stdout)
	requireKeys(t, obj, "scenario", "seed", "checker", "runs", "schedule_file", "schedule", "max_ops", "ops",
		"explanation", "trace_hash", "repro")
	var res struct {
		Checker   string `json:"checker"`
		TraceHash string `json:"trace_hash"`
		Repro     string `json:"repro"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	assert.NotEmpty(t, res.Checker)
	assert.Contains(t, res.Repro, "--schedule "+out)
	require.FileExists(t, out)

	stdout, stderr, code = zoosim(t, "repro", "--json", res.Repro)
	require.Equal(t, exitViolation, code, stderr)
	var again runJSONResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &again))
	assert.Equal(t, res.TraceHash, again.TraceHash)
	assert.Equal(t, "violation", again.Checks[res.Checker])
}

func TestReproArgs_FindTheRunArgumentsInAPrintedLine(t *testing.T) {
	want := []string{"--scenario", "standard", "--seed", "4"}
	for _, line := range [][]string{
		{"zoosim run --scenario standard --seed 4"},
		{"repro: zoosim run --scenario standard --seed 4"},
		{"[ci 12:00] repro: /usr/local/bin/zoosim run --scenario standard --seed 4"},
		{"repro:", "zoosim", "run", "--scenario", "standard", "--seed", "4"},
		{"repro: --scenario standard --seed 4"},
		{"run --scenario standard --seed 4"},
	} {
		got, err := reproArgs(line)
		require.NoError(t, err, "%q", line)
		assert.Equal(t, want, got, "%q", line)
	}
}

func TestShellQuote_SplitWordsReadsBackWhatItQuotes(t *testing.T) {
	for _, word := range []string{"plain", "with space", "it's", `a"b`, `back\slash`, "", "--faults", "a,b:c=d/e.f"} {
		words, err := splitWords("x " + shellQuote(word) + " y")
		require.NoError(t, err, word)
		assert.Equal(t, []string{"x", word, "y"}, words, word)
	}
	assert.Equal(t, "--faults", shellQuote("--faults"), "safe words stay bare")
}

func TestParseShard(t *testing.T) {
	tests := []struct {
		in            string
		shard, shards int
		ok            bool
	}{
		{"1/1", 1, 1, true},
		{"2/4", 2, 4, true},
		{"4/4", 4, 4, true},
		{"0/4", 0, 0, false},
		{"5/4", 0, 0, false},
		{"1/0", 0, 0, false},
		{"-1/2", 0, 0, false},
		{"1", 0, 0, false},
		{"a/b", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		shard, shards, err := parseShard(tt.in)
		assert.Equal(t, tt.ok, err == nil, tt.in)
		assert.Equal(t, tt.shard, shard, tt.in)
		assert.Equal(t, tt.shards, shards, tt.in)
	}
}

// TestQuorum_JSONRowsSkipsInvalidAndReproReplaysTheViolation: the quorum
// command's --json rows carry the fields, an impossible combination
// is skipped with a note, and the first violating seed's repro line
// replays the violation through zoosim repro.
func TestQuorum_JSONRowsSkipsInvalidAndReproReplaysTheViolation(t *testing.T) {
	dir := t.TempDir()
	csvPath, htmlPath := filepath.Join(dir, "q.csv"), filepath.Join(dir, "q.html")
	stdout, stderr, code := zoosim(t, "quorum", "--servers", "3,5", "--quorum", "2,4", "--seeds", "8", "--probe-seeds", "1",
		"--duration", "15s", "--parallel", "2", "--quiet", "--json", "--csv", csvPath, "--html", htmlPath)
	require.Equal(t, exitOK, code, stderr)
	var out struct {
		Rows    []map[string]json.RawMessage `json:"rows"`
		Skipped []map[string]any             `json:"skipped"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &out), stdout)
	require.Len(t, out.Rows, 3, "3/2, 5/2, 5/4")
	require.Len(t, out.Skipped, 1, "4 of 3 is skipped")
	for _, row := range out.Rows {
		requireKeys(t, row, "engine", "servers", "quorum", "safe", "seeds", "violations", "lost_write_seeds", "lost_writes",
			"other_violation_seeds", "first_violation_seed", "availability", "availability_during_faults", "crash_tolerance",
			"crash_commit_share", "write_p50_ms", "write_p99_ms", "election_p50_ms", "election_p99_ms", "reads_per_s", "repro",
			"not_applicable")
		var v, lost, other int
		require.NoError(t, json.Unmarshal(row["violations"], &v))
		require.NoError(t, json.Unmarshal(row["lost_write_seeds"], &lost))
		require.NoError(t, json.Unmarshal(row["other_violation_seeds"], &other))
		assert.Equal(t, v, lost+other, "every violating seed lost writes or broke another promise only")
	}
	var repro string
	for _, row := range out.Rows {
		if string(row["servers"]) == "5" && string(row["quorum"]) == `"2"` {
			assert.Equal(t, "false", string(row["safe"]))
			require.NoError(t, json.Unmarshal(row["repro"], &repro), "5 servers, quorum 2 found no violation in 8 seeds")
		}
	}
	require.NotEmpty(t, repro)
	_, _, code = zoosim(t, "repro", "--json", repro)
	assert.Equal(t, exitViolation, code, "zoosim repro %q did not replay the violation", repro)

	csv, err := os.ReadFile(csvPath)
	require.NoError(t, err)
	assert.Equal(t, 4, strings.Count(string(csv), "\n"))
	page, err := os.ReadFile(htmlPath)
	require.NoError(t, err)
	assert.Contains(t, string(page), "<svg")
}

// TestQuorum_BothEnginesSideBySide: --engine zab,raft gives each
// combination a row per engine, and a quorum raft cannot run is a row
// marked not applicable, with no figures.
func TestQuorum_BothEnginesSideBySide(t *testing.T) {
	stdout, stderr, code := zoosim(t, "quorum", "--servers", "3", "--quorum", "majority,1", "--engine", "zab,raft",
		"--seeds", "1", "--probe-seeds", "1", "--duration", "5s", "--parallel", "2", "--quiet", "--json")
	require.Contains(t, []int{exitOK, exitViolation}, code, stderr)
	var out struct {
		Rows []struct {
			Engine        string   `json:"engine"`
			Quorum        string   `json:"quorum"`
			Seeds         int      `json:"seeds"`
			Availability  *float64 `json:"availability"`
			NotApplicable string   `json:"not_applicable"`
		} `json:"rows"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &out), stdout)
	require.Len(t, out.Rows, 4)
	for i, want := range []struct{ engine, quorum string }{{"zab", "majority"}, {"zab", "1"}, {"raft", "majority"}, {"raft", "1"}} {
		assert.Equal(t, want.engine, out.Rows[i].Engine)
		assert.Equal(t, want.quorum, out.Rows[i].Quorum)
	}
	for _, r := range out.Rows[:3] {
		assert.Empty(t, r.NotApplicable, r.Engine+" "+r.Quorum)
		assert.NotNil(t, r.Availability, r.Engine+" "+r.Quorum)
	}
	na := out.Rows[3]
	assert.Contains(t, na.NotApplicable, "majorities")
	assert.Nil(t, na.Availability)
	assert.Zero(t, na.Seeds)

	text, _, _ := zoosim(t, "quorum", "--servers", "3", "--quorum", "1", "--engine", "raft", "--seeds", "1", "--probe-seeds", "1",
		"--duration", "2s", "--quiet")
	assert.Contains(t, text, "n/a")
	assert.Contains(t, text, "not applicable: raft 3 servers, quorum 1")
}

func TestQuorum_UsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"quorum", "--quorum", "majority"},
		{"quorum", "--servers", "3"},
		{"quorum", "--servers", "0", "--quorum", "2"},
		{"quorum", "--servers", "3", "--quorum", "2", "--seeds", "0"},
		{"quorum", "--servers", "3", "--quorum", "2", "--engine", "zab,paxos"},
	} {
		_, _, code := zoosim(t, args...)
		assert.Equal(t, exitUsage, code, "%v", args)
	}
	assert.Equal(t, []string{"majority", "hier:1=3,2=1|3=1,4=1", "flex:2:3"}, splitQuorums("majority,hier:1=3,2=1|3=1,4=1,flex:2:3"))
}

func TestBugs_CatalogAndMeasure(t *testing.T) {
	stdout, stderr, code := zoosim(t, "bugs", "--json")
	require.Equal(t, exitOK, code, stderr)
	obj := oneObject(t, stdout)
	requireKeys(t, obj, "bugs")

	stdout, stderr, code = zoosim(t, "bugs", "--measure", "--suite", "smoke", "--seeds", "1", "--bug", "keep-ephemerals", "--json", "--quiet")
	require.Contains(t, []int{exitOK, exitViolation}, code, stderr)
	obj = oneObject(t, stdout)
	requireKeys(t, obj, "suite", "seeds", "first_seed", "rows")
	var rows []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(obj["rows"], &rows))
	require.Len(t, rows, 2, "the clean suite and the one bug")
	require.JSONEq(t, `"(none)"`, string(rows[0]["bug"]))
	require.JSONEq(t, `"keep-ephemerals"`, string(rows[1]["bug"]))

	_, _, code = zoosim(t, "bugs", "--measure", "--bug", "no-such-bug")
	require.Equal(t, exitUsage, code)
}
