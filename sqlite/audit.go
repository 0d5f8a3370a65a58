package sqlite

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"inlet"
)

var _ inlet.AuditStore = (*DB)(nil)

// audit records a change of a store method whose error is *err
// (inlet.TrackAudit): the write path writes it in the change's transaction.
//
//	defer db.audit(&ctx, "source.update", inlet.AuditSource, id, nil, &err)()
func (db *DB) audit(ctx *context.Context, action, objectType, objectID string, detail any, err *error) func() {
	c := &inlet.AuditChange{Action: action, ObjectType: objectType, ObjectID: objectID, Detail: detail}
	return inlet.TrackAudit(ctx, c, db.now(), err, auditTx{db, db.read}.AuditObject, db.RecordAudit)
}

// auditTx reads and writes the audit log through a transaction (or the
// read pool, for the object before a change).
type auditTx struct {
	db *DB // decrypts the secrets of what it reads
	q  interface {
		querier
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
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
		obj, err = tx.db.findSource(ctx, tx.q, id)
	case inlet.AuditDestination:
		obj, err = tx.db.findDestination(ctx, tx.q, id)
	case inlet.AuditToken:
		var ts []*inlet.Token
		if ts, err = queryTokens(ctx, tx.q, selectToken+` WHERE id = ?`, id); err == nil && len(ts) == 1 {
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
	res, err := tx.q.ExecContext(ctx, `INSERT INTO audit (at, token_id, token, client, action, object_type, object_id, before, after, outcome, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.At.UnixNano(), r.TokenID, r.Token, r.Client, r.Action, r.ObjectType, r.ObjectID, nullJSON(r.Before), nullJSON(r.After), r.Outcome, r.Error)
	if err != nil {
		return storeError(err)
	}
	r.ID, err = res.LastInsertId()
	return storeError(err)
}

func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// execAudited runs one statement in tx and, when it changed something,
// writes the record of the change ctx carries: a statement that changed
// nothing is no change (the method says why, and its record says so).
func (db *DB) execAudited(ctx context.Context, tx *sql.Tx, query string, args []any) (sql.Result, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		if err := db.writeAudit(ctx, tx); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// writeExec runs one statement on the write connection, with the record
// of the change ctx carries, without the sync of a configuration change.
func (db *DB) writeExec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	res, err := db.execAudited(ctx, tx, query, args)
	if err != nil {
		return nil, err
	}
	return res, tx.Commit()
}

// writeAudit writes the change ctx carries in tx, before its commit.
func (db *DB) writeAudit(ctx context.Context, tx *sql.Tx) error {
	return inlet.WriteAudit(ctx, auditTx{db, tx})
}

// RecordAudit implements inlet.AuditStore.
func (db *DB) RecordAudit(ctx context.Context, r *inlet.AuditRecord) error {
	return storeError(db.configTx(ctx, func(tx *sql.Tx) error {
		return auditTx{db, tx}.InsertAudit(ctx, r)
	}))
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
	add := func(cond string, vs ...any) {
		where = append(where, cond)
		args = append(args, vs...)
	}
	columns, values := f.Equalities()
	for i, column := range columns {
		add(column+" = ?", values[i])
	}
	if f.Token != "" {
		add("(token = ? OR token_id = ?)", f.Token, f.Token)
	}
	if !f.Since.IsZero() {
		add("at >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		add("at < ?", f.Until.UnixNano())
	}
	if below > 0 {
		add("id < ?", below)
	}
	query := `SELECT id, at, token_id, token, client, action, object_type, object_id, before, after, outcome, error FROM audit`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := db.read.QueryContext(ctx, query+` ORDER BY id DESC LIMIT `+strconv.Itoa(f.Limit+1), args...)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	var out []*inlet.AuditRecord
	for rows.Next() {
		var (
			r             inlet.AuditRecord
			at            int64
			before, after sql.NullString
		)
		if err := rows.Scan(&r.ID, &at, &r.TokenID, &r.Token, &r.Client, &r.Action, &r.ObjectType, &r.ObjectID, &before, &after, &r.Outcome, &r.Error); err != nil {
			return nil, storeError(err)
		}
		r.At = time.Unix(0, at).UTC()
		if before.Valid {
			r.Before = []byte(before.String)
		}
		if after.Valid {
			r.After = []byte(after.String)
		}
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError(err)
	}
	return inlet.NewAuditPage(out, f), nil
}

// DeleteAuditBefore implements inlet.AuditStore.
func (db *DB) DeleteAuditBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM audit WHERE at < ?`, t.UnixNano())
	if err != nil {
		return 0, storeError(err)
	}
	n, err := res.RowsAffected()
	return int(n), storeError(err)
}
