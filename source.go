package inlet

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"time"
)

// SourceTypeWebhook is the one source type: a sender that calls /collect.
const SourceTypeWebhook = "webhook"

// DefaultMaxBodyBytes caps a collect request body unless a source says
// otherwise, and MaxBodyBytesLimit is the largest cap a source may set.
const (
	DefaultMaxBodyBytes = 1 << 20
	MaxBodyBytesLimit   = 64 << 20
)

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

// Verifier types of VerifyConfig.Type.
const (
	VerifyGitHub           = "github"            // X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>
	VerifyStripe           = "stripe"            // Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">
	VerifyShopify          = "shopify"           // X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>
	VerifyStandardWebhooks = "standard-webhooks" // webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">
	VerifySlack            = "slack"             // X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:timestamp:body">
	VerifyTwilio           = "twilio"            // X-Twilio-Signature: <base64 HMAC-SHA1 of the URL and sorted form fields>
	VerifyMeta             = "meta"              // X-Hub-Signature-256 as github; verify_token answers the subscription GET
	VerifyPaddle           = "paddle"            // Paddle-Signature: ts=<unix>;h1=<hex HMAC-SHA256 of "ts:body">
	VerifyCalendly         = "calendly"          // Calendly-Webhook-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">
	VerifyRecurly          = "recurly"           // Recurly-Signature: <unix ms>,<hex HMAC-SHA256 of "ms.body">[,...]
	VerifyZoom             = "zoom"              // x-zm-signature: v0=<hex HMAC-SHA256 of "v0:x-zm-request-timestamp:body">
	VerifyZendesk          = "zendesk"           // X-Zendesk-Webhook-Signature: <base64 HMAC-SHA256 of "timestamp"+body>
	VerifyTwitch           = "twitch"            // Twitch-Eventsub-Message-Signature: sha256=<hex HMAC-SHA256 of id+timestamp+body>
	VerifySquare           = "square"            // x-square-hmacsha256-signature: <base64 HMAC-SHA256 of URL+body>
	VerifyGraph            = "microsoft-graph"   // clientState of every notification in the body equals the secret
	VerifyAdyen            = "adyen"             // additionalData.hmacSignature of every notification item: <base64 HMAC-SHA256 of its fields>, the secret a hex key
	VerifySendGrid         = "sendgrid"          // X-Twilio-Email-Event-Webhook-Signature: <base64 ECDSA P-256 of timestamp+body>; the secret is the public key
	VerifyDiscord          = "discord"           // X-Signature-Ed25519: <hex Ed25519 of X-Signature-Timestamp+body>; the secret is the public key
	VerifyMailgun          = "mailgun"           // signature.signature in the body: <hex HMAC-SHA256 of timestamp+token>
	VerifyHMAC             = "hmac"              // any header holding an HMAC of the body
	VerifyBasic            = "basic"             // HTTP Basic authentication
	VerifyAPIKey           = "api-key"           // a fixed key in a header or query parameter
)

// Defaults of the intake configuration.
const (
	DefaultTolerance   = 5 * time.Minute     // signed timestamps may be this far from now
	DefaultDedupWindow = 24 * time.Hour      // a dedup key is remembered this long
	MaxDedupWindow     = 90 * 24 * time.Hour // longest dedup window accepted
	DefaultAPIKeyName  = "X-Api-Key"         // api-key header when config.verify.key is empty
	DefaultAPIKeyParam = "api_key"           // api-key query parameter when config.verify.key is empty
	MaskedSecret       = "****"              // what the admin API shows instead of a secret
	whsecPrefix        = "whsec_"
)

// VerifyConfig is a source's request verifier. Type selects the scheme; the
// other fields apply to some types only, and Validate rejects a field that
// the type does not take.
type VerifyConfig struct {
	Type string `json:"type"`
	// Secret is the shared secret (github, stripe, shopify, hmac, slack's
	// signing secret, twilio's auth token, standard-webhooks as
	// whsec_<base64>) or the key (api-key). Write-only: the admin API
	// answers it masked.
	Secret string `json:"secret,omitempty"`
	// Header names the signature header (hmac).
	Header string `json:"header,omitempty"`
	// Algorithm is sha1, sha256 (the default) or sha512 (hmac).
	Algorithm string `json:"algorithm,omitempty"`
	// Encoding is hex (the default) or base64 (hmac).
	Encoding string `json:"encoding,omitempty"`
	// Prefix is text before the signature in the header, such as "sha256=" (hmac).
	Prefix string `json:"prefix,omitempty"`
	// Tolerance is how far a signed timestamp may be from now, as a Go
	// duration such as "5m" (stripe, standard-webhooks, slack; default 5m).
	Tolerance string `json:"tolerance,omitempty"`
	// Username and Password are the expected credentials (basic); the
	// password is write-only.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// In is "header" (the default) or "query", and Key the name of the
	// header or query parameter that carries the key (api-key).
	In  string `json:"in,omitempty"`
	Key string `json:"key,omitempty"`
	// VerifyToken is the token a subscription request must show to be
	// answered (meta's hub.verify_token); write-only as the secret.
	VerifyToken string `json:"verify_token,omitempty"`
}

// MarshalJSON writes the verifier with its secret and password masked (see
// SourceConfig.Masked), so that no answer, log line or error that encodes
// a source, its config or its verifier can reveal them. The stores, and a
// client sending a config to the admin API, use SourceConfig.SecretJSON.
// Decoding takes secrets as given.
func (v VerifyConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(plainVerify(v.masked(v.Type)))
}

// masked returns v with its secrets masked (see secretFields); only a
// secret of a standard-webhooks verifier (of type verifyType, the preset's
// when v names none) keeps its whsec_ prefix.
func (v VerifyConfig) masked(verifyType string) VerifyConfig {
	b, err := json.Marshal(plainVerify(v))
	if err == nil {
		b, err = maskSecrets(b, fieldsUnder(SecretSource, "verify"))
	}
	var m plainVerify
	if err != nil || json.Unmarshal(b, &m) != nil {
		return VerifyConfig{Type: v.Type} // unreachable: v encodes
	}
	if verifyType != VerifyStandardWebhooks && m.Secret != "" {
		m.Secret = MaskedSecret
	}
	return VerifyConfig(m)
}

// String shows the verifier as its masked JSON, so that printing it with
// fmt or a text log handler reveals no secret either.
func (v VerifyConfig) String() string {
	b, _ := v.MarshalJSON()
	return string(b)
}

// GoString is String, for %#v.
func (v VerifyConfig) GoString() string { return v.String() }

// plainVerify is VerifyConfig without its masking MarshalJSON.
type plainVerify VerifyConfig

// TolerancePeriod returns the timestamp tolerance that applies.
func (v *VerifyConfig) TolerancePeriod() time.Duration {
	if d, err := time.ParseDuration(v.Tolerance); err == nil && d > 0 {
		return d
	}
	return DefaultTolerance
}

// KeyName returns the header or query parameter of an api-key verifier.
func (v *VerifyConfig) KeyName() string {
	if v.Key != "" {
		return v.Key
	} else if v.In == "query" {
		return DefaultAPIKeyParam
	}
	return DefaultAPIKeyName
}

// SignatureHeaders returns the canonical names of the request headers that
// carry the verifier's signature or key, which are never stored.
func (v *VerifyConfig) SignatureHeaders() []string {
	switch v.Type {
	case VerifyGitHub, VerifyMeta:
		return []string{"X-Hub-Signature-256", "X-Hub-Signature"}
	case VerifyPaddle:
		return []string{"Paddle-Signature"}
	case VerifyCalendly:
		return []string{"Calendly-Webhook-Signature"}
	case VerifyRecurly:
		return []string{"Recurly-Signature"}
	case VerifyZoom:
		return []string{"X-Zm-Signature"}
	case VerifyZendesk:
		return []string{"X-Zendesk-Webhook-Signature"}
	case VerifyTwitch:
		return []string{"Twitch-Eventsub-Message-Signature"}
	case VerifySquare:
		return []string{"X-Square-Hmacsha256-Signature", "X-Square-Signature"}
	case VerifyDiscord:
		return []string{"X-Signature-Ed25519"}
	case VerifySendGrid:
		return []string{"X-Twilio-Email-Event-Webhook-Signature"}
	case VerifyStripe:
		return []string{"Stripe-Signature"}
	case VerifyShopify:
		return []string{"X-Shopify-Hmac-Sha256"}
	case VerifyStandardWebhooks:
		return []string{"Webhook-Signature", "Svix-Signature"}
	case VerifySlack:
		return []string{"X-Slack-Signature"}
	case VerifyTwilio:
		return []string{"X-Twilio-Signature"}
	case VerifyHMAC:
		return []string{textproto.CanonicalMIMEHeaderKey(v.Header)}
	case VerifyAPIKey:
		if v.In != "query" {
			return []string{textproto.CanonicalMIMEHeaderKey(v.KeyName())}
		}
	}
	return nil
}

// DedupConfig names a source's idempotency key: a request header or a
// property path, exactly one of them.
type DedupConfig struct {
	// Header is a request header such as Idempotency-Key or X-GitHub-Delivery.
	Header string `json:"header,omitempty"`
	// Path is a dot-separated property path such as data.id.
	Path string `json:"path,omitempty"`
	// FallbackHeaders are tried in order when Header is absent (Shopify's
	// X-Shopify-Webhook-Id after X-Shopify-Event-Id).
	FallbackHeaders []string `json:"fallback_headers,omitempty"`
	// Window is how long a key is remembered, as a Go duration such as
	// "24h" (the default).
	Window string `json:"window,omitempty"`
}

// HeaderKey returns the first of Header and FallbackHeaders that the
// request has (get returns a header's value), trimmed, or "".
func (d *DedupConfig) HeaderKey(get func(name string) string) string {
	if d.Header == "" {
		return ""
	}
	if v := strings.TrimSpace(get(d.Header)); v != "" {
		return v
	}
	for _, h := range d.FallbackHeaders {
		if v := strings.TrimSpace(get(h)); v != "" {
			return v
		}
	}
	return ""
}

// WindowPeriod returns the dedup window that applies.
func (d *DedupConfig) WindowPeriod() time.Duration {
	if w, err := time.ParseDuration(d.Window); err == nil && w > 0 {
		return w
	}
	return DefaultDedupWindow
}

// RateLimitConfig is a token bucket: PerSecond requests a second on average,
// and up to Burst at once.
type RateLimitConfig struct {
	PerSecond float64 `json:"per_second"`
	// Burst is the bucket size; 0 means PerSecond rounded up (at least 1).
	Burst int `json:"burst,omitempty"`
}

// BurstSize returns the bucket size that applies.
func (r *RateLimitConfig) BurstSize() int {
	if r.Burst > 0 {
		return r.Burst
	}
	return max(1, int(math.Ceil(r.PerSecond)))
}

// Masked returns a copy of s whose configuration shows no secret.
func (s *Source) Masked() *Source {
	m := *s
	m.Config = s.Config.Masked()
	return &m
}

// Validate returns an EINVALID error naming the first field that is wrong.
func (s *Source) Validate() error {
	if !ValidID(s.ID) {
		return Errorf(EINVALID, "id must be 1 to %d characters from A-Z, a-z, 0-9, '-', '_', '.' and ':'", MaxIDLength)
	} else if strings.HasPrefix(s.ID, "inlet:") {
		return Errorf(EINVALID, "ids starting with inlet: are Inlet's own (%s)", ErasureSource)
	} else if s.Name == "" {
		return Errorf(EINVALID, "name is required")
	} else if len(s.Name) > 256 {
		return Errorf(EINVALID, "name is longer than 256 characters")
	} else if s.Type != SourceTypeWebhook {
		return Errorf(EINVALID, "type must be %q", SourceTypeWebhook)
	}
	return s.Config.Validate()
}

// verifyFields are the optional fields each verifier type takes, beside type.
var verifyFields = map[string][]string{
	VerifyGitHub:           {"secret"},
	VerifyStripe:           {"secret", "tolerance"},
	VerifyShopify:          {"secret"},
	VerifyStandardWebhooks: {"secret", "tolerance"},
	VerifySlack:            {"secret", "tolerance"},
	VerifyTwilio:           {"secret"},
	VerifyMeta:             {"secret", "verify_token"},
	VerifyPaddle:           {"secret", "tolerance"},
	VerifyCalendly:         {"secret", "tolerance"},
	VerifyRecurly:          {"secret", "tolerance"},
	VerifyZoom:             {"secret", "tolerance"},
	VerifyZendesk:          {"secret", "tolerance"},
	VerifyTwitch:           {"secret", "tolerance"},
	VerifySquare:           {"secret"},
	VerifyGraph:            {"secret"},
	VerifySendGrid:         {"secret", "tolerance"},
	VerifyAdyen:            {"secret"},
	VerifyDiscord:          {"secret", "tolerance"},
	VerifyMailgun:          {"secret", "tolerance"},
	VerifyHMAC:             {"secret", "header", "algorithm", "encoding", "prefix"},
	VerifyBasic:            {"username", "password"},
	VerifyAPIKey:           {"secret", "in", "key"},
}

// VerifyTypes returns the verifier types, sorted.
func VerifyTypes() []string {
	types := make([]string, 0, len(verifyFields))
	for t := range verifyFields {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// Validate returns an EINVALID error naming the first field that is wrong.
func (v *VerifyConfig) Validate() error {
	allowed, ok := verifyFields[v.Type]
	if !ok {
		return Errorf(EINVALID, "config.verify.type must be one of %s", strings.Join(VerifyTypes(), ", "))
	}
	for _, f := range []struct{ name, value string }{
		{"secret", v.Secret}, {"header", v.Header}, {"algorithm", v.Algorithm}, {"encoding", v.Encoding},
		{"prefix", v.Prefix}, {"tolerance", v.Tolerance}, {"username", v.Username}, {"password", v.Password},
		{"in", v.In}, {"key", v.Key}, {"verify_token", v.VerifyToken},
	} {
		if f.value != "" && !slices.Contains(allowed, f.name) {
			return Errorf(EINVALID, "config.verify.%s does not apply to type %q, which takes %s", f.name, v.Type, strings.Join(allowed, ", "))
		}
		if len(f.value) > 1024 {
			return Errorf(EINVALID, "config.verify.%s is longer than 1024 characters", f.name)
		}
	}
	if slices.Contains(allowed, "secret") {
		switch {
		case v.Secret == "":
			return Errorf(EINVALID, "config.verify.secret is required for type %q", v.Type)
		case isMasked(v.Secret):
			return Errorf(EINVALID, "config.verify.secret is the masked value; send the secret itself")
		case v.Type == VerifyStandardWebhooks:
			key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v.Secret, whsecPrefix))
			if err != nil || len(key) == 0 {
				return Errorf(EINVALID, "config.verify.secret must be whsec_ followed by the base64 key, as the sender shows it")
			}
		case v.Type == VerifyAdyen:
			if _, err := hex.DecodeString(v.Secret); err != nil {
				return Errorf(EINVALID, "config.verify.secret must be the HMAC key Adyen shows, in hex")
			}
		case v.Type == VerifySendGrid:
			der, err := base64.StdEncoding.DecodeString(v.Secret)
			if err == nil {
				_, err = x509.ParsePKIXPublicKey(der)
			}
			if err != nil {
				return Errorf(EINVALID, "config.verify.secret must be the verification key SendGrid shows, a base64 ECDSA public key")
			}
		case v.Type == VerifyDiscord:
			if key, err := hex.DecodeString(v.Secret); err != nil || len(key) != ed25519.PublicKeySize {
				return Errorf(EINVALID, "config.verify.secret must be the application's public key, 64 hex digits, as the Discord developer portal shows it")
			}
		}
	}
	if v.Tolerance != "" {
		d, err := time.ParseDuration(v.Tolerance)
		if err != nil || d <= 0 || d > 24*time.Hour {
			return Errorf(EINVALID, "config.verify.tolerance must be a duration such as \"5m\", more than 0 and at most 24h")
		}
	}
	switch v.Type {
	case VerifyHMAC:
		if !validHeaderName(v.Header) {
			return Errorf(EINVALID, "config.verify.header must name the signature header, for example X-Signature")
		}
		if v.Algorithm != "" && v.Algorithm != "sha1" && v.Algorithm != "sha256" && v.Algorithm != "sha512" {
			return Errorf(EINVALID, "config.verify.algorithm must be sha1, sha256 (the default) or sha512")
		}
		if v.Encoding != "" && v.Encoding != "hex" && v.Encoding != "base64" {
			return Errorf(EINVALID, "config.verify.encoding must be hex (the default) or base64")
		}
	case VerifyBasic:
		if v.Username == "" || strings.Contains(v.Username, ":") {
			return Errorf(EINVALID, "config.verify.username is required and may not contain ':'")
		} else if v.Password == "" {
			return Errorf(EINVALID, "config.verify.password is required for type \"basic\"")
		} else if isMasked(v.Password) {
			return Errorf(EINVALID, "config.verify.password is the masked value; send the password itself")
		}
	case VerifyAPIKey:
		if v.In != "" && v.In != "header" && v.In != "query" {
			return Errorf(EINVALID, "config.verify.in must be header (the default) or query")
		}
		if v.In == "query" && v.Key == "" {
			break
		} else if v.In == "query" && !ValidID(v.Key) {
			return Errorf(EINVALID, "config.verify.key must be a query parameter name from A-Z, a-z, 0-9, '-', '_', '.' and ':'")
		} else if v.In != "query" && v.Key != "" && !validHeaderName(v.Key) {
			return Errorf(EINVALID, "config.verify.key must be a header name, for example X-Api-Key")
		}
	}
	return nil
}

// validHeaderName reports whether s is an HTTP header name (an RFC 9110 token).
func validHeaderName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// Validate returns an EINVALID error naming the first field that is wrong.
func (d *DedupConfig) Validate() error {
	switch {
	case d.Header == "" && d.Path == "":
		return Errorf(EINVALID, "config.dedup needs header (a request header such as Idempotency-Key) or path (a property path such as data.id)")
	case d.Header != "" && d.Path != "":
		return Errorf(EINVALID, "config.dedup takes header or path, not both")
	case d.Header != "" && !validHeaderName(d.Header):
		return Errorf(EINVALID, "config.dedup.header must be a header name, for example Idempotency-Key")
	case d.Path != "" && !validPath(d.Path):
		return Errorf(EINVALID, "config.dedup.path must be property names joined by '.', for example data.id (at most 256 characters)")
	case len(d.FallbackHeaders) > 0 && d.Header == "":
		return Errorf(EINVALID, "config.dedup.fallback_headers needs header, tried first")
	case len(d.FallbackHeaders) > 4:
		return Errorf(EINVALID, "config.dedup.fallback_headers takes at most 4 headers")
	}
	for _, h := range d.FallbackHeaders {
		if !validHeaderName(h) {
			return Errorf(EINVALID, "config.dedup.fallback_headers must be header names, for example X-Webhook-Id")
		}
	}
	if d.Window != "" {
		w, err := time.ParseDuration(d.Window)
		if err != nil || w < time.Second || w > MaxDedupWindow {
			return Errorf(EINVALID, "config.dedup.window must be a duration such as \"24h\", from 1s to %s", MaxDedupWindow)
		}
	}
	return nil
}

func validPath(p string) bool {
	if len(p) > 256 {
		return false
	}
	for _, seg := range strings.Split(p, ".") {
		if seg == "" {
			return false
		}
	}
	return true
}

// Validate returns an EINVALID error naming the first field that is wrong.
func (r *RateLimitConfig) Validate() error {
	if !(r.PerSecond > 0 && r.PerSecond <= 1e6) {
		return Errorf(EINVALID, "config.rate_limit.per_second must be more than 0 and at most 1000000")
	} else if r.Burst < 0 || r.Burst > 1e6 {
		return Errorf(EINVALID, "config.rate_limit.burst must be from 0 (per_second rounded up) to 1000000")
	}
	return nil
}

// SourceUpdate holds the fields of a source to change; nil fields stay.
type SourceUpdate struct {
	Name    *string       `json:"name"`
	Enabled *bool         `json:"enabled"`
	Config  *SourceConfig `json:"config"`
}

// Apply changes s by u and validates the result: the one rule of an
// update, for every store. Returns EINVALID.
func (u *SourceUpdate) Apply(s *Source) error {
	if u.Name != nil {
		s.Name = *u.Name
	}
	if u.Enabled != nil {
		s.Enabled = *u.Enabled
	}
	if u.Config != nil {
		s.Config = *u.Config
	}
	return s.Validate()
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
