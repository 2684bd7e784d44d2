package harness

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"zoosim/checker"
	"zoosim/model"
	"zoosim/node"
)

// ErrNotAvailable is what Committed returns for a target whose servers do
// not report what they commit (Apache ZooKeeper).
var ErrNotAvailable = errors.New("harness: the target's servers do not report their committed sequences")

// Committed returns, for every server, the txns it applied in order, over
// all its incarnations (zoosim.reportDir: each process writes its own file
// under DIR/N/report), as the simulator's harness records them: a restarted
// server may apply again txns an earlier incarnation applied; the first
// record of each zxid is kept. Txn.Time is the wall time of the apply,
// measured from Options.Epoch. Call it after the run (it reads what the
// processes wrote so far; a running server may be a batch behind). For
// target zookeeper it returns ErrNotAvailable.
func (c *Cluster) Committed() (map[node.ID][]checker.Txn, error) {
	if c.opt.Target != TargetZoosim {
		return nil, fmt.Errorf("%w (target %s)", ErrNotAvailable, c.opt.Target)
	}
	out := map[node.ID][]checker.Txn{}
	for _, id := range c.servers {
		txns, err := readReports(filepath.Join(c.serverDirs[id], "report"), c.epoch.UnixNano())
		if err != nil {
			return nil, fmt.Errorf("harness: server %d's committed txns: %w", id, err)
		}
		out[id] = txns
	}
	return out, nil
}

// readReports reads every report file in dir in the order the processes
// started (their names hold the start time, zero-padded).
func readReports(dir string, epochNs int64) ([]checker.Txn, error) {
	files, err := filepath.Glob(filepath.Join(dir, "committed.*.jsonl"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var out []checker.Txn
	var last model.Zxid = -1
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for n := 1; len(b) > 0; n++ {
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				break // a write the kill cut short: never a whole line
			}
			line := b[:i]
			b = b[i+1:]
			var t checker.Txn
			if err := json.Unmarshal(line, &t); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", f, n, err)
			}
			if t.Zxid <= last {
				continue
			}
			last = t.Zxid
			t.Time -= node.Time(epochNs)
			out = append(out, t)
		}
	}
	return out, nil
}
