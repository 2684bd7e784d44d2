package nemesis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"zoosim/node"
)

// Bounds on a fault's parameters. They keep schedules sane and the Runner's
// arithmetic far from overflow.
const (
	MaxAt          = 30 * 24 * 3600 * node.Second // a fault starts within 30 days of the run's start
	MaxDuration    = MaxAt
	MaxJump        = 24 * 3600 * node.Second // a clock jumps by at most a day either way
	MinDriftPPM    = -999_999                // a clock never stops or runs backwards...
	MaxDriftPPM    = 1_000_000               // ...and runs at most twice as fast
	MaxLatency     = 60 * node.Second
	MaxCount       = 1 << 10
	MaxFaultsTotal = 1 << 16 // schedule length bound
	// MinRollingDuration is the shortest rolling-crash: its first step
	// comes at an eighth of its duration.
	MinRollingDuration = 100 * node.Millisecond
)

// Fault is one timed fault, as plain data. Fields that a kind does not use
// stay zero (Validate insists). Nodes name fixed targets; when Nodes is
// empty, Pick says how to choose them at apply time.
type Fault struct {
	// At is when the fault starts, as an offset from the run's start.
	At   node.Time
	Kind Kind
	// Nodes are fixed targets (servers, or clients where the kind allows);
	// their meaning depends on the kind (see the Kind constants).
	Nodes []node.ID
	// Clients names the client a ClientCut cuts off (at most one); empty
	// means a random client.
	Clients []node.ID
	// Pick chooses the targets when Nodes is empty; "" means the kind's
	// default (PickRandom where the kind takes a pick).
	Pick Pick
	// Count is how many nodes a countable pick (random, follower, client,
	// down) chooses; 0 means 1.
	Count int
	// Duration, if positive, makes the fault undo itself Duration after it
	// started: a partition heals, a crashed node restarts, a paused node
	// resumes, a drift stops, syncs turn honest, a link recovers.
	Duration node.Time
	// Direction is what a one-way partition cuts.
	Direction Direction
	// Jump is how far a clock jumps (negative: backwards).
	Jump node.Time
	// DriftPPM is a clock's drift in parts per million.
	DriftPPM int64
	// Prob is the loss, duplication or reordering probability of a link
	// fault, in (0, 1].
	Prob float64
	// Latency is what a slow link adds to every message, and how slow a
	// lagging server is.
	Latency node.Time
	// Point is where a crash-point fault crashes its server (one of
	// CrashPoints), and Msg the message name for on-receive and on-send
	// ("" matches any message).
	Point string
	Msg   string
	// Cascade, for a crash point, makes the leader crash too, Cascade
	// after the point fired (a rack losing power, a bad deploy rolling
	// on); 0 means no cascade.
	Cascade node.Time
	// Move is how many clients a lag fault moves onto its server.
	Move int

	_ struct{}
}

// Schedule is a fault plan: faults sorted by At (ties keep their order).
type Schedule []Fault

// String prints the fault on one line: its time, its kind and its non-zero
// parameters in a fixed order, with the names JSON uses.
func (f Fault) String() string {
	var b strings.Builder
	b.WriteString(fmtTime(f.At))
	b.WriteByte(' ')
	b.WriteString(string(f.Kind))
	if len(f.Nodes) > 0 {
		b.WriteString(" nodes=" + fmtIDs(f.Nodes))
	}
	if len(f.Clients) > 0 {
		b.WriteString(" clients=" + fmtIDs(f.Clients))
	}
	if f.Pick != "" {
		b.WriteString(" pick=" + string(f.Pick))
	}
	if f.Count != 0 {
		b.WriteString(" count=" + strconv.Itoa(f.Count))
	}
	if f.Direction != "" {
		b.WriteString(" direction=" + string(f.Direction))
	}
	if f.Jump != 0 {
		b.WriteString(" jump=" + fmtSigned(f.Jump))
	}
	if f.DriftPPM != 0 {
		b.WriteString(" drift_ppm=" + strconv.FormatInt(f.DriftPPM, 10))
	}
	if f.Prob != 0 {
		b.WriteString(" prob=" + strconv.FormatFloat(f.Prob, 'g', -1, 64))
	}
	if f.Latency != 0 {
		b.WriteString(" latency=" + fmtTime(f.Latency))
	}
	if f.Point != "" {
		b.WriteString(" point=" + f.Point)
	}
	if f.Msg != "" {
		b.WriteString(" msg=" + f.Msg)
	}
	if f.Cascade != 0 {
		b.WriteString(" cascade=" + fmtTime(f.Cascade))
	}
	if f.Move != 0 {
		b.WriteString(" move=" + strconv.Itoa(f.Move))
	}
	if f.Duration != 0 {
		b.WriteString(" duration=" + fmtTime(f.Duration))
	}
	return b.String()
}

// String prints the schedule one fault per line.
func (s Schedule) String() string {
	if len(s) == 0 {
		return "(no faults)"
	}
	lines := make([]string, len(s))
	for i, f := range s {
		lines[i] = f.String()
	}
	return strings.Join(lines, "\n")
}

// Clone returns a deep copy of s.
func (s Schedule) Clone() Schedule {
	if s == nil {
		return nil
	}
	out := make(Schedule, len(s))
	for i, f := range s {
		f.Nodes = slices.Clone(f.Nodes)
		f.Clients = slices.Clone(f.Clients)
		out[i] = f
	}
	return out
}

// Sort orders s by At, keeping the order of faults at the same time.
func (s Schedule) Sort() {
	slices.SortStableFunc(s, func(a, b Fault) int {
		switch {
		case a.At < b.At:
			return -1
		case a.At > b.At:
			return 1
		}
		return 0
	})
}

// Validate checks that s can run on a world of servers servers and clients
// clients: times sorted and in range, every kind known, every parameter the
// kind needs present and in range and every other one zero, and enough
// servers and clients for each shape. Whether fixed IDs name real nodes is
// checked by NewRunner, which knows them.
func (s Schedule) Validate(servers, clients int) error {
	if servers < 1 || clients < 0 {
		return fmt.Errorf("nemesis: a world of %d servers and %d clients", servers, clients)
	}
	if len(s) > MaxFaultsTotal {
		return fmt.Errorf("nemesis: %d faults, more than the bound %d", len(s), MaxFaultsTotal)
	}
	for i, f := range s {
		if i > 0 && f.At < s[i-1].At {
			return fmt.Errorf("nemesis: fault %d (%s) starts before fault %d (%s): a schedule is sorted by time", i, f, i-1, s[i-1])
		}
		if err := f.checkShape(); err != nil {
			return fmt.Errorf("nemesis: fault %d (%s): %w", i, f, err)
		}
		if err := f.checkFits(servers, clients); err != nil {
			return fmt.Errorf("nemesis: fault %d (%s): %w", i, f, err)
		}
	}
	return nil
}

// pick returns the fault's effective pick ("" when it names nodes or its
// kind takes no pick).
func (f Fault) pick() Pick {
	if len(f.Nodes) > 0 {
		return ""
	}
	if f.Pick != "" {
		return f.Pick
	}
	if sp := specs[f.Kind]; len(sp.picks) > 0 {
		return sp.picks[0]
	}
	return ""
}

// count returns how many nodes a countable pick chooses.
func (f Fault) count() int { return max(1, f.Count) }

// checkShape checks everything that does not depend on the world's size.
func (f Fault) checkShape() error {
	sp, ok := specs[f.Kind]
	if !ok {
		return fmt.Errorf("unknown kind %q (kinds: %s)", f.Kind, joinKinds(allKinds))
	}
	switch {
	case f.At < 0 || f.At > MaxAt:
		return fmt.Errorf("at %s outside [0, %s]", fmtTime(f.At), fmtTime(MaxAt))
	case f.Duration < 0 || f.Duration > MaxDuration:
		return fmt.Errorf("duration %s outside [0, %s]", fmtTime(f.Duration), fmtTime(MaxDuration))
	case f.Duration > 0 && !sp.heals:
		return fmt.Errorf("%s does not take a duration (it does not undo itself)", f.Kind)
	case f.Kind == RollingCrash && f.Duration < MinRollingDuration:
		return fmt.Errorf("%s needs a duration of at least %s (its steps come at fractions of it), got %s",
			f.Kind, fmtTime(MinRollingDuration), fmtTime(f.Duration))
	}
	if f.Pick != "" {
		if sp.picks == nil {
			return fmt.Errorf("%s does not take a pick", f.Kind)
		}
		if !slices.Contains(sp.picks, f.Pick) {
			return fmt.Errorf("pick %q not allowed for %s (allowed: %s)", f.Pick, f.Kind, joinPicks(sp.picks))
		}
		if len(f.Nodes) > 0 {
			return fmt.Errorf("nodes and pick are exclusive")
		}
	}
	if err := checkIDs("nodes", f.Nodes); err != nil {
		return err
	}
	if err := checkIDs("clients", f.Clients); err != nil {
		return err
	}
	switch sp.nodes {
	case nodesNone:
		if len(f.Nodes) > 0 {
			return fmt.Errorf("%s does not take nodes", f.Kind)
		}
	case nodesOne:
		if len(f.Nodes) > 1 {
			return fmt.Errorf("%s takes at most one node, got %d", f.Kind, len(f.Nodes))
		}
	case nodesBridge:
		if len(f.Nodes) == 1 {
			return fmt.Errorf("%s takes the bridge and at least one server of a side, got one node", f.Kind)
		}
	}
	if len(f.Clients) > 0 && f.Kind != ClientCut {
		return fmt.Errorf("%s does not take clients", f.Kind)
	}
	if len(f.Clients) > 1 {
		return fmt.Errorf("%s cuts one client, got %d", f.Kind, len(f.Clients))
	}
	if f.Count != 0 {
		switch {
		case f.Count < 0 || f.Count > MaxCount:
			return fmt.Errorf("count %d outside [0, %d]", f.Count, MaxCount)
		case !sp.count:
			return fmt.Errorf("%s does not take a count", f.Kind)
		case len(f.Nodes) > 0:
			return fmt.Errorf("nodes and count are exclusive")
		case !f.pick().countable():
			return fmt.Errorf("pick %q chooses no count", f.pick())
		}
	}
	return f.checkParam(sp.param)
}

// checkParam checks that the kind's magnitude is set and in range and every
// other magnitude is zero.
func (f Fault) checkParam(p param) error {
	unused := func(name string, set bool) error {
		if set {
			return fmt.Errorf("%s does not take %s", f.Kind, name)
		}
		return nil
	}
	if err := errors.Join(
		unused("a direction", p != paramDirection && f.Direction != ""),
		unused("a jump", p != paramJump && f.Jump != 0),
		unused("a drift", p != paramDrift && f.DriftPPM != 0),
		unused("a probability", p != paramProb && f.Prob != 0),
		unused("a latency", p != paramLatency && p != paramLag && f.Latency != 0),
		unused("a point", p != paramPoint && p != paramRoll && f.Point != ""),
		unused("a message name", p != paramPoint && p != paramRoll && f.Msg != ""),
		unused("a cascade", p != paramPoint && f.Cascade != 0),
		unused("a move", p != paramLag && f.Move != 0),
	); err != nil {
		return err
	}
	switch p {
	case paramDirection:
		if f.Direction != DirIn && f.Direction != DirOut {
			return fmt.Errorf("direction %q: want %q or %q", f.Direction, DirIn, DirOut)
		}
	case paramJump:
		if f.Jump == 0 || f.Jump < -MaxJump || f.Jump > MaxJump {
			return fmt.Errorf("jump %s: want a non-zero jump within ±%s", fmtTime(f.Jump), fmtTime(MaxJump))
		}
	case paramDrift:
		if f.DriftPPM == 0 || f.DriftPPM < MinDriftPPM || f.DriftPPM > MaxDriftPPM {
			return fmt.Errorf("drift %d ppm: want a non-zero drift in [%d, %d]", f.DriftPPM, MinDriftPPM, MaxDriftPPM)
		}
	case paramProb:
		if !(f.Prob > 0 && f.Prob <= 1) { // also false for NaN
			return fmt.Errorf("probability %v: want (0, 1]", f.Prob)
		}
	case paramLatency, paramLag:
		if f.Latency <= 0 || f.Latency > MaxLatency {
			return fmt.Errorf("latency %s: want (0, %s]", fmtTime(f.Latency), fmtTime(MaxLatency))
		}
		if f.Move < 0 || f.Move > MaxCount {
			return fmt.Errorf("move %d outside [0, %d]", f.Move, MaxCount)
		}
	case paramPoint, paramRoll:
		if !slices.Contains(CrashPoints, f.Point) {
			return fmt.Errorf("point %q: want one of %s", f.Point, strings.Join(CrashPoints, ", "))
		}
		if f.Msg != "" && f.Point != PointOnReceive && f.Point != PointOnSend {
			return fmt.Errorf("point %s takes no message name", f.Point)
		}
		if len(f.Msg) > 64 {
			return fmt.Errorf("message name of %d bytes, more than 64", len(f.Msg))
		}
		if f.Cascade < 0 || f.Cascade > MaxDuration {
			return fmt.Errorf("cascade %s outside [0, %s]", fmtTime(f.Cascade), fmtTime(MaxDuration))
		}
	}
	return nil
}

// checkFits checks the fault against the world's size.
func (f Fault) checkFits(servers, clients int) error {
	sp := specs[f.Kind]
	if servers < sp.minServers {
		return fmt.Errorf("%s needs at least %d servers, the world has %d", f.Kind, sp.minServers, servers)
	}
	p := f.pick()
	if (sp.needClient || p == PickClient) && clients < 1 {
		return fmt.Errorf("%s needs a client, the world has none", f.Kind)
	}
	pool := servers
	switch {
	case p == PickClient:
		pool = clients
	case f.Kind == Resume:
		pool = servers + clients // a resume picks among every paused node
	}
	if f.Count > pool {
		return fmt.Errorf("count %d but only %d to choose from", f.Count, pool)
	}
	if f.Move > clients {
		return fmt.Errorf("move %d clients but the world has %d", f.Move, clients)
	}
	n := len(f.Nodes)
	if n == 0 {
		return nil
	}
	switch sp.nodes {
	case nodesMinority:
		if n > (servers-1)/2 {
			return fmt.Errorf("a minority of %d servers has at most %d, got %d nodes", servers, (servers-1)/2, n)
		}
	case nodesSide:
		if n >= servers {
			return fmt.Errorf("one side takes 1..%d of %d servers, got %d nodes", servers-1, servers, n)
		}
	case nodesBridge:
		if n >= servers {
			return fmt.Errorf("the bridge and one side must leave the other side non-empty: %d of %d servers", n, servers)
		}
	case nodesRing:
		if n != servers {
			return fmt.Errorf("a ring names every one of the %d servers, got %d nodes", servers, n)
		}
	case nodesSet:
		limit := servers
		if sp.clientsOK {
			limit += clients
		}
		if n > limit {
			return fmt.Errorf("%d nodes, but the world has %d eligible", n, limit)
		}
	}
	return nil
}

func checkIDs(what string, ids []node.ID) error {
	for i, id := range ids {
		if id <= 0 {
			return fmt.Errorf("%s: invalid node ID %d", what, id)
		}
		if slices.Contains(ids[:i], id) {
			return fmt.Errorf("%s: node %d named twice", what, id)
		}
	}
	return nil
}

func joinPicks(ps []Pick) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ",")
}

// jsonTime is a node.Time in JSON: written as a Go duration string ("1.5s"),
// read from such a string or from a number of nanoseconds.
type jsonTime node.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(t).String())
}

func (t *jsonTime) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("time %q: %w", s, err)
		}
		*t = jsonTime(d)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("time %s: want a duration such as \"1.5s\" or integer nanoseconds", b)
	}
	*t = jsonTime(n)
	return nil
}

// faultJSON is a Fault's saved form. Field names match Fault.String.
type faultJSON struct {
	At        jsonTime  `json:"at"`
	Kind      Kind      `json:"kind"`
	Nodes     []node.ID `json:"nodes,omitempty"`
	Clients   []node.ID `json:"clients,omitempty"`
	Pick      Pick      `json:"pick,omitempty"`
	Count     int       `json:"count,omitempty"`
	Direction Direction `json:"direction,omitempty"`
	Jump      jsonTime  `json:"jump,omitempty"`
	DriftPPM  int64     `json:"drift_ppm,omitempty"`
	Prob      float64   `json:"prob,omitempty"`
	Latency   jsonTime  `json:"latency,omitempty"`
	Point     string    `json:"point,omitempty"`
	Msg       string    `json:"msg,omitempty"`
	Cascade   jsonTime  `json:"cascade,omitempty"`
	Move      int       `json:"move,omitempty"`
	Duration  jsonTime  `json:"duration,omitempty"`
}

func (f Fault) toJSON() faultJSON {
	return faultJSON{At: jsonTime(f.At), Kind: f.Kind, Nodes: f.Nodes, Clients: f.Clients, Pick: f.Pick,
		Count: f.Count, Direction: f.Direction, Jump: jsonTime(f.Jump), DriftPPM: f.DriftPPM, Prob: f.Prob,
		Latency: jsonTime(f.Latency), Point: f.Point, Msg: f.Msg, Cascade: jsonTime(f.Cascade), Move: f.Move, Duration: jsonTime(f.Duration)}
}

func (j faultJSON) fault() Fault {
	return Fault{At: node.Time(j.At), Kind: j.Kind, Nodes: j.Nodes, Clients: j.Clients, Pick: j.Pick,
		Count: j.Count, Direction: j.Direction, Jump: node.Time(j.Jump), DriftPPM: j.DriftPPM, Prob: j.Prob,
		Latency: node.Time(j.Latency), Point: j.Point, Msg: j.Msg, Cascade: node.Time(j.Cascade), Move: j.Move, Duration: node.Time(j.Duration)}
}

// MarshalJSON writes the fault as an object with its non-zero fields.
func (f Fault) MarshalJSON() ([]byte, error) { return json.Marshal(f.toJSON()) }

// UnmarshalJSON reads a fault and checks it (unknown fields and kinds, bad
// or missing parameters are errors).
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	if err := decodeStrict(b, &j); err != nil {
		return fmt.Errorf("nemesis: fault: %w", err)
	}
	g := j.fault()
	if err := g.checkShape(); err != nil {
		return fmt.Errorf("nemesis: fault (%s): %w", g, err)
	}
	*f = g
	return nil
}

// MarshalJSON writes the schedule as an array of faults.
func (s Schedule) MarshalJSON() ([]byte, error) {
	js := make([]faultJSON, len(s))
	for i, f := range s {
		js[i] = f.toJSON()
	}
	return json.Marshal(js)
}

// UnmarshalJSON reads a schedule and checks everything that does not depend
// on the world's size (call Validate for the rest): each fault as
// Fault.UnmarshalJSON does, and the order of times.
func (s *Schedule) UnmarshalJSON(b []byte) error {
	var js []faultJSON
	if err := decodeStrict(b, &js); err != nil {
		return fmt.Errorf("nemesis: schedule: %w", err)
	}
	if len(js) > MaxFaultsTotal {
		return fmt.Errorf("nemesis: schedule: %d faults, more than the bound %d", len(js), MaxFaultsTotal)
	}
	out := make(Schedule, len(js))
	for i, j := range js {
		f := j.fault()
		if err := f.checkShape(); err != nil {
			return fmt.Errorf("nemesis: schedule: fault %d (%s): %w", i, f, err)
		}
		if i > 0 && f.At < out[i-1].At {
			return fmt.Errorf("nemesis: schedule: fault %d (%s) starts before fault %d (%s): a schedule is sorted by time", i, f, i-1, out[i-1])
		}
		out[i] = f
	}
	*s = out
	return nil
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// Without returns a copy of s without fault i.
func (s Schedule) Without(i int) Schedule {
	if i < 0 || i >= len(s) {
		panic(fmt.Sprintf("nemesis: Without(%d) on a schedule of %d faults", i, len(s)))
	}
	return slices.Delete(s.Clone(), i, i+1)
}

// Subsets yields the smaller schedules a shrinker tries from s, in the order
// worth trying: first without the first half, then without the second, then
// without each quarter, and so on down to without each single fault (the
// complements of delta debugging). Every candidate is sorted and has fewer
// faults than s; there are fewer than 2·len(s) of them.
func (s Schedule) Subsets() iter.Seq[Schedule] {
	return func(yield func(Schedule) bool) {
		n := len(s)
		for chunk := n / 2; chunk >= 1; chunk /= 2 {
			for start := 0; start < n; start += chunk {
				end := min(start+chunk, n)
				if !yield(slices.Delete(s.Clone(), start, end)) {
					return
				}
			}
		}
		if n == 1 && !yield(Schedule{}) {
			return
		}
	}
}

// Shrink removes faults from s while fails still reports the failure, and
// returns the smallest schedule it found (s itself if nothing could go). It
// calls fails at most maxTries times; fails must be a deterministic function
// of the schedule (run the same seed, the same checker). The result is
// 1-minimal when the budget suffices: removing any one fault makes the
// failure go away.
func Shrink(s Schedule, fails func(Schedule) bool, maxTries int) Schedule {
	best := s.Clone()
	tries := 0
	for {
		progress := false
		for cand := range best.Subsets() {
			if tries >= maxTries {
				return best
			}
			tries++
			if fails(cand) {
				best, progress = cand, true
				break
			}
		}
		if !progress {
			return best
		}
	}
}
