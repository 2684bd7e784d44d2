package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestZxid_EpochAndCounterRoundTrip(t *testing.T) {
	cases := []struct {
		epoch, counter uint32
		value          int64
		text           string
	}{
		{0, 0, 0, "0x0"},
		{1, 1, 1<<32 | 1, "0x100000001"},
		{5, 0xffffffff, 5<<32 | 0xffffffff, "0x5ffffffff"},
		{0x7fffffff, 3, 0x7fffffff<<32 | 3, "0x7fffffff00000003"},
		{0xffffffff, 0xffffffff, -1, "0xffffffffffffffff"},
	}
	for _, c := range cases {
		z := MakeZxid(c.epoch, c.counter)
		assert.Equal(t, c.value, int64(z))
		assert.Equal(t, c.epoch, z.Epoch())
		assert.Equal(t, c.counter, z.Counter())
		assert.Equal(t, c.text, z.String())
	}
}

func TestZxid_OrdersByEpochThenCounter(t *testing.T) {
	assert.Less(t, MakeZxid(1, 0xffffffff), MakeZxid(2, 0))
	assert.Less(t, MakeZxid(2, 1), MakeZxid(2, 2))
}
