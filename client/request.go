package client

import (
	"zoosim/model"
	"zoosim/wire"
)

// Request is one request a user submits: the fields of a wire.Request that
// the user chooses. The client assigns the xid and the connection framing.
//
// Reads (exists, getData, getChildren, getChildren2, getACL, sync, addWatch,
// removeWatches, checkWatches, getAllChildrenNumber, getEphemerals) use Path,
// and Watch for the three that can leave a watch; Mode is addWatch's mode (0
// persistent, 1 persistent-recursive) or removeWatches' and checkWatches'
// model.WatcherType. Writes (create in its four opcodes, delete, setData,
// check, setACL, multi) carry the model request in Write, and Op must be
// Write.Op() (or OpCreate2 for a model.Create whose Op is OpCreate).
type Request struct {
	Op    model.OpCode
	Path  string
	Watch bool
	Mode  int32
	Write model.Request

	_ struct{}
}

// Result is the outcome of one request.
//
// Err is the server's code, or one the client decided without an answer:
// ErrConnectionLoss when the connection the request was sent on was lost
// (Sent is then true and the outcome is unknown: the request may still have
// taken effect) or when a closing client gave up; ErrSessionExpired when the
// session expired or was closed before the request could be sent;
// ErrThrottledOp when Submit found MaxOutstanding requests already
// outstanding; ErrBadArguments when Submit refused a malformed request;
// ErrNoWatcher when a successful removeWatches found no local watch, as
// ZooKeeper's client reports it.
//
// The reply fields (Path through Multi) are the server's and are shared with
// the reply message: do not modify them.
type Result struct {
	Xid int32
	Op  model.OpCode
	Err model.Err
	// Zxid is the zxid in the reply header (the server's last zxid when it
	// replied); 0 when the client failed the request itself.
	Zxid model.Zxid
	// Sent reports whether the request was handed to a server.
	Sent bool
	// Order places the result among all results and events this client
	// produced; merge the two streams by it to see the exact interleaving
	// (a watch event comes before the reply that reads the changed data).
	Order uint64

	Path     string // create: the created name; sync: the path
	Stat     model.Stat
	Data     []byte
	Children []string // getChildren(2), getEphemerals
	ACL      []model.ACL
	Number   int32 // getAllChildrenNumber
	Multi    []wire.OpResult

	_ struct{}
}

// OK reports whether the request succeeded.
func (r *Result) OK() bool { return r.Err == model.ErrOK }

// WatchSet is a set of model.WatchKinds: which of the client's watch
// registrations a notification fired.
type WatchSet uint8

// Has reports whether k is in the set.
func (s WatchSet) Has(k model.WatchKind) bool { return s&watchBit(k) != 0 }

func watchBit(k model.WatchKind) WatchSet { return 1 << k }

// Event is what the client tells its user apart from results: a watch
// notification (Type is a node event, State is StateSyncConnected) or a
// session state change (Type is model.EventNone, State is
// StateSyncConnected, StateDisconnected, StateExpired or StateClosed, Path
// is empty).
//
// A notification is delivered once, however many registrations it fired
// (ZooKeeper delivers it once per Watcher object, and every watch of this
// client belongs to its one default watcher); Watches names the
// registrations it fired. One-shot registrations are gone once fired;
// persistent ones stay. A notification that fires no registration is
// dropped, as ZooKeeper drops it. The *WatchRemoved events report a
// successful removeWatches, with Watches naming what was removed.
type Event struct {
	Type  model.EventType
	State wire.KeeperState
	Path  string
	// Zxid is the zxid of the txn that caused a notification; 0 for state
	// events.
	Zxid    model.Zxid
	Watches WatchSet
	// Order: see Result.Order.
	Order uint64

	_ struct{}
}

// validRequest reports whether a user request is well formed enough to send:
// an opcode a client may issue, a write carrying the model request its opcode
// names, and the watch flag and mode only where they mean something. Paths
// are not checked: the server validates them, and a checker may want to see
// what it does with a bad one.
func validRequest(r *Request) bool {
	switch r.Op {
	case model.OpExists, model.OpGetData, model.OpGetChildren, model.OpGetChildren2:
		return r.Write == nil && r.Mode == 0
	case model.OpGetACL, model.OpSync, model.OpGetAllChildrenNumber, model.OpGetEphemerals:
		return r.Write == nil && r.Mode == 0 && !r.Watch
	case model.OpAddWatch:
		return r.Write == nil && !r.Watch && (r.Mode == 0 || r.Mode == 1)
	case model.OpRemoveWatches, model.OpCheckWatches:
		return r.Write == nil && !r.Watch &&
			r.Mode >= int32(model.WatcherChildren) && r.Mode <= int32(model.WatcherPersistentRecursive)
	case model.OpCreate, model.OpCreate2, model.OpCreateContainer, model.OpCreateTTL,
		model.OpDelete, model.OpSetData, model.OpCheck, model.OpSetACL, model.OpMulti:
		if r.Write == nil || r.Watch || r.Mode != 0 {
			return false
		}
		if r.Op == model.OpCreate2 {
			c, ok := r.Write.(model.Create)
			return ok && c.Op() == model.OpCreate
		}
		return r.Write.Op() == r.Op
	}
	// Pings, auth, setWatches, session ops and the rest are the client's or
	// the leader's own business.
	return false
}

// The typed helpers build a Request and Submit it; each returns the xid its
// Result will carry.

// Create creates a node (OpCreate, OpCreateContainer or OpCreateTTL by mode;
// use Submit for a TTL). A nil acl means model.OpenACLUnsafe; pass an empty,
// non-nil slice to send an empty ACL.
func (c *Client) Create(path string, data []byte, acl []model.ACL, mode model.CreateMode) int32 {
	if acl == nil {
		acl = model.OpenACLUnsafe
	}
	w := model.Create{Path: path, Data: data, ACL: acl, Mode: mode}
	return c.Submit(Request{Op: w.Op(), Path: path, Write: w})
}

// Delete deletes a node; version -1 matches any.
func (c *Client) Delete(path string, version int32) int32 {
	w := model.Delete{Path: path, Version: version}
	return c.Submit(Request{Op: model.OpDelete, Path: path, Write: w})
}

// SetData replaces a node's data; version -1 matches any.
func (c *Client) SetData(path string, data []byte, version int32) int32 {
	w := model.SetData{Path: path, Data: data, Version: version}
	return c.Submit(Request{Op: model.OpSetData, Path: path, Write: w})
}

// Check asserts a node's version.
func (c *Client) Check(path string, version int32) int32 {
	w := model.Check{Path: path, Version: version}
	return c.Submit(Request{Op: model.OpCheck, Path: path, Write: w})
}

// SetACL replaces a node's ACL; version is the expected ACL version.
func (c *Client) SetACL(path string, acl []model.ACL, version int32) int32 {
	w := model.SetACL{Path: path, ACL: acl, Version: version}
	return c.Submit(Request{Op: model.OpSetACL, Path: path, Write: w})
}

// Multi runs ops atomically.
func (c *Client) Multi(ops ...model.Request) int32 {
	return c.Submit(Request{Op: model.OpMulti, Write: model.Multi{Ops: ops}})
}

// GetData reads a node, leaving a data watch if watch is set and the node
// exists.
func (c *Client) GetData(path string, watch bool) int32 {
	return c.Submit(Request{Op: model.OpGetData, Path: path, Watch: watch})
}

// Exists reads a node's Stat, leaving a data watch (node present) or an
// exist watch (ErrNoNode) if watch is set.
func (c *Client) Exists(path string, watch bool) int32 {
	return c.Submit(Request{Op: model.OpExists, Path: path, Watch: watch})
}

// GetChildren lists a node's children with its Stat (getChildren2), leaving a
// child watch if watch is set and the node exists.
func (c *Client) GetChildren(path string, watch bool) int32 {
	return c.Submit(Request{Op: model.OpGetChildren2, Path: path, Watch: watch})
}

// GetACL reads a node's ACL.
func (c *Client) GetACL(path string) int32 {
	return c.Submit(Request{Op: model.OpGetACL, Path: path})
}

// Sync brings the connected server up to the leader before later reads.
func (c *Client) Sync(path string) int32 {
	return c.Submit(Request{Op: model.OpSync, Path: path})
}

// AddWatch sets a persistent watch on path, or a persistent-recursive one
// (which also sees every descendant, except NodeChildrenChanged).
func (c *Client) AddWatch(path string, recursive bool) int32 {
	mode := int32(0)
	if recursive {
		mode = 1
	}
	return c.Submit(Request{Op: model.OpAddWatch, Path: path, Mode: mode})
}

// RemoveWatches removes this client's watches of the given type on path,
// at the server and, once it agrees, locally (reported with a *WatchRemoved
// event).
func (c *Client) RemoveWatches(path string, typ model.WatcherType) int32 {
	return c.Submit(Request{Op: model.OpRemoveWatches, Path: path, Mode: int32(typ)})
}
