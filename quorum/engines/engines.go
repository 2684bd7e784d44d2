// Package engines is the registry of replication engines: each one has a
// name, the quorums it can run, its forced rare branches and the messages
// worth crashing around, and a factory. Runners choose an engine by name
// here and never build one directly, so that adding an engine is one entry
// in Registry.
//
// The package only names and builds engines; it never runs one.
package engines

import (
	"fmt"
	"strings"

	"zoosim/node"
	"zoosim/quorum"
	"zoosim/quorum/raft"
	"zoosim/quorum/zab"
)

// Settings are protocol settings in ZooKeeper's terms, which each engine
// maps onto its own. A zero field keeps the engine's default.
type Settings struct {
	// TickTime is ZooKeeper's tickTime; InitLimit and SyncLimit are in
	// ticks. Zab uses them as they are. Raft ticks twice a tick (its
	// heartbeat, like Zab's ping, every half tick), and its election
	// timeout is SyncLimit ticks, the time a Zab follower waits for its
	// leader; it has no use for InitLimit.
	TickTime             node.Time
	InitLimit, SyncLimit int
	// SnapCount is the number of txns between snapshots.
	SnapCount int
	// SegmentTxns rolls the log to a new segment every this many entries
	// (0 or -1: only at snapshots).
	SegmentTxns int
	// DiffLimit: a follower that misses more than this many entries gets a
	// snapshot (0 or -1: the log decides; Zab sends a DIFF whenever its log
	// has the entries, raft keeps its log back to the previous snapshot).
	DiffLimit int
	_         struct{}
}

// Params is what every engine is built from.
type Params struct {
	Verifier     quorum.Verifier
	StateMachine quorum.StateMachine
	Settings     Settings
	// Bugs are the engine's seeded defects as its own Bugs struct (zab.Bugs,
	// raft.Bugs); nil for none.
	Bugs any
	_    struct{}
}

// Spec is one registered engine.
type Spec struct {
	Name        string
	Description string
	// BuggifyPoints are the engine's forced rare branches (node.Buggify).
	BuggifyPoints []string
	// CrashMessages are the message names worth arming a crash point at
	// (on receipt or send).
	CrashMessages []string
	// Check reports why the engine cannot run quorum v (nil if it can).
	Check func(v quorum.Verifier) error
	// New builds the engine of one server.
	New func(p Params, env node.Env) (quorum.Engine, error)
}

// Registry is every engine, in the order listings show them.
var Registry = []Spec{
	{
		Name:          "zab",
		Description:   "ZooKeeper's atomic broadcast (quorum/zab): any quorum verifier",
		BuggifyPoints: zab.BuggifyPoints,
		CrashMessages: zab.CrashMessages,
		Check:         func(quorum.Verifier) error { return nil },
		New:           newZab,
	},
	{
		Name:          "raft",
		Description:   "etcd raft v3 (quorum/raft over raft.RawNode): majority quorums only",
		BuggifyPoints: raft.BuggifyPoints,
		CrashMessages: raft.CrashMessages,
		Check: func(v quorum.Verifier) error {
			_, err := raft.ConfState(v)
			return err
		},
		New: newRaft,
	},
}

func newZab(p Params, env node.Env) (quorum.Engine, error) {
	cfg := zab.DefaultConfig(p.Verifier, p.StateMachine)
	s := p.Settings
	if s.TickTime != 0 {
		cfg.TickTime = s.TickTime
	}
	if s.InitLimit != 0 {
		cfg.InitLimit = s.InitLimit
	}
	if s.SyncLimit != 0 {
		cfg.SyncLimit = s.SyncLimit
	}
	if s.SnapCount != 0 {
		cfg.SnapCount = s.SnapCount
	}
	cfg.SegmentTxns, cfg.DiffLimit = max(s.SegmentTxns, 0), max(s.DiffLimit, 0)
	if p.Bugs != nil {
		b, ok := p.Bugs.(zab.Bugs)
		if !ok {
			return nil, fmt.Errorf("engines: zab given bugs of type %T", p.Bugs)
		}
		cfg.Bugs = b
	}
	return zab.New(cfg, env)
}

func newRaft(p Params, env node.Env) (quorum.Engine, error) {
	cfg := raft.DefaultConfig(p.Verifier, p.StateMachine)
	s := p.Settings
	if s.TickTime != 0 {
		cfg.TickTime = s.TickTime / 2
	}
	if s.SyncLimit != 0 {
		cfg.ElectionTicks = max(2*s.SyncLimit, cfg.HeartbeatTicks+1)
	}
	if s.SnapCount != 0 {
		cfg.SnapCount = s.SnapCount
	}
	cfg.SegmentEntries, cfg.KeepEntries = max(s.SegmentTxns, 0), max(s.DiffLimit, 0)
	if p.Bugs != nil {
		b, ok := p.Bugs.(raft.Bugs)
		if !ok {
			return nil, fmt.Errorf("engines: raft given bugs of type %T", p.Bugs)
		}
		cfg.Bugs = b
	}
	return raft.New(cfg, env)
}

// Names lists the registered engines.
func Names() []string {
	out := make([]string, len(Registry))
	for i, s := range Registry {
		out[i] = s.Name
	}
	return out
}

// Lookup finds an engine by name.
func Lookup(name string) (Spec, error) {
	for _, s := range Registry {
		if s.Name == name {
			return s, nil
		}
	}
	return Spec{}, fmt.Errorf("unknown engine %q (known: %s)", name, strings.Join(Names(), ", "))
}
