package inlet

import (
	"encoding/json"
	"net/textproto"
)

// SourceConfig is the per-sender configuration of a source.
type SourceConfig struct {
	// SecretHeaders names request headers never stored with an event, beside
	// Authorization and Cookie, which are never stored.
	SecretHeaders []string `json:"secret_headers,omitempty"`

	// MaxBodyBytes caps the request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`

	// Verify, when set, is the check every request must pass before its
	// event is stored (fail closed).
	Verify *VerifyConfig `json:"verify,omitempty"`

	// Dedup, when set, names the idempotency key of the source's requests.
	Dedup *DedupConfig `json:"dedup,omitempty"`

	// RateLimit, when set, bounds the requests per second of the source on
	// each node.
	RateLimit *RateLimitConfig `json:"rate_limit,omitempty"`

	// Preset names a known sender (see preset.go), which implies the
	// verifier type, the event type's source, the dedup key and the
	// sender's body quirks; explicit fields override it.
	Preset string `json:"preset,omitempty"`

	// Transform, when set, reshapes each event with CEL expressions.
	Transform *TransformConfig `json:"transform,omitempty"`

	// Schemas maps event types, or "*" for any other, to the JSON Schema
	// their properties must follow.
	Schemas map[string]SchemaRule `json:"schemas,omitempty"`

	// Privacy, when set, is what the source keeps of what it receives:
	// field policies, the client's address and user agent, retention.
	Privacy *Privacy `json:"privacy,omitempty"`

	// Mapping takes an event's type, session, profile, identifiers and
	// traits from its payload; see identity.go.
	Mapping
}

// SecretJSON encodes c with its secrets, for the stores (and for a client
// sending the config to the admin API, which must send the secrets
// themselves): the one encoding that keeps them. json.Unmarshal reads it.
func (c *SourceConfig) SecretJSON() ([]byte, error) {
	type plain SourceConfig
	return json.Marshal(struct {
		*plain
		Verify *plainVerify `json:"verify,omitempty"`
	}{(*plain)(c), (*plainVerify)(c.Verify)})
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
	if v := c.effectiveVerify(); v != nil {
		for _, h := range v.SignatureHeaders() {
			if h == name {
				return true
			}
		}
	}
	return false
}

// effectiveVerify returns the verifier with its preset's type filled in.
func (c *SourceConfig) effectiveVerify() *VerifyConfig {
	if c.Verify == nil || c.Verify.Type != "" || c.Preset == "" {
		return c.Verify
	}
	e := c.Effective()
	return e.Verify
}

// SecretQueryParam returns the query parameter that carries the source's API
// key, which is never stored, or "".
func (c *SourceConfig) SecretQueryParam() string {
	if c.Verify != nil && c.Verify.Type == VerifyAPIKey && c.Verify.In == "query" {
		return c.Verify.KeyName()
	}
	return ""
}

// Masked returns a copy of c with its secrets replaced by MaskedSecret (a
// standard-webhooks secret keeps its whsec_ prefix), for answers that must
// never reveal them.
func (c SourceConfig) Masked() SourceConfig {
	if c.Verify != nil {
		v := c.Verify.masked(c.effectiveVerify().Type)
		c.Verify = &v
	}
	c.SecretHeaders = append([]string(nil), c.SecretHeaders...)
	return c
}

// KeepSecrets fills the secrets that c leaves empty or sends back masked
// from old, the configuration stored before, when both verify with the same
// type: so that an update may send back what it read.
func (c *SourceConfig) KeepSecrets(old *SourceConfig) {
	if c.Verify == nil || old == nil || old.Verify == nil || c.effectiveVerify().Type != old.effectiveVerify().Type {
		return
	}
	b, err1 := json.Marshal(plainVerify(*c.Verify))
	o, err2 := json.Marshal(plainVerify(*old.Verify))
	if err1 != nil || err2 != nil {
		return
	}
	var v plainVerify
	if json.Unmarshal(keepSecrets(b, o, fieldsUnder(SecretSource, "verify")), &v) == nil {
		*c.Verify = VerifyConfig(v)
	}
}

// Validate returns an EINVALID error naming the first field that is wrong.
// A preset's implied fields are checked as if they were written out.
func (c *SourceConfig) Validate() error {
	if err := c.validatePreset(); err != nil {
		return err
	}
	e := c.Effective()
	return e.validate()
}

func (c *SourceConfig) validate() error {
	for _, h := range c.SecretHeaders {
		if h == "" || len(h) > 256 {
			return Errorf(EINVALID, "config.secret_headers: header names must be 1 to 256 characters")
		}
	}
	if c.MaxBodyBytes < 0 || c.MaxBodyBytes > MaxBodyBytesLimit {
		return Errorf(EINVALID, "config.max_body_bytes must be between 0 (the default, 1 MiB) and 67108864 (64 MiB)")
	}
	if c.Verify != nil {
		if err := c.Verify.Validate(); err != nil {
			return err
		}
	}
	if c.Dedup != nil {
		if err := c.Dedup.Validate(); err != nil {
			return err
		}
	}
	if c.Privacy != nil {
		if err := c.Privacy.Validate(); err != nil {
			return err
		}
	}
	if c.RateLimit != nil {
		if err := c.RateLimit.Validate(); err != nil {
			return err
		}
	}
	if c.Transform != nil {
		if err := c.Transform.Validate(); err != nil {
			return err
		}
	}
	if err := validateSchemas(c.Schemas); err != nil {
		return err
	}
	return c.Mapping.Validate()
}
