package inlet

import (
	"context"
	"encoding/json"
	"time"
)

// Session is a visitor session; every session belongs to one profile.
type Session struct {
	ID         string    `json:"id"`
	ProfileID  string    `json:"profile_id"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	EventCount int64     `json:"event_count"`
}

// MarshalJSON writes times in the API's format.
func (s *Session) MarshalJSON() ([]byte, error) {
	type plain Session
	return json.Marshal(struct {
		*plain
		FirstSeen string `json:"first_seen"`
		LastSeen  string `json:"last_seen"`
	}{(*plain)(s), FormatTime(s.FirstSeen), FormatTime(s.LastSeen)})
}

// Profile is a customer profile, created with its first session or by
// identity resolution. Its counts and times cover its aliases too.
type Profile struct {
	ID           string    `json:"id"`
	FirstSeen    time.Time `json:"first_seen"`
	LastSeen     time.Time `json:"last_seen"`
	EventCount   int64     `json:"event_count"`
	SessionCount int64     `json:"session_count"`

	Traits      map[string]json.RawMessage `json:"traits"`
	Identifiers []Identifier               `json:"identifiers"`
	// Aliases are the profiles merged into this one.
	Aliases []string `json:"aliases"`
	// MergedInto is set when the profile asked for was merged into this
	// one, the survivor that the answer describes.
	MergedInto string `json:"merged_into,omitempty"`
}

// MarshalJSON writes times in the API's format.
func (p *Profile) MarshalJSON() ([]byte, error) {
	type plain Profile
	return json.Marshal(struct {
		*plain
		FirstSeen string `json:"first_seen"`
		LastSeen  string `json:"last_seen"`
	}{(*plain)(p), FormatTime(p.FirstSeen), FormatTime(p.LastSeen)})
}

// SessionStore reads sessions and profiles; they are written by
// EventStore.Append.
type SessionStore interface {
	// FindSession returns a session with its counts. Returns ENOTFOUND.
	FindSession(ctx context.Context, id string) (*Session, error)

	// FindProfile returns a profile with its counts, traits, identifiers
	// and aliases; for an alias, its survivor with MergedInto set.
	// Returns ENOTFOUND.
	FindProfile(ctx context.Context, id string) (*Profile, error)
}
