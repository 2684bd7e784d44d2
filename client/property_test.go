package client

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"zoosim/model"
	"zoosim/node"
	"zoosim/wire"
)

// propRun is one client against three adversarial scripted servers, with
// the bookkeeping of a deliberately simple reference: the list of accepted
// xids in submission order, and what has completed.
type propRun struct {
	e *testEnv
	c *Client

	accepted  []int32 // xids Submit accepted, in submission order
	nextDone  int     // index in accepted of the next result expected
	refused   map[int32]bool
	completed map[int32]int

	lastZxid     model.Zxid // the client's lastZxid at the last check
	maxReplyZxid model.Zxid // the largest zxid any reply carried
	lastOrder    uint64
	finalSent    int  // len(e.sent) when the session was first seen over
	finalEvent   bool // Expired or Closed was reported
	sawFinal     bool
	scanned      int            // messages of e.sent already looked at
	sentXids     map[int32]bool // xids the client put on the wire
}

var propPaths = []string{"/a", "/a/b", "/c"}

func newPropRun(t *rapid.T) *propRun {
	e := newEnv(t, 1, 2, 3)
	manual(e)
	cfg := Config{
		SessionTimeout: 3 * node.Second,
		MaxOutstanding: rapid.IntRange(1, 6).Draw(t, "maxOutstanding"),
		BackoffMax:     300 * node.Millisecond,
	}
	c := e.addClient(clientID, cfg, rapid.Uint64().Draw(t, "seed"))
	return &propRun{e: e, c: c, refused: map[int32]bool{}, completed: map[int32]int{}, sentXids: map[int32]bool{}}
}

// conn picks a server and its latest connection (possibly one the client
// has given up, which exercises stale messages).
func (p *propRun) conn(t *rapid.T) (*fakeServer, *fakeConn) {
	id := rapid.SampledFrom([]node.ID{1, 2, 3}).Draw(t, "server")
	if rapid.Bool().Draw(t, "current") && p.c.Server() != 0 {
		id = p.c.Server()
	}
	s := p.e.server(id)
	return s, s.cur
}

func (p *propRun) submit(t *rapid.T) {
	c := p.c
	path := rapid.SampledFrom(propPaths).Draw(t, "path")
	watch := rapid.Bool().Draw(t, "watch")
	before := c.Stats().Refused
	var xid int32
	switch rapid.IntRange(0, 8).Draw(t, "op") {
	case 0:
		xid = c.Create(path, []byte("d"), nil, rapid.SampledFrom([]model.CreateMode{model.ModePersistent, model.ModeEphemeral}).Draw(t, "mode"))
	case 1:
		xid = c.GetData(path, watch)
	case 2:
		xid = c.Exists(path, watch)
	case 3:
		xid = c.GetChildren(path, watch)
	case 4:
		xid = c.SetData(path, []byte("e"), -1)
	case 5:
		xid = c.Delete(path, -1)
	case 6:
		xid = c.AddWatch(path, watch)
	case 7:
		xid = c.RemoveWatches(path, model.WatcherAny)
	case 8:
		xid = c.Submit(Request{Op: model.OpPing}) // malformed: refused
	}
	p.recordSubmit(t, xid, c.Stats().Refused > before)
}

func (p *propRun) recordSubmit(t *rapid.T, xid int32, refused bool) {
	if refused {
		p.refused[xid] = true
	} else {
		p.accepted = append(p.accepted, xid)
	}
}

func (p *propRun) reply(t *rapid.T) {
	s, fc := p.conn(t)
	if fc == nil || len(fc.inbox) == 0 {
		return
	}
	req := fc.inbox[0]
	fc.inbox = fc.inbox[1:]
	err := rapid.SampledFrom([]model.Err{model.ErrOK, model.ErrOK, model.ErrNoNode, model.ErrNodeExists, model.ErrBadVersion}).Draw(t, "err")
	// Mostly forward, sometimes behind what the client has seen.
	zxid := max(0, s.ens.zxid+model.Zxid(rapid.IntRange(-3, 3).Draw(t, "dzxid")))
	s.ens.zxid = max(s.ens.zxid, zxid)
	p.maxReplyZxid = max(p.maxReplyZxid, zxid)
	rep := &wire.Reply{Xid: req.Xid, Zxid: zxid, Err: err}
	if err == model.ErrOK && req.Op == model.OpCreate {
		rep.Path = req.Path
	}
	s.send(fc, rep)
}

func (p *propRun) badReply(t *rapid.T) {
	s, fc := p.conn(t)
	if fc == nil {
		return
	}
	xid := int32(rapid.IntRange(-8, 20).Draw(t, "xid"))
	zxid := model.Zxid(rapid.IntRange(0, 40).Draw(t, "zxid"))
	p.maxReplyZxid = max(p.maxReplyZxid, zxid)
	s.ens.zxid = max(s.ens.zxid, zxid)
	s.send(fc, &wire.Reply{Xid: xid, Zxid: zxid})
}

func (p *propRun) event(t *rapid.T) {
	s, fc := p.conn(t)
	if fc == nil {
		return
	}
	typ := rapid.SampledFrom([]model.EventType{
		model.EventNodeCreated, model.EventNodeDeleted, model.EventNodeDataChanged, model.EventNodeChildrenChanged,
	}).Draw(t, "type")
	s.send(fc, &wire.Event{Type: typ, State: wire.StateSyncConnected, Path: rapid.SampledFrom(propPaths).Draw(t, "path"), Zxid: 1000})
}

func (p *propRun) framing(t *rapid.T) {
	s, fc := p.conn(t)
	if fc == nil {
		return
	}
	switch rapid.IntRange(0, 3).Draw(t, "fault") {
	case 0: // the network duplicates the last message
		if fc.last != nil {
			s.sendRaw(fc.client, fc.last)
		}
	case 1: // a message is lost: the next one shows a gap
		fc.outSeq++
		s.send(fc, &wire.Pong{})
	case 2: // a message for a connection that does not exist
		s.sendRaw(fc.client, &wire.Pong{Header: wire.Header{Conn: fc.nonce ^ 1, Seq: fc.outSeq + 1}})
	case 3: // a Close for another connection
		s.sendRaw(fc.client, &wire.Close{Conn: fc.nonce ^ 1, Reason: wire.CloseBroken})
	}
}

func (p *propRun) serverClose(t *rapid.T) {
	s, fc := p.conn(t)
	if fc == nil || fc.closed {
		return
	}
	s.closeConn(fc, rapid.SampledFrom([]wire.CloseReason{
		wire.CloseBehind, wire.CloseNotServing, wire.CloseBroken, wire.CloseSessionClosed,
	}).Draw(t, "reason"))
}

func (p *propRun) setMode(t *rapid.T) {
	s := p.e.server(rapid.SampledFrom([]node.ID{1, 2, 3}).Draw(t, "server"))
	s.mode = rapid.SampledFrom([]srvMode{serve, serve, silent, behind, notServing}).Draw(t, "mode")
	s.noPong = rapid.IntRange(0, 3).Draw(t, "noPong") == 0
}

func (p *propRun) check(t *rapid.T) { p.checkWith(t) }

func (p *propRun) checkWith(t interface{ Fatalf(string, ...any) }) {
	e, c := p.e, p.c
	e.pump()
	// A request goes out once: one whose connection was lost is failed,
	// never sent again.
	for _, m := range e.sent[p.scanned:] {
		if r, ok := m.Body.(*wire.Request); ok && r.Xid > 0 {
			if p.sentXids[r.Xid] {
				t.Fatalf("xid %d sent twice", r.Xid)
			}
			p.sentXids[r.Xid] = true
		}
	}
	p.scanned = len(e.sent)
	rs, evs := e.take(clientID)
	for _, r := range rs {
		if r.Sent != p.sentXids[r.Xid] {
			t.Fatalf("xid %d: Sent %v but on the wire %v", r.Xid, r.Sent, p.sentXids[r.Xid])
		}
		p.completed[r.Xid]++
		if p.completed[r.Xid] != 1 {
			t.Fatalf("xid %d completed %d times", r.Xid, p.completed[r.Xid])
		}
		if !p.refused[r.Xid] {
			if p.nextDone >= len(p.accepted) || p.accepted[p.nextDone] != r.Xid {
				t.Fatalf("result for xid %d out of submission order (accepted %v, %d done)", r.Xid, p.accepted, p.nextDone)
			}
			p.nextDone++
		}
		if r.Err == model.ErrOK && !r.Sent {
			t.Fatalf("xid %d succeeded without being sent", r.Xid)
		}
	}
	// Results and events share one strictly increasing order.
	var orders []uint64
	for _, r := range rs {
		orders = append(orders, r.Order)
	}
	for _, ev := range evs {
		orders = append(orders, ev.Order)
	}
	slices.Sort(orders)
	for _, o := range orders {
		if o <= p.lastOrder {
			t.Fatalf("order %d repeats or goes back (last %d)", o, p.lastOrder)
		}
		p.lastOrder = o
	}
	for _, ev := range evs {
		if p.finalEvent {
			t.Fatalf("event %+v after the session ended", ev)
		}
		if ev.Type == model.EventNone && (ev.State == wire.StateExpired || ev.State == wire.StateClosed) {
			p.finalEvent = true
		}
	}
	if want := len(p.accepted) - p.nextDone; c.Outstanding() != want {
		t.Fatalf("Outstanding %d, reference %d", c.Outstanding(), want)
	}
	if c.Outstanding() > c.cfg.MaxOutstanding+1 {
		t.Fatalf("%d outstanding, bound %d", c.Outstanding(), c.cfg.MaxOutstanding)
	}
	if c.LastZxid() < p.lastZxid {
		t.Fatalf("lastZxid went back from %v to %v", p.lastZxid, c.LastZxid())
	}
	if c.LastZxid() > p.maxReplyZxid {
		t.Fatalf("lastZxid %v beyond any reply's zxid %v", c.LastZxid(), p.maxReplyZxid)
	}
	p.lastZxid = c.LastZxid()
	if c.State().Final() {
		if !p.sawFinal {
			p.sawFinal, p.finalSent = true, len(e.sent)
			if !p.finalEvent {
				t.Fatalf("session %v without its event", c.State())
			}
		}
		if len(e.sent) != p.finalSent {
			t.Fatalf("sent %v after the session ended", e.sent[p.finalSent:])
		}
		if c.Ready().WakeAt != 0 || c.Outstanding() != 0 {
			t.Fatalf("a final client wants a timer or holds requests")
		}
	}
}

// heal makes every server serve and answer, closes the session, and checks
// that every request completed exactly once.
func (p *propRun) heal(t *rapid.T) {
	e, c := p.e, p.c
	for _, s := range e.ens.sortedServers() {
		s.mode, s.noPong, s.auto = serve, false, true
		for _, fc := range s.conns {
			inbox := fc.inbox
			fc.inbox = nil
			for _, req := range inbox {
				if !fc.closed {
					s.answer(fc, req)
				}
			}
		}
	}
	p.maxReplyZxid = max(p.maxReplyZxid, e.ens.zxid+1000) // tree replies
	before := c.Stats().Refused
	p.recordSubmit(t, c.Close(), c.Stats().Refused > before)
	e.run(30 * node.Second)
	p.check(t)
	if !c.State().Final() {
		t.Fatalf("session not over after heal and Close: %v", c.State())
	}
	for _, xid := range p.accepted {
		if p.completed[xid] != 1 {
			t.Fatalf("accepted xid %d completed %d times", xid, p.completed[xid])
		}
	}
	for xid := range p.refused {
		if p.completed[xid] != 1 {
			t.Fatalf("refused xid %d completed %d times", xid, p.completed[xid])
		}
	}
}

func TestClient_PropertyFIFOExactlyOnceMonotonicZxidSilentAfterEnd(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := newPropRun(t)
		type action struct {
			name string
			run  func(*rapid.T)
		}
		actions := []action{
			{"submit", p.submit},
			{"reply", func(t *rapid.T) {
				for range rapid.IntRange(1, 4).Draw(t, "replies") {
					p.reply(t)
				}
			}},
			{"badReply", p.badReply},
			{"event", p.event},
			{"framing", p.framing},
			{"serverClose", p.serverClose},
			{"setMode", p.setMode},
			{"expire", func(t *rapid.T) {
				if sid := p.c.SessionID(); sid != 0 && rapid.IntRange(0, 3).Draw(t, "reallyExpire") == 0 {
					p.e.ens.endSession(sid, true)
				}
			}},
			{"advance", func(t *rapid.T) {
				p.e.run(node.Time(rapid.Int64Range(0, int64(3*node.Second)).Draw(t, "d")))
			}},
			{"close", func(t *rapid.T) {
				if rapid.IntRange(0, 3).Draw(t, "reallyClose") == 0 {
					before := p.c.Stats().Refused
					p.recordSubmit(t, p.c.Close(), p.c.Stats().Refused > before)
				}
			}},
		}
		// Weights: requests and replies are the common case.
		weighted := []int{0, 0, 0, 0, 1, 1, 1, 1, 2, 3, 3, 4, 5, 6, 7, 8, 8, 9}
		steps := rapid.IntRange(1, 120).Draw(t, "steps")
		for range steps {
			a := actions[rapid.SampledFrom(weighted).Draw(t, "action")]
			a.run(t)
			p.check(t)
		}
		p.heal(t)
	})
}

// The reference bookkeeping itself must catch a client that breaks the
// order; this guards the property against passing vacuously.
func TestClient_PropertyCheckerCatchesOutOfOrderResults(t *testing.T) {
	ft := &fakeT{}
	func() {
		defer func() { _ = recover() }()
		p := &propRun{accepted: []int32{1, 2}, refused: map[int32]bool{}, completed: map[int32]int{}, sentXids: map[int32]bool{}}
		p.e = &testEnv{t: ft, ens: newEnsemble(ft), results: map[node.ID][]Result{clientID: {{Xid: 2, Order: 1}}}, events: map[node.ID][]Event{}}
		p.c = &Client{cfg: Config{MaxOutstanding: 5}}
		p.checkWith(ft)
	}()
	if !ft.failed {
		t.Fatal("an out-of-order result went unnoticed")
	}
}

// fakeT records a failure and stops the check.
type fakeT struct {
	rapid.TB
	failed bool
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = true
	panic(fmt.Sprintf(format, args...))
}
