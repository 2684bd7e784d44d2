package real

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"zoosim/node"
	"zoosim/quorum"
	"zoosim/quorum/engines"
	"zoosim/server"
)

// Config is one ensemble member's configuration: ZooKeeper's zoo.cfg, with
// the meaning ZooKeeper 3.8 gives its keys (QuorumPeerConfig), plus
// zoosim's own keys under "zoosim.".
//
// ZooKeeper keys read:
//
//	tickTime              ms; required
//	initLimit, syncLimit  ticks; required with server.N lines
//	dataDir               required; holds myid and the node's files
//	dataLogDir            the log's files (default dataDir)
//	clientPort            required unless this server's server.N line names one
//	clientPortAddress     the address to listen on (default every address)
//	maxClientCnxns        connections from one IP address (default 60, 0 no limit)
//	minSessionTimeout     ms (default 2 ticks)
//	maxSessionTimeout     ms (default 20 ticks)
//	server.N              host:peerPort:electionPort[:participant][;[clientAddress:]clientPort]
//	                      zoosim's one peer transport uses peerPort (ZooKeeper's
//	                      quorum port); the electionPort is checked and not used
//	quorumListenOnAllIPs  listen on the peer port on every address
//	extendedTypesEnabled  TTL nodes (default false, as ZooKeeper: createTTL is
//	                      then answered Unimplemented)
//	4lw.commands.whitelist the four-letter words answered, comma-separated, *
//	                      for all (srvr is always answered, as in ZooKeeper)
//	snapCount             txns between snapshots (default 100000)
//	forceSync             yes (default) or no: no skips every fsync (unsafe)
//	electionAlg           only 3 (FastLeaderElection)
//	standaloneEnabled     read; a lone server is an ensemble of one either way
//	skipACL               yes: no ACL checks (zookeeper.skipACL; default no)
//	DigestAuthenticationProvider.superDigest
//	                      user:base64(sha1(user:password)): the super user. ZooKeeper
//	                      turns this zoo.cfg key into the system property
//	                      zookeeper.DigestAuthenticationProvider.superDigest (as
//	                      it does every key it does not know), so the same line
//	                      works for both; zoosim reads no -D flags
//	metricsProvider.className  only ZooKeeper's Prometheus provider
//	                      (org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider)
//	metricsProvider.httpPort   the port of the Prometheus metrics (/metrics;
//	                      default 7000 once the provider is set, as ZooKeeper)
//	metricsProvider.httpHost   the address to listen on (default 0.0.0.0)
//
// Keys ZooKeeper knows that zoosim does not implement (autopurge, the admin
// server, and a few tuning knobs) are accepted and logged as having no
// effect. Any other key, a malformed value, or a
// missing required key is an error naming the line.
//
// zoosim's keys:
//
//	zoosim.engine     the replication engine (zab)
//	zoosim.quorum     majority (default), a size K, flex:E:C or hier:... as
//	                  zoosim run --quorum spells it
//	zoosim.readMode   local (default, as ZooKeeper), synced or linearizable
//	zoosim.reportDir  a directory (relative: to the config's) where the server
//	                  appends every txn it applies, one JSON line each
//	                  (checker.Txn, Time in Unix nanoseconds), to one file
//	                  per incarnation (committed.<start ns>.jsonl): for the
//	                  harness's white-box checks (zoosim/real/harness). Off
//	                  by default: it costs a write per batch of applies
//
// A myid file in dataDir names this server (required with server.N lines);
// no server.N lines means a standalone server (id 1, or myid's).
type Config struct {
	// File is the path the config was read from.
	File string

	TickTimeMs                               int
	InitLimit, SyncLimit                     int
	DataDir, DataLogDir                      string
	ClientPort                               int
	ClientPortAddress                        string
	MaxClientCnxns                           int
	MinSessionTimeoutMs, MaxSessionTimeoutMs int // 0: the defaults

	// Servers are the server.N lines; empty for a standalone server.
	Servers              map[node.ID]ServerAddr
	QuorumListenOnAllIPs bool
	ExtendedTypesEnabled bool
	FourLetterWords      []string
	SnapCount            int
	ForceSync            bool
	SkipACL              bool
	SuperDigest          string
	// Metrics: the Prometheus provider is set (metricsProvider.className)
	// or a port is given; MetricsAddr is where it listens (host:port).
	Metrics         bool
	MetricsHTTPPort int
	MetricsHTTPHost string

	Engine    string
	Quorum    string
	ReadMode  server.ReadMode
	ReportDir string

	// MyID is this server's id (from dataDir/myid; 1 when standalone
	// without one).
	MyID node.ID

	// Ignored lists the ZooKeeper keys read that have no effect here.
	Ignored []string
}

// ServerAddr is one server.N line.
type ServerAddr struct {
	Host                   string
	PeerPort, ElectionPort int
	// ClientAddr is the line's client address ("" when the line has none).
	ClientAddr string
}

// PeerAddr is host:peerPort.
func (a ServerAddr) PeerAddr() string { return net.JoinHostPort(a.Host, strconv.Itoa(a.PeerPort)) }

// ConfigError is a configuration that cannot run, with the line to blame
// when there is one.
type ConfigError struct {
	File string
	Line int // 0: not one line's fault
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// PrometheusProvider is the metricsProvider.className of ZooKeeper's
// Prometheus metrics, the ones zoosim serves.
const PrometheusProvider = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"

// DefaultMetricsPort is ZooKeeper's metricsProvider.httpPort default.
const DefaultMetricsPort = 7000

// ignoredKeys are ZooKeeper keys that zoosim accepts and does not act on.
var ignoredKeys = []string{
	"autopurge.snapRetainCount", "autopurge.purgeInterval", "admin.enableServer", "admin.serverPort",
	"admin.serverAddress", "admin.idleTimeout", "admin.commandURL",
	"metricsProvider.exportJvmInfo", "globalOutstandingLimit", "preAllocSize", "leaderServes", "cnxTimeout",
	"syncEnabled", "reconfigEnabled", "localSessionsEnabled", "localSessionsUpgradingEnabled",
	"connectToLearnerMasterLimit", "maxResponseCacheSize", "maxGetChildrenResponseCacheSize", "jute.maxbuffer",
}

// zoosimEngines are the engines Serve can build (see NewEngine).
var zoosimEngines = engines.Names()

// ReadConfig reads a zoo.cfg and the myid file its dataDir holds.
func ReadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &ConfigError{File: path, Msg: err.Error()}
	}
	defer f.Close()
	cfg, err := ParseConfig(path, f)
	if err != nil {
		return nil, err
	}
	if err := cfg.readMyID(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// ParseConfig parses zoo.cfg text (name is used in errors and to resolve a
// relative dataDir); it does not read myid (ReadConfig does).
func ParseConfig(name string, r io.Reader) (*Config, error) {
	cfg := &Config{File: name, MaxClientCnxns: 60, SnapCount: 100000, ForceSync: true, Engine: "zab",
		Quorum: "majority", ReadMode: server.ReadLocal, Servers: map[node.ID]ServerAddr{}}
	lines := map[string]int{} // key -> line, for later checks
	fail := func(line int, format string, args ...any) error {
		return &ConfigError{File: name, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' || text[0] == '!' {
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		if !ok {
			return nil, fail(n, "%q is not key=value", text)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if key == "" {
			return nil, fail(n, "%q has no key", text)
		}
		if prev, dup := lines[key]; dup {
			return nil, fail(n, "%s is set twice (first on line %d)", key, prev)
		}
		lines[key] = n
		if err := cfg.set(key, value); err != nil {
			return nil, fail(n, "%s=%s: %v", key, value, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &ConfigError{File: name, Msg: err.Error()}
	}
	return cfg, cfg.check(name, lines)
}

func (c *Config) set(key, value string) error {
	num := func(dst *int, lo int) error {
		v, err := strconv.Atoi(value)
		if err != nil {
			return errors.New("not an integer")
		}
		if v < lo {
			return fmt.Errorf("must be at least %d", lo)
		}
		*dst = v
		return nil
	}
	boolean := func(dst *bool) error {
		switch strings.ToLower(value) {
		case "true", "yes":
			*dst = true
		case "false", "no":
			*dst = false
		default:
			return errors.New("not true/false (or yes/no)")
		}
		return nil
	}
	switch {
	case key == "tickTime":
		return num(&c.TickTimeMs, 1)
	case key == "initLimit":
		return num(&c.InitLimit, 1)
	case key == "syncLimit":
		return num(&c.SyncLimit, 1)
	case key == "dataDir":
		c.DataDir = value
	case key == "dataLogDir":
		c.DataLogDir = value
	case key == "clientPort":
		if err := num(&c.ClientPort, 1); err != nil {
			return err
		}
		if c.ClientPort > 65535 {
			return errors.New("not a port")
		}
	case key == "clientPortAddress":
		if value == "" {
			return errors.New("empty")
		}
		c.ClientPortAddress = value
	case key == "maxClientCnxns":
		return num(&c.MaxClientCnxns, 0)
	case key == "minSessionTimeout":
		return sessionTimeout(value, &c.MinSessionTimeoutMs)
	case key == "maxSessionTimeout":
		return sessionTimeout(value, &c.MaxSessionTimeoutMs)
	case strings.HasPrefix(key, "server."):
		id, err := strconv.Atoi(strings.TrimPrefix(key, "server."))
		if err != nil || id < 1 || id > quorum.MaxServers {
			return fmt.Errorf("the server id must be a number in 1..%d (zoosim's quorum sets hold %d servers)",
				quorum.MaxServers, quorum.MaxServers)
		}
		a, err := parseServerLine(value)
		if err != nil {
			return err
		}
		c.Servers[node.ID(id)] = a
	case key == "quorumListenOnAllIPs":
		return boolean(&c.QuorumListenOnAllIPs)
	case key == "extendedTypesEnabled":
		return boolean(&c.ExtendedTypesEnabled)
	case key == "4lw.commands.whitelist":
		c.FourLetterWords = nil
		for _, w := range strings.Split(value, ",") {
			w = strings.TrimSpace(w)
			if w == "" {
				continue
			}
			if w != "*" && len(w) != 4 {
				return fmt.Errorf("%q is not a four-letter word (or *)", w)
			}
			c.FourLetterWords = append(c.FourLetterWords, w)
		}
	case key == "snapCount":
		return num(&c.SnapCount, 2)
	case key == "forceSync":
		switch value {
		case "yes":
			c.ForceSync = true
		case "no":
			c.ForceSync = false
		default:
			return errors.New("not yes or no")
		}
	case key == "electionAlg":
		if value != "3" {
			return errors.New("only electionAlg=3 (FastLeaderElection) exists")
		}
	case key == "standaloneEnabled":
		// Either way a lone server is an ensemble of one here.
		var v bool
		return boolean(&v)
	case key == "metricsProvider.className":
		if value != PrometheusProvider {
			return fmt.Errorf("the only metrics provider is %s", PrometheusProvider)
		}
		c.Metrics = true
	case key == "metricsProvider.httpPort":
		if err := num(&c.MetricsHTTPPort, 1); err != nil {
			return err
		}
		if c.MetricsHTTPPort > 65535 {
			return errors.New("not a port")
		}
		c.Metrics = true
	case key == "metricsProvider.httpHost":
		if value == "" {
			return errors.New("empty")
		}
		c.MetricsHTTPHost = value
	case key == "skipACL":
		// ZooKeeper: System.getProperty("zookeeper.skipACL", "no").equals("yes").
		switch value {
		case "yes":
			c.SkipACL = true
		case "no":
			c.SkipACL = false
		default:
			return errors.New("not yes or no")
		}
	case key == "DigestAuthenticationProvider.superDigest":
		user, digest, ok := strings.Cut(value, ":")
		if !ok || user == "" || digest == "" {
			return errors.New("not user:base64(sha1(user:password)) (generate it with `java -cp zookeeper.jar org.apache.zookeeper.server.auth.DigestAuthenticationProvider user:password`)")
		}
		c.SuperDigest = value
	case slices.Contains(ignoredKeys, key):
		c.Ignored = append(c.Ignored, key)
	case key == "zoosim.engine":
		if !slices.Contains(zoosimEngines, value) {
			return fmt.Errorf("unknown engine (this build has %s)", strings.Join(zoosimEngines, ", "))
		}
		c.Engine = value
	case key == "zoosim.quorum":
		if value == "" {
			return errors.New("empty")
		}
		c.Quorum = value // checked against the server lines in check
	case key == "zoosim.readMode":
		switch value {
		case "local":
			c.ReadMode = server.ReadLocal
		case "synced":
			c.ReadMode = server.ReadSynced
		case "linearizable":
			c.ReadMode = server.ReadLinearizable
		default:
			return errors.New("not local, synced or linearizable")
		}
	case key == "zoosim.reportDir":
		if value == "" {
			return errors.New("empty")
		}
		c.ReportDir = value
	case strings.HasPrefix(key, "zoosim."):
		return errors.New("unknown zoosim key (zoosim.engine, zoosim.quorum, zoosim.readMode, zoosim.reportDir)")
	default:
		return errors.New("unknown key")
	}
	return nil
}

func sessionTimeout(value string, dst *int) error {
	v, err := strconv.Atoi(value)
	if err != nil {
		return errors.New("not an integer")
	}
	if v == -1 { // ZooKeeper's "use the default"
		*dst = 0
		return nil
	}
	if v < 1 {
		return errors.New("must be positive (or -1 for the default)")
	}
	*dst = v
	return nil
}

// parseServerLine reads host:peerPort:electionPort[:type][;[addr:]port].
func parseServerLine(v string) (ServerAddr, error) {
	var a ServerAddr
	addrs, client, hasClient := strings.Cut(v, ";")
	if strings.Contains(addrs, "|") {
		return a, errors.New("multiple addresses per server are not supported")
	}
	// host may be an IPv6 literal in brackets.
	host := ""
	rest := addrs
	if strings.HasPrefix(addrs, "[") {
		end := strings.Index(addrs, "]")
		if end < 0 {
			return a, errors.New("an unclosed [ in the host")
		}
		host, rest = addrs[1:end], strings.TrimPrefix(addrs[end+1:], ":")
	} else {
		var ok bool
		host, rest, ok = strings.Cut(addrs, ":")
		if !ok {
			return a, errors.New("not host:peerPort:electionPort")
		}
	}
	parts := strings.Split(rest, ":")
	if host == "" || len(parts) < 2 || len(parts) > 3 {
		return a, errors.New("not host:peerPort:electionPort[:participant]")
	}
	if len(parts) == 3 && parts[2] != "participant" {
		if parts[2] == "observer" {
			return a, errors.New("observers are not supported")
		}
		return a, fmt.Errorf("unknown server type %q", parts[2])
	}
	var err error
	if a.PeerPort, err = port(parts[0]); err != nil {
		return a, fmt.Errorf("peer port: %v", err)
	}
	if a.ElectionPort, err = port(parts[1]); err != nil {
		return a, fmt.Errorf("election port: %v", err)
	}
	if a.PeerPort == a.ElectionPort {
		return a, errors.New("the peer and election ports are the same")
	}
	a.Host = host
	if hasClient {
		caddr, cport, ok := strings.Cut(client, ":")
		if !ok {
			caddr, cport = "", client
		}
		p, err := port(cport)
		if err != nil {
			return a, fmt.Errorf("client port: %v", err)
		}
		if caddr == "" {
			caddr = "0.0.0.0"
		}
		a.ClientAddr = net.JoinHostPort(caddr, strconv.Itoa(p))
	}
	return a, nil
}

func port(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("%q is not a port", s)
	}
	return p, nil
}

// check validates what needs more than one key.
func (c *Config) check(name string, lines map[string]int) error {
	fail := func(key, format string, args ...any) error {
		return &ConfigError{File: name, Line: lines[key], Msg: fmt.Sprintf(format, args...)}
	}
	if c.TickTimeMs == 0 {
		return fail("", "tickTime is not set")
	}
	if c.DataDir == "" {
		return fail("", "dataDir is not set")
	}
	if !filepath.IsAbs(c.DataDir) {
		c.DataDir = filepath.Join(filepath.Dir(name), c.DataDir)
	}
	if c.DataLogDir != "" && !filepath.IsAbs(c.DataLogDir) {
		c.DataLogDir = filepath.Join(filepath.Dir(name), c.DataLogDir)
	}
	if c.ReportDir != "" && !filepath.IsAbs(c.ReportDir) {
		c.ReportDir = filepath.Join(filepath.Dir(name), c.ReportDir)
	}
	if len(c.Servers) > 0 && (c.InitLimit == 0 || c.SyncLimit == 0) {
		return fail("", "initLimit and syncLimit must be set for an ensemble (server.N lines)")
	}
	if c.InitLimit == 0 {
		c.InitLimit = 10
	}
	if c.SyncLimit == 0 {
		c.SyncLimit = 5
	}
	minMs, maxMs := c.MinSessionTimeoutMs, c.MaxSessionTimeoutMs
	if minMs == 0 {
		minMs = 2 * c.TickTimeMs
	}
	if maxMs == 0 {
		maxMs = 20 * c.TickTimeMs
	}
	if minMs > maxMs {
		return fail("minSessionTimeout", "minSessionTimeout %d ms is above maxSessionTimeout %d ms", minMs, maxMs)
	}
	if c.Quorum != "majority" {
		v, err := quorum.Parse(c.Quorum, len(c.Servers))
		if err != nil {
			return fail("zoosim.quorum", "%v", err)
		}
		if len(c.Servers) == 0 {
			return fail("zoosim.quorum", "a quorum other than majority needs server.N lines")
		}
		want := quorum.Range(len(c.Servers))
		if v.Voters() != want || c.voterSet() != want {
			return fail("zoosim.quorum", "zoosim.quorum=%s needs servers numbered 1..%d", c.Quorum, len(c.Servers))
		}
	}
	return nil
}

func (c *Config) voterSet() quorum.Set {
	var s quorum.Set
	for id := range c.Servers {
		s = s.Add(id)
	}
	return s
}

// Standalone reports whether the config has no ensemble (at most one
// server line).
func (c *Config) Standalone() bool { return len(c.Servers) <= 1 }

// readMyID reads dataDir/myid. It is required with server.N lines and must
// name one of them.
func (c *Config) readMyID() error {
	path := filepath.Join(c.DataDir, "myid")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && len(c.Servers) == 0 {
		c.MyID = 1
		return nil
	}
	if err != nil {
		return &ConfigError{File: c.File, Msg: fmt.Sprintf("myid: %v (write this server's id, the N of its server.N line, in %s)", err, path)}
	}
	id, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || id < 1 || id >= int(FirstClientID) {
		return &ConfigError{File: path, Msg: fmt.Sprintf("%q is not a server id", strings.TrimSpace(string(b)))}
	}
	c.MyID = node.ID(id)
	if len(c.Servers) > 0 {
		if _, ok := c.Servers[c.MyID]; !ok {
			return &ConfigError{File: path, Msg: fmt.Sprintf("myid is %d, and there is no server.%d line in %s", id, id, c.File)}
		}
	} else if id > quorum.MaxServers {
		return &ConfigError{File: path, Msg: fmt.Sprintf("myid %d is above %d", id, quorum.MaxServers)}
	}
	return nil
}

// MetricsAddr is where the Prometheus metrics listen ("" when off).
func (c *Config) MetricsAddr() string {
	if !c.Metrics {
		return ""
	}
	port := c.MetricsHTTPPort
	if port == 0 {
		port = DefaultMetricsPort
	}
	return net.JoinHostPort(c.MetricsHTTPHost, strconv.Itoa(port))
}

// ClientListenAddr is where this server listens for clients.
func (c *Config) ClientListenAddr() (string, error) {
	if a, ok := c.Servers[c.MyID]; ok && a.ClientAddr != "" {
		if c.ClientPort != 0 || c.ClientPortAddress != "" {
			_, p, _ := net.SplitHostPort(a.ClientAddr)
			if c.ClientPort != 0 && strconv.Itoa(c.ClientPort) != p {
				return "", &ConfigError{File: c.File, Msg: fmt.Sprintf("clientPort %d and server.%d's client port %s differ", c.ClientPort, c.MyID, p)}
			}
		}
		return a.ClientAddr, nil
	}
	if c.ClientPort == 0 {
		return "", &ConfigError{File: c.File, Msg: "clientPort is not set"}
	}
	return net.JoinHostPort(c.ClientPortAddress, strconv.Itoa(c.ClientPort)), nil
}

// PeerAddrs maps every server to its peer address; the server's own is
// where it listens (every address with quorumListenOnAllIPs).
func (c *Config) PeerAddrs() map[node.ID]string {
	out := map[node.ID]string{}
	for id, a := range c.Servers {
		out[id] = a.PeerAddr()
		if id == c.MyID && c.QuorumListenOnAllIPs {
			out[id] = net.JoinHostPort("", strconv.Itoa(a.PeerPort))
		}
	}
	return out
}

// Verifier is the quorum verifier of the ensemble (a standalone server is
// an ensemble of one).
func (c *Config) Verifier() (quorum.Verifier, error) {
	if len(c.Servers) == 0 {
		return quorum.NewMajorityOf(quorum.SetOf(c.MyID)), nil
	}
	if c.Quorum == "majority" {
		return quorum.NewMajorityOf(c.voterSet()), nil
	}
	return quorum.Parse(c.Quorum, len(c.Servers))
}
