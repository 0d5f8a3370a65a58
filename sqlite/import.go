package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"inlet"
)

var _ inlet.EventImporter = (*DB)(nil)

// ImportEvents stores events as they were, skipping ids already stored.
// See inlet.EventImporter.
func (db *DB) ImportEvents(ctx context.Context, events []*inlet.Event) (_ int, err error) {
	defer db.audit(&ctx, "events.import", inlet.AuditEvents, "", inlet.ImportDetail(events), &err)()
	if len(events) == 0 {
		return 0, nil
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, storeError(err)
	}
	defer tx.Rollback()
	n := 0
	for _, e := range events {
		ctxJSON, err := json.Marshal(&e.Context)
		if err != nil {
			return 0, err
		}
		args := appendEventArgs([]any{db.takeSeqs(1)}, e, ctxJSON)
		res, err := tx.ExecContext(ctx, `INSERT INTO events (seq, id, type, inserted_at, source_id, session_id, profile_id, properties, context, warnings, imported)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (id) DO NOTHING`, args...)
		if err != nil {
			return 0, storeError(fmt.Errorf("import event %s: %w", e.ID, err))
		}
		if k, _ := res.RowsAffected(); k == 0 {
			continue
		}
		n++
		if e.ProfileID != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO profiles (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, e.ProfileID, e.InsertedAt.UnixNano()); err != nil {
				return 0, storeError(err)
			}
		}
		if e.SessionID != "" && e.ProfileID != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, profile_id, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`, e.SessionID, e.ProfileID, e.InsertedAt.UnixNano()); err != nil {
				return 0, storeError(err)
			}
		}
	}
	if err := db.writeAudit(ctx, tx); err != nil {
		return 0, err
	}
	return n, storeError(tx.Commit())
}
