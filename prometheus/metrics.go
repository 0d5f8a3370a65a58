// Package prometheus is Inlet's metrics, kept in a Prometheus registry and
// served in the Prometheus text format (through prometheus/client_golang).
//
// Other packages do not import it: each declares the small interface it
// calls (http.Metrics, batch.Observer) and cmd/inlet hands them a *Metrics,
// which satisfies them all; the registry is made in cmd/inlet, one per
// Main. To add a metric:
//
//   - declare what your package reports as an interface of its own, in
//     plain types (deliver.Metrics with Delivered(destination, outcome
//     string, took time.Duration), say);
//   - give Metrics a field for the collector, create and register it in New
//     (or in a Watch method, for figures read at each scrape such as a
//     pending count or a lag), and add the method your interface names;
//   - hand the *Metrics to your package's constructor in cmd/inlet, and
//     check the numbers in cmd/inlet's TestMetricsAfterKnownTraffic.
//
// Keep label values bounded: ids of registered things, codes from the
// error vocabulary, a fixed set of outcomes; never an event type, a
// session id or anything else a sender chooses.
package prometheus

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"inlet"
)

// UnknownSource is the source label of collect requests that named no
// registered, enabled source, so that senders cannot create series at
// will: the bucket of the rejected-request log's counts, which no source
// id can be.
const UnknownSource = inlet.UnknownSourceBucket

// The route classes of http's route table, whose latency series exist
// from the start (at zero) and are looked up without a lock.
const (
	classCollect = "collect"
	classAdmin   = "admin"
	classPublic  = "public"
)

// Buckets of the histograms, in seconds. Collect requests wait for a
// commit, so their latency is the commit's plus a little.
var (
	latencyBuckets   = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	batchSizeBuckets = []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500}
)

// Metrics are the collector's metrics. Its methods are safe for concurrent
// use and cheap enough for the collect path: the series a request touches
// are looked up once and then kept.
type Metrics struct {
	gatherer prom.Gatherer

	collectRequests *prom.CounterVec   // source, method, code
	refusals        *prom.CounterVec   // source, reason
	latency         *prom.HistogramVec // class
	classLatency    map[string]prom.Observer

	batchSize     prom.Histogram
	commitLatency prom.Histogram
	commitErrors  *prom.CounterVec // code
	committed     prom.Counter
	dedupHits     prom.Counter
	merges        prom.Counter

	delivery      *deliveryMetrics
	signInLimited prom.Counter

	reg      prom.Registerer
	children sync.Map // collectKey -> *collectSeries
}

// collectKey names the series of one kind of collect answer.
type collectKey struct {
	source, method, reason string
	status                 int
}

// collectSeries are the series one kind of collect answer adds to.
type collectSeries struct {
	requests prom.Counter
	refusals prom.Counter // nil for a 2xx
}

// New creates the metrics and registers them on reg, with the Go runtime
// and process collectors.
func New(reg *prom.Registry) *Metrics {
	m := &Metrics{
		gatherer: reg,
		reg:      reg,
		collectRequests: prom.NewCounterVec(prom.CounterOpts{
			Name: "inlet_collect_requests_total",
			Help: "Collect requests answered, by source (\"unknown\" when none was matched), method and status code.",
		}, []string{"source", "method", "code"}),
		refusals: prom.NewCounterVec(prom.CounterOpts{
			Name: "inlet_collect_refusals_total",
			Help: "Collect requests refused (any status of 400 and above), by source and the reason answered in error.code.",
		}, []string{"source", "reason"}),
		latency: prom.NewHistogramVec(prom.HistogramOpts{
			Name:    "inlet_http_request_duration_seconds",
			Help:    "Time from a request's routing to its answer, by route class (collect, admin, public).",
			Buckets: latencyBuckets,
		}, []string{"class"}),
		batchSize: prom.NewHistogram(prom.HistogramOpts{
			Name:    "inlet_writer_batch_events",
			Help:    "Events per commit of the batch writer.",
			Buckets: batchSizeBuckets,
		}),
		commitLatency: prom.NewHistogram(prom.HistogramOpts{
			Name:    "inlet_writer_commit_duration_seconds",
			Help:    "Time of one commit of the batch writer.",
			Buckets: latencyBuckets,
		}),
		commitErrors: prom.NewCounterVec(prom.CounterOpts{
			Name: "inlet_writer_commit_errors_total",
			Help: "Failed commits of the batch writer, by error code (timeout when the commit ran out of time).",
		}, []string{"code"}),
		committed: prom.NewCounter(prom.CounterOpts{
			Name: "inlet_writer_events_committed_total",
			Help: "Events stored by the batch writer's commits (duplicates not included).",
		}),
		dedupHits: prom.NewCounter(prom.CounterOpts{
			Name: "inlet_dedup_hits_total",
			Help: "Events not stored because they repeated the idempotency key of an earlier event of their source.",
		}),
		merges: prom.NewCounter(prom.CounterOpts{
			Name: "inlet_identity_merges_total",
			Help: "Profiles merged into another profile because an event showed them to be one person.",
		}),
	}
	m.delivery = newDeliveryMetrics(reg)
	m.signInLimited = newSignInRefusals(reg)
	m.classLatency = map[string]prom.Observer{}
	for _, class := range []string{classCollect, classAdmin, classPublic} {
		m.classLatency[class] = m.latency.WithLabelValues(class)
	}
	reg.MustRegister(m.collectRequests, m.refusals, m.latency, m.batchSize, m.commitLatency, m.commitErrors, m.committed, m.dedupHits, m.merges,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}

// CollectAnswered records one collect request: the id of the registered
// source it named ("" when none), its method, the status answered, the
// error reason of a refusal ("" for a success) and how long it took.
func (m *Metrics) CollectAnswered(source, method string, status int, reason string, took time.Duration) {
	if source == "" {
		source = UnknownSource
	}
	if method != http.MethodGet && method != http.MethodPost {
		method = "other" // the method is the sender's choice: keep the label bounded
	}
	if status < 400 {
		reason = ""
	}
	k := collectKey{source: source, method: method, reason: reason, status: status}
	s, ok := m.children.Load(k)
	if !ok {
		s = m.newCollectSeries(k)
	}
	cs := s.(*collectSeries)
	cs.requests.Inc()
	if cs.refusals != nil {
		cs.refusals.Inc()
	}
	m.classLatency[classCollect].Observe(took.Seconds())
}

func (m *Metrics) newCollectSeries(k collectKey) *collectSeries {
	cs := &collectSeries{requests: m.collectRequests.WithLabelValues(k.source, k.method, statusText(k.status))}
	if k.status >= 400 {
		cs.refusals = m.refusals.WithLabelValues(k.source, k.reason)
	}
	s, _ := m.children.LoadOrStore(k, cs)
	return s.(*collectSeries)
}

// statusText is a status code as a label value.
func statusText(status int) string {
	if status < 100 || status > 999 {
		return "unknown"
	}
	return strconv.Itoa(status)
}

// Answered records how long a request of a route class other than collect
// took.
func (m *Metrics) Answered(class string, took time.Duration) {
	o, ok := m.classLatency[class]
	if !ok {
		o = m.latency.WithLabelValues(class) // classes come from the route table: a few
	}
	o.Observe(took.Seconds())
}

// Committed records one commit of the batch writer (batch.Observer).
func (m *Metrics) Committed(events, duplicates, merges int, took time.Duration, err error) {
	m.batchSize.Observe(float64(events))
	m.commitLatency.Observe(took.Seconds())
	if err != nil {
		code := inlet.ErrorCode(err)
		if errors.Is(err, context.DeadlineExceeded) {
			code = "timeout"
		}
		m.commitErrors.WithLabelValues(code).Inc()
		return
	}
	m.committed.Add(float64(events - duplicates))
	m.dedupHits.Add(float64(duplicates))
	m.merges.Add(float64(merges))
}

// WatchQueue adds gauges of the batch writer's queue, read from depth at
// each scrape: the requests waiting for a commit and their bytes.
func (m *Metrics) WatchQueue(depth func() (requests int, bytes int64)) {
	m.reg.MustRegister(
		prom.NewGaugeFunc(prom.GaugeOpts{
			Name: "inlet_writer_queue_requests",
			Help: "Collect requests waiting for a commit of the batch writer.",
		}, func() float64 { n, _ := depth(); return float64(n) }),
		prom.NewGaugeFunc(prom.GaugeOpts{
			Name: "inlet_writer_queue_bytes",
			Help: "Event bytes waiting for or in a commit of the batch writer (as the writer counts them against --queue-bytes).",
		}, func() float64 { _, b := depth(); return float64(b) }),
	)
}
