package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/real"
)

// Bad flags stop zoosim bench before it starts anything: exit status 2
// and a message naming what is wrong.
func TestBench_BadFlagsExitTwo(t *testing.T) {
	full := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(full, "x"), nil, 0o644))
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--target", "etcd"}, `"etcd": want a comma-separated list of zoosim, zookeeper`},
		{[]string{"--target", "zoosim,zoosim"}, `"zoosim" is given twice`},
		{[]string{"--target", ""}, `"": want a comma-separated list`},
		{[]string{"--target", "zoosim,"}, `"": want a comma-separated list`},
		{[]string{"--servers", "0"}, "want a whole number from 1 to 9"},
		{[]string{"--servers", "10"}, "want a whole number from 1 to 9"},
		{[]string{"--servers", "three"}, "want a whole number from 1 to 9"},
		{[]string{"--clients", "0"}, "want comma-separated whole numbers from 1 to 1000"},
		{[]string{"--clients", "1001"}, "from 1 to 1000"},
		{[]string{"--clients", "1,,64"}, "from 1 to 1000"},
		{[]string{"--clients", "-1"}, "from 1 to 1000"},
		{[]string{"--clients", "16,16"}, "16 is given twice"},
		{[]string{"--op", "delete"}, `"delete": want a comma-separated list of set, get, create`},
		{[]string{"--op", "get,get"}, `"get" is given twice`},
		{[]string{"--duration", "0s"}, "outside [1s, 10m0s]"},
		{[]string{"--duration", "999ms"}, "outside [1s, 10m0s]"},
		{[]string{"--duration", "11m"}, "outside [1s, 10m0s]"},
		{[]string{"--duration", "soon"}, "want a duration"},
		{[]string{"--warmup", "-1s"}, "outside [0s, 10m0s]"},
		{[]string{"--warmup", "11m"}, "outside [0s, 10m0s]"},
		{[]string{"--dir", full}, "is not empty"},
		{[]string{"--target", "zookeeper", "--profile", t.TempDir()}, "--profile profiles zoosim's servers"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--nope"}, "flag provided but not defined"},
	}
	for _, tc := range cases {
		stdout, stderr, code := zoosim(t, append([]string{"bench"}, tc.args...)...)
		assert.Equal(t, exitUsage, code, "%q", tc.args)
		assert.Contains(t, stderr, tc.want, "%q", tc.args)
		assert.Empty(t, stdout, "%q", tc.args)
	}
	stdout, _, code := zoosim(t, "bench", "--help")
	assert.Equal(t, exitOK, code)
	for _, s := range []string{"--target", "--clients", "--op", "--duration", "--profile", "ops_per_s"} {
		assert.Contains(t, stdout, s)
	}
}

// benchRun runs `zoosim bench ARGS --json` as a process (bounded) and
// decodes its object.
func benchRun(t *testing.T, args ...string) (benchJSON, string, int) {
	t.Helper()
	out, stderr, code := execJSON(t, "bench", args...)
	stdout := bytes.NewBuffer(out)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &raw), "stdout: %s\nstderr: %s", stdout.String(), stderr)
	for _, k := range []string{"rows", "ratios", "servers", "duration_ms", "skipped", "ensembles", "log_dir", "kept"} {
		require.Contains(t, raw, k, "stdout: %s", stdout.String())
	}
	var rows []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw["rows"], &rows))
	for _, r := range rows {
		for _, k := range []string{"target", "op", "clients", "ops_per_s", "p50_ms", "p99_ms", "errors"} {
			require.Contains(t, r, k)
		}
	}
	var res benchJSON
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res))
	return res, stderr, code
}

// requireCells checks one clean row per op for target, in order.
func requireCells(t *testing.T, out benchJSON, target string, ops []string, clients int, stderr string) {
	t.Helper()
	require.Len(t, out.Rows, len(ops), "stderr: %s", stderr)
	for i, r := range out.Rows {
		assert.Equal(t, target, r.Target)
		assert.Equal(t, ops[i], r.Op)
		assert.Equal(t, clients, r.Clients)
		assert.Greater(t, r.OpsPerS, 0.0, "%s %s", r.Target, r.Op)
		assert.Greater(t, r.P50Ms, 0.0, "%s %s", r.Target, r.Op)
		assert.GreaterOrEqual(t, r.P99Ms, r.P50Ms, "%s %s", r.Target, r.Op)
		assert.Zero(t, r.Errors, "%s %s", r.Target, r.Op)
	}
	assert.Equal(t, 3, out.Servers)
	assert.Equal(t, int64(2000), out.DurationMs)
	assert.Empty(t, out.Ratios, "one target: nothing to compare")
	assert.Len(t, out.Ensembles, len(ops), "a fresh ensemble per op")
	_, err := os.Stat(out.LogDir)
	assert.True(t, os.IsNotExist(err), "the run's directory is removed without --keep")
}

func TestBench_ZoosimCells(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ensembles of zoosim serve processes; skipped with -short")
	}
	prof := t.TempDir()
	ops := []string{"set", "get", "create"}
	out, stderr, code := benchRun(t, "--target", "zoosim", "--servers", "3", "--clients", "2", "--op", "set,get,create",
		"--duration", "2s", "--profile", prof)
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	requireCells(t, out, "zoosim", ops, 2, stderr)
	for _, e := range out.Ensembles {
		require.NotZero(t, e.Leader, "%s: a leader", e.Op)
		require.Len(t, e.Profiles, 3)
		for _, p := range e.Profiles {
			st, err := os.Stat(p)
			require.NoError(t, err, "each server wrote its CPU profile when it stopped")
			require.Greater(t, st.Size(), int64(0))
		}
	}
}

func TestBench_ZooKeeperCell(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an Apache ZooKeeper ensemble; skipped with -short")
	}
	if _, err := real.ZooKeeperClassPath(); err != nil {
		t.Skipf("Apache ZooKeeper is not installed (make clients): %v", err)
	}
	out, stderr, code := benchRun(t, "--target", "zookeeper", "--servers", "3", "--clients", "2", "--op", "set",
		"--duration", "2s")
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	requireCells(t, out, "zookeeper", []string{"set"}, 2, stderr)
}

// Without Apache ZooKeeper (here: no java on PATH) the zookeeper target is
// reported as skipped, with the reason, and the run is not an error.
func TestBench_ZooKeeperMissingIsSkipped(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the zoosim binary; skipped with -short")
	}
	zoosimExecutable(t) // built with the real PATH
	t.Setenv("PATH", t.TempDir())
	out, stderr, code := benchRun(t, "--target", "zookeeper", "--clients", "1", "--op", "get", "--duration", "1s")
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	require.Empty(t, out.Rows)
	require.Len(t, out.Skipped, 1)
	require.Equal(t, "zookeeper", out.Skipped[0].Target)
	require.Contains(t, out.Skipped[0].Reason, "java is not installed")
	require.Contains(t, stderr, "target zookeeper will be skipped")
}

// Ctrl-C in the middle of a cell stops the bench, every server, and
// removes its directory.
func TestBench_InterruptCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an ensemble of zoosim serve processes; skipped with -short")
	}
	dir := filepath.Join(t.TempDir(), "bench")
	requireInterruptCleansUp(t, dir, "serving", func() {
		time.Sleep(time.Second) // into the cell
		require.NotEmpty(t, processesUnder(dir), "the servers run")
	}, "bench", "--target", "zoosim", "--clients", "4", "--op", "set", "--duration", "5m", "--dir", dir)
}
