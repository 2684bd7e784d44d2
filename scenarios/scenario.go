// Package scenarios is what zoosim's users run: named, composable,
// reproducible scenarios (an ensemble, a quorum, an engine, a read mode, a
// workload, a nemesis, a duration, checks) and suites of them, and the
// runner that plays one scenario for one seed in the simulated world and
// judges its history.
//
// A run is a pure function of (scenario, seed): the world, the workload,
// the faults and the checks all draw from named streams of that one seed,
// so a failing run is reproduced exactly by its repro line.
package scenarios

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"zoosim/nemesis"
	"zoosim/node"
	"zoosim/quorum"
	"zoosim/quorum/engines"
	"zoosim/server"
)

// Scenario is one named test of the service.
type Scenario struct {
	Name        string
	Description string

	Servers  int
	Quorum   string // "majority", a size "2", "flex:E:C", "hier:..."
	Engine   string // a name in engines.Registry: "zab", "raft"
	ReadMode server.ReadMode
	Clients  int
	// SessionTimeout is what clients ask for (negotiated into 2..20 ticks).
	SessionTimeout node.Time

	Workload Workload
	Nemesis  Nemesis

	// ServiceTime gives every server a CPU that handles one message per
	// ServiceTime (0: free and instant), so that load saturates servers.
	ServiceTime node.Time

	// Duration is the safety phase: workload and faults.
	Duration node.Time
	// LivenessBound: after the nemesis heals and restarts everything, a
	// majority-quorum ensemble must acknowledge a write within this.
	LivenessBound node.Time
	// Checks restricts the checkers run (nil: all of them).
	Checks []string
	// Bugs switches on seeded defects (see BugNames) to prove that the
	// checkers catch them.
	Bugs []string
	// Knobs pins protocol and server settings; every knob left zero is
	// drawn from the run's seed.
	Knobs Knobs
	// EventBudget bounds the events a run may process (0: the default,
	// see eventBudget); a run that spends it fails liveness.
	EventBudget uint64
}

// Workload says what the clients do. Each client gets one behaviour, drawn
// by weight; ops follow at a think time drawn around ThinkTime.
type Workload struct {
	Mix       map[Behaviour]int
	ThinkTime node.Time
	// Groups is the number of independent path groups register-like
	// behaviours spread over (small groups keep linearizability checks
	// fast).
	Groups int
}

// Behaviour is one client's role in a workload.
type Behaviour string

const (
	// Registers: setData/getData/CAS/create/delete on a few keys, plain
	// reads and sync+read.
	Registers Behaviour = "registers"
	// CAS: read-modify-write by version on a shared /config, the seed's
	// example of two writers.
	CAS Behaviour = "cas"
	// Queue: producers create sequential nodes; consumers watch the
	// queue's children, re-list after every notice and take the lowest.
	Queue Behaviour = "queue"
	// Ephemerals: create an ephemeral node, sometimes close the session
	// and start a new one.
	Ephemerals Behaviour = "ephemerals"
	// Watchers: hold a persistent or persistent-recursive watch (removed
	// and added again now and then), leave one-shot data, exist and child
	// watches on the register keys of their group, write them too, and
	// re-read (re-arming) after every notice.
	Watchers Behaviour = "watchers"
	// Master: the seed's master election with an ephemeral /master.
	Master Behaviour = "master"
	// Lock: the lock recipe with ephemeral-sequential nodes.
	Lock Behaviour = "lock"
	// Multi: multis of create, setData, delete and check on the register
	// keys, some meant to fail on a version or on existence, mixed with
	// plain ops on the same keys.
	Multi Behaviour = "multi"
	// Idle: own an ephemeral node and a register key, act, stay idle for
	// several session timeouts (pings only) while leaders change, act
	// again; now and then stall the process past the session timeout so
	// that the session expires.
	Idle Behaviour = "idle"
	// Readers: once their keys exist, clients that only read (getData back
	// to back), to load the servers with local reads.
	Readers Behaviour = "readers"
	// probe is the runner's own extra client: idle until the nemesis heals
	// everything, then it writes, so that liveness is measured in every
	// scenario.
	probe Behaviour = "probe"
)

// behaviours in the order dealBehaviours walks them.
var behaviours = []Behaviour{Registers, CAS, Queue, Ephemerals, Watchers, Master, Lock, Readers, Multi, Idle}

// dealBehaviours gives each of n clients a behaviour of the mix. When
// there are enough clients, every behaviour with a weight gets one first
// (a behaviour left out of a run finds none of its bugs); the others are
// drawn by weight. The order is then shuffled, so that a client's path
// group (its index modulo Groups) does not follow from its behaviour.
func dealBehaviours(r *rand.Rand, mix map[Behaviour]int, n int) []Behaviour {
	var present []Behaviour
	total := 0
	for _, b := range behaviours {
		if mix[b] > 0 {
			present = append(present, b)
			total += mix[b]
		}
	}
	out := make([]Behaviour, 0, n)
	if total == 0 {
		for range n {
			out = append(out, Registers)
		}
		return out
	}
	if n >= len(present) {
		out = append(out, present...)
	}
	for len(out) < n {
		x := r.IntN(total)
		for _, b := range present {
			if x < mix[b] {
				out = append(out, b)
				break
			}
			x -= mix[b]
		}
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// Nemesis says which faults a run suffers.
type Nemesis struct {
	// Kinds are the fault kinds (or families) the swarm nemesis may draw
	// from; empty means none.
	Kinds []string
	// Quiet is how long the nemesis waits at the start.
	Quiet node.Time
	// CrashMessages are the message names crash points on receipt or send
	// are drawn from, by engine (an engine not listed: every protocol step
	// it names). Names are the engine's own: Zab's "sync/snap", raft's
	// "voteresp".
	CrashMessages map[string][]string
	// Always are kinds of Kinds every seed enables (the swarm draws the
	// rest).
	Always []string
	// Intense: faults come every 500 ms to 1.5 s in every seed.
	Intense bool
}

// Overrides are command-line changes to a scenario.
type Overrides struct {
	Servers  int
	Quorum   string
	Engine   string
	Clients  int
	Duration node.Time
	Faults   *[]string // nil: keep the scenario's
	ReadMode string
	Bugs     []string
	// Knobs pins knobs ("tick=50ms,snap=5", "default"), on top of what
	// the scenario pins.
	Knobs string
}

// Apply returns the scenario with the overrides applied.
func (s Scenario) Apply(o Overrides) (Scenario, error) {
	if o.Servers > 0 {
		s.Servers = o.Servers
	}
	if o.Quorum != "" {
		s.Quorum = o.Quorum
	}
	if o.Engine != "" {
		s.Engine = o.Engine
	}
	if o.Clients > 0 {
		s.Clients = o.Clients
	}
	if o.Duration > 0 {
		s.Duration = o.Duration
	}
	if o.Bugs != nil {
		s.Bugs = slices.Clone(o.Bugs)
	}
	if o.Faults != nil {
		s.Nemesis.Kinds = slices.Clone(*o.Faults)
	}
	if o.Knobs != "" {
		k, err := ParseKnobs(o.Knobs, s)
		if err != nil {
			return s, err
		}
		s.Knobs = s.Knobs.pin(k)
	}
	switch o.ReadMode {
	case "":
	case "local":
		s.ReadMode = server.ReadLocal
	case "synced":
		s.ReadMode = server.ReadSynced
	case "linearizable":
		s.ReadMode = server.ReadLinearizable
	default:
		return s, fmt.Errorf("unknown read mode %q (local, synced, linearizable)", o.ReadMode)
	}
	return s, s.Validate()
}

// Bounds on a scenario's safety phase. A run shorter than MinDuration
// ends before the ensemble has elected its first leader (about half a
// second) and leaves the nemesis no room after its quiet start: it would
// test nothing, and below a few milliseconds it cannot even be scheduled.
const (
	MinDuration = node.Second
	MaxDuration = 3600 * node.Second
)

// Validate checks a scenario for mistakes a user can make on the command
// line.
func (s Scenario) Validate() error {
	var errs []string
	if s.Servers < 1 || s.Servers > 15 {
		errs = append(errs, fmt.Sprintf("servers %d outside 1..15", s.Servers))
	}
	if s.Clients < 0 || s.Clients > 200 {
		errs = append(errs, fmt.Sprintf("clients %d outside 0..200", s.Clients))
	}
	eng, engErr := engines.Lookup(s.Engine)
	if engErr != nil {
		errs = append(errs, engErr.Error())
	}
	if s.Servers >= 1 && s.Servers <= 15 {
		v, err := quorum.Parse(s.Quorum, s.Servers)
		switch {
		case err != nil:
			errs = append(errs, err.Error())
		case engErr == nil:
			if err := eng.Check(v); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	if s.Duration < MinDuration || s.Duration > MaxDuration {
		errs = append(errs, fmt.Sprintf("duration %v outside [%v, %v]", time.Duration(s.Duration), time.Duration(MinDuration), time.Duration(MaxDuration)))
	}
	if len(s.Nemesis.Kinds) > 0 {
		if _, err := nemesis.ParseKinds(strings.Join(s.Nemesis.Kinds, ",")); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if s.LivenessBound <= 0 {
		errs = append(errs, "liveness bound must be positive")
	}
	for _, name := range s.Bugs {
		b, ok := LookupBug(name)
		switch {
		case !ok:
			errs = append(errs, fmt.Sprintf("unknown bug %q (known: %s)", name, strings.Join(BugNames, ", ")))
		case b.Engine() != "" && engErr == nil && b.Engine() != s.Engine:
			errs = append(errs, fmt.Sprintf("bug %q is engine %s's, and this run's engine is %s", name, b.Engine(), s.Engine))
		}
	}
	if err := s.Knobs.Validate(); err != nil {
		errs = append(errs, err.Error())
	}
	for _, k := range s.Nemesis.Always {
		if !slices.Contains(s.Nemesis.Kinds, k) || !nemesis.Kind(k).Valid() || nemesis.Kind(k).Remedy() {
			errs = append(errs, fmt.Sprintf("always-enabled fault %q is not one of the scenario's fault kinds", k))
		}
	}
	for b := range s.Workload.Mix {
		if !slices.Contains(behaviours, b) {
			errs = append(errs, fmt.Sprintf("unknown workload behaviour %q", b))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("scenario %s: %s", s.Name, strings.Join(errs, "; "))
	}
	return nil
}
