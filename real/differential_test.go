package real

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The differential test: seeded random sequences of operations, run one at
// a time through go-zookeeper against a zoosim ensemble and an Apache
// ZooKeeper 3.8 ensemble, every result compared. Three sessions take turns
// (alice and bob authenticated by digest, anon not), all on the ensembles'
// first server, so that each result is decided by the order of the
// operations alone.
//
// Normalizations (what legitimately differs between two correct servers):
//   - zxids (czxid, mzxid, pzxid) and times (ctime, mtime) are dropped:
//     each ensemble numbers its own epochs and has its own clock;
//   - session ids (ephemeralOwner) are named by their session's slot
//     (alice, bob, anon, with a generation after each reconnect);
//   - children lists are sorted (ZooKeeper returns them in hash order).
//
// Excluded by construction, because the two differ on purpose in timing
// only: children under containers (ZooKeeper's container sweep runs every
// 60 s, zoosim's every tick) and TTL expiry (TTLs are an hour).
//
// ZOOSIM_DIFF_SEEDS (default 3) and ZOOSIM_DIFF_OPS (default 200) size it.

type diffOp struct {
	slot int // the session that issues it
	kind string
	path string
	data []byte
	ver  int32
	mode int32 // create flags
	acl  int   // index in diffACLs
	ops  []any // multi
}

func (o diffOp) String() string {
	s := fmt.Sprintf("%s as %s %s", o.kind, diffSlots[o.slot].name, o.path)
	switch o.kind {
	case "create", "createContainer", "createTTL":
		s += fmt.Sprintf(" flags=%d acl=%s data=%q", o.mode, diffACLs[o.acl].name, o.data)
	case "set":
		s += fmt.Sprintf(" v=%d data=%q", o.ver, o.data)
	case "delete":
		s += fmt.Sprintf(" v=%d", o.ver)
	case "setACL":
		s += fmt.Sprintf(" v=%d acl=%s", o.ver, diffACLs[o.acl].name)
	case "multi":
		var parts []string
		for _, op := range o.ops {
			switch r := op.(type) {
			case *zk.CreateRequest:
				parts = append(parts, fmt.Sprintf("create %s flags=%d", r.Path, r.Flags))
			case *zk.DeleteRequest:
				parts = append(parts, fmt.Sprintf("delete %s v=%d", r.Path, r.Version))
			case *zk.SetDataRequest:
				parts = append(parts, fmt.Sprintf("set %s v=%d", r.Path, r.Version))
			case *zk.CheckVersionRequest:
				parts = append(parts, fmt.Sprintf("check %s v=%d", r.Path, r.Version))
			}
		}
		s += " [" + strings.Join(parts, "; ") + "]"
	}
	return s
}

var diffSlots = []struct {
	name, creds string
}{{"alice", "alice:secret"}, {"bob", "bob:secret"}, {"anon", ""}}

var diffACLs = []struct {
	name string
	acl  []zk.ACL
}{
	{"open", zk.WorldACL(zk.PermAll)},
	{"world-read", zk.WorldACL(zk.PermRead)},
	{"world-no-delete", zk.WorldACL(zk.PermAll &^ zk.PermDelete)},
	{"alice", zk.DigestACL(zk.PermAll, "alice", "secret")},
	{"bob-rw", zk.DigestACL(zk.PermRead|zk.PermWrite, "bob", "secret")},
	{"auth", zk.AuthACL(zk.PermAll)},
	{"ip-local", []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "127.0.0.1"}}},
	{"ip-far", []zk.ACL{{Perms: zk.PermRead, Scheme: "ip", ID: "10.0.0.0/8"}}},
	{"mixed", append(zk.WorldACL(zk.PermRead), zk.DigestACL(zk.PermAll, "alice", "secret")...)},
	{"bad-digest", []zk.ACL{{Perms: zk.PermAll, Scheme: "digest", ID: "nocolon"}}},
	{"bad-scheme", []zk.ACL{{Perms: zk.PermAll, Scheme: "x509", ID: "CN=a"}}},
	{"empty", []zk.ACL{}},
}

// diffPath draws a path: parents that exist often, an ephemeral's child,
// and leaves reserved for containers and TTL nodes (never parents).
func diffPath(r *rand.Rand) string {
	parents := []string{"/d", "/d", "/d/a", "/d/b", "/d/a/a", "/d/e", "/d/e"}
	p := parents[r.IntN(len(parents))]
	return p + "/" + []string{"a", "b", "c", "e"}[r.IntN(4)]
}

func diffVersion(r *rand.Rand) int32 { return []int32{-1, -1, 0, 0, 1, 2}[r.IntN(6)] }

func diffData(r *rand.Rand) []byte {
	if r.IntN(5) == 0 {
		return nil
	}
	return []byte(strconv.Itoa(r.IntN(100)))
}

// genDiffOps draws a sequence of operations from a seed.
func genDiffOps(seed uint64, n int) []diffOp {
	r := rand.New(rand.NewPCG(seed, 0xd1ff))
	ops := make([]diffOp, 0, n)
	for len(ops) < n {
		o := diffOp{slot: r.IntN(len(diffSlots)), path: diffPath(r)}
		switch k := r.IntN(100); {
		case k < 22:
			o.kind = "create"
			o.mode = []int32{0, 0, zk.FlagEphemeral, zk.FlagSequence, zk.FlagEphemeral | zk.FlagSequence}[r.IntN(5)]
			if strings.HasSuffix(o.path, "/e") {
				o.mode |= zk.FlagEphemeral
			}
			o.data, o.acl = diffData(r), diffACL(r)
		case k < 25:
			o.kind, o.mode = "createContainer", zk.FlagContainer
			o.path = o.path[:strings.LastIndexByte(o.path, '/')] + "/box"
			o.data, o.acl = diffData(r), diffACL(r)
		case k < 28:
			o.kind = "createTTL"
			o.mode = []int32{zk.FlagTTL, zk.FlagPersistentSequentialWithTTL}[r.IntN(2)]
			o.path = o.path[:strings.LastIndexByte(o.path, '/')] + "/ttl"
			o.data, o.acl = diffData(r), diffACL(r)
		case k < 40:
			o.kind, o.data, o.ver = "set", diffData(r), diffVersion(r)
		case k < 50:
			o.kind, o.ver = "delete", diffVersion(r)
		case k < 58:
			o.kind = "get"
		case k < 64:
			o.kind = "exists"
		case k < 72:
			o.kind = "children"
			o.path = o.path[:strings.LastIndexByte(o.path, '/')]
		case k < 76:
			o.kind = "getACL"
		case k < 81:
			o.kind, o.acl, o.ver = "setACL", diffACL(r), []int32{-1, -1, 0, 1}[r.IntN(4)]
		case k < 95:
			o.kind = "multi"
			for range 1 + r.IntN(4) {
				p := diffPath(r)
				switch r.IntN(4) {
				case 0:
					o.ops = append(o.ops, &zk.CreateRequest{Path: p, Data: diffData(r),
						Acl: diffACLs[diffACL(r)].acl, Flags: []int32{0, zk.FlagSequence, zk.FlagEphemeral}[r.IntN(3)]})
				case 1:
					o.ops = append(o.ops, &zk.DeleteRequest{Path: p, Version: diffVersion(r)})
				case 2:
					o.ops = append(o.ops, &zk.SetDataRequest{Path: p, Data: diffData(r), Version: diffVersion(r)})
				default:
					o.ops = append(o.ops, &zk.CheckVersionRequest{Path: p, Version: diffVersion(r)})
				}
			}
		case k < 98:
			o.kind = "sync"
		default:
			o.kind = "reconnect"
		}
		ops = append(ops, o)
	}
	return ops
}

// diffACL mostly draws ACLs that are valid.
func diffACL(r *rand.Rand) int {
	if r.IntN(10) == 0 {
		return len(diffACLs) - 3 + r.IntN(3)
	}
	return r.IntN(len(diffACLs) - 3)
}

// diffRunner runs a sequence against one ensemble.
type diffRunner struct {
	t     *testing.T
	addr  string
	conns []*zk.Conn
	names map[int64]string // session id -> slot name and generation
	gen   []int
}

func newDiffRunner(t *testing.T, addr string) *diffRunner {
	d := &diffRunner{t: t, addr: addr, names: map[int64]string{}, gen: make([]int, len(diffSlots)),
		conns: make([]*zk.Conn, len(diffSlots))}
	for i := range diffSlots {
		d.open(i)
	}
	t.Cleanup(d.closeAll)
	return d
}

func (d *diffRunner) open(slot int) {
	s := connect(d.t, []string{d.addr}, 10*time.Second)
	if c := diffSlots[slot].creds; c != "" {
		require.NoError(d.t, s.AddAuth("digest", []byte(c)))
	}
	d.conns[slot] = s.Conn
	d.gen[slot]++
	d.names[s.SessionID()] = fmt.Sprintf("%s#%d", diffSlots[slot].name, d.gen[slot])
}

func (d *diffRunner) closeAll() {
	for _, c := range d.conns {
		if c != nil {
			c.Close()
		}
	}
}

func (d *diffRunner) stat(st *zk.Stat) string {
	if st == nil {
		return "nil"
	}
	owner := "0"
	if st.EphemeralOwner != 0 {
		owner = d.names[st.EphemeralOwner]
		if owner == "" {
			owner = "unknown-session"
		}
	}
	return fmt.Sprintf("{v=%d cv=%d av=%d len=%d kids=%d owner=%s}", st.Version, st.Cversion, st.Aversion, st.DataLength,
		st.NumChildren, owner)
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// run performs one operation and describes its result.
func (d *diffRunner) run(o diffOp) string {
	c := d.conns[o.slot]
	acl := diffACLs[o.acl].acl
	switch o.kind {
	case "create":
		p, err := c.Create(o.path, o.data, o.mode, acl)
		return p + " " + errText(err)
	case "createContainer":
		p, err := c.CreateContainer(o.path, o.data, o.mode, acl)
		return p + " " + errText(err)
	case "createTTL":
		p, err := c.CreateTTL(o.path, o.data, o.mode, acl, time.Hour)
		return p + " " + errText(err)
	case "set":
		st, err := c.Set(o.path, o.data, o.ver)
		return d.stat(st) + " " + errText(err)
	case "delete":
		return errText(c.Delete(o.path, o.ver))
	case "get":
		data, st, err := c.Get(o.path)
		return fmt.Sprintf("%q %s %s", data, d.stat(st), errText(err))
	case "exists":
		ok, st, err := c.Exists(o.path)
		return fmt.Sprintf("%v %s %s", ok, d.stat(st), errText(err))
	case "children":
		kids, st, err := c.Children(o.path)
		slices.Sort(kids)
		return fmt.Sprintf("%v %s %s", kids, d.stat(st), errText(err))
	case "getACL":
		acl, st, err := c.GetACL(o.path)
		return fmt.Sprintf("%v %s %s", acl, d.stat(st), errText(err))
	case "setACL":
		st, err := c.SetACL(o.path, acl, o.ver)
		return d.stat(st) + " " + errText(err)
	case "multi":
		res, err := c.Multi(o.ops...)
		var parts []string
		for _, r := range res {
			parts = append(parts, fmt.Sprintf("%s %s %s", r.String, d.stat(r.Stat), errText(r.Error)))
		}
		return fmt.Sprintf("[%s] %s", strings.Join(parts, "; "), errText(err))
	case "sync":
		p, err := c.Sync("/d")
		return p + " " + errText(err)
	case "reconnect":
		c.Close()
		d.open(o.slot)
		return "reconnected"
	}
	panic("differential: unknown op " + o.kind)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestSideBySide_ThreeServerEnsembles runs a zoosim and an Apache
// ZooKeeper 3.8 ensemble of three and compares them: op by op on seeded
// random sequences; the four-letter words of each server; what kazoo's and
// zkCli.sh's scripted sessions print; and the go-zookeeper suite, with the
// same expectations on both (it kills a server, so it comes last).
func TestSideBySide_ThreeServerEnsembles(t *testing.T) {
	skipProcesses(t)
	skipWithoutZooKeeper(t)
	extra := []string{"extendedTypesEnabled=true", "4lw.commands.whitelist=*", superDigestLine}
	targets := []target{zoosimTarget(t, 3, extra...), zookeeperTarget(t, 3, extra...)}
	t.Run("differential", func(t *testing.T) { differential(t, targets) })
	t.Run("four-letter words of an ensemble", func(t *testing.T) { ensembleFourLetterWords(t, targets) })
	t.Run("kazoo and zkCli.sh print the same", func(t *testing.T) {
		zsKazoo, zsCli := clientsOn(t, targets[0])
		zkKazoo, zkCli := clientsOn(t, targets[1])
		checkKazoo(t, zkKazoo) // the expectations hold for Apache ZooKeeper too
		checkZkCli(t, zkCli)
		if zsKazoo != "" && zkKazoo != "" {
			assert.Equal(t, zkKazoo, zsKazoo, "kazoo")
		}
		if zsCli != "" && zkCli != "" {
			assert.Equal(t, zkCli, zsCli, "zkCli.sh")
		}
	})
	for _, tg := range targets {
		t.Run("go-zookeeper suite on "+tg.name, func(t *testing.T) { goZKSuite(t, tg, true) })
	}
}

// differential compares every result of seeded random op sequences.
func differential(t *testing.T, targets []target) {
	seeds, n := envInt("ZOOSIM_DIFF_SEEDS", 3), envInt("ZOOSIM_DIFF_OPS", 200)
	compared := 0
	outcomes := map[string]int{} // how often each error (or ok) came back, for coverage
	for seed := 1; seed <= seeds; seed++ {
		ops := genDiffOps(uint64(seed), n)
		root := fmt.Sprintf("/d%d", seed)
		results := make([][]string, len(targets))
		for ti, tg := range targets {
			d := newDiffRunner(t, tg.addrs[0])
			// Each seed works under its own root, created first.
			_, err := d.conns[0].Create(root, nil, 0, zk.WorldACL(zk.PermAll))
			require.NoError(t, err)
			for _, p := range []string{root + "/a", root + "/b", root + "/a/a"} {
				_, err := d.conns[0].Create(p, nil, 0, zk.WorldACL(zk.PermAll))
				require.NoError(t, err)
			}
			_, err = d.conns[0].Create(root+"/e", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)) // alice's, until she reconnects
			require.NoError(t, err)
			for _, o := range ops {
				results[ti] = append(results[ti], d.run(rooted(o, root)))
			}
			d.closeAll()
		}
		for i := range ops {
			if results[0][i] != results[1][i] {
				from := max(0, i-8)
				var ctx strings.Builder
				for j := from; j <= i; j++ {
					fmt.Fprintf(&ctx, "  %3d %s\n      zoosim:    %s\n      zookeeper: %s\n", j, rooted(ops[j], root),
						results[0][j], results[1][j])
				}
				t.Fatalf("seed %d, op %d differs (rerun with ZOOSIM_DIFF_SEEDS=%d):\n%s", seed, i, seed, ctx.String())
			}
			compared++
			for _, e := range diffErrors {
				if strings.Contains(results[0][i], e) {
					outcomes[e]++
				}
			}
		}
	}
	t.Logf("%d operations over %d seeds: the same results and errors on zoosim and Apache ZooKeeper; outcomes %v",
		compared, seeds, outcomes)
	for _, e := range diffErrors {
		require.Positive(t, outcomes[e], "the sequences never gave %q: the generator lost coverage", e)
	}
}

// ensembleFourLetterWords compares what the servers of two ensembles say of
// themselves: one leader and two followers, the same answers up to counters
// and addresses, conf with the membership, mntr with the quorum keys.
func ensembleFourLetterWords(t *testing.T, targets []target) {
	modes := map[string][]string{}
	shapes := map[string][]string{}
	confKeys := map[string][]string{}
	mntrKeys := map[string]map[string]string{}
	for _, tg := range targets {
		for _, addr := range tg.addrs {
			srvr, err := fourLetterWord(addr, "srvr")
			require.NoError(t, err)
			mode := keyValues(srvr, ": ")["Mode"]
			modes[tg.name] = append(modes[tg.name], mode)
			shapes[tg.name] = append(shapes[tg.name], mode+": "+shape(normalize(srvr)))

			conf, err := fourLetterWord(addr, "conf")
			require.NoError(t, err)
			var keys []string
			for _, l := range strings.Split(conf, "\n") {
				k, _, _ := strings.Cut(l, "=")
				if !strings.HasPrefix(k, "zoosim.") {
					keys = append(keys, shape(k))
				}
			}
			confKeys[tg.name] = append(confKeys[tg.name], strings.Join(keys, ","))
			require.True(t, strings.HasSuffix(conf, "version=0"), "%s: conf ends with the config version and no newline", tg.name)

			mntr, err := fourLetterWord(addr, "mntr")
			require.NoError(t, err)
			kv := keyValues(mntr, "\t")
			if mntrKeys[tg.name] == nil {
				mntrKeys[tg.name] = map[string]string{}
			}
			for _, k := range []string{"zk_server_state", "zk_peer_state", "zk_quorum_size"} {
				mntrKeys[tg.name][mode+" "+k] = kv[k]
			}
			for k := range kv {
				if tg.name == "zoosim" {
					mntrKeys[tg.name]["has "+mode+" "+k] = "yes"
				}
			}
		}
		slices.Sort(modes[tg.name])
		slices.Sort(shapes[tg.name])
		slices.Sort(confKeys[tg.name])
	}
	assert.Equal(t, []string{"follower", "follower", "leader"}, modes["zookeeper"])
	assert.Equal(t, modes["zookeeper"], modes["zoosim"])
	assert.Equal(t, shapes["zookeeper"], shapes["zoosim"], "srvr")
	assert.Equal(t, confKeys["zookeeper"], confKeys["zoosim"], "conf")
	for k, v := range mntrKeys["zookeeper"] {
		assert.Equal(t, v, mntrKeys["zoosim"][k], "mntr %s", k)
	}
	for k := range mntrKeys["zoosim"] {
		if rest, ok := strings.CutPrefix(k, "has "); ok {
			mode, key, _ := strings.Cut(rest, " ")
			found := false
			for _, addr := range targets[1].addrs {
				if m, _ := fourLetterWord(addr, "mntr"); strings.Contains(m, "zk_server_state\t"+mode+"\n") {
					_, found = keyValues(m, "\t")[key]
					break
				}
			}
			assert.True(t, found, "zoosim's %s reports %s, which ZooKeeper's %s does not", mode, key, mode)
		}
	}
}

// diffErrors are the outcomes the generated sequences must reach (go-zk's
// words for ZooKeeper's error codes).
var diffErrors = []string{" ok", zk.ErrNodeExists.Error(), zk.ErrNoNode.Error(), zk.ErrBadVersion.Error(),
	zk.ErrNoAuth.Error(), zk.ErrInvalidACL.Error(), zk.ErrNotEmpty.Error(), zk.ErrNoChildrenForEphemerals.Error()}

// rooted moves an op under a seed's root (/d -> /dN).
func rooted(o diffOp, root string) diffOp {
	re := func(p string) string { return root + strings.TrimPrefix(p, "/d") }
	o.path = re(o.path)
	if len(o.ops) > 0 {
		ops := make([]any, len(o.ops))
		for i, op := range o.ops {
			switch r := op.(type) {
			case *zk.CreateRequest:
				c := *r
				c.Path = re(c.Path)
				ops[i] = &c
			case *zk.DeleteRequest:
				c := *r
				c.Path = re(c.Path)
				ops[i] = &c
			case *zk.SetDataRequest:
				c := *r
				c.Path = re(c.Path)
				ops[i] = &c
			case *zk.CheckVersionRequest:
				c := *r
				c.Path = re(c.Path)
				ops[i] = &c
			}
		}
		o.ops = ops
	}
	return o
}
