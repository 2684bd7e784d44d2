package client

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/model"
	"zoosim/node"
	"zoosim/wire"
)

// authPackets are the auth packets among requests.
func authPackets(reqs []*wire.Request) []*wire.Request {
	var out []*wire.Request
	for _, r := range reqs {
		if r.Op == model.OpAuth {
			out = append(out, r)
		}
	}
	return out
}

func TestClient_AddAuthSendsAtOnceAndOnEveryNewConnectionFirst(t *testing.T) {
	e, c := connected(t, Config{SessionTimeout: 3 * node.Second})
	mark := len(e.sent)
	c.AddAuth("digest", []byte("alice:secret"))
	c.GetData("/", true) // leaves a watch, so the reconnect re-registers it
	e.pump()
	reqs := sentOf[*wire.Request](e, mark)
	require.Len(t, reqs, 2)
	assert.Equal(t, wire.XidAuth, reqs[0].Xid, "outside the FIFO, with ZooKeeper's auth xid")
	assert.Equal(t, &wire.Auth{Scheme: "digest", Auth: []byte("alice:secret")}, reqs[0].Auth)
	rs, _ := e.take(clientID)
	require.Len(t, rs, 1, "an auth packet has no Result")
	assert.Equal(t, model.OpGetData, rs[0].Op)

	c.AddAuth("ip", nil)
	e.pump()
	first := c.Server()
	e.server(first).mode = silent
	mark = len(e.sent)
	e.run(2 * node.Second)
	require.Equal(t, Connected, c.State())
	require.NotEqual(t, first, c.Server())
	reqs = sentOf[*wire.Request](e, mark)
	var ops []model.OpCode
	for _, r := range reqs {
		if r.Header.Conn == reqs[len(reqs)-1].Header.Conn {
			ops = append(ops, r.Op)
		}
	}
	assert.Equal(t, []model.OpCode{model.OpAuth, model.OpAuth, model.OpSetWatches2}, ops,
		"the credentials first, in the order added, then the watches")
	auths := authPackets(reqs)
	require.Len(t, auths, 2)
	assert.Equal(t, "digest", auths[0].Auth.Scheme)
	assert.Equal(t, "ip", auths[1].Auth.Scheme)
	assert.Equal(t, 0, c.Stats().AuthFailures)
}

func TestClient_AuthFailedEndsTheClient(t *testing.T) {
	e, c := connected(t, Config{SessionTimeout: 3 * node.Second})
	manual(e)
	c.GetData("/a", false) // sent, never answered
	c.AddAuth("world", []byte("anyone"))
	e.pump()
	assert.Equal(t, AuthFailed, c.State())
	assert.True(t, c.State().Final())
	rs, evs := e.take(clientID)
	assert.Equal(t, []wire.KeeperState{wire.StateAuthFailed}, stateEvents(evs))
	require.Len(t, rs, 1)
	assert.Equal(t, model.ErrAuthFailed, rs[0].Err, "what waited fails with AuthFailed")
	assert.True(t, rs[0].Sent)
	assert.Equal(t, 1, c.Stats().AuthFailures)

	xid := c.GetData("/a", false)
	e.collect()
	rs, _ = e.take(clientID)
	require.Len(t, rs, 1)
	assert.Equal(t, xid, rs[0].Xid)
	assert.Equal(t, model.ErrAuthFailed, rs[0].Err, "and so does everything after")
	mark := len(e.sent)
	c.AddAuth("digest", []byte("a:b"))
	e.run(5 * node.Second)
	assert.Empty(t, e.sent[mark:], "an AuthFailed client never reconnects")
}
