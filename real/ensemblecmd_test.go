package real

import (
	"bufio"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// zoosim ensemble writes configs, starts the servers, prints the connect
// string, and stops every server on SIGTERM (Ctrl-C sends SIGINT, handled
// the same way).
func TestEnsembleCommand_StartsServesAndStopsTheServers(t *testing.T) {
	skipProcesses(t)
	cmd := exec.Command(zoosimBinary(t), "ensemble", "--servers", "3", "--dir", t.TempDir())
	cmd.SysProcAttr = childProcAttr()
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	var connectString string
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if s, ok := strings.CutPrefix(lines.Text(), "connect string: "); ok {
			connectString = s
			break
		}
	}
	require.NotEmpty(t, connectString)
	go func() {
		for lines.Scan() { // drain the rest
		}
	}()
	addrs := strings.Split(connectString, ",")
	require.Len(t, addrs, 3)
	c := connect(t, addrs, 4*time.Second)
	eventually(t, 60*time.Second, "a write", func() error {
		_, err := c.Sync("/")
		return err
	})
	c.Close()

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		assert.NoError(t, err, "zoosim ensemble exits cleanly")
		exited <- err // for the cleanup
	case <-time.After(hangGuard):
		t.Fatal("zoosim ensemble did not stop")
	}
	for _, a := range addrs {
		eventually(t, hangGuard, "server at "+a+" is gone", func() error {
			conn, err := dialTCP(a)
			if err != nil {
				return nil
			}
			conn.Close()
			return errStillListening
		})
	}
}

var errStillListening = errors.New("still listening")
