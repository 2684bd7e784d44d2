package real

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crashKills is how many times the crash test SIGKILLs a server: the
// ZOOSIM_CRASH_KILLS environment variable, 5 by default (about ten seconds,
// for go test ./...); make crash-test runs 50 (about a minute and a half),
// and CI runs make crash-test.
func crashKills(t *testing.T) int {
	v := os.Getenv("ZOOSIM_CRASH_KILLS")
	if v == "" {
		return 5
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "ZOOSIM_CRASH_KILLS=%q", v)
	require.Positive(t, n)
	return n
}

// writer is one client session writing under load: creates of fresh
// persistent nodes and increments of its own register, recording what
// was acknowledged.
type writer struct {
	id        int
	acked     []string // created paths whose create was acknowledged
	lastAcked int      // the register's last acknowledged value
	lastTried int      // the register's last value sent
	errors    int
}

func (w *writer) run(c *zk.Conn, stop *atomic.Bool) {
	reg := fmt.Sprintf("/crash/reg-%d", w.id)
	for i := 1; !stop.Load(); i++ {
		p := fmt.Sprintf("/crash/w%d-%06d", w.id, i)
		if _, err := c.Create(p, []byte(strconv.Itoa(i)), 0, openACL); err == nil {
			w.acked = append(w.acked, p)
		} else {
			w.errors++
		}
		w.lastTried = i
		if _, err := c.Set(reg, []byte(strconv.Itoa(i)), -1); err == nil {
			w.lastAcked = i
		} else {
			w.errors++
			if errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrNoServer) {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
}

// TestCrash_KilledServersLoseNoAcknowledgedWrite kills a server of a
// three-server ensemble with SIGKILL at random moments while clients
// write, restarts it each time, and then checks that every acknowledged
// write is on every server and that all three servers hold the same tree.
func TestCrash_KilledServersLoseNoAcknowledgedWrite(t *testing.T) {
	crashTest(t, nil, false)
}

// TestCrash_PowerLossLosesNoAcknowledgedWrite is the same with the
// fault-injecting file layer on: each kill is a power loss of that server
// (what no fsync covered is cut off its files at the restart), so a
// leader's proposals that left before its own fsync completed (the early
// send) are lost from its disk, and only the quorum that synced them can
// keep what was acknowledged. Every other kill is a power loss of the
// whole ensemble at once: then only what was fsynced exists anywhere.
// Every sync first waits up to 10 ms (a slow disk), so that a write is
// unsynced for long enough that a reply sent before its sync would be
// caught: with every message sent early (no output barrier at all) one of
// two 10-kill runs lost an acknowledged create.
func TestCrash_PowerLossLosesNoAcknowledgedWrite(t *testing.T) {
	crashTest(t, []string{DiskFaultsEnv + "=1"}, true)
}

func crashTest(t *testing.T, env []string, allAtOnce bool) {
	skipProcesses(t)
	kills := crashKills(t)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("ZOOSIM_CRASH_SEED"); v != "" {
		var err error
		seed, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err)
	}
	// The seed picks the victims and the moments; the processes' timing is
	// real, so a seed does not replay a run, it only varies it.
	t.Logf("ZOOSIM_CRASH_SEED=%d ZOOSIM_CRASH_KILLS=%d", seed, kills)
	r := rand.New(rand.NewPCG(seed, 0x6b696c6c))
	// A small snapCount makes the servers take snapshots, remove old log
	// segments and recover from snapshots under the kills too.
	e := startEnsemble(t, 3, LocalOptions{TickTimeMs: 100, Env: env, Extra: []string{"maxSessionTimeout=20000", "snapCount=1000"}})
	if allAtOnce {
		for _, s := range e.Servers {
			require.NoError(t, SetSyncDelay(filepath.Join(s.Dir, "data"), 10*time.Millisecond))
		}
	}
	waitServing(t, e)
	all := e.ClientAddrs()
	setup := connect(t, all, 10*time.Second)
	_, err := setup.Create("/crash", nil, 0, openACL)
	require.NoError(t, err)

	const writers = 4
	var stop atomic.Bool
	var wg sync.WaitGroup
	ws := make([]*writer, writers)
	for i := range ws {
		ws[i] = &writer{id: i}
		_, err := setup.Create(fmt.Sprintf("/crash/reg-%d", i), []byte("0"), 0, openACL)
		require.NoError(t, err)
		c := connect(t, all, 10*time.Second)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws[i].run(c.Conn, &stop)
		}()
	}
	stopWriters := func() {
		stop.Store(true)
		wg.Wait()
	}
	t.Cleanup(stopWriters)

	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(100+r.IntN(600)) * time.Millisecond)
		for _, s := range e.Servers {
			require.True(t, s.Running(), "server %d exited on its own: %v", s.ID, s.ExitErr())
		}
		victims := []*LocalServer{e.Servers[r.IntN(len(e.Servers))]}
		if allAtOnce && k%2 == 1 {
			victims = e.Servers
		}
		for _, v := range victims {
			v.Kill()
		}
		time.Sleep(time.Duration(r.IntN(300)) * time.Millisecond)
		for _, victim := range victims {
			require.NoError(t, victim.Start(e.opt.Binary))
			eventually(t, 30*time.Second, fmt.Sprintf("server %d listens again", victim.ID), func() error {
				c, err := dialTCP(victim.ClientAddr())
				if err == nil {
					c.Close()
				}
				return err
			})
		}
	}
	stopWriters()
	for _, s := range e.Servers {
		require.True(t, s.Running(), "server %d exited on its own: %v", s.ID, s.ExitErr())
	}

	// Every server converges to the same tree.
	var trees []map[string]dumpNode
	eventually(t, 90*time.Second, "the servers converge", func() error {
		trees = dumpAll(t, e)
		for i := 1; i < len(trees); i++ {
			if d := treeDiff(trees[0], trees[i]); d != "" {
				return fmt.Errorf("server 1 and server %d differ: %s", i+1, d)
			}
		}
		return nil
	})
	acked, failed := 0, 0
	for _, w := range ws {
		acked += len(w.acked) + w.lastAcked
		failed += w.errors
		for i, tree := range trees {
			for _, p := range w.acked {
				require.Contains(t, tree, p, "server %d lost an acknowledged create", i+1)
			}
			reg := tree[fmt.Sprintf("/crash/reg-%d", w.id)]
			v, err := strconv.Atoi(reg.Data)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, v, w.lastAcked, "server %d lost an acknowledged setData of writer %d", i+1, w.id)
			assert.LessOrEqual(t, v, w.lastTried, "server %d has a value writer %d never sent", i+1, w.id)
		}
	}
	t.Logf("%d kills; %d acknowledged writes, %d failed or unknown; %d nodes on every server", kills, acked, failed, len(trees[0]))
	require.Positive(t, acked)
}

// treeDiff describes the first difference between two trees ("" if none).
func treeDiff(a, b map[string]dumpNode) string {
	for p, n := range a {
		m, ok := b[p]
		if !ok {
			return p + " is missing from the second"
		}
		if n != m {
			return fmt.Sprintf("%s: %+v vs %+v", p, n, m)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			return p + " is missing from the first"
		}
	}
	return ""
}
