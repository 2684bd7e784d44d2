package jute

import "fmt"

// Opcodes (ZooDefs.OpCode) that the multi framing itself needs: it picks
// each op's record by its type.
const (
	OpError           int32 = -1
	OpCreate          int32 = 1
	OpDelete          int32 = 2
	OpGetData         int32 = 4
	OpSetData         int32 = 5
	OpGetChildren     int32 = 8
	OpCheck           int32 = 13
	OpCreate2         int32 = 15
	OpCreateContainer int32 = 19
	OpCreateTTL       int32 = 21
)

// MultiOp is one op of a MultiRequest: its type and the fields of its
// request record (CreateRequest for create, create2 and createContainer;
// CreateTTLRequest for createTTL; DeleteRequest; SetDataRequest;
// CheckVersionRequest; GetChildrenRequest; GetDataRequest). Fields the
// type's record does not have are ignored.
type MultiOp struct {
	Type    int32
	Path    string
	Data    []byte
	ACL     []ACL
	Flags   int32
	TTL     int64
	Version int32
	Watch   bool
}

// IsRead reports the ops of a multiRead (getData and getChildren).
func (op *MultiOp) IsRead() bool { return op.Type == OpGetData || op.Type == OpGetChildren }

// MultiRequest is MultiOperationRecord: for each op a MultiHeader{type,
// false, -1} and the op's record, then MultiHeader{-1, true, -1}. All ops
// are writes (multi) or all are reads (multiRead); mixing them is refused,
// as ZooKeeper refuses it.
type MultiRequest struct {
	Ops []MultiOp
}

func (v *MultiRequest) Append(dst []byte) []byte {
	for i := range v.Ops {
		op := &v.Ops[i]
		dst = (&MultiHeader{Type: op.Type, Done: false, Err: -1}).Append(dst)
		switch op.Type {
		case OpCreate, OpCreate2, OpCreateContainer:
			dst = (&CreateRequest{Path: op.Path, Data: op.Data, ACL: op.ACL, Flags: op.Flags}).Append(dst)
		case OpCreateTTL:
			dst = (&CreateTTLRequest{Path: op.Path, Data: op.Data, ACL: op.ACL, Flags: op.Flags, TTL: op.TTL}).Append(dst)
		case OpDelete, OpCheck:
			dst = (&PathVersion{Path: op.Path, Version: op.Version}).Append(dst)
		case OpSetData:
			dst = (&SetDataRequest{Path: op.Path, Data: op.Data, Version: op.Version}).Append(dst)
		case OpGetData, OpGetChildren:
			dst = (&PathWatch{Path: op.Path, Watch: op.Watch}).Append(dst)
		default:
			// MultiOperationRecord.serialize throws "Invalid type of op".
			panic(fmt.Sprintf("jute: multi op of type %d", op.Type))
		}
	}
	return (&MultiHeader{Type: -1, Done: true, Err: -1}).Append(dst)
}

// Decode reads the ops in two passes: the first counts them (and checks
// the whole list), the second fills a slice of exactly that size, so that
// a frame of tiny ops cannot make the slice grow past a few times the
// frame.
func (v *MultiRequest) Decode(r *Reader) {
	v.Ops = nil
	start := r.off
	n := v.decode(r, nil)
	if r.err != nil || n == 0 {
		return
	}
	r.off = start
	ops := make([]MultiOp, 0, n)
	v.decode(r, &ops)
	v.Ops = ops
}

// decode reads the list, appending to out when it is not nil, and returns
// the number of ops.
func (v *MultiRequest) decode(r *Reader, out *[]MultiOp) int {
	n, read := 0, false
	var h MultiHeader
	for h.Decode(r); r.err == nil && !h.Done; h.Decode(r) {
		op := MultiOp{Type: h.Type}
		switch h.Type {
		case OpCreate, OpCreate2, OpCreateContainer:
			var c CreateRequest
			c.Decode(r)
			op.Path, op.Data, op.ACL, op.Flags = c.Path, c.Data, c.ACL, c.Flags
		case OpCreateTTL:
			var c CreateTTLRequest
			c.Decode(r)
			op.Path, op.Data, op.ACL, op.Flags, op.TTL = c.Path, c.Data, c.ACL, c.Flags, c.TTL
		case OpDelete, OpCheck:
			var d PathVersion
			d.Decode(r)
			op.Path, op.Version = d.Path, d.Version
		case OpSetData:
			var s SetDataRequest
			s.Decode(r)
			op.Path, op.Data, op.Version = s.Path, s.Data, s.Version
		case OpGetData, OpGetChildren:
			var g PathWatch
			g.Decode(r)
			op.Path, op.Watch = g.Path, g.Watch
		default:
			r.Fail(fmt.Errorf("jute: invalid type of op %d in a multi", h.Type))
			return 0
		}
		if n > 0 && read != op.IsRead() {
			r.Fail(fmt.Errorf("jute: a multi mixes read and write ops"))
			return 0
		}
		read = op.IsRead()
		n++
		if out != nil {
			*out = append(*out, op)
		}
	}
	return n
}

// MultiResult is one result of a MultiResponse: its type and the fields
// of its response record (CreateResponse for create, Create2Response for
// create2, nothing for delete and check, SetDataResponse for setData,
// GetChildrenResponse, GetDataResponse, ErrorResponse for error).
type MultiResult struct {
	Type     int32
	Err      int32 // error results only
	Path     string
	Stat     Stat
	Data     []byte
	Children []string
}

// MultiResponse is ZooKeeper's MultiResponse: for each result a
// MultiHeader{type, false, err} (err is the error result's code, else 0)
// and the result's record, then MultiHeader{-1, true, -1}.
type MultiResponse struct {
	Results []MultiResult
}

func (v *MultiResponse) Append(dst []byte) []byte {
	for i := range v.Results {
		res := &v.Results[i]
		var err int32
		if res.Type == OpError {
			err = res.Err
		}
		dst = (&MultiHeader{Type: res.Type, Done: false, Err: err}).Append(dst)
		switch res.Type {
		case OpCreate:
			dst = AppendUString(dst, res.Path)
		case OpCreate2:
			dst = (&Create2Response{Path: res.Path, Stat: res.Stat}).Append(dst)
		case OpDelete, OpCheck:
		case OpSetData:
			dst = res.Stat.Append(dst)
		case OpGetChildren:
			dst = AppendStrings(dst, res.Children)
		case OpGetData:
			dst = (&GetDataResponse{Data: res.Data, Stat: res.Stat}).Append(dst)
		case OpError:
			dst = AppendInt(dst, res.Err)
		default:
			// MultiResponse.serialize throws "Invalid type ... in MultiResponse".
			panic(fmt.Sprintf("jute: multi result of type %d", res.Type))
		}
	}
	return (&MultiHeader{Type: -1, Done: true, Err: -1}).Append(dst)
}

// Decode reads the results in two passes, as MultiRequest.Decode does.
func (v *MultiResponse) Decode(r *Reader) {
	v.Results = nil
	start := r.off
	n := v.decode(r, nil)
	if r.err != nil || n == 0 {
		return
	}
	r.off = start
	results := make([]MultiResult, 0, n)
	v.decode(r, &results)
	v.Results = results
}

func (v *MultiResponse) decode(r *Reader, out *[]MultiResult) int {
	n := 0
	var h MultiHeader
	for h.Decode(r); r.err == nil && !h.Done; h.Decode(r) {
		res := MultiResult{Type: h.Type}
		switch h.Type {
		case OpCreate:
			res.Path = r.UString()
		case OpCreate2:
			var c Create2Response
			c.Decode(r)
			res.Path, res.Stat = c.Path, c.Stat
		case OpDelete, OpCheck:
		case OpSetData:
			res.Stat.Decode(r)
		case OpGetChildren:
			res.Children = r.Strings()
		case OpGetData:
			var g GetDataResponse
			g.Decode(r)
			res.Data, res.Stat = g.Data, g.Stat
		case OpError:
			res.Err = r.Int()
		default:
			r.Fail(fmt.Errorf("jute: invalid type %d in a multi response", h.Type))
			return 0
		}
		n++
		if out != nil {
			*out = append(*out, res)
		}
	}
	return n
}
