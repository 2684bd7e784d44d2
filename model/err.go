package model

import "strconv"

// Err is a ZooKeeper error code (KeeperException.Code), with the numeric value
// that travels on the wire. ErrOK is not an error: functions that return the
// error interface return nil for success, never ErrOK.
type Err int32

// Every code ZooKeeper 3.8 defines.
const (
	ErrOK                           Err = 0
	ErrSystemError                  Err = -1
	ErrRuntimeInconsistency         Err = -2
	ErrDataInconsistency            Err = -3
	ErrConnectionLoss               Err = -4
	ErrMarshallingError             Err = -5
	ErrUnimplemented                Err = -6
	ErrOperationTimeout             Err = -7
	ErrBadArguments                 Err = -8
	ErrUnknownSession               Err = -12
	ErrNewConfigNoQuorum            Err = -13
	ErrReconfigInProgress           Err = -14
	ErrAPIError                     Err = -100
	ErrNoNode                       Err = -101
	ErrNoAuth                       Err = -102
	ErrBadVersion                   Err = -103
	ErrNoChildrenForEphemerals      Err = -108
	ErrNodeExists                   Err = -110
	ErrNotEmpty                     Err = -111
	ErrSessionExpired               Err = -112
	ErrInvalidCallback              Err = -113
	ErrInvalidACL                   Err = -114
	ErrAuthFailed                   Err = -115
	ErrSessionMoved                 Err = -118
	ErrNotReadOnly                  Err = -119
	ErrEphemeralOnLocalSession      Err = -120
	ErrNoWatcher                    Err = -121
	ErrRequestTimeout               Err = -122
	ErrReconfigDisabled             Err = -123
	ErrSessionClosedRequireSASLAuth Err = -124
	ErrQuotaExceeded                Err = -125
	ErrThrottledOp                  Err = -127
)

// Error returns KeeperException.getMessage() for an exception without a path.
// The texts, including the odd ones ("Directory not empty", and "Unknown error
// UNKNOWNSESSION" for the two codes ZooKeeper never gave a message), are
// ZooKeeper's own, because clients and logs compare them.
func (e Err) Error() string { return "KeeperErrorCode = " + e.message() }

func (e Err) message() string {
	switch e {
	case ErrOK:
		return "ok"
	case ErrSystemError:
		return "SystemError"
	case ErrRuntimeInconsistency:
		return "RuntimeInconsistency"
	case ErrDataInconsistency:
		return "DataInconsistency"
	case ErrConnectionLoss:
		return "ConnectionLoss"
	case ErrMarshallingError:
		return "MarshallingError"
	case ErrNewConfigNoQuorum:
		return "NewConfigNoQuorum"
	case ErrReconfigInProgress:
		return "ReconfigInProgress"
	case ErrUnimplemented:
		return "Unimplemented"
	case ErrOperationTimeout:
		return "OperationTimeout"
	case ErrBadArguments:
		return "BadArguments"
	case ErrAPIError:
		return "APIError"
	case ErrNoNode:
		return "NoNode"
	case ErrNoAuth:
		return "NoAuth"
	case ErrBadVersion:
		return "BadVersion"
	case ErrNoChildrenForEphemerals:
		return "NoChildrenForEphemerals"
	case ErrNodeExists:
		return "NodeExists"
	case ErrInvalidACL:
		return "InvalidACL"
	case ErrAuthFailed:
		return "AuthFailed"
	case ErrNotEmpty:
		return "Directory not empty"
	case ErrSessionExpired:
		return "Session expired"
	case ErrInvalidCallback:
		return "Invalid callback"
	case ErrSessionMoved:
		return "Session moved"
	case ErrNotReadOnly:
		return "Not a read-only call"
	case ErrEphemeralOnLocalSession:
		return "Ephemeral node on local session"
	case ErrNoWatcher:
		return "No such watcher"
	case ErrReconfigDisabled:
		return "Reconfig is disabled"
	case ErrSessionClosedRequireSASLAuth:
		return "Session closed because client failed to authenticate"
	case ErrQuotaExceeded:
		return "Quota has exceeded"
	case ErrThrottledOp:
		return "Op throttled due to high load"
	case ErrUnknownSession:
		return "Unknown error UNKNOWNSESSION"
	case ErrRequestTimeout:
		return "Unknown error REQUESTTIMEOUT"
	}
	return "Unknown error " + strconv.Itoa(int(e))
}

// Known reports whether e is one of ZooKeeper's codes; a wire decoder uses it
// to refuse codes a real client could not look up.
func (e Err) Known() bool {
	switch e {
	case ErrOK, ErrSystemError, ErrRuntimeInconsistency, ErrDataInconsistency,
		ErrConnectionLoss, ErrMarshallingError, ErrUnimplemented, ErrOperationTimeout,
		ErrBadArguments, ErrUnknownSession, ErrNewConfigNoQuorum, ErrReconfigInProgress,
		ErrAPIError, ErrNoNode, ErrNoAuth, ErrBadVersion, ErrNoChildrenForEphemerals,
		ErrNodeExists, ErrNotEmpty, ErrSessionExpired, ErrInvalidCallback, ErrInvalidACL,
		ErrAuthFailed, ErrSessionMoved, ErrNotReadOnly, ErrEphemeralOnLocalSession,
		ErrNoWatcher, ErrRequestTimeout, ErrReconfigDisabled, ErrSessionClosedRequireSASLAuth,
		ErrQuotaExceeded, ErrThrottledOp:
		return true
	}
	return false
}
