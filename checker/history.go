// Package checker judges what a run did. It reads a History (every client
// operation with its call and return time, what the server answered, the
// watch notifications and session events each client saw, and, white box,
// the txns every server applied) and holds it to the promises in
// DESIGN.md: linearizable writes and synced reads, zxid order, stale reads
// that are exact states of the past, agreement and durability, sessions
// and ephemerals, watches, liveness after heal, and the recipes.
//
// Linearizability is checked against the one committed zxid order when the
// servers' records are there (order.go: one pass, no search), and by
// porcupine's search, bounded by a deterministic budget, when they are not
// (linearizable.go). Every verdict is a function of the history and the
// options: no checker reads the wall clock to decide (the search's
// wall-clock guard names itself when it is hit), and whatever a checker
// could not judge it counts in Result.Unchecked, with the reason.
//
// Checkers live apart from the code they judge: what a request or a txn
// should do comes from the checker's own reference of ZooKeeper's data
// tree (reference.go), never from package model's code, which this package
// imports for its types only; nothing of the servers, the engines or the
// simulator.
package checker

import (
	"zoosim/model"
	"zoosim/node"
)

// Infinity is the return time of an operation whose outcome is unknown: it
// may take effect at any point after its call, or never.
const Infinity node.Time = 1<<63 - 1

// OpKind is what a client operation did.
type OpKind uint8

const (
	OpCreate OpKind = iota + 1
	OpDelete
	OpSetData
	OpCheck
	OpMulti
	OpGetData
	OpExists
	OpGetChildren
	OpSync
	// OpAddWatch leaves a persistent or persistent-recursive watch
	// (Op.WatcherType says which); since history format version 3.
	OpAddWatch
	// OpRemoveWatches removes the session's watches of Op.WatcherType on
	// the path; since history format version 3.
	OpRemoveWatches
)

var opKindNames = [...]string{OpCreate: "create", OpDelete: "delete", OpSetData: "setData", OpCheck: "check",
	OpMulti: "multi", OpGetData: "getData", OpExists: "exists", OpGetChildren: "getChildren", OpSync: "sync",
	OpAddWatch: "addWatch", OpRemoveWatches: "removeWatches"}

func (k OpKind) String() string {
	if int(k) < len(opKindNames) && opKindNames[k] != "" {
		return opKindNames[k]
	}
	return "unknown"
}

// IsWrite reports whether the op changes the tree.
func (k OpKind) IsWrite() bool {
	switch k {
	case OpCreate, OpDelete, OpSetData, OpCheck, OpMulti:
		return true
	}
	return false
}

// SubOp is one op of a multi (its input and, when the multi returned, its
// result).
type SubOp struct {
	Kind    OpKind // OpCreate, OpDelete, OpSetData or OpCheck
	Path    string
	Data    []byte
	Version int32
	Mode    model.CreateMode

	Err         model.Err
	CreatedPath string
	Stat        model.Stat
}

// Op is one client operation as the harness saw it.
type Op struct {
	ID      int     // position in History.Ops
	Client  node.ID // the client node
	Session int64   // the session it ran in (0 if it never got one)
	Server  node.ID // the server that answered (0 if none did)
	// Xid is the request's xid (a sync + read: the read's), which the
	// committed txn of a write carries as its Cxid; 0 if not recorded
	// (histories saved before it was). With it, a write whose outcome the
	// client never learned is tied to its txn exactly.
	Xid int32

	Kind    OpKind
	Path    string
	Data    []byte // create, setData
	Version int32  // delete, setData, check (-1 = any)
	Mode    model.CreateMode
	Watch   bool    // getData, exists, getChildren: left a watch
	Multi   []SubOp // multi
	// WatcherType is what addWatch adds (model.WatcherPersistent or
	// model.WatcherPersistentRecursive) and what removeWatches removes.
	WatcherType model.WatcherType
	// Linearizable marks a read the service promises to be linearizable:
	// preceded by a sync in the same session with no other op between,
	// or served through the leader in a read mode that promises it.
	Linearizable bool

	Call   node.Time // virtual time the client library was handed the op
	Return node.Time // virtual time the result came back; Infinity if unknown
	// Arrival orders the result among everything its client received in
	// the session (results and notices), from 1, for what arrived at one
	// instant; 0 if not recorded (since history format version 3).
	Arrival uint64
	// Unknown: the outcome is unknown (ConnectionLoss, a timeout): it may
	// or may not have taken effect.
	Unknown bool

	Err         model.Err
	Zxid        model.Zxid // the reply header's zxid
	Stat        model.Stat
	ResultData  []byte   // getData
	Children    []string // getChildren (sorted)
	CreatedPath string   // create
}

// WatchNotice is a watch notification a client received.
type WatchNotice struct {
	Client  node.ID
	Session int64
	Server  node.ID
	Type    model.EventType
	Path    string
	Zxid    model.Zxid // the zxid of the txn that fired it, as the server said
	Time    node.Time
	// Arrival: see Op.Arrival.
	Arrival uint64
	// Registered is the ID of the op that left the watch (the first op of
	// that client on that path and kind not yet fired), -1 if unknown.
	Registered int
}

// SessionState is a session event a client saw.
type SessionState uint8

const (
	SessionConnected SessionState = iota + 1
	SessionDisconnected
	SessionExpired
	SessionClosed
	// SessionCrashed: the client process crashed. It never acts in this
	// session again; the servers expire the session. A harness records it
	// (the client itself cannot); since history format version 3.
	SessionCrashed
)

func (s SessionState) String() string {
	switch s {
	case SessionConnected:
		return "connected"
	case SessionDisconnected:
		return "disconnected"
	case SessionExpired:
		return "expired"
	case SessionClosed:
		return "closed"
	case SessionCrashed:
		return "crashed"
	}
	return "unknown"
}

// SessionEvent is a change of a client's session state.
type SessionEvent struct {
	Client  node.ID
	Session int64
	Server  node.ID
	State   SessionState
	Time    node.Time
	// LastZxid is the client's last seen zxid at the event.
	LastZxid model.Zxid
}

// LastHeard is when a client last heard from its server (any message on
// its connection, pings answered included) by the end of the run, for a
// client still connected then (white box: the history records no pings).
type LastHeard struct {
	Client  node.ID
	Session int64
	Server  node.ID
	Time    node.Time
}

// Txn is one committed txn as a server applied it (white box). A record
// whose Txn is nil is not a txn: it marks a snapshot the server restored,
// jumping to Zxid (the snapshot's last zxid) with the state whose digest is
// Digest.
type Txn struct {
	Zxid    model.Zxid
	Session int64
	Cxid    int32
	TimeMs  int64
	Txn     model.Txn
	Digest  uint64 // the tree's digest after the txn on that server
	// Time is the virtual time the server applied it (0: not recorded;
	// since history format version 3). Servers apply only what they
	// learned committed, so the earliest Time of a zxid over all servers
	// bounds its commit from above.
	Time node.Time
}

// Fault is one fault the nemesis applied, for explanations and the
// visualization's annotations.
type Fault struct {
	Start, End  node.Time // End = Infinity if never healed
	Kind        string
	Description string
}

// RecipeClaim is a client's claim to hold a recipe's role (master, lock)
// from a zxid on (the zxid of the create that won it) until it let go or
// lost its session.
type RecipeClaim struct {
	Recipe   string // "master", "lock:/path"
	Client   node.ID
	Session  int64
	FromZxid model.Zxid
	// ToZxid is the zxid at which the claim ended (the delete of its node,
	// or the closeSession), 0 if it never ended during the run.
	ToZxid model.Zxid
}

// History is everything a run recorded.
type History struct {
	Ops      []Op
	Watches  []WatchNotice
	Sessions []SessionEvent
	// LastHeard holds one record per client connected at the end of the
	// run (since history format version 3).
	LastHeard []LastHeard
	// Applied holds, per server (index = server id), the txns it applied in
	// order since it last started from an empty disk (a restarted server's
	// sequence continues from what it recovered).
	Applied [][]Txn
	Faults  []Fault
	Claims  []RecipeClaim
	// Servers is the ensemble size; QuorumSafe says whether the quorum
	// configuration guarantees intersection (the agreement checker then
	// expects no divergence at all).
	Servers    int
	QuorumSafe bool
	// HealedAt is when the nemesis healed everything and restarted every
	// server (0 if it never did); FirstWriteAfterHeal is when the first
	// write after it was acknowledged (0 if none was).
	HealedAt, FirstWriteAfterHeal node.Time
	End                           node.Time
}
