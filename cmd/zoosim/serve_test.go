package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

// A bad zoo.cfg is bad input: exit status 2 and a message naming the line.
func TestServe_ABadConfigNamesTheLineAndExitsTwo(t *testing.T) {
	cases := []struct{ text, want string }{
		{"tickTime=2000\ndataDir=/tmp/x\nclientPort=2181\nsnapCoutn=5\n", "zoo.cfg:4: snapCoutn=5: unknown key"},
		{"tickTime=2000\ndataDir=/tmp/x\nclientPort=two\n", "zoo.cfg:3: clientPort=two: not an integer"},
		{"tickTime=2000\nclientPort=2181\n", "dataDir is not set"},
	}
	for _, tc := range cases {
		_, stderr, code := zoosim(t, "serve", "--config", writeFile(t, "zoo.cfg", tc.text))
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, stderr, tc.want)
	}
	_, stderr, code := zoosim(t, "serve", "--config", filepath.Join(t.TempDir(), "missing.cfg"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "missing.cfg")
}

func TestServe_Usage(t *testing.T) {
	_, stderr, code := zoosim(t, "serve")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "--config is required")
	_, stderr, code = zoosim(t, "serve", "--config", "x", "--log-level", "loud")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "--log-level")
	stdout, _, code := zoosim(t, "serve", "--help")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, stdout, "peerPort")
}

func TestEnsemble_Usage(t *testing.T) {
	_, stderr, code := zoosim(t, "ensemble", "--servers", "3")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "--dir is required")
	_, stderr, code = zoosim(t, "ensemble", "--servers", "0", "--dir", t.TempDir())
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "1..63")
	_, stderr, code = zoosim(t, "ensemble", "--dir", t.TempDir(), "--set", "tickTimee=5")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "unknown key")
}
