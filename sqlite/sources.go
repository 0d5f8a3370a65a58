package sqlite

import (
	"context"
	"database/sql"
	"time"

	"inlet"
)

const selectSource = `SELECT id, name, type, enabled, config, created_at, updated_at FROM sources`

// CreateSource stores a new source. See inlet.SourceStore.
func (db *DB) CreateSource(ctx context.Context, s *inlet.Source) (err error) {
	defer db.audit(&ctx, "source.create", inlet.AuditSource, s.ID, nil, &err)()
	if err := s.Validate(); err != nil {
		return err
	}
	now := db.now().UTC()
	s.CreatedAt, s.UpdatedAt = now, now
	config, err := db.secrets.SealSourceConfig(s.ID, &s.Config)
	if err != nil {
		return err
	}
	_, err = db.durableExec(ctx, `INSERT INTO sources (id, name, type, enabled, config, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.Name, s.Type, s.Enabled, string(config), now.UnixNano(), now.UnixNano())
	if isUnique(err) {
		return inlet.Errorf(inlet.ECONFLICT, "a source with id %q exists already", s.ID)
	}
	return storeError(err)
}

// FindSource returns one source. See inlet.SourceStore.
func (db *DB) FindSource(ctx context.Context, id string) (*inlet.Source, error) {
	return db.findSource(ctx, db.read, id)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (db *DB) findSource(ctx context.Context, q querier, id string) (*inlet.Source, error) {
	rows, err := q.QueryContext(ctx, selectSource+` WHERE id = ?`, id)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, storeError(err)
		}
		return nil, inlet.Errorf(inlet.ENOTFOUND, "source %q not found", id)
	}
	return db.scanSource(rows)
}

// ListSources returns every source. See inlet.SourceStore.
func (db *DB) ListSources(ctx context.Context) ([]*inlet.Source, error) {
	rows, err := db.read.QueryContext(ctx, selectSource+` ORDER BY id`)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	sources := []*inlet.Source{}
	for rows.Next() {
		s, err := db.scanSource(rows)
		if err != nil {
			return nil, err
		}
		sources = append(sources, s)
	}
	return sources, storeError(rows.Err())
}

// UpdateSource changes a source. See inlet.SourceStore.
func (db *DB) UpdateSource(ctx context.Context, id string, upd inlet.SourceUpdate) (_ *inlet.Source, err error) {
	defer db.audit(&ctx, "source.update", inlet.AuditSource, id, nil, &err)()
	tx, err := db.durableTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	s, err := db.findSource(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if err := upd.Apply(s); err != nil {
		return nil, err
	}
	s.UpdatedAt = db.now().UTC()
	config, err := db.secrets.SealSourceConfig(s.ID, &s.Config)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sources SET name = ?, enabled = ?, config = ?, updated_at = ? WHERE id = ?`,
		s.Name, s.Enabled, string(config), s.UpdatedAt.UnixNano(), id); err != nil {
		return nil, storeError(err)
	}
	return s, storeError(tx.Commit())
}

// DeleteSource removes a source. See inlet.SourceStore.
func (db *DB) DeleteSource(ctx context.Context, id string) (err error) {
	defer db.audit(&ctx, "source.delete", inlet.AuditSource, id, nil, &err)()
	res, err := db.durableExec(ctx, `DELETE FROM sources WHERE id = ?`, id)
	if err != nil {
		return storeError(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return storeError(err)
	} else if n == 0 {
		return inlet.Errorf(inlet.ENOTFOUND, "source %q not found", id)
	}
	return nil
}

func (db *DB) scanSource(rows *sql.Rows) (*inlet.Source, error) {
	var (
		s                inlet.Source
		config           []byte
		created, updated int64
	)
	if err := rows.Scan(&s.ID, &s.Name, &s.Type, &s.Enabled, &config, &created, &updated); err != nil {
		return nil, storeError(err)
	}
	if err := db.secrets.OpenSourceConfig(s.ID, config, &s.Config); err != nil {
		return nil, err
	}
	s.CreatedAt, s.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	return &s, nil
}
