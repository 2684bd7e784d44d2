package real

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"zoosim/model"
	"zoosim/node"
	"zoosim/quorum"
	"zoosim/server"
)

// ZooKeeper's four-letter words on the client port: the first four bytes of
// a connection that spell a known command are that command; the server
// writes its answer and closes the connection. Only the words in the
// config's 4lw.commands.whitelist are answered (srvr always, as ZooKeeper
// does; "*" means all); another known word is answered "... is not
// executed because it is not in the whitelist.". The answers follow Apache
// ZooKeeper 3.8.0's formats (its command/*Command.java, ServerStats,
// ServerCnxn.dumpConnectionInfo, ExpiryQueue.dump), checked against a real
// 3.8.0 in fourletter_test.go; what zoosim cannot know the way a JVM does
// (envi's java.* lines) is replaced by its Go counterpart.

// fourLetterWords are ZooKeeper 3.8's known commands (FourLetterCommands).
var fourLetterWords = []string{"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr",
	"stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash"}

func isFourLetterWord(w string) bool { return slices.Contains(fourLetterWords, w) }

// notServing is ZooKeeper's ZK_NOT_SERVING.
const notServing = "This ZooKeeper instance is not currently serving requests\n"

// Version is what zoosim reports as its ZooKeeper version: the protocol
// level it speaks (3.8.0) marked as zoosim's, with the build's revision and
// time when the binary carries them (kazoo and other tools read the
// leading digits).
func Version() string {
	rev, at := "", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
				if len(rev) > 12 {
					rev = rev[:12]
				}
			case "vcs.time":
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
					at = t.UTC().Format("2006-01-02 15:04 UTC")
				}
			}
		}
	}
	if at == "unknown" {
		// No VCS stamp (a build outside a git checkout): the binary's own
		// time stands for its build time.
		if exe, err := os.Executable(); err == nil {
			if info, err := os.Stat(exe); err == nil {
				at = info.ModTime().UTC().Format("2006-01-02 15:04 UTC")
			}
		}
	}
	v := "3.8.0-zoosim"
	if rev != "" {
		v += "-" + rev
	}
	return v + ", built on " + at
}

// whitelisted is FourLetterCommands.isEnabled.
func (s *Server) whitelisted(word string) bool {
	if word == "srvr" {
		return true
	}
	for _, w := range s.cfg.FourLetterWords {
		if w == "*" || w == word {
			return true
		}
	}
	return false
}

// coreView is what the four-letter words read of the core, copied on the
// driver's goroutine.
type coreView struct {
	serving    bool
	status     quorum.Status
	lastZxid   model.Zxid
	nodeCount  int
	dataSize   int64
	watchCount int
	sessions   []model.Session
	expiries   []server.SessionExpiry
	ephemerals []sessionPaths // by session
	watches    []server.SessionWatches
	stats      server.Stats
	inFlight   int
}

type sessionPaths struct {
	session int64
	paths   []string
}

// view reads the core; ok is false if the driver did not get to it in
// time (it is stopping, or stuck on its disk).
func (s *Server) view(withDataSize bool) (v coreView, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.drv.Inspect(ctx, func(node.Machine) {
		c := s.core
		t := c.Tree()
		v = coreView{serving: c.Serving(), status: c.Engine().Status(), lastZxid: t.LastZxid(), nodeCount: t.NodeCount(),
			watchCount: c.WatchCount(), sessions: t.Sessions(), expiries: c.Expiries(), watches: c.DataWatches(), stats: c.Stats(),
			inFlight: c.InFlight()}
		for _, owner := range t.EphemeralOwners() {
			v.ephemerals = append(v.ephemerals, sessionPaths{session: owner, paths: t.Ephemerals(owner)})
		}
		if withDataSize {
			v.dataSize = t.ApproximateDataSize()
		}
	})
	return v, err == nil
}

// mode is ServerStats.getServerState.
func (s *Server) mode(v coreView) string {
	if s.cfg.Standalone() {
		return "standalone"
	}
	if v.status.Role == quorum.Leading {
		return "leader"
	}
	return "follower"
}

// fourLetter answers one word (ClientPortOptions.FourLetter).
func (s *Server) fourLetter(word string) string {
	if !s.whitelisted(word) {
		return word + " is not executed because it is not in the whitelist.\n"
	}
	switch word {
	case "ruok":
		return "imok"
	case "envi":
		return s.envi()
	case "crst":
		s.clients.resetConnStats()
		return "Connection stats reset.\n"
	case "srst":
		s.clients.resetServerStats()
		return "Server stats reset.\n"
	case "dirs":
		return fmt.Sprintf("datadir_size: %d\nlogdir_size: %d\n", s.dataDirSize(), s.logDirSize())
	case "gtmk", "stmk", "hash":
		return word + " is not supported by zoosim\n"
	}
	v, ok := s.view(word == "mntr")
	if word == "isro" {
		if !ok || !v.serving {
			return "null"
		}
		return "rw"
	}
	if !ok || !v.serving {
		return notServing
	}
	var b strings.Builder
	switch word {
	case "srvr", "stat":
		s.srvr(&b, v, word == "stat")
	case "cons":
		for _, ci := range s.clients.connInfos() {
			b.WriteString(dumpConnection(ci, false))
			b.WriteString("\n")
		}
		b.WriteString("\n")
	case "conf":
		s.conf(&b)
	case "mntr":
		s.mntr(&b, v)
	case "wchs", "wchc", "wchp":
		watches(&b, word, v.watches)
	case "dump":
		s.dump(&b, v)
	}
	return b.String()
}

// srvr is StatCommand (stat adds the clients).
func (s *Server) srvr(b *strings.Builder, v coreView, withClients bool) {
	fmt.Fprintf(b, "Zookeeper version: %s\n", Version())
	if withClients {
		b.WriteString("Clients:\n")
		for _, ci := range s.clients.connInfos() {
			b.WriteString(dumpConnection(ci, true))
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	ps := s.clients.serverStats()
	fmt.Fprintf(b, "Latency min/avg/max: %d/%s/%d\n", ps.lat.min, javaDouble(ps.lat.avg()), ps.lat.max)
	fmt.Fprintf(b, "Received: %d\nSent: %d\nConnections: %d\nOutstanding: %d\nZxid: 0x%x\nMode: %s\n",
		ps.received, ps.sent, s.clients.Connections(), ps.outstanding, uint64(v.lastZxid), s.mode(v))
	fmt.Fprintf(b, "Node count: %d\n", zkNodeCount(v))
	if s.mode(v) == "leader" {
		fmt.Fprintf(b, "Proposal sizes last/min/max: %s\n", proposalSizes(v.stats))
	}
}

// zkNodeCount is the node count ZooKeeper reports: its node map holds the
// root twice (under "" and "/").
func zkNodeCount(v coreView) int { return v.nodeCount + 1 }

// proposalSizes is BufferStats.toString.
func proposalSizes(st server.Stats) string {
	if st.Proposals == 0 {
		return "-1/-1/-1"
	}
	return fmt.Sprintf("%d/%d/%d", st.ProposalSizeLast, st.ProposalSizeMin, st.ProposalSizeMax)
}

// dumpConnection is ServerCnxn.dumpConnectionInfo.
func dumpConnection(ci connInfo, brief bool) string {
	var b strings.Builder
	interest := "1"
	if ci.fourLetter {
		interest = "0"
	}
	fmt.Fprintf(&b, " /%s[%s](queued=%d,recved=%d,sent=%d", ci.remote, interest, ci.queued, ci.recved, ci.sent)
	if !brief && ci.session != 0 {
		fmt.Fprintf(&b, ",sid=0x%x,lop=%s,est=%d,to=%d", uint64(ci.session), ci.lastOp, ci.established.UnixMilli(), ci.timeoutMs)
		if ci.lastCxid >= 0 {
			fmt.Fprintf(&b, ",lcxid=0x%x", ci.lastCxid)
		}
		var avg int64
		if ci.lat.count > 0 {
			avg = ci.lat.sum / ci.lat.count
		}
		fmt.Fprintf(&b, ",lzxid=0x%x,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d", uint64(ci.lastZxid),
			ci.lastResp.UnixMilli(), ci.lat.last, ci.lat.min, avg, ci.lat.max)
	}
	b.WriteString(")")
	return b.String()
}

// conf is ZooKeeperServer.dumpConf and, in an ensemble,
// QuorumZooKeeperServer.dumpConf, with zoosim's own keys added.
func (s *Server) conf(b *strings.Builder) {
	c := s.cfg
	logDir := c.DataLogDir
	if logDir == "" {
		logDir = c.DataDir
	}
	addr, _ := c.ClientListenAddr()
	_, port, _ := strings.Cut(addr, ":")
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		port = addr[i+1:]
	}
	minMs, maxMs := c.MinSessionTimeoutMs, c.MaxSessionTimeoutMs
	if minMs == 0 {
		minMs = 2 * c.TickTimeMs
	}
	if maxMs == 0 {
		maxMs = 20 * c.TickTimeMs
	}
	serverID := c.MyID
	if c.Standalone() {
		serverID = 0 // ZooKeeper's standalone server has no id
	}
	// ZooKeeper shows the directories its files are in (dataDir/version-2).
	fmt.Fprintf(b, "clientPort=%s\nsecureClientPort=-1\ndataDir=%s\ndataDirSize=%d\ndataLogDir=%s\ndataLogSize=%d\n",
		port, filepath.Join(c.DataDir, StorageSubdir), s.dataDirSize(), filepath.Join(logDir, StorageSubdir), s.logDirSize())
	fmt.Fprintf(b, "tickTime=%d\nmaxClientCnxns=%d\nminSessionTimeout=%d\nmaxSessionTimeout=%d\nclientPortListenBacklog=-1\nserverId=%d\n",
		c.TickTimeMs, c.MaxClientCnxns, minMs, maxMs, serverID)
	zoosim := fmt.Sprintf("zoosim.engine=%s\nzoosim.quorum=%s\nzoosim.readMode=%s\n", c.Engine, c.Quorum, c.ReadMode)
	if c.Standalone() {
		b.WriteString(zoosim)
		return
	}
	me := c.Servers[c.MyID]
	fmt.Fprintf(b, "initLimit=%d\nsyncLimit=%d\nelectionAlg=3\nelectionPort=%d\nquorumPort=%d\npeerType=0\n",
		c.InitLimit, c.SyncLimit, me.ElectionPort, me.PeerPort)
	b.WriteString(zoosim)
	b.WriteString("membership: \n")
	ids := make([]node.ID, 0, len(c.Servers))
	for id := range c.Servers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		a := c.Servers[id]
		fmt.Fprintf(b, "server.%d=%s:%d:%d:participant", id, a.Host, a.PeerPort, a.ElectionPort)
		if a.ClientAddr != "" {
			b.WriteString(";" + a.ClientAddr)
		}
		b.WriteString("\n")
	}
	b.WriteString("version=0") // QuorumVerifier.toString ends without a newline
}

// mntr is MonitorCommand: key<TAB>value lines under ZooKeeper's names, for
// the values zoosim has (ZooKeeper's other keys are left out, never made
// up).
func (s *Server) mntr(b *strings.Builder, v coreView) {
	line := func(k string, val any) {
		var str string
		switch x := val.(type) {
		case float64:
			str = javaDouble(x)
		default:
			str = fmt.Sprint(x)
		}
		b.WriteString("zk_" + k + "\t" + str + "\n")
	}
	ps := s.clients.serverStats()
	line("version", Version())
	line("server_state", s.mode(v))
	if !s.cfg.Standalone() {
		line("peer_state", peerState(v.status))
	}
	ephemerals := 0
	for _, e := range v.ephemerals {
		ephemerals += len(e.paths)
	}
	line("ephemerals_count", ephemerals)
	line("num_alive_connections", s.clients.Connections())
	line("avg_latency", ps.lat.avg())
	line("max_latency", ps.lat.max)
	line("min_latency", ps.lat.min)
	line("outstanding_requests", ps.outstanding)
	line("znode_count", zkNodeCount(v))
	line("global_sessions", len(v.sessions))
	line("local_sessions", 0)
	line("watch_count", v.watchCount)
	line("approximate_data_size", v.dataSize)
	line("packets_sent", ps.sent)
	line("packets_received", ps.received)
	line("auth_failed_count", ps.authFailed)
	line("uptime", time.Since(s.started).Milliseconds())
	if n, ok := openFiles(); ok {
		line("open_file_descriptor_count", n)
	}
	if n, ok := maxFiles(); ok {
		line("max_file_descriptor_count", n)
	}
	if !s.cfg.Standalone() {
		line("quorum_size", len(s.cfg.Servers))
	}
	if s.mode(v) == "leader" {
		st := v.stats
		last, lo, hi := int64(-1), int64(-1), int64(-1)
		if st.Proposals > 0 {
			last, lo, hi = st.ProposalSizeLast, st.ProposalSizeMin, st.ProposalSizeMax
		}
		line("last_proposal_size", last)
		line("min_proposal_size", lo)
		line("max_proposal_size", hi)
		line("proposal_count", st.Proposals)
	}
	fs := s.drv.fsyncStats()
	summary := func(name string, l latencyStats) {
		line("avg_"+name, l.avg())
		line("min_"+name, l.min)
		line("max_"+name, l.max)
		line("cnt_"+name, l.count)
		line("sum_"+name, l.sum)
	}
	summary("fsynctime", fs)
	read, update := s.clients.readWriteLatency()
	summary("readlatency", read)
	summary("updatelatency", update)
}

// peerState is QuorumPeer.getDetailedPeerState: the role and the Zab phase.
func peerState(st quorum.Status) string {
	switch st.Role {
	case quorum.Leading:
		if st.Serving {
			return "leading - broadcast"
		}
		return "leading - synchronization"
	case quorum.Following:
		if st.Serving {
			return "following - broadcast"
		}
		return "following - synchronization"
	}
	return "looking - election"
}

// watches is WatchCommand over the data watches: wchs summarizes, wchc lists
// by session, wchp by path.
func watches(b *strings.Builder, word string, ws []server.SessionWatches) {
	switch word {
	case "wchs":
		paths := map[string]bool{}
		total := 0
		for _, w := range ws {
			total += len(w.Paths)
			for _, p := range w.Paths {
				paths[p] = true
			}
		}
		fmt.Fprintf(b, "%d connections watching %d paths\nTotal watches:%d\n", len(ws), len(paths), total)
	case "wchc":
		for _, w := range ws {
			fmt.Fprintf(b, "0x%x\n", uint64(w.Session))
			for _, p := range w.Paths {
				b.WriteString("\t" + p + "\n")
			}
		}
		b.WriteString("\n")
	case "wchp":
		byPath := map[string][]int64{}
		for _, w := range ws {
			for _, p := range w.Paths {
				byPath[p] = append(byPath[p], w.Session)
			}
		}
		paths := make([]string, 0, len(byPath))
		for p := range byPath {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		for _, p := range paths {
			b.WriteString(p + "\n")
			for _, id := range byPath[p] {
				fmt.Fprintf(b, "\t0x%x\n", uint64(id))
			}
		}
		b.WriteString("\n")
	}
}

// javaDate is java.util.Date.toString.
func javaDate(t time.Time) string { return t.Format("Mon Jan 02 15:04:05 MST 2006") }

// dump is DumpCommand: the session tracker (the leader's expiry buckets, a
// follower's session list), the ephemerals, and the connections with the
// time each would be closed for silence.
func (s *Server) dump(b *strings.Builder, v coreView) {
	tick := node.Time(s.cfg.TickTimeMs) * node.Millisecond
	bucket := func(at node.Time) node.Time { return (at/tick + 1) * tick } // ExpiryQueue.roundToNextInterval
	b.WriteString("SessionTracker dump:\n")
	if v.status.Role == quorum.Leading {
		type set struct {
			at  node.Time
			ids []int64
		}
		var sets []set
		for _, e := range v.expiries {
			at := bucket(e.ExpiresAt)
			if len(sets) == 0 || sets[len(sets)-1].at != at {
				sets = append(sets, set{at: at})
			}
			sets[len(sets)-1].ids = append(sets[len(sets)-1].ids, e.ID)
		}
		fmt.Fprintf(b, "Session Sets (%d)/(%d):\n", len(sets), len(v.expiries))
		for _, st := range sets {
			fmt.Fprintf(b, "%d expire at %s:\n", len(st.ids), javaDate(time.Unix(0, int64(st.at))))
			for _, id := range st.ids {
				fmt.Fprintf(b, "\t0x%x\n", uint64(id))
			}
		}
	} else {
		fmt.Fprintf(b, "Global Sessions(%d):\n", len(v.sessions))
		for _, ss := range v.sessions {
			fmt.Fprintf(b, "0x%x\t%dms\n", uint64(ss.ID), ss.TimeoutMs)
		}
	}
	b.WriteString("ephemeral nodes dump:\n")
	fmt.Fprintf(b, "Sessions with Ephemerals (%d):\n", len(v.ephemerals))
	for _, e := range v.ephemerals {
		fmt.Fprintf(b, "0x%x:\n", uint64(e.session))
		for _, p := range e.paths {
			b.WriteString("\t" + p + "\n")
		}
	}
	b.WriteString("Connections dump:\n")
	conns := s.clients.connInfos()
	type cset struct {
		at    node.Time
		lines []string
	}
	var sets []cset
	expiry := func(ci connInfo) node.Time {
		timeout := node.Time(ci.timeoutMs) * node.Millisecond
		if ci.timeoutMs == 0 {
			timeout = 10 * node.Second // NIOServerCnxnFactory.sessionlessCnxnTimeout
		}
		return bucket(node.Time(ci.lastHeard.UnixNano()) + timeout)
	}
	slices.SortStableFunc(conns, func(a, b connInfo) int { return cmp.Compare(expiry(a), expiry(b)) })
	for _, ci := range conns {
		at := expiry(ci)
		if len(sets) == 0 || sets[len(sets)-1].at != at {
			sets = append(sets, cset{at: at})
		}
		sets[len(sets)-1].lines = append(sets[len(sets)-1].lines, fmt.Sprintf("\tip: /%s sessionId: 0x%x\n", ci.remote, uint64(ci.session)))
	}
	fmt.Fprintf(b, "Connections Sets (%d)/(%d):\n", len(sets), len(conns))
	for _, st := range sets {
		fmt.Fprintf(b, "%d expire at %s:\n", len(st.lines), javaDate(time.Unix(0, int64(st.at))))
		for _, l := range st.lines {
			b.WriteString(l)
		}
	}
}

// envi is EnvCommand: ZooKeeper's keys where zoosim has them, its Go
// runtime where ZooKeeper shows its JVM's.
func (s *Server) envi() string {
	var b strings.Builder
	kv := func(k, v string) { b.WriteString(k + "=" + v + "\n") }
	b.WriteString("Environment:\n")
	kv("zookeeper.version", Version())
	kv("host.name", canonicalHostName())
	kv("go.version", runtime.Version())
	kv("go.maxprocs", strconv.Itoa(runtime.GOMAXPROCS(0)))
	if exe, err := os.Executable(); err == nil {
		kv("go.executable", exe)
	}
	kv("java.io.tmpdir", os.TempDir())
	osName := runtime.GOOS
	switch osName {
	case "linux":
		osName = "Linux"
	case "darwin":
		osName = "Mac OS X"
	}
	kv("os.name", osName)
	kv("os.arch", runtime.GOARCH)
	if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kv("os.version", strings.TrimSpace(string(rel)))
	}
	if u, err := user.Current(); err == nil {
		kv("user.name", u.Username)
		kv("user.home", u.HomeDir)
	}
	if wd, err := os.Getwd(); err == nil {
		kv("user.dir", wd)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	kv("os.memory.free", fmt.Sprintf("%dMB", (ms.HeapIdle-ms.HeapReleased)>>20))
	kv("os.memory.total", fmt.Sprintf("%dMB", ms.Sys>>20))
	return b.String()
}

// dataDirSize and logDirSize are ZooKeeper's: the bytes in the directory
// of the node's files (with a separate log directory, each its own).
// canonicalHostName is Java's InetAddress.getLocalHost().getCanonicalHostName():
// the host name resolved to an address and back.
func canonicalHostName() string {
	host, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	addrs, err := net.LookupHost(host)
	if err != nil || len(addrs) == 0 {
		return host
	}
	names, err := net.LookupAddr(addrs[0])
	if err != nil || len(names) == 0 {
		return addrs[0]
	}
	return strings.TrimSuffix(names[0], ".")
}

func (s *Server) dataDirSize() int64 { return dirSize(filepath.Join(s.cfg.DataDir, StorageSubdir)) }

func (s *Server) logDirSize() int64 {
	if s.cfg.DataLogDir == "" {
		return s.dataDirSize()
	}
	return dirSize(filepath.Join(s.cfg.DataLogDir, StorageSubdir))
}

// dirSize sums the sizes of the files in a directory (not below it).
func dirSize(dir string) int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range entries {
		if info, err := os.Stat(filepath.Join(dir, e.Name())); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}

// javaDouble formats a double as Java's Double.toString does for the
// values these counters take (at least one decimal: 0.0, 4.5).
func javaDouble(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eEnN") {
		s += ".0"
	}
	return s
}
