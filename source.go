package inlet

import (
	"context"
	"encoding/json"
	"net/textproto"
	"sync"
	"time"
)

// SourceTypeWebhook is the one source type: a sender that calls /collect.
const SourceTypeWebhook = "webhook"

// DefaultMaxBodyBytes caps a collect request body unless a source says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Source is a registered sender of webhooks. Events are accepted only for
// enabled sources.
type Source struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Type      string       `json:"type"`
	Enabled   bool         `json:"enabled"`
	Config    SourceConfig `json:"config"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
}

// MarshalJSON writes times in the API's format.
func (s *Source) MarshalJSON() ([]byte, error) {
	type plain Source
	return json.Marshal(struct {
		*plain
		CreatedAt string `json:"created_at"`
		UpdatedAt string `json:"updated_at"`
	}{(*plain)(s), FormatTime(s.CreatedAt), FormatTime(s.UpdatedAt)})
}

// SourceConfig is the per-sender configuration of a source.
type SourceConfig struct {
	// SecretHeaders names request headers never stored with an event, beside
	// Authorization and Cookie, which are never stored.
	SecretHeaders []string `json:"secret_headers,omitempty"`

	// MaxBodyBytes caps the request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`
}

// BodyLimit returns the body cap that applies to the source.
func (c *SourceConfig) BodyLimit() int64 {
	if c.MaxBodyBytes > 0 {
		return c.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

// IsSecretHeader reports whether the header named (in canonical form) must
// not be stored.
func (c *SourceConfig) IsSecretHeader(name string) bool {
	if name == "Authorization" || name == "Cookie" || name == "Proxy-Authorization" {
		return true
	}
	for _, h := range c.SecretHeaders {
		if textproto.CanonicalMIMEHeaderKey(h) == name {
			return true
		}
	}
	return false
}

// Validate returns an EINVALID error naming the first field that is wrong.
func (s *Source) Validate() error {
	if !ValidID(s.ID) {
		return Errorf(EINVALID, "id must be 1 to %d characters from A-Z, a-z, 0-9, '-', '_', '.' and ':'", MaxIDLength)
	} else if s.Name == "" {
		return Errorf(EINVALID, "name is required")
	} else if len(s.Name) > 256 {
		return Errorf(EINVALID, "name is longer than 256 characters")
	} else if s.Type != SourceTypeWebhook {
		return Errorf(EINVALID, "type must be %q", SourceTypeWebhook)
	}
	return s.Config.Validate()
}

// Validate returns an EINVALID error naming the first field that is wrong.
func (c *SourceConfig) Validate() error {
	for _, h := range c.SecretHeaders {
		if h == "" || len(h) > 256 {
			return Errorf(EINVALID, "config.secret_headers: header names must be 1 to 256 characters")
		}
	}
	if c.MaxBodyBytes < 0 || c.MaxBodyBytes > 64<<20 {
		return Errorf(EINVALID, "config.max_body_bytes must be between 0 (the default, 1 MiB) and 67108864 (64 MiB)")
	}
	return nil
}

// SourceUpdate holds the fields of a source to change; nil fields stay.
type SourceUpdate struct {
	Name    *string       `json:"name"`
	Enabled *bool         `json:"enabled"`
	Config  *SourceConfig `json:"config"`
}

// SourceStore stores sources.
type SourceStore interface {
	// CreateSource stores a new source. Returns ECONFLICT when the id exists.
	CreateSource(ctx context.Context, s *Source) error

	// FindSource returns one source. Returns ENOTFOUND.
	FindSource(ctx context.Context, id string) (*Source, error)

	// ListSources returns every source, ordered by id.
	ListSources(ctx context.Context) ([]*Source, error)

	// UpdateSource applies upd and returns the source as stored.
	// Returns ENOTFOUND, EINVALID.
	UpdateSource(ctx context.Context, id string, upd SourceUpdate) (*Source, error)

	// DeleteSource removes a source; its events stay. Returns ENOTFOUND.
	DeleteSource(ctx context.Context, id string) error
}

// Store is everything a collector needs from a storage backend.
type Store interface {
	SourceStore
	EventStore
	SessionStore

	// Ping returns nil when the store can be read and written.
	Ping(ctx context.Context) error

	// Close releases the store; it waits for nothing.
	Close() error
}

// SourceCache answers source lookups on the collect path from memory. An
// entry, found or not, is trusted for TTL, the bound on how long a change
// made through another node takes to reach this one; changes made through
// this node are applied at once with Forget.
type SourceCache struct {
	store SourceStore
	ttl   time.Duration
	now   func() time.Time

	mu      sync.RWMutex
	entries map[string]sourceEntry
}

type sourceEntry struct {
	source  *Source // nil when not found
	expires time.Time
}

// maxNegativeEntries bounds the memory that probing for unknown ids can use.
const maxNegativeEntries = 10000

// NewSourceCache returns a cache over store whose entries live for ttl.
func NewSourceCache(store SourceStore, ttl time.Duration) *SourceCache {
	return &SourceCache{store: store, ttl: ttl, now: time.Now, entries: make(map[string]sourceEntry)}
}

// Find returns the source with id, or ENOTFOUND. Store failures are
// returned as they are and not cached.
func (c *SourceCache) Find(ctx context.Context, id string) (*Source, error) {
	now := c.now()
	c.mu.RLock()
	e, ok := c.entries[id]
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		if e.source == nil {
			return nil, Errorf(ENOTFOUND, "source not found")
		}
		return e.source, nil
	}

	s, err := c.store.FindSource(ctx, id)
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return nil, err
	}
	c.mu.Lock()
	if s == nil && len(c.entries) >= maxNegativeEntries {
		for k, v := range c.entries { // drop expired and negative entries
			if v.source == nil || !now.Before(v.expires) {
				delete(c.entries, k)
			}
		}
	}
	c.entries[id] = sourceEntry{source: s, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return s, err
}

// Forget drops the entry for id so that the next Find reads the store.
func (c *SourceCache) Forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}
