package clientport

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/internal/frame"
	"zoosim/internal/golden"
	"zoosim/model"
	"zoosim/wire"
	"zoosim/wire/jute"
)

// The cross-check with another implementation of the protocol: the real
// go-zookeeper client (github.com/go-zookeeper/zk) talks to this package's
// server side over an in-memory pipe (no socket). What go-zk encodes must
// decode into the wire values zoosim's server expects, and what the server
// side encodes must come back from go-zk's API as the values sent. Every
// frame of the conversation (pings aside) is kept in testdata/gozk.golden;
// TestGoZK_GoldenFramesReencodeByteForByte replays that file through both
// sides of this package without go-zk, so the bytes go-zk produced are
// pinned even where the live test cannot look.

// fakeServer is the server end of the pipe, driven by the test goroutine.
type fakeServer struct {
	t      *testing.T
	conn   net.Conn
	sc     *ServerConn
	framer *frame.Framer
	trace  strings.Builder
	buf    []byte
}

const pipeTimeout = 20 * time.Second // a hang guard only: nothing asserts on time

func newFakeServer(t *testing.T, conn net.Conn, nonce uint64) *fakeServer {
	return &fakeServer{t: t, conn: conn, sc: NewServerConn(nonce), framer: jute.NewFramer(), buf: make([]byte, 4096)}
}

// next decodes the next frame go-zk sent, answering pings on the way.
func (s *fakeServer) next() any {
	s.t.Helper()
	for {
		f, err := s.framer.Next()
		require.NoError(s.t, err)
		if f != nil {
			body, err := s.sc.Decode(f)
			require.NoError(s.t, err, "frame %x", f)
			if _, ok := body.(*wire.Ping); ok {
				s.send("", &wire.Pong{Zxid: 1})
				continue
			}
			label := fmt.Sprintf("%T", body)
			if req, ok := body.(*wire.Request); ok {
				label = fmt.Sprintf("%s xid %d op %d", label, req.Xid, req.Op)
			}
			fmt.Fprintf(&s.trace, "client %s\n%s\n", label, hex.EncodeToString(f))
			return body
		}
		require.NoError(s.t, s.conn.SetReadDeadline(time.Now().Add(pipeTimeout)))
		n, err := s.conn.Read(s.buf)
		require.NoError(s.t, err)
		s.framer.Write(s.buf[:n])
	}
}

// expect decodes the next frame and checks it (Header ignored).
func (s *fakeServer) expect(want any) any {
	s.t.Helper()
	got := s.next()
	clearHeader(got)
	require.Equal(s.t, want, got)
	return got
}

func (s *fakeServer) send(label string, bodies ...any) {
	s.t.Helper()
	for _, b := range bodies {
		out, err := s.sc.Append(nil, b)
		require.NoError(s.t, err)
		if label != "" {
			fmt.Fprintf(&s.trace, "server %T (%s)\n%s\n", b, label, hex.EncodeToString(out[frame.HeaderLen:]))
		}
		require.NoError(s.t, s.conn.SetWriteDeadline(time.Now().Add(pipeTimeout)))
		_, err = s.conn.Write(out)
		require.NoError(s.t, err)
	}
}

func clearHeader(body any) {
	switch m := body.(type) {
	case *wire.Connect:
		m.Header = wire.Header{}
	case *wire.Request:
		m.Header = wire.Header{}
	}
}

type oneHost struct{ addr string }

func (h *oneHost) Init(servers []string) error { h.addr = servers[0]; return nil }
func (h *oneHost) Len() int                    { return 1 }
func (h *oneHost) Next() (string, bool)        { return h.addr, false }
func (h *oneHost) Connected()                  {}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

// await waits for a go-zk call made in another goroutine.
func await[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(pipeTimeout):
		t.Fatal("go-zk did not return")
	}
	panic("unreachable")
}

type result struct {
	v   any
	err error
}

func call(f func() (any, error)) <-chan result {
	ch := make(chan result, 1)
	go func() { v, err := f(); ch <- result{v, err} }()
	return ch
}

var (
	goStat = model.Stat{Czxid: 0x100000002, Mzxid: 0x100000003, Ctime: 1700000000000, Mtime: 1700000000500, Version: 1,
		Cversion: 2, Aversion: 3, EphemeralOwner: 0, DataLength: 1, NumChildren: 2, Pzxid: 0x100000004}
	zkStat   = zk.Stat{Czxid: 0x100000002, Mzxid: 0x100000003, Ctime: 1700000000000, Mtime: 1700000000500, Version: 1, Cversion: 2, Aversion: 3, DataLength: 1, NumChildren: 2, Pzxid: 0x100000004}
	openACL  = []model.ACL{{Perms: model.PermAll, Scheme: "world", ID: "anyone"}}
	sessID   = int64(0x1234_5678_9abc)
	sessPass = []byte("0123456789abcdef")
)

func TestGoZK_TheRealClientTalksToTheServerSide(t *testing.T) {
	dials := make(chan net.Conn, 2)
	dialer := func(network, address string, timeout time.Duration) (net.Conn, error) {
		select {
		case c := <-dials:
			return c, nil
		default:
			return nil, errors.New("no connection prepared")
		}
	}
	cli, srvConn := net.Pipe()
	dials <- cli
	conn, _, err := zk.Connect([]string{"zoosim:2181"}, 60*time.Second, zk.WithDialer(dialer),
		zk.WithHostProvider(&oneHost{}), zk.WithLogger(quiet{}), zk.WithLogInfo(false))
	require.NoError(t, err)
	defer conn.Close()
	s := newFakeServer(t, srvConn, 1)

	// Connect: go-zk is an "old client" (no readOnly flag).
	s.expect(&wire.Connect{TimeoutMs: 60000, Passwd: make([]byte, 16)})
	require.True(t, s.sc.oldClient)
	s.send("connect", &wire.Connected{TimeoutMs: 60000, SessionID: sessID, Passwd: sessPass})

	// create, then the three create opcodes of the other modes.
	res := call(func() (any, error) { return conn.Create("/a", []byte("x"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)) })
	s.expect(&wire.Request{Xid: 1, Op: model.OpCreate, Path: "/a", Write: model.Create{Path: "/a", Data: []byte("x"), ACL: openACL, Mode: model.ModeEphemeral}})
	s.send("create", &wire.Reply{Xid: 1, Zxid: 0x100000002, Path: "/a", Stat: goStat})
	r := await(t, res)
	require.NoError(t, r.err)
	assert.Equal(t, "/a", r.v)

	res = call(func() (any, error) {
		return conn.CreateContainer("/c", nil, zk.FlagContainer, zk.WorldACL(zk.PermRead))
	})
	s.expect(&wire.Request{Xid: 2, Op: model.OpCreateContainer, Path: "/c", Write: model.Create{Path: "/c", ACL: []model.ACL{{Perms: model.PermRead, Scheme: "world", ID: "anyone"}}, Mode: model.ModeContainer}})
	s.send("createContainer", &wire.Reply{Xid: 2, Zxid: 0x100000003, Path: "/c", Stat: goStat})
	r = await(t, res)
	require.NoError(t, r.err)
	assert.Equal(t, "/c", r.v, "go-zk reads the path of a Create2Response")

	res = call(func() (any, error) {
		return conn.CreateTTL("/t", []byte{}, zk.FlagPersistentSequentialWithTTL, zk.WorldACL(zk.PermAll), 1500*time.Millisecond)
	})
	s.expect(&wire.Request{Xid: 3, Op: model.OpCreateTTL, Path: "/t", Write: model.Create{Path: "/t", Data: []byte{}, ACL: openACL, Mode: model.ModePersistentSequentialWithTTL, TTL: 1500}})
	s.send("createTTL", &wire.Reply{Xid: 3, Zxid: 0x100000004, Path: "/t0000000001", Stat: goStat})
	r = await(t, res)
	require.NoError(t, r.err)
	assert.Equal(t, "/t0000000001", r.v)

	res = call(func() (any, error) { return conn.Create("/a", nil, 0, zk.WorldACL(zk.PermAll)) })
	s.expect(&wire.Request{Xid: 4, Op: model.OpCreate, Path: "/a", Write: model.Create{Path: "/a", ACL: openACL}})
	s.send("create NodeExists", &wire.Reply{Xid: 4, Zxid: 0x100000004, Err: model.ErrNodeExists})
	r = await(t, res)
	require.ErrorIs(t, r.err, zk.ErrNodeExists)

	// getData with and without a watch; the watch fires.
	res = call(func() (any, error) {
		d, st, err := conn.Get("/a")
		return []any{d, st}, err
	})
	s.expect(&wire.Request{Xid: 5, Op: model.OpGetData, Path: "/a"})
	s.send("getData", &wire.Reply{Xid: 5, Zxid: 0x100000004, Data: []byte("x"), Stat: goStat})
	r = await(t, res)
	require.NoError(t, r.err)
	assert.Equal(t, []any{[]byte("x"), &zkStat}, r.v)

	watchCh := make(chan (<-chan zk.Event), 1)
	res = call(func() (any, error) {
		d, _, ch, err := conn.GetW("/a")
		watchCh <- ch
		return d, err
	})
	s.expect(&wire.Request{Xid: 6, Op: model.OpGetData, Path: "/a", Watch: true})
	s.send("getData with watch", &wire.Reply{Xid: 6, Zxid: 0x100000004, Data: nil, Stat: goStat})
	r = await(t, res)
	require.NoError(t, r.err)
	assert.Nil(t, r.v, "a null buffer stays nil")
	ch := await(t, watchCh)
	s.send("notification", &wire.Event{Type: model.EventNodeDataChanged, State: wire.StateSyncConnected, Path: "/a", Zxid: 0x100000005})
	ev := await(t, ch)
	assert.Equal(t, zk.EventNodeDataChanged, ev.Type)
	assert.Equal(t, "/a", ev.Path)
	assert.Equal(t, zk.State(wire.StateSyncConnected), ev.State)

	// setData, exists (found, missing), getChildren2, delete.
	res = call(func() (any, error) { return conn.Set("/a", []byte("yy"), 1) })
	s.expect(&wire.Request{Xid: 7, Op: model.OpSetData, Path: "/a", Write: model.SetData{Path: "/a", Data: []byte("yy"), Version: 1}})
	s.send("setData", &wire.Reply{Xid: 7, Zxid: 0x100000006, Stat: goStat})
	r = await(t, res)
	require.NoError(t, r.err)
	assert.Equal(t, &zkStat, r.v)

	res = call(func() (any, error) {
		ok, st, err := conn.Exists("/a")
		return []any{ok, st}, err
	})
	s.expect(&wire.Request{Xid: 8, Op: model.OpExists, Path: "/a"})
	s.send("exists", &wire.Reply{Xid: 8, Zxid: 0x100000006, Stat: goStat})
	r = await(t, res)
	require.NoError(t, r.err)
	assert.Equal(t, []any{true, &zkStat}, r.v)

	existCh := make(chan (<-chan zk.Event), 1)
	res = call(func() (any, error) {
		ok, _, ch, err := conn.ExistsW("/e")
		existCh <- ch
		return ok, err
	})
	s.expect(&wire.Request{Xid: 9, Op: model.OpExists, Path: "/e", Watch: true})
	s.send("exists NoNode", &wire.Reply{Xid: 9, Zxid: 0x100000006, Err: model.ErrNoNode})
	r = await(t, res)
	require.NoError(t, r.err)
	assert.Equal(t, false, r.v)
	existWatch := await(t, existCh)

	childCh := make(chan (<-chan zk.Event), 1)
	res = call(func() (any, error) {
		kids, st, ch, err := conn.ChildrenW("/")
		childCh <- ch
		return []any{kids, st}, err
	})
	s.expect(&wire.Request{Xid: 10, Op: model.OpGetChildren2, Path: "/", Watch: true})
	s.send("getChildren2", &wire.Reply{Xid: 10, Zxid: 0x100000006, Children: []string{"a", "zookeeper"}, Stat: goStat})
	r = await(t, res)
	require.NoError(t, r.err)
	assert.Equal(t, []any{[]string{"a", "zookeeper"}, &zkStat}, r.v)
	<-childCh

	res = call(func() (any, error) { return nil, conn.Delete("/gone", -1) })
	s.expect(&wire.Request{Xid: 11, Op: model.OpDelete, Path: "/gone", Write: model.Delete{Path: "/gone", Version: -1}})
	s.send("delete NoNode", &wire.Reply{Xid: 11, Zxid: 0x100000006, Err: model.ErrNoNode})
	require.ErrorIs(t, await(t, res).err, zk.ErrNoNode)

	// ACLs and sync.
	digest := zk.DigestACL(zk.PermRead|zk.PermAdmin, "user", "pw")
	res = call(func() (any, error) { return conn.SetACL("/a", digest, 0) })
	wantDigest := []model.ACL{{Perms: model.PermRead | model.PermAdmin, Scheme: "digest", ID: digest[0].ID}}
	s.expect(&wire.Request{Xid: 12, Op: model.OpSetACL, Path: "/a", Write: model.SetACL{Path: "/a", ACL: wantDigest, Version: 0}})
	s.send("setACL", &wire.Reply{Xid: 12, Zxid: 0x100000007, Stat: goStat})
	r = await(t, res)
	require.NoError(t, r.err)
	assert.Equal(t, &zkStat, r.v)

	res = call(func() (any, error) {
		acl, st, err := conn.GetACL("/a")
		return []any{acl, st}, err
	})
	s.expect(&wire.Request{Xid: 13, Op: model.OpGetACL, Path: "/a"})
	s.send("getACL", &wire.Reply{Xid: 13, Zxid: 0x100000007, ACL: wantDigest, Stat: goStat})
	r = await(t, res)
	require.NoError(t, r.err)
	assert.Equal(t, []any{digest, &zkStat}, r.v)

	res = call(func() (any, error) { return conn.Sync("/a") })
	s.expect(&wire.Request{Xid: 14, Op: model.OpSync, Path: "/a"})
	s.send("sync", &wire.Reply{Xid: 14, Zxid: 0x100000007, Path: "/a"})
	r = await(t, res)
	require.NoError(t, r.err)
	assert.Equal(t, "/a", r.v)

	// multi: one that runs, one that fails (every op an error result).
	ops := []any{
		&zk.CreateRequest{Path: "/m", Data: []byte("1"), Acl: zk.WorldACL(zk.PermAll), Flags: 0},
		&zk.SetDataRequest{Path: "/m", Data: []byte("2"), Version: -1},
		&zk.CheckVersionRequest{Path: "/m", Version: 1},
		&zk.DeleteRequest{Path: "/m", Version: -1},
	}
	res = call(func() (any, error) { return conn.Multi(ops...) })
	s.expect(&wire.Request{Xid: 15, Op: model.OpMulti, Write: model.Multi{Ops: []model.Request{
		model.Create{Path: "/m", Data: []byte("1"), ACL: openACL}, model.SetData{Path: "/m", Data: []byte("2"), Version: -1},
		model.Check{Path: "/m", Version: 1}, model.Delete{Path: "/m", Version: -1}}}})
	s.send("multi", &wire.Reply{Xid: 15, Zxid: 0x100000008, Multi: []wire.OpResult{
		{Op: model.OpCreate, Path: "/m"}, {Op: model.OpSetData, Stat: goStat}, {Op: model.OpCheck}, {Op: model.OpDelete}}})
	r = await(t, res)
	require.NoError(t, r.err)
	assert.Equal(t, []zk.MultiResponse{{String: "/m"}, {Stat: &zkStat}, {}, {}}, r.v)

	res = call(func() (any, error) { return conn.Multi(ops[2], ops[3]) })
	s.expect(&wire.Request{Xid: 16, Op: model.OpMulti, Write: model.Multi{Ops: []model.Request{
		model.Check{Path: "/m", Version: 1}, model.Delete{Path: "/m", Version: -1}}}})
	s.send("multi failed", &wire.Reply{Xid: 16, Zxid: 0x100000008, Err: model.ErrBadVersion, Multi: []wire.OpResult{
		{Op: model.OpError, Err: model.ErrBadVersion}, {Op: model.OpError, Err: model.ErrRuntimeInconsistency}}})
	r = await(t, res)
	require.ErrorIs(t, r.err, zk.ErrBadVersion, "go-zk reports the first failed op")
	mr := r.v.([]zk.MultiResponse)
	require.Len(t, mr, 2)
	assert.Equal(t, zk.ErrBadVersion, mr[0].Error)
	assert.EqualError(t, mr[1].Error, "unknown error: -2", "go-zk has no name for runtimeInconsistency")

	// The connection breaks: go-zk reconnects with its session and last
	// zxid, then re-registers its watches (with a plain xid, not -8).
	require.NoError(t, srvConn.Close())
	cli2, srvConn2 := net.Pipe()
	dials <- cli2
	trace := s.trace.String()
	s = newFakeServer(t, srvConn2, 2)
	s.trace.WriteString(trace)
	s.expect(&wire.Connect{LastZxidSeen: 0x100000008, TimeoutMs: 60000, SessionID: sessID, Passwd: sessPass})
	s.send("reconnect", &wire.Connected{TimeoutMs: 60000, SessionID: sessID, Passwd: sessPass})
	s.expect(&wire.Request{Xid: 17, Op: model.OpSetWatches, SetWatches: &wire.SetWatches{RelativeZxid: 0x100000008,
		Exist: []string{"/e"}, Child: []string{"/"}}})
	s.send("setWatches", &wire.Event{Type: model.EventNodeCreated, State: wire.StateSyncConnected, Path: "/e", Zxid: 0x100000009},
		&wire.Reply{Xid: 17, Zxid: 0x100000009})
	ev = await(t, existWatch)
	assert.Equal(t, zk.EventNodeCreated, ev.Type)
	assert.Equal(t, "/e", ev.Path)

	// addAuth.
	res = call(func() (any, error) { return nil, conn.AddAuth("digest", []byte("user:pw")) })
	s.expect(&wire.Request{Xid: 18, Op: model.OpAuth, Auth: &wire.Auth{Scheme: "digest", Auth: []byte("user:pw")}})
	s.send("auth", &wire.Reply{Xid: 18})
	require.NoError(t, await(t, res).err)
	res = call(func() (any, error) { return nil, conn.AddAuth("sasl", nil) })
	s.expect(&wire.Request{Xid: 19, Op: model.OpAuth, Auth: &wire.Auth{Scheme: "sasl"}})
	s.send("auth failed", &wire.Reply{Xid: 19, Err: model.ErrAuthFailed})
	require.ErrorIs(t, await(t, res).err, zk.ErrAuthFailed)

	// close.
	done := make(chan struct{})
	go func() { conn.Close(); close(done) }()
	s.expect(&wire.Request{Xid: 20, Op: model.OpCloseSession, Write: model.CloseSession{}})
	s.send("closeSession", &wire.Reply{Xid: 20, Zxid: 0x10000000a})
	<-done
	_ = srvConn2.Close()

	golden.Check(t, "gozk", s.trace.String())
}

// TestGoZK_GoldenFramesReencodeByteForByte replays the recorded conversation:
// each frame go-zk sent decodes on the server side and encodes back from
// zoosim's client side to go-zk's exact bytes (the connect aside, where
// go-zk leaves out the readOnly flag every Java client sends), and each
// frame the server side sent decodes on the client side and encodes back.
func TestGoZK_GoldenFramesReencodeByteForByte(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "gozk.golden"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	require.Zero(t, len(lines)%2)

	var sc *ServerConn
	var cc *ClientConn
	nonce := uint64(0)
	frames := 0
	for i := 0; i < len(lines); i += 2 {
		label, f := lines[i], mustHex(t, lines[i+1])
		if label == "client *wire.Connect" {
			nonce++
			sc, cc = NewServerConn(nonce), NewClientConn(nonce)
		}
		if strings.HasPrefix(label, "client ") {
			body, err := sc.Decode(f)
			require.NoError(t, err, label)
			b, err := cc.Append(nil, body)
			require.NoError(t, err, label)
			b = b[frame.HeaderLen:]
			if _, ok := body.(*wire.Connect); ok {
				require.Equal(t, f, b[:len(b)-1], "%s: line %d", label, i+2)
				continue
			}
			require.Equal(t, hex.EncodeToString(f), hex.EncodeToString(b), "%s: line %d", label, i+2)
		} else {
			body, err := cc.Decode(f)
			require.NoError(t, err, label)
			b, err := sc.Append(nil, body)
			require.NoError(t, err, label)
			require.Equal(t, hex.EncodeToString(f), hex.EncodeToString(b[frame.HeaderLen:]), "%s: line %d", label, i+2)
		}
		frames++
	}
	assert.Greater(t, frames, 40)
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}
