package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"inlet"
)

var _ inlet.PrivacyStore = (*DB)(nil)

// Erasures and the batches that link events to cached sessions exclude
// each other through one advisory lock: an erasure takes it alone, a batch
// with sessions shares it and reads the count of erasures under it, and a
// node whose count is behind clears its session cache first (an erasure
// on another node may have removed a session it cached).
const eraseLock = "erase"

// observeErasures takes the erasure lock shared for the transaction and
// returns the session cache's epoch after observing the erasures.
func (db *DB) observeErasures(ctx context.Context, tx pgx.Tx) (int64, error) {
	// Two statements, sent as one batch: the count must be read with a
	// snapshot taken after the lock is granted (an erasure that held it
	// has committed by then), which one statement would take before.
	var n int64
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock_shared(`+lockKey+`)`, eraseLock)
	b.Queue(`SELECT coalesce(max(id), 0) FROM erasures`).QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, err
	}
	return db.sessions.Observe(n), nil
}

// The rows of one person, over the array of their profile ids ($1).
const (
	personSessions = `SELECT id FROM sessions WHERE profile_id = ANY($1)`
	personEvents   = `SELECT id FROM events WHERE profile_id = ANY($1) OR session_id IN (` + personSessions + `)`
)

// EraseProfile removes a person in one transaction. See
// inlet.PrivacyStore. The rows are deleted; their bytes stay in the
// table files until VACUUM reuses the space, and in backups and the WAL
// archive until those age out (docs/privacy.md).
func (db *DB) EraseProfile(ctx context.Context, profileID string, now time.Time) (_ *inlet.Erasure, err error) {
	defer db.audit(&ctx, "profile.erase", inlet.AuditProfile, profileID, nil, &err)()
	e := &inlet.Erasure{At: now.UTC().Truncate(time.Microsecond)}
	// The day of the notice an erasure may add has its partition before
	// the transaction takes its locks.
	if err := db.ensurePartitions(ctx, day(e.At)); err != nil {
		return nil, storeError(err)
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// Identity merges take their own lock: none moves the person's
		// rows while they are erased. Taken first, as batches take it
		// before the erasure lock.
		for _, lock := range []string{"identity", eraseLock} {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`, lock); err != nil {
				return err
			}
		}
		if _, err := findProfile(ctx, tx, profileID); err != nil {
			return err
		}
		family, err := profileFamily(ctx, tx, profileID)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT kind, value FROM identifiers WHERE profile_id = ANY($1) ORDER BY kind, value`, family)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowToStructByPos[inlet.Identifier])
		if err != nil {
			return err
		}
		steps := []struct {
			n     *int
			query string
		}{
			{&e.Deliveries, `DELETE FROM deliveries WHERE event_id IN (` + personEvents + `)`},
			{&e.DedupKeys, `DELETE FROM dedup_keys WHERE event_id IN (` + personEvents + `)`},
			{&e.Events, `DELETE FROM events WHERE id IN (` + personEvents + `)`},
			{&e.Sessions, `DELETE FROM sessions WHERE profile_id = ANY($1)`},
			{&e.Identifiers, `DELETE FROM identifiers WHERE profile_id = ANY($1)`},
			{&e.Traits, `DELETE FROM traits WHERE profile_id = ANY($1)`},
			{&e.Profiles, `DELETE FROM profiles WHERE id = ANY($1)`},
		}
		for _, st := range steps {
			tag, err := tx.Exec(ctx, st.query, family)
			if err != nil {
				return err
			}
			*st.n = int(tag.RowsAffected())
		}
		for _, id := range ids {
			v := id.Value
			tag, err := tx.Exec(ctx, `DELETE FROM rejections WHERE position(convert_to($1, 'UTF8') IN body) > 0 OR strpos(headers::text, $1) > 0
				OR strpos(query, $1) > 0 OR strpos(path, $1) > 0`, v)
			if err != nil {
				return err
			}
			e.Rejections += int(tag.RowsAffected())
		}
		counts, _ := json.Marshal(e)
		if _, err = tx.Exec(ctx, `INSERT INTO erasures (at, counts, token) VALUES ($1, $2, $3)`, e.At, string(counts), inlet.ActorFrom(ctx).Token); err != nil {
			return err
		}
		// The notice for the destinations that asked for one, in the log.
		var notify bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM destinations WHERE erasure_notices)`).Scan(&notify); err != nil || !notify {
			return err
		}
		sorted := slices.Clone(family)
		slices.Sort(sorted)
		n := inlet.ErasureNotice(sorted, ids, e.At)
		_, err = tx.Exec(ctx, `INSERT INTO events (inserted_at, id, type, source_id, properties, context) VALUES ($1, $2, $3, $4, $5, '{}')`,
			n.InsertedAt, n.ID, n.Type, n.SourceID, string(n.Properties))
		return err
	})
	if err != nil {
		return nil, storeError(err)
	}
	db.sessions.Clear()
	return e, nil
}

// ExportProfile writes every record of a person from one snapshot. See
// inlet.PrivacyStore.
func (db *DB) ExportProfile(ctx context.Context, profileID string, emit func(inlet.PersonRecord) error) error {
	return storeError(pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		p, err := findProfile(ctx, tx, profileID)
		if err != nil {
			return err
		}
		if err := emit(inlet.PersonRecord{Kind: "profile", Data: p}); err != nil {
			return err
		}
		family := append([]string{p.ID}, p.Aliases...)
		rows, err := tx.Query(ctx, personSessions+` ORDER BY id`, family)
		if err != nil {
			return err
		}
		sessions, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, id := range sessions {
			s, err := findSession(ctx, tx, id)
			if err != nil {
				return err
			}
			if err := emit(inlet.PersonRecord{Kind: "session", Data: s}); err != nil {
				return err
			}
		}
		rows, err = tx.Query(ctx, selectEvent+` WHERE id IN (`+personEvents+`) ORDER BY inserted_at, id`, family)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanEvent(rows)
			if err != nil {
				return err
			}
			if err := emit(inlet.PersonRecord{Kind: "event", Data: e}); err != nil {
				return err
			}
		}
		return rows.Err()
	}))
}

// HashKey returns the installation's key, made at the first call on any
// node and stored sealed. See inlet.SuppressionStore.
func (db *DB) HashKey(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO settings (name, value) VALUES ('hash_key', $1) ON CONFLICT (name) DO NOTHING`,
		db.secrets.SealSetting("hash_key", base64.StdEncoding.EncodeToString(fresh))); err != nil {
		return nil, storeError(err)
	}
	var v string
	if err := db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = 'hash_key'`).Scan(&v); err != nil {
		return nil, storeError(err)
	}
	return inlet.DecodeHashKey(db.secrets, v)
}

// Suppress adds suppressions. See inlet.SuppressionStore.
func (db *DB) Suppress(ctx context.Context, hashes []string, now time.Time) (err error) {
	defer db.audit(&ctx, "suppression.create", inlet.AuditSuppression, "", inlet.SuppressDetail(hashes), &err)()
	_, err = db.pool.Exec(ctx, `INSERT INTO suppressions (hash, created_at) SELECT h, $2 FROM unnest($1::text[]) h ON CONFLICT (hash) DO NOTHING`, hashes, now)
	return storeError(err)
}

// Unsuppress lifts a suppression. See inlet.SuppressionStore.
func (db *DB) Unsuppress(ctx context.Context, hash string) (_ bool, err error) {
	defer db.audit(&ctx, "suppression.lift", inlet.AuditSuppression, hash, nil, &err)()
	tag, err := db.pool.Exec(ctx, `DELETE FROM suppressions WHERE hash = $1`, hash)
	if err != nil {
		return false, storeError(err)
	}
	return tag.RowsAffected() > 0, nil
}

// Suppressions returns every suppression. See inlet.SuppressionStore.
func (db *DB) Suppressions(ctx context.Context) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT hash FROM suppressions`)
	if err != nil {
		return nil, storeError(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, storeError(err)
}
