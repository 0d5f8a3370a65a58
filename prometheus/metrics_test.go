package prometheus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"

	"inlet"
	"inlet/batch"
	inlethttp "inlet/http"
	"inlet/prometheus"
)

// Metrics is what the packages that report to it expect.
var (
	_ inlethttp.Metrics = (*prometheus.Metrics)(nil)
	_ batch.Observer    = (*prometheus.Metrics)(nil)
)

// gather returns the registry's series of the named families, one line
// each, as the text format writes them.
func gather(t *testing.T, reg *prom.Registry, names ...string) string {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var lines []string
	for _, f := range families {
		for _, name := range names {
			if f.GetName() != name {
				continue
			}
			for _, m := range f.Metric {
				var labels []string
				for _, l := range m.Label {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
				v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
				lines = append(lines, fmt.Sprintf("%s{%s} %g", name, strings.Join(labels, ","), v))
			}
		}
	}
	return strings.Join(lines, "\n")
}

func TestCollectLabelsStayBounded(t *testing.T) {
	reg := prom.NewRegistry()
	m := prometheus.New(reg)
	m.CollectAnswered("shop", "POST", 200, "", time.Millisecond)
	m.CollectAnswered("shop", "POST", 200, "", time.Millisecond)
	m.CollectAnswered("", "POST", 401, "unknown_source", time.Millisecond)
	m.CollectAnswered("", "PROPFIND", 405, "method_not_allowed", time.Millisecond)
	m.CollectAnswered("", "BREW", 405, "method_not_allowed", time.Millisecond)
	m.CollectAnswered("shop", "GET", 503, "unavailable", time.Millisecond)

	want := strings.Join([]string{
		`inlet_collect_refusals_total{reason=method_not_allowed,source=(unknown)} 2`,
		`inlet_collect_refusals_total{reason=unavailable,source=shop} 1`,
		`inlet_collect_refusals_total{reason=unknown_source,source=(unknown)} 1`,
		`inlet_collect_requests_total{code=200,method=POST,source=shop} 2`,
		`inlet_collect_requests_total{code=401,method=POST,source=(unknown)} 1`,
		`inlet_collect_requests_total{code=405,method=other,source=(unknown)} 2`,
		`inlet_collect_requests_total{code=503,method=GET,source=shop} 1`,
		`inlet_http_request_duration_seconds{class=admin} 0`,
		`inlet_http_request_duration_seconds{class=collect} 6`,
		`inlet_http_request_duration_seconds{class=public} 0`,
	}, "\n")
	if got := gather(t, reg, "inlet_collect_refusals_total", "inlet_collect_requests_total", "inlet_http_request_duration_seconds"); got != want {
		t.Errorf("series:\n%s\nwant:\n%s", got, want)
	}
}

func TestCommitsAreCountedByOutcome(t *testing.T) {
	reg := prom.NewRegistry()
	m := prometheus.New(reg)
	m.Committed(10, 2, 1, 5*time.Millisecond, nil)
	m.Committed(3, 0, 2, time.Millisecond, nil)
	m.Committed(4, 0, 0, 10*time.Second, fmt.Errorf("commit: %w", context.DeadlineExceeded))
	m.Committed(1, 0, 0, time.Millisecond, errors.Join(inlet.Errorf(inlet.EUNAVAILABLE, "the store could not commit"), errors.New("disk full")))
	m.Committed(1, 0, 0, time.Millisecond, errors.New("a bug"))

	want := strings.Join([]string{
		`inlet_dedup_hits_total{} 2`,
		`inlet_identity_merges_total{} 3`,
		`inlet_writer_batch_events{} 5`,
		`inlet_writer_commit_duration_seconds{} 5`,
		`inlet_writer_commit_errors_total{code=internal} 1`,
		`inlet_writer_commit_errors_total{code=timeout} 1`,
		`inlet_writer_commit_errors_total{code=unavailable} 1`,
		`inlet_writer_events_committed_total{} 11`,
	}, "\n")
	if got := gather(t, reg, "inlet_dedup_hits_total", "inlet_identity_merges_total", "inlet_writer_batch_events", "inlet_writer_commit_duration_seconds", "inlet_writer_commit_errors_total", "inlet_writer_events_committed_total"); got != want {
		t.Errorf("series:\n%s\nwant:\n%s", got, want)
	}
}

func TestWatchedFiguresAreReadAtEachScrape(t *testing.T) {
	reg := prom.NewRegistry()
	m := prometheus.New(reg)
	queued, size, acquired := 0, int64(0), int32(0)
	m.WatchQueue(func() (int, int64) { return queued, int64(queued) * 100 })
	m.WatchFileSize(func() (int64, error) {
		if size == 0 {
			return 0, errors.New("no file")
		}
		return size, nil
	})
	m.WatchPool(func() prometheus.PoolStats {
		return prometheus.PoolStats{Acquired: acquired, Idle: 4 - acquired, Total: 4, Max: 8, Acquires: 12, AcquireDuration: 1500 * time.Millisecond}
	})

	// A size that cannot be read leaves the gauge out of the scrape.
	if got := gather(t, reg, "inlet_store_file_bytes", "inlet_writer_queue_requests"); got != `inlet_writer_queue_requests{} 0` {
		t.Errorf("series:\n%s\nwant only the empty queue", got)
	}
	queued, size, acquired = 3, 4096, 1
	want := strings.Join([]string{
		`inlet_store_file_bytes{} 4096`,
		`inlet_store_pool_acquire_seconds_total{} 1.5`,
		`inlet_store_pool_connections{state=acquired} 1`,
		`inlet_store_pool_connections{state=constructing} 0`,
		`inlet_store_pool_connections{state=idle} 3`,
		`inlet_store_pool_connections{state=total} 4`,
		`inlet_writer_queue_bytes{} 300`,
		`inlet_writer_queue_requests{} 3`,
	}, "\n")
	if got := gather(t, reg, "inlet_store_file_bytes", "inlet_store_pool_acquire_seconds_total", "inlet_store_pool_connections", "inlet_writer_queue_bytes", "inlet_writer_queue_requests"); got != want {
		t.Errorf("series:\n%s\nwant:\n%s", got, want)
	}
}

// BenchmarkCollectAnswered measures what the metrics add to each collect
// request: go test ./prometheus -run '^$' -bench CollectAnswered
func BenchmarkCollectAnswered(b *testing.B) {
	m := prometheus.New(prom.NewRegistry())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.CollectAnswered("shop", "POST", 200, "", time.Millisecond)
		}
	})
}
