package real

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// largestLog returns the path of a server's largest log segment.
func largestLog(t *testing.T, s *LocalServer) string {
	t.Helper()
	dir := filepath.Join(s.Dir, "data", StorageSubdir)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	best, size := "", int64(-1)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "log.") {
			continue
		}
		fi, err := e.Info()
		require.NoError(t, err)
		if fi.Size() > size {
			best, size = filepath.Join(dir, e.Name()), fi.Size()
		}
	}
	require.NotEmpty(t, best, "no log segment in %s", dir)
	return best
}

// TestCorruption_TornAndCorruptLogsOnARealServer stops a follower, damages
// its log on disk (a torn last record, then a corrupt record in the
// middle), restarts it, and checks what the storage reports, that the
// server rejoins and that it ends with the same tree as the others, every
// acknowledged write included.
func TestCorruption_TornAndCorruptLogsOnARealServer(t *testing.T) {
	skipProcesses(t)
	e := startEnsemble(t, 3, LocalOptions{TickTimeMs: 100})
	waitServing(t, e)
	c := connect(t, e.ClientAddrs(), 4*time.Second)
	var acked []string
	// write creates n fresh nodes, retrying one through a failover (a
	// retry that finds the node finds the first attempt applied).
	write := func(t *testing.T, n int) {
		for i := 0; i < n; i++ {
			p := fmt.Sprintf("/n-%04d", len(acked))
			eventually(t, 60*time.Second, "create "+p, func() error {
				_, err := c.Create(p, []byte(p), 0, openACL)
				if errors.Is(err, zk.ErrNodeExists) {
					return nil
				}
				return err
			})
			acked = append(acked, p)
		}
	}
	write(t, 200)

	cases := []struct {
		name   string
		damage func(t *testing.T, path string)
		log    string
	}{
		{"a torn last record", func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			p := parseRecords(b)
			require.Greater(t, len(p.ends), 2)
			last := startOf(p.ends, len(p.ends)-1)
			require.NoError(t, os.Truncate(path, last+(p.ends[len(p.ends)-1]-last)/2))
		}, "dropped a torn last record"},
		{"a corrupt record in the middle", func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			p := parseRecords(b)
			require.Greater(t, len(p.ends), 10)
			mid := len(p.ends) / 2
			b[startOf(p.ends, mid)+recordHeaderLen+4] ^= 0x5a
			require.NoError(t, os.WriteFile(path, b, 0o644))
		}, "fails its checksum"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			victim := e.Servers[len(e.Servers)-1]
			victim.Kill()
			write(t, 50) // the others go on without it
			tc.damage(t, largestLog(t, victim))
			require.NoError(t, victim.Start(e.opt.Binary))
			eventually(t, 60*time.Second, "the restarted server serves", func() error {
				sess, err := dialTCP(victim.ClientAddr())
				if err != nil {
					return err
				}
				sess.Close()
				return nil
			})
			write(t, 50)
			eventually(t, 60*time.Second, "the servers converge", func() error {
				trees := dumpAll(t, e)
				for i := 1; i < len(trees); i++ {
					if d := treeDiff(trees[0], trees[i]); d != "" {
						return fmt.Errorf("server 1 and server %d differ: %s", i+1, d)
					}
				}
				for _, p := range acked {
					if _, ok := trees[len(trees)-1][p]; !ok {
						return fmt.Errorf("the damaged server lacks %s", p)
					}
				}
				return nil
			})
			b, err := os.ReadFile(victim.Log)
			require.NoError(t, err)
			assert.Contains(t, string(b), tc.log)
			require.True(t, victim.Running(), "the damaged server is still up: %v", victim.ExitErr())
		})
	}
}
