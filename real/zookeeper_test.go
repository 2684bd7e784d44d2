package real

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Apache ZooKeeper 3.8 side by side: the tests that compare zoosim with the
// real thing start Debian's zookeeper package (java + zookeeper.jar, whose
// manifest names its dependencies) on loopback ports under t.TempDir(),
// and kill it in t.Cleanup. They skip, saying so, when ZooKeeper is not
// installed (`make zookeeper` installs it) and with -short.

// skipWithoutZooKeeper skips a test that needs Apache ZooKeeper when it is
// missing (and with -short: a JVM per server is slow to start).
func skipWithoutZooKeeper(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Apache ZooKeeper; skipped with -short")
	}
	if _, err := ZooKeeperClassPath(); err != nil {
		t.Skip(err.Error())
	}
}

// startZooKeeper starts an n-server Apache ZooKeeper ensemble (standalone
// for n = 1) with zoosim's test settings (tickTime 200 ms, initLimit 10,
// syncLimit 5) plus extra zoo.cfg lines, and waits until every server
// answers srvr with a mode.
func startZooKeeper(t testing.TB, n int, extra ...string) *ZooKeeperEnsemble {
	t.Helper()
	skipWithoutZooKeeper(t)
	e, err := WriteZooKeeperEnsemble(t.TempDir(), n, ZooKeeperOptions{Extra: extra})
	require.NoError(t, err)
	t.Cleanup(func() {
		e.Kill()
		if t.Failed() {
			for _, s := range e.Servers {
				b, _ := os.ReadFile(s.Log)
				t.Logf("zookeeper %d output:\n%s", s.ID, tail(string(b), 30))
			}
		}
	})
	require.NoError(t, e.Start())
	require.NoError(t, e.WaitServing(60*time.Second))
	return e
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// fourLetterWord sends a four-letter word and returns the answer.
func fourLetterWord(addr, word string) (string, error) { return FourLetterWord(addr, word) }
