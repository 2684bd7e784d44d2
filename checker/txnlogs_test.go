package checker

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"zoosim/model"
)

// txnLogs is a history and the servers' logs as a log keeps them: no
// digests, and creates without their sequential flag.
func txnLogs(t *testing.T) (*History, [][]Txn) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", "x"), ms(1), ms(2))
	b.write(2, 2, setData("/a", "y", 0), ms(3), ms(4))
	b.write(1, 1, create("/a", "again"), ms(5), ms(6)) // NodeExists: an error txn
	b.write(2, 2, createMode("/q-", model.ModeEphemeralSequential), ms(7), ms(8))
	logs := make([][]Txn, len(b.h.Applied))
	for s, applied := range b.h.Applied {
		for _, x := range applied {
			x.Digest = 0
			if c, ok := x.Txn.(model.CreateTxn); ok {
				c.Mode = unsequential(c.Mode)
				x.Txn = c
			}
			logs[s] = append(logs[s], x)
		}
	}
	return b.h, logs
}

func TestTxnLogs_AgreeingLogsHoldingEveryAckedWritePass(t *testing.T) {
	h, logs := txnLogs(t)
	logs[2] = logs[2][:3] // a lagging server logged a prefix
	logs[3] = nil         // one that logged nothing (its files were lost to a SNAP sync, say)
	res := CheckTxnLogs(h, logs)
	requireVerdict(t, VerdictOK, res)
	require.Equal(t, NameTxnLogs, res.Checker)
	require.Contains(t, res.Explanation, "4 acknowledged writes are logged as acknowledged")
}

func TestTxnLogs_FailsWhenServersLogDifferentTxnsAtOneZxid(t *testing.T) {
	h, logs := txnLogs(t)
	logs[3] = slices.Clone(logs[3])
	logs[3][3].Txn = model.SetDataTxn{Path: "/a", Data: []byte("other"), Version: 1}
	res := CheckTxnLogs(h, logs)
	requireVerdict(t, VerdictViolation, res)
	require.Contains(t, res.Explanation, "logged different txns at zxid")
	require.Equal(t, []model.Zxid{logs[3][3].Zxid}, res.Txns)
}

// A resync may log again txns a server had logged (ZooKeeper's learner
// does, after a DIFF from below its last logged zxid): the same txns pass,
// another txn at a zxid the server logged before does not.
func TestTxnLogs_AZxidLoggedAgainMustBeTheSameTxn(t *testing.T) {
	h, logs := txnLogs(t)
	logs[1] = append(slices.Clone(logs[1]), logs[1][2:]...)
	requireVerdict(t, VerdictOK, CheckTxnLogs(h, logs))

	other := logs[1][len(logs[1])-1]
	other.Txn = model.DeleteTxn{Path: "/a"}
	logs[1] = append(logs[1][:len(logs[1])-1], other)
	res := CheckTxnLogs(h, logs)
	requireVerdict(t, VerdictViolation, res)
	require.Contains(t, res.Explanation, "server 1 logged two different txns at zxid")
}

func TestTxnLogs_FailsWhenAnAckedWriteIsInNoLog(t *testing.T) {
	h, logs := txnLogs(t)
	for s := range logs {
		if len(logs[s]) > 0 {
			logs[s] = logs[s][:len(logs[s])-1] // the ephemeral create, lost everywhere
		}
	}
	res := CheckTxnLogs(h, logs)
	requireVerdict(t, VerdictViolation, res)
	require.Contains(t, res.Explanation, "is in no server's txn log: the write was lost")
	require.Equal(t, []int{len(h.Ops) - 1}, res.Ops)
}

func TestTxnLogs_FailsWhenTheLoggedTxnIsNotTheAckedWrite(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(x *Txn)
		want   string
	}{
		"another session": {func(x *Txn) { x.Session = 9 }, "the txn is session 0x9's"},
		"another change":  {func(x *Txn) { x.Txn = model.SetDataTxn{Path: "/a", Data: []byte("z"), Version: 2} }, "the op was setData"},
		"another error":   {func(x *Txn) { x.Txn = model.ErrorTxn{Err: model.ErrNoNode} }, "the logged error"},
		"persistent for ephemeral": {func(x *Txn) {
			c := x.Txn.(model.CreateTxn)
			c.Mode = model.ModePersistent
			x.Txn = c
		}, "the op was create /q-"},
	} {
		t.Run(name, func(t *testing.T) {
			h, logs := txnLogs(t)
			// After the two sessions: create /a, setData, the error, the create of /q-.
			at := map[string]int{"another session": 2, "another change": 3, "another error": 4, "persistent for ephemeral": 5}[name]
			for s := range logs {
				if len(logs[s]) == 0 {
					continue
				}
				logs[s] = slices.Clone(logs[s])
				tc.change(&logs[s][at])
			}
			res := CheckTxnLogs(h, logs)
			requireVerdict(t, VerdictViolation, res)
			require.Contains(t, res.Explanation, "is not the txn logged at its zxid")
			require.Contains(t, res.Explanation, tc.want)
		})
	}
}
