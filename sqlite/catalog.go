package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"inlet"
)

// catalogTx is inlet.CatalogTx on the write transaction; the one write
// connection serialises merges.
type catalogTx struct{ tx *sql.Tx }

var _ inlet.CatalogTx = catalogTx{}

// MergeCatalog adds deltas to the catalog in one transaction. See
// inlet.CatalogStore.
func (db *DB) MergeCatalog(ctx context.Context, deltas []*inlet.CatalogDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return storeError(err)
	}
	defer tx.Rollback()
	if err := inlet.MergeCatalogTx(ctx, catalogTx{tx}, deltas); err != nil {
		return storeError(err)
	}
	return storeError(tx.Commit())
}

const selectCatalog = `SELECT source_id, event_type, count, first_seen, last_seen, drift_since, truncated, paths FROM catalog`

// LoadCatalog reads an entry inside the write transaction. See inlet.CatalogTx.
func (t catalogTx) LoadCatalog(ctx context.Context, sourceID, eventType string) (*inlet.CatalogEntry, error) {
	rows, err := t.tx.QueryContext(ctx, selectCatalog+` WHERE source_id = ? AND event_type = ?`, sourceID, eventType)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	return scanCatalog(rows)
}

// SaveCatalog writes an entry. See inlet.CatalogTx.
func (t catalogTx) SaveCatalog(ctx context.Context, e *inlet.CatalogEntry) error {
	paths, err := json.Marshal(e.Paths)
	if err != nil {
		return err
	}
	var drift int64
	if !e.DriftSince.IsZero() {
		drift = e.DriftSince.UnixNano()
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO catalog (source_id, event_type, count, first_seen, last_seen, drift_since, truncated, paths)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (source_id, event_type) DO UPDATE SET count = excluded.count, first_seen = excluded.first_seen,
			last_seen = excluded.last_seen, drift_since = excluded.drift_since, truncated = excluded.truncated, paths = excluded.paths`,
		e.SourceID, e.Type, e.Count, e.FirstSeen.UnixNano(), e.LastSeen.UnixNano(), drift, e.Truncated, string(paths))
	return err
}

func scanCatalog(rows *sql.Rows) (*inlet.CatalogEntry, error) {
	var (
		e                       inlet.CatalogEntry
		first, last, driftSince int64
		paths                   string
	)
	if err := rows.Scan(&e.SourceID, &e.Type, &e.Count, &first, &last, &driftSince, &e.Truncated, &paths); err != nil {
		return nil, err
	}
	e.FirstSeen, e.LastSeen = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
	if driftSince != 0 {
		e.DriftSince = time.Unix(0, driftSince).UTC()
	}
	if err := json.Unmarshal([]byte(paths), &e.Paths); err != nil {
		return nil, err
	}
	return &e, nil
}

// ListCatalog returns catalog entries. See inlet.CatalogStore.
func (db *DB) ListCatalog(ctx context.Context, f inlet.CatalogFilter) ([]*inlet.CatalogEntry, error) {
	q, args := selectCatalog+` WHERE 1 = 1`, []any{}
	if f.SourceID != "" {
		q, args = q+` AND source_id = ?`, append(args, f.SourceID)
	}
	if f.Type != "" {
		q, args = q+` AND event_type = ?`, append(args, f.Type)
	}
	rows, err := db.read.QueryContext(ctx, q+` ORDER BY source_id, event_type`, args...)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	entries := []*inlet.CatalogEntry{}
	for rows.Next() {
		e, err := scanCatalog(rows)
		if err != nil {
			return nil, storeError(err)
		}
		entries = append(entries, e)
	}
	return entries, storeError(rows.Err())
}

// FindCatalog returns one catalog entry. See inlet.CatalogStore.
func (db *DB) FindCatalog(ctx context.Context, sourceID, eventType string) (*inlet.CatalogEntry, error) {
	return inlet.FindCatalogEntry(ctx, db, sourceID, eventType)
}

var _ inlet.CatalogStore = (*DB)(nil)
