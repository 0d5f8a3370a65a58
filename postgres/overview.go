package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"inlet"
)

var _ inlet.OverviewStore = (*DB)(nil)

// EventsPerMinute counts events by minute and source. See inlet.OverviewStore.
func (db *DB) EventsPerMinute(ctx context.Context, since, until time.Time) ([]inlet.MinuteCount, error) {
	// The window on inserted_at prunes the day partitions outside it.
	return db.perMinute(ctx, `SELECT floor(extract(epoch FROM inserted_at) / 60)::bigint AS minute, source_id, count(*) FROM events
		WHERE inserted_at >= $1 AND inserted_at < $2 GROUP BY minute, source_id ORDER BY minute, source_id`, since, until)
}

// RejectionsPerMinute counts rejections by minute and reason. See
// inlet.OverviewStore.
func (db *DB) RejectionsPerMinute(ctx context.Context, since, until time.Time) ([]inlet.MinuteCount, error) {
	// The log is bounded (10,000 rows by default): a scan is cheap.
	return db.perMinute(ctx, `SELECT floor(extract(epoch FROM at) / 60)::bigint AS minute, reason, count(*) FROM rejections
		WHERE at >= $1 AND at < $2 GROUP BY minute, reason ORDER BY minute, reason`, since, until)
}

func (db *DB) perMinute(ctx context.Context, query string, since, until time.Time) ([]inlet.MinuteCount, error) {
	rows, err := db.pool.Query(ctx, query, since, until)
	if err != nil {
		return nil, storeError(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (inlet.MinuteCount, error) {
		var c inlet.MinuteCount
		var minute int64
		err := row.Scan(&minute, &c.Key, &c.Count)
		c.Minute = time.Unix(minute*60, 0).UTC()
		return c, err
	})
	if err != nil {
		return nil, storeError(err)
	}
	if out == nil {
		out = []inlet.MinuteCount{}
	}
	return out, nil
}
