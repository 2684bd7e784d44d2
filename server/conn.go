package server

import (
	"fmt"
	"slices"
	"strings"

	"zoosim/model"
	"zoosim/node"
	"zoosim/wire"
)

// conn is one client connection (a TCP connection in ZooKeeper).
type conn struct {
	nonce    uint64
	client   node.ID
	session  int64
	watcher  model.WatcherID
	sendSeq  uint64
	recvSeq  uint64
	lastSeen model.Zxid // the zxid the client said it has seen, at connect
	replied  model.Zxid // the largest zxid a reply on this connection carried
	// passwd is the session's password: drawn for a new session, the one
	// the client showed for a resumed one.
	passwd [model.PasswdLen]byte
	// addr is the client's IP address ("" when the driver does not know
	// it); auth the identities the connection has proved (ServerCnxn's
	// authInfo: ip:addr from the start, then what addauth adds). auth is
	// copied on write: a pending request keeps the slice it arrived with.
	addr string
	auth []model.AuthID

	// creating: waiting for our createSession txn; revalidating: waiting
	// for the leader to confirm the session it resumes.
	creating, revalidating bool
	timeoutMs              int32
	lastHeard              node.Time

	// queue holds the connection's requests in arrival order. Requests are
	// answered strictly in order: a write or sync at the head blocks the
	// reads behind it until it completes.
	queue []*pending
}

type pending struct {
	req       *wire.Request
	auth      []model.AuthID // the connection's identities when it arrived
	submitted bool           // sent to the leader (write) or waiting for a sync
	syncZxid  model.Zxid     // a sync's target: answer once applied up to it
	synced    bool           // the sync's target is known
	readAfter bool           // ReadSynced: the read behind this sync
	barrier   bool           // ReadLinearizable: a read waiting for its barrier txn
}

func (c *conn) head() *pending {
	if len(c.queue) == 0 {
		return nil
	}
	return c.queue[0]
}

func (c *conn) pop() {
	c.queue[0] = nil
	c.queue = c.queue[1:]
}

func (s *Server) sendConn(c *conn, body any) {
	c.sendSeq++
	switch b := body.(type) {
	case *wire.Reply:
		b.Header = wire.Header{Conn: c.nonce, Seq: c.sendSeq}
	case *wire.Event:
		b.Header = wire.Header{Conn: c.nonce, Seq: c.sendSeq}
	case *wire.Connected:
		b.Header = wire.Header{Conn: c.nonce, Seq: c.sendSeq}
	case *wire.Pong:
		b.Header = wire.Header{Conn: c.nonce, Seq: c.sendSeq}
	default:
		panic("server: sendConn of an unframed message")
	}
	s.out = append(s.out, node.Message{From: s.id, To: c.client, Body: body})
}

func (s *Server) reply(c *conn, r *wire.Reply) {
	c.replied = max(c.replied, r.Zxid)
	s.sendConn(c, r)
}

// closeConn drops a connection; with a reason it tells the client.
func (s *Server) closeConn(c *conn, reason wire.CloseReason) {
	if s.byConn[c.nonce] != c {
		return
	}
	if reason != 0 {
		s.out = append(s.out, node.Message{From: s.id, To: c.client, Body: &wire.Close{Conn: c.nonce, Reason: reason}})
	}
	delete(s.byConn, c.nonce)
	if s.bySession[c.session] == c {
		delete(s.bySession, c.session)
	}
	delete(s.byWatcher, c.watcher)
	s.watches.RemoveWatcher(c.watcher)
	if i := slices.Index(s.conns, c); i >= 0 {
		s.conns = slices.Delete(s.conns, i, i+1)
	}
	if s.lead != nil {
		s.lead.dropLocalSyncs(c)
	}
	for id, w := range s.reads { // deleting only: the order cannot leak
		if w.conn == c {
			delete(s.reads, id)
		}
	}
}

func (s *Server) closeAllConns(reason wire.CloseReason) {
	for _, c := range slices.Clone(s.conns) {
		s.stats.ConnsClosedNotServing++
		s.closeConn(c, reason)
	}
}

// onConnect handles a ConnectRequest: a new session is a createSession txn;
// a resumed one must be known (and not ahead of us).
func (s *Server) onConnect(from node.ID, m *wire.Connect) {
	refuse := func(r wire.CloseReason) {
		s.out = append(s.out, node.Message{From: s.id, To: from, Body: &wire.Close{Conn: m.Conn, Reason: r}})
	}
	if m.Seq != 1 || m.Conn == 0 || s.byConn[m.Conn] != nil {
		return // a duplicate or a malformed connect
	}
	if !s.serving {
		refuse(wire.CloseNotServing)
		return
	}
	// ZooKeeper: "Refusing session request for client as it has seen zxid
	// ... our last zxid is ... client must try another server".
	if m.LastZxidSeen > s.tree.LastZxid() && !s.cfg.Bugs.ServeAheadClient {
		s.stats.ConnsRefusedBehind++
		refuse(wire.CloseBehind)
		return
	}
	if len(s.conns) >= s.cfg.MaxConnections || s.bug.Fire(BuggifyRefuseConnect, 100) {
		refuse(wire.CloseNotServing)
		return
	}
	s.nextWatcher++
	c := &conn{nonce: m.Conn, client: from, recvSeq: 1, lastHeard: s.now, lastSeen: m.LastZxidSeen, watcher: s.nextWatcher,
		addr: m.Addr}
	if m.Addr != "" {
		// NIOServerCnxn: every connection holds ip:<its address>.
		c.auth = []model.AuthID{{Scheme: model.SchemeIP, ID: m.Addr}}
	}
	c.timeoutMs = s.negotiate(m.TimeoutMs)
	s.conns = append(s.conns, c)
	s.byConn[c.nonce] = c
	s.byWatcher[c.watcher] = c

	if m.SessionID == 0 {
		// A new session: its id is this server's id in the top byte and
		// random bits below (ZooKeeper uses the id and the clock).
		c.session = int64(s.id)<<56 | int64(s.rnd.Uint64()&(1<<56-1))
		c.creating = true
		c.passwd = s.cfg.Passwd(c.session)
		s.takeOverSession(c)
		s.submitInternal(c, &wire.Request{Xid: 0, Op: model.OpCreateSession,
			Write: model.CreateSession{TimeoutMs: c.timeoutMs, Passwd: c.passwd}})
		return
	}
	c.session = m.SessionID
	if len(m.Passwd) != model.PasswdLen {
		s.expireConn(c)
		return
	}
	copy(c.passwd[:], m.Passwd)
	// The session table replicates every session's password, so a server
	// that knows the session checks it here; one that does not yet asks
	// the leader, which checks it with the session's liveness.
	if pw, known := s.tree.SessionPasswd(m.SessionID); known && pw != c.passwd {
		s.expireConn(c)
		return
	}
	s.takeOverSession(c)
	if timeout, ok := s.tree.SessionTimeoutMs(m.SessionID); ok && (s.lead == nil || s.lead.live(m.SessionID)) {
		c.timeoutMs = timeout
		s.touch(c.session)
		s.sendConn(c, &wire.Connected{TimeoutMs: c.timeoutMs, SessionID: c.session, Passwd: slices.Clone(c.passwd[:])})
		return
	}
	if s.lead != nil {
		s.expireConn(c)
		return
	}
	// Unknown here: this server may be behind the leader. Ask the leader,
	// as ZooKeeper's followers revalidate sessions.
	c.revalidating = true
	if !s.eng.Relay(s.leader, &Revalidate{Session: c.session, Conn: c.nonce, Passwd: c.passwd}) {
		s.closeConn(c, wire.CloseNotServing)
	}
}

// takeOverSession makes c the session's connection here; an older
// connection of the same session is closed.
func (s *Server) takeOverSession(c *conn) {
	if old := s.bySession[c.session]; old != nil && old != c {
		s.closeConn(old, wire.CloseBroken)
	}
	s.bySession[c.session] = c
}

// expireConn answers a connect for a session that no longer exists.
func (s *Server) expireConn(c *conn) {
	s.sendConn(c, &wire.Connected{TimeoutMs: 0})
	s.closeConn(c, wire.CloseSessionClosed)
}

func (s *Server) negotiate(requestedMs int32) int32 {
	t := node.Time(requestedMs) * node.Millisecond
	t = max(t, s.cfg.MinSessionTimeout)
	t = min(t, s.cfg.MaxSessionTimeout)
	return int32(t / node.Millisecond)
}

// frame checks a client message's connection and sequence number; a gap
// breaks the connection.
func (s *Server) frame(from node.ID, h wire.Header) *conn {
	c := s.byConn[h.Conn]
	if c == nil || c.client != from {
		return nil
	}
	if h.Seq != c.recvSeq+1 {
		if h.Seq > c.recvSeq {
			s.closeConn(c, wire.CloseBroken)
		}
		return nil
	}
	c.recvSeq = h.Seq
	c.lastHeard = s.now
	return c
}

func (s *Server) onPing(from node.ID, m *wire.Ping) {
	c := s.frame(from, m.Header)
	if c == nil {
		return
	}
	if !c.creating && !c.revalidating {
		s.touch(c.session)
	}
	s.sendConn(c, &wire.Pong{Zxid: s.tree.LastZxid()})
}

func (s *Server) onRequest(from node.ID, m *wire.Request) {
	c := s.frame(from, m.Header)
	if c == nil {
		return
	}
	if len(c.queue) >= s.cfg.MaxQueuedPerConn {
		// ZooKeeper throttles; we refuse the connection rather than grow
		// without bound.
		s.stats.RequestsRejectedOverload++
		s.closeConn(c, wire.CloseBroken)
		return
	}
	if m.Op == model.OpAuth {
		s.onAuth(c, m)
		return
	}
	if !c.creating && !c.revalidating {
		s.touch(c.session)
	}
	c.queue = append(c.queue, &pending{req: m, auth: c.auth})
	s.process(c)
}

// onAuth is ZooKeeperServer.processPacket for an auth packet: handled at
// once, ahead of the requests still queued (those keep the identities they
// arrived with), and answered with zxid 0. A scheme no provider handles is
// AuthFailed, and the connection is closed; the session lives on.
func (s *Server) onAuth(c *conn, m *wire.Request) {
	var ids []model.AuthID
	ok := m.Auth != nil
	if ok {
		ids, ok = model.Authenticate(m.Auth.Scheme, m.Auth.Auth, c.addr, s.cfg.SuperDigest)
	}
	if !ok {
		s.stats.AuthFailed++
		s.sendConn(c, &wire.Reply{Xid: m.Xid, Err: model.ErrAuthFailed})
		s.closeConn(c, wire.CloseAuthFailed)
		return
	}
	c.auth = model.AddAuthIDs(c.auth, ids...)
	s.sendConn(c, &wire.Reply{Xid: m.Xid})
}

// checker returns the identities a request's ACL checks run with: its own,
// plus super when the server skips ACL checks (zookeeper.skipACL).
func (s *Server) checker(auth []model.AuthID) []model.AuthID {
	if s.cfg.SkipACL {
		return model.AddAuthIDs(auth, model.AuthID{Scheme: model.SchemeSuper})
	}
	return auth
}

// submitInternal queues a request the server makes on the client's behalf
// (the createSession of a new connection).
func (s *Server) submitInternal(c *conn, req *wire.Request) {
	p := &pending{req: req, submitted: true}
	c.queue = append(c.queue, p)
	s.submitWrite(c, req, nil)
}

// process answers what it can at the head of c's queue, in order.
func (s *Server) process(c *conn) {
	for s.byConn[c.nonce] == c && !c.creating && !c.revalidating {
		p := c.head()
		if p == nil {
			return
		}
		if p.submitted {
			if !p.synced || s.tree.LastZxid() < p.syncZxid {
				return
			}
			// A sync whose target is applied.
			c.pop()
			if p.readAfter {
				s.reply(c, s.read(c, p))
			} else {
				s.stats.Syncs++
				s.reply(c, &wire.Reply{Xid: p.req.Xid, Zxid: s.tree.LastZxid(), Path: p.req.Path})
			}
			continue
		}
		switch {
		case s.cfg.RefuseTTL && createsTTL(p.req.Write):
			c.pop()
			s.reply(c, &wire.Reply{Xid: p.req.Xid, Zxid: s.tree.LastZxid(), Err: model.ErrUnimplemented})
		case wire.IsWrite(p.req.Op):
			p.submitted = true
			s.stats.Writes++
			s.submitWrite(c, p.req, p.auth)
			return
		case p.req.Op == model.OpSync:
			p.submitted = true
			s.submitSync(c, p)
			return
		case p.req.Op == model.OpSetWatches || p.req.Op == model.OpSetWatches2:
			c.pop()
			s.setWatches(c, p.req)
		case s.cfg.ReadMode == ReadSynced && isSyncedRead(p.req.Op):
			p.submitted, p.readAfter = true, true
			s.submitSync(c, p)
			return
		case s.cfg.ReadMode == ReadLinearizable && isSyncedRead(p.req.Op) && s.ri != nil:
			// The engine confirms read points itself: no barrier txn.
			p.submitted, p.readAfter = true, true
			s.readIndex(c, p)
			return
		case s.cfg.ReadMode == ReadLinearizable && isSyncedRead(p.req.Op):
			p.submitted, p.barrier = true, true
			s.submitWrite(c, &wire.Request{Xid: p.req.Xid, Write: nil}, nil)
			return
		default:
			c.pop()
			s.reply(c, s.read(c, p))
		}
	}
}

// createsTTL reports whether a write creates a TTL node, itself or in a
// multi.
func createsTTL(req model.Request) bool {
	switch r := req.(type) {
	case model.Create:
		return r.Mode.IsTTL()
	case model.Multi:
		return slices.ContainsFunc(r.Ops, createsTTL)
	}
	return false
}

func isSyncedRead(op model.OpCode) bool {
	switch op {
	case model.OpGetData, model.OpExists, model.OpGetChildren, model.OpGetChildren2:
		return true
	}
	return false
}

// submitWrite sends a write to the leader (or proposes it, on the leader),
// with the identities of the connection it came from (the leader checks
// ACLs when it prepares the txn). A nil Write is a read barrier.
func (s *Server) submitWrite(c *conn, req *wire.Request, auth []model.AuthID) {
	if s.lead != nil {
		s.propose(c.session, req.Xid, req.Write, auth)
		return
	}
	if !s.eng.Relay(s.leader, &Forward{Session: c.session, Cxid: req.Xid, Req: req.Write, Auth: auth}) {
		s.closeConn(c, wire.CloseNotServing)
	}
}

// submitSync asks the leader for its last proposed zxid and answers once
// this server applied up to it (ZooKeeper's sync). An engine that confirms
// read points itself gives one instead, which makes the sync linearizable.
func (s *Server) submitSync(c *conn, p *pending) {
	if s.ri != nil {
		s.readIndex(c, p)
		return
	}
	if s.lead != nil {
		s.lead.addSync(syncWait{conn: c, xid: p.req.Xid}, s.tree.LastZxid())
		s.leaderAfterApply()
		return
	}
	if !s.eng.Relay(s.leader, &SyncRequest{Session: c.session, Xid: p.req.Xid}) {
		s.closeConn(c, wire.CloseNotServing)
	}
}

// readWait is a request waiting for the engine's read point.
type readWait struct {
	conn *conn
	p    *pending
}

// readIndex asks the engine for a read point for p, the request at the
// head of c.
func (s *Server) readIndex(c *conn, p *pending) {
	s.nextRead++
	s.reads[s.nextRead] = readWait{conn: c, p: p}
	s.ri.ReadIndex(s.now, s.nextRead)
}

// onReadPoint answers a request whose read point is now applied: the sync
// or the read behind it sees everything committed before it was asked.
func (s *Server) onReadPoint(id uint64) {
	w, ok := s.reads[id]
	if !ok {
		return // its connection closed meanwhile
	}
	delete(s.reads, id)
	c := w.conn
	if s.byConn[c.nonce] != c || c.head() != w.p {
		panic(fmt.Sprintf("server %d: invariant violated: read point %d for a request no longer waiting", s.id, id))
	}
	w.p.synced, w.p.syncZxid = true, s.tree.LastZxid()
	s.process(c)
}

// read answers a read from this server's tree and leaves the watch asked
// for, exactly as ZooKeeper's FinalRequestProcessor: getData, getChildren,
// getChildren2, getAllChildrenNumber and multiRead's ops need READ on the
// node, getACL READ or ADMIN (without ADMIN digest ids are masked), exists,
// getEphemerals and the watch ops need nothing; a missing node is NoNode
// before it is NoAuth, and a refused read leaves no watch.
func (s *Server) read(c *conn, p *pending) *wire.Reply {
	req := p.req
	auth := s.checker(p.auth)
	s.stats.Reads++
	rp := &wire.Reply{Xid: req.Xid, Zxid: s.tree.LastZxid()}
	if s.cfg.Bugs.ReadZxidLags {
		// Seeded bug: the reply carries the zxid this connection last
		// answered with (or saw at connect), not the state it reads.
		rp.Zxid = max(c.replied, c.lastSeen)
	}
	switch req.Op {
	case model.OpGetData:
		rp.Data, rp.Stat, rp.Err = s.getData(c, req.Path, req.Watch, auth)
	case model.OpExists:
		// FinalRequestProcessor checks only for NUL: any other path that
		// names no node is NoNode, and an exist watch is left on it.
		if strings.IndexByte(req.Path, 0) >= 0 {
			rp.Err = model.ErrBadArguments
			break
		}
		st, ok := s.tree.Exists(req.Path)
		if ok {
			rp.Stat = st
		} else {
			rp.Err = model.ErrNoNode
		}
		if req.Watch {
			kind := model.WatchExist
			if ok {
				kind = model.WatchData
			}
			s.watches.Add(req.Path, kind, c.watcher)
		}
	case model.OpGetChildren, model.OpGetChildren2:
		var st model.Stat
		rp.Children, st, rp.Err = s.getChildren(c, req.Path, req.Watch, auth)
		if rp.Err == model.ErrOK && req.Op == model.OpGetChildren2 {
			rp.Stat = st
		}
	case model.OpGetACL:
		acl, st, err := s.tree.GetACL(req.Path)
		if rp.Err = errCode(err); rp.Err != model.ErrOK {
			break
		}
		if !model.Permits(acl, model.PermRead|model.PermAdmin, auth) {
			rp.Err = model.ErrNoAuth
			break
		}
		if !model.Permits(acl, model.PermAdmin, auth) {
			acl = model.MaskDigests(acl)
		}
		rp.ACL, rp.Stat = acl, st
	case model.OpGetAllChildrenNumber:
		if rp.Err = s.readable(req.Path, auth); rp.Err != model.ErrOK {
			break
		}
		n, err := s.tree.AllChildrenNumber(req.Path)
		if rp.Err = errCode(err); rp.Err == model.ErrOK {
			rp.Number = int32(n)
		}
	case model.OpMultiRead:
		rp.Reads = make([]wire.ReadResult, len(req.Reads))
		for i, r := range req.Reads {
			res := &rp.Reads[i]
			switch r.Op {
			case model.OpGetData:
				res.Data, res.Stat, res.Err = s.getData(c, r.Path, r.Watch, auth)
			case model.OpGetChildren:
				res.Children, _, res.Err = s.getChildren(c, r.Path, r.Watch, auth)
			default:
				res.Err = model.ErrBadArguments // the codec admits no other op
			}
			res.Op = r.Op
			if res.Err != model.ErrOK {
				res.Op = model.OpError
			}
		}
	case model.OpWhoAmI:
		// AuthUtil.getClientInfos over the request's identities.
		for _, id := range p.auth {
			rp.Clients = append(rp.Clients, wire.ClientInfo{Scheme: id.Scheme, User: model.UserName(id)})
		}
	case model.OpGetEphemerals:
		for _, p := range s.tree.Ephemerals(c.session) {
			if req.Path == "" || req.Path == "/" || len(p) >= len(req.Path) && p[:len(req.Path)] == req.Path {
				rp.Children = append(rp.Children, p)
			}
		}
	case model.OpAddWatch:
		if err := model.ValidatePath(req.Path); err != nil {
			rp.Err = errCode(err)
			break
		}
		switch req.Mode {
		case 0:
			s.watches.Add(req.Path, model.WatchPersistent, c.watcher)
		case 1:
			s.watches.Add(req.Path, model.WatchPersistentRecursive, c.watcher)
		default:
			rp.Err = model.ErrBadArguments
		}
	case model.OpRemoveWatches, model.OpCheckWatches:
		typ := model.WatcherType(req.Mode)
		if req.Op == model.OpCheckWatches {
			if !s.watches.Contains(req.Path, typ, c.watcher) {
				rp.Err = model.ErrNoWatcher
			}
			break
		}
		rp.Err = errCode(s.watches.Remove(req.Path, typ, c.watcher))
	default:
		rp.Err = model.ErrUnimplemented
	}
	return rp
}

// readable is the READ check of a read: NoNode, then NoAuth.
func (s *Server) readable(path string, auth []model.AuthID) model.Err {
	acl, _, err := s.tree.GetACL(path)
	if err != nil {
		return errCode(err)
	}
	if !model.Permits(acl, model.PermRead, auth) {
		return model.ErrNoAuth
	}
	return model.ErrOK
}

// getData is FinalRequestProcessor.handleGetDataRequest.
func (s *Server) getData(c *conn, path string, watch bool, auth []model.AuthID) ([]byte, model.Stat, model.Err) {
	if err := s.readable(path, auth); err != model.ErrOK {
		return nil, model.Stat{}, err
	}
	data, st, err := s.tree.GetData(path)
	if err != nil {
		return nil, model.Stat{}, errCode(err)
	}
	if watch {
		s.watches.Add(path, model.WatchData, c.watcher)
	}
	return data, st, model.ErrOK
}

// getChildren is FinalRequestProcessor.handleGetChildrenRequest.
func (s *Server) getChildren(c *conn, path string, watch bool, auth []model.AuthID) ([]string, model.Stat, model.Err) {
	if err := s.readable(path, auth); err != model.ErrOK {
		return nil, model.Stat{}, err
	}
	kids, st, err := s.tree.Children(path)
	if err != nil {
		return nil, model.Stat{}, errCode(err)
	}
	if watch {
		s.watches.Add(path, model.WatchChild, c.watcher)
	}
	return kids, st, model.ErrOK
}

// setWatches re-registers a reconnecting client's watches and fires at
// once what changed since the zxid it had seen.
func (s *Server) setWatches(c *conn, req *wire.Request) {
	w := req.SetWatches
	if w == nil {
		s.reply(c, &wire.Reply{Xid: req.Xid, Zxid: s.tree.LastZxid(), Err: model.ErrMarshallingError})
		return
	}
	rel := w.RelativeZxid
	if s.cfg.Bugs.SetWatchesIgnoresZxid {
		rel = s.tree.LastZxid() // seeded bug: as if the client had missed nothing
	}
	for _, d := range s.watches.SetWatches(s.tree, rel, w.Data, w.Exist, w.Child, w.Persistent, w.PersistentRecursive, c.watcher) {
		s.stats.WatchEventsDelivered++
		s.sendConn(c, &wire.Event{Type: d.Event.Type, State: wire.StateSyncConnected, Path: d.Event.Path, Zxid: s.tree.LastZxid()})
	}
	s.reply(c, &wire.Reply{Xid: req.Xid, Zxid: s.tree.LastZxid()})
}

// errCode turns a model error into its ZooKeeper code.
func errCode(err error) model.Err {
	if err == nil {
		return model.ErrOK
	}
	if e, ok := err.(model.Err); ok {
		return e
	}
	return model.ErrSystemError
}
