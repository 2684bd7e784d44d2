package jute

// The records of zookeeper.jute (org.apache.zookeeper.data and
// org.apache.zookeeper.proto) that travel on the client port, field for
// field in the order the file gives them. Each has Append and Decode.

// Id is org.apache.zookeeper.data.Id.
type Id struct {
	Scheme string
	ID     string
}

func (v *Id) Append(dst []byte) []byte {
	dst = AppendUString(dst, v.Scheme)
	return AppendUString(dst, v.ID)
}

func (v *Id) Decode(r *Reader) {
	v.Scheme = r.UString()
	v.ID = r.UString()
}

// ACL is org.apache.zookeeper.data.ACL.
type ACL struct {
	Perms int32
	ID    Id
}

// aclMinSize is the smallest encoding of an ACL: perms and two empty
// ustrings.
const aclMinSize = 12

func (v *ACL) Append(dst []byte) []byte {
	dst = AppendInt(dst, v.Perms)
	return v.ID.Append(dst)
}

func (v *ACL) Decode(r *Reader) {
	v.Perms = r.Int()
	v.ID.Decode(r)
}

func appendACLs(dst []byte, acl []ACL) []byte {
	dst = AppendInt(dst, checkedLen(len(acl)))
	for i := range acl {
		dst = acl[i].Append(dst)
	}
	return dst
}

func decodeACLs(r *Reader) []ACL {
	n := r.VectorLen(aclMinSize)
	if n == 0 {
		return nil
	}
	out := make([]ACL, n)
	for i := range out {
		out[i].Decode(r)
	}
	if r.err != nil {
		return nil
	}
	return out
}

// Stat is org.apache.zookeeper.data.Stat (68 bytes).
type Stat struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	DataLength     int32
	NumChildren    int32
	Pzxid          int64
}

// StatSize is the encoded size of a Stat.
const StatSize = 6*8 + 5*4

func (v *Stat) Append(dst []byte) []byte {
	dst = AppendLong(dst, v.Czxid)
	dst = AppendLong(dst, v.Mzxid)
	dst = AppendLong(dst, v.Ctime)
	dst = AppendLong(dst, v.Mtime)
	dst = AppendInt(dst, v.Version)
	dst = AppendInt(dst, v.Cversion)
	dst = AppendInt(dst, v.Aversion)
	dst = AppendLong(dst, v.EphemeralOwner)
	dst = AppendInt(dst, v.DataLength)
	dst = AppendInt(dst, v.NumChildren)
	return AppendLong(dst, v.Pzxid)
}

func (v *Stat) Decode(r *Reader) {
	v.Czxid = r.Long()
	v.Mzxid = r.Long()
	v.Ctime = r.Long()
	v.Mtime = r.Long()
	v.Version = r.Int()
	v.Cversion = r.Int()
	v.Aversion = r.Int()
	v.EphemeralOwner = r.Long()
	v.DataLength = r.Int()
	v.NumChildren = r.Int()
	v.Pzxid = r.Long()
}

// ConnectRequest opens a connection (no RequestHeader). zookeeper.jute
// stops at passwd; every client since 3.3 then writes a readOnly boolean
// (ClientCnxnSocket), and the server reads it when it is there
// (ZooKeeperServer.processConnectRequest).
type ConnectRequest struct {
	ProtocolVersion int32
	LastZxidSeen    int64
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	// OldClient: the frame ends after passwd (no readOnly flag). The
	// server then leaves the flag out of its ConnectResponse too.
	OldClient bool
}

func (v *ConnectRequest) Append(dst []byte) []byte {
	dst = AppendInt(dst, v.ProtocolVersion)
	dst = AppendLong(dst, v.LastZxidSeen)
	dst = AppendInt(dst, v.TimeOut)
	dst = AppendLong(dst, v.SessionID)
	dst = AppendBuffer(dst, v.Passwd)
	if !v.OldClient {
		dst = AppendBool(dst, v.ReadOnly)
	}
	return dst
}

func (v *ConnectRequest) Decode(r *Reader) {
	v.ProtocolVersion = r.Int()
	v.LastZxidSeen = r.Long()
	v.TimeOut = r.Int()
	v.SessionID = r.Long()
	v.Passwd = r.Buffer()
	v.ReadOnly, v.OldClient = false, r.err == nil && r.Len() == 0
	if !v.OldClient {
		v.ReadOnly = r.Bool()
	}
}

// ConnectResponse answers it (no ReplyHeader). ZooKeeperServer writes the
// readOnly boolean after passwd unless the client was an old one.
type ConnectResponse struct {
	ProtocolVersion int32
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	OldClient       bool // no readOnly flag after passwd
}

func (v *ConnectResponse) Append(dst []byte) []byte {
	dst = AppendInt(dst, v.ProtocolVersion)
	dst = AppendInt(dst, v.TimeOut)
	dst = AppendLong(dst, v.SessionID)
	dst = AppendBuffer(dst, v.Passwd)
	if !v.OldClient {
		dst = AppendBool(dst, v.ReadOnly)
	}
	return dst
}

func (v *ConnectResponse) Decode(r *Reader) {
	v.ProtocolVersion = r.Int()
	v.TimeOut = r.Int()
	v.SessionID = r.Long()
	v.Passwd = r.Buffer()
	v.ReadOnly, v.OldClient = false, r.err == nil && r.Len() == 0
	if !v.OldClient {
		v.ReadOnly = r.Bool()
	}
}

// SetWatches re-registers watches after a reconnect.
type SetWatches struct {
	RelativeZxid int64
	DataWatches  []string
	ExistWatches []string
	ChildWatches []string
}

func (v *SetWatches) Append(dst []byte) []byte {
	dst = AppendLong(dst, v.RelativeZxid)
	dst = AppendStrings(dst, v.DataWatches)
	dst = AppendStrings(dst, v.ExistWatches)
	return AppendStrings(dst, v.ChildWatches)
}

func (v *SetWatches) Decode(r *Reader) {
	v.RelativeZxid = r.Long()
	v.DataWatches = r.Strings()
	v.ExistWatches = r.Strings()
	v.ChildWatches = r.Strings()
}

// SetWatches2 adds the persistent watches (3.6+).
type SetWatches2 struct {
	RelativeZxid               int64
	DataWatches                []string
	ExistWatches               []string
	ChildWatches               []string
	PersistentWatches          []string
	PersistentRecursiveWatches []string
}

func (v *SetWatches2) Append(dst []byte) []byte {
	dst = AppendLong(dst, v.RelativeZxid)
	dst = AppendStrings(dst, v.DataWatches)
	dst = AppendStrings(dst, v.ExistWatches)
	dst = AppendStrings(dst, v.ChildWatches)
	dst = AppendStrings(dst, v.PersistentWatches)
	return AppendStrings(dst, v.PersistentRecursiveWatches)
}

func (v *SetWatches2) Decode(r *Reader) {
	v.RelativeZxid = r.Long()
	v.DataWatches = r.Strings()
	v.ExistWatches = r.Strings()
	v.ChildWatches = r.Strings()
	v.PersistentWatches = r.Strings()
	v.PersistentRecursiveWatches = r.Strings()
}

// RequestHeader starts every request frame after the connect.
type RequestHeader struct {
	Xid  int32
	Type int32
}

// RequestHeaderSize is its encoded size.
const RequestHeaderSize = 8

func (v *RequestHeader) Append(dst []byte) []byte {
	dst = AppendInt(dst, v.Xid)
	return AppendInt(dst, v.Type)
}

func (v *RequestHeader) Decode(r *Reader) {
	v.Xid = r.Int()
	v.Type = r.Int()
}

// MultiHeader precedes each op of a multi and closes the list.
type MultiHeader struct {
	Type int32
	Done bool
	Err  int32
}

func (v *MultiHeader) Append(dst []byte) []byte {
	dst = AppendInt(dst, v.Type)
	dst = AppendBool(dst, v.Done)
	return AppendInt(dst, v.Err)
}

func (v *MultiHeader) Decode(r *Reader) {
	v.Type = r.Int()
	v.Done = r.Bool()
	v.Err = r.Int()
}

// AuthPacket is addAuth's request (xid -4, type auth).
type AuthPacket struct {
	Type   int32
	Scheme string
	Auth   []byte
}

func (v *AuthPacket) Append(dst []byte) []byte {
	dst = AppendInt(dst, v.Type)
	dst = AppendUString(dst, v.Scheme)
	return AppendBuffer(dst, v.Auth)
}

func (v *AuthPacket) Decode(r *Reader) {
	v.Type = r.Int()
	v.Scheme = r.UString()
	v.Auth = r.Buffer()
}

// ReplyHeader starts every reply and notification frame after the connect.
type ReplyHeader struct {
	Xid  int32
	Zxid int64
	Err  int32
}

// ReplyHeaderSize is its encoded size.
const ReplyHeaderSize = 16

func (v *ReplyHeader) Append(dst []byte) []byte {
	dst = AppendInt(dst, v.Xid)
	dst = AppendLong(dst, v.Zxid)
	return AppendInt(dst, v.Err)
}

func (v *ReplyHeader) Decode(r *Reader) {
	v.Xid = r.Int()
	v.Zxid = r.Long()
	v.Err = r.Int()
}

// PathWatch is the shape of ExistsRequest, GetDataRequest,
// GetChildrenRequest and GetChildren2Request: path, watch.
type PathWatch struct {
	Path  string
	Watch bool
}

func (v *PathWatch) Append(dst []byte) []byte {
	dst = AppendUString(dst, v.Path)
	return AppendBool(dst, v.Watch)
}

func (v *PathWatch) Decode(r *Reader) {
	v.Path = r.UString()
	v.Watch = r.Bool()
}

// The four records of that shape.
type (
	GetDataRequest      = PathWatch
	ExistsRequest       = PathWatch
	GetChildrenRequest  = PathWatch
	GetChildren2Request = PathWatch
)

// PathOnly is the shape of the records that hold only a path:
// GetAllChildrenNumberRequest, SyncRequest, SyncResponse, GetACLRequest,
// CreateResponse and GetEphemeralsRequest (whose field is prefixPath).
type PathOnly struct {
	Path string
}

func (v *PathOnly) Append(dst []byte) []byte { return AppendUString(dst, v.Path) }
func (v *PathOnly) Decode(r *Reader)         { v.Path = r.UString() }

// The records of that shape.
type (
	GetAllChildrenNumberRequest = PathOnly
	SyncRequest                 = PathOnly
	SyncResponse                = PathOnly
	GetACLRequest               = PathOnly
	CreateResponse              = PathOnly
	GetEphemeralsRequest        = PathOnly
)

// PathVersion is the shape of DeleteRequest and CheckVersionRequest.
type PathVersion struct {
	Path    string
	Version int32
}

func (v *PathVersion) Append(dst []byte) []byte {
	dst = AppendUString(dst, v.Path)
	return AppendInt(dst, v.Version)
}

func (v *PathVersion) Decode(r *Reader) {
	v.Path = r.UString()
	v.Version = r.Int()
}

// The records of that shape.
type (
	DeleteRequest       = PathVersion
	CheckVersionRequest = PathVersion
)

// PathType is the shape of CheckWatchesRequest and RemoveWatchesRequest
// (path, type) and AddWatchRequest (path, mode).
type PathType struct {
	Path string
	Type int32
}

func (v *PathType) Append(dst []byte) []byte {
	dst = AppendUString(dst, v.Path)
	return AppendInt(dst, v.Type)
}

func (v *PathType) Decode(r *Reader) {
	v.Path = r.UString()
	v.Type = r.Int()
}

// The records of that shape.
type (
	CheckWatchesRequest  = PathType
	RemoveWatchesRequest = PathType
	AddWatchRequest      = PathType
)

// StatOnly is the shape of SetDataResponse, SetACLResponse and
// ExistsResponse.
type StatOnly struct {
	Stat Stat
}

func (v *StatOnly) Append(dst []byte) []byte { return v.Stat.Append(dst) }
func (v *StatOnly) Decode(r *Reader)         { v.Stat.Decode(r) }

// The records of that shape.
type (
	SetDataResponse = StatOnly
	SetACLResponse  = StatOnly
	ExistsResponse  = StatOnly
)

// StringsOnly is the shape of GetChildrenResponse (children) and
// GetEphemeralsResponse (ephemerals).
type StringsOnly struct {
	Strings []string
}

func (v *StringsOnly) Append(dst []byte) []byte { return AppendStrings(dst, v.Strings) }
func (v *StringsOnly) Decode(r *Reader)         { v.Strings = r.Strings() }

// The records of that shape.
type (
	GetChildrenResponse   = StringsOnly
	GetEphemeralsResponse = StringsOnly
)

// IntOnly is the shape of ErrorResponse (err) and
// GetAllChildrenNumberResponse (totalNumber).
type IntOnly struct {
	Value int32
}

func (v *IntOnly) Append(dst []byte) []byte { return AppendInt(dst, v.Value) }
func (v *IntOnly) Decode(r *Reader)         { v.Value = r.Int() }

// The records of that shape.
type (
	ErrorResponse                = IntOnly
	GetAllChildrenNumberResponse = IntOnly
)

// SetDataRequest: path, data, version.
type SetDataRequest struct {
	Path    string
	Data    []byte
	Version int32
}

func (v *SetDataRequest) Append(dst []byte) []byte {
	dst = AppendUString(dst, v.Path)
	dst = AppendBuffer(dst, v.Data)
	return AppendInt(dst, v.Version)
}

func (v *SetDataRequest) Decode(r *Reader) {
	v.Path = r.UString()
	v.Data = r.Buffer()
	v.Version = r.Int()
}

// CreateRequest: path, data, acl, flags. Also the body of create2 and
// createContainer.
type CreateRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
}

func (v *CreateRequest) Append(dst []byte) []byte {
	dst = AppendUString(dst, v.Path)
	dst = AppendBuffer(dst, v.Data)
	dst = appendACLs(dst, v.ACL)
	return AppendInt(dst, v.Flags)
}

func (v *CreateRequest) Decode(r *Reader) {
	v.Path = r.UString()
	v.Data = r.Buffer()
	v.ACL = decodeACLs(r)
	v.Flags = r.Int()
}

// CreateTTLRequest: CreateRequest's fields, then ttl.
type CreateTTLRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
	TTL   int64
}

func (v *CreateTTLRequest) Append(dst []byte) []byte {
	dst = AppendUString(dst, v.Path)
	dst = AppendBuffer(dst, v.Data)
	dst = appendACLs(dst, v.ACL)
	dst = AppendInt(dst, v.Flags)
	return AppendLong(dst, v.TTL)
}

func (v *CreateTTLRequest) Decode(r *Reader) {
	v.Path = r.UString()
	v.Data = r.Buffer()
	v.ACL = decodeACLs(r)
	v.Flags = r.Int()
	v.TTL = r.Long()
}

// SetACLRequest: path, acl, version.
type SetACLRequest struct {
	Path    string
	ACL     []ACL
	Version int32
}

func (v *SetACLRequest) Append(dst []byte) []byte {
	dst = AppendUString(dst, v.Path)
	dst = appendACLs(dst, v.ACL)
	return AppendInt(dst, v.Version)
}

func (v *SetACLRequest) Decode(r *Reader) {
	v.Path = r.UString()
	v.ACL = decodeACLs(r)
	v.Version = r.Int()
}

// WatcherEvent is a notification's body (after ReplyHeader xid -1).
type WatcherEvent struct {
	Type  int32
	State int32
	Path  string
}

func (v *WatcherEvent) Append(dst []byte) []byte {
	dst = AppendInt(dst, v.Type)
	dst = AppendInt(dst, v.State)
	return AppendUString(dst, v.Path)
}

func (v *WatcherEvent) Decode(r *Reader) {
	v.Type = r.Int()
	v.State = r.Int()
	v.Path = r.UString()
}

// Create2Response: path, stat (create2, createContainer and createTTL).
type Create2Response struct {
	Path string
	Stat Stat
}

func (v *Create2Response) Append(dst []byte) []byte {
	dst = AppendUString(dst, v.Path)
	return v.Stat.Append(dst)
}

func (v *Create2Response) Decode(r *Reader) {
	v.Path = r.UString()
	v.Stat.Decode(r)
}

// GetDataResponse: data, stat.
type GetDataResponse struct {
	Data []byte
	Stat Stat
}

func (v *GetDataResponse) Append(dst []byte) []byte {
	dst = AppendBuffer(dst, v.Data)
	return v.Stat.Append(dst)
}

func (v *GetDataResponse) Decode(r *Reader) {
	v.Data = r.Buffer()
	v.Stat.Decode(r)
}

// GetChildren2Response: children, stat.
type GetChildren2Response struct {
	Children []string
	Stat     Stat
}

func (v *GetChildren2Response) Append(dst []byte) []byte {
	dst = AppendStrings(dst, v.Children)
	return v.Stat.Append(dst)
}

func (v *GetChildren2Response) Decode(r *Reader) {
	v.Children = r.Strings()
	v.Stat.Decode(r)
}

// GetACLResponse: acl, stat.
type GetACLResponse struct {
	ACL  []ACL
	Stat Stat
}

func (v *GetACLResponse) Append(dst []byte) []byte {
	dst = appendACLs(dst, v.ACL)
	return v.Stat.Append(dst)
}

func (v *GetACLResponse) Decode(r *Reader) {
	v.ACL = decodeACLs(r)
	v.Stat.Decode(r)
}

// ClientInfo is org.apache.zookeeper.data.ClientInfo: an identity a
// connection holds, as whoAmI reports it.
type ClientInfo struct {
	AuthScheme string
	User       string
}

func (v *ClientInfo) Append(dst []byte) []byte {
	dst = AppendUString(dst, v.AuthScheme)
	return AppendUString(dst, v.User)
}

func (v *ClientInfo) Decode(r *Reader) {
	v.AuthScheme = r.UString()
	v.User = r.UString()
}

// WhoAmIResponse answers whoAmI (its request has no record).
type WhoAmIResponse struct {
	ClientInfo []ClientInfo
}

func (v *WhoAmIResponse) Append(dst []byte) []byte {
	dst = AppendInt(dst, checkedLen(len(v.ClientInfo)))
	for i := range v.ClientInfo {
		dst = v.ClientInfo[i].Append(dst)
	}
	return dst
}

func (v *WhoAmIResponse) Decode(r *Reader) {
	n := r.VectorLen(8) // two string lengths
	if n == 0 {
		v.ClientInfo = nil
		return
	}
	v.ClientInfo = make([]ClientInfo, n)
	for i := range v.ClientInfo {
		v.ClientInfo[i].Decode(r)
	}
	if r.err != nil {
		v.ClientInfo = nil
	}
}
