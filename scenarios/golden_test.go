package scenarios

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with what the code does now")

// goldenStandardSeeds are the seeds of the standard scenario whose whole
// runs are pinned.
var goldenStandardSeeds = []uint64{1, 2, 3, 4, 5}

// TestGolden_StandardTraceHashes pins whole runs of the standard scenario
// (60 virtual seconds, every fault kind): their trace hash, verdict, ops,
// faults and events. Any change in what the service, the world, the
// workload or the nemesis does shows here, in review; when the change is
// meant, regenerate the file with
//
//	go test ./scenarios/ -run Golden -update
//
// and say why in the commit.
func TestGolden_StandardTraceHashes(t *testing.T) {
	sc, err := Lookup("standard")
	require.NoError(t, err)
	var b strings.Builder
	b.WriteString("# scenario seed trace-hash verdict ops faults events (go test ./scenarios/ -run Golden -update)\n")
	for _, seed := range goldenStandardSeeds {
		r := run1(t, sc, seed)
		fmt.Fprintf(&b, "standard %d %016x %s %d %d %d\n", seed, r.TraceHash, r.Verdict, r.Ops, r.Faults, r.Events)
	}
	path := filepath.Join("testdata", "standard-trace-hashes.golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "no golden file: run go test ./scenarios/ -run Golden -update")
	require.Equal(t, string(want), b.String(), "whole runs of standard changed; if that is meant, rerun with -update")
}
