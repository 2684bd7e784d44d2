package scenarios

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"zoosim/checker"
	"zoosim/client"
	"zoosim/model"
	"zoosim/nemesis"
	"zoosim/node"
	"zoosim/quorum"
	"zoosim/quorum/engines"
	"zoosim/server"
	"zoosim/sim"
)

// Options tune how a run is judged and reported (not what it does).
type Options struct {
	// CheckTimeout is the wall-clock guard on the linearizability search
	// (checker.Options.LinearizabilityTimeout); CheckBudget its
	// deterministic budget (checker.Options.LinearizabilityBudget).
	CheckTimeout time.Duration
	CheckBudget  int64
	// VisualizeDir: when set, a failing linearizability check writes
	// porcupine's HTML visualization there.
	VisualizeDir string
	// Trace, when set, receives the readable trace of the world.
	Trace func(sim.TraceEvent)
	// Schedule replaces the swarm nemesis with this exact schedule (for
	// repro and shrinking).
	Schedule *nemesis.Schedule
	// MaxOpsPerClient stops each client after this many operations
	// (shrinking); 0 means no limit.
	MaxOpsPerClient int
	// RecordRoles samples every server's role over the run into
	// Result.Roles (for a report's timeline). It reads only: the run and its
	// trace hash are the same with or without it.
	RecordRoles bool
}

// Result is one run's outcome.
type Result struct {
	Scenario   string
	Seed       uint64
	Engine     string
	Servers    int
	Quorum     string
	QuorumSafe bool
	Verdict    checker.Verdict
	Checks     map[string]checker.Verdict
	Report     checker.Report
	Ops        int
	Faults     int
	Events     uint64
	VirtualMs  int64
	WallMs     int64
	TraceHash  uint64
	Repro      string
	Swarm      string // the swarm nemesis's drawn configuration
	// Knobs are the run's protocol and server settings (drawn or pinned),
	// and BuggifyFired how often each forced rare branch fired.
	Knobs        Knobs
	BuggifyFired []string
	// Exhausted: the run spent its event budget (a liveness failure).
	Exhausted bool
	Schedule  nemesis.Schedule
	Applied   []nemesis.Applied
	History   *checker.History
	// WriteAvailability is the share of write attempts the ensemble
	// answered (success or an application error such as BadVersion, as
	// opposed to no answer); over the fault windows only in DuringFaults.
	WriteAvailability, DuringFaults float64
	WriteLatencies                  []node.Time
	// Roles are the servers' role changes over the run (see RoleChange),
	// with Options.RecordRoles.
	Roles []RoleChange

	// NotApplicable lists the checkers a run in a real world left out, with
	// why (the target does not give what they need).
	NotApplicable map[string]string

	// Err says why the harness failed when Verdict is VerdictError.
	Err string
}

// runState is what the nodes of one run share.
type runState struct {
	sc        Scenario
	opt       Options
	knobs     Knobs
	links     sim.LinkParams // every link's normal behaviour (the network knob)
	world     *sim.World
	serverIDs []node.ID
	clientIDs []node.ID
	rec       *recorder
	servers   map[node.ID]*server.Server
	// incarnations of each server, oldest first, with the white-box txn
	// records each applied.
	incarnations map[node.ID][]*timedServer
	nodes        map[node.ID]*clientNode
	clientBugs   client.Bugs
	// Link faults and lag in effect, which the simulated links combine.
	quality map[[2]node.ID]nemesis.LinkQuality
	lag     map[node.ID]node.Time
	// Crash-point cascades: armed (server -> delay, -1 once the point
	// fired) and done (server -> the leader its cascade crashed).
	cascade  map[node.ID]node.Time
	cascaded map[node.ID]node.ID
	roles    roleSampler
	// Without a simulated world (PrepareReal): the seed, the named random
	// streams drawn from it, and the checkers the target cannot serve.
	seed          uint64
	streams       map[string]*rand.Rand
	notApplicable map[string]string
	down          map[node.ID]bool // crashed client processes
}

const firstClientID = 101

// Run plays scenario sc for one seed and judges it. A panic inside the
// service (a broken invariant) is a failing run: its verdict is a
// violation of the "invariant" check, reproducible from the seed. A
// failure of the harness itself (a panic in the workload, the nemesis or a
// checker, a generated schedule the nemesis refuses) is a run with the
// verdict VerdictError, never a violation. The error is for bad input: a
// scenario that does not validate, a schedule that does not fit it.
func Run(sc Scenario, seed uint64, opt Options) (res *Result, err error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	wallStart := time.Now() // wall time is measured around the simulation, never inside it
	var rs *runState
	var runner *nemesis.Runner
	defer func() {
		if p := recover(); p != nil {
			function, pkg := panicOrigin()
			res = panicResult(sc, seed, p, function, pkg)
			res.WallMs = time.Since(wallStart).Milliseconds()
			if rs != nil {
				res.Knobs, res.Repro = rs.knobs, reproLine(sc, seed, rs.knobs)
				if rs.world != nil {
					res.TraceHash, res.Events = rs.world.TraceHash(), rs.world.Stats().Events
					res.VirtualMs = int64(rs.world.Now() / node.Millisecond)
				}
			}
			if runner != nil {
				res.Applied = runner.Applied()
				res.Faults = len(res.Applied)
			}
			err = nil
		}
	}()
	return run(sc, seed, opt, wallStart, &rs, &runner)
}

func run(sc Scenario, seed uint64, opt Options, wallStart time.Time, rsOut **runState, runnerOut **nemesis.Runner) (*Result, error) {
	v, err := quorum.Parse(sc.Quorum, sc.Servers)
	if err != nil {
		return nil, err
	}
	knobs := sc.Knobs.draw(sim.NewStream(seed, "knobs/"+sc.Name), sc)
	if err := knobs.Validate(); err != nil {
		// Validate checked the pinned knobs: the draw is the harness's bug.
		return harnessError(sc, seed, knobs, "drawn knobs: "+err.Error()), nil
	}
	points, _ := knobs.buggifyPoints(sc.Engine)
	cfg := sim.DefaultConfig(seed)
	cfg.Links = networkProfiles[knobs.Network]
	cfg.SyncLatencyMin, cfg.SyncLatencyMax = diskProfiles[knobs.Disk][0], diskProfiles[knobs.Disk][1]
	cfg.MaxEvents = sc.eventBudget()
	if knobs.CrashLoss == "all" {
		cfg.CrashLoss = sim.LoseAll
	}
	rs := &runState{sc: sc, opt: opt, knobs: knobs, links: cfg.Links, rec: &recorder{}, servers: map[node.ID]*server.Server{},
		incarnations: map[node.ID][]*timedServer{}, nodes: map[node.ID]*clientNode{},
		quality: map[[2]node.ID]nemesis.LinkQuality{}, lag: map[node.ID]node.Time{},
		cascade: map[node.ID]node.Time{}, cascaded: map[node.ID]node.ID{}}
	rs.sc.SessionTimeout = knobs.SessionTimeout
	*rsOut = rs
	w := sim.New(cfg)
	rs.world = w
	if opt.Trace != nil {
		w.SetTracer(opt.Trace)
	}
	plan := node.NewBuggifyPlan(points)
	w.SetBuggify(plan)
	w.SetCrashHook(rs.onCrash)
	for i := 1; i <= sc.Servers; i++ {
		rs.serverIDs = append(rs.serverIDs, node.ID(i))
	}
	for i := 0; i <= sc.Clients; i++ { // the last one is the liveness probe
		rs.clientIDs = append(rs.clientIDs, node.ID(firstClientID+i))
	}
	bugs := switches(sc.Bugs)
	rs.clientBugs = bugs.client
	eng, err := engines.Lookup(sc.Engine)
	if err != nil {
		return nil, err
	}
	settings, engineBugs := knobs.settings(), bugs.engine(sc.Engine)
	for _, id := range rs.serverIDs {
		w.AddNode(id, func(env node.Env) node.Machine {
			s, err := server.New(server.Config{ReadMode: sc.ReadMode, TickTime: knobs.TickTime, Bugs: bugs.server, ModelBugs: bugs.model,
				NewEngine: func(sm quorum.StateMachine, env node.Env) (quorum.Engine, error) {
					return eng.New(engines.Params{Verifier: v, StateMachine: sm, Settings: settings, Bugs: engineBugs}, env)
				}}, env)
			if err != nil {
				panic(err)
			}
			s.RecordApplied()
			rs.servers[id] = s
			t := &timedServer{Server: s, world: w}
			rs.incarnations[id] = append(rs.incarnations[id], t)
			return t
		})
	}
	for _, id := range rs.serverIDs {
		w.SetServiceTime(id, sc.ServiceTime)
	}
	assign := w.Stream("workload/assign")
	groups := max(sc.Workload.Groups, 1)
	dealt := dealBehaviours(assign, sc.Workload.Mix, sc.Clients)
	for i, id := range rs.clientIDs {
		beh := probe
		if i < sc.Clients {
			beh = dealt[i]
		}
		group := i % groups
		w.AddNode(id, func(env node.Env) node.Machine {
			n := newClientNode(rs, id, beh, group, env)
			rs.nodes[id] = n
			return n
		})
	}

	target := &simTarget{rs: rs}
	sched, swarmDesc, herr := rs.drawSchedule(sc, seed, eng)
	if herr != nil {
		return herr, nil
	}
	runner, err := nemesis.NewRunner(sched, target, w.Stream("nemesis/apply"))
	if err != nil {
		if opt.Schedule != nil {
			return nil, err // the caller's schedule does not fit this world
		}
		// The swarm drew a schedule the nemesis refuses: the harness's bug.
		res := harnessError(sc, seed, knobs, err.Error())
		res.TraceHash, res.Events = w.TraceHash(), w.Stats().Events
		return res, nil
	}
	*runnerOut = runner

	// Safety phase: workload and faults.
	end := sc.Duration
	for !w.Exhausted() {
		next, ok := runner.Next()
		if !ok || next > end {
			break
		}
		rs.runTo(next)
		runner.Apply(w.Now())
	}
	rs.runTo(end)

	// Liveness phase: heal everything, restart every server, and the
	// ensemble must acknowledge a write within the bound.
	if !w.Exhausted() {
		runner.HealAll(w.Now())
		rs.rec.healedAt = w.Now()
	}
	limit := w.Now() + sc.LivenessBound + 5*node.Second
	for w.Now() < limit && rs.rec.firstAfter == 0 && !w.Exhausted() {
		rs.runTo(w.Now() + 50*node.Millisecond)
	}
	// Quiesce: no new operations; outstanding ones finish or time out;
	// servers catch up.
	for _, n := range rs.nodes {
		n.stopped = true
	}
	rs.runTo(w.Now() + 3*node.Second)

	h := rs.history(v.Safe(), runner.Applied(), w.Now())
	rs.recordApplied(h)
	res := rs.judge(sc, seed, v, h, sched, runner.Applied(), func(report checker.Report) checker.Report {
		if w.Exhausted() {
			report = exhaustedReport(report, w, sc)
		}
		return report
	})
	res.Events, res.VirtualMs, res.TraceHash = w.Stats().Events, int64(w.Now()/node.Millisecond), w.TraceHash()
	res.Swarm, res.BuggifyFired, res.Exhausted, res.Roles = swarmDesc, plan.Fired(), w.Exhausted(), rs.roles.changes
	res.WallMs = time.Since(wallStart).Milliseconds()
	return res, nil
}

// drawSchedule is the run's fault schedule: the caller's (Options.Schedule)
// or the swarm nemesis's draw from the seed's "nemesis" stream, with its
// description. A non-nil *Result is a harness error.
func (rs *runState) drawSchedule(sc Scenario, seed uint64, eng engines.Spec) (nemesis.Schedule, string, *Result) {
	opt := rs.opt
	var sched nemesis.Schedule
	var swarmDesc string
	if opt.Schedule != nil {
		sched = *opt.Schedule
	} else if len(sc.Nemesis.Kinds) > 0 {
		kinds, err := nemesis.ParseKinds(strings.Join(sc.Nemesis.Kinds, ","))
		if err != nil {
			// Validate checked the kinds: this is the harness's bug.
			return nil, "", harnessError(sc, seed, rs.knobs, "nemesis kinds: "+err.Error())
		}
		quiet := sc.Nemesis.Quiet
		if quiet == 0 {
			quiet = 2 * node.Second
		}
		// Short runs still get faults: the quiet start is at most a
		// quarter of the run.
		quiet = min(quiet, sc.Duration/4)
		var swarm nemesis.SwarmConfig
		msgs := sc.Nemesis.CrashMessages[sc.Engine]
		if msgs == nil {
			msgs = eng.CrashMessages
		}
		var always []nemesis.Kind
		for _, k := range sc.Nemesis.Always {
			always = append(always, nemesis.Kind(k))
		}
		sched, swarm = nemesis.Swarm(rs.stream("nemesis"), nemesis.SwarmOptions{Duration: sc.Duration, Kinds: kinds,
			Servers: sc.Servers, Clients: len(rs.clientIDs), Quiet: quiet, CrashMessages: msgs, Always: always,
			Intense: sc.Nemesis.Intense})
		swarmDesc = swarm.String()
	}
	return sched, swarmDesc, nil
}

// judge runs the checkers over a run's history and makes its result (the
// simulator's counters and the wall time are the caller's). adjust may
// change the report before it is summed up (nil: none).
func (rs *runState) judge(sc Scenario, seed uint64, v quorum.Verifier, h *checker.History, sched nemesis.Schedule,
	applied []nemesis.Applied, adjust func(checker.Report) checker.Report) *Result {
	opt := rs.opt
	copt := checker.Options{LinearizabilityTimeout: opt.CheckTimeout, LinearizabilityBudget: opt.CheckBudget,
		LivenessBound: sc.LivenessBound, Checks: sc.Checks}
	if !v.Safe() || !isMajority(v) || damagedMajority(applied, sc.Servers) || clockWentBack(sched, applied) {
		// Liveness is promised only for majority quorums, only while a
		// majority of servers kept their disks (a server whose disk lost
		// records must not vote until a leader has synced it again), and
		// only while timers run forward (a backward jump of the clock
		// timers use stalls them for as long; monotonic clocks never do
		// it, so the swarm never draws it).
		copt.Checks = withoutCheck(copt.Checks, "liveness")
	}
	for _, name := range sortedKeys(rs.notApplicable) {
		copt.Checks = withoutCheck(copt.Checks, name)
	}
	if opt.VisualizeDir != "" {
		copt.VisualizePath = VisualizationPath(opt.VisualizeDir, sc.Name, seed)
	}
	report := checker.Check(h, copt)
	if adjust != nil {
		report = adjust(report)
	}

	res := &Result{Scenario: sc.Name, Seed: seed, Engine: sc.Engine, Servers: sc.Servers, Quorum: v.String(),
		QuorumSafe: v.Safe(), Verdict: report.Verdict, Report: report, Checks: map[string]checker.Verdict{},
		Ops: len(h.Ops), Faults: len(applied), Schedule: sched, Applied: applied, History: h, Knobs: rs.knobs,
		NotApplicable: rs.notApplicable}
	for _, r := range report.Results {
		res.Checks[r.Checker] = r.Verdict
	}
	res.Repro = reproLine(sc, seed, rs.knobs)
	res.measure(h)
	return res
}

func damagedMajority(applied []nemesis.Applied, servers int) bool {
	hit := map[node.ID]bool{}
	for _, a := range applied {
		if a.Kind == "disk-corrupt" && !a.Skipped {
			for _, id := range a.Nodes {
				hit[id] = true
			}
		}
	}
	return 2*len(hit) >= servers
}

// clockWentBack reports whether an applied fault of the schedule moved a
// clock backwards.
func clockWentBack(sched nemesis.Schedule, applied []nemesis.Applied) bool {
	for _, a := range applied {
		if a.Kind == nemesis.ClockJump && !a.Skipped && a.Index >= 0 && a.Index < len(sched) && sched[a.Index].Jump < 0 {
			return true
		}
	}
	return false
}

func isMajority(v quorum.Verifier) bool {
	_, ok := v.(quorum.Majority)
	return ok
}

func withoutCheck(checks []string, name string) []string {
	if checks == nil {
		checks = slices.Clone(checker.Names)
	}
	return slices.DeleteFunc(slices.Clone(checks), func(c string) bool { return c == name })
}

// history assembles the run's history: the recorded operations (dropping
// those that had no effect), the white-box txn records of every server
// incarnation, the faults.
func (rs *runState) history(safe bool, applied []nemesis.Applied, end node.Time) *checker.History {
	h := rs.rec.h
	ops := h.Ops[:0:0]
	for _, op := range h.Ops {
		if op.Kind == 0 {
			continue
		}
		if op.Return == 0 && !op.Unknown {
			// Still in flight when the run ended, or its client process
			// crashed: a write may or may not have taken effect; a read
			// observed nothing.
			if !op.Kind.IsWrite() {
				continue
			}
			op.Unknown, op.Return, op.Err = true, checker.Infinity, model.ErrConnectionLoss
		}
		op.ID = len(ops)
		ops = append(ops, op)
	}
	h.Ops = ops
	h.Servers = rs.sc.Servers
	h.QuorumSafe = safe
	for _, a := range applied {
		if a.Skipped {
			continue
		}
		end := a.End
		if end == nemesis.Ongoing {
			end = checker.Infinity
		}
		h.Faults = append(h.Faults, checker.Fault{Start: a.Start, End: end, Kind: string(a.Kind), Description: a.Description})
	}
	h.LastHeard = rs.lastHeard()
	h.HealedAt = rs.rec.healedAt
	h.FirstWriteAfterHeal = rs.rec.firstAfter
	h.End = end
	return &h
}

// recordApplied puts the white-box txn records of every simulated server
// incarnation in h.
func (rs *runState) recordApplied(h *checker.History) {
	h.Applied = make([][]checker.Txn, rs.sc.Servers+1)
	for _, id := range rs.serverIDs {
		h.Applied[id] = appliedOf(rs.incarnations[id])
	}
}

func (rs *runState) live(id node.ID) *server.Server {
	if !rs.world.Up(id) {
		return nil
	}
	return rs.servers[id]
}

// measure computes availability and write latency from the history.
func (r *Result) measure(h *checker.History) {
	var attempts, acked, fa, fAcked int
	for _, op := range h.Ops {
		if !op.Kind.IsWrite() {
			continue
		}
		attempts++
		// Served: the ensemble answered, with success or an application
		// error (NodeExists, BadVersion, ... are correct answers too).
		ok := !op.Unknown && (op.Err == model.ErrOK || op.Err <= model.ErrAPIError)
		if ok {
			acked++
			r.WriteLatencies = append(r.WriteLatencies, op.Return-op.Call)
		}
		for _, f := range h.Faults {
			if op.Call >= f.Start && op.Call < f.End {
				fa++
				if ok {
					fAcked++
				}
				break
			}
		}
	}
	if attempts > 0 {
		r.WriteAvailability = float64(acked) / float64(attempts)
	}
	if fa > 0 {
		r.DuringFaults = float64(fAcked) / float64(fa)
	} else {
		r.DuringFaults = r.WriteAvailability
	}
}

// simTarget lets the nemesis act on the simulated world.
type simTarget struct {
	rs *runState
}

var _ nemesis.Target = (*simTarget)(nil)

func (t *simTarget) Servers() []node.ID { return t.rs.serverIDs }
func (t *simTarget) Clients() []node.ID { return t.rs.clientIDs }

func (t *simTarget) Leader() node.ID {
	for _, id := range t.rs.serverIDs {
		if s := t.rs.live(id); s != nil {
			if st := s.Engine().Status(); st.Role == quorum.Leading && st.Serving {
				return id
			}
		}
	}
	return 0
}

func (t *simTarget) Block(from, to node.ID)   { t.rs.world.Block(from, to) }
func (t *simTarget) Unblock(from, to node.ID) { t.rs.world.Unblock(from, to) }

func (t *simTarget) Heal() {
	t.rs.world.Heal()
	clear(t.rs.quality)
	t.rs.world.SetAllLinks(t.rs.links)
	for _, id := range sortedIDs(t.rs.lag) {
		t.rs.applyLag(id)
	}
}

// onCrash keeps what a crashing node's core knows that the checkers need:
// the end of a client's recipe claim and of its session (the txns a
// server applied stay with its incarnation, see timedServer); a crash at a
// point may cascade to the leader.
func (rs *runState) onCrash(id node.ID, atPoint bool) {
	if c := rs.cascade[id]; atPoint && c > 0 {
		rs.cascade[id] = -1 // fired: the cascade is under way
		rs.world.After(c, func() {
			if rs.cascade[id] != -1 {
				return // the fault ended first
			}
			delete(rs.cascade, id)
			t := &simTarget{rs: rs}
			if l := t.Leader(); l != 0 && rs.world.Up(l) {
				rs.cascaded[id] = l
				rs.world.Crash(l)
			}
		})
	}
	if inc := rs.incarnations[id]; len(inc) > 0 && rs.world.Machine(id) == inc[len(inc)-1] {
		inc[len(inc)-1].stamp()
	}
	if n := rs.nodes[id]; n != nil && rs.world.Machine(id) == n {
		// A crashed client process stops acting on any role it held, even
		// though its session lives on until it expires.
		n.endClaim()
		n.crashed()
		// An op submitted before the session existed ran in the session
		// the client then established: the checkers match its txn by it.
		if n.cur != nil && n.cur.op >= 0 {
			if op := &rs.rec.h.Ops[n.cur.op]; op.Session == 0 {
				op.Session = n.c.SessionID()
			}
		}
	}
}

func (t *simTarget) Crash(id node.ID) { t.rs.world.Crash(id) }

func (t *simTarget) Restart(id node.ID) { t.rs.world.Restart(id) }
func (t *simTarget) Pause(id node.ID)   { t.rs.world.Pause(id) }
func (t *simTarget) Resume(id node.ID)  { t.rs.world.Resume(id) }
func (t *simTarget) Up(id node.ID) bool { return t.rs.world.Up(id) }

func (t *simTarget) SetClock(id node.ID, jump node.Time, driftPPM int64) {
	t.rs.world.SetClock(id, jump, driftPPM)
}

func (t *simTarget) SetLinkQuality(from, to node.ID, q nemesis.LinkQuality) {
	if q.IsZero() {
		delete(t.rs.quality, [2]node.ID{from, to})
	} else {
		t.rs.quality[[2]node.ID{from, to}] = q
	}
	t.rs.applyLink(from, to)
}

// applyLink sets the simulated link from -> to to its normal behaviour
// worsened by the link fault and the lag in effect on it.
func (rs *runState) applyLink(from, to node.ID) {
	p := rs.links
	q := rs.quality[[2]node.ID{from, to}]
	p.LossProb, p.DupProb, p.ReorderProb = max(p.LossProb, q.LossProb), max(p.DupProb, q.DupProb), max(p.ReorderProb, q.ReorderProb)
	extra := q.ExtraLatency + rs.linkLag(from, to)
	p.LatencyMin += extra
	p.LatencyMax += extra
	if p.TailProb > 0 {
		p.TailLatencyMin += extra
		p.TailLatencyMax += extra
	}
	rs.world.SetLink(from, to, p)
}

// linkLag is the lag a link between two servers carries: a lagging server
// is slow to hear and to be heard by the other servers (its clients' links
// stay fast, so they keep reading its stale state).
func (rs *runState) linkLag(from, to node.ID) node.Time {
	if rs.servers[from] == nil || rs.servers[to] == nil {
		return 0
	}
	return max(rs.lag[from], rs.lag[to])
}

func (t *simTarget) SyncLies(id node.ID, lies bool) { t.rs.world.SetSyncLies(id, lies) }

func (t *simTarget) CorruptRecord(id node.ID) (string, bool) {
	file, index, ok := t.rs.world.CorruptRandom(id)
	return fmt.Sprintf("%s#%d", file, index), ok
}

var (
	_ nemesis.CrashPointTarget = (*simTarget)(nil)
	_ nemesis.LagTarget        = (*simTarget)(nil)
)

func (t *simTarget) ArmCrash(id node.ID, point, msg string, cascade node.Time) {
	k, err := sim.ParseCrashPointKind(point)
	if err != nil {
		panic(fmt.Sprintf("scenarios: invariant violated: the nemesis armed %v", err))
	}
	t.rs.world.ArmCrash(id, sim.CrashPoint{Kind: k, Msg: msg})
	delete(t.rs.cascade, id)
	if cascade > 0 {
		t.rs.cascade[id] = cascade
	}
}

func (t *simTarget) DisarmCrash(id node.ID) (bool, node.ID) {
	armed := t.rs.world.DisarmCrash(id)
	c := t.rs.cascaded[id]
	delete(t.rs.cascaded, id)
	delete(t.rs.cascade, id)
	return armed, c
}

// SetLag slows server id: its syncs take lag/2 to lag, and its links to
// the other servers lag longer.
func (t *simTarget) SetLag(id node.ID, lag node.Time) {
	if lag == 0 {
		delete(t.rs.lag, id)
		t.rs.world.SetSyncLatency(id, 0, 0)
	} else {
		t.rs.lag[id] = lag
		t.rs.world.SetSyncLatency(id, lag/2, lag)
	}
	t.rs.applyLag(id)
}

func (rs *runState) applyLag(id node.ID) {
	for _, other := range rs.serverIDs {
		if other != id {
			rs.applyLink(id, other)
			rs.applyLink(other, id)
		}
	}
}

func (t *simTarget) MoveClient(c, s node.ID) bool {
	n := t.rs.nodes[c]
	if n == nil || !t.rs.world.Up(c) || t.rs.world.Paused(c) || t.rs.world.Machine(c) != n {
		return false
	}
	if !n.c.MoveTo(s) {
		return false
	}
	n.after()
	t.rs.world.Drain(c)
	return true
}

func sortedIDs[V any](m map[node.ID]V) []node.ID {
	ids := make([]node.ID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// eventBudget is how many events a run may process: generous (50,000 per
// virtual second, several times what a busy run needs), so that only a
// runaway (an election that never settles, a message storm) spends it.
func (sc Scenario) eventBudget() uint64 {
	if sc.EventBudget > 0 {
		return sc.EventBudget
	}
	total := sc.Duration + sc.LivenessBound + 8*node.Second
	return max(2_000_000, uint64(total/node.Second)*50_000)
}

// exhaustedReport makes a run that spent its event budget fail liveness:
// it did not converge, whatever else its history shows.
func exhaustedReport(rep checker.Report, w *sim.World, sc Scenario) checker.Report {
	r := checker.Result{Checker: checker.NameLiveness, Verdict: checker.VerdictViolation,
		Explanation: fmt.Sprintf("the run spent its budget of %d events at virtual time %v (an election that never settles, "+
			"or a message storm) before it could finish", sc.eventBudget(), time.Duration(w.Now()))}
	i := slices.IndexFunc(rep.Results, func(x checker.Result) bool { return x.Checker == checker.NameLiveness })
	if i >= 0 {
		rep.Results[i] = r
	} else {
		rep.Results = append(rep.Results, r)
	}
	rep.Verdict = checker.VerdictViolation
	return rep
}

// reproLine is the command that replays a run exactly: the scenario, the
// seed, and every setting that differs from the catalogue's.
func reproLine(sc Scenario, seed uint64, knobs Knobs) string {
	var b strings.Builder
	fmt.Fprintf(&b, "zoosim run --scenario %s --seed %d", sc.Name, seed)
	orig, err := Lookup(sc.Name)
	if err != nil {
		return b.String()
	}
	if sc.Servers != orig.Servers {
		fmt.Fprintf(&b, " --servers %d", sc.Servers)
	}
	if sc.Quorum != orig.Quorum {
		fmt.Fprintf(&b, " --quorum %s", sc.Quorum)
	}
	if sc.Engine != orig.Engine {
		fmt.Fprintf(&b, " --engine %s", sc.Engine)
	}
	if sc.Clients != orig.Clients {
		fmt.Fprintf(&b, " --clients %d", sc.Clients)
	}
	if sc.Duration != orig.Duration {
		fmt.Fprintf(&b, " --duration %s", time.Duration(sc.Duration))
	}
	if sc.ReadMode != orig.ReadMode {
		fmt.Fprintf(&b, " --read-mode %s", sc.ReadMode)
	}
	if len(sc.Bugs) > 0 {
		fmt.Fprintf(&b, " --bug %s", strings.Join(sc.Bugs, ","))
	}
	if !slices.Equal(sc.Nemesis.Kinds, orig.Nemesis.Kinds) {
		fmt.Fprintf(&b, " --faults %s", strings.Join(sc.Nemesis.Kinds, ","))
		if len(sc.Nemesis.Kinds) == 0 {
			b.WriteString("none")
		}
	}
	if k := knobs.String(); k != "" {
		fmt.Fprintf(&b, " --knobs %s", k)
	}
	return b.String()
}
