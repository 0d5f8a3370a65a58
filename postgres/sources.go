package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"inlet"
)

const selectSource = `SELECT id, name, type, enabled, config, created_at, updated_at FROM sources`

// CreateSource stores a new source. See inlet.SourceStore.
func (db *DB) CreateSource(ctx context.Context, s *inlet.Source) (err error) {
	defer db.audit(&ctx, "source.create", inlet.AuditSource, s.ID, nil, &err)()
	if err := s.Validate(); err != nil {
		return err
	}
	now := db.now().UTC().Truncate(time.Microsecond) // the database keeps microseconds
	config, err := db.secrets.SealSourceConfig(s.ID, &s.Config)
	if err != nil {
		return err
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO sources (id, name, type, enabled, config, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)`,
		s.ID, s.Name, s.Type, s.Enabled, config, now)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return inlet.Errorf(inlet.ECONFLICT, "a source with id %q exists already", s.ID)
	} else if err != nil {
		return storeError(err)
	}
	s.CreatedAt, s.UpdatedAt = now, now
	return nil
}

// FindSource returns one source. See inlet.SourceStore.
func (db *DB) FindSource(ctx context.Context, id string) (*inlet.Source, error) {
	return db.findSource(ctx, db.pool, id, "")
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (db *DB) findSource(ctx context.Context, q querier, id, suffix string) (*inlet.Source, error) {
	rows, err := q.Query(ctx, selectSource+` WHERE id = $1`+suffix, id)
	if err != nil {
		return nil, storeError(err)
	}
	s, err := pgx.CollectExactlyOneRow(rows, db.scanSource)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "source %q not found", id)
	}
	return s, storeError(err)
}

// ListSources returns every source. See inlet.SourceStore.
func (db *DB) ListSources(ctx context.Context) ([]*inlet.Source, error) {
	rows, err := db.pool.Query(ctx, selectSource+` ORDER BY id`)
	if err != nil {
		return nil, storeError(err)
	}
	sources, err := pgx.CollectRows(rows, db.scanSource)
	if err != nil {
		return nil, storeError(err)
	}
	if sources == nil {
		sources = []*inlet.Source{}
	}
	return sources, nil
}

// UpdateSource changes a source; the row is locked from read to write, so
// concurrent updates from several nodes each apply whole. See
// inlet.SourceStore.
func (db *DB) UpdateSource(ctx context.Context, id string, upd inlet.SourceUpdate) (_ *inlet.Source, err error) {
	defer db.audit(&ctx, "source.update", inlet.AuditSource, id, nil, &err)()
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, storeError(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	s, err := db.findSource(ctx, tx, id, " FOR UPDATE")
	if err != nil {
		return nil, err
	}
	if err := upd.Apply(s); err != nil {
		return nil, err
	}
	s.UpdatedAt = db.now().UTC().Truncate(time.Microsecond)
	config, err := db.secrets.SealSourceConfig(s.ID, &s.Config)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `UPDATE sources SET name = $1, enabled = $2, config = $3, updated_at = $4 WHERE id = $5`,
		s.Name, s.Enabled, config, s.UpdatedAt, id); err != nil {
		return nil, storeError(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, storeError(err)
	}
	return s, nil
}

// DeleteSource removes a source. See inlet.SourceStore.
func (db *DB) DeleteSource(ctx context.Context, id string) (err error) {
	defer db.audit(&ctx, "source.delete", inlet.AuditSource, id, nil, &err)()
	tag, err := db.pool.Exec(ctx, `DELETE FROM sources WHERE id = $1`, id)
	if err != nil {
		return storeError(err)
	} else if tag.RowsAffected() == 0 {
		return inlet.Errorf(inlet.ENOTFOUND, "source %q not found", id)
	}
	return nil
}

func (db *DB) scanSource(row pgx.CollectableRow) (*inlet.Source, error) {
	var s inlet.Source
	var config []byte
	if err := row.Scan(&s.ID, &s.Name, &s.Type, &s.Enabled, &config, &s.CreatedAt, &s.UpdatedAt); err != nil {
		return nil, err
	}
	if err := db.secrets.OpenSourceConfig(s.ID, config, &s.Config); err != nil {
		return nil, err
	}
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return &s, nil
}
