package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"inlet"
)

var _ inlet.AuditStore = (*DB)(nil)

// audit records a change of a store method whose error is *err
// (inlet.TrackAudit): the write path writes it in the change's transaction.
//
//	defer db.audit(&ctx, "source.update", inlet.AuditSource, id, nil, &err)()
func (db *DB) audit(ctx *context.Context, action, objectType, objectID string, detail any, err *error) func() {
	c := &inlet.AuditChange{Action: action, ObjectType: objectType, ObjectID: objectID, Detail: detail}
	return inlet.TrackAudit(ctx, c, db.now().Truncate(time.Microsecond), err, auditTx{db, db.pool.Pool}.AuditObject, db.RecordAudit)
}

// auditPool is the connection pool. A change that a store method records
// (DB.audit) goes through its Exec, Begin or BeginTx, which write the
// change's record before the commit.
type auditPool struct {
	*pgxpool.Pool
	db *DB // decrypts the secrets of what a record shows
}

// Exec runs one statement; with a change to record, in a transaction
// with its record.
func (p auditPool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if !inlet.AuditPending(ctx) {
		return p.Pool.Exec(ctx, sql, args...)
	}
	tx, err := p.Pool.Begin(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, sql, args...)
	if err != nil {
		return tag, err
	}
	// A statement that changed nothing is no change: the method says why,
	// and its record says so.
	if tag.RowsAffected() > 0 {
		if err := inlet.WriteAudit(ctx, auditTx{p.db, tx}); err != nil {
			return tag, err
		}
	}
	return tag, tx.Commit(ctx)
}

// Begin begins a transaction; with a change to record, its commit writes
// the record first.
func (p auditPool) Begin(ctx context.Context) (pgx.Tx, error) {
	return p.BeginTx(ctx, pgx.TxOptions{})
}

// BeginTx is Begin with options; a read-only transaction records nothing.
func (p auditPool) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	tx, err := p.Pool.BeginTx(ctx, opts)
	if err != nil || opts.AccessMode == pgx.ReadOnly || !inlet.AuditPending(ctx) {
		return tx, err
	}
	return auditedTx{Tx: tx, db: p.db, ctx: ctx}, nil
}

// auditedTx is a transaction of a change to record.
type auditedTx struct {
	pgx.Tx
	db  *DB
	ctx context.Context
}

// Commit writes the change's record, then commits.
func (tx auditedTx) Commit(ctx context.Context) error {
	if err := inlet.WriteAudit(tx.ctx, auditTx{tx.db, tx.Tx}); err != nil {
		return err
	}
	return tx.Tx.Commit(ctx)
}

// auditTx reads and writes the audit log through a transaction (or the
// pool, for the object before a change).
type auditTx struct {
	db *DB // decrypts the secrets of what it reads
	q  interface {
		querier
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

// AuditObject implements inlet.AuditTx.
func (tx auditTx) AuditObject(ctx context.Context, objectType, id string) (any, error) {
	var (
		obj any
		err error
	)
	switch objectType {
	case inlet.AuditSource:
		obj, err = tx.db.findSource(ctx, tx.q, id, "")
	case inlet.AuditDestination:
		obj, err = tx.db.findDestination(ctx, tx.q, id, "")
	case inlet.AuditToken:
		var ts []*inlet.Token
		if ts, err = queryTokens(ctx, tx.q, selectToken+` WHERE id = $1`, id); err == nil && len(ts) == 1 {
			obj = ts[0]
		}
	}
	if inlet.ErrorCode(err) == inlet.ENOTFOUND {
		return nil, nil
	}
	return obj, err
}

// InsertAudit implements inlet.AuditTx.
func (tx auditTx) InsertAudit(ctx context.Context, r *inlet.AuditRecord) error {
	return storeError(tx.q.QueryRow(ctx, `INSERT INTO audit (at, token_id, token, client, action, object_type, object_id, before, after, outcome, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		r.At, r.TokenID, r.Token, r.Client, r.Action, r.ObjectType, r.ObjectID, nullJSON(r.Before), nullJSON(r.After), r.Outcome, r.Error).Scan(&r.ID))
}

func nullJSON(b []byte) *string {
	if len(b) == 0 {
		return nil
	}
	s := string(b)
	return &s
}

// RecordAudit implements inlet.AuditStore.
func (db *DB) RecordAudit(ctx context.Context, r *inlet.AuditRecord) error {
	r.At = r.At.Truncate(time.Microsecond)
	return auditTx{db, db.pool.Pool}.InsertAudit(ctx, r)
}

// ListAudit implements inlet.AuditStore.
func (db *DB) ListAudit(ctx context.Context, f inlet.AuditFilter) (*inlet.AuditPage, error) {
	below, err := f.Check()
	if err != nil {
		return nil, err
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	columns, values := f.Equalities()
	for i, column := range columns {
		where = append(where, column+" = "+arg(values[i]))
	}
	if f.Token != "" {
		p := arg(f.Token)
		where = append(where, "(token = "+p+" OR token_id = "+p+")")
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+arg(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < "+arg(f.Until))
	}
	if below > 0 {
		where = append(where, "id < "+arg(below))
	}
	query := `SELECT id, at, token_id, token, client, action, object_type, object_id, before, after, outcome, error FROM audit`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := db.pool.Query(ctx, query+` ORDER BY id DESC LIMIT `+strconv.Itoa(f.Limit+1), args...)
	if err != nil {
		return nil, storeError(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*inlet.AuditRecord, error) {
		var (
			r             inlet.AuditRecord
			before, after *string
		)
		if err := row.Scan(&r.ID, &r.At, &r.TokenID, &r.Token, &r.Client, &r.Action, &r.ObjectType, &r.ObjectID, &before, &after, &r.Outcome, &r.Error); err != nil {
			return nil, err
		}
		r.At = r.At.UTC()
		if before != nil {
			r.Before = []byte(*before)
		}
		if after != nil {
			r.After = []byte(*after)
		}
		return &r, nil
	})
	if err != nil {
		return nil, storeError(err)
	}
	return inlet.NewAuditPage(out, f), nil
}

// DeleteAuditBefore implements inlet.AuditStore.
func (db *DB) DeleteAuditBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM audit WHERE at < $1`, t)
	if err != nil {
		return 0, storeError(err)
	}
	return int(tag.RowsAffected()), nil
}
