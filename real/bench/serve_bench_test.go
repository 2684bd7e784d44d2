package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// BenchmarkServe_64Clients measures a real three-server ensemble (zoosim
// serve processes on loopback, fsync on) with Run, as zoosim bench does:
// 64 go-zookeeper sessions spread over the servers, each with one request
// outstanding, setData on its own node, then getData (a fresh ensemble
// each), ZOOSIM_BENCH_SECONDS (default 5) measured each. Run it once:
//
//	go test -run '^$' -bench BenchmarkServe -benchtime 1x ./real/bench/
//
// (make bench-serve). It reports ops/s and p99 as metrics and each
// server's Readies per fsync (group commit) from its stop line.
func BenchmarkServe_64Clients(b *testing.B) {
	if testing.Short() {
		b.Skip("starts zoosim serve processes; skipped with -short")
	}
	seconds := 5
	if v := os.Getenv("ZOOSIM_BENCH_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > int(MaxDuration/time.Second) {
			b.Fatalf("ZOOSIM_BENCH_SECONDS=%q: want 1..600", v)
		}
		seconds = n
	}
	bin := filepath.Join(b.TempDir(), "zoosim")
	_, file, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-o", bin, "./cmd/zoosim")
	build.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/zoosim: %v\n%s", err, out)
	}
	dir := b.TempDir()
	b.ResetTimer()
	res, err := Run(context.Background(), Options{Targets: []string{TargetZoosim}, Servers: 3, Clients: []int{64},
		Ops: []string{"set", "get"}, Duration: time.Duration(seconds) * time.Second, Dir: dir, Keep: true, Binary: bin,
		Logf: b.Logf})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range res.Rows {
		if r.Errors > 0 {
			b.Errorf("%s: %d errors, the first: %s", r.Op, r.Errors, r.FirstError)
		}
		name := map[string]string{"set": "setData", "get": "getData"}[r.Op]
		b.ReportMetric(r.OpsPerS, name+"/s")
		b.ReportMetric(r.P99Ms, name+"-p99-ms")
	}
	b.ReportMetric(0, "ns/op")
	// The stop line of each server says how many Readies shared an fsync.
	for _, e := range res.Ensembles {
		for id := 1; id <= 3; id++ {
			log, _ := os.ReadFile(filepath.Join(e.Dir, strconv.Itoa(id), "server.log"))
			m := stopLine.FindSubmatch(log)
			if m == nil {
				continue
			}
			syncs, _ := strconv.ParseFloat(string(m[1]), 64)
			fsyncs, _ := strconv.ParseFloat(string(m[2]), 64)
			if fsyncs > 0 {
				b.Logf("%s, server %d: %.0f Readies with a sync in %.0f fsyncs (%.1f per fsync)", e.Op, id, syncs, fsyncs, syncs/fsyncs)
			}
		}
	}
}

var stopLine = regexp.MustCompile(`stopped.* syncReadies=(\d+) fsyncs=(\d+)`)
