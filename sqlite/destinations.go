package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"inlet"
)

var (
	_ inlet.DestinationStore = (*DB)(nil)
	_ inlet.DeliveryStore    = (*DB)(nil)
)

const selectDestination = `SELECT id, name, type, enabled, filter, config, retry, ordered, created_at, updated_at FROM destinations`

// CreateDestination stores a new destination. See inlet.DestinationStore.
func (db *DB) CreateDestination(ctx context.Context, d *inlet.Destination) error {
	d.Retry = d.Retry.WithDefaults()
	if err := d.Validate(); err != nil {
		return err
	}
	// Counted before its creation time is taken: every event inserted
	// from that time on is written with an outbox entry.
	db.destinations.Add(1)
	now := db.now().UTC()
	d.CreatedAt, d.UpdatedAt = now, now
	filter, retry, err := destinationJSON(d)
	if err != nil {
		db.destinations.Add(-1)
		return err
	}
	_, err = db.durableExec(ctx, `INSERT INTO destinations (id, name, type, enabled, filter, config, retry, ordered, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.Name, d.Type, d.Enabled, filter, string(d.Config), retry, d.Ordered, now.UnixNano(), now.UnixNano())
	if err != nil {
		db.destinations.Add(-1)
	}
	if isUnique(err) {
		return inlet.Errorf(inlet.ECONFLICT, "a destination with id %q exists already", d.ID)
	}
	return storeError(err)
}

func destinationJSON(d *inlet.Destination) (filter, retry string, err error) {
	f, err := json.Marshal(&d.Filter)
	if err != nil {
		return "", "", err
	}
	r, err := json.Marshal(&d.Retry)
	return string(f), string(r), err
}

// FindDestination returns one destination. See inlet.DestinationStore.
func (db *DB) FindDestination(ctx context.Context, id string) (*inlet.Destination, error) {
	return findDestination(ctx, db.read, id)
}

func findDestination(ctx context.Context, q querier, id string) (*inlet.Destination, error) {
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
	return scanDestination(rows)
}

func scanDestination(rows *sql.Rows) (*inlet.Destination, error) {
	var (
		d                     inlet.Destination
		filter, config, retry []byte
		created, updated      int64
	)
	if err := rows.Scan(&d.ID, &d.Name, &d.Type, &d.Enabled, &filter, &config, &retry, &d.Ordered, &created, &updated); err != nil {
		return nil, storeError(err)
	}
	if err := json.Unmarshal(filter, &d.Filter); err != nil {
		return nil, fmt.Errorf("destination %s: filter: %w", d.ID, err)
	}
	if err := json.Unmarshal(retry, &d.Retry); err != nil {
		return nil, fmt.Errorf("destination %s: retry: %w", d.ID, err)
	}
	d.Config = json.RawMessage(config)
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
		d, err := scanDestination(rows)
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
func (db *DB) UpdateDestination(ctx context.Context, id string, u inlet.DestinationUpdate) (*inlet.Destination, error) {
	tx, err := db.durableTx(ctx)
	if err != nil {
		return nil, storeError(err)
	}
	defer tx.Rollback()
	d, err := findDestination(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	u.Apply(d)
	d.Retry = d.Retry.WithDefaults()
	if err := d.Validate(); err != nil {
		return nil, err
	}
	d.UpdatedAt = db.now().UTC()
	filter, retry, err := destinationJSON(d)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE destinations SET name = ?, enabled = ?, filter = ?, config = ?, retry = ?, ordered = ?, updated_at = ? WHERE id = ?`,
		d.Name, d.Enabled, filter, string(d.Config), retry, d.Ordered, d.UpdatedAt.UnixNano(), id); err != nil {
		return nil, storeError(err)
	}
	return d, storeError(tx.Commit())
}

// DeleteDestination removes a destination and its deliveries. See
// inlet.DestinationStore.
func (db *DB) DeleteDestination(ctx context.Context, id string) error {
	tx, err := db.durableTx(ctx)
	if err != nil {
		return storeError(err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM destinations WHERE id = ?`, id)
	if err != nil {
		return storeError(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return storeError(err)
	} else if n == 0 {
		return inlet.Errorf(inlet.ENOTFOUND, "destination %q not found", id)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE destination_id = ?`, id); err != nil {
		return storeError(err)
	}
	if err := tx.Commit(); err != nil {
		return storeError(err)
	}
	db.destinations.Add(-1)
	return nil
}

// enqueue adds the outbox entries of the events that Append has just
// inserted in tx: the last len(stored) seqs, as the one writer gives
// consecutive seqs within a transaction.
func enqueue(ctx context.Context, tx *sql.Tx, stored []*inlet.Event) error {
	n := len(stored)
	if n == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox (seq) SELECT seq FROM events ORDER BY seq DESC LIMIT ?`, n)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// FanOut moves outbox entries to deliveries. See inlet.DeliveryStore.
func (db *DB) FanOut(ctx context.Context, limit int, now time.Time) (int, error) {
	// An empty outbox is seen from a reader, without taking the write
	// lock from intake.
	if empty, err := db.none(ctx, `SELECT 1 FROM outbox LIMIT 1`); err != nil || empty {
		return 0, err
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, storeError(err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT o.seq, e.id, e.source_id, e.type, e.inserted_at FROM outbox o LEFT JOIN events e ON e.seq = o.seq ORDER BY o.seq LIMIT ?`, limit)
	if err != nil {
		return 0, storeError(err)
	}
	type entry struct {
		inlet.OutboxEntry
		seq int64
	}
	var entries []entry
	for rows.Next() {
		var (
			e        entry
			id, src  sql.NullString
			typ      sql.NullString
			inserted sql.NullInt64
		)
		if err := rows.Scan(&e.seq, &id, &src, &typ, &inserted); err != nil {
			rows.Close()
			return 0, storeError(err)
		}
		e.EventID, e.SourceID, e.Type, e.InsertedAt = id.String, src.String, typ.String, time.Unix(0, inserted.Int64)
		entries = append(entries, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, storeError(err)
	}
	if len(entries) == 0 {
		return 0, nil
	}
	dests, err := allDestinations(ctx, tx)
	if err != nil {
		return 0, err
	}
	var args []any
	flush := func() error {
		for len(args) > 0 {
			n := chunkSize(len(args) / 6)
			if _, err := tx.StmtContext(ctx, db.insertDeliveries[n]).ExecContext(ctx, args[:6*n]...); err != nil {
				return err
			}
			args = args[6*n:]
		}
		return nil
	}
	for _, e := range entries {
		if e.EventID == "" { // deleted before it was fanned out
			continue
		}
		for _, d := range e.Targets(dests) {
			args = append(args, d.ID, e.EventID, e.seq, inlet.DeliveryPending, now.UnixNano(), now.UnixNano())
			if len(args) >= 6*chunkRows {
				if err := flush(); err != nil {
					return 0, storeError(err)
				}
			}
		}
	}
	if err := flush(); err != nil {
		return 0, storeError(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE seq <= ?`, entries[len(entries)-1].seq); err != nil {
		return 0, storeError(err)
	}
	return len(entries), storeError(tx.Commit())
}

func allDestinations(ctx context.Context, q querier) ([]*inlet.Destination, error) {
	rows, err := q.QueryContext(ctx, selectDestination)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	var dests []*inlet.Destination
	for rows.Next() {
		d, err := scanDestination(rows)
		if err != nil {
			return nil, err
		}
		dests = append(dests, d)
	}
	return dests, storeError(rows.Err())
}

const deliveryColumns = `event_id, seq, status, attempts, created_at, next_attempt_at, last_error, log`

// The candidates of a claim come in delivery order from the partial index;
// for an ordered destination, only the first undelivered one, due or not.
// Their parameters: destination, now, now, limit.
const (
	claimUnorderedCandidates = `SELECT event_id FROM deliveries WHERE destination_id = ? AND status IN ('pending', 'failed')
		AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?) ORDER BY seq LIMIT ?`
	claimOrderedCandidates = `SELECT event_id FROM (SELECT event_id, next_attempt_at, lease_until FROM deliveries
		WHERE destination_id = ? AND status IN ('pending', 'failed') ORDER BY seq LIMIT 1)
		WHERE next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?) AND ? > 0`
)

// claimQuery leases the candidates to an owner (owner, until, destination,
// then the candidates' parameters) and returns them.
func claimQuery(candidates string) string {
	return `UPDATE deliveries SET lease_owner = ?, lease_until = ?
		WHERE destination_id = ? AND event_id IN (` + candidates + `) RETURNING ` + deliveryColumns
}

// ClaimDeliveries leases due deliveries. See inlet.DeliveryStore.
func (db *DB) ClaimDeliveries(ctx context.Context, destinationID, owner string, limit int, now time.Time, lease time.Duration) ([]*inlet.Delivery, error) {
	// Nothing due is seen from a reader, without taking the write lock.
	// ORDER BY seq makes SQLite read the index of undelivered rows, not
	// every delivery of the destination.
	if none, err := db.none(ctx, `SELECT 1 FROM deliveries WHERE destination_id = ? AND status IN ('pending', 'failed')
		AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?) ORDER BY seq LIMIT 1`, destinationID, now.UnixNano(), now.UnixNano()); err != nil || none {
		return nil, err
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, storeError(err)
	}
	defer tx.Rollback()
	d, err := findDestination(ctx, tx, destinationID)
	if err != nil {
		return nil, err
	}
	args := []any{owner, now.Add(lease).UnixNano(), destinationID, destinationID, now.UnixNano(), now.UnixNano(), limit}
	claim := db.claimUnordered
	if d.Ordered {
		claim = db.claimOrdered
	}
	rows, err := tx.StmtContext(ctx, claim).QueryContext(ctx, args...)
	if err != nil {
		return nil, storeError(err)
	}
	claimed, seqs, err := scanDeliveries(rows, destinationID)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, storeError(err)
	}
	if len(claimed) == 0 {
		return nil, nil
	}
	return claimed, db.attachEvents(ctx, claimed, seqs)
}

// attachEvents reads the events of claimed deliveries.
func (db *DB) attachEvents(ctx context.Context, ds []*inlet.Delivery, seqs []int64) error {
	placeholders := strings.TrimSuffix(strings.Repeat("?, ", len(seqs)), ", ")
	args := make([]any, len(seqs))
	for i, s := range seqs {
		args[i] = s
	}
	rows, err := db.read.QueryContext(ctx, selectEvent+` WHERE seq IN (`+placeholders+`)`, args...)
	if err != nil {
		return storeError(err)
	}
	defer rows.Close()
	bySeq := make(map[int64]*inlet.Event, len(seqs))
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
	for i, d := range ds {
		if e := bySeq[seqs[i]]; e != nil && e.ID == d.EventID {
			d.Event = e
		}
	}
	return nil
}

// scanDeliveries reads deliveries and sorts them by seq.
func scanDeliveries(rows *sql.Rows, destinationID string) ([]*inlet.Delivery, []int64, error) {
	defer rows.Close()
	type row struct {
		d   *inlet.Delivery
		seq int64
	}
	var all []row
	for rows.Next() {
		var (
			d             = &inlet.Delivery{DestinationID: destinationID}
			seq           int64
			created, next int64
			log           []byte
		)
		if err := rows.Scan(&d.EventID, &seq, &d.Status, &d.Attempts, &created, &next, &d.LastError, &log); err != nil {
			return nil, nil, storeError(err)
		}
		d.CreatedAt, d.NextAttemptAt = time.Unix(0, created).UTC(), time.Unix(0, next).UTC()
		if err := json.Unmarshal(log, &d.Log); err != nil {
			return nil, nil, fmt.Errorf("delivery %s/%s: log: %w", destinationID, d.EventID, err)
		}
		all = append(all, row{d, seq})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, storeError(err)
	}
	slices.SortFunc(all, func(a, b row) int { return int(a.seq - b.seq) })
	ds, seqs := make([]*inlet.Delivery, len(all)), make([]int64, len(all))
	for i, r := range all {
		ds[i], seqs[i] = r.d, r.seq
	}
	return ds, seqs, nil
}

// CompleteDeliveries records outcomes. See inlet.DeliveryStore.
func (db *DB) CompleteDeliveries(ctx context.Context, destinationID, owner string, outcomes []inlet.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return storeError(err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `UPDATE deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ?, log = ?,
		lease_owner = NULL, lease_until = NULL WHERE destination_id = ? AND event_id = ? AND lease_owner = ?`)
	if err != nil {
		return storeError(err)
	}
	defer stmt.Close()
	for _, o := range outcomes {
		log, err := json.Marshal(o.Log)
		if err != nil {
			return err
		}
		lastErr := ""
		if n := len(o.Log); n > 0 {
			lastErr = o.Log[n-1].Error
		}
		if _, err := stmt.ExecContext(ctx, o.Status, o.NextAttemptAt.UnixNano(), lastErr, string(log), destinationID, o.EventID, owner); err != nil {
			return storeError(err)
		}
	}
	return storeError(tx.Commit())
}

// ListDeliveries returns a page of deliveries. See inlet.DeliveryStore.
func (db *DB) ListDeliveries(ctx context.Context, destinationID string, f inlet.DeliveryFilter) (*inlet.DeliveryPage, error) {
	if _, err := findDestination(ctx, db.read, destinationID); err != nil {
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
	ds, seqs, err := scanDeliveries(rows, destinationID)
	if err != nil {
		return nil, err
	}
	page := &inlet.DeliveryPage{Items: ds}
	if len(ds) > limit {
		page.Items = ds[:limit]
		next := EncodeCursor(seqs[limit-1])
		page.Next = &next
	}
	return page, nil
}

// RetryDeliveries makes deliveries due again. See inlet.DeliveryStore.
func (db *DB) RetryDeliveries(ctx context.Context, destinationID string, eventIDs []string, status string, now time.Time) (int, error) {
	if _, err := findDestination(ctx, db.read, destinationID); err != nil {
		return 0, err
	}
	// The lease goes too: an attempt in flight records nothing, and the
	// delivery is sent again.
	query := `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, created_at = ?, lease_owner = NULL, lease_until = NULL WHERE destination_id = ?`
	args := []any{now.UnixNano(), now.UnixNano(), destinationID}
	switch {
	case len(eventIDs) > 0:
		query += ` AND status <> 'pending' AND event_id IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(eventIDs)), ", ") + `)`
		for _, id := range eventIDs {
			args = append(args, id)
		}
	case status == inlet.DeliveryFailed || status == inlet.DeliveryDead || status == inlet.DeliveryDelivered:
		query += ` AND status = ?`
		args = append(args, status)
	default:
		return 0, inlet.Errorf(inlet.EINVALID, "name the deliveries to retry by event_ids, or by status %q, %q or %q", inlet.DeliveryFailed, inlet.DeliveryDead, inlet.DeliveryDelivered)
	}
	res, err := db.write.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, storeError(err)
	}
	n, err := res.RowsAffected()
	return int(n), storeError(err)
}

// DiscardDeliveries gives deliveries up. See inlet.DeliveryStore.
func (db *DB) DiscardDeliveries(ctx context.Context, destinationID string, eventIDs []string, status string) (int, error) {
	if _, err := findDestination(ctx, db.read, destinationID); err != nil {
		return 0, err
	}
	query := `DELETE FROM deliveries WHERE destination_id = ? AND status <> 'delivered'`
	args := []any{destinationID}
	switch {
	case len(eventIDs) > 0:
		query += ` AND event_id IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(eventIDs)), ", ") + `)`
		for _, id := range eventIDs {
			args = append(args, id)
		}
	case status == inlet.DeliveryDead || status == inlet.DeliveryFailed || status == inlet.DeliveryPending:
		query += ` AND status = ?`
		args = append(args, status)
	default:
		return 0, inlet.Errorf(inlet.EINVALID, "name the deliveries to discard by event_ids, or by status %q, %q or %q", inlet.DeliveryDead, inlet.DeliveryFailed, inlet.DeliveryPending)
	}
	res, err := db.write.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, storeError(err)
	}
	n, err := res.RowsAffected()
	return int(n), storeError(err)
}

// ReplayDeliveries delivers stored events again. See inlet.DeliveryStore.
func (db *DB) ReplayDeliveries(ctx context.Context, destinationID string, r inlet.Replay, now time.Time) (int, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, storeError(err)
	}
	defer tx.Rollback()
	d, err := findDestination(ctx, tx, destinationID)
	if err != nil {
		return 0, err
	}
	until := r.Until
	if until.IsZero() {
		until = now
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, id, source_id, type FROM events WHERE inserted_at >= ? AND inserted_at < ? ORDER BY seq`, r.Since.UnixNano(), until.UnixNano())
	if err != nil {
		return 0, storeError(err)
	}
	replay := inlet.Destination{Filter: inlet.DestinationFilter{Sources: r.Sources, Types: r.Types}}
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
		if d.Filter.Match(source, typ) && replay.Filter.Match(source, typ) {
			args = append(args, destinationID, id, seq, inlet.DeliveryPending, now.UnixNano(), now.UnixNano())
			n++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, storeError(err)
	}
	for len(args) > 0 {
		k := min(len(args)/6, chunkRows)
		if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries (destination_id, event_id, seq, status, created_at, next_attempt_at) VALUES `+rowsOf(k, 6)+`
			ON CONFLICT (destination_id, event_id) DO UPDATE SET status = excluded.status, created_at = excluded.created_at,
			next_attempt_at = excluded.next_attempt_at, attempts = 0, lease_owner = NULL, lease_until = NULL`, args[:6*k]...); err != nil {
			return 0, storeError(err)
		}
		args = args[6*k:]
	}
	return n, storeError(tx.Commit())
}

// DeliveryState returns a destination's backlog. See inlet.DeliveryStore.
func (db *DB) DeliveryState(ctx context.Context, destinationID string, now time.Time) (*inlet.DeliveryState, error) {
	if _, err := findDestination(ctx, db.read, destinationID); err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT status, count(*) FROM deliveries WHERE destination_id = ? GROUP BY status`, destinationID)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	st := &inlet.DeliveryState{}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, storeError(err)
		}
		switch status {
		case inlet.DeliveryPending:
			st.Pending = n
		case inlet.DeliveryFailed:
			st.Failed = n
		case inlet.DeliveryDead:
			st.Dead = n
		case inlet.DeliveryDelivered:
			st.Delivered = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, storeError(err)
	}
	var oldest sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT min(created_at) FROM deliveries WHERE destination_id = ? AND status IN ('pending', 'failed')`, destinationID).Scan(&oldest); err != nil {
		return nil, storeError(err)
	}
	if oldest.Valid {
		t := time.Unix(0, oldest.Int64).UTC()
		st.Oldest = &t
		st.LagSeconds = max(now.Sub(t).Seconds(), 0)
	}
	return st, nil
}

// none reports whether a query answers no row, read from the reader pool.
func (db *DB) none(ctx context.Context, query string, args ...any) (bool, error) {
	var one int
	err := db.read.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	return false, storeError(err)
}
