package prometheus

import (
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
)

// PoolStats are a database connection pool's figures at one moment; a
// postgres.PoolStats converts to it.
type PoolStats struct {
	Acquired, Idle, Constructing, Total, Max  int32
	Acquires, EmptyAcquires, CanceledAcquires int64
	AcquireDuration                           time.Duration
	NewConns                                  int64
}

// WatchPool adds the metrics of a connection pool, read from stats once at
// each scrape.
func (m *Metrics) WatchPool(stats func() PoolStats) {
	m.reg.MustRegister(&poolCollector{stats: stats})
}

var (
	poolConns = prom.NewDesc("inlet_store_pool_connections",
		"Connections of the PostgreSQL pool, by state (acquired, idle, constructing) and total.", []string{"state"}, nil)
	poolMax = prom.NewDesc("inlet_store_pool_max_connections",
		"Most connections the PostgreSQL pool opens.", nil, nil)
	poolAcquires = prom.NewDesc("inlet_store_pool_acquires_total",
		"Connections acquired from the PostgreSQL pool.", nil, nil)
	poolEmptyAcquires = prom.NewDesc("inlet_store_pool_empty_acquires_total",
		"Acquisitions from the PostgreSQL pool that waited because no connection was idle.", nil, nil)
	poolCanceledAcquires = prom.NewDesc("inlet_store_pool_canceled_acquires_total",
		"Acquisitions from the PostgreSQL pool cancelled while waiting.", nil, nil)
	poolAcquireSeconds = prom.NewDesc("inlet_store_pool_acquire_seconds_total",
		"Time spent acquiring connections from the PostgreSQL pool.", nil, nil)
	poolNewConns = prom.NewDesc("inlet_store_pool_new_connections_total",
		"Connections the PostgreSQL pool opened.", nil, nil)
)

// poolCollector reads the pool's figures once per scrape.
type poolCollector struct {
	stats func() PoolStats
}

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prom.Desc) {
	for _, d := range []*prom.Desc{poolConns, poolMax, poolAcquires, poolEmptyAcquires, poolCanceledAcquires, poolAcquireSeconds, poolNewConns} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prom.Metric) {
	s := c.stats()
	for _, v := range []struct {
		state string
		n     int32
	}{{"acquired", s.Acquired}, {"idle", s.Idle}, {"constructing", s.Constructing}, {"total", s.Total}} {
		ch <- prom.MustNewConstMetric(poolConns, prom.GaugeValue, float64(v.n), v.state)
	}
	ch <- prom.MustNewConstMetric(poolMax, prom.GaugeValue, float64(s.Max))
	ch <- prom.MustNewConstMetric(poolAcquires, prom.CounterValue, float64(s.Acquires))
	ch <- prom.MustNewConstMetric(poolEmptyAcquires, prom.CounterValue, float64(s.EmptyAcquires))
	ch <- prom.MustNewConstMetric(poolCanceledAcquires, prom.CounterValue, float64(s.CanceledAcquires))
	ch <- prom.MustNewConstMetric(poolAcquireSeconds, prom.CounterValue, s.AcquireDuration.Seconds())
	ch <- prom.MustNewConstMetric(poolNewConns, prom.CounterValue, float64(s.NewConns))
}

// WatchFileSize adds a gauge of the store's size on disk, read from size
// at each scrape; a failed read leaves the gauge out of that scrape.
func (m *Metrics) WatchFileSize(size func() (int64, error)) {
	m.reg.MustRegister(&sizeCollector{size: size})
}

var storeBytes = prom.NewDesc("inlet_store_file_bytes",
	"Bytes of the SQLite database on disk: its file and write-ahead log.", nil, nil)

type sizeCollector struct {
	size func() (int64, error)
}

// Describe implements prometheus.Collector.
func (c *sizeCollector) Describe(ch chan<- *prom.Desc) { ch <- storeBytes }

// Collect implements prometheus.Collector.
func (c *sizeCollector) Collect(ch chan<- prom.Metric) {
	if n, err := c.size(); err == nil {
		ch <- prom.MustNewConstMetric(storeBytes, prom.GaugeValue, float64(n))
	}
}

// WatchStream adds the live stream's figures, read from stats at each
// scrape: streams open now, events handed to them and streams ended for a
// client that read too slowly.
func (m *Metrics) WatchStream(stats func() (subscribers int, published, dropped int64)) {
	m.reg.MustRegister(&streamCollector{stats: stats})
}

var (
	streamSubscribers = prom.NewDesc("inlet_stream_subscribers",
		"Live streams (GET /api/v1/events/stream) open now.", nil, nil)
	streamPublished = prom.NewDesc("inlet_stream_published_events_total",
		"Committed events handed to the live streams.", nil, nil)
	streamDropped = prom.NewDesc("inlet_stream_dropped_subscribers_total",
		"Live streams ended because their client read too slowly.", nil, nil)
)

type streamCollector struct {
	stats func() (int, int64, int64)
}

// Describe implements prometheus.Collector.
func (c *streamCollector) Describe(ch chan<- *prom.Desc) {
	ch <- streamSubscribers
	ch <- streamPublished
	ch <- streamDropped
}

// Collect implements prometheus.Collector.
func (c *streamCollector) Collect(ch chan<- prom.Metric) {
	n, published, dropped := c.stats()
	ch <- prom.MustNewConstMetric(streamSubscribers, prom.GaugeValue, float64(n))
	ch <- prom.MustNewConstMetric(streamPublished, prom.CounterValue, float64(published))
	ch <- prom.MustNewConstMetric(streamDropped, prom.CounterValue, float64(dropped))
}
