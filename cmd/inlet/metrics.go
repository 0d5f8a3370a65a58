package main

import (
	"inlet"
	"inlet/postgres"
	"inlet/prometheus"
	"inlet/sqlite"

	prom "github.com/prometheus/client_golang/prometheus"
)

// newMetrics returns the metrics of one Main, in a registry of its own (so
// that several in one process, as in tests, do not mix), with the store's
// figures that are cheap to read.
func newMetrics(store inlet.Store) *prometheus.Metrics {
	m := prometheus.New(prom.NewRegistry())
	switch db := store.(type) {
	case *postgres.DB:
		m.WatchPool(func() prometheus.PoolStats { return prometheus.PoolStats(db.PoolStats()) })
	case *sqlite.DB:
		m.WatchFileSize(db.FileSize)
	}
	return m
}
