package sqlite

import (
	"context"
	"strings"
	"time"
)

// retentionBatch is how many events one retention transaction deletes:
// small enough that appends waiting for the one write connection are held
// up for milliseconds, not for the whole purge.
const retentionBatch = 1000

// DeleteEventsBefore deletes the events inserted before t, in transactions
// of at most retentionBatch events so that appends go on in between.
// Sessions and profiles are kept. An event of the log that a cursor has
// not passed yet (a destination may still want it), or with a delivery
// not yet delivered (dead ones included: they may be retried), is kept;
// the deliveries of the deleted events go with them.
// Returns EUNAVAILABLE.
func (db *DB) DeleteEventsBefore(ctx context.Context, t time.Time) error {
	return db.deleteBefore(ctx, "", t)
}

// DeleteSourceEventsBefore deletes one source's old events. See
// inlet.Retainer.
func (db *DB) DeleteSourceEventsBefore(ctx context.Context, sourceID string, t time.Time) error {
	return db.deleteBefore(ctx, sourceID, t)
}

func (db *DB) deleteBefore(ctx context.Context, sourceID string, t time.Time) error {
	for {
		n, err := db.deleteEventsBefore(ctx, sourceID, t)
		if err != nil {
			return storeError(err)
		}
		if n < retentionBatch {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return storeError(err)
		}
	}
}

func (db *DB) deleteEventsBefore(ctx context.Context, sourceID string, t time.Time) (int, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE inserted_at < ?1 AND (?2 = '' OR source_id = ?2)
		AND (imported IS NOT NULL OR seq <= (SELECT coalesce(min(position), 9223372036854775807) FROM delivery_cursors))
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.status <> 'delivered')
		ORDER BY inserted_at LIMIT ?3) RETURNING id`, t.UnixNano(), sourceID, retentionBatch)
	if err != nil {
		return 0, err
	}
	var ids []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	deleted := len(ids)
	for len(ids) > 0 {
		n := min(len(ids), 500)
		if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE event_id IN (`+strings.TrimSuffix(strings.Repeat("?, ", n), ", ")+`)`, ids[:n]...); err != nil {
			return 0, err
		}
		ids = ids[n:]
	}
	return deleted, tx.Commit()
}
