package collect_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"inlet"
	"inlet/collect"
	"inlet/jsonpath"
)

func decode(t *testing.T, body []byte) any {
	t.Helper()
	props, err := collect.Parse("", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonpath.Decode(props)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func presetRule(t *testing.T, preset string) inlet.EventTypeRule {
	t.Helper()
	c := inlet.SourceConfig{Preset: preset, Verify: &inlet.VerifyConfig{Secret: "whsec_c2VjcmV0"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c.EventTypeRule()
}

// TestGitHubEventTypes reads payloads in the shape of octokit/webhooks'
// payload examples (abbreviated) with the X-GitHub-Event header GitHub
// sends with each.
func TestGitHubEventTypes(t *testing.T) {
	rule := presetRule(t, "github")
	for _, c := range []struct{ file, header, want string }{
		{"push.json", "push", "push"},
		{"pull_request.opened.json", "pull_request", "pull_request.opened"},
		{"issues.labeled.json", "issues", "issues.labeled"},
		{"ping.json", "ping", "ping"},
	} {
		t.Run(c.file+" with X-GitHub-Event "+c.header+" is "+c.want, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "github", c.file))
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{"X-Github-Event": {c.header}}
			got, found, err := collect.EventType(rule, h.Get, decode(t, body))
			if err != nil || !found || got != c.want {
				t.Errorf("got %q, %v, %v; want %q", got, found, err, c.want)
			}
		})
	}
	t.Run("a form-encoded delivery carries its JSON in payload", func(t *testing.T) {
		body, _ := os.ReadFile(filepath.Join("testdata", "github", "pull_request.opened.json"))
		form := "payload=" + url.QueryEscape(string(body))
		payload, ct, ok := collect.FormPayload("application/x-www-form-urlencoded", []byte(form))
		if !ok || ct != "application/json" || string(payload) != string(body) {
			t.Fatalf("FormPayload: %v %q", ok, ct)
		}
		h := http.Header{"X-Github-Event": {"pull_request"}}
		if got, _, err := collect.EventType(rule, h.Get, decode(t, payload)); err != nil || got != "pull_request.opened" {
			t.Errorf("got %q, %v", got, err)
		}
	})
	t.Run("a JSON delivery and other forms are left as they are", func(t *testing.T) {
		for _, c := range []struct{ ct, body string }{
			{"application/json", `{"payload":"x"}`},
			{"application/x-www-form-urlencoded", "a=1"},
			{"application/x-www-form-urlencoded", "payload=1&payload=2"},
		} {
			if _, _, ok := collect.FormPayload(c.ct, []byte(c.body)); ok {
				t.Errorf("%s %s: taken as a payload", c.ct, c.body)
			}
		}
	})
	t.Run("without the header the URL's type stands", func(t *testing.T) {
		if _, found, err := collect.EventType(rule, http.Header{}.Get, decode(t, []byte(`{"action":"opened"}`))); found || err != nil {
			t.Errorf("found %v, %v", found, err)
		}
	})
}

func TestPresetEventTypes(t *testing.T) {
	for _, c := range []struct {
		preset string
		header http.Header
		body   string
		want   string
	}{
		{"shopify", http.Header{"X-Shopify-Topic": {"orders/create"}}, `{"id":820982911946154508}`, "orders.create"},
		{"stripe", nil, `{"id":"evt_1","object":"event","type":"invoice.paid"}`, "invoice.paid"},
		{"standard-webhooks", nil, `{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{}}`, "contact.created"},
		{"slack", nil, `{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention","text":"hi"}}`, "app_mention"},
		{"slack", nil, `{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`, "url_verification"},
	} {
		t.Run(c.preset+" "+c.want, func(t *testing.T) {
			if c.header == nil {
				c.header = http.Header{}
			}
			got, found, err := collect.EventType(presetRule(t, c.preset), c.header.Get, decode(t, []byte(c.body)))
			if err != nil || !found || got != c.want {
				t.Errorf("got %q, %v, %v; want %q", got, found, err, c.want)
			}
		})
	}
	t.Run("twilio keeps the URL's type", func(t *testing.T) {
		if r := presetRule(t, "twilio"); !r.IsZero() {
			t.Errorf("rule %+v", r)
		}
	})
	t.Run("a plain event_type_header turns / into .", func(t *testing.T) {
		c := inlet.SourceConfig{Mapping: inlet.Mapping{EventTypeHeader: "X-Event"}}
		h := http.Header{"X-Event": {"Billing/Invoice Paid"}}
		if got, _, err := collect.EventType(c.EventTypeRule(), h.Get, map[string]any{}); err != nil || got != "billing.invoice-paid" {
			t.Errorf("got %q, %v", got, err)
		}
	})
	t.Run("a header value that is no event type is refused", func(t *testing.T) {
		h := http.Header{"X-Shopify-Topic": {"orders\x01create"}}
		_, _, err := collect.EventType(presetRule(t, "shopify"), h.Get, map[string]any{})
		if inlet.ErrorReason(err) != "bad_event_type" || !strings.Contains(err.Error(), "X-Shopify-Topic") {
			t.Errorf("got %v", err)
		}
	})
}

func TestSlackChallenge(t *testing.T) {
	c, ok := collect.SlackChallenge(decode(t, []byte(`{"token":"t","challenge":"abc","type":"url_verification"}`)))
	if !ok || c != "abc" {
		t.Errorf("got %q %v", c, ok)
	}
	if _, ok := collect.SlackChallenge(decode(t, []byte(`{"type":"event_callback","challenge":"abc"}`))); ok {
		t.Error("an event callback was taken for a challenge")
	}
}

func TestDedupHeaderKey(t *testing.T) {
	c := inlet.SourceConfig{Preset: "shopify", Verify: &inlet.VerifyConfig{Secret: "s"}}
	d := c.Effective().Dedup
	if got := d.HeaderKey(http.Header{"X-Shopify-Event-Id": {"e1"}, "X-Shopify-Webhook-Id": {"w1"}}.Get); got != "e1" {
		t.Errorf("both headers: %q", got)
	}
	if got := d.HeaderKey(http.Header{"X-Shopify-Webhook-Id": {" w1 "}}.Get); got != "w1" {
		t.Errorf("the fallback: %q", got)
	}
	if got := d.HeaderKey(http.Header{}.Get); got != "" {
		t.Errorf("neither: %q", got)
	}
}
