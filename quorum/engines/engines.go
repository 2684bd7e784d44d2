// Package engines is the registry of replication engines: each one has a
// name, the quorums it can run, the seeded defects it knows, and a factory.
// Runners choose an engine by name here and never build one directly, so
// that adding an engine is one entry in Registry.
//
// The package only names and builds engines; it never runs one.
package engines

import (
	"fmt"
	"slices"
	"strings"

	"zoosim/node"
	"zoosim/quorum"
	"zoosim/quorum/raft"
	"zoosim/quorum/zab"
)

// Params is what every engine is built from.
type Params struct {
	Verifier     quorum.Verifier
	StateMachine quorum.StateMachine
	// Bugs are seeded defects to switch on, by name; each must be one of
	// the engine's.
	Bugs []string
	_    struct{}
}

// Bug is a seeded defect an engine knows.
type Bug struct {
	Name        string
	Description string
}

// Spec is one registered engine.
type Spec struct {
	Name        string
	Description string
	Bugs        []Bug
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
		Name:        "zab",
		Description: "ZooKeeper's atomic broadcast (quorum/zab): any quorum verifier",
		Bugs: []Bug{
			{"ack-before-sync", "a follower acks a proposal before its log is synced"},
			{"commit-one-ack-short", "the leader commits with one ack fewer than a commit quorum"},
		},
		CrashMessages: zab.CrashMessages,
		Check:         func(quorum.Verifier) error { return nil },
		New: func(p Params, env node.Env) (quorum.Engine, error) {
			cfg := zab.DefaultConfig(p.Verifier, p.StateMachine)
			cfg.Bugs = zab.Bugs{AckBeforeSync: slices.Contains(p.Bugs, "ack-before-sync"),
				CommitOneAckShort: slices.Contains(p.Bugs, "commit-one-ack-short")}
			return zab.New(cfg, env)
		},
	},
	{
		Name:        "raft",
		Description: "etcd raft v3 (quorum/raft over raft.RawNode): majority quorums only",
		Bugs: []Bug{
			{"raft-vote-unsynced", "a HardState change (a vote, a new term) is not synced before the messages that depend on it leave"},
			{"raft-entries-unsynced", "log entries are not synced: acks leave and entries are applied before they are durable"},
			{"raft-read-without-quorum", "a read point comes from the node's own commit index, not a ReadIndex the leader confirmed with a quorum"},
			{"raft-restore-skips-replay", "a restarted node restores its snapshot but tells raft everything committed was applied, so the entries after the snapshot are never applied"},
		},
		CrashMessages: raft.CrashMessages,
		Check: func(v quorum.Verifier) error {
			_, err := raft.ConfState(v)
			return err
		},
		New: func(p Params, env node.Env) (quorum.Engine, error) {
			cfg := raft.DefaultConfig(p.Verifier, p.StateMachine)
			cfg.Bugs = raft.Bugs{
				VoteUnsynced:       slices.Contains(p.Bugs, "raft-vote-unsynced"),
				EntriesUnsynced:    slices.Contains(p.Bugs, "raft-entries-unsynced"),
				ReadWithoutQuorum:  slices.Contains(p.Bugs, "raft-read-without-quorum"),
				RestoreSkipsReplay: slices.Contains(p.Bugs, "raft-restore-skips-replay"),
			}
			return raft.New(cfg, env)
		},
	},
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

// Has reports whether the engine knows the seeded bug.
func (s Spec) Has(bug string) bool {
	return slices.ContainsFunc(s.Bugs, func(b Bug) bool { return b.Name == bug })
}

// Owner returns the engine that knows the bug, if any.
func Owner(bug string) (Spec, bool) {
	for _, s := range Registry {
		if s.Has(bug) {
			return s, true
		}
	}
	return Spec{}, false
}

// BugNames lists every engine's seeded bugs, engine by engine.
func BugNames() []string {
	var out []string
	for _, s := range Registry {
		for _, b := range s.Bugs {
			out = append(out, b.Name)
		}
	}
	return out
}

// Build checks p's bugs against the engine and builds it (the engine
// itself refuses a quorum it cannot run).
func (s Spec) Build(p Params, env node.Env) (quorum.Engine, error) {
	for _, b := range p.Bugs {
		if !s.Has(b) {
			return nil, fmt.Errorf("engine %s has no seeded bug %q", s.Name, b)
		}
	}
	return s.New(p, env)
}
