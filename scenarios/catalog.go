package scenarios

import (
	"fmt"
	"slices"
	"sort"

	"zoosim/node"
	"zoosim/server"
)

const sec = node.Second

// base is the standard shape the catalogue varies.
func base(name, desc string) Scenario {
	return Scenario{
		Name: name, Description: desc,
		Servers: 5, Quorum: "majority", Engine: "zab", ReadMode: server.ReadLocal,
		Clients: 10, SessionTimeout: 1500 * node.Millisecond,
		Workload: Workload{Mix: map[Behaviour]int{Registers: 5, CAS: 1, Queue: 1, Ephemerals: 1, Watchers: 1, Multi: 1, Idle: 1}, ThinkTime: 40 * node.Millisecond, Groups: 4},
		Duration: 60 * sec, LivenessBound: 10 * sec,
	}
}

var allFaults = []string{"partition", "crash", "lag", "pause", "clock", "link", "disk-corrupt", "client"}

func with(s Scenario, f func(*Scenario)) Scenario { f(&s); return s }

// Catalog is every named scenario.
var Catalog = []Scenario{
	with(base("standard", "5 servers, majority, 10 clients of every workload, 60 s, swarm nemesis over every fault kind"), func(s *Scenario) {
		s.Workload.Mix = map[Behaviour]int{Registers: 5, CAS: 1, Queue: 1, Ephemerals: 1, Watchers: 1, Master: 1, Lock: 1, Multi: 1, Idle: 1}
		s.Nemesis.Kinds = allFaults
	}),
	with(base("master-failover", "the seed's master election: clients race for an ephemeral /master while the master's session is cut off, its server crashes, the leader is partitioned"), func(s *Scenario) {
		s.Servers, s.Clients = 3, 6
		s.Workload.Mix = map[Behaviour]int{Master: 4, Registers: 2, Idle: 2}
		s.Nemesis.Kinds = []string{"client", "crash", "partition-leader", "pause"}
		s.Duration = 40 * sec
	}),
	with(base("session-expiry", "ephemeral nodes of sessions cut off from every server must vanish, and watchers must see them go"), func(s *Scenario) {
		s.Servers, s.Clients = 3, 8
		s.SessionTimeout = 800 * node.Millisecond
		s.Workload.Mix = map[Behaviour]int{Ephemerals: 4, Watchers: 2, Registers: 2, Idle: 2}
		s.Nemesis.Kinds = []string{"client", "pause"}
		s.Duration = 30 * sec
	}),
	with(base("watch-churn", "watches set and fired under partitions and crashes: one-shot, right type, before the new data"), func(s *Scenario) {
		s.Workload.Mix = map[Behaviour]int{Watchers: 5, Registers: 4, Multi: 2}
		s.Nemesis.Kinds = []string{"partition", "crash"}
		s.Duration = 30 * sec
	}),
	with(base("config-cas", "the seed's /config story: two writers update by version; a stale version fails with BadVersion"), func(s *Scenario) {
		s.Servers, s.Clients = 3, 2
		s.Workload.Mix = map[Behaviour]int{CAS: 1}
		s.Workload.ThinkTime = 20 * node.Millisecond
		s.Nemesis.Kinds = []string{"partition", "crash"}
		s.Duration = 30 * sec
	}),
	with(base("sequential-queue", "producers create persistent-sequential items, consumers take the lowest: names are unique and ordered"), func(s *Scenario) {
		s.Workload.Mix = map[Behaviour]int{Queue: 1}
		s.Nemesis.Kinds = []string{"partition", "crash", "link"}
		s.Duration = 30 * sec
	}),
	with(base("quorum-loss", "crash a majority (and everything): no write may be acknowledged without a quorum; service returns after restart"), func(s *Scenario) {
		s.Nemesis.Kinds = []string{"crash-all", "restart-all", "crash", "restart", "crash-point"}
		s.Duration = 40 * sec
	}),
	with(base("partition-leader", "isolate the leader again and again"), func(s *Scenario) {
		s.Nemesis.Kinds = []string{"partition-leader", "heal"}
		s.Duration = 30 * sec
	}),
	with(base("partition-majority", "majority/minority splits and random halves"), func(s *Scenario) {
		s.Nemesis.Kinds = []string{"partition-majority", "partition-halves", "heal"}
		s.Duration = 30 * sec
	}),
	with(base("partition-bridge", "a bridge server sees both halves, the halves do not see each other"), func(s *Scenario) {
		s.Nemesis.Kinds = []string{"partition-bridge", "heal"}
		s.Duration = 30 * sec
	}),
	with(base("partition-ring", "every server talks only to its two neighbours"), func(s *Scenario) {
		s.Nemesis.Kinds = []string{"partition-ring", "heal"}
		s.Duration = 30 * sec
	}),
	with(base("partition-oneway", "one-way cuts: a server hears but is not heard"), func(s *Scenario) {
		s.Nemesis.Kinds = []string{"partition-oneway", "heal"}
		s.Duration = 30 * sec
	}),
	with(base("crash-storm", "servers crash and restart in quick succession, losing unsynced writes"), func(s *Scenario) {
		s.Servers = 3
		s.Nemesis.Kinds = []string{"crash", "crash-leader", "restart", "restart-all", "crash-point"}
		s.Duration = 40 * sec
	}),
	with(base("clock-skew", "clock jumps and drift on servers and clients"), func(s *Scenario) {
		s.Nemesis.Kinds = []string{"clock"}
		s.Duration = 30 * sec
	}),
	with(base("disk-faults", "records corrupted on disk, caught by checksums, while one follower lags and servers crash alone or all at once: a damaged server resyncs, abstains meanwhile and never serves stale state"), func(s *Scenario) {
		s.Servers = 3
		// A corrupt record only costs committed txns when the server that
		// finds it at its restart can form a quorum with a server that
		// lacks them: one that lags (slow disk and links, so a crash-all
		// leaves it behind) while the other holder of the txns is down.
		s.Nemesis.Kinds = []string{"disk-corrupt", "crash", "crash-all", "restart", "lag"}
		s.Nemesis.Always = []string{"disk-corrupt", "crash", "crash-all", "lag"}
		s.Nemesis.Intense = true
		s.Duration = 30 * sec
	}),
	with(base("pauses", "long GC-like pauses of servers and clients"), func(s *Scenario) {
		s.Nemesis.Kinds = []string{"pause"}
		s.Duration = 30 * sec
	}),
	with(base("lossy-links", "lossy, slow, duplicating and reordering links"), func(s *Scenario) {
		s.Nemesis.Kinds = []string{"link"}
		s.Duration = 30 * sec
	}),
	with(base("standalone", "ZooKeeper's standalone mode: one server, crashes and restarts"), func(s *Scenario) {
		s.Servers, s.Clients = 1, 5
		s.Nemesis.Kinds = []string{"crash", "restart", "pause", "client"}
		s.Duration = 30 * sec
	}),
	with(base("linearizable-reads", "every read commits a barrier through the leader: reads are linearizable too"), func(s *Scenario) {
		s.ReadMode = server.ReadLinearizable
		s.Servers = 3
		s.Nemesis.Kinds = []string{"partition", "crash", "clock"}
		s.Duration = 30 * sec
	}),
	with(base("locks", "the lock recipe with ephemeral-sequential nodes: no two holders overlap"), func(s *Scenario) {
		s.Servers, s.Clients = 3, 6
		s.Workload.Mix = map[Behaviour]int{Lock: 5, Registers: 1}
		s.Nemesis.Kinds = []string{"client", "crash", "partition"}
		s.Duration = 40 * sec
	}),
	with(base("read-capacity", "read-heavy clients load servers whose CPU handles one message per 600 µs: local reads spread over every server, so more servers serve more reads"), func(s *Scenario) {
		s.Servers, s.Clients = 3, 60
		s.ServiceTime = 600 * node.Microsecond
		s.Workload = Workload{Mix: map[Behaviour]int{Readers: 1}, ThinkTime: node.Millisecond, Groups: 4}
		s.Duration = 10 * sec
		s.Knobs = DefaultKnobs(*s) // a measurement: ZooKeeper's defaults, whatever the seed
	}),
	with(base("lagging-follower", "a follower trails the leader by many txns (slow disk and links) and clients are moved onto it: they must never see the state go back, and syncs must catch it up"), func(s *Scenario) {
		s.Servers, s.Clients = 3, 12
		s.Workload.Mix = map[Behaviour]int{Registers: 6, CAS: 1, Watchers: 1, Ephemerals: 1}
		s.Nemesis.Kinds = []string{"lag", "crash-leader", "partition-leader", "restart", "heal"}
		s.Nemesis.Always = []string{"lag", "crash-leader"}
		s.Duration = 30 * sec
	}),
	with(base("resync", "followers crash at every step of discovery and sync (LEADERINFO, ACKEPOCH, DIFF/TRUNC/SNAP, NEWLEADER, UPTODATE) while leaders fail; snapshots every few txns make SNAP syncs common"), func(s *Scenario) {
		s.Servers = 3
		s.Workload.Mix = map[Behaviour]int{Registers: 4, CAS: 1, Ephemerals: 1}
		s.Nemesis.Kinds = []string{"crash-point", "crash-leader", "partition-leader", "restart", "heal"}
		s.Nemesis.CrashMessages = map[string][]string{
			"zab": {"leaderinfo", "ackepoch", "sync/diff", "sync/trunc", "sync/snap", "ack/newleader", "uptodate"},
			// Raft's election and catch-up: a vote just cast, an append or
			// a snapshot just taken.
			"raft": {"prevoteresp", "vote", "voteresp", "app", "appresp", "snap"},
		}
		s.Nemesis.Always = []string{"crash-point", "crash-leader"}
		s.Nemesis.Intense = true
		s.Knobs = Knobs{SnapCount: 5, DiffLimit: 10}
		s.Duration = 60 * sec
	}),
	with(base("rolling-recovery", "a rolling power failure through a recovery: a follower fails, then the leader or another follower; the first comes back and fails again at a step of its resync; then the rest fail, and the servers come back in the order they went down, every unsynced write lost"), func(s *Scenario) {
		s.Servers = 3
		s.Workload.Mix = map[Behaviour]int{Registers: 4, CAS: 1, Ephemerals: 1}
		s.Nemesis.Kinds = []string{"rolling-crash", "restart"}
		// The steps of a resync: Zab's sync and its acknowledgement (the
		// discovery before it is resync's), Raft's election and catch-up.
		s.Nemesis.CrashMessages = map[string][]string{
			"zab":  {"sync/diff", "sync/trunc", "sync/snap", "ack/newleader", "uptodate"},
			"raft": {"prevoteresp", "vote", "voteresp", "app", "appresp", "snap"},
		}
		s.Nemesis.Always = []string{"rolling-crash"}
		s.Nemesis.Intense = true
		// A power failure loses every write not synced; snapshots every few
		// txns and a small diff limit make SNAP syncs common.
		s.Knobs = Knobs{SnapCount: 5, DiffLimit: 10, CrashLoss: "all"}
		s.Duration = 60 * sec
	}),
	with(base("quorum-2-of-5", "UNSAFE on purpose: 5 servers commit with 2 acks; a partition that cuts the two off loses acknowledged writes"), func(s *Scenario) {
		s.Quorum = "2"
		s.Workload.Mix = map[Behaviour]int{Registers: 1}
		s.Nemesis.Kinds = []string{"partition-majority", "partition-halves", "crash-leader", "heal"}
		s.Duration = 30 * sec
	}),
}

// Suite is a named list of scenarios with a default seed count.
type Suite struct {
	Name      string
	Scenarios []string
	// Engines, when set, runs every scenario on each of these engines, one
	// after the other (nil: each scenario's own engine).
	Engines []string
	Seeds   int
	// Duration, when set, overrides every scenario's safety phase.
	Duration node.Time
}

// Suites are the ways to run the catalogue.
var Suites = []Suite{
	{Name: "smoke", Seeds: 2, Duration: 10 * sec, Engines: bothEngines, Scenarios: []string{"standard", "master-failover", "session-expiry", "standalone"}},
	{Name: "ci", Seeds: 8, Engines: bothEngines, Scenarios: safeNames()},
	{Name: "nightly", Seeds: 200, Duration: 120 * sec, Engines: bothEngines, Scenarios: safeNames()},
	{Name: "unsafe", Seeds: 50, Scenarios: []string{"quorum-2-of-5"}},
}

// bothEngines: a failure on both engines belongs to the layers above
// them, a failure on one of them to that protocol.
var bothEngines = []string{"zab", "raft"}

func safeNames() []string {
	var out []string
	for _, s := range Catalog {
		if s.Name != "quorum-2-of-5" {
			out = append(out, s.Name)
		}
	}
	return out
}

// Lookup finds a scenario by name.
func Lookup(name string) (Scenario, error) {
	for _, s := range Catalog {
		if s.Name == name {
			return s, nil
		}
	}
	names := make([]string, len(Catalog))
	for i, s := range Catalog {
		names[i] = s.Name
	}
	sort.Strings(names)
	return Scenario{}, fmt.Errorf("unknown scenario %q (known: %v)", name, names)
}

// LookupSuite finds a suite by name.
func LookupSuite(name string) (Suite, error) {
	i := slices.IndexFunc(Suites, func(s Suite) bool { return s.Name == name })
	if i < 0 {
		return Suite{}, fmt.Errorf("unknown suite %q (known: smoke, ci, nightly, unsafe)", name)
	}
	return Suites[i], nil
}
