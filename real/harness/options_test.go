package harness

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"zoosim/nemesis"
	"zoosim/node"
)

func TestStart_RefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{"no target", Options{Servers: 3}, `unknown target ""`},
		{"no binary", Options{Target: TargetZoosim, Servers: 3}, "needs the zoosim executable"},
		{"too many", Options{Target: TargetZoosim, Binary: "x", Servers: 10}, "10 servers (1..9)"},
		{"none", Options{Target: TargetZoosim, Binary: "x"}, "0 servers (1..9)"},
		{"client is a server", Options{Target: TargetZoosim, Binary: "x", Servers: 3, Clients: []node.ID{3}}, "client ID 3 is not above"},
		{"client twice", Options{Target: TargetZoosim, Binary: "x", Servers: 3, Clients: []node.ID{101, 101}}, "given twice"},
		{"disk faults on zookeeper", Options{Target: TargetZooKeeper, Servers: 3, DiskFaults: true}, "Apache ZooKeeper has none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Start(context.Background(), tc.opt)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestStart_RefusesADirectoryThatHoldsFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "precious"), nil, 0o644))
	_, err := Start(context.Background(), Options{Target: TargetZoosim, Binary: "x", Servers: 1, Dir: dir})
	require.ErrorContains(t, err, "is not empty")
	_, err = os.Stat(filepath.Join(dir, "precious"))
	require.NoError(t, err, "what was there is left alone")
}

func TestStart_AServerThatCannotRunFailsStartAndLeavesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cluster")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// /bin/false exits at once: the server "exits while starting".
	_, err := Start(ctx, Options{Target: TargetZoosim, Binary: "/bin/false", Servers: 3, Dir: dir, Clients: []node.ID{101}})
	require.ErrorContains(t, err, "exited while starting")
	_, err = os.Stat(dir)
	require.True(t, os.IsNotExist(err), "a failed Start removes its directory")
}

func TestCluster_SupportsSaysWhyPerTarget(t *testing.T) {
	zoo := &Cluster{opt: Options{Target: TargetZoosim}, servers: []node.ID{1, 2, 3}}
	faulty := &Cluster{opt: Options{Target: TargetZoosim, DiskFaults: true}, servers: []node.ID{1, 2, 3}}
	zk := &Cluster{opt: Options{Target: TargetZooKeeper}, servers: []node.ID{1, 2, 3}}
	for _, tc := range []struct {
		c    *Cluster
		f    nemesis.Fault
		want string // "" if supported
	}{
		{zoo, nemesis.Fault{Kind: nemesis.PartitionLeader}, ""},
		{zoo, nemesis.Fault{Kind: nemesis.Crash, Nodes: []node.ID{2}}, ""},
		{zoo, nemesis.Fault{Kind: nemesis.Crash, Pick: nemesis.PickClient}, "no control of its clients"},
		{zoo, nemesis.Fault{Kind: nemesis.Pause, Nodes: []node.ID{101}}, "no control of its clients"},
		{zoo, nemesis.Fault{Kind: nemesis.ClockJump}, "clock"},
		{zoo, nemesis.Fault{Kind: nemesis.ClockDrift}, "clock"},
		{zoo, nemesis.Fault{Kind: nemesis.LinkDup}, "TCP"},
		{zoo, nemesis.Fault{Kind: nemesis.LinkLossy}, ""},
		{zoo, nemesis.Fault{Kind: nemesis.Lag}, ""},
		{zoo, nemesis.Fault{Kind: nemesis.DiskSyncLies}, "Options.DiskFaults"},
		{faulty, nemesis.Fault{Kind: nemesis.DiskSyncLies}, ""},
		{faulty, nemesis.Fault{Kind: nemesis.DiskCorrupt}, ""},
		{zk, nemesis.Fault{Kind: nemesis.DiskCorrupt}, "Apache ZooKeeper"},
		{zk, nemesis.Fault{Kind: nemesis.PartitionMajority}, ""},
	} {
		ok, why := tc.c.Supports(tc.f)
		if tc.want == "" {
			require.True(t, ok, "%s on %s: %s", tc.f.Kind, tc.c.opt.Target, why)
			continue
		}
		require.False(t, ok, "%s on %s", tc.f.Kind, tc.c.opt.Target)
		require.Contains(t, why, tc.want)
	}
	zoo.SetClientControl(nopClients{})
	ok, _ := zoo.Supports(nemesis.Fault{Kind: nemesis.Crash, Pick: nemesis.PickClient})
	require.True(t, ok, "with a ClientControl, client faults go to the workload")
}

type nopClients struct{}

func (nopClients) Up(node.ID) bool { return true }
func (nopClients) Crash(node.ID)   {}
func (nopClients) Restart(node.ID) {}
func (nopClients) Pause(node.ID)   {}
func (nopClients) Resume(node.ID)  {}
