package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"inlet"
)

var _ inlet.RejectionStore = (*DB)(nil)

// AppendRejections stores samples, adds counts and trims the log, through
// the log's own connection: its commits are not fsynced and it never waits
// in the event writer's queue; it takes SQLite's write lock for one short
// transaction. See inlet.RejectionStore.
func (db *DB) AppendRejections(ctx context.Context, rs []*inlet.Rejection, counts []inlet.RejectionCount, bounds inlet.RejectionBounds) error {
	if len(rs) == 0 && len(counts) == 0 {
		return nil
	}
	tx, err := db.rejections.BeginTx(ctx, nil)
	if err != nil {
		return storeError(err)
	}
	defer tx.Rollback()
	if err := insertRejections(ctx, tx, rs); err != nil {
		return storeError(err)
	}
	if err := addRejectionCounts(ctx, tx, counts); err != nil {
		return storeError(err)
	}
	if len(rs) > 0 {
		if err := trimRejections(ctx, tx, bounds); err != nil {
			return storeError(err)
		}
	}
	return storeError(tx.Commit())
}

func insertRejections(ctx context.Context, tx *sql.Tx, rs []*inlet.Rejection) error {
	if len(rs) == 0 {
		return nil
	}
	insert, err := tx.PrepareContext(ctx, `
		INSERT INTO rejections (at, source_id, reason, status, message, method, path, query, remote_addr, headers, body, body_truncated, size)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer insert.Close()
	for _, r := range rs {
		headers, err := json.Marshal(r.Headers)
		if err != nil {
			return err
		}
		body := r.Body
		if body == nil {
			body = []byte{}
		}
		res, err := insert.ExecContext(ctx, r.At.UnixNano(), r.SourceID, r.Reason, r.Status, r.Message, r.Method, r.Path, r.Query,
			r.RemoteAddr, string(headers), body, r.BodyTruncated, r.Size())
		if err != nil {
			return err
		}
		if r.ID, err = res.LastInsertId(); err != nil {
			return err
		}
	}
	return nil
}

func addRejectionCounts(ctx context.Context, tx *sql.Tx, counts []inlet.RejectionCount) error {
	if len(counts) == 0 {
		return nil
	}
	upsert, err := tx.PrepareContext(ctx, `
		INSERT INTO rejection_counts (source_id, reason, count, first_at, last_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (source_id, reason) DO UPDATE SET
			count = count + excluded.count,
			first_at = min(first_at, excluded.first_at),
			last_at = max(last_at, excluded.last_at)`)
	if err != nil {
		return err
	}
	defer upsert.Close()
	for _, c := range counts {
		if _, err := upsert.ExecContext(ctx, c.SourceID, c.Reason, c.Count, c.FirstAt.UnixNano(), c.LastAt.UnixNano()); err != nil {
			return err
		}
	}
	return nil
}

// CountRejections returns counts of refusals. See inlet.RejectionStore.
func (db *DB) CountRejections(ctx context.Context, f inlet.RejectionFilter) ([]inlet.RejectionCount, error) {
	where, args := rejectionFilter(f)
	query := `SELECT source_id, reason, count, first_at, last_at FROM rejection_counts` + whereSQL(where)
	rows, err := db.read.QueryContext(ctx, query+" ORDER BY source_id, reason", args...)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	out := []inlet.RejectionCount{}
	for rows.Next() {
		var (
			c             inlet.RejectionCount
			first, latest int64
		)
		if err := rows.Scan(&c.SourceID, &c.Reason, &c.Count, &first, &latest); err != nil {
			return nil, storeError(err)
		}
		c.FirstAt, c.LastAt = time.Unix(0, first).UTC(), time.Unix(0, latest).UTC()
		out = append(out, c)
	}
	return out, storeError(rows.Err())
}

// trimRejections drops the oldest rejections when the log is over a bound,
// down to nine tenths of it, so that a full log is not trimmed at every
// batch.
func trimRejections(ctx context.Context, tx *sql.Tx, bounds inlet.RejectionBounds) error {
	var count, size int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(size), 0) FROM rejections`).Scan(&count, &size); err != nil {
		return err
	}
	if count <= int64(bounds.MaxCount) && size <= bounds.MaxBytes {
		return nil
	}
	keepCount, keepBytes := int64(bounds.MaxCount)*9/10, bounds.MaxBytes*9/10
	var cutoff sql.NullInt64
	err := tx.QueryRowContext(ctx, `
		SELECT id FROM (
			SELECT id, sum(size) OVER (ORDER BY id DESC) AS total, row_number() OVER (ORDER BY id DESC) AS n FROM rejections
		) WHERE n > ? OR total > ? ORDER BY id DESC LIMIT 1`, keepCount, keepBytes).Scan(&cutoff)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM rejections WHERE id <= ?`, cutoff.Int64)
	return err
}

// ListRejections returns rejections, newest first. See inlet.RejectionStore.
func (db *DB) ListRejections(ctx context.Context, f inlet.RejectionFilter) ([]*inlet.Rejection, error) {
	limit := f.PageLimit()
	where, args := rejectionFilter(f)
	if f.BeforeID > 0 {
		where, args = append(where, "id < ?"), append(args, f.BeforeID)
	}
	query := `SELECT id, at, source_id, reason, status, message, method, path, query, remote_addr, headers, body, body_truncated FROM rejections` + whereSQL(where)
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	out := []*inlet.Rejection{}
	for rows.Next() {
		var (
			r       inlet.Rejection
			at      int64
			headers []byte
		)
		if err := rows.Scan(&r.ID, &at, &r.SourceID, &r.Reason, &r.Status, &r.Message, &r.Method, &r.Path, &r.Query,
			&r.RemoteAddr, &headers, &r.Body, &r.BodyTruncated); err != nil {
			return nil, storeError(err)
		}
		r.At = time.Unix(0, at).UTC()
		if err := json.Unmarshal(headers, &r.Headers); err != nil {
			return nil, fmt.Errorf("rejection %d: headers: %w", r.ID, err)
		}
		out = append(out, &r)
	}
	return out, storeError(rows.Err())
}

// rejectionFilter returns the conditions of f's source and reason, the
// same on rejections and their counts, with their arguments.
func rejectionFilter(f inlet.RejectionFilter) (where []string, args []any) {
	if f.SourceID != "" {
		where, args = append(where, "source_id = ?"), append(args, f.SourceID)
	}
	if f.Reason != "" {
		where, args = append(where, "reason = ?"), append(args, f.Reason)
	}
	return where, args
}
