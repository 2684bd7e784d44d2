package zab

import (
	"zoosim/node"
	"zoosim/quorum"
)

// A follower connects to the leader it elected (FOLLOWERINFO), accepts the
// new epoch (persisting it before ACKEPOCH), applies the sync and persists
// the new current epoch before it acks NEWLEADER, then logs and syncs every
// proposal before acking it and applies commits in zxid order.

func (z *Zab) becomeFollower(leader node.ID) {
	z.leaveRole()
	z.role = quorum.Following
	z.leader = leader
	z.fphase = fConnecting
	z.conn = z.rnd.Uint64() | 1
	z.lastHeard = z.now
	z.phaseStart = z.now
	z.sendFollowerInfo()
}

// sendFollowerInfo opens (or retries opening) the learner connection. It is
// outside the sequence: the leader may not be leading yet when the first
// one arrives, so the follower repeats it every tick until answered.
func (z *Zab) sendFollowerInfo() {
	z.lastInfoSent = z.now
	z.send(z.leader, &Msg{Type: MsgFollowerInfo, Conn: z.conn, AcceptedEpoch: z.acceptedEpoch,
		CurrentEpoch: z.currentEpoch, Zxid: z.lastLogged(), Applied: z.applied, Abstain: z.abstain})
}

// sendLeader sends on the learner channel.
func (z *Zab) sendLeader(m *Msg) {
	z.sendSeq++
	m.Conn, m.Seq = z.conn, z.sendSeq
	z.send(z.leader, m)
}

func (z *Zab) followerFails() {
	z.send(z.leader, &Msg{Type: MsgReset, Conn: z.conn})
	z.startLooking()
}

func (z *Zab) tickFollowing() {
	limit := z.cfg.SyncLimit
	if z.fphase != fUpToDate {
		limit = z.cfg.InitLimit
	}
	if z.now-z.lastHeard > node.Time(limit)*z.cfg.TickTime {
		// The leader went silent: ZooKeeper's follower drops the connection
		// and looks for a leader again.
		z.followerFails()
		return
	}
	if z.fphase == fConnecting && z.recvSeq == 0 && z.now-z.lastInfoSent >= z.cfg.TickTime {
		z.sendFollowerInfo()
	}
}

func (z *Zab) stepFollower(m *Msg) {
	if m.Conn != z.conn {
		return // a message of an earlier connection
	}
	if m.Type == MsgReset {
		z.startLooking()
		return
	}
	if m.Seq != z.recvSeq+1 {
		// A lost, duplicated or reordered message: the stream is broken.
		if m.Seq <= z.recvSeq {
			return // a duplicate of something already handled
		}
		z.followerFails()
		return
	}
	z.recvSeq = m.Seq
	z.lastHeard = z.now

	switch m.Type {
	case MsgLeaderInfo:
		if z.fphase != fConnecting {
			z.followerFails()
			return
		}
		if m.Epoch < z.acceptedEpoch {
			// A leader of an older epoch than we already accepted.
			z.followerFails()
			return
		}
		if m.Epoch > z.acceptedEpoch {
			z.persistAcceptedEpoch(m.Epoch)
		}
		z.newEpoch = m.Epoch
		z.fphase = fEpochAcked
		z.sendLeader(&Msg{Type: MsgAckEpoch, AcceptedEpoch: z.acceptedEpoch, CurrentEpoch: z.currentEpoch,
			Zxid: z.lastLogged(), Applied: z.applied, Abstain: z.abstain})

	case MsgSync:
		if z.fphase != fEpochAcked || m.NewEpoch != z.newEpoch {
			z.followerFails()
			return
		}
		switch m.Mode {
		case SyncSnap:
			s := *m.Snap
			z.installSnapshot(&s)
		case SyncTrunc:
			if m.Zxid < z.applied {
				// The leader must never ask to drop applied state; with a
				// safe quorum it cannot. Start over with a snapshot.
				z.followerFails()
				return
			}
			if !z.cfg.Bugs.IgnoreTrunc {
				z.truncateLog(m.Zxid)
			}
		case SyncDiff:
		default:
			z.followerFails()
			return
		}
		claimed := z.lastLogged()
		z.stash = z.stash[:0]
		for _, e := range m.Entries {
			if e.Zxid <= claimed {
				continue
			}
			if z.cfg.Bugs.LogAfterNewLeader {
				z.stash = append(z.stash, e) // seeded bug: logged after the ack
			} else {
				z.appendLog(e)
			}
			claimed = e.Zxid
		}
		if m.Commit > z.committed {
			z.committed = m.Commit
		}
		if z.cfg.Bugs.SyncCommitsAll {
			// Seeded bug: everything the sync brought is applied now, before
			// the leader is established (it may never be).
			z.committed = z.lastLogged()
			z.applyCommitted()
		}
		z.persistCurrentEpoch(z.newEpoch)
		if z.cfg.Bugs.SnapAckBeforeSync && m.Mode == SyncSnap {
			z.rd.Sync = false // seeded bug: the NEWLEADER ack leaves before the snapshot is durable
		}
		z.fphase = fSynced
		z.sendLeader(&Msg{Type: MsgAck, NewLeader: true, Epoch: z.newEpoch, Zxid: claimed})
		if z.bug.Fire(BuggifyDropAfterNewLeader, 200) {
			z.followerFails()
		}

	case MsgUpToDate:
		if z.fphase != fSynced {
			z.followerFails()
			return
		}
		z.logStash()
		z.fphase = fUpToDate
		if z.abstain {
			// The leader's history is now on this disk (acked before this
			// UPTODATE could be sent): the damage is repaired.
			z.abstain = false
			z.rd.Disk = append(z.rd.Disk, node.DiskOp{Kind: node.Remove, File: fileDamaged})
			z.rd.Sync = true
			z.pending = true
		}
		if m.Zxid > z.committed {
			z.committed = m.Zxid
		}

	case MsgProposal:
		z.logStash()
		if z.fphase < fSynced || m.Zxid <= z.lastLogged() || m.Zxid.Epoch() != z.newEpoch {
			z.followerFails()
			return
		}
		z.appendLog(quorumEntry(m))
		if z.cfg.Bugs.AckBeforeSync {
			z.rd.Sync = false // seeded bug: the ack leaves before the log is durable
		}
		if z.cfg.Bugs.ApplyProposals && z.fphase == fUpToDate {
			z.committed = max(z.committed, m.Zxid) // seeded bug: applied before it is committed
		}
		z.sendLeader(&Msg{Type: MsgAck, Zxid: m.Zxid})

	case MsgCommit, MsgPing:
		if z.fphase < fSynced {
			z.followerFails()
			return
		}
		if m.Zxid > z.committed {
			z.committed = m.Zxid
			if m.Type == MsgCommit && z.bug.Fire(BuggifyLateCommit, 200) {
				z.holdApply = true
			}
		}
		if m.Type == MsgPing {
			z.sendLeader(&Msg{Type: MsgPong, Zxid: z.lastLogged()})
		}

	case MsgRelay:
		if z.fphase != fUpToDate {
			z.followerFails()
			return
		}
		// Commits that arrived before this payload must be applied first.
		z.applyCommitted()
		z.apply.Relayed = append(z.apply.Relayed, quorum.Relay{From: z.leader, Payload: m.Payload})
		z.pending = true

	default:
		z.followerFails()
	}
}

func quorumEntry(m *Msg) quorum.Entry { return entry(m.Zxid, m.Data) }

// logStash logs the synced txns the LogAfterNewLeader bug held back.
func (z *Zab) logStash() {
	for _, e := range z.stash {
		if e.Zxid > z.lastLogged() {
			z.appendLog(e)
		}
	}
	z.stash = z.stash[:0]
}
