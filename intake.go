package inlet

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Intake is one event handed to EventStore.Append, with what Append
// resolves in its transaction. Append never writes into it.
type Intake struct {
	// Event is the event to store. A SessionID links it to that session's
	// profile; a ProfileID without a session names its profile directly.
	Event Event

	// Identity, when set, is who the payload says sent the event; Append
	// resolves it to the event's profile (see ResolveIdentities).
	Identity *Identity

	// DedupKey, when set, is the event's idempotency key within its source
	// (a header or property value named by the source's dedup config), and
	// DedupUntil when the key is forgotten.
	DedupKey   string
	DedupUntil time.Time

	// ContextJSON, when set, is Event.Context encoded as JSON, as the
	// stores write it; collect.Build encodes it in the request's handler,
	// so that the store's one writer does not. It must encode
	// Event.Context exactly.
	ContextJSON []byte
}

// Appended is what EventStore.Append made of one Intake.
type Appended struct {
	// EventID is the stored event's id; for a duplicate, the id of the
	// event it repeats, which was stored before.
	EventID string
	// Duplicate tells that the intake repeated a live idempotency key and
	// was not stored.
	Duplicate bool
	// SessionID and ProfileID are the event's session and final profile
	// (for a duplicate, the original's); "" when it has none.
	SessionID string
	ProfileID string
	// NewSession tells that the event's session (and its profile) did not
	// exist before and was created with it.
	NewSession bool
	// Merged is the number of profiles that storing the event merged into
	// its profile (see ResolveIdentities).
	Merged int
}

// Limits of the values that reach a column of their own.
const (
	MaxDedupKeyLength = 512 // bytes of an idempotency key from a header or a path
	MaxHeaderValue    = 8 << 10
)

// CheckValue returns an EINVALID error with the given reason when s cannot
// be stored as a value of its own on every store: a NUL byte, invalid
// UTF-8, or more than max bytes (max 0: no length limit). what names the
// value for the sender, such as "the idempotency key in header Idempotency-Key".
func CheckValue(reason, what, s string, max int) error {
	switch {
	case max > 0 && len(s) > max:
		return Reasonf(EINVALID, reason, "%s is longer than %d bytes", what, max)
	case strings.IndexByte(s, 0) >= 0:
		return Reasonf(EINVALID, reason, "%s contains a NUL byte, which cannot be stored", what)
	case !utf8.ValidString(s):
		return Reasonf(EINVALID, reason, "%s is not valid UTF-8", what)
	}
	return nil
}

// Check returns an EINVALID error when a value of the intake that reaches a
// column of its own cannot be stored on every store: Append's callers
// refuse such a request before it reaches a batch, so that no sender's
// value can fail another sender's commit.
func (in *Intake) Check() error {
	e := &in.Event
	if err := CheckValue("bad_value", "the event id", e.ID, MaxIDLength); err != nil {
		return err
	}
	if t, err := NormalizeEventType(e.Type); err != nil {
		return err
	} else if t != e.Type {
		return Reasonf(EINVALID, "bad_event_type", "event type %q is not in its normal form %q", e.Type, t)
	}
	if !ValidID(e.SourceID) {
		return Reasonf(EINVALID, "bad_source_id", "source id must be 1 to %d characters from A-Z, a-z, 0-9, '-', '_', '.' and ':'", MaxIDLength)
	}
	if e.SessionID != "" {
		if err := ValidateSessionID(e.SessionID); err != nil {
			return err
		}
	}
	if e.ProfileID != "" && !ValidID(e.ProfileID) {
		return Reasonf(EINVALID, "bad_profile_id", "profile id must be 1 to %d characters from A-Z, a-z, 0-9, '-', '_', '.' and ':'", MaxIDLength)
	}
	if err := CheckValue("bad_dedup_key", "the idempotency key", in.DedupKey, MaxDedupKeyLength); err != nil {
		return err
	}
	for name, v := range e.Context.Headers {
		if err := CheckValue("bad_header", "the value of header "+name, v, MaxHeaderValue); err != nil {
			return err
		}
	}
	for _, w := range e.Warnings {
		if err := CheckValue("bad_value", "a warning", w, 0); err != nil {
			return err
		}
	}
	if id := in.Identity; id != nil {
		if id.Profile != "" && !ValidID(id.Profile) {
			return Reasonf(EINVALID, "bad_profile_id", "profile id must be 1 to %d characters from A-Z, a-z, 0-9, '-', '_', '.' and ':'", MaxIDLength)
		}
		for _, ident := range id.Identifiers {
			if err := CheckValue("bad_identifier", "the identifier "+ident.Kind, ident.Value, MaxIdentifierLength); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckIntakes returns the first error of Intake.Check among intakes,
// naming the intake when there are several.
func CheckIntakes(intakes []Intake) error {
	for i := range intakes {
		if err := intakes[i].Check(); err != nil {
			if len(intakes) > 1 {
				return Reasonf(ErrorCode(err), ErrorReason(err), "event %d: %s", i, ErrorMessage(err))
			}
			return err
		}
	}
	return nil
}

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

// AppendBatch is the working state of one EventStore.Append, the same on
// every store: the events to store are copies of the intakes' events, so
// that Append never writes into its input, and Results builds the answer
// from what the store resolved into them.
type AppendBatch struct {
	Intakes []Intake
	// Dups has an entry per intake (see Dedup), or is nil.
	Dups []Duplicate
	// Events are the events to store, in intake order without duplicates;
	// Identities[k] and NewSession[k] belong to Events[k], which is
	// Intakes[Index[k]]. Stores set each event's final ProfileID.
	Events     []*Event
	Identities []*Identity
	NewSession []bool
	Index      []int
	// Merged counts, by index into Events, the profiles merged into each
	// event's profile; stores set it from IdentityResult.Merged.
	Merged map[int]int
}

// NewAppendBatch returns the batch of intakes without the duplicates that
// Dedup found.
func NewAppendBatch(intakes []Intake, dups []Duplicate) *AppendBatch {
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

// HasIdentity reports whether an event of the batch carries an Identity.
func (b *AppendBatch) HasIdentity() bool {
	for _, id := range b.Identities {
		if id != nil {
			return true
		}
	}
	return false
}

// Results returns the answer of Append, once the batch is committed.
func (b *AppendBatch) Results() []Appended {
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

// Intakes returns intakes of plain events: no identity, no idempotency key.
func Intakes(events ...*Event) []Intake {
	out := make([]Intake, len(events))
	for i, e := range events {
		out[i] = Intake{Event: *e}
	}
	return out
}
