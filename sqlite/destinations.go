package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"time"

	"inlet"
)

var (
	_ inlet.DestinationStore = (*DB)(nil)
	_ inlet.DeliveryStore    = (*DB)(nil)
)

const selectDestination = `SELECT id, name, type, enabled, filter, config, retry, ordered, disable_after, erasure_notices, disabled_at, disabled_reason, created_at, updated_at FROM destinations`

// CreateDestination stores a new destination, with its cursor at the
// log's head. See inlet.DestinationStore.
func (db *DB) CreateDestination(ctx context.Context, d *inlet.Destination) (err error) {
	defer db.audit(&ctx, "destination.create", inlet.AuditDestination, d.ID, nil, &err)()
	d.SetDefaults()
	if err := d.Validate(); err != nil {
		return err
	}
	now := db.now().UTC()
	d.CreatedAt, d.UpdatedAt = now, now
	filter, config, retry, err := inlet.DestinationColumns(db.secrets, d)
	if err != nil {
		return err
	}
	err = db.configTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO destinations (id, name, type, enabled, filter, config, retry, ordered, disable_after, erasure_notices, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.Name, d.Type, d.Enabled, filter, config, retry, d.Ordered, d.DisableAfter, d.ErasureNotices, now.UnixNano(), now.UnixNano()); err != nil {
			return err
		}
		// The one writer makes max(seq) the head: every event committed
		// after this transaction is after the cursor.
		_, err := tx.ExecContext(ctx, `INSERT INTO delivery_cursors (destination_id, position, start)
			SELECT ?, h, h FROM (SELECT coalesce(max(seq), 0) AS h FROM events)`, d.ID)
		return err
	})
	if isUnique(err) {
		return inlet.Errorf(inlet.ECONFLICT, "a destination with id %q exists already", d.ID)
	}
	return storeError(err)
}

// configTx runs fn in a write transaction whose commit is synced whatever
// --sync says (durableTx): configuration is written through it.
func (db *DB) configTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.durableTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx.Tx); err != nil {
		return err
	}
	return tx.Commit()
}

// FindDestination returns one destination. See inlet.DestinationStore.
func (db *DB) FindDestination(ctx context.Context, id string) (*inlet.Destination, error) {
	return db.findDestination(ctx, db.read, id)
}

func (db *DB) findDestination(ctx context.Context, q querier, id string) (*inlet.Destination, error) {
	rows, err := q.QueryContext(ctx, selectDestination+` WHERE id = ?`, id)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, storeError(err)
		}
		return nil, inlet.Errorf(inlet.ENOTFOUND, "destination %q not found", id)
	}
	return db.scanDestination(rows)
}

func (db *DB) scanDestination(rows *sql.Rows) (*inlet.Destination, error) {
	var (
		d                     inlet.Destination
		filter, config, retry []byte
		disabledAt            sql.NullInt64
		created, updated      int64
	)
	if err := rows.Scan(&d.ID, &d.Name, &d.Type, &d.Enabled, &filter, &config, &retry, &d.Ordered, &d.DisableAfter, &d.ErasureNotices, &disabledAt, &d.DisabledReason, &created, &updated); err != nil {
		return nil, storeError(err)
	}
	if disabledAt.Valid {
		t := time.Unix(0, disabledAt.Int64).UTC()
		d.DisabledAt = &t
	}
	if err := d.SetColumns(db.secrets, filter, config, retry); err != nil {
		return nil, err
	}
	d.CreatedAt, d.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	return &d, nil
}

// ListDestinations returns a page of destinations. See inlet.DestinationStore.
func (db *DB) ListDestinations(ctx context.Context, f inlet.ListFilter) (*inlet.DestinationPage, error) {
	limit := pageLimit(f.Limit)
	after := ""
	if f.Cursor != "" {
		var err error
		if after, err = decodeKey(f.Cursor); err != nil {
			return nil, err
		}
	}
	rows, err := db.read.QueryContext(ctx, selectDestination+` WHERE id > ? ORDER BY id LIMIT ?`, after, limit+1)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	page := &inlet.DestinationPage{Items: []*inlet.Destination{}}
	for rows.Next() {
		d, err := db.scanDestination(rows)
		if err != nil {
			return nil, err
		}
		if len(page.Items) == limit {
			next := encodeKey(page.Items[limit-1].ID)
			page.Next = &next
			break
		}
		page.Items = append(page.Items, d)
	}
	return page, storeError(rows.Err())
}

func pageLimit(limit int) int {
	f := inlet.EventFilter{Limit: limit}
	return f.PageLimit()
}

// encodeKey makes an opaque cursor from a text key.
func encodeKey(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("k" + key))
}

func decodeKey(cursor string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) < 2 || b[0] != 'k' {
		return "", inlet.Reasonf(inlet.EINVALID, "bad_cursor", "cursor is not one this server gave out")
	}
	return string(b[1:]), nil
}

// UpdateDestination changes a destination. See inlet.DestinationStore.
func (db *DB) UpdateDestination(ctx context.Context, id string, u inlet.DestinationUpdate) (_ *inlet.Destination, err error) {
	defer db.audit(&ctx, "destination.update", inlet.AuditDestination, id, nil, &err)()
	var d *inlet.Destination
	err = db.configTx(ctx, func(tx *sql.Tx) error {
		var err error
		if d, err = db.findDestination(ctx, tx, id); err != nil {
			return err
		}
		wasEnabled := d.Enabled
		u.Apply(d)
		d.SetDefaults()
		if err := d.Validate(); err != nil {
			return err
		}
		d.UpdatedAt = db.now().UTC()
		filter, config, retry, err := inlet.DestinationColumns(db.secrets, d)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE destinations SET name = ?, enabled = ?, filter = ?, config = ?, retry = ?, ordered = ?, disable_after = ?,
			erasure_notices = ?, disabled_at = ?, disabled_reason = ?, updated_at = ? WHERE id = ?`,
			d.Name, d.Enabled, filter, config, retry, d.Ordered, d.DisableAfter, d.ErasureNotices, nanosOrNil(d.DisabledAt), d.DisabledReason, d.UpdatedAt.UnixNano(), id); err != nil {
			return err
		}
		if d.Enabled && !wasEnabled {
			// Enabled again: it resumes from its cursor, and its failures
			// so far no longer count towards disabling it.
			_, err = tx.ExecContext(ctx, `UPDATE delivery_cursors SET failing_since = NULL WHERE destination_id = ?`, id)
		}
		return err
	})
	if err != nil {
		return nil, storeError(err)
	}
	return d, nil
}

func nanosOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixNano()
}

// DisableDestination disables a destination for a reason. See
// inlet.DeliveryStore.
func (db *DB) DisableDestination(ctx context.Context, id, reason string, now time.Time) (err error) {
	defer db.audit(&ctx, "destination.disable", inlet.AuditDestination, id, nil, &err)()
	err = db.configTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE destinations SET enabled = 0, disabled_at = ?, disabled_reason = ?, updated_at = ? WHERE id = ?`,
			now.UnixNano(), reason, now.UnixNano(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return inlet.Errorf(inlet.ENOTFOUND, "destination %q not found", id)
		}
		return nil
	})
	return storeError(err)
}

// DeleteDestination removes a destination, its cursor and its
// deliveries. See inlet.DestinationStore.
func (db *DB) DeleteDestination(ctx context.Context, id string) (err error) {
	defer db.audit(&ctx, "destination.delete", inlet.AuditDestination, id, nil, &err)()
	err = db.configTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM destinations WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return inlet.Errorf(inlet.ENOTFOUND, "destination %q not found", id)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM delivery_cursors WHERE destination_id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM delivery_attempts WHERE destination_id = ?`, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM deliveries WHERE destination_id = ?`, id)
		return err
	})
	return storeError(err)
}
