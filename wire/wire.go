// Package wire is the protocol between ZooKeeper clients and servers as Go
// values: ZooKeeper's client wire protocol (ConnectRequest, RequestHeader +
// request record, ReplyHeader + response record, WatcherEvent, pings) with
// the same opcodes, error codes, xids and event types. In the simulator
// these values travel as message bodies; the real driver encodes them as
// jute records on a TCP connection.
//
// A client connection is what a TCP connection is in ZooKeeper: FIFO and
// gap-free in each direction. The simulated network may lose, duplicate or
// reorder messages, so every message names its connection (a nonce the
// client picks when it connects) and carries a per-direction sequence
// number; a receiver that sees a gap treats the connection as broken, as a
// ZooKeeper client or server does when its socket fails. The real driver
// fills these in itself and never lets a gap through.
//
// The package holds only types; it never does I/O.
package wire

import (
	"fmt"

	"zoosim/model"
)

// Special xids, as ZooKeeper uses them.
const (
	XidNotification int32 = -1
	XidPing         int32 = -2
	XidAuth         int32 = -4
	XidSetWatches   int32 = -8
)

// KeeperState is a client's connection state as watch events report it.
type KeeperState int32

// ZooKeeper's Watcher.Event.KeeperState values.
const (
	StateDisconnected      KeeperState = 0
	StateSyncConnected     KeeperState = 3
	StateAuthFailed        KeeperState = 4
	StateConnectedReadOnly KeeperState = 5
	StateClosed            KeeperState = 7
	StateExpired           KeeperState = -112
)

// Header is the connection framing every message but Close carries.
type Header struct {
	Conn uint64 // the connection's nonce, chosen by the client
	Seq  uint64 // 1, 2, 3, ... per direction per connection
}

// Connect opens a connection and creates or resumes a session
// (ConnectRequest). SessionID 0 asks for a new session.
type Connect struct {
	Header
	ProtocolVersion int32
	LastZxidSeen    model.Zxid
	TimeoutMs       int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	// Addr is the client's IP address as the server's transport sees it
	// (not on ZooKeeper's wire: the real driver fills it in from the
	// socket; a simulated client may name one). It is the connection's ip
	// identity for ACLs; "" means none.
	Addr string
}

// Connected answers Connect (ConnectResponse). TimeoutMs is the negotiated
// session timeout; ZooKeeper answers a resume of an expired or unknown
// session with TimeoutMs 0 and SessionID 0, then closes the connection.
type Connected struct {
	Header
	ProtocolVersion int32
	TimeoutMs       int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
}

// Expired reports whether the server refused the session as expired.
func (c *Connected) Expired() bool { return c.TimeoutMs <= 0 }

// Request is one client request: RequestHeader (xid, op) plus the request
// record. Reads use Path and Watch; writes (create, delete, setData, check,
// setACL, multi, closeSession) put the model request in Write.
type Request struct {
	Header
	Xid   int32
	Op    model.OpCode
	Path  string
	Watch bool // getData, exists, getChildren(2): leave a watch
	// Mode is addWatch's mode (0 persistent, 1 persistent-recursive) or
	// removeWatches' watcher type.
	Mode  int32
	Write model.Request
	// SetWatches re-registers watches after a reconnect (setWatches2).
	SetWatches *SetWatches
	// Reads are multiRead's ops (getData and getChildren only).
	Reads []ReadOp
	// Auth is addAuth's packet (OpAuth, xid -4).
	Auth *Auth
}

// ReadOp is one read inside a multiRead: OpGetData or OpGetChildren.
type ReadOp struct {
	Op    model.OpCode
	Path  string
	Watch bool
}

// Auth is an addAuth request (ZooKeeper's AuthPacket): credentials for a
// scheme such as digest. Type is unused by ZooKeeper and always 0.
type Auth struct {
	Type   int32
	Scheme string
	Auth   []byte
}

// SetWatches re-registers a client's watches on a new connection; the
// server fires at once what changed after RelativeZxid.
type SetWatches struct {
	RelativeZxid                    model.Zxid
	Data, Exist, Child              []string
	Persistent, PersistentRecursive []string
}

// OpResult is one op's result inside a multi reply.
type OpResult struct {
	Op   model.OpCode
	Err  model.Err
	Path string
	Stat model.Stat
}

// ReadResult is one read's result inside a multiRead reply: Op is
// OpGetData (Data, Stat), OpGetChildren (Children) or OpError (Err).
type ReadResult struct {
	Op       model.OpCode
	Err      model.Err
	Data     []byte
	Stat     model.Stat
	Children []string
}

// Reply answers a Request (ReplyHeader: xid, zxid, err; then the response
// record when err is ok). Zxid is the server's last zxid when it replied.
type Reply struct {
	Header
	Xid      int32
	Zxid     model.Zxid
	Err      model.Err
	Path     string // create: the created name; sync: the path
	Stat     model.Stat
	Data     []byte
	Children []string
	ACL      []model.ACL
	Number   int32 // getAllChildrenNumber
	Multi    []OpResult
	Reads    []ReadResult // multiRead
	Clients  []ClientInfo // whoAmI
}

// ClientInfo is one identity of the requester's connection, as whoAmI
// answers it: the scheme, and the user the provider names (digest: the user
// before the colon; ip: the address; super: "").
type ClientInfo struct {
	Scheme string
	User   string
}

// Event is a watch notification (xid -1, WatcherEvent). Zxid is the zxid of
// the txn that caused it (ZooKeeper puts it in the reply header).
type Event struct {
	Header
	Type  model.EventType
	State KeeperState
	Path  string
	Zxid  model.Zxid
}

// Ping is the client's heartbeat (xid -2).
type Ping struct {
	Header
}

// Pong answers a ping with the server's last zxid.
type Pong struct {
	Header
	Zxid model.Zxid
}

// CloseReason says why a server closed a connection.
type CloseReason uint8

const (
	// CloseBehind: the client has seen a zxid the server has not
	// ("Refusing session request for client as it has seen zxid ... our
	// last zxid is ...").
	CloseBehind CloseReason = iota + 1
	// CloseNotServing: the server is not part of an established quorum.
	CloseNotServing
	// CloseBroken: a gap, a duplicate connection or a protocol error.
	CloseBroken
	// CloseSessionClosed: the session was closed or expired.
	CloseSessionClosed
	// CloseByClient: the client closed the connection.
	CloseByClient
	// CloseAuthFailed: an auth packet failed (no provider for its scheme);
	// ZooKeeper answers AuthFailed and closes the connection.
	CloseAuthFailed
)

func (r CloseReason) String() string {
	switch r {
	case CloseBehind:
		return "behind"
	case CloseNotServing:
		return "not-serving"
	case CloseBroken:
		return "broken"
	case CloseSessionClosed:
		return "session-closed"
	case CloseByClient:
		return "by-client"
	case CloseAuthFailed:
		return "auth-failed"
	}
	return fmt.Sprintf("close(%d)", uint8(r))
}

// Close ends a connection (a socket close). It carries no sequence number:
// it may arrive at any time, and a stale one (another Conn) is ignored.
type Close struct {
	Conn   uint64
	Reason CloseReason
}

// TraceHash implementations fold the fields that identify a message.

func (h Header) hash(kind uint64) uint64 {
	return (kind*0x9e3779b97f4a7c15^h.Conn)*0x100000001b3 ^ h.Seq
}

func (m *Connect) TraceHash() uint64 {
	return m.hash(1)*0x100000001b3 ^ uint64(m.SessionID) ^ uint64(m.LastZxidSeen)<<1
}
func (m *Connected) TraceHash() uint64 {
	return m.hash(2)*0x100000001b3 ^ uint64(m.SessionID) ^ uint64(m.TimeoutMs)
}
func (m *Request) TraceHash() uint64 {
	return m.hash(3)*0x100000001b3 ^ uint64(uint32(m.Xid)) ^ uint64(uint32(m.Op))<<32 ^ uint64(len(m.Path))
}
func (m *Reply) TraceHash() uint64 {
	return m.hash(4)*0x100000001b3 ^ uint64(uint32(m.Xid)) ^ uint64(uint32(m.Err))<<32 ^ uint64(m.Zxid)<<3
}
func (m *Event) TraceHash() uint64 {
	return m.hash(5)*0x100000001b3 ^ uint64(uint32(m.Type)) ^ uint64(m.Zxid)<<3 ^ uint64(len(m.Path))
}
func (m *Ping) TraceHash() uint64 { return m.hash(6) }
func (m *Pong) TraceHash() uint64 { return m.hash(7) ^ uint64(m.Zxid) }
func (m *Close) TraceHash() uint64 {
	return (0x9e3779b97f4a7c15^m.Conn)*0x100000001b3 ^ uint64(m.Reason)<<8
}

// IsWrite reports whether an opcode changes the tree (goes through the
// leader and gets a zxid of its own).
func IsWrite(op model.OpCode) bool {
	switch op {
	case model.OpCreate, model.OpCreate2, model.OpCreateContainer, model.OpCreateTTL,
		model.OpDelete, model.OpSetData, model.OpCheck, model.OpSetACL, model.OpMulti,
		model.OpCloseSession, model.OpDeleteContainer:
		return true
	}
	return false
}
