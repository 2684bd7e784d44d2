package scenarios

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"zoosim/client"
	"zoosim/node"
	"zoosim/quorum/engines"
	"zoosim/server"
	"zoosim/sim"
)

// Knobs are the protocol and server settings of a run (FoundationDB's
// BUGGIFY for configuration): every knob a scenario or the command line
// does not pin is drawn from the run's seed, within legal ranges, so that
// snapshot, recovery and resync code runs under faults as often as the
// common path. A run prints its knobs, and its repro line pins all of them.
//
// In a Knobs value the zero of a field means "not pinned: draw it".
type Knobs struct {
	// TickTime is ZooKeeper's tickTime (Zab's timeouts, session
	// negotiation, the servers' housekeeping).
	TickTime node.Time
	// InitLimit and SyncLimit are Zab's limits, in ticks.
	InitLimit, SyncLimit int
	// SnapCount is the number of txns between snapshots.
	SnapCount int
	// SegmentTxns rolls the log to a new segment every this many txns
	// (-1: only at snapshots, as ZooKeeper does).
	SegmentTxns int
	// DiffLimit makes a leader send a snapshot to a follower that misses
	// more than this many txns (ZooKeeper's snapSizeFactor; -1: never).
	DiffLimit int
	// SessionTimeout is what clients ask for.
	SessionTimeout node.Time
	// Network and Disk are latency profiles (see networkProfiles,
	// diskProfiles).
	Network, Disk string
	// CrashLoss is what a crash does to unsynced writes: "tail" loses a
	// random tail of them, "all" every one.
	CrashLoss string
	// Buggify names the forced rare branches switched on: "none", "all",
	// or points joined by "+".
	Buggify string
}

// knobOrder is the order knobs print in, with their names on the command
// line.
var knobOrder = []string{"tick", "init", "sync", "snap", "segment", "diff", "session", "net", "disk", "crash", "buggify"}

// KnobNames are the knobs' names on the command line, in print order.
func KnobNames() []string { return slices.Clone(knobOrder) }

// networkProfiles are the link latencies a run may draw.
var networkProfiles = map[string]sim.LinkParams{
	// A healthy LAN: 0.1–1 ms.
	"lan": sim.DefaultLinkParams(),
	// Servers in different zones: 2–20 ms, 1% of messages 50–200 ms.
	"wan": {LatencyMin: 2 * node.Millisecond, LatencyMax: 20 * node.Millisecond,
		TailProb: 0.01, TailLatencyMin: 50 * node.Millisecond, TailLatencyMax: 200 * node.Millisecond},
	// A busy LAN: mostly fast, 5% of messages stuck 20–100 ms behind others.
	"jittery": {LatencyMin: 100 * node.Microsecond, LatencyMax: 2 * node.Millisecond,
		TailProb: 0.05, TailLatencyMin: 20 * node.Millisecond, TailLatencyMax: 100 * node.Millisecond},
}

// diskProfiles are the sync latencies a run may draw.
var diskProfiles = map[string][2]node.Time{
	"nvme": {20 * node.Microsecond, 200 * node.Microsecond},
	"ssd":  {200 * node.Microsecond, 2 * node.Millisecond},
	"hdd":  {4 * node.Millisecond, 15 * node.Millisecond},
}

// BuggifyPoints are every forced rare branch the cores offer, every
// engine's included.
var BuggifyPoints = allBuggifyPoints()

func allBuggifyPoints() []string {
	lists := [][]string{server.BuggifyPoints, client.BuggifyPoints}
	for _, e := range engines.Registry {
		lists = append(lists, e.BuggifyPoints)
	}
	return concat(lists...)
}

// buggifyPointsOf are the forced rare branches a run on engine can take:
// the engine's, the server's and the client's.
func buggifyPointsOf(engine string) []string {
	var own []string
	if e, err := engines.Lookup(engine); err == nil {
		own = e.BuggifyPoints
	}
	return concat(own, server.BuggifyPoints, client.BuggifyPoints)
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return out
}

// DefaultKnobs are ZooKeeper-like settings: what a run uses when every knob
// is pinned to its default ("--knobs default"), and what experiments that
// compare latencies use.
func DefaultKnobs(sc Scenario) Knobs {
	return Knobs{TickTime: 100 * node.Millisecond, InitLimit: 10, SyncLimit: 5, SnapCount: 1000, SegmentTxns: -1,
		DiffLimit: -1, SessionTimeout: sc.SessionTimeout, Network: "lan", Disk: "ssd", CrashLoss: "tail", Buggify: "none"}
}

// draw fills every knob k does not pin from rnd. Every knob is drawn, pinned
// or not, so that pinning one does not change the others.
func (k Knobs) draw(rnd *rand.Rand, sc Scenario) Knobs {
	pick := func(opts ...int) int { return opts[rnd.IntN(len(opts))] }
	d := Knobs{
		TickTime:  node.Time(pick(50, 100, 100, 200)) * node.Millisecond,
		InitLimit: pick(5, 10, 15),
		SyncLimit: pick(2, 3, 5, 5, 8),
		// A handful of txns between snapshots often: snapshot and SNAP
		// sync code then runs in most runs.
		SnapCount:   pick(5, 20, 100, 1000),
		SegmentTxns: pick(-1, -1, 4, 32),
		DiffLimit:   pick(-1, -1, 10, 100),
		Network:     []string{"lan", "lan", "wan", "jittery"}[rnd.IntN(4)],
		Disk:        []string{"nvme", "ssd", "ssd", "hdd"}[rnd.IntN(4)],
		CrashLoss:   []string{"tail", "tail", "all"}[rnd.IntN(3)],
	}
	d.SessionTimeout = sc.SessionTimeout * node.Time(pick(2, 2, 3, 4)) / 2
	var on []string
	for _, p := range buggifyPointsOf(sc.Engine) {
		if rnd.IntN(2) == 0 {
			on = append(on, p)
		}
	}
	switch {
	case rnd.IntN(4) == 0 || len(on) == 0:
		d.Buggify = "none"
	default:
		d.Buggify = strings.Join(on, "+")
	}
	set := func(pinned bool, f func()) {
		if pinned {
			f()
		}
	}
	set(k.TickTime != 0, func() { d.TickTime = k.TickTime })
	set(k.InitLimit != 0, func() { d.InitLimit = k.InitLimit })
	set(k.SyncLimit != 0, func() { d.SyncLimit = k.SyncLimit })
	set(k.SnapCount != 0, func() { d.SnapCount = k.SnapCount })
	set(k.SegmentTxns != 0, func() { d.SegmentTxns = k.SegmentTxns })
	set(k.DiffLimit != 0, func() { d.DiffLimit = k.DiffLimit })
	set(k.SessionTimeout != 0, func() { d.SessionTimeout = k.SessionTimeout })
	set(k.Network != "", func() { d.Network = k.Network })
	set(k.Disk != "", func() { d.Disk = k.Disk })
	set(k.CrashLoss != "", func() { d.CrashLoss = k.CrashLoss })
	set(k.Buggify != "", func() { d.Buggify = k.Buggify })
	if k.SyncLimit == 0 {
		d.SyncLimit = min(d.SyncLimit, d.InitLimit)
	}
	return d
}

// pin returns k with every knob that o pins replaced.
func (k Knobs) pin(o Knobs) Knobs {
	if o.TickTime != 0 {
		k.TickTime = o.TickTime
	}
	if o.InitLimit != 0 {
		k.InitLimit = o.InitLimit
	}
	if o.SyncLimit != 0 {
		k.SyncLimit = o.SyncLimit
	}
	if o.SnapCount != 0 {
		k.SnapCount = o.SnapCount
	}
	if o.SegmentTxns != 0 {
		k.SegmentTxns = o.SegmentTxns
	}
	if o.DiffLimit != 0 {
		k.DiffLimit = o.DiffLimit
	}
	if o.SessionTimeout != 0 {
		k.SessionTimeout = o.SessionTimeout
	}
	if o.Network != "" {
		k.Network = o.Network
	}
	if o.Disk != "" {
		k.Disk = o.Disk
	}
	if o.CrashLoss != "" {
		k.CrashLoss = o.CrashLoss
	}
	if o.Buggify != "" {
		k.Buggify = o.Buggify
	}
	return k
}

// String prints the knobs that are set, in knobOrder, as the command line
// takes them ("tick=100ms,init=10,...").
func (k Knobs) String() string {
	var parts []string
	add := func(name string, set bool, v string) {
		if set {
			parts = append(parts, name+"="+v)
		}
	}
	ms := func(t node.Time) string { return time.Duration(t).String() }
	n := func(v int) string {
		if v < 0 {
			return "off"
		}
		return strconv.Itoa(v)
	}
	add("tick", k.TickTime != 0, ms(k.TickTime))
	add("init", k.InitLimit != 0, n(k.InitLimit))
	add("sync", k.SyncLimit != 0, n(k.SyncLimit))
	add("snap", k.SnapCount != 0, n(k.SnapCount))
	add("segment", k.SegmentTxns != 0, n(k.SegmentTxns))
	add("diff", k.DiffLimit != 0, n(k.DiffLimit))
	add("session", k.SessionTimeout != 0, ms(k.SessionTimeout))
	add("net", k.Network != "", k.Network)
	add("disk", k.Disk != "", k.Disk)
	add("crash", k.CrashLoss != "", k.CrashLoss)
	add("buggify", k.Buggify != "", k.Buggify)
	return strings.Join(parts, ",")
}

// ParseKnobs reads "name=value,..." as String prints it; "default" pins
// every knob to DefaultKnobs (later items override it). Unknown names,
// malformed and out-of-range values are errors.
func ParseKnobs(s string, sc Scenario) (Knobs, error) {
	var k Knobs
	if strings.TrimSpace(s) == "" {
		return k, fmt.Errorf("knobs: empty list (want name=value,... with names %s, or \"default\")", strings.Join(knobOrder, ", "))
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "default" {
			k = k.pin(DefaultKnobs(sc))
			continue
		}
		name, value, ok := strings.Cut(item, "=")
		if !ok {
			return k, fmt.Errorf("knobs: %q is not name=value (names: %s)", item, strings.Join(knobOrder, ", "))
		}
		if err := k.set(name, value); err != nil {
			return k, fmt.Errorf("knobs: %s: %w", name, err)
		}
	}
	return k, k.Validate()
}

func (k *Knobs) set(name, value string) error {
	dur := func(lo, hi node.Time) (node.Time, error) {
		d, err := time.ParseDuration(value)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration", value)
		}
		if node.Time(d) < lo || node.Time(d) > hi {
			return 0, fmt.Errorf("%s outside [%s, %s]", d, time.Duration(lo), time.Duration(hi))
		}
		return node.Time(d), nil
	}
	count := func(lo, hi int, off bool) (int, error) {
		if off && value == "off" {
			return -1, nil
		}
		n, err := strconv.Atoi(value)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", value)
		}
		if n < lo || n > hi {
			return 0, fmt.Errorf("%d outside [%d, %d]", n, lo, hi)
		}
		return n, nil
	}
	var err error
	switch name {
	case "tick":
		k.TickTime, err = dur(10*node.Millisecond, 2*node.Second)
	case "init":
		k.InitLimit, err = count(1, 100, false)
	case "sync":
		k.SyncLimit, err = count(1, 100, false)
	case "snap":
		k.SnapCount, err = count(1, 1_000_000, false)
	case "segment":
		k.SegmentTxns, err = count(1, 1_000_000, true)
	case "diff":
		k.DiffLimit, err = count(1, 1_000_000, true)
	case "session":
		k.SessionTimeout, err = dur(10*node.Millisecond, 600*node.Second)
	case "net":
		if _, ok := networkProfiles[value]; !ok {
			return fmt.Errorf("unknown network profile %q (%s)", value, strings.Join(sortedKeys(networkProfiles), ", "))
		}
		k.Network = value
	case "disk":
		if _, ok := diskProfiles[value]; !ok {
			return fmt.Errorf("unknown disk profile %q (%s)", value, strings.Join(sortedKeys(diskProfiles), ", "))
		}
		k.Disk = value
	case "crash":
		if value != "tail" && value != "all" {
			return fmt.Errorf("want tail (a crash loses a random tail of unsynced writes) or all (every one), not %q", value)
		}
		k.CrashLoss = value
	case "buggify":
		k.Buggify = value
	default:
		return fmt.Errorf("unknown knob (names: %s)", strings.Join(knobOrder, ", "))
	}
	return err
}

// Validate checks the pinned knobs against each other and the buggify
// points against those the cores offer.
func (k Knobs) Validate() error {
	if k.InitLimit != 0 && k.SyncLimit != 0 && k.SyncLimit > k.InitLimit {
		return fmt.Errorf("knobs: sync=%d above init=%d", k.SyncLimit, k.InitLimit)
	}
	if _, err := k.buggifyPoints(""); err != nil {
		return err
	}
	return nil
}

// buggifyPoints resolves the Buggify knob for a run on engine ("all" is
// every point of that engine, the server and the client).
func (k Knobs) buggifyPoints(engine string) ([]string, error) {
	switch k.Buggify {
	case "", "none":
		return nil, nil
	case "all":
		return buggifyPointsOf(engine), nil
	}
	var out []string
	for p := range strings.SplitSeq(k.Buggify, "+") {
		if !slices.Contains(BuggifyPoints, p) {
			return nil, fmt.Errorf("knobs: unknown buggify point %q (points: %s)", p, strings.Join(BuggifyPoints, ", "))
		}
		out = append(out, p)
	}
	return out, nil
}

// settings are the protocol knobs, which each engine maps onto its own.
func (k Knobs) settings() engines.Settings {
	return engines.Settings{TickTime: k.TickTime, InitLimit: k.InitLimit, SyncLimit: k.SyncLimit,
		SnapCount: k.SnapCount, SegmentTxns: k.SegmentTxns, DiffLimit: k.DiffLimit}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
