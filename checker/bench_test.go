package checker

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkCheck10kOps checks a realistic 10,000-op history (10 clients,
// 20 small path groups, stale and linearizable reads, watches, multis,
// sequential and ephemeral nodes, a few unknown outcomes) with every
// checker. The budget is 2 s per check on a 2-core machine.
func BenchmarkCheck10kOps(b *testing.B) {
	h := generate(rand.New(rand.NewPCG(7, 7)), defaultGenConfig())
	b.ReportMetric(float64(len(h.Ops)), "ops")
	b.ResetTimer()
	for b.Loop() {
		if rep := Check(h, Options{}); rep.Verdict != VerdictOK {
			b.Fatalf("generated history judged %s:\n%s", rep.Verdict, rep)
		}
	}
}

// BenchmarkCheckEach10kOps times each checker alone on the same history.
func BenchmarkCheckEach10kOps(b *testing.B) {
	h := generate(rand.New(rand.NewPCG(7, 7)), defaultGenConfig())
	for _, name := range Names {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if rep := Check(h, Options{Checks: []string{name}}); rep.Verdict != VerdictOK {
					b.Fatalf("%s", rep)
				}
			}
		})
	}
}
