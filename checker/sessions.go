package checker

import (
	"fmt"

	"zoosim/model"
	"zoosim/node"
)

// The session checker holds sessions and their ephemeral nodes to what can
// be proven from a finite history:
//
// From the committed sequence (replayed by the checker's reference, whose
// closeSession deletes every ephemeral of the session):
//   - an ephemeral node is created only for a live session (one whose
//     createSession is committed and whose closeSession is not), so at the
//     end of the run every ephemeral's owner is a live session;
//   - a closed session never comes back: after its closeSession, the only
//     txns of that session are error txns (requests the leader refused,
//     which still take a zxid), failed multis and repeated closeSessions;
//     no createSession and no change. Likewise no change is committed for
//     a session before its createSession (session 0, the leader's own
//     container sweep, excepted).
//
// From the servers' answers: no read returns a node whose ephemeralOwner
// is a session the sequence had closed at or before the read's zxid (a
// server that kept a closed session's ephemerals shows them).
//
// From the clients' view:
//   - no op succeeds in a session after its client saw it Expired or
//     Closed (an op answered after that moment with a result the state
//     decided), and the session is never Connected again;
//   - no op of a session is answered from a state at or after its
//     closeSession (the server closes the session's connection when it
//     applies it).
//
// Not checked, because a finite run cannot prove it: that a session whose
// client saw Expired gets its closeSession committed. ZooKeeper's leader
// tells a reconnecting client "expired" as soon as it starts closing the
// session, before the closeSession commits; if that leader then loses its
// leadership the close may be lost, and the next leader expires the session
// again only after a full session timeout. A run that ends in between is
// correct.

func (r *run) sessions() Result {
	h := r.h
	seq := r.committed()
	var vs []violation
	createdAt := map[int64]model.Zxid{}
	closedAt := map[int64]model.Zxid{}
	flagged := map[int64]bool{}
	rep := r.replayed()
	for j := range seq.txns {
		t, res := &seq.txns[j], rep.results[j]
		s := t.Session
		switch t.Txn.(type) {
		case model.CreateSessionTxn:
			if z, closed := closedAt[s]; closed {
				flagged[s] = true
				vs = append(vs, violation{key: [2]int64{int64(t.Zxid), 0},
					explanation: fmt.Sprintf("session %#x was created again at zxid %s after its closeSession at %s: a closed session never comes back",
						s, t.Zxid, z),
					txns: []model.Zxid{z, t.Zxid}, details: describeTxn(t) + "\n"})
			}
			if _, ok := createdAt[s]; !ok {
				createdAt[s] = t.Zxid
			}
			continue
		case model.CloseSessionTxn:
			if _, ok := closedAt[s]; !ok {
				closedAt[s] = t.Zxid
			}
			continue
		}
		if s == 0 || !effective(t.Txn) {
			continue
		}
		if z, closed := closedAt[s]; closed {
			flagged[s] = true
			vs = append(vs, violation{key: [2]int64{int64(t.Zxid), 2},
				explanation: fmt.Sprintf("txn %s of session %#x was committed after the session's closeSession at %s: a closed session never comes back",
					t.Zxid, s, z),
				txns: []model.Zxid{z, t.Zxid}, details: describeTxn(t) + "\n"})
			continue
		}
		if _, created := createdAt[s]; !created {
			flagged[s] = true
			vs = append(vs, violation{key: [2]int64{int64(t.Zxid), 3},
				explanation: fmt.Sprintf("txn %s of session %#x was committed although the session had not been created",
					t.Zxid, s),
				txns: []model.Zxid{t.Zxid}, details: describeTxn(t) + "\n"})
			continue
		}
		if createsEphemeral(t.Txn, res) {
			if !rep.liveAfter[j] {
				flagged[s] = true
				vs = append(vs, violation{key: [2]int64{int64(t.Zxid), 4},
					explanation: fmt.Sprintf("txn %s created an ephemeral node for session %#x, which is not a live session",
						t.Zxid, s),
					txns: []model.Zxid{t.Zxid}, details: describeTxn(t) + "\n"})
			}
		}
	}
	for _, owner := range rep.final.owners() {
		if !rep.final.live(owner) && !flagged[owner] {
			vs = append(vs, violation{key: [2]int64{int64(seq.last()), 5},
				explanation: fmt.Sprintf("at the end of the run, ephemeral nodes %v outlive their session %#x",
					rep.final.ephemeralsOf(owner), owner)})
		}
	}
	vs = append(vs, keptEphemeralViolations(h, closedAt)...)
	vs = append(vs, clientSessionViolations(h, closedAt)...)
	if len(seq.txns) == 0 {
		return verdictOf(vs, "no applied txns recorded: only the clients' view of sessions was checked")
	}
	return verdictOf(vs, fmt.Sprintf("%d sessions created, %d closed; ephemerals and session ends consistent",
		len(createdAt), len(closedAt)))
}

// effective reports a txn that the leader could only have prepared for a
// live session: anything but an error txn, a multi that failed in Prepare,
// a session txn.
func effective(txn model.Txn) bool {
	switch x := txn.(type) {
	case model.ErrorTxn, model.CreateSessionTxn, model.CloseSessionTxn, nil:
		return false
	case model.MultiTxn:
		for _, s := range x.Txns {
			if _, isErr := s.(model.ErrorTxn); isErr {
				return false
			}
		}
	}
	return true
}

func createsEphemeral(txn model.Txn, res refResult) bool {
	switch x := txn.(type) {
	case model.CreateTxn:
		return x.Mode.IsEphemeral() && res.err == model.ErrOK
	case model.MultiTxn:
		if res.err != model.ErrOK {
			return false
		}
		for _, s := range x.Txns {
			if c, ok := s.(model.CreateTxn); ok && c.Mode.IsEphemeral() {
				return true
			}
		}
	}
	return false
}

// keptEphemeralViolations: a read at or after a session's closeSession
// shows no node that session owns.
func keptEphemeralViolations(h *History, closedAt map[int64]model.Zxid) []violation {
	var vs []violation
	for i := range h.Ops {
		op := &h.Ops[i]
		if (op.Kind != OpGetData && op.Kind != OpExists) || classify(op) != outcomeDone || op.Err != model.ErrOK {
			continue
		}
		owner := op.Stat.EphemeralOwner
		if z, closed := closedAt[owner]; owner != 0 && closed && op.Zxid >= z {
			vs = append(vs, violation{key: [2]int64{int64(i), 3},
				explanation: fmt.Sprintf("op %d read %s at zxid %s from server %d as an ephemeral node of session %#x, which was closed at zxid %s: the node outlived its session",
					i, op.Path, op.Zxid, op.Server, owner, z),
				ops: []int{i}, txns: []model.Zxid{z}, details: describeOp(op) + "\n"})
		}
	}
	return vs
}

// clientSessionViolations checks the clients' side of session ends.
func clientSessionViolations(h *History, closedAt map[int64]model.Zxid) []violation {
	type end struct {
		at    node.Time
		state SessionState
		index int
	}
	ends := map[int64]end{}
	var vs []violation
	for i, ev := range h.Sessions {
		if ev.Session == 0 {
			continue
		}
		e, ended := ends[ev.Session]
		switch ev.State {
		case SessionExpired, SessionClosed:
			if !ended || ev.Time < e.at {
				ends[ev.Session] = end{at: ev.Time, state: ev.State, index: i}
			}
		}
	}
	for i, ev := range h.Sessions {
		if e, ended := ends[ev.Session]; ended && ev.State == SessionConnected && ev.Time > e.at {
			vs = append(vs, violation{key: [2]int64{int64(ev.Time), 0},
				explanation: fmt.Sprintf("client %d was connected in session %#x at %s, after it saw the session %s at %s: a closed or expired session never comes back",
					ev.Client, ev.Session, fmtTime(ev.Time), e.state, fmtTime(e.at)),
				details: fmt.Sprintf("session event %d and %d\n", e.index, i)})
		}
	}
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.Session == 0 || classify(op) != outcomeDone {
			continue
		}
		if e, ended := ends[op.Session]; ended && op.Return > e.at {
			vs = append(vs, violation{key: [2]int64{int64(i), 1},
				explanation: fmt.Sprintf("op %d of session %#x was answered (%s) at %s, after client %d saw the session %s at %s",
					i, op.Session, errName(op.Err), fmtTime(op.Return), h.Sessions[e.index].Client, e.state, fmtTime(e.at)),
				ops: []int{i}, details: describeOp(op) + "\n"})
			continue
		}
		if z, closed := closedAt[op.Session]; closed && op.Zxid >= z && op.Zxid > 0 {
			vs = append(vs, violation{key: [2]int64{int64(i), 2},
				explanation: fmt.Sprintf("op %d of session %#x was answered from the state at zxid %s, at or after the session's closeSession at %s",
					i, op.Session, op.Zxid, z),
				ops: []int{i}, txns: []model.Zxid{z}, details: describeOp(op) + "\n"})
		}
	}
	return vs
}
