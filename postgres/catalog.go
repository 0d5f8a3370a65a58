package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"inlet"
)

var _ inlet.CatalogStore = (*DB)(nil)

// catalogTx is inlet.CatalogTx on one transaction. A merge of an entry is
// serialised across nodes by a transaction-scoped advisory lock on the
// entry, taken before it is read: a row lock alone would not cover an
// entry that two nodes create at once.
type catalogTx struct{ tx pgx.Tx }

var _ inlet.CatalogTx = catalogTx{}

// MergeCatalog adds deltas to the catalog in one transaction. See
// inlet.CatalogStore.
func (db *DB) MergeCatalog(ctx context.Context, deltas []*inlet.CatalogDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return storeError(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Deltas come ordered by source and type, so that two merges take the
	// entries' locks in one order and cannot deadlock.
	if err := inlet.MergeCatalogTx(ctx, catalogTx{tx}, deltas); err != nil {
		return storeError(err)
	}
	return storeError(tx.Commit(ctx))
}

const selectCatalog = `SELECT source_id, event_type, count, first_seen, last_seen, drift_since, truncated, paths FROM catalog`

// LoadCatalog takes the entry's lock, then reads it. See inlet.CatalogTx.
func (t catalogTx) LoadCatalog(ctx context.Context, sourceID, eventType string) (*inlet.CatalogEntry, error) {
	if _, err := t.tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`, "catalog."+sourceID+"\x1f"+eventType); err != nil {
		return nil, err
	}
	rows, err := t.tx.Query(ctx, selectCatalog+` WHERE source_id = $1 AND event_type = $2`, sourceID, eventType)
	if err != nil {
		return nil, err
	}
	e, err := pgx.CollectExactlyOneRow(rows, scanCatalog)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return e, err
}

// SaveCatalog writes an entry. See inlet.CatalogTx.
func (t catalogTx) SaveCatalog(ctx context.Context, e *inlet.CatalogEntry) error {
	paths, err := json.Marshal(e.Paths)
	if err != nil {
		return err
	}
	var drift *time.Time
	if !e.DriftSince.IsZero() {
		drift = &e.DriftSince
	}
	_, err = t.tx.Exec(ctx, `INSERT INTO catalog (source_id, event_type, count, first_seen, last_seen, drift_since, truncated, paths)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (source_id, event_type) DO UPDATE SET count = excluded.count, first_seen = excluded.first_seen,
			last_seen = excluded.last_seen, drift_since = excluded.drift_since, truncated = excluded.truncated, paths = excluded.paths`,
		e.SourceID, e.Type, e.Count, e.FirstSeen, e.LastSeen, drift, e.Truncated, paths)
	return err
}

func scanCatalog(row pgx.CollectableRow) (*inlet.CatalogEntry, error) {
	var (
		e     inlet.CatalogEntry
		drift *time.Time
		paths []byte
	)
	if err := row.Scan(&e.SourceID, &e.Type, &e.Count, &e.FirstSeen, &e.LastSeen, &drift, &e.Truncated, &paths); err != nil {
		return nil, err
	}
	e.FirstSeen, e.LastSeen = e.FirstSeen.UTC(), e.LastSeen.UTC()
	if drift != nil {
		e.DriftSince = drift.UTC()
	}
	if err := json.Unmarshal(paths, &e.Paths); err != nil {
		return nil, err
	}
	return &e, nil
}

// ListCatalog returns catalog entries. See inlet.CatalogStore.
func (db *DB) ListCatalog(ctx context.Context, f inlet.CatalogFilter) ([]*inlet.CatalogEntry, error) {
	rows, err := db.pool.Query(ctx, selectCatalog+` WHERE ($1 = '' OR source_id = $1) AND ($2 = '' OR event_type = $2) ORDER BY source_id, event_type`, f.SourceID, f.Type)
	if err != nil {
		return nil, storeError(err)
	}
	entries, err := pgx.CollectRows(rows, scanCatalog)
	if err != nil {
		return nil, storeError(err)
	}
	if entries == nil {
		entries = []*inlet.CatalogEntry{}
	}
	return entries, nil
}

// FindCatalog returns one catalog entry. See inlet.CatalogStore.
func (db *DB) FindCatalog(ctx context.Context, sourceID, eventType string) (*inlet.CatalogEntry, error) {
	return inlet.FindCatalogEntry(ctx, db, sourceID, eventType)
}
