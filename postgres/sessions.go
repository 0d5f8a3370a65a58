package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"inlet"
)

// FindSession returns a session; its last-seen time and event count come
// from its events. See inlet.SessionStore.
func (db *DB) FindSession(ctx context.Context, id string) (*inlet.Session, error) {
	var s inlet.Session
	var last *time.Time
	err := db.pool.QueryRow(ctx, `
		SELECT s.id, s.profile_id, s.created_at,
			(SELECT count(*) FROM events WHERE session_id = s.id),
			(SELECT max(inserted_at) FROM events WHERE session_id = s.id)
		FROM sessions s WHERE s.id = $1`, id).Scan(&s.ID, &s.ProfileID, &s.FirstSeen, &s.EventCount, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "session %q not found", id)
	} else if err != nil {
		return nil, storeError(err)
	}
	s.FirstSeen = s.FirstSeen.UTC()
	s.LastSeen = s.FirstSeen
	if last != nil {
		s.LastSeen = last.UTC()
	}
	return &s, nil
}

// FindProfile returns a profile; its counts and last-seen time come from
// its events and sessions. See inlet.SessionStore.
func (db *DB) FindProfile(ctx context.Context, id string) (*inlet.Profile, error) {
	var p inlet.Profile
	var last *time.Time
	err := db.pool.QueryRow(ctx, `
		SELECT p.id, p.created_at,
			(SELECT count(*) FROM events WHERE profile_id = p.id),
			(SELECT max(inserted_at) FROM events WHERE profile_id = p.id),
			(SELECT count(*) FROM sessions WHERE profile_id = p.id)
		FROM profiles p WHERE p.id = $1`, id).Scan(&p.ID, &p.FirstSeen, &p.EventCount, &last, &p.SessionCount)
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
