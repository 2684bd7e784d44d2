package model

import "slices"

// Session is an entry of the replicated session table.
type Session struct {
	ID        int64
	TimeoutMs int32
	// Passwd is the password a client must show to resume the session. The
	// server that created the session drew it; it is replicated with the
	// session so that every server can check it.
	Passwd [PasswdLen]byte
}

// PasswdLen is the length of a session password (ZooKeeper's is 16 bytes).
const PasswdLen = 16

// sessionEntry is a session table value.
type sessionEntry struct {
	timeoutMs int32
	passwd    [PasswdLen]byte
}

// Sessions lists the session table sorted by id (nil when empty); the
// leader's session tracker is rebuilt from it after an election or a restart.
func (t *Tree) Sessions() []Session {
	if len(t.sessions) == 0 {
		return nil
	}
	out := make([]Session, 0, len(t.sessions))
	for id, e := range t.sessions {
		out = append(out, Session{ID: id, TimeoutMs: e.timeoutMs, Passwd: e.passwd})
	}
	slices.SortFunc(out, func(a, b Session) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// SessionTimeoutMs returns a session's timeout and whether the session is in
// the table.
func (t *Tree) SessionTimeoutMs(id int64) (int32, bool) {
	e, ok := t.sessions[id]
	return e.timeoutMs, ok
}

// SessionPasswd returns a session's password and whether the session is in
// the table.
func (t *Tree) SessionPasswd(id int64) ([PasswdLen]byte, bool) {
	e, ok := t.sessions[id]
	return e.passwd, ok
}

// Ephemerals lists, sorted, the ephemeral nodes a session owns (nil for
// none): getEphemerals, and what closeSession deletes.
func (t *Tree) Ephemerals(session int64) []string {
	set := t.ephemerals[session]
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// EphemeralOwners lists, sorted, every session that owns at least one
// ephemeral node (nil for none). An owner missing from Sessions is an
// ephemeral that outlived its session: a bug the session checker looks for.
func (t *Tree) EphemeralOwners() []int64 {
	if len(t.ephemerals) == 0 {
		return nil
	}
	out := make([]int64, 0, len(t.ephemerals))
	for id := range t.ephemerals {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
