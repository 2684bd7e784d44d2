package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCreateMode_PredicatesMatchZooKeeper(t *testing.T) {
	cases := []struct {
		mode                     CreateMode
		seq, eph, container, ttl bool
		name                     string
	}{
		{ModePersistent, false, false, false, false, "PERSISTENT"},
		{ModeEphemeral, false, true, false, false, "EPHEMERAL"},
		{ModePersistentSequential, true, false, false, false, "PERSISTENT_SEQUENTIAL"},
		{ModeEphemeralSequential, true, true, false, false, "EPHEMERAL_SEQUENTIAL"},
		{ModeContainer, false, false, true, false, "CONTAINER"},
		{ModePersistentWithTTL, false, false, false, true, "PERSISTENT_WITH_TTL"},
		{ModePersistentSequentialWithTTL, true, false, false, true, "PERSISTENT_SEQUENTIAL_WITH_TTL"},
	}
	for i, c := range cases {
		assert.Equal(t, CreateMode(i), c.mode, "wire value")
		assert.True(t, c.mode.Valid())
		assert.Equal(t, c.seq, c.mode.IsSequential(), c.name)
		assert.Equal(t, c.eph, c.mode.IsEphemeral(), c.name)
		assert.Equal(t, c.container, c.mode.IsContainer(), c.name)
		assert.Equal(t, c.ttl, c.mode.IsTTL(), c.name)
		assert.Equal(t, c.name, c.mode.String())
	}
	assert.False(t, CreateMode(7).Valid())
	assert.False(t, CreateMode(-1).Valid())
	assert.Equal(t, "CreateMode(7)", CreateMode(7).String())
}

func TestValidateTTL_EphemeralTypeRules(t *testing.T) {
	cases := []struct {
		mode CreateMode
		ttl  int64
		ok   bool
	}{
		{ModePersistentWithTTL, 1, true},
		{ModePersistentWithTTL, MaxTTL, true},
		{ModePersistentWithTTL, MaxTTL + 1, false},
		{ModePersistentWithTTL, 0, false},
		{ModePersistentWithTTL, -1, false},
		{ModePersistentSequentialWithTTL, 1000, true},
		{ModePersistent, -1, true},
		{ModePersistent, 0, false}, // createTTL carrying a non-TTL mode
		{ModeEphemeral, 5, false},
		{ModeContainer, -1, true},
	}
	for _, c := range cases {
		err := ValidateTTL(c.mode, c.ttl)
		if c.ok {
			assert.NoError(t, err, "%v ttl=%d", c.mode, c.ttl)
		} else {
			assert.ErrorIs(t, err, ErrBadArguments, "%v ttl=%d", c.mode, c.ttl)
		}
	}
	assert.Equal(t, int64(0xffffffffff), MaxTTL)
}
