package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"zoosim/checker"
)

// A regression corpus keeps every run that once exposed a real problem, so
// that the problem stays fixed: `make test` replays it (corpus_test.go) and
// `zoosim suite --corpus FILE` runs it with a table. The file is one JSON
// object:
//
//	{"format": "zoosim-corpus", "version": 1, "entries": [
//	  {"scenario": "disk-faults", "seed": 3, "overrides": {"duration": "20s"},
//	   "found": "what the run exposed", "fixed_by": "b13398d", "expect": "ok"}]}
//
// overrides takes the keys servers, quorum, engine, clients, duration,
// faults ([] for none), read_mode, bugs and knobs, as the command line's
// flags do ({} for none). fixed_by is the commit that fixed the problem (7 to 40
// hex digits); expect is the verdict the run must have now: "ok" for a
// fixed bug, "violation" for a defect the checkers must keep catching.

const (
	corpusFormat  = "zoosim-corpus"
	corpusVersion = 1
	// Bounds on a corpus file, so that a wrong file cannot exhaust memory.
	MaxCorpusBytes   = 1 << 20
	MaxCorpusEntries = 10_000
	maxFoundBytes    = 2000
)

// Corpus is a regression corpus.
type Corpus struct {
	Entries []CorpusEntry
}

// CorpusEntry is one run that once exposed a problem.
type CorpusEntry struct {
	Scenario  string          `json:"scenario"`
	Seed      uint64          `json:"seed"`
	Overrides Overrides       `json:"overrides"`
	Found     string          `json:"found"`    // what the run exposed, in words
	FixedBy   string          `json:"fixed_by"` // the commit that fixed it
	Expect    checker.Verdict `json:"expect"`   // the verdict the run must have now
}

type corpusFile struct {
	Format  string        `json:"format"`
	Version int           `json:"version"`
	Entries []CorpusEntry `json:"entries"`
}

// Resolve returns the entry's scenario with its overrides applied.
func (e CorpusEntry) Resolve() (Scenario, error) {
	sc, err := Lookup(e.Scenario)
	if err != nil {
		return Scenario{}, err
	}
	return sc.Apply(e.Overrides)
}

// Repro is the command that replays the entry (with the knobs it pins;
// the rest are drawn from the seed, as the run's own repro line shows).
func (e CorpusEntry) Repro() string {
	sc, err := e.Resolve()
	if err != nil {
		return fmt.Sprintf("zoosim run --scenario %s --seed %d", e.Scenario, e.Seed)
	}
	return reproLine(sc, e.Seed, sc.Knobs)
}

// LoadCorpus reads the corpus file at path.
func LoadCorpus(path string) (Corpus, error) {
	f, err := os.Open(path)
	if err != nil {
		return Corpus{}, err
	}
	defer f.Close()
	c, err := ReadCorpus(f)
	if err != nil {
		return Corpus{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ReadCorpus reads a corpus strictly: at most MaxCorpusBytes, one object
// with no unknown keys and nothing after it, the right format and version,
// and every entry valid (see CorpusEntry.Validate) and named once.
func ReadCorpus(r io.Reader) (Corpus, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxCorpusBytes+1))
	if err != nil {
		return Corpus{}, err
	}
	if len(b) > MaxCorpusBytes {
		return Corpus{}, fmt.Errorf("not a corpus: larger than %d bytes", MaxCorpusBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f corpusFile
	if err := dec.Decode(&f); err != nil {
		return Corpus{}, fmt.Errorf("not a corpus: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Corpus{}, errors.New("not a corpus: trailing data after the corpus object")
	}
	switch {
	case f.Format != corpusFormat:
		return Corpus{}, fmt.Errorf("not a corpus: format %q, want %q", f.Format, corpusFormat)
	case f.Version != corpusVersion:
		return Corpus{}, fmt.Errorf("corpus version %d, this build reads version %d", f.Version, corpusVersion)
	case len(f.Entries) == 0:
		return Corpus{}, errors.New("the corpus has no entries")
	case len(f.Entries) > MaxCorpusEntries:
		return Corpus{}, fmt.Errorf("%d corpus entries, more than %d", len(f.Entries), MaxCorpusEntries)
	}
	seen := map[string]int{}
	for i, e := range f.Entries {
		if err := e.Validate(); err != nil {
			return Corpus{}, fmt.Errorf("entry %d: %w", i+1, err)
		}
		repro := e.Repro()
		if prev, ok := seen[repro]; ok {
			return Corpus{}, fmt.Errorf("entry %d is entry %d again (%s)", i+1, prev, repro)
		}
		seen[repro] = i + 1
	}
	return Corpus{Entries: f.Entries}, nil
}

// Validate checks an entry: a known scenario that its overrides keep
// valid, a seed of at least 1, words for what it found, a commit, an
// expected verdict of ok or violation.
func (e CorpusEntry) Validate() error {
	if e.Seed == 0 {
		return errors.New("seed 0: seeds start at 1")
	}
	if _, err := e.Resolve(); err != nil {
		return err
	}
	if strings.TrimSpace(e.Found) == "" || len(e.Found) > maxFoundBytes {
		return fmt.Errorf("%s seed %d: \"found\" must say in 1..%d bytes what the run exposed", e.Scenario, e.Seed, maxFoundBytes)
	}
	if !isCommit(e.FixedBy) {
		return fmt.Errorf("%s seed %d: fixed_by %q is not a commit (7 to 40 lowercase hex digits)", e.Scenario, e.Seed, e.FixedBy)
	}
	if e.Expect != checker.VerdictOK && e.Expect != checker.VerdictViolation {
		return fmt.Errorf("%s seed %d: expect %q: want %q or %q", e.Scenario, e.Seed, e.Expect, checker.VerdictOK, checker.VerdictViolation)
	}
	return nil
}

func isCommit(s string) bool {
	if len(s) < 7 || len(s) > 40 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
