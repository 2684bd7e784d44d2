// Package golden compares a test's readable trace with the file under
// testdata that holds the expected one, and rewrites the file when the
// test runs with -update: the diff of the golden file is the review.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/ with the traces the tests produce")

// Check compares got with testdata/<name>.golden.
func Check(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if string(want) == got {
		return
	}
	wl, gl := strings.Split(string(want), "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			t.Fatalf("%s differs from the golden trace at line %d:\nwant: %s\n got: %s\n(run with -update to accept the new trace, then review the diff)", path, i+1, w, g)
		}
	}
}

// Updating reports whether the tests run with -update (for tests that keep
// files under testdata other than golden traces, such as fuzz seed corpora).
func Updating() bool { return *update }
