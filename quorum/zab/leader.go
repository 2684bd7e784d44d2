package zab

import (
	"zoosim/model"
	"zoosim/node"
	"zoosim/quorum"
)

// A leader gathers FOLLOWERINFO from an election quorum, picks an epoch
// above every accepted epoch it heard (persisting it as its own accepted
// epoch), gathers ACKEPOCH from an election quorum, syncs each follower,
// persists the epoch as current, and is established once a commit quorum
// (itself included) acked NEWLEADER: only then does it commit its history
// and take proposals. Without a commit quorum in touch for SyncLimit ticks
// it steps down.

func (z *Zab) becomeLeader() {
	z.leaveRole()
	z.role = quorum.Leading
	z.leader = z.id
	z.lphase = lDiscovery
	z.phaseStart = z.now
	z.newEpoch = 0
	z.nextPing = z.now
	z.leaderProgress()
}

// sendLearner sends on the learner channel to id.
func (z *Zab) sendLearner(id node.ID, l *learner, m *Msg) {
	l.sendSeq++
	m.Conn, m.Seq = l.conn, l.sendSeq
	z.send(id, m)
}

func (z *Zab) dropLearner(id node.ID) {
	if l := z.learners[id]; l != nil {
		z.send(id, &Msg{Type: MsgReset, Conn: l.conn})
		z.learners[id] = nil
	}
}

func (z *Zab) stepLeader(from node.ID, m *Msg) {
	if m.Type == MsgFollowerInfo {
		if l := z.learners[from]; l != nil && l.conn == m.Conn {
			return // a retry of the connection we already have
		}
		// A new connection replaces whatever the follower had before.
		z.learners[from] = &learner{conn: m.Conn, recvSeq: 0, phase: lhInfo,
			acceptedEpoch: m.AcceptedEpoch, currentEpoch: m.CurrentEpoch,
			lastZxid: m.Zxid, applied: m.Applied, lastHeard: z.now, abstain: m.Abstain}
		if z.lphase != lDiscovery {
			z.sendLeaderInfo(from, z.learners[from])
		}
		return
	}
	l := z.learners[from]
	if l == nil || m.Conn != l.conn {
		if m.Type != MsgReset && m.Conn != 0 {
			z.send(from, &Msg{Type: MsgReset, Conn: m.Conn})
		}
		return
	}
	if m.Type == MsgReset {
		z.learners[from] = nil
		return
	}
	if m.Seq != l.recvSeq+1 {
		if m.Seq > l.recvSeq {
			z.dropLearner(from)
		}
		return
	}
	l.recvSeq = m.Seq
	l.lastHeard = z.now

	switch m.Type {
	case MsgAckEpoch:
		if l.phase != lhEpochSent {
			z.dropLearner(from)
			return
		}
		l.phase = lhAcked
		l.currentEpoch, l.lastZxid, l.applied, l.abstain = m.CurrentEpoch, m.Zxid, m.Applied, m.Abstain
		// The leader's history as it was elected: (its current epoch then,
		// its last zxid). A leader never logs anything before it is
		// established, so lastLogged is still that history.
		if !l.abstain && z.lphase != lEstablished && !z.cfg.Bugs.ElectionIgnoresZxid &&
			(l.currentEpoch > z.vote.Epoch || l.currentEpoch == z.vote.Epoch && l.lastZxid > z.lastLogged()) {
			// A follower has a longer history than the leader: this leader
			// must not lead (FastLeaderElection should have prevented it,
			// but a vote may have been stale). Look again.
			z.startLooking()
			return
		}
		if z.lphase == lSync || z.lphase == lEstablished {
			z.sendSync(from, l)
		}

	case MsgAck:
		if m.NewLeader {
			if l.phase != lhSyncSent || m.Epoch != z.newEpoch {
				z.dropLearner(from)
				return
			}
			l.phase = lhSynced
			l.acked = m.Zxid
			if z.lphase == lEstablished {
				z.sendLearner(from, l, &Msg{Type: MsgUpToDate, Epoch: z.newEpoch, Zxid: z.committed})
			}
			return
		}
		if l.phase != lhSynced {
			z.dropLearner(from)
			return
		}
		if m.Zxid > l.acked {
			l.acked = m.Zxid
		}

	case MsgPong:
		if l.phase == lhSynced && m.Zxid > l.acked {
			l.acked = m.Zxid
		}

	case MsgRelay:
		if l.phase != lhSynced || z.lphase != lEstablished {
			z.dropLearner(from)
			return
		}
		z.apply.Relayed = append(z.apply.Relayed, quorum.Relay{From: from, Payload: m.Payload})
		z.pending = true

	default:
		z.dropLearner(from)
	}
}

func (z *Zab) sendLeaderInfo(id node.ID, l *learner) {
	l.phase = lhEpochSent
	z.sendLearner(id, l, &Msg{Type: MsgLeaderInfo, Epoch: z.newEpoch})
}

// sendSync decides how to bring a follower to the leader's history.
func (z *Zab) sendSync(id node.ID, l *learner) {
	m := &Msg{Type: MsgSync, NewEpoch: z.newEpoch, Commit: z.committed}
	peer := l.lastZxid
	last := z.lastLogged()
	switch {
	case l.abstain || peer < z.base || l.applied > last:
		m.Mode = SyncSnap
	case peer == last:
		m.Mode = SyncDiff
	default:
		// The last zxid the two histories share: the follower's last zxid
		// if the leader has it, else the leader's last txn before it.
		i := z.indexAfter(peer)
		common := z.base
		if i > 0 {
			common = z.log[i-1].Zxid
		}
		if common == peer {
			m.Mode = SyncDiff
			m.Entries = z.log[i:]
		} else if common < l.applied {
			m.Mode = SyncSnap
		} else {
			m.Mode, m.Zxid = SyncTrunc, common
			m.Entries = z.log[i:]
		}
	}
	if m.Mode != SyncSnap && (z.cfg.DiffLimit > 0 && len(m.Entries) > z.cfg.DiffLimit || z.bug.Fire(BuggifySyncSnap, 300)) {
		m.Mode, m.Zxid = SyncSnap, 0
	}
	if m.Mode == SyncSnap {
		s := z.snapshotApplied()
		m.Snap = &s
		m.Entries = z.log[z.indexAfter(s.Zxid):]
	}
	// The entries are shared with the leader's log, which only ever grows
	// by append or is replaced wholesale, never written in place.
	m.Entries = m.Entries[:len(m.Entries):len(m.Entries)]
	l.phase = lhSyncSent
	l.acked = 0
	z.sendLearner(id, l, m)
}

// leaderProgress moves the leader through its phases and commits.
func (z *Zab) leaderProgress() {
	v := z.cfg.Verifier
	switch z.lphase {
	case lDiscovery:
		s := quorum.SetOf(z.id)
		maxEpoch := z.acceptedEpoch
		for id, l := range z.learners {
			if l != nil && !l.abstain {
				s = s.Add(node.ID(id))
				maxEpoch = max(maxEpoch, l.acceptedEpoch)
			}
		}
		if !v.IsElectionQuorum(s) {
			return
		}
		z.newEpoch = maxEpoch + 1
		if z.cfg.Bugs.EpochReuse && maxEpoch > 0 {
			z.newEpoch = maxEpoch // seeded bug: an epoch a previous leader may have used
		}
		z.persistAcceptedEpoch(z.newEpoch)
		z.lphase = lEpochWait
		for id, l := range z.learners {
			if l != nil {
				z.sendLeaderInfo(node.ID(id), l)
			}
		}
		fallthrough
	case lEpochWait:
		s := quorum.SetOf(z.id)
		for id, l := range z.learners {
			if l != nil && !l.abstain && l.phase >= lhAcked {
				s = s.Add(node.ID(id))
			}
		}
		if !v.IsElectionQuorum(s) {
			return
		}
		z.lphase = lSync
		z.persistCurrentEpoch(z.newEpoch)
		for id, l := range z.learners {
			if l != nil && l.phase == lhAcked {
				z.sendSync(node.ID(id), l)
			}
		}
		fallthrough
	case lSync:
		if z.durableCurrentEpoch != z.newEpoch {
			return // our own NEWLEADER "ack" waits for the epoch to be durable
		}
		s := quorum.SetOf(z.id)
		for id, l := range z.learners {
			if l != nil && l.phase == lhSynced {
				s = s.Add(node.ID(id))
			}
		}
		if !v.IsCommitQuorum(s) {
			return
		}
		z.lphase = lEstablished
		// Everything in the leader's log is now held by a commit quorum.
		z.committed = z.lastLogged()
		for id, l := range z.learners {
			if l != nil && l.phase == lhSynced {
				z.sendLearner(node.ID(id), l, &Msg{Type: MsgUpToDate, Epoch: z.newEpoch, Zxid: z.committed})
			}
		}
		z.applyCommitted()
		fallthrough
	case lEstablished:
		z.commitAcked()
	}
}

// commitAcked commits, in zxid order, every proposal acked by a commit
// quorum (the leader counts itself for what it has synced).
func (z *Zab) commitAcked() {
	from := z.committed
	for i := z.indexAfter(z.committed); i < len(z.log); i++ {
		zxid := z.log[i].Zxid
		var s quorum.Set
		if z.durableLogged >= zxid {
			s = s.Add(z.id)
		}
		for id, l := range z.learners {
			if l != nil && l.phase == lhSynced && l.acked >= zxid {
				s = s.Add(node.ID(id))
			}
		}
		if z.cfg.Bugs.CommitOneAckShort {
			// Seeded bug: count one voter that did not ack.
			for _, p := range z.peers {
				if !s.Has(p) {
					s = s.Add(p)
					break
				}
			}
		}
		if !z.cfg.Verifier.IsCommitQuorum(s) {
			break
		}
		z.committed = zxid
	}
	if z.committed == from {
		return
	}
	for id, l := range z.learners {
		if l != nil && l.phase >= lhSyncSent {
			z.sendLearner(node.ID(id), l, &Msg{Type: MsgCommit, Zxid: z.committed})
		}
	}
	z.applyCommitted()
}

// Propose logs a txn and sends it to every follower past sync.
func (z *Zab) Propose(now node.Time, data []byte) (quorum.Position, error) {
	if now > z.now {
		z.now = now
	}
	if z.role != quorum.Leading || z.lphase != lEstablished {
		return 0, quorum.ErrNotLeader
	}
	last := z.lastLogged()
	var zxid model.Zxid
	if last.Epoch() == z.newEpoch {
		if last.Counter() == ^uint32(0) {
			z.startLooking()
			return 0, ErrEpochExhausted
		}
		zxid = model.MakeZxid(z.newEpoch, last.Counter()+1)
	} else {
		zxid = model.MakeZxid(z.newEpoch, 1)
	}
	z.appendLog(entry(zxid, data))
	for id, l := range z.learners {
		if l != nil && l.phase >= lhSyncSent {
			z.sendLearner(node.ID(id), l, &Msg{Type: MsgProposal, Zxid: zxid, Data: data})
		}
	}
	return quorum.Position(zxid), nil
}

func (z *Zab) tickLeading() {
	limit := node.Time(z.cfg.SyncLimit) * z.cfg.TickTime
	if z.lphase != lEstablished {
		if z.now-z.phaseStart > node.Time(z.cfg.InitLimit)*z.cfg.TickTime {
			z.startLooking()
			return
		}
		limit = node.Time(z.cfg.InitLimit) * z.cfg.TickTime
	}
	heard := quorum.SetOf(z.id)
	for id, l := range z.learners {
		if l == nil {
			continue
		}
		if z.now-l.lastHeard > limit || z.bug.Fire(BuggifyDropLearner, 2) {
			z.dropLearner(node.ID(id))
			continue
		}
		if l.phase == lhSynced {
			heard = heard.Add(node.ID(id))
		}
	}
	if z.lphase == lEstablished && !z.cfg.Verifier.IsCommitQuorum(heard) && !z.cfg.Bugs.NoStepDown {
		// ZooKeeper's leader: "not sufficient followers synced, only synced
		// with sids ..." — it stops leading.
		z.startLooking()
		return
	}
	if z.now >= z.nextPing {
		z.nextPing = z.now + z.cfg.TickTime/2
		for id, l := range z.learners {
			if l != nil && l.phase >= lhSyncSent {
				z.sendLearner(node.ID(id), l, &Msg{Type: MsgPing, Zxid: z.committed})
			}
		}
	}
}
