package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// svgDoc builds one inline SVG picture in user units; the viewBox makes it
// scale to its box.
type svgDoc struct {
	b    strings.Builder
	w, h float64
}

func (s *svgDoc) printf(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

// text draws escaped text; anchor is start, middle or end.
func (s *svgDoc) text(x, y float64, anchor, class, text string) {
	s.printf(`<text x="%s" y="%s" text-anchor="%s" class="%s">%s</text>`+"\n", f1(x), f1(y), anchor, class, Esc(text))
}

func (s *svgDoc) rect(x, y, w, h float64, fill, extra string) {
	s.printf(`<rect x="%s" y="%s" width="%s" height="%s" fill="%s"%s/>`+"\n", f1(x), f1(y), f1(max(w, 0)), f1(max(h, 0)), fill, extra)
}

func (s *svgDoc) line(x1, y1, x2, y2 float64, stroke, extra string) {
	s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"%s/>`+"\n", f1(x1), f1(y1), f1(x2), f1(y2), stroke, extra)
}

// String closes the picture; label is its accessible name.
func (s *svgDoc) String(class, label string) string {
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" class="%s" viewBox="0 0 %s %s" role="img" aria-label="%s">`+
		"\n<style>%s</style>\n%s</svg>", class, f1(s.w), f1(s.h), Esc(label), svgCSS, s.b.String())
}

// svgCSS styles the text of the pictures (system fonts: nothing to fetch).
const svgCSS = `text{font:12px system-ui,"Liberation Sans",Arial,sans-serif;fill:#1b1f24}
text.small{font-size:10.5px}text.muted{fill:#57606a}text.lane{font-size:11.5px}text.bad{fill:#b42318;font-weight:600}
text.in{font-size:10px;fill:#fff}text.title{font-weight:600}`

// f1 prints a coordinate with one decimal, without a trailing ".0".
func f1(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// linear maps [lo, hi] onto [a, b].
type linear struct{ lo, hi, a, b float64 }

func (l linear) at(v float64) float64 {
	if l.hi == l.lo {
		return l.a
	}
	return l.a + (v-l.lo)/(l.hi-l.lo)*(l.b-l.a)
}

// niceStep is a round step (1, 2 or 5 times a power of ten) that cuts span
// into about n intervals.
func niceStep(span float64, n int) float64 {
	if span <= 0 || n <= 0 {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// ticks are the multiples of a nice step in [lo, hi].
func ticks(lo, hi float64, n int) []float64 {
	step := niceStep(hi-lo, n)
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, math.Round(v/step)*step)
	}
	return out
}

// secondsText labels a tick of virtual time given in seconds.
func secondsText(s float64) string {
	return strconv.FormatFloat(s, 'f', -1, 64) + " s"
}

// msText labels a latency given in milliseconds: "0.1 ms", "20 ms", "1 s".
func msText(ms float64) string {
	if ms >= 1000 {
		return strconv.FormatFloat(ms/1000, 'f', -1, 64) + " s"
	}
	return strconv.FormatFloat(ms, 'f', -1, 64) + " ms"
}
