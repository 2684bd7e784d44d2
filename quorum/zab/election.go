package zab

import (
	"zoosim/node"
	"zoosim/quorum"
)

// FastLeaderElection, as ZooKeeper runs it: each looking server votes for
// the best (epoch, last zxid, id) it has heard of in its election round and
// tells everyone; once an election quorum agrees with its vote it waits
// FinalizeWait for a better one, then follows (or leads). A server that
// hears from servers already following or leading joins their leader once
// an election quorum of them agrees and the leader itself says it leads.

func (z *Zab) initialVote() Vote {
	if z.abstain {
		// A damaged server never stands: its history is not trustworthy.
		return Vote{Leader: int32(z.id)}
	}
	return Vote{Leader: int32(z.id), Zxid: z.lastLogged(), Epoch: z.currentEpoch}
}

// startLooking enters a new election round.
func (z *Zab) startLooking() {
	z.leaveRole()
	z.role = quorum.Looking
	z.leader = 0
	z.round++
	z.vote = z.initialVote()
	clear(z.recv)
	clear(z.outOfElec)
	z.recv[z.id] = voteRecord{ok: true, vote: z.vote, round: z.round, state: quorum.Looking, abstain: z.abstain}
	z.decideAt = 0
	z.resendStep = z.cfg.VoteResend
	z.broadcastVote()
	z.armDecision()
}

// armDecision starts (or cancels) the finalize wait depending on whether
// an election quorum agrees with our vote. A standalone server agrees with
// itself at once.
func (z *Zab) armDecision() {
	if z.agreed(z.recv, z.vote, true) {
		if z.decideAt == 0 {
			z.decideAt = z.now + z.cfg.FinalizeWait
		}
	} else {
		z.decideAt = 0
	}
}

// leaveRole drops the state of a follower or leader role.
func (z *Zab) leaveRole() {
	if z.role == quorum.Leading {
		for id, l := range z.learners {
			if l != nil {
				z.send(node.ID(id), &Msg{Type: MsgReset, Conn: l.conn})
			}
		}
	}
	clear(z.learners)
	z.stash = z.stash[:0] // never logged: gone with the connection
	z.holdApply = false
	z.fphase, z.lphase = 0, 0
	z.conn, z.sendSeq, z.recvSeq = 0, 0, 0
}

func (z *Zab) voteMsg() *Msg {
	return &Msg{Type: MsgVote, Vote: z.vote, Round: z.round, State: z.role, Abstain: z.abstain}
}

func (z *Zab) broadcastVote() {
	for _, p := range z.peers {
		z.send(p, z.voteMsg())
	}
	// Resends back off (doubling, bounded) with jitter so that servers that
	// started together do not stay in lock-step.
	jitter := node.Time(z.rnd.Int64N(int64(z.cfg.VoteResend)))
	z.nextResend = z.now + z.resendStep + jitter
}

func (z *Zab) tickLooking() {
	if z.decideAt != 0 && z.now >= z.decideAt {
		if z.agreed(z.recv, z.vote, true) {
			z.decide(z.vote)
			return
		}
		z.decideAt = 0
	}
	if z.now >= z.nextResend {
		if z.resendStep < 8*z.cfg.VoteResend {
			z.resendStep *= 2
		}
		z.broadcastVote()
	}
}

// agreed reports whether the servers whose last vote (in this round, when
// sameRound) equals v form an election quorum. Damaged servers do not count.
func (z *Zab) agreed(set []voteRecord, v Vote, sameRound bool) bool {
	var s quorum.Set
	for id, r := range set {
		if r.ok && !r.abstain && r.vote == v && (!sameRound || r.round == z.round) {
			s = s.Add(node.ID(id))
		}
	}
	return z.cfg.Verifier.IsElectionQuorum(s)
}

// leaderConfirmed reports whether the proposed leader itself said it leads.
func (z *Zab) leaderConfirmed(set []voteRecord, leader int32) bool {
	if node.ID(leader) == z.id || leader <= 0 || int(leader) >= len(set) {
		return false
	}
	r := set[leader]
	return r.ok && r.state == quorum.Leading
}

func (z *Zab) stepVote(from node.ID, m *Msg) {
	rec := voteRecord{ok: true, vote: m.Vote, round: m.Round, state: m.State, abstain: m.Abstain}
	if z.role != quorum.Looking {
		// A looking server asks; tell it whom we follow.
		if m.State == quorum.Looking {
			z.send(from, z.voteMsg())
		}
		return
	}
	if m.State == quorum.Looking {
		adoptable := !(m.Abstain && node.ID(m.Vote.Leader) == from)
		switch {
		case m.Round > z.round:
			z.round = m.Round
			clear(z.recv)
			z.vote = z.initialVote()
			if adoptable && z.beats(m.Vote, z.vote) {
				z.vote = m.Vote
			}
			z.decideAt = 0
			z.broadcastVote()
		case m.Round < z.round:
			z.send(from, z.voteMsg())
			return
		default:
			if adoptable && z.beats(m.Vote, z.vote) {
				z.vote = m.Vote
				z.decideAt = 0
				z.broadcastVote()
			}
		}
		z.recv[from] = rec
		z.recv[z.id] = voteRecord{ok: true, vote: z.vote, round: z.round, state: quorum.Looking, abstain: z.abstain}
		z.armDecision()
		return
	}
	// The sender follows or leads.
	if m.Round == z.round {
		z.recv[from] = rec
		if z.agreed(z.recv, m.Vote, true) && z.leaderConfirmed(z.recv, m.Vote.Leader) {
			z.decide(m.Vote)
			return
		}
	}
	z.outOfElec[from] = rec
	if z.agreed(z.outOfElec, m.Vote, false) && z.leaderConfirmed(z.outOfElec, m.Vote.Leader) {
		z.round = m.Round
		z.decide(m.Vote)
	}
}

// decide ends the election.
func (z *Zab) decide(v Vote) {
	z.vote = v
	z.decideAt = 0
	if node.ID(v.Leader) == z.id {
		if z.abstain {
			// Never lead with a damaged history; look again.
			z.startLooking()
			return
		}
		z.becomeLeader()
		return
	}
	z.becomeFollower(node.ID(v.Leader))
}

// beats orders votes: FastLeaderElection's total order, or the seeded
// bug's order that forgets the history (ElectionIgnoresZxid).
func (z *Zab) beats(a, b Vote) bool {
	if z.cfg.Bugs.ElectionIgnoresZxid {
		if a.Epoch != b.Epoch {
			return a.Epoch > b.Epoch
		}
		return a.Leader > b.Leader
	}
	return a.better(b)
}
