package real

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scrape reads a server's /metrics.
func scrape(t *testing.T, s *Server) map[string]*dto.MetricFamily {
	t.Helper()
	require.NotNil(t, s.MetricsAddr(), "metrics are on")
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + s.MetricsAddr().String() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// metricValue finds one sample: a gauge's or counter's value, or a
// histogram's count, with the given label values (name=value pairs).
func metricValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f := fams[name]
	require.NotNil(t, f, "metric %s", name)
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("metric %s%v: no sample", name, labels)
	return 0
}

func TestMetrics_PrometheusReportsRequestsAndTheCore(t *testing.T) {
	ports, err := freePorts(1)
	require.NoError(t, err)
	s, _ := inProcess(t, fmt.Sprintf("metricsProvider.className=%s\nmetricsProvider.httpPort=%d\nmetricsProvider.httpHost=127.0.0.1\n",
		PrometheusProvider, ports[0]))
	addr := s.ClientAddr().String()
	waitWritable(t, addr)
	c := connect(t, []string{addr}, 4*time.Second)
	for i := 0; i < 3; i++ {
		_, err := c.Create(fmt.Sprintf("/m%d", i), []byte("x"), 0, openACL)
		require.NoError(t, err)
	}
	_, err = c.Create("/m0", nil, 0, openACL)
	require.ErrorIs(t, err, zk.ErrNodeExists)
	_, err = c.Create("/m0/e", nil, zk.FlagEphemeral, openACL)
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		_, _, err := c.Get("/m1")
		require.NoError(t, err)
	}
	_, _, _, err = c.GetW("/m2")
	require.NoError(t, err)

	fams := scrape(t, s)
	assert.Equal(t, 4.0, metricValue(t, fams, "zoosim_requests_total", "op", "create", "result", "ok"))
	assert.Equal(t, 1.0, metricValue(t, fams, "zoosim_requests_total", "op", "create", "result", "NodeExists"))
	assert.Equal(t, 6.0, metricValue(t, fams, "zoosim_requests_total", "op", "getData", "result", "ok"))
	assert.Equal(t, 6.0, metricValue(t, fams, "zoosim_request_duration_seconds", "op", "getData"))
	assert.Equal(t, 5.0, metricValue(t, fams, "zoosim_request_duration_seconds", "op", "create"))
	assert.Equal(t, 1.0, metricValue(t, fams, "zoosim_role", "role", "standalone"))
	assert.Equal(t, 0.0, metricValue(t, fams, "zoosim_role", "role", "leader"))
	assert.Equal(t, 1.0, metricValue(t, fams, "zoosim_serving"))
	assert.Equal(t, 5.0+4, metricValue(t, fams, "znode_count"), "4 nodes and ZooKeeper's 5 built-in")
	assert.Equal(t, 1.0, metricValue(t, fams, "ephemerals_count"))
	assert.Equal(t, 1.0, metricValue(t, fams, "watch_count"))
	assert.GreaterOrEqual(t, metricValue(t, fams, "global_sessions"), 1.0)
	assert.Equal(t, 0.0, metricValue(t, fams, "outstanding_requests"))
	assert.Equal(t, 0.0, metricValue(t, fams, "zoosim_commit_lag_proposals"))
	assert.GreaterOrEqual(t, metricValue(t, fams, "zoosim_proposals_total"), 5.0)
	assert.GreaterOrEqual(t, metricValue(t, fams, "zoosim_fsync_duration_seconds"), 1.0, "fsyncs were timed")
	assert.GreaterOrEqual(t, metricValue(t, fams, "zoosim_fsync_batches_total"), 1.0)
	assert.Greater(t, metricValue(t, fams, "packets_received"), 10.0)
	assert.Contains(t, fams, "go_goroutines")
}

func TestMetrics_OffUnlessConfigured(t *testing.T) {
	s, _ := inProcess(t, "")
	assert.Nil(t, s.MetricsAddr())
	_, err := ParseConfig("zoo.cfg", strings.NewReader("tickTime=100\ndataDir=/d\nclientPort=1\nmetricsProvider.className=org.example.Other\n"))
	assert.ErrorContains(t, err, "zoo.cfg:4: metricsProvider.className=org.example.Other: the only metrics provider is "+PrometheusProvider)
}
