// Package clientport is the byte side of ZooKeeper's client port. It maps
// the wire values that zoosim's server and client exchange to ZooKeeper's
// jute frames (wire/jute) and back, so that a real ZooKeeper client can talk
// to a zoosim server and zoosim's client to a real ZooKeeper server.
//
// A connection has one codec per side: ServerConn on the server (it decodes
// the client's frames and encodes the server's messages) and ClientConn on
// the client (the mirror). Each is a small pure state machine: it remembers
// whether the connect exchange happened, whether the client sent the
// optional readOnly flag, and the opcode of every request not answered yet
// (jute replies carry only the xid, and the reply record depends on the
// opcode). It also numbers what it decodes (wire.Header), as the simulated
// network's framing expects. It never does I/O: the real driver reads
// frames (jute.NewFramer), calls Decode, hands the value to the core, and
// writes what Append returns.
//
// What ZooKeeper does and this package follows (Apache ZooKeeper 3.8,
// FinalRequestProcessor and ZooKeeperServer):
//   - a reply with a non-zero error code has no body; a multi reply always
//     has one (header error 0, each op's result in the body), unless the
//     whole multi was refused (then header error, no body);
//   - create answers CreateResponse; create2, createContainer and createTTL
//     answer Create2Response; check answers SetDataResponse; addWatch
//     answers ErrorResponse{0}; inside a multi, container and TTL creates
//     report a create2 result;
//   - a watch notification is ReplyHeader{-1, zxid, 0} + WatcherEvent and a
//     ping reply ReplyHeader{-2, zxid, 0}. ZooKeeper 3.8 writes -1 as the
//     notification's zxid and 3.9 the txn's zxid; this package writes the
//     txn's zxid (wire.Event.Zxid), which ZooKeeper's clients ignore;
//   - the ConnectResponse carries the readOnly flag only if the client's
//     ConnectRequest did.
//
// A frame that does not decode (a bad header, a body that does not parse,
// an opcode a client may not send) is an error wrapping ErrProtocol: the
// driver closes the connection. (ZooKeeper answers an unparsable body with
// MarshallingError and keeps the connection; answering from the driver
// would overtake the replies the server still owes, so a close is the safe
// answer here.) Opcodes ZooKeeper knows but zoosim does not serve
// (reconfig, sasl, whoAmI) and unknown ones decode to a bare wire.Request,
// which the server answers with Unimplemented.
package clientport

import (
	"errors"
	"fmt"

	"zoosim/internal/frame"
	"zoosim/model"
	"zoosim/wire"
	"zoosim/wire/jute"
)

// ErrProtocol is wrapped by every error that means the connection must be
// closed: a malformed frame, a reply to no request, an unknown message.
var ErrProtocol = errors.New("clientport: protocol error")

// ErrClose is what Append returns for a *wire.Close: it has no bytes; the
// driver closes the connection.
var ErrClose = errors.New("clientport: close the connection")

// MaxPending bounds the requests a connection may have outstanding. Past it
// Decode (server side) and Append (client side) fail with ErrProtocol;
// zoosim's server closes a connection long before (its MaxQueuedPerConn).
const MaxPending = 1 << 14

// maxOutFrame bounds the frames Append writes. ZooKeeper's clients refuse
// frames over their own jute.maxbuffer; the server does not check what it
// sends, and neither does this package below the jute int's range.
const maxOutFrame = 1<<31 - 1

func protocolErr(format string, args ...any) error {
	return fmt.Errorf("clientport: %s: %w", fmt.Sprintf(format, args...), ErrProtocol)
}

// pendingOps is the FIFO of a connection's unanswered requests. Replies
// come in request order, so the match is almost always at the head.
type pendingOps struct {
	q    []pendingOp
	head int
}

type pendingOp struct {
	xid int32
	op  model.OpCode
}

func (p *pendingOps) len() int { return len(p.q) - p.head }

func (p *pendingOps) push(xid int32, op model.OpCode) error {
	if p.len() >= MaxPending {
		return protocolErr("more than %d requests outstanding", MaxPending)
	}
	if p.head > 0 && p.head == len(p.q) {
		p.q, p.head = p.q[:0], 0
	}
	p.q = append(p.q, pendingOp{xid: xid, op: op})
	return nil
}

// take removes the oldest request with this xid and returns its opcode.
func (p *pendingOps) take(xid int32) (model.OpCode, bool) {
	for i := p.head; i < len(p.q); i++ {
		if p.q[i].xid != xid {
			continue
		}
		op := p.q[i].op
		if i == p.head {
			p.head++
		} else {
			copy(p.q[i:], p.q[i+1:])
			p.q = p.q[:len(p.q)-1]
		}
		if p.head >= 1024 && p.head*2 >= len(p.q) {
			n := copy(p.q, p.q[p.head:])
			p.q, p.head = p.q[:n], 0
		}
		return op, true
	}
	return 0, false
}

// ServerConn is the server's side of one client connection.
type ServerConn struct {
	nonce     uint64
	recvSeq   uint64
	connected bool
	oldClient bool
	pending   pendingOps
}

// NewServerConn starts a connection. The nonce names it in the wire.Header
// of every message Decode returns; it must be non-zero and unique among the
// server's connections (zoosim's server keys connections by it).
func NewServerConn(nonce uint64) *ServerConn {
	if nonce == 0 {
		panic("clientport: a connection nonce must not be 0")
	}
	return &ServerConn{nonce: nonce}
}

// Outstanding is the number of requests decoded and not yet answered.
func (c *ServerConn) Outstanding() int { return c.pending.len() }

func (c *ServerConn) header() wire.Header {
	c.recvSeq++
	return wire.Header{Conn: c.nonce, Seq: c.recvSeq}
}

// Decode turns one frame from the client (without its length prefix) into
// the message the server's Step takes: *wire.Connect for the first frame,
// then *wire.Request or *wire.Ping.
func (c *ServerConn) Decode(frame []byte) (any, error) {
	var r jute.Reader
	r.Reset(frame)
	if !c.connected {
		var cr jute.ConnectRequest
		cr.Decode(&r)
		if err := r.Err(); err != nil {
			return nil, protocolErr("connect request: %v", err)
		}
		c.connected, c.oldClient = true, cr.OldClient
		return &wire.Connect{
			Header:          c.header(),
			ProtocolVersion: cr.ProtocolVersion,
			LastZxidSeen:    model.Zxid(cr.LastZxidSeen),
			TimeoutMs:       cr.TimeOut,
			SessionID:       cr.SessionID,
			Passwd:          cr.Passwd,
			ReadOnly:        cr.ReadOnly,
		}, nil
	}
	var h jute.RequestHeader
	h.Decode(&r)
	if err := r.Err(); err != nil {
		return nil, protocolErr("request header: %v", err)
	}
	op := model.OpCode(h.Type)
	if op == model.OpPing {
		return &wire.Ping{Header: c.header()}, nil
	}
	req, err := decodeRequest(h.Xid, op, &r)
	if err != nil {
		return nil, protocolErr("request xid %d op %d: %v", h.Xid, h.Type, err)
	}
	if err := c.pending.push(h.Xid, op); err != nil {
		return nil, err
	}
	req.Header = c.header()
	return req, nil
}

// Append appends the frame (length prefix included) of a message the server
// sends this client: *wire.Connected, *wire.Reply, *wire.Event or
// *wire.Pong. A *wire.Close gives ErrClose. On error dst comes back as it
// was.
func (c *ServerConn) Append(dst []byte, body any) ([]byte, error) {
	out, start := frame.Begin(dst)
	var err error
	switch m := body.(type) {
	case *wire.Connected:
		out = (&jute.ConnectResponse{
			ProtocolVersion: m.ProtocolVersion,
			TimeOut:         m.TimeoutMs,
			SessionID:       m.SessionID,
			Passwd:          m.Passwd,
			ReadOnly:        m.ReadOnly,
			OldClient:       c.oldClient,
		}).Append(out)
	case *wire.Reply:
		op, ok := c.pending.take(m.Xid)
		if !ok {
			return dst, protocolErr("reply to xid %d, which no request outstanding has", m.Xid)
		}
		out, err = appendReply(out, op, m)
	case *wire.Event:
		out = (&jute.ReplyHeader{Xid: wire.XidNotification, Zxid: int64(m.Zxid)}).Append(out)
		out = (&jute.WatcherEvent{Type: int32(m.Type), State: int32(m.State), Path: m.Path}).Append(out)
	case *wire.Pong:
		out = (&jute.ReplyHeader{Xid: wire.XidPing, Zxid: int64(m.Zxid)}).Append(out)
	case *wire.Close:
		return dst, ErrClose
	default:
		return dst, protocolErr("a server does not send a %T to a client", body)
	}
	if err != nil {
		return dst, err
	}
	return frame.End(out, start, maxOutFrame)
}

// ClientConn is the client's side of one connection.
type ClientConn struct {
	nonce     uint64
	recvSeq   uint64
	connected bool
	pending   pendingOps
}

// NewClientConn starts a connection; nonce names it in the wire.Header of
// every message Decode returns (zoosim's client checks it).
func NewClientConn(nonce uint64) *ClientConn {
	if nonce == 0 {
		panic("clientport: a connection nonce must not be 0")
	}
	return &ClientConn{nonce: nonce}
}

// Outstanding is the number of requests sent and not yet answered.
func (c *ClientConn) Outstanding() int { return c.pending.len() }

func (c *ClientConn) header() wire.Header {
	c.recvSeq++
	return wire.Header{Conn: c.nonce, Seq: c.recvSeq}
}

// Append appends the frame (length prefix included) of a message the client
// sends: *wire.Connect (first), then *wire.Request or *wire.Ping. A
// *wire.Close gives ErrClose. The connect always carries the readOnly flag,
// as every ZooKeeper client since 3.3 does.
func (c *ClientConn) Append(dst []byte, body any) ([]byte, error) {
	out, start := frame.Begin(dst)
	switch m := body.(type) {
	case *wire.Connect:
		out = (&jute.ConnectRequest{
			ProtocolVersion: m.ProtocolVersion,
			LastZxidSeen:    int64(m.LastZxidSeen),
			TimeOut:         m.TimeoutMs,
			SessionID:       m.SessionID,
			Passwd:          m.Passwd,
			ReadOnly:        m.ReadOnly,
		}).Append(out)
	case *wire.Request:
		var err error
		out = (&jute.RequestHeader{Xid: m.Xid, Type: int32(m.Op)}).Append(out)
		if out, err = appendRequest(out, m); err != nil {
			return dst, protocolErr("request xid %d op %d: %v", m.Xid, m.Op, err)
		}
		if c.pending.len() >= MaxPending {
			return dst, protocolErr("more than %d requests outstanding", MaxPending)
		}
		out, err = frame.End(out, start, jute.MaxBuffer)
		if err != nil {
			return dst, err
		}
		return out, c.pending.push(m.Xid, m.Op)
	case *wire.Ping:
		out = (&jute.RequestHeader{Xid: wire.XidPing, Type: int32(model.OpPing)}).Append(out)
	case *wire.Close:
		return dst, ErrClose
	default:
		return dst, protocolErr("a client does not send a %T to a server", body)
	}
	return frame.End(out, start, jute.MaxBuffer)
}

// Decode turns one frame from the server (without its length prefix) into
// what the client's Step takes: *wire.Connected for the first frame, then
// *wire.Reply, *wire.Event or *wire.Pong.
func (c *ClientConn) Decode(frame []byte) (any, error) {
	var r jute.Reader
	r.Reset(frame)
	if !c.connected {
		var cr jute.ConnectResponse
		cr.Decode(&r)
		if err := r.Err(); err != nil {
			return nil, protocolErr("connect response: %v", err)
		}
		c.connected = true
		return &wire.Connected{
			Header:          c.header(),
			ProtocolVersion: cr.ProtocolVersion,
			TimeoutMs:       cr.TimeOut,
			SessionID:       cr.SessionID,
			Passwd:          cr.Passwd,
			ReadOnly:        cr.ReadOnly,
		}, nil
	}
	var h jute.ReplyHeader
	h.Decode(&r)
	if err := r.Err(); err != nil {
		return nil, protocolErr("reply header: %v", err)
	}
	switch h.Xid {
	case wire.XidNotification:
		var ev jute.WatcherEvent
		ev.Decode(&r)
		if err := r.Err(); err != nil {
			return nil, protocolErr("watcher event: %v", err)
		}
		return &wire.Event{Header: c.header(), Type: model.EventType(ev.Type), State: wire.KeeperState(ev.State),
			Path: ev.Path, Zxid: model.Zxid(h.Zxid)}, nil
	case wire.XidPing:
		return &wire.Pong{Header: c.header(), Zxid: model.Zxid(h.Zxid)}, nil
	}
	op, ok := c.pending.take(h.Xid)
	if !ok {
		return nil, protocolErr("reply to xid %d, which no request outstanding has", h.Xid)
	}
	rp, err := decodeReply(&h, op, &r)
	if err != nil {
		return nil, protocolErr("reply xid %d op %d: %v", h.Xid, op, err)
	}
	rp.Header = c.header()
	return rp, nil
}
