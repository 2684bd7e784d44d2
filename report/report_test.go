package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/checker"
	"zoosim/model"
	"zoosim/node"
	"zoosim/scenarios"
)

func TestTicks_RoundStepsCoverTheRange(t *testing.T) {
	assert.Equal(t, []float64{0, 5, 10, 15, 20, 25, 30}, ticks(0, 33.4, 10))
	assert.Equal(t, []float64{0, 0.5, 1}, ticks(0, 1, 3))
	assert.Equal(t, 2.0, niceStep(17, 10))
	assert.Equal(t, "1 s", msText(1000))
	assert.Equal(t, "0.1 ms", msText(roundSig(0.1000000001)))
}

func TestLeaderSpans_FollowTheEstablishedLeader(t *testing.T) {
	ms := func(v int) node.Time { return node.Time(v) * node.Millisecond }
	roles := []scenarios.RoleChange{
		{Time: 0, Server: 1, Role: "looking"}, {Time: 0, Server: 2, Role: "looking"},
		{Time: ms(200), Server: 1, Role: "leading", Established: false, Epoch: 1},
		{Time: ms(300), Server: 1, Role: "leading", Established: true, Epoch: 1},
		{Time: ms(300), Server: 2, Role: "following", Established: true, Leader: 1, Epoch: 1},
		{Time: ms(900), Server: 1, Role: scenarios.RoleDown},
		{Time: ms(1500), Server: 2, Role: "leading", Established: true, Epoch: 2},
	}
	spans := leaderSpans(roles, []node.ID{1, 2}, ms(2000))
	require.Len(t, spans, 2)
	assert.Equal(t, span{from: ms(300), to: ms(900), c: roles[3]}, spans[0])
	assert.Equal(t, node.ID(2), spans[1].c.Server)
	assert.Equal(t, ms(1500), spans[1].from)
	assert.Equal(t, ms(2000), spans[1].to)
}

// timelineResult is a small run with every kind of op, two faults, roles
// and a violation that points at two ops.
func timelineResult() *scenarios.Result {
	ms := func(v int) node.Time { return node.Time(v) * node.Millisecond }
	h := &checker.History{End: ms(3000), HealedAt: ms(2500), FirstWriteAfterHeal: ms(2600)}
	for i := range 40 {
		op := checker.Op{ID: i, Client: 101, Kind: checker.OpSetData, Path: "/k<&>", Data: []byte("v"), Call: ms(50 * i), Return: ms(50*i + 1 + i)}
		switch i % 10 {
		case 3:
			op.Err = model.ErrBadVersion
		case 7:
			op.Unknown, op.Return = true, checker.Infinity
		}
		h.Ops = append(h.Ops, op)
	}
	h.Faults = []checker.Fault{{Start: ms(500), End: ms(1500), Kind: "partition-halves", Description: "split [1] | [2 3]"},
		{Start: ms(1800), End: ms(1800), Kind: "restart", Description: "restart [2]"}}
	return &scenarios.Result{Scenario: "standard", Seed: 9, Servers: 3, Engine: "zab", Quorum: "majority", QuorumSafe: true,
		Verdict: checker.VerdictViolation, History: h, Ops: len(h.Ops),
		Roles: []scenarios.RoleChange{{Time: 0, Server: 1, Role: "leading", Established: true, Epoch: 1},
			{Time: 0, Server: 2, Role: "following", Established: true, Leader: 1, Epoch: 1},
			{Time: 0, Server: 3, Role: scenarios.RoleDown}},
		Report: checker.Report{Verdict: checker.VerdictViolation, Results: []checker.Result{
			{Checker: "linearizable", Verdict: checker.VerdictViolation, Explanation: "no order explains op 12", Ops: []int{12, 5}},
			{Checker: "agreement", Verdict: checker.VerdictOK, Explanation: "3 servers agree"}}}}
}

func TestTimeline_ShowsOpsFaultsRolesAndViolations(t *testing.T) {
	res := timelineResult()
	tl := TimelineOf(res)
	require.NotNil(t, tl)
	assert.Equal(t, map[int][]string{12: {"linearizable"}, 5: {"linearizable"}}, tl.Violating)
	assert.Len(t, tl.Marks, 2)
	svg := tl.SVG()
	assert.True(t, strings.HasPrefix(svg, "<svg "))
	for _, want := range []string{"partition-halves", "restart", "server 3", "leader", "#5", "#12", "unknown", "ops / 100 ms",
		"heal all: liveness phase", "virtual time since the run started (s)", "/k&lt;&amp;&gt;"} {
		assert.Contains(t, svg, want)
	}
	assert.NotContains(t, svg, "/k<&>", "op text must be escaped")
	assert.Equal(t, svg, TimelineOf(res).SVG(), "the same run draws the same picture")
	assert.Nil(t, TimelineOf(&scenarios.Result{}), "no history, no timeline")
}

func TestWriteRun_OnePageWithTheRunAndNothingToFetch(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteRun(&b, Run{Result: timelineResult(), Repro: "zoosim run --scenario standard --seed 9",
		Viz: []byte(`<html><script>render("x")</script></html>`)}))
	page := b.String()
	for _, want := range []string{"<!DOCTYPE html>", "zoosim run --scenario standard --seed 9", "no order explains op 12",
		"ops involved (2)", `srcdoc="&lt;html&gt;&lt;script&gt;`, "@media print", "@media (max-width"} {
		assert.Contains(t, page, want)
	}
	// The only script is porcupine's, inside the iframe's escaped srcdoc.
	assert.NotContains(t, page, "<script")
	assert.NotContains(t, page, "url(")
	assert.NotContains(t, page, "@import")
}

func TestWriteSuite_CountsTableAndFailures(t *testing.T) {
	runs := []SuiteRun{
		{Scenario: "standard", Seed: 1, Engine: "zab", Verdict: checker.VerdictOK, TraceHash: "0000000000000001"},
		{Scenario: "standard", Seed: 2, Engine: "zab", Verdict: checker.VerdictViolation, TraceHash: "0000000000000002",
			Repro: "zoosim run --scenario standard --seed 2"},
		{Scenario: "locks", Seed: 1, Engine: "zab", Verdict: scenarios.VerdictError, TraceHash: "0000000000000003",
			Repro: "zoosim run --scenario locks --seed 1", Err: "panic in the workload"},
		{Scenario: "locks", Seed: 2, Engine: "zab", Verdict: checker.VerdictInconclusive, TraceHash: "0000000000000004"},
	}
	detail := Run{Result: timelineResult(), ID: "failure-1"}
	detail.Result.Seed = 2
	var b bytes.Buffer
	require.NoError(t, WriteSuite(&b, Suite{Title: "zoosim suite ci", Runs: runs, Details: []Run{detail}, Omitted: 0,
		Identity: [][2]string{{"suite", "ci"}}}))
	page := b.String()
	for _, want := range []string{"Failures (1)", "zoosim run --scenario standard --seed 2", `href="#failure-1"`,
		"Harness errors (1)", "panic in the workload", "Inconclusive (1)", "Failures replayed", "linearizable violated"} {
		assert.Contains(t, page, want)
	}
}

func TestWriteBugs_RatesAndUndetectedBugs(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteBugs(&b, Bugs{Suite: "ci", Seeds: 2, FirstSeed: 1, Rows: []BugRow{
		{Bug: "", Runs: 10, Detail: -1},
		{Bug: "ack-before-sync", Layer: "zab", Runs: 10, Failing: 4, FirstScenario: "crash-storm", FirstSeed: 3,
			FirstRepro: "zoosim run --scenario crash-storm --seed 3 --bug ack-before-sync",
			Checkers:   []CheckerCount{{"agreement", 4}}, Detail: -1},
		{Bug: "multi-partial", Layer: "model", Runs: 10, Detail: -1},
	}}))
	page := b.String()
	for _, want := range []string{"40.0%", "agreement×4", "never detected", "(none: false alarms)", "--bug ack-before-sync", "<svg"} {
		assert.Contains(t, page, want)
	}
}
