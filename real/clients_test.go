package real

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Other ZooKeeper clients than go-zookeeper against zoosim serve: Python's
// kazoo (Debian's python3-kazoo, `make kazoo`) and Apache ZooKeeper's own
// zkCli.sh (Debian's zookeeper, `make zookeeper`), each running a scripted
// session from testdata. The tests skip, saying what to install, when the
// client is missing.

// debianPython is the interpreter Debian's python3-kazoo installs for
// (ZOOSIM_PYTHON overrides it).
const debianPython = "/usr/bin/python3"

// zkCli is Apache ZooKeeper's command-line client (ZOOSIM_ZKCLI overrides
// it).
const zkCliPath = "/usr/share/zookeeper/bin/zkCli.sh"

func testdataPath(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", name)
}

// kazooPython returns the Python that has kazoo, or why there is none.
func kazooPython() (string, string) {
	py := os.Getenv("ZOOSIM_PYTHON")
	if py == "" {
		py = debianPython
	}
	if _, err := os.Stat(py); err != nil {
		return "", py + " is missing (make kazoo installs Debian's python3-kazoo)"
	}
	if out, err := exec.Command(py, "-c", "import kazoo").CombinedOutput(); err != nil {
		return "", "kazoo is not installed for " + py + " (make kazoo runs apt-get install -y python3-kazoo): " + strings.TrimSpace(string(out))
	}
	return py, ""
}

// runKazoo runs the scripted kazoo session against hosts under root.
func runKazoo(t *testing.T, py, hosts, root string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, testdataPath("kazoo_session.py"), hosts, root)
	cmd.SysProcAttr = childProcAttr()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	require.NoError(t, err, "kazoo session:\n%s", out.String())
	return out.String()
}

// zkCliScript returns zkCli.sh, or why it cannot run.
func zkCliScript() (string, string) {
	cli := os.Getenv("ZOOSIM_ZKCLI")
	if cli == "" {
		cli = zkCliPath
	}
	if _, err := os.Stat(cli); err != nil {
		return "", cli + " is missing (make zookeeper runs apt-get install -y zookeeper)"
	}
	if _, err := exec.LookPath("java"); err != nil {
		return "", "java is not installed (make zookeeper installs it with Apache ZooKeeper)"
	}
	return cli, ""
}

var (
	reCliZxid = regexp.MustCompile(`(?m)^([cmp]Zxid = )0x[0-9a-f]+$`)
	reCliTime = regexp.MustCompile(`(?m)^([cm]time = ).*$`)
	reCliConn = regexp.MustCompile(`(?m)^Connecting to .*$`)
	reSLF4J   = regexp.MustCompile(`(?m)^SLF4J: .*\n`)
)

// runZkCli feeds the scripted session to zkCli.sh on stdin (zkCli reads
// commands from a pipe when JLine has no terminal) and returns its output
// with zxids, times, the server address and the logger's notices left out,
// and whoami's identities sorted (ZooKeeper keeps them in a hash set).
func runZkCli(t *testing.T, cli, server string) string {
	t.Helper()
	script, err := os.ReadFile(testdataPath("zkcli_session.txt"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, "-server", server)
	cmd.SysProcAttr = childProcAttr()
	cmd.Dir = t.TempDir()
	// zkEnv.sh logs to ZOO_LOG_DIR; keep it out of /var/log.
	cmd.Env = append(os.Environ(), "ZOO_LOG_DIR="+cmd.Dir, "CLIENT_JVMFLAGS=-Xmx128m -XX:+UseSerialGC")
	cmd.Stdin = bytes.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), "zkCli.sh:\n%s", out.String())
	s := reSLF4J.ReplaceAllString(out.String(), "")
	s = reCliZxid.ReplaceAllString(s, "${1}<zxid>")
	s = reCliTime.ReplaceAllString(s, "${1}<time>")
	s = reCliConn.ReplaceAllString(s, "Connecting to <server>")
	lines := strings.Split(s, "\n")
	for i := range lines {
		if lines[i] == "Auth scheme: User" {
			j := i + 1
			for j < len(lines) && strings.Contains(lines[j], ": ") && !strings.HasPrefix(lines[j], "Sync") {
				j++
			}
			slices.Sort(lines[i+1 : j])
		}
	}
	return reCliClosed.ReplaceAllString(strings.Join(lines, "\n"), "")
}

// reCliClosed matches the Closed event zkCli.sh prints as it quits: its
// event thread races the JVM's exit, so against either server it is
// printed in some runs and not in others.
var reCliClosed = regexp.MustCompile(`\n*WATCHER::\n+WatchedEvent state:Closed type:None path:null\n*$`)

// clientsOn runs kazoo and zkCli.sh against a target (a subtest each, each
// skipped when its client is missing) and returns what they printed.
func clientsOn(t *testing.T, tg target) (kazoo, cli string) {
	t.Run("kazoo on "+tg.name, func(t *testing.T) {
		py, why := kazooPython()
		if why != "" {
			t.Skip(why)
		}
		kazoo = runKazoo(t, py, strings.Join(tg.addrs, ","), "/kazoo")
	})
	t.Run("zkCli.sh on "+tg.name, func(t *testing.T) {
		c, why := zkCliScript()
		if why != "" {
			t.Skip(why)
		}
		cli = runZkCli(t, c, tg.addrs[0])
	})
	return kazoo, cli
}

// checkKazoo holds kazoo's session to what it must print against a correct
// server.
func checkKazoo(t *testing.T, out string) {
	if out == "" {
		return
	}
	for _, want := range []string{
		"connected True", "server version (3, 8, 0)", "ruok imok", "ensure_path True",
		"create sequential /seq-0000000001", "create sequential /seq-0000000002", "get ephemeral b'e' True",
		"create again: NodeExistsError", "set 1", "set a stale version: BadVersionError", "get a missing node: NoNodeError",
		"delete a parent: NotEmptyError", "children ['a', 'eph', 'seq-0000000001', 'seq-0000000002']",
		"watch fired True [('CREATED', '/w')]", "transaction /t1 True 2", "failed transaction ['RolledBackError', 'BadVersionError']",
		"t2 exists False", "acl [(31, 'digest', 'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=')] 0", "another session: NoAuthError",
		"locked True", "unlocked []", "ephemeral after close None", "deleted recursively None", "done",
	} {
		assert.Contains(t, out, want+"\n", "kazoo")
	}
}

// checkZkCli holds zkCli.sh's session to what it must print.
func checkZkCli(t *testing.T, out string) {
	if out == "" {
		return
	}
	for _, want := range []string{
		"WatchedEvent state:SyncConnected type:None path:null", "Created /cli\n", "Node already exists: /cli\n",
		"Created /cli/seq-0000000000\n", "Created /cli/seq-0000000001\n", "Created /cli/eph\n", "Created /cli/box\n",
		"\ndata\n", "version No is not valid : /cli\n", "\nd2\n", "cversion = 4\ndataVersion = 1\naclVersion = 0\nephemeralOwner = 0x0\ndataLength = 2\nnumChildren = 4\n",
		"[box, eph, seq-0000000000, seq-0000000001]\n", "\n4\n", "[/cli/eph]\n", "Created /cli/sec\n",
		"'digest,'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=\n: cdrwa\n", "'world,'anyone\n: r\n", "Insufficient permission : /cli/sec\n",
		"Auth scheme: User\ndigest: alice\nip: 127.0.0.1\n", "Sync is OK\n", "Node does not exist: /cli/nope\n",
		"Node not empty: /cli\n", "version No is not valid : /cli/eph\n",
	} {
		assert.Contains(t, out, want, "zkCli.sh")
	}
	assert.NotContains(t, out, "Exception")
}
