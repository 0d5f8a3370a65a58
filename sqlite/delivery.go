package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"inlet"
)

var _ inlet.DeliveryStore = (*DB)(nil)

// On SQLite the one writer commits in seq order, so a seq is a log
// position (Tx 0) and the log's head is max(seq).

// TakeCursor leases a destination's cursor. See inlet.DeliveryStore.
func (db *DB) TakeCursor(ctx context.Context, destinationID, owner string, now time.Time, lease time.Duration) (*inlet.Cursor, error) {
	c, err := readCursor(ctx, db.read, destinationID)
	if err != nil {
		return nil, err
	}
	if c.Owner == owner || c.Owner == "" || !c.LeaseUntil.After(now) {
		// Read from a reader first: a cursor another owner holds is seen
		// without taking the write lock from intake.
		res, err := db.write.ExecContext(ctx, `UPDATE delivery_cursors SET owner = ?, lease_until = ?
			WHERE destination_id = ? AND (owner = ? OR owner = '' OR lease_until <= ?)`,
			owner, now.Add(lease).UnixNano(), destinationID, owner, now.UnixNano())
		if err != nil {
			return nil, storeError(err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			c, err := readCursor(ctx, db.write, destinationID)
			return c, err
		}
	}
	return nil, inlet.Errorf(inlet.ECONFLICT, "destination %q is delivered by %s until %s", destinationID, c.Owner, inlet.FormatTime(c.LeaseUntil))
}

func readCursor(ctx context.Context, q rowQuerier, destinationID string) (*inlet.Cursor, error) {
	var (
		c                    inlet.Cursor
		leaseUntil           int64
		failingSince         sql.NullInt64
		position, start, got int64
	)
	err := q.QueryRowContext(ctx, `SELECT position, start, owner, lease_until, delivered, failing_since FROM delivery_cursors WHERE destination_id = ?`, destinationID).
		Scan(&position, &start, &c.Owner, &leaseUntil, &got, &failingSince)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "destination %q not found", destinationID)
	} else if err != nil {
		return nil, storeError(err)
	}
	c.Position, c.Start, c.Delivered = inlet.LogPosition{Seq: position}, inlet.LogPosition{Seq: start}, got
	c.LeaseUntil = time.Unix(0, leaseUntil).UTC()
	if failingSince.Valid {
		t := time.Unix(0, failingSince.Int64).UTC()
		c.FailingSince = &t
	}
	return &c, nil
}

type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ReleaseCursor ends a lease. See inlet.DeliveryStore.
func (db *DB) ReleaseCursor(ctx context.Context, destinationID, owner string) error {
	_, err := db.write.ExecContext(ctx, `UPDATE delivery_cursors SET owner = '', lease_until = 0 WHERE destination_id = ? AND owner = ?`, destinationID, owner)
	return storeError(err)
}

const readLogQuery = selectEvent + ` WHERE seq > ? AND imported IS NULL ORDER BY seq LIMIT ?`

// ReadLog reads committed events after a position. See inlet.DeliveryStore.
func (db *DB) ReadLog(ctx context.Context, after inlet.LogPosition, limit int) (*inlet.LogRead, error) {
	rows, err := db.readLog.QueryContext(ctx, after.Seq, limit)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	r := &inlet.LogRead{Head: after}
	for rows.Next() {
		e, seq, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		pos := inlet.LogPosition{Seq: seq}
		r.Events = append(r.Events, inlet.LogEvent{Pos: pos, Event: e})
		r.Head = pos
	}
	return r, storeError(rows.Err())
}

// LogHead returns the log's head. See inlet.DeliveryStore.
func (db *DB) LogHead(ctx context.Context) (inlet.LogPosition, error) {
	// The one writer makes max(seq) the head, as for a new destination.
	var h int64
	err := db.read.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM events`).Scan(&h)
	return inlet.LogPosition{Seq: h}, storeError(err)
}

const deliveryColumns = `event_id, seq, status, attempts, created_at, next_attempt_at, last_error, log, version`

const dueRowsQuery = `SELECT ` + deliveryColumns + ` FROM deliveries WHERE destination_id = ? AND status IN ('pending', 'failed')
	AND next_attempt_at <= ? AND release <= ? ORDER BY seq LIMIT ?`

// DueDeliveries returns the rows to attempt next. See inlet.DeliveryStore.
func (db *DB) DueDeliveries(ctx context.Context, destinationID string, f inlet.DueFilter) ([]*inlet.Delivery, error) {
	var rows *sql.Rows
	var err error
	if f.Ordered {
		rows, err = db.read.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE destination_id = ? AND status IN ('pending', 'failed')
			AND release <= ? ORDER BY seq LIMIT 1`, destinationID, f.Released.Seq)
	} else {
		rows, err = db.dueRows.QueryContext(ctx, destinationID, f.Now.UnixNano(), f.Released.Seq, f.Limit)
	}
	if err != nil {
		return nil, storeError(err)
	}
	ds, err := scanDeliveries(rows, destinationID)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	return ds, db.attachEvents(ctx, ds)
}

// attachEvents reads the events of deliveries.
func (db *DB) attachEvents(ctx context.Context, ds []*inlet.Delivery) error {
	args := make([]any, len(ds))
	for i, d := range ds {
		args[i] = d.Pos.Seq
	}
	rows, err := db.read.QueryContext(ctx, selectEvent+` WHERE seq IN (`+placeholders(len(args))+`)`, args...)
	if err != nil {
		return storeError(err)
	}
	defer rows.Close()
	bySeq := make(map[int64]*inlet.Event, len(ds))
	for rows.Next() {
		e, seq, err := scanEvent(rows)
		if err != nil {
			return err
		}
		bySeq[seq] = e
	}
	if err := rows.Err(); err != nil {
		return storeError(err)
	}
	for _, d := range ds {
		if e := bySeq[d.Pos.Seq]; e != nil && e.ID == d.EventID {
			d.Event = e
		}
	}
	return nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// scanDeliveries reads deliveries, in the order of the query.
func scanDeliveries(rows *sql.Rows, destinationID string) ([]*inlet.Delivery, error) {
	defer rows.Close()
	var all []*inlet.Delivery
	for rows.Next() {
		var (
			d             = &inlet.Delivery{DestinationID: destinationID}
			created, next int64
			log           []byte
		)
		if err := rows.Scan(&d.EventID, &d.Pos.Seq, &d.Status, &d.Attempts, &created, &next, &d.LastError, &log, &d.Version); err != nil {
			return nil, storeError(err)
		}
		d.CreatedAt, d.NextAttemptAt = time.Unix(0, created).UTC(), time.Unix(0, next).UTC()
		if err := json.Unmarshal(log, &d.Log); err != nil {
			return nil, fmt.Errorf("delivery %s/%s: log: %w", destinationID, d.EventID, err)
		}
		all = append(all, d)
	}
	return all, storeError(rows.Err())
}

// Settle records what the owner of a cursor settled. See
// inlet.DeliveryStore.
func (db *DB) Settle(ctx context.Context, destinationID, owner string, s inlet.Settlement, now time.Time, lease time.Duration) (*inlet.Cursor, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, storeError(err)
	}
	defer tx.Rollback()
	failing := `failing_since`
	switch {
	case s.Succeeded:
		failing = `NULL`
	case s.Failed:
		failing = `coalesce(failing_since, ?)`
	}
	args := []any{max(s.Position.Seq, 0), s.Delivered, now.Add(lease).UnixNano()}
	if s.Failed && !s.Succeeded {
		args = append(args, now.UnixNano())
	}
	args = append(args, destinationID, owner)
	res, err := tx.ExecContext(ctx, `UPDATE delivery_cursors SET position = max(position, ?), delivered = delivered + ?, lease_until = ?,
		failing_since = `+failing+` WHERE destination_id = ? AND owner = ?`, args...)
	if err != nil {
		return nil, storeError(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, inlet.Errorf(inlet.ECONFLICT, "the cursor of destination %q is no longer %s's", destinationID, owner)
	}
	if len(s.Outcomes) > 0 {
		if err := writeOutcomes(ctx, tx, destinationID, s.Outcomes); err != nil {
			return nil, err
		}
	}
	if s.Attempts > 0 {
		if err := countAttempts(ctx, tx, destinationID, s, now); err != nil {
			return nil, err
		}
	}
	c, err := readCursor(ctx, tx, destinationID)
	if err != nil {
		return nil, err
	}
	return c, storeError(tx.Commit())
}

// countAttempts adds a settlement's attempts and failures to its minute,
// and drops the minutes no failure rate reads any more.
func countAttempts(ctx context.Context, tx *sql.Tx, destinationID string, s inlet.Settlement, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_attempts (destination_id, minute, attempts, failures) VALUES (?, ?, ?, ?)
		ON CONFLICT (destination_id, minute) DO UPDATE SET attempts = attempts + excluded.attempts, failures = failures + excluded.failures`,
		destinationID, inlet.AttemptMinute(now), s.Attempts, s.Failures); err != nil {
		return storeError(err)
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM delivery_attempts WHERE destination_id = ? AND minute < ?`, destinationID, inlet.FirstAttemptMinute(now))
	return storeError(err)
}

// writeOutcomes writes the rows of outcomes: a new row for an event from
// the log (unless it has one, made by a replay), an update of a row whose
// version is still the one read.
func writeOutcomes(ctx context.Context, tx *sql.Tx, destinationID string, outcomes []inlet.Outcome) error {
	insert, err := tx.PrepareContext(ctx, `INSERT INTO deliveries (destination_id, event_id, seq, status, attempts, created_at, next_attempt_at, last_error, log)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (destination_id, event_id) DO NOTHING`)
	if err != nil {
		return storeError(err)
	}
	defer insert.Close()
	update, err := tx.PrepareContext(ctx, `UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, log = ?
		WHERE destination_id = ? AND event_id = ? AND version = ?`)
	if err != nil {
		return storeError(err)
	}
	defer update.Close()
	for _, o := range outcomes {
		log, err := json.Marshal(o.Log)
		if err != nil {
			return err
		}
		lastErr := o.LastError()
		if o.FromLog {
			_, err = insert.ExecContext(ctx, destinationID, o.EventID, o.Pos.Seq, o.Status, o.Attempts, o.CreatedAt.UnixNano(), o.NextAttemptAt.UnixNano(), lastErr, string(log))
		} else {
			_, err = update.ExecContext(ctx, o.Status, o.Attempts, o.NextAttemptAt.UnixNano(), lastErr, string(log), destinationID, o.EventID, o.Version)
		}
		if err != nil {
			return storeError(err)
		}
	}
	return nil
}

// ListDeliveries returns a page of rows. See inlet.DeliveryStore.
func (db *DB) ListDeliveries(ctx context.Context, destinationID string, f inlet.DeliveryFilter) (*inlet.DeliveryPage, error) {
	if _, err := db.findDestination(ctx, db.read, destinationID); err != nil {
		return nil, err
	}
	status, err := inlet.ParseDeliveryStatus(f.Status)
	if err != nil {
		return nil, err
	}
	limit := pageLimit(f.Limit)
	after := int64(-1)
	if f.Cursor != "" {
		if after, err = DecodeCursor(f.Cursor); err != nil {
			return nil, err
		}
	}
	query := `SELECT ` + deliveryColumns + ` FROM deliveries WHERE destination_id = ? AND seq > ?`
	args := []any{destinationID, after}
	if status != "" {
		query += ` AND status = ?`
		args = append(args, status)
	}
	rows, err := db.read.QueryContext(ctx, query+` ORDER BY seq LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, storeError(err)
	}
	ds, err := scanDeliveries(rows, destinationID)
	if err != nil {
		return nil, err
	}
	page := &inlet.DeliveryPage{Items: ds}
	if page.Items == nil {
		page.Items = []*inlet.Delivery{}
	}
	if len(ds) > limit {
		page.Items = ds[:limit]
		next := EncodeCursor(ds[limit-1].Pos.Seq)
		page.Next = &next
	}
	return page, nil
}

// selectRows adds to a query's WHERE the rows named by event ids or, when
// there are none, by status.
func selectRows(query string, args []any, eventIDs []string, status string) (string, []any) {
	if len(eventIDs) > 0 {
		query += ` AND event_id IN (` + placeholders(len(eventIDs)) + `)`
		for _, id := range eventIDs {
			args = append(args, id)
		}
		return query, args
	}
	return query + ` AND status = ?`, append(args, status)
}

// RetryDeliveries makes rows due again. See inlet.DeliveryStore.
func (db *DB) RetryDeliveries(ctx context.Context, destinationID string, eventIDs []string, status string, now time.Time) (_ int, err error) {
	defer db.audit(&ctx, "deliveries.retry", inlet.AuditDestination, destinationID, inlet.DeliveriesDetail(eventIDs, status), &err)()
	if err := inlet.CheckRetry(eventIDs, status); err != nil {
		return 0, err
	}
	if _, err := db.findDestination(ctx, db.read, destinationID); err != nil {
		return 0, err
	}
	query, args := selectRows(`UPDATE deliveries SET status = 'pending', next_attempt_at = ?, created_at = ?, release = 0, version = version + 1
		WHERE destination_id = ? AND status <> 'pending'`, []any{now.UnixNano(), now.UnixNano(), destinationID}, eventIDs, status)
	res, err := db.writeExec(ctx, query, args...)
	if err != nil {
		return 0, storeError(err)
	}
	n, err := res.RowsAffected()
	return int(n), storeError(err)
}

// DiscardDeliveries gives rows up. See inlet.DeliveryStore.
func (db *DB) DiscardDeliveries(ctx context.Context, destinationID string, eventIDs []string, status string) (_ int, err error) {
	defer db.audit(&ctx, "deliveries.discard", inlet.AuditDestination, destinationID, inlet.DeliveriesDetail(eventIDs, status), &err)()
	if err := inlet.CheckDiscard(eventIDs, status); err != nil {
		return 0, err
	}
	if _, err := db.findDestination(ctx, db.read, destinationID); err != nil {
		return 0, err
	}
	query, args := selectRows(`DELETE FROM deliveries WHERE destination_id = ? AND status <> 'delivered'`, []any{destinationID}, eventIDs, status)
	res, err := db.writeExec(ctx, query, args...)
	if err != nil {
		return 0, storeError(err)
	}
	n, err := res.RowsAffected()
	return int(n), storeError(err)
}

// ReplayDeliveries delivers stored events again, behind the log's head.
// See inlet.DeliveryStore.
func (db *DB) ReplayDeliveries(ctx context.Context, destinationID string, r inlet.Replay, now time.Time) (_ int, err error) {
	defer db.audit(&ctx, "deliveries.replay", inlet.AuditDestination, destinationID, r, &err)()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, storeError(err)
	}
	defer tx.Rollback()
	d, err := db.findDestination(ctx, tx, destinationID)
	if err != nil {
		return 0, err
	}
	var head int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM events`).Scan(&head); err != nil {
		return 0, storeError(err)
	}
	until := r.Until
	if until.IsZero() {
		until = now
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, id, source_id, type FROM events WHERE inserted_at >= ? AND inserted_at < ? ORDER BY seq`, r.Since.UnixNano(), until.UnixNano())
	if err != nil {
		return 0, storeError(err)
	}
	var args []any
	n := 0
	for rows.Next() {
		var (
			seq             int64
			id, source, typ string
		)
		if err := rows.Scan(&seq, &id, &source, &typ); err != nil {
			rows.Close()
			return 0, storeError(err)
		}
		if r.Matches(d, source, typ) {
			args = append(args, destinationID, id, seq, now.UnixNano(), now.UnixNano(), head)
			n++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, storeError(err)
	}
	for len(args) > 0 {
		k := min(len(args)/6, chunkRows)
		if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries (destination_id, event_id, seq, created_at, next_attempt_at, release, status) VALUES `+
			strings.ReplaceAll(rowsOf(k, 6), "?)", "?, 'pending')")+`
			ON CONFLICT (destination_id, event_id) DO UPDATE SET status = 'pending', created_at = excluded.created_at,
			next_attempt_at = excluded.next_attempt_at, release = excluded.release, attempts = 0, version = version + 1`, args[:6*k]...); err != nil {
			return 0, storeError(err)
		}
		args = args[6*k:]
	}
	if err := db.writeAudit(ctx, tx); err != nil {
		return 0, err
	}
	return n, storeError(tx.Commit())
}

// DeliveryState returns a destination's backlog. See inlet.DeliveryStore.
func (db *DB) DeliveryState(ctx context.Context, destinationID string, now time.Time) (*inlet.DeliveryState, error) {
	// One read transaction, so that the cursor and the rows agree.
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, storeError(err)
	}
	defer tx.Rollback()
	d, err := db.findDestination(ctx, tx, destinationID)
	if err != nil {
		return nil, err
	}
	c, err := readCursor(ctx, tx, destinationID)
	if err != nil {
		return nil, err
	}
	f := inlet.BacklogFacts{Cursor: *c, Rows: map[string]int{}, OldestRow: map[string]time.Time{}}
	rows, err := tx.QueryContext(ctx, `SELECT status, count(*), min(created_at) FROM deliveries WHERE destination_id = ? GROUP BY status`, destinationID)
	if err != nil {
		return nil, storeError(err)
	}
	for rows.Next() {
		var (
			status string
			n      int
			oldest int64
		)
		if err := rows.Scan(&status, &n, &oldest); err != nil {
			rows.Close()
			return nil, storeError(err)
		}
		f.Rows[status], f.OldestRow[status] = n, time.Unix(0, oldest).UTC()
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, storeError(err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(attempts), 0), coalesce(sum(failures), 0) FROM delivery_attempts WHERE destination_id = ? AND minute BETWEEN ? AND ?`,
		destinationID, inlet.FirstAttemptMinute(now), inlet.AttemptMinute(now)).Scan(&f.Attempts, &f.Failures); err != nil {
		return nil, storeError(err)
	}
	rows, err = tx.QueryContext(ctx, `SELECT source_id, type, inserted_at FROM events WHERE seq > ? AND imported IS NULL ORDER BY seq LIMIT ?`, c.Position.Seq, inlet.MaxBacklogCount)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e        inlet.BacklogEvent
			inserted int64
		)
		if err := rows.Scan(&e.SourceID, &e.Type, &inserted); err != nil {
			return nil, storeError(err)
		}
		e.InsertedAt = time.Unix(0, inserted).UTC()
		f.Backlog = append(f.Backlog, e)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError(err)
	}
	return f.State(d, now), nil
}

// EventDeliveries returns an event's deliveries. See inlet.DeliveryStore.
func (db *DB) EventDeliveries(ctx context.Context, eventID string) ([]*inlet.EventDelivery, error) {
	// One read transaction, so that the cursors and the rows agree.
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, storeError(err)
	}
	defer tx.Rollback()
	var f inlet.EventFacts
	var seq int64
	if err := tx.QueryRowContext(ctx, `SELECT seq, imported IS NULL FROM events WHERE id = ?`, eventID).Scan(&seq, &f.InLog); errors.Is(err, sql.ErrNoRows) {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "event %q not found", eventID)
	} else if err != nil {
		return nil, storeError(err)
	}
	f.Pos = inlet.LogPosition{Seq: seq}
	rows, err := tx.QueryContext(ctx, selectEvent+` WHERE seq = ?`, seq)
	if err != nil {
		return nil, storeError(err)
	}
	for rows.Next() {
		if f.Event, _, err = scanEvent(rows); err != nil {
			rows.Close()
			return nil, err
		}
	}
	rows.Close()
	if f.Event == nil {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "event %q not found", eventID)
	}
	if f.Destinations, err = db.allDestinations(ctx, tx); err != nil {
		return nil, err
	}
	f.Cursors, f.Rows = map[string]inlet.Cursor{}, map[string]*inlet.Delivery{}
	for _, d := range f.Destinations {
		c, err := readCursor(ctx, tx, d.ID)
		if err != nil {
			return nil, err
		}
		f.Cursors[d.ID] = *c
	}
	rows, err = tx.QueryContext(ctx, `SELECT destination_id, `+deliveryColumns+` FROM deliveries WHERE event_id = ?`, eventID)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			d             inlet.Delivery
			created, next int64
			log           []byte
		)
		if err := rows.Scan(&d.DestinationID, &d.EventID, &d.Pos.Seq, &d.Status, &d.Attempts, &created, &next, &d.LastError, &log, &d.Version); err != nil {
			return nil, storeError(err)
		}
		d.CreatedAt, d.NextAttemptAt = time.Unix(0, created).UTC(), time.Unix(0, next).UTC()
		if err := json.Unmarshal(log, &d.Log); err != nil {
			return nil, fmt.Errorf("delivery %s/%s: log: %w", d.DestinationID, d.EventID, err)
		}
		f.Rows[d.DestinationID] = &d
	}
	if err := rows.Err(); err != nil {
		return nil, storeError(err)
	}
	return f.Deliveries(), nil
}

func (db *DB) allDestinations(ctx context.Context, q querier) ([]*inlet.Destination, error) {
	rows, err := q.QueryContext(ctx, selectDestination+` ORDER BY id`)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	var dests []*inlet.Destination
	for rows.Next() {
		d, err := db.scanDestination(rows)
		if err != nil {
			return nil, err
		}
		dests = append(dests, d)
	}
	return dests, storeError(rows.Err())
}
