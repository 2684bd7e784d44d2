package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"zoosim/checker"
	"zoosim/model"
	"zoosim/node"
	"zoosim/scenarios"
)

// Timeline is what the timeline of one run shows, over the run's time
// (virtual in the simulator; a real run fills it with wall time since its
// start and says so in Clock).
type Timeline struct {
	// Clock names the time axis: "virtual time" or "wall time".
	Clock   string
	End     node.Time
	Ops     []checker.Op
	Faults  []checker.Fault
	Roles   []scenarios.RoleChange
	Servers []node.ID
	// Violating maps the ID of an op a violated checker points at to the
	// checkers that point at it.
	Violating map[int][]string
	Marks     []Mark
}

// Mark is a moment worth a vertical line, such as the heal before the
// liveness phase.
type Mark struct {
	At    node.Time
	Label string
}

// TimelineOf is the timeline of a simulated run (nil if the run recorded
// no history: it stopped at a broken invariant).
func TimelineOf(res *scenarios.Result) *Timeline {
	h := res.History
	if h == nil {
		return nil
	}
	t := &Timeline{Clock: "virtual time", End: h.End, Ops: h.Ops, Faults: h.Faults, Roles: res.Roles, Violating: map[int][]string{}}
	for i := 1; i <= res.Servers; i++ {
		t.Servers = append(t.Servers, node.ID(i))
	}
	for _, r := range res.Report.Results {
		if r.Verdict != checker.VerdictViolation {
			continue
		}
		for _, id := range r.Ops {
			if id >= 0 && id < len(h.Ops) && !slices.Contains(t.Violating[id], r.Checker) {
				t.Violating[id] = append(t.Violating[id], r.Checker)
			}
		}
	}
	if h.HealedAt > 0 {
		t.Marks = append(t.Marks, Mark{At: h.HealedAt, Label: "heal all: liveness phase"})
	}
	if h.FirstWriteAfterHeal > 0 {
		t.Marks = append(t.Marks, Mark{At: h.FirstWriteAfterHeal, Label: "first write after heal"})
	}
	return t
}

// Layout of the picture, in user units (the viewBox scales it).
const (
	tlWidth        = 960.0
	tlLeft         = 96.0 // lane names and the latency axis
	tlRight        = 14.0
	tlFaultRow     = 15.0
	tlFaultRowsMax = 10
	tlLatency      = 230.0
	tlUnknownStrip = 16.0
	tlThroughput   = 78.0
	tlLane         = 15.0
	tlBucket       = 100 * node.Millisecond
	tlLabelsMax    = 12 // violating ops labelled with their id; more get a ring only
)

// Colours: op outcomes, roles, fault families (colour-blind safe pairs).
const (
	colOK      = "#0969da"
	colError   = "#e36209"
	colUnknown = "#8250df"
	colBad     = "#cf222e"
)

// faultFamily is the colour pair (bar, shade) of a fault kind.
func faultFamily(kind string) (family, bar, shade string) {
	switch {
	case kind == "heal-all" || kind == "heal":
		return "heal", "#6e7781", "#6e7781"
	case strings.HasPrefix(kind, "partition") || kind == "client-cut":
		return "partition", "#8250df", "#8250df"
	case strings.HasPrefix(kind, "crash") || strings.HasPrefix(kind, "restart"):
		return "crash", "#cf222e", "#cf222e"
	case kind == "pause" || strings.HasPrefix(kind, "resume"):
		return "pause", "#9a6700", "#bf8700"
	case strings.HasPrefix(kind, "clock"):
		return "clock", "#1b7c83", "#1b7c83"
	case strings.HasPrefix(kind, "link"):
		return "link", "#57606a", "#57606a"
	case strings.HasPrefix(kind, "disk"):
		return "disk", "#953800", "#953800"
	case kind == "lag":
		return "lag", "#1a7f37", "#1a7f37"
	}
	return "other", "#424a53", "#424a53"
}

// roleColour is a role's colour in the server lanes.
func roleColour(c scenarios.RoleChange) string {
	switch {
	case c.Role == "leading" && c.Established:
		return "#0a3069"
	case c.Role == "leading":
		return "#54aeff"
	case c.Role == "following" && c.Established:
		return "#80ccff"
	case c.Role == "following":
		return "#ddf4ff"
	case c.Role == "looking":
		return "#f2cc60"
	case c.Role == scenarios.RolePaused:
		return "#afb8c1"
	case c.Role == scenarios.RoleDown:
		return "#ff8182"
	}
	return "#ffffff"
}

var serverPalette = []string{"#0a3069", "#953800", "#1a7f37", "#8250df", "#bf3989", "#1b7c83", "#6639ba", "#7d4e00", "#57606a"}

// SVG draws the timeline.
func (t *Timeline) SVG() string {
	s := &svgDoc{w: tlWidth}
	end := max(t.End, node.Second)
	x := linear{0, float64(end), tlLeft, tlWidth - tlRight}
	xs := func(at node.Time) float64 { return x.at(float64(min(max(at, 0), end))) }
	y := 4.0

	// Legend, wrapped to the width.
	y += 12
	lx := tlLeft
	legend := func(label string, draw func(x float64)) {
		w := 26 + 6.6*float64(len(label))
		if lx+w > tlWidth-tlRight {
			lx, y = tlLeft, y+16
		}
		draw(lx)
		s.text(lx+16, y, "start", "small", label)
		lx += w
	}
	dot := func(colour string) func(float64) {
		return func(x float64) { s.printf(`<circle cx="%s" cy="%s" r="4" fill="%s"/>`, f1(x+5), f1(y-4), colour) }
	}
	box := func(colour string) func(float64) {
		return func(x float64) { s.rect(x, y-9, 12, 10, colour, ` stroke="#8c959f" stroke-width=".5"`) }
	}
	legend("ok", dot(colOK))
	legend("error reply", dot(colError))
	legend("unknown outcome", dot(colUnknown))
	legend("in a violation", func(x float64) {
		s.printf(`<circle cx="%s" cy="%s" r="5" fill="none" stroke="%s" stroke-width="2"/>`, f1(x+5), f1(y-4), colBad)
	})
	legend("leading", box("#0a3069"))
	legend("leading, not established", box("#54aeff"))
	legend("following", box("#80ccff"))
	legend("following, syncing", box("#ddf4ff"))
	legend("looking", box("#f2cc60"))
	legend("paused", box("#afb8c1"))
	legend("down", box("#ff8182"))
	y += 10

	// Faults, each a labelled bar in the first row where it fits.
	type placed struct {
		f   checker.Fault
		row int
	}
	var faults []placed
	rowEnd := make([]float64, 0, tlFaultRowsMax)
	for _, f := range t.Faults {
		x0, x1 := xs(f.Start), xs(min(f.End, end))
		need := max(x1, x0+8+6*float64(len(f.Kind)))
		row := -1
		for r, e := range rowEnd {
			if e+2 <= x0 {
				row = r
				break
			}
		}
		if row < 0 && len(rowEnd) < tlFaultRowsMax {
			rowEnd = append(rowEnd, 0)
			row = len(rowEnd) - 1
		}
		if row < 0 { // every row is busy: overlap in the row that frees first
			row = 0
			for r, e := range rowEnd {
				if e < rowEnd[row] {
					row = r
				}
			}
		}
		rowEnd[row] = max(rowEnd[row], need)
		faults = append(faults, placed{f, row})
	}
	faultTop := y + 4
	s.text(tlLeft-8, faultTop+11, "end", "lane", "faults")
	if len(faults) == 0 {
		s.text(tlLeft, faultTop+11, "start", "small muted", "none")
	}
	rows := max(len(rowEnd), 1)
	for _, p := range faults {
		_, bar, _ := faultFamily(p.f.Kind)
		x0, x1 := xs(p.f.Start), xs(min(p.f.End, end))
		ry := faultTop + float64(p.row)*tlFaultRow
		s.printf(`<g><title>%s</title>`, Esc(faultTitle(p.f)))
		if x1-x0 < 2 { // an instant: a tick
			s.rect(x0-1, ry, 2.5, tlFaultRow-3, bar, "")
		} else {
			s.rect(x0, ry, x1-x0, tlFaultRow-3, bar, ` fill-opacity=".22" stroke="`+bar+`" stroke-width=".8"`)
		}
		s.text(x0+3, ry+9.5, "start", "small", p.f.Kind)
		s.printf("</g>\n")
	}
	y = faultTop + float64(rows)*tlFaultRow + 6

	// Panels below share the fault shading and the vertical marks.
	panelTop := y
	latTop, latBottom := y+tlUnknownStrip, y+tlUnknownStrip+tlLatency
	tpTop := latBottom + 10
	tpBottom := tpTop + tlThroughput
	leaderTop := tpBottom + 10
	lanesTop := leaderTop + tlLane + 4
	lanesBottom := lanesTop + float64(len(t.Servers))*tlLane
	axisY := lanesBottom + 4

	for _, p := range faults {
		if p.f.End <= p.f.Start || p.f.Kind == "heal-all" {
			continue
		}
		_, _, shade := faultFamily(p.f.Kind)
		x0, x1 := xs(p.f.Start), xs(min(p.f.End, end))
		s.rect(x0, panelTop, x1-x0, tpBottom-panelTop, shade, ` fill-opacity=".06"`)
	}
	for _, v := range ticks(0, float64(end)/float64(node.Second), 10) {
		gx := x.at(v * float64(node.Second))
		s.line(gx, panelTop, gx, lanesBottom, "#d0d7de", ` stroke-width=".5"`)
		s.line(gx, axisY, gx, axisY+4, "#57606a", "")
		s.text(gx, axisY+16, "middle", "small", secondsText(v))
	}
	s.line(tlLeft, axisY, tlWidth-tlRight, axisY, "#57606a", "")
	s.text((tlLeft+tlWidth-tlRight)/2, axisY+32, "middle", "", t.Clock+" since the run started (s)")

	t.drawLatency(s, xs, panelTop, latTop, latBottom)
	t.drawThroughput(s, x, end, tpTop, tpBottom)
	t.drawRoles(s, xs, end, leaderTop, lanesTop)

	for i, m := range t.Marks {
		mx := xs(m.At)
		s.line(mx, panelTop, mx, lanesBottom, "#24292f", ` stroke-dasharray="4 3" stroke-width="1"`)
		if mx > tlWidth-tlRight-7*float64(len(m.Label)) {
			s.text(mx-3, latBottom-6-12*float64(i), "end", "small muted", m.Label)
		} else {
			s.text(mx+3, latBottom-6-12*float64(i), "start", "small muted", m.Label)
		}
	}
	s.h = axisY + 40
	return s.String("timeline", "timeline of the run: operation latencies, throughput, faults and server roles")
}

func faultTitle(f checker.Fault) string {
	span := fmt.Sprintf("%s–%s", dur(f.Start), dur(f.End))
	if f.End >= checker.Infinity {
		span = dur(f.Start) + "–end"
	} else if f.End <= f.Start {
		span = dur(f.Start)
	}
	return fmt.Sprintf("%s %s: %s", span, f.Kind, f.Description)
}

func dur(t node.Time) string { return time.Duration(t).Round(time.Millisecond).String() }

// drawLatency plots each op at its call time and latency (log scale),
// unknown outcomes in a strip above, and rings the violating ones.
func (t *Timeline) drawLatency(s *svgDoc, xs func(node.Time) float64, top, latTop, latBottom float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range t.Ops {
		op := &t.Ops[i]
		if op.Unknown || op.Return >= checker.Infinity {
			continue
		}
		ms := latencyMs(op)
		lo, hi = min(lo, ms), max(hi, ms)
	}
	if math.IsInf(lo, 1) {
		lo, hi = 1, 1000
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	ly := linear{math.Log10(lo), math.Log10(hi), latBottom, latTop}
	yOf := func(ms float64) float64 { return ly.at(math.Log10(min(max(ms, lo), hi))) }

	s.rect(tlLeft, top, tlWidth-tlRight-tlLeft, tlUnknownStrip-3, "#f6f8fa", "")
	s.text(tlLeft-8, top+10, "end", "small", "unknown")
	s.line(tlLeft, latTop, tlLeft, latBottom, "#57606a", "")
	for e := math.Log10(lo); e <= math.Log10(hi)+1e-9; e++ {
		ms := math.Pow(10, e)
		gy := yOf(ms)
		s.line(tlLeft, gy, tlWidth-tlRight, gy, "#d0d7de", ` stroke-width=".5"`)
		s.line(tlLeft-4, gy, tlLeft, gy, "#57606a", "")
		s.text(tlLeft-7, gy+4, "end", "small", msText(roundSig(ms)))
	}
	s.printf(`<text transform="translate(14 %s) rotate(-90)" text-anchor="middle">latency (log)</text>`+"\n", f1((latTop+latBottom)/2))

	var paths [3]strings.Builder // ok, error, unknown
	for i := range t.Ops {
		op := &t.Ops[i]
		k, py := 0, 0.0
		switch {
		case op.Unknown || op.Return >= checker.Infinity:
			k, py = 2, top+(tlUnknownStrip-3)/2
		case op.Err != model.ErrOK:
			k, py = 1, yOf(latencyMs(op))
		default:
			py = yOf(latencyMs(op))
		}
		fmt.Fprintf(&paths[k], "M%s %sh0", f1(xs(op.Call)), f1(py))
	}
	for k, c := range []string{colOK, colError, colUnknown} {
		if paths[k].Len() > 0 {
			s.printf(`<path d="%s" stroke="%s" stroke-width="3.2" stroke-linecap="round" stroke-opacity=".55" fill="none"/>`+"\n", paths[k].String(), c)
		}
	}

	ids := make([]int, 0, len(t.Violating))
	for id := range t.Violating {
		ids = append(ids, id)
	}
	// By call time (then ID): map order must not leak into the picture.
	slices.SortFunc(ids, func(a, b int) int {
		if c := cmp.Compare(t.Ops[a].Call, t.Ops[b].Call); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	var labelEnd [4]float64 // rows of labels: where each row's last label ends
	labels := 0
	for _, id := range ids {
		op := &t.Ops[id]
		px, py := xs(op.Call), top+(tlUnknownStrip-3)/2
		if !op.Unknown && op.Return < checker.Infinity {
			py = yOf(latencyMs(op))
			s.line(px, py, xs(op.Return), py, colBad, ` stroke-width="1.5"`)
		}
		s.printf(`<g><title>%s (%s)</title>`, Esc(OpText(op)), Esc(strings.Join(t.Violating[id], ", ")))
		s.line(px, latTop, px, latBottom, colBad, ` stroke-width=".8" stroke-dasharray="2 2"`)
		s.printf(`<circle cx="%s" cy="%s" r="6" fill="none" stroke="%s" stroke-width="2.2"/>`, f1(px), f1(py), colBad)
		label := fmt.Sprintf("#%d", id)
		for row := range labelEnd {
			if labels < tlLabelsMax && labelEnd[row] < px {
				s.text(px+3, latTop+11+float64(row)*12, "start", "small bad", label)
				labelEnd[row] = px + 6 + 6.5*float64(len(label))
				labels++
				break
			}
		}
		s.printf("</g>\n")
	}
}

func latencyMs(op *checker.Op) float64 {
	return max(float64(op.Return-op.Call)/float64(node.Millisecond), 0.001)
}

// roundSig rounds a power of ten computed in floating point.
func roundSig(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v))-2)
	return math.Round(v/p) * p
}

// drawThroughput draws the answered ops per 100 ms, replies with an error
// stacked on successes.
func (t *Timeline) drawThroughput(s *svgDoc, x linear, end node.Time, top, bottom float64) {
	n := int(end/tlBucket) + 1
	ok, bad := make([]int, n), make([]int, n)
	peak := 1
	for i := range t.Ops {
		op := &t.Ops[i]
		if op.Unknown || op.Return >= checker.Infinity || op.Return > end {
			continue
		}
		b := int(op.Return / tlBucket)
		if op.Err == model.ErrOK {
			ok[b]++
		} else {
			bad[b]++
		}
		peak = max(peak, ok[b]+bad[b])
	}
	yt := linear{0, float64(peak), bottom, top}
	area := func(count func(int) int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "M%s %s", f1(x.at(0)), f1(bottom))
		for i := range n {
			t0, t1 := node.Time(i)*tlBucket, min(node.Time(i+1)*tlBucket, end)
			cy := f1(yt.at(float64(count(i))))
			fmt.Fprintf(&b, "L%s %sL%s %s", f1(x.at(float64(t0))), cy, f1(x.at(float64(t1))), cy)
		}
		fmt.Fprintf(&b, "L%s %sZ", f1(x.at(float64(end))), f1(bottom))
		return b.String()
	}
	s.printf(`<path d="%s" fill="%s" fill-opacity=".8"/>`+"\n", area(func(i int) int { return ok[i] + bad[i] }), colError)
	s.printf(`<path d="%s" fill="%s" fill-opacity=".8"/>`+"\n", area(func(i int) int { return ok[i] }), colOK)
	s.line(tlLeft, top, tlLeft, bottom, "#57606a", "")
	for _, v := range ticks(0, float64(peak), 3) {
		gy := yt.at(v)
		s.line(tlLeft-4, gy, tlLeft, gy, "#57606a", "")
		s.text(tlLeft-7, gy+4, "end", "small", fmt.Sprintf("%g", v))
	}
	s.line(tlLeft, bottom, tlWidth-tlRight, bottom, "#8c959f", ` stroke-width=".6"`)
	s.printf(`<text transform="translate(14 %s) rotate(-90)" text-anchor="middle" class="small">ops / 100 ms</text>`+"\n", f1((top+bottom)/2))
}

// span is a stretch of time in one state.
type span struct {
	from, to node.Time
	c        scenarios.RoleChange
}

// spans cuts the role changes of one server into spans up to end.
func spans(changes []scenarios.RoleChange, end node.Time) []span {
	var out []span
	for i, c := range changes {
		to := end
		if i+1 < len(changes) {
			to = changes[i+1].Time
		}
		if to > c.Time {
			out = append(out, span{c.Time, to, c})
		}
	}
	return out
}

// drawRoles draws the established leader over time and one lane per
// server with its role.
func (t *Timeline) drawRoles(s *svgDoc, xs func(node.Time) float64, end node.Time, leaderTop, lanesTop float64) {
	per := map[node.ID][]scenarios.RoleChange{}
	for _, c := range t.Roles {
		per[c.Server] = append(per[c.Server], c)
	}
	// The leader lane: which server leads, established, over time.
	s.text(tlLeft-8, leaderTop+11, "end", "lane", "leader")
	s.rect(tlLeft, leaderTop, tlWidth-tlRight-tlLeft, tlLane-2, "#f6f8fa", ` stroke="#d0d7de" stroke-width=".5"`)
	for _, sp := range leaderSpans(t.Roles, t.Servers, end) {
		x0, x1 := xs(sp.from), xs(sp.to)
		col := serverPalette[int(sp.c.Server-1)%len(serverPalette)]
		s.printf(`<g><title>server %d leads (epoch %d), %s–%s</title>`, sp.c.Server, sp.c.Epoch, dur(sp.from), dur(sp.to))
		s.rect(x0, leaderTop, x1-x0, tlLane-2, col, "")
		if x1-x0 > 18 {
			s.text(x0+3, leaderTop+10, "start", "in", fmt.Sprintf("s%d", sp.c.Server))
		}
		s.printf("</g>\n")
	}
	for i, id := range t.Servers {
		ly := lanesTop + float64(i)*tlLane
		s.text(tlLeft-8, ly+10.5, "end", "lane", fmt.Sprintf("server %d", id))
		for _, sp := range spans(per[id], end) {
			x0, x1 := xs(sp.from), xs(sp.to)
			s.printf(`<g><title>server %d %s, %s–%s</title>`, id, roleText(sp.c), dur(sp.from), dur(sp.to))
			s.rect(x0, ly, x1-x0, tlLane-2, roleColour(sp.c), "")
			s.printf("</g>\n")
		}
	}
	if len(t.Roles) == 0 && len(t.Servers) > 0 {
		s.text(tlLeft+4, lanesTop+10.5, "start", "small muted", "no role samples recorded")
	}
}

func roleText(c scenarios.RoleChange) string {
	switch c.Role {
	case "leading", "following":
		st := "established"
		if !c.Established {
			st = "not established"
			if c.Role == "following" {
				st = "syncing"
			}
		}
		return fmt.Sprintf("%s (%s, leader %d, epoch %d)", c.Role, st, c.Leader, c.Epoch)
	}
	return c.Role
}

// leaderSpans are the stretches of time during which one server was an
// established leader (with quorums that do not intersect, two may be: the
// lane then shows the one with the lower ID, and the server lanes show
// both).
func leaderSpans(roles []scenarios.RoleChange, servers []node.ID, end node.Time) []span {
	cur := map[node.ID]scenarios.RoleChange{}
	var out []span
	var open *span
	leader := func() (scenarios.RoleChange, bool) {
		for _, id := range servers {
			if c, ok := cur[id]; ok && c.Role == "leading" && c.Established {
				return c, true
			}
		}
		return scenarios.RoleChange{}, false
	}
	for i := 0; i < len(roles); {
		at := roles[i].Time
		for ; i < len(roles) && roles[i].Time == at; i++ {
			cur[roles[i].Server] = roles[i]
		}
		l, ok := leader()
		if open != nil && (!ok || l.Server != open.c.Server || l.Epoch != open.c.Epoch) {
			open.to = at
			out = append(out, *open)
			open = nil
		}
		if ok && open == nil {
			open = &span{from: at, c: l}
		}
	}
	if open != nil {
		open.to = end
		out = append(out, *open)
	}
	return out
}
