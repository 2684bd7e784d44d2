package real

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"zoosim/model"
	"zoosim/quorum"
)

// Prometheus metrics over HTTP (metricsProvider.httpPort, path /metrics).
// The cores stay I/O-free: the client port and the driver observe request
// latencies and fsync times as they carry them, and a collector reads the
// core's counters and gauges on the driver's goroutine (Driver.Inspect) at
// each scrape (the commit lag is the leader's proposals in flight: the
// engines' positions are not zxids, so a follower's lag behind its leader
// is not a local quantity). Gauges that ZooKeeper's own Prometheus provider exports with
// the same meaning keep its names (znode_count, watch_count,
// outstanding_requests, num_alive_connections, global_sessions,
// ephemerals_count, packets_received, packets_sent); the rest are zoosim_*.

// metrics are one server's.
type metrics struct {
	srv      *Server
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	fsync    prometheus.Histogram
}

// latencyBuckets span 100 µs to about 13 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 18)

func newMetrics(s *Server) *metrics {
	m := &metrics{srv: s, reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "zoosim_requests_total",
		Help: "Client requests answered, by operation and result (ok or the ZooKeeper error name).",
	}, []string{"op", "result"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "zoosim_request_duration_seconds",
		Help:    "Time from a request's arrival on the client port to its reply, by operation.",
		Buckets: latencyBuckets,
	}, []string{"op"})
	m.fsync = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "zoosim_fsync_duration_seconds",
		Help:    "Duration of each fsync batch (group commit: one batch makes many writes durable).",
		Buckets: latencyBuckets,
	})
	m.reg.MustRegister(m.requests, m.latency, m.fsync, (*coreCollector)(m),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveRequest implements RequestObserver (on the client port's writer
// goroutines).
func (m *metrics) ObserveRequest(op model.OpCode, latency time.Duration, err model.Err) {
	name := opName(op)
	result := "ok"
	if err != model.ErrOK {
		result = errName(err)
	}
	m.requests.WithLabelValues(name, result).Inc()
	m.latency.WithLabelValues(name).Observe(latency.Seconds())
}

func (m *metrics) observeFsync(d time.Duration) { m.fsync.Observe(d.Seconds()) }

// errName names a ZooKeeper error code for a label.
func errName(e model.Err) string {
	switch e {
	case model.ErrNoNode:
		return "NoNode"
	case model.ErrNodeExists:
		return "NodeExists"
	case model.ErrBadVersion:
		return "BadVersion"
	case model.ErrNotEmpty:
		return "NotEmpty"
	case model.ErrNoAuth:
		return "NoAuth"
	case model.ErrInvalidACL:
		return "InvalidACL"
	case model.ErrAuthFailed:
		return "AuthFailed"
	case model.ErrNoChildrenForEphemerals:
		return "NoChildrenForEphemerals"
	case model.ErrBadArguments:
		return "BadArguments"
	case model.ErrSessionExpired:
		return "SessionExpired"
	case model.ErrNoWatcher:
		return "NoWatcher"
	case model.ErrUnimplemented:
		return "Unimplemented"
	case model.ErrMarshallingError:
		return "MarshallingError"
	case model.ErrRuntimeInconsistency:
		return "RuntimeInconsistency"
	}
	return "other"
}

// coreCollector reads the core at each scrape.
type coreCollector metrics

type gaugeDesc struct {
	desc      *prometheus.Desc
	valueType prometheus.ValueType
	value     func(v coreView, m *metrics) float64
}

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	roleDesc   = newDesc("zoosim_role", "1 for the server's current role (leader, follower, looking; standalone for a lone server).", "role")
	coreGauges = []gaugeDesc{
		{newDesc("znode_count", "Znodes, as ZooKeeper counts them (its root is counted twice)."), prometheus.GaugeValue,
			func(v coreView, _ *metrics) float64 { return float64(zkNodeCount(v)) }},
		{newDesc("watch_count", "Watch registrations held by this server (data and child)."), prometheus.GaugeValue,
			func(v coreView, _ *metrics) float64 { return float64(v.watchCount) }},
		{newDesc("global_sessions", "Sessions in the replicated session table."), prometheus.GaugeValue,
			func(v coreView, _ *metrics) float64 { return float64(len(v.sessions)) }},
		{newDesc("ephemerals_count", "Ephemeral znodes."), prometheus.GaugeValue,
			func(v coreView, _ *metrics) float64 {
				n := 0
				for _, e := range v.ephemerals {
					n += len(e.paths)
				}
				return float64(n)
			}},
		{newDesc("zoosim_serving", "1 while the server serves clients (established leader or synced follower)."), prometheus.GaugeValue,
			func(v coreView, _ *metrics) float64 { return boolFloat(v.serving) }},
		{newDesc("zoosim_term", "The term (Zab's epoch, raft's term) of the leader being led or followed."), prometheus.GaugeValue,
			func(v coreView, _ *metrics) float64 { return float64(v.status.Term) }},
		{newDesc("zoosim_applied_zxid", "The zxid of the last txn applied to the tree."), prometheus.GaugeValue,
			func(v coreView, _ *metrics) float64 { return float64(v.lastZxid) }},
		{newDesc("zoosim_commit_lag_proposals", "The leader's proposals not yet committed and applied (0 on a follower)."), prometheus.GaugeValue,
			func(v coreView, _ *metrics) float64 { return float64(v.inFlight) }},
		{newDesc("zoosim_reads_total", "Reads answered by this server."), prometheus.CounterValue,
			func(v coreView, _ *metrics) float64 { return float64(v.stats.Reads) }},
		{newDesc("zoosim_writes_total", "Writes this server's clients submitted."), prometheus.CounterValue,
			func(v coreView, _ *metrics) float64 { return float64(v.stats.Writes) }},
		{newDesc("zoosim_syncs_total", "Syncs answered."), prometheus.CounterValue,
			func(v coreView, _ *metrics) float64 { return float64(v.stats.Syncs) }},
		{newDesc("zoosim_txns_applied_total", "Committed txns applied."), prometheus.CounterValue,
			func(v coreView, _ *metrics) float64 { return float64(v.stats.TxnsApplied) }},
		{newDesc("zoosim_proposals_total", "Txns proposed while leading."), prometheus.CounterValue,
			func(v coreView, _ *metrics) float64 { return float64(v.stats.Proposals) }},
		{newDesc("zoosim_sessions_expired_total", "Sessions this server expired while leading."), prometheus.CounterValue,
			func(v coreView, _ *metrics) float64 { return float64(v.stats.SessionsExpired) }},
		{newDesc("zoosim_watch_events_total", "Watch notifications delivered."), prometheus.CounterValue,
			func(v coreView, _ *metrics) float64 { return float64(v.stats.WatchEventsDelivered) }},
		{newDesc("zoosim_auth_failed_total", "Auth packets answered AuthFailed."), prometheus.CounterValue,
			func(v coreView, _ *metrics) float64 { return float64(v.stats.AuthFailed) }},
		{newDesc("zoosim_connections_refused_behind_total", "Connections refused because the client had seen a later zxid."), prometheus.CounterValue,
			func(v coreView, _ *metrics) float64 { return float64(v.stats.ConnsRefusedBehind) }},
	}
	portGauges = []gaugeDesc{
		{newDesc("outstanding_requests", "Requests received and not yet answered."), prometheus.GaugeValue,
			func(_ coreView, m *metrics) float64 { return float64(m.srv.clients.serverStats().outstanding) }},
		{newDesc("num_alive_connections", "Open client connections."), prometheus.GaugeValue,
			func(_ coreView, m *metrics) float64 { return float64(m.srv.clients.Connections()) }},
		{newDesc("packets_received", "Packets received from clients."), prometheus.CounterValue,
			func(_ coreView, m *metrics) float64 { return float64(m.srv.clients.serverStats().received) }},
		{newDesc("packets_sent", "Packets sent to clients."), prometheus.CounterValue,
			func(_ coreView, m *metrics) float64 { return float64(m.srv.clients.serverStats().sent) }},
		{newDesc("zoosim_fsync_batches_total", "Fsync batches (group commits)."), prometheus.CounterValue,
			func(_ coreView, m *metrics) float64 { return float64(m.srv.drv.Stats().FsyncBatches) }},
		{newDesc("zoosim_sync_readies_total", "Ready batches that asked for a sync (each made durable by some fsync batch)."), prometheus.CounterValue,
			func(_ coreView, m *metrics) float64 { return float64(m.srv.drv.Stats().SyncReadies) }},
	}
)

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *coreCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- roleDesc
	for _, g := range coreGauges {
		ch <- g.desc
	}
	for _, g := range portGauges {
		ch <- g.desc
	}
}

func (c *coreCollector) Collect(ch chan<- prometheus.Metric) {
	m := (*metrics)(c)
	for _, g := range portGauges {
		ch <- prometheus.MustNewConstMetric(g.desc, g.valueType, g.value(coreView{}, m))
	}
	v, ok := m.srv.view(false)
	if !ok {
		return // the driver is stopping or stuck: only what does not need it
	}
	role := m.srv.mode(v)
	if !m.srv.cfg.Standalone() && v.status.Role == quorum.Looking {
		role = "looking"
	}
	for _, r := range []string{"leader", "follower", "looking", "standalone"} {
		ch <- prometheus.MustNewConstMetric(roleDesc, prometheus.GaugeValue, boolFloat(r == role), r)
	}
	for _, g := range coreGauges {
		ch <- prometheus.MustNewConstMetric(g.desc, g.valueType, g.value(v, m))
	}
}

// metricsServer serves /metrics until ctx is done.
type metricsServer struct {
	ln  net.Listener
	srv *http.Server
}

func listenMetrics(addr string, m *metrics, log *slog.Logger) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	return &metricsServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}, nil
}

// Addr is where the metrics listen.
func (ms *metricsServer) Addr() net.Addr { return ms.ln.Addr() }

func (ms *metricsServer) run(ctx context.Context, log *slog.Logger) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := ms.srv.Serve(ms.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics: serve", "err", err)
		}
	}()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ms.srv.Shutdown(sctx)
	<-done
}
