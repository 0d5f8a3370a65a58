package inlet

import (
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

// Intakes returns intakes of plain events: no identity, no idempotency key.
func Intakes(events ...*Event) []Intake {
	out := make([]Intake, len(events))
	for i, e := range events {
		out[i] = Intake{Event: *e}
	}
	return out
}
