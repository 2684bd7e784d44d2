package sim

import (
	crand "crypto/rand"
	"sync"
)

// A world makes crypto/rand constant, once and for the whole process. A core
// may draw from crypto/rand behind the harness's back: etcd raft draws its
// election timeout with rand.Int(rand.Reader, ...) through one locked,
// process-wide source. A seeded stream put behind rand.Reader would be
// reproducible only while one world runs in the process (worlds on parallel
// goroutines would interleave their draws); a reader that always returns
// zeros keeps no state, so every draw gives the same value in every world,
// whatever runs beside it. Cores that want randomness take it from their
// node's stream (raft's engine jitters its elections from it). Only the
// simulator does this: a real server process never builds a World, and the
// real driver takes crypto/rand.Reader when its package is initialized,
// before any World can replace it, so even a test binary that runs both
// keeps the operating system's randomness in its real servers.

var constantCryptoOnce sync.Once

func makeCryptoRandConstant() {
	constantCryptoOnce.Do(func() { crand.Reader = zeroReader{} })
}

// zeroReader fills every buffer with zeros.
type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}
