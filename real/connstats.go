package real

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"zoosim/model"
	"zoosim/wire"
)

// What the client port measures of the requests it carries, as ZooKeeper's
// ServerStats and ServerCnxn count them: packets received and sent, the
// latency of every request from the moment its frame was decoded to the
// moment its reply was encoded (pings included, as in ZooKeeper), the
// requests outstanding, and per connection the session, the last operation,
// cxid, zxid and response time. The reader and writer goroutines of a
// connection update them; the four-letter words and the metrics read them.
// The cores know nothing of it: the driver observes.

// latencyStats is ZooKeeper's AvgMinMaxCounter in milliseconds.
type latencyStats struct {
	count, sum, min, max, last int64
}

func (l *latencyStats) add(ms int64) {
	if l.count == 0 || ms < l.min {
		l.min = ms
	}
	l.max = max(l.max, ms)
	l.count++
	l.sum += ms
	l.last = ms
}

// avg is AvgMinMaxCounter.getAvg: rounded to 4 decimals (half up).
func (l *latencyStats) avg() float64 {
	if l.count == 0 {
		return 0
	}
	return math.Floor(float64(l.sum)/float64(l.count)*1e4+0.5) / 1e4
}

// RequestObserver is told of every request the client port answers: its
// opcode, its latency, and the reply's error (ErrOK for a ping).
type RequestObserver interface {
	ObserveRequest(op model.OpCode, latency time.Duration, err model.Err)
}

// portStats are the client port's totals (ZooKeeper's ServerStats).
type portStats struct {
	received, sent atomic.Uint64
	outstanding    atomic.Int64
	authFailed     atomic.Uint64

	mu                sync.Mutex
	lat               latencyStats // every request (ServerStats' requestLatency)
	readLat, writeLat latencyStats // mntr's readlatency and updatelatency
}

func (s *portStats) latency(op model.OpCode, ms int64) {
	s.mu.Lock()
	s.lat.add(ms)
	if isUpdate(op) {
		s.writeLat.add(ms)
	} else {
		s.readLat.add(ms)
	}
	s.mu.Unlock()
}

// isUpdate: the request becomes a txn (ZooKeeper's update latency is that
// of requests with a txn header).
func isUpdate(op model.OpCode) bool {
	return wire.IsWrite(op) || op == model.OpCreateSession
}

// serverTotals is a copy of the port's totals.
type serverTotals struct {
	received, sent, authFailed uint64
	outstanding                int64
	lat                        latencyStats
}

// xidConnect stands for a connect request among the in-flight ones (no
// request carries it: client xids are non-negative or ZooKeeper's special
// negative ones).
const xidConnect = math.MinInt32

// inflightReq is a request the port has decoded and not yet answered.
type inflightReq struct {
	xid   int32
	op    model.OpCode
	start time.Time
}

// connStats are one connection's (ServerCnxn's counters).
type connStats struct {
	mu          sync.Mutex
	opened      time.Time
	established time.Time // when the session was granted (zero before)
	session     int64
	timeoutMs   int32
	recved      uint64
	sent        uint64
	lastHeard   time.Time
	lastOp      string
	lastCxid    int64 // -1 until a request with a cxid >= 0 is answered
	lastZxid    int64
	lastResp    time.Time
	lat         latencyStats
	inflight    []inflightReq
}

func newConnStats(now time.Time) *connStats {
	return &connStats{opened: now, lastHeard: now, lastOp: "NA", lastCxid: -1, lastZxid: -1}
}

// received notes a decoded message from the client.
func (c *connStats) received(ps *portStats, body any, now time.Time) {
	ps.received.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recved++
	c.lastHeard = now
	switch m := body.(type) {
	case *wire.Connect:
		c.inflight = append(c.inflight, inflightReq{xid: xidConnect, op: model.OpCreateSession, start: now})
		ps.outstanding.Add(1)
	case *wire.Request:
		c.inflight = append(c.inflight, inflightReq{xid: m.Xid, op: m.Op, start: now})
		ps.outstanding.Add(1)
	case *wire.Ping:
		c.inflight = append(c.inflight, inflightReq{xid: wire.XidPing, op: model.OpPing, start: now})
		ps.outstanding.Add(1)
	}
}

// sending notes a message about to be written to the client.
func (c *connStats) sending(ps *portStats, obs RequestObserver, body any, now time.Time) {
	var done *inflightReq
	var err model.Err
	c.mu.Lock()
	switch m := body.(type) {
	case *wire.Connected:
		if r, ok := c.take(xidConnect); ok {
			done = &r
			if m.TimeoutMs > 0 {
				c.established, c.session, c.timeoutMs = now, m.SessionID, m.TimeoutMs
				c.answered(r, c.lastZxid, now)
			} else {
				err = model.ErrSessionExpired
			}
		}
	case *wire.Reply:
		if r, ok := c.take(m.Xid); ok {
			done, err = &r, m.Err
			c.answered(r, int64(m.Zxid), now)
			if m.Err == model.ErrAuthFailed && r.op == model.OpAuth {
				ps.authFailed.Add(1)
			}
		}
	case *wire.Pong:
		if r, ok := c.take(wire.XidPing); ok {
			done = &r
			c.answered(r, int64(m.Zxid), now)
		}
	case *wire.Close:
		c.mu.Unlock()
		return
	}
	c.sent++
	c.mu.Unlock()
	ps.sent.Add(1)
	if done != nil {
		ps.outstanding.Add(-1)
		lat := now.Sub(done.start)
		ps.latency(done.op, lat.Milliseconds())
		if obs != nil {
			obs.ObserveRequest(done.op, lat, err)
		}
	}
}

// take removes the oldest in-flight request with this xid (replies come in
// order, but an auth reply overtakes the requests before it).
func (c *connStats) take(xid int32) (inflightReq, bool) {
	for i, r := range c.inflight {
		if r.xid == xid {
			c.inflight = append(c.inflight[:i], c.inflight[i+1:]...)
			return r, true
		}
	}
	return inflightReq{}, false
}

// answered is ServerCnxn.updateStatsForResponse (auth packets are not
// counted there: ZooKeeper answers them before the request pipeline).
func (c *connStats) answered(r inflightReq, zxid int64, now time.Time) {
	if r.op == model.OpAuth {
		return
	}
	if r.xid >= 0 {
		c.lastCxid = int64(r.xid)
	}
	c.lastZxid = zxid
	c.lastOp = lastOpName(r.op)
	c.lastResp = now
	c.lat.add(now.Sub(r.start).Milliseconds())
}

// dropped forgets what a closed connection still had in flight.
func (c *connStats) dropped(ps *portStats) {
	c.mu.Lock()
	n := len(c.inflight)
	c.inflight = nil
	c.mu.Unlock()
	ps.outstanding.Add(-int64(n))
}

// reset is ServerCnxn.resetStats (crst).
func (c *connStats) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recved, c.sent, c.lat = 0, 0, latencyStats{}
	c.lastOp, c.lastCxid, c.lastZxid, c.lastResp = "NA", -1, -1, time.Time{}
}

// connInfo is a copy of a connection's counters, for reports.
type connInfo struct {
	remote      string
	fourLetter  bool // the connection asking (ZooKeeper shows it with interest ops 0)
	opened      time.Time
	established time.Time
	session     int64
	timeoutMs   int32
	recved      uint64
	sent        uint64
	queued      int
	lastHeard   time.Time
	lastOp      string
	lastCxid    int64
	lastZxid    int64
	lastResp    time.Time
	lat         latencyStats
}

func (c *connStats) info(remote string) connInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return connInfo{remote: remote, opened: c.opened, established: c.established, session: c.session, timeoutMs: c.timeoutMs,
		recved: c.recved, sent: c.sent, queued: len(c.inflight), lastHeard: c.lastHeard, lastOp: c.lastOp,
		lastCxid: c.lastCxid, lastZxid: c.lastZxid, lastResp: c.lastResp, lat: c.lat}
}

// lastOpName is the four-letter name FinalRequestProcessor gives each
// operation (ServerCnxn's lop).
func lastOpName(op model.OpCode) string {
	switch op {
	case model.OpPing:
		return "PING"
	case model.OpCreateSession:
		return "SESS"
	case model.OpMulti:
		return "MULT"
	case model.OpMultiRead:
		return "MLTR"
	case model.OpCreate, model.OpCreate2, model.OpCreateTTL, model.OpCreateContainer:
		return "CREA"
	case model.OpDelete, model.OpDeleteContainer:
		return "DELE"
	case model.OpSetData:
		return "SETD"
	case model.OpReconfig:
		return "RECO"
	case model.OpSetACL:
		return "SETA"
	case model.OpCloseSession:
		return "CLOS"
	case model.OpSync:
		return "SYNC"
	case model.OpCheck:
		return "CHEC"
	case model.OpExists:
		return "EXIS"
	case model.OpGetData:
		return "GETD"
	case model.OpSetWatches:
		return "SETW"
	case model.OpSetWatches2:
		return "STW2"
	case model.OpAddWatch:
		return "ADDW"
	case model.OpGetACL:
		return "GETA"
	case model.OpGetChildren, model.OpGetChildren2:
		return "GETC"
	case model.OpGetAllChildrenNumber:
		return "GETACN"
	case model.OpCheckWatches:
		return "CHKW"
	case model.OpRemoveWatches:
		return "REMW"
	case model.OpWhoAmI:
		return "HOMI"
	case model.OpGetEphemerals:
		return "GETE"
	}
	return "NA"
}

// opName is the name of an opcode as ZooKeeper's client API spells it, for
// metric labels.
func opName(op model.OpCode) string {
	switch op {
	case model.OpCreate:
		return "create"
	case model.OpDelete:
		return "delete"
	case model.OpExists:
		return "exists"
	case model.OpGetData:
		return "getData"
	case model.OpSetData:
		return "setData"
	case model.OpGetACL:
		return "getACL"
	case model.OpSetACL:
		return "setACL"
	case model.OpGetChildren:
		return "getChildren"
	case model.OpSync:
		return "sync"
	case model.OpPing:
		return "ping"
	case model.OpGetChildren2:
		return "getChildren2"
	case model.OpCheck:
		return "check"
	case model.OpMulti:
		return "multi"
	case model.OpCreate2:
		return "create2"
	case model.OpReconfig:
		return "reconfig"
	case model.OpCheckWatches:
		return "checkWatches"
	case model.OpRemoveWatches:
		return "removeWatches"
	case model.OpCreateContainer:
		return "createContainer"
	case model.OpCreateTTL:
		return "createTTL"
	case model.OpMultiRead:
		return "multiRead"
	case model.OpAuth:
		return "auth"
	case model.OpSetWatches:
		return "setWatches"
	case model.OpSASL:
		return "sasl"
	case model.OpGetEphemerals:
		return "getEphemerals"
	case model.OpGetAllChildrenNumber:
		return "getAllChildrenNumber"
	case model.OpSetWatches2:
		return "setWatches2"
	case model.OpAddWatch:
		return "addWatch"
	case model.OpWhoAmI:
		return "whoAmI"
	case model.OpCloseSession:
		return "closeSession"
	}
	return "unknown"
}
