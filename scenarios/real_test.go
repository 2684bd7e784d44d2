package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/checker"
	"zoosim/node"
)

// A real run draws the simulator's fault schedule for the same scenario
// and seed, and the same client nodes.
func TestPrepareReal_TheSimulatorsScheduleAndClients(t *testing.T) {
	sc, err := Lookup("standard")
	require.NoError(t, err)
	sc, err = sc.Apply(Overrides{Servers: 3, Duration: 10 * node.Second})
	require.NoError(t, err)
	for _, seed := range []uint64{1, 7, 42} {
		r, err := PrepareReal(sc, seed, Options{})
		require.NoError(t, err)
		res, err := Run(sc, seed, Options{})
		require.NoError(t, err)
		require.Equal(t, res.Schedule, r.Schedule, "seed %d", seed)
		require.Equal(t, res.Swarm, r.Swarm)
		require.Equal(t, res.Knobs, r.Knobs)
		require.Len(t, r.Clients, sc.Clients+1, "the workload's clients and the probe")
		for _, id := range r.Clients {
			require.NotNil(t, r.Machine(id))
		}
		require.Nil(t, r.Machine(1), "servers are not the run's machines")
		require.Equal(t, []node.ID{1, 2, 3}, r.Servers)
	}
	_, err = PrepareReal(Scenario{Name: "bad"}, 1, Options{})
	require.Error(t, err)
}

// Without the servers' records, the white-box checkers are left out and
// said to be; the others judge the history.
func TestPrepareReal_FinishWithoutRecords(t *testing.T) {
	sc, err := Lookup("standard")
	require.NoError(t, err)
	sc, err = sc.Apply(Overrides{Servers: 3, Duration: 10 * node.Second})
	require.NoError(t, err)
	r, err := PrepareReal(sc, 3, Options{})
	require.NoError(t, err)
	res := r.Finish(RealEnd{End: 20 * node.Second})
	for _, c := range WhiteBoxChecks {
		require.Contains(t, res.NotApplicable, c)
		require.NotContains(t, res.Checks, c)
	}
	require.Equal(t, checker.VerdictOK, res.Checks[checker.NameLinearizable])
	require.Contains(t, res.Checks, checker.NameSessions)

	r, err = PrepareReal(sc, 3, Options{})
	require.NoError(t, err)
	res = r.Finish(RealEnd{End: 20 * node.Second, Committed: map[node.ID][]checker.Txn{}})
	require.Empty(t, res.NotApplicable, "with records (none here) every checker runs")
	require.Contains(t, res.Checks, checker.NameAgreement)
}
