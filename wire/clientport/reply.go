package clientport

import (
	"fmt"

	"zoosim/model"
	"zoosim/wire"
	"zoosim/wire/jute"
)

// appendReply appends ReplyHeader and the response record that answers op,
// as ZooKeeper's FinalRequestProcessor writes them.
func appendReply(dst []byte, op model.OpCode, rp *wire.Reply) ([]byte, error) {
	hdr := jute.ReplyHeader{Xid: rp.Xid, Zxid: int64(rp.Zxid), Err: int32(rp.Err)}
	switch {
	case op == model.OpMulti && (rp.Err == model.ErrOK || len(rp.Multi) > 0):
		// A multi that ran reports its failure in the results.
		results := make([]jute.MultiResult, len(rp.Multi))
		for i := range rp.Multi {
			res, err := multiResultToJute(&rp.Multi[i])
			if err != nil {
				return dst, err
			}
			results[i] = res
		}
		hdr.Err = 0
		dst = hdr.Append(dst)
		return (&jute.MultiResponse{Results: results}).Append(dst), nil
	case rp.Err != model.ErrOK:
		return hdr.Append(dst), nil
	}
	dst = hdr.Append(dst)
	switch op {
	case model.OpCreate:
		return (&jute.CreateResponse{Path: rp.Path}).Append(dst), nil
	case model.OpCreate2, model.OpCreateContainer, model.OpCreateTTL:
		return (&jute.Create2Response{Path: rp.Path, Stat: statToJute(&rp.Stat)}).Append(dst), nil
	case model.OpSetData, model.OpSetACL, model.OpCheck, model.OpExists:
		st := statToJute(&rp.Stat)
		return st.Append(dst), nil
	case model.OpGetData:
		return (&jute.GetDataResponse{Data: rp.Data, Stat: statToJute(&rp.Stat)}).Append(dst), nil
	case model.OpGetACL:
		return (&jute.GetACLResponse{ACL: aclToJute(rp.ACL), Stat: statToJute(&rp.Stat)}).Append(dst), nil
	case model.OpGetChildren, model.OpGetEphemerals:
		return jute.AppendStrings(dst, rp.Children), nil
	case model.OpGetChildren2:
		return (&jute.GetChildren2Response{Children: rp.Children, Stat: statToJute(&rp.Stat)}).Append(dst), nil
	case model.OpSync:
		return (&jute.SyncResponse{Path: rp.Path}).Append(dst), nil
	case model.OpGetAllChildrenNumber:
		return jute.AppendInt(dst, rp.Number), nil
	case model.OpAddWatch:
		return jute.AppendInt(dst, 0), nil // ErrorResponse{0}
	case model.OpMultiRead:
		results := make([]jute.MultiResult, len(rp.Reads))
		for i := range rp.Reads {
			res, err := readResultToJute(&rp.Reads[i])
			if err != nil {
				return dst, err
			}
			results[i] = res
		}
		return (&jute.MultiResponse{Results: results}).Append(dst), nil
	case model.OpWhoAmI:
		w := jute.WhoAmIResponse{ClientInfo: make([]jute.ClientInfo, len(rp.Clients))}
		for i, c := range rp.Clients {
			w.ClientInfo[i] = jute.ClientInfo{AuthScheme: c.Scheme, User: c.User}
		}
		return w.Append(dst), nil
	}
	// delete, closeSession, setWatches(2), checkWatches, removeWatches,
	// auth and the ops zoosim does not serve: the header alone.
	return dst, nil
}

// decodeReply reads the response record that answers op.
func decodeReply(h *jute.ReplyHeader, op model.OpCode, r *jute.Reader) (*wire.Reply, error) {
	rp := &wire.Reply{Xid: h.Xid, Zxid: model.Zxid(h.Zxid), Err: model.Err(h.Err)}
	if op == model.OpMulti && h.Err == 0 {
		var m jute.MultiResponse
		m.Decode(r)
		if err := r.Err(); err != nil {
			return nil, err
		}
		if len(m.Results) > 0 {
			rp.Multi = make([]wire.OpResult, len(m.Results))
		}
		for i := range m.Results {
			res, err := multiResultFromJute(&m.Results[i])
			if err != nil {
				return nil, err
			}
			rp.Multi[i] = res
			if rp.Err == model.ErrOK {
				// ZooKeeper's client throws the first failed op's code.
				rp.Err = res.Err
			}
		}
		return rp, nil
	}
	if h.Err != 0 {
		return rp, nil
	}
	switch op {
	case model.OpCreate:
		rp.Path = r.UString()
	case model.OpCreate2, model.OpCreateContainer, model.OpCreateTTL:
		var c jute.Create2Response
		c.Decode(r)
		rp.Path, rp.Stat = c.Path, statFromJute(&c.Stat)
	case model.OpSetData, model.OpSetACL, model.OpCheck, model.OpExists:
		var st jute.Stat
		st.Decode(r)
		rp.Stat = statFromJute(&st)
	case model.OpGetData:
		var g jute.GetDataResponse
		g.Decode(r)
		rp.Data, rp.Stat = g.Data, statFromJute(&g.Stat)
	case model.OpGetACL:
		var g jute.GetACLResponse
		g.Decode(r)
		rp.ACL, rp.Stat = aclFromJute(g.ACL), statFromJute(&g.Stat)
	case model.OpGetChildren, model.OpGetEphemerals:
		rp.Children = r.Strings()
	case model.OpGetChildren2:
		var g jute.GetChildren2Response
		g.Decode(r)
		rp.Children, rp.Stat = g.Children, statFromJute(&g.Stat)
	case model.OpSync:
		rp.Path = r.UString()
	case model.OpGetAllChildrenNumber:
		rp.Number = r.Int()
	case model.OpAddWatch:
		r.Int() // ErrorResponse, always 0
	case model.OpWhoAmI:
		var w jute.WhoAmIResponse
		w.Decode(r)
		for _, c := range w.ClientInfo {
			rp.Clients = append(rp.Clients, wire.ClientInfo{Scheme: c.AuthScheme, User: c.User})
		}
	case model.OpMultiRead:
		var m jute.MultiResponse
		m.Decode(r)
		if err := r.Err(); err != nil {
			return nil, err
		}
		if len(m.Results) > 0 {
			rp.Reads = make([]wire.ReadResult, len(m.Results))
		}
		for i := range m.Results {
			res, err := readResultFromJute(&m.Results[i])
			if err != nil {
				return nil, err
			}
			rp.Reads[i] = res
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return rp, nil
}

// multiResultToJute follows FinalRequestProcessor: a failed multi reports
// every op as an error result (0 before the failing op), a plain create
// its path, container and TTL creates (and create2) a create2 result.
func multiResultToJute(res *wire.OpResult) (jute.MultiResult, error) {
	if res.Op == model.OpError || res.Err != model.ErrOK {
		return jute.MultiResult{Type: jute.OpError, Err: int32(res.Err)}, nil
	}
	switch res.Op {
	case model.OpCreate:
		return jute.MultiResult{Type: jute.OpCreate, Path: res.Path}, nil
	case model.OpCreate2, model.OpCreateContainer, model.OpCreateTTL:
		return jute.MultiResult{Type: jute.OpCreate2, Path: res.Path, Stat: statToJute(&res.Stat)}, nil
	case model.OpDelete, model.OpDeleteContainer:
		return jute.MultiResult{Type: jute.OpDelete}, nil
	case model.OpCheck:
		return jute.MultiResult{Type: jute.OpCheck}, nil
	case model.OpSetData:
		return jute.MultiResult{Type: jute.OpSetData, Stat: statToJute(&res.Stat)}, nil
	}
	return jute.MultiResult{}, fmt.Errorf("a multi result of op %d", res.Op)
}

func multiResultFromJute(res *jute.MultiResult) (wire.OpResult, error) {
	switch res.Type {
	case jute.OpError:
		return wire.OpResult{Op: model.OpError, Err: model.Err(res.Err)}, nil
	case jute.OpCreate:
		return wire.OpResult{Op: model.OpCreate, Path: res.Path}, nil
	case jute.OpCreate2:
		return wire.OpResult{Op: model.OpCreate2, Path: res.Path, Stat: statFromJute(&res.Stat)}, nil
	case jute.OpDelete:
		return wire.OpResult{Op: model.OpDelete}, nil
	case jute.OpCheck:
		return wire.OpResult{Op: model.OpCheck}, nil
	case jute.OpSetData:
		return wire.OpResult{Op: model.OpSetData, Stat: statFromJute(&res.Stat)}, nil
	}
	return wire.OpResult{}, fmt.Errorf("a multi reply holds a result of type %d", res.Type)
}

func readResultToJute(res *wire.ReadResult) (jute.MultiResult, error) {
	switch res.Op {
	case model.OpError:
		return jute.MultiResult{Type: jute.OpError, Err: int32(res.Err)}, nil
	case model.OpGetData:
		return jute.MultiResult{Type: jute.OpGetData, Data: res.Data, Stat: statToJute(&res.Stat)}, nil
	case model.OpGetChildren:
		return jute.MultiResult{Type: jute.OpGetChildren, Children: res.Children}, nil
	}
	return jute.MultiResult{}, fmt.Errorf("a multiRead result of op %d", res.Op)
}

func readResultFromJute(res *jute.MultiResult) (wire.ReadResult, error) {
	switch res.Type {
	case jute.OpError:
		return wire.ReadResult{Op: model.OpError, Err: model.Err(res.Err)}, nil
	case jute.OpGetData:
		return wire.ReadResult{Op: model.OpGetData, Data: res.Data, Stat: statFromJute(&res.Stat)}, nil
	case jute.OpGetChildren:
		return wire.ReadResult{Op: model.OpGetChildren, Children: res.Children}, nil
	}
	return wire.ReadResult{}, fmt.Errorf("a multiRead reply holds a result of type %d", res.Type)
}
