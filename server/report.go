package server

import (
	"cmp"
	"slices"

	"zoosim/node"
)

// What a server shows about itself to its operators (ZooKeeper's
// four-letter words and metrics): read-only views of the core, for a driver
// to call between Steps. None of them changes the server.

// SessionExpiry is a session the leader's session tracker holds.
type SessionExpiry struct {
	ID        int64
	Timeout   node.Time
	ExpiresAt node.Time
	// Closing: the leader has proposed the session's closeSession.
	Closing bool
}

// Expiries lists the sessions an established leader tracks, sorted by
// expiry time then id (nil on any other server).
func (s *Server) Expiries() []SessionExpiry {
	if s.lead == nil {
		return nil
	}
	out := make([]SessionExpiry, 0, len(s.lead.sessions))
	for id, t := range s.lead.sessions {
		out = append(out, SessionExpiry{ID: id, Timeout: t.timeout, ExpiresAt: t.expiresAt, Closing: t.closing})
	}
	slices.SortFunc(out, func(a, b SessionExpiry) int {
		return cmp.Or(cmp.Compare(a.ExpiresAt, b.ExpiresAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// WatchCount is the number of (path, connection) watch registrations the
// server holds, data and child tables both (mntr's zk_watch_count).
func (s *Server) WatchCount() int { return s.watches.Len() }

// SessionWatches is the data watches one session's connection holds here.
type SessionWatches struct {
	Session int64
	Paths   []string
}

// DataWatches lists the data table (ZooKeeper's dataWatches: data, exist
// and persistent watches) by session, sorted by session then path.
func (s *Server) DataWatches() []SessionWatches {
	var out []SessionWatches
	for _, wp := range s.watches.DataWatches() {
		if c := s.byWatcher[wp.Watcher]; c != nil {
			out = append(out, SessionWatches{Session: c.session, Paths: wp.Paths})
		}
	}
	slices.SortFunc(out, func(a, b SessionWatches) int { return cmp.Compare(a.Session, b.Session) })
	return out
}

// InFlight is the number of an established leader's proposals not yet
// committed and applied (0 on any other server): its commit lag.
func (s *Server) InFlight() int {
	if s.lead == nil {
		return 0
	}
	return len(s.lead.proposed)
}

// Connections is the number of client connections the server holds.
func (s *Server) Connections() int { return len(s.conns) }
