package main

import (
	"fmt"
	"io"

	"github.com/schollz/progressbar/v3"
)

// termBar is a live progress bar for a terminal: a bar, done/total, the
// rate in runs per second, the elapsed time and an estimate of the time
// left, redrawn in place after each run. Commands use one only when
// stderr is a terminal; elsewhere (CI logs, files) they keep their plain
// progress lines.
type termBar struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func newTermBar(w io.Writer, total int, desc string) *termBar {
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("runs"),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionSetTheme(progressbar.Theme{Saucer: "=", SaucerHead: ">", SaucerPadding: " ", BarStart: "[", BarEnd: "]"}))
	return &termBar{w: w, bar: bar}
}

// set moves the bar to done and changes its description.
func (b *termBar) set(done int, desc string) {
	b.bar.Describe(desc)
	b.bar.Set(done)
}

// println prints a line above the bar (a violation found, say) and draws
// the bar again under it.
func (b *termBar) println(format string, args ...any) {
	b.bar.Clear()
	fmt.Fprintf(b.w, format+"\n", args...)
	b.bar.RenderBlank()
}

// finish draws the bar full and ends its line.
func (b *termBar) finish() {
	b.bar.Finish()
	fmt.Fprintln(b.w)
}
