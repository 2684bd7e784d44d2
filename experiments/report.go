package experiments

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"image/color"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"zoosim/report"
)

// CSVHeader names the columns of WriteCSV, as the JSON object names its
// fields.
var CSVHeader = []string{"engine", "servers", "quorum", "safe", "seeds", "violations", "lost_write_seeds", "lost_writes",
	"other_violation_seeds", "first_violation_seed", "repro", "availability", "availability_during_faults",
	"crash_tolerance", "write_p50_ms", "write_p99_ms", "election_p50_ms", "election_p99_ms", "reads_per_s", "not_applicable"}

// WriteCSV writes one line per row under CSVHeader. A figure that was not
// measured is an empty field.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range rows {
		first := ""
		if r.Violations > 0 {
			first = strconv.FormatUint(r.FirstViolationSeed, 10)
		}
		rec := []string{r.Engine, strconv.Itoa(r.Servers), r.Quorum, strconv.FormatBool(r.Safe), strconv.Itoa(r.Seeds),
			strconv.Itoa(r.Violations), strconv.Itoa(r.LostWriteSeeds), strconv.Itoa(r.LostWrites),
			strconv.Itoa(r.OtherViolationSeeds), first, r.Repro, num(r.Availability), num(r.AvailabilityDuringFaults),
			strconv.Itoa(r.CrashTolerance), num(r.WriteP50Ms), num(r.WriteP99Ms), num(r.ElectionP50Ms),
			num(r.ElectionP99Ms), num(r.ReadsPerS), r.NotApplicable}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func num(f float64) string {
	if math.IsNaN(f) {
		return ""
	}
	return strconv.FormatFloat(f, 'f', 4, 64)
}

// WriteHTML writes a self-contained report: the findings in numbers, plots
// drawn with gonum/plot as inline SVG (availability, write latency and
// election time with p50 and p99 as distinct marks on a log scale in
// milliseconds, crash tolerance per ensemble size and quorum, lost
// acknowledged writes apart from other broken promises, reads served),
// each with labelled axes and a legend, then the table of every figure and
// the repro line of each combination's first violation.
func WriteHTML(w io.Writer, rep *Report, title string) error {
	d := report.NewDocument(title)
	lostSeeds, otherSeeds, unsafe := 0, 0, 0
	for _, r := range rep.Rows {
		lostSeeds += r.LostWriteSeeds
		otherSeeds += r.OtherViolationSeeds
		if !r.Safe {
			unsafe++
		}
	}
	cls := func(n int) string {
		if n > 0 {
			return "bad"
		}
		return ""
	}
	d.Raw(report.Cards(
		[3]string{strconv.Itoa(len(rep.Rows)), "combinations", ""},
		[3]string{strconv.Itoa(unsafe), "unsafe by intersection", ""},
		[3]string{strconv.Itoa(lostSeeds), "seeds that lost acknowledged writes", cls(lostSeeds)},
		[3]string{strconv.Itoa(otherSeeds), "seeds with other broken promises", cls(otherSeeds)},
		[3]string{fmt.Sprintf("%.1f s", float64(rep.WallMs)/1000), "wall time", ""}))
	d.Para("Every figure is measured in the simulated world, never computed from a formula. Latencies are virtual milliseconds. " +
		"Combinations marked * are unsafe by intersection: some election quorum misses some commit quorum, and the checkers are " +
		"expected to catch what that breaks.")
	// The plots show the rows with figures; a row an engine cannot run is
	// in the tables, marked.
	var measured []Row
	for _, r := range rep.Rows {
		if r.NotApplicable == "" {
			measured = append(measured, r)
		}
	}
	if len(measured) > 0 {
		plots := []struct {
			draw    func([]Row) (*plot.Plot, error)
			caption string
		}{
			{availabilityPlot, "Share of write attempts the ensemble answered, over the whole run and over the fault windows only, averaged over the seeds."},
			{func(rows []Row) (*plot.Plot, error) {
				return percentilePlot(rows, "Write latency", "write latency (virtual ms, log scale)",
					func(r Row) (float64, float64) { return r.WriteP50Ms, r.WriteP99Ms })
			}, "Write latency of acknowledged writes: p50 (circle) and p99 (triangle) over every seed's writes."},
			{func(rows []Row) (*plot.Plot, error) {
				return percentilePlot(rows, "Leader crash to the next acknowledged write", "time to next write (virtual ms, log)",
					func(r Row) (float64, float64) { return r.ElectionP50Ms, r.ElectionP99Ms })
			}, "The leader crashes once (3 s into the run, for good); the time until a write is acknowledged again, p50 and p99 over the probe seeds."},
			{crashTolerancePlot, "Measured crash tolerance: the most servers (the highest IDs) that can crash for good with every probe seed still " +
				"acknowledging writes, per ensemble size, one line per quorum. The dashed line is what a majority quorum promises, ⌊(N−1)/2⌋."},
			{promisesPlot, "Seeds whose history a checker rejected, split into those that lost acknowledged writes and those that broke another promise only."},
			{readsPlot, "Reads answered per virtual second (of the read-capacity probe: servers with a CPU, read-heavy clients)."},
		}
		d.Heading(2, "plots", "Plots")
		d.Raw("<div class=\"plots\">\n")
		for _, p := range plots {
			pl, err := p.draw(measured)
			if err != nil {
				return err
			}
			svg, err := svgOf(pl, 16*vg.Centimeter, 9*vg.Centimeter)
			if err != nil {
				return err
			}
			d.Figure(svg, p.caption)
		}
		d.Raw("</div>\n")
	}
	safety, figures := tableRows(rep.Rows)
	d.Heading(2, "safety", "Safety: every combination")
	d.Table("quorum", []string{"engine", "servers", "quorum", "safe", "seeds", "violating seeds", "lost acknowledged writes: seeds",
		"lost acknowledged writes: writes", "other broken promises only: seeds", "first violating seed"}, safety)
	d.Heading(2, "figures", "Availability, crash tolerance, latency, reads")
	d.Table("quorum", []string{"engine", "servers", "quorum", "writes acknowledged", "during faults", "crash tolerance",
		"probe seeds committing with k = 0, 1, ... crashed", "write p50 (ms)", "write p99 (ms)", "leader crash → write p50 (ms)",
		"leader crash → write p99 (ms)", "reads / s"}, figures)
	for _, r := range rep.Rows {
		if r.Violations > 0 {
			d.Command(fmt.Sprintf("%s, %d servers, quorum %s: first of %d violating seeds", r.Engine, r.Servers, r.Quorum, r.Violations), r.Repro)
		}
		if r.NotApplicable != "" {
			d.Note("not applicable: %s, %d servers, quorum %s: %s", r.Engine, r.Servers, r.Quorum, r.NotApplicable)
		}
	}
	for _, s := range rep.Skipped {
		d.Note("skipped: %d servers, quorum %s: %s", s.Servers, s.Quorum, s.Reason)
	}
	_, err := d.WriteTo(w)
	return err
}

// tableRows are the rows of the two tables: safety, and the other figures.
func tableRows(rows []Row) (safety, figures [][]string) {
	for _, r := range rows {
		safe, first := "safe", "-"
		if !r.Safe {
			safe = "<b>unsafe</b>"
		}
		if r.Violations > 0 {
			first = strconv.FormatUint(r.FirstViolationSeed, 10)
		}
		var shares []string
		for _, c := range r.CrashCommitShare {
			shares = append(shares, fmt.Sprintf("%.0f%%", 100*c))
		}
		tol := strconv.Itoa(r.CrashTolerance)
		switch {
		case r.CrashCommitShare == nil:
			tol = "-"
		case r.CrashTolerance < 0:
			tol = "none"
		}
		name := []string{report.Esc(r.Engine), strconv.Itoa(r.Servers), report.Esc(r.Quorum)}
		if r.NotApplicable != "" {
			na := []string{"n/a", "", "", "", "", "", ""}
			safety = append(safety, append(append(slices.Clone(name), safe, "0"), na[:5]...))
			figures = append(figures, append(slices.Clone(name), "n/a", "", "", "", "", "", "", "", ""))
			continue
		}
		safety = append(safety, append(slices.Clone(name), safe, strconv.Itoa(r.Seeds), strconv.Itoa(r.Violations),
			strconv.Itoa(r.LostWriteSeeds), strconv.Itoa(r.LostWrites), strconv.Itoa(r.OtherViolationSeeds), first))
		figures = append(figures, append(slices.Clone(name), pct(r.Availability), pct(r.AvailabilityDuringFaults), tol,
			"<span class=\"nowrap\">"+orDash(strings.Join(shares, " · "))+"</span>",
			num1(r.WriteP50Ms), num1(r.WriteP99Ms), num1(r.ElectionP50Ms), num1(r.ElectionP99Ms), num1(r.ReadsPerS)))
	}
	return safety, figures
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func num1(f float64) string {
	if math.IsNaN(f) {
		return "-"
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

// Colours of the plots (colour-blind safe).
var (
	colBlue   = color.RGBA{R: 0x09, G: 0x69, B: 0xda, A: 0xff}
	colOrange = color.RGBA{R: 0xe3, G: 0x62, B: 0x09, A: 0xff}
	colRed    = color.RGBA{R: 0xcf, G: 0x22, B: 0x2e, A: 0xff}
	colGrey   = color.RGBA{R: 0x6e, G: 0x77, B: 0x81, A: 0xff}
	palette   = []color.Color{colBlue, colOrange, color.RGBA{R: 0x1a, G: 0x7f, B: 0x37, A: 0xff},
		color.RGBA{R: 0x82, G: 0x50, B: 0xdf, A: 0xff}, color.RGBA{R: 0xbf, G: 0x39, B: 0x89, A: 0xff},
		color.RGBA{R: 0x1b, G: 0x7c, B: 0x83, A: 0xff}, color.RGBA{R: 0x95, G: 0x38, B: 0x00, A: 0xff}, colGrey}
)

// sans is the plots' typeface: Liberation Sans, metric-compatible with
// Arial, which the page names as its fallback (no font is embedded).
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// newPlot is a plot with a title, axis labels, a grid, sans-serif text and
// the legend at the top.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, x, y
	for _, st := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font} {
		size := st.Size
		*st = sans
		st.Size = size
	}
	p.Title.TextStyle.Font.Size = 12
	p.Title.Padding = vg.Points(6)
	// Top left: in a narrow window, where the plot scrolls sideways, the
	// legend is in view.
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), vg.Points(2)
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Transparent
	grid.Horizontal.Color = color.Gray{Y: 0xdd}
	p.Add(grid)
	return p
}

// engineSet is the engines of the rows.
func engineSet(rows []Row) map[string]bool {
	out := map[string]bool{}
	for _, r := range rows {
		out[r.Engine] = true
	}
	return out
}

// combinationLabels names each row on a categorical axis: "5 / 2", with a
// * for an unsafe combination; labels lean when there are many.
func combinationLabels(p *plot.Plot, rows []Row) {
	labels := make([]string, len(rows))
	for i, r := range rows {
		labels[i] = fmt.Sprintf("%d / %s", r.Servers, r.Quorum)
		if len(engineSet(rows)) > 1 {
			labels[i] = r.Engine + " " + labels[i]
		}
		if !r.Safe {
			labels[i] += " *"
		}
	}
	p.NominalX(labels...)
	p.X.Label.Text = "servers / quorum (* unsafe)"
	if len(rows) > 6 {
		p.X.Tick.Label.Rotation = math.Pi / 5
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
}

func availabilityPlot(rows []Row) (*plot.Plot, error) {
	p := newPlot("Write availability", "", "writes acknowledged (%)")
	whole, faults := make(plotter.Values, len(rows)), make(plotter.Values, len(rows))
	for i, r := range rows {
		whole[i], faults[i] = 100*r.Availability, 100*r.AvailabilityDuringFaults
	}
	w := barWidth(len(rows))
	a, err := plotter.NewBarChart(whole, w)
	if err != nil {
		return nil, err
	}
	b, err := plotter.NewBarChart(faults, w)
	if err != nil {
		return nil, err
	}
	a.Color, a.LineStyle.Width, a.Offset = colBlue, 0, -w/2
	b.Color, b.LineStyle.Width, b.Offset = colOrange, 0, w/2
	p.Add(a, b)
	p.Legend.Add("whole run", a)
	p.Legend.Add("during faults", b)
	p.Y.Min, p.Y.Max = 0, 120 // room for the legend above 100%
	p.Y.Tick.Marker = fixedTicks(0, 100, 20, "%")
	combinationLabels(p, rows)
	return p, nil
}

func barWidth(n int) vg.Length {
	return vg.Points(max(4, min(18, 200/float64(max(n, 1)))))
}

// percentilePlot draws p50 and p99 of each row as two marks joined by a
// line, on a log scale in milliseconds.
func percentilePlot(rows []Row, title, ylabel string, of func(Row) (float64, float64)) (*plot.Plot, error) {
	p := newPlot(title, "", ylabel)
	var p50, p99 plotter.XYs
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, r := range rows {
		a, b := of(r)
		if !math.IsNaN(a) && a > 0 {
			p50 = append(p50, plotter.XY{X: float64(i), Y: a})
			lo, hi = min(lo, a), max(hi, a)
		}
		if !math.IsNaN(b) && b > 0 {
			p99 = append(p99, plotter.XY{X: float64(i), Y: b})
			lo, hi = min(lo, b), max(hi, b)
		}
		if !math.IsNaN(a) && !math.IsNaN(b) && a > 0 && b > 0 {
			l, err := plotter.NewLine(plotter.XYs{{X: float64(i), Y: a}, {X: float64(i), Y: b}})
			if err != nil {
				return nil, err
			}
			l.Color, l.Width = colGrey, vg.Points(1)
			p.Add(l)
		}
	}
	combinationLabels(p, rows)
	if len(p50)+len(p99) == 0 {
		p.Title.Text += " (not measured)"
		return p, nil
	}
	s50, err := plotter.NewScatter(p50)
	if err != nil {
		return nil, err
	}
	s50.GlyphStyle = draw.GlyphStyle{Color: colBlue, Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
	s99, err := plotter.NewScatter(p99)
	if err != nil {
		return nil, err
	}
	s99.GlyphStyle = draw.GlyphStyle{Color: colOrange, Radius: vg.Points(4), Shape: draw.TriangleGlyph{}}
	p.Add(s50, s99)
	p.Legend.Add("p50", s50)
	p.Legend.Add("p99", s99)
	p.Y.Scale = plot.LogScale{}
	p.Y.Min = math.Pow(10, math.Floor(math.Log10(lo/1.5)))
	p.Y.Max = hi * 6 // room for the legend above the marks
	p.Y.Tick.Marker = logMsTicks{}
	p.X.Min, p.X.Max = -0.6, float64(len(rows))-0.4
	return p, nil
}

// crashTolerancePlot: servers on x, measured crash tolerance on y, a line
// per quorum spelling, and majority's promise dashed.
func crashTolerancePlot(rows []Row) (*plot.Plot, error) {
	p := newPlot("Crash tolerance", "servers in the ensemble", "servers crashed, writes still acknowledged")
	var quorums []string
	byQuorum := map[string]plotter.XYs{}
	minN, maxN, maxY := math.MaxInt, 0, 0
	several := len(engineSet(rows)) > 1
	for _, r := range rows {
		if r.CrashCommitShare == nil {
			continue
		}
		key := r.Quorum // a line per quorum (per engine and quorum, with several engines)
		if several {
			key = r.Engine + " " + r.Quorum
		}
		if _, ok := byQuorum[key]; !ok {
			quorums = append(quorums, key)
		}
		byQuorum[key] = append(byQuorum[key], plotter.XY{X: float64(r.Servers), Y: float64(r.CrashTolerance)})
		minN, maxN, maxY = min(minN, r.Servers), max(maxN, r.Servers), max(maxY, r.CrashTolerance)
	}
	if len(quorums) == 0 {
		p.Title.Text += " (not measured: safety only)"
		return p, nil
	}
	var promise plotter.XYs
	for n := minN; n <= maxN; n++ {
		promise = append(promise, plotter.XY{X: float64(n), Y: float64((n - 1) / 2)})
	}
	ref, err := plotter.NewLine(promise)
	if err != nil {
		return nil, err
	}
	ref.Color, ref.Dashes, ref.Width = colGrey, []vg.Length{vg.Points(4), vg.Points(3)}, vg.Points(1)
	ref.StepStyle = plotter.PostStep
	p.Add(ref)
	p.Legend.Add("majority promises ⌊(N−1)/2⌋", ref)
	glyphs := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.PlusGlyph{}, draw.CrossGlyph{}, draw.RingGlyph{}}
	for i, q := range quorums {
		pts := byQuorum[q]
		slices.SortFunc(pts, func(a, b plotter.XY) int { return int(a.X - b.X) })
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		c := palette[i%len(palette)]
		l.Color, l.Width = c, vg.Points(1.5)
		s.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(3.5), Shape: glyphs[i%len(glyphs)]}
		p.Add(l, s)
		p.Legend.Add("quorum "+q, l, s)
	}
	p.X.Min, p.X.Max = float64(minN)-0.5, float64(maxN)+0.5
	p.Y.Min, p.Y.Max = -1.3, float64(maxY)+1.5+0.4*float64(len(quorums)) // room for the legend
	p.X.Tick.Marker = intTicks{}
	p.Y.Tick.Marker = intTicks{none: true}
	return p, nil
}

// promisesPlot stacks, per row, the seeds that lost acknowledged writes
// and the seeds that broke another promise only.
func promisesPlot(rows []Row) (*plot.Plot, error) {
	p := newPlot("Broken promises", "", "seeds with a violation")
	lost, other := make(plotter.Values, len(rows)), make(plotter.Values, len(rows))
	peak := 1.0
	for i, r := range rows {
		lost[i], other[i] = float64(r.LostWriteSeeds), float64(r.OtherViolationSeeds)
		peak = max(peak, lost[i]+other[i])
	}
	w := barWidth(len(rows)) * 1.6
	a, err := plotter.NewBarChart(lost, w)
	if err != nil {
		return nil, err
	}
	b, err := plotter.NewBarChart(other, w)
	if err != nil {
		return nil, err
	}
	a.Color, a.LineStyle.Width = colRed, 0
	b.Color, b.LineStyle.Width = colOrange, 0
	b.StackOn(a)
	p.Add(a, b)
	p.Legend.Add("lost acknowledged writes", a)
	p.Legend.Add("other broken promises only", b)
	p.Y.Min, p.Y.Max = 0, math.Ceil(peak*1.35)
	p.Y.Tick.Marker = intTicks{}
	combinationLabels(p, rows)
	return p, nil
}

func readsPlot(rows []Row) (*plot.Plot, error) {
	p := newPlot("Reads served", "", "reads answered per virtual second")
	vals := make(plotter.Values, len(rows))
	for i, r := range rows {
		vals[i] = r.ReadsPerS
	}
	bars, err := plotter.NewBarChart(vals, barWidth(len(rows))*1.6)
	if err != nil {
		return nil, err
	}
	bars.Color, bars.LineStyle.Width = colBlue, 0
	p.Add(bars)
	p.Y.Min = 0
	p.Y.Max = 1.12 * slices.Max(append([]float64{1}, vals...))
	combinationLabels(p, rows)
	return p, nil
}

// fixedTicks labels lo..hi every step with a unit suffix.
func fixedTicks(lo, hi, step float64, unit string) plot.Ticker {
	return plot.TickerFunc(func(min, max float64) []plot.Tick {
		var out []plot.Tick
		for v := lo; v <= hi; v += step {
			out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64) + unit})
		}
		return out
	})
}

// logMsTicks labels the powers of ten of a log axis in milliseconds ("0.1",
// "1", "10", "100", "1000"), with unlabelled minor ticks at 2 and 5.
type logMsTicks struct{}

func (logMsTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		v := math.Pow(10, e)
		if v >= min*0.999 && v <= max*1.001 {
			out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
		}
		for _, m := range []float64{2, 5} {
			if mv := m * v; mv > min && mv < max {
				out = append(out, plot.Tick{Value: mv})
			}
		}
	}
	return out
}

// intTicks labels every whole number in range; with none, -1 reads "none"
// (no crash tolerated, not even with every server up).
type intTicks struct{ none bool }

func (t intTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for v := math.Ceil(min); v <= max; v++ {
		label := strconv.Itoa(int(v))
		if t.none && v == -1 {
			label = "none"
		} else if t.none && v < -1 {
			continue
		}
		out = append(out, plot.Tick{Value: v, Label: label})
	}
	return out
}

var (
	svgHead    = regexp.MustCompile(`(?s)^.*?<svg width="[^"]*" height="[^"]*"`)
	svgFontFam = regexp.MustCompile(`font-family:Liberation Sans;`)
)

// svgOf renders a plot to inline SVG: no XML prologue, sized by the page's
// style sheet (class "plot"), and the font with its metric-compatible
// fallbacks, so that nothing needs to be fetched or embedded.
func svgOf(p *plot.Plot, w, h vg.Length) (string, error) {
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", err
	}
	s := svgHead.ReplaceAllString(b.String(), `<svg class="plot" role="img" aria-label="`+report.Esc(p.Title.Text)+`"`)
	s = svgFontFam.ReplaceAllString(s, `font-family:'Liberation Sans',Arimo,Arial,Helvetica,sans-serif;`)
	return s, nil
}
