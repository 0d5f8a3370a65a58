package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"inlet"
	"inlet/jsonpath"
)

var _ inlet.ProfileStore = (*DB)(nil)

// lockIdentity takes the transaction-scoped lock of identity resolution
// when the batch has identities. It comes first in the transaction, before
// any row lock, so that batches waiting for it hold nothing another
// batch's merge needs: the same new identifier arriving on two nodes at
// once is resolved one after the other, into one profile.
func lockIdentity(ctx context.Context, tx pgx.Tx, intakes []inlet.Intake) error {
	for i := range intakes {
		if intakes[i].Identity != nil {
			_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`, "identity")
			return err
		}
	}
	return nil
}

// The methods of inlet.IdentityTx on Append's transaction. Identity
// resolution is serialised across nodes by an advisory lock that the
// transaction takes before anything else (see lockIdentity).

func (t appendTx) EnsureProfile(ctx context.Context, id string, at time.Time) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO profiles (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, id, at)
	return err
}

func (t appendTx) ProfileInfo(ctx context.Context, id string) (time.Time, string, bool, error) {
	var created time.Time
	var into *string
	err := t.tx.QueryRow(ctx, `SELECT created_at, merged_into FROM profiles WHERE id = $1`, id).Scan(&created, &into)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, "", false, nil
	} else if err != nil {
		return time.Time{}, "", false, err
	}
	if into == nil {
		return created, "", true, nil
	}
	return created, *into, true, nil
}

func (t appendTx) IdentifierOwner(ctx context.Context, id inlet.Identifier) (string, error) {
	var owner string
	err := t.tx.QueryRow(ctx, `SELECT profile_id FROM identifiers WHERE kind = $1 AND value = $2`, id.Kind, id.Value).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return owner, err
}

func (t appendTx) ClaimIdentifier(ctx context.Context, id inlet.Identifier, profile string, at time.Time) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO identifiers (kind, value, profile_id, created_at) VALUES ($1, $2, $3, $4)`,
		id.Kind, id.Value, profile, at)
	return err
}

func (t appendTx) Merge(ctx context.Context, alias, survivor string) ([]string, error) {
	for _, q := range []string{
		`UPDATE profiles SET merged_into = $2 WHERE id = $1 OR merged_into = $1`,
		`UPDATE identifiers SET profile_id = $2 WHERE profile_id = $1`,
		`INSERT INTO traits (profile_id, name, value, written_at)
			SELECT $2, name, value, written_at FROM traits WHERE profile_id = $1
			ON CONFLICT (profile_id, name) DO UPDATE SET value = excluded.value, written_at = excluded.written_at
			WHERE excluded.written_at > traits.written_at`,
		`DELETE FROM traits WHERE profile_id = $1 AND $2::text IS NOT NULL`,
	} {
		if _, err := t.tx.Exec(ctx, q, alias, survivor); err != nil {
			return nil, fmt.Errorf("merge %s into %s: %w", alias, survivor, err)
		}
	}
	rows, err := t.tx.Query(ctx, `UPDATE sessions SET profile_id = $2 WHERE profile_id = $1 RETURNING id`, alias, survivor)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (t appendTx) DropProfile(ctx context.Context, id string) error {
	_, err := t.tx.Exec(ctx, `DELETE FROM profiles WHERE id = $1`, id)
	return err
}

func (t appendTx) SetTraits(ctx context.Context, profile string, traits []inlet.Trait, at time.Time) error {
	var b pgx.Batch
	for _, tr := range traits {
		b.Queue(`
			INSERT INTO traits (profile_id, name, value, written_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (profile_id, name) DO UPDATE SET value = excluded.value, written_at = excluded.written_at
			WHERE excluded.written_at >= traits.written_at`, profile, tr.Name, string(tr.Value), at)
	}
	return t.tx.SendBatch(ctx, &b).Close()
}

// FindProfile returns a profile, or an alias's survivor, with counts and
// times over the profile and its aliases. See inlet.SessionStore.
func (db *DB) FindProfile(ctx context.Context, id string) (*inlet.Profile, error) {
	return findProfile(ctx, db.pool, id)
}

// reader is the pool or a transaction, read from.
type reader interface {
	querier
	rowQuerier
}

func findProfile(ctx context.Context, q reader, id string) (*inlet.Profile, error) {
	var into *string
	err := q.QueryRow(ctx, `SELECT merged_into FROM profiles WHERE id = $1`, id).Scan(&into)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "profile %q not found", id)
	} else if err != nil {
		return nil, storeError(err)
	}
	p := &inlet.Profile{ID: id, Traits: map[string]json.RawMessage{}, Identifiers: []inlet.Identifier{}, Aliases: []string{}}
	if into != nil {
		p.ID, p.MergedInto = *into, *into
	}
	family, err := profileFamily(ctx, q, p.ID)
	if err != nil {
		return nil, err
	}
	p.Aliases = append(p.Aliases, family[1:]...)
	slices.Sort(p.Aliases)

	var last *time.Time
	err = q.QueryRow(ctx, `
		SELECT (SELECT min(created_at) FROM profiles WHERE id = ANY($1)),
			(SELECT count(*) FROM events WHERE profile_id = ANY($1)),
			(SELECT max(inserted_at) FROM events WHERE profile_id = ANY($1)),
			(SELECT count(*) FROM sessions WHERE profile_id = ANY($1))`, family).Scan(&p.FirstSeen, &p.EventCount, &last, &p.SessionCount)
	if err != nil {
		return nil, storeError(err)
	}
	p.FirstSeen = p.FirstSeen.UTC()
	p.LastSeen = p.FirstSeen
	if last != nil && last.After(p.FirstSeen) {
		p.LastSeen = last.UTC()
	}

	rows, err := q.Query(ctx, `SELECT name, value::text FROM traits WHERE profile_id = $1 ORDER BY name`, p.ID)
	if err != nil {
		return nil, storeError(err)
	}
	var name, value string
	if _, err := pgx.ForEachRow(rows, []any{&name, &value}, func() error {
		p.Traits[name] = json.RawMessage(value)
		return nil
	}); err != nil {
		return nil, storeError(err)
	}
	rows, err = q.Query(ctx, `SELECT kind, value FROM identifiers WHERE profile_id = $1 ORDER BY kind, value`, p.ID)
	if err != nil {
		return nil, storeError(err)
	}
	var ident inlet.Identifier
	if _, err := pgx.ForEachRow(rows, []any{&ident.Kind, &ident.Value}, func() error {
		p.Identifiers = append(p.Identifiers, ident)
		return nil
	}); err != nil {
		return nil, storeError(err)
	}
	return p, nil
}

// FindProfileByIdentifier returns the profile that owns an identifier. See
// inlet.ProfileStore.
func (db *DB) FindProfileByIdentifier(ctx context.Context, id inlet.Identifier) (*inlet.Profile, error) {
	var owner string
	err := db.pool.QueryRow(ctx, `SELECT profile_id FROM identifiers WHERE kind = $1 AND value = $2`,
		id.Kind, jsonpath.Normalize(id.Kind, id.Value)).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "no profile has identifier %s:%s", id.Kind, id.Value)
	} else if err != nil {
		return nil, storeError(err)
	}
	return db.FindProfile(ctx, owner)
}

// profileFamily returns the profile that id resolves to, followed by the
// profiles merged into it; an unknown id is its own family.
func profileFamily(ctx context.Context, q querier, id string) ([]string, error) {
	rows, err := q.Query(ctx, `
		WITH root AS (SELECT coalesce((SELECT merged_into FROM profiles WHERE id = $1), $1::text) AS id)
		SELECT id FROM root
		UNION ALL
		(SELECT p.id FROM profiles p, root WHERE p.merged_into = root.id ORDER BY p.id)`, id)
	if err != nil {
		return nil, storeError(err)
	}
	family, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return family, storeError(err)
}

// warningsArg returns an event's warnings as stored: NULL when it has none.
func warningsArg(warnings []string) any {
	if len(warnings) == 0 {
		return nil
	}
	b, _ := json.Marshal(warnings)
	return b
}
