package inlet

import (
	"context"
	"encoding/json"
	"time"
)

// Erasure is what erasing a person removed: the record kept of it says
// when and how many rows of each kind, never the data.
type Erasure struct {
	At          time.Time `json:"at"`
	Profiles    int       `json:"profiles"`
	Sessions    int       `json:"sessions"`
	Identifiers int       `json:"identifiers"`
	Traits      int       `json:"traits"`
	Events      int       `json:"events"`
	Deliveries  int       `json:"deliveries"`
	DedupKeys   int       `json:"dedup_keys"`
	// Rejections are samples of the rejected-request log that held one
	// of the person's identifiers.
	Rejections int `json:"rejections"`
}

// MarshalJSON writes the time in the API's format.
func (e *Erasure) MarshalJSON() ([]byte, error) {
	type plain Erasure
	return json.Marshal(struct {
		*plain
		At string `json:"at"`
	}{(*plain)(e), FormatTime(e.At)})
}

// PersonRecord is one line of a person's export: Kind is "profile",
// "session" or "event", Data the record as the API shows it.
type PersonRecord struct {
	Kind string `json:"kind"`
	Data any    `json:"data"`
}

// PrivacyStore erases and exports everything held about one person: a
// profile, the profiles merged into it, their sessions, identifiers,
// traits and events.
type PrivacyStore interface {
	// EraseProfile removes a person, found by any of their profile ids,
	// in one transaction: the profile and every profile merged into it,
	// their sessions, identifiers, traits and events, the events'
	// deliveries and idempotency keys, and the samples of the
	// rejected-request log that hold one of their identifiers. An event
	// of theirs committed at the same time is erased or stored after it,
	// never linked to what it removed. Returns ENOTFOUND.
	EraseProfile(ctx context.Context, profileID string, now time.Time) (*Erasure, error)

	// ExportProfile calls emit with every record of a person, found by
	// any of their profile ids, from one consistent read: the profile,
	// then its sessions, then its events in commit order. Returns
	// ENOTFOUND, or emit's error.
	ExportProfile(ctx context.Context, profileID string, emit func(PersonRecord) error) error
}
