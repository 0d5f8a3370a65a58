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
	return findSession(ctx, db.pool, id)
}

func findSession(ctx context.Context, q rowQuerier, id string) (*inlet.Session, error) {
	var s inlet.Session
	var last *time.Time
	err := q.QueryRow(ctx, `
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
