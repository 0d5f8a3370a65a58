package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
	t.CreatedAt = db.now().UTC().Truncate(time.Microsecond)
	_, err = db.pool.Exec(ctx, `INSERT INTO tokens (id, name, scope, sources, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.ID, t.Name, t.Scope, inlet.TokenSourcesJSON(t.Sources), t.Hash[:], t.CreatedAt, t.ExpiresAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return inlet.Errorf(inlet.ECONFLICT, "a token named %q exists already", t.Name)
	}
	return storeError(err)
}

// ListTokens implements inlet.TokenStore.
func (db *DB) ListTokens(ctx context.Context) ([]*inlet.Token, error) {
	return queryTokens(ctx, db.pool, selectToken+` ORDER BY name`)
}

// FindToken implements inlet.TokenStore.
func (db *DB) FindToken(ctx context.Context, idOrName string) (*inlet.Token, error) {
	ts, err := queryTokens(ctx, db.pool, selectToken+` WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1`, idOrName)
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
	ts, err := queryTokens(ctx, db.pool, selectToken+` WHERE hash = $1`, hash[:])
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
	if _, err := db.pool.Exec(ctx, `UPDATE tokens SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`, now.UTC(), t.ID); err != nil {
		return nil, storeError(err)
	}
	return db.FindToken(ctx, t.ID)
}

// TouchToken implements inlet.TokenStore.
func (db *DB) TouchToken(ctx context.Context, id string, now time.Time) error {
	_, err := db.pool.Exec(ctx, `UPDATE tokens SET last_used_at = $1 WHERE id = $2`, now.UTC(), id)
	return storeError(err)
}

func queryTokens(ctx context.Context, q querier, query string, args ...any) ([]*inlet.Token, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, storeError(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*inlet.Token, error) {
		var (
			t       inlet.Token
			hash    []byte
			sources string
		)
		if err := row.Scan(&t.ID, &t.Name, &t.Scope, &sources, &hash, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt, &t.RevokedAt); err != nil {
			return nil, err
		}
		if err := t.SetStored(hash, []byte(sources)); err != nil {
			return nil, err
		}
		t.CreatedAt = t.CreatedAt.UTC()
		for _, p := range []*time.Time{t.ExpiresAt, t.LastUsedAt, t.RevokedAt} {
			if p != nil {
				*p = p.UTC()
			}
		}
		return &t, nil
	})
	return out, storeError(err)
}
