package sqlite

import (
	"context"
	"time"
)

// retentionBatch is how many events one retention transaction deletes:
// small enough that appends waiting for the one write connection are held
// up for milliseconds, not for the whole purge.
const retentionBatch = 1000

// DeleteEventsBefore deletes the events inserted before t, in transactions
// of at most retentionBatch events so that appends go on in between.
// Sessions and profiles are kept. Returns EUNAVAILABLE.
func (db *DB) DeleteEventsBefore(ctx context.Context, t time.Time) error {
	for {
		res, err := db.write.ExecContext(ctx, `DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE inserted_at < ? ORDER BY inserted_at LIMIT ?)`,
			t.UnixNano(), retentionBatch)
		if err != nil {
			return storeError(err)
		}
		n, err := res.RowsAffected()
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
