package postgres

import (
	"context"
	"encoding/base64"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"inlet"
)

var (
	_ inlet.DestinationStore = (*DB)(nil)
	_ inlet.DeliveryStore    = (*DB)(nil)
)

const selectDestination = `SELECT id, name, type, enabled, filter, config, retry, ordered, disable_after, erasure_notices, disabled_at, disabled_reason, created_at, updated_at FROM destinations`

// CreateDestination stores a new destination. See inlet.DestinationStore.
func (db *DB) CreateDestination(ctx context.Context, d *inlet.Destination) (err error) {
	defer db.audit(&ctx, "destination.create", inlet.AuditDestination, d.ID, nil, &err)()
	d.SetDefaults()
	if err := d.Validate(); err != nil {
		return err
	}
	now := db.now().UTC().Truncate(time.Microsecond)
	filter, config, retry, err := inlet.DestinationColumns(db.secrets, d)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO destinations (id, name, type, enabled, filter, config, retry, ordered, disable_after, erasure_notices, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)`,
			d.ID, d.Name, d.Type, d.Enabled, filter, config, retry, d.Ordered, d.DisableAfter, d.ErasureNotices, now); err != nil {
			return err
		}
		// The cursor starts below the oldest transaction still running:
		// every event committed from then on is after it.
		_, err := tx.Exec(ctx, `INSERT INTO delivery_cursors (destination_id, position_tx, position_seq, start_tx, start_seq)
			SELECT $1, x, 0, x, 0 FROM (SELECT `+horizon+` AS x) h`, d.ID)
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return inlet.Errorf(inlet.ECONFLICT, "a destination with id %q exists already", d.ID)
	} else if err != nil {
		return storeError(err)
	}
	d.CreatedAt, d.UpdatedAt = now, now
	return nil
}

// FindDestination returns one destination. See inlet.DestinationStore.
func (db *DB) FindDestination(ctx context.Context, id string) (*inlet.Destination, error) {
	return db.findDestination(ctx, db.pool, id, "")
}

func (db *DB) findDestination(ctx context.Context, q querier, id, suffix string) (*inlet.Destination, error) {
	rows, err := q.Query(ctx, selectDestination+` WHERE id = $1`+suffix, id)
	if err != nil {
		return nil, storeError(err)
	}
	d, err := pgx.CollectExactlyOneRow(rows, db.scanDestination)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "destination %q not found", id)
	}
	return d, storeError(err)
}

func (db *DB) scanDestination(row pgx.CollectableRow) (*inlet.Destination, error) {
	var (
		d                     inlet.Destination
		filter, config, retry []byte
	)
	if err := row.Scan(&d.ID, &d.Name, &d.Type, &d.Enabled, &filter, &config, &retry, &d.Ordered, &d.DisableAfter, &d.ErasureNotices, &d.DisabledAt, &d.DisabledReason, &d.CreatedAt, &d.UpdatedAt); err != nil {
		return nil, err
	}
	if d.DisabledAt != nil {
		t := d.DisabledAt.UTC()
		d.DisabledAt = &t
	}
	if err := d.SetColumns(db.secrets, filter, config, retry); err != nil {
		return nil, err
	}
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return &d, nil
}

// ListDestinations returns a page of destinations. See inlet.DestinationStore.
func (db *DB) ListDestinations(ctx context.Context, f inlet.ListFilter) (*inlet.DestinationPage, error) {
	limit := (&inlet.EventFilter{Limit: f.Limit}).PageLimit()
	after := ""
	if f.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		if err != nil || len(b) < 2 || b[0] != 'k' {
			return nil, inlet.Reasonf(inlet.EINVALID, "bad_cursor", "cursor is not one this server gave out")
		}
		after = string(b[1:])
	}
	rows, err := db.pool.Query(ctx, selectDestination+` WHERE id > $1 ORDER BY id LIMIT $2`, after, limit+1)
	if err != nil {
		return nil, storeError(err)
	}
	items, err := pgx.CollectRows(rows, db.scanDestination)
	if err != nil {
		return nil, storeError(err)
	}
	page := &inlet.DestinationPage{Items: items}
	if page.Items == nil {
		page.Items = []*inlet.Destination{}
	}
	if len(items) > limit {
		page.Items = items[:limit]
		next := base64.RawURLEncoding.EncodeToString([]byte("k" + items[limit-1].ID))
		page.Next = &next
	}
	return page, nil
}

// UpdateDestination changes a destination. See inlet.DestinationStore.
func (db *DB) UpdateDestination(ctx context.Context, id string, u inlet.DestinationUpdate) (_ *inlet.Destination, err error) {
	defer db.audit(&ctx, "destination.update", inlet.AuditDestination, id, nil, &err)()
	var out *inlet.Destination
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		d, err := db.findDestination(ctx, tx, id, " FOR UPDATE")
		if err != nil {
			return err
		}
		wasEnabled := d.Enabled
		u.Apply(d)
		d.SetDefaults()
		if err := d.Validate(); err != nil {
			return err
		}
		d.UpdatedAt = db.now().UTC().Truncate(time.Microsecond)
		filter, config, retry, err := inlet.DestinationColumns(db.secrets, d)
		if err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `UPDATE destinations SET name = $1, enabled = $2, filter = $3, config = $4, retry = $5, ordered = $6,
			disable_after = $7, disabled_at = $8, disabled_reason = $9, updated_at = $10, erasure_notices = $12 WHERE id = $11`,
			d.Name, d.Enabled, filter, config, retry, d.Ordered, d.DisableAfter, d.DisabledAt, d.DisabledReason, d.UpdatedAt, id, d.ErasureNotices); err != nil {
			return err
		}
		if d.Enabled && !wasEnabled {
			// Enabled again: it resumes from its cursor, and its failures
			// so far no longer count towards disabling it.
			if _, err := tx.Exec(ctx, `UPDATE delivery_cursors SET failing_since = NULL WHERE destination_id = $1`, id); err != nil {
				return err
			}
		}
		out = d
		return nil
	})
	return out, storeError(err)
}

// DeleteDestination removes a destination and its deliveries. See
// inlet.DestinationStore.
func (db *DB) DeleteDestination(ctx context.Context, id string) (err error) {
	defer db.audit(&ctx, "destination.delete", inlet.AuditDestination, id, nil, &err)()
	return storeError(pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM destinations WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return inlet.Errorf(inlet.ENOTFOUND, "destination %q not found", id)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM delivery_cursors WHERE destination_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM delivery_attempts WHERE destination_id = $1`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM deliveries WHERE destination_id = $1`, id)
		return err
	}))
}

// DisableDestination disables a destination for a reason. See
// inlet.DeliveryStore.
func (db *DB) DisableDestination(ctx context.Context, id, reason string, now time.Time) (err error) {
	defer db.audit(&ctx, "destination.disable", inlet.AuditDestination, id, nil, &err)()
	tag, err := db.pool.Exec(ctx, `UPDATE destinations SET enabled = false, disabled_at = $1, disabled_reason = $2, updated_at = $1 WHERE id = $3`,
		now.UTC().Truncate(time.Microsecond), reason, id)
	if err != nil {
		return storeError(err)
	}
	if tag.RowsAffected() == 0 {
		return inlet.Errorf(inlet.ENOTFOUND, "destination %q not found", id)
	}
	return nil
}
