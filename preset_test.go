package inlet_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"inlet"
)

func TestPresetEffective(t *testing.T) {
	t.Run("a preset fills the verifier type, the dedup key and the event type's source", func(t *testing.T) {
		c := inlet.SourceConfig{Preset: "shopify", Verify: &inlet.VerifyConfig{Secret: "s"}}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		e := c.Effective()
		if e.Verify.Type != inlet.VerifyShopify {
			t.Errorf("verify type = %q", e.Verify.Type)
		}
		if e.Dedup == nil || e.Dedup.Header != "X-Shopify-Event-Id" || len(e.Dedup.FallbackHeaders) != 1 || e.Dedup.FallbackHeaders[0] != "X-Shopify-Webhook-Id" {
			t.Errorf("dedup = %+v", e.Dedup)
		}
		if r := c.EventTypeRule(); r.Header != "X-Shopify-Topic" || !r.FromPreset {
			t.Errorf("event type rule = %+v", r)
		}
		if c.Verify.Type != "" {
			t.Error("Effective changed the configuration it was called on")
		}
	})
	t.Run("explicit fields override the preset's", func(t *testing.T) {
		c := inlet.SourceConfig{
			Preset: "github", Verify: &inlet.VerifyConfig{Type: "api-key", Secret: "k"},
			Dedup:   &inlet.DedupConfig{Path: "delivery.id"},
			Mapping: inlet.Mapping{EventTypePath: "kind"},
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		e := c.Effective()
		if e.Verify.Type != "api-key" || e.Dedup.Path != "delivery.id" || e.Dedup.Header != "" {
			t.Errorf("effective = %+v %+v", e.Verify, e.Dedup)
		}
		if r := c.EventTypeRule(); r.Header != "" || len(r.Paths) != 1 || r.Paths[0] != "kind" || r.FromPreset {
			t.Errorf("event type rule = %+v", r)
		}
	})
	t.Run("each preset's rules are those of its sender", func(t *testing.T) {
		want := map[string]string{
			"github":            "github X-GitHub-Event [] action X-GitHub-Delivery ",
			"stripe":            "stripe  [type]   id",
			"shopify":           "shopify X-Shopify-Topic []  X-Shopify-Event-Id ",
			"standard-webhooks": "standard-webhooks  [type]  Webhook-Id ",
			"slack":             "slack  [event.type type]   event_id",
			"twilio":            "twilio  []  I-Twilio-Idempotency-Token ",
		}
		for name, w := range want {
			c := inlet.SourceConfig{Preset: name, Verify: &inlet.VerifyConfig{Secret: "whsec_c2VjcmV0"}}
			if err := c.Validate(); err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			e, r := c.Effective(), c.EventTypeRule()
			got := e.Verify.Type + " " + r.Header + " " + fmt.Sprint(r.Paths) + " " + r.ActionPath + " " + e.Dedup.Header + " " + e.Dedup.Path
			if got != w {
				t.Errorf("%s: got %q, want %q", name, got, w)
			}
		}
	})
	t.Run("a preset's signature header is never stored, and its secret is masked", func(t *testing.T) {
		c := inlet.SourceConfig{Preset: "slack", Verify: &inlet.VerifyConfig{Secret: "s3cret"}}
		if !c.IsSecretHeader("X-Slack-Signature") {
			t.Error("X-Slack-Signature would be stored")
		}
		b, _ := json.Marshal(c.Masked())
		if strings.Contains(string(b), "s3cret") {
			t.Errorf("masked config shows the secret: %s", b)
		}
	})
}

func TestPresetValidate(t *testing.T) {
	for _, c := range []struct {
		name   string
		config string
		field  string
	}{
		{"an unknown preset names the presets", `{"preset":"gitlub","verify":{"secret":"s"}}`, "config.preset must be one of adyen, auth0, bigcommerce,"},
		{"a preset without a secret asks for it", `{"preset":"github"}`, "config.verify.secret is required with preset"},
		{"a preset with an empty verify asks for the secret", `{"preset":"stripe","verify":{}}`, "config.verify.secret is required"},
		{"a standard-webhooks preset checks the secret's form", `{"preset":"standard-webhooks","verify":{"secret":"not base64!"}}`, "config.verify.secret must be whsec_"},
		{"a twilio verifier takes no tolerance", `{"preset":"twilio","verify":{"secret":"t","tolerance":"1m"}}`, "config.verify.tolerance does not apply"},
		{"an event type header must be a header name", `{"event_type_header":"X Event"}`, "config.event_type_header"},
		{"fallback headers need a first header", `{"dedup":{"path":"id","fallback_headers":["X-Id"]}}`, "config.dedup.fallback_headers needs header"},
		{"a transform with no expression is refused", `{"transform":{}}`, "config.transform needs"},
		{"an unknown on_error is refused", `{"transform":{"drop":"false","on_error":"ignore"}}`, "config.transform.on_error"},
		{"a schema without a mode is refused", `{"schemas":{"*":{"schema":{}}}}`, "config.schemas.*.mode"},
		{"a schema key that is not a stored event type is refused", `{"schemas":{"Order Paid":{"schema":{},"mode":"flag"}}}`, "config.schemas: \"Order Paid\""},
		{"a schema rule without a schema is refused", `{"schemas":{"a":{"mode":"flag"}}}`, "config.schemas.a.schema is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var cfg inlet.SourceConfig
			if err := json.Unmarshal([]byte(c.config), &cfg); err != nil {
				t.Fatal(err)
			}
			err := cfg.Validate()
			if inlet.ErrorCode(err) != inlet.EINVALID || !strings.Contains(inlet.ErrorMessage(err), c.field) {
				t.Errorf("got %v, want EINVALID mentioning %q", err, c.field)
			}
		})
	}
}

func TestHeaderEventType(t *testing.T) {
	for in, want := range map[string]string{"orders/create": "orders.create", "Pull_Request": "pull_request", " push ": "push"} {
		if got, err := inlet.HeaderEventType(in); err != nil || got != want {
			t.Errorf("HeaderEventType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := inlet.HeaderEventType("a\x00b"); inlet.ErrorCode(err) != inlet.EINVALID {
		t.Errorf("a control character: got %v", err)
	}
}

func TestSchemaFor(t *testing.T) {
	schemas := map[string]inlet.SchemaRule{"*": {Mode: "flag"}, "order.paid": {Mode: "reject"}}
	if r, key, ok := inlet.SchemaFor(schemas, "order.paid"); !ok || key != "order.paid" || r.Mode != "reject" {
		t.Errorf("the specific type: %v %q %v", r, key, ok)
	}
	if r, key, ok := inlet.SchemaFor(schemas, "order.refunded"); !ok || key != "*" || r.Mode != "flag" {
		t.Errorf("another type: %v %q %v", r, key, ok)
	}
	if _, _, ok := inlet.SchemaFor(nil, "x"); ok {
		t.Error("no schemas: a rule was found")
	}
}
