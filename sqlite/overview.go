package sqlite

import (
	"context"
	"time"

	"inlet"
)

var _ inlet.OverviewStore = (*DB)(nil)

// EventsPerMinute counts events by minute and source. See inlet.OverviewStore.
func (db *DB) EventsPerMinute(ctx context.Context, since, until time.Time) ([]inlet.MinuteCount, error) {
	// events_time (inserted_at) bounds the scan to the window.
	return db.perMinute(ctx, `SELECT inserted_at / 60000000000 AS minute, source_id, count(*) FROM events
		WHERE inserted_at >= ? AND inserted_at < ? GROUP BY minute, source_id ORDER BY minute, source_id`, since, until)
}

// RejectionsPerMinute counts rejections by minute and reason. See
// inlet.OverviewStore.
func (db *DB) RejectionsPerMinute(ctx context.Context, since, until time.Time) ([]inlet.MinuteCount, error) {
	// The log is bounded (10,000 rows by default): a scan is cheap.
	return db.perMinute(ctx, `SELECT at / 60000000000 AS minute, reason, count(*) FROM rejections
		WHERE at >= ? AND at < ? GROUP BY minute, reason ORDER BY minute, reason`, since, until)
}

func (db *DB) perMinute(ctx context.Context, query string, since, until time.Time) ([]inlet.MinuteCount, error) {
	rows, err := db.read.QueryContext(ctx, query, since.UnixNano(), until.UnixNano())
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	out := []inlet.MinuteCount{}
	for rows.Next() {
		var c inlet.MinuteCount
		var minute int64
		if err := rows.Scan(&minute, &c.Key, &c.Count); err != nil {
			return nil, storeError(err)
		}
		c.Minute = time.Unix(minute*60, 0).UTC()
		out = append(out, c)
	}
	return out, storeError(rows.Err())
}
