package inlet

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
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

	SuppressionStore
}

// Privacy is what a source keeps of what it receives, applied before an
// event is stored, delivered or shown: policies on fields, and whether the
// client's address and user agent are kept.
type Privacy struct {
	Fields []FieldPolicy `json:"fields,omitempty"`
	// StoreIP and StoreUserAgent keep the client's address and user
	// agent with each event; nil means true.
	StoreIP        *bool `json:"store_ip,omitempty"`
	StoreUserAgent *bool `json:"store_user_agent,omitempty"`
	// Retention, when set, deletes the source's events older than it
	// (such as "720h"), beside the server's --retention.
	Retention string `json:"retention,omitempty"`
}

// Field policy actions.
const (
	PolicyDrop = "drop" // the field is not kept
	PolicyMask = "mask" // "****" and the last Keep characters
	PolicyHash = "hash" // a keyed hash (HashValue): equal values stay equal, none can be read back
)

// FieldPolicy is what happens to one field: a JSON path of the properties,
// a request header, a query parameter, or the value of an identifier kind
// (identify_by); exactly one is set.
type FieldPolicy struct {
	Path       string `json:"path,omitempty"`
	Header     string `json:"header,omitempty"`
	Query      string `json:"query,omitempty"`
	Identifier string `json:"identifier,omitempty"`
	Action     string `json:"action"`
	Keep       int    `json:"keep,omitempty"`
}

// MaxFieldPolicies bounds a source's field policies.
const MaxFieldPolicies = 100

// Validate returns an EINVALID error naming the first field that is wrong.
func (p *Privacy) Validate() error {
	if len(p.Fields) > MaxFieldPolicies {
		return Errorf(EINVALID, "config.privacy.fields takes at most %d policies", MaxFieldPolicies)
	}
	for i, f := range p.Fields {
		set := 0
		for _, v := range []string{f.Path, f.Header, f.Query, f.Identifier} {
			if v != "" {
				set++
			}
			if len(v) > 256 {
				return Errorf(EINVALID, "config.privacy.fields[%d]: a name is longer than 256 characters", i)
			}
		}
		if set != 1 {
			return Errorf(EINVALID, "config.privacy.fields[%d] names one field: path, header, query or identifier", i)
		}
		switch f.Action {
		case PolicyDrop, PolicyHash:
		case PolicyMask:
			if f.Keep < 0 || f.Keep > 64 {
				return Errorf(EINVALID, "config.privacy.fields[%d].keep must be from 0 to 64", i)
			}
		default:
			return Errorf(EINVALID, "config.privacy.fields[%d].action must be %q, %q or %q", i, PolicyDrop, PolicyMask, PolicyHash)
		}
		if f.Identifier != "" && f.Action != PolicyHash {
			return Errorf(EINVALID, "config.privacy.fields[%d]: an identifier can only be hashed (it links events)", i)
		}
	}
	if p.Retention != "" {
		if d, err := time.ParseDuration(p.Retention); err != nil || d < time.Hour {
			return Errorf(EINVALID, "config.privacy.retention must be a duration of at least 1h, such as \"720h\"")
		}
	}
	return nil
}

// RetentionPeriod returns the source's retention, 0 when it has none.
func (p *Privacy) RetentionPeriod() time.Duration {
	if p == nil {
		return 0
	}
	d, _ := time.ParseDuration(p.Retention)
	return d
}

// KeepsIP reports whether events keep the client's address.
func (p *Privacy) KeepsIP() bool { return p == nil || p.StoreIP == nil || *p.StoreIP }

// KeepsUserAgent reports whether events keep the client's user agent.
func (p *Privacy) KeepsUserAgent() bool {
	return p == nil || p.StoreUserAgent == nil || *p.StoreUserAgent
}

// HashValue returns the keyed hash of a value as a field policy or a
// suppression stores it: "hmac:" and 64 hex digits of HMAC-SHA256. An
// email-like value is trimmed and lower-cased first, so that the same
// address hashes the same however a sender wrote it.
func HashValue(key []byte, value string) string {
	value = strings.TrimSpace(value)
	if strings.Contains(value, "@") {
		value = strings.ToLower(value)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(value))
	return "hmac:" + hex.EncodeToString(m.Sum(nil))
}

// MaskValue returns "****" and the last keep characters of value.
func MaskValue(value string, keep int) string {
	r := []rune(value)
	if keep >= len(r) {
		keep = len(r) / 2
	}
	return MaskedSecret + string(r[len(r)-keep:])
}

// SuppressionHash is how a suppression names an identifier: the keyed
// hash of kind:value.
func SuppressionHash(key []byte, id Identifier) string {
	return HashValue(key, id.Kind+":"+id.Value)
}

// SuppressionStore keeps the installation's hash key and the suppressed
// identifiers.
type SuppressionStore interface {
	// HashKey returns the installation's key for keyed hashes, made at
	// the first call and the same on every node. Returns EUNAVAILABLE.
	HashKey(ctx context.Context) ([]byte, error)

	// Suppress adds suppressions (SuppressionHash values).
	Suppress(ctx context.Context, hashes []string, now time.Time) error

	// Unsuppress lifts one; it reports whether it existed.
	Unsuppress(ctx context.Context, hash string) (bool, error)

	// Suppressions returns every suppression.
	Suppressions(ctx context.Context) ([]string, error)
}

// ErasureSource is the source of the notices of erasures: the events of
// type ErasureEventType that an erasure adds to the log, for the
// destinations that asked for them (Destination.ErasureNotices), so that
// the systems downstream can erase the person too. No source of a user
// may take this id.
const (
	ErasureSource    = "inlet:erasures"
	ErasureEventType = "profile.erased"
)

// ErasureNotice returns the event that tells destinations of an erasure:
// the person's profile ids (which the destinations have seen in their
// events) and, for each identifier, its kind and the hex SHA-256 of its
// value (a receiver hashes the values it holds to find the person);
// never a value itself.
func ErasureNotice(profileIDs []string, ids []Identifier, at time.Time) *Event {
	type hashed struct {
		Kind   string `json:"kind"`
		SHA256 string `json:"sha256"`
	}
	notice := struct {
		ProfileIDs  []string `json:"profile_ids"`
		Identifiers []hashed `json:"identifiers"`
	}{ProfileIDs: profileIDs, Identifiers: []hashed{}}
	for _, id := range ids {
		sum := sha256.Sum256([]byte(id.Value))
		notice.Identifiers = append(notice.Identifiers, hashed{id.Kind, hex.EncodeToString(sum[:])})
	}
	props, _ := json.Marshal(notice)
	return &Event{ID: NewID(), Type: ErasureEventType, InsertedAt: at, SourceID: ErasureSource, Properties: props}
}
