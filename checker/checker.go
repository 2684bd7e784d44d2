package checker

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"zoosim/model"
	"zoosim/node"
)

// Verdict is what a checker concluded.
type Verdict string

// The three verdicts. Inconclusive is never a pass and never a failure: the
// checker could not decide (a search ran past its budget, or the history
// lacks what the checker needs).
const (
	VerdictOK           Verdict = "ok"
	VerdictViolation    Verdict = "violation"
	VerdictInconclusive Verdict = "inconclusive"
)

// The checkers' names. They are stable: scenario files, the CLI and CI logs
// use them.
const (
	NameLinearizable = "linearizable"
	NameZxidOrder    = "zxid-order"
	NameStaleReads   = "stale-reads"
	NameAgreement    = "agreement"
	NameSessions     = "sessions"
	NameWatches      = "watches"
	NameLiveness     = "liveness"
	NameRecipes      = "recipes"
)

// Names lists every checker in the order Check runs them.
var Names = []string{NameLinearizable, NameZxidOrder, NameStaleReads, NameAgreement,
	NameSessions, NameWatches, NameLiveness, NameRecipes}

// Defaults used when an Options field is zero.
const (
	// DefaultLinearizabilityBudget is how many model steps the search of a
	// history without server records may take per partition.
	DefaultLinearizabilityBudget = 2_000_000
	// DefaultLinearizabilityTimeout is the wall-clock guard: a last resort
	// that no verdict should ever need on a working machine.
	DefaultLinearizabilityTimeout = 10 * time.Minute
	DefaultLivenessBound          = 30 * node.Second
)

// Options tune a check. The zero value checks everything with the defaults.
type Options struct {
	// LinearizabilityBudget bounds the search that checks a history
	// without server records (porcupine), in model steps per partition
	// (0 = DefaultLinearizabilityBudget, negative = no limit); the memory
	// the search may use per partition is bounded too. Past either bound the
	// verdict is inconclusive and says so. The budget counts steps, not
	// time, so the same history gets the same verdict on every machine.
	LinearizabilityBudget int64
	// LinearizabilityTimeout is a wall-clock guard on that search, a last
	// resort (0 = DefaultLinearizabilityTimeout, negative = none). Hitting
	// it makes the verdict inconclusive with "guard hit" in its explanation:
	// that verdict depends on the machine, which the budget never does.
	LinearizabilityTimeout time.Duration
	// LivenessBound is how much virtual time a healed majority-quorum
	// ensemble may take to serve a write (0 = DefaultLivenessBound).
	LivenessBound node.Time
	// Checks selects checkers by name; nil runs all of them.
	Checks []string
	// VisualizePath, when set, is where the linearizability checker writes
	// porcupine's HTML visualization of a failing partition.
	VisualizePath string
	_             struct{}
}

func (o Options) linBudget() int64 {
	switch {
	case o.LinearizabilityBudget == 0:
		return DefaultLinearizabilityBudget
	case o.LinearizabilityBudget < 0:
		return math.MaxInt64
	}
	return o.LinearizabilityBudget
}

func (o Options) linTimeout() time.Duration {
	switch {
	case o.LinearizabilityTimeout == 0:
		return DefaultLinearizabilityTimeout
	case o.LinearizabilityTimeout < 0:
		return 0 // porcupine: no limit
	}
	return o.LinearizabilityTimeout
}

func (o Options) livenessBound() node.Time {
	if o.LivenessBound <= 0 {
		return DefaultLivenessBound
	}
	return o.LivenessBound
}

// Result is one checker's verdict. Everything but Duration (wall clock) is a
// function of the history and the options, except when the wall-clock
// guard of the linearizability search is hit (the result says so).
type Result struct {
	Checker string
	Verdict Verdict
	// Explanation says in plain words what was found (for a violation: the
	// first one, in a deterministic order).
	Explanation string
	// Ops and Txns are the smallest part of the history that shows the
	// violation: op IDs (History.Ops indexes) and committed zxids.
	Ops  []int
	Txns []model.Zxid
	// Details lists the ops and txns involved, counts of further
	// violations, and what the checker skipped.
	Details string
	// Unchecked is how many ops within the checker's reach it drew no
	// conclusion about (0: it judged every one), and UncheckedWhy says why,
	// reason by reason (sorted by reason). A verdict of ok with Unchecked > 0
	// is ok for the rest only.
	Unchecked    int
	UncheckedWhy []UncheckedReason
	Duration     time.Duration
	_            struct{}
}

// UncheckedReason is one reason a checker left ops unjudged.
type UncheckedReason struct {
	Why string
	Ops int
}

// uncheckedOf turns counts by reason into Result fields.
func uncheckedOf(byWhy map[string]int) (int, []UncheckedReason) {
	total := 0
	var out []UncheckedReason
	for _, why := range sortedKeys(byWhy) {
		if n := byWhy[why]; n > 0 {
			total += n
			out = append(out, UncheckedReason{Why: why, Ops: n})
		}
	}
	return total, out
}

// UncheckedNote says in one line how many ops a result left unjudged and
// why ("" when none).
func (r Result) UncheckedNote() string {
	if r.Unchecked == 0 {
		return ""
	}
	parts := make([]string, len(r.UncheckedWhy))
	for i, u := range r.UncheckedWhy {
		parts[i] = fmt.Sprintf("%d %s", u.Ops, u.Why)
	}
	return fmt.Sprintf("%d op(s) not checked: %s", r.Unchecked, strings.Join(parts, "; "))
}

// Report is the verdict of every checker that ran.
type Report struct {
	Results []Result
	// Verdict is a violation if any checker found one, else inconclusive if
	// any was inconclusive, else ok.
	Verdict Verdict
	_       struct{}
}

// String formats the report for a terminal, one checker per paragraph,
// without durations (so equal histories print equal reports).
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "verdict: %s\n", r.Verdict)
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%-13s %s", res.Checker, res.Verdict)
		if res.Explanation != "" {
			fmt.Fprintf(&b, ": %s", res.Explanation)
		}
		b.WriteByte('\n')
		if note := res.UncheckedNote(); note != "" {
			fmt.Fprintf(&b, "    %s\n", note)
		}
		if res.Verdict != VerdictOK && res.Details != "" {
			for _, line := range strings.Split(strings.TrimRight(res.Details, "\n"), "\n") {
				fmt.Fprintf(&b, "    %s\n", line)
			}
		}
	}
	return b.String()
}

// ValidateChecks reports a name in names that is not a checker.
func ValidateChecks(names []string) error {
	for _, n := range names {
		if !slices.Contains(Names, n) {
			return fmt.Errorf("checker: unknown check %q (known: %s)", n, strings.Join(Names, ", "))
		}
	}
	return nil
}

// Check runs the checkers opt selects, in the order of Names, and combines
// their verdicts. The committed txn sequence is merged once and shared.
func Check(h *History, opt Options) Report {
	run := newRun(h, opt)
	var rep Report
	selected := opt.Checks
	if selected == nil {
		selected = Names
	}
	for _, name := range Names {
		if slices.Contains(selected, name) {
			rep.Results = append(rep.Results, run.check(name))
		}
	}
	for _, name := range selected {
		if !slices.Contains(Names, name) {
			rep.Results = append(rep.Results, Result{Checker: name, Verdict: VerdictInconclusive,
				Explanation: "no checker has this name"})
		}
	}
	rep.Verdict = combine(rep.Results)
	return rep
}

func combine(results []Result) Verdict {
	v := VerdictOK
	for _, r := range results {
		switch r.Verdict {
		case VerdictViolation:
			return VerdictViolation
		case VerdictInconclusive:
			v = VerdictInconclusive
		}
	}
	return v
}

// CheckLinearizable runs the linearizability checker alone.
func CheckLinearizable(h *History, opt Options) Result { return newRun(h, opt).check(NameLinearizable) }

// CheckZxidOrder runs the zxid order checker alone.
func CheckZxidOrder(h *History, opt Options) Result { return newRun(h, opt).check(NameZxidOrder) }

// CheckStaleReads runs the stale read checker alone.
func CheckStaleReads(h *History, opt Options) Result { return newRun(h, opt).check(NameStaleReads) }

// CheckAgreement runs the agreement and durability checker alone.
func CheckAgreement(h *History, opt Options) Result { return newRun(h, opt).check(NameAgreement) }

// CheckSessions runs the session and ephemeral checker alone.
func CheckSessions(h *History, opt Options) Result { return newRun(h, opt).check(NameSessions) }

// CheckWatches runs the watch checker alone.
func CheckWatches(h *History, opt Options) Result { return newRun(h, opt).check(NameWatches) }

// CheckLiveness runs the liveness checker alone.
func CheckLiveness(h *History, opt Options) Result { return newRun(h, opt).check(NameLiveness) }

// CheckRecipes runs the recipe checker alone.
func CheckRecipes(h *History, opt Options) Result { return newRun(h, opt).check(NameRecipes) }

// run is one check of one history: it caches what several checkers share.
type run struct {
	h    *History
	opt  Options
	seq  *committedSeq // merged lazily
	attr *attribution  // tied lazily
	rep  *replayed     // replayed lazily
}

func newRun(h *History, opt Options) *run {
	if h == nil {
		h = &History{}
	}
	return &run{h: h, opt: opt}
}

func (r *run) committed() *committedSeq {
	if r.seq == nil {
		r.seq = mergeCommitted(r.h)
	}
	return r.seq
}

func (r *run) check(name string) Result {
	start := time.Now()
	var res Result
	switch name {
	case NameLinearizable:
		res = r.linearizable()
	case NameZxidOrder:
		res = r.zxidOrder()
	case NameStaleReads:
		res = r.staleReads()
	case NameAgreement:
		res = r.agreement()
	case NameSessions:
		res = r.sessions()
	case NameWatches:
		res = r.watches()
	case NameLiveness:
		res = r.liveness()
	case NameRecipes:
		res = r.recipes()
	default:
		res = Result{Verdict: VerdictInconclusive, Explanation: "no checker has this name"}
	}
	res.Checker = name
	res.Duration = time.Since(start)
	return res
}

// violation is one broken rule, before the first one is chosen.
type violation struct {
	// key orders violations so that the reported one does not depend on
	// map order or on the checker's internal iteration: usually the
	// smallest op ID or zxid involved.
	key         [2]int64
	explanation string
	ops         []int
	txns        []model.Zxid
	details     string
}

// verdictOf turns the violations a checker collected into its Result: the
// first in key order is reported, the rest are counted.
func verdictOf(vs []violation, okNote string) Result {
	if len(vs) == 0 {
		return Result{Verdict: VerdictOK, Explanation: okNote}
	}
	slices.SortStableFunc(vs, func(a, b violation) int {
		for i := range a.key {
			if c := cmpInt64(a.key[i], b.key[i]); c != 0 {
				return c
			}
		}
		return strings.Compare(a.explanation, b.explanation)
	})
	v := vs[0]
	ops := slices.Clone(v.ops)
	slices.Sort(ops)
	ops = slices.Compact(ops)
	txns := slices.Clone(v.txns)
	slices.Sort(txns)
	txns = slices.Compact(txns)
	details := v.details
	if len(vs) > 1 {
		details += fmt.Sprintf("(%d more violation(s) of this checker not shown)\n", len(vs)-1)
	}
	return Result{Verdict: VerdictViolation, Explanation: v.explanation, Ops: ops, Txns: txns, Details: details}
}

// sortedKeys returns a map's keys in order, so that no map order leaks.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// outcome classifies what an op's reply says about its effect.
type outcome uint8

const (
	// outcomeDone: the service decided the op against its state and told
	// the client (success, or an error such as NoNode that the state
	// explains). A write that is done took effect iff it succeeded.
	outcomeDone outcome = iota + 1
	// outcomeUnknown: the op may or may not have taken effect
	// (ConnectionLoss, a timeout, an unexpected error, or SessionExpired,
	// which ZooKeeper's client also gives to requests it had already sent
	// when it learns its session expired).
	outcomeUnknown
	// outcomeRefused: the op was refused before it could take effect
	// (bad arguments, ACLs, a moved session, throttling).
	outcomeRefused
)

func classify(op *Op) outcome {
	if op.Kind == 0 {
		return outcomeRefused // not an op (a harness may blank one out)
	}
	if op.Unknown || op.Return >= Infinity {
		return outcomeUnknown
	}
	switch op.Err {
	case model.ErrOK, model.ErrNoNode, model.ErrNodeExists, model.ErrBadVersion,
		model.ErrNotEmpty, model.ErrNoChildrenForEphemerals:
		return outcomeDone
	case model.ErrBadArguments, model.ErrNoAuth, model.ErrInvalidACL, model.ErrMarshallingError,
		model.ErrUnimplemented, model.ErrSessionMoved, model.ErrNotReadOnly, model.ErrAuthFailed,
		model.ErrEphemeralOnLocalSession, model.ErrThrottledOp, model.ErrQuotaExceeded,
		model.ErrReconfigDisabled, model.ErrNewConfigNoQuorum, model.ErrReconfigInProgress,
		model.ErrSessionClosedRequireSASLAuth, model.ErrUnknownSession, model.ErrNoWatcher,
		model.ErrInvalidCallback, model.ErrAPIError:
		return outcomeRefused
	}
	return outcomeUnknown
}

// acknowledgedWrite reports a write the service answered with a result its
// committed state decided: it has a zxid of its own, in the committed
// sequence.
func acknowledgedWrite(op *Op) bool {
	return op.Kind.IsWrite() && classify(op) == outcomeDone && op.Zxid > 0
}

// isRead reports the kinds that read the tree.
func isRead(k OpKind) bool {
	return k == OpGetData || k == OpExists || k == OpGetChildren
}

// answered reports an op whose reply the client got (any error).
func answered(op *Op) bool { return op.Kind != 0 && !op.Unknown && op.Return < Infinity }

// describeOp is one line about an op, for Details.
func describeOp(op *Op) string {
	var b strings.Builder
	fmt.Fprintf(&b, "op %d: client %d session %#x %s", op.ID, op.Client, op.Session, op.Kind)
	if op.Kind == OpMulti {
		b.WriteString(" [")
		for i, s := range op.Multi {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(describeSub(s))
		}
		b.WriteString("]")
	} else if op.Path != "" {
		fmt.Fprintf(&b, " %s", op.Path)
	}
	switch op.Kind {
	case OpCreate:
		fmt.Fprintf(&b, " mode=%s data=%q", op.Mode, clip(op.Data))
	case OpSetData:
		fmt.Fprintf(&b, " data=%q version=%d", clip(op.Data), op.Version)
	case OpDelete, OpCheck:
		fmt.Fprintf(&b, " version=%d", op.Version)
	}
	if op.Watch {
		b.WriteString(" watch")
	}
	if op.Linearizable {
		b.WriteString(" linearizable")
	}
	fmt.Fprintf(&b, " call=%s", fmtTime(op.Call))
	if !answered(op) {
		b.WriteString(" return=? outcome unknown")
		return b.String()
	}
	fmt.Fprintf(&b, " return=%s -> %s zxid=%s", fmtTime(op.Return), errName(op.Err), op.Zxid)
	if op.Err == model.ErrOK {
		switch op.Kind {
		case OpCreate:
			fmt.Fprintf(&b, " path=%s", op.CreatedPath)
		case OpGetData:
			fmt.Fprintf(&b, " data=%q version=%d", clip(op.ResultData), op.Stat.Version)
		case OpSetData, OpExists:
			fmt.Fprintf(&b, " version=%d", op.Stat.Version)
		case OpGetChildren:
			fmt.Fprintf(&b, " children=%v", op.Children)
		}
	}
	return b.String()
}

func describeSub(s SubOp) string {
	out := fmt.Sprintf("%s %s", s.Kind, s.Path)
	switch s.Kind {
	case OpCreate:
		out += fmt.Sprintf(" mode=%s", s.Mode)
	case OpSetData, OpDelete, OpCheck:
		out += fmt.Sprintf(" version=%d", s.Version)
	}
	return out
}

func errName(e model.Err) string {
	if e == model.ErrOK {
		return "ok"
	}
	return strings.TrimPrefix(e.Error(), "KeeperErrorCode = ")
}

func clip(b []byte) string {
	if len(b) > 24 {
		return string(b[:24]) + "..."
	}
	return string(b)
}

// fmtTime prints virtual time in milliseconds with microsecond precision.
func fmtTime(t node.Time) string {
	if t >= Infinity {
		return "inf"
	}
	return fmt.Sprintf("%.3fms", float64(t)/float64(node.Millisecond))
}

// describeTxn is one line about a committed txn.
func describeTxn(t *Txn) string {
	return fmt.Sprintf("txn %s: session %#x %s", t.Zxid, t.Session, txnSummary(t.Txn))
}

func txnSummary(txn model.Txn) string {
	switch x := txn.(type) {
	case model.CreateTxn:
		return fmt.Sprintf("create %s mode=%s data=%q", x.Path, x.Mode, clip(x.Data))
	case model.DeleteTxn:
		return "delete " + x.Path
	case model.SetDataTxn:
		return fmt.Sprintf("setData %s data=%q version=%d", x.Path, clip(x.Data), x.Version)
	case model.CheckVersionTxn:
		return fmt.Sprintf("check %s version=%d", x.Path, x.Version)
	case model.SetACLTxn:
		return "setACL " + x.Path
	case model.CreateSessionTxn:
		return fmt.Sprintf("createSession timeout=%dms", x.TimeoutMs)
	case model.CloseSessionTxn:
		return "closeSession"
	case model.ErrorTxn:
		return "error " + errName(x.Err)
	case model.MultiTxn:
		parts := make([]string, len(x.Txns))
		for i, s := range x.Txns {
			parts[i] = txnSummary(s)
		}
		return "multi [" + strings.Join(parts, "; ") + "]"
	case nil:
		return "nil txn"
	}
	return fmt.Sprintf("%T", txn)
}
