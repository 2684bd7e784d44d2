package real

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fourLetterScene puts the same state on a server: two sessions, two
// ephemerals, data, child and exist watches. It returns the two sessions'
// ids, and keeps the sessions open until the test ends.
func fourLetterScene(t *testing.T, addr string) (a, b int64) {
	t.Helper()
	s1 := connect(t, []string{addr}, 4*time.Second)
	s2 := connect(t, []string{addr}, 6*time.Second)
	eventually(t, 30*time.Second, "a write", func() error {
		_, err := s1.Create("/a", []byte("x"), 0, openACL)
		if err == zk.ErrNodeExists {
			return nil
		}
		return err
	})
	for _, p := range []string{"/a/e1", "/a/e2"} {
		_, err := s1.Create(p, []byte("x"), zk.FlagEphemeral, openACL)
		require.NoError(t, err)
	}
	_, _, _, err := s1.GetW("/a")
	require.NoError(t, err)
	_, _, _, err = s1.ChildrenW("/a")
	require.NoError(t, err)
	_, _, _, err = s1.ExistsW("/nope")
	require.NoError(t, err)
	_, _, _, err = s2.GetW("/a")
	require.NoError(t, err)
	return s1.SessionID(), s2.SessionID()
}

var (
	reDate    = regexp.MustCompile(`[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} [A-Z]+ \d{4}`)
	reAddr    = regexp.MustCompile(`/127\.0\.0\.1:\d+`)
	reNumber  = regexp.MustCompile(`\d+(\.\d+)?`)
	reVersion = regexp.MustCompile(`(?m)^(Zookeeper version: |zookeeper\.version=|zk_version\t).*$`)
)

// normalize hides what legitimately differs between two servers: session
// ids (named by the scene's order), addresses and ports, dates, the
// version string.
func normalize(s string, sessions ...int64) string {
	for i, id := range sessions {
		s = strings.ReplaceAll(s, fmt.Sprintf("0x%x", uint64(id)), fmt.Sprintf("<session%d>", i+1))
	}
	s = reVersion.ReplaceAllString(s, "${1}<version>")
	s = reDate.ReplaceAllString(s, "<date>")
	return reAddr.ReplaceAllString(s, "/127.0.0.1:<port>")
}

// shape also hides every number.
func shape(s string) string { return reNumber.ReplaceAllString(s, "N") }

// sortedLines sorts a text's lines (ZooKeeper lists connections and
// sessions in hash order).
func sortedLines(s string) []string {
	lines := strings.Split(s, "\n")
	sort.Strings(lines)
	return lines
}

// keyValues parses key=value (or key<TAB>value) lines.
func keyValues(s, sep string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(l, sep); ok {
			out[k] = v
		}
	}
	return out
}

// blocks parses an indented listing (a header line, then "\t" lines) into
// header -> sorted items.
func blocks(s string) map[string][]string {
	out := map[string][]string{}
	head := ""
	for _, l := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(l, "\t"):
			out[head] = append(out[head], l[1:])
			slices.Sort(out[head])
		case l != "":
			head = l
			if _, ok := out[head]; !ok {
				out[head] = nil
			}
		}
	}
	return out
}

// TestFourLetterWords_MatchApacheZooKeeper runs Apache ZooKeeper 3.8 and a
// zoosim server side by side with the same state and compares every
// four-letter word's answer, up to what must differ (session ids, ports,
// dates, versions, counters of packets and latencies).
func TestFourLetterWords_MatchApacheZooKeeper(t *testing.T) {
	zke := startZooKeeper(t, 1, "4lw.commands.whitelist=*")
	zs, _ := inProcess(t, "4lw.commands.whitelist=*\ntickTime=200")
	addrs := map[string]string{"zookeeper": zke.Servers[0].ClientAddr(), "zoosim": zs.ClientAddr().String()}
	ids := map[string][2]int64{}
	for name, addr := range addrs {
		a, b := fourLetterScene(t, addr)
		ids[name] = [2]int64{a, b}
	}
	ask := func(word string) map[string]string {
		out := map[string]string{}
		for name, addr := range addrs {
			ans, err := fourLetterWord(addr, word)
			require.NoError(t, err, "%s %s", name, word)
			out[name] = normalize(ans, ids[name][0], ids[name][1])
		}
		return out
	}

	for _, w := range []string{"ruok", "isro", "wchs"} {
		got := ask(w)
		assert.Equal(t, got["zookeeper"], got["zoosim"], w)
	}

	got := ask("srvr")
	assert.Equal(t, shape(got["zookeeper"]), shape(got["zoosim"]), "srvr")
	for _, k := range []string{"Connections", "Outstanding", "Mode", "Node count"} {
		assert.Equal(t, keyValues(got["zookeeper"], ": ")[k], keyValues(got["zoosim"], ": ")[k], "srvr %s", k)
	}

	got = ask("stat")
	assert.Equal(t, sortedLines(shape(got["zookeeper"])), sortedLines(shape(got["zoosim"])), "stat")

	got = ask("cons")
	assert.Equal(t, sortedLines(shape(got["zookeeper"])), sortedLines(shape(got["zoosim"])), "cons")
	assert.Contains(t, got["zoosim"], "sid=<session1>,lop=")

	got = ask("wchc")
	assert.Equal(t, blocks(got["zookeeper"]), blocks(got["zoosim"]), "wchc")
	got = ask("wchp")
	assert.Equal(t, blocks(got["zookeeper"]), blocks(got["zoosim"]), "wchp")

	got = ask("dump")
	zkDump, zsDump := blocks(shape(got["zookeeper"])), blocks(shape(got["zoosim"]))
	assert.Equal(t, slices.Sorted(maps.Keys(zkDump)), slices.Sorted(maps.Keys(zsDump)), "dump: the same sections and sets")
	assert.Equal(t, blocks(got["zookeeper"])["<session1>:"], []string{"/a/e1", "/a/e2"})
	assert.Equal(t, blocks(got["zookeeper"])["<session1>:"], blocks(got["zoosim"])["<session1>:"], "dump: the ephemerals")

	got = ask("conf")
	zkConf, zsConf := keyValues(got["zookeeper"], "="), keyValues(got["zoosim"], "=")
	for k := range zsConf {
		if strings.HasPrefix(k, "zoosim.") {
			delete(zsConf, k)
		}
	}
	assert.Equal(t, slices.Sorted(maps.Keys(zkConf)), slices.Sorted(maps.Keys(zsConf)), "conf: the same keys")
	for _, k := range []string{"secureClientPort", "tickTime", "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout",
		"clientPortListenBacklog", "serverId"} {
		assert.Equal(t, zkConf[k], zsConf[k], "conf %s", k)
	}

	got = ask("mntr")
	zkMntr, zsMntr := keyValues(got["zookeeper"], "\t"), keyValues(got["zoosim"], "\t")
	for k := range zsMntr {
		assert.Contains(t, zkMntr, k, "mntr: zoosim reports only keys ZooKeeper has")
	}
	assert.Equal(t, strings.SplitN(got["zookeeper"], "\n", 3)[:2], strings.SplitN(got["zoosim"], "\n", 3)[:2],
		"mntr starts with the version and the server state")
	for _, k := range []string{"zk_server_state", "zk_ephemerals_count", "zk_num_alive_connections", "zk_outstanding_requests",
		"zk_znode_count", "zk_global_sessions", "zk_local_sessions", "zk_watch_count", "zk_auth_failed_count"} {
		assert.Equal(t, zkMntr[k], zsMntr[k], "mntr %s", k)
	}

	got = ask("envi")
	zkEnv, zsEnv := keyValues(got["zookeeper"], "="), keyValues(got["zoosim"], "=")
	assert.True(t, strings.HasPrefix(got["zoosim"], "Environment:\n"))
	for _, k := range []string{"zookeeper.version", "host.name", "os.name", "os.arch", "os.version", "user.name", "user.home", "user.dir",
		"java.io.tmpdir"} {
		assert.Contains(t, zsEnv, k)
		assert.Contains(t, zkEnv, k)
	}
	for _, k := range []string{"host.name", "os.name", "os.arch", "os.version", "user.name", "user.home"} {
		assert.Equal(t, zkEnv[k], zsEnv[k], "envi %s", k)
	}
}

// TestFourLetterWords_WhitelistAsApacheZooKeeper: with ZooKeeper's default
// whitelist only srvr is answered, and every other known word gets
// ZooKeeper's refusal; an unknown word is read as a frame length (and the
// connection closed).
func TestFourLetterWords_WhitelistAsApacheZooKeeper(t *testing.T) {
	zke := startZooKeeper(t, 1)
	zs, _ := inProcess(t, "")
	waitWritable(t, zs.ClientAddr().String())
	addrs := map[string]string{"zookeeper": zke.Servers[0].ClientAddr(), "zoosim": zs.ClientAddr().String()}
	for _, w := range append(slices.Clone(fourLetterWords), "xyzw") {
		got := map[string]string{}
		for name, addr := range addrs {
			ans, err := fourLetterWord(addr, w)
			require.NoError(t, err, "%s %s", name, w)
			got[name] = shape(normalize(ans))
		}
		assert.Equal(t, got["zookeeper"], got["zoosim"], w)
		if w != "srvr" && w != "xyzw" {
			assert.Equal(t, w+" is not executed because it is not in the whitelist.\n", got["zoosim"])
		}
	}
}

func TestFourLetterWords_NotServingAndSubsets(t *testing.T) {
	zs, _ := inProcess(t, "4lw.commands.whitelist=ruok, stat ,mntr")
	addr := zs.ClientAddr().String()
	waitWritable(t, addr)
	for w, want := range map[string]string{"ruok": "imok", "conf": "conf is not executed because it is not in the whitelist.\n"} {
		ans, err := fourLetterWord(addr, w)
		require.NoError(t, err)
		assert.Equal(t, want, ans)
	}
	ans, err := fourLetterWord(addr, "srvr")
	require.NoError(t, err)
	assert.Contains(t, ans, "Mode: standalone\n", "srvr is always allowed")
	// A ZooKeeper client still gets through after four-letter words.
	c := connect(t, []string{addr}, 4*time.Second)
	_, err = c.Create("/after", nil, 0, openACL)
	require.NoError(t, err)
}
