package main

import (
	"bufio"
	"fmt"
	"os"

	"zoosim/scenarios"
)

// maxVizBytes bounds what a report embeds of porcupine's visualization of
// one run (the failing part of a history is far smaller).
const maxVizBytes = 32 << 20

// runWithViz runs sc for seed, with the servers' roles recorded, and
// returns the result with porcupine's visualization of a failing
// linearizability check, if there is one. When
// opt has no --viz directory the visualization is written to a temporary
// one and read back; it changes nothing in the run (the checker writes it
// after judging).
func runWithViz(sc scenarios.Scenario, seed uint64, opt scenarios.Options) (*scenarios.Result, []byte, error) {
	opt.RecordRoles = true // for the timeline's role lanes
	if opt.VisualizeDir == "" {
		dir, err := os.MkdirTemp("", "zoosim-viz-")
		if err != nil {
			return nil, nil, err
		}
		defer os.RemoveAll(dir)
		opt.VisualizeDir = dir
	}
	res, err := scenarios.Run(sc, seed, opt)
	if err != nil {
		return nil, nil, err
	}
	return res, readViz(scenarios.VisualizationPath(opt.VisualizeDir, sc.Name, seed)), nil
}

// readViz reads a visualization file; nil if there is none (the check
// passed) or it is too large to embed.
func readViz(path string) []byte {
	st, err := os.Stat(path)
	if err != nil || st.Size() > maxVizBytes {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return b
}

// htmlOut is an HTML report file, created before the work starts so that a
// bad path fails fast, and written once the work is done.
type htmlOut struct {
	path string
	f    *os.File
}

func createHTML(path string) (*htmlOut, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &htmlOut{path: path, f: f}, nil
}

// write renders the report into the file and closes it.
func (h *htmlOut) write(render func(w *bufio.Writer) error) error {
	w := bufio.NewWriterSize(h.f, 1<<20)
	err := render(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := h.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", h.path, err)
	}
	return nil
}
