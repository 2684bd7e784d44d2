package scenarios

import (
	"zoosim/node"
	"zoosim/quorum"
)

// RoleSampleInterval is how often, in virtual time, the runner looks at
// every server's role. A role held for less than this may go unseen; an
// election takes several ticks, so the picture misses none.
const RoleSampleInterval = 10 * node.Millisecond

// The roles a RoleChange records besides the engine's own
// (quorum.Role.String: looking, following, leading).
const (
	RoleDown   = "down"   // crashed (or not started yet)
	RolePaused = "paused" // its process is paused
)

// RoleChange says that a server held Role from Time on (until its next
// change). The runner samples every server's engine status on the
// simulator's clock, between events, and reads nothing but the status: the
// sampling changes neither the run nor its trace hash.
type RoleChange struct {
	Time   node.Time
	Server node.ID
	Role   string
	// Established: the engine serves (quorum.Status.Serving): a leader a
	// commit quorum has synced with, or a follower caught up with it.
	Established bool
	Leader      node.ID // the leader it follows or is (0: none known)
	Epoch       uint32  // the leader's epoch or term (quorum.Status.Term)
}

// roleSampler keeps the last role seen of each server and every change.
type roleSampler struct {
	next    node.Time // the next sample is due at this virtual time
	last    map[node.ID]RoleChange
	changes []RoleChange
}

// runTo runs the world until virtual time t, sampling the servers' roles
// every RoleSampleInterval on the way when Options.RecordRoles asks for it.
// A world with nothing queued (every node down) would otherwise stay at its
// last event: an empty callback at t makes time pass anyway.
//
// Running to the sample points one after another processes exactly the
// events one run to t would, in the same order: the sampling adds no event.
// It costs a few per cent of a run, so only reports ask for it.
func (rs *runState) runTo(t node.Time) {
	w := rs.world
	if t <= w.Now() || w.Exhausted() {
		return
	}
	w.At(t, func() {})
	if !rs.opt.RecordRoles {
		w.Run(t)
		return
	}
	for rs.roles.next < t && !w.Exhausted() {
		w.Run(rs.roles.next)
		rs.sampleRoles()
	}
	w.Run(t)
	rs.sampleRoles()
}

// sampleRoles records each server whose role changed since the last sample.
// It only reads: whether the node is up or paused, and its engine's status.
func (rs *runState) sampleRoles() {
	w := rs.world
	now := w.Now()
	if rs.roles.last == nil {
		rs.roles.last = map[node.ID]RoleChange{}
	}
	for _, id := range rs.serverIDs { // in ID order: the changes come out sorted
		c := RoleChange{Time: now, Server: id, Role: RoleDown}
		switch s := rs.live(id); {
		case s == nil:
		case w.Paused(id):
			c.Role = RolePaused
		default:
			st := s.Engine().Status()
			c.Role, c.Established, c.Leader, c.Epoch = st.Role.String(), st.Serving, st.Leader, uint32(st.Term)
			if st.Role == quorum.Looking {
				c.Leader, c.Epoch = 0, 0
			}
		}
		prev, seen := rs.roles.last[id]
		prev.Time = now
		if seen && prev == c {
			continue
		}
		rs.roles.last[id] = c
		rs.roles.changes = append(rs.roles.changes, c)
	}
	for rs.roles.next <= now {
		rs.roles.next += RoleSampleInterval
	}
}
