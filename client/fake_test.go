package client

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	"pgregory.net/rapid"

	"zoosim/model"
	"zoosim/node"
	"zoosim/wire"
)

// This file is the scripted fake ensemble the client tests drive the client
// against. It is deliberately small: a shared znode map with ephemeral and
// sequential nodes, sessions, data and child watches per connection, and
// servers whose behaviour a test sets (serve, go silent, refuse as behind or
// not serving, report the session expired) and whose replies it can write
// by hand (manual mode) or leave to the tree (auto mode).

type srvMode uint8

const (
	serve      srvMode = iota + 1
	silent             // drops everything: a partition or a hung server
	behind             // refuses Connect with CloseBehind
	notServing         // refuses Connect with CloseNotServing
)

type fakeConn struct {
	nonce         uint64
	client        node.ID
	session       int64
	inSeq, outSeq uint64
	closed        bool
	inbox         []*wire.Request // requests not answered yet (manual mode)
	last          any             // the last message sent on it, for duplicates
	lost          bool            // a client message was dropped (silent mode)
	dataW, childW map[string]bool
}

type fakeServer struct {
	t      rapid.TB
	id     node.ID
	ens    *ensemble
	mode   srvMode
	auto   bool // answer requests from the tree at once
	noPong bool
	// mute: the server works but everything it sends is lost.
	mute bool
	// timeoutMs is the timeout the server grants; 0 grants what was asked.
	timeoutMs int32
	conns     map[uint64]*fakeConn
	cur       *fakeConn // the connection established last
	connects  []*wire.Connect
	requests  []*wire.Request
	pings     int
	closes    []*wire.Close
	dropped   int
	out       []node.Message
}

type fnode struct {
	data                []byte
	owner               int64
	version, cversion   int32
	created             int32 // child creations: the sequential counter
	czxid, mzxid, pzxid model.Zxid
	children            map[string]bool
}

type ensemble struct {
	t           rapid.TB
	zxid        model.Zxid
	nextSession int64
	sessions    map[int64]bool // live sessions
	expired     map[int64]bool
	tree        map[string]*fnode
	servers     map[node.ID]*fakeServer
}

func newEnsemble(t rapid.TB, ids ...node.ID) *ensemble {
	e := &ensemble{
		t: t, nextSession: 0x100, sessions: map[int64]bool{}, expired: map[int64]bool{},
		tree:    map[string]*fnode{"/": {children: map[string]bool{}}},
		servers: map[node.ID]*fakeServer{},
	}
	for _, id := range ids {
		e.servers[id] = &fakeServer{t: t, id: id, ens: e, mode: serve, auto: true, conns: map[uint64]*fakeConn{}}
	}
	return e
}

func (e *ensemble) sortedServers() []*fakeServer {
	ids := slices.Sorted(maps.Keys(e.servers))
	out := make([]*fakeServer, len(ids))
	for i, id := range ids {
		out[i] = e.servers[id]
	}
	return out
}

// send puts a server message on a connection with the next Seq.
func (s *fakeServer) send(fc *fakeConn, body any) {
	fc.outSeq++
	h := wire.Header{Conn: fc.nonce, Seq: fc.outSeq}
	switch b := body.(type) {
	case *wire.Connected:
		b.Header = h
	case *wire.Reply:
		b.Header = h
	case *wire.Event:
		b.Header = h
	case *wire.Pong:
		b.Header = h
	default:
		panic(fmt.Sprintf("fake: send %T", body))
	}
	fc.last = body
	s.out = append(s.out, node.Message{From: s.id, To: fc.client, Body: body})
}

// sendRaw puts a message with a header the test chose.
func (s *fakeServer) sendRaw(to node.ID, body any) {
	s.out = append(s.out, node.Message{From: s.id, To: to, Body: body})
}

func (s *fakeServer) closeConn(fc *fakeConn, why wire.CloseReason) {
	fc.closed = true
	s.out = append(s.out, node.Message{From: s.id, To: fc.client, Body: &wire.Close{Conn: fc.nonce, Reason: why}})
}

// handle is the server receiving one client message.
func (s *fakeServer) handle(m node.Message) {
	if s.mode == silent {
		s.dropped++
		var h wire.Header
		switch b := m.Body.(type) {
		case *wire.Ping:
			h = b.Header
		case *wire.Request:
			h = b.Header
		}
		if fc := s.conns[h.Conn]; fc != nil {
			fc.lost = true
		}
		return
	}
	switch b := m.Body.(type) {
	case *wire.Connect:
		s.connects = append(s.connects, b)
		if b.Seq != 1 {
			s.t.Errorf("server %d: Connect with Seq %d", s.id, b.Seq)
		}
		fc := &fakeConn{nonce: b.Conn, client: m.From, inSeq: 1, dataW: map[string]bool{}, childW: map[string]bool{}}
		s.conns[b.Conn] = fc
		switch s.mode {
		case behind:
			s.closeConn(fc, wire.CloseBehind)
			return
		case notServing:
			s.closeConn(fc, wire.CloseNotServing)
			return
		}
		if b.LastZxidSeen > s.ens.zxid {
			s.closeConn(fc, wire.CloseBehind)
			return
		}
		sid := b.SessionID
		switch {
		case sid == 0:
			s.ens.nextSession++
			sid = s.ens.nextSession
			s.ens.sessions[sid] = true
		case !s.ens.sessions[sid]:
			s.send(fc, &wire.Connected{TimeoutMs: 0})
			s.closeConn(fc, wire.CloseSessionClosed)
			return
		}
		fc.session = sid
		tm := s.timeoutMs
		if tm == 0 {
			tm = b.TimeoutMs
		}
		s.cur = fc
		s.send(fc, &wire.Connected{TimeoutMs: tm, SessionID: sid, Passwd: []byte("pw")})
	case *wire.Close:
		s.closes = append(s.closes, b)
		if fc := s.conns[b.Conn]; fc != nil {
			fc.closed = true
		}
	case *wire.Ping:
		if fc := s.accept(b.Header); fc != nil && !s.noPong {
			s.pings++
			s.send(fc, &wire.Pong{Zxid: s.ens.zxid})
		}
	case *wire.Request:
		fc := s.accept(b.Header)
		if fc == nil {
			return
		}
		s.requests = append(s.requests, b)
		if b.Op == model.OpAuth {
			// Answered on arrival, whatever the mode, as ZooKeeper does; a
			// scheme other than digest or ip fails and closes.
			if b.Xid != wire.XidAuth || b.Auth == nil {
				s.t.Errorf("server %d: an auth packet with xid %d", s.id, b.Xid)
			}
			if b.Auth != nil && (b.Auth.Scheme == "digest" || b.Auth.Scheme == "ip") {
				s.send(fc, &wire.Reply{Xid: b.Xid})
				return
			}
			s.send(fc, &wire.Reply{Xid: b.Xid, Err: model.ErrAuthFailed})
			s.closeConn(fc, wire.CloseAuthFailed)
			return
		}
		if s.auto {
			s.answer(fc, b)
		} else {
			fc.inbox = append(fc.inbox, b)
		}
	default:
		s.t.Fatalf("server %d: unexpected %T from the client", s.id, m.Body)
	}
}

// accept checks the client's framing: the client must never leave a gap.
func (s *fakeServer) accept(h wire.Header) *fakeConn {
	fc := s.conns[h.Conn]
	if fc == nil || fc.closed {
		return nil
	}
	if h.Seq != fc.inSeq+1 {
		if !fc.lost {
			s.t.Errorf("server %d: client sent Seq %d after %d on conn %x", s.id, h.Seq, fc.inSeq, h.Conn)
		}
		// A message was lost while the server was silent: the connection
		// is broken, as a real server decides on a gap.
		s.closeConn(fc, wire.CloseBroken)
		return nil
	}
	fc.inSeq = h.Seq
	return fc
}

// reply answers the oldest unanswered request of the current connection by
// hand (manual mode) and returns it.
func (s *fakeServer) reply(err model.Err, zxid model.Zxid) *wire.Request {
	s.t.Helper()
	fc := s.cur
	if fc == nil || len(fc.inbox) == 0 {
		s.t.Fatalf("server %d: nothing to reply to", s.id)
	}
	req := fc.inbox[0]
	fc.inbox = fc.inbox[1:]
	// The ensemble has seen whatever zxid a reply carries, so that the
	// client's reconnects are not refused as behind.
	s.ens.zxid = max(s.ens.zxid, zxid)
	s.send(fc, &wire.Reply{Xid: req.Xid, Zxid: zxid, Err: err})
	return req
}

func (s *fakeServer) event(typ model.EventType, path string, zxid model.Zxid) {
	s.send(s.cur, &wire.Event{Type: typ, State: wire.StateSyncConnected, Path: path, Zxid: zxid})
}

// answer runs a request against the ensemble's tree (auto mode).
func (s *fakeServer) answer(fc *fakeConn, r *wire.Request) {
	e := s.ens
	rep := &wire.Reply{Xid: r.Xid}
	switch r.Op {
	case model.OpSetWatches2:
		sw := r.SetWatches
		for _, p := range sw.Data {
			switch n := e.tree[p]; {
			case n == nil:
				s.send(fc, &wire.Event{Type: model.EventNodeDeleted, State: wire.StateSyncConnected, Path: p})
			case n.mzxid > sw.RelativeZxid:
				s.send(fc, &wire.Event{Type: model.EventNodeDataChanged, State: wire.StateSyncConnected, Path: p})
			default:
				fc.dataW[p] = true
			}
		}
		for _, p := range sw.Exist {
			if e.tree[p] != nil {
				s.send(fc, &wire.Event{Type: model.EventNodeCreated, State: wire.StateSyncConnected, Path: p})
			} else {
				fc.dataW[p] = true
			}
		}
		for _, p := range sw.Child {
			switch n := e.tree[p]; {
			case n == nil:
				s.send(fc, &wire.Event{Type: model.EventNodeDeleted, State: wire.StateSyncConnected, Path: p})
			case n.pzxid > sw.RelativeZxid:
				s.send(fc, &wire.Event{Type: model.EventNodeChildrenChanged, State: wire.StateSyncConnected, Path: p})
			default:
				fc.childW[p] = true
			}
		}
	case model.OpCreate, model.OpCreate2:
		rep.Err = e.create(r.Write.(model.Create), fc.session, rep)
	case model.OpDelete:
		d := r.Write.(model.Delete)
		rep.Err = e.delete(d.Path, d.Version)
	case model.OpSetData:
		sd := r.Write.(model.SetData)
		n := e.tree[sd.Path]
		switch {
		case n == nil:
			rep.Err = model.ErrNoNode
		case sd.Version != -1 && sd.Version != n.version:
			rep.Err = model.ErrBadVersion
		default:
			e.zxid++
			n.data, n.version, n.mzxid = sd.Data, n.version+1, e.zxid
			rep.Stat = n.stat()
			e.fire(model.EventNodeDataChanged, sd.Path)
		}
	case model.OpExists:
		if n := e.tree[r.Path]; n != nil {
			rep.Stat = n.stat()
		} else {
			rep.Err = model.ErrNoNode
		}
		if r.Watch {
			fc.dataW[r.Path] = true
		}
	case model.OpGetData:
		if n := e.tree[r.Path]; n != nil {
			rep.Data, rep.Stat = n.data, n.stat()
			if r.Watch {
				fc.dataW[r.Path] = true
			}
		} else {
			rep.Err = model.ErrNoNode
		}
	case model.OpGetChildren, model.OpGetChildren2:
		if n := e.tree[r.Path]; n != nil {
			rep.Children, rep.Stat = slices.Sorted(maps.Keys(n.children)), n.stat()
			if r.Watch {
				fc.childW[r.Path] = true
			}
		} else {
			rep.Err = model.ErrNoNode
		}
	case model.OpSync:
		rep.Path = r.Path
	case model.OpCloseSession:
		e.endSession(fc.session, false)
	case model.OpAddWatch, model.OpRemoveWatches:
	default:
		rep.Err = model.ErrUnimplemented
	}
	rep.Zxid = e.zxid
	s.send(fc, rep)
}

func (n *fnode) stat() model.Stat {
	return model.Stat{
		Czxid: n.czxid, Mzxid: n.mzxid, Pzxid: n.pzxid, Version: n.version, Cversion: n.cversion,
		EphemeralOwner: n.owner, DataLength: int32(len(n.data)), NumChildren: int32(len(n.children)),
	}
}

func parentOf(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}

func (e *ensemble) create(c model.Create, session int64, rep *wire.Reply) model.Err {
	parent := e.tree[parentOf(c.Path)]
	if parent == nil {
		return model.ErrNoNode
	}
	if parent.owner != 0 {
		return model.ErrNoChildrenForEphemerals
	}
	path := c.Path
	if c.Mode.IsSequential() {
		path = fmt.Sprintf("%s%010d", path, parent.created)
	}
	if e.tree[path] != nil {
		return model.ErrNodeExists
	}
	e.zxid++
	n := &fnode{data: c.Data, czxid: e.zxid, mzxid: e.zxid, pzxid: e.zxid, children: map[string]bool{}}
	if c.Mode.IsEphemeral() {
		n.owner = session
	}
	e.tree[path] = n
	parent.children[path[strings.LastIndexByte(path, '/')+1:]] = true
	parent.created++
	parent.cversion++
	parent.pzxid = e.zxid
	rep.Path = path
	e.fire(model.EventNodeCreated, path)
	e.fire(model.EventNodeChildrenChanged, parentOf(path))
	return model.ErrOK
}

func (e *ensemble) delete(path string, version int32) model.Err {
	n := e.tree[path]
	switch {
	case n == nil:
		return model.ErrNoNode
	case version != -1 && version != n.version:
		return model.ErrBadVersion
	case len(n.children) > 0:
		return model.ErrNotEmpty
	}
	e.zxid++
	delete(e.tree, path)
	parent := e.tree[parentOf(path)]
	delete(parent.children, path[strings.LastIndexByte(path, '/')+1:])
	parent.cversion++
	parent.pzxid = e.zxid
	e.fire(model.EventNodeDeleted, path)
	e.fire(model.EventNodeChildrenChanged, parentOf(path))
	return model.ErrOK
}

// endSession deletes a session's ephemerals (closeSession, or expiry).
func (e *ensemble) endSession(sid int64, expired bool) {
	delete(e.sessions, sid)
	if expired {
		e.expired[sid] = true
	}
	for _, p := range slices.Sorted(maps.Keys(e.tree)) {
		if n := e.tree[p]; n != nil && n.owner == sid {
			e.delete(p, -1)
		}
	}
}

// fire sends an event to every open connection watching path, as the
// server's WatchManager: data watches for created/changed/deleted, child
// watches for children changed/deleted; one-shot.
func (e *ensemble) fire(typ model.EventType, path string) {
	for _, s := range e.sortedServers() {
		for _, nonce := range slices.Sorted(maps.Keys(s.conns)) {
			fc := s.conns[nonce]
			if fc.closed || s.mode == silent {
				continue
			}
			hit := false
			if typ != model.EventNodeChildrenChanged && fc.dataW[path] {
				delete(fc.dataW, path)
				hit = true
			}
			if (typ == model.EventNodeChildrenChanged || typ == model.EventNodeDeleted) && fc.childW[path] {
				delete(fc.childW, path)
				hit = true
			}
			if hit {
				s.send(fc, &wire.Event{Type: typ, State: wire.StateSyncConnected, Path: path, Zxid: e.zxid})
			}
		}
	}
}

// testEnv drives clients against the fake ensemble in virtual time.
type testEnv struct {
	t       rapid.TB
	now     node.Time
	ens     *ensemble
	clients []*Client
	recipes map[node.ID][]Recipe
	sent    []node.Message // every message the clients sent, in order
	results map[node.ID][]Result
	events  map[node.ID][]Event
	check   func() // called after every delivery round
}

func newEnv(t rapid.TB, servers ...node.ID) *testEnv {
	return &testEnv{
		t: t, now: node.Second, ens: newEnsemble(t, servers...),
		recipes: map[node.ID][]Recipe{}, results: map[node.ID][]Result{}, events: map[node.ID][]Event{},
	}
}

func (e *testEnv) server(id node.ID) *fakeServer { return e.ens.servers[id] }

// addClient builds a client with the given config (servers default to the
// ensemble's, in id order) and seed.
func (e *testEnv) addClient(id node.ID, cfg Config, seed uint64) *Client {
	e.t.Helper()
	if cfg.Servers == nil {
		cfg.Servers = slices.Sorted(maps.Keys(e.ens.servers))
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 3 * node.Second
	}
	c, err := New(cfg, id, rand.New(rand.NewPCG(seed, 0)), e.now)
	if err != nil {
		e.t.Fatal(err)
	}
	e.clients = append(e.clients, c)
	e.pump()
	return c
}

// pump moves messages between clients and servers until none is left.
func (e *testEnv) pump() {
	for round := 0; ; round++ {
		if round > 10000 {
			e.t.Fatal("pump: livelock")
		}
		moved := false
		for _, c := range e.clients {
			rd := c.Ready()
			msgs := slices.Clone(rd.Messages)
			c.Advance()
			for _, m := range msgs {
				moved = true
				e.sent = append(e.sent, m)
				if s := e.ens.servers[m.To]; s != nil {
					s.handle(m)
				} else {
					e.t.Fatalf("client %d sent to unknown node %d", m.From, m.To)
				}
			}
		}
		for _, s := range e.ens.sortedServers() {
			out := s.out
			s.out = nil
			for _, m := range out {
				moved = true
				if !s.mute {
					e.deliver(m)
				}
			}
		}
		e.collect()
		if e.check != nil {
			e.check()
		}
		if !moved {
			return
		}
	}
}

func (e *testEnv) deliver(m node.Message) {
	for _, c := range e.clients {
		if c.ID() == m.To {
			c.Step(e.now, m)
			return
		}
	}
	e.t.Fatalf("message to unknown client %d", m.To)
}

func (e *testEnv) collect() {
	for _, c := range e.clients {
		if rs := e.recipes[c.ID()]; len(rs) > 0 {
			unclaimed, evs := Dispatch(c, rs...)
			e.results[c.ID()] = append(e.results[c.ID()], unclaimed...)
			e.events[c.ID()] = append(e.events[c.ID()], evs...)
			continue
		}
		e.results[c.ID()] = append(e.results[c.ID()], c.TakeResults()...)
		e.events[c.ID()] = append(e.events[c.ID()], c.TakeEvents()...)
	}
}

// run advances virtual time by d, ticking every client at the times it
// asked for.
func (e *testEnv) run(d node.Time) {
	e.runUntil(e.now + d)
}

func (e *testEnv) runUntil(target node.Time) {
	e.pump()
	for steps := 0; ; steps++ {
		if steps > 100000 {
			e.t.Fatal("run: too many timer steps")
		}
		var next *Client
		for _, c := range e.clients {
			if w := c.Ready().WakeAt; w != 0 && w <= target && (next == nil || w < next.Ready().WakeAt) {
				next = c
			}
		}
		if next == nil {
			break
		}
		if w := next.Ready().WakeAt; w > e.now {
			e.now = w
		}
		next.Tick(e.now)
		e.pump()
	}
	e.now = target
}

// take returns and forgets what client id produced.
func (e *testEnv) take(id node.ID) ([]Result, []Event) {
	rs, evs := e.results[id], e.events[id]
	e.results[id], e.events[id] = nil, nil
	return rs, evs
}

// sentBy returns the messages client id sent since mark (an index into
// e.sent), optionally only those of body type T.
func sentOf[T any](e *testEnv, mark int) []T {
	var out []T
	for _, m := range e.sent[mark:] {
		if b, ok := m.Body.(T); ok {
			out = append(out, b)
		}
	}
	return out
}

func stateEvents(evs []Event) []wire.KeeperState {
	var out []wire.KeeperState
	for _, ev := range evs {
		if ev.Type == model.EventNone {
			out = append(out, ev.State)
		}
	}
	return out
}

func errsOf(rs []Result) []model.Err {
	out := make([]model.Err, len(rs))
	for i, r := range rs {
		out[i] = r.Err
	}
	return out
}

func xidsOf(rs []Result) []int32 {
	out := make([]int32, len(rs))
	for i, r := range rs {
		out[i] = r.Xid
	}
	return out
}
