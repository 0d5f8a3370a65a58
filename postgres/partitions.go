package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const daySeconds = 24 * 60 * 60

// day returns the start of t's UTC day in Unix seconds.
func day(t time.Time) int64 {
	s := t.Unix()
	r := s % daySeconds
	if r < 0 {
		r += daySeconds
	}
	return s - r
}

const partitionPrefix = "events_p"

func partitionName(d int64) string {
	return partitionPrefix + time.Unix(d, 0).UTC().Format("20060102")
}

// partitionDay reads the day of a partition name; ok is false for tables
// that do not follow the naming.
func partitionDay(name string) (d int64, ok bool) {
	rest, found := strings.CutPrefix(name, partitionPrefix)
	if !found {
		return 0, false
	}
	t, err := time.Parse("20060102", rest)
	if err != nil {
		return 0, false
	}
	return t.Unix(), true
}

// ensurePartitions creates the partitions of the days not known to exist,
// under an advisory lock so that nodes do not race to create the same one.
// lock_timeout keeps a busy table from stalling the caller for long.
func (db *DB) ensurePartitions(ctx context.Context, days ...int64) error {
	db.mu.Lock()
	var missing []int64
	for _, d := range days {
		if !db.days[d] {
			missing = append(missing, d)
		}
	}
	db.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`, "partitions"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '5s'`); err != nil {
			return err
		}
		for _, d := range missing {
			from, to := time.Unix(d, 0).UTC(), time.Unix(d+daySeconds, 0).UTC()
			// Values are formatted here: DDL takes no parameters.
			_, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF events FOR VALUES FROM ('%s') TO ('%s')`,
				pgx.Identifier{partitionName(d)}.Sanitize(), from.Format(time.RFC3339), to.Format(time.RFC3339)))
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	db.mu.Lock()
	for _, d := range missing {
		db.days[d] = true
	}
	db.mu.Unlock()
	return nil
}

// forgetPartitions drops what the store believes about existing partitions,
// after another node may have dropped some.
func (db *DB) forgetPartitions() {
	db.mu.Lock()
	clear(db.days)
	db.mu.Unlock()
}

// isNoPartition reports whether err says a row fell outside every partition.
func isNoPartition(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23514" && strings.Contains(pgErr.Message, "no partition")
}

// DeleteEventsBefore drops every event partition whose day ends at or
// before t: events older than t go a whole day at a time, so some stay until
// their day has passed. A day with an event of the log that a cursor has
// not passed yet (a destination may still want it), or with a delivery
// not yet delivered (dead ones included: they may be retried), is kept
// whole until it has none. It also creates the partitions of the
// coming days. Sessions and profiles are kept. Returns EUNAVAILABLE.
func (db *DB) DeleteEventsBefore(ctx context.Context, t time.Time) error {
	today := day(db.now())
	if err := db.ensurePartitions(ctx, today, today+daySeconds, today+2*daySeconds); err != nil {
		return storeError(err)
	}
	rows, err := db.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass`)
	if err != nil {
		return storeError(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return storeError(err)
	}
	for _, name := range names {
		d, ok := partitionDay(name)
		if !ok || d+daySeconds > t.Unix() {
			continue
		}
		// Dropping a partition locks the whole table for a moment; waiting
		// for the lock holds up appends queued behind it, so give up
		// early and try again at the next run.
		held := false
		err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '1s'`); err != nil {
				return err
			}
			// Locked first, so that no append adds an event of the day
			// between the check and the drop.
			if _, err := tx.Exec(ctx, `LOCK TABLE `+pgx.Identifier{name}.Sanitize()+` IN ACCESS EXCLUSIVE MODE`); err != nil {
				return err
			}
			from, to := time.Unix(d, 0).UTC(), time.Unix(d+daySeconds, 0).UTC()
			// A day with an event still to deliver is kept whole.
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgx.Identifier{name}.Sanitize()+` e, (SELECT position_tx, position_seq
					FROM delivery_cursors ORDER BY position_tx, position_seq LIMIT 1) c
					WHERE (e.log_tx, e.log_seq) > ((c.position_tx::bigint)::text::xid8, c.position_seq))
				OR EXISTS (SELECT 1 FROM deliveries WHERE event_inserted_at >= $1 AND event_inserted_at < $2 AND status <> 'delivered')`, from, to).Scan(&held); err != nil || held {
				return err
			}
			if _, err := tx.Exec(ctx, `DROP TABLE `+pgx.Identifier{name}.Sanitize()); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `DELETE FROM deliveries WHERE event_inserted_at >= $1 AND event_inserted_at < $2`, from, to)
			return err
		})
		if err != nil {
			return storeError(err)
		}
		if held {
			continue
		}
		db.mu.Lock()
		delete(db.days, d)
		db.mu.Unlock()
	}
	return nil
}

// DeleteSourceEventsBefore deletes one source's events inserted before t,
// a thousand at a time (rows, not partitions: the day holds other
// sources' events); an event that a cursor has not passed, or with a
// delivery not yet delivered, stays. See inlet.Retainer.
func (db *DB) DeleteSourceEventsBefore(ctx context.Context, sourceID string, t time.Time) error {
	for {
		var n int
		if err := db.pool.QueryRow(ctx, `WITH gone AS (
				DELETE FROM events WHERE (inserted_at, id) IN (
					SELECT e.inserted_at, e.id FROM events e WHERE e.source_id = $1 AND e.inserted_at < $2
						AND (e.log_tx IS NULL OR NOT EXISTS (SELECT 1 FROM delivery_cursors c
							WHERE (e.log_tx, e.log_seq) > ((c.position_tx::bigint)::text::xid8, c.position_seq)))
						AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status <> 'delivered')
					LIMIT 1000)
				RETURNING id),
			rows AS (DELETE FROM deliveries WHERE event_id IN (SELECT id FROM gone))
			SELECT count(*) FROM gone`, sourceID, t).Scan(&n); err != nil {
			return storeError(err)
		}
		if n < 1000 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return storeError(err)
		}
	}
}
