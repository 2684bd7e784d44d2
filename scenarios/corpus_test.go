package scenarios

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/checker"
)

// corpusPath is the repository's regression corpus.
const corpusPath = "../corpus/regressions.json"

// TestCorpus_EveryEntryHasItsExpectedVerdict replays the regression
// corpus: every run that once exposed a real problem must have the verdict
// its entry expects (ok, once the problem is fixed).
func TestCorpus_EveryEntryHasItsExpectedVerdict(t *testing.T) {
	c, err := LoadCorpus(corpusPath)
	require.NoError(t, err)
	res, err := RunCorpus(c, SuiteOptions{Parallel: runtime.NumCPU()})
	require.NoError(t, err)
	require.Len(t, res.Runs, len(c.Entries))
	for i, r := range res.Runs {
		e := c.Entries[i]
		assert.Equal(t, e.Expect, r.Verdict, "entry %d (%s; fixed by %s) has verdict %s %s\n  repro: %s",
			i+1, e.Found, e.FixedBy, r.Verdict, r.Err, r.Repro)
		assert.True(t, strings.HasPrefix(r.Repro, e.Repro()), "%s\n%s", r.Repro, e.Repro())
	}
	assert.Zero(t, res.Unexpected)
}

func TestReadCorpus_RefusesMalformedCorpora(t *testing.T) {
	entry := func(fields string) string {
		return `{"format":"zoosim-corpus","version":1,"entries":[` + fields + `]}`
	}
	good := `{"scenario":"standard","seed":3,"overrides":{"duration":"20s","faults":["crash"]},"found":"x","fixed_by":"abcdef0","expect":"ok"}`
	c, err := ReadCorpus(strings.NewReader(entry(good)))
	require.NoError(t, err)
	require.Len(t, c.Entries, 1)
	sc, err := c.Entries[0].Resolve()
	require.NoError(t, err)
	assert.Equal(t, []string{"crash"}, sc.Nemesis.Kinds)
	assert.Equal(t, "zoosim run --scenario standard --seed 3 --duration 20s --faults crash", c.Entries[0].Repro())

	bad := func(from, to string) string { return entry(strings.Replace(good, from, to, 1)) }
	for _, tt := range []struct{ name, input, want string }{
		{"not JSON", "{", "not a corpus"},
		{"another format", `{"format":"zoosim-suite","version":1,"entries":[]}`, `format "zoosim-suite"`},
		{"a newer version", `{"format":"zoosim-corpus","version":2,"entries":[]}`, "version 2"},
		{"no entries", entry(""), "no entries"},
		{"an unknown key", bad(`"seed":3`, `"seed":3,"sede":4`), "unknown field"},
		{"an unknown override", bad(`"duration"`, `"durration"`), "unknown field"},
		{"trailing data", entry(good) + "{}", "trailing data"},
		{"an unknown scenario", bad(`"standard"`, `"nope"`), `unknown scenario "nope"`},
		{"seed 0", bad(`"seed":3`, `"seed":0`), "seed 0"},
		{"a negative seed", bad(`"seed":3`, `"seed":-3`), "cannot unmarshal"},
		{"negative servers", bad(`"duration":"20s"`, `"servers":-5`), "servers -5"},
		{"too many servers", bad(`"duration":"20s"`, `"servers":99`), "servers 99"},
		{"a short duration", bad(`"20s"`, `"1ns"`), "duration 1ns outside"},
		{"a malformed duration", bad(`"20s"`, `"soon"`), `duration "soon"`},
		{"an unknown fault", bad(`["crash"]`, `["meteor"]`), "meteor"},
		{"an unknown bug", bad(`"duration":"20s"`, `"bugs":["gremlins"]`), "gremlins"},
		{"nothing found", bad(`"found":"x"`, `"found":" "`), `"found"`},
		{"not a commit", bad(`"abcdef0"`, `"yesterday"`), "not a commit"},
		{"a short commit", bad(`"abcdef0"`, `"abc"`), "not a commit"},
		{"an unknown verdict", bad(`"expect":"ok"`, `"expect":"fine"`), `expect "fine"`},
		{"an error expected", bad(`"expect":"ok"`, `"expect":"error"`), `expect "error"`},
		{"an entry twice", entry(good + "," + strings.Replace(good, `"found":"x"`, `"found":"y"`, 1)), "entry 2 is entry 1 again"},
		{"too large", entry(good) + strings.Repeat(" ", MaxCorpusBytes), "larger than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadCorpus(strings.NewReader(tt.input))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestRunCorpus_CountsVerdictsThatAreNotTheExpectedOnes(t *testing.T) {
	// quorum-2-of-5 loses writes on seeds the unsafe-quorum test finds;
	// expecting ok of a violating run is unexpected, and the reverse too.
	sc, err := Lookup("quorum-2-of-5")
	require.NoError(t, err)
	var violating, passing uint64
	for seed := uint64(1); seed <= 20 && (violating == 0 || passing == 0); seed++ {
		r := run1(t, sc, seed)
		switch r.Verdict {
		case checker.VerdictViolation:
			violating = seed
		case checker.VerdictOK:
			passing = seed
		}
	}
	require.NotZero(t, violating, "no seed of quorum-2-of-5 in 1..20 fails")
	require.NotZero(t, passing, "no seed of quorum-2-of-5 in 1..20 passes")
	e := func(seed uint64, expect checker.Verdict) CorpusEntry {
		return CorpusEntry{Scenario: "quorum-2-of-5", Seed: seed, Found: fmt.Sprint("seed ", seed), FixedBy: "abcdef0", Expect: expect}
	}
	res, err := RunCorpus(Corpus{Entries: []CorpusEntry{
		e(violating, checker.VerdictViolation), e(passing, checker.VerdictOK), // as expected
		e(violating, checker.VerdictOK), e(passing, checker.VerdictViolation), // not
	}}, SuiteOptions{Parallel: 2})
	require.NoError(t, err)
	assert.Equal(t, 2, res.Unexpected)
	assert.Equal(t, []bool{false, false, true, true}, []bool{res.Runs[0].Unexpected(), res.Runs[1].Unexpected(),
		res.Runs[2].Unexpected(), res.Runs[3].Unexpected()})

	_, err = RunCorpus(Corpus{Entries: []CorpusEntry{e(1, checker.VerdictOK)}}, SuiteOptions{Seeds: 3})
	require.ErrorContains(t, err, "exact runs")
}
