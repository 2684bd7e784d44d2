package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReport_RefusesShardsThatDoNotMakeASweep: zoosim report merges as
// zoosim merge does, so a missing shard is refused with exit status 2.
func TestReport_RefusesShardsThatDoNotMakeASweep(t *testing.T) {
	dir := t.TempDir()
	shard := filepath.Join(dir, "shard-1.json")
	out, stderr, code := zoosim(t, "suite", "--suite", "smoke", "--seeds", "1", "--duration", "2s", "--shard", "1/2", "--json", "--quiet")
	require.Equal(t, exitOK, code, stderr)
	require.NoError(t, os.WriteFile(shard, []byte(out), 0o644))
	_, stderr, code = zoosim(t, "report", "--html", filepath.Join(dir, "r.html"), shard)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "shards missing")
	_, stderr, code = zoosim(t, "report")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "no suite JSON files")
}

// TestReport_OneSweepToStdoutWithItsFailuresReplayed: the page of an
// unsharded sweep goes to stdout; its failure is replayed with the same
// trace hash; --max-details 0 replays none but still lists the repro line.
func TestReport_OneSweepToStdoutWithItsFailuresReplayed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "suite.json")
	out, stderr, code := zoosim(t, "suite", "--suite", "smoke", "--seeds", "1", "--bug", "keep-ephemerals", "--json", "--quiet")
	require.Equal(t, exitViolation, code, stderr)
	require.NoError(t, os.WriteFile(path, []byte(out), 0o644))
	page, stderr, code := zoosim(t, "report", "--quiet", path)
	assert.Equal(t, exitViolation, code, "the sweep's status: it found violations")
	require.True(t, strings.HasPrefix(page, "<!DOCTYPE html>"), stderr)
	assert.Contains(t, page, "Failures replayed")
	assert.Contains(t, page, "the same trace hash")
	assert.NotContains(t, page, "this build of zoosim runs it differently")
	page, _, _ = zoosim(t, "report", "--quiet", "--max-details", "0", path)
	assert.NotContains(t, page, "Failures replayed")
	assert.Contains(t, page, "--bug keep-ephemerals")
}

func TestHTMLFlags_UsageAndFiles(t *testing.T) {
	dir := t.TempDir()
	_, stderr, code := zoosim(t, "bugs", "--html", filepath.Join(dir, "b.html"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "--html needs --measure")
	_, _, code = zoosim(t, "run", "--scenario", "standard", "--seed", "1", "--html", filepath.Join(dir, "no", "such", "dir.html"))
	assert.Equal(t, exitUsage, code, "a path that cannot be created fails before the run")
	runPage := filepath.Join(dir, "run.html")
	stdout, stderr, code := zoosim(t, "run", "--scenario", "standard", "--seed", "1", "--duration", "5s", "--html", runPage)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "report written to "+runPage)
	b, err := os.ReadFile(runPage)
	require.NoError(t, err)
	assert.Contains(t, string(b), `class="timeline"`)
	assert.Contains(t, string(b), "server 5")
}
