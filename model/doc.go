// Package model is ZooKeeper's replicated state machine: the znode tree,
// Stat, create modes, sequential counters, versions, ACLs, the session table,
// the txns that change them, and the per-server watch table.
//
// It owns two functions of ZooKeeper's request pipeline and mirrors Apache
// ZooKeeper 3.8 in both:
//
//   - Prepare is PrepRequestProcessor: it checks a client request against a
//     tree (the leader's speculative tree: committed state plus proposals not
//     yet committed) and turns it into the txn that will be proposed, or into
//     an ErrorTxn. It never changes the tree.
//   - (*Tree).Apply is DataTree.processTxn: every replica applies committed
//     txns in zxid order. It is total and deterministic: the same txns applied
//     to the same state give the same state and the same Results on every
//     replica, and a txn that cannot apply yields an error Result, never a
//     panic.
//
// WatchTable is ZooKeeper's WatchManager pair (data and child watches) for one
// server; it is not replicated and is driven by the watch events Apply
// returns.
//
// What the package must never do: read a clock (time is an argument, in
// milliseconds like ZooKeeper's ctime and mtime), start a goroutine, draw from
// a random source, do I/O, or let Go's map iteration order leak into any
// result, txn, snapshot or digest (keys are sorted first). It imports the
// standard library only, because everything else in zoosim stands on it.
//
// Deliberate deviations from ZooKeeper 3.8, each because zoosim needs a
// property ZooKeeper does not promise or a feature it does not model:
//
//   - Apply leaves the tree unchanged when a txn cannot apply. ZooKeeper
//     patches state on some such failures to survive fuzzy snapshots
//     (NodeExists on create bumps the parent's cversion and sets the existing
//     node's ACL; delete of a missing node still moves the parent's pzxid),
//     and applies the ops of a multi before one that fails at apply time.
//     zoosim snapshots are taken between txns, so it keeps replicas' failures
//     side-effect free and multis atomic at apply too. Apply also refuses to
//     delete a node that has children (ZooKeeper would orphan them) and to
//     create a child of an ephemeral (ZooKeeper checks that in prep only),
//     so that closeSession always leaves a consistent tree.
//   - No quotas: nodes under /zookeeper/quota are plain nodes; ZooKeeper's
//     quota stat updates and enforcement are not modelled.
//   - zoosim sessions never authenticate: a requester's only identity is
//     world:anyone, so ACL entries of other schemes never grant anything, and
//     an "auth" ACL is invalid. ACL ids are validated as a default server's
//     providers do (ip: IPv4 only; digest).
//   - TTL nodes are enabled (zookeeper.extendedTypesEnabled=true). The node
//     kind is stored explicitly instead of being packed into ephemeralOwner,
//     so no session id can collide with the container or TTL markers; the
//     Stat a client sees is the same.
//   - A Create whose mode has no TTL and whose TTL is 0 means "no TTL"; the
//     wire layer must refuse a createTTL request with a non-TTL mode itself
//     (ValidateTTL states ZooKeeper's exact rule).
//
// Ownership rule: txns, and the byte and ACL slices inside them, are immutable
// values shared by every replica that applies them; Prepare copies what it
// takes from a request. Slices returned by reads are shared with the tree and
// must not be modified.
package model
