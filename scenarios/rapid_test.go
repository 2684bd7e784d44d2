package scenarios

import (
	"testing"

	"pgregory.net/rapid"

	"zoosim/checker"
	"zoosim/nemesis"
	"zoosim/node"
)

// TestProperty_AnyFaultScheduleKeepsEveryPromise draws fault schedules with
// rapid (so a failure shrinks to a minimal schedule) and runs them through
// the whole harness: a correct service passes every checker whatever the
// faults (disk corruption and lying syncs excluded: they break the fault
// model's assumptions on purpose).
func TestProperty_AnyFaultScheduleKeepsEveryPromise(t *testing.T) {
	sc, err := Lookup("standard")
	if err != nil {
		t.Fatal(err)
	}
	sc.Duration = 8 * node.Second
	sc.Clients = 6
	kinds, err := nemesis.ParseKinds("partition,crash,pause,clock,link,client")
	if err != nil {
		t.Fatal(err)
	}
	gen := nemesis.Gen(nemesis.SwarmOptions{Duration: sc.Duration, Quiet: node.Second, Servers: sc.Servers,
		Clients: sc.Clients + 1, Kinds: kinds})
	rapid.Check(t, func(rt *rapid.T) {
		sched := gen.Draw(rt, "schedule")
		seed := rapid.Uint64Range(1, 1<<20).Draw(rt, "seed")
		r, err := Run(sc, seed, Options{Schedule: &sched})
		if err != nil {
			rt.Fatal(err)
		}
		if r.Verdict == checker.VerdictViolation {
			rt.Fatalf("%s --schedule (below)\n%s\n%s", r.Repro, sched, r.Report.String())
		}
	})
}
