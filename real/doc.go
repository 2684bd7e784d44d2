// Package real is zoosim's second driver: it runs the same I/O-free cores
// the simulator runs (node.Machine), for real. Goroutines, sockets, files
// and the wall clock live here (and in cmd/zoosim), nowhere else.
//
//   - Driver owns one core: one goroutine steps it with the messages the
//     transports deliver and ticks it on the wall clock, performs each
//     Ready in the core's order (disk ops, then a sync, then the messages,
//     held until the sync is on stable storage) and reports completed syncs
//     with group commit (one fsync for every Ready that asked while the
//     previous fsync ran).
//   - Storage is the node's files with the simulated disk's semantics:
//     checksummed records, append, truncate, atomic replace, remove, and
//     recovery that drops a torn tail and reports corrupt records.
//   - Peers is the TCP transport between servers (node/codec frames, a
//     handshake naming the server, reconnect with backoff, bounded queues).
//   - ClientPort accepts ZooKeeper clients (wire/clientport), each TCP
//     connection a client node of its own for the server core; the
//     connection's address is its ip identity for ACLs. It answers
//     ZooKeeper's four-letter words in ZooKeeper's formats (fourletter.go)
//     and measures what it carries as ZooKeeper's ServerStats and
//     ServerCnxn do (connstats.go).
//   - Prometheus metrics (metrics.go): request counts and latencies the
//     client port observes, fsync times the driver observes, and the
//     core's counters and gauges read on the driver's goroutine.
//   - Config reads ZooKeeper's zoo.cfg, and Serve runs one ensemble member
//     from it (zoosim serve); with zoosim.reportDir it reports every txn it
//     applies, for the harness's white-box checks.
//   - The fault-injecting file layer (faults.go): lying syncs and damaged
//     records, for the real-process harness (real/harness); it exists only
//     in a server started with ZOOSIM_DISK_FAULTS=1.
//   - Local ensembles of zoosim serve processes (local.go) and of Apache
//     ZooKeeper (zookeeper.go), whose server.N lines can name per-pair
//     proxies (real/harness puts its own in every link).
//
// Nothing here is deterministic, and nothing the simulator runs imports it.
package real
