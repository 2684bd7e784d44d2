package scenarios

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"zoosim/checker"
	"zoosim/nemesis"
	"zoosim/node"
	"zoosim/quorum"
	"zoosim/quorum/engines"
	"zoosim/sim"
)

// A scenario run in another world than the simulator's: real server
// processes, real sockets, the wall clock (package real/run drives it).
// PrepareReal builds what the simulator would (the client nodes with the
// same behaviours and random streams of the seed, the nemesis schedule),
// the other world runs them, and Finish judges the history with the same
// checkers. The simulated world is not involved: nothing here reads a
// clock or starts a goroutine; the driver passes the time in (node.Time as
// nanoseconds since the run's start) and calls every method of a RealRun,
// and every node.Machine it hands out, from one goroutine.

// RealRun is one scenario run prepared for a real world.
type RealRun struct {
	// Scenario is the scenario as run (its session timeout drawn).
	Scenario Scenario
	Seed     uint64
	Knobs    Knobs
	// Servers are the ensemble's ids (1..n), Clients the workload's client
	// nodes (the last one is the liveness probe).
	Servers, Clients []node.ID
	// Schedule is the nemesis's schedule over Scenario.Duration and Swarm
	// its description (empty without faults).
	Schedule nemesis.Schedule
	Swarm    string

	orig     Scenario
	verifier quorum.Verifier
	rs       *runState
	machines map[node.ID]node.Machine
	restarts map[node.ID]int
}

// PrepareReal prepares scenario sc for seed to run against a real
// ensemble. The workload's randomness comes from the seed (the same seed
// issues the same op mix); what the servers do, and so the history, does
// not. Only the client library's seeded bugs take effect: the servers are
// real processes.
func PrepareReal(sc Scenario, seed uint64, opt Options) (*RealRun, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	v, err := quorum.Parse(sc.Quorum, sc.Servers)
	if err != nil {
		return nil, err
	}
	eng, err := engines.Lookup(sc.Engine)
	if err != nil {
		return nil, err
	}
	knobs := sc.Knobs.draw(sim.NewStream(seed, "knobs/"+sc.Name), sc)
	if err := knobs.Validate(); err != nil {
		return nil, fmt.Errorf("scenarios: drawn knobs: %v", err)
	}
	rs := &runState{sc: sc, opt: opt, knobs: knobs, rec: &recorder{}, nodes: map[node.ID]*clientNode{},
		seed: seed, streams: map[string]*rand.Rand{}, notApplicable: map[string]string{}, down: map[node.ID]bool{}}
	rs.sc.SessionTimeout = knobs.SessionTimeout
	for i := 1; i <= sc.Servers; i++ {
		rs.serverIDs = append(rs.serverIDs, node.ID(i))
	}
	for i := 0; i <= sc.Clients; i++ { // the last one is the liveness probe
		rs.clientIDs = append(rs.clientIDs, node.ID(firstClientID+i))
	}
	rs.clientBugs = switches(sc.Bugs).client
	sched, swarm, herr := rs.drawSchedule(sc, seed, eng)
	if herr != nil {
		return nil, fmt.Errorf("scenarios: %s", herr.Err)
	}
	r := &RealRun{Scenario: rs.sc, Seed: seed, Knobs: knobs, Servers: rs.serverIDs, Clients: rs.clientIDs,
		Schedule: sched, Swarm: swarm, orig: sc, verifier: v, rs: rs, machines: map[node.ID]node.Machine{},
		restarts: map[node.ID]int{}}
	assign := rs.stream("workload/assign")
	groups := max(sc.Workload.Groups, 1)
	dealt := dealBehaviours(assign, sc.Workload.Mix, sc.Clients)
	for i, id := range rs.clientIDs {
		beh := probe
		if i < sc.Clients {
			beh = dealt[i]
		}
		env := node.Env{ID: id, Rand: rs.stream("node/" + fmt.Sprint(int(id)))}
		n := newClientNode(rs, id, beh, i%groups, env)
		rs.nodes[id] = n
		r.machines[id] = n
	}
	return r, nil
}

// Machine is client id's node (nil for an id not in Clients).
func (r *RealRun) Machine(id node.ID) node.Machine { return r.machines[id] }

// NemesisStream is the random stream the nemesis applies the schedule
// with (as the simulator's run draws it).
func (r *RealRun) NemesisStream() *rand.Rand { return r.rs.stream("nemesis/apply") }

// Healed records that the nemesis healed everything at now: the liveness
// phase starts (the probe client starts writing).
func (r *RealRun) Healed(now node.Time) { r.rs.rec.healedAt = now }

// Live reports whether a write issued after the heal was acknowledged.
func (r *RealRun) Live() bool { return r.rs.rec.firstAfter != 0 }

// Stop makes every client stop issuing operations (the quiesce before the
// end: outstanding ones finish or time out).
func (r *RealRun) Stop() {
	for _, n := range r.rs.nodes {
		n.stopped = true
	}
}

// CrashClient records that client id's process crashed at now (its
// machine is dropped: the driver closes its connections): it stops acting
// on any role it held, and its session is abandoned, as in the simulator.
func (r *RealRun) CrashClient(id node.ID, now node.Time) {
	rs := r.rs
	n := rs.nodes[id]
	if n == nil || rs.down[id] {
		return
	}
	n.now = max(n.now, now)
	n.endClaim()
	n.crashed()
	if n.cur != nil && n.cur.op >= 0 {
		if op := &rs.rec.h.Ops[n.cur.op]; op.Session == 0 {
			op.Session = n.c.SessionID()
		}
	}
	rs.down[id] = true
}

// RestartClient starts client id's process again at now: a new machine
// (a new session) with the same behaviour, its random stream the seed's
// for that incarnation. It returns nil for an id that is not a crashed
// client.
func (r *RealRun) RestartClient(id node.ID, now node.Time) node.Machine {
	rs := r.rs
	old := rs.nodes[id]
	if old == nil || !rs.down[id] {
		return nil
	}
	r.restarts[id]++
	env := node.Env{ID: id, Now: now, Restart: r.restarts[id],
		Rand: sim.NewStream(r.Seed, fmt.Sprintf("node/%d/%d", id, r.restarts[id]))}
	n := newClientNode(rs, id, old.beh, old.group, env)
	rs.nodes[id] = n
	r.machines[id] = n
	delete(rs.down, id)
	return n
}

// NotApplicable removes a checker from the run with the reason (the
// target cannot give what it needs); Result.NotApplicable lists it.
func (r *RealRun) NotApplicable(check, why string) { r.rs.notApplicable[check] = why }

// WhiteBoxChecks are the checkers that need the servers' txn records
// (History.Applied): without them they cannot conclude.
var WhiteBoxChecks = []string{checker.NameStaleReads, checker.NameAgreement, checker.NameWatches}

// RealEnd is what the real world tells Finish.
type RealEnd struct {
	// End is when the run ended.
	End node.Time
	// Applied is what the nemesis did (nemesis.Runner.Applied).
	Applied []nemesis.Applied
	// Committed are the txns each server applied, in order (nil: the
	// target gives none, and the white-box checkers are not applicable).
	Committed map[node.ID][]checker.Txn
}

// Finish assembles the history and judges it as Run does. WallMs is the
// caller's to fill in.
func (r *RealRun) Finish(e RealEnd) *Result {
	rs := r.rs
	h := rs.history(r.verifier.Safe(), e.Applied, e.End)
	if e.Committed != nil {
		h.Applied = make([][]checker.Txn, r.Scenario.Servers+1)
		for _, id := range rs.serverIDs {
			h.Applied[id] = slices.Clone(e.Committed[id])
		}
	} else {
		for _, c := range WhiteBoxChecks {
			if _, ok := rs.notApplicable[c]; !ok {
				rs.notApplicable[c] = "needs the servers' records of what they applied and when, which the target does not give (its txn logs, where it leaves them, go through txn-logs)"
			}
		}
	}
	res := rs.judge(r.orig, r.Seed, r.verifier, h, r.Schedule, e.Applied, nil)
	res.Swarm = r.Swarm
	return res
}

// stream is the run's named random stream: the world's, or, without a
// world, one of the same name derived from the seed (the same generator
// each time for the same name, as the world's).
func (rs *runState) stream(name string) *rand.Rand {
	if rs.world != nil {
		return rs.world.Stream(name)
	}
	if r, ok := rs.streams[name]; ok {
		return r
	}
	r := sim.NewStream(rs.seed, name)
	rs.streams[name] = r
	return r
}

// up reports whether node id is up (without a world: unless the nemesis
// crashed the client, see RealRun.CrashClient).
func (rs *runState) up(id node.ID) bool {
	if rs.world != nil {
		return rs.world.Up(id)
	}
	return !rs.down[id]
}

// trueNow is the time of the run: the simulator's, or, in another world,
// the time the driver last handed the node.
func (n *clientNode) trueNow() node.Time {
	if n.run.world != nil {
		return n.run.world.Now()
	}
	return n.now
}
