package real

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/model"
	"zoosim/wire"
)

// The operations go-zookeeper does not have, and requests no client
// library would send, byte by byte against a standalone zoosim and a
// standalone Apache ZooKeeper 3.8: create2, containers and TTL nodes in and
// out of multis, multiRead, getAllChildrenNumber, getEphemerals, addWatch
// and the watch removal ops, whoAmI before and after addauth, bad paths and
// ZooKeeper's own nodes. Every reply and every event is compared, with
// zxids, times and the session id left out.

type rawStep struct {
	name string
	req  *wire.Request
	// differs says why zoosim answers this step otherwise, on purpose.
	differs string
}

// watchRemoval39 is the difference in checkWatches and removeWatches.
const watchRemoval39 = "zoosim removes and checks watches as ZooKeeper 3.9 does (by watch mode, with the " +
	"Persistent and PersistentRecursive types 4 and 5); 3.8.0 knows types 1-3 only (4 and 5 are MarshallingError) " +
	"and its Data and Children types match watches of every mode"

func rawCreate(op model.OpCode, path string, mode model.CreateMode, ttl int64) *wire.Request {
	return &wire.Request{Op: op, Path: path, Write: model.Create{Path: path, Data: []byte("v"), ACL: model.OpenACLUnsafe, Mode: mode, TTL: ttl}}
}

func rawRead(op model.OpCode, path string) *wire.Request { return &wire.Request{Op: op, Path: path} }

var rawSteps = []rawStep{
	{name: "create2", req: rawCreate(model.OpCreate2, "/r", model.ModePersistent, 0)},
	{name: "create2 sequential", req: rawCreate(model.OpCreate2, "/r/s-", model.ModePersistentSequential, 0)},
	{name: "create2 ephemeral", req: rawCreate(model.OpCreate2, "/r/eph", model.ModeEphemeral, 0)},
	{name: "create2 of an existing node", req: rawCreate(model.OpCreate2, "/r", model.ModePersistent, 0)},
	{name: "createContainer", req: rawCreate(model.OpCreateContainer, "/r/box", model.ModeContainer, 0)},
	{name: "createContainer with a persistent mode", req: rawCreate(model.OpCreateContainer, "/r/box2", model.ModePersistent, 0)},
	{name: "create with the container mode", req: rawCreate(model.OpCreate, "/r/box3", model.ModeContainer, 0)},
	{name: "createTTL", req: rawCreate(model.OpCreateTTL, "/r/ttl", model.ModePersistentWithTTL, 3600000)},
	{name: "createTTL without a TTL", req: rawCreate(model.OpCreateTTL, "/r/ttl0", model.ModePersistentWithTTL, 0)},
	{name: "createTTL with an ephemeral mode", req: rawCreate(model.OpCreateTTL, "/r/ttl1", model.ModeEphemeral, 1000)},
	{name: "create with a TTL mode", req: rawCreate(model.OpCreate, "/r/ttl2", model.ModePersistentWithTTL, 0)},
	{name: "create with an unknown mode", req: rawCreate(model.OpCreate, "/r/odd", model.CreateMode(9), 0)},
	{name: "multi with a container and a TTL node", req: &wire.Request{Op: model.OpMulti, Write: model.Multi{Ops: []model.Request{
		model.Create{Path: "/r/mbox", ACL: model.OpenACLUnsafe, Mode: model.ModeContainer},
		model.Create{Path: "/r/mttl", ACL: model.OpenACLUnsafe, Mode: model.ModePersistentSequentialWithTTL, TTL: 3600000},
		model.Check{Path: "/r", Version: 0}}}}},
	{name: "multi failing in its middle", req: &wire.Request{Op: model.OpMulti, Write: model.Multi{Ops: []model.Request{
		model.Create{Path: "/r/m1", ACL: model.OpenACLUnsafe}, model.Delete{Path: "/r/nope", Version: -1},
		model.SetData{Path: "/r", Version: 5}}}}},
	{name: "an empty multi", req: &wire.Request{Op: model.OpMulti, Write: model.Multi{}}},
	{name: "getAllChildrenNumber", req: rawRead(model.OpGetAllChildrenNumber, "/r")},
	{name: "getAllChildrenNumber of the root", req: rawRead(model.OpGetAllChildrenNumber, "/")},
	{name: "getAllChildrenNumber of nothing", req: rawRead(model.OpGetAllChildrenNumber, "/nope")},
	{name: "getEphemerals", req: rawRead(model.OpGetEphemerals, "/")},
	{name: "getEphemerals under a prefix", req: rawRead(model.OpGetEphemerals, "/r/e")},
	{name: "getEphemerals under another prefix", req: rawRead(model.OpGetEphemerals, "/x")},
	{name: "multiRead", req: &wire.Request{Op: model.OpMultiRead, Reads: []wire.ReadOp{{Op: model.OpGetData, Path: "/r"},
		{Op: model.OpGetChildren, Path: "/r"}, {Op: model.OpGetData, Path: "/nope"}, {Op: model.OpGetChildren, Path: "/nope"}}}},
	{name: "an empty multiRead", req: &wire.Request{Op: model.OpMultiRead}},
	{name: "addWatch persistent", req: &wire.Request{Op: model.OpAddWatch, Path: "/r", Mode: 0}},
	{name: "addWatch persistent recursive", req: &wire.Request{Op: model.OpAddWatch, Path: "/r/box", Mode: 1}},
	{name: "checkWatches data", req: &wire.Request{Op: model.OpCheckWatches, Path: "/r", Mode: int32(model.WatcherData)}, differs: watchRemoval39},
	{name: "checkWatches persistent", req: &wire.Request{Op: model.OpCheckWatches, Path: "/r", Mode: int32(model.WatcherPersistent)}, differs: watchRemoval39},
	{name: "a change under the watches", req: &wire.Request{Op: model.OpSetData, Path: "/r/box", Write: model.SetData{Path: "/r/box", Data: []byte("w"), Version: -1}}},
	{name: "a child under the watches", req: rawCreate(model.OpCreate, "/r/box/kid", model.ModePersistent, 0)},
	{name: "removeWatches recursive", req: &wire.Request{Op: model.OpRemoveWatches, Path: "/r/box", Mode: int32(model.WatcherPersistentRecursive)}, differs: watchRemoval39},
	{name: "removeWatches of none", req: &wire.Request{Op: model.OpRemoveWatches, Path: "/r/box", Mode: int32(model.WatcherData)}, differs: watchRemoval39},
	{name: "removeWatches any", req: &wire.Request{Op: model.OpRemoveWatches, Path: "/r", Mode: int32(model.WatcherAny)}},
	{name: "getData with a watch", req: &wire.Request{Op: model.OpGetData, Path: "/r", Watch: true}},
	{name: "removeWatches data", req: &wire.Request{Op: model.OpRemoveWatches, Path: "/r", Mode: int32(model.WatcherData)}},
	{name: "whoAmI", req: &wire.Request{Op: model.OpWhoAmI}},
	{name: "addauth digest", req: &wire.Request{Op: model.OpAuth, Auth: &wire.Auth{Scheme: "digest", Auth: []byte("alice:secret")}}},
	{name: "addauth ip", req: &wire.Request{Op: model.OpAuth, Auth: &wire.Auth{Scheme: "ip", Auth: []byte("ignored")}}},
	{name: "whoAmI after addauth", req: &wire.Request{Op: model.OpWhoAmI}},
	{name: "getACL of the root", req: rawRead(model.OpGetACL, "/")},
	{name: "getACL of /zookeeper/config", req: rawRead(model.OpGetACL, "/zookeeper/config")},
	{name: "getChildren of /zookeeper", req: rawRead(model.OpGetChildren, "/zookeeper")},
	{name: "getData of /zookeeper/config", req: rawRead(model.OpGetData, "/zookeeper/config")},
	{name: "setData of /zookeeper/config", req: &wire.Request{Op: model.OpSetData, Path: "/zookeeper/config",
		Write: model.SetData{Path: "/zookeeper/config", Data: []byte("x"), Version: -1}}},
	{name: "create under /zookeeper", req: rawCreate(model.OpCreate, "/zookeeper/mine", model.ModePersistent, 0)},
	{name: "delete /zookeeper/mine", req: &wire.Request{Op: model.OpDelete, Path: "/zookeeper/mine", Write: model.Delete{Path: "/zookeeper/mine", Version: -1}}},
	{name: "delete /zookeeper", req: &wire.Request{Op: model.OpDelete, Path: "/zookeeper", Write: model.Delete{Path: "/zookeeper", Version: -1}}},
	{name: "delete the root", req: &wire.Request{Op: model.OpDelete, Path: "/", Write: model.Delete{Path: "/", Version: -1}}},
	{name: "create with a trailing slash", req: rawCreate(model.OpCreate, "/r/", model.ModePersistent, 0)},
	{name: "create a relative path", req: rawCreate(model.OpCreate, "r2", model.ModePersistent, 0)},
	{name: "create with an empty component", req: rawCreate(model.OpCreate, "/r//x", model.ModePersistent, 0)},
	{name: "create with a dot", req: rawCreate(model.OpCreate, "/r/./x", model.ModePersistent, 0)},
	{name: "exists of a relative path", req: rawRead(model.OpExists, "r")},
	{name: "getData of a relative path", req: rawRead(model.OpGetData, "r")},
	{name: "getChildren of a relative path", req: rawRead(model.OpGetChildren, "r")},
	{name: "setData of a relative path", req: &wire.Request{Op: model.OpSetData, Path: "r", Write: model.SetData{Path: "r", Version: -1}}},
	{name: "delete a relative path", req: &wire.Request{Op: model.OpDelete, Path: "r", Write: model.Delete{Path: "r", Version: -1}}},
	{name: "sync", req: rawRead(model.OpSync, "/r")},
	{name: "sync of a relative path", req: rawRead(model.OpSync, "r")},
	{name: "setACL with an aversion", req: &wire.Request{Op: model.OpSetACL, Path: "/r", Write: model.SetACL{Path: "/r", ACL: model.OpenACLUnsafe, Version: 0}}},
	{name: "setACL with a stale aversion", req: &wire.Request{Op: model.OpSetACL, Path: "/r", Write: model.SetACL{Path: "/r", ACL: model.OpenACLUnsafe, Version: 0}}},
	{name: "getChildren2 of the root", req: rawRead(model.OpGetChildren2, "/")},
	{name: "addauth without a provider", req: &wire.Request{Op: model.OpAuth, Auth: &wire.Auth{Scheme: "kerberos", Auth: []byte("x")}}},
}

// rawRun sends each step on one session and describes every reply and the
// events before it.
func rawRun(t *testing.T, addr string) []string {
	rc := rawConnect(t, addr)
	session := rc.connected.SessionID
	var out []string
	for _, st := range rawSteps {
		req := *st.req
		if req.Op == model.OpAuth {
			req.Xid = wire.XidAuth
		} else {
			rc.xid++
			req.Xid = rc.xid
		}
		rc.send(t, &req)
		var events []string
		for {
			switch m := rc.recv(t).(type) {
			case *wire.Event:
				events = append(events, fmt.Sprintf("event %d %s", m.Type, m.Path))
				continue
			case *wire.Reply:
				require.Equal(t, req.Xid, m.Xid, st.name)
				out = append(out, st.name+": "+strings.Join(append(events, rawReply(m, session)), "; "))
			default:
				t.Fatalf("%s: unexpected %T", st.name, m)
			}
			break
		}
		if st.req.Op == model.OpAuth && st.req.Auth.Scheme == "kerberos" {
			out[len(out)-1] += fmt.Sprintf("; the connection is closed: %v", rc.closed(t))
		}
	}
	return out
}

func rawStat(s model.Stat, session int64) string {
	owner := "0"
	if s.EphemeralOwner == session {
		owner = "session"
	} else if s.EphemeralOwner != 0 {
		owner = "other"
	}
	return fmt.Sprintf("{v=%d cv=%d av=%d len=%d kids=%d owner=%s}", s.Version, s.Cversion, s.Aversion, s.DataLength, s.NumChildren, owner)
}

func rawReply(m *wire.Reply, session int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "err=%d", m.Err)
	if m.Path != "" {
		fmt.Fprintf(&b, " path=%s", m.Path)
	}
	if m.Stat != (model.Stat{}) {
		b.WriteString(" stat=" + rawStat(m.Stat, session))
	}
	if m.Data != nil {
		fmt.Fprintf(&b, " data=%q", m.Data)
	}
	if m.Children != nil {
		kids := slices.Clone(m.Children)
		slices.Sort(kids)
		fmt.Fprintf(&b, " children=%v", kids)
	}
	if m.ACL != nil {
		fmt.Fprintf(&b, " acl=%v", m.ACL)
	}
	if m.Number != 0 {
		fmt.Fprintf(&b, " number=%d", m.Number)
	}
	for _, r := range m.Multi {
		fmt.Fprintf(&b, " [op=%d err=%d path=%s stat=%s]", r.Op, r.Err, r.Path, rawStat(r.Stat, session))
	}
	for _, r := range m.Reads {
		kids := slices.Clone(r.Children)
		slices.Sort(kids)
		fmt.Fprintf(&b, " [op=%d err=%d data=%q children=%v stat=%s]", r.Op, r.Err, r.Data, kids, rawStat(r.Stat, session))
	}
	if m.Clients != nil {
		var cs []string
		for _, c := range m.Clients {
			cs = append(cs, c.Scheme+":"+c.User)
		}
		slices.Sort(cs) // ZooKeeper keeps a connection's identities in a hash set
		fmt.Fprintf(&b, " clients=%v", cs)
	}
	return b.String()
}

func TestRawOps_SameAnswersAsApacheZooKeeper(t *testing.T) {
	zke := startZooKeeper(t, 1, "extendedTypesEnabled=true")
	zs, _ := inProcess(t, "extendedTypesEnabled=true\ntickTime=200")
	waitWritable(t, zs.ClientAddr().String())
	want := rawRun(t, zke.Servers[0].ClientAddr())
	got := rawRun(t, zs.ClientAddr().String())
	require.Len(t, got, len(rawSteps))
	require.Len(t, want, len(rawSteps))
	for i, st := range rawSteps {
		if st.differs != "" {
			assert.NotEqual(t, want[i], got[i], "step %d: a kept difference that is gone (%s)", i, st.differs)
			t.Logf("kept difference, step %d:\n  zookeeper: %s\n  zoosim:    %s", i, want[i], got[i])
			continue
		}
		assert.Equal(t, want[i], got[i], "step %d (Apache ZooKeeper first)", i)
	}

	// A check outside a multi (no 3.8 client API sends one): Apache
	// ZooKeeper 3.8.0 applies it, then fails to write its reply (the
	// check's result has no Stat for the SetDataResponse) and never
	// answers; zoosim answers it, with the node's Stat. A difference kept
	// on purpose.
	for _, tc := range []struct {
		addr     string
		answered bool
	}{{zke.Servers[0].ClientAddr(), false}, {zs.ClientAddr().String(), true}} {
		rc := rawConnect(t, tc.addr)
		rc.xid++
		rc.send(t, &wire.Request{Xid: rc.xid, Op: model.OpCheck, Path: "/r", Write: model.Check{Path: "/r", Version: 0}})
		if !tc.answered {
			rc.c.SetReadDeadline(time.Now().Add(time.Second))
			n, err := rc.c.Read(rc.buf)
			assert.Error(t, err, "Apache ZooKeeper 3.8.0 does not answer (read %d bytes)", n)
			continue
		}
		rp, ok := rc.recv(t).(*wire.Reply)
		require.True(t, ok)
		assert.Equal(t, model.ErrOK, rp.Err)
		assert.Equal(t, int32(0), rp.Stat.Version)
	}
}
