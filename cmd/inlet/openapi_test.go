package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"inlet/http/openapitest"
	"inlet/postgres/pgtest"
)

// apiCall is one request of the representative set and the status it must get.
type apiCall struct {
	method, path string
	header       http.Header
	body         string
	want         int
}

// call sends c to the live server, requires its status and checks the
// answer against the OpenAPI document; it returns the body.
func (s *liveServer) call(c apiCall) []byte {
	s.t.Helper()
	req, err := http.NewRequest(c.method, s.url+c.path, strings.NewReader(c.body))
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		s.t.Fatalf("%s %s: reading the answer: %v", c.method, c.path, err)
	}
	if resp.StatusCode != c.want {
		s.t.Errorf("%s %s: status %d, want %d; body %s", c.method, c.path, resp.StatusCode, c.want, body)
	}
	openapitest.Check(s.t, req, resp.StatusCode, resp.Header, body)
	return body
}

// TestAnswersMatchOpenAPI sends a representative set of requests to the
// real server, one of each answer of each route where a request can cause
// it, and validates every answer against the OpenAPI document.
func TestAnswersMatchOpenAPI(t *testing.T) {
	t.Run("on SQLite", func(t *testing.T) {
		answersMatchOpenAPI(t, startLive(t, liveConfig(t)))
	})
	t.Run("on PostgreSQL", func(t *testing.T) {
		cfg := liveConfig(t)
		cfg.DB = pgtest.URL(t)
		answersMatchOpenAPI(t, startLive(t, cfg))
	})
	t.Run("with a metrics token", func(t *testing.T) {
		cfg := liveConfig(t)
		cfg.MetricsToken = "scrape"
		s := startLive(t, cfg)
		s.call(apiCall{method: "GET", path: "/metrics", want: 401})
		s.call(apiCall{method: "GET", path: "/metrics", header: header("Authorization", "Bearer scrape"), want: 200})
	})
}

func answersMatchOpenAPI(t *testing.T, s *liveServer) {
	auth := header("Authorization", "Bearer "+s.token, "Content-Type", "application/json")
	jsonType := header("Content-Type", "application/json")
	admin := func(method, path, body string, want int) []byte {
		t.Helper()
		return s.call(apiCall{method: method, path: path, header: auth, body: body, want: want})
	}
	collect := func(method, path string, h http.Header, body string, want int) []byte {
		t.Helper()
		return s.call(apiCall{method: method, path: path, header: h, body: body, want: want})
	}

	// Probes and documents.
	s.call(apiCall{method: "GET", path: "/healthz", want: 200})
	s.call(apiCall{method: "GET", path: "/readyz", want: 200})
	s.call(apiCall{method: "GET", path: "/metrics", want: 200})
	s.call(apiCall{method: "GET", path: "/api/v1/openapi.json", want: 200})

	// Sources.
	admin("POST", "/api/v1/sources", `{"id":"shop","name":"Shop"}`, 201)
	admin("POST", "/api/v1/sources", `{"id":"keyed","name":"Keyed","config":{"dedup":{"header":"Idempotency-Key"},"max_body_bytes":64}}`, 201)
	admin("POST", "/api/v1/sources", `{"id":"slow","name":"Slow","config":{"rate_limit":{"per_second":0.001,"burst":1}}}`, 201)
	admin("POST", "/api/v1/sources", `{"id":"guarded","name":"Guarded","config":{"verify":{"type":"basic","username":"u","password":"p"}}}`, 201)
	admin("POST", "/api/v1/sources", `{"id":"mail","name":"Mail","config":{"split_array":true,"event_type_path":"event","identify_by":{"email":"email"},"traits":{"plan":"plan"}}}`, 201)
	admin("POST", "/api/v1/sources", `{"id":"hooks","name":"Hooks","enabled":false,"config":{"verify":{"type":"github","secret":"s3cret"},"secret_headers":["X-Token"]}}`, 201)
	admin("POST", "/api/v1/sources", `{"id":"octo","name":"GitHub","config":{"preset":"github","verify":{"secret":"gh-secret"},"dedup":{"header":"X-GitHub-Delivery","fallback_headers":["X-Request-Id"]}}}`, 201)
	admin("POST", "/api/v1/sources", `{"id":"checkout","name":"Checkout","config":{"transform":{"drop":"properties.?test.orValue(false) == true","on_error":"keep"},"schemas":{"*":{"mode":"reject","schema":{"type":"object","properties":{"cents":{"type":"integer"}}}}}}}`, 201)
	admin("POST", "/api/v1/sources", `{"name":"x","config":{"schemas":{"*":{"mode":"reject","schema":{"type":12}}}}}`, 400)
	admin("POST", "/api/v1/sources", `{"id":"shop","name":"Again"}`, 409)
	admin("POST", "/api/v1/sources", `{"name":`, 400)
	admin("POST", "/api/v1/sources", `{"name":"x","colour":"red"}`, 400)
	admin("POST", "/api/v1/sources", `{"name":"`+strings.Repeat("x", 2<<20)+`"}`, 413)
	s.call(apiCall{method: "POST", path: "/api/v1/sources", header: jsonType, body: `{"name":"x"}`, want: 401})
	admin("GET", "/api/v1/sources", "", 200)
	admin("GET", "/api/v1/sources/hooks", "", 200)
	admin("GET", "/api/v1/sources/none", "", 404)
	admin("PATCH", "/api/v1/sources/hooks", `{"name":"GitHub","enabled":true,"config":{"verify":{"type":"github","secret":"****"}}}`, 200)
	admin("PATCH", "/api/v1/sources/hooks", `{"name":null}`, 200)
	admin("PATCH", "/api/v1/sources/hooks", `{"colour":"red"}`, 400)
	admin("PATCH", "/api/v1/sources/none", `{"name":"x"}`, 404)
	admin("POST", "/api/v1/sources", `{"id":"gone","name":"Gone"}`, 201)
	admin("DELETE", "/api/v1/sources/gone", "", 204)
	admin("DELETE", "/api/v1/sources/gone", "", 404)

	// Collect: every answer a sender can get.
	var first struct {
		Events  []string `json:"events"`
		Session *struct{ ID string }
	}
	if err := json.Unmarshal(collect("POST", "/collect/order/shop/sess-1", jsonType, `{"total":12.5}`, 200), &first); err != nil || len(first.Events) != 1 {
		t.Fatalf("collect answer: %v %+v", err, first)
	}
	collect("GET", "/collect/page-view/shop?path=/home", nil, "", 200)
	collect("POST", "/collect/signup/shop", header("Content-Type", "application/x-www-form-urlencoded"), "name=Ada&plan=pro", 200)
	collect("POST", "/collect/order/keyed", header("Content-Type", "application/json", "Idempotency-Key", "k1"), `{}`, 200)
	if dup := collect("POST", "/collect/order/keyed", header("Content-Type", "application/json", "Idempotency-Key", "k1"), `{}`, 200); !bytes.Contains(dup, []byte(`"duplicate":true`)) {
		t.Errorf("a repeated key: %s, want duplicate", dup)
	}
	collect("POST", "/collect/order/keyed", jsonType, `{"pad":"`+strings.Repeat("x", 100)+`"}`, 413)
	collect("POST", "/collect/email/mail", jsonType, `[{"event":"open","email":"ada@example.com","plan":"pro"},{"event":"click","email":"ada@example.com"}]`, 200)
	collect("POST", "/collect/order/shop", jsonType, `{"total":`, 400)
	collect("POST", "/collect/Bad!Type/shop", jsonType, `{}`, 400)
	collect("POST", "/collect/order/shop/bad%20session", jsonType, `{}`, 400)
	collect("POST", "/collect/order/nope", jsonType, `{}`, 401)
	collect("POST", "/collect/order/guarded", jsonType, `{}`, 401)
	collect("POST", "/collect/order/guarded", header("Authorization", "Basic dTpw", "Content-Type", "application/json"), `{}`, 200)
	collect("PUT", "/collect/order/shop", jsonType, `{}`, 405)
	if dropped := collect("POST", "/collect/order/checkout", jsonType, `{"test":true}`, 200); !bytes.Contains(dropped, []byte(`"dropped":true`)) {
		t.Errorf("an event the transform drops: %s, want dropped", dropped)
	}
	collect("POST", "/collect/order/checkout", jsonType, `{"cents":"12.50"}`, 400)
	collect("POST", "/collect/order/./shop", jsonType, `{}`, 400)
	collect("POST", "/collect/order/slow", jsonType, `{}`, 200)
	collect("POST", "/collect/order/slow", jsonType, `{}`, 429)

	// Events, profiles, sessions.
	admin("GET", "/api/v1/events", "", 200)
	admin("GET", "/api/v1/events?source=shop&type=order&limit=2", "", 200)
	admin("GET", "/api/v1/events?session=sess-1", "", 200)
	admin("GET", "/api/v1/events?limit=0", "", 400)
	admin("GET", "/api/v1/events?since=yesterday", "", 400)
	admin("GET", "/api/v1/events?cursor=not-a-cursor", "", 400)
	admin("GET", "/api/v1/events/"+first.Events[0], "", 200)
	admin("GET", "/api/v1/events/none", "", 404)
	admin("GET", "/api/v1/events/stream?type=Bad!Type", "", 400)
	admin("GET", "/api/v1/log?limit=2", "", 200)
	admin("GET", "/api/v1/log?after=now&source=shop&type=ord*&wait=10ms", "", 200)
	admin("GET", "/api/v1/log?after=not-a-cursor", "", 400)
	admin("GET", "/api/v1/log?wait=1h", "", 400)
	s.call(apiCall{method: "GET", path: "/api/v1/log", want: 401})
	s.call(apiCall{method: "GET", path: "/api/v1/events/stream", want: 401})
	s.streamStart("/api/v1/events/stream?source=shop", header("Authorization", "Bearer "+s.token))
	var found struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := json.Unmarshal(admin("GET", "/api/v1/profiles?identifier="+url.QueryEscape("email:ada@example.com"), "", 200), &found); err != nil || len(found.Items) != 1 {
		t.Fatalf("profile by identifier: %v %+v", err, found)
	}
	admin("GET", "/api/v1/profiles?identifier=email:nobody@example.com", "", 200)
	admin("GET", "/api/v1/profiles", "", 400)
	admin("GET", "/api/v1/profiles?identifier=nokind", "", 400)
	admin("GET", "/api/v1/profiles/"+found.Items[0].ID, "", 200)
	admin("GET", "/api/v1/profiles/none", "", 404)
	admin("GET", "/api/v1/sessions/sess-1", "", 200)
	admin("GET", "/api/v1/sessions/none", "", 404)
	admin("GET", "/api/v1/stats", "", 200)

	// Dry runs and the schema catalog.
	admin("POST", "/api/v1/sources/checkout/try", `{"method":"POST","headers":{"Content-Type":"application/json"},"event_type":"order","body":"{\"cents\": 5}"}`, 200)
	admin("POST", "/api/v1/sources/checkout/try", `{"body":"{\"cents\": \"5\"}"}`, 200)
	admin("POST", "/api/v1/sources/octo/try", `{"headers":{"X-GitHub-Event":"ping"},"body":"{}"}`, 200)
	admin("POST", "/api/v1/sources/checkout/try", `{"method":"PUT"}`, 400)
	admin("POST", "/api/v1/sources/none/try", `{}`, 404)
	var catalog struct {
		Items []struct {
			SourceID string `json:"source_id"`
			Type     string `json:"type"`
		} `json:"items"`
	}
	for range 300 { // the catalog learns from commits in the background
		catalog.Items = nil
		if err := json.Unmarshal(admin("GET", "/api/v1/catalog?source=shop", "", 200), &catalog); err != nil {
			t.Fatal(err)
		}
		if len(catalog.Items) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(catalog.Items) == 0 {
		t.Fatalf("the catalog learnt nothing of source shop")
	}
	admin("GET", "/api/v1/catalog", "", 200)
	admin("GET", "/api/v1/catalog/shop/"+catalog.Items[0].Type, "", 200)
	admin("GET", "/api/v1/catalog/shop/"+catalog.Items[0].Type+"/schema", "", 200)
	admin("GET", "/api/v1/catalog/shop/none", "", 404)
	admin("GET", "/api/v1/catalog/shop/none/schema", "", 404)

	// Destinations: one that delivers back into this server, one nobody listens to.
	admin("POST", "/api/v1/destinations", `{"id":"mirror","name":"Mirror","type":"webhook","filter":{"sources":["shop"],"types":["order*"]},"config":{"url":"`+s.url+`/collect/delivered/mail","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},"retry":{"backoff":["1s"],"max_age":"10s"}}`, 201)
	admin("POST", "/api/v1/destinations", `{"id":"mirror","name":"Again","type":"webhook","config":{"url":"http://127.0.0.1:9/hook"}}`, 409)
	admin("POST", "/api/v1/destinations", `{"name":"Bad","type":"webhook","config":{}}`, 400)
	admin("GET", "/api/v1/destinations", "", 200)
	admin("GET", "/api/v1/destinations?limit=1", "", 200)
	admin("GET", "/api/v1/destinations/mirror", "", 200)
	admin("GET", "/api/v1/destinations/none", "", 404)
	admin("PATCH", "/api/v1/destinations/mirror", `{"name":"Mirror of shop","retry":{"backoff":["1s","2s"],"max_age":"1m"}}`, 200)
	admin("PATCH", "/api/v1/destinations/none", `{"name":"x"}`, 404)
	admin("GET", "/api/v1/destinations/mirror/deliveries", "", 200)
	admin("GET", "/api/v1/destinations/mirror/deliveries?status=dead&limit=5", "", 200)
	admin("GET", "/api/v1/destinations/mirror/deliveries?limit=0", "", 400)
	admin("POST", "/api/v1/destinations/mirror/retry", `{"status":"dead"}`, 200)
	admin("POST", "/api/v1/destinations/mirror/retry", `{"status":"dead","event_ids":["x"]}`, 400)
	admin("POST", "/api/v1/destinations/mirror/discard", `{"event_ids":["`+first.Events[0]+`"]}`, 200)
	admin("POST", "/api/v1/destinations/mirror/replay", `{"since":"2026-01-01T00:00:00Z","types":["order"]}`, 202)
	admin("POST", "/api/v1/destinations/mirror/replay", `{}`, 400)
	admin("POST", "/api/v1/destinations/none/replay", `{"since":"2026-01-01T00:00:00Z"}`, 404)
	admin("POST", "/api/v1/destinations/mirror/try", `{"event_id":"`+first.Events[0]+`"}`, 200)
	admin("POST", "/api/v1/destinations/mirror/try", `{}`, 400)
	admin("POST", "/api/v1/destinations/mirror/try", `{"event_id":"none"}`, 404)
	admin("POST", "/api/v1/destinations/none/try", `{"event_id":"`+first.Events[0]+`"}`, 404)
	admin("DELETE", "/api/v1/destinations/mirror", "", 204)
	admin("DELETE", "/api/v1/destinations/mirror", "", 404)

	// Export and import.
	export := admin("GET", "/api/v1/events/export?source=shop", "", 200)
	admin("GET", "/api/v1/events/export?since=yesterday", "", 400)
	s.call(apiCall{method: "POST", path: "/api/v1/events/import", header: header("Authorization", "Bearer "+s.token, "Content-Type", "application/x-ndjson"), body: string(export), want: 200})
	s.call(apiCall{method: "POST", path: "/api/v1/events/import", header: header("Authorization", "Bearer "+s.token, "Content-Type", "application/x-ndjson"), body: "{not json\n", want: 400})

	// Rejections are written off the request path: wait for them.
	waitRejections(t, s, 10)
	admin("GET", "/api/v1/rejections", "", 200)
	admin("GET", "/api/v1/rejections?source=shop&reason=bad_json&limit=1", "", 200)
	admin("GET", "/api/v1/rejections?limit=x", "", 400)
	admin("GET", "/api/v1/rejections?before=0", "", 400)
	admin("GET", "/api/v1/rejections/counts", "", 200)
	admin("GET", "/api/v1/rejections/counts?source=shop&reason=bad_json", "", 200)
	s.call(apiCall{method: "GET", path: "/api/v1/stats", want: 401})
	s.call(apiCall{method: "GET", path: "/api/v1/events", header: header("Authorization", "Bearer wrong"), want: 401})
}

// streamStart opens a live stream, checks the start of its answer (up to
// the first blank line) against the OpenAPI document and leaves.
func (s *liveServer) streamStart(path string, h http.Header) {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", s.url+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var start []byte
	for r := bufio.NewReader(resp.Body); !bytes.HasSuffix(start, []byte("\n\n")); {
		line, err := r.ReadBytes('\n')
		start = append(start, line...)
		if err != nil {
			s.t.Fatalf("GET %s: reading the stream's start %q: %v", path, start, err)
		}
	}
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(start, []byte("retry: ")) {
		s.t.Errorf("GET %s: %d %q, want 200 and a stream that starts with its retry delay", path, resp.StatusCode, start)
	}
	openapitest.Check(s.t, req, resp.StatusCode, resp.Header, start)
}

// waitRejections waits until the rejected-request log holds n rejections.
func waitRejections(t *testing.T, s *liveServer, n int) {
	t.Helper()
	var got int
	for range 200 {
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		s.admin("GET", "/api/v1/rejections?limit=100", nil, 200, &page)
		if got = len(page.Items); got >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the rejected-request log holds %d rejections, want %d", got, n)
}
