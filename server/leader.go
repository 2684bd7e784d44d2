package server

import (
	"fmt"
	"slices"

	"zoosim/model"
	"zoosim/node"
	"zoosim/quorum"
	"zoosim/wire"
)

// Relay payloads between a follower's server and the leader's, carried on
// the engine's leader-follower channel (FIFO with the commits).

// Forward is a client write a follower hands the leader (REQUEST). A nil
// Req is a linearizable read's barrier.
type Forward struct {
	Session int64
	Cxid    int32
	Req     model.Request
	// Auth are the identities of the client's connection
	// (QuorumPacket.authinfo).
	Auth []model.AuthID
}

// SyncRequest asks the leader for a sync point on behalf of a client.
type SyncRequest struct {
	Session int64
	Xid     int32
}

// SyncResponse is the leader's answer: once the follower has applied up to
// Zxid it answers the client's sync.
type SyncResponse struct {
	Session int64
	Xid     int32
	Zxid    model.Zxid
}

// Touch reports sessions a follower's clients kept alive.
type Touch struct {
	Sessions []int64
}

// Revalidate asks the leader whether a session a client resumes is alive
// and whether the password the client showed is the session's.
type Revalidate struct {
	Session int64
	Conn    uint64
	Passwd  [model.PasswdLen]byte
}

// RevalidateResponse answers it.
type RevalidateResponse struct {
	Session   int64
	Conn      uint64
	TimeoutMs int32 // 0: the session is gone
}

func (f *Forward) TraceHash() uint64      { return uint64(f.Session)*31 ^ uint64(uint32(f.Cxid)) }
func (r *SyncRequest) TraceHash() uint64  { return uint64(r.Session)*37 ^ uint64(uint32(r.Xid)) }
func (r *SyncResponse) TraceHash() uint64 { return uint64(r.Session)*41 ^ uint64(r.Zxid) }
func (t *Touch) TraceHash() uint64 {
	h := uint64(len(t.Sessions))
	for _, s := range t.Sessions {
		h = h*0x100000001b3 ^ uint64(s)
	}
	return h
}
func (r *Revalidate) TraceHash() uint64 { return uint64(r.Session)*43 ^ r.Conn }
func (r *RevalidateResponse) TraceHash() uint64 {
	return uint64(r.Session)*47 ^ r.Conn ^ uint64(r.TimeoutMs)
}

// leaderState is what a serving leader's server keeps beyond the applied
// tree: the speculative tree its prepares run against (the applied state
// plus every proposal not yet committed, ZooKeeper's outstandingChanges),
// the positions of those proposals, the session tracker, and the syncs in
// wait.
type leaderState struct {
	spec     *model.Tree
	sessions map[int64]*tracked
	// proposed holds the positions of this leader's proposals not applied
	// yet, in the order proposed (which is the order they commit in).
	proposed []quorum.Position
	syncs    []syncWait
}

type tracked struct {
	timeout   node.Time
	expiresAt node.Time
	closing   bool // a closeSession has been proposed
}

// syncWait is a sync waiting for the leader to apply everything it had
// proposed when the sync arrived: the proposal at target. Once that is
// applied, zxid is its zxid and the sync is answered.
type syncWait struct {
	conn   *conn   // local client, or nil for a follower's
	origin node.ID // the follower's server when conn is nil
	sess   int64
	xid    int32
	target quorum.Position
	done   bool
	zxid   model.Zxid
}

func (s *Server) becomeLeader() {
	l := &leaderState{spec: s.tree.Clone(), sessions: map[int64]*tracked{}}
	// ZooKeeper's new leader gives every session a full timeout from now:
	// sessions must not expire because the ensemble had no leader.
	for _, ss := range s.tree.Sessions() {
		t := node.Time(ss.TimeoutMs) * node.Millisecond
		l.sessions[ss.ID] = &tracked{timeout: t, expiresAt: s.now + t}
	}
	s.lead = l
}

func (l *leaderState) trackSession(id int64, t *model.Tree, now node.Time) {
	if _, ok := l.sessions[id]; ok {
		return
	}
	ms, ok := t.SessionTimeoutMs(id)
	if !ok {
		return
	}
	d := node.Time(ms) * node.Millisecond
	l.sessions[id] = &tracked{timeout: d, expiresAt: now + d}
}

func (l *leaderState) forgetSession(id int64) { delete(l.sessions, id) }

func (l *leaderState) live(id int64) bool {
	t, ok := l.sessions[id]
	return ok && !t.closing
}

func (l *leaderState) touch(id int64, now node.Time) {
	if t, ok := l.sessions[id]; ok && !t.closing {
		t.expiresAt = now + t.timeout
	}
}

// addSync queues a sync behind the last proposal not applied yet; with
// none, everything the leader proposed is applied and the sync's point is
// the applied state.
func (l *leaderState) addSync(w syncWait, applied model.Zxid) {
	if n := len(l.proposed); n > 0 {
		w.target = l.proposed[n-1]
	} else {
		w.done, w.zxid = true, applied
	}
	l.syncs = append(l.syncs, w)
}

// applied notes that the server applied e, which must be this leader's
// oldest proposal not applied yet: a leader's entries commit in the order
// it proposed them, and nothing else commits while it leads.
func (l *leaderState) applied(id node.ID, e quorum.Entry) {
	if len(l.proposed) == 0 || l.proposed[0] != e.Position {
		panic(fmt.Sprintf("server %d: invariant violated: the leader applied the entry at position %d (%v), its oldest unapplied proposal is %v",
			id, e.Position, e.Zxid, l.proposed))
	}
	l.proposed = l.proposed[1:]
	for i := range l.syncs {
		if w := &l.syncs[i]; !w.done && w.target == e.Position {
			w.done, w.zxid = true, e.Zxid
		}
	}
}

func (l *leaderState) dropLocalSyncs(c *conn) {
	l.syncs = slices.DeleteFunc(l.syncs, func(w syncWait) bool { return w.conn == c })
}

// propose prepares a request against the speculative tree and proposes the
// txn. The txn (or its error) reaches the client when it is applied.
func (s *Server) propose(session int64, cxid int32, req model.Request, auth []model.AuthID) {
	l := s.lead
	nowMs := s.now.Millis()
	var txn model.Txn = model.ErrorTxn{Err: model.ErrOK} // a read barrier changes nothing
	if req != nil {
		txn = model.PrepareAs(l.spec, session, s.checker(auth), req, nowMs)
		if e, ok := txn.(model.ErrorTxn); ok && e.Err == model.ErrSessionExpired && s.cfg.Bugs.CreateAfterClose {
			if t := l.sessions[session]; t != nil && t.closing {
				// Seeded bug: judged against the committed tree, where the
				// closing session is still alive.
				txn = model.PrepareAs(s.tree, session, s.checker(auth), req, nowMs)
			}
		}
	}
	entry := encodeEntry(entryHeader{Session: session, Cxid: cxid, TimeMs: nowMs}, txn)
	s.countProposal(len(entry))
	pos, err := s.eng.Propose(s.now, entry)
	if err != nil {
		// The engine stopped leading (Zab's counter exhausted): the role
		// change closes every connection, which fails the request.
		s.checkRole()
		return
	}
	if n := len(l.proposed); n > 0 && pos <= l.proposed[n-1] {
		panic(fmt.Sprintf("server %d: invariant violated: proposal placed at position %d after %d", s.id, pos, l.proposed[n-1]))
	}
	l.proposed = append(l.proposed, pos)
	// The speculative tree only answers Prepare, which never looks at a
	// zxid: the txn goes in without one (the engine gives it its zxid when
	// it commits).
	l.spec.Apply(model.TxnHeader{Session: session, TimeMs: nowMs}, txn)
	// Proposing may commit at once (a standalone leader) after the Ready.
}

func (s *Server) countProposal(size int) {
	st := &s.stats
	n := int64(size)
	if st.Proposals == 0 || n < st.ProposalSizeMin {
		st.ProposalSizeMin = n
	}
	st.ProposalSizeMax = max(st.ProposalSizeMax, n)
	st.ProposalSizeLast = n
	st.Proposals++
}

// leaderAfterApply answers the syncs whose target is now applied.
func (s *Server) leaderAfterApply() {
	l := s.lead
	if len(l.syncs) == 0 {
		return
	}
	kept := l.syncs[:0]
	for _, w := range l.syncs {
		if !w.done {
			kept = append(kept, w)
			continue
		}
		if w.conn != nil {
			if p := w.conn.head(); p != nil && p.submitted && p.req.Xid == w.xid {
				p.synced, p.syncZxid = true, w.zxid
				s.process(w.conn)
			}
			continue
		}
		s.eng.Relay(w.origin, &SyncResponse{Session: w.sess, Xid: w.xid, Zxid: w.zxid})
	}
	clear(l.syncs[len(kept):])
	l.syncs = kept
}

// leaderHousekeeping expires sessions and removes empty containers and
// expired TTL nodes, each as a txn, as ZooKeeper's leader does.
func (s *Server) leaderHousekeeping() {
	l := s.lead
	ids := make([]int64, 0, len(l.sessions))
	for id := range l.sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		t := l.sessions[id]
		if t.closing || s.now < t.expiresAt {
			continue
		}
		t.closing = true
		s.stats.SessionsExpired++
		s.propose(id, 0, model.CloseSession{}, nil)
		if s.lead == nil {
			return
		}
	}
	for _, path := range l.spec.CleanupCandidates(s.now.Millis()) {
		s.propose(0, 0, model.DeleteContainer{Path: path}, nil)
		if s.lead == nil {
			return
		}
	}
}

// onRelay handles a payload from the other end of the leader-follower
// channel.
func (s *Server) onRelay(r quorum.Relay) {
	switch p := r.Payload.(type) {
	case *Forward:
		if s.lead == nil {
			return
		}
		s.lead.touch(p.Session, s.now)
		s.propose(p.Session, p.Cxid, p.Req, p.Auth)
	case *SyncRequest:
		if s.lead == nil {
			return
		}
		s.lead.addSync(syncWait{origin: r.From, sess: p.Session, xid: p.Xid}, s.tree.LastZxid())
		s.leaderAfterApply()
	case *Touch:
		if s.lead == nil {
			return
		}
		for _, id := range p.Sessions {
			s.lead.touch(id, s.now)
		}
	case *Revalidate:
		if s.lead == nil {
			return
		}
		var timeout int32
		pw, _ := s.tree.SessionPasswd(p.Session)
		if ms, ok := s.tree.SessionTimeoutMs(p.Session); ok && s.lead.live(p.Session) && pw == p.Passwd {
			timeout = ms
			s.lead.touch(p.Session, s.now)
		}
		s.eng.Relay(r.From, &RevalidateResponse{Session: p.Session, Conn: p.Conn, TimeoutMs: timeout})
	case *SyncResponse:
		c := s.bySession[p.Session]
		if c == nil {
			return
		}
		if h := c.head(); h != nil && h.submitted && h.req.Xid == p.Xid && !wire.IsWrite(h.req.Op) {
			h.synced, h.syncZxid = true, p.Zxid
			s.process(c)
		}
	case *RevalidateResponse:
		c := s.byConn[p.Conn]
		if c == nil || !c.revalidating || c.session != p.Session {
			return
		}
		c.revalidating = false
		if p.TimeoutMs <= 0 {
			s.expireConn(c)
			return
		}
		c.timeoutMs = p.TimeoutMs
		s.sendConn(c, &wire.Connected{TimeoutMs: c.timeoutMs, SessionID: c.session, Passwd: slices.Clone(c.passwd[:])})
		s.process(c)
	default:
		panic(fmt.Sprintf("server %d: unknown relay payload %T", s.id, r.Payload))
	}
}
