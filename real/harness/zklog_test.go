package harness

import (
	"hash/adler32"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"zoosim/checker"
	"zoosim/model"
	"zoosim/real"
	"zoosim/wire/jute"
)

// zkEntry encodes a TxnHeader and a txn body as ZooKeeper logs them.
func zkEntry(session int64, cxid int32, zxid int64, timeMs int64, op model.OpCode, body []byte, digest bool) []byte {
	b := jute.AppendLong(nil, session)
	b = jute.AppendInt(b, cxid)
	b = jute.AppendLong(b, zxid)
	b = jute.AppendLong(b, timeMs)
	b = jute.AppendInt(b, int32(op))
	b = append(b, body...)
	if digest {
		b = jute.AppendInt(b, zkDigestVersion)
		b = jute.AppendLong(b, 0x1234)
	}
	return b
}

func zkRecord(entry []byte) []byte {
	b := jute.AppendLong(nil, int64(adler32.Checksum(entry)))
	b = jute.AppendBuffer(b, entry)
	return append(b, 'B')
}

func zkFile(records ...[]byte) []byte {
	b := jute.AppendInt(nil, zkLogMagic)
	b = jute.AppendInt(b, 2)
	b = jute.AppendLong(b, 0)
	for _, r := range records {
		b = append(b, r...)
	}
	return append(b, make([]byte, 64)...) // preallocated zeros
}

func createBody(path string, data []byte, ephemeral bool, cversion int32) []byte {
	b := jute.AppendUString(nil, path)
	b = jute.AppendBuffer(b, data)
	b = jute.AppendInt(b, 1) // one ACL: world:anyone, all
	b = jute.AppendInt(b, 31)
	b = jute.AppendUString(b, "world")
	b = jute.AppendUString(b, "anyone")
	b = jute.AppendBool(b, ephemeral)
	return jute.AppendInt(b, cversion)
}

func TestReadZooKeeperLog_DecodesEveryTxnKindAndStopsAtATornRecord(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "version-2"), 0o755))
	world := []model.ACL{{Perms: 31, Scheme: "world", ID: "anyone"}}
	setData := jute.AppendUString(nil, "/a")
	setData = jute.AppendBuffer(setData, []byte("v2"))
	setData = jute.AppendInt(setData, 1)
	multi := jute.AppendInt(nil, 2)
	multi = jute.AppendInt(multi, int32(model.OpCreate))
	multi = jute.AppendBuffer(multi, createBody("/m", nil, false, 3))
	multi = jute.AppendInt(multi, int32(model.OpSetData))
	multi = jute.AppendBuffer(multi, setData)
	// Failed multis as ZooKeeper logs them: an op before the failing one
	// keeps its record, under its own type or, when the leader's apply
	// rewrote it first, under type error.
	failed1 := jute.AppendInt(nil, 3)
	failed1 = jute.AppendInt(failed1, int32(model.OpError))
	failed1 = jute.AppendBuffer(failed1, setData)
	failed1 = jute.AppendInt(failed1, int32(model.OpError))
	failed1 = jute.AppendBuffer(failed1, jute.AppendInt(nil, int32(model.ErrBadVersion)))
	failed1 = jute.AppendInt(failed1, int32(model.OpError))
	failed1 = jute.AppendBuffer(failed1, jute.AppendInt(nil, int32(model.ErrRuntimeInconsistency)))
	failed2 := jute.AppendInt(nil, 2)
	failed2 = jute.AppendInt(failed2, int32(model.OpCreate))
	failed2 = jute.AppendBuffer(failed2, createBody("/m", nil, false, 3))
	failed2 = jute.AppendInt(failed2, int32(model.OpError))
	failed2 = jute.AppendBuffer(failed2, jute.AppendInt(nil, int32(model.ErrNoNode)))
	closeWith := jute.AppendStrings(nil, []string{"/e"})
	first := zkFile(
		zkRecord(zkEntry(7, 0, 0x100000001, 1000, model.OpCreateSession, jute.AppendInt(nil, 4000), true)),
		zkRecord(zkEntry(7, 1, 0x100000002, 1001, model.OpCreate, createBody("/a", []byte("v1"), false, 1), true)),
		zkRecord(zkEntry(7, 2, 0x100000003, 1002, model.OpSetData, setData, true)),
		zkRecord(zkEntry(7, 3, 0x100000004, 1003, model.OpError, jute.AppendInt(nil, int32(model.ErrNodeExists)), false)),
		zkRecord(zkEntry(7, 4, 0x100000005, 1004, model.OpMulti, multi, true)),
		zkRecord(zkEntry(7, 5, 0x100000006, 1005, model.OpDelete, jute.AppendUString(nil, "/a"), true)),
		zkRecord(zkEntry(7, 6, 0x100000007, 1006, model.OpMulti, failed1, true)),
		zkRecord(zkEntry(7, 7, 0x100000008, 1007, model.OpMulti, failed2, true)),
	)
	// A torn record: its checksum does not match.
	torn := zkRecord(zkEntry(7, 8, 0x100000009, 1008, model.OpDelete, jute.AppendUString(nil, "/b"), true))
	torn[3] ^= 0xff
	first = append(first[:len(first)-64], torn...)
	second := zkFile(
		zkRecord(zkEntry(7, 0, 0x200000001, 2000, model.OpCloseSession, closeWith, true)),
		zkRecord(zkEntry(8, 0, 0x200000002, 2001, model.OpCloseSession, nil, true)),
		zkRecord(zkEntry(9, 0, 0x200000003, 2002, model.OpCloseSession, nil, false)),
	)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "version-2", "log.100000001"), first, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "version-2", "log.200000001"), second, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "version-2", "snapshot.100000006"), []byte("not read"), 0o644))

	txns, err := ReadZooKeeperLog(dir)
	require.NoError(t, err)
	want := []checker.Txn{
		{Zxid: 0x100000001, Session: 7, TimeMs: 1000, Txn: model.CreateSessionTxn{TimeoutMs: 4000}},
		{Zxid: 0x100000002, Session: 7, Cxid: 1, TimeMs: 1001, Txn: model.CreateTxn{Path: "/a", Data: []byte("v1"), ACL: world, ParentCVersion: 1}},
		{Zxid: 0x100000003, Session: 7, Cxid: 2, TimeMs: 1002, Txn: model.SetDataTxn{Path: "/a", Data: []byte("v2"), Version: 1}},
		{Zxid: 0x100000004, Session: 7, Cxid: 3, TimeMs: 1003, Txn: model.ErrorTxn{Err: model.ErrNodeExists}},
		{Zxid: 0x100000005, Session: 7, Cxid: 4, TimeMs: 1004, Txn: model.MultiTxn{Txns: []model.Txn{
			model.CreateTxn{Path: "/m", ACL: world, ParentCVersion: 3},
			model.SetDataTxn{Path: "/a", Data: []byte("v2"), Version: 1}}}},
		{Zxid: 0x100000006, Session: 7, Cxid: 5, TimeMs: 1005, Txn: model.DeleteTxn{Path: "/a"}},
		{Zxid: 0x100000007, Session: 7, Cxid: 6, TimeMs: 1006, Txn: model.MultiTxn{Txns: []model.Txn{
			model.ErrorTxn{Err: model.ErrOK}, model.ErrorTxn{Err: model.ErrBadVersion}, model.ErrorTxn{Err: model.ErrRuntimeInconsistency}}}},
		{Zxid: 0x100000008, Session: 7, Cxid: 7, TimeMs: 1007, Txn: model.MultiTxn{Txns: []model.Txn{
			model.ErrorTxn{Err: model.ErrOK}, model.ErrorTxn{Err: model.ErrNoNode}}}},
		{Zxid: 0x200000001, Session: 7, TimeMs: 2000, Txn: model.CloseSessionTxn{Paths: []string{"/e"}}},
		{Zxid: 0x200000002, Session: 8, TimeMs: 2001, Txn: model.CloseSessionTxn{}},
		{Zxid: 0x200000003, Session: 9, TimeMs: 2002, Txn: model.CloseSessionTxn{}},
	}
	require.Equal(t, want, txns)

	// Not a txn log: a clear error, with the file.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "version-2", "log.300000001"), []byte("hello, not a log file!!!"), 0o644))
	_, err = ReadZooKeeperLog(dir)
	require.ErrorContains(t, err, "log.300000001: not a ZooKeeper txn log")
	// A record ZooKeeper never writes (a getData) is refused.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "version-2", "log.300000001"),
		zkFile(zkRecord(zkEntry(7, 0, 0x300000001, 3000, model.OpGetData, nil, false))), 0o644))
	_, err = ReadZooKeeperLog(dir)
	require.ErrorContains(t, err, "which ZooKeeper does not log")

	// No version-2 directory: nothing logged.
	txns, err = ReadZooKeeperLog(t.TempDir())
	require.NoError(t, err)
	require.Empty(t, txns)
}

// Apache ZooKeeper's own logs, after writes of every kind, a crash and a
// restart, read back: each server's log is in zxid order, the servers
// agree, and every acknowledged write is there as the client asked.
func TestCluster_ZooKeeperTxnLogsHoldEveryAcknowledgedWrite(t *testing.T) {
	skipProcesses(t)
	if _, err := real.ZooKeeperClassPath(); err != nil {
		t.Skip(err)
	}
	c := startCluster(t, Options{Target: TargetZooKeeper, Servers: 3})
	l := waitLeader(t, c, 30*time.Second, anyLeader)
	f := l%3 + 1
	conn := connect(t, c, 101, f)
	acl := zk.WorldACL(zk.PermAll)
	var ops []checker.Op
	write := func(kind checker.OpKind, path string, data []byte, mode model.CreateMode, do func() (int64, error)) {
		zxid, err := do()
		op := checker.Op{Kind: kind, Path: path, Data: data, Mode: mode, Session: conn.SessionID(), Zxid: model.Zxid(zxid), Return: 1}
		if err != nil {
			op.Err = model.ErrNodeExists
			require.ErrorIs(t, err, zk.ErrNodeExists)
		}
		ops = append(ops, op)
	}
	// go-zookeeper gives a write's zxid only in a Stat: a create's is its
	// node's czxid.
	created := func(path string, err error) (int64, error) {
		require.NoError(t, err)
		_, st, err := conn.Exists(path)
		require.NoError(t, err)
		return st.Czxid, nil
	}
	write(checker.OpCreate, "/a", []byte("v1"), model.ModePersistent, func() (int64, error) {
		return created(conn.Create("/a", []byte("v1"), 0, acl))
	})
	write(checker.OpSetData, "/a", []byte("v2"), 0, func() (int64, error) {
		st, err := conn.Set("/a", []byte("v2"), -1)
		return st.Mzxid, err
	})
	var seqPath string
	write(checker.OpCreate, "/q-", []byte("e"), model.ModeEphemeralSequential, func() (int64, error) {
		p, err := conn.Create("/q-", []byte("e"), zk.FlagEphemeral|zk.FlagSequence, acl)
		seqPath = p
		return created(p, err)
	})
	_, err := conn.Multi(&zk.CreateRequest{Path: "/m", Data: []byte("x"), Acl: acl}, &zk.SetDataRequest{Path: "/a", Data: []byte("v3"), Version: -1})
	require.NoError(t, err)
	_, err = conn.Create("/a", nil, 0, acl)
	require.ErrorIs(t, err, zk.ErrNodeExists)

	c.Crash(f%3 + 1)
	_, err = conn.Create("/b", nil, 0, acl)
	require.NoError(t, err)
	c.Restart(f%3 + 1)
	_, err = conn.Sync("/")
	require.NoError(t, err)
	conn.Close()
	conn2 := connect(t, c, 102, l)
	_, err = conn2.Sync("/")
	require.NoError(t, err)
	eventually(t, 60*time.Second, "every server holds /b", func() error {
		for _, id := range c.Servers() {
			if _, err := zxidOf(c, id); err != nil {
				return err
			}
		}
		return nil
	})
	time.Sleep(time.Second)

	logs, err := c.TxnLogs()
	require.NoError(t, err)
	var byServer [][]checker.Txn
	byServer = make([][]checker.Txn, 4)
	kinds := map[model.OpCode]int{}
	for id, txns := range logs {
		byServer[id] = txns
		for _, x := range txns {
			kinds[x.Txn.Op()]++
		}
	}
	t.Logf("op codes logged: %v (sequential node %s)", kinds, seqPath)
	for _, op := range []model.OpCode{model.OpCreateSession, model.OpCreate, model.OpSetData, model.OpMulti, model.OpError, model.OpCloseSession} {
		require.Positive(t, kinds[op], "a %v txn is logged", op)
	}
	h := &checker.History{Servers: 3, Ops: ops}
	res := checker.CheckTxnLogs(h, byServer)
	require.Equal(t, checker.VerdictOK, res.Verdict, "%s\n%s", res.Explanation, res.Details)

	// A write the logs do not hold is caught as lost.
	h.Ops = append(h.Ops, checker.Op{Kind: checker.OpSetData, Path: "/a", Session: conn.SessionID(), Zxid: 0x7fff00000001, Return: 1})
	res = checker.CheckTxnLogs(h, byServer)
	require.Equal(t, checker.VerdictViolation, res.Verdict)
	require.Contains(t, res.Explanation, "lost")
}
