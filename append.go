package inlet

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// AppendStore is what Append needs from a store: the transaction of one
// batch, begun the way the store serialises its writers.
type AppendStore interface {
	// BeginAppend begins the transaction that appends intakes, taking the
	// locks the batch needs before any step reads (a store whose writers
	// run beside each other serialises identity resolution here), and
	// returns it with the epoch of the session cache that the batch may
	// cache under (see SessionCache.PutIf): the epoch at its beginning, or,
	// where erasures run on other nodes, once it has observed them.
	BeginAppend(ctx context.Context, intakes []Intake) (tx AppendTx, epoch int64, err error)
}

// AppendTx is the transaction of one Append, in which a store supplies the
// SQL of each step: idempotency keys (DedupTx), sessions, identities
// (IdentityTx) and the events.
type AppendTx interface {
	DedupTx
	IdentityTx
	// UpsertSessions creates each claimed session that does not exist,
	// with its proposed profile, and returns the profile of each claim in
	// order: the proposed one when the session was created. Claims are of
	// distinct sessions; a store whose batches run beside each other
	// upserts them in one order on every node, so that two batches sharing
	// sessions cannot deadlock.
	UpsertSessions(ctx context.Context, claims []SessionClaim) ([]string, error)
	// InsertProfiles creates the proposed profiles of the sessions that
	// UpsertSessions created, as of each claim's At.
	InsertProfiles(ctx context.Context, claims []SessionClaim) error
	// InsertEvents writes b.Events, in order, with their resolved profiles.
	InsertEvents(ctx context.Context, b *AppendBatch) error
	// Commit commits the batch; Rollback undoes it unless it committed.
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// SessionClaim is a session that a batch links events to and that the
// session cache does not know.
type SessionClaim struct {
	// ID is the session's id; Profile the id of a new profile, proposed
	// for the session if it is new.
	ID, Profile string
	// At is the earliest insertion time of the batch's events in the
	// session: the session's and its new profile's creation time.
	At time.Time
}

// Append stores a batch of intakes in one transaction of s, in the steps
// every store takes: idempotency keys, sessions, identities, events. It
// implements EventStore.Append for every store: an invalid intake is
// EINVALID and an event id twice in the batch ECONFLICT, before the
// transaction begins; the other errors are the store's, for it to
// translate. Once committed, cache knows the batch's sessions.
func Append(ctx context.Context, s AppendStore, cache *SessionCache, intakes []Intake) ([]Appended, error) {
	if len(intakes) == 0 {
		return nil, nil
	}
	if err := CheckIntakes(intakes); err != nil {
		return nil, err
	}
	if err := checkBatchIDs(intakes); err != nil {
		return nil, err
	}
	tx, epoch, err := s.BeginAppend(ctx, intakes)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	dups, err := Dedup(ctx, tx, intakes)
	if err != nil {
		return nil, err
	}
	b := newAppendBatch(intakes, dups)
	claims, profiles, err := b.resolveSessions(ctx, tx, cache)
	if err != nil {
		return nil, err
	}
	identities, err := b.resolveIdentities(ctx, tx)
	if err != nil {
		return nil, err
	}
	if err := tx.InsertEvents(ctx, b); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	// An erasure clears the cache; a batch that began before it caches
	// nothing it read (it may have linked a session the erasure removed).
	for i, c := range claims {
		cache.PutIf(epoch, c.ID, identities.Survivor(profiles[i]))
	}
	if identities != nil {
		for _, id := range identities.MovedSessions {
			cache.Forget(id)
		}
	}
	return b.results(), nil
}

// checkBatchIDs refuses a batch that holds one event id twice: the second
// would fail the batch's insert with a conflict anyway.
func checkBatchIDs(intakes []Intake) error {
	if len(intakes) < 2 {
		return nil
	}
	ids := make(map[string]bool, len(intakes))
	for i := range intakes {
		id := intakes[i].Event.ID
		if ids[id] {
			return Errorf(ECONFLICT, "event %s is twice in one batch", id)
		}
		ids[id] = true
	}
	return nil
}

// resolveSessions links each event with a session to that session's
// profile. Known sessions come from the cache; the others are claimed
// once per batch, which creates a session that is new, with a new
// profile. It returns the claims and the profile of each, for the cache
// once committed.
func (b *AppendBatch) resolveSessions(ctx context.Context, tx AppendTx, cache *SessionCache) ([]SessionClaim, []string, error) {
	var claimed map[string]int // session id to its claim
	var claims []SessionClaim
	for _, e := range b.Events {
		if e.SessionID == "" {
			continue
		}
		if i, ok := claimed[e.SessionID]; ok {
			if e.InsertedAt.Before(claims[i].At) {
				claims[i].At = e.InsertedAt
			}
			continue
		}
		if p, ok := cache.Get(e.SessionID); ok {
			e.ProfileID = p
			continue
		}
		if claimed == nil {
			claimed = make(map[string]int)
		}
		claimed[e.SessionID] = len(claims)
		claims = append(claims, SessionClaim{ID: e.SessionID, Profile: NewID(), At: e.InsertedAt})
	}
	if len(claims) == 0 {
		return nil, nil, nil
	}
	profiles, err := tx.UpsertSessions(ctx, claims)
	if err != nil {
		return nil, nil, err
	}
	var created []SessionClaim
	for i, c := range claims {
		if profiles[i] == c.Profile {
			created = append(created, c)
		}
	}
	if len(created) > 0 {
		if err := tx.InsertProfiles(ctx, created); err != nil {
			return nil, nil, err
		}
	}
	for k, e := range b.Events {
		if i, ok := claimed[e.SessionID]; ok {
			e.ProfileID, b.NewSession[k] = profiles[i], profiles[i] == claims[i].Profile
		}
	}
	return claims, profiles, nil
}

// resolveIdentities resolves the identities of a batch (see
// ResolveIdentities) after its sessions, and points its events at their
// final profiles. It does nothing, and returns nil, for a batch without
// identities.
func (b *AppendBatch) resolveIdentities(ctx context.Context, tx IdentityTx) (*IdentityResult, error) {
	if !b.hasIdentity() {
		return nil, nil
	}
	r, err := ResolveIdentities(ctx, tx, b.Events, b.Identities, func(k int) (string, bool) {
		if b.Events[k].SessionID != "" {
			return b.Events[k].ProfileID, b.NewSession[k] // as resolveSessions set them
		}
		return "", false
	})
	if err != nil {
		return nil, fmt.Errorf("resolve identities: %w", err)
	}
	for k, e := range b.Events {
		e.ProfileID = r.ProfileOf(k, e.ProfileID)
	}
	b.Merged = r.Merged
	return r, nil
}

// AppendBatch is the working state of one Append, which AppendTx's steps
// see: the events to store are copies of the intakes' events, so that
// Append never writes into its input, and its answer is built from what
// the steps resolved into them.
type AppendBatch struct {
	Intakes []Intake
	// Dups has an entry per intake (see Dedup), or is nil.
	Dups []Duplicate
	// Events are the events to store, in intake order without duplicates;
	// Identities[k] and NewSession[k] belong to Events[k], which is
	// Intakes[Index[k]]. Append sets each event's final ProfileID.
	Events     []*Event
	Identities []*Identity
	NewSession []bool
	Index      []int
	// Merged counts, by index into Events, the profiles merged into each
	// event's profile, from IdentityResult.Merged.
	Merged map[int]int
}

// newAppendBatch returns the batch of intakes without the duplicates that
// Dedup found.
func newAppendBatch(intakes []Intake, dups []Duplicate) *AppendBatch {
	n := len(intakes)
	b := &AppendBatch{Intakes: intakes, Dups: dups}
	events := make([]Event, 0, n)
	b.Events, b.Identities, b.Index = make([]*Event, 0, n), make([]*Identity, 0, n), make([]int, 0, n)
	for i := range intakes {
		if dups != nil && dups[i].Of != "" {
			continue
		}
		events = append(events, intakes[i].Event)
		b.Events = append(b.Events, &events[len(events)-1])
		b.Identities = append(b.Identities, intakes[i].Identity)
		b.Index = append(b.Index, i)
	}
	b.NewSession = make([]bool, len(b.Events))
	return b
}

// ContextJSON returns Events[k].Context as JSON: as its intake brought it
// (Intake.ContextJSON), or encoded now.
func (b *AppendBatch) ContextJSON(k int) ([]byte, error) {
	if c := b.Intakes[b.Index[k]].ContextJSON; c != nil {
		return c, nil
	}
	return json.Marshal(&b.Events[k].Context)
}

// hasIdentity reports whether an event of the batch carries an Identity.
func (b *AppendBatch) hasIdentity() bool {
	for _, id := range b.Identities {
		if id != nil {
			return true
		}
	}
	return false
}

// results returns the answer of Append, once the batch is committed.
func (b *AppendBatch) results() []Appended {
	out := make([]Appended, len(b.Intakes))
	stored := make(map[int]int, len(b.Events)) // intake index to event index
	for k, e := range b.Events {
		i := b.Index[k]
		stored[i] = k
		out[i] = Appended{EventID: e.ID, SessionID: e.SessionID, ProfileID: e.ProfileID, NewSession: b.NewSession[k], Merged: b.Merged[k]}
	}
	for i, d := range b.Dups {
		if d.Of == "" {
			continue
		}
		out[i] = Appended{EventID: d.Of, Duplicate: true, SessionID: d.SessionID, ProfileID: d.ProfileID}
		if d.Original >= 0 {
			o := b.Events[stored[d.Original]]
			out[i].SessionID, out[i].ProfileID = o.SessionID, o.ProfileID
		}
	}
	return out
}
