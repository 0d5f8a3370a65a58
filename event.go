// Package inlet holds the domain of the webhook collector: events, sources,
// sessions and profiles, the store interfaces and the error vocabulary.
// Transports and storage backends live in subpackages.
package inlet

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
)

// MaxIDLength is the longest event type, session id or source id accepted.
const MaxIDLength = 128

// Event is one collected webhook call.
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	InsertedAt time.Time       `json:"inserted_at"`
	SourceID   string          `json:"source_id"`
	SessionID  string          `json:"session_id"`
	ProfileID  string          `json:"profile_id"`
	Properties json.RawMessage `json:"properties"`
	Context    RequestContext  `json:"context"`
	// Warnings say where the source's mapping fell back to the URL's rules.
	Warnings []string `json:"warnings,omitempty"`
}

// MarshalJSON writes absent session and profile ids as null.
func (e *Event) MarshalJSON() ([]byte, error) {
	type plain Event
	return json.Marshal(struct {
		*plain
		InsertedAt string  `json:"inserted_at"`
		SessionID  *string `json:"session_id"`
		ProfileID  *string `json:"profile_id"`
	}{(*plain)(e), FormatTime(e.InsertedAt), nullable(e.SessionID), nullable(e.ProfileID)})
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// FormatTime formats t as UTC RFC 3339 with sub-second precision, the one
// time format of the API.
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
}

// RequestContext is what an event keeps of the HTTP request that carried it.
type RequestContext struct {
	Method    string            `json:"method"`
	Query     string            `json:"query"`
	Headers   map[string]string `json:"headers"`
	IP        string            `json:"ip"`
	UserAgent string            `json:"user_agent"`
}

// NewID returns a new time-ordered unique id (a UUIDv7), so that ids sort
// roughly by creation time and index inserts stay at the end of the tree.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// NormalizeEventType trims, lower-cases and turns spaces into dashes, then
// checks the result: 1 to 128 characters from a-z, 0-9 and "-", "_", ".", ":".
func NormalizeEventType(s string) (string, error) {
	s = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), " ", "-")
	if s == "" {
		return "", Reasonf(EINVALID, "bad_event_type", "event type is empty")
	} else if len(s) > MaxIDLength {
		return "", Reasonf(EINVALID, "bad_event_type", "event type is longer than %d characters", MaxIDLength)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return "", Reasonf(EINVALID, "bad_event_type", "event type may only contain a-z, 0-9, '-', '_', '.' and ':' (after lower-casing and turning spaces into '-')")
		}
	}
	return s, nil
}

// ValidID reports whether s is a valid session or source id: 1 to 128
// characters from A-Z, a-z, 0-9 and "-", "_", ".", ":", other than "." and
// "..".
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLength || s == "." || s == ".." { // "." and ".." are no URL path segment
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// ValidateSessionID returns an EINVALID error when s is not a valid session id.
func ValidateSessionID(s string) error {
	if !ValidID(s) {
		return Reasonf(EINVALID, "bad_session_id", "session id must be 1 to %d characters from A-Z, a-z, 0-9, '-', '_', '.' and ':'", MaxIDLength)
	}
	return nil
}

// EventFilter selects events. Zero fields do not filter.
type EventFilter struct {
	// EventID selects one event.
	EventID  string
	SourceID string
	// Type is an event type; a "*" in it stands for any run of
	// characters ("order.*").
	Type      string
	ProfileID string
	SessionID string
	Since     time.Time // inclusive
	Until     time.Time // exclusive
	Limit     int       // 1 to MaxEventLimit; 0 means DefaultEventLimit
	Cursor    string    // opaque, from EventPage.Next
	// Oldest lists oldest first (commit order), as an export does;
	// otherwise newest first.
	Oldest bool
	// Property keeps the events whose property at a path has a value.
	// It reads each event, so a page searches at most
	// PropertySearchWindow events (see EventPage.Window).
	Property *PropertyMatch
	// Window is the most events one page of a search reads; 0 means
	// PropertySearchWindow.
	Window int
}

// SearchWindow returns the most events a page of a search reads.
func (f *EventFilter) SearchWindow() int {
	if f.Window > 0 {
		return f.Window
	}
	return PropertySearchWindow
}

// PropertyMatch selects events by the value of one property.
type PropertyMatch struct {
	// Path names the property, from the top of the properties: object
	// keys, outermost first ("customer", "email").
	Path []string
	// Value is the property's text: a string's characters, or the JSON
	// text of a number or boolean.
	Value string
}

// PropertySearchWindow is how many events, of those the other filters
// select, one page of a search by property or by a type pattern reads at
// most: on a store of millions of events a search answers in bounded
// time, and the page's next cursor continues below the window.
const PropertySearchWindow = 100000

// ParsePropertyMatch reads a path ("customer.email", keys joined by dots)
// and a value. Returns EINVALID.
func ParsePropertyMatch(path, value string) (*PropertyMatch, error) {
	path = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(path), "$."))
	if path == "" {
		return nil, Reasonf(EINVALID, "bad_filter", "property needs a path, such as order or customer.email")
	}
	keys := strings.Split(path, ".")
	for _, k := range keys {
		if k == "" || len(k) > MaxIDLength || strings.ContainsAny(k, `"\`) {
			return nil, Reasonf(EINVALID, "bad_filter", "property path %q must be keys of 1 to %d characters joined by dots, such as customer.email", path, MaxIDLength)
		}
	}
	return &PropertyMatch{Path: keys, Value: value}, nil
}

// NormalizeTypePattern is NormalizeEventType for a type filter, which may
// hold "*" for any run of characters. Returns EINVALID.
func NormalizeTypePattern(s string) (string, error) {
	parts := strings.Split(strings.TrimSpace(s), "*")
	for i, p := range parts {
		if p == "" {
			continue
		}
		var err error
		if parts[i], err = NormalizeEventType(p); err != nil {
			return "", err
		}
	}
	if out := strings.Join(parts, "*"); out != "" {
		return out, nil
	}
	return "", Reasonf(EINVALID, "bad_event_type", "event type is empty")
}

// LikePattern returns a type pattern as a SQL LIKE pattern whose escape
// character is a backslash.
func LikePattern(pattern string) string {
	r := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`, "*", "%")
	return r.Replace(pattern)
}

// TypePattern reports whether a type filter holds a "*".
func (f *EventFilter) TypePattern() bool { return strings.Contains(f.Type, "*") }

// Searches reports whether f reads events beyond its indexes (a property
// or a type pattern), so that a page is bounded by PropertySearchWindow.
func (f *EventFilter) Searches() bool { return f.Property != nil || f.TypePattern() }

// Limits of an event listing.
const (
	DefaultEventLimit = 50
	MaxEventLimit     = 1000
)

// PageLimit returns the number of events a page holds: Limit within its
// bounds, DefaultEventLimit when unset.
func (f *EventFilter) PageLimit() int { return pageLimit(f.Limit, DefaultEventLimit, MaxEventLimit) }

func pageLimit(limit, def, most int) int {
	if limit <= 0 {
		return def
	}
	return min(limit, most)
}

// EventPage is one page of events, newest first.
type EventPage struct {
	Items []*Event `json:"items"`
	Next  *string  `json:"next"`
	// Window is set for a search (EventFilter.Searches).
	Window *SearchWindow `json:"window,omitempty"`
}

// SearchWindow says how far one page of a search read.
type SearchWindow struct {
	// Events is the most events a page reads (PropertySearchWindow).
	Events int `json:"events"`
	// Reached is true when the page stopped at the window: it may hold
	// fewer items than asked, and next searches the older events.
	Reached bool `json:"reached"`
}

// EventStore stores and reads events.
type EventStore interface {
	// Append stores the intakes' events in one transaction: all of them or
	// none, and durably when it returns nil; the answer has one Appended
	// per intake, in order. An event with a SessionID and no ProfileID is
	// linked to that session's profile; an unknown session is created with
	// a new profile (NewSession), once even under concurrency. Every session
	// seen records its last-seen time and event count.
	//
	// Deduplication happens in the same transaction (see Dedup): an intake
	// repeating a live idempotency key of its source is not stored, and is
	// answered with the original's id, session and profile.
	//
	// Intakes with an Identity are then resolved in the same transaction
	// (see ResolveIdentities): their profile comes from the identifiers
	// they carry, and profiles they show to be one person are merged.
	//
	// Errors: EINVALID for a value the store cannot hold (callers check
	// intakes with Intake.Check first, so this is a bug or an old store);
	// ECONFLICT for an event id that is stored already or twice in the
	// batch; EUNAVAILABLE when the store cannot write now (retry later);
	// EINTERNAL for anything else.
	Append(ctx context.Context, intakes []Intake) ([]Appended, error)

	// FindEvent returns one event. Returns ENOTFOUND.
	FindEvent(ctx context.Context, id string) (*Event, error)

	// ListEvents returns events matching f, newest first (oldest first
	// when f.Oldest is set). Returns EINVALID for a bad cursor.
	ListEvents(ctx context.Context, f EventFilter) (*EventPage, error)
}

// Retainer deletes old events for a retention setting. A store may delete
// in coarse steps (a whole day at a time).
type Retainer interface {
	// DeleteEventsBefore deletes events inserted before t; events of the
	// last day before t may stay. Sessions and profiles stay.
	// Returns EUNAVAILABLE.
	DeleteEventsBefore(ctx context.Context, t time.Time) error

	// DeleteSourceEventsBefore deletes one source's events inserted
	// before t, by the same rules: an event that a destination may still
	// want stays. Returns EUNAVAILABLE.
	DeleteSourceEventsBefore(ctx context.Context, sourceID string, t time.Time) error
}

// EventImporter brings in events stored elsewhere (an export), as they
// were: ids, types, times, sessions and profiles.
type EventImporter interface {
	// ImportEvents stores the events whose id is not stored yet, with
	// their sessions and profiles when those do not exist (an existing
	// session keeps its profile), in one transaction. Imported events are
	// history: they are not delivered to destinations unless replayed. It
	// returns how many events were new. Returns EUNAVAILABLE.
	ImportEvents(ctx context.Context, events []*Event) (int, error)
}
