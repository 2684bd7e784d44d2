package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// historyV1 is a history saved by zoosim before the history reader grew
// its bounds (format version 1): it must keep loading and checking.
const historyV1 = "testdata/history-v1.json"

func TestCheck_AHistoryOfFormatVersion1StillLoadsAndChecks(t *testing.T) {
	stdout, stderr, code := zoosim(t, "check", historyV1, "--json")
	require.Equal(t, exitOK, code, stderr)
	var got struct {
		Verdict string `json:"verdict"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	assert.Equal(t, "ok", got.Verdict)
}

// doctoredHistory writes the version-1 history with change applied to its
// decoded JSON.
func doctoredHistory(t *testing.T, dir, name string, change func(h map[string]any)) string {
	t.Helper()
	b, err := os.ReadFile(historyV1)
	require.NoError(t, err)
	var f map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // times such as Infinity do not survive a float64
	require.NoError(t, dec.Decode(&f))
	change(f["history"].(map[string]any))
	b, err = json.Marshal(f)
	require.NoError(t, err)
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

func firstOp(h map[string]any) map[string]any { return h["Ops"].([]any)[0].(map[string]any) }

// TestInput_EveryCommandRefusesMalformedAndExtremeInputs feeds every
// command malformed and extreme flags and files: each must stop before a
// run starts, with exit status 2, a message that names the problem, nothing
// on stdout, and no panic (zoosim fails the test on one).
func TestInput_EveryCommandRefusesMalformedAndExtremeInputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	badNode := write("bad-node.json", `[{"at":"1s","kind":"crash","nodes":[99]}]`)
	tooMany := write("too-many.json", `[{"at":"1s","kind":"crash","count":4}]`)
	badCorpus := write("bad-corpus.json", `{"format":"zoosim-corpus","version":1,"entries":[{"scenario":"standard","seed":0,"overrides":{},"found":"x","fixed_by":"abcdef0","expect":"ok"}]}`)
	negCorpus := write("neg-corpus.json", `{"format":"zoosim-corpus","version":1,"entries":[{"scenario":"standard","seed":1,"overrides":{"servers":-5},"found":"x","fixed_by":"abcdef0","expect":"ok"}]}`)
	dupCorpus := write("dup-corpus.json", `{"format":"zoosim-corpus","version":1,"entries":[`+
		`{"scenario":"standard","seed":1,"overrides":{},"found":"x","fixed_by":"abcdef0","expect":"ok"},`+
		`{"scenario":"standard","seed":1,"overrides":{},"found":"y","fixed_by":"abcdef0","expect":"ok"}]}`)
	relative := doctoredHistory(t, dir, "relative.json", func(h map[string]any) { firstOp(h)["Path"] = "g1" })
	dotdot := doctoredHistory(t, dir, "dotdot.json", func(h map[string]any) { firstOp(h)["Path"] = "/g1/../x" })
	negServers := doctoredHistory(t, dir, "neg-servers.json", func(h map[string]any) { h["Servers"] = -5 })
	manyServers := doctoredHistory(t, dir, "many-servers.json", func(h map[string]any) { h["Servers"] = 1 << 20 })
	badServer := doctoredHistory(t, dir, "bad-server.json", func(h map[string]any) { firstOp(h)["Server"] = 7 })
	longPath := doctoredHistory(t, dir, "long-path.json", func(h map[string]any) { firstOp(h)["Path"] = "/" + strings.Repeat("a", 3<<20) })
	bigData := doctoredHistory(t, dir, "big-data.json", func(h map[string]any) {
		firstOp(h)["Data"] = base64.StdEncoding.EncodeToString(make([]byte, 1<<20+1))
	})
	deep := write("deep.json", `{"format":"zoosim-history","version":1,"history":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`}`)
	corpusResult := filepath.Join(dir, "corpus-result.json")
	{
		// A (tiny) corpus run's JSON, which merge must refuse.
		c := write("one.json", `{"format":"zoosim-corpus","version":1,"entries":[{"scenario":"standalone","seed":1,"overrides":{"duration":"1s","clients":1,"faults":[]},"found":"x","fixed_by":"abcdef0","expect":"ok"}]}`)
		stdout, stderr, code := zoosim(t, "suite", "--corpus", c, "--json", "--quiet")
		require.Equal(t, exitOK, code, stderr)
		require.NoError(t, os.WriteFile(corpusResult, []byte(stdout), 0o644))
	}

	tests := []struct {
		name    string
		args    []string
		message string
	}{
		// run (and repro, which parses a run line the same way)
		{"run duration 1ns", []string{"run", "--scenario", "standalone", "--seed", "1", "--duration", "1ns"}, "outside [1s, 1h0m0s]"},
		{"run duration below the minimum", []string{"run", "--scenario", "standalone", "--seed", "1", "--duration", "999ms"}, "outside [1s"},
		{"run duration above the maximum", []string{"run", "--scenario", "standalone", "--seed", "1", "--duration", "2h"}, "outside [1s"},
		{"run duration overflowing", []string{"run", "--scenario", "standalone", "--seed", "1", "--duration", "9999999999h"}, "duration"},
		{"run seed 0", []string{"run", "--scenario", "standalone", "--seed", "0"}, "want a seed from 1"},
		{"run seed past 64 bits", []string{"run", "--scenario", "standalone", "--seed", "18446744073709551616"}, "want a seed from 1"},
		{"run seed in hex", []string{"run", "--scenario", "standalone", "--seed", "0x10"}, "want a seed from 1"},
		{"run negative max-ops", []string{"run", "--scenario", "standalone", "--seed", "1", "--max-ops", "-1"}, "--max-ops"},
		{"run zero servers", []string{"run", "--scenario", "standalone", "--seed", "1", "--servers", "0"}, "servers"},
		{"run zero clients", []string{"run", "--scenario", "standalone", "--seed", "1", "--clients", "0"}, "clients"},
		{"run too many clients", []string{"run", "--scenario", "standalone", "--seed", "1", "--clients", "201"}, "clients 201"},
		{"run negative check timeout", []string{"run", "--scenario", "standalone", "--seed", "1", "--check-timeout", "-1s"}, "--check-timeout"},
		{"run quorum larger than the ensemble", []string{"run", "--scenario", "standalone", "--seed", "1", "--quorum", "3"}, "quorum"},
		{"run unknown bug", []string{"run", "--scenario", "standalone", "--seed", "1", "--bug", "gremlins"}, "gremlins"},
		{"run schedule naming a node that is not there", []string{"run", "--scenario", "standalone", "--seed", "1", "--schedule", badNode}, "node 99"},
		{"run schedule crashing more servers than exist", []string{"run", "--scenario", "standalone", "--seed", "1", "--schedule", tooMany}, "count 4 but only 1"},
		{"repro with a short duration", []string{"repro", "zoosim run --scenario standalone --seed 1 --duration 1ms"}, "duration"},
		// suite
		{"suite seeds 0", []string{"suite", "--suite", "smoke", "--seeds", "0"}, "seeds"},
		{"suite too many seeds", []string{"suite", "--suite", "smoke", "--seeds", "100001"}, "seeds"},
		{"suite first seed 0", []string{"suite", "--suite", "smoke", "--first-seed", "0"}, "first-seed"},
		{"suite seeds past 2^64", []string{"suite", "--suite", "smoke", "--seeds", "2", "--first-seed", "18446744073709551615"}, "2^64-1"},
		{"suite shard 1/0", []string{"suite", "--suite", "smoke", "--shard", "1/0"}, "shard"},
		{"suite shard 1/2/3", []string{"suite", "--suite", "smoke", "--shard", "1/2/3"}, "shard"},
		{"suite shard +1/2", []string{"suite", "--suite", "smoke", "--shard", "+1/2"}, "shard"},
		{"suite shard of a huge N", []string{"suite", "--suite", "smoke", "--shard", "1/99999999999"}, "shard"},
		{"suite more shards than runs", []string{"suite", "--suite", "smoke", "--seeds", "1", "--shard", "9/9"}, "every shard must have a run"},
		{"suite too parallel", []string{"suite", "--suite", "smoke", "--parallel", "100000"}, "parallel"},
		{"suite max-inconclusive below -1", []string{"suite", "--suite", "smoke", "--max-inconclusive", "-2"}, "max-inconclusive"},
		{"suite short duration", []string{"suite", "--suite", "smoke", "--duration", "500us"}, "outside [1s"},
		{"suite and corpus", []string{"suite", "--suite", "smoke", "--corpus", badCorpus}, "exclusive"},
		{"corpus with seeds", []string{"suite", "--corpus", badCorpus, "--seeds", "3"}, "--corpus replays exact runs"},
		{"corpus with overrides", []string{"suite", "--corpus", badCorpus, "--servers", "3"}, "--corpus replays exact runs"},
		{"corpus missing", []string{"suite", "--corpus", filepath.Join(dir, "none.json")}, "none.json"},
		{"corpus entry with seed 0", []string{"suite", "--corpus", badCorpus}, "seed 0"},
		{"corpus entry with negative servers", []string{"suite", "--corpus", negCorpus}, "servers -5"},
		{"corpus with an entry twice", []string{"suite", "--corpus", dupCorpus}, "entry 2 is entry 1 again"},
		{"corpus of garbage", []string{"suite", "--corpus", historyV1}, "not a corpus"},
		// shrink
		{"shrink duration 1ns", []string{"shrink", "--scenario", "standalone", "--seed", "1", "--duration", "1ns"}, "outside [1s"},
		{"shrink zero runs", []string{"shrink", "--scenario", "standalone", "--seed", "1", "--max-runs", "0"}, "--max-runs"},
		// quorum
		{"quorum with no valid combination", []string{"quorum", "--servers", "3", "--quorum", "4,5", "--seeds", "1"}, "no combination"},
		{"quorum duration 1ns", []string{"quorum", "--servers", "3", "--quorum", "2", "--duration", "1ns"}, "duration"},
		{"quorum seeds 0", []string{"quorum", "--servers", "3", "--quorum", "2", "--seeds", "0"}, "--seeds"},
		{"quorum too many seeds", []string{"quorum", "--servers", "3", "--quorum", "2", "--seeds", "1000000000"}, "--seeds"},
		{"quorum servers twice", []string{"quorum", "--servers", "3,3", "--quorum", "2"}, "twice"},
		{"quorum too parallel", []string{"quorum", "--servers", "3", "--quorum", "2", "--parallel", "100000"}, "--parallel"},
		// check
		{"check path without a leading slash", []string{"check", relative}, "not an absolute path"},
		{"check path with ..", []string{"check", dotdot}, `".."`},
		{"check negative servers", []string{"check", negServers}, "servers -5"},
		{"check too many servers", []string{"check", manyServers}, "servers 1048576"},
		{"check op answered by a server not in the ensemble", []string{"check", badServer}, "server 7"},
		{"check a 3 MiB path", []string{"check", longPath}, "longer than"},
		{"check data beyond 1 MiB", []string{"check", bigData}, "data of 1048577 bytes"},
		{"check deeply nested JSON", []string{"check", deep}, "nested deeper"},
		// merge
		{"merge a corpus run", []string{"merge", corpusResult}, "never sharded"},
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

// FuzzRunArgs feeds run's flag parsing and input checks arbitrary argument
// vectors: whatever they are, preparing a run returns an exit status and
// never panics, and a refusal comes with a message. (The run itself is
// left out: it is a full simulation; the tests above run the edge cases.)
// make fuzz-cli runs it for a bounded time.
func FuzzRunArgs(f *testing.F) {
	for _, seed := range []string{
		"--scenario standard --seed 42",
		"--scenario standalone --seed 1 --duration 1ns",
		"--scenario standalone --seed 0",
		"--scenario quorum-2-of-5 --seed 3 --servers 3 --quorum 2 --faults partition,-crash",
		"--scenario standard --seed 1 --clients 200 --duration 1h --read-mode linearizable --bug ack-before-sync",
		"--scenario standard --seed 1 --schedule testdata/history-v1.json",
		"--scenario standard --seed 1 --max-ops -5 --check-timeout -1s",
		"--scenario standard --faults all,-disk --quorum flex:2:4",
		"--scenario standard --quorum hier:1=3,2=1|3=1",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		// prepare writes nothing (output files are opened once the run
		// starts), so any path the fuzzer makes up is harmless.
		args := strings.Fields(line)
		rf := newRunFlags("run", "zoosim run", runAbout)
		var stdout, stderr bytes.Buffer
		pos, code, ok := parseFlags(rf.fs, args, &stdout, &stderr)
		if !ok {
			if code != exitOK && stderr.Len() == 0 {
				t.Fatalf("%q: exit %d without a message", args, code)
			}
			return
		}
		if len(pos) > 0 {
			return
		}
		_, _, code, ok = rf.prepare(&stderr)
		if !ok && (code != exitUsage || stderr.Len() == 0) {
			t.Fatalf("%q: refused with exit %d and message %q", args, code, stderr.String())
		}
	})
}

// FuzzCheckHistory feeds zoosim check arbitrary files, starting from a
// real saved history: whatever the bytes, the command exits 0, 1 or 2 and
// never panics.
func FuzzCheckHistory(f *testing.F) {
	b, err := os.ReadFile(historyV1)
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte(`{"format":"zoosim-history","version":1,"history":{"Servers":1}}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "h.json")
		require.NoError(t, os.WriteFile(p, data, 0o644))
		_, _, code := zoosim(t, "check", p, "--json", "--check-timeout", "200ms")
		require.Contains(t, []int{exitOK, exitViolation, exitUsage}, code)
	})
}
