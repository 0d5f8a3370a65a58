package prometheus

import (
	"sync"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
)

// deliveryMetrics are the metrics of delivery to destinations.
type deliveryMetrics struct {
	attempts *prom.CounterVec   // destination, outcome
	latency  *prom.HistogramVec // destination
	disabled *prom.CounterVec   // destination
	children sync.Map           // deliveryKey -> *deliverySeries
}

type deliveryKey struct{ destination, outcome string }

type deliverySeries struct {
	attempts prom.Counter
	latency  prom.Observer
}

func newDeliveryMetrics(reg prom.Registerer) *deliveryMetrics {
	d := &deliveryMetrics{
		attempts: prom.NewCounterVec(prom.CounterOpts{
			Name: "inlet_delivery_attempts_total",
			Help: "Attempts to deliver an event to a destination, by destination id and outcome (delivered, failed: tried again later, dead: out of attempts).",
		}, []string{"destination", "outcome"}),
		latency: prom.NewHistogramVec(prom.HistogramOpts{
			Name:    "inlet_delivery_attempt_duration_seconds",
			Help:    "Time of one delivery attempt, by destination id.",
			Buckets: latencyBuckets,
		}, []string{"destination"}),
	}
	d.disabled = prom.NewCounterVec(prom.CounterOpts{
		Name: "inlet_destination_disabled_total",
		Help: "Destinations that delivery disabled by itself (the receiver answered 410, or every attempt failed for the destination's disable_after), by destination id.",
	}, []string{"destination"})
	reg.MustRegister(d.attempts, d.latency, d.disabled)
	return d
}

// Disabled records that delivery disabled a destination by itself
// (deliver.Metrics).
func (m *Metrics) Disabled(destination string) {
	m.delivery.disabled.WithLabelValues(destination).Inc()
}

// Attempted records one delivery attempt (deliver.Metrics). Destination
// ids are those of registered destinations and outcomes a fixed set, so
// the series stay few.
func (m *Metrics) Attempted(destination, outcome string, took time.Duration) {
	k := deliveryKey{destination, outcome}
	s, ok := m.delivery.children.Load(k)
	if !ok {
		s, _ = m.delivery.children.LoadOrStore(k, &deliverySeries{
			attempts: m.delivery.attempts.WithLabelValues(destination, outcome),
			latency:  m.delivery.latency.WithLabelValues(destination),
		})
	}
	ds := s.(*deliverySeries)
	ds.attempts.Inc()
	ds.latency.Observe(took.Seconds())
}

// Backlog is one destination's deliveries not delivered yet, at one moment.
type Backlog struct {
	Destination           string
	Pending, Failed, Dead int
	// LagSeconds is the age of the oldest event still to send;
	// DeadAgeSeconds of the oldest dead one.
	LagSeconds, DeadAgeSeconds float64
}

// WatchBacklog adds gauges of each destination's backlog, read from
// backlog at each scrape (a read of the store: it should bound its time).
func (m *Metrics) WatchBacklog(backlog func() []Backlog) {
	m.reg.MustRegister(&backlogCollector{backlog: backlog})
}

var (
	backlogDeliveries = prom.NewDesc("inlet_delivery_backlog",
		"Deliveries not delivered yet, by destination id and status (pending: never tried, failed: to be tried again, dead: out of attempts).", []string{"destination", "status"}, nil)
	backlogLag = prom.NewDesc("inlet_delivery_lag_seconds",
		"Age of the oldest event still to send to a destination, pending or failed (0 when none); dead events do not count here.", []string{"destination"}, nil)
	backlogDeadAge = prom.NewDesc("inlet_delivery_dead_age_seconds",
		"Age of the oldest dead event of a destination, waiting for a retry or a discard (0 when none).", []string{"destination"}, nil)
)

type backlogCollector struct {
	backlog func() []Backlog
}

// Describe implements prometheus.Collector.
func (c *backlogCollector) Describe(ch chan<- *prom.Desc) {
	ch <- backlogDeliveries
	ch <- backlogLag
	ch <- backlogDeadAge
}

// Collect implements prometheus.Collector.
func (c *backlogCollector) Collect(ch chan<- prom.Metric) {
	for _, b := range c.backlog() {
		ch <- prom.MustNewConstMetric(backlogDeliveries, prom.GaugeValue, float64(b.Pending), b.Destination, "pending")
		ch <- prom.MustNewConstMetric(backlogDeliveries, prom.GaugeValue, float64(b.Failed), b.Destination, "failed")
		ch <- prom.MustNewConstMetric(backlogDeliveries, prom.GaugeValue, float64(b.Dead), b.Destination, "dead")
		ch <- prom.MustNewConstMetric(backlogLag, prom.GaugeValue, b.LagSeconds, b.Destination)
		ch <- prom.MustNewConstMetric(backlogDeadAge, prom.GaugeValue, b.DeadAgeSeconds, b.Destination)
	}
}
