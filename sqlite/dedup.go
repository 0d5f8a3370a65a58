package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"inlet"
)

// The methods of inlet.DedupTx on the write transaction: the one write
// connection serialises concurrent batches, so a key is checked and
// recorded atomically with its event.

func (t appendTx) ClaimKeys(ctx context.Context, claims []inlet.KeyClaim) ([]*inlet.KeyHolder, error) {
	lookup, err := t.tx.PrepareContext(ctx, `
		SELECT d.event_id, d.expires_at, e.profile_id, e.session_id
		FROM dedup_keys d LEFT JOIN events e ON e.id = d.event_id
		WHERE d.source_id = ? AND d.key = ?`)
	if err != nil {
		return nil, err
	}
	defer lookup.Close()
	holders := make([]*inlet.KeyHolder, len(claims))
	for i, c := range claims {
		var (
			eventID          string
			expires          int64
			profile, session sql.NullString
		)
		err := lookup.QueryRowContext(ctx, c.SourceID, c.Key).Scan(&eventID, &expires, &profile, &session)
		if err == nil && expires > c.At.UnixNano() {
			holders[i] = &inlet.KeyHolder{EventID: eventID, Expires: time.Unix(0, expires), ProfileID: profile.String, SessionID: session.String}
			continue
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("look up dedup key: %w", err)
		}
		if err := t.ReplaceKey(ctx, c.SourceID, c.Key, c.EventID, c.Until); err != nil {
			return nil, err
		}
	}
	return holders, nil
}

func (t appendTx) ReplaceKey(ctx context.Context, sourceID, key, eventID string, until time.Time) error {
	_, err := t.tx.ExecContext(ctx, `
		INSERT INTO dedup_keys (source_id, key, event_id, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (source_id, key) DO UPDATE SET event_id = excluded.event_id, expires_at = excluded.expires_at`,
		sourceID, key, eventID, until.UnixNano())
	if err != nil {
		return fmt.Errorf("record dedup key: %w", err)
	}
	return nil
}

func (t appendTx) PurgeKeys(ctx context.Context, at time.Time, limit int) error {
	_, err := t.tx.ExecContext(ctx, `
		DELETE FROM dedup_keys WHERE (source_id, key) IN
			(SELECT source_id, key FROM dedup_keys WHERE expires_at <= ? LIMIT ?)`, at.UnixNano(), limit)
	if err != nil {
		return fmt.Errorf("purge dedup keys: %w", err)
	}
	return nil
}
