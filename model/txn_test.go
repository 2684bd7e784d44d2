package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOpCode_ZooKeeperWireValues(t *testing.T) {
	cases := map[OpCode]int32{
		OpNotification: 0, OpCreate: 1, OpDelete: 2, OpExists: 3, OpGetData: 4, OpSetData: 5,
		OpGetACL: 6, OpSetACL: 7, OpGetChildren: 8, OpSync: 9, OpPing: 11, OpGetChildren2: 12,
		OpCheck: 13, OpMulti: 14, OpCreate2: 15, OpReconfig: 16, OpCheckWatches: 17,
		OpRemoveWatches: 18, OpCreateContainer: 19, OpDeleteContainer: 20, OpCreateTTL: 21,
		OpMultiRead: 22, OpAuth: 100, OpSetWatches: 101, OpSASL: 102, OpGetEphemerals: 103,
		OpGetAllChildrenNumber: 104, OpSetWatches2: 105, OpAddWatch: 106, OpWhoAmI: 107,
		OpCreateSession: -10, OpCloseSession: -11, OpError: -1,
	}
	for op, want := range cases {
		assert.Equal(t, want, int32(op))
	}
	for ev, want := range map[EventType]int32{
		EventNone: -1, EventNodeCreated: 1, EventNodeDeleted: 2, EventNodeDataChanged: 3,
		EventNodeChildrenChanged: 4, EventDataWatchRemoved: 5, EventChildWatchRemoved: 6,
		EventPersistentWatchRemoved: 7,
	} {
		assert.Equal(t, want, int32(ev))
	}
	for typ, want := range map[WatcherType]int32{
		WatcherChildren: 1, WatcherData: 2, WatcherAny: 3, WatcherPersistent: 4, WatcherPersistentRecursive: 5,
	} {
		assert.Equal(t, want, int32(typ))
	}
}

func TestOpCode_OfRequestsAndTxns(t *testing.T) {
	requests := []struct {
		req Request
		op  OpCode
	}{
		{Create{}, OpCreate},
		{Create{Mode: ModeEphemeralSequential}, OpCreate},
		{Create{Mode: ModeContainer}, OpCreateContainer},
		{Create{Mode: ModePersistentSequentialWithTTL}, OpCreateTTL},
		{Delete{}, OpDelete},
		{SetData{}, OpSetData},
		{Check{}, OpCheck},
		{SetACL{}, OpSetACL},
		{Multi{}, OpMulti},
		{CreateSession{}, OpCreateSession},
		{CloseSession{}, OpCloseSession},
		{DeleteContainer{}, OpDeleteContainer},
	}
	for _, c := range requests {
		assert.Equal(t, c.op, c.req.Op(), "%#v", c.req)
		c.req.isRequest()
	}
	txns := []struct {
		txn Txn
		op  OpCode
	}{
		{CreateTxn{Mode: ModeEphemeral}, OpCreate},
		{CreateTxn{Mode: ModeContainer}, OpCreateContainer},
		{CreateTxn{Mode: ModePersistentWithTTL}, OpCreateTTL},
		{DeleteTxn{}, OpDelete},
		{SetDataTxn{}, OpSetData},
		{CheckVersionTxn{}, OpCheck},
		{SetACLTxn{}, OpSetACL},
		{CreateSessionTxn{}, OpCreateSession},
		{CloseSessionTxn{}, OpCloseSession},
		{ErrorTxn{}, OpError},
		{MultiTxn{}, OpMulti},
	}
	for _, c := range txns {
		assert.Equal(t, c.op, c.txn.Op(), "%#v", c.txn)
		c.txn.isTxn()
	}
}
