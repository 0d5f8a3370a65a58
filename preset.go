package inlet

import (
	"slices"
	"strings"
)

// Preset names of SourceConfig.Preset (the others are only in the table).
const (
	PresetGitHub           = "github"
	PresetStripe           = "stripe"
	PresetShopify          = "shopify"
	PresetStandardWebhooks = "standard-webhooks"
	PresetSlack            = "slack"
	PresetTwilio           = "twilio"
)

// Handshakes: how a sender checks an endpoint before it sends events, and
// what the collector answers (see collect.Handshake). A handshake that the
// sender signs is stored as an event as well; one it does not sign is only
// answered.
const (
	// HandshakeSlack: a signed body of type url_verification is answered
	// with its challenge.
	HandshakeSlack = "slack"
	// HandshakeMeta: GET ?hub.mode=subscribe&hub.verify_token=&hub.challenge=
	// is answered with the challenge when the token is the source's
	// verify_token.
	HandshakeMeta = "meta"
	// HandshakeZoom: a signed endpoint.url_validation event is answered
	// with its plainToken and the hex HMAC-SHA256 of it.
	HandshakeZoom = "zoom"
	// HandshakeTwitch: a signed webhook_callback_verification message is
	// answered with its challenge as text.
	HandshakeTwitch = "twitch"
	// HandshakeDiscord: a signed interactions PING (type 1) is answered
	// with {"type": 1}, a webhook event with 204.
	HandshakeDiscord = "discord"
	// HandshakeGraph: a request with ?validationToken= is answered with
	// the token as text (Microsoft Graph subscriptions).
	HandshakeGraph = "microsoft-graph"
	// HandshakeDropbox: GET ?challenge= is answered with the challenge.
	HandshakeDropbox = "dropbox"
	// HandshakeTwitterCRC: GET ?crc_token= is answered with
	// {"response_token": "sha256=<base64 HMAC-SHA256 of the token>"}.
	HandshakeTwitterCRC = "twitter-crc"
	// HandshakeOkta: GET with X-Okta-Verification-Challenge is answered
	// with {"verification": <the challenge>}.
	HandshakeOkta = "okta"
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
	// SplitArray: the sender batches events in a JSON array, one event
	// each (SendGrid), as the mapping's split_array.
	SplitArray bool
	// Handshake names how the sender checks the endpoint (a Handshake
	// constant), or is empty.
	Handshake string
	// Header, Prefix, Algorithm and Encoding say where an hmac preset's
	// signature is; Key where an api-key preset's key is. A source's own
	// fields win.
	Header, Prefix, Algorithm, Encoding, Key string
}

var presets = map[string]Preset{
	// Code and work.
	PresetGitHub: {
		Verify: VerifyGitHub, EventTypeHeader: "X-GitHub-Event", ActionPath: "action",
		DedupHeaders: []string{"X-GitHub-Delivery"}, FormPayload: true,
	},
	"gitlab": {
		Verify: VerifyAPIKey, Key: "X-Gitlab-Token", EventTypePaths: []string{"object_kind"}, ActionPath: "object_attributes.action",
		DedupHeaders: []string{"Idempotency-Key", "X-Gitlab-Event-Uuid"},
	},
	"bitbucket": {
		Verify: VerifyHMAC, Header: "X-Hub-Signature", Prefix: "sha256=", EventTypeHeader: "X-Event-Key",
		DedupHeaders: []string{"X-Request-Uuid"},
	},
	"jira": {
		Verify: VerifyHMAC, Header: "X-Hub-Signature", Prefix: "sha256=", EventTypePaths: []string{"webhookEvent"},
		DedupHeaders: []string{"X-Atlassian-Webhook-Identifier"},
	},
	"linear": {
		Verify: VerifyHMAC, Header: "Linear-Signature", EventTypePaths: []string{"type"}, ActionPath: "action",
		DedupHeaders: []string{"Linear-Delivery"},
	},

	// Payments.
	PresetStripe: {Verify: VerifyStripe, EventTypePaths: []string{"type"}, DedupPath: "id"},
	"paddle":     {Verify: VerifyPaddle, EventTypePaths: []string{"event_type"}, DedupPath: "event_id"},
	"square":     {Verify: VerifySquare, EventTypePaths: []string{"type"}, DedupPath: "event_id"},
	"recurly":    {Verify: VerifyRecurly, EventTypePaths: []string{"object_type"}, ActionPath: "event_type", DedupPath: "id"},
	"chargebee":  {Verify: VerifyBasic, EventTypePaths: []string{"event_type"}, DedupPath: "id"},
	"adyen":      {Verify: VerifyAdyen, EventTypePaths: []string{"notificationItems.0.NotificationRequestItem.eventCode"}},

	// Commerce.
	PresetShopify: {
		Verify: VerifyShopify, EventTypeHeader: "X-Shopify-Topic",
		DedupHeaders: []string{"X-Shopify-Event-Id", "X-Shopify-Webhook-Id"},
	},
	"bigcommerce": {
		Verify: VerifyAPIKey, Key: "Authorization", EventTypePaths: []string{"scope"}, DedupPath: "hash",
	},
	"woocommerce": {
		Verify: VerifyHMAC, Header: "X-Wc-Webhook-Signature", Encoding: "base64", EventTypeHeader: "X-Wc-Webhook-Topic",
		DedupHeaders: []string{"X-Wc-Webhook-Delivery-Id"},
	},

	// Messaging and email.
	PresetSlack: {
		Verify: VerifySlack, EventTypePaths: []string{"event.type", "type"}, DedupPath: "event_id", Handshake: HandshakeSlack,
	},
	PresetTwilio: {Verify: VerifyTwilio, DedupHeaders: []string{"I-Twilio-Idempotency-Token"}},
	"mailgun":    {Verify: VerifyMailgun, EventTypePaths: []string{"event-data.event"}, DedupPath: "event-data.id"},
	"sendgrid":   {Verify: VerifySendGrid, EventTypePaths: []string{"event"}, DedupPath: "sg_event_id", SplitArray: true},
	"postmark":   {Verify: VerifyBasic, EventTypePaths: []string{"RecordType"}},
	"intercom": {
		Verify: VerifyHMAC, Header: "X-Hub-Signature", Prefix: "sha1=", Algorithm: "sha1", EventTypePaths: []string{"topic"}, DedupPath: "id",
	},
	"zendesk": {
		Verify: VerifyZendesk, EventTypePaths: []string{"type"}, DedupHeaders: []string{"X-Zendesk-Webhook-Invocation-Id"},
	},

	// Forms and scheduling.
	"typeform": {
		Verify: VerifyHMAC, Header: "Typeform-Signature", Prefix: "sha256=", Encoding: "base64", EventTypePaths: []string{"event_type"}, DedupPath: "event_id",
	},
	"calendly": {Verify: VerifyCalendly, EventTypePaths: []string{"event"}},
	"zoom":     {Verify: VerifyZoom, EventTypePaths: []string{"event"}, Handshake: HandshakeZoom},

	// Identity.
	"clerk": {Verify: VerifyStandardWebhooks, EventTypePaths: []string{"type"}, DedupHeaders: []string{"Svix-Id", "Webhook-Id"}},
	"auth0": {Verify: VerifyAPIKey, Key: "Authorization", EventTypePaths: []string{"data.type", "type"}, DedupPath: "log_id"},
	"okta": {
		Verify: VerifyAPIKey, Key: "Authorization", EventTypePaths: []string{"data.events.0.eventType", "eventType"}, DedupPath: "eventId",
		Handshake: HandshakeOkta,
	},

	// Platforms.
	"meta": {
		Verify: VerifyMeta, EventTypePaths: []string{"object"}, ActionPath: "entry.0.changes.0.field", Handshake: HandshakeMeta,
	},
	"discord": {Verify: VerifyDiscord, EventTypePaths: []string{"event.type"}, Handshake: HandshakeDiscord},
	"twitch": {
		Verify: VerifyTwitch, EventTypeHeader: "Twitch-Eventsub-Subscription-Type", DedupHeaders: []string{"Twitch-Eventsub-Message-Id"},
		Handshake: HandshakeTwitch,
	},
	"twitter": {
		Verify: VerifyHMAC, Header: "X-Twitter-Webhooks-Signature", Prefix: "sha256=", Encoding: "base64", Handshake: HandshakeTwitterCRC,
	},
	"dropbox":         {Verify: VerifyHMAC, Header: "X-Dropbox-Signature", Handshake: HandshakeDropbox},
	"microsoft-graph": {Verify: VerifyGraph, EventTypePaths: []string{"value.0.changeType"}, Handshake: HandshakeGraph},

	// Standard Webhooks, and senders that sign by it.
	PresetStandardWebhooks: {Verify: VerifyStandardWebhooks, EventTypePaths: []string{"type"}, DedupHeaders: []string{"Webhook-Id", "Svix-Id"}},
	"svix":                 {Verify: VerifyStandardWebhooks, EventTypePaths: []string{"type"}, DedupHeaders: []string{"Svix-Id", "Webhook-Id"}},
	"resend":               {Verify: VerifyStandardWebhooks, EventTypePaths: []string{"type"}, DedupHeaders: []string{"Svix-Id", "Webhook-Id"}},
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
// nothing itself: the verifier type (and signature header) of a verify
// without one, the dedup key when there is no dedup, split_array for a
// sender that batches, and the event type's header and paths when the
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
		for _, f := range []struct {
			field *string
			value string
		}{
			{&v.Header, p.Header}, {&v.Prefix, p.Prefix}, {&v.Algorithm, p.Algorithm}, {&v.Encoding, p.Encoding}, {&v.Key, p.Key},
		} {
			if *f.field == "" {
				*f.field = f.value
			}
		}
		e.Verify = &v
	}
	if p.SplitArray {
		e.SplitArray = true
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
