package inlet

import (
	"slices"
	"strings"
)

// Preset names of SourceConfig.Preset.
const (
	PresetGitHub           = "github"
	PresetStripe           = "stripe"
	PresetShopify          = "shopify"
	PresetStandardWebhooks = "standard-webhooks"
	PresetSlack            = "slack"
	PresetTwilio           = "twilio"
)

// Preset is what naming a known sender implies for a source: how its
// requests are verified, where its events name their type, which value is
// its idempotency key, and the quirks of its bodies. Explicit fields of the
// source's configuration override a preset's.
type Preset struct {
	Name string
	// Verify is the verifier type; the source supplies the secret.
	Verify string
	// EventTypeHeader names the header holding the event type; '/' in its
	// value becomes '.' (Shopify's orders/create is orders.create).
	EventTypeHeader string
	// EventTypePaths are body paths tried in order for the event type when
	// there is no header.
	EventTypePaths []string
	// ActionPath, when the body has a string there, is appended to the
	// event type after a '.' (GitHub's pull_request.opened).
	ActionPath string
	// DedupHeaders are headers tried in order for the idempotency key, and
	// DedupPath a body path for it.
	DedupHeaders []string
	DedupPath    string
	// FormPayload: a form-encoded body carries the JSON payload in its
	// payload field, which becomes the properties (GitHub).
	FormPayload bool
	// URLVerification: a body of type url_verification is answered with its
	// challenge (and stored as an event), as Slack requires.
	URLVerification bool
}

var presets = map[string]Preset{
	PresetGitHub: {
		Verify: VerifyGitHub, EventTypeHeader: "X-GitHub-Event", ActionPath: "action",
		DedupHeaders: []string{"X-GitHub-Delivery"}, FormPayload: true,
	},
	PresetStripe: {Verify: VerifyStripe, EventTypePaths: []string{"type"}, DedupPath: "id"},
	PresetShopify: {
		Verify: VerifyShopify, EventTypeHeader: "X-Shopify-Topic",
		DedupHeaders: []string{"X-Shopify-Event-Id", "X-Shopify-Webhook-Id"},
	},
	PresetStandardWebhooks: {Verify: VerifyStandardWebhooks, EventTypePaths: []string{"type"}, DedupHeaders: []string{"Webhook-Id"}},
	PresetSlack: {
		Verify: VerifySlack, EventTypePaths: []string{"event.type", "type"}, DedupPath: "event_id", URLVerification: true,
	},
	PresetTwilio: {Verify: VerifyTwilio, DedupHeaders: []string{"I-Twilio-Idempotency-Token"}},
}

// PresetNames returns the names of the presets, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for name := range presets {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// LookupPreset returns the preset with name.
func LookupPreset(name string) (Preset, bool) {
	p, ok := presets[name]
	p.Name = name
	return p, ok
}

// Effective returns c with what its preset implies filled in where c says
// nothing itself: the verifier type of a verify without one, the dedup key
// when there is no dedup, and the event type's header and paths when the
// mapping names neither. Without a preset it returns c.
func (c *SourceConfig) Effective() SourceConfig {
	p, ok := LookupPreset(c.Preset)
	if !ok {
		return *c
	}
	e := *c
	if e.Verify != nil && e.Verify.Type == "" {
		v := *e.Verify
		v.Type = p.Verify
		e.Verify = &v
	}
	if e.Dedup == nil && (len(p.DedupHeaders) > 0 || p.DedupPath != "") {
		d := &DedupConfig{Path: p.DedupPath}
		if len(p.DedupHeaders) > 0 {
			d.Header = p.DedupHeaders[0]
			d.FallbackHeaders = p.DedupHeaders[1:]
		}
		e.Dedup = d
	}
	return e
}

// EventTypeRule says where an event's type comes from, beside the URL.
type EventTypeRule struct {
	// Header names a header whose value is the type ('/' becomes '.').
	Header string
	// Paths are body paths tried in order.
	Paths []string
	// ActionPath, when the body has a string there, is appended after '.'.
	ActionPath string
	// FromPreset tells that the rule is a preset's: a missing value then
	// keeps the URL's type without a warning, as senders' pings do.
	FromPreset bool
}

// IsZero reports whether the rule reads nothing, and the URL's type stands.
func (r EventTypeRule) IsZero() bool {
	return r.Header == "" && len(r.Paths) == 0
}

// EventTypeRule returns where the source's events name their type: the
// mapping's event_type_header or event_type_path when set, else the
// preset's rule.
func (c *SourceConfig) EventTypeRule() EventTypeRule {
	if c.EventTypeHeader != "" || c.EventTypePath != "" {
		r := EventTypeRule{Header: c.EventTypeHeader}
		if c.EventTypePath != "" {
			r.Paths = []string{c.EventTypePath}
		}
		return r
	}
	p, ok := LookupPreset(c.Preset)
	if !ok {
		return EventTypeRule{}
	}
	return EventTypeRule{Header: p.EventTypeHeader, Paths: p.EventTypePaths, ActionPath: p.ActionPath, FromPreset: true}
}

// HeaderEventType turns a header's value into an event type: '/' becomes
// '.', then the value is normalised as the URL's type.
func HeaderEventType(value string) (string, error) {
	return NormalizeEventType(strings.ReplaceAll(value, "/", "."))
}

// validatePreset returns an EINVALID error when c names an unknown preset,
// or a preset without the verify secret it needs.
func (c *SourceConfig) validatePreset() error {
	if c.Preset == "" {
		return nil
	}
	p, ok := LookupPreset(c.Preset)
	if !ok {
		return Errorf(EINVALID, "config.preset must be one of %s", strings.Join(PresetNames(), ", "))
	}
	if c.Verify == nil {
		return Errorf(EINVALID, "config.verify.secret is required with preset %q: the signing secret the sender shows, so that only its requests are taken", p.Name)
	}
	return nil
}
