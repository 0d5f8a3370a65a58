package collect_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"inlet"
	"inlet/collect"
)

// buildWith builds one POST request to a source of config, with a hash key.
func buildWith(t *testing.T, config, query, body string) inlet.Intake {
	t.Helper()
	var c inlet.SourceConfig
	if err := json.Unmarshal([]byte(config), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	built, err := collect.Build(&inlet.Source{ID: "forms", Name: "Forms", Enabled: true, Config: c}, collect.Request{
		Method: "POST", EventType: "signup", Body: []byte(body), RawQuery: query,
		Header: map[string][]string{"Content-Type": {"application/json"}, "X-Forwarded-For": {"198.51.100.9"}, "X-Card": {"4242424242424242"}, "User-Agent": {"Mozilla/5.0 (Ana's phone)"}},
		IP:     "192.0.2.7", Now: time.Now(), HashKey: []byte("test key"),
	})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if len(built.Intakes) != 1 {
		t.Fatalf("%d events", len(built.Intakes))
	}
	return built.Intakes[0]
}

func TestPrivacyPoliciesApplyBeforeAnythingIsKept(t *testing.T) {
	key := []byte("test key")
	in := buildWith(t, `{"identify_by": {"email": "customer.email"}, "traits": {"name": "customer.name"},
		"privacy": {"store_ip": false, "store_user_agent": false, "fields": [
			{"path": "customer.email", "action": "hash"},
			{"path": "customer.name", "action": "drop"},
			{"path": "card", "action": "mask", "keep": 4},
			{"path": "items.1", "action": "drop"},
			{"header": "x-card", "action": "mask", "keep": 4},
			{"header": "X-Forwarded-For", "action": "drop"},
			{"query": "phone", "action": "hash"}]}}`,
		"phone=%2B15550100&page=2",
		`{"customer": {"email": " Ana@Example.com ", "name": "Ana"}, "card": "4242424242424242", "items": ["a", "b", "c"], "n": 1.50}`)
	e := in.Event
	props := string(e.Properties)
	hashed := inlet.HashValue(key, "ana@example.com")
	for _, leak := range []string{"Ana", "ana@example.com", "4242424242424242", "+15550100", "198.51.100.9", "192.0.2.7", "Mozilla"} {
		if strings.Contains(props, leak) || strings.Contains(string(in.ContextJSON), leak) {
			t.Errorf("%q is kept: properties %s, context %s", leak, props, in.ContextJSON)
		}
	}
	for _, want := range []string{hashed, `"card":"****4242"`, `"items":["a",null,"c"]`, `"n":1.50`} {
		if !strings.Contains(props, want) {
			t.Errorf("properties %s lack %s", props, want)
		}
	}
	if e.Context.Headers["X-Card"] != "****4242" || e.Context.Headers["X-Forwarded-For"] != "" || e.Context.IP != "" || e.Context.UserAgent != "" {
		t.Errorf("context %+v", e.Context)
	}
	if !strings.Contains(e.Context.Query, "phone=hmac%3A") || !strings.Contains(e.Context.Query, "page=2") {
		t.Errorf("query %q; want the phone hashed and the page kept", e.Context.Query)
	}
	// Identity links on the hash: the same address, however written, is
	// the same identifier; the name, dropped, is no trait.
	if in.Identity == nil || len(in.Identity.Identifiers) != 1 || in.Identity.Identifiers[0].Value != hashed || len(in.Identity.Traits) != 0 {
		t.Fatalf("identity %+v; want the email's hash and no trait", in.Identity)
	}
	again := buildWith(t, `{"identify_by": {"email": "email"}, "privacy": {"fields": [{"path": "email", "action": "hash"}]}}`, "", `{"email": "ana@example.com"}`)
	if again.Identity.Identifiers[0].Value != hashed {
		t.Fatalf("the same email from another source hashes to %s; want %s", again.Identity.Identifiers[0].Value, hashed)
	}
}

func TestAnIdentifierCanBeHashedAlone(t *testing.T) {
	in := buildWith(t, `{"identify_by": {"email": "email"}, "privacy": {"fields": [{"identifier": "email", "action": "hash"}]}}`, "", `{"email": "Ana@Example.com"}`)
	if v := in.Identity.Identifiers[0].Value; v != inlet.HashValue([]byte("test key"), "ana@example.com") {
		t.Fatalf("identifier %s", v)
	}
	if !strings.Contains(string(in.Event.Properties), "Ana@Example.com") {
		t.Fatalf("the properties changed: %s", in.Event.Properties)
	}
}

func TestBadPrivacyPoliciesAreRefusedByName(t *testing.T) {
	for _, config := range []string{
		`{"privacy": {"fields": [{"path": "a", "header": "b", "action": "drop"}]}}`,
		`{"privacy": {"fields": [{"action": "drop"}]}}`,
		`{"privacy": {"fields": [{"path": "a", "action": "shred"}]}}`,
		`{"privacy": {"fields": [{"path": "a", "action": "mask", "keep": 99}]}}`,
		`{"privacy": {"fields": [{"identifier": "email", "action": "drop"}]}}`,
		`{"privacy": {"retention": "10m"}}`,
		`{"privacy": {"retention": "soon"}}`,
	} {
		var c inlet.SourceConfig
		if err := json.Unmarshal([]byte(config), &c); err != nil {
			t.Fatal(err)
		}
		err := c.Validate()
		if inlet.ErrorCode(err) != inlet.EINVALID || !strings.Contains(inlet.ErrorMessage(err), "config.privacy") {
			t.Errorf("%s: %v; want EINVALID naming config.privacy", config, err)
		}
	}
}
