package scenarios

import (
	"testing"
	"time"
)

// BenchmarkStandardScenario runs the ci suite's standard scenario (5
// servers, majority, 10 clients, 60 virtual seconds, swarm nemesis over
// every fault kind), one seed per iteration, checking included, and reports
// seeds per minute on one core, the run's figures and the checkers' share.
func BenchmarkStandardScenario(b *testing.B) {
	sc, err := Lookup("standard")
	if err != nil {
		b.Fatal(err)
	}
	var ops, events, virtualMs int64
	var check time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Run(sc, uint64(i+1), Options{})
		if err != nil {
			b.Fatal(err)
		}
		ops += int64(r.Ops)
		events += int64(r.Events)
		virtualMs += r.VirtualMs
		for _, c := range r.Report.Results {
			check += c.Duration
		}
	}
	elapsed := b.Elapsed()
	n := float64(b.N)
	b.ReportMetric(n/elapsed.Minutes(), "seeds/min")
	b.ReportMetric(float64(ops)/n, "ops/run")
	b.ReportMetric(float64(events)/n, "events/run")
	b.ReportMetric(float64(virtualMs)/n, "virtual-ms/run")
	b.ReportMetric(100*check.Seconds()/elapsed.Seconds(), "check-%")
}
