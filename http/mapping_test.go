package http_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"inlet"
)

// mappedAnswer is the answer to a collect request of a mapped source.
type mappedAnswer struct {
	Events  []string `json:"events"`
	Profile *struct {
		ID string `json:"id"`
	} `json:"profile"`
	Warnings []string `json:"warnings"`
}

func TestCollectMapping(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	s.createSource(`{"id":"shop","name":"Shop","config":{"event_type_path":"kind","profile_id_path":"customer.id",
		"identify_by":{"email":"customer.email"},"traits":{"tier":"customer.tier"},"split_array":true}}`)

	tests := []struct {
		name, contentType, body string
		events                  int
		types                   []string // of the stored events, in order
		profile                 string   // of the first event; "*" for any, "" for none
		properties              string   // of the first event, when set
		warnings                int
	}{
		{name: "a numeric customer id becomes the profile id as decimal text",
			contentType: "application/json", body: `{"kind":"Order Paid","customer":{"id":12345}}`,
			events: 1, types: []string{"order-paid"}, profile: "12345"},
		{name: "an object where the id should be falls back with a warning, the email still identifying",
			contentType: "application/json", body: `{"kind":"x","customer":{"id":{"n":1},"email":"a@example.com"}}`,
			events: 1, types: []string{"x"}, profile: "*", warnings: 1},
		{name: "an array of scalars becomes one event per value",
			contentType: "application/json", body: `["a", 2]`,
			events: 2, types: []string{"url-type", "url-type"}, profile: "", properties: `{"value":"a"}`, warnings: 4},
		{name: "an object body on a splitting source is one event",
			contentType: "application/json", body: `{"kind":"one","customer":{"id":"c-1"}}`,
			events: 1, types: []string{"one"}, profile: "c-1"},
		{name: "a text body that looks like an array is not split",
			contentType: "text/plain", body: `[1,2]`,
			events: 1, types: []string{"url-type"}, profile: "", properties: `{"raw":"[1,2]"}`, warnings: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.do("POST", "/collect/url-type/shop", strings.NewReader(tt.body), "Content-Type", tt.contentType)
			if resp.Status != http.StatusOK {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
			var a mappedAnswer
			if err := json.Unmarshal(resp.Body, &a); err != nil {
				t.Fatal(err)
			}
			if len(a.Events) != tt.events {
				t.Fatalf("answered %d events, want %d: %s", len(a.Events), tt.events, resp.Body)
			}
			for i, want := range tt.types {
				if e := s.event(a.Events[i]); e.Type != want {
					t.Errorf("event %d type %q, want %q", i, e.Type, want)
				}
			}
			switch {
			case tt.profile == "" && a.Profile != nil:
				t.Errorf("profile %s, want none", a.Profile.ID)
			case tt.profile == "*" && a.Profile == nil, tt.profile != "" && tt.profile != "*" && (a.Profile == nil || a.Profile.ID != tt.profile):
				t.Errorf("profile %+v, want %s", a.Profile, tt.profile)
			}
			if tt.properties != "" {
				if got := string(s.event(a.Events[0]).Properties); got != tt.properties {
					t.Errorf("properties %s, want %s", got, tt.properties)
				}
			}
			if len(a.Warnings) != tt.warnings {
				t.Errorf("warnings %q, want %d", a.Warnings, tt.warnings)
			}
		})
	}

	t.Run("an array over the limit is refused whole", func(t *testing.T) {
		before := s.eventCount()
		body := "[" + strings.Repeat(`{"kind":"x"},`, inlet.MaxSplitEvents) + `{"kind":"x"}]`
		resp := s.do("POST", "/collect/url-type/shop", strings.NewReader(body), "Content-Type", "application/json")
		if resp.Status != http.StatusRequestEntityTooLarge || !strings.Contains(string(resp.Body), "too_many_events") {
			t.Fatalf("status %d %s; want 413 too_many_events", resp.Status, resp.Body)
		}
		if n := s.eventCount(); n != before {
			t.Errorf("%d events stored by a refused array", n-before)
		}
	})
	t.Run("a profile id from the payload is created and found", func(t *testing.T) {
		var p struct {
			ID     string                     `json:"id"`
			Traits map[string]json.RawMessage `json:"traits"`
		}
		s.do("POST", "/collect/t/shop", strings.NewReader(`{"customer":{"id":"c-9","tier":"gold"}}`), "Content-Type", "application/json")
		s.adminOK("GET", "/api/v1/profiles/c-9", "", http.StatusOK, &p)
		if p.ID != "c-9" || string(p.Traits["tier"]) != `"gold"` {
			t.Errorf("profile c-9 = %+v; want tier gold", p)
		}
	})
	t.Run("a profile search needs an identifier", func(t *testing.T) {
		for _, q := range []string{"", "?identifier=email", "?identifier=:x"} {
			if resp := s.admin("GET", "/api/v1/profiles"+q, ""); resp.Status != http.StatusBadRequest {
				t.Errorf("GET /api/v1/profiles%s = %d %s, want 400", q, resp.Status, resp.Body)
			}
		}
		var page struct{ Items []json.RawMessage }
		s.adminOK("GET", "/api/v1/profiles?identifier="+"email:nobody@example.com", "", http.StatusOK, &page)
		if len(page.Items) != 0 {
			t.Errorf("an unknown identifier found %d profiles", len(page.Items))
		}
	})
}
