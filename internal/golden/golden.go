// Package golden compares a test's readable trace with the file under
// testdata that holds the expected one, and rewrites the file when the
// test runs with -update: the diff of the golden file is the review.
package golden

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
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

// CheckCorpus keeps a fuzz target's seed corpus, testdata/fuzz/<target>/,
// in step with the seeds a test computes: with -update it rewrites the
// directory, otherwise it fails when a seed file is missing or differs.
// Each seed is the values of one corpus file, one Go literal per line
// (`[]byte("...")`, `uint8(3)`), as `go test -fuzz` writes them.
func CheckCorpus(t testing.TB, target string, seeds []string) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	want := map[string]string{}
	for _, s := range seeds {
		content := "go test fuzz v1\n" + s + "\n"
		sum := sha256.Sum256([]byte(content))
		want["seed-"+hex.EncodeToString(sum[:8])] = content
	}
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range want {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	for name, content := range want {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%v (run the test with -update to write the seed corpus)", err)
		}
		if string(got) != content {
			t.Fatalf("%s/%s differs from the seed the test computes (run with -update)", dir, name)
		}
	}
}

// Bytes is a []byte seed literal for CheckCorpus.
func Bytes(b []byte) string { return fmt.Sprintf("[]byte(%q)", b) }
