package real

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"zoosim/checker"
	"zoosim/model"
	"zoosim/node"
	"zoosim/node/codec"
	"zoosim/quorum"
	"zoosim/quorum/engines"
	"zoosim/quorum/raft"
	"zoosim/quorum/zab"
	"zoosim/server"
)

// EngineParams are what a config says about replication.
type EngineParams struct {
	Verifier             quorum.Verifier
	TickTime             node.Time
	InitLimit, SyncLimit int
	SnapCount            int
}

// EngineFactory builds a server's replication engine.
type EngineFactory func(sm quorum.StateMachine, env node.Env) (quorum.Engine, error)

// NewEngine returns the factory of the engine called name, from the
// engine registry (the one scenarios' --engine NAME uses), with the
// config's settings.
func NewEngine(name string, p EngineParams) (EngineFactory, error) {
	spec, err := engines.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("real: %w", err)
	}
	if err := spec.Check(p.Verifier); err != nil {
		return nil, fmt.Errorf("real: %w", err)
	}
	settings := engines.Settings{TickTime: p.TickTime, InitLimit: p.InitLimit, SyncLimit: p.SyncLimit, SnapCount: max(p.SnapCount, 0)}
	return func(sm quorum.StateMachine, env node.Env) (quorum.Engine, error) {
		return spec.New(engines.Params{Verifier: p.Verifier, StateMachine: sm, Settings: settings}, env)
	}, nil
}

// PeerRegistry returns the peer codecs of every message servers exchange.
func PeerRegistry() (*codec.Registry, error) {
	r := codec.NewRegistry()
	if err := zab.RegisterCodecs(r); err != nil {
		return nil, err
	}
	if err := raft.RegisterCodecs(r); err != nil {
		return nil, err
	}
	if err := server.RegisterCodecs(r); err != nil {
		return nil, err
	}
	return r, nil
}

// SecretPasswd returns a session password function keyed by a secret drawn
// now from crypto/rand: HMAC-SHA256(secret, session id), cut to ZooKeeper's
// 16 bytes. The password travels with the createSession txn, so every
// server can check it, and nobody can compute it from the session id.
func SecretPasswd() (func(session int64) [model.PasswdLen]byte, error) {
	secret := make([]byte, 32)
	if _, err := io.ReadFull(systemRandom, secret); err != nil {
		return nil, err
	}
	var mu sync.Mutex // the driver's goroutine is the only caller; cheap insurance
	mac := hmac.New(sha256.New, secret)
	return func(session int64) [model.PasswdLen]byte {
		mu.Lock()
		defer mu.Unlock()
		mac.Reset()
		mac.Write(binary.BigEndian.AppendUint64(nil, uint64(session)))
		var out [model.PasswdLen]byte
		copy(out[:], mac.Sum(nil))
		return out
	}, nil
}

// router sends a core's messages to a peer server or a client connection.
type router struct {
	peers   *Peers // nil for a lone server
	clients *ClientPort
}

func (r *router) Send(m node.Message) {
	if r.peers != nil && r.peers.Has(m.To) {
		r.peers.Send(m)
		return
	}
	if m.To >= FirstClientID {
		r.clients.Send(m)
	}
}

// NoEarlySendEnv set to 1 in a server's environment makes every message
// wait for the syncs requested before it (the strict output barrier the
// simulator keeps), to compare with the early send.
const NoEarlySendEnv = "ZOOSIM_NO_EARLY_SEND"

// Server is one running ensemble member.
type Server struct {
	cfg     *Config
	log     *slog.Logger
	st      *Storage
	drv     *Driver
	peers   *Peers
	clients *ClientPort
	core    *server.Server
	last    quorum.Status // the role last logged
	started time.Time

	metrics    *metrics // nil unless the config asks for them
	metricsSrv *metricsServer

	report *reporter // nil unless zoosim.reportDir is set
}

// NewServer opens a server's storage and ports from its config and builds
// its core; Run serves.
func NewServer(cfg *Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("server", cfg.MyID)
	for _, k := range cfg.Ignored {
		log.Warn("config: "+k+" has no effect in zoosim", "file", cfg.File)
	}
	v, err := cfg.Verifier()
	if err != nil {
		return nil, err
	}
	tick := node.Time(cfg.TickTimeMs) * node.Millisecond
	eng, err := NewEngine(cfg.Engine, EngineParams{Verifier: v, TickTime: tick, InitLimit: cfg.InitLimit,
		SyncLimit: cfg.SyncLimit, SnapCount: cfg.SnapCount})
	if err != nil {
		return nil, err
	}
	reg, err := PeerRegistry()
	if err != nil {
		return nil, err
	}
	passwd, err := SecretPasswd()
	if err != nil {
		return nil, err
	}
	clientAddr, err := cfg.ClientListenAddr()
	if err != nil {
		return nil, err
	}
	st, err := OpenStorage(StorageOptions{Dir: cfg.DataDir, LogDir: cfg.DataLogDir, Logger: log, NoSync: !cfg.ForceSync,
		Faults: os.Getenv(DiskFaultsEnv) == "1"})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, st: st, started: time.Now()}
	rt := &router{}
	dopt := DriverOptions{ID: cfg.MyID, Storage: st, Sender: rt, Logger: log, Observe: s.observe}
	if cfg.Engine == "zab" && os.Getenv(NoEarlySendEnv) != "1" {
		// Proposals, commits, pings and relays leave while this server's
		// own writes are syncing, as ZooKeeper logs and proposes in
		// parallel (see zab.IndependentOfPendingSync).
		dopt.SendEarly = func(m node.Message) bool { return zab.IndependentOfPendingSync(m.Body) }
	}
	var observer RequestObserver
	if cfg.Metrics {
		s.metrics = newMetrics(s)
		dopt.OnFsync = s.metrics.observeFsync
		observer = s.metrics
	}
	s.drv = NewDriver(dopt)
	fail := func(err error) (*Server, error) {
		s.close()
		return nil, err
	}
	if len(cfg.Servers) > 1 {
		if s.peers, err = ListenPeers(PeerOptions{Self: cfg.MyID, Addrs: cfg.PeerAddrs(), Registry: reg,
			Deliver: s.drv.DeliverPeer, Logger: log}); err != nil {
			return fail(err)
		}
		rt.peers = s.peers
	}
	if s.clients, err = ListenClients(ClientPortOptions{Self: cfg.MyID, Addr: clientAddr, Deliver: s.drv.DeliverClient,
		MaxPerHost: cfg.MaxClientCnxns, FourLetter: s.fourLetter, Observer: observer, Logger: log}); err != nil {
		return fail(fmt.Errorf("real: client port: %w", err))
	}
	if s.metrics != nil {
		if s.metricsSrv, err = listenMetrics(cfg.MetricsAddr(), s.metrics, log); err != nil {
			return fail(fmt.Errorf("real: metrics (metricsProvider.httpPort): %w", err))
		}
	}
	rt.clients = s.clients
	scfg := server.Config{
		NewEngine:         eng,
		TickTime:          tick,
		MinSessionTimeout: node.Time(cfg.MinSessionTimeoutMs) * node.Millisecond,
		MaxSessionTimeout: node.Time(cfg.MaxSessionTimeoutMs) * node.Millisecond,
		ReadMode:          cfg.ReadMode,
		Passwd:            passwd,
		RefuseTTL:         !cfg.ExtendedTypesEnabled,
		SuperDigest:       cfg.SuperDigest,
		SkipACL:           cfg.SkipACL,
	}
	if s.core, err = server.New(scfg, s.drv.Env()); err != nil {
		return fail(err)
	}
	if cfg.ReportDir != "" {
		if s.report, err = openReporter(cfg.ReportDir); err != nil {
			return fail(fmt.Errorf("real: zoosim.reportDir: %w", err))
		}
		s.core.RecordApplied()
		log.Info("zoosim serve: reporting applied txns", "file", s.report.f.Name())
	}
	return s, nil
}

// observe logs the server's role changes and reports what it applied (on
// the driver's goroutine).
func (s *Server) observe(node.Machine) {
	if s.report != nil {
		// The apply time is the batch's first input: the replies and
		// notices of what it applied were sent after it (drain runs
		// before observe), so no client sees a change before its record.
		if err := s.report.write(s.core.TakeApplied(), s.drv.InputAt()); err != nil {
			s.log.Error("zoosim serve: zoosim.reportDir: the report stops", "err", err)
			s.report.f.Close()
			s.report = nil
		}
	}
	st := s.core.Engine().Status()
	if st.Role == s.last.Role && st.Leader == s.last.Leader && st.Term == s.last.Term && st.Serving == s.last.Serving {
		return
	}
	s.last = st
	s.log.Info("zoosim serve: role", "role", st.Role.String(), "leader", st.Leader, "term", st.Term,
		"serving", st.Serving, "committed", st.Committed.String())
}

func (s *Server) close() {
	if s.peers != nil {
		s.peers.ln.Close()
	}
	if s.clients != nil {
		s.clients.ln.Close()
	}
	if s.metricsSrv != nil {
		s.metricsSrv.ln.Close()
	}
	if s.report != nil {
		s.report.f.Close()
	}
	s.st.Close()
}

// ClientAddr is the address the client port listens on.
func (s *Server) ClientAddr() net.Addr { return s.clients.Addr() }

// PeerAddr is the address the peer port listens on (nil for a lone server).
func (s *Server) PeerAddr() net.Addr {
	if s.peers == nil {
		return nil
	}
	return s.peers.Addr()
}

// MetricsAddr is where the Prometheus metrics listen (nil when off).
func (s *Server) MetricsAddr() net.Addr {
	if s.metricsSrv == nil {
		return nil
	}
	return s.metricsSrv.Addr()
}

// Driver is the server's driver (for stats and inspection).
func (s *Server) Driver() *Driver { return s.drv }

// Run serves until ctx is done (nil) or the node fails (its error: a disk
// op or an fsync that failed, a broken invariant).
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if s.peers != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.peers.Run(ctx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); s.clients.Run(ctx) }()
	metricsAddr := "none"
	if s.metricsSrv != nil {
		metricsAddr = s.metricsSrv.Addr().String()
		wg.Add(1)
		go func() { defer wg.Done(); s.metricsSrv.run(ctx, s.log) }()
	}
	peer := "none"
	if s.peers != nil {
		peer = s.peers.Addr().String()
	}
	s.log.Info("zoosim serve: listening", "clients", s.clients.Addr().String(), "peers", peer, "metrics", metricsAddr,
		"engine", s.cfg.Engine, "quorum", s.cfg.Quorum, "ensemble", len(s.cfg.Servers))
	err := s.drv.Run(ctx, s.core)
	cancel()
	wg.Wait()
	if s.report != nil {
		s.report.f.Close()
	}
	ds := s.drv.Stats()
	dropped := uint64(0)
	if s.peers != nil {
		dropped = s.peers.Dropped()
	}
	s.log.Info("zoosim serve: stopped", "readies", ds.Readies, "syncReadies", ds.SyncReadies, "fsyncs", ds.FsyncBatches,
		"sent", ds.Sent, "sentEarly", ds.Early, "peerDropped", dropped, "clientsRefused", s.clients.Refused())
	if cerr := s.st.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.Error("zoosim serve: the node stopped", "err", err)
		return err
	}
	return nil
}

// Serve runs one ensemble member from its config until ctx is done.
func Serve(ctx context.Context, cfg *Config, log *slog.Logger) error {
	s, err := NewServer(cfg, log)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// reporter appends the txns a server applies to its report file, one
// checker.Txn JSON line each, with one write per batch: a SIGKILL loses
// nothing written (the kernel has it), and a process that dies between an
// apply and its write loses that batch's lines only, which its next
// incarnation applies again from its disk.
type reporter struct {
	f   *os.File
	buf []byte
}

func openReporter(dir string) (*reporter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	name := filepath.Join(dir, fmt.Sprintf("committed.%020d.jsonl", time.Now().UnixNano()))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &reporter{f: f}, nil
}

func (r *reporter) write(applied []server.AppliedTxn, at node.Time) error {
	if len(applied) == 0 {
		return nil
	}
	now := int64(at)
	r.buf = r.buf[:0]
	for _, a := range applied {
		b, err := json.Marshal(checker.Txn{Zxid: a.Zxid, Session: a.Session, Cxid: a.Cxid, TimeMs: a.TimeMs, Txn: a.Txn,
			Digest: a.Digest, Time: node.Time(now)})
		if err != nil {
			return err
		}
		r.buf = append(append(r.buf, b...), '\n')
	}
	_, err := r.f.Write(r.buf)
	return err
}
