package engines

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/node"
	"zoosim/quorum"
	"zoosim/quorum/raft"
	"zoosim/quorum/zab"
)

type emptyState struct{}

func (emptyState) Snapshot() quorum.Snapshot { return quorum.Snapshot{} }

func env() node.Env { return node.Env{ID: 1, Rand: rand.New(rand.NewPCG(1, 2))} }

func TestRegistry_NamesLookupAndChecks(t *testing.T) {
	assert.Equal(t, []string{"zab", "raft"}, Names())
	_, err := Lookup("paxos")
	require.ErrorContains(t, err, `unknown engine "paxos" (known: zab, raft)`)

	two, err := quorum.Parse("2", 5)
	require.NoError(t, err)
	z, err := Lookup("zab")
	require.NoError(t, err)
	assert.NoError(t, z.Check(two), "zab runs any verifier")
	r, err := Lookup("raft")
	require.NoError(t, err)
	assert.ErrorContains(t, r.Check(two), "majorities only")
	assert.NoError(t, r.Check(quorum.NewMajority(5)))
	for _, s := range Registry {
		assert.NotEmpty(t, s.BuggifyPoints, s.Name)
		assert.NotEmpty(t, s.CrashMessages, s.Name)
	}
}

func TestRegistry_BuildsEachEngineWithItsSettingsAndBugs(t *testing.T) {
	v := quorum.NewMajority(1)
	z, _ := Lookup("zab")
	e, err := z.New(Params{Verifier: v, StateMachine: emptyState{}, Bugs: zab.Bugs{AckBeforeSync: true},
		Settings: Settings{TickTime: 50 * node.Millisecond, SyncLimit: 3}}, env())
	require.NoError(t, err)
	assert.IsType(t, &zab.Zab{}, e)

	r, _ := Lookup("raft")
	e, err = r.New(Params{Verifier: v, StateMachine: emptyState{}, Bugs: raft.Bugs{ReadWithoutQuorum: true}}, env())
	require.NoError(t, err)
	assert.IsType(t, &raft.Engine{}, e)

	_, err = r.New(Params{Verifier: v, StateMachine: emptyState{}, Bugs: zab.Bugs{}}, env())
	require.ErrorContains(t, err, "raft given bugs of type zab.Bugs")
	_, err = z.New(Params{Verifier: v, StateMachine: emptyState{}, Bugs: raft.Bugs{}}, env())
	require.ErrorContains(t, err, "zab given bugs of type raft.Bugs")
}
