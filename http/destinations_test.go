package http_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"inlet"
	inlethttp "inlet/http"
)

// TestDestinationRoutesRefuseBadInput: every bad request is a 4xx with a
// stable code and a message that names what is wrong.
func TestDestinationRoutesRefuseBadInput(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	s.adminOK("POST", "/api/v1/destinations", `{"id": "d1", "name": "D", "type": "webhook", "config": {"url": "http://127.0.0.1:9/hook"}}`, http.StatusCreated, nil)
	tests := []struct {
		name, method, path, body string
		status                   int
		code, message            string
	}{
		{"an unknown field is named", "POST", "/api/v1/destinations", `{"name": "x", "type": "webhook", "config": {"url": "http://x"}, "colour": 1}`, 400, "unknown_field", `"colour"`},
		{"a body that is not JSON", "POST", "/api/v1/destinations", `{"name":`, 400, "bad_json", "JSON"},
		{"an unknown type", "POST", "/api/v1/destinations", `{"name": "x", "type": "sqs", "config": {}}`, 400, "invalid", "type must be one of [files kafka nats postgres rabbitmq redis webhook]"},
		{"a config of a new type names its field", "POST", "/api/v1/destinations", `{"name": "x", "type": "kafka", "config": {}}`, 400, "invalid", "config.brokers"},
		{"a webhook without a URL", "POST", "/api/v1/destinations", `{"name": "x", "type": "webhook", "config": {}}`, 400, "invalid", "config.url"},
		{"a config field the type does not take", "POST", "/api/v1/destinations", `{"name": "x", "type": "webhook", "config": {"url": "http://x", "subject": "s"}}`, 400, "invalid", `unknown field "subject"`},
		{"a secret not in the whsec_ format", "POST", "/api/v1/destinations", `{"name": "x", "type": "webhook", "config": {"url": "http://x", "secret": "hunter2"}}`, 400, "invalid", "config.secret"},
		{"a header Inlet sets", "POST", "/api/v1/destinations", `{"name": "x", "type": "webhook", "config": {"url": "http://x", "headers": {"webhook-id": "1"}}}`, 400, "invalid", "Webhook-Id is set by Inlet"},
		{"a timeout out of range", "POST", "/api/v1/destinations", `{"name": "x", "type": "webhook", "config": {"url": "http://x", "timeout": "2h"}}`, 400, "invalid", "config.timeout"},
		{"a NATS subject with a wildcard", "POST", "/api/v1/destinations", `{"name": "x", "type": "nats", "config": {"url": "nats://127.0.0.1:4222", "subject": "a.*"}}`, 400, "invalid", "config.subject"},
		{"a bad filter type", "POST", "/api/v1/destinations", `{"name": "x", "type": "webhook", "config": {"url": "http://x"}, "filter": {"types": ["a b!"]}}`, 400, "invalid", "filter.types"},
		{"a bad backoff", "POST", "/api/v1/destinations", `{"name": "x", "type": "webhook", "config": {"url": "http://x"}, "retry": {"backoff": ["1ms"]}}`, 400, "invalid", "retry.backoff[0]"},
		{"a second destination with the same id", "POST", "/api/v1/destinations", `{"id": "d1", "name": "x", "type": "webhook", "config": {"url": "http://x"}}`, 409, "conflict", "d1"},
		{"an unknown destination", "GET", "/api/v1/destinations/nope", "", 404, "not_found", "nope"},
		{"an update to a bad config", "PATCH", "/api/v1/destinations/d1", `{"config": {"url": "ftp://x"}}`, 400, "invalid", "config.url"},
		{"a bad delivery status", "GET", "/api/v1/destinations/d1/deliveries?status=lost", "", 400, "invalid", "status must be"},
		{"a bad limit", "GET", "/api/v1/destinations/d1/deliveries?limit=0", "", 400, "bad_filter", "limit"},
		{"a bad cursor", "GET", "/api/v1/destinations?cursor=zzz", "", 400, "bad_cursor", "cursor"},
		{"a retry naming nothing", "POST", "/api/v1/destinations/d1/retry", `{}`, 400, "invalid", "event_ids"},
		{"a retry with ids and a status", "POST", "/api/v1/destinations/d1/retry", `{"event_ids": ["a"], "status": "dead"}`, 400, "invalid", "not both"},
		{"a replay without since", "POST", "/api/v1/destinations/d1/replay", `{}`, 400, "invalid", "since is required"},
		{"a replay of an unknown destination", "POST", "/api/v1/destinations/nope/replay", `{"since": "2026-01-01T00:00:00Z"}`, 404, "not_found", "nope"},
		{"an export with a bad time", "GET", "/api/v1/events/export?since=yesterday", "", 400, "bad_filter", "since"},
		{"an import of a malformed line", "POST", "/api/v1/events/import", "{\"id\"\n", 400, "bad_line", "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.admin(tt.method, tt.path, tt.body)
			var body inlethttp.ErrorBody
			if err := json.Unmarshal(resp.Body, &body); err != nil || resp.Status != tt.status || body.Error.Code != tt.code || !strings.Contains(body.Error.Message, tt.message) {
				t.Fatalf("%s %s = %d %s; want %d, code %s, a message with %q", tt.method, tt.path, resp.Status, resp.Body, tt.status, tt.code, tt.message)
			}
		})
	}
}

// TestDestinationSecretsAreWriteOnly: the API answers secrets masked, and
// an update that sends them back masked keeps them.
func TestDestinationSecretsAreWriteOnly(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	resp := s.admin("POST", "/api/v1/destinations", `{"id": "d1", "name": "D", "type": "webhook",
		"config": {"url": "http://127.0.0.1:9/hook", "secret": "`+secret+`", "headers": {"Authorization": "Bearer abc"}}}`)
	if resp.Status != http.StatusCreated || strings.Contains(string(resp.Body), "MfKQ9r8") || strings.Contains(string(resp.Body), "Bearer abc") {
		t.Fatalf("create = %d %s; want 201 with the secrets masked", resp.Status, resp.Body)
	}
	var shown struct {
		Config map[string]any `json:"config"`
	}
	json.Unmarshal(resp.Body, &shown)
	shown.Config["timeout"] = "2s"
	b, _ := json.Marshal(map[string]any{"config": shown.Config})
	s.adminOK("PATCH", "/api/v1/destinations/d1", string(b), http.StatusOK, nil)
	d, err := s.DB.FindDestination(t.Context(), "d1")
	if err != nil {
		t.Fatal(err)
	}
	var stored map[string]any
	json.Unmarshal(d.Config, &stored)
	if stored["secret"] != secret || stored["headers"].(map[string]any)["Authorization"] != "Bearer abc" || stored["timeout"] != "2s" {
		t.Fatalf("stored config after a masked update = %s; want the secrets kept and the timeout changed", d.Config)
	}
}

// TestEventJSONIsWhatTheAPIShows: a destination receives, and an export
// holds, the bytes of GET /api/v1/events/{id}.
func TestEventJSONIsWhatTheAPIShows(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	s.createSource(`{"id": "shop", "name": "Shop"}`)
	for _, body := range []string{`{"html": "<b>&amp;</b>", "é": "☕", "n": 1.50, "nested": {"a": [null, true]}}`, `[1, 2]`, `"a \u2028 line"`} {
		resp := s.do("POST", "/collect/page.view/shop/sess-1", strings.NewReader(body), "Content-Type", "application/json")
		var ans struct {
			Events []string `json:"events"`
		}
		if err := json.Unmarshal(resp.Body, &ans); err != nil || len(ans.Events) == 0 {
			t.Fatalf("collect %s = %d %s", body, resp.Status, resp.Body)
		}
		for _, id := range ans.Events {
			got := s.admin("GET", "/api/v1/events/"+id, "")
			e, err := s.DB.FindEvent(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			want, err := inlet.EventJSON(e)
			if err != nil || string(got.Body) != string(want) {
				t.Fatalf("GET /api/v1/events/%s =\n%s\nEventJSON =\n%s", id, got.Body, want)
			}
			export := s.admin("GET", "/api/v1/events/export?session=sess-1", "")
			if !strings.Contains(string(export.Body), string(want)) {
				t.Fatalf("the export does not hold the event's line %s", want)
			}
		}
	}
}
