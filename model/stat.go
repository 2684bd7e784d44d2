package model

// Stat is the metadata of a znode exactly as a client receives it, fields in
// wire order.
//
// Cversion and EphemeralOwner are derived, as in ZooKeeper's
// DataNode.copyStat: the tree stores only the number of child creations and
// reports Cversion = 2*creations - NumChildren (every creation counts once, and
// every deletion once, since each child not present any more was deleted), and
// EphemeralOwner is 0 for container and TTL nodes whose stored owner field
// carries a marker rather than a session.
type Stat struct {
	Czxid          Zxid  // zxid of the txn that created the node
	Mzxid          Zxid  // zxid of the last txn that set its data
	Ctime          int64 // creation time, ms
	Mtime          int64 // time of the last data change, ms
	Version        int32 // number of data changes
	Cversion       int32 // number of child changes (creations + deletions)
	Aversion       int32 // number of ACL changes
	EphemeralOwner int64 // owning session for ephemeral nodes, else 0
	DataLength     int32
	NumChildren    int32
	Pzxid          Zxid // zxid of the last txn that added or removed a child
}
