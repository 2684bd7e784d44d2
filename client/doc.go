// Package client is zoosim's ZooKeeper client library as an I/O-free state
// machine: ZooKeeper's ClientCnxn (connection and session handling, FIFO
// requests, heartbeats, failover) and ZKWatchManager (client-side watch
// tables), plus two recipes built on them (master election and a lock).
//
// A Client owns one session. Its lifecycle is ZooKeeper's:
//
//	NotConnected → Connecting → Connected → (Connecting → Connected)* → Closed | Expired
//
// It connects to the servers round-robin from a random start, sends a ping
// when it has sent nothing for 1/3 of the negotiated session timeout, and
// gives a connection up when it has heard nothing for 2/3 of it, moving on to
// the next server with the same session id and the last zxid it has seen (a
// server that is behind refuses it, and it moves on again). A request sent
// on a connection that is lost fails with ErrConnectionLoss (its outcome is
// unknown: it may still commit); a request not yet sent waits for the next
// connection. A server that answers a reconnect with a zero timeout has
// expired the session: the client reports Expired once and is done.
//
// Where zoosim's client departs from ZooKeeper's ClientCnxn, on purpose:
//
//   - Requests not yet sent survive a lost connection and go out on the
//     next one (ZooKeeper fails its whole outgoing queue with
//     ConnectionLoss); only requests already sent fail, because only their
//     outcome is unknown.
//   - Requests wait for Connected instead of being pipelined behind the
//     Connect, so a request is never sent for a session that turns out
//     expired.
//   - Disconnected is reported only when a Connected client loses its
//     connection, not after every failed attempt, so the user sees
//     SyncConnected and Disconnected alternate.
//   - The pause between reconnects is taken only after a full round of
//     failed attempts (ZooKeeper also sleeps up to a second before every
//     reconnect).
//   - Like ZooKeeper, the client never decides by itself that its session
//     expired: only a server says so.
//
// Inputs are Step (a message from a server), Tick (time passed), and the
// request methods (Submit and its typed helpers, Close); outputs are Ready
// (messages to send and the next time to be woken) with Advance, TakeResults
// (request outcomes) and TakeEvents (watch notifications and session state
// changes). A Client is a node.Machine, so a simulator workload node or the
// real TCP driver can embed it.
//
// What the package must never do: read a clock (time is a node.Time
// argument), start a goroutine, draw from a random source other than the
// *rand.Rand it is given, do I/O, or let map iteration order reach its
// output (watch paths are sorted). Every queue is bounded. A broken
// invariant (lastZxid going back, requests completing out of order,
// anything sent after the session ended) panics with a message that names
// it; faults of the servers and the network are values (errors, events).
package client
