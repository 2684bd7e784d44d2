package client

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"zoosim/model"
	"zoosim/wire"
)

// Recipe is a coordination recipe: a small state machine that issues
// requests through a Client and moves on from their results and the
// client's events. It never blocks; the driver hands it what the client
// produced (Dispatch does that).
type Recipe interface {
	// HandleResult takes a result and reports whether it was one of the
	// recipe's own requests.
	HandleResult(r Result) bool
	// HandleEvent takes every event of the client (recipes share the
	// client's one default watcher, so each looks for its own paths).
	HandleEvent(ev Event)
}

// maxDispatchRounds bounds Dispatch's loop: recipes answer results with
// new requests, and a request the client refuses completes at once, so a
// recipe that kept retrying a refused request would loop.
const maxDispatchRounds = 1024

// Dispatch takes the client's results and events, merges them in Order and
// hands them to the recipes: each event to every recipe, each result to the
// first recipe that claims it. It repeats while handling produced more (a
// request refused at once), and returns the results no recipe claimed and
// every event, for the caller's own records.
func Dispatch(c *Client, recipes ...Recipe) (unclaimed []Result, events []Event) {
	for round := 0; ; round++ {
		rs, evs := c.TakeResults(), c.TakeEvents()
		if len(rs) == 0 && len(evs) == 0 {
			return unclaimed, events
		}
		if round == maxDispatchRounds {
			panic(fmt.Sprintf("client %d: invariant violated: recipes still produce work after %d dispatch rounds", c.self, round))
		}
		events = append(events, evs...)
		i, j := 0, 0
		for i < len(rs) || j < len(evs) {
			if j == len(evs) || (i < len(rs) && rs[i].Order < evs[j].Order) {
				claimed := false
				for _, rc := range recipes {
					if rc.HandleResult(rs[i]) {
						claimed = true
						break
					}
				}
				if !claimed {
					unclaimed = append(unclaimed, rs[i])
				}
				i++
				continue
			}
			for _, rc := range recipes {
				rc.HandleEvent(evs[j])
			}
			j++
		}
	}
}

// sessionGone reports whether c can no longer run a recipe's requests: the
// session is over or closing (requests would be refused at once).
func sessionGone(c *Client) (model.Err, bool) {
	switch {
	case c.state.Final():
		return model.ErrSessionExpired, true
	case c.closing:
		return model.ErrConnectionLoss, true
	}
	return model.ErrOK, false
}

// Election is master election with an ephemeral node, the seed note's
// example (and ZooKeeper's "Distributed Process Coordination" master):
// create the node ephemeral with the client's id as data; whoever succeeds
// is master. The others watch it with exists and run again when it is
// deleted (its master's session ended). A create that fails with
// ConnectionLoss may have succeeded: the election reads the node and is
// master if its ephemeralOwner is this session.
//
// A careful master: IsMaster turns false as soon as the client is
// Disconnected, because from then on the session may expire (the servers
// expire it a third of the timeout after the client gave the connection
// up) and another client may become master while this one cannot know. On
// the next SyncConnected the election reads the node again and is master
// again only if this session still owns it. Expired and Closed end the
// election for good; a new session needs a new Election.
type Election struct {
	c     *Client
	path  string
	data  []byte
	phase electionPhase
	xid   int32 // the request the election waits for; 0 when none
	// suspended: master, but disconnected (or reconnected and checking).
	suspended bool
	err       model.Err
}

type electionPhase uint8

const (
	electionIdle     electionPhase = iota + 1
	electionCreating               // create sent
	electionChecking               // getData sent: do we own the node?
	electionWatching               // exists(watch) sent, or waiting for its event
	electionMaster
	electionOver
)

// NewElection prepares an election on path (for example "/master") with the
// client's id in decimal as the node's data. Start runs it.
func NewElection(c *Client, path string) *Election {
	return &Election{c: c, path: path, data: []byte(strconv.Itoa(int(c.self))), phase: electionIdle}
}

var _ Recipe = (*Election)(nil)

// Start runs for master. It does nothing if the election already started.
func (e *Election) Start() {
	if e.phase == electionIdle {
		e.create()
	}
}

// IsMaster reports whether this client is master: its create succeeded (or
// was found to have succeeded), and the client has stayed connected since
// it last checked.
func (e *Election) IsMaster() bool { return e.phase == electionMaster && !e.suspended }

// Done reports whether the election is over (session expired or closed, or
// an unexpected error; see Err).
func (e *Election) Done() bool { return e.phase == electionOver }

// Err is why the election is over, ErrOK while it runs.
func (e *Election) Err() model.Err { return e.err }

// Path is the election node.
func (e *Election) Path() string { return e.path }

func (e *Election) submit(phase electionPhase, submit func() int32) {
	if err, gone := sessionGone(e.c); gone {
		e.over(err)
		return
	}
	e.phase = phase
	e.xid = submit()
}

func (e *Election) create() {
	e.submit(electionCreating, func() int32 { return e.c.Create(e.path, e.data, nil, model.ModeEphemeral) })
}

func (e *Election) check() {
	e.submit(electionChecking, func() int32 { return e.c.GetData(e.path, false) })
}

func (e *Election) watch() {
	e.submit(electionWatching, func() int32 { return e.c.Exists(e.path, true) })
}

func (e *Election) over(err model.Err) {
	e.phase, e.err, e.suspended = electionOver, err, false
}

// HandleResult implements Recipe.
func (e *Election) HandleResult(r Result) bool {
	if e.xid == 0 || r.Xid != e.xid {
		return false
	}
	e.xid = 0
	switch e.phase {
	case electionCreating:
		switch r.Err {
		case model.ErrOK:
			e.phase, e.suspended = electionMaster, false
		case model.ErrNodeExists:
			e.watch()
		case model.ErrConnectionLoss:
			e.check()
		default:
			e.over(r.Err)
		}
	case electionChecking:
		switch r.Err {
		case model.ErrOK:
			if r.Stat.EphemeralOwner == e.c.sessionID {
				e.phase, e.suspended = electionMaster, false
			} else {
				e.suspended = false
				e.watch()
			}
		case model.ErrNoNode:
			e.suspended = false
			e.create()
		case model.ErrConnectionLoss:
			e.check()
		default:
			e.over(r.Err)
		}
	case electionWatching:
		switch r.Err {
		case model.ErrOK:
			// The node exists and the watch is set: wait for its event.
		case model.ErrNoNode:
			e.create()
		case model.ErrConnectionLoss:
			e.watch()
		default:
			e.over(r.Err)
		}
	}
	return true
}

// HandleEvent implements Recipe.
func (e *Election) HandleEvent(ev Event) {
	if e.phase == electionOver || e.phase == electionIdle {
		return
	}
	if ev.Type == model.EventNone {
		switch ev.State {
		case wire.StateDisconnected:
			if e.phase == electionMaster {
				e.suspended = true
			}
		case wire.StateSyncConnected:
			if e.phase == electionMaster && e.suspended && e.xid == 0 {
				e.check() // IsMaster stays false until the check succeeds
			}
		case wire.StateExpired:
			e.over(model.ErrSessionExpired)
		case wire.StateClosed:
			e.over(model.ErrSessionExpired)
		}
		return
	}
	if ev.Path != e.path || e.phase != electionWatching || e.xid != 0 {
		return
	}
	if ev.Type == model.EventNodeDeleted {
		e.create()
	} else {
		e.watch() // the one-shot watch fired for another change: set it again
	}
}

// Lock is ZooKeeper's lock recipe: each contender creates
// dir/lock-<guid>-NNNNNNNNNN ephemeral-sequential, lists dir, and holds the
// lock when its node has the lowest sequence number; otherwise it watches
// the node just below its own with exists and lists again when that one
// goes (no herd: each waiter watches one node). The guid (session id and a
// per-client counter) lets a contender whose create failed with
// ConnectionLoss find the node it may have created; nodes with its guid
// other than its own (from such a create that went through late) are
// deleted when seen. The lock directory is created if missing.
//
// Like Election, a careful holder: Held turns false on Disconnected and
// true again only after a listing on the next connection shows the node
// still lowest. Expired and Closed end the lock for good.
type Lock struct {
	c     *Client
	dir   string
	guid  string // name prefix of this acquisition's node, "lock-<session>-<n>-"
	node  string // this acquisition's node, once known
	pred  string // the node watched while waiting
	phase lockPhase
	xid   int32 // the request the lock waits for; 0 when none
	// strays are deletes of this contender's extra nodes; their results are
	// the lock's, not the caller's.
	strays      []int32
	suspended   bool
	wantRelease bool
	err         model.Err
}

type lockPhase uint8

const (
	lockIdle        lockPhase = iota + 1
	lockWaitConnect           // Acquire before the session existed
	lockCreating
	lockMkdir    // creating the lock directory
	lockFinding  // getChildren after a create lost with the connection
	lockListing  // getChildren
	lockWatching // exists(watch) on the predecessor sent, or waiting for its event
	lockHeld
	lockReleasing // delete sent
	lockReleased  // released; Acquire may run again
	lockOver
)

// lockPrefix starts every contender's node name.
const lockPrefix = "lock-"

// NewLock prepares a lock on dir (for example "/lock"). Acquire contends.
func NewLock(c *Client, dir string) *Lock {
	return &Lock{c: c, dir: dir, phase: lockIdle}
}

var _ Recipe = (*Lock)(nil)

// Acquire starts contending for the lock. It does nothing unless the lock
// is idle or released.
func (l *Lock) Acquire() {
	if l.phase != lockIdle && l.phase != lockReleased {
		return
	}
	l.wantRelease, l.suspended = false, false
	if l.c.state != Connected {
		l.phase = lockWaitConnect
		return
	}
	l.create()
}

// Held reports whether this client holds the lock.
func (l *Lock) Held() bool { return l.phase == lockHeld && !l.suspended }

// Node is the contender's node while it has one.
func (l *Lock) Node() string { return l.node }

// Done reports whether the lock is over for good (see Err).
func (l *Lock) Done() bool { return l.phase == lockOver }

// Err is why the lock is over, ErrOK otherwise.
func (l *Lock) Err() model.Err { return l.err }

// Release gives the lock up (or stops contending): it deletes the node.
// Held is false at once.
func (l *Lock) Release() {
	switch l.phase {
	case lockIdle, lockReleased, lockReleasing, lockOver:
		return
	case lockWaitConnect:
		l.released()
		return
	}
	l.wantRelease = true
	if l.xid == 0 && l.node != "" {
		l.release()
	}
	// Otherwise the result in flight moves the lock on to the release.
}

func (l *Lock) submit(phase lockPhase, submit func() int32) {
	if err, gone := sessionGone(l.c); gone {
		l.fail(err)
		return
	}
	l.phase = phase
	l.xid = submit()
}

func (l *Lock) create() {
	if l.guid == "" {
		l.c.recipeSeq++
		l.guid = fmt.Sprintf("%s%x-%d-", lockPrefix, l.c.sessionID, l.c.recipeSeq)
	}
	l.submit(lockCreating, func() int32 {
		return l.c.Create(l.dir+"/"+l.guid, nil, nil, model.ModeEphemeralSequential)
	})
}

func (l *Lock) mkdir() {
	l.submit(lockMkdir, func() int32 { return l.c.Create(l.dir, nil, nil, model.ModePersistent) })
}

func (l *Lock) find() {
	l.submit(lockFinding, func() int32 { return l.c.GetChildren(l.dir, false) })
}

func (l *Lock) list() {
	if l.wantRelease {
		l.release()
		return
	}
	l.submit(lockListing, func() int32 { return l.c.GetChildren(l.dir, false) })
}

func (l *Lock) release() {
	if l.node == "" {
		l.released()
		return
	}
	l.submit(lockReleasing, func() int32 { return l.c.Delete(l.node, -1) })
}

func (l *Lock) released() {
	l.phase, l.node, l.pred, l.guid = lockReleased, "", "", ""
	l.wantRelease, l.suspended = false, false
}

func (l *Lock) fail(err model.Err) {
	l.phase, l.err, l.suspended = lockOver, err, false
}

// contender is one node in the lock directory.
type contender struct {
	name string
	seq  int64
}

// contenders returns the children that look like lock nodes, by sequence
// number (ties, impossible in one directory, by name).
func contenders(children []string) []contender {
	var out []contender
	for _, name := range children {
		if !strings.HasPrefix(name, lockPrefix) || len(name) < len(lockPrefix)+10 {
			continue
		}
		seq, err := strconv.ParseInt(name[len(name)-10:], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, contender{name, seq})
	}
	slices.SortFunc(out, func(a, b contender) int {
		return cmp.Or(cmp.Compare(a.seq, b.seq), cmp.Compare(a.name, b.name))
	})
	return out
}

// evaluate is the recipe's step 2 on a listing: hold the lock if our node is
// lowest, else watch the one just below it.
func (l *Lock) evaluate(children []string) {
	if l.wantRelease {
		l.release()
		return
	}
	all := contenders(children)
	mine := -1
	for i, ct := range all {
		switch {
		case l.dir+"/"+ct.name == l.node:
			mine = i
		case l.guid != "" && strings.HasPrefix(ct.name, l.guid):
			// A node of ours from a create whose reply was lost.
			l.strays = append(l.strays, l.c.Delete(l.dir+"/"+ct.name, -1))
		}
	}
	switch {
	case mine < 0:
		// Our node is gone though the session lives: someone deleted it.
		l.node = ""
		l.fail(model.ErrNoNode)
	case mine == 0:
		l.phase, l.pred, l.suspended = lockHeld, "", false
	default:
		l.pred = l.dir + "/" + all[mine-1].name
		l.submit(lockWatching, func() int32 { return l.c.Exists(l.pred, true) })
	}
}

// HandleResult implements Recipe.
func (l *Lock) HandleResult(r Result) bool {
	if i := slices.Index(l.strays, r.Xid); i >= 0 {
		l.strays = slices.Delete(l.strays, i, i+1)
		return true
	}
	if l.xid == 0 || r.Xid != l.xid {
		return false
	}
	l.xid = 0
	switch l.phase {
	case lockCreating:
		switch r.Err {
		case model.ErrOK:
			l.node = r.Path
			l.list()
		case model.ErrConnectionLoss:
			l.find()
		case model.ErrNoNode:
			if l.wantRelease {
				l.released()
			} else {
				l.mkdir()
			}
		default:
			l.fail(r.Err)
		}
	case lockMkdir:
		switch r.Err {
		case model.ErrOK, model.ErrNodeExists:
			if l.wantRelease {
				l.released()
			} else {
				l.create()
			}
		case model.ErrConnectionLoss:
			l.mkdir()
		default:
			l.fail(r.Err)
		}
	case lockFinding:
		switch r.Err {
		case model.ErrOK:
			for _, ct := range contenders(r.Children) {
				if strings.HasPrefix(ct.name, l.guid) {
					l.node = l.dir + "/" + ct.name
					break
				}
			}
			switch {
			case l.node != "":
				l.evaluate(r.Children)
			case l.wantRelease:
				l.released()
			default:
				l.create()
			}
		case model.ErrConnectionLoss:
			l.find()
		default:
			l.fail(r.Err)
		}
	case lockListing:
		switch r.Err {
		case model.ErrOK:
			l.evaluate(r.Children)
		case model.ErrConnectionLoss:
			l.list()
		default:
			l.fail(r.Err)
		}
	case lockWatching:
		switch {
		case l.wantRelease:
			l.release()
		case r.Err == model.ErrOK:
			// The predecessor exists and is watched: wait for its event.
		case r.Err == model.ErrNoNode || r.Err == model.ErrConnectionLoss:
			l.list()
		default:
			l.fail(r.Err)
		}
	case lockReleasing:
		switch r.Err {
		case model.ErrOK, model.ErrNoNode:
			l.released()
		case model.ErrConnectionLoss:
			l.release()
		default:
			l.fail(r.Err)
		}
	}
	return true
}

// HandleEvent implements Recipe.
func (l *Lock) HandleEvent(ev Event) {
	switch l.phase {
	case lockIdle, lockReleased, lockOver:
		return
	}
	if ev.Type == model.EventNone {
		switch ev.State {
		case wire.StateDisconnected:
			if l.phase == lockHeld {
				l.suspended = true
			}
		case wire.StateSyncConnected:
			switch {
			case l.phase == lockWaitConnect:
				l.create()
			case l.phase == lockHeld && l.suspended:
				l.list() // Held stays false until the listing shows us lowest
			}
		case wire.StateExpired, wire.StateClosed:
			l.fail(model.ErrSessionExpired)
		}
		return
	}
	if l.phase == lockWatching && l.xid == 0 && ev.Path == l.pred {
		l.list()
	}
}
