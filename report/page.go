// Package report renders zoosim's HTML reports: the timeline of one run
// (operation latencies coloured by outcome, throughput, the leader and each
// server's role, the faults, the violating operations), the report of a
// suite (its table and every failure with its repro line, its checkers'
// explanations, its timeline and porcupine's visualization), and the
// detection rates of the seeded bugs.
//
// Every report is one self-contained file: its styles and pictures (inline
// SVG) are in it, it loads no script, font or image from anywhere, and it
// reads in a narrow window (wide figures and tables scroll inside their box)
// and in print. The package renders what it is given; it never runs or
// judges anything, and it touches no file: callers hand it a writer.
package report

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// Document is one HTML page under construction: a title and a body built
// with the methods below (which escape what they are given) or with Raw.
type Document struct {
	Title string
	body  strings.Builder
}

// NewDocument starts a page titled title.
func NewDocument(title string) *Document { return &Document{Title: title} }

// Esc escapes text for HTML.
func Esc(s string) string { return html.EscapeString(s) }

// Raw appends HTML as it is.
func (d *Document) Raw(s string) { d.body.WriteString(s) }

// Heading appends a heading of level 1..4 with an anchor id ("" for none).
func (d *Document) Heading(level int, id, text string) {
	if id != "" {
		fmt.Fprintf(&d.body, "<h%d id=\"%s\">%s</h%d>\n", level, Esc(id), Esc(text), level)
		return
	}
	fmt.Fprintf(&d.body, "<h%d>%s</h%d>\n", level, Esc(text), level)
}

// Para appends a paragraph of plain text.
func (d *Document) Para(format string, args ...any) {
	fmt.Fprintf(&d.body, "<p>%s</p>\n", Esc(fmt.Sprintf(format, args...)))
}

// Note appends a paragraph of quieter plain text.
func (d *Document) Note(format string, args ...any) {
	fmt.Fprintf(&d.body, "<p class=\"note\">%s</p>\n", Esc(fmt.Sprintf(format, args...)))
}

// Command appends a command line to copy, such as a repro line.
func (d *Document) Command(label, line string) {
	fmt.Fprintf(&d.body, "<div class=\"cmd\"><span class=\"cmd-label\">%s</span><code>%s</code></div>\n", Esc(label), Esc(line))
}

// Table appends a table whose header is head and whose cells are already
// HTML (use Esc on text). The table scrolls sideways inside its box when
// the window is too narrow for it.
func (d *Document) Table(class string, head []string, rows [][]string) {
	d.body.WriteString(table(class, head, rows))
}

func table(class string, head []string, rows [][]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<div class=\"scroll\"><table class=\"%s\"><thead><tr>", Esc(class))
	for _, h := range head {
		fmt.Fprintf(&b, "<th scope=\"col\">%s</th>", h)
	}
	b.WriteString("</tr></thead><tbody>\n")
	for _, r := range rows {
		b.WriteString("<tr>")
		for i, c := range r {
			if i == 0 {
				fmt.Fprintf(&b, "<th scope=\"row\">%s</th>", c)
				continue
			}
			fmt.Fprintf(&b, "<td>%s</td>", c)
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody></table></div>\n")
	return b.String()
}

// Figure appends a picture (inline SVG) with a caption, in a box that
// scrolls sideways in a narrow window.
func (d *Document) Figure(svg, caption string) {
	fmt.Fprintf(&d.body, "<figure><div class=\"scroll\">%s</div><figcaption>%s</figcaption></figure>\n", svg, Esc(caption))
}

// WriteTo writes the whole page.
func (d *Document) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n<style>%s</style>\n</head><body>\n<main>\n<h1>%s</h1>\n", Esc(d.Title), css, Esc(d.Title))
	b.WriteString(d.body.String())
	b.WriteString("</main>\n</body></html>\n")
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// css is every report's style sheet: system fonts only (nothing to fetch),
// wide things scroll inside their box, and print shows everything open.
const css = `
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--soft:#f6f8fa;--bad:#b42318;--badbg:#fdecea;--ok:#1a7f37;--warn:#9a6700;--warnbg:#fff8c5}
*{box-sizing:border-box}
body{margin:0;color:var(--fg);background:var(--bg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",Arial,sans-serif}
main{max-width:78rem;margin:0 auto;padding:1rem 1.25rem 3rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem}
h2{font-size:1.3rem;margin:2rem 0 .6rem;padding-top:.6rem;border-top:1px solid var(--line)}
h3{font-size:1.1rem;margin:1.4rem 0 .5rem}
h4{font-size:1rem;margin:1rem 0 .4rem}
p{margin:.4rem 0 .8rem;max-width:60rem}
.note{color:var(--muted);font-size:.92em}
code,pre,.mono{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono","Liberation Mono",Menlo,Consolas,monospace;font-size:.88em}
pre{background:var(--soft);border:1px solid var(--line);padding:.6rem .8rem;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere;margin:.4rem 0 .8rem}
.scroll{overflow-x:auto;max-width:100%;margin:.4rem 0 1rem}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{border:1px solid var(--line);padding:.25rem .55rem;vertical-align:top}
thead th{background:var(--soft);text-align:left;position:sticky;top:0}
tbody th{text-align:left;font-weight:600;white-space:nowrap}
td.num,th.num{text-align:right;white-space:nowrap}
td.wrap{min-width:16rem;overflow-wrap:anywhere}
table.quorum td,table.suite td:nth-child(n+3),table.bugs td:nth-child(3),table.bugs td:nth-child(4){text-align:right}
table.bugs td:nth-child(7){min-width:18rem}table.bugs td:nth-child(8){min-width:16rem;font-size:.88em}
tr.bad>*{background:var(--badbg)}
tr.warn>*{background:var(--warnbg)}
.verdict{display:inline-block;padding:0 .45rem;border-radius:.6rem;font-size:.85em;font-weight:600;white-space:nowrap}
.v-ok{background:#dafbe1;color:var(--ok)}
.v-violation{background:var(--badbg);color:var(--bad)}
.v-inconclusive{background:var(--warnbg);color:var(--warn)}
.v-error{background:#eee;color:#333;outline:1px dashed #888}
.cmd{display:flex;flex-wrap:wrap;gap:.4rem;align-items:baseline;background:var(--soft);border:1px solid var(--line);padding:.35rem .6rem;margin:.4rem 0 .8rem}
.cmd-label{color:var(--muted);font-size:.85em;white-space:nowrap}
.cmd code{overflow-wrap:anywhere;user-select:all}
.cards{display:flex;flex-wrap:wrap;gap:.6rem;margin:.6rem 0 1rem}
.card{border:1px solid var(--line);border-radius:.4rem;padding:.4rem .8rem;min-width:7.5rem}
.card b{display:block;font-size:1.35rem}
.card.bad{border-color:var(--bad);background:var(--badbg)}
.card.warn{border-color:var(--warn);background:var(--warnbg)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.4rem 0 1rem}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;overflow-wrap:anywhere}
figure{margin:.6rem 0 1.2rem}
figcaption{color:var(--muted);font-size:.9em;max-width:60rem}
svg.timeline{display:block;width:100%;min-width:46rem;height:auto}
svg.plot{display:block;width:100%;max-width:52rem;min-width:26rem;height:auto}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,34rem),1fr));gap:0 1.5rem}
.bar{display:inline-block;height:.7em;background:var(--bad);vertical-align:middle;margin-right:.35rem}
.bar.good{background:#0969da}.nowrap{white-space:nowrap}
details{margin:.4rem 0 .8rem}
summary{cursor:pointer;color:#0550ae}
iframe.viz{width:100%;height:36rem;border:1px solid var(--line)}
section.run{border-left:4px solid var(--line);padding-left:1rem;margin:1rem 0 2rem}
section.run.failed{border-left-color:var(--bad)}
nav ol{columns:2 22rem;margin:.4rem 0 1rem}
@media (max-width:40rem){main{padding:.6rem .7rem 2rem}body{font-size:14px}h1{font-size:1.3rem}dl.facts{grid-template-columns:1fr}dl.facts dt{margin-top:.3rem}}
@media print{
 body{font-size:10.5pt}main{max-width:none;padding:0}
 .scroll{overflow:visible}svg.timeline,svg.plot{min-width:0;max-width:100%}
 thead th{position:static}
 table{font-size:8.5pt}th,td{padding:.1rem .3rem}
 figure,tr,.cmd{break-inside:avoid}
 section.run{break-before:page}
 iframe.viz{display:none}
 .print-only{display:block !important}
 summary{color:var(--fg)}
}
.print-only{display:none}
`

// VerdictBadge is a verdict as a coloured label.
func VerdictBadge(v string) string {
	return fmt.Sprintf("<span class=\"verdict v-%s\">%s</span>", Esc(v), Esc(v))
}

// Facts renders name/value pairs (values already HTML).
func Facts(pairs ...[2]string) string {
	var b strings.Builder
	b.WriteString("<dl class=\"facts\">")
	for _, p := range pairs {
		fmt.Fprintf(&b, "<dt>%s</dt><dd>%s</dd>", Esc(p[0]), p[1])
	}
	b.WriteString("</dl>\n")
	return b.String()
}

// Cards renders a row of big numbers with labels; class is "", "bad" or
// "warn" for each.
func Cards(cards ...[3]string) string {
	var b strings.Builder
	b.WriteString("<div class=\"cards\">")
	for _, c := range cards {
		fmt.Fprintf(&b, "<div class=\"card %s\"><b>%s</b>%s</div>", Esc(c[2]), Esc(c[0]), Esc(c[1]))
	}
	b.WriteString("</div>\n")
	return b.String()
}

// wallText says a wall time in milliseconds for people: "850 ms", "12.3 s".
func wallText(ms int64) string {
	if ms < 1000 {
		return fmt.Sprintf("%d ms", ms)
	}
	return fmt.Sprintf("%.1f s", float64(ms)/1000)
}
