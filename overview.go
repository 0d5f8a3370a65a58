package inlet

import (
	"context"
	"time"
)

// MinuteCount is how many events (or rejections) of one key, a source id
// or a rejection reason, fell in the minute starting at Minute.
type MinuteCount struct {
	Minute time.Time `json:"minute"`
	Key    string    `json:"key"`
	Count  int64     `json:"count"`
}

// OverviewStore counts what happened by minute, for the console's
// overview charts. It is apart from Store so that a backend may leave it
// out; the console then draws no charts.
type OverviewStore interface {
	// EventsPerMinute counts the events inserted in [since, until) by
	// minute (UTC) and source id, ordered by minute then source id;
	// minutes without events are left out. Returns EUNAVAILABLE.
	EventsPerMinute(ctx context.Context, since, until time.Time) ([]MinuteCount, error)

	// RejectionsPerMinute counts the rejected requests in [since, until)
	// by minute (UTC) and reason, ordered by minute then reason; minutes
	// without rejections are left out. Only the samples the log holds are
	// counted: a flood shows capped (see RejectionStore.CountRejections
	// for every refusal). Returns EUNAVAILABLE.
	RejectionsPerMinute(ctx context.Context, since, until time.Time) ([]MinuteCount, error)
}
