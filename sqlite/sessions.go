package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"inlet"
)

// FindSession returns a session; its last-seen time and event count come
// from its events. See inlet.SessionStore.
func (db *DB) FindSession(ctx context.Context, id string) (*inlet.Session, error) {
	return findSession(ctx, db.read, id)
}

func findSession(ctx context.Context, q rowQuerier, id string) (*inlet.Session, error) {
	var s inlet.Session
	var created int64
	var last sql.NullInt64
	err := q.QueryRowContext(ctx, `
		SELECT s.id, s.profile_id, s.created_at,
			(SELECT count(*) FROM events WHERE session_id = s.id),
			(SELECT inserted_at FROM events WHERE session_id = s.id ORDER BY seq DESC LIMIT 1)
		FROM sessions s WHERE s.id = ?`, id).Scan(&s.ID, &s.ProfileID, &created, &s.EventCount, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "session %q not found", id)
	} else if err != nil {
		return nil, storeError(err)
	}
	s.FirstSeen = time.Unix(0, created).UTC()
	s.LastSeen = s.FirstSeen
	if last.Valid {
		s.LastSeen = time.Unix(0, last.Int64).UTC()
	}
	return &s, nil
}
