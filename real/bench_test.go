package real

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkServe_64Clients measures a real three-server ensemble (zoosim
// serve processes on loopback, fsync on) under 64 go-zookeeper sessions
// spread over the servers, each with one request outstanding: setData/s
// (each client overwriting its own node), then getData/s. Each phase runs
// ZOOSIM_BENCH_SECONDS (default 5) of wall time; run it once:
//
//	go test -run '^$' -bench BenchmarkServe -benchtime 1x ./real/
//
// (make bench-serve). It reports the figures as metrics and the leader's
// Readies per fsync (group commit) from its stop line.
func BenchmarkServe_64Clients(b *testing.B) {
	skipProcesses(b)
	seconds := 5
	if v := os.Getenv("ZOOSIM_BENCH_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("ZOOSIM_BENCH_SECONDS=%q", v)
		}
		seconds = n
	}
	const clients = 64
	e := startEnsemble(b, 3, LocalOptions{Extra: []string{"maxClientCnxns=0"}})
	waitServing(b, e)
	addrs := e.ClientAddrs()
	sessions := make([]*session, clients)
	value := make([]byte, 100)
	for i := range sessions {
		// Round-robin over the servers, as a client library's shuffled
		// connect string spreads sessions.
		sessions[i] = connect(b, []string{addrs[i%len(addrs)]}, 10*time.Second)
		if _, err := sessions[i].Create(fmt.Sprintf("/bench-%d", i), value, 0, openACL); err != nil {
			b.Fatal(err)
		}
	}
	phase := func(name string, op func(s *session, i int) error) float64 {
		var ops, errs atomic.Int64
		var stop atomic.Bool
		var wg sync.WaitGroup
		start := time.Now()
		for i, s := range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					if err := op(s, i); err != nil {
						errs.Add(1)
						continue
					}
					ops.Add(1)
				}
			}()
		}
		time.Sleep(time.Duration(seconds) * time.Second)
		stop.Store(true)
		wg.Wait()
		rate := float64(ops.Load()) / time.Since(start).Seconds()
		b.Logf("%s: %d ops in %v (%.0f/s), %d errors", name, ops.Load(), time.Since(start).Round(time.Millisecond), rate, errs.Load())
		if errs.Load() > 0 {
			b.Errorf("%s: %d errors", name, errs.Load())
		}
		return rate
	}
	b.ResetTimer()
	sets := phase("setData", func(s *session, i int) error {
		_, err := s.Set(fmt.Sprintf("/bench-%d", i), value, -1)
		return err
	})
	gets := phase("getData", func(s *session, i int) error {
		_, _, err := s.Get(fmt.Sprintf("/bench-%d", i))
		return err
	})
	b.StopTimer()
	b.ReportMetric(sets, "setData/s")
	b.ReportMetric(gets, "getData/s")
	b.ReportMetric(0, "ns/op")
	for _, s := range sessions {
		s.Close()
	}
	// The stop line of each server says how many Readies shared an fsync.
	for _, s := range e.Servers {
		s.Signal(syscall.SIGTERM)
		s.Wait(30 * time.Second)
		log, _ := os.ReadFile(s.Log)
		m := stopLine.FindSubmatch(log)
		if m == nil {
			continue
		}
		syncs, _ := strconv.ParseFloat(string(m[1]), 64)
		fsyncs, _ := strconv.ParseFloat(string(m[2]), 64)
		if fsyncs > 0 {
			b.Logf("server %d: %.0f Readies with a sync in %.0f fsyncs (%.1f per fsync)", s.ID, syncs, fsyncs, syncs/fsyncs)
		}
	}
}

var stopLine = regexp.MustCompile(`stopped.* syncReadies=(\d+) fsyncs=(\d+)`)
