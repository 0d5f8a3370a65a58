package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"inlet"
)

// FindSession returns a session. See inlet.SessionStore.
func (db *DB) FindSession(ctx context.Context, id string) (*inlet.Session, error) {
	var s inlet.Session
	err := db.pool.QueryRow(ctx, `SELECT id, profile_id, first_seen, last_seen, event_count FROM sessions WHERE id = $1`, id).
		Scan(&s.ID, &s.ProfileID, &s.FirstSeen, &s.LastSeen, &s.EventCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "session %q not found", id)
	} else if err != nil {
		return nil, storeError(err)
	}
	s.FirstSeen, s.LastSeen = s.FirstSeen.UTC(), s.LastSeen.UTC()
	return &s, nil
}

// FindProfile returns a profile; its counts and last-seen time come from
// its sessions, which count every event linked to it. See
// inlet.SessionStore.
func (db *DB) FindProfile(ctx context.Context, id string) (*inlet.Profile, error) {
	var p inlet.Profile
	var last *time.Time
	err := db.pool.QueryRow(ctx, `
		SELECT p.id, p.created_at, coalesce(sum(s.event_count), 0)::bigint, max(s.last_seen), count(s.id)
		FROM profiles p LEFT JOIN sessions s ON s.profile_id = p.id
		WHERE p.id = $1 GROUP BY p.id, p.created_at`, id).Scan(&p.ID, &p.FirstSeen, &p.EventCount, &last, &p.SessionCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "profile %q not found", id)
	} else if err != nil {
		return nil, storeError(err)
	}
	p.FirstSeen = p.FirstSeen.UTC()
	p.LastSeen = p.FirstSeen
	if last != nil {
		p.LastSeen = last.UTC()
	}
	return &p, nil
}
