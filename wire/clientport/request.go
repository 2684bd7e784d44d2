package clientport

import (
	"fmt"

	"zoosim/model"
	"zoosim/wire"
	"zoosim/wire/jute"
)

// decodeRequest reads the record that follows a RequestHeader and builds the
// wire.Request the server consumes. Writes carry their path in Path too, as
// zoosim's client sends them; multi and closeSession have none.
func decodeRequest(xid int32, op model.OpCode, r *jute.Reader) (*wire.Request, error) {
	req := &wire.Request{Xid: xid, Op: op}
	switch op {
	case model.OpCreate, model.OpCreate2, model.OpCreateContainer:
		var c jute.CreateRequest
		c.Decode(r)
		req.Path = c.Path
		req.Write = model.Create{Path: c.Path, Data: c.Data, ACL: aclFromJute(c.ACL), Mode: model.CreateMode(c.Flags)}
	case model.OpCreateTTL:
		var c jute.CreateTTLRequest
		c.Decode(r)
		req.Path = c.Path
		req.Write = model.Create{Path: c.Path, Data: c.Data, ACL: aclFromJute(c.ACL), Mode: model.CreateMode(c.Flags), TTL: c.TTL}
	case model.OpDelete:
		var d jute.DeleteRequest
		d.Decode(r)
		req.Path = d.Path
		req.Write = model.Delete{Path: d.Path, Version: d.Version}
	case model.OpSetData:
		var s jute.SetDataRequest
		s.Decode(r)
		req.Path = s.Path
		req.Write = model.SetData{Path: s.Path, Data: s.Data, Version: s.Version}
	case model.OpCheck:
		var c jute.CheckVersionRequest
		c.Decode(r)
		req.Path = c.Path
		req.Write = model.Check{Path: c.Path, Version: c.Version}
	case model.OpSetACL:
		var s jute.SetACLRequest
		s.Decode(r)
		req.Path = s.Path
		req.Write = model.SetACL{Path: s.Path, ACL: aclFromJute(s.ACL), Version: s.Version}
	case model.OpExists, model.OpGetData, model.OpGetChildren, model.OpGetChildren2:
		var p jute.PathWatch
		p.Decode(r)
		req.Path, req.Watch = p.Path, p.Watch
	case model.OpGetACL, model.OpSync, model.OpGetAllChildrenNumber, model.OpGetEphemerals:
		var p jute.PathOnly
		p.Decode(r)
		req.Path = p.Path
	case model.OpCheckWatches, model.OpRemoveWatches, model.OpAddWatch:
		var p jute.PathType
		p.Decode(r)
		req.Path, req.Mode = p.Path, p.Type
	case model.OpMulti, model.OpMultiRead:
		var m jute.MultiRequest
		m.Decode(r)
		if err := r.Err(); err != nil {
			return nil, err
		}
		if op == model.OpMultiRead {
			return req, multiReadFromJute(req, m.Ops)
		}
		return req, multiFromJute(req, m.Ops)
	case model.OpSetWatches:
		var s jute.SetWatches
		s.Decode(r)
		req.SetWatches = &wire.SetWatches{RelativeZxid: model.Zxid(s.RelativeZxid),
			Data: s.DataWatches, Exist: s.ExistWatches, Child: s.ChildWatches}
	case model.OpSetWatches2:
		var s jute.SetWatches2
		s.Decode(r)
		req.SetWatches = &wire.SetWatches{RelativeZxid: model.Zxid(s.RelativeZxid),
			Data: s.DataWatches, Exist: s.ExistWatches, Child: s.ChildWatches,
			Persistent: s.PersistentWatches, PersistentRecursive: s.PersistentRecursiveWatches}
	case model.OpAuth:
		var a jute.AuthPacket
		a.Decode(r)
		req.Auth = &wire.Auth{Type: a.Type, Scheme: a.Scheme, Auth: a.Auth}
	case model.OpCloseSession:
		req.Write = model.CloseSession{}
	case model.OpCreateSession, model.OpDeleteContainer:
		// The server makes these itself (a connect, the container sweep).
		return nil, fmt.Errorf("opcode %d is not a client request", op)
	case model.OpWhoAmI:
		// No record: the RequestHeader is the request.
	default:
		// reconfig, sasl and opcodes ZooKeeper does not know: the server
		// answers Unimplemented. The body is not needed for that.
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return req, nil
}

func multiFromJute(req *wire.Request, ops []jute.MultiOp) error {
	var m model.Multi
	if len(ops) > 0 {
		m.Ops = make([]model.Request, len(ops))
	}
	for i := range ops {
		op := &ops[i]
		switch op.Type {
		case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer:
			m.Ops[i] = model.Create{Path: op.Path, Data: op.Data, ACL: aclFromJute(op.ACL), Mode: model.CreateMode(op.Flags)}
		case jute.OpCreateTTL:
			m.Ops[i] = model.Create{Path: op.Path, Data: op.Data, ACL: aclFromJute(op.ACL), Mode: model.CreateMode(op.Flags), TTL: op.TTL}
		case jute.OpDelete:
			m.Ops[i] = model.Delete{Path: op.Path, Version: op.Version}
		case jute.OpSetData:
			m.Ops[i] = model.SetData{Path: op.Path, Data: op.Data, Version: op.Version}
		case jute.OpCheck:
			m.Ops[i] = model.Check{Path: op.Path, Version: op.Version}
		default:
			return fmt.Errorf("a multi holds a read op (type %d); reads go in a multiRead", op.Type)
		}
	}
	req.Write = m
	return nil
}

func multiReadFromJute(req *wire.Request, ops []jute.MultiOp) error {
	if len(ops) > 0 {
		req.Reads = make([]wire.ReadOp, len(ops))
	}
	for i := range ops {
		if !ops[i].IsRead() {
			return fmt.Errorf("a multiRead holds a write op (type %d)", ops[i].Type)
		}
		req.Reads[i] = wire.ReadOp{Op: model.OpCode(ops[i].Type), Path: ops[i].Path, Watch: ops[i].Watch}
	}
	return nil
}

// appendRequest appends the record of a request after its header. It fails
// when the request's fields do not fit its opcode (a Write of another kind,
// an op a multi cannot carry, persistent watches on a setWatches).
func appendRequest(dst []byte, req *wire.Request) ([]byte, error) {
	switch req.Op {
	case model.OpCreate, model.OpCreate2, model.OpCreateContainer, model.OpCreateTTL:
		c, ok := req.Write.(model.Create)
		if !ok {
			return dst, fmt.Errorf("a create carries %T", req.Write)
		}
		if req.Op == model.OpCreateTTL {
			return (&jute.CreateTTLRequest{Path: c.Path, Data: c.Data, ACL: aclToJute(c.ACL), Flags: int32(c.Mode), TTL: c.TTL}).Append(dst), nil
		}
		return (&jute.CreateRequest{Path: c.Path, Data: c.Data, ACL: aclToJute(c.ACL), Flags: int32(c.Mode)}).Append(dst), nil
	case model.OpDelete:
		d, ok := req.Write.(model.Delete)
		if !ok {
			return dst, fmt.Errorf("a delete carries %T", req.Write)
		}
		return (&jute.DeleteRequest{Path: d.Path, Version: d.Version}).Append(dst), nil
	case model.OpSetData:
		s, ok := req.Write.(model.SetData)
		if !ok {
			return dst, fmt.Errorf("a setData carries %T", req.Write)
		}
		return (&jute.SetDataRequest{Path: s.Path, Data: s.Data, Version: s.Version}).Append(dst), nil
	case model.OpCheck:
		c, ok := req.Write.(model.Check)
		if !ok {
			return dst, fmt.Errorf("a check carries %T", req.Write)
		}
		return (&jute.CheckVersionRequest{Path: c.Path, Version: c.Version}).Append(dst), nil
	case model.OpSetACL:
		s, ok := req.Write.(model.SetACL)
		if !ok {
			return dst, fmt.Errorf("a setACL carries %T", req.Write)
		}
		return (&jute.SetACLRequest{Path: s.Path, ACL: aclToJute(s.ACL), Version: s.Version}).Append(dst), nil
	case model.OpExists, model.OpGetData, model.OpGetChildren, model.OpGetChildren2:
		return (&jute.PathWatch{Path: req.Path, Watch: req.Watch}).Append(dst), nil
	case model.OpGetACL, model.OpSync, model.OpGetAllChildrenNumber, model.OpGetEphemerals:
		return (&jute.PathOnly{Path: req.Path}).Append(dst), nil
	case model.OpCheckWatches, model.OpRemoveWatches, model.OpAddWatch:
		return (&jute.PathType{Path: req.Path, Type: req.Mode}).Append(dst), nil
	case model.OpMulti:
		m, ok := req.Write.(model.Multi)
		if !ok {
			return dst, fmt.Errorf("a multi carries %T", req.Write)
		}
		ops, err := multiToJute(m)
		if err != nil {
			return dst, err
		}
		return (&jute.MultiRequest{Ops: ops}).Append(dst), nil
	case model.OpMultiRead:
		ops := make([]jute.MultiOp, len(req.Reads))
		for i, rd := range req.Reads {
			if rd.Op != model.OpGetData && rd.Op != model.OpGetChildren {
				return dst, fmt.Errorf("a multiRead holds op %d", rd.Op)
			}
			ops[i] = jute.MultiOp{Type: int32(rd.Op), Path: rd.Path, Watch: rd.Watch}
		}
		return (&jute.MultiRequest{Ops: ops}).Append(dst), nil
	case model.OpSetWatches, model.OpSetWatches2:
		w := req.SetWatches
		if w == nil {
			return dst, fmt.Errorf("a setWatches without watches")
		}
		if req.Op == model.OpSetWatches {
			if len(w.Persistent) > 0 || len(w.PersistentRecursive) > 0 {
				return dst, fmt.Errorf("setWatches cannot carry persistent watches; use setWatches2")
			}
			return (&jute.SetWatches{RelativeZxid: int64(w.RelativeZxid), DataWatches: w.Data, ExistWatches: w.Exist,
				ChildWatches: w.Child}).Append(dst), nil
		}
		return (&jute.SetWatches2{RelativeZxid: int64(w.RelativeZxid), DataWatches: w.Data, ExistWatches: w.Exist,
			ChildWatches: w.Child, PersistentWatches: w.Persistent, PersistentRecursiveWatches: w.PersistentRecursive}).Append(dst), nil
	case model.OpAuth:
		if req.Auth == nil {
			return dst, fmt.Errorf("an auth request without credentials")
		}
		return (&jute.AuthPacket{Type: req.Auth.Type, Scheme: req.Auth.Scheme, Auth: req.Auth.Auth}).Append(dst), nil
	case model.OpCloseSession, model.OpWhoAmI:
		return dst, nil
	}
	return dst, fmt.Errorf("opcode %d has no request record", req.Op)
}

func multiToJute(m model.Multi) ([]jute.MultiOp, error) {
	ops := make([]jute.MultiOp, len(m.Ops))
	for i, op := range m.Ops {
		switch o := op.(type) {
		case model.Create:
			ops[i] = jute.MultiOp{Type: int32(o.Op()), Path: o.Path, Data: o.Data, ACL: aclToJute(o.ACL), Flags: int32(o.Mode), TTL: o.TTL}
		case model.Delete:
			ops[i] = jute.MultiOp{Type: jute.OpDelete, Path: o.Path, Version: o.Version}
		case model.SetData:
			ops[i] = jute.MultiOp{Type: jute.OpSetData, Path: o.Path, Data: o.Data, Version: o.Version}
		case model.Check:
			ops[i] = jute.MultiOp{Type: jute.OpCheck, Path: o.Path, Version: o.Version}
		default:
			// ZooKeeper's Op has no other kinds.
			return nil, fmt.Errorf("a multi cannot carry a %T", op)
		}
	}
	return ops, nil
}

func aclFromJute(acl []jute.ACL) []model.ACL {
	if len(acl) == 0 {
		return nil
	}
	out := make([]model.ACL, len(acl))
	for i, a := range acl {
		out[i] = model.ACL{Perms: a.Perms, Scheme: a.ID.Scheme, ID: a.ID.ID}
	}
	return out
}

func aclToJute(acl []model.ACL) []jute.ACL {
	if len(acl) == 0 {
		return nil
	}
	out := make([]jute.ACL, len(acl))
	for i, a := range acl {
		out[i] = jute.ACL{Perms: a.Perms, ID: jute.Id{Scheme: a.Scheme, ID: a.ID}}
	}
	return out
}

func statToJute(s *model.Stat) jute.Stat {
	return jute.Stat{Czxid: int64(s.Czxid), Mzxid: int64(s.Mzxid), Ctime: s.Ctime, Mtime: s.Mtime,
		Version: s.Version, Cversion: s.Cversion, Aversion: s.Aversion, EphemeralOwner: s.EphemeralOwner,
		DataLength: s.DataLength, NumChildren: s.NumChildren, Pzxid: int64(s.Pzxid)}
}

func statFromJute(s *jute.Stat) model.Stat {
	return model.Stat{Czxid: model.Zxid(s.Czxid), Mzxid: model.Zxid(s.Mzxid), Ctime: s.Ctime, Mtime: s.Mtime,
		Version: s.Version, Cversion: s.Cversion, Aversion: s.Aversion, EphemeralOwner: s.EphemeralOwner,
		DataLength: s.DataLength, NumChildren: s.NumChildren, Pzxid: model.Zxid(s.Pzxid)}
}
