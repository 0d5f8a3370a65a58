package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stripe/stripe-go/v82/webhook"

	"inlet"
	inlethttp "inlet/http"
)

// These tests send real senders' requests, signed as the senders sign
// them, to the real program, on SQLite and (when INLET_TEST_POSTGRES is
// set) PostgreSQL.

func sign256(secret string, parts ...string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// shaped is the answer of a collect request with its events' detail.
type shaped struct {
	Events    []string `json:"events"`
	Duplicate bool     `json:"duplicate"`
	Dropped   bool     `json:"dropped"`
	Warnings  []string `json:"warnings"`
}

// send posts a request and decodes a 200 answer; other statuses fail.
func (s *liveServer) send(path string, h http.Header, body string) shaped {
	s.t.Helper()
	status, _, raw := s.do("POST", path, h, strings.NewReader(body))
	if status != http.StatusOK {
		s.t.Fatalf("POST %s: status %d, want 200; body %s", path, status, raw)
	}
	var out shaped
	if err := json.Unmarshal(raw, &out); err != nil {
		s.t.Fatalf("POST %s: %s: %v", path, raw, err)
	}
	return out
}

func readGitHub(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "collect", "testdata", "github", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSenderPresets(t *testing.T) {
	onBothStores(t, func(t *testing.T, cfg Config) {
		s := startLive(t, cfg)
		t.Run("github", func(t *testing.T) { githubPreset(t, s) })
		t.Run("stripe", func(t *testing.T) { stripePreset(t, s) })
		t.Run("shopify", func(t *testing.T) { shopifyPreset(t, s) })
		t.Run("standard-webhooks", func(t *testing.T) { standardWebhooksPreset(t, s) })
		t.Run("slack", func(t *testing.T) { slackPreset(t, s) })
		t.Run("twilio", func(t *testing.T) { twilioPreset(t, s) })
	})
}

func githubPreset(t *testing.T, s *liveServer) {
	const secret = "gh-webhook-secret"
	s.createSource(map[string]any{"id": "gh", "name": "GitHub", "config": map[string]any{"preset": "github", "verify": map[string]any{"secret": secret}}})
	if raw := s.admin("GET", "/api/v1/sources/gh", nil, http.StatusOK, nil); !strings.Contains(string(raw), `"verify":{"type":"github","secret":"****"}`) || strings.Contains(string(raw), secret) {
		t.Errorf("the stored source does not say its verifier, masked: %s", raw)
	}
	deliver := func(event, delivery, contentType, body string) (int, []byte) {
		h := header("Content-Type", contentType, "X-GitHub-Event", event, "X-GitHub-Delivery", delivery,
			"X-Hub-Signature-256", "sha256="+hex.EncodeToString(sign256(secret, body)), "User-Agent", "GitHub-Hookshot/044aadd")
		status, _, raw := s.do("POST", "/collect/github/gh", h, strings.NewReader(body))
		return status, raw
	}
	for _, c := range []struct{ file, event, want string }{
		{"push.json", "push", "push"},
		{"pull_request.opened.json", "pull_request", "pull_request.opened"},
		{"ping.json", "ping", "ping"},
	} {
		body := readGitHub(t, c.file)
		status, raw := deliver(c.event, "d-"+c.file, "application/json", body)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %s", c.file, status, raw)
		}
		var out shaped
		json.Unmarshal(raw, &out)
		e := s.event(out.Events[0])
		if e.Type != c.want {
			t.Errorf("%s with X-GitHub-Event %s: type %q, want %q", c.file, c.event, e.Type, c.want)
		}
		if _, ok := e.Context.Headers["X-Hub-Signature-256"]; ok {
			t.Errorf("%s: the signature header was stored", c.file)
		}
	}

	t.Run("a form-encoded delivery is stored as its JSON payload", func(t *testing.T) {
		payload := readGitHub(t, "issues.labeled.json")
		status, raw := deliver("issues", "d-form", "application/x-www-form-urlencoded", "payload="+url.QueryEscape(payload))
		if status != http.StatusOK {
			t.Fatalf("%d %s", status, raw)
		}
		var out shaped
		json.Unmarshal(raw, &out)
		e := s.event(out.Events[0])
		if e.Type != "issues.labeled" {
			t.Errorf("type %q", e.Type)
		}
		sameJSON(t, "properties", e.Properties, payload)
	})
	t.Run("a redelivery is a duplicate of the first", func(t *testing.T) {
		body := readGitHub(t, "push.json")
		status, raw := deliver("push", "d-push.json", "application/json", body)
		var out shaped
		json.Unmarshal(raw, &out)
		if status != http.StatusOK || !out.Duplicate {
			t.Errorf("%d %s, want a duplicate", status, raw)
		}
	})
	t.Run("a tampered delivery is refused", func(t *testing.T) {
		body := readGitHub(t, "push.json")
		h := header("Content-Type", "application/json", "X-GitHub-Event", "push", "X-GitHub-Delivery", "d-t",
			"X-Hub-Signature-256", "sha256="+hex.EncodeToString(sign256(secret, body)))
		status, rh, raw := s.do("POST", "/collect/github/gh", h, strings.NewReader(strings.Replace(body, "simple-tag", "other-tag", 1)))
		wantError(t, "tampered", status, rh, raw, http.StatusUnauthorized, "bad_signature")
	})
}

func stripePreset(t *testing.T, s *liveServer) {
	const secret = "whsec_stripe_e2e"
	s.createSource(map[string]any{"id": "stripe", "name": "Stripe", "config": map[string]any{"preset": "stripe", "verify": map[string]any{"secret": secret}}})
	body := `{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"invoice.paid","data":{"object":{"id":"in_1","amount_paid":2000}}}`
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body), Secret: secret, Timestamp: time.Now()})
	h := header("Content-Type", "application/json; charset=utf-8", "Stripe-Signature", signed.Header)
	out := s.send("/collect/stripe/stripe", h, body)
	if e := s.event(out.Events[0]); e.Type != "invoice.paid" {
		t.Errorf("type %q", e.Type)
	}
	if again := s.send("/collect/stripe/stripe", h, body); !again.Duplicate || again.Events[0] != out.Events[0] {
		t.Errorf("the same event id again: %+v", again)
	}
	status, rh, raw := s.do("POST", "/collect/stripe/stripe", h, strings.NewReader(strings.Replace(body, "2000", "1", 1)))
	wantError(t, "tampered", status, rh, raw, http.StatusUnauthorized, "bad_signature")
}

func shopifyPreset(t *testing.T, s *liveServer) {
	const secret = "shpss_e2e"
	s.createSource(map[string]any{"id": "shop", "name": "Shopify", "config": map[string]any{"preset": "shopify", "verify": map[string]any{"secret": secret}}})
	body := `{"id":820982911946154508,"email":"jon@example.com","total_price":"10.00"}`
	h := header("Content-Type", "application/json", "X-Shopify-Topic", "orders/create", "X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
		"X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(sign256(secret, body)))
	out := s.send("/collect/shopify/shop", h, body)
	if e := s.event(out.Events[0]); e.Type != "orders.create" {
		t.Errorf("type %q", e.Type)
	}
	if again := s.send("/collect/shopify/shop", h, body); !again.Duplicate {
		t.Errorf("the same webhook id again: %+v", again)
	}
}

func standardWebhooksPreset(t *testing.T, s *liveServer) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	s.createSource(map[string]any{"id": "sw", "name": "Standard", "config": map[string]any{"preset": "standard-webhooks", "verify": map[string]any{"secret": secret}}})
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{"id":"c_1"}}`
	now := time.Now()
	sig, err := wh.Sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", now, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	h := header("Content-Type", "application/json", "webhook-id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "webhook-timestamp", strconv.FormatInt(now.Unix(), 10), "webhook-signature", sig)
	out := s.send("/collect/sw/sw", h, body)
	if e := s.event(out.Events[0]); e.Type != "contact.created" {
		t.Errorf("type %q", e.Type)
	}
	if again := s.send("/collect/sw/sw", h, body); !again.Duplicate {
		t.Errorf("the same message id again: %+v", again)
	}
}

func slackHeaders(secret, body string) http.Header {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	return header("Content-Type", "application/json", "X-Slack-Request-Timestamp", ts,
		"X-Slack-Signature", "v0="+hex.EncodeToString(sign256(secret, "v0:"+ts+":"+body)))
}

func slackPreset(t *testing.T, s *liveServer) {
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	s.createSource(map[string]any{"id": "slack", "name": "Slack", "config": map[string]any{"preset": "slack", "verify": map[string]any{"secret": secret}}})
	t.Run("a url_verification request is answered with its challenge and stored", func(t *testing.T) {
		body := `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`
		status, rh, raw := s.do("POST", "/collect/slack/slack", slackHeaders(secret, body), strings.NewReader(body))
		if status != http.StatusOK {
			t.Fatalf("%d %s", status, raw)
		}
		var answer struct {
			Challenge string   `json:"challenge"`
			Events    []string `json:"events"`
		}
		if err := json.Unmarshal(raw, &answer); err != nil || answer.Challenge != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" || rh.Get("Content-Type") != "application/json" {
			t.Fatalf("answer %s (%s)", raw, rh.Get("Content-Type"))
		}
		if len(answer.Events) != 1 || s.event(answer.Events[0]).Type != "url_verification" {
			t.Errorf("the challenge was not stored as an event: %s", raw)
		}
	})
	t.Run("an event callback takes the inner event's type", func(t *testing.T) {
		body := `{"token":"z","team_id":"T1","type":"event_callback","event_id":"Ev08MFMKH6","event_time":1234567890,"event":{"type":"app_mention","user":"U1","text":"hi"}}`
		out := s.send("/collect/slack/slack", slackHeaders(secret, body), body)
		if e := s.event(out.Events[0]); e.Type != "app_mention" {
			t.Errorf("type %q", e.Type)
		}
		if again := s.send("/collect/slack/slack", slackHeaders(secret, body), body); !again.Duplicate {
			t.Errorf("a retry of the same event_id: %+v", again)
		}
	})
	t.Run("a request signed with another secret is refused", func(t *testing.T) {
		body := `{"type":"event_callback","event_id":"Ev2","event":{"type":"message"}}`
		status, rh, raw := s.do("POST", "/collect/slack/slack", slackHeaders("other", body), strings.NewReader(body))
		wantError(t, "another secret", status, rh, raw, http.StatusUnauthorized, "bad_signature")
	})
}

// twilioSignature signs a form as Twilio's documentation says.
func twilioSignature(token, fullURL string, form url.Values) string {
	msg := fullURL
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		msg += k + form.Get(k)
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func twilioPreset(t *testing.T, s *liveServer) {
	const token = "twilio-auth-token"
	s.createSource(map[string]any{"id": "tw", "name": "Twilio", "config": map[string]any{"preset": "twilio", "verify": map[string]any{"secret": token}}})
	form := url.Values{"MessageSid": {"SM1"}, "From": {"+14155550100"}, "To": {"+14155550199"}, "Body": {"Hello"}}
	path := "/collect/sms-received/tw?site=eu"
	h := header("Content-Type", "application/x-www-form-urlencoded", "I-Twilio-Idempotency-Token", "idem-1",
		"X-Twilio-Signature", twilioSignature(token, s.url+path, form))
	out := s.send(path, h, form.Encode())
	e := s.event(out.Events[0])
	if e.Type != "sms-received" {
		t.Errorf("type %q", e.Type)
	}
	sameJSON(t, "properties", e.Properties, `{"site":"eu","MessageSid":"SM1","From":"+14155550100","To":"+14155550199","Body":"Hello"}`)
	if again := s.send(path, h, form.Encode()); !again.Duplicate {
		t.Errorf("the same idempotency token again: %+v", again)
	}
	h.Set("X-Twilio-Signature", twilioSignature(token, "https://inlet.example.com"+path, form))
	status, rh, raw := s.do("POST", path, h, strings.NewReader(form.Encode()))
	wantError(t, "a signature over another URL", status, rh, raw, http.StatusUnauthorized, "bad_signature")
}

func TestTwilioBehindAPublicURL(t *testing.T) {
	cfg := liveConfig(t)
	cfg.PublicURL = "https://hooks.example.com/inlet"
	s := startLive(t, cfg)
	const token = "tw-token"
	s.createSource(map[string]any{"id": "tw", "name": "Twilio", "config": map[string]any{"preset": "twilio", "verify": map[string]any{"secret": token}}})
	form := url.Values{"CallSid": {"CA1"}, "CallStatus": {"completed"}}
	path := "/collect/call-status/tw"
	h := header("Content-Type", "application/x-www-form-urlencoded", "X-Twilio-Signature", twilioSignature(token, "https://hooks.example.com/inlet"+path, form))
	s.send(path, h, form.Encode())
}

func TestTransformsAndValidation(t *testing.T) {
	onBothStores(t, func(t *testing.T, cfg Config) {
		s := startLive(t, cfg)
		var src storedSource
		s.admin("POST", "/api/v1/sources", map[string]any{"id": "orders", "name": "Orders", "config": map[string]any{
			"transform": map[string]any{
				"drop":       "has(properties.test) && properties.test == true",
				"type":       "type + '.' + properties.status",
				"properties": `{"order": properties.id, "cents": properties.total, "shop": headers['x-shop'], "channel": 'channel' in query ? query.channel : 'none'}`,
			},
			"schemas": map[string]any{
				"order.paid": map[string]any{"mode": "reject", "schema": map[string]any{"type": "object", "required": []string{"order", "cents"}, "properties": map[string]any{"cents": map[string]any{"type": "integer"}}}},
				"*":          map[string]any{"mode": "flag", "schema": map[string]any{"type": "object", "required": []string{"customer"}}},
			},
		}}, http.StatusCreated, &src)
		json := header("Content-Type", "application/json", "X-Shop", "eu-1")

		t.Run("an event is transformed, validated and stored", func(t *testing.T) {
			out := s.send("/collect/order/orders?channel=web", json, `{"id":"o-1","status":"paid","total":1250}`)
			e := s.event(out.Events[0])
			if e.Type != "order.paid" {
				t.Errorf("type %q", e.Type)
			}
			sameJSON(t, "properties", e.Properties, `{"order":"o-1","cents":1250,"shop":"eu-1","channel":"web"}`)
		})
		t.Run("a dropped event is answered and not stored", func(t *testing.T) {
			before := len(s.listEvents("source=orders").Items)
			status, _, raw := s.do("POST", "/collect/order/orders", json, strings.NewReader(`{"id":"o-2","status":"paid","test":true}`))
			if status != http.StatusOK || string(bytes.TrimSpace(raw)) != `{"events":[],"dropped":true}` {
				t.Errorf("%d %s", status, raw)
			}
			if after := len(s.listEvents("source=orders").Items); after != before {
				t.Errorf("%d events after a drop, %d before", after, before)
			}
			var stats struct {
				Dropped int64 `json:"dropped_by_transform"`
			}
			s.admin("GET", "/api/v1/stats", nil, http.StatusOK, &stats)
			if stats.Dropped != 1 {
				t.Errorf("stats count %d dropped events, want 1", stats.Dropped)
			}
		})
		t.Run("an event failing a reject schema is refused with its paths, and logged", func(t *testing.T) {
			status, rh, raw := s.do("POST", "/collect/order/orders", json, strings.NewReader(`{"id":"o-3","status":"paid","total":"12.50"}`))
			msg := wantError(t, "reject schema", status, rh, raw, http.StatusBadRequest, "schema_violation")
			if !strings.Contains(msg, "/cents: type: want integer, got string") || strings.Contains(msg, "12.50") {
				t.Errorf("message %q", msg)
			}
			s.waitRejection("orders", "schema_violation")
		})
		t.Run("an event failing a flag schema is stored with warnings", func(t *testing.T) {
			out := s.send("/collect/order/orders", json, `{"id":"o-5","status":"refunded","total":5}`)
			if len(out.Warnings) != 1 || out.Warnings[0] != "schema *: /: required: missing customer" {
				t.Errorf("answer warnings %q", out.Warnings)
			}
			var e struct {
				Type     string   `json:"type"`
				Warnings []string `json:"warnings"`
			}
			s.admin("GET", "/api/v1/events/"+out.Events[0], nil, http.StatusOK, &e)
			if e.Type != "order.refunded" || len(e.Warnings) != 1 {
				t.Errorf("stored %+v", e)
			}
		})
		t.Run("a failing expression keeps the event with a warning", func(t *testing.T) {
			out := s.send("/collect/order/orders", json, `{"id":"o-4","total":1}`)
			if len(out.Warnings) == 0 || out.Warnings[0] != "config.transform.type failed on this event: no such key: status; the event was kept as it came" {
				t.Errorf("warnings %q", out.Warnings)
			}
			if e := s.event(out.Events[0]); e.Type != "order" {
				t.Errorf("type %q, want the URL's", e.Type)
			}
		})
		t.Run("with on_error reject a failing expression refuses the request", func(t *testing.T) {
			s.admin("POST", "/api/v1/sources", map[string]any{"id": "strict", "name": "Strict", "config": map[string]any{
				"transform": map[string]any{"type": "properties.kind", "on_error": "reject"},
			}}, http.StatusCreated, nil)
			status, rh, raw := s.do("POST", "/collect/x/strict", json, strings.NewReader(`{}`))
			wantError(t, "on_error reject", status, rh, raw, http.StatusBadRequest, "transform_failed")
			s.waitRejection("strict", "transform_failed")
		})
		t.Run("a transform that does not compile is refused when the source is saved", func(t *testing.T) {
			status, rh, raw := s.do("POST", "/api/v1/sources", header("Authorization", "Bearer "+s.token, "Content-Type", "application/json"),
				strings.NewReader(`{"name":"Bad","config":{"transform":{"properties":"{'a': properties.}"}}}`))
			if msg := wantError(t, "bad CEL", status, rh, raw, http.StatusBadRequest, "invalid"); !strings.HasPrefix(msg, "config.transform.properties: ERROR") {
				t.Errorf("message %q", msg)
			}
			status, rh, raw = s.do("PATCH", "/api/v1/sources/orders", header("Authorization", "Bearer "+s.token, "Content-Type", "application/json"),
				strings.NewReader(`{"config":{"schemas":{"*":{"mode":"flag","schema":{"type":"objekt"}}}}}`))
			if msg := wantError(t, "bad schema", status, rh, raw, http.StatusBadRequest, "invalid"); !strings.HasPrefix(msg, "config.schemas.*.schema") {
				t.Errorf("message %q", msg)
			}
		})
	})
}

func TestCatalogAndDryRun(t *testing.T) {
	onBothStores(t, func(t *testing.T, cfg Config) {
		cfg.CatalogInterval = 50 * time.Millisecond
		s := startLive(t, cfg)
		const secret = "gh-catalog"
		s.createSource(map[string]any{"id": "gh", "name": "GitHub", "config": map[string]any{"preset": "github", "verify": map[string]any{"secret": secret}}})
		pr := readGitHub(t, "pull_request.opened.json")
		for i := range 3 {
			body := strings.Replace(pr, `"number":2`, `"number":`+strconv.Itoa(i), 1)
			s.send("/collect/github/gh", header("Content-Type", "application/json", "X-GitHub-Event", "pull_request", "X-GitHub-Delivery", "cat-"+strconv.Itoa(i),
				"X-Hub-Signature-256", "sha256="+hex.EncodeToString(sign256(secret, body))), body)
		}
		client := inlethttp.NewClient(s.url, s.token)
		ctx := context.Background()

		t.Run("the catalog learns the type and its paths", func(t *testing.T) {
			var e *inlet.CatalogEntry
			deadline := time.Now().Add(10 * time.Second)
			for {
				var err error
				e, err = client.FindCatalog(ctx, "gh", "pull_request.opened")
				if err == nil && e.Count == 3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the catalog has %+v, %v after 10s", e, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			var action *inlet.CatalogPath
			for i := range e.Paths {
				if e.Paths[i].Path == "action" {
					action = &e.Paths[i]
				}
			}
			if action == nil || action.Types["string"] != 3 || action.Presence(e) != 1 {
				t.Errorf("action: %+v", action)
			}
			entries, err := client.ListCatalog(ctx, inlet.CatalogFilter{SourceID: "gh"})
			if err != nil || len(entries) != 1 {
				t.Errorf("list: %v %v", entries, err)
			}
			schema, err := client.CatalogSchema(ctx, "gh", "pull_request.opened")
			if err != nil || !strings.Contains(string(schema), `"required":["action","number","pull_request","repository","sender"]`) {
				t.Errorf("schema %s %v", schema, err)
			}
			var out, stderr bytes.Buffer
			if err := run(ctx, []string{"catalog", "--server", s.url, "--admin-token", s.token, "--source", "gh", "--type", "pull_request.opened"}, &out, &stderr); err != nil ||
				!strings.Contains(out.String(), "pull_request.merged_at") || !strings.Contains(out.String(), "gh pull_request.opened: 3 events") {
				t.Errorf("inlet catalog --source gh --type pull_request.opened: %v %s\n%s", err, stderr.String(), out.String())
			}
			out.Reset()
			if err := run(ctx, []string{"catalog", "--server", s.url, "--admin-token", s.token}, &out, &stderr); err != nil ||
				!regexp.MustCompile(`(?m)^gh\s+pull_request\.opened\s+3\s`).MatchString(out.String()) {
				t.Errorf("inlet catalog: %v %s\n%s", err, stderr.String(), out.String())
			}
			status, rh, raw := s.do("GET", "/api/v1/catalog/gh/push", header("Authorization", "Bearer "+s.token), nil)
			wantError(t, "an unknown entry", status, rh, raw, http.StatusNotFound, "not_found")
		})

		t.Run("a dry run answers what collecting would do and stores nothing", func(t *testing.T) {
			before := len(s.listEvents("source=gh").Items)
			body := readGitHub(t, "push.json")
			req := inlethttp.TryRequest{Headers: map[string]string{"Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": "try-1",
				"X-Hub-Signature-256": "sha256=" + hex.EncodeToString(sign256(secret, body))}}
			req.SetBody([]byte(body))
			res, err := client.TrySource(ctx, "gh", req)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Verification.Checked || !res.Verification.OK || res.Outcome != inlethttp.TryStored || res.Status != 200 || len(res.Events) != 1 || res.Events[0].Type != "push" {
				t.Errorf("result %+v", res)
			}
			req.Headers["X-Hub-Signature-256"] = "sha256=" + hex.EncodeToString(sign256("wrong", body))
			res, err = client.TrySource(ctx, "gh", req)
			if err != nil || res.Verification.OK || res.Verification.Reason != "bad_signature" || res.Outcome != inlethttp.TryRefused || res.Status != 401 || res.Error.Code != "bad_signature" || len(res.Events) != 0 {
				t.Errorf("a bad signature: %+v %v", res, err)
			}
			var out, stderr bytes.Buffer
			err = run(ctx, []string{"sources", "try", "gh", "--server", s.url, "--admin-token", s.token,
				"--header", "X-GitHub-Event: ping", "--header", "X-GitHub-Delivery: try-2", "--header", "Content-Type: application/json",
				"--header", "X-Hub-Signature-256: sha256=" + hex.EncodeToString(sign256(secret, readGitHub(t, "ping.json"))),
				"--data", "@" + filepath.Join("..", "..", "collect", "testdata", "github", "ping.json")}, &out, &stderr)
			if err != nil || !strings.Contains(out.String(), "verification: passed") || !strings.Contains(out.String(), `"type": "ping"`) {
				t.Errorf("inlet sources try: %v %s\n%s", err, stderr.String(), out.String())
			}
			out.Reset()
			err = run(ctx, []string{"sources", "try", "gh", "--server", s.url, "--admin-token", s.token, "--header", "X-GitHub-Event: ping", "--data", "{}"}, &out, &stderr)
			if err != nil || !strings.Contains(out.String(), "verification: failed: missing_signature") || !strings.Contains(out.String(), "outcome:      would be refused (status 401)") {
				t.Errorf("inlet sources try without a signature: %v %s\n%s", err, stderr.String(), out.String())
			}
			if after := len(s.listEvents("source=gh").Items); after != before {
				t.Errorf("%d events after dry runs, %d before", after, before)
			}
			status, rh, raw := s.do("POST", "/api/v1/sources/none/try", header("Authorization", "Bearer "+s.token, "Content-Type", "application/json"), strings.NewReader(`{}`))
			wantError(t, "an unknown source", status, rh, raw, http.StatusNotFound, "not_found")
			for _, c := range []struct{ name, body, code string }{
				{"both body and body_base64", `{"body": "{}", "body_base64": "e30="}`, "bad_try"},
				{"body_base64 that is not base64", `{"body_base64": "%%%"}`, "bad_try"},
				{"a method collect does not take", `{"method": "PUT"}`, "bad_try"},
				{"an unknown field", `{"bdy": "{}"}`, "unknown_field"},
			} {
				status, rh, raw := s.do("POST", "/api/v1/sources/gh/try", header("Authorization", "Bearer "+s.token, "Content-Type", "application/json"), strings.NewReader(c.body))
				wantError(t, c.name, status, rh, raw, http.StatusBadRequest, c.code)
			}
			// A binary body in base64, over the source's limit: refused as collect would.
			s.admin("POST", "/api/v1/sources", map[string]any{"id": "small", "name": "Small", "config": map[string]any{"max_body_bytes": 16}}, http.StatusCreated, nil)
			big := tryRequestJSON(t, inlethttp.TryRequest{BodyBase64: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 17))})
			var tooLarge inlethttp.TryResult
			s.admin("POST", "/api/v1/sources/small/try", big, http.StatusOK, &tooLarge)
			if tooLarge.Outcome != inlethttp.TryRefused || tooLarge.Status != http.StatusRequestEntityTooLarge || tooLarge.Error.Code != "too_large" {
				t.Errorf("a body over the limit: %+v", tooLarge)
			}
			small := tryRequestJSON(t, inlethttp.TryRequest{Method: "GET", Query: "a=1&a=2", EventType: "Page View"})
			var get inlethttp.TryResult
			s.admin("POST", "/api/v1/sources/small/try", small, http.StatusOK, &get)
			if get.Outcome != inlethttp.TryStored || len(get.Events) != 1 || get.Events[0].Type != "page-view" || string(get.Events[0].Properties) != `{"a":["1","2"]}` {
				t.Errorf("a GET with a query: %+v", get)
			}
		})
	})
}

// waitRejection waits until the rejected-request log, which is written in
// the background, holds a rejection of source with reason.
func (s *liveServer) waitRejection(source, reason string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var rejections struct {
			Items []struct {
				Reason string `json:"reason"`
			} `json:"items"`
		}
		s.admin("GET", "/api/v1/rejections?source="+source+"&reason="+reason, nil, http.StatusOK, &rejections)
		if len(rejections.Items) > 0 && rejections.Items[0].Reason == reason {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no %s rejection of source %s in the log after 10s", reason, source)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tryRequestJSON returns a dry-run request as the JSON object the admin
// helper sends.
func tryRequestJSON(t *testing.T, req inlethttp.TryRequest) map[string]any {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
