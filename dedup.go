package inlet

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// KeyClaim asks DedupTx.ClaimKeys to record EventID as the holder of an
// idempotency key until Until, unless a holder whose key is live at At
// exists.
type KeyClaim struct {
	SourceID, Key, EventID string
	Until, At              time.Time
}

// KeyHolder is the stored event that holds an idempotency key.
type KeyHolder struct {
	EventID              string
	Expires              time.Time
	ProfileID, SessionID string
}

// DedupTx is what deduplication needs from a store, inside the transaction
// that appends the events. Stores must make a claim and its lookup atomic
// against other transactions (one writer, or row locks held until commit).
type DedupTx interface {
	// ClaimKeys handles claims in order: each records its event as the
	// holder of its key when the key is unknown or expired at the claim's
	// At, and the answer is then nil; otherwise nothing changes and the
	// answer is the live holder. Keys of one call are distinct.
	ClaimKeys(ctx context.Context, claims []KeyClaim) ([]*KeyHolder, error)
	// ReplaceKey makes eventID the holder of a key until until.
	ReplaceKey(ctx context.Context, sourceID, key, eventID string, until time.Time) error
	// PurgeKeys deletes at most limit keys expired at t.
	PurgeKeys(ctx context.Context, t time.Time, limit int) error
}

// Duplicate is what an intake that repeats a live idempotency key repeats.
type Duplicate struct {
	// Of is the id of the stored event; "" when the intake is no duplicate.
	Of string
	// Original is the index of that event in the batch, or -1 when it was
	// stored before the batch; ProfileID and SessionID are then its own.
	Original             int
	ProfileID, SessionID string
}

// Dedup applies the idempotency keys of a batch inside Append's
// transaction: an intake whose (source, key) is held by an event whose key
// is live at the intake's time is a duplicate of that event and is not
// stored; otherwise it takes the key. This holds between intakes of one
// batch, between concurrent batches and across restarts. The answer has an
// entry per intake, or is nil when no intake has a key. Keys are claimed
// in one order on every node, so that batches sharing keys cannot
// deadlock, and expired keys are purged in bounded batches.
func Dedup(ctx context.Context, tx DedupTx, intakes []Intake) ([]Duplicate, error) {
	type batchKey struct{ source, key string }
	groups := map[batchKey][]int{}
	var keys []batchKey
	earliest := intakes[0].Event.InsertedAt
	for i := range intakes {
		in := &intakes[i]
		if in.Event.InsertedAt.Before(earliest) {
			earliest = in.Event.InsertedAt
		}
		if in.DedupKey == "" {
			continue
		}
		k := batchKey{in.Event.SourceID, in.DedupKey}
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], i)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	slices.SortFunc(keys, func(a, b batchKey) int { return cmp.Or(cmp.Compare(a.source, b.source), cmp.Compare(a.key, b.key)) })

	// Claim each key for the first intake that carries it.
	claims := make([]KeyClaim, len(keys))
	for i, k := range keys {
		first := &intakes[groups[k][0]]
		claims[i] = KeyClaim{SourceID: k.source, Key: k.key, EventID: first.Event.ID, Until: first.DedupUntil, At: first.Event.InsertedAt}
	}
	holders, err := tx.ClaimKeys(ctx, claims)
	if err != nil {
		return nil, err
	}

	// Walk each key's intakes in batch order: one within the holder's
	// window repeats it; one past it takes the key over.
	dups := make([]Duplicate, len(intakes))
	for i, k := range keys {
		holder, original := holders[i], -1
		if holder == nil {
			original = groups[k][0]
			holder = &KeyHolder{EventID: claims[i].EventID, Expires: claims[i].Until}
		}
		for _, j := range groups[k] {
			if j == original {
				continue
			}
			in := &intakes[j]
			if holder.Expires.After(in.Event.InsertedAt) {
				dups[j] = Duplicate{Of: holder.EventID, Original: original, ProfileID: holder.ProfileID, SessionID: holder.SessionID}
				continue
			}
			if err := tx.ReplaceKey(ctx, k.source, k.key, in.Event.ID, in.DedupUntil); err != nil {
				return nil, err
			}
			holder, original = &KeyHolder{EventID: in.Event.ID, Expires: in.DedupUntil}, j
		}
	}
	// At most twice as many as this batch claimed, so that the table keeps
	// up with the keys added without one long delete.
	if err := tx.PurgeKeys(ctx, earliest, max(100, 2*len(keys))); err != nil {
		return nil, err
	}
	return dups, nil
}
