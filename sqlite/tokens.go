package sqlite

import (
	"context"
	"database/sql"
	"time"

	"inlet"
)

var _ inlet.TokenStore = (*DB)(nil)

const selectToken = `SELECT id, name, scope, sources, hash, created_at, expires_at, last_used_at, revoked_at FROM tokens`

// CreateToken implements inlet.TokenStore.
func (db *DB) CreateToken(ctx context.Context, t *inlet.Token) (err error) {
	defer db.audit(&ctx, "token.create", inlet.AuditToken, t.ID, nil, &err)()
	if err := t.Validate(); err != nil {
		return err
	}
	t.CreatedAt = db.now().UTC()
	err = db.configTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (id, name, scope, sources, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.Name, t.Scope, inlet.TokenSourcesJSON(t.Sources), t.Hash[:], t.CreatedAt.UnixNano(), nanosOrNil(t.ExpiresAt))
		return err
	})
	if isUnique(err) {
		return inlet.Errorf(inlet.ECONFLICT, "a token named %q exists already", t.Name)
	}
	return storeError(err)
}

// ListTokens implements inlet.TokenStore.
func (db *DB) ListTokens(ctx context.Context) ([]*inlet.Token, error) {
	return queryTokens(ctx, db.read, selectToken+` ORDER BY name`)
}

// FindToken implements inlet.TokenStore.
func (db *DB) FindToken(ctx context.Context, idOrName string) (*inlet.Token, error) {
	ts, err := queryTokens(ctx, db.read, selectToken+` WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1`, idOrName, idOrName, idOrName)
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "token %q not found", idOrName)
	}
	return ts[0], nil
}

// FindTokenByHash implements inlet.TokenStore.
func (db *DB) FindTokenByHash(ctx context.Context, hash [32]byte) (*inlet.Token, error) {
	ts, err := queryTokens(ctx, db.read, selectToken+` WHERE hash = ?`, hash[:])
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "no such token")
	}
	return ts[0], nil
}

// RevokeToken implements inlet.TokenStore.
func (db *DB) RevokeToken(ctx context.Context, idOrName string, now time.Time) (_ *inlet.Token, err error) {
	t, err := db.FindToken(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	defer db.audit(&ctx, "token.revoke", inlet.AuditToken, t.ID, nil, &err)()
	err = db.configTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, now.UTC().UnixNano(), t.ID)
		return err
	})
	if err != nil {
		return nil, storeError(err)
	}
	return db.FindToken(ctx, t.ID)
}

// TouchToken implements inlet.TokenStore.
func (db *DB) TouchToken(ctx context.Context, id string, now time.Time) error {
	return storeError(db.configTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ?`, now.UTC().UnixNano(), id)
		return err
	}))
}

func queryTokens(ctx context.Context, q querier, query string, args ...any) ([]*inlet.Token, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	var out []*inlet.Token
	for rows.Next() {
		var (
			t                          inlet.Token
			hash, sources              []byte
			created                    int64
			expires, lastUsed, revoked sql.NullInt64
		)
		if err := rows.Scan(&t.ID, &t.Name, &t.Scope, &sources, &hash, &created, &expires, &lastUsed, &revoked); err != nil {
			return nil, storeError(err)
		}
		if err := t.SetStored(hash, sources); err != nil {
			return nil, err
		}
		t.CreatedAt = time.Unix(0, created).UTC()
		t.ExpiresAt, t.LastUsedAt, t.RevokedAt = nanoTime(expires), nanoTime(lastUsed), nanoTime(revoked)
		out = append(out, &t)
	}
	return out, storeError(rows.Err())
}

func nanoTime(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.Unix(0, n.Int64).UTC()
	return &t
}
