package inlet

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Destination types of this build. A sender for each lives in package
// deliver, where a new type is one file.
const (
	DestinationWebhook  = "webhook"  // an HTTP POST of each event
	DestinationNATS     = "nats"     // a NATS JetStream publish of each event
	DestinationKafka    = "kafka"    // a Kafka record of each event
	DestinationRabbitMQ = "rabbitmq" // an AMQP publish of each event, confirmed
	DestinationRedis    = "redis"    // an XADD to a Redis stream of each event
	DestinationPostgres = "postgres" // a row of a PostgreSQL table of each event
	DestinationFiles    = "files"    // a line or row of a file in a bucket or directory
)

// Destination is a place events are delivered to, at least once, after
// they are committed. Only events inserted at or after CreatedAt are
// delivered, unless a replay asks for older ones.
type Destination struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	Type    string            `json:"type"`
	Enabled bool              `json:"enabled"`
	Filter  DestinationFilter `json:"filter"`
	// Config is the type's own configuration (for a webhook: url, secret,
	// headers, timeout). Secret values are write-only: the default JSON
	// of a Destination masks them; stores keep them in their own encoding.
	Config json.RawMessage `json:"config"`
	Retry  RetryPolicy     `json:"retry"`
	// Ordered holds every later event back while one is failing, so that
	// the receiver sees events in commit order.
	Ordered bool `json:"ordered"`
	// DisableAfter is how long a destination may do nothing but fail
	// before it is disabled by itself ("0s": never); empty means
	// DefaultDisableAfter.
	DisableAfter string `json:"disable_after"`
	// ErasureNotices asks for a notice of each erasure of a person
	// (ErasureNotice), whatever the filter says.
	ErasureNotices bool `json:"erasure_notices,omitempty"`
	// DisabledAt and DisabledReason say when and why delivery disabled
	// the destination by itself (the receiver answered 410, or it only
	// failed for DisableAfter); enabling it again clears them.
	DisabledAt     *time.Time `json:"disabled_at"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`

	// State, when set, is the destination's delivery state.
	State *DeliveryState `json:"state,omitempty"`
}

// DestinationFilter selects the events of a destination. Empty lists
// select everything.
type DestinationFilter struct {
	Sources []string `json:"sources"`
	// Types are event types; one ending in "*" matches every type with
	// that prefix ("invoice.*").
	Types []string `json:"types"`
}

// Match reports whether an event of source and typ passes the filter.
func (f *DestinationFilter) Match(source, typ string) bool {
	if len(f.Sources) > 0 && !slices.Contains(f.Sources, source) {
		return false
	}
	if len(f.Types) == 0 {
		return true
	}
	for _, t := range f.Types {
		if prefix, ok := strings.CutSuffix(t, "*"); ok {
			if strings.HasPrefix(typ, prefix) {
				return true
			}
		} else if t == typ {
			return true
		}
	}
	return false
}

// RetryPolicy is when a failed delivery is tried again: after each step of
// Backoff in turn, the last step repeating, until MaxAge has passed since
// the delivery was due first; then it is dead.
type RetryPolicy struct {
	Backoff []string `json:"backoff"`
	MaxAge  string   `json:"max_age"`
}

// Default retry policy.
var (
	DefaultBackoff = []string{"5s", "30s", "2m", "10m", "1h"}
	DefaultMaxAge  = "24h"
)

// DefaultDisableAfter is how long a destination may only fail before it is
// disabled by itself: five days, long enough for a receiver's outage over
// a weekend to be noticed and fixed by a person.
const DefaultDisableAfter = "120h"

// Limits of a destination.
const (
	MaxBackoffSteps = 32
	MaxRetryAge     = 30 * 24 * time.Hour
)

// WithDefaults returns p with an empty Backoff or MaxAge set to the default.
func (p RetryPolicy) WithDefaults() RetryPolicy {
	if len(p.Backoff) == 0 {
		p.Backoff = slices.Clone(DefaultBackoff)
	}
	if p.MaxAge == "" {
		p.MaxAge = DefaultMaxAge
	}
	return p
}

// Validate returns an EINVALID error naming the first field that is wrong.
func (p *RetryPolicy) Validate() error {
	if len(p.Backoff) > MaxBackoffSteps {
		return Errorf(EINVALID, "retry.backoff has more than %d steps", MaxBackoffSteps)
	}
	for i, s := range p.Backoff {
		if d, err := time.ParseDuration(s); err != nil || d < 10*time.Millisecond || d > 24*time.Hour {
			return Errorf(EINVALID, "retry.backoff[%d] must be a duration such as \"30s\", from 10ms to 24h", i)
		}
	}
	if p.MaxAge != "" {
		if d, err := time.ParseDuration(p.MaxAge); err != nil || d < 0 || d > MaxRetryAge {
			return Errorf(EINVALID, "retry.max_age must be a duration such as \"24h\", from 0s to %s", MaxRetryAge)
		}
	}
	return nil
}

// Next returns when a delivery that has failed attempts times (at least
// once) and was first due at first is tried again, at now or later, with
// up to a fifth of the step added as jitter so that the retries of many
// events spread out; dead is true when that would be past the policy's
// MaxAge.
func (p *RetryPolicy) Next(attempts int, first, now time.Time) (next time.Time, dead bool) {
	q := p.WithDefaults()
	i := min(attempts-1, len(q.Backoff)-1)
	step, _ := time.ParseDuration(q.Backoff[max(i, 0)])
	maxAge, _ := time.ParseDuration(q.MaxAge)
	if step > 0 {
		step += time.Duration(rand.Int64N(int64(step)/5 + 1))
	}
	next = now.Add(step)
	return next, next.Sub(first) > maxAge
}

// SetDefaults fills the fields left empty with their defaults: the retry
// policy's and DisableAfter.
func (d *Destination) SetDefaults() {
	d.Retry = d.Retry.WithDefaults()
	if d.DisableAfter == "" {
		d.DisableAfter = DefaultDisableAfter
	}
}

// DisableAfterDuration returns DisableAfter as a duration, the default
// for an empty one; 0 means never.
func (d *Destination) DisableAfterDuration() time.Duration {
	s := d.DisableAfter
	if s == "" {
		s = DefaultDisableAfter
	}
	v, _ := time.ParseDuration(s)
	return v
}

// Wants reports whether an event is for the destination as it comes in:
// it passes the filter and was inserted no earlier than the destination
// was created. (A replay delivers older ones on request.)
func (d *Destination) Wants(e *Event) bool {
	if e.SourceID == ErasureSource {
		return d.ErasureNotices
	}
	return !e.InsertedAt.Before(d.CreatedAt) && d.Filter.Match(e.SourceID, e.Type)
}

// Validate returns an EINVALID error naming the first field that is
// wrong. The type's config is checked by its sender (package deliver).
func (d *Destination) Validate() error {
	switch {
	case !ValidID(d.ID):
		return Errorf(EINVALID, "id must be 1 to %d characters from A-Z, a-z, 0-9, '-', '_', '.' and ':'", MaxIDLength)
	case d.Name == "":
		return Errorf(EINVALID, "name is required")
	case len(d.Name) > 256:
		return Errorf(EINVALID, "name is longer than 256 characters")
	case !ValidID(d.Type):
		// Which types exist is the senders' business (deliver.Validate).
		return Errorf(EINVALID, "type is required, for example %q or %q", DestinationWebhook, DestinationNATS)
	case len(d.Filter.Sources) > 1000 || len(d.Filter.Types) > 1000:
		return Errorf(EINVALID, "filter lists take at most 1000 entries")
	}
	for _, s := range d.Filter.Sources {
		if !ValidID(s) {
			return Errorf(EINVALID, "filter.sources: %q is not a source id", s)
		}
	}
	for _, t := range d.Filter.Types {
		if _, err := NormalizeEventType(strings.TrimSuffix(t, "*")); err != nil && t != "*" {
			return Errorf(EINVALID, "filter.types: %q is not an event type (a trailing * matches a prefix)", t)
		}
	}
	if d.DisableAfter != "" {
		if v, err := time.ParseDuration(d.DisableAfter); err != nil || v < 0 || v > MaxRetryAge {
			return Errorf(EINVALID, "disable_after must be a duration such as \"120h\", from 0s (never) to %s", MaxRetryAge)
		}
	}
	if len(d.Config) == 0 || !json.Valid(d.Config) || bytes.TrimSpace(d.Config)[0] != '{' {
		return Errorf(EINVALID, "config must be a JSON object")
	}
	return d.Retry.Validate()
}

// MarshalJSON writes times in the API's format and masks the config's
// secrets.
func (d *Destination) MarshalJSON() ([]byte, error) {
	type plain Destination
	var disabledAt *string
	if d.DisabledAt != nil {
		s := FormatTime(*d.DisabledAt)
		disabledAt = &s
	}
	return json.Marshal(struct {
		*plain
		Config     json.RawMessage `json:"config"`
		DisabledAt *string         `json:"disabled_at"`
		CreatedAt  string          `json:"created_at"`
		UpdatedAt  string          `json:"updated_at"`
	}{(*plain)(d), maskConfig(d.Config), disabledAt, FormatTime(d.CreatedAt), FormatTime(d.UpdatedAt)})
}

// maskConfig returns config with its secret values replaced.
// Answers show its members sorted by name.
func maskConfig(config json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	b, err := maskSecrets(config, secretFields[SecretDestination])
	if err != nil || json.Unmarshal(b, &m) != nil {
		return json.RawMessage("{}")
	}
	b, _ = json.Marshal(m)
	return b
}

// KeepSecrets fills the secret values that config leaves out or sends back
// masked from old, the stored config: so that an update may send back what
// it read.
func KeepSecrets(config, old json.RawMessage) json.RawMessage {
	return keepSecrets(config, old, secretFields[SecretDestination])
}

// DestinationUpdate holds the fields of a destination to change; nil
// fields stay.
type DestinationUpdate struct {
	Name    *string            `json:"name"`
	Enabled *bool              `json:"enabled"`
	Filter  *DestinationFilter `json:"filter"`
	Config  json.RawMessage    `json:"config,omitempty"` // null or absent: unchanged
	Retry   *RetryPolicy       `json:"retry"`
	Ordered *bool              `json:"ordered"`
	// DisableAfter: see Destination.
	DisableAfter *string `json:"disable_after"`
	// ErasureNotices: see Destination.
	ErasureNotices *bool `json:"erasure_notices"`
}

// Apply changes d by u.
func (u *DestinationUpdate) Apply(d *Destination) {
	if u.Name != nil {
		d.Name = *u.Name
	}
	if u.Enabled != nil {
		if *u.Enabled && !d.Enabled {
			d.DisabledAt, d.DisabledReason = nil, ""
		}
		d.Enabled = *u.Enabled
	}
	if u.DisableAfter != nil {
		d.DisableAfter = *u.DisableAfter
	}
	if u.ErasureNotices != nil {
		d.ErasureNotices = *u.ErasureNotices
	}
	if u.Filter != nil {
		d.Filter = *u.Filter
	}
	if len(u.Config) > 0 && string(u.Config) != "null" {
		d.Config = u.Config
	}
	if u.Retry != nil {
		d.Retry = *u.Retry
	}
	if u.Ordered != nil {
		d.Ordered = *u.Ordered
	}
}

// ListFilter pages through a listing ordered by id.
type ListFilter struct {
	Limit  int    // 1 to MaxEventLimit; 0 means DefaultEventLimit
	Cursor string // opaque, from the previous page's Next
}

// DestinationPage is one page of destinations, ordered by id.
type DestinationPage struct {
	Items []*Destination `json:"items"`
	Next  *string        `json:"next"`
}

// DestinationStore stores destinations.
type DestinationStore interface {
	// CreateDestination stores a new destination, setting its times.
	// Returns ECONFLICT when the id exists, EINVALID.
	CreateDestination(ctx context.Context, d *Destination) error

	// FindDestination returns one destination, without its State.
	// Returns ENOTFOUND.
	FindDestination(ctx context.Context, id string) (*Destination, error)

	// ListDestinations returns a page of destinations ordered by id.
	// Returns EINVALID for a bad cursor.
	ListDestinations(ctx context.Context, f ListFilter) (*DestinationPage, error)

	// UpdateDestination applies u and returns the destination as stored.
	// Returns ENOTFOUND, EINVALID.
	UpdateDestination(ctx context.Context, id string, u DestinationUpdate) (*Destination, error)

	// DeleteDestination removes a destination and its deliveries.
	// Returns ENOTFOUND.
	DeleteDestination(ctx context.Context, id string) error
}

// EventJSON is an event as the events API shows it, byte for byte with
// its final newline: what a destination receives and what a line of an
// export holds. The API's encoder writes MarshalJSON's output as it is (it
// is compact, and escapes HTML as json.Marshal does), so that output is
// used directly, without a second pass.
func EventJSON(e *Event) ([]byte, error) {
	b, err := e.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Outcomes of a destination's dry run.
const (
	TrySent     = "sent"     // the event would be sent, as Event shows
	TryDropped  = "dropped"  // the destination's transform drops it
	TryFailed   = "failed"   // the transform fails and its on_error is "reject"
	TryFiltered = "filtered" // the destination's filter does not take it
)

// DestinationTry is what a destination's dry run makes of one stored
// event; nothing is sent.
type DestinationTry struct {
	EventID string `json:"event_id"`
	// Outcome is TrySent, TryDropped, TryFailed or TryFiltered. A
	// filtered event still shows what the transform makes of it, for a
	// replay that selects it.
	Outcome string `json:"outcome"`
	// Wanted is whether the filter takes the event.
	Wanted bool `json:"wanted"`
	// TransformError says how the transform failed on the event: with
	// on_error "keep" the event is then sent as it is.
	TransformError string `json:"transform_error,omitempty"`
	// Event is the JSON the destination would receive, absent when
	// nothing would be sent.
	Event json.RawMessage `json:"event,omitempty"`
}
