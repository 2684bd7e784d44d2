package real

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/node"
	"zoosim/quorum"
	"zoosim/server"
)

const ensembleCfg = `# a three-server ensemble
tickTime=2000
initLimit=10
syncLimit=5
dataDir=/var/lib/zookeeper
clientPort=2181
server.1=zk1:2888:3888
server.2=zk2:2888:3888
server.3=zk3:2888:3888
`

func TestConfig_ReadsZooKeepersKeys(t *testing.T) {
	cfg, err := ParseConfig("zoo.cfg", strings.NewReader(ensembleCfg+`
dataLogDir=/fast/log
clientPortAddress=10.0.0.1
maxClientCnxns=0
minSessionTimeout=3000
maxSessionTimeout=-1
extendedTypesEnabled=true
4lw.commands.whitelist=ruok, srvr,stat
snapCount=5000
forceSync=no
quorumListenOnAllIPs=true
autopurge.purgeInterval=1
zoosim.engine=zab
zoosim.quorum=2
zoosim.readMode=synced
`))
	require.NoError(t, err)
	assert.Equal(t, 2000, cfg.TickTimeMs)
	assert.Equal(t, 10, cfg.InitLimit)
	assert.Equal(t, 5, cfg.SyncLimit)
	assert.Equal(t, "/var/lib/zookeeper", cfg.DataDir)
	assert.Equal(t, "/fast/log", cfg.DataLogDir)
	assert.Equal(t, 2181, cfg.ClientPort)
	assert.Equal(t, "10.0.0.1", cfg.ClientPortAddress)
	assert.Equal(t, 0, cfg.MaxClientCnxns)
	assert.Equal(t, 3000, cfg.MinSessionTimeoutMs)
	assert.Equal(t, 0, cfg.MaxSessionTimeoutMs, "-1 is the default")
	assert.True(t, cfg.ExtendedTypesEnabled)
	assert.Equal(t, []string{"ruok", "srvr", "stat"}, cfg.FourLetterWords)
	assert.Equal(t, 5000, cfg.SnapCount)
	assert.False(t, cfg.ForceSync)
	assert.True(t, cfg.QuorumListenOnAllIPs)
	assert.Equal(t, []string{"autopurge.purgeInterval"}, cfg.Ignored)
	assert.Equal(t, "2", cfg.Quorum)
	assert.Equal(t, server.ReadSynced, cfg.ReadMode)
	assert.Equal(t, map[node.ID]ServerAddr{
		1: {Host: "zk1", PeerPort: 2888, ElectionPort: 3888},
		2: {Host: "zk2", PeerPort: 2888, ElectionPort: 3888},
		3: {Host: "zk3", PeerPort: 2888, ElectionPort: 3888},
	}, cfg.Servers)
	cfg.MyID = 2
	assert.Equal(t, map[node.ID]string{1: "zk1:2888", 2: ":2888", 3: "zk3:2888"}, cfg.PeerAddrs())
	addr, err := cfg.ClientListenAddr()
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.1:2181", addr)
	v, err := cfg.Verifier()
	require.NoError(t, err)
	assert.True(t, v.IsCommitQuorum(quorum.SetOf(1, 3)))
}

func TestConfig_Defaults(t *testing.T) {
	cfg, err := ParseConfig("zoo.cfg", strings.NewReader("tickTime=100\ndataDir=/d\nclientPort=2181\n"))
	require.NoError(t, err)
	assert.Equal(t, 60, cfg.MaxClientCnxns)
	assert.Equal(t, 10, cfg.InitLimit)
	assert.Equal(t, 5, cfg.SyncLimit)
	assert.True(t, cfg.ForceSync)
	assert.False(t, cfg.ExtendedTypesEnabled)
	assert.Equal(t, "zab", cfg.Engine)
	assert.Equal(t, "majority", cfg.Quorum)
	assert.Equal(t, server.ReadLocal, cfg.ReadMode)
	assert.True(t, cfg.Standalone())
}

func TestConfig_AuthAndMetricsKeys(t *testing.T) {
	cfg, err := ParseConfig("zoo.cfg", strings.NewReader("tickTime=100\ndataDir=/d\nclientPort=2181\n"+
		"DigestAuthenticationProvider.superDigest=super:xQJmxLMiHGwaqBvst5y6rkB6HQs=\nskipACL=yes\n"+
		"4lw.commands.whitelist=stat, ruok ,*\nmetricsProvider.className="+PrometheusProvider+"\n"))
	require.NoError(t, err)
	assert.Equal(t, "super:xQJmxLMiHGwaqBvst5y6rkB6HQs=", cfg.SuperDigest)
	assert.True(t, cfg.SkipACL)
	assert.Equal(t, []string{"stat", "ruok", "*"}, cfg.FourLetterWords)
	assert.Equal(t, ":7000", cfg.MetricsAddr(), "ZooKeeper's default port on every address")
	assert.Empty(t, cfg.Ignored)

	cfg, err = ParseConfig("zoo.cfg", strings.NewReader("tickTime=100\ndataDir=/d\nclientPort=2181\nmetricsProvider.httpPort=9141\nmetricsProvider.httpHost=127.0.0.1\n"))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9141", cfg.MetricsAddr(), "a port alone turns the metrics on")
	cfg, err = ParseConfig("zoo.cfg", strings.NewReader("tickTime=100\ndataDir=/d\nclientPort=2181\n"))
	require.NoError(t, err)
	assert.Equal(t, "", cfg.MetricsAddr())
	assert.False(t, cfg.SkipACL)
}

func TestConfig_ServerLines(t *testing.T) {
	cases := []struct {
		line string
		want ServerAddr
		err  string
	}{
		{line: "h:1:2", want: ServerAddr{Host: "h", PeerPort: 1, ElectionPort: 2}},
		{line: "h:1:2:participant", want: ServerAddr{Host: "h", PeerPort: 1, ElectionPort: 2}},
		{line: "h:1:2;2181", want: ServerAddr{Host: "h", PeerPort: 1, ElectionPort: 2, ClientAddr: "0.0.0.0:2181"}},
		{line: "h:1:2;127.0.0.1:2181", want: ServerAddr{Host: "h", PeerPort: 1, ElectionPort: 2, ClientAddr: "127.0.0.1:2181"}},
		{line: "[::1]:1:2", want: ServerAddr{Host: "::1", PeerPort: 1, ElectionPort: 2}},
		{line: "h:1:2:observer", err: "observers are not supported"},
		{line: "h:1:2:leader", err: "unknown server type"},
		{line: "h:1", err: "not host:peerPort:electionPort"},
		{line: "h", err: "not host:peerPort:electionPort"},
		{line: "h:x:2", err: "peer port"},
		{line: "h:1:99999", err: "election port"},
		{line: "h:5:5", err: "the same"},
		{line: "h:1:2;nope", err: "client port"},
		{line: "a:1:2|b:1:2", err: "multiple addresses"},
	}
	for _, tc := range cases {
		t.Run(tc.line, func(t *testing.T) {
			a, err := parseServerLine(tc.line)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, a)
		})
	}
}

// Every bad config names its line and says what is wrong.
func TestConfig_ErrorsNameTheLine(t *testing.T) {
	base := "tickTime=100\ndataDir=/d\nclientPort=2181\n"
	cases := []struct {
		name, text, want string
	}{
		{"unknown key", base + "tickTimee=5\n", "zoo.cfg:4: tickTimee=5: unknown key"},
		{"unknown zoosim key", base + "zoosim.speed=fast\n", "zoo.cfg:4: zoosim.speed=fast: unknown zoosim key"},
		{"not key=value", base + "tickTime 100\n", `zoo.cfg:4: "tickTime 100" is not key=value`},
		{"no key", "=5\n", `zoo.cfg:1: "=5" has no key`},
		{"a number that is not", "tickTime=fast\n", "zoo.cfg:1: tickTime=fast: not an integer"},
		{"zero tick", "tickTime=0\n", "zoo.cfg:1: tickTime=0: must be at least 1"},
		{"a bad port", base + "clientPort=70000\n", "zoo.cfg:4: clientPort is set twice (first on line 3)"},
		{"a port out of range", "clientPort=70000\n", "zoo.cfg:1: clientPort=70000: not a port"},
		{"a bad boolean", base + "extendedTypesEnabled=maybe\n", "zoo.cfg:4: extendedTypesEnabled=maybe: not true/false"},
		{"a bad server id", base + "server.0=h:1:2\n", "zoo.cfg:4: server.0=h:1:2: the server id must be a number in 1..63"},
		{"a server id too large", base + "server.64=h:1:2\n", "in 1..63"},
		{"a bad server line", base + "server.1=h:1\n", "zoo.cfg:4: server.1=h:1: not host:peerPort:electionPort"},
		{"an unknown engine", base + "zoosim.engine=paxos\n", "zoo.cfg:4: zoosim.engine=paxos: unknown engine (this build has zab, raft)"},
		{"a bad read mode", base + "zoosim.readMode=fast\n", "not local, synced or linearizable"},
		{"a bad four-letter word", base + "4lw.commands.whitelist=ruok,status\n", `"status" is not a four-letter word`},
		{"forceSync", base + "forceSync=true\n", "not yes or no"},
		{"electionAlg", base + "electionAlg=1\n", "only electionAlg=3"},
		{"skipACL", base + "skipACL=true\n", "zoo.cfg:4: skipACL=true: not yes or no"},
		{"a super digest without a user", base + "DigestAuthenticationProvider.superDigest=xQJmxLMiHGwaqBvst5y6rkB6HQs=\n",
			"zoo.cfg:4: DigestAuthenticationProvider.superDigest=xQJmxLMiHGwaqBvst5y6rkB6HQs=: not user:base64(sha1(user:password))"},
		{"another metrics provider", base + "metricsProvider.className=org.apache.zookeeper.metrics.impl.NullMetricsProvider\n",
			"the only metrics provider is"},
		{"a metrics port out of range", base + "metricsProvider.httpPort=0\n", "zoo.cfg:4: metricsProvider.httpPort=0: must be at least 1"},
		{"no tickTime", "dataDir=/d\nclientPort=1\n", "zoo.cfg: tickTime is not set"},
		{"no dataDir", "tickTime=1\nclientPort=1\n", "zoo.cfg: dataDir is not set"},
		{"an ensemble without limits", "tickTime=1\ndataDir=/d\nclientPort=1\nserver.1=h:1:2\nserver.2=i:1:2\n",
			"initLimit and syncLimit must be set"},
		{"timeouts upside down", base + "minSessionTimeout=5000\nmaxSessionTimeout=4000\n",
			"zoo.cfg:4: minSessionTimeout 5000 ms is above maxSessionTimeout 4000 ms"},
		{"a quorum that does not parse", ensembleCfg + "zoosim.quorum=most\n", "zoo.cfg:10: quorum: \"most\" is not majority"},
		{"a quorum alone", base + "zoosim.quorum=1\n", "zoo.cfg:4:"},
		{"a quorum over other ids", strings.Replace(ensembleCfg, "server.3", "server.7", 1) + "zoosim.quorum=2\n",
			"needs servers numbered 1..3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("zoo.cfg", strings.NewReader(tc.text))
			require.Error(t, err)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "%T", err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func writeConfig(t *testing.T, text string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.MkdirAll(data, 0o755))
	path := filepath.Join(dir, "zoo.cfg")
	require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(text, "DATA", data)), 0o644))
	return path, data
}

func TestConfig_MyID(t *testing.T) {
	ens := strings.Replace(ensembleCfg, "/var/lib/zookeeper", "DATA", 1)
	t.Run("names this server", func(t *testing.T) {
		path, data := writeConfig(t, ens)
		require.NoError(t, os.WriteFile(filepath.Join(data, "myid"), []byte("2\n"), 0o644))
		cfg, err := ReadConfig(path)
		require.NoError(t, err)
		assert.Equal(t, node.ID(2), cfg.MyID)
	})
	t.Run("is required for an ensemble", func(t *testing.T) {
		path, _ := writeConfig(t, ens)
		_, err := ReadConfig(path)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "myid")
	})
	t.Run("must have a server line", func(t *testing.T) {
		path, data := writeConfig(t, ens)
		require.NoError(t, os.WriteFile(filepath.Join(data, "myid"), []byte("4"), 0o644))
		_, err := ReadConfig(path)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "there is no server.4 line")
	})
	t.Run("must be a number", func(t *testing.T) {
		path, data := writeConfig(t, ens)
		require.NoError(t, os.WriteFile(filepath.Join(data, "myid"), []byte("two"), 0o644))
		_, err := ReadConfig(path)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `"two" is not a server id`)
	})
	t.Run("standalone without one is server 1", func(t *testing.T) {
		path, _ := writeConfig(t, "tickTime=100\ndataDir=DATA\nclientPort=2181\n")
		cfg, err := ReadConfig(path)
		require.NoError(t, err)
		assert.Equal(t, node.ID(1), cfg.MyID)
		v, err := cfg.Verifier()
		require.NoError(t, err)
		assert.Equal(t, quorum.SetOf(1), v.Voters())
	})
	t.Run("a relative dataDir is relative to the config", func(t *testing.T) {
		path, _ := writeConfig(t, "tickTime=100\ndataDir=data\nclientPort=2181\n")
		cfg, err := ReadConfig(path)
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(filepath.Dir(path), "data"), cfg.DataDir)
	})
}

func TestConfig_ClientPortFromTheServerLine(t *testing.T) {
	cfg, err := ParseConfig("zoo.cfg", strings.NewReader("tickTime=1\ninitLimit=1\nsyncLimit=1\ndataDir=/d\nserver.1=h:1:2;127.0.0.1:2191\nserver.2=i:1:2;2192\n"))
	require.NoError(t, err)
	cfg.MyID = 1
	addr, err := cfg.ClientListenAddr()
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:2191", addr)
	cfg.MyID = 2
	addr, err = cfg.ClientListenAddr()
	require.NoError(t, err)
	assert.Equal(t, "0.0.0.0:2192", addr)
	cfg.ClientPort = 2000
	_, err = cfg.ClientListenAddr()
	assert.ErrorContains(t, err, "differ")
}

func TestConfig_ReportDirIsOffByDefaultAndRelativeToTheConfig(t *testing.T) {
	cfg, err := ParseConfig("/etc/zk/zoo.cfg", strings.NewReader("tickTime=100\ndataDir=/d\nclientPort=2181\n"))
	require.NoError(t, err)
	assert.Empty(t, cfg.ReportDir)
	cfg, err = ParseConfig("/etc/zk/zoo.cfg", strings.NewReader("tickTime=100\ndataDir=/d\nclientPort=2181\nzoosim.reportDir=report\n"))
	require.NoError(t, err)
	assert.Equal(t, "/etc/zk/report", cfg.ReportDir)
	_, err = ParseConfig("zoo.cfg", strings.NewReader("tickTime=100\ndataDir=/d\nclientPort=2181\nzoosim.reportDir=\n"))
	require.ErrorContains(t, err, "zoosim.reportDir=: empty")
}

func TestLocalEnsemble_PeerAddrNamesProxiesOnOthersLinesAndRealPortsOnItsOwn(t *testing.T) {
	proxy := func(from, to int, kind string, port int) string {
		p := 20000 + 100*from + 10*to
		if kind == "election" {
			p++
		}
		return "127.0.0.1:" + strconv.Itoa(p)
	}
	e, err := WriteLocalEnsemble(t.TempDir(), 3, LocalOptions{PeerAddr: proxy})
	require.NoError(t, err)
	cfg, err := ReadConfig(e.Servers[0].Config)
	require.NoError(t, err)
	s1 := e.Servers[0]
	assert.Equal(t, ServerAddr{Host: "127.0.0.1", PeerPort: s1.PeerPort, ElectionPort: s1.ElectionPort}, cfg.Servers[1])
	assert.Equal(t, ServerAddr{Host: "127.0.0.1", PeerPort: 20120, ElectionPort: 20121}, cfg.Servers[2])
	assert.Equal(t, ServerAddr{Host: "127.0.0.1", PeerPort: 20130, ElectionPort: 20131}, cfg.Servers[3])
	cfg, err = ReadConfig(e.Servers[2].Config)
	require.NoError(t, err)
	assert.Equal(t, 20310, cfg.Servers[1].PeerPort)
	assert.Equal(t, e.Servers[2].PeerPort, cfg.Servers[3].PeerPort)
}
