package checker

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"zoosim/model"
)

func (b *builder) closeSession(s int64) model.Zxid {
	z, _ := b.commit(s, model.Prepare(b.tree, s, model.CloseSession{}, 0))
	return z
}

func TestSessions_EphemeralsLiveExactlyAsLongAsTheirSession(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, createMode("/e", model.ModeEphemeral), ms(1), ms(2))
	b.write(1, 1, createMode("/l-", model.ModeEphemeralSequential), ms(3), ms(4))
	b.read(2, 2, getData("/e"), ms(5), ms(6), -1)
	b.closeSession(1)
	b.h.Sessions = append(b.h.Sessions, SessionEvent{Client: 1, Session: 1, State: SessionClosed, Time: ms(7)})
	b.read(2, 2, Op{Kind: OpExists, Path: "/e"}, ms(8), ms(9), -1)
	require.Equal(t, model.ErrNoNode, b.h.Ops[len(b.h.Ops)-1].Err)
	requireVerdict(t, VerdictOK, CheckSessions(b.h, Options{}))
	rep := Check(b.h, Options{})
	require.Equal(t, VerdictOK, rep.Verdict, rep.String())
}

func TestSessions_ErrorTxnsAfterTheCloseAreFine(t *testing.T) {
	b := newBuilder(t, 1)
	b.closeSession(1)
	// A request that was already on its way: the leader refuses it with an
	// error txn, and a second closeSession changes nothing.
	b.commit(1, model.Prepare(b.tree, 1, model.Create{Path: "/x", ACL: model.OpenACLUnsafe, Mode: model.ModeEphemeral}, 0))
	b.commit(1, model.Prepare(b.tree, 1, model.Multi{Ops: []model.Request{model.Delete{Path: "/x", Version: -1}}}, 0))
	b.closeSession(1)
	requireVerdict(t, VerdictOK, CheckSessions(b.h, Options{}))
}

func TestSessions_FailsWhenAnEphemeralIsCreatedAfterItsSessionClosed(t *testing.T) {
	b := newBuilder(t, 1)
	closed := b.closeSession(1)
	// A stale leader prepared the create against a tree that still had the
	// session.
	z, _ := b.commit(1, model.CreateTxn{Path: "/e", Mode: model.ModeEphemeral, ParentCVersion: -1})
	res := CheckSessions(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, "after the session's closeSession")
	assert.Equal(t, []model.Zxid{closed, z}, res.Txns)
}

func TestSessions_FailsWhenAClosedSessionComesBack(t *testing.T) {
	b := newBuilder(t, 1)
	b.closeSession(1)
	b.commit(1, model.CreateSessionTxn{TimeoutMs: 5000})
	res := CheckSessions(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, "created again")
}

func TestSessions_FailsWhenAnEphemeralBelongsToASessionNeverCreated(t *testing.T) {
	b := newBuilder(t, 1)
	b.commit(7, model.CreateTxn{Path: "/e", Mode: model.ModeEphemeral, ParentCVersion: -1})
	res := CheckSessions(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, "had not been created")
}

func TestSessions_NoOpSucceedsAfterTheClientSawExpired(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/a", ""), ms(1), ms(2))
	b.h.Sessions = append(b.h.Sessions, SessionEvent{Client: 1, Session: 1, State: SessionExpired, Time: ms(5)})
	// What the client library answers itself after expiry is fine.
	b.add(Op{Client: 1, Session: 1, Kind: OpGetData, Path: "/a", Call: ms(6), Return: ms(6), Err: model.ErrSessionExpired})
	requireVerdict(t, VerdictOK, CheckSessions(b.h, Options{}))
}

func TestSessions_NoOpSucceedsAfterTheClientSawExpired_FailsWhenOneDoes(t *testing.T) {
	b := newBuilder(t, 1)
	b.write(1, 1, create("/a", ""), ms(1), ms(2))
	b.h.Sessions = append(b.h.Sessions, SessionEvent{Client: 1, Session: 1, State: SessionExpired, Time: ms(5)})
	r := b.read(1, 1, getData("/a"), ms(6), ms(7), -1)
	res := CheckSessions(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Equal(t, []int{r}, res.Ops)
	assert.Contains(t, res.Explanation, "after client 1 saw the session expired")
}

func TestSessions_FailsWhenAnExpiredSessionIsConnectedAgain(t *testing.T) {
	b := newBuilder(t, 1)
	b.h.Sessions = append(b.h.Sessions,
		SessionEvent{Client: 1, Session: 1, State: SessionConnected, Time: ms(1)},
		SessionEvent{Client: 1, Session: 1, State: SessionExpired, Time: ms(5)},
		SessionEvent{Client: 1, Session: 1, State: SessionConnected, Time: ms(9)})
	res := CheckSessions(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Contains(t, res.Explanation, "never comes back")
}

func TestSessions_FailsWhenAReadIsAnsweredAfterTheCloseWasApplied(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, create("/a", ""), ms(1), ms(2))
	b.closeSession(1)
	r := b.read(1, 1, getData("/a"), ms(3), ms(4), -1)
	res := CheckSessions(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Equal(t, []int{r}, res.Ops)
	assert.Contains(t, res.Explanation, "at or after the session's closeSession")
}

func TestSessions_FailsWhenAServerShowsAClosedSessionsEphemeral(t *testing.T) {
	b := newBuilder(t, 1, 2)
	b.write(1, 1, createMode("/e", model.ModeEphemeral), ms(1), ms(2))
	seen := b.read(2, 2, Op{Kind: OpExists, Path: "/e"}, ms(3), ms(4), -1)
	closed := b.closeSession(1)
	after := b.read(2, 2, Op{Kind: OpExists, Path: "/e"}, ms(5), ms(6), -1)
	requireVerdict(t, VerdictOK, CheckSessions(b.h, Options{}))

	b.h.Ops[after].Err, b.h.Ops[after].Stat = model.ErrOK, b.h.Ops[seen].Stat
	res := CheckSessions(b.h, Options{})
	requireVerdict(t, VerdictViolation, res)
	assert.Equal(t, []int{after}, res.Ops)
	assert.Equal(t, []model.Zxid{closed}, res.Txns)
	assert.Contains(t, res.Explanation, "outlived its session")
}
