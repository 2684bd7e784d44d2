package nemesis

import (
	"fmt"
	"slices"
	"strings"
)

// Kind names what a fault does. Kinds are strings so that schedules read
// well when printed and saved; the zero Kind is not a valid kind.
type Kind string

// Partitions. Every partition kind cuts links between servers only (clients
// keep reaching the servers they can reach, which is what puts a client on
// the wrong side), and a new partition replaces the one in effect: at most
// one partition shape holds at a time, like a switch being reconfigured.
const (
	// PartitionLeader isolates the current leader from every other server.
	PartitionLeader Kind = "partition-leader"
	// PartitionOne isolates one server (Nodes[0], or one chosen by Pick).
	PartitionOne Kind = "partition-one"
	// PartitionMajority splits the servers into a minority of (n-1)/2 and a
	// majority. Nodes, if given, is the minority; Pick "leader" puts the
	// leader in the minority, "follower" keeps it in the majority.
	PartitionMajority Kind = "partition-majority"
	// PartitionHalves splits the servers into random halves (n/2 and the
	// rest). Nodes, if given, is one side.
	PartitionHalves Kind = "partition-halves"
	// PartitionBridge splits the servers into two sides that cannot talk,
	// except through one bridge server that talks to both. Nodes, if given,
	// is the bridge followed by one side; Pick chooses the bridge.
	PartitionBridge Kind = "partition-bridge"
	// PartitionRing arranges the servers in a ring where each talks only to
	// its two neighbours. Nodes, if given, is the ring order (every server).
	PartitionRing Kind = "partition-ring"
	// PartitionOneWay cuts one direction only: with Direction "in" a server
	// hears no other server but is heard by all, with "out" the reverse.
	PartitionOneWay Kind = "partition-oneway"
	// Heal unblocks every link and restores every link's quality, ending
	// partitions, client cuts and link faults.
	Heal Kind = "heal"
)

// Crashes. A crash loses the server's memory and its unsynced disk writes.
const (
	// Crash crashes Count nodes (default 1) that are up, or the Nodes named.
	Crash Kind = "crash"
	// CrashLeader crashes the current leader.
	CrashLeader Kind = "crash-leader"
	// CrashAll crashes every server that is up.
	CrashAll Kind = "crash-all"
	// Restart restarts Count crashed nodes (default 1), or the Nodes named.
	Restart Kind = "restart"
	// RestartAll restarts every crashed node, servers and clients.
	RestartAll Kind = "restart-all"
	// CrashPoint arms a crash at a named protocol point (Point, and Msg for
	// the message points) on one server: the server crashes the next time
	// it gets there, not at a random time. The point stays armed until it
	// fires or Duration passes; at the end a server it crashed restarts.
	CrashPoint Kind = "crash-point"
)

// Rolling failures.
const (
	// RollingCrash is a rolling failure through a recovery, as when a rack
	// loses power one machine after another or a bad deploy rolls on: a
	// follower (Nodes[0], or one chosen by Pick) crashes; while it is down,
	// at Duration/8, a second server crashes (the leader, or as often
	// another follower: the Runner draws which) and the first restarts
	// with a crash point armed (Point, and Msg for the message points), so
	// that it crashes again at that step of its recovery; at Duration/2
	// every other server still up crashes too and the first two restart;
	// at Duration the rest restart. Writes committed while the first was
	// down reach it only through the recovery the point interrupts; a
	// leader left alone keeps a tail of proposals nobody logged; and the
	// servers that come back first decide what survives.
	RollingCrash Kind = "rolling-crash"
)

// Crash points (Fault.Point): where an armed crash-point fault crashes its
// server.
const (
	PointBetweenDiskOps = "between-disk-ops" // some disk ops of one batch written, the rest not
	PointBeforeSync     = "before-sync"      // writes issued, their sync not complete
	PointAfterSync      = "after-sync"       // the sync complete, the messages behind it not sent
	PointOnReceive      = "on-receive"       // right after handling a message named Msg
	PointOnSend         = "on-send"          // right after sending a message named Msg
)

// CrashPoints lists every crash point.
var CrashPoints = []string{PointBetweenDiskOps, PointBeforeSync, PointAfterSync, PointOnReceive, PointOnSend}

// Lagging servers.
const (
	// Lag slows one server (a follower by default): its disk syncs take up
	// to Latency and every message to and from it takes Latency longer, so
	// that it trails the leader by many txns; Move clients are moved onto
	// it when it starts. It ends after Duration (or at a heal).
	Lag Kind = "lag"
)

// Pauses: a stopped process or a long garbage-collection pause. A paused
// node receives nothing and does nothing, while its clock keeps running.
const (
	Pause     Kind = "pause"
	Resume    Kind = "resume"
	ResumeAll Kind = "resume-all"
)

// Clocks. The nemesis assumes it is the only one that changes clocks, and
// that every clock starts without drift.
const (
	// ClockJump moves a clock by Jump (negative: backwards), keeping its
	// drift. The clocks the nemesis moves are the ones the cores' timers
	// run on, which ZooKeeper takes from a monotonic source: Swarm and Gen
	// draw forward jumps only (a VM resuming from suspension); a backward
	// jump in a hand-written schedule is a world no real server sees, and
	// voids the liveness promise for its run.
	ClockJump Kind = "clock-jump"
	// ClockDrift makes a clock run DriftPPM parts per million fast (negative:
	// slow) until the fault ends, when the drift returns to 0.
	ClockDrift Kind = "clock-drift"
)

// Links. A link fault degrades every link into and out of the chosen
// servers (to servers and clients). Link faults in effect together combine
// field by field, the worse value winning.
const (
	LinkLossy   Kind = "link-lossy"   // drops a fraction Prob of the messages
	LinkSlow    Kind = "link-slow"    // adds Latency to every message
	LinkDup     Kind = "link-dup"     // duplicates a fraction Prob
	LinkReorder Kind = "link-reorder" // lets a fraction Prob overtake others
)

// Disks.
const (
	// DiskSyncLies makes a server's syncs report success without making
	// anything durable, until the fault ends.
	DiskSyncLies Kind = "disk-sync-lies"
	// DiskCorrupt damages one durable record at random on a server; the
	// server sees it when it next reads its disk (after a restart).
	DiskCorrupt Kind = "disk-corrupt"
)

// Clients and the end of the safety phase.
const (
	// ClientCut cuts a client (Clients[0], or a random client) from servers
	// (Nodes, or chosen by Pick: one random server, the leader, or all), in
	// both directions.
	ClientCut Kind = "client-cut"
	// HealAll undoes everything: heals the network, resumes paused nodes,
	// stops clock drift, makes syncs honest and restarts every crashed
	// node. Runner.HealAll applies it to start the liveness phase; a
	// schedule may also contain it.
	HealAll Kind = "heal-all"
)

// Family groups kinds for the command line ("--faults=partition,crash").
// A family includes its remedies (heal, restart, resume).
type Family string

const (
	FamilyPartition Family = "partition"
	FamilyCrash     Family = "crash"
	FamilyPause     Family = "pause"
	FamilyClock     Family = "clock"
	FamilyLink      Family = "link"
	FamilyDisk      Family = "disk"
	FamilyClient    Family = "client"
	FamilyLag       Family = "lag"
	FamilyRolling   Family = "rolling"
)

// Pick says how a fault that names no nodes chooses them at apply time.
type Pick string

const (
	PickRandom   Pick = "random"   // uniformly among the eligible servers
	PickLeader   Pick = "leader"   // the current leader (the fault is skipped without one)
	PickFollower Pick = "follower" // among eligible servers other than the leader (any, without a leader)
	PickClient   Pick = "client"   // among eligible clients
	PickDown     Pick = "down"     // among crashed servers
	PickAll      Pick = "all"      // every eligible server
)

// countable reports whether a pick chooses Count nodes out of a pool.
func (p Pick) countable() bool {
	return p == PickRandom || p == PickFollower || p == PickClient || p == PickDown
}

// Direction is the direction a one-way partition cuts.
type Direction string

const (
	DirIn  Direction = "in"  // the server hears no other server
	DirOut Direction = "out" // no other server hears the server
)

// nodesRule says what a fault's fixed Nodes mean for its kind.
type nodesRule uint8

const (
	nodesNone     nodesRule = iota + 1 // the kind takes no Nodes
	nodesOne                           // at most one server
	nodesMinority                      // the minority side: 1..(n-1)/2 servers
	nodesSide                          // one side: 1..n-1 servers
	nodesBridge                        // the bridge then one side: 2..n-1 servers
	nodesRing                          // every server, in ring order
	nodesSet                           // any set of nodes
)

// param says which magnitude a kind takes.
type param uint8

const (
	paramNone param = iota + 1
	paramDirection
	paramJump
	paramDrift
	paramProb
	paramLatency
	paramPoint // Point, and Msg for the message points
	paramLag   // Latency, and optionally Move
	paramRoll  // Point, and Msg for the message points (no cascade)
)

// spec is what the package knows about one kind.
type spec struct {
	family Family // "" for HealAll, which belongs to no family
	// remedy kinds undo other faults; Swarm schedules them only as follow-ups.
	remedy bool
	// picks are the allowed picks; picks[0] is what an empty Pick means. Nil:
	// the kind takes no Pick.
	picks      []Pick
	nodes      nodesRule
	clientsOK  bool // Nodes may name clients too
	count      bool // Count is meaningful
	heals      bool // Duration is meaningful: the fault undoes itself
	param      param
	minServers int
	needClient bool
}

var (
	picksSrv      = []Pick{PickRandom, PickFollower}
	picksShape    = []Pick{PickRandom, PickLeader, PickFollower}
	picksCrash    = []Pick{PickRandom, PickFollower, PickClient}
	picksRestart  = []Pick{PickRandom, PickClient}
	picksPause    = []Pick{PickRandom, PickLeader, PickFollower, PickClient, PickAll}
	picksResume   = []Pick{PickRandom}
	picksClock    = []Pick{PickRandom, PickLeader, PickFollower, PickClient, PickAll}
	picksServer   = []Pick{PickRandom, PickLeader, PickFollower, PickAll}
	picksCorrupt  = []Pick{PickRandom, PickLeader, PickFollower, PickDown}
	picksCut      = []Pick{PickRandom, PickLeader, PickAll}
	picksHalves   = []Pick{PickRandom}
	picksMajority = []Pick{PickRandom, PickLeader, PickFollower}
	picksLag      = []Pick{PickFollower, PickRandom}
	picksRolling  = []Pick{PickFollower, PickRandom}
)

var specs = map[Kind]spec{
	PartitionLeader:   {family: FamilyPartition, nodes: nodesNone, heals: true, param: paramNone, minServers: 2},
	PartitionOne:      {family: FamilyPartition, picks: picksSrv, nodes: nodesOne, heals: true, param: paramNone, minServers: 2},
	PartitionMajority: {family: FamilyPartition, picks: picksMajority, nodes: nodesMinority, heals: true, param: paramNone, minServers: 3},
	PartitionHalves:   {family: FamilyPartition, picks: picksHalves, nodes: nodesSide, heals: true, param: paramNone, minServers: 2},
	PartitionBridge:   {family: FamilyPartition, picks: picksShape, nodes: nodesBridge, heals: true, param: paramNone, minServers: 3},
	PartitionRing:     {family: FamilyPartition, picks: picksHalves, nodes: nodesRing, heals: true, param: paramNone, minServers: 4},
	PartitionOneWay:   {family: FamilyPartition, picks: picksShape, nodes: nodesOne, heals: true, param: paramDirection, minServers: 2},
	Heal:              {family: FamilyPartition, remedy: true, nodes: nodesNone, param: paramNone, minServers: 1},

	Crash:       {family: FamilyCrash, picks: picksCrash, nodes: nodesSet, clientsOK: true, count: true, heals: true, param: paramNone, minServers: 1},
	CrashLeader: {family: FamilyCrash, nodes: nodesNone, heals: true, param: paramNone, minServers: 1},
	CrashAll:    {family: FamilyCrash, nodes: nodesNone, heals: true, param: paramNone, minServers: 1},
	Restart:     {family: FamilyCrash, remedy: true, picks: picksRestart, nodes: nodesSet, clientsOK: true, count: true, param: paramNone, minServers: 1},
	RestartAll:  {family: FamilyCrash, remedy: true, nodes: nodesNone, param: paramNone, minServers: 1},
	CrashPoint:  {family: FamilyCrash, picks: picksShape, nodes: nodesOne, heals: true, param: paramPoint, minServers: 1},
	Lag:         {family: FamilyLag, picks: picksLag, nodes: nodesOne, heals: true, param: paramLag, minServers: 2},

	RollingCrash: {family: FamilyRolling, picks: picksRolling, nodes: nodesOne, heals: true, param: paramRoll, minServers: 3},

	Pause:     {family: FamilyPause, picks: picksPause, nodes: nodesSet, clientsOK: true, count: true, heals: true, param: paramNone, minServers: 1},
	Resume:    {family: FamilyPause, remedy: true, picks: picksResume, nodes: nodesSet, clientsOK: true, count: true, param: paramNone, minServers: 1},
	ResumeAll: {family: FamilyPause, remedy: true, nodes: nodesNone, param: paramNone, minServers: 1},

	ClockJump:  {family: FamilyClock, picks: picksClock, nodes: nodesSet, clientsOK: true, count: true, param: paramJump, minServers: 1},
	ClockDrift: {family: FamilyClock, picks: picksClock, nodes: nodesSet, clientsOK: true, count: true, heals: true, param: paramDrift, minServers: 1},

	LinkLossy:   {family: FamilyLink, picks: picksServer, nodes: nodesSet, count: true, heals: true, param: paramProb, minServers: 1},
	LinkSlow:    {family: FamilyLink, picks: picksServer, nodes: nodesSet, count: true, heals: true, param: paramLatency, minServers: 1},
	LinkDup:     {family: FamilyLink, picks: picksServer, nodes: nodesSet, count: true, heals: true, param: paramProb, minServers: 1},
	LinkReorder: {family: FamilyLink, picks: picksServer, nodes: nodesSet, count: true, heals: true, param: paramProb, minServers: 1},

	DiskSyncLies: {family: FamilyDisk, picks: picksServer, nodes: nodesSet, count: true, heals: true, param: paramNone, minServers: 1},
	DiskCorrupt:  {family: FamilyDisk, picks: picksCorrupt, nodes: nodesSet, count: true, param: paramNone, minServers: 1},

	ClientCut: {family: FamilyClient, picks: picksCut, nodes: nodesSet, heals: true, param: paramNone, minServers: 1, needClient: true},
	HealAll:   {remedy: true, nodes: nodesNone, param: paramNone, minServers: 1},
}

// allKinds is every kind in canonical order: the order of this package's
// documentation, used wherever kinds are listed.
var allKinds = []Kind{
	PartitionLeader, PartitionOne, PartitionMajority, PartitionHalves, PartitionBridge, PartitionRing, PartitionOneWay, Heal,
	Crash, CrashLeader, CrashAll, Restart, RestartAll, CrashPoint,
	Lag,
	RollingCrash,
	Pause, Resume, ResumeAll,
	ClockJump, ClockDrift,
	LinkLossy, LinkSlow, LinkDup, LinkReorder,
	DiskSyncLies, DiskCorrupt,
	ClientCut, HealAll,
}

var allFamilies = []Family{FamilyPartition, FamilyCrash, FamilyLag, FamilyRolling, FamilyPause, FamilyClock, FamilyLink, FamilyDisk, FamilyClient}

// Kinds returns every kind in canonical order.
func Kinds() []Kind { return slices.Clone(allKinds) }

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { _, ok := specs[k]; return ok }

// Family returns the family k belongs to ("" for HealAll and unknown kinds).
func (k Kind) Family() Family { return specs[k].family }

// Remedy reports whether k undoes other faults (heal, restart, resume, ...)
// rather than causing one.
func (k Kind) Remedy() bool { return specs[k].remedy }

// Members returns the kinds of family f in canonical order.
func (f Family) Members() []Kind {
	var ks []Kind
	for _, k := range allKinds {
		if specs[k].family == f {
			ks = append(ks, k)
		}
	}
	return ks
}

// canonicalIndex orders kinds canonically.
func canonicalIndex(k Kind) int { return slices.Index(allKinds, k) }

// sortKinds sorts ks canonically and removes duplicates.
func sortKinds(ks []Kind) []Kind {
	ks = slices.Clone(ks)
	slices.SortFunc(ks, func(a, b Kind) int { return canonicalIndex(a) - canonicalIndex(b) })
	return slices.Compact(ks)
}

// ParseKinds parses a command-line list of kinds and families, such as
// "partition,crash,clock" or "all,-disk,-crash-all": each comma-separated
// item is a family (all its kinds, remedies included), a kind, "all" or
// "none"; an item starting with '-' removes instead of adding. Items apply
// left to right. "crash" and "pause" name both a family and a kind; the
// family wins, so the lone kind is "crash,-crash-leader,-crash-all" (and
// its remedies stay). The result is in canonical order; it is empty (not
// nil) when the list selects no kind, which Swarm reads as "no faults".
func ParseKinds(list string) ([]Kind, error) {
	if strings.TrimSpace(list) == "" {
		return nil, fmt.Errorf("nemesis: empty fault list (want kinds or families such as %q, or \"none\")", "partition,crash")
	}
	set := map[Kind]bool{}
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		remove := strings.HasPrefix(item, "-")
		name := strings.TrimPrefix(item, "-")
		var ks []Kind
		switch {
		case name == "all":
			ks = allKinds
		case name == "none":
			clear(set)
			continue
		case slices.Contains(allFamilies, Family(name)):
			ks = Family(name).Members()
		case Kind(name).Valid():
			ks = []Kind{Kind(name)}
		default:
			return nil, fmt.Errorf("nemesis: unknown fault kind or family %q in %q (families: %s; kinds: %s)",
				name, list, joinFamilies(allFamilies), joinKinds(allKinds))
		}
		for _, k := range ks {
			if remove {
				delete(set, k)
			} else {
				set[k] = true
			}
		}
	}
	out := []Kind{}
	for _, k := range allKinds { // canonical order, never map order
		if set[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

func joinKinds(ks []Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ",")
}

func joinFamilies(fs []Family) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ",")
}
