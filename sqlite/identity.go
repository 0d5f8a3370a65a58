package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"inlet"
	"inlet/jsonpath"
)

var _ inlet.ProfileStore = (*DB)(nil)

// The methods of inlet.IdentityTx on the write transaction: the one
// write connection serialises identity resolution.

func (t appendTx) EnsureProfile(ctx context.Context, id string, at time.Time) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO profiles (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, id, at.UnixNano())
	return err
}

func (t appendTx) ProfileInfo(ctx context.Context, id string) (time.Time, string, bool, error) {
	var created int64
	var into sql.NullString
	err := t.tx.QueryRowContext(ctx, `SELECT created_at, merged_into FROM profiles WHERE id = ?`, id).Scan(&created, &into)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, "", false, nil
	} else if err != nil {
		return time.Time{}, "", false, err
	}
	return time.Unix(0, created), into.String, true, nil
}

func (t appendTx) IdentifierOwner(ctx context.Context, id inlet.Identifier) (string, error) {
	var owner string
	err := t.tx.QueryRowContext(ctx, `SELECT profile_id FROM identifiers WHERE kind = ? AND value = ?`, id.Kind, id.Value).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return owner, err
}

func (t appendTx) ClaimIdentifier(ctx context.Context, id inlet.Identifier, profile string, at time.Time) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO identifiers (kind, value, profile_id, created_at) VALUES (?, ?, ?, ?)`,
		id.Kind, id.Value, profile, at.UnixNano())
	return err
}

func (t appendTx) Merge(ctx context.Context, alias, survivor string) ([]string, error) {
	for _, q := range []string{
		`UPDATE profiles SET merged_into = ?2 WHERE id = ?1 OR merged_into = ?1`,
		`UPDATE identifiers SET profile_id = ?2 WHERE profile_id = ?1`,
		// WHERE true: SQLite's parser needs it before ON CONFLICT.
		`INSERT INTO traits (profile_id, name, value, written_at)
			SELECT ?2, name, value, written_at FROM traits WHERE profile_id = ?1 AND true
			ON CONFLICT (profile_id, name) DO UPDATE SET value = excluded.value, written_at = excluded.written_at
			WHERE excluded.written_at > traits.written_at`,
		`DELETE FROM traits WHERE profile_id = ?1`,
	} {
		if _, err := t.tx.ExecContext(ctx, q, alias, survivor); err != nil {
			return nil, fmt.Errorf("merge %s into %s: %w", alias, survivor, err)
		}
	}
	rows, err := t.tx.QueryContext(ctx, `UPDATE sessions SET profile_id = ?2 WHERE profile_id = ?1 RETURNING id`, alias, survivor)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var moved []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		moved = append(moved, id)
	}
	return moved, rows.Err()
}

func (t appendTx) DropProfile(ctx context.Context, id string) error {
	_, err := t.tx.ExecContext(ctx, `DELETE FROM profiles WHERE id = ?`, id)
	return err
}

func (t appendTx) SetTraits(ctx context.Context, profile string, traits []inlet.Trait, at time.Time) error {
	for _, tr := range traits {
		if _, err := t.tx.ExecContext(ctx, `
			INSERT INTO traits (profile_id, name, value, written_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (profile_id, name) DO UPDATE SET value = excluded.value, written_at = excluded.written_at
			WHERE excluded.written_at >= traits.written_at`, profile, tr.Name, string(tr.Value), at.UnixNano()); err != nil {
			return err
		}
	}
	return nil
}

// FindProfile returns a profile, or an alias's survivor, with counts and
// times over the profile and its aliases. See inlet.SessionStore.
func (db *DB) FindProfile(ctx context.Context, id string) (*inlet.Profile, error) {
	return findProfile(ctx, db.read, id)
}

// reader is a pool or a transaction, read from.
type reader interface {
	querier
	rowQuerier
}

func findProfile(ctx context.Context, q reader, id string) (*inlet.Profile, error) {
	var into sql.NullString
	err := q.QueryRowContext(ctx, `SELECT merged_into FROM profiles WHERE id = ?`, id).Scan(&into)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "profile %q not found", id)
	} else if err != nil {
		return nil, storeError(err)
	}
	p := &inlet.Profile{ID: id, MergedInto: into.String, Traits: map[string]json.RawMessage{}, Identifiers: []inlet.Identifier{}, Aliases: []string{}}
	if into.Valid {
		p.ID = into.String
	}
	aliases, err := q.QueryContext(ctx, `SELECT id FROM profiles WHERE merged_into = ? ORDER BY id`, p.ID)
	if err != nil {
		return nil, storeError(err)
	}
	for aliases.Next() {
		var a string
		if err := aliases.Scan(&a); err != nil {
			aliases.Close()
			return nil, storeError(err)
		}
		p.Aliases = append(p.Aliases, a)
	}
	if err := aliases.Close(); err != nil {
		return nil, storeError(err)
	}

	var created int64
	var last sql.NullInt64
	err = q.QueryRowContext(ctx, `
		SELECT (SELECT min(created_at) FROM profiles WHERE id IN `+familySQL+`),
			(SELECT count(*) FROM events WHERE profile_id IN `+familySQL+`),
			(SELECT max(inserted_at) FROM events WHERE profile_id IN `+familySQL+`),
			(SELECT count(*) FROM sessions WHERE profile_id IN `+familySQL+`)`,
		p.ID, p.ID, p.ID, p.ID, p.ID, p.ID, p.ID, p.ID).Scan(&created, &p.EventCount, &last, &p.SessionCount)
	if err != nil {
		return nil, storeError(err)
	}
	p.FirstSeen = time.Unix(0, created).UTC()
	p.LastSeen = p.FirstSeen
	if last.Valid && last.Int64 > created {
		p.LastSeen = time.Unix(0, last.Int64).UTC()
	}

	rows, err := q.QueryContext(ctx, `SELECT name, value FROM traits WHERE profile_id = ? ORDER BY name`, p.ID)
	if err != nil {
		return nil, storeError(err)
	}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			rows.Close()
			return nil, storeError(err)
		}
		p.Traits[name] = json.RawMessage(value)
	}
	if err := rows.Close(); err != nil {
		return nil, storeError(err)
	}
	rows, err = q.QueryContext(ctx, `SELECT kind, value FROM identifiers WHERE profile_id = ? ORDER BY kind, value`, p.ID)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var ident inlet.Identifier
		if err := rows.Scan(&ident.Kind, &ident.Value); err != nil {
			return nil, storeError(err)
		}
		p.Identifiers = append(p.Identifiers, ident)
	}
	return p, storeError(rows.Err())
}

// FindProfileByIdentifier returns the profile that owns an identifier. See
// inlet.ProfileStore.
func (db *DB) FindProfileByIdentifier(ctx context.Context, id inlet.Identifier) (*inlet.Profile, error) {
	var owner string
	err := db.read.QueryRowContext(ctx, `SELECT profile_id FROM identifiers WHERE kind = ? AND value = ?`,
		id.Kind, jsonpath.Normalize(id.Kind, id.Value)).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "no profile has identifier %s:%s", id.Kind, id.Value)
	} else if err != nil {
		return nil, storeError(err)
	}
	return db.FindProfile(ctx, owner)
}

// familySQL selects a survivor's id (the first argument) and the ids of
// the profiles merged into it (the second, the same id).
const familySQL = `(SELECT ? UNION ALL SELECT id FROM profiles WHERE merged_into = ?)`

// profileRoot returns the survivor that id resolves to (itself unless it
// was merged) and whether other profiles were merged into that one.
func (db *DB) profileRoot(ctx context.Context, id string) (string, bool, error) {
	var root string
	var aliases bool
	err := db.read.QueryRowContext(ctx, `
		WITH root AS (SELECT coalesce((SELECT merged_into FROM profiles WHERE id = ?1), ?1) AS id)
		SELECT root.id, EXISTS (SELECT 1 FROM profiles p WHERE p.merged_into = root.id) FROM root`, id).Scan(&root, &aliases)
	if err != nil {
		return "", false, storeError(err)
	}
	return root, aliases, nil
}

// warningsArg returns an event's warnings as stored: NULL when it has none.
func warningsArg(warnings []string) any {
	if len(warnings) == 0 {
		return nil
	}
	b, _ := json.Marshal(warnings)
	return string(b)
}
