package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/checker"
)

// TestSeededBugs_FoundByTheCISuite: every seeded defect is caught by a run
// of the ci suite (the scenario and seed that found it are pinned here; they
// were found with `zoosim suite --suite ci --seeds 20 --bug NAME`), and the
// very same run passes without the defect.
func TestSeededBugs_FoundByTheCISuite(t *testing.T) {
	ci, err := LookupSuite("ci")
	require.NoError(t, err)
	for _, tc := range []struct {
		bug, scenario string
		seed          uint64
		caughtBy      string
	}{
		{"ack-before-sync", "standard", 2, "agreement"},
		{"commit-one-ack-short", "standard", 1, "agreement"},
		{"serve-ahead-client", "standard", 24, "stale-reads"},
		{"keep-ephemerals", "standard", 1, "agreement"},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			require.Contains(t, ci.Scenarios, tc.scenario)
			sc, err := Lookup(tc.scenario)
			require.NoError(t, err)
			clean := run1(t, sc, tc.seed)
			require.Equal(t, checker.VerdictOK, clean.Verdict, "without the bug:\n%s", clean.Report.String())
			sc, err = sc.Apply(Overrides{Bugs: []string{tc.bug}})
			require.NoError(t, err)
			buggy := run1(t, sc, tc.seed)
			require.Equal(t, checker.VerdictViolation, buggy.Verdict, "the %s bug went unnoticed", tc.bug)
			require.Equal(t, checker.VerdictViolation, buggy.Checks[tc.caughtBy], buggy.Report.String())
			require.Contains(t, buggy.Repro, "--bug "+tc.bug)
		})
	}
}
