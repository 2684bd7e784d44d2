package checker

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"zoosim/model"
	"zoosim/node"
)

// The linearizability checker hands porcupine the writes and the reads the
// service promises to be linearizable (Op.Linearizable), and a model of the
// ZooKeeper API (linmodel.go).
//
// What goes in:
//   - writes whose outcome is known (success, or an error the state
//     explains: NoNode, NodeExists, BadVersion, NotEmpty,
//     NoChildrenForEphemerals), with their results;
//   - writes whose outcome is unknown, returning at Infinity
//     (math.MaxInt64) and forking the state into applied / not applied;
//   - linearizable reads that were answered. A read that follows a sync of
//     the same session with nothing in between is checked over
//     [sync call, read return]: ZooKeeper's sync+read is linearizable as a
//     pair, not the read alone.
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
// Components the model cannot describe are skipped as a whole and left to
// the other checkers (the agreement checker compares every acknowledged
// result with the replay of the committed log; the session checker owns
// ephemerals): components with an ephemeral create (the node vanishes when
// its session closes, an event no op records), a container or TTL create
// (the leader removes those on its own), or a path in /zookeeper.

// linPlan is the history cut into porcupine partitions.
type linPlan struct {
	model    *linModel
	parts    [][]porcupine.Operation // each sorted by op ID
	partKeys [][]string              // a few paths of each partition, for explanations
	// skipped partitions and their op counts, by reason.
	skippedParts, skippedOps int
	skipReasons              map[string]int
	// unapplied counts the writes of unknown outcome left out because no
	// committed txn can be theirs.
	unapplied int
}

func planLinearizability(h *History, seq *committedSeq) *linPlan {
	ops := make([]*linOp, 0, len(h.Ops))
	calls := linearizableCalls(h)
	noEffect := unappliedUnknowns(h, seq)
	for i := range h.Ops {
		if noEffect[i] {
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

	plan := &linPlan{model: m, skipReasons: map[string]int{}, unapplied: len(noEffect)}
	partOf := map[string]int{}
	skippedRoots := map[string]bool{}
	lanes := map[clientSession]int{}
	nextLane := 0
	for i, lop := range ops {
		root := uf.find(keysOf[i][0])
		if why, bad := taintedRoot[root]; bad {
			if !skippedRoots[root] {
				skippedRoots[root] = true
				plan.skippedParts++
				plan.skipReasons[why]++
			}
			plan.skippedOps++
			continue
		}
		// One lane per client, and a fresh one after an op whose outcome
		// is unknown (it stays pending to the end of the history).
		cs := clientSession{lop.op.Client, 0}
		lane, ok := lanes[cs]
		if !ok {
			lane = nextLane
			nextLane++
			lanes[cs] = lane
		}
		lop.lane = lane
		if lop.unknown {
			lanes[cs] = nextLane
			nextLane++
		}
		p, ok := partOf[root]
		if !ok {
			p = len(plan.parts)
			partOf[root] = p
			plan.parts = append(plan.parts, nil)
			plan.partKeys = append(plan.partKeys, nil)
		}
		plan.parts[p] = append(plan.parts[p], porcupine.Operation{
			ClientId: lop.lane, Input: lop, Call: lop.call, Output: lop, Return: lop.ret, Metadata: lop.op.ID,
		})
		for _, k := range keysOf[i] {
			if len(plan.partKeys[p]) < 4 && !slices.Contains(plan.partKeys[p], k) {
				plan.partKeys[p] = append(plan.partKeys[p], k)
			}
		}
	}
	return plan
}

type clientSession struct {
	client  node.ID
	session int64
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
		err: op.Err, stat: op.Stat, unknown: unknown}
	if unknown {
		lop.ret = math.MaxInt64
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

// unappliedUnknowns finds the writes of unknown outcome that certainly took
// no effect, so that porcupine need not consider them (every one it keeps
// may take effect anywhere after its call, which multiplies the search,
// most of all on an illegal history). This is etcd's "patching" of failed
// requests from the persisted log, made safe without request IDs:
//
//   - a check never changes the tree;
//   - any other write took effect only if a committed txn of its session
//     does what it asked (same kind, path, data and mode; a failed request
//     commits an error txn, which changes nothing), and that txn is not
//     the one an acknowledged write of the session got.
//
// It relies on History.Applied holding every committed txn; with no
// applied txns recorded nothing is left out.
func unappliedUnknowns(h *History, seq *committedSeq) map[int]bool {
	out := map[int]bool{}
	if len(seq.txns) == 0 {
		return out
	}
	type claim struct {
		zxid    model.Zxid
		session int64
	}
	claimed := map[claim]bool{}
	for i := range h.Ops {
		if op := &h.Ops[i]; acknowledgedWrite(op) {
			claimed[claim{op.Zxid, op.Session}] = true
		}
	}
	// Every server's records, not only the merged sequence: where servers
	// diverged, a txn the merge left out may still be some op's effect.
	bySession := map[int64][]model.Txn{}
	for s := range h.Applied {
		for i := range h.Applied[s] {
			t := &h.Applied[s][i]
			if effective(t.Txn) && !claimed[claim{t.Zxid, t.Session}] {
				bySession[t.Session] = append(bySession[t.Session], t.Txn)
			}
		}
	}
	for i := range h.Ops {
		op := &h.Ops[i]
		if !op.Kind.IsWrite() || classify(op) != outcomeUnknown {
			continue
		}
		if op.Kind == OpCheck {
			out[i] = true
			continue
		}
		maybe := false
		for _, txn := range bySession[op.Session] {
			if txnMismatch(op, txn) == "" {
				maybe = true
				break
			}
		}
		if !maybe {
			out[i] = true
		}
	}
	return out
}

// taintOf says why an op puts its partition beyond the model, or "".
func taintOf(lop *linOp) string {
	paths := []string{lop.path}
	for _, s := range lop.subs {
		paths = append(paths, s.path, s.createdPath)
		if s.kind == OpCreate {
			switch {
			case s.mode.IsEphemeral():
				return "ephemeral nodes"
			case s.mode.IsContainer():
				return "container nodes"
			case s.mode.IsTTL():
				return "TTL nodes"
			}
			if p, ok := parentOf(s.path); ok && s.mode.IsSequential() {
				paths = append(paths, p+"/x")
			}
		}
	}
	for _, p := range paths {
		if inZooKeeperSubtree(p) {
			return "the /zookeeper subtree"
		}
	}
	return ""
}

func (r *run) linearizable() Result {
	plan := planLinearizability(r.h, r.committed())
	pm := plan.porcupineModel()
	timeout := r.opt.linTimeout()
	results := checkPartitions(pm, plan.parts, timeout)

	total := 0
	for _, p := range plan.parts {
		total += len(p)
	}
	skipNote := plan.skipNote()
	illegal, unknown := -1, 0
	for i, res := range results {
		switch res {
		case porcupine.Illegal:
			if illegal < 0 {
				illegal = i
			}
		case porcupine.Unknown:
			unknown++
		}
	}
	if illegal >= 0 {
		return r.linViolation(plan, pm, illegal, timeout, skipNote)
	}
	if unknown > 0 {
		largest := 0
		for i, res := range results {
			if res == porcupine.Unknown {
				largest = max(largest, len(plan.parts[i]))
			}
		}
		return Result{Verdict: VerdictInconclusive,
			Explanation: fmt.Sprintf("porcupine ran out of time (%s) on %d of %d partition(s); the largest of them has %d ops",
				timeout, unknown, len(plan.parts), largest),
			Details: skipNote}
	}
	return Result{Verdict: VerdictOK,
		Explanation: fmt.Sprintf("%d ops in %d partition(s) are linearizable", total, len(plan.parts)),
		Details:     skipNote}
}

func (plan *linPlan) skipNote() string {
	note := ""
	if plan.unapplied > 0 {
		note = fmt.Sprintf("left out %d write(s) of unknown outcome that no committed txn can be (they took no effect)\n", plan.unapplied)
	}
	if plan.skippedParts == 0 {
		return note
	}
	reasons := make([]string, 0, len(plan.skipReasons))
	for _, k := range sortedKeys(plan.skipReasons) {
		reasons = append(reasons, fmt.Sprintf("%s: %d", k, plan.skipReasons[k]))
	}
	return note + fmt.Sprintf("skipped %d op(s) in %d partition(s) the model leaves to other checkers (%s)\n",
		plan.skippedOps, plan.skippedParts, strings.Join(reasons, ", "))
}

func (plan *linPlan) porcupineModel() porcupine.Model {
	m := plan.model
	return porcupine.Model{
		Init: func() any { return stateSet{m.initState()} },
		Step: func(state, input, _ any) (bool, any) { return m.step(state, input) },
		Equal: func(a, b any) bool {
			return a.(stateSet).equal(b.(stateSet))
		},
		Hash:              func(s any) uint64 { return s.(stateSet).hash() },
		DescribeOperation: func(in, _ any) string { return in.(*linOp).describe() },
		DescribeState:     describeState,
		DescribeOperationMetadata: func(info any) string {
			if id, ok := info.(int); ok {
				return fmt.Sprintf("op %d", id)
			}
			return ""
		},
	}
}

// checkPartitions runs porcupine on each partition, as many at once as
// there are processors, all within one wall-clock deadline. The verdict of
// each partition is deterministic unless the deadline passes.
func checkPartitions(pm porcupine.Model, parts [][]porcupine.Operation, timeout time.Duration) []porcupine.CheckResult {
	results := make([]porcupine.CheckResult, len(parts))
	if len(parts) == 0 {
		return results
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	// Largest first, so that a big partition does not start last.
	order := make([]int, len(parts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(parts[b]) - len(parts[a]) })
	work := make(chan int)
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), len(parts))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				var left time.Duration
				if timeout > 0 {
					if left = time.Until(deadline); left <= 0 {
						results[i] = porcupine.Unknown
						continue
					}
				}
				results[i] = porcupine.CheckOperationsTimeout(pm, parts[i], left)
			}
		}()
	}
	for _, i := range order {
		work <- i
	}
	close(work)
	wg.Wait()
	return results
}

// linViolation explains an illegal partition: it finds the shortest prefix
// of it (by call time) that is already not linearizable, names the ops
// whose results that prefix revealed last, and writes the visualization.
//
// A prefix up to time T keeps the results of the ops that returned before
// T; ops still running at T become pending writes of unknown outcome
// (reads are dropped). If the whole history were linearizable, so would be
// every such prefix, so an illegal prefix is a genuine witness, and
// illegality is monotone in T, which makes the search a bisection.
func (r *run) linViolation(plan *linPlan, pm porcupine.Model, p int, timeout time.Duration, skipNote string) Result {
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
	// The bisection shares one budget; a step that runs out of it counts as
	// "not shown illegal", which keeps the invariant below true.
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	illegalAt := func(k int) bool {
		left := time.Duration(0)
		if timeout > 0 {
			if left = time.Until(deadline); left <= 0 {
				return false
			}
		}
		return porcupine.CheckOperationsTimeout(pm, prefixOps(part, k), left) == porcupine.Illegal
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
		if o.Return >= tPrev && o.Return < tk {
			revealed = append(revealed, o.Input.(*linOp))
		}
	}
	if len(revealed) == 0 {
		revealed = append(revealed, part[min(k, len(part))-1].Input.(*linOp))
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
		if involved[lop.op.ID] || !lop.kind.IsWrite() {
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
	if r.opt.VisualizePath != "" {
		if err := visualizeFile(pm, witness, r.h.Faults, r.opt.VisualizePath, timeout); err != nil {
			fmt.Fprintf(&details, "visualization not written: %v\n", err)
		} else {
			fmt.Fprintf(&details, "visualization: %s\n", r.opt.VisualizePath)
		}
	}
	details.WriteString(skipNote)
	first := revealed[0]
	return Result{Verdict: VerdictViolation,
		Explanation: fmt.Sprintf("no order of the ops on %s explains the result of op %d (%s by client %d): it contradicts every order consistent with real time",
			first.path, first.op.ID, first.kind, first.op.Client),
		Ops:     ids,
		Details: details.String()}
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
		if !lop.kind.IsWrite() {
			continue
		}
		pending := *lop
		pending.unknown = true
		pending.ret = math.MaxInt64
		o.Input, o.Output, o.Return = &pending, &pending, math.MaxInt64
		out = append(out, o)
	}
	return out
}

// VisualizeLinearizable writes porcupine's HTML visualization of every
// partition of h the linearizability checker examines, with the nemesis'
// faults as annotations, to w. Expect a large file for a long history; a
// failing check writes only the failing part (Options.VisualizePath).
func VisualizeLinearizable(h *History, opt Options, w io.Writer) error {
	plan := planLinearizability(h, mergeCommitted(h))
	pm := plan.porcupineModel()
	var all []porcupine.Operation
	for _, p := range plan.parts {
		all = append(all, p...)
	}
	pm.Partition = func([]porcupine.Operation) [][]porcupine.Operation { return plan.parts }
	_, info := porcupine.CheckOperationsVerbose(pm, all, opt.linTimeout())
	info.AddAnnotations(faultAnnotations(h.Faults))
	return porcupine.Visualize(pm, info, w)
}

func visualizeFile(pm porcupine.Model, ops []porcupine.Operation, faults []Fault, path string, timeout time.Duration) error {
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
	_, info := porcupine.CheckOperationsVerbose(pm, dense, timeout)
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
