package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
	now := db.now().UTC().Truncate(time.Microsecond)
	filter, retry, err := destinationJSON(d)
	if err != nil {
		return err
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO destinations (id, name, type, enabled, filter, config, retry, ordered, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
		d.ID, d.Name, d.Type, d.Enabled, filter, string(d.Config), retry, d.Ordered, now)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return inlet.Errorf(inlet.ECONFLICT, "a destination with id %q exists already", d.ID)
	} else if err != nil {
		return storeError(err)
	}
	d.CreatedAt, d.UpdatedAt = now, now
	return nil
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
	return findDestination(ctx, db.pool, id, "")
}

func findDestination(ctx context.Context, q querier, id, suffix string) (*inlet.Destination, error) {
	rows, err := q.Query(ctx, selectDestination+` WHERE id = $1`+suffix, id)
	if err != nil {
		return nil, storeError(err)
	}
	d, err := pgx.CollectExactlyOneRow(rows, scanDestination)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "destination %q not found", id)
	}
	return d, storeError(err)
}

func scanDestination(row pgx.CollectableRow) (*inlet.Destination, error) {
	var (
		d                     inlet.Destination
		filter, config, retry []byte
	)
	if err := row.Scan(&d.ID, &d.Name, &d.Type, &d.Enabled, &filter, &config, &retry, &d.Ordered, &d.CreatedAt, &d.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(filter, &d.Filter); err != nil {
		return nil, fmt.Errorf("destination %s: filter: %w", d.ID, err)
	}
	if err := json.Unmarshal(retry, &d.Retry); err != nil {
		return nil, fmt.Errorf("destination %s: retry: %w", d.ID, err)
	}
	d.Config = json.RawMessage(config)
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
	items, err := pgx.CollectRows(rows, scanDestination)
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
func (db *DB) UpdateDestination(ctx context.Context, id string, u inlet.DestinationUpdate) (*inlet.Destination, error) {
	var out *inlet.Destination
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		d, err := findDestination(ctx, tx, id, " FOR UPDATE")
		if err != nil {
			return err
		}
		u.Apply(d)
		d.Retry = d.Retry.WithDefaults()
		if err := d.Validate(); err != nil {
			return err
		}
		d.UpdatedAt = db.now().UTC().Truncate(time.Microsecond)
		filter, retry, err := destinationJSON(d)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE destinations SET name = $1, enabled = $2, filter = $3, config = $4, retry = $5, ordered = $6, updated_at = $7 WHERE id = $8`,
			d.Name, d.Enabled, filter, string(d.Config), retry, d.Ordered, d.UpdatedAt, id)
		out = d
		return err
	})
	return out, storeError(err)
}

// DeleteDestination removes a destination and its deliveries. See
// inlet.DestinationStore.
func (db *DB) DeleteDestination(ctx context.Context, id string) error {
	return storeError(pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM destinations WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return inlet.Errorf(inlet.ENOTFOUND, "destination %q not found", id)
		}
		_, err = tx.Exec(ctx, `DELETE FROM deliveries WHERE destination_id = $1`, id)
		return err
	}))
}

// FanOut moves outbox entries to deliveries; nodes take disjoint entries.
// See inlet.DeliveryStore.
func (db *DB) FanOut(ctx context.Context, limit int, now time.Time) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT seq, event_id, inserted_at, source_id, type FROM outbox ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
		if err != nil {
			return err
		}
		type entry struct {
			inlet.OutboxEntry
			seq int64
		}
		entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (entry, error) {
			var e entry
			err := row.Scan(&e.seq, &e.EventID, &e.InsertedAt, &e.SourceID, &e.Type)
			return e, err
		})
		if err != nil || len(entries) == 0 {
			return err
		}
		drows, err := tx.Query(ctx, selectDestination)
		if err != nil {
			return err
		}
		dests, err := pgx.CollectRows(drows, scanDestination)
		if err != nil {
			return err
		}
		var dst, ids []string
		var times []time.Time
		var seqs []int64
		taken := make([]int64, len(entries))
		for i, e := range entries {
			taken[i] = e.seq
			for _, d := range e.Targets(dests) {
				dst, ids, times, seqs = append(dst, d.ID), append(ids, e.EventID), append(times, e.InsertedAt), append(seqs, e.seq)
			}
		}
		if len(dst) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO deliveries (destination_id, event_id, event_inserted_at, seq, status, created_at, next_attempt_at)
				SELECT d, e, t, s, 'pending', $5, $5 FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[]) u(d, e, t, s)
				ON CONFLICT DO NOTHING`, dst, ids, times, seqs, now); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE seq = ANY($1)`, taken); err != nil {
			return err
		}
		n = len(entries)
		return nil
	})
	return n, storeError(err)
}

const deliveryColumns = `d.event_id, d.event_inserted_at, d.seq, d.status, d.attempts, d.created_at, d.next_attempt_at, d.last_error, d.log`

type deliveryRow struct {
	d   *inlet.Delivery
	at  time.Time
	seq int64
}

func scanDeliveries(rows pgx.Rows, destinationID string) ([]deliveryRow, error) {
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (deliveryRow, error) {
		r := deliveryRow{d: &inlet.Delivery{DestinationID: destinationID}}
		var log []byte
		if err := row.Scan(&r.d.EventID, &r.at, &r.seq, &r.d.Status, &r.d.Attempts, &r.d.CreatedAt, &r.d.NextAttemptAt, &r.d.LastError, &log); err != nil {
			return r, err
		}
		r.d.CreatedAt, r.d.NextAttemptAt = r.d.CreatedAt.UTC(), r.d.NextAttemptAt.UTC()
		if err := json.Unmarshal(log, &r.d.Log); err != nil {
			return r, fmt.Errorf("delivery %s/%s: log: %w", destinationID, r.d.EventID, err)
		}
		return r, nil
	})
	slices.SortFunc(out, func(a, b deliveryRow) int { return int(a.seq - b.seq) })
	return out, err
}

// ClaimDeliveries leases due deliveries, skipping those another node is
// claiming. See inlet.DeliveryStore.
func (db *DB) ClaimDeliveries(ctx context.Context, destinationID, owner string, limit int, now time.Time, lease time.Duration) ([]*inlet.Delivery, error) {
	d, err := db.FindDestination(ctx, destinationID)
	if err != nil {
		return nil, err
	}
	candidates := `SELECT destination_id, event_id FROM deliveries WHERE destination_id = $1 AND status IN ('pending', 'failed')
		AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $2) ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED`
	if d.Ordered {
		// The head is waited for, never skipped: skipping it would send
		// the event after it first.
		candidates = `SELECT destination_id, event_id FROM (SELECT destination_id, event_id, next_attempt_at, lease_until FROM deliveries
			WHERE destination_id = $1 AND status IN ('pending', 'failed') ORDER BY seq LIMIT 1 FOR UPDATE) h
			WHERE next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $2) AND $3 > 0`
	}
	var claimed []deliveryRow
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `WITH c AS (`+candidates+`)
			UPDATE deliveries d SET lease_owner = $4, lease_until = $5 FROM c
			WHERE d.destination_id = c.destination_id AND d.event_id = c.event_id RETURNING `+deliveryColumns,
			destinationID, now, limit, owner, now.Add(lease))
		if err != nil {
			return err
		}
		claimed, err = scanDeliveries(rows, destinationID)
		return err
	})
	if err != nil || len(claimed) == 0 {
		return nil, storeError(err)
	}
	ids, times := make([]string, len(claimed)), make([]time.Time, len(claimed))
	for i, r := range claimed {
		ids[i], times[i] = r.d.EventID, r.at
	}
	rows, err := db.pool.Query(ctx, `SELECT e.inserted_at, e.id, e.type, e.source_id, e.session_id, e.profile_id, e.properties, e.context, e.warnings
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
	out := make([]*inlet.Delivery, len(claimed))
	for i, r := range claimed {
		r.d.Event = byID[r.d.EventID]
		out[i] = r.d
	}
	return out, nil
}

// CompleteDeliveries records outcomes in one statement. See
// inlet.DeliveryStore.
func (db *DB) CompleteDeliveries(ctx context.Context, destinationID, owner string, outcomes []inlet.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	ids, statuses, errs, logs := make([]string, len(outcomes)), make([]string, len(outcomes)), make([]string, len(outcomes)), make([]string, len(outcomes))
	nexts := make([]time.Time, len(outcomes))
	for i, o := range outcomes {
		log, err := json.Marshal(o.Log)
		if err != nil {
			return err
		}
		ids[i], statuses[i], nexts[i], logs[i] = o.EventID, o.Status, o.NextAttemptAt, string(log)
		if n := len(o.Log); n > 0 {
			errs[i] = o.Log[n-1].Error
		}
	}
	_, err := db.pool.Exec(ctx, `UPDATE deliveries d SET status = u.status, attempts = d.attempts + 1, next_attempt_at = u.next,
		last_error = u.err, log = u.log::json, lease_owner = NULL, lease_until = NULL
		FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[]) u(event_id, status, next, err, log)
		WHERE d.destination_id = $6 AND d.event_id = u.event_id AND d.lease_owner = $7`,
		ids, statuses, nexts, errs, logs, destinationID, owner)
	return storeError(err)
}

// ListDeliveries returns a page of deliveries. See inlet.DeliveryStore.
func (db *DB) ListDeliveries(ctx context.Context, destinationID string, f inlet.DeliveryFilter) (*inlet.DeliveryPage, error) {
	if _, err := db.FindDestination(ctx, destinationID); err != nil {
		return nil, err
	}
	status, err := inlet.ParseDeliveryStatus(f.Status)
	if err != nil {
		return nil, err
	}
	limit := (&inlet.EventFilter{Limit: f.Limit}).PageLimit()
	after := int64(-1)
	if f.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		if err == nil && len(b) > 1 && b[0] == 'd' {
			after, err = strconv.ParseInt(string(b[1:]), 10, 64)
		}
		if err != nil || len(b) < 2 || b[0] != 'd' {
			return nil, inlet.Reasonf(inlet.EINVALID, "bad_cursor", "cursor is not one this server gave out")
		}
	}
	rows, err := db.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries d WHERE destination_id = $1 AND seq > $2 AND ($3 = '' OR status = $3) ORDER BY seq LIMIT $4`,
		destinationID, after, status, limit+1)
	if err != nil {
		return nil, storeError(err)
	}
	all, err := scanDeliveries(rows, destinationID)
	if err != nil {
		return nil, storeError(err)
	}
	page := &inlet.DeliveryPage{Items: make([]*inlet.Delivery, 0, len(all))}
	for i, r := range all {
		if i == limit {
			next := base64.RawURLEncoding.EncodeToString([]byte("d" + strconv.FormatInt(all[i-1].seq, 10)))
			page.Next = &next
			break
		}
		page.Items = append(page.Items, r.d)
	}
	return page, nil
}

// RetryDeliveries makes deliveries due again. See inlet.DeliveryStore.
func (db *DB) RetryDeliveries(ctx context.Context, destinationID string, eventIDs []string, status string, now time.Time) (int, error) {
	if _, err := db.FindDestination(ctx, destinationID); err != nil {
		return 0, err
	}
	// The lease goes too: an attempt in flight records nothing, and the
	// delivery is sent again.
	query := `UPDATE deliveries SET status = 'pending', next_attempt_at = $1, created_at = $1, lease_owner = NULL, lease_until = NULL WHERE destination_id = $2`
	var arg any
	switch {
	case len(eventIDs) > 0:
		query += ` AND status <> 'pending' AND event_id = ANY($3)`
		arg = eventIDs
	case status == inlet.DeliveryFailed || status == inlet.DeliveryDead || status == inlet.DeliveryDelivered:
		query += ` AND status = $3`
		arg = status
	default:
		return 0, inlet.Errorf(inlet.EINVALID, "name the deliveries to retry by event_ids, or by status %q, %q or %q", inlet.DeliveryFailed, inlet.DeliveryDead, inlet.DeliveryDelivered)
	}
	tag, err := db.pool.Exec(ctx, query, now, destinationID, arg)
	if err != nil {
		return 0, storeError(err)
	}
	return int(tag.RowsAffected()), nil
}

// DiscardDeliveries gives deliveries up. See inlet.DeliveryStore.
func (db *DB) DiscardDeliveries(ctx context.Context, destinationID string, eventIDs []string, status string) (int, error) {
	if _, err := db.FindDestination(ctx, destinationID); err != nil {
		return 0, err
	}
	query := `DELETE FROM deliveries WHERE destination_id = $1 AND status <> 'delivered'`
	var arg any
	switch {
	case len(eventIDs) > 0:
		query += ` AND event_id = ANY($2)`
		arg = eventIDs
	case status == inlet.DeliveryDead || status == inlet.DeliveryFailed || status == inlet.DeliveryPending:
		query += ` AND status = $2`
		arg = status
	default:
		return 0, inlet.Errorf(inlet.EINVALID, "name the deliveries to discard by event_ids, or by status %q, %q or %q", inlet.DeliveryDead, inlet.DeliveryFailed, inlet.DeliveryPending)
	}
	tag, err := db.pool.Exec(ctx, query, destinationID, arg)
	if err != nil {
		return 0, storeError(err)
	}
	return int(tag.RowsAffected()), nil
}

// replayPage is how many events a replay reads at a time.
const replayPage = 5000

// ReplayDeliveries delivers stored events again, in (inserted_at, id)
// order, with new seqs after every delivery due. See inlet.DeliveryStore.
func (db *DB) ReplayDeliveries(ctx context.Context, destinationID string, r inlet.Replay, now time.Time) (int, error) {
	d, err := db.FindDestination(ctx, destinationID)
	if err != nil {
		return 0, err
	}
	until := r.Until
	if until.IsZero() {
		until = now
	}
	replay := inlet.DestinationFilter{Sources: r.Sources, Types: r.Types}
	n := 0
	type event struct {
		at              time.Time
		id, source, typ string
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		first, afterT, afterID := true, time.Time{}, ""
		for {
			rows, err := tx.Query(ctx, `SELECT inserted_at, id, source_id, type FROM events WHERE inserted_at >= $1 AND inserted_at < $2
				AND ($3 OR (inserted_at, id) > ($4, $5)) ORDER BY inserted_at, id LIMIT $6`, r.Since, until, first, afterT, afterID, replayPage)
			if err != nil {
				return err
			}
			events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (event, error) {
				var e event
				err := row.Scan(&e.at, &e.id, &e.source, &e.typ)
				return e, err
			})
			if err != nil {
				return err
			}
			var ids []string
			var times []time.Time
			for _, e := range events {
				if d.Filter.Match(e.source, e.typ) && replay.Match(e.source, e.typ) {
					ids, times = append(ids, e.id), append(times, e.at)
				}
			}
			if len(ids) > 0 {
				// nextval runs after the sort: seqs follow the events' order.
				if _, err := tx.Exec(ctx, `INSERT INTO deliveries (destination_id, event_id, event_inserted_at, seq, status, created_at, next_attempt_at)
					SELECT $1, u.id, u.t, nextval('delivery_seq'), 'pending', $4, $4 FROM unnest($2::text[], $3::timestamptz[]) WITH ORDINALITY u(id, t, n) ORDER BY u.n
					ON CONFLICT (destination_id, event_id) DO UPDATE SET seq = excluded.seq, status = 'pending', created_at = excluded.created_at,
					next_attempt_at = excluded.next_attempt_at, attempts = 0, lease_owner = NULL, lease_until = NULL`, destinationID, ids, times, now); err != nil {
					return err
				}
				n += len(ids)
			}
			if len(events) < replayPage {
				return nil
			}
			last := events[len(events)-1]
			first, afterT, afterID = false, last.at, last.id
		}
	})
	return n, storeError(err)
}

// DeliveryState returns a destination's backlog. See inlet.DeliveryStore.
func (db *DB) DeliveryState(ctx context.Context, destinationID string, now time.Time) (*inlet.DeliveryState, error) {
	if _, err := db.FindDestination(ctx, destinationID); err != nil {
		return nil, err
	}
	st := &inlet.DeliveryState{}
	var oldest *time.Time
	err := db.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'failed'),
		count(*) FILTER (WHERE status = 'dead'), count(*) FILTER (WHERE status = 'delivered'),
		min(created_at) FILTER (WHERE status IN ('pending', 'failed')) FROM deliveries WHERE destination_id = $1`, destinationID).
		Scan(&st.Pending, &st.Failed, &st.Dead, &st.Delivered, &oldest)
	if err != nil {
		return nil, storeError(err)
	}
	if oldest != nil {
		t := oldest.UTC()
		st.Oldest = &t
		st.LagSeconds = max(now.Sub(t).Seconds(), 0)
	}
	return st, nil
}
