package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestErr_CodesHaveZooKeeperWireValues(t *testing.T) {
	cases := []struct {
		err  Err
		code int32
	}{
		{ErrOK, 0}, {ErrSystemError, -1}, {ErrRuntimeInconsistency, -2}, {ErrDataInconsistency, -3},
		{ErrConnectionLoss, -4}, {ErrMarshallingError, -5}, {ErrUnimplemented, -6},
		{ErrOperationTimeout, -7}, {ErrBadArguments, -8}, {ErrUnknownSession, -12},
		{ErrNewConfigNoQuorum, -13}, {ErrReconfigInProgress, -14}, {ErrAPIError, -100},
		{ErrNoNode, -101}, {ErrNoAuth, -102}, {ErrBadVersion, -103},
		{ErrNoChildrenForEphemerals, -108}, {ErrNodeExists, -110}, {ErrNotEmpty, -111},
		{ErrSessionExpired, -112}, {ErrInvalidCallback, -113}, {ErrInvalidACL, -114},
		{ErrAuthFailed, -115}, {ErrSessionMoved, -118}, {ErrNotReadOnly, -119},
		{ErrEphemeralOnLocalSession, -120}, {ErrNoWatcher, -121}, {ErrRequestTimeout, -122},
		{ErrReconfigDisabled, -123}, {ErrSessionClosedRequireSASLAuth, -124},
		{ErrQuotaExceeded, -125}, {ErrThrottledOp, -127},
	}
	for _, c := range cases {
		assert.Equal(t, c.code, int32(c.err), c.err.Error())
		assert.True(t, c.err.Known(), c.err.Error())
	}
	assert.False(t, Err(-9).Known())
	assert.False(t, Err(-126).Known())
}

func TestErr_MessagesAreKeeperExceptionMessages(t *testing.T) {
	cases := []struct {
		err Err
		msg string
	}{
		{ErrNoNode, "KeeperErrorCode = NoNode"},
		{ErrNodeExists, "KeeperErrorCode = NodeExists"},
		{ErrNotEmpty, "KeeperErrorCode = Directory not empty"},
		{ErrSessionExpired, "KeeperErrorCode = Session expired"},
		{ErrBadVersion, "KeeperErrorCode = BadVersion"},
		{ErrBadArguments, "KeeperErrorCode = BadArguments"},
		{ErrNoChildrenForEphemerals, "KeeperErrorCode = NoChildrenForEphemerals"},
		{ErrRuntimeInconsistency, "KeeperErrorCode = RuntimeInconsistency"},
		{ErrNoWatcher, "KeeperErrorCode = No such watcher"},
		{ErrInvalidACL, "KeeperErrorCode = InvalidACL"},
		{ErrQuotaExceeded, "KeeperErrorCode = Quota has exceeded"},
		{ErrThrottledOp, "KeeperErrorCode = Op throttled due to high load"},
		{ErrUnknownSession, "KeeperErrorCode = Unknown error UNKNOWNSESSION"},
		{ErrRequestTimeout, "KeeperErrorCode = Unknown error REQUESTTIMEOUT"},
		{ErrSessionMoved, "KeeperErrorCode = Session moved"},
		{ErrOK, "KeeperErrorCode = ok"},
		{Err(-999), "KeeperErrorCode = Unknown error -999"},
	}
	for _, c := range cases {
		assert.Equal(t, c.msg, c.err.Error())
	}
}
