//go:build tools

// Package deps pins the modules zoosim builds on before every one of them
// has a user in the tree, so that go.mod names the exact versions the
// handbook requires and `go mod tidy` keeps them.
package deps

import (
	_ "github.com/anishathalye/porcupine"
	_ "github.com/stretchr/testify/require"
	_ "pgregory.net/rapid"
)
