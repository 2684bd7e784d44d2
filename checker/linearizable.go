package checker

import (
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"

	"zoosim/model"
	"zoosim/node"
)

// The linearizability checker holds the writes, and the reads the service
// promises to be linearizable (Op.Linearizable), to ZooKeeper's promise.
//
// With server records (History.Applied), the committed sequence is the
// order: order.go checks every write and linearizable read against it in
// one pass, ephemerals and sessions included, and needs no search.
//
// Without them (a black-box history, as real processes give), porcupine
// searches for an order, over a model of the ZooKeeper API (linmodel.go)
// that follows the zxids the replies carry. What goes in:
//   - writes whose outcome is known (success, or an error the state
//     explains: NoNode, NodeExists, BadVersion, NotEmpty,
//     NoChildrenForEphemerals), with their results;
//   - writes whose outcome is unknown, returning at Infinity
//     (math.MaxInt64) and forking the state into applied / not applied;
//   - linearizable reads that were answered. A read that follows a sync of
//     the same session with nothing in between is checked over
//     [sync call, read return]: ZooKeeper's sync+read is linearizable as a
//     pair, not the read alone;
//   - one closeSession per session and partition where the session created
//     an ephemeral node, of unknown outcome from the session's first
//     appearance on: the history cannot show when the session ended, nor
//     even that it did (linmodel.go says what the op may do).
//
// What stays out: reads with unknown outcome (no effect), plain reads (the
// stale read checker replays them), syncs, and requests refused before they
// could take effect (BadArguments, NoAuth, SessionMoved, ...).
//
// Partitions are the connected components of the paths ops touch: an op
// touches its path(s), a create or delete also its parent (the parent's
// child counter names sequential nodes; its children list and numChildren
// change), and every op on a child of a parent of sequential creates also
// touches that parent (an unknown sequential create may have made the
// child). A multi unites the paths of all its ops. The root joins only when
// some op observes its children; otherwise top-level groups stay apart.
//
// A partition with a container or TTL create is not searched: the leader
// deletes those nodes on its own, at times nothing in a black-box history
// shows. Its ops are counted as unchecked, with that reason.
//
// The search of each partition is bounded by a step budget and a memory
// budget (Options.LinearizabilityBudget), both counted inside the model's
// step, so that the verdict is the same on every machine whatever its
// speed, its cores or how many checks run at once; the wall-clock guard
// (Options.LinearizabilityTimeout) is a last resort that names itself.

func (r *run) linearizable() Result {
	if len(r.committed().txns) > 0 {
		res := r.linearizableByOrder()
		if res.Verdict == VerdictViolation && r.opt.VisualizePath != "" {
			res.Details += r.visualizeWitness(res.Ops)
		}
		return res
	}
	return r.linearizableBySearch()
}

const (
	whyContainer = "ops in partitions with container or TTL nodes, which the leader deletes at times a history without server records does not show"
	whyBudget    = "ops in partitions whose search ran past its budget"
	whyGuard     = "ops in partitions whose search the wall-clock guard stopped"
)

// linPlan is the history cut into porcupine partitions.
type linPlan struct {
	model    *linModel
	parts    [][]porcupine.Operation // each sorted by op ID, closeSessions last
	partKeys [][]string              // a few paths of each partition, for explanations
	// unchecked counts the ops of partitions the model cannot describe, by
	// reason.
	unchecked map[string]int
	closes    int // closeSession ops added
}

// planLinearizability cuts the ops keep selects (nil: every op) into
// partitions.
func planLinearizability(h *History, keep func(i int) bool) *linPlan {
	ops := make([]*linOp, 0, len(h.Ops))
	calls := linearizableCalls(h)
	for i := range h.Ops {
		if keep != nil && !keep(i) {
			continue
		}
		if lop := newLinOp(&h.Ops[i]); lop != nil {
			lop.call = int64(calls[i])
			ops = append(ops, lop)
		}
	}

	m := &linModel{}
	seqParents := map[string]bool{}
	for _, lop := range ops {
		if lop.kind == OpGetChildren && lop.path == "/" {
			m.trackRoot = true
		}
		for _, s := range lop.subs {
			if s.kind == OpCreate && s.mode.IsSequential() {
				if p, ok := parentOf(s.path); ok {
					seqParents[p] = true
					if p == "/" {
						m.trackRoot = true
					}
				}
			}
		}
	}

	// Union-find over paths.
	uf := newUnionFind()
	taint := map[string]string{} // a path of a tainted op -> why
	touch := func(lop *linOp) []string {
		var keys []string
		add := func(p string) { keys = append(keys, p) }
		addParent := func(p string, always bool) {
			parent, ok := parentOf(p)
			if !ok || parent == p {
				return
			}
			if always || seqParents[parent] {
				if m.tracked(parent) {
					add(parent)
				}
			}
		}
		if isRead(lop.kind) {
			add(lop.path)
			addParent(lop.path, false)
			return keys
		}
		for _, s := range lop.subs {
			add(s.path)
			switch s.kind {
			case OpCreate:
				if s.createdPath != "" {
					add(s.createdPath)
				}
				addParent(s.path, true)
			case OpDelete:
				addParent(s.path, true)
			default:
				addParent(s.path, false)
			}
		}
		return keys
	}
	keysOf := make([][]string, len(ops))
	for i, lop := range ops {
		keys := touch(lop)
		if len(keys) == 0 {
			keys = []string{"(empty multi)"}
		}
		keysOf[i] = keys
		for _, k := range keys[1:] {
			uf.union(keys[0], k)
		}
		if why := taintOf(lop); why != "" {
			taint[keys[0]] = why
		}
	}
	taintedRoot := map[string]string{}
	for _, k := range sortedKeys(taint) {
		r := uf.find(k)
		if _, ok := taintedRoot[r]; !ok {
			taintedRoot[r] = taint[k]
		}
	}

	plan := &linPlan{model: m, unchecked: map[string]int{}}
	partOf := map[string]int{}
	lanes := map[node.ID]int{}
	nextLane := 0
	// ephemeralsIn[p]: the sessions that create ephemerals in partition p.
	var ephemeralsIn []map[int64]bool
	for i, lop := range ops {
		root := uf.find(keysOf[i][0])
		if why, bad := taintedRoot[root]; bad {
			plan.unchecked[why]++
			continue
		}
		// One lane per client, and a fresh one after an op whose outcome
		// is unknown (it stays pending to the end of the history).
		lane, ok := lanes[lop.op.Client]
		if !ok {
			lane = nextLane
			nextLane++
			lanes[lop.op.Client] = lane
		}
		lop.lane = lane
		if lop.unknown {
			lanes[lop.op.Client] = nextLane
			nextLane++
		}
		p, ok := partOf[root]
		if !ok {
			p = len(plan.parts)
			partOf[root] = p
			plan.parts = append(plan.parts, nil)
			plan.partKeys = append(plan.partKeys, nil)
			ephemeralsIn = append(ephemeralsIn, map[int64]bool{})
		}
		plan.parts[p] = append(plan.parts[p], porcupine.Operation{
			ClientId: lop.lane, Input: lop, Call: lop.call, Output: lop, Return: lop.ret, Metadata: lop.op.ID,
		})
		for _, k := range keysOf[i] {
			if len(plan.partKeys[p]) < 4 && !slices.Contains(plan.partKeys[p], k) {
				plan.partKeys[p] = append(plan.partKeys[p], k)
			}
		}
		for _, s := range lop.subs {
			if s.kind == OpCreate && s.mode.IsEphemeral() && lop.session != 0 {
				ephemeralsIn[p][lop.session] = true
			}
		}
	}

	// The closeSessions.
	start := sessionStarts(h)
	for p := range plan.parts {
		for _, s := range sortedKeys(ephemeralsIn[p]) {
			c := &linOp{kind: opCloseSession, closes: s, call: int64(start[s]), ret: math.MaxInt64, unknown: true,
				lane: nextLane}
			nextLane++
			plan.parts[p] = append(plan.parts[p], porcupine.Operation{
				ClientId: c.lane, Input: c, Call: c.call, Output: c, Return: c.ret, Metadata: -1,
			})
			plan.closes++
		}
	}
	for _, part := range plan.parts {
		tightenByPosition(part)
	}
	return plan
}

// tightenByPosition narrows the intervals of the ops that have a place in
// the zxid order. If A comes before B in that order, B takes effect after
// A, so after A's call, and A before B, so before B's return: an op can
// take effect no earlier than the latest call of the ops before it in the
// order, and no later than the earliest return of the ops after it. Every
// order the model accepts fits the narrowed intervals, so the check means
// the same; the search just has far fewer orders to try. An interval the
// narrowing would empty (the zxid order contradicts real time) is left as
// it was, for the search to reject.
func tightenByPosition(part []porcupine.Operation) {
	var idx []int
	for i := range part {
		if part[i].Input.(*linOp).pos != 0 {
			idx = append(idx, i)
		}
	}
	pos := func(k int) uint64 { return part[idx[k]].Input.(*linOp).pos }
	slices.SortStableFunc(idx, func(a, b int) int {
		pa, pb := part[a].Input.(*linOp).pos, part[b].Input.(*linOp).pos
		switch {
		case pa < pb:
			return -1
		case pa > pb:
			return 1
		}
		return 0
	})
	n := len(idx)
	// callBefore[k]: the latest call among ops strictly before idx[k] in
	// the order; retAfter[k]: the earliest return among ops strictly after.
	callBefore, retAfter := make([]int64, n), make([]int64, n)
	best := int64(math.MinInt64)
	for k := 0; k < n; {
		e := k
		for e < n && pos(e) == pos(k) {
			callBefore[e] = best
			e++
		}
		for ; k < e; k++ {
			best = max(best, part[idx[k]].Call)
		}
	}
	best = math.MaxInt64
	for k := n - 1; k >= 0; {
		e := k
		for e >= 0 && pos(e) == pos(k) {
			retAfter[e] = best
			e--
		}
		for ; k > e; k-- {
			best = min(best, part[idx[k]].Return)
		}
	}
	for k, i := range idx {
		call, ret := max(part[i].Call, callBefore[k]), min(part[i].Return, retAfter[k])
		if call <= ret {
			part[i].Call, part[i].Return = call, ret
		}
	}
}

// sessionStarts returns when each session first appears in the history
// (an op's call or a session event).
func sessionStarts(h *History) map[int64]node.Time {
	start := map[int64]node.Time{}
	seen := func(s int64, t node.Time) {
		if old, ok := start[s]; s != 0 && (!ok || t < old) {
			start[s] = t
		}
	}
	for i := range h.Ops {
		seen(h.Ops[i].Session, h.Ops[i].Call)
	}
	for _, ev := range h.Sessions {
		seen(ev.Session, ev.Time)
	}
	return start
}

// newLinOp builds the model's view of an op, or nil if the op stays out.
func newLinOp(op *Op) *linOp {
	oc := classify(op)
	switch {
	case isRead(op.Kind):
		if !op.Linearizable || oc != outcomeDone || (op.Err != model.ErrOK && op.Err != model.ErrNoNode) {
			return nil
		}
	case op.Kind.IsWrite():
		if oc == outcomeRefused {
			return nil
		}
	default:
		return nil
	}
	return buildLinOp(op, oc == outcomeUnknown)
}

func buildLinOp(op *Op, unknown bool) *linOp {
	lop := &linOp{op: op, call: int64(op.Call), ret: int64(op.Return), kind: op.Kind, path: op.Path,
		err: op.Err, stat: op.Stat, unknown: unknown, session: op.Session}
	if unknown {
		lop.ret = math.MaxInt64
	} else if op.Zxid > 0 {
		lop.pos = 2 * uint64(op.Zxid)
		if isRead(op.Kind) {
			lop.pos++
		}
	}
	switch {
	case isRead(op.Kind):
		lop.statValid = op.Kind != OpGetChildren || op.Stat != (model.Stat{})
		lop.result = sigOf(op.ResultData)
		lop.children = slices.Clone(op.Children)
		slices.Sort(lop.children)
	case op.Kind == OpMulti:
		lop.subs = make([]linSub, len(op.Multi))
		for i, s := range op.Multi {
			lop.subs[i] = linSub{kind: s.Kind, path: s.Path, data: sigOf(s.Data), version: s.Version, mode: s.Mode,
				err: s.Err, createdPath: s.CreatedPath, stat: s.Stat, statValid: s.Stat != (model.Stat{})}
			if s.Err != model.ErrOK {
				lop.subErrsKnow = true
			}
		}
	default:
		sub := linSub{kind: op.Kind, path: op.Path, data: sigOf(op.Data), version: op.Version, mode: op.Mode,
			err: op.Err, createdPath: op.CreatedPath, stat: op.Stat}
		switch op.Kind {
		case OpCreate:
			sub.statValid = op.Stat.Czxid != 0 // a plain create (not create2) returns no Stat
		case OpSetData:
			sub.statValid = true
		}
		lop.subs = []linSub{sub}
	}
	return lop
}

// taintOf says why an op puts its partition beyond the model, or "".
func taintOf(lop *linOp) string {
	for _, s := range lop.subs {
		if s.kind == OpCreate && (s.mode.IsContainer() || s.mode.IsTTL()) {
			return whyContainer
		}
	}
	return ""
}

// searchBudget counts one partition's search, inside the model's step.
type searchBudget struct {
	stepsMax, bytesMax int64
	deadline           time.Time // zero: no guard
	bitsetBytes        int64

	steps, bytes int64
	over, guard  bool
}

// searchMemoryMax bounds the estimated memory of one partition's search:
// porcupine keeps every (linearized set, state) pair it has seen.
const searchMemoryMax = 256 << 20

func (b *searchBudget) stop() bool { return b.over || b.guard }

// porcupineModel is the model porcupine runs; with a budget, every step
// is counted and, once the budget is spent, fails, which makes porcupine
// unwind and return at once (its answer then means nothing: the budget
// says so).
func (plan *linPlan) porcupineModel(b *searchBudget) porcupine.Model {
	m := plan.model
	step := func(state, input, _ any) (bool, any) { return m.step(state, input) }
	if b != nil {
		step = func(state, input, _ any) (bool, any) {
			if b.stop() {
				return false, state
			}
			b.steps++
			if b.steps > b.stepsMax {
				b.over = true
				return false, state
			}
			if b.steps&1023 == 0 && !b.deadline.IsZero() && time.Now().After(b.deadline) {
				b.guard = true
				return false, state
			}
			ok, next := m.step(state, input)
			if ok {
				b.bytes += b.bitsetBytes + stateBytes(state.(stateSet), next.(stateSet))
				if b.bytes > b.bytesMax {
					b.over = true
					return false, state
				}
			}
			return ok, next
		}
	}
	return porcupine.Model{
		Init: func() any { return stateSet{m.initState()} },
		Step: step,
		Equal: func(a, b any) bool {
			return a.(stateSet).equal(b.(stateSet))
		},
		Hash:              func(s any) uint64 { return s.(stateSet).hash() },
		DescribeOperation: func(in, _ any) string { return in.(*linOp).describe() },
		DescribeState:     describeState,
		DescribeOperationMetadata: func(info any) string {
			if id, ok := info.(int); ok && id >= 0 {
				return fmt.Sprintf("op %d", id)
			}
			return ""
		},
	}
}

// stateBytes estimates what a step allocated: the set, and the nodes of
// every state in it that the step made.
func stateBytes(from, to stateSet) int64 {
	n := int64(48 + 8*len(to))
	for _, s := range to {
		if !slices.Contains(from, s) {
			n += 96 + 80*int64(len(s.nodes))
		}
	}
	return n
}

// searchResult is one partition's outcome.
type searchResult struct {
	res   porcupine.CheckResult
	over  bool // the budget ran out
	guard bool // the wall-clock guard stopped it
}

// search runs porcupine on one partition within the budget.
func (r *run) search(plan *linPlan, ops []porcupine.Operation, deadline time.Time) searchResult {
	b := &searchBudget{stepsMax: r.opt.linBudget(), bytesMax: searchMemoryMax, deadline: deadline,
		bitsetBytes: 24 + 8*int64((len(ops)+63)/64)}
	ok := porcupine.CheckOperations(plan.porcupineModel(b), ops)
	switch {
	case b.guard:
		return searchResult{res: porcupine.Unknown, guard: true}
	case b.over:
		return searchResult{res: porcupine.Unknown, over: true}
	case ok:
		return searchResult{res: porcupine.Ok}
	}
	return searchResult{res: porcupine.Illegal}
}

func (r *run) guardDeadline() time.Time {
	if t := r.opt.linTimeout(); t > 0 {
		return time.Now().Add(t)
	}
	return time.Time{}
}

// linearizableBySearch is the black-box linearizability check.
func (r *run) linearizableBySearch() Result {
	plan := planLinearizability(r.h, nil)
	deadline := r.guardDeadline()
	results := r.searchPartitions(plan, deadline)

	total := 0
	for _, p := range plan.parts {
		total += len(p)
	}
	unchecked := maps.Clone(plan.unchecked)
	illegal, over, guarded, largest := -1, 0, 0, 0
	for i, res := range results {
		switch {
		case res.guard:
			guarded++
			unchecked[whyGuard] += len(plan.parts[i])
			largest = max(largest, len(plan.parts[i]))
		case res.over:
			over++
			unchecked[whyBudget] += len(plan.parts[i])
			largest = max(largest, len(plan.parts[i]))
		case res.res == porcupine.Illegal && illegal < 0:
			illegal = i
		}
	}
	var res Result
	switch {
	case illegal >= 0:
		res = r.linViolation(plan, illegal, deadline)
	case over+guarded > 0:
		why := fmt.Sprintf("the search of %d of %d partition(s) ran past its budget (%d steps, %d MiB per partition)",
			over, len(plan.parts), r.opt.linBudget(), searchMemoryMax>>20)
		if guarded > 0 {
			why = fmt.Sprintf("guard hit: the wall-clock guard (%s) stopped the search of %d of %d partition(s), a verdict that depends on this machine's speed",
				r.opt.linTimeout(), guarded, len(plan.parts))
			if over > 0 {
				why += fmt.Sprintf("; %d more ran past the step budget", over)
			}
		}
		res = Result{Verdict: VerdictInconclusive,
			Explanation: fmt.Sprintf("%s; the largest of them has %d ops; no violation in the others", why, largest)}
	default:
		res = Result{Verdict: VerdictOK,
			Explanation: fmt.Sprintf("no server records: %d ops (with %d closeSessions placed by the search) in %d partition(s) are linearizable",
				total-plan.closes, plan.closes, len(plan.parts))}
	}
	res.Unchecked, res.UncheckedWhy = uncheckedOf(unchecked)
	return res
}

// searchPartitions searches every partition, as many at once as there are
// processors (at most 4, which bounds the memory). Each partition's result
// depends on that partition alone, whatever runs beside it.
func (r *run) searchPartitions(plan *linPlan, deadline time.Time) []searchResult {
	results := make([]searchResult, len(plan.parts))
	if len(plan.parts) == 0 {
		return results
	}
	// Largest first, so that a big partition does not start last.
	order := make([]int, len(plan.parts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(plan.parts[b]) - len(plan.parts[a]) })
	var next atomic.Int64
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), 4, len(plan.parts))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= len(order) {
					return
				}
				i := order[k]
				results[i] = r.search(plan, plan.parts[i], deadline)
			}
		}()
	}
	wg.Wait()
	return results
}

// linViolation explains an illegal partition: it finds the shortest prefix
// of it (by call time) that is already not linearizable, names the ops
// whose results that prefix revealed last, and writes the visualization.
//
// A prefix up to time T keeps the results of the ops that returned before
// T; ops still running at T become pending writes (and closeSessions) of
// unknown outcome (reads are dropped). If the whole history were
// linearizable, so would be every such prefix, so an illegal prefix is a
// genuine witness, and illegality is monotone in T, which makes the search
// a bisection. Every prefix is searched within the same budget; one that
// runs past it counts as "not shown illegal", which keeps the bisection's
// invariant true.
func (r *run) linViolation(plan *linPlan, p int, deadline time.Time) Result {
	part := slices.Clone(plan.parts[p])
	slices.SortStableFunc(part, func(a, b porcupine.Operation) int {
		if c := cmpInt64(a.Call, b.Call); c != 0 {
			return c
		}
		return a.Metadata.(int) - b.Metadata.(int)
	})
	// cutAt(k) is the time of the k-th call; k = len(part)+1 is no cut.
	cutAt := func(k int) int64 {
		switch {
		case k <= 0:
			return math.MinInt64
		case k > len(part):
			return math.MaxInt64
		}
		return part[k-1].Call
	}
	illegalAt := func(k int) bool {
		return r.search(plan, prefixOps(part, k), deadline).res == porcupine.Illegal
	}
	lo, hi := 1, len(part)+1 // invariant: prefix(hi) is illegal
	for lo < hi {
		mid := (lo + hi) / 2
		if illegalAt(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	k := hi
	witness := prefixOps(part, k)
	tk, tPrev := cutAt(k), cutAt(k-1)
	// The ops whose results prefix k revealed and prefix k-1 did not.
	var revealed []*linOp
	for _, o := range part[:min(k, len(part))] {
		if lop := o.Input.(*linOp); lop.op != nil && o.Return >= tPrev && o.Return < tk {
			revealed = append(revealed, lop)
		}
	}
	if len(revealed) == 0 {
		for i := min(k, len(part)) - 1; i >= 0 && len(revealed) == 0; i-- {
			if lop := part[i].Input.(*linOp); lop.op != nil {
				revealed = append(revealed, lop)
			}
		}
	}
	involved := map[int]bool{}
	paths := map[string]bool{}
	for _, lop := range revealed {
		involved[lop.op.ID] = true
		for _, pth := range lopPaths(lop) {
			paths[pth] = true
		}
	}
	// Context: the last few writes on the same paths before the revealed
	// ops, completed or still pending at the cut.
	var context []*linOp
	for i := len(witness) - 1; i >= 0 && len(context) < 4; i-- {
		lop := witness[i].Input.(*linOp)
		if lop.op == nil || involved[lop.op.ID] || !lop.kind.IsWrite() {
			continue
		}
		for _, pth := range lopPaths(lop) {
			if paths[pth] {
				context = append(context, lop)
				break
			}
		}
	}
	for _, lop := range context {
		involved[lop.op.ID] = true
	}
	ids := sortedKeys(involved)

	var details strings.Builder
	if k <= len(part) {
		fmt.Fprintf(&details, "partition %d (paths %s ...) has %d ops; its first %d (by call time, cut at %s) are already not linearizable\n",
			p, strings.Join(plan.partKeys[p], " "), len(part), k, fmtTime(node.Time(tk)))
	} else {
		fmt.Fprintf(&details, "partition %d (paths %s ...) has %d ops and is not linearizable\n",
			p, strings.Join(plan.partKeys[p], " "), len(part))
	}
	for _, id := range ids {
		fmt.Fprintf(&details, "  %s\n", describeOp(&r.h.Ops[id]))
	}
	for _, o := range witness {
		if lop := o.Input.(*linOp); lop.kind == opCloseSession {
			fmt.Fprintf(&details, "  closeSession of session %#x somewhere after %s%s\n", lop.closes, fmtTime(node.Time(lop.call)),
				map[bool]string{true: "", false: ", by " + fmtTime(node.Time(lop.ret))}[lop.unknown])
		}
	}
	if r.opt.VisualizePath != "" {
		if err := visualizeFile(plan, witness, r.h.Faults, r.opt.VisualizePath, r.opt.linBudget()); err != nil {
			fmt.Fprintf(&details, "visualization not written: %v\n", err)
		} else {
			fmt.Fprintf(&details, "visualization: %s\n", r.opt.VisualizePath)
		}
	}
	first := revealed[0]
	return Result{Verdict: VerdictViolation,
		Explanation: fmt.Sprintf("no order of the ops on %s explains the result of op %d (%s by client %d): it contradicts every order consistent with real time and the zxids",
			first.path, first.op.ID, first.kind, first.op.Client),
		Ops:     ids,
		Details: details.String()}
}

// visualizeWitness draws the ops of a white-box violation, with the ops on
// the same paths around them, as porcupine sees them.
func (r *run) visualizeWitness(ids []int) string {
	h := r.h
	paths := map[string]bool{}
	var from, to node.Time = Infinity, 0
	for _, id := range ids {
		op := &h.Ops[id]
		paths[op.Path] = true
		for _, s := range op.Multi {
			paths[s.Path] = true
		}
		from, to = min(from, op.Call), max(to, min(op.Return, op.Call+node.Second))
	}
	from -= node.Second
	keep := func(i int) bool {
		op := &h.Ops[i]
		if op.Call > to || op.Return < from && !slices.Contains(ids, i) {
			return false
		}
		if paths[op.Path] {
			return true
		}
		return slices.ContainsFunc(op.Multi, func(s SubOp) bool { return paths[s.Path] })
	}
	plan := planLinearizability(h, keep)
	var all []porcupine.Operation
	for _, p := range plan.parts {
		all = append(all, p...)
	}
	if err := visualizeFile(plan, all, h.Faults, r.opt.VisualizePath, r.opt.linBudget()); err != nil {
		return fmt.Sprintf("visualization not written: %v\n", err)
	}
	return fmt.Sprintf("visualization (the ops on the same paths around the violation, as porcupine sees them without the committed order): %s\n", r.opt.VisualizePath)
}

func lopPaths(lop *linOp) []string {
	out := []string{lop.path}
	for _, s := range lop.subs {
		out = append(out, s.path)
		if s.createdPath != "" {
			out = append(out, s.createdPath)
		}
	}
	return out
}

// prefixOps is the first k ops of a partition sorted by call, cut at the
// k-th call; k > len(part) is the whole partition.
func prefixOps(part []porcupine.Operation, k int) []porcupine.Operation {
	if k > len(part) {
		return part
	}
	t := part[k-1].Call
	out := make([]porcupine.Operation, 0, k)
	for _, o := range part[:k] {
		if o.Return < t {
			out = append(out, o)
			continue
		}
		lop := o.Input.(*linOp)
		if !lop.kind.IsWrite() && lop.kind != opCloseSession {
			continue
		}
		pending := *lop
		pending.unknown = true
		pending.ret = math.MaxInt64
		pending.pos = 0
		o.Input, o.Output, o.Return = &pending, &pending, math.MaxInt64
		out = append(out, o)
	}
	return out
}

// VisualizeLinearizable writes porcupine's HTML visualization of every
// partition of h as the search (the black-box check) sees them, with the
// nemesis' faults as annotations, to w. Expect a large file for a long
// history; a failing check writes only the failing part
// (Options.VisualizePath). The search behind the picture is bounded by the
// same budget as the check, counted over all partitions.
func VisualizeLinearizable(h *History, opt Options, w io.Writer) error {
	plan := planLinearizability(h, nil)
	var all []porcupine.Operation
	for _, p := range plan.parts {
		all = append(all, p...)
	}
	pm := plan.porcupineModel(nil)
	pm.Step = sharedBudgetStep(plan, opt.linBudget())
	pm.Partition = func([]porcupine.Operation) [][]porcupine.Operation { return plan.parts }
	_, info := porcupine.CheckOperationsVerbose(pm, all, 0)
	info.AddAnnotations(faultAnnotations(h.Faults))
	return porcupine.Visualize(pm, info, w)
}

// sharedBudgetStep counts steps over partitions porcupine runs at once:
// only for pictures, whose search need not be the same on every machine.
func sharedBudgetStep(plan *linPlan, budget int64) func(state, input, output any) (bool, any) {
	var steps atomic.Int64
	return func(state, input, _ any) (bool, any) {
		if steps.Add(1) > budget {
			return false, state
		}
		return plan.model.step(state, input)
	}
}

func visualizeFile(plan *linPlan, ops []porcupine.Operation, faults []Fault, path string, budget int64) error {
	// Dense lanes, so the picture has no empty rows.
	lanes := map[int]int{}
	dense := make([]porcupine.Operation, len(ops))
	for i, o := range ops {
		l, ok := lanes[o.ClientId]
		if !ok {
			l = len(lanes)
			lanes[o.ClientId] = l
		}
		o.ClientId = l
		dense[i] = o
	}
	pm := plan.porcupineModel(nil)
	pm.Step = sharedBudgetStep(plan, budget)
	_, info := porcupine.CheckOperationsVerbose(pm, dense, 0)
	info.AddAnnotations(faultAnnotations(faults))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := porcupine.Visualize(pm, info, f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func faultAnnotations(faults []Fault) []porcupine.Annotation {
	out := make([]porcupine.Annotation, 0, len(faults))
	for _, f := range faults {
		out = append(out, porcupine.Annotation{Tag: "nemesis", Start: int64(f.Start), End: int64(f.End),
			Description: f.Kind, Details: f.Description, BackgroundColor: "#fde2e2"})
	}
	return out
}

// unionFind over strings, with path compression.
type unionFind struct{ parent map[string]string }

func newUnionFind() *unionFind { return &unionFind{parent: map[string]string{}} }

func (u *unionFind) find(x string) string {
	p, ok := u.parent[x]
	if !ok {
		u.parent[x] = x
		return x
	}
	if p == x {
		return x
	}
	r := u.find(p)
	u.parent[x] = r
	return r
}

func (u *unionFind) union(a, b string) {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return
	}
	// The smaller string becomes the root, so roots do not depend on the
	// order of unions.
	if rb < ra {
		ra, rb = rb, ra
	}
	u.parent[rb] = ra
}
