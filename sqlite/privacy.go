package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"inlet"
)

var _ inlet.PrivacyStore = (*DB)(nil)

// The rows of one person, as subqueries over a temporary table of their
// profile ids (person_profiles) filled at the start of an erasure or an
// export.
const (
	personSessions = `SELECT id FROM sessions WHERE profile_id IN (SELECT id FROM person_profiles)`
	personEvents   = `SELECT id FROM events WHERE profile_id IN (SELECT id FROM person_profiles)
		UNION SELECT id FROM events WHERE session_id IN (` + personSessions + `)`
)

// person fills the temporary table person_profiles with the family of the
// profile id resolves to (its survivor and every profile merged into it)
// and returns the survivor. Returns ENOTFOUND.
func person(ctx context.Context, q interface {
	rowQuerier
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}, id string) (string, error) {
	var into sql.NullString
	err := q.QueryRowContext(ctx, `SELECT merged_into FROM profiles WHERE id = ?`, id).Scan(&into)
	if errors.Is(err, sql.ErrNoRows) {
		return "", inlet.Errorf(inlet.ENOTFOUND, "profile %q not found", id)
	} else if err != nil {
		return "", storeError(err)
	}
	root := id
	if into.Valid {
		root = into.String
	}
	for _, stmt := range []string{
		`CREATE TEMP TABLE IF NOT EXISTS person_profiles (id TEXT PRIMARY KEY) WITHOUT ROWID`,
		`DELETE FROM person_profiles`,
	} {
		if _, err := q.ExecContext(ctx, stmt); err != nil {
			return "", storeError(err)
		}
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO person_profiles SELECT ? UNION SELECT id FROM profiles WHERE merged_into = ?`, root, root); err != nil {
		return "", storeError(err)
	}
	return root, nil
}

// EraseProfile removes a person. See inlet.PrivacyStore.
//
// It runs on the one write connection, so intake waits for it and no
// batch runs beside it; the session cache is cleared before the commit,
// and a batch that began before caches nothing (SessionCache.PutIf). With
// secure_delete the freed bytes are overwritten, and a checkpoint that
// truncates the log leaves them in neither the database file nor its WAL.
func (db *DB) EraseProfile(ctx context.Context, profileID string, now time.Time) (_ *inlet.Erasure, err error) {
	defer db.audit(&ctx, "profile.erase", inlet.AuditProfile, profileID, nil, &err)()
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return nil, storeError(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, storeError(err)
	}
	defer tx.Rollback()
	if _, err := person(ctx, tx, profileID); err != nil {
		return nil, err
	}
	var ids []inlet.Identifier
	rows, err := tx.QueryContext(ctx, `SELECT kind, value FROM identifiers WHERE profile_id IN (SELECT id FROM person_profiles) ORDER BY kind, value`)
	if err != nil {
		return nil, storeError(err)
	}
	for rows.Next() {
		var id inlet.Identifier
		if err := rows.Scan(&id.Kind, &id.Value); err != nil {
			rows.Close()
			return nil, storeError(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, storeError(err)
	}
	var profiles []string
	rows, err = tx.QueryContext(ctx, `SELECT id FROM person_profiles ORDER BY id`)
	if err != nil {
		return nil, storeError(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, storeError(err)
		}
		profiles = append(profiles, id)
	}
	rows.Close()

	e := &inlet.Erasure{At: now.UTC()}
	steps := []struct {
		n     *int
		query string
	}{
		// Children first: they are found through the events and sessions.
		{&e.Deliveries, `DELETE FROM deliveries WHERE event_id IN (` + personEvents + `)`},
		{&e.DedupKeys, `DELETE FROM dedup_keys WHERE event_id IN (` + personEvents + `)`},
		{&e.Events, `DELETE FROM events WHERE id IN (` + personEvents + `)`},
		{&e.Sessions, `DELETE FROM sessions WHERE id IN (` + personSessions + `)`},
		{&e.Identifiers, `DELETE FROM identifiers WHERE profile_id IN (SELECT id FROM person_profiles)`},
		{&e.Traits, `DELETE FROM traits WHERE profile_id IN (SELECT id FROM person_profiles)`},
		{&e.Profiles, `DELETE FROM profiles WHERE id IN (SELECT id FROM person_profiles)`},
	}
	for _, st := range steps {
		res, err := tx.ExecContext(ctx, st.query)
		if err != nil {
			return nil, storeError(err)
		}
		n, _ := res.RowsAffected()
		*st.n = int(n)
	}
	for _, id := range ids {
		res, err := tx.ExecContext(ctx, `DELETE FROM rejections WHERE instr(CAST(body AS TEXT), ?1) > 0 OR instr(headers, ?1) > 0
			OR instr(query, ?1) > 0 OR instr(path, ?1) > 0`, id.Value)
		if err != nil {
			return nil, storeError(err)
		}
		n, _ := res.RowsAffected()
		e.Rejections += int(n)
	}
	counts, _ := json.Marshal(e)
	if _, err := tx.ExecContext(ctx, `INSERT INTO erasures (at, counts, token) VALUES (?, ?, ?)`, now.UnixNano(), string(counts), inlet.ActorFrom(ctx).Token); err != nil {
		return nil, storeError(err)
	}
	// The notice for the destinations that asked for one, in the log.
	var notify bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM destinations WHERE erasure_notices)`).Scan(&notify); err != nil {
		return nil, storeError(err)
	}
	if notify {
		n := inlet.ErasureNotice(profiles, ids, now.UTC())
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (seq, id, type, inserted_at, source_id, properties, context) VALUES (?, ?, ?, ?, ?, ?, '{}')`,
			db.takeSeqs(1), n.ID, n.Type, n.InsertedAt.UnixNano(), n.SourceID, string(n.Properties)); err != nil {
			return nil, storeError(err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM person_profiles`); err != nil {
		return nil, storeError(err)
	}
	// No batch runs beside this transaction (one write connection): the
	// next one finds the cache empty.
	db.sessions.Clear()
	if err := db.writeAudit(ctx, tx); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, storeError(err)
	}
	db.truncateLog(ctx, conn)
	return e, nil
}

// truncateLog copies the log into the database file and truncates it, so
// that the pages an erasure overwrote are gone from the log as well. A
// reader holding an old snapshot can keep it from completing: it is tried
// a few times, then left to the next checkpoint.
func (db *DB) truncateLog(ctx context.Context, conn *sql.Conn) {
	for range 20 {
		var busy, frames, done int
		if err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &done); err == nil && busy == 0 {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// ExportProfile writes every record of a person. See inlet.PrivacyStore.
func (db *DB) ExportProfile(ctx context.Context, profileID string, emit func(inlet.PersonRecord) error) error {
	conn, err := db.read.Conn(ctx)
	if err != nil {
		return storeError(err)
	}
	defer conn.Close()
	// The read connections are query_only: the temporary table of the
	// person's profiles is the one thing written, in temp storage.
	if _, err := conn.ExecContext(ctx, `PRAGMA query_only = 0`); err != nil {
		return storeError(err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA query_only = 1`)
	// A deferred transaction (ReadOnly): one snapshot, and no write lock
	// taken from intake.
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return storeError(err)
	}
	defer tx.Rollback()
	root, err := person(ctx, tx, profileID)
	if err != nil {
		return err
	}
	p, err := findProfile(ctx, tx, root)
	if err != nil {
		return err
	}
	if err := emit(inlet.PersonRecord{Kind: "profile", Data: p}); err != nil {
		return err
	}
	var sessions []string
	rows, err := tx.QueryContext(ctx, personSessions+` ORDER BY id`)
	if err != nil {
		return storeError(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return storeError(err)
		}
		sessions = append(sessions, id)
	}
	rows.Close()
	for _, id := range sessions {
		s, err := findSession(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := emit(inlet.PersonRecord{Kind: "session", Data: s}); err != nil {
			return err
		}
	}
	rows, err = tx.QueryContext(ctx, selectEvent+` WHERE id IN (`+personEvents+`) ORDER BY seq`)
	if err != nil {
		return storeError(err)
	}
	defer rows.Close()
	for rows.Next() {
		e, _, err := scanEvent(rows)
		if err != nil {
			return err
		}
		if err := emit(inlet.PersonRecord{Kind: "event", Data: e}); err != nil {
			return err
		}
	}
	return storeError(rows.Err())
}

// HashKey returns the installation's key, made at the first call and
// stored sealed. See inlet.SuppressionStore.
func (db *DB) HashKey(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	// The insert does nothing when there is a key already.
	if _, err := db.write.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('hash_key', ?) ON CONFLICT (name) DO NOTHING`,
		db.secrets.SealSetting("hash_key", base64.StdEncoding.EncodeToString(fresh))); err != nil {
		return nil, storeError(err)
	}
	var v string
	if err := db.write.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'hash_key'`).Scan(&v); err != nil {
		return nil, storeError(err)
	}
	return inlet.DecodeHashKey(db.secrets, v)
}

// Suppress adds suppressions. See inlet.SuppressionStore.
func (db *DB) Suppress(ctx context.Context, hashes []string, now time.Time) (err error) {
	defer db.audit(&ctx, "suppression.create", inlet.AuditSuppression, "", inlet.SuppressDetail(hashes), &err)()
	return storeError(db.configTx(ctx, func(tx *sql.Tx) error {
		for _, h := range hashes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO suppressions (hash, created_at) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING`, h, now.UnixNano()); err != nil {
				return err
			}
		}
		return nil
	}))
}

// Unsuppress lifts a suppression. See inlet.SuppressionStore.
func (db *DB) Unsuppress(ctx context.Context, hash string) (_ bool, err error) {
	defer db.audit(&ctx, "suppression.lift", inlet.AuditSuppression, hash, nil, &err)()
	var n int64
	err = db.configTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM suppressions WHERE hash = ?`, hash)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n > 0, storeError(err)
}

// Suppressions returns every suppression. See inlet.SuppressionStore.
func (db *DB) Suppressions(ctx context.Context) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT hash FROM suppressions`)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, storeError(err)
		}
		out = append(out, h)
	}
	return out, storeError(rows.Err())
}
