package scenarios

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/nemesis"
	"zoosim/node"
)

// roleAt is the role change of server id in effect at time t.
func roleAt(roles []RoleChange, id node.ID, t node.Time) (RoleChange, bool) {
	var cur RoleChange
	found := false
	for _, c := range roles {
		if c.Time > t {
			break
		}
		if c.Server == id {
			cur, found = c, true
		}
	}
	return cur, found
}

// TestRoles_CrashedLeaderIsDownAndAnotherLeads crashes the established
// leader at 3s for good: the sampled roles show it leading before, down
// after, and another server established as leader later.
func TestRoles_CrashedLeaderIsDownAndAnotherLeads(t *testing.T) {
	sc, err := Lookup("standard")
	require.NoError(t, err)
	sc.Nemesis.Kinds, sc.Duration = nil, 10*node.Second
	sched := nemesis.Schedule{{At: 3 * node.Second, Kind: nemesis.CrashLeader}}
	r, err := Run(sc, 7, Options{Schedule: &sched, RecordRoles: true})
	require.NoError(t, err)
	require.NotEmpty(t, r.Roles)
	require.NotEmpty(t, r.Applied)
	crash := r.Applied[0] // then the liveness phase's heal-all
	require.False(t, crash.Skipped, "the leader crash must strike: %s", crash)
	require.Len(t, crash.Nodes, 1)
	old := crash.Nodes[0]

	before, ok := roleAt(r.Roles, old, crash.Start-node.Millisecond)
	require.True(t, ok)
	assert.Equal(t, "leading", before.Role)
	assert.True(t, before.Established)
	after, _ := roleAt(r.Roles, old, crash.Start+RoleSampleInterval)
	assert.Equal(t, RoleDown, after.Role)

	var next *RoleChange
	for i, c := range r.Roles {
		if c.Time > crash.Start && c.Role == "leading" && c.Established {
			next = &r.Roles[i]
			break
		}
	}
	require.NotNil(t, next, "no server became an established leader after the crash")
	assert.NotEqual(t, old, next.Server)
	assert.Greater(t, next.Epoch, before.Epoch)
}

// TestRoles_OrderedChangesAndDeterministic: role changes come in time
// order, each a real change of its server, and the same seed gives the
// same changes.
func TestRoles_OrderedChangesAndDeterministic(t *testing.T) {
	sc, err := Lookup("crash-storm")
	require.NoError(t, err)
	sc.Duration = 15 * node.Second
	a, err := Run(sc, 3, Options{RecordRoles: true})
	require.NoError(t, err)
	b, err := Run(sc, 3, Options{RecordRoles: true})
	require.NoError(t, err)
	require.Equal(t, a.Roles, b.Roles)
	require.Equal(t, a.TraceHash, b.TraceHash)
	last := map[node.ID]RoleChange{}
	for i, c := range a.Roles {
		if i > 0 {
			require.GreaterOrEqual(t, c.Time, a.Roles[i-1].Time)
		}
		if p, ok := last[c.Server]; ok {
			p.Time = c.Time
			require.NotEqual(t, p, c, "change %d repeats its server's role", i)
		}
		last[c.Server] = c
		require.Contains(t, []string{RoleDown, RolePaused, "looking", "following", "leading"}, c.Role)
	}
	downs := 0
	for _, c := range a.Roles {
		if c.Role == RoleDown && c.Time > 0 {
			downs++
		}
	}
	assert.Positive(t, downs, "a crash storm crashes servers: some must be seen down")
}

// TestRoles_SamplingChangesNothing: a run with role sampling is the run
// without it, event for event: the same trace hash, events, ops, verdict
// and applied faults, on scenarios with every kind of fault.
func TestRoles_SamplingChangesNothing(t *testing.T) {
	for _, name := range []string{"standard", "crash-storm", "pauses", "resync"} {
		sc, err := Lookup(name)
		require.NoError(t, err)
		sc.Duration = 20 * node.Second
		for seed := uint64(1); seed <= 2; seed++ {
			plain := run1(t, sc, seed)
			sampled, err := Run(sc, seed, Options{RecordRoles: true})
			require.NoError(t, err)
			require.Empty(t, plain.Roles)
			require.NotEmpty(t, sampled.Roles)
			require.Equal(t, plain.TraceHash, sampled.TraceHash, "%s seed %d: sampling perturbed the world", name, seed)
			require.Equal(t, plain.Events, sampled.Events)
			require.Equal(t, plain.Ops, sampled.Ops)
			require.Equal(t, plain.Verdict, sampled.Verdict)
			require.Equal(t, plain.Applied, sampled.Applied)
		}
	}
}
