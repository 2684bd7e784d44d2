package server

import (
	"fmt"
	"reflect"

	"zoosim/model"
	"zoosim/node/codec"
)

// The server's payloads relayed between servers on the engine's
// leader-follower channel, each with its peer codec.
const (
	TagForward codec.Tag = codec.ServerTags + 1 + iota
	TagSyncRequest
	TagSyncResponse
	TagTouch
	TagRevalidate
	TagRevalidateResponse
)

// RegisterCodecs registers the peer codec of every payload the server
// relays (Forward, SyncRequest, SyncResponse, Touch, Revalidate,
// RevalidateResponse).
func RegisterCodecs(r *codec.Registry) error {
	for _, c := range []codec.Codec{
		// Forward v2 carries the connection's identities after the
		// request; a v1 message decodes with none (world:anyone).
		{Tag: TagForward, Name: "server.Forward", Version: 2, Type: reflect.TypeFor[*Forward](),
			Append: func(w *codec.Writer, b any) {
				f := b.(*Forward)
				w.I64(f.Session)
				w.I32(f.Cxid)
				appendRequest(w, f.Req, 0)
				w.Len(len(f.Auth), f.Auth == nil)
				for _, id := range f.Auth {
					w.String(id.Scheme)
					w.String(id.ID)
				}
			},
			Decode: func(r *codec.Reader, version uint8) any {
				f := &Forward{Session: r.I64(), Cxid: r.I32(), Req: decodeRequest(r, 0)}
				if version >= 2 {
					n, isNil := r.Len(authIDMinSize)
					if !isNil && r.Err() == nil {
						f.Auth = make([]model.AuthID, n)
						for i := range f.Auth {
							f.Auth[i] = model.AuthID{Scheme: r.String(), ID: r.String()}
						}
					}
				}
				return f
			}},
		{Tag: TagSyncRequest, Name: "server.SyncRequest", Version: 1, Type: reflect.TypeFor[*SyncRequest](),
			Append: func(w *codec.Writer, b any) {
				s := b.(*SyncRequest)
				w.I64(s.Session)
				w.I32(s.Xid)
			},
			Decode: func(r *codec.Reader, _ uint8) any { return &SyncRequest{Session: r.I64(), Xid: r.I32()} }},
		{Tag: TagSyncResponse, Name: "server.SyncResponse", Version: 1, Type: reflect.TypeFor[*SyncResponse](),
			Append: func(w *codec.Writer, b any) {
				s := b.(*SyncResponse)
				w.I64(s.Session)
				w.I32(s.Xid)
				w.I64(int64(s.Zxid))
			},
			Decode: func(r *codec.Reader, _ uint8) any {
				return &SyncResponse{Session: r.I64(), Xid: r.I32(), Zxid: model.Zxid(r.I64())}
			}},
		{Tag: TagTouch, Name: "server.Touch", Version: 1, Type: reflect.TypeFor[*Touch](),
			Append: func(w *codec.Writer, b any) {
				t := b.(*Touch)
				w.Len(len(t.Sessions), t.Sessions == nil)
				for _, s := range t.Sessions {
					w.I64(s)
				}
			},
			Decode: func(r *codec.Reader, _ uint8) any {
				n, isNil := r.Len(8)
				t := &Touch{}
				if !isNil {
					t.Sessions = make([]int64, n)
				}
				for i := range t.Sessions {
					t.Sessions[i] = r.I64()
				}
				return t
			}},
		// Revalidate v2 carries the password the client showed; a v1
		// message decodes with a zero password, which no session has.
		{Tag: TagRevalidate, Name: "server.Revalidate", Version: 2, Type: reflect.TypeFor[*Revalidate](),
			Append: func(w *codec.Writer, b any) {
				v := b.(*Revalidate)
				w.I64(v.Session)
				w.U64(v.Conn)
				w.Bytes(v.Passwd[:])
			},
			Decode: func(r *codec.Reader, version uint8) any {
				v := &Revalidate{Session: r.I64(), Conn: r.U64()}
				if version >= 2 {
					decodePasswd(r, &v.Passwd)
				}
				return v
			}},
		{Tag: TagRevalidateResponse, Name: "server.RevalidateResponse", Version: 1, Type: reflect.TypeFor[*RevalidateResponse](),
			Append: func(w *codec.Writer, b any) {
				v := b.(*RevalidateResponse)
				w.I64(v.Session)
				w.U64(v.Conn)
				w.I32(v.TimeoutMs)
			},
			Decode: func(r *codec.Reader, _ uint8) any {
				return &RevalidateResponse{Session: r.I64(), Conn: r.U64(), TimeoutMs: r.I32()}
			}},
	} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// A forwarded model.Request is a kind byte and the request's fields. A
// Multi's ops are requests too, nested at most maxRequestDepth deep (the
// model refuses a nested multi, but a follower forwards what its client
// sent and the leader answers it).
const (
	reqNone uint8 = iota // a nil request: a linearizable read's barrier
	reqCreate
	reqDelete
	reqSetData
	reqCheck
	reqSetACL
	reqMulti
	reqCreateSession // without its password (the first layout); still decoded
	reqCloseSession
	reqDeleteContainer
	reqCreateSessionPasswd
)

const maxRequestDepth = 4

// aclMinSize is the smallest encoding of an ACL: perms and two lengths.
const aclMinSize = 12

// authIDMinSize is the smallest encoding of an identity: two lengths.
const authIDMinSize = 8

func appendRequest(w *codec.Writer, req model.Request, depth int) {
	switch q := req.(type) {
	case nil:
		w.U8(reqNone)
	case model.Create:
		w.U8(reqCreate)
		w.String(q.Path)
		w.Bytes(q.Data)
		appendPeerACL(w, q.ACL)
		w.I32(int32(q.Mode))
		w.I64(q.TTL)
	case model.Delete:
		w.U8(reqDelete)
		w.String(q.Path)
		w.I32(q.Version)
	case model.SetData:
		w.U8(reqSetData)
		w.String(q.Path)
		w.Bytes(q.Data)
		w.I32(q.Version)
	case model.Check:
		w.U8(reqCheck)
		w.String(q.Path)
		w.I32(q.Version)
	case model.SetACL:
		w.U8(reqSetACL)
		w.String(q.Path)
		appendPeerACL(w, q.ACL)
		w.I32(q.Version)
	case model.Multi:
		if depth >= maxRequestDepth {
			w.Fail(fmt.Errorf("server: multis nested deeper than %d", maxRequestDepth))
			return
		}
		w.U8(reqMulti)
		w.Len(len(q.Ops), q.Ops == nil)
		for _, op := range q.Ops {
			appendRequest(w, op, depth+1)
		}
	case model.CreateSession:
		w.U8(reqCreateSessionPasswd)
		w.I32(q.TimeoutMs)
		w.Bytes(q.Passwd[:])
	case model.CloseSession:
		w.U8(reqCloseSession)
	case model.DeleteContainer:
		w.U8(reqDeleteContainer)
		w.String(q.Path)
	default:
		w.Fail(fmt.Errorf("server: cannot encode request %T", req))
	}
}

func decodeRequest(r *codec.Reader, depth int) model.Request {
	switch kind := r.U8(); kind {
	case reqNone:
		return nil
	case reqCreate:
		return model.Create{Path: r.String(), Data: r.Bytes(), ACL: decodePeerACL(r), Mode: model.CreateMode(r.I32()), TTL: r.I64()}
	case reqDelete:
		return model.Delete{Path: r.String(), Version: r.I32()}
	case reqSetData:
		return model.SetData{Path: r.String(), Data: r.Bytes(), Version: r.I32()}
	case reqCheck:
		return model.Check{Path: r.String(), Version: r.I32()}
	case reqSetACL:
		return model.SetACL{Path: r.String(), ACL: decodePeerACL(r), Version: r.I32()}
	case reqMulti:
		if depth >= maxRequestDepth {
			r.Fail(fmt.Errorf("multis nested deeper than %d", maxRequestDepth))
			return nil
		}
		n, isNil := r.Len(1)
		var m model.Multi
		if !isNil {
			m.Ops = make([]model.Request, n)
		}
		for i := range m.Ops {
			m.Ops[i] = decodeRequest(r, depth+1)
		}
		return m
	case reqCreateSession:
		return model.CreateSession{TimeoutMs: r.I32()}
	case reqCreateSessionPasswd:
		q := model.CreateSession{TimeoutMs: r.I32()}
		decodePasswd(r, &q.Passwd)
		return q
	case reqCloseSession:
		return model.CloseSession{}
	case reqDeleteContainer:
		return model.DeleteContainer{Path: r.String()}
	default:
		r.Fail(fmt.Errorf("request kind %d", kind))
		return nil
	}
}

// decodePasswd reads a session password written with Writer.Bytes.
func decodePasswd(r *codec.Reader, dst *[model.PasswdLen]byte) {
	b := r.Bytes()
	if r.Err() == nil && len(b) != model.PasswdLen {
		r.Fail(fmt.Errorf("session password of %d bytes", len(b)))
		return
	}
	copy(dst[:], b)
}

func appendPeerACL(w *codec.Writer, acl []model.ACL) {
	w.Len(len(acl), acl == nil)
	for _, a := range acl {
		w.I32(a.Perms)
		w.String(a.Scheme)
		w.String(a.ID)
	}
}

func decodePeerACL(r *codec.Reader) []model.ACL {
	n, isNil := r.Len(aclMinSize)
	if isNil || r.Err() != nil {
		return nil
	}
	acl := make([]model.ACL, n)
	for i := range acl {
		acl[i] = model.ACL{Perms: r.I32(), Scheme: r.String(), ID: r.String()}
	}
	return acl
}
