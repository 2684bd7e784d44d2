package harness

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The property the harness rests on: every connection between servers goes
// through a proxy. The kernel's TCP tables (/proc/net/tcp and tcp6) show
// each loopback connection from both ends; a connection accepted on a
// server's own peer or election port must have been dialed by this test
// process (a proxy), never by another server directly.

type tcpEnd struct {
	local, remote int // ports
	inode         string
}

func establishedLoopback(t *testing.T) []tcpEnd {
	var out []tcpEnd
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // the header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "01" { // 01: ESTABLISHED
				continue
			}
			port := func(s string) int {
				_, hex, _ := strings.Cut(s, ":")
				p, err := strconv.ParseInt(hex, 16, 32)
				require.NoError(t, err)
				return int(p)
			}
			out = append(out, tcpEnd{local: port(fields[1]), remote: port(fields[2]), inode: fields[9]})
		}
		f.Close()
	}
	return out
}

func ownSockets(t *testing.T) map[string]bool {
	out := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if inode, ok := strings.CutPrefix(l, "socket:["); err == nil && ok {
			out[strings.TrimSuffix(inode, "]")] = true
		}
	}
	return out
}

// requireNoBypass checks that no connection to a server's own peer or
// election port was dialed by anything but this process, and that some
// were (the check looks at something).
func requireNoBypass(t *testing.T, c *Cluster) {
	t.Helper()
	ports := map[int]string{}
	for id, pp := range c.peerPorts {
		ports[pp[0]] = fmt.Sprintf("server %d's peer port", id)
		ports[pp[1]] = fmt.Sprintf("server %d's election port", id)
	}
	ends := establishedLoopback(t)
	own := ownSockets(t)
	seen := 0
	for _, e := range ends {
		what, ok := ports[e.local]
		if !ok {
			continue
		}
		for _, d := range ends { // the dialer's end of the same connection
			if d.local == e.remote && d.remote == e.local {
				seen++
				require.True(t, own[d.inode], "a connection to %s from port %d was not dialed by a proxy", what, d.local)
			}
		}
	}
	require.Positive(t, seen, "the servers' peer connections are visible")
}
