package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"inlet"
	"inlet/batch"
	"inlet/collector"
	"inlet/deliver"
	inlethttp "inlet/http"
	"inlet/http/openapitest"
	"inlet/sqlite"
)

const testToken = "test-admin-token"

// testServer is the real handler over a real SQLite store and the real
// batch writer, served over real HTTP on 127.0.0.1.
type testServer struct {
	t       *testing.T
	URL     string
	DB      *sqlite.DB
	Handler *inlethttp.Server
}

// serverOptions replace parts of the real stack to inject failures.
type serverOptions struct {
	// store wraps the SQLite store given to the handler and the writer.
	store func(db *sqlite.DB) inlet.Store
	// appender replaces the batch writer.
	appender collector.Appender
	// trustedProxies is http.Config.TrustedProxies.
	trustedProxies []netip.Prefix
	// maxBodyMemory is http.Config.MaxBodyMemory.
	maxBodyMemory int64
	// metricsHandler is http.Config.MetricsHandler.
	metricsHandler http.Handler
}

func newTestServer(t *testing.T, opts serverOptions) *testServer {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "inlet.db")})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })

	var store inlet.Store = db
	if opts.store != nil {
		store = opts.store(db)
	}
	appender := opts.appender
	if appender == nil {
		w := batch.NewWriter(store, batch.Options{}, logger)
		t.Cleanup(func() { w.Close(context.Background()) })
		appender = w
	}
	h := inlethttp.NewServer(inlethttp.Config{
		Store: store,
		Collector: collector.New(collector.Config{
			Appender: appender,
			// A long TTL: changes made through the admin API must reach
			// the collect path at once all the same.
			Sources: inlet.NewSourceCache(store, time.Hour),
		}),
		Logger:         logger,
		AdminToken:     testToken,
		Tokens:         db,
		TrustedProxies: opts.trustedProxies,
		MaxBodyMemory:  opts.maxBodyMemory,
		MetricsHandler: opts.metricsHandler,

		ValidateDestination: deliver.Validate,
	})
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return &testServer{t: t, URL: hs.URL, DB: db, Handler: h}
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends a request; header holds name/value pairs.
func (s *testServer) do(method, path string, body io.Reader, header ...string) *response {
	s.t.Helper()
	return doRequest(s.t, s.URL, method, path, body, header...)
}

// doRequest sends a request to the server at base; header holds
// name/value pairs.
func doRequest(t *testing.T, base, method, path string, body io.Reader, header ...string) *response {
	t.Helper()
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	openapitest.Check(t, req, resp.StatusCode, resp.Header, b)
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// admin sends an admin API request with the right token and a JSON body.
func (s *testServer) admin(method, path, body string) *response {
	s.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	return s.do(method, path, r, "Authorization", "Bearer "+testToken, "Content-Type", "application/json")
}

// adminOK sends an admin request, requires want, and decodes the answer into v.
func (s *testServer) adminOK(method, path, body string, want int, v any) {
	s.t.Helper()
	resp := s.admin(method, path, body)
	if resp.Status != want {
		s.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.Status, resp.Body, want)
	}
	if v != nil {
		if err := json.Unmarshal(resp.Body, v); err != nil {
			s.t.Fatalf("%s %s: decoding %s: %v", method, path, resp.Body, err)
		}
	}
}

// createSource creates a source from a JSON body and returns it.
func (s *testServer) createSource(body string) *sourceJSON {
	s.t.Helper()
	var src sourceJSON
	s.adminOK("POST", "/api/v1/sources", body, http.StatusCreated, &src)
	return &src
}

// event reads a stored event through the admin API.
func (s *testServer) event(id string) *eventJSON {
	s.t.Helper()
	var e eventJSON
	s.adminOK("GET", "/api/v1/events/"+id, "", http.StatusOK, &e)
	return &e
}

// eventCount returns how many events the store holds.
func (s *testServer) eventCount() int {
	s.t.Helper()
	page, err := s.DB.ListEvents(context.Background(), inlet.EventFilter{Limit: inlet.MaxEventLimit})
	if err != nil {
		s.t.Fatal(err)
	}
	return len(page.Items)
}

// sourceJSON is a source as the admin API answers it.
type sourceJSON struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Enabled bool   `json:"enabled"`
	Config  struct {
		SecretHeaders []string `json:"secret_headers"`
		MaxBodyBytes  int64    `json:"max_body_bytes"`
	} `json:"config"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

// eventJSON is an event as the admin API answers it.
type eventJSON struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	InsertedAt string          `json:"inserted_at"`
	SourceID   string          `json:"source_id"`
	SessionID  *string         `json:"session_id"`
	ProfileID  *string         `json:"profile_id"`
	Properties json.RawMessage `json:"properties"`
	Context    struct {
		Method    string            `json:"method"`
		Query     string            `json:"query"`
		Headers   map[string]string `json:"headers"`
		IP        string            `json:"ip"`
		UserAgent string            `json:"user_agent"`
	} `json:"context"`
}

// collected is the answer of a successful collect.
type collected struct {
	Event     string
	ProfileID string // "" for null
	SessionID string // "" for null
}

// parseCollected checks the exact shape of a collect answer:
// {"events": [id], "profile": {"id"} | null, "session": {"id"} | null}.
func parseCollected(t *testing.T, resp *response) collected {
	t.Helper()
	if resp.Status != http.StatusOK {
		t.Fatalf("collect = %d %s, want 200", resp.Status, resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(resp.Body, &top); err != nil {
		t.Fatalf("collect answer %s: %v", resp.Body, err)
	}
	if keys := sortedKeys(top); !reflect.DeepEqual(keys, []string{"events", "profile", "session"}) {
		t.Fatalf("collect answer %s has keys %v, want events, profile, session", resp.Body, keys)
	}
	var c collected
	var events []string
	if err := json.Unmarshal(top["events"], &events); err != nil || len(events) != 1 || events[0] == "" {
		t.Fatalf("collect answer %s: events is not a list of one id", resp.Body)
	}
	c.Event = events[0]
	c.ProfileID = idObject(t, "profile", top["profile"])
	c.SessionID = idObject(t, "session", top["session"])
	return c
}

// idObject reads null or {"id": "..."} and nothing else.
func idObject(t *testing.T, name string, raw json.RawMessage) string {
	t.Helper()
	if string(raw) == "null" {
		return ""
	}
	var obj map[string]string
	if err := json.Unmarshal(raw, &obj); err != nil || len(obj) != 1 || obj["id"] == "" {
		t.Fatalf("%s is %s, want null or {\"id\": \"...\"}", name, raw)
	}
	return obj["id"]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// assertError checks an error answer: the status, a JSON body of exactly
// {"error": {"code", "message"}}, and the machine code.
func assertError(t *testing.T, resp *response, status int, code string) {
	t.Helper()
	if resp.Status != status {
		t.Fatalf("status = %d %s, want %d", resp.Status, resp.Body, status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body map[string]map[string]any
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		t.Fatalf("error body %s: %v", resp.Body, err)
	}
	e, ok := body["error"]
	if len(body) != 1 || !ok || len(e) != 2 {
		t.Fatalf("error body %s, want {\"error\": {\"code\", \"message\"}}", resp.Body)
	}
	if e["code"] != code {
		t.Errorf("error code = %v, want %q (body %s)", e["code"], code, resp.Body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("error body %s has no message", resp.Body)
	}
}

// assertSameJSON fails unless got and want are equal JSON values.
func assertSameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("decoding %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("decoding %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got  %s\nwant %s", bytes.TrimSpace(got), want)
	}
}
