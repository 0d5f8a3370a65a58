package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"inlet/postgres/pgtest"
)

// scrape reads GET /metrics and parses the Prometheus text format.
func (s *liveServer) scrape(h http.Header) map[string]*dto.MetricFamily {
	s.t.Helper()
	status, rh, raw := s.do("GET", "/metrics", h, nil)
	if status != http.StatusOK {
		s.t.Fatalf("GET /metrics: status %d, want 200; body %s", status, raw)
	}
	if ct := rh.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		s.t.Errorf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		s.t.Fatalf("GET /metrics: parsing %s: %v", raw, err)
	}
	return families
}

// series returns the value of each series of a family, keyed by its labels
// written name=value,... in name order; histograms give their count.
func series(families map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	f := families[name]
	if f == nil {
		return out
	}
	for _, m := range f.Metric {
		var labels []string
		for _, l := range m.Label {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(labels)
		var v float64
		switch {
		case m.Counter != nil:
			v = m.Counter.GetValue()
		case m.Gauge != nil:
			v = m.Gauge.GetValue()
		case m.Histogram != nil:
			v = float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			v = m.Untyped.GetValue()
		}
		out[strings.Join(labels, ",")] = v
	}
	return out
}

// histogramSum returns the sum of the one series of a histogram.
func histogramSum(families map[string]*dto.MetricFamily, name string) float64 {
	f := families[name]
	if f == nil || len(f.Metric) != 1 || f.Metric[0].Histogram == nil {
		return -1
	}
	return f.Metric[0].Histogram.GetSampleSum()
}

// checkSeries fails unless a family holds exactly want.
func checkSeries(t *testing.T, families map[string]*dto.MetricFamily, name string, want map[string]float64) {
	t.Helper()
	got := series(families, name)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s{%s} = %v, want %v", name, k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s{%s} = %v, want no such series", name, k, v)
		}
	}
}

// TestMetricsAfterKnownTraffic sends collect requests of known outcomes and
// checks what GET /metrics counts, on each store.
func TestMetricsAfterKnownTraffic(t *testing.T) {
	t.Run("on SQLite", func(t *testing.T) {
		s := startLive(t, liveConfig(t))
		families := metricsAfterKnownTraffic(t, s)
		if v := series(families, "inlet_store_file_bytes")[""]; v <= 0 {
			t.Errorf("inlet_store_file_bytes = %v, want the database's size", v)
		}
		if _, ok := families["inlet_store_pool_connections"]; ok {
			t.Errorf("inlet_store_pool_connections on SQLite, which has no pool")
		}
	})
	t.Run("on PostgreSQL", func(t *testing.T) {
		cfg := liveConfig(t)
		cfg.DB = pgtest.URL(t)
		s := startLive(t, cfg)
		families := metricsAfterKnownTraffic(t, s)
		pool := series(families, "inlet_store_pool_connections")
		if pool["state=total"] < 1 || pool["state=total"] != pool["state=acquired"]+pool["state=idle"]+pool["state=constructing"] {
			t.Errorf("inlet_store_pool_connections = %v, want at least one connection, total the sum of the states", pool)
		}
		if v := series(families, "inlet_store_pool_acquires_total")[""]; v < 7 {
			t.Errorf("inlet_store_pool_acquires_total = %v, want at least one per commit (7)", v)
		}
		if _, ok := families["inlet_store_file_bytes"]; ok {
			t.Errorf("inlet_store_file_bytes on PostgreSQL")
		}
	})
}

func metricsAfterKnownTraffic(t *testing.T, s *liveServer) map[string]*dto.MetricFamily {
	t.Helper()
	s.createSource(map[string]any{"id": "shop", "name": "Shop"})
	s.createSource(map[string]any{"id": "keyed", "name": "Keyed", "config": map[string]any{"dedup": map[string]any{"header": "Idempotency-Key"}}})
	json := header("Content-Type", "application/json")

	// 200s: four to shop, three to keyed of which one repeats a key.
	for range 3 {
		s.collect("POST", "/collect/order/shop", json, strings.NewReader(`{"total":1}`))
	}
	s.collect("GET", "/collect/page-view/shop/sess-1?path=/", nil, nil)
	for _, key := range []string{"k1", "k1", "k2"} {
		s.collect("POST", "/collect/order/keyed", header("Content-Type", "application/json", "Idempotency-Key", key), strings.NewReader(`{}`))
	}
	// Refusals: 401 for a source nobody registered, 400s for what the
	// request says, 405 for a method collect does not take.
	refuse := func(method, path string, h http.Header, body string, want int) {
		t.Helper()
		if status, _, raw := s.do(method, path, h, strings.NewReader(body)); status != want {
			t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, want, raw)
		}
	}
	refuse("POST", "/collect/order/nope", json, `{}`, 401)
	refuse("POST", "/collect/order/nope-2", json, `{}`, 401)
	refuse("POST", "/collect/order/shop", json, `{"total":`, 400)
	refuse("POST", "/collect/Bad!Type/shop", json, `{}`, 400)
	refuse("PUT", "/collect/order/shop", json, `{}`, 405)
	refuse("POST", "/collect/order/../shop", json, `{}`, 400)

	families := s.scrape(nil)
	checkSeries(t, families, "inlet_collect_requests_total", map[string]float64{
		"code=200,method=POST,source=shop":       3,
		"code=200,method=GET,source=shop":        1,
		"code=200,method=POST,source=keyed":      3,
		"code=401,method=POST,source=(unknown)":  2,
		"code=400,method=POST,source=shop":       2,
		"code=405,method=other,source=(unknown)": 1,
		"code=400,method=POST,source=(unknown)":  1,
	})
	checkSeries(t, families, "inlet_collect_refusals_total", map[string]float64{
		"reason=unknown_source,source=(unknown)":     2,
		"reason=bad_json,source=shop":                1,
		"reason=bad_event_type,source=shop":          1,
		"reason=method_not_allowed,source=(unknown)": 1,
		"reason=bad_path,source=(unknown)":           1,
	})
	checkSeries(t, families, "inlet_http_request_duration_seconds", map[string]float64{
		"class=collect": 13,
		"class=admin":   2, // the two sources created
		"class=public":  0, // a scrape is counted once answered
	})
	// One commit per successful request: they were sent one after another.
	checkSeries(t, families, "inlet_writer_batch_events", map[string]float64{"": 7})
	if sum := histogramSum(families, "inlet_writer_batch_events"); sum != 7 {
		t.Errorf("inlet_writer_batch_events sum = %v, want 7 events", sum)
	}
	checkSeries(t, families, "inlet_writer_commit_duration_seconds", map[string]float64{"": 7})
	checkSeries(t, families, "inlet_writer_events_committed_total", map[string]float64{"": 6})
	checkSeries(t, families, "inlet_dedup_hits_total", map[string]float64{"": 1})
	checkSeries(t, families, "inlet_writer_commit_errors_total", map[string]float64{})
	checkSeries(t, families, "inlet_writer_queue_requests", map[string]float64{"": 0})
	checkSeries(t, families, "inlet_writer_queue_bytes", map[string]float64{"": 0})
	// Every stored event goes to the live stream, which nobody watches.
	checkSeries(t, families, "inlet_stream_published_events_total", map[string]float64{"": 6})
	checkSeries(t, families, "inlet_stream_subscribers", map[string]float64{"": 0})
	checkSeries(t, families, "inlet_stream_dropped_subscribers_total", map[string]float64{"": 0})
	for _, name := range []string{"go_goroutines", "go_gc_duration_seconds", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if families[name] == nil {
			t.Errorf("no %s: want the Go runtime and process collectors", name)
		}
	}

	// Bounded labels: neither an unregistered source id, nor an event
	// type, nor a session id is ever a label value.
	for name, f := range families {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				switch l.GetValue() {
				case "nope", "nope-2", "order", "page-view", "sess-1":
					t.Errorf("%s has label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}

	// The next scrape counts this one as a public request.
	checkSeries(t, s.scrape(nil), "inlet_http_request_duration_seconds", map[string]float64{"class=collect": 13, "class=admin": 2, "class=public": 1})
	return families
}

func TestMetricsToken(t *testing.T) {
	cfg := liveConfig(t)
	cfg.MetricsToken = "scrape-token"
	s := startLive(t, cfg)

	for _, c := range []struct {
		name string
		h    http.Header
	}{
		{"no token", nil},
		{"the admin token", header("Authorization", "Bearer "+liveAdminToken)},
		{"a wrong token", header("Authorization", "Bearer scrape-tokeN")},
	} {
		status, _, raw := s.do("GET", "/metrics", c.h, nil)
		if status != http.StatusUnauthorized || !strings.Contains(string(raw), `"code":"unauthorized"`) || !strings.Contains(string(raw), "metrics token") {
			t.Errorf("GET /metrics with %s: %d %s, want 401 naming the metrics token", c.name, status, raw)
		}
	}
	families := s.scrape(header("Authorization", "Bearer scrape-token"))
	if families["inlet_collect_requests_total"] == nil && families["go_goroutines"] == nil {
		t.Errorf("GET /metrics with the token: no metrics")
	}

	t.Run("is read from the environment", func(t *testing.T) {
		env := map[string]string{"INLET_METRICS_TOKEN": "from-env"}
		cfg, err := ParseServeConfig(nil, func(k string) string { return env[k] }, &bytes.Buffer{})
		if err != nil || cfg.MetricsToken != "from-env" {
			t.Errorf("ParseServeConfig with INLET_METRICS_TOKEN: token %q, err %v", cfg.MetricsToken, err)
		}
		cfg, err = ParseServeConfig([]string{"--metrics-token", "from-flag"}, func(k string) string { return env[k] }, &bytes.Buffer{})
		if err != nil || cfg.MetricsToken != "from-flag" {
			t.Errorf("ParseServeConfig with --metrics-token: token %q, err %v", cfg.MetricsToken, err)
		}
	})
}

// TestDeliveryMetrics delivers events to a real receiver and to an address
// nobody listens on, and checks the attempts and backlogs that GET /metrics
// shows against what the admin API says of the destinations.
func TestDeliveryMetrics(t *testing.T) {
	var received atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	s := startLive(t, liveConfig(t))
	s.createSource(map[string]any{"id": "shop", "name": "Shop"})
	s.admin("POST", "/api/v1/destinations", map[string]any{"id": "crm", "name": "CRM", "type": "webhook", "config": map[string]any{"url": receiver.URL + "/hook"}}, 201, nil)
	s.admin("POST", "/api/v1/destinations", map[string]any{"id": "broken", "name": "Nobody", "type": "webhook",
		"config": map[string]any{"url": "http://127.0.0.1:9/hook"}, "retry": map[string]any{"backoff": []string{"1h"}, "max_age": "2h"}}, 201, nil)
	for range 3 {
		s.collect("POST", "/collect/order/shop", header("Content-Type", "application/json"), strings.NewReader(`{"total":1}`))
	}

	type state struct {
		State struct {
			Pending, Failed, Dead, Delivered int
		} `json:"state"`
	}
	var crm, broken state
	for range 500 {
		s.admin("GET", "/api/v1/destinations/crm", nil, 200, &crm)
		s.admin("GET", "/api/v1/destinations/broken", nil, 200, &broken)
		if crm.State.Delivered == 3 && broken.State.Failed == 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if crm.State.Delivered != 3 || broken.State.Failed != 3 || received.Load() != 3 {
		t.Fatalf("crm %+v, broken %+v, received %d: want 3 delivered to crm and 3 failed once to broken", crm.State, broken.State, received.Load())
	}

	families := s.scrape(nil)
	checkSeries(t, families, "inlet_delivery_attempts_total", map[string]float64{
		"destination=crm,outcome=delivered": 3,
		"destination=broken,outcome=failed": 3, // tried again in an hour
	})
	checkSeries(t, families, "inlet_delivery_attempt_duration_seconds", map[string]float64{"destination=crm": 3, "destination=broken": 3})
	checkSeries(t, families, "inlet_delivery_backlog", map[string]float64{
		"destination=crm,status=pending": 0, "destination=crm,status=failed": 0, "destination=crm,status=dead": 0,
		"destination=broken,status=pending": 0, "destination=broken,status=failed": 3, "destination=broken,status=dead": 0,
	})
	lag := series(families, "inlet_delivery_lag_seconds")
	if lag["destination=crm"] != 0 || lag["destination=broken"] <= 0 {
		t.Errorf("inlet_delivery_lag_seconds = %v, want 0 for crm and the age of the oldest failed event for broken", lag)
	}
}
