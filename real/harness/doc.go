// Package harness runs a real ensemble for the scenario harness: zoosim
// serve processes or Apache ZooKeeper 3.8, on loopback, with every TCP
// connection between two nodes going through a proxy the harness controls,
// and implements nemesis.Target over it, so that the nemesis's schedules
// act on real processes. The workload and the recording live elsewhere
// (zoosim real); this package owns the processes, the proxies, the
// directories and the faults. Goroutines, sockets, files and the wall
// clock are allowed here, as in real/; nothing the simulator runs imports
// it.
//
// The API:
//
//	c, err := harness.Start(ctx, harness.Options{Target: "zoosim", Servers: 3, Clients: ids, Binary: bin})
//	defer c.Close()                  // kills everything, removes the directory (unless Keep); idempotent
//	c.ClientAddr(client, server)     // where that client dials to reach that server: its own proxy
//	c.Servers(), c.Clients()         // node IDs: servers 1..n, clients as given (above n)
//	c.Leader()                       // srvr on each running, unpaused server; 0 if none or several lead
//	c.Committed()                    // zoosim: each server's applied txns; zookeeper: ErrNotAvailable
//	c.LogDir(), c.ServerLog(id)      // DIR/N/{zoo.cfg,data,server.log,report}
//	c.SetClientControl(cc)           // lets the nemesis crash/pause the workload's clients
//	c.Deaths()                       // servers that exited without the harness killing them
//	nemesis.NewRunner(s, c, rnd)     // *Cluster is a nemesis.Target, LagTarget and LimitedTarget
//
// Server IDs are 1..n (as scenarios number them; their clients start at
// 101). Each server's directory is DIR/N: zoo.cfg, data/ (myid and the
// node's files), server.log, and for zoosim report/ (zoosim.reportDir).
// Every generated zoo.cfg whitelists every four-letter word.
//
// Links. Peer links: one proxy per ordered pair (from, to) of servers and
// per port (ZooKeeper's quorum and election ports; zoosim uses the first
// only); the server.N lines of server from's zoo.cfg name, for every other
// server, the proxies of (from, N), while its own line names its real
// ports. Client links: one proxy per (client, server). A proxy of (a, b)
// carries the connections a opens to b: their forward stream is the link
// a -> b, their reverse stream the link b -> a. So every connection
// between two nodes, whoever opened it, obeys both links. Apache
// ZooKeeper's election handshake names the dialer's own election address,
// and a server that gets a connection from a lower sid drops it and dials
// that address back, which would bypass the proxies: the election proxy of
// (a, b) rewrites the address to the election proxy of (b, a). The tests
// check in the kernel's TCP tables that no server ever dials another
// directly.
//
// What each nemesis.Target method does:
//
//	Crash        SIGCONT then SIGKILL the server, wait until it is gone, reset its proxied connections;
//	             on zoosim with DiskFaults the crash is a power loss: its restart first cuts off every
//	             append no honest sync covered (real/faults.go), as the simulated disk loses them
//	Restart      start the server again from its data directory
//	Up           the server's process runs (a paused one does)
//	Pause/Resume SIGSTOP / SIGCONT
//	Block        bytes a -> b are dropped silently, also chunks in flight when they come due (and a
//	             FIN): the applications notice the silence by their own timeouts, as across a real
//	             partition (iptables DROP, not REJECT); a connection that lost bytes is marked and
//	             kept (its other direction still works) until both its links carry bytes again,
//	             then it is reset (RST both ends), so that no stream ever delivers bytes after a
//	             gap; a connection opened while either direction is blocked (a TCP handshake needs
//	             both) is held by the proxy, its bytes dropped, never reaching the server, until
//	             the dialer gives up or the block ends (then reset)
//	Unblock/Heal the link carries bytes again, and the connections a block left with a gap are reset
//	             (Heal also restores every quality; lags stay)
//	SetLinkQuality per chunk of bytes read: ExtraLatency delays it (order kept); LossProb makes it
//	             a lost segment TCP retransmits (a stall of 200 ms doubling for each consecutive loss,
//	             the connection reset at the 6th); ReorderProb makes it a segment others overtook
//	             (TCP holds the stream back: a stall up to max(ExtraLatency, 20 ms)); DupProb has no
//	             effect (TCP drops duplicates) and link-dup faults are refused
//	SetLag       every byte to and from the server is delayed by lag; on zoosim with DiskFaults each
//	             of its syncs also waits up to lag (otherwise its disk is not slowed); MoveClient
//	             is false (the workload owns its clients)
//	SetClock     nothing: clock faults are refused (no privileges to move a process's clock)
//	SyncLies     zoosim with DiskFaults: the server's syncs lie (no fsync, no progress of what is
//	             durable) until told otherwise, so its next crash loses everything appended since
//	             its last honest sync (real.DiskFaultsEnv, real/faults.go); refused otherwise
//	CorruptRecord zoosim with DiskFaults: flip one byte of one durable record's data in the server's
//	             files (seen at its next start); refused otherwise
//
// Supports (nemesis.LimitedTarget) refuses the faults a target cannot
// carry out, so that the Runner reports them as skipped with the reason:
// clock faults, link-dup, disk faults on zookeeper or without DiskFaults,
// and faults on clients unless a ClientControl was given. Crash points are
// skipped by the Runner (the cluster is no nemesis.CrashPointTarget).
package harness
