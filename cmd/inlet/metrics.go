package main

import (
	"context"
	"time"

	"inlet"
	"inlet/postgres"
	"inlet/prometheus"
	"inlet/sqlite"

	prom "github.com/prometheus/client_golang/prometheus"
)

// newMetrics returns the metrics of one Main, in a registry of its own (so
// that several in one process, as in tests, do not mix), with the store's
// figures that are cheap to read and the destinations' backlogs.
func newMetrics(store inlet.Store) *prometheus.Metrics {
	m := prometheus.New(prom.NewRegistry())
	m.WatchBacklog(func() []prometheus.Backlog { return backlog(store) })
	switch db := store.(type) {
	case *postgres.DB:
		m.WatchPool(func() prometheus.PoolStats { return prometheus.PoolStats(db.PoolStats()) })
	case *sqlite.DB:
		m.WatchFileSize(db.FileSize)
	}
	return m
}

// backlogLimit bounds the destinations whose backlog a scrape reads, and
// backlogTimeout the time it may take: one count per destination.
const (
	backlogLimit   = 100
	backlogTimeout = 2 * time.Second
)

// backlog reads the backlog of each destination for the metrics; a
// destination whose backlog cannot be read is left out of the scrape.
func backlog(store inlet.Store) []prometheus.Backlog {
	ctx, cancel := context.WithTimeout(context.Background(), backlogTimeout)
	defer cancel()
	page, err := store.ListDestinations(ctx, inlet.ListFilter{Limit: backlogLimit})
	if err != nil {
		return nil
	}
	now := time.Now()
	out := make([]prometheus.Backlog, 0, len(page.Items))
	for _, d := range page.Items {
		st, err := store.DeliveryState(ctx, d.ID, now)
		if err != nil {
			continue
		}
		out = append(out, prometheus.Backlog{Destination: d.ID, Pending: st.Pending, Failed: st.Failed, Dead: st.Dead, LagSeconds: st.LagSeconds, DeadAgeSeconds: st.DeadAgeSeconds})
	}
	return out
}
