package postgres

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"inlet"
)

var _ inlet.EventImporter = (*DB)(nil)

// ImportEvents stores events as they were, skipping ids already stored,
// in one round trip. See inlet.EventImporter.
func (db *DB) ImportEvents(ctx context.Context, events []*inlet.Event) (_ int, err error) {
	defer db.audit(&ctx, "events.import", inlet.AuditEvents, "", inlet.ImportDetail(events), &err)()
	if len(events) == 0 {
		return 0, nil
	}
	var days []int64
	for _, e := range events {
		if d := day(e.InsertedAt); !slices.Contains(days, d) {
			days = append(days, d)
		}
	}
	if err := db.ensurePartitions(ctx, days...); err != nil {
		return 0, storeError(err)
	}
	n := 0
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		n = 0
		for _, e := range events {
			ctxJSON, err := json.Marshal(&e.Context)
			if err != nil {
				return err
			}
			props := e.Properties
			if len(props) == 0 {
				props = json.RawMessage("{}")
			}
			// The id is looked up across partitions: a unique key of a
			// partitioned table must hold the time as well.
			// No place in the log: imported events are history, never
			// delivered from the log.
			b.Queue(`INSERT INTO events (inserted_at, id, type, source_id, session_id, profile_id, properties, context, warnings, log_tx, log_seq)
				SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL WHERE NOT EXISTS (SELECT 1 FROM events WHERE id = $2) ON CONFLICT DO NOTHING`,
				e.InsertedAt, e.ID, e.Type, e.SourceID, nullString(e.SessionID), nullString(e.ProfileID), props, ctxJSON, warningsArg(e.Warnings)).
				Exec(func(tag pgconn.CommandTag) error {
					n += int(tag.RowsAffected())
					return nil
				})
			if e.ProfileID != "" {
				b.Queue(`INSERT INTO profiles (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, e.ProfileID, e.InsertedAt)
				if e.SessionID != "" {
					b.Queue(`INSERT INTO sessions (id, profile_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`, e.SessionID, e.ProfileID, e.InsertedAt)
				}
			}
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	return n, storeError(err)
}
