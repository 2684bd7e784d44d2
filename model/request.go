package model

// Request is what a client asks a server to change. The concrete types are
// the values below (pass them by value, not by pointer); the interface is
// sealed.
type Request interface {
	// Op is the ZooKeeper opcode the request travels as.
	Op() OpCode
	isRequest()
}

// Create asks for a node. TTL is in milliseconds and only meaningful for the
// TTL modes; 0 means none.
type Create struct {
	Path string
	Data []byte
	ACL  []ACL
	Mode CreateMode
	TTL  int64
}

// Delete removes a node without children. Version -1 matches any version.
type Delete struct {
	Path    string
	Version int32
}

// SetData replaces a node's data. Version -1 matches any version.
type SetData struct {
	Path    string
	Data    []byte
	Version int32
}

// Check asserts a node's data version; it is useful inside a Multi.
type Check struct {
	Path    string
	Version int32
}

// SetACL replaces a node's ACL. Version is the expected ACL version
// (Stat.Aversion); -1 matches any.
type SetACL struct {
	Path    string
	ACL     []ACL
	Version int32
}

// Multi runs Create, Delete, SetData and Check ops atomically: all apply or
// none does. ZooKeeper has no setACL, session or nested multi op inside a
// multi; a Multi holding one is refused whole with ErrMarshallingError.
type Multi struct {
	Ops []Request
}

// CreateSession registers the session the request is issued for, with its
// negotiated timeout and the password the creating server drew for it.
type CreateSession struct {
	TimeoutMs int32
	// Passwd is a secret: saved histories leave it out.
	Passwd [PasswdLen]byte `json:"-"`
}

// CloseSession ends the session the request is issued for and deletes its
// ephemeral nodes. The leader issues it for an expired session too.
type CloseSession struct{}

// DeleteContainer is the request the leader's container sweep issues (with
// session 0) for a candidate from CleanupCandidates: it removes an empty
// container or TTL node, without a version check.
type DeleteContainer struct {
	Path string
}

// Op returns OpCreate, OpCreateContainer or OpCreateTTL according to the mode.
func (r Create) Op() OpCode { return createOp(r.Mode) }

// Op returns OpDelete.
func (Delete) Op() OpCode { return OpDelete }

// Op returns OpSetData.
func (SetData) Op() OpCode { return OpSetData }

// Op returns OpCheck.
func (Check) Op() OpCode { return OpCheck }

// Op returns OpSetACL.
func (SetACL) Op() OpCode { return OpSetACL }

// Op returns OpMulti.
func (Multi) Op() OpCode { return OpMulti }

// Op returns OpCreateSession.
func (CreateSession) Op() OpCode { return OpCreateSession }

// Op returns OpCloseSession.
func (CloseSession) Op() OpCode { return OpCloseSession }

// Op returns OpDeleteContainer.
func (DeleteContainer) Op() OpCode { return OpDeleteContainer }

func (Create) isRequest()          {}
func (Delete) isRequest()          {}
func (SetData) isRequest()         {}
func (Check) isRequest()           {}
func (SetACL) isRequest()          {}
func (Multi) isRequest()           {}
func (CreateSession) isRequest()   {}
func (CloseSession) isRequest()    {}
func (DeleteContainer) isRequest() {}

func createOp(m CreateMode) OpCode {
	switch {
	case m.IsContainer():
		return OpCreateContainer
	case m.IsTTL():
		return OpCreateTTL
	}
	return OpCreate
}
