package bench

import (
	"strings"
	"testing"
	"time"
)

func TestOptions_Validate(t *testing.T) {
	good := Options{Targets: []string{TargetZoosim, TargetZooKeeper}, Servers: 3, Clients: []int{1, 16, 64},
		Ops: []string{"set", "get", "create"}, Duration: 20 * time.Second, Binary: "/bin/zoosim"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good options: %v", err)
	}
	cases := []struct {
		change func(o *Options)
		want   string
	}{
		{func(o *Options) { o.Targets = nil }, "no target"},
		{func(o *Options) { o.Targets = []string{"etcd"} }, `target "etcd"`},
		{func(o *Options) { o.Targets = []string{TargetZoosim, TargetZoosim} }, "given twice"},
		{func(o *Options) { o.Servers = 0 }, "want 1..9"},
		{func(o *Options) { o.Servers = 10 }, "want 1..9"},
		{func(o *Options) { o.Clients = nil }, "no client count"},
		{func(o *Options) { o.Clients = []int{0} }, "0 clients"},
		{func(o *Options) { o.Clients = []int{MaxClients + 1} }, "want 1..1000"},
		{func(o *Options) { o.Clients = []int{4, 4} }, "given twice"},
		{func(o *Options) { o.Ops = []string{"delete"} }, `op "delete"`},
		{func(o *Options) { o.Ops = nil }, "no op"},
		{func(o *Options) { o.Duration = 999 * time.Millisecond }, "outside"},
		{func(o *Options) { o.Duration = MaxDuration + time.Second }, "outside"},
		{func(o *Options) { o.Warmup = -2 }, "warm-up"},
		{func(o *Options) { o.Binary = "" }, "no zoosim binary"},
	}
	for _, tc := range cases {
		o := good
		tc.change(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want an error with %q", o, err, tc.want)
		}
	}
	o := good
	o.Targets, o.Binary = []string{TargetZooKeeper}, ""
	if err := o.Validate(); err != nil {
		t.Errorf("zookeeper alone needs no zoosim binary: %v", err)
	}
}

func TestOptions_Warmup(t *testing.T) {
	for _, tc := range []struct{ warmup, duration, want time.Duration }{
		{0, 20 * time.Second, 5 * time.Second},
		{0, 2 * time.Second, 500 * time.Millisecond},
		{NoWarmup, 20 * time.Second, 0},
		{3 * time.Second, 20 * time.Second, 3 * time.Second},
	} {
		o := Options{Warmup: tc.warmup, Duration: tc.duration}
		if got := o.warmup(); got != tc.want {
			t.Errorf("warmup %v, duration %v: %v, want %v", tc.warmup, tc.duration, got, tc.want)
		}
	}
}

func TestQuantile(t *testing.T) {
	if quantile(nil, 0.5) != 0 {
		t.Error("no samples: 0")
	}
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	if got := quantile(s, 0.50); got != 50*time.Millisecond {
		t.Errorf("p50 of 1..100 ms: %v", got)
	}
	if got := quantile(s, 0.99); got != 99*time.Millisecond {
		t.Errorf("p99 of 1..100 ms: %v", got)
	}
	if got := quantile(s[:1], 0.99); got != time.Millisecond {
		t.Errorf("p99 of one sample: %v", got)
	}
}

func TestRatios_OnlyWhereBothTargetsRan(t *testing.T) {
	rows := []Row{
		{Target: TargetZoosim, Op: "set", Clients: 64, OpsPerS: 20000, P99Ms: 10},
		{Target: TargetZoosim, Op: "get", Clients: 64, OpsPerS: 50000, P99Ms: 2},
		{Target: TargetZooKeeper, Op: "set", Clients: 64, OpsPerS: 10000, P99Ms: 20},
		{Target: TargetZooKeeper, Op: "set", Clients: 16, OpsPerS: 4000, P99Ms: 8},
	}
	got := ratios(rows)
	if len(got) != 1 || got[0] != (Ratio{Op: "set", Clients: 64, OpsPerS: 2, P99: 0.5}) {
		t.Errorf("ratios = %+v, want set@64 2x and 0.5x only", got)
	}
	if r := ratios(nil); r == nil || len(r) != 0 {
		t.Errorf("no rows: an empty list, not %v", r)
	}
}
