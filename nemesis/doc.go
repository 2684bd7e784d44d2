// Package nemesis owns zoosim's fault plans: what can go wrong (partitions
// of every common shape, crashes and restarts, crashes at protocol points,
// rolling failures through a recovery, lagging servers, pauses, clock jumps and
// drift, lossy, slow, duplicating and reordering links, lying syncs and
// corrupted records, clients cut off from servers), written down as plain
// data, and a Runner that applies such a plan to a world as time passes.
//
// A plan is a Schedule: a list of timed Faults, sorted by time, that prints
// one fault per line and saves to and loads from JSON. There are three ways
// to get one: write it in a scenario, draw it from the run's seed with Swarm
// (swarm testing: each seed enables a random subset of fault kinds at a
// random intensity, and SwarmConfig prints what it chose), or let rapid draw
// it with Gen, so that rapid can shrink it. Shrink and Schedule.Subsets do
// the same for the harness's own shrinker.
//
// A fault may name its nodes or leave the choice to apply time ("the
// leader", "a random server", "random halves"). The Runner resolves such
// choices from its own random stream and the Target's state, and records
// every fault concretely (Applied: start, end, kind, description) for the
// history's annotations.
//
// The package drives a world only through Target, which the simulator's
// harness implements over sim.World and the real driver will implement over
// processes. It must never import sim or anything else that knows a
// simulator exists. Like every piece of zoosim the simulator runs, it never
// reads the wall clock, starts a goroutine, draws from a global random
// source or lets map iteration order reach its output: the same seed gives
// the same schedule and the same applied record, always.
package nemesis
