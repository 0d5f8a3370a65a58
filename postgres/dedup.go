package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"inlet"
)

// claimKey records an event's idempotency key unless a live one holds it.
// A live key's row is locked all the same (ON CONFLICT DO UPDATE locks the
// row even when its WHERE fails), so that the lookup after it reads the
// holder as committed and no other node can change it until this
// transaction ends. A key being claimed by a transaction in progress on
// another node is waited for.
const claimKey = `
	INSERT INTO dedup_keys (source_id, key, event_id, expires_at) VALUES ($1, $2, $3, $4)
	ON CONFLICT (source_id, key) DO UPDATE SET event_id = excluded.event_id, expires_at = excluded.expires_at
	WHERE dedup_keys.expires_at <= $5
	RETURNING event_id`

// lookupKey reads the event holding a live key.
const lookupKey = `
	SELECT d.event_id, d.expires_at, e.profile_id, e.session_id
	FROM dedup_keys d LEFT JOIN events e ON e.id = d.event_id
	WHERE d.source_id = $1 AND d.key = $2`

// purgeKeys deletes a bounded number of expired keys, skipping those that
// other transactions hold, so that nodes purging at once never wait.
const purgeKeys = `
	DELETE FROM dedup_keys WHERE (source_id, key) IN (
		SELECT source_id, key FROM dedup_keys WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`

// The methods of inlet.DedupTx on Append's transaction. Claims are sent
// in one round trip, in the order Dedup gives them (the same on every
// node).

func (t appendTx) ClaimKeys(ctx context.Context, claims []inlet.KeyClaim) ([]*inlet.KeyHolder, error) {
	holders := make([]*inlet.KeyHolder, len(claims))
	live := make([]bool, len(claims))
	var batch pgx.Batch
	for i, c := range claims {
		batch.Queue(claimKey, c.SourceID, c.Key, c.EventID, c.Until, c.At).QueryRow(func(row pgx.Row) error {
			var id string
			if err := row.Scan(&id); errors.Is(err, pgx.ErrNoRows) {
				live[i] = true // looked up below
				return nil
			} else if err != nil {
				return fmt.Errorf("claim dedup key: %w", err)
			}
			return nil
		})
	}
	if err := t.tx.SendBatch(ctx, &batch).Close(); err != nil {
		return nil, err
	}
	var lookups pgx.Batch
	for i, c := range claims {
		if !live[i] {
			continue
		}
		lookups.Queue(lookupKey, c.SourceID, c.Key).QueryRow(func(row pgx.Row) error {
			var h inlet.KeyHolder
			var profile, session *string
			if err := row.Scan(&h.EventID, &h.Expires, &profile, &session); err != nil {
				return fmt.Errorf("look up dedup key: %w", err)
			}
			if profile != nil {
				h.ProfileID = *profile
			}
			if session != nil {
				h.SessionID = *session
			}
			holders[i] = &h
			return nil
		})
	}
	if lookups.Len() > 0 {
		if err := t.tx.SendBatch(ctx, &lookups).Close(); err != nil {
			return nil, err
		}
	}
	return holders, nil
}

func (t appendTx) ReplaceKey(ctx context.Context, sourceID, key, eventID string, until time.Time) error {
	if _, err := t.tx.Exec(ctx, `UPDATE dedup_keys SET event_id = $3, expires_at = $4 WHERE source_id = $1 AND key = $2`,
		sourceID, key, eventID, until); err != nil {
		return fmt.Errorf("replace dedup key: %w", err)
	}
	return nil
}

func (t appendTx) PurgeKeys(ctx context.Context, at time.Time, limit int) error {
	if _, err := t.tx.Exec(ctx, purgeKeys, at, limit); err != nil {
		return fmt.Errorf("purge dedup keys: %w", err)
	}
	return nil
}
