package inlet

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Scopes of an API token, from the narrowest: each allows what the ones
// before it allow.
const (
	ScopeRead  = "read"  // events, sessions, profiles, deliveries, catalog, stats, exports
	ScopeWrite = "write" // read, and changes of sources, destinations, deliveries, imports, erasures
	ScopeAdmin = "admin" // everything, tokens included
)

// ScopeAllows reports whether a token of scope have may make a call that
// needs scope need.
func ScopeAllows(have, need string) bool {
	return scopeRank[have] > 0 && scopeRank[have] >= scopeRank[need]
}

var scopeRank = map[string]int{ScopeRead: 1, ScopeWrite: 2, ScopeAdmin: 3}

// Token is an API token as stored: its secret is never kept, only its
// SHA-256.
type Token struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Scope string `json:"scope"`
	// Sources, when not empty, binds the token to these sources: it sees
	// and changes only them and their events.
	Sources    []string   `json:"sources,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	// Hash is the SHA-256 of the secret; it is never answered.
	Hash [32]byte `json:"-"`
}

// Validate checks a token before it is stored.
func (t *Token) Validate() error {
	switch {
	case t.Name == "" || len(t.Name) > 100 || strings.ContainsAny(t.Name, " \t\r\n/"):
		return Errorf(EINVALID, "a token needs a name of 1 to 100 characters without spaces or '/'")
	case t.Scope != ScopeRead && t.Scope != ScopeWrite && t.Scope != ScopeAdmin:
		return Errorf(EINVALID, "scope %q is unknown; use read, write or admin", t.Scope)
	case t.Scope == ScopeAdmin && len(t.Sources) > 0:
		return Errorf(EINVALID, "an admin token cannot be bound to sources: it manages tokens")
	}
	for _, id := range t.Sources {
		if id == "" || len(id) > 200 {
			return Errorf(EINVALID, "a token's source needs an id of 1 to 200 characters")
		}
	}
	return nil
}

// Usable reports whether the token may be used at now: not revoked and
// not expired.
func (t *Token) Usable(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// Refusal returns nil when the token may be used at now, and otherwise the
// EUNAUTHORIZED error that names it and says what happened to it: revoked,
// or expired, and when.
func (t *Token) Refusal(now time.Time) error {
	const when = time.RFC3339
	switch {
	case t.RevokedAt != nil:
		return Reasonf(EUNAUTHORIZED, "unauthorized", "the token %q was revoked at %s; an admin can create a new one (inlet tokens create)", t.Name, t.RevokedAt.UTC().Format(when))
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return Reasonf(EUNAUTHORIZED, "unauthorized", "the token %q expired at %s; an admin can create a new one (inlet tokens create)", t.Name, t.ExpiresAt.UTC().Format(when))
	}
	return nil
}

// ErrUnknownToken is the refusal of a token that is neither the admin
// token nor an API token of the store.
var ErrUnknownToken = Reasonf(EUNAUTHORIZED, "unauthorized", "the token is unknown: it is neither the admin token nor an API token of this server")

// Allows reports whether the token may see the source of the given id:
// any source for a token bound to none.
func (t *Token) Allows(sourceID string) bool {
	return len(t.Sources) == 0 || slices.Contains(t.Sources, sourceID)
}

// NewTokenSecret returns a new random token secret and its SHA-256.
func NewTokenSecret() (string, [32]byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	secret := "inlt_" + base64.RawURLEncoding.EncodeToString(b)
	return secret, sha256.Sum256([]byte(secret))
}

// TokenStore keeps API tokens.
type TokenStore interface {
	// CreateToken stores t, whose ID, Name, Scope and Hash are set, and
	// sets its CreatedAt. It returns EINVALID for an invalid token and
	// ECONFLICT when its name or ID is taken.
	CreateToken(ctx context.Context, t *Token) error
	// ListTokens returns every token, revoked ones included, by name.
	ListTokens(ctx context.Context) ([]*Token, error)
	// FindToken returns the token with the given ID or name; ENOTFOUND.
	FindToken(ctx context.Context, idOrName string) (*Token, error)
	// FindTokenByHash returns the token whose secret has this SHA-256;
	// ENOTFOUND.
	FindTokenByHash(ctx context.Context, hash [32]byte) (*Token, error)
	// RevokeToken marks the token with this ID or name revoked at now and
	// returns it; ENOTFOUND. Revoking twice keeps the first time.
	RevokeToken(ctx context.Context, idOrName string, now time.Time) (*Token, error)
	// TouchToken records that the token was used at now.
	TouchToken(ctx context.Context, id string, now time.Time) error
}
