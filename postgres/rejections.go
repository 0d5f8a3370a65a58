package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"inlet"
)

var _ inlet.RejectionStore = (*DB)(nil)

// AppendRejections stores samples, adds counts and trims the log, in one
// short transaction committed without waiting for the WAL flush
// (synchronous_commit off): the log is diagnostics, and its commits must
// not add to the disk's queue in front of events' commits. See
// inlet.RejectionStore.
func (db *DB) AppendRejections(ctx context.Context, rs []*inlet.Rejection, counts []inlet.RejectionCount, bounds inlet.RejectionBounds) error {
	if len(rs) == 0 && len(counts) == 0 {
		return nil
	}
	ids := make([]int64, len(rs))
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		b.Queue(`SET LOCAL synchronous_commit = off`)
		for i, r := range rs {
			headers, err := json.Marshal(r.Headers)
			if err != nil {
				return err
			}
			body := r.Body
			if body == nil {
				body = []byte{}
			}
			b.Queue(`INSERT INTO rejections (at, source_id, reason, status, message, method, path, query, remote_addr, headers, body, body_truncated, size)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
				r.At, text(r.SourceID), text(r.Reason), r.Status, text(r.Message), text(r.Method), text(r.Path), text(r.Query),
				text(r.RemoteAddr), headers, body, r.BodyTruncated, r.Size()).QueryRow(func(row pgx.Row) error {
				return row.Scan(&ids[i])
			})
		}
		for _, c := range counts {
			b.Queue(`INSERT INTO rejection_counts (source_id, reason, count, first_at, last_at) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (source_id, reason) DO UPDATE SET
					count = rejection_counts.count + excluded.count,
					first_at = least(rejection_counts.first_at, excluded.first_at),
					last_at = greatest(rejection_counts.last_at, excluded.last_at)`,
				text(c.SourceID), text(c.Reason), c.Count, c.FirstAt, c.LastAt)
		}
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return err
		}
		if len(rs) == 0 {
			return nil
		}
		return trimRejections(ctx, tx, bounds)
	})
	if err != nil {
		return storeError(err)
	}
	for i, r := range rs {
		r.ID = ids[i]
	}
	return nil
}

// CountRejections returns counts of refusals. See inlet.RejectionStore.
func (db *DB) CountRejections(ctx context.Context, f inlet.RejectionFilter) ([]inlet.RejectionCount, error) {
	var where []string
	var args []any
	if f.SourceID != "" {
		args = append(args, f.SourceID)
		where = append(where, "source_id = $"+strconv.Itoa(len(args)))
	}
	if f.Reason != "" {
		args = append(args, f.Reason)
		where = append(where, "reason = $"+strconv.Itoa(len(args)))
	}
	query := `SELECT source_id, reason, count, first_at, last_at FROM rejection_counts`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := db.pool.Query(ctx, query+" ORDER BY source_id, reason", args...)
	if err != nil {
		return nil, storeError(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (inlet.RejectionCount, error) {
		var c inlet.RejectionCount
		err := row.Scan(&c.SourceID, &c.Reason, &c.Count, &c.FirstAt, &c.LastAt)
		c.FirstAt, c.LastAt = c.FirstAt.UTC(), c.LastAt.UTC()
		return c, err
	})
	if err != nil {
		return nil, storeError(err)
	}
	if out == nil {
		out = []inlet.RejectionCount{}
	}
	return out, nil
}

// text makes s storable as PostgreSQL text, which takes neither NUL nor
// invalid UTF-8.
func text(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// trimRejections drops the oldest rejections when the log is over a bound,
// down to nine tenths of it, so that a full log is not trimmed at every
// batch. An advisory lock keeps nodes from trimming at once.
func trimRejections(ctx context.Context, tx pgx.Tx, bounds inlet.RejectionBounds) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`, "rejections"); err != nil {
		return err
	}
	var count, size int64
	if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(sum(size), 0)::bigint FROM rejections`).Scan(&count, &size); err != nil {
		return err
	}
	if count <= int64(bounds.MaxCount) && size <= bounds.MaxBytes {
		return nil
	}
	keepCount, keepBytes := int64(bounds.MaxCount)*9/10, bounds.MaxBytes*9/10
	var cutoff int64
	err := tx.QueryRow(ctx, `
		SELECT id FROM (
			SELECT id, sum(size) OVER (ORDER BY id DESC) AS total, row_number() OVER (ORDER BY id DESC) AS n FROM rejections
		) r WHERE n > $1 OR total > $2 ORDER BY id DESC LIMIT 1`, keepCount, keepBytes).Scan(&cutoff)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `DELETE FROM rejections WHERE id <= $1`, cutoff)
	return err
}

// ListRejections returns rejections, newest first. See inlet.RejectionStore.
func (db *DB) ListRejections(ctx context.Context, f inlet.RejectionFilter) ([]*inlet.Rejection, error) {
	limit := f.PageLimit()
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	if f.SourceID != "" {
		add("source_id =", f.SourceID)
	}
	if f.Reason != "" {
		add("reason =", f.Reason)
	}
	if f.BeforeID > 0 {
		add("id <", f.BeforeID)
	}
	query := `SELECT id, at, source_id, reason, status, message, method, path, query, remote_addr, headers, body, body_truncated FROM rejections`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC LIMIT " + strconv.Itoa(limit)
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, storeError(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*inlet.Rejection, error) {
		var r inlet.Rejection
		var headers []byte
		if err := row.Scan(&r.ID, &r.At, &r.SourceID, &r.Reason, &r.Status, &r.Message, &r.Method, &r.Path, &r.Query,
			&r.RemoteAddr, &headers, &r.Body, &r.BodyTruncated); err != nil {
			return nil, err
		}
		r.At = r.At.UTC()
		if err := json.Unmarshal(headers, &r.Headers); err != nil {
			return nil, fmt.Errorf("rejection %d: headers: %w", r.ID, err)
		}
		return &r, nil
	})
	if err != nil {
		return nil, storeError(err)
	}
	if out == nil {
		out = []*inlet.Rejection{}
	}
	return out, nil
}
