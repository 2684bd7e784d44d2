package experiments

import (
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
)

// CSVHeader names the columns of WriteCSV, as the JSON object names its
// fields.
var CSVHeader = []string{"servers", "quorum", "safe", "seeds", "violations", "first_violation_seed", "repro",
	"availability", "availability_during_faults", "crash_tolerance", "write_p50_ms", "write_p99_ms",
	"election_p50_ms", "election_p99_ms", "reads_per_s"}

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
		rec := []string{strconv.Itoa(r.Servers), r.Quorum, strconv.FormatBool(r.Safe), strconv.Itoa(r.Seeds),
			strconv.Itoa(r.Violations), first, r.Repro, num(r.Availability), num(r.AvailabilityDuringFaults),
			strconv.Itoa(r.CrashTolerance), num(r.WriteP50Ms), num(r.WriteP99Ms), num(r.ElectionP50Ms),
			num(r.ElectionP99Ms), num(r.ReadsPerS)}
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

// WriteHTML writes a self-contained report: the table and three bar charts
// (availability, write latency p50, violations), one bar per row, drawn as
// inline SVG with no script.
func WriteHTML(w io.Writer, rep *Report, title string) error {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html.EscapeString(title) + "</title>\n")
	b.WriteString(`<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
.unsafe{background:#fdd}svg{margin:1em 0;display:block}text{font-size:11px}</style></head><body>
`)
	fmt.Fprintf(&b, "<h1>%s</h1>\n<p>%d combinations, wall time %.1f s. Rows with a red background are unsafe by intersection.</p>\n",
		html.EscapeString(title), len(rep.Rows), float64(rep.WallMs)/1000)
	b.WriteString("<table><tr>")
	for _, h := range CSVHeader {
		if h != "repro" {
			b.WriteString("<th>" + h + "</th>")
		}
	}
	b.WriteString("</tr>\n")
	for _, r := range rep.Rows {
		cls := ""
		if !r.Safe {
			cls = ` class="unsafe"`
		}
		first := "-"
		if r.Violations > 0 {
			first = fmt.Sprintf(`<span title="%s">%d</span>`, html.EscapeString(r.Repro), r.FirstViolationSeed)
		}
		fmt.Fprintf(&b, "<tr%s><td>%d</td><td>%s</td><td>%t</td><td>%d</td><td>%d</td><td>%s</td><td>%.3f</td><td>%.3f</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			cls, r.Servers, html.EscapeString(r.Quorum), r.Safe, r.Seeds, r.Violations, first, r.Availability,
			r.AvailabilityDuringFaults, r.CrashTolerance, num1(r.WriteP50Ms), num1(r.WriteP99Ms), num1(r.ElectionP50Ms),
			num1(r.ElectionP99Ms), num1(r.ReadsPerS))
	}
	b.WriteString("</table>\n")
	for _, s := range rep.Skipped {
		fmt.Fprintf(&b, "<p>skipped: %d servers, quorum %s: %s</p>\n", s.Servers, html.EscapeString(s.Quorum), html.EscapeString(s.Reason))
	}
	barChart(&b, rep.Rows, "Write availability (whole run, during faults)", "share", func(r Row) []float64 {
		return []float64{r.Availability, r.AvailabilityDuringFaults}
	})
	barChart(&b, rep.Rows, "Write latency p50 and p99 (virtual ms, log scale)", "ms", func(r Row) []float64 {
		return []float64{logScale(r.WriteP50Ms), logScale(r.WriteP99Ms)}
	})
	barChart(&b, rep.Rows, "Seeds with a violation", "seeds", func(r Row) []float64 {
		return []float64{float64(r.Violations)}
	})
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func num1(f float64) string {
	if math.IsNaN(f) {
		return "-"
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

// logScale maps a latency to log10(1+ms) so that p50 and p99 share a chart.
func logScale(ms float64) float64 {
	if math.IsNaN(ms) || ms < 0 {
		return 0
	}
	return math.Log10(1 + ms)
}

var barColours = []string{"#4477aa", "#ee6677"}

// barChart draws one group of bars per row (labelled "N / quorum"), bars
// scaled to the largest value.
func barChart(b *strings.Builder, rows []Row, title, unit string, values func(Row) []float64) {
	const groupW, barW, height, top, bottom = 60, 22, 200, 20, 60
	width := 50 + groupW*max(len(rows), 1)
	peak := 0.0
	for _, r := range rows {
		for _, v := range values(r) {
			if !math.IsNaN(v) {
				peak = max(peak, v)
			}
		}
	}
	if peak == 0 {
		peak = 1
	}
	fmt.Fprintf(b, "<h2>%s</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\">\n", html.EscapeString(title), width, top+height+bottom)
	fmt.Fprintf(b, "<line x1=\"45\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>\n", top+height, width, top+height)
	fmt.Fprintf(b, "<text x=\"0\" y=\"%d\">%.3g</text><text x=\"0\" y=\"%d\">0 %s</text>\n", top+5, peak, top+height, html.EscapeString(unit))
	for i, r := range rows {
		x0 := 50 + i*groupW
		for j, v := range values(r) {
			if math.IsNaN(v) {
				continue
			}
			h := int(float64(height) * v / peak)
			fmt.Fprintf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>%.3f</title></rect>\n",
				x0+j*barW, top+height-h, barW-2, h, barColours[j%len(barColours)], v)
		}
		colour := "#000"
		if !r.Safe {
			colour = "#c00"
		}
		fmt.Fprintf(b, "<text x=\"%d\" y=\"%d\" fill=\"%s\" transform=\"rotate(30 %d %d)\">%d / %s</text>\n",
			x0, top+height+14, colour, x0, top+height+14, r.Servers, html.EscapeString(r.Quorum))
	}
	b.WriteString("</svg>\n")
}
