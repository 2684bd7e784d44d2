package model

// OpCode is ZooKeeper's operation code (ZooDefs.OpCode), the number a request
// and a txn header carry on the wire.
type OpCode int32

// Every opcode of ZooKeeper 3.8.
const (
	OpNotification         OpCode = 0
	OpCreate               OpCode = 1
	OpDelete               OpCode = 2
	OpExists               OpCode = 3
	OpGetData              OpCode = 4
	OpSetData              OpCode = 5
	OpGetACL               OpCode = 6
	OpSetACL               OpCode = 7
	OpGetChildren          OpCode = 8
	OpSync                 OpCode = 9
	OpPing                 OpCode = 11
	OpGetChildren2         OpCode = 12
	OpCheck                OpCode = 13
	OpMulti                OpCode = 14
	OpCreate2              OpCode = 15
	OpReconfig             OpCode = 16
	OpCheckWatches         OpCode = 17
	OpRemoveWatches        OpCode = 18
	OpCreateContainer      OpCode = 19
	OpDeleteContainer      OpCode = 20
	OpCreateTTL            OpCode = 21
	OpMultiRead            OpCode = 22
	OpAuth                 OpCode = 100
	OpSetWatches           OpCode = 101
	OpSASL                 OpCode = 102
	OpGetEphemerals        OpCode = 103
	OpGetAllChildrenNumber OpCode = 104
	OpSetWatches2          OpCode = 105
	OpAddWatch             OpCode = 106
	OpWhoAmI               OpCode = 107
	OpCreateSession        OpCode = -10
	OpCloseSession         OpCode = -11
	OpError                OpCode = -1
)

// TxnHeader is what the leader stamps on a txn when it proposes it: the
// session that issued the request, the zxid it assigned and its own clock in
// milliseconds (ctime and mtime come from here, so every replica agrees).
type TxnHeader struct {
	Session int64
	Zxid    Zxid
	TimeMs  int64
}

// Txn is a change to the replicated state, produced by Prepare and applied by
// (*Tree).Apply. The concrete types are the values below; the interface is
// sealed. Txns are immutable and shared by every replica.
type Txn interface {
	// Op is the opcode ZooKeeper logs the txn under.
	Op() OpCode
	isTxn()
}

// CreateTxn creates Path, the final name (with any sequential suffix).
// ParentCVersion is the parent's creation counter after this creation;
// -1 means "one more than now". The owner of an ephemeral node is the header's
// session.
type CreateTxn struct {
	Path           string
	Data           []byte
	ACL            []ACL
	Mode           CreateMode
	TTL            int64 // ms, TTL modes only
	ParentCVersion int32
}

// DeleteTxn removes Path. Both delete and deleteContainer requests produce it.
type DeleteTxn struct {
	Path string
}

// SetDataTxn sets Path's data and its data version to Version.
type SetDataTxn struct {
	Path    string
	Data    []byte
	Version int32
}

// CheckVersionTxn records a successful version check. As in ZooKeeper,
// Version is the checked version plus one, and applying it changes nothing.
type CheckVersionTxn struct {
	Path    string
	Version int32
}

// SetACLTxn sets Path's ACL and its ACL version to Version.
type SetACLTxn struct {
	Path    string
	ACL     []ACL
	Version int32
}

// CreateSessionTxn adds the header's session to the session table.
type CreateSessionTxn struct {
	TimeoutMs int32
	// Passwd is a secret: saved histories leave it out.
	Passwd [PasswdLen]byte `json:"-"`
}

// CloseSessionTxn removes the header's session and deletes the ephemeral nodes
// the leader saw it owning (Paths, sorted), then any others it still owns.
type CloseSessionTxn struct {
	Paths []string
}

// ErrorTxn is a request that failed in Prepare. It still takes a zxid in
// ZooKeeper, and inside a MultiTxn it marks the failing op (its Err) and the
// ops after it (ErrRuntimeInconsistency).
type ErrorTxn struct {
	Err Err
}

// MultiTxn applies its Txns atomically, all with the header's zxid.
type MultiTxn struct {
	Txns []Txn
}

// Op returns OpCreate, OpCreateContainer or OpCreateTTL according to the mode.
func (t CreateTxn) Op() OpCode { return createOp(t.Mode) }

// Op returns OpDelete.
func (DeleteTxn) Op() OpCode { return OpDelete }

// Op returns OpSetData.
func (SetDataTxn) Op() OpCode { return OpSetData }

// Op returns OpCheck.
func (CheckVersionTxn) Op() OpCode { return OpCheck }

// Op returns OpSetACL.
func (SetACLTxn) Op() OpCode { return OpSetACL }

// Op returns OpCreateSession.
func (CreateSessionTxn) Op() OpCode { return OpCreateSession }

// Op returns OpCloseSession.
func (CloseSessionTxn) Op() OpCode { return OpCloseSession }

// Op returns OpError.
func (ErrorTxn) Op() OpCode { return OpError }

// Op returns OpMulti.
func (MultiTxn) Op() OpCode { return OpMulti }

func (CreateTxn) isTxn()        {}
func (DeleteTxn) isTxn()        {}
func (SetDataTxn) isTxn()       {}
func (CheckVersionTxn) isTxn()  {}
func (SetACLTxn) isTxn()        {}
func (CreateSessionTxn) isTxn() {}
func (CloseSessionTxn) isTxn()  {}
func (ErrorTxn) isTxn()         {}
func (MultiTxn) isTxn()         {}

// Result is what applying a txn did: DataTree.ProcessTxnResult plus the watch
// events the txn triggered.
type Result struct {
	// Op is the txn's opcode. Inside a failed multi every op reports OpError,
	// as ZooKeeper's result list does.
	Op OpCode
	// Err is ErrOK on success. For a multi it is the first failing op's code.
	Err Err
	// Path is the txn's path; for a create, the final name.
	Path string
	// Stat is the node's Stat after a successful create, setData or setACL,
	// and the zero Stat otherwise.
	Stat Stat
	// Multi holds one Result per op of a MultiTxn, nil otherwise.
	Multi []Result
	// Events lists the watch events the txn triggered, in ZooKeeper's order
	// (for a multi, all of its ops' events). Feed them to WatchTable.Trigger.
	Events []WatchEvent
}
