package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"inlet"
)

var _ inlet.DeliveryStore = (*DB)(nil)

// horizon is the log's readable end: no transaction below the oldest one
// still running can commit any more, so every event under it is in place
// for good (the technique of transactional outboxes). Several nodes and
// pooled connections commit out of order; a cursor that moved past a
// later transaction's events would otherwise skip an earlier one that
// commits after.
const horizon = `pg_snapshot_xmin(pg_current_snapshot())::text::bigint`

// xid8 turns a bigint parameter into the type of events.log_tx.
func xid8(param string) string { return `(` + param + `::bigint)::text::xid8` }

const selectCursor = `SELECT position_tx, position_seq, start_tx, start_seq, owner, lease_until, delivered, failing_since FROM delivery_cursors`

func scanCursor(row pgx.Row) (*inlet.Cursor, error) {
	var c inlet.Cursor
	if err := row.Scan(&c.Position.Tx, &c.Position.Seq, &c.Start.Tx, &c.Start.Seq, &c.Owner, &c.LeaseUntil, &c.Delivered, &c.FailingSince); err != nil {
		return nil, err
	}
	c.LeaseUntil = c.LeaseUntil.UTC()
	if c.FailingSince != nil {
		t := c.FailingSince.UTC()
		c.FailingSince = &t
	}
	return &c, nil
}

type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func readCursor(ctx context.Context, q rowQuerier, destinationID string) (*inlet.Cursor, error) {
	c, err := scanCursor(q.QueryRow(ctx, selectCursor+` WHERE destination_id = $1`, destinationID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "destination %q not found", destinationID)
	}
	return c, storeError(err)
}

// TakeCursor leases a destination's cursor. See inlet.DeliveryStore.
func (db *DB) TakeCursor(ctx context.Context, destinationID, owner string, now time.Time, lease time.Duration) (*inlet.Cursor, error) {
	c, err := scanCursor(db.pool.QueryRow(ctx, `UPDATE delivery_cursors SET owner = $2, lease_until = $3
		WHERE destination_id = $1 AND (owner = $2 OR owner = '' OR lease_until <= $4)
		RETURNING position_tx, position_seq, start_tx, start_seq, owner, lease_until, delivered, failing_since`,
		destinationID, owner, now.Add(lease), now))
	if errors.Is(err, pgx.ErrNoRows) {
		held, err := readCursor(ctx, db.pool, destinationID)
		if err != nil {
			return nil, err
		}
		return nil, inlet.Errorf(inlet.ECONFLICT, "destination %q is delivered by %s until %s", destinationID, held.Owner, inlet.FormatTime(held.LeaseUntil))
	}
	return c, storeError(err)
}

// ReleaseCursor ends a lease. See inlet.DeliveryStore.
func (db *DB) ReleaseCursor(ctx context.Context, destinationID, owner string) error {
	_, err := db.pool.Exec(ctx, `UPDATE delivery_cursors SET owner = '', lease_until = 'epoch' WHERE destination_id = $1 AND owner = $2`, destinationID, owner)
	return storeError(err)
}

// ReadLog reads committed events after a position, below the horizon. See
// inlet.DeliveryStore.
func (db *DB) ReadLog(ctx context.Context, after inlet.LogPosition, limit int) (*inlet.LogRead, error) {
	// The horizon is read first: it only grows, so every event under it
	// is in place when the events are read.
	var h int64
	if err := db.pool.QueryRow(ctx, `SELECT `+horizon).Scan(&h); err != nil {
		return nil, storeError(err)
	}
	rows, err := db.pool.Query(ctx, `SELECT log_tx::text::bigint, log_seq, inserted_at, id, type, source_id, session_id, profile_id, properties, context, warnings
		FROM events WHERE (log_tx, log_seq) > (`+xid8("$1")+`, $2) AND log_tx < `+xid8("$3")+`
		ORDER BY log_tx, log_seq LIMIT $4`, after.Tx, after.Seq, h, limit)
	if err != nil {
		return nil, storeError(err)
	}
	r := &inlet.LogRead{Head: after}
	r.Events, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (inlet.LogEvent, error) {
		var le inlet.LogEvent
		e, err := scanEventWith(row, &le.Pos.Tx, &le.Pos.Seq)
		le.Event = e
		return le, err
	})
	if err != nil {
		return nil, storeError(err)
	}
	if n := len(r.Events); n > 0 {
		r.Head = r.Events[n-1].Pos
	}
	// Fewer than asked for: everything under the horizon was read.
	if head := (inlet.LogPosition{Tx: h}); len(r.Events) < limit && head.Compare(r.Head) > 0 {
		r.Head = head
	}
	return r, nil
}

// LogHead returns the log's head: below the oldest transaction still
// running, as for a new destination. See inlet.DeliveryStore.
func (db *DB) LogHead(ctx context.Context) (inlet.LogPosition, error) {
	var h int64
	err := db.pool.QueryRow(ctx, `SELECT `+horizon).Scan(&h)
	return inlet.LogPosition{Tx: h}, storeError(err)
}

const deliveryColumns = `event_id, event_inserted_at, log_tx, seq, status, attempts, created_at, next_attempt_at, last_error, log, version`

func scanDelivery(row pgx.CollectableRow, d *inlet.Delivery, insertedAt *time.Time) error {
	var log []byte
	if err := row.Scan(&d.EventID, insertedAt, &d.Pos.Tx, &d.Pos.Seq, &d.Status, &d.Attempts, &d.CreatedAt, &d.NextAttemptAt, &d.LastError, &log, &d.Version); err != nil {
		return err
	}
	d.CreatedAt, d.NextAttemptAt = d.CreatedAt.UTC(), d.NextAttemptAt.UTC()
	if err := json.Unmarshal(log, &d.Log); err != nil {
		return fmt.Errorf("delivery %s/%s: log: %w", d.DestinationID, d.EventID, err)
	}
	return nil
}

type deliveryRow struct {
	d  *inlet.Delivery
	at time.Time // the event's inserted_at
}

func collectDeliveries(rows pgx.Rows, destinationID string) ([]deliveryRow, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (deliveryRow, error) {
		r := deliveryRow{d: &inlet.Delivery{DestinationID: destinationID}}
		return r, scanDelivery(row, r.d, &r.at)
	})
}

// DueDeliveries returns the rows to attempt next. See inlet.DeliveryStore.
func (db *DB) DueDeliveries(ctx context.Context, destinationID string, f inlet.DueFilter) ([]*inlet.Delivery, error) {
	query := `SELECT ` + deliveryColumns + ` FROM deliveries WHERE destination_id = $1 AND status IN ('pending', 'failed')
		AND (release_tx, release_seq) <= ($2, $3) AND next_attempt_at <= $4 ORDER BY log_tx, seq LIMIT $5`
	args := []any{destinationID, f.Released.Tx, f.Released.Seq, f.Now, f.Limit}
	if f.Ordered {
		query = `SELECT ` + deliveryColumns + ` FROM deliveries WHERE destination_id = $1 AND status IN ('pending', 'failed')
			AND (release_tx, release_seq) <= ($2, $3) ORDER BY log_tx, seq LIMIT 1`
		args = args[:3]
	}
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, storeError(err)
	}
	due, err := collectDeliveries(rows, destinationID)
	if err != nil || len(due) == 0 {
		return nil, storeError(err)
	}
	ids, times := make([]string, len(due)), make([]time.Time, len(due))
	for i, r := range due {
		ids[i], times[i] = r.d.EventID, r.at
	}
	rows, err = db.pool.Query(ctx, `SELECT e.inserted_at, e.id, e.type, e.source_id, e.session_id, e.profile_id, e.properties, e.context, e.warnings
		FROM events e JOIN unnest($1::text[], $2::timestamptz[]) u(id, t) ON e.id = u.id AND e.inserted_at = u.t`, ids, times)
	if err != nil {
		return nil, storeError(err)
	}
	events, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, storeError(err)
	}
	byID := make(map[string]*inlet.Event, len(events))
	for _, e := range events {
		byID[e.ID] = e
	}
	out := make([]*inlet.Delivery, len(due))
	for i, r := range due {
		r.d.Event = byID[r.d.EventID]
		out[i] = r.d
	}
	return out, nil
}

// Settle records what the owner of a cursor settled, in one transaction.
// See inlet.DeliveryStore.
func (db *DB) Settle(ctx context.Context, destinationID, owner string, s inlet.Settlement, now time.Time, lease time.Duration) (*inlet.Cursor, error) {
	var c *inlet.Cursor
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var err error
		c, err = scanCursor(tx.QueryRow(ctx, `UPDATE delivery_cursors SET
			(position_tx, position_seq) = (SELECT * FROM (VALUES (position_tx, position_seq), ($3::bigint, $4::bigint)) p(t, s) ORDER BY t DESC, s DESC LIMIT 1),
			delivered = delivered + $5, lease_until = $6,
			failing_since = CASE WHEN $8 THEN NULL WHEN $9 THEN coalesce(failing_since, $7) ELSE failing_since END
			WHERE destination_id = $1 AND owner = $2
			RETURNING position_tx, position_seq, start_tx, start_seq, owner, lease_until, delivered, failing_since`,
			destinationID, owner, s.Position.Tx, s.Position.Seq, s.Delivered, now.Add(lease), now, s.Succeeded, s.Failed))
		if errors.Is(err, pgx.ErrNoRows) {
			return inlet.Errorf(inlet.ECONFLICT, "the cursor of destination %q is no longer %s's", destinationID, owner)
		} else if err != nil {
			return err
		}
		if s.Attempts > 0 {
			if err := countAttempts(ctx, tx, destinationID, s, now); err != nil {
				return err
			}
		}
		if len(s.Outcomes) == 0 {
			return nil
		}
		return writeOutcomes(ctx, tx, destinationID, s.Outcomes)
	})
	return c, storeError(err)
}

// countAttempts adds a settlement's attempts and failures to its minute,
// and drops the minutes no failure rate reads any more.
func countAttempts(ctx context.Context, tx pgx.Tx, destinationID string, s inlet.Settlement, now time.Time) error {
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO delivery_attempts (destination_id, minute, attempts, failures) VALUES ($1, $2, $3, $4)
		ON CONFLICT (destination_id, minute) DO UPDATE SET attempts = delivery_attempts.attempts + excluded.attempts,
		failures = delivery_attempts.failures + excluded.failures`,
		destinationID, inlet.AttemptMinute(now), s.Attempts, s.Failures)
	b.Queue(`DELETE FROM delivery_attempts WHERE destination_id = $1 AND minute < $2`, destinationID, inlet.FirstAttemptMinute(now))
	return tx.SendBatch(ctx, b).Close()
}

// writeOutcomes writes the rows of outcomes in one round trip: new rows
// for events from the log (unless a replay made one), updates of rows
// whose version is still the one read.
func writeOutcomes(ctx context.Context, tx pgx.Tx, destinationID string, outcomes []inlet.Outcome) error {
	b := &pgx.Batch{}
	for _, o := range outcomes {
		log, err := json.Marshal(o.Log)
		if err != nil {
			return err
		}
		lastErr := o.LastError()
		if o.FromLog {
			b.Queue(`INSERT INTO deliveries (destination_id, event_id, event_inserted_at, log_tx, seq, status, attempts, created_at, next_attempt_at, last_error, log)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (destination_id, event_id) DO NOTHING`,
				destinationID, o.EventID, o.InsertedAt, o.Pos.Tx, o.Pos.Seq, o.Status, o.Attempts, o.CreatedAt, o.NextAttemptAt, lastErr, string(log))
		} else {
			b.Queue(`UPDATE deliveries SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4, log = $5
				WHERE destination_id = $6 AND event_id = $7 AND version = $8`,
				o.Status, o.Attempts, o.NextAttemptAt, lastErr, string(log), destinationID, o.EventID, o.Version)
		}
	}
	return tx.SendBatch(ctx, b).Close()
}

// ListDeliveries returns a page of rows. See inlet.DeliveryStore.
func (db *DB) ListDeliveries(ctx context.Context, destinationID string, f inlet.DeliveryFilter) (*inlet.DeliveryPage, error) {
	if _, err := db.FindDestination(ctx, destinationID); err != nil {
		return nil, err
	}
	status, err := inlet.ParseDeliveryStatus(f.Status)
	if err != nil {
		return nil, err
	}
	limit := (&inlet.EventFilter{Limit: f.Limit}).PageLimit()
	var after inlet.LogPosition
	after.Tx, after.Seq = -1, -1
	if f.Cursor != "" {
		if after, err = decodePosition(f.Cursor); err != nil {
			return nil, err
		}
	}
	rows, err := db.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE destination_id = $1 AND (log_tx, seq) > ($2, $3)
		AND ($4 = '' OR status = $4) ORDER BY log_tx, seq LIMIT $5`, destinationID, after.Tx, after.Seq, status, limit+1)
	if err != nil {
		return nil, storeError(err)
	}
	got, err := collectDeliveries(rows, destinationID)
	if err != nil {
		return nil, storeError(err)
	}
	page := &inlet.DeliveryPage{Items: []*inlet.Delivery{}}
	for i, r := range got {
		if i == limit {
			next := encodePosition(got[limit-1].d.Pos)
			page.Next = &next
			break
		}
		page.Items = append(page.Items, r.d)
	}
	return page, nil
}

func encodePosition(p inlet.LogPosition) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "d%d.%d", p.Tx, p.Seq))
}

func decodePosition(cursor string) (inlet.LogPosition, error) {
	var p inlet.LogPosition
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) < 2 || b[0] != 'd' {
		return p, inlet.Reasonf(inlet.EINVALID, "bad_cursor", "cursor is not one this server gave out")
	}
	if _, err := fmt.Sscanf(string(b[1:]), "%d.%d", &p.Tx, &p.Seq); err != nil {
		return p, inlet.Reasonf(inlet.EINVALID, "bad_cursor", "cursor is not one this server gave out")
	}
	return p, nil
}

// RetryDeliveries makes rows due again. See inlet.DeliveryStore.
func (db *DB) RetryDeliveries(ctx context.Context, destinationID string, eventIDs []string, status string, now time.Time) (_ int, err error) {
	defer db.audit(&ctx, "deliveries.retry", inlet.AuditDestination, destinationID, inlet.DeliveriesDetail(eventIDs, status), &err)()
	if err := inlet.CheckRetry(eventIDs, status); err != nil {
		return 0, err
	}
	if _, err := db.FindDestination(ctx, destinationID); err != nil {
		return 0, err
	}
	tag, err := db.pool.Exec(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = $2, created_at = $2,
		release_tx = 0, release_seq = 0, version = version + 1
		WHERE destination_id = $1 AND status <> 'pending' AND (coalesce(cardinality($3::text[]), 0) > 0 AND event_id = ANY($3) OR coalesce(cardinality($3::text[]), 0) = 0 AND status = $4)`,
		destinationID, now, eventIDs, status)
	if err != nil {
		return 0, storeError(err)
	}
	return int(tag.RowsAffected()), nil
}

// DiscardDeliveries gives rows up. See inlet.DeliveryStore.
func (db *DB) DiscardDeliveries(ctx context.Context, destinationID string, eventIDs []string, status string) (_ int, err error) {
	defer db.audit(&ctx, "deliveries.discard", inlet.AuditDestination, destinationID, inlet.DeliveriesDetail(eventIDs, status), &err)()
	if err := inlet.CheckDiscard(eventIDs, status); err != nil {
		return 0, err
	}
	if _, err := db.FindDestination(ctx, destinationID); err != nil {
		return 0, err
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM deliveries WHERE destination_id = $1 AND status <> 'delivered'
		AND (coalesce(cardinality($2::text[]), 0) > 0 AND event_id = ANY($2) OR coalesce(cardinality($2::text[]), 0) = 0 AND status = $3)`,
		destinationID, eventIDs, status)
	if err != nil {
		return 0, storeError(err)
	}
	return int(tag.RowsAffected()), nil
}

// ReplayDeliveries delivers stored events again, behind every event
// committed before. See inlet.DeliveryStore.
func (db *DB) ReplayDeliveries(ctx context.Context, destinationID string, r inlet.Replay, now time.Time) (_ int, err error) {
	defer db.audit(&ctx, "deliveries.replay", inlet.AuditDestination, destinationID, r, &err)()
	n := 0
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		d, err := db.findDestination(ctx, tx, destinationID, "")
		if err != nil {
			return err
		}
		// Every transaction that committed before this one is below the
		// snapshot's xmax: the cursor passes that once it has read them.
		var release int64
		if err := tx.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint`).Scan(&release); err != nil {
			return err
		}
		until := r.Until
		if until.IsZero() {
			until = now
		}
		rows, err := tx.Query(ctx, `SELECT inserted_at, id, source_id, type, coalesce(log_tx::text::bigint, 0), coalesce(log_seq, 0)
			FROM events WHERE inserted_at >= $1 AND inserted_at < $2`, r.Since, until)
		if err != nil {
			return err
		}
		var (
			times           []time.Time
			ids             []string
			logTxs, seqs    []int64
			source, typ, id string
			at              time.Time
			logTx, seq      int64
		)
		_, err = pgx.ForEachRow(rows, []any{&at, &id, &source, &typ, &logTx, &seq}, func() error {
			if r.Matches(d, source, typ) {
				times, ids, logTxs, seqs = append(times, at), append(ids, id), append(logTxs, logTx), append(seqs, seq)
			}
			return nil
		})
		if err != nil {
			return err
		}
		n = len(ids)
		_, err = tx.Exec(ctx, `INSERT INTO deliveries (destination_id, event_id, event_inserted_at, log_tx, seq, status, created_at, next_attempt_at, release_tx, release_seq)
			SELECT $1, i, t, lt, s, 'pending', $6, $6, $7, 0 FROM unnest($2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[]) u(i, t, lt, s)
			ON CONFLICT (destination_id, event_id) DO UPDATE SET status = 'pending', created_at = excluded.created_at,
			next_attempt_at = excluded.next_attempt_at, release_tx = excluded.release_tx, release_seq = 0, attempts = 0,
			version = deliveries.version + 1`, destinationID, ids, times, logTxs, seqs, now, release)
		return err
	})
	return n, storeError(err)
}

// DeliveryState returns a destination's backlog. See inlet.DeliveryStore.
func (db *DB) DeliveryState(ctx context.Context, destinationID string, now time.Time) (*inlet.DeliveryState, error) {
	var st *inlet.DeliveryState
	// One snapshot, so that the cursor and the rows agree.
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		d, err := db.findDestination(ctx, tx, destinationID, "")
		if err != nil {
			return err
		}
		c, err := readCursor(ctx, tx, destinationID)
		if err != nil {
			return err
		}
		f := inlet.BacklogFacts{Cursor: *c, Rows: map[string]int{}, OldestRow: map[string]time.Time{}}
		rows, err := tx.Query(ctx, `SELECT status, count(*), min(created_at) FROM deliveries WHERE destination_id = $1 GROUP BY status`, destinationID)
		if err != nil {
			return err
		}
		var (
			status string
			n      int
			oldest time.Time
		)
		if _, err := pgx.ForEachRow(rows, []any{&status, &n, &oldest}, func() error {
			f.Rows[status], f.OldestRow[status] = n, oldest.UTC()
			return nil
		}); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(attempts), 0)::bigint, coalesce(sum(failures), 0)::bigint FROM delivery_attempts WHERE destination_id = $1 AND minute BETWEEN $2 AND $3`,
			destinationID, inlet.FirstAttemptMinute(now), inlet.AttemptMinute(now)).Scan(&f.Attempts, &f.Failures); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT source_id, type, inserted_at FROM events WHERE (log_tx, log_seq) > (`+xid8("$1")+`, $2) LIMIT $3`,
			c.Position.Tx, c.Position.Seq, inlet.MaxBacklogCount)
		if err != nil {
			return err
		}
		var e inlet.BacklogEvent
		if _, err := pgx.ForEachRow(rows, []any{&e.SourceID, &e.Type, &e.InsertedAt}, func() error {
			f.Backlog = append(f.Backlog, e)
			return nil
		}); err != nil {
			return err
		}
		st = f.State(d, now)
		return nil
	})
	return st, storeError(err)
}

// EventDeliveries returns an event's deliveries. See inlet.DeliveryStore.
func (db *DB) EventDeliveries(ctx context.Context, eventID string) ([]*inlet.EventDelivery, error) {
	var out []*inlet.EventDelivery
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var f inlet.EventFacts
		var logTx, logSeq *int64
		rows, err := tx.Query(ctx, `SELECT log_tx::text::bigint, log_seq, inserted_at, id, type, source_id, session_id, profile_id, properties, context, warnings
			FROM events WHERE id = $1 LIMIT 1`, eventID)
		if err != nil {
			return err
		}
		f.Event, err = pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (*inlet.Event, error) {
			return scanEventWith(row, &logTx, &logSeq)
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return inlet.Errorf(inlet.ENOTFOUND, "event %q not found", eventID)
		} else if err != nil {
			return err
		}
		if logTx != nil && logSeq != nil {
			f.InLog, f.Pos = true, inlet.LogPosition{Tx: *logTx, Seq: *logSeq}
		}
		rows, err = tx.Query(ctx, selectDestination+` ORDER BY id`)
		if err != nil {
			return err
		}
		if f.Destinations, err = pgx.CollectRows(rows, db.scanDestination); err != nil {
			return err
		}
		f.Cursors, f.Rows = map[string]inlet.Cursor{}, map[string]*inlet.Delivery{}
		rows, err = tx.Query(ctx, `SELECT destination_id, position_tx, position_seq, start_tx, start_seq, owner, lease_until, delivered, failing_since FROM delivery_cursors`)
		if err != nil {
			return err
		}
		var id string
		var c inlet.Cursor
		if _, err := pgx.ForEachRow(rows, []any{&id, &c.Position.Tx, &c.Position.Seq, &c.Start.Tx, &c.Start.Seq, &c.Owner, &c.LeaseUntil, &c.Delivered, &c.FailingSince}, func() error {
			f.Cursors[id] = c
			return nil
		}); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT destination_id, `+deliveryColumns+` FROM deliveries WHERE event_id = $1`, eventID)
		if err != nil {
			return err
		}
		_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
			var (
				d  inlet.Delivery
				at time.Time
				lg []byte
			)
			if err := row.Scan(&d.DestinationID, &d.EventID, &at, &d.Pos.Tx, &d.Pos.Seq, &d.Status, &d.Attempts, &d.CreatedAt, &d.NextAttemptAt, &d.LastError, &lg, &d.Version); err != nil {
				return struct{}{}, err
			}
			d.CreatedAt, d.NextAttemptAt = d.CreatedAt.UTC(), d.NextAttemptAt.UTC()
			if err := json.Unmarshal(lg, &d.Log); err != nil {
				return struct{}{}, err
			}
			f.Rows[d.DestinationID] = &d
			return struct{}{}, nil
		})
		if err != nil {
			return err
		}
		out = f.Deliveries()
		return nil
	})
	return out, storeError(err)
}
