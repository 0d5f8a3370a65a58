package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"inlet/http/openapitest"
	"inlet/postgres/pgtest"
)

// These tests start the real program (Main, with its SQLite store, batch
// writer and HTTP server) on a loopback port with a temporary data
// directory, and speak HTTP to it.

const liveAdminToken = "live-admin-token"

// liveConfig is the default configuration on a free loopback port and a
// fresh data directory, with a fixed admin token.
func liveConfig(t *testing.T) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AdminToken = liveAdminToken
	cfg.ShutdownTimeout = 10 * time.Second
	return cfg
}

// liveServer is a running Main and the admin token that opens its API.
type liveServer struct {
	t      *testing.T
	main   *Main
	url    string
	token  string
	closed bool
}

// startLive runs a Main for cfg and closes it when the test ends. When cfg
// has no admin token, the token is read from the data directory.
func startLive(t *testing.T, cfg Config) *liveServer {
	t.Helper()
	if cfg.DB != "" && cfg.SecretsKey == "" && cfg.SecretsKeyFile == "" {
		cfg.SecretsKey = pgtest.SecretsKey // every node of the database shares it
	}
	m := NewMain(cfg, slog.New(slog.DiscardHandler))
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("run: %v", err)
	}
	s := &liveServer{t: t, main: m, url: m.URL(), token: cfg.AdminToken}
	t.Cleanup(s.stop)
	if s.token == "" {
		s.token = readTokenFile(t, cfg.DataDir)
	}
	return s
}

// stop closes the server once; later calls do nothing.
func (s *liveServer) stop() {
	s.t.Helper()
	if s.closed {
		return
	}
	s.closed = true
	if err := s.main.Close(); err != nil {
		s.t.Errorf("close: %v", err)
	}
}

// readTokenFile returns the admin token generated in dataDir.
func readTokenFile(t *testing.T, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatalf("generated admin token: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// header builds an http.Header from name, value pairs.
func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// do sends one request and returns the status, headers and whole body.
func (s *liveServer) do(method, path string, h http.Header, body io.Reader) (int, http.Header, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	openapitest.Check(s.t, req, resp.StatusCode, resp.Header, b)
	return resp.StatusCode, resp.Header, b
}

// admin sends an admin API request with the bearer token, fails the test
// unless the answer has status want, and decodes a JSON answer into out
// when out is not nil. It returns the raw answer.
func (s *liveServer) admin(method, path string, in any, want int, out any) []byte {
	s.t.Helper()
	h := header("Authorization", "Bearer "+s.token)
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			s.t.Fatal(err)
		}
		body = bytes.NewReader(b)
		h.Set("Content-Type", "application/json")
	}
	status, _, raw := s.do(method, path, h, body)
	if status != want {
		s.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: decoding %s: %v", method, path, raw, err)
		}
	}
	return raw
}

// collected is the answer of a successful collect request.
type collected struct {
	Events  []string `json:"events"`
	Profile *struct {
		ID string `json:"id"`
	} `json:"profile"`
	Session *struct {
		ID string `json:"id"`
	} `json:"session"`
}

// profileID returns the answered profile id, or "" when it was null.
func (c collected) profileID() string {
	if c.Profile == nil {
		return ""
	}
	return c.Profile.ID
}

// collect sends a collect request, fails the test unless it answers 200
// with exactly one event id, and returns the answer.
func (s *liveServer) collect(method, path string, h http.Header, body io.Reader) collected {
	s.t.Helper()
	status, rh, raw := s.do(method, path, h, body)
	if status != http.StatusOK {
		s.t.Fatalf("%s %s: status %d, want 200; body %s", method, path, status, raw)
	}
	if ct := rh.Get("Content-Type"); ct != "application/json" {
		s.t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	var c collected
	if err := json.Unmarshal(raw, &c); err != nil {
		s.t.Fatalf("%s %s: decoding %s: %v", method, path, raw, err)
	}
	if len(c.Events) != 1 || c.Events[0] == "" {
		s.t.Fatalf("%s %s: answer %s, want one event id", method, path, raw)
	}
	return c
}

// storedEvent is an event as GET /api/v1/events/{id} answers it.
type storedEvent struct {
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

// event reads one event back through the admin API.
func (s *liveServer) event(id string) storedEvent {
	s.t.Helper()
	var e storedEvent
	raw := s.admin("GET", "/api/v1/events/"+id, nil, http.StatusOK, &e)
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		s.t.Fatal(err)
	}
	for _, k := range []string{"id", "type", "inserted_at", "source_id", "session_id", "profile_id", "properties", "context"} {
		if _, ok := fields[k]; !ok {
			s.t.Errorf("event %s: field %q missing from %s", id, k, raw)
		}
	}
	if e.ID != id {
		s.t.Fatalf("GET /api/v1/events/%s answered event %q", id, e.ID)
	}
	return e
}

// storedSession is a session as GET /api/v1/sessions/{id} answers it.
type storedSession struct {
	ID         string `json:"id"`
	ProfileID  string `json:"profile_id"`
	FirstSeen  string `json:"first_seen"`
	LastSeen   string `json:"last_seen"`
	EventCount int64  `json:"event_count"`
}

func (s *liveServer) session(id string) storedSession {
	s.t.Helper()
	var sess storedSession
	s.admin("GET", "/api/v1/sessions/"+id, nil, http.StatusOK, &sess)
	return sess
}

// storedProfile is a profile as GET /api/v1/profiles/{id} answers it.
type storedProfile struct {
	ID           string `json:"id"`
	FirstSeen    string `json:"first_seen"`
	LastSeen     string `json:"last_seen"`
	EventCount   int64  `json:"event_count"`
	SessionCount int64  `json:"session_count"`
}

func (s *liveServer) profile(id string) storedProfile {
	s.t.Helper()
	var p storedProfile
	s.admin("GET", "/api/v1/profiles/"+id, nil, http.StatusOK, &p)
	return p
}

// storedSource is a source as the admin API answers it.
type storedSource struct {
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

// createSource registers a source through the admin API.
func (s *liveServer) createSource(body map[string]any) storedSource {
	s.t.Helper()
	var src storedSource
	s.admin("POST", "/api/v1/sources", body, http.StatusCreated, &src)
	return src
}

// eventPage is a page of GET /api/v1/events.
type eventPage struct {
	Items []storedEvent `json:"items"`
	Next  *string       `json:"next"`
}

func (s *liveServer) listEvents(query string) eventPage {
	s.t.Helper()
	var p eventPage
	s.admin("GET", "/api/v1/events?"+query, nil, http.StatusOK, &p)
	return p
}

// apiTime is the API's one time format: UTC RFC 3339 with sub-second digits.
var apiTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$`)

// parseAPITime checks the format of an API time and parses it.
func parseAPITime(t *testing.T, what, s string) time.Time {
	t.Helper()
	if !apiTime.MatchString(s) {
		t.Fatalf("%s = %q, want UTC RFC 3339 with sub-second digits", what, s)
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s = %q: %v", what, s, err)
	}
	return ts
}

// sameJSON fails the test unless got and want hold equal JSON values.
func sameJSON(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %s is not JSON: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: the wanted %s is not JSON: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

// wantError fails the test unless the answer is status with a JSON error
// body carrying code; it returns the message.
func wantError(t *testing.T, what string, status int, h http.Header, body []byte, wantStatus int, wantCode string) string {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("%s: status %d, want %d; body %s", what, status, wantStatus, body)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	var eb struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &eb); err != nil {
		t.Fatalf("%s: the error body %s is not JSON: %v", what, body, err)
	}
	if eb.Error.Code != wantCode {
		t.Errorf("%s: error code %q, want %q (body %s)", what, eb.Error.Code, wantCode, body)
	}
	if eb.Error.Message == "" {
		t.Errorf("%s: error body %s has no message", what, body)
	}
	return eb.Error.Message
}

func strOrNull(p *string) string {
	if p == nil {
		return "null"
	}
	return *p
}

func TestCollectEndpoints(t *testing.T) {
	s := startLive(t, liveConfig(t))
	s.createSource(map[string]any{"id": "web", "name": "Web shop", "config": map[string]any{"secret_headers": []string{"x-signature"}}})

	t.Run("a JSON POST without a session is stored as a profile-less event with its request", func(t *testing.T) {
		before := time.Now().UTC().Truncate(time.Microsecond)
		got := s.collect("POST", "/collect/Page%20View/web?from=query&q=1",
			header("Content-Type", "application/json; charset=UTF-8", "User-Agent", "live-test/1.0",
				"Authorization", "Bearer sender-secret", "Cookie", "sid=cookie-secret",
				"X-Signature", "signature-secret", "X-Trace", "trace-1", "X-Forwarded-For", "203.0.113.9"),
			strings.NewReader(`{"from":"body","n":1.5,"tags":["a","b"],"nested":{"k":null}}`))
		after := time.Now().UTC()
		if got.Profile != nil || got.Session != nil {
			t.Errorf("answer profile %v session %v, want both null", got.Profile, got.Session)
		}

		e := s.event(got.Events[0])
		if e.Type != "page-view" {
			t.Errorf("type = %q, want page-view", e.Type)
		}
		if e.SourceID != "web" {
			t.Errorf("source_id = %q, want web", e.SourceID)
		}
		if e.SessionID != nil || e.ProfileID != nil {
			t.Errorf("session_id %s profile_id %s, want null and null", strOrNull(e.SessionID), strOrNull(e.ProfileID))
		}
		sameJSON(t, "properties", e.Properties, `{"from":"body","q":"1","n":1.5,"tags":["a","b"],"nested":{"k":null}}`)
		at := parseAPITime(t, "inserted_at", e.InsertedAt)
		if at.Before(before) || at.After(after) {
			t.Errorf("inserted_at %s is not between %s and %s", at, before, after)
		}

		c := e.Context
		if c.Method != "POST" || c.Query != "from=query&q=1" {
			t.Errorf("context method %q query %q, want POST and from=query&q=1", c.Method, c.Query)
		}
		if c.IP != "127.0.0.1" {
			t.Errorf("context ip = %q, want the peer 127.0.0.1 (X-Forwarded-For is not trusted by default)", c.IP)
		}
		if c.UserAgent != "live-test/1.0" {
			t.Errorf("context user_agent = %q, want live-test/1.0", c.UserAgent)
		}
		if c.Headers["X-Trace"] != "trace-1" || !strings.HasPrefix(c.Headers["Content-Type"], "application/json") {
			t.Errorf("context headers %v lack X-Trace or Content-Type", c.Headers)
		}
		for name := range c.Headers {
			switch strings.ToLower(name) {
			case "authorization", "cookie", "x-signature":
				t.Errorf("context headers keep the secret header %s: %v", name, c.Headers)
			}
		}
		raw := s.admin("GET", "/api/v1/events/"+e.ID, nil, http.StatusOK, nil)
		for _, secret := range []string{"sender-secret", "cookie-secret", "signature-secret"} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("the stored event holds %q: %s", secret, raw)
			}
		}
	})

	t.Run("a GET without a session keeps query keys once as strings, repeated as lists, empty as empty strings", func(t *testing.T) {
		got := s.collect("GET", "/collect/click/web?a=1&b=x&b=y&c=", header("User-Agent", "pixel/2"), nil)
		if got.Profile != nil || got.Session != nil {
			t.Errorf("answer profile %v session %v, want both null", got.Profile, got.Session)
		}
		e := s.event(got.Events[0])
		sameJSON(t, "properties", e.Properties, `{"a":"1","b":["x","y"],"c":""}`)
		if e.Type != "click" || e.Context.Method != "GET" || e.Context.Query != "a=1&b=x&b=y&c=" {
			t.Errorf("type %q method %q query %q, want click, GET, a=1&b=x&b=y&c=", e.Type, e.Context.Method, e.Context.Query)
		}
		if e.SessionID != nil || e.ProfileID != nil {
			t.Errorf("session_id %s profile_id %s, want null and null", strOrNull(e.SessionID), strOrNull(e.ProfileID))
		}
	})

	var formProfile string
	t.Run("a form POST with a new session creates the session with a new profile and links the event to both", func(t *testing.T) {
		got := s.collect("POST", "/collect/Sign%20Up/web/sess-form?ref=ad&plan=free",
			header("Content-Type", "application/x-www-form-urlencoded"),
			strings.NewReader("email=ada%40example.com&plan=pro&plan=team&note="))
		if got.Session == nil || got.Session.ID != "sess-form" {
			t.Fatalf("answer session %v, want sess-form", got.Session)
		}
		if got.profileID() == "" {
			t.Fatal("answer profile is null, want a new profile")
		}
		formProfile = got.profileID()
		e := s.event(got.Events[0])
		sameJSON(t, "properties", e.Properties, `{"ref":"ad","email":"ada@example.com","plan":["pro","team"],"note":""}`)
		if e.Type != "sign-up" {
			t.Errorf("type = %q, want sign-up", e.Type)
		}
		if strOrNull(e.SessionID) != "sess-form" || strOrNull(e.ProfileID) != formProfile {
			t.Errorf("session_id %s profile_id %s, want sess-form and %s", strOrNull(e.SessionID), strOrNull(e.ProfileID), formProfile)
		}
		sess := s.session("sess-form")
		if sess.ProfileID != formProfile || sess.EventCount != 1 {
			t.Errorf("session %+v, want profile %s and 1 event", sess, formProfile)
		}
	})

	t.Run("a GET with a known session is linked to that session's profile", func(t *testing.T) {
		if formProfile == "" {
			t.Skip("the form subtest did not create the session")
		}
		got := s.collect("GET", "/collect/Page%20View/web/sess-form?page=%2Fhome", nil, nil)
		if got.profileID() != formProfile || got.Session == nil || got.Session.ID != "sess-form" {
			t.Errorf("answer profile %q session %v, want %s and sess-form", got.profileID(), got.Session, formProfile)
		}
		e := s.event(got.Events[0])
		sameJSON(t, "properties", e.Properties, `{"page":"/home"}`)
		if e.Type != "page-view" || e.Context.Method != "GET" {
			t.Errorf("type %q method %q, want page-view and GET", e.Type, e.Context.Method)
		}
		if strOrNull(e.ProfileID) != formProfile {
			t.Errorf("profile_id = %s, want %s", strOrNull(e.ProfileID), formProfile)
		}
	})

	t.Run("a multipart POST keeps fields and records files by name, size and digest, not bytes", func(t *testing.T) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("name", "Ada")
		mw.WriteField("tag", "x")
		mw.WriteField("tag", "y")
		part, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Disposition": {`form-data; name="doc"; filename="hello.txt"`},
			"Content-Type":        {"text/plain"},
		})
		if err != nil {
			t.Fatal(err)
		}
		const fileContent = "hello world, file bytes that must not be stored"
		part.Write([]byte(fileContent))
		mw.Close()
		sum := sha256.Sum256([]byte(fileContent))

		got := s.collect("POST", "/collect/upload/web/sess-multipart", header("Content-Type", mw.FormDataContentType()), &body)
		if got.Session == nil || got.Session.ID != "sess-multipart" || got.profileID() == "" {
			t.Fatalf("answer session %v profile %q, want sess-multipart and a profile", got.Session, got.profileID())
		}
		if got.profileID() == formProfile {
			t.Errorf("a new session got the profile %s of another session", formProfile)
		}
		e := s.event(got.Events[0])
		sameJSON(t, "properties", e.Properties, fmt.Sprintf(
			`{"name":"Ada","tag":["x","y"],"doc":{"name":"doc","filename":"hello.txt","content_type":"text/plain","size":%d,"sha256":"%s"}}`,
			len(fileContent), hex.EncodeToString(sum[:])))
		if bytes.Contains(e.Properties, []byte("must not be stored")) {
			t.Errorf("the file's bytes were stored: %s", e.Properties)
		}
	})

	t.Run("event types are trimmed and lower-cased with spaces turned into dashes", func(t *testing.T) {
		for raw, want := range map[string]string{
			"Page%20View":           "page-view",
			"%20Add%20To%20Cart%20": "add-to-cart",
			"ORDER.Completed":       "order.completed",
			"user:Signed_In":        "user:signed_in",
		} {
			got := s.collect("POST", "/collect/"+raw+"/web", header("Content-Type", "application/json"), strings.NewReader(`{}`))
			if e := s.event(got.Events[0]); e.Type != want {
				t.Errorf("type %q stored as %q, want %q", raw, e.Type, want)
			}
		}
	})

	t.Run("bad requests are answered 4xx with a JSON error that does not echo the payload", func(t *testing.T) {
		for _, tc := range []struct {
			name, method, path, contentType, body string
			status                                int
			code                                  string
		}{
			{"unknown source", "POST", "/collect/click/nope", "application/json", `{}`, 401, "unknown_source"},
			{"event type with a character outside the safe set", "GET", "/collect/caf%C3%A9/web", "", "", 400, "bad_event_type"},
			{"blank event type", "GET", "/collect/%20/web", "", "", 400, "bad_event_type"},
			{"event type over 128 characters", "GET", "/collect/" + strings.Repeat("a", 129) + "/web", "", "", 400, "bad_event_type"},
			{"session id with a space", "GET", "/collect/click/web/bad%20session", "", "", 400, "bad_session_id"},
			{"session id over 128 characters", "GET", "/collect/click/web/" + strings.Repeat("s", 129), "", "", 400, "bad_session_id"},
			{"invalid JSON", "POST", "/collect/click/web", "application/json", `{"payload-marker": [1,`, 400, "bad_json"},
			{"PUT", "PUT", "/collect/click/web", "application/json", `{}`, 405, "method_not_allowed"},
		} {
			h := header()
			if tc.contentType != "" {
				h.Set("Content-Type", tc.contentType)
			}
			status, rh, body := s.do(tc.method, tc.path, h, strings.NewReader(tc.body))
			wantError(t, tc.name, status, rh, body, tc.status, tc.code)
			if bytes.Contains(body, []byte("payload-marker")) {
				t.Errorf("%s: the error echoes the payload: %s", tc.name, body)
			}
		}
		if _, err := os.Stat(filepath.Join(s.main.Config.DataDir, "inlet.db")); err != nil {
			t.Errorf("the SQLite file is not in the data directory: %v", err)
		}
	})

	t.Run("health and readiness answer without a token", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			if status, _, body := s.do("GET", path, nil, nil); status != http.StatusOK {
				t.Errorf("GET %s: status %d, body %s", path, status, body)
			}
		}
	})
}

func TestClientIPFromTrustedProxy(t *testing.T) {
	cfg := liveConfig(t)
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	s := startLive(t, cfg)
	s.createSource(map[string]any{"id": "web", "name": "Web"})
	got := s.collect("GET", "/collect/click/web", header("X-Forwarded-For", "198.51.100.4, 203.0.113.7"), nil)
	if ip := s.event(got.Events[0]).Context.IP; ip != "203.0.113.7" {
		t.Errorf("ip = %q, want 203.0.113.7, the last address the trusted proxy saw", ip)
	}
}

func TestSessionsAndProfiles(t *testing.T) {
	s := startLive(t, liveConfig(t))
	s.createSource(map[string]any{"id": "app", "name": "App"})

	if status, h, body := s.do("GET", "/api/v1/sessions/visit-1", header("Authorization", "Bearer "+s.token), nil); true {
		wantError(t, "an unknown session", status, h, body, http.StatusNotFound, "not_found")
	}

	first := s.collect("POST", "/collect/open/app/visit-1", header("Content-Type", "application/json"), strings.NewReader(`{"n":1}`))
	profileID := first.profileID()
	if profileID == "" || first.Session == nil || first.Session.ID != "visit-1" {
		t.Fatalf("first event: profile %q session %v, want a new profile and visit-1", profileID, first.Session)
	}
	s1 := s.session("visit-1")
	if s1.ID != "visit-1" || s1.ProfileID != profileID || s1.EventCount != 1 {
		t.Fatalf("session after one event: %+v, want visit-1 of %s with 1 event", s1, profileID)
	}
	firstSeen := parseAPITime(t, "first_seen", s1.FirstSeen)
	lastSeen1 := parseAPITime(t, "last_seen", s1.LastSeen)
	if lastSeen1.Before(firstSeen) {
		t.Errorf("last_seen %s before first_seen %s", lastSeen1, firstSeen)
	}

	time.Sleep(5 * time.Millisecond) // so that the next event is seen at a later microsecond
	second := s.collect("GET", "/collect/click/app/visit-1?n=2", nil, nil)
	if second.profileID() != profileID {
		t.Errorf("second event in visit-1: profile %q, want the session's %q", second.profileID(), profileID)
	}
	s.collect("GET", "/collect/click/app?anonymous=1", nil, nil) // profile-less: counts for nobody

	s2 := s.session("visit-1")
	if s2.EventCount != 2 || s2.ProfileID != profileID {
		t.Errorf("session after two events: %+v, want 2 events of %s", s2, profileID)
	}
	if got := parseAPITime(t, "first_seen", s2.FirstSeen); !got.Equal(firstSeen) {
		t.Errorf("first_seen moved from %s to %s", firstSeen, got)
	}
	if got := parseAPITime(t, "last_seen", s2.LastSeen); !got.After(lastSeen1) {
		t.Errorf("last_seen %s did not grow past %s", got, lastSeen1)
	}
	if e := s.event(second.Events[0]); strOrNull(e.SessionID) != "visit-1" || strOrNull(e.ProfileID) != profileID {
		t.Errorf("second event linked to session %s profile %s, want visit-1 and %s", strOrNull(e.SessionID), strOrNull(e.ProfileID), profileID)
	}

	other := s.collect("GET", "/collect/open/app/visit-2", nil, nil)
	if other.profileID() == "" || other.profileID() == profileID {
		t.Errorf("a second new session got profile %q, want a new one (not %q)", other.profileID(), profileID)
	}

	p := s.profile(profileID)
	if p.ID != profileID || p.EventCount != 2 || p.SessionCount != 1 {
		t.Errorf("profile %+v, want 2 events and 1 session", p)
	}
	pFirst := parseAPITime(t, "profile first_seen", p.FirstSeen)
	pLast := parseAPITime(t, "profile last_seen", p.LastSeen)
	if pLast.Before(pFirst) || !pLast.After(lastSeen1) {
		t.Errorf("profile first_seen %s last_seen %s, want last_seen after the first event (%s)", pFirst, pLast, lastSeen1)
	}
	if status, h, body := s.do("GET", "/api/v1/profiles/no-such-profile", header("Authorization", "Bearer "+s.token), nil); true {
		wantError(t, "an unknown profile", status, h, body, http.StatusNotFound, "not_found")
	}
}

func TestConcurrentFirstRequestsShareOneSessionAndProfile(t *testing.T) {
	s := startLive(t, liveConfig(t))
	s.createSource(map[string]any{"id": "burst", "name": "Burst"})

	const n = 50
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	start := make(chan struct{})
	type result struct {
		status int
		answer collected
		err    error
	}
	results := make(chan result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := client.Post(s.url+"/collect/first-touch/burst/new-visitor", "application/json", strings.NewReader(fmt.Sprintf(`{"i":%d}`, i)))
			if err != nil {
				results <- result{err: err}
				return
			}
			defer resp.Body.Close()
			var r result
			r.status = resp.StatusCode
			r.err = json.NewDecoder(resp.Body).Decode(&r.answer)
			results <- r
		}()
	}
	close(start)
	wg.Wait()
	close(results)

	profiles := map[string]int{}
	for r := range results {
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("a request: status %d, err %v", r.status, r.err)
			continue
		}
		profiles[r.answer.profileID()]++
	}
	if len(profiles) != 1 {
		t.Fatalf("the %d requests answered these profiles (id: count): %v, want one", n, profiles)
	}
	var profileID string
	for id := range profiles {
		profileID = id
	}
	if profileID == "" {
		t.Fatal("the requests answered a null profile")
	}

	sess := s.session("new-visitor")
	if sess.ProfileID != profileID || sess.EventCount != n {
		t.Errorf("session %+v, want profile %s with %d events", sess, profileID, n)
	}
	p := s.profile(profileID)
	if p.SessionCount != 1 || p.EventCount != n {
		t.Errorf("profile %+v, want 1 session and %d events", p, n)
	}
	page := s.listEvents("session=new-visitor&limit=1000")
	if len(page.Items) != n {
		t.Errorf("events of the session: %d, want %d", len(page.Items), n)
	}
	for _, e := range page.Items {
		if strOrNull(e.ProfileID) != profileID {
			t.Errorf("event %s has profile %s, want %s", e.ID, strOrNull(e.ProfileID), profileID)
		}
	}
}

func TestAdminAPI(t *testing.T) {
	s := startLive(t, liveConfig(t))

	t.Run("a request without the token or with a wrong one is answered 401", func(t *testing.T) {
		for name, h := range map[string]http.Header{
			"no token":       nil,
			"wrong token":    header("Authorization", "Bearer not-"+s.token),
			"not bearer":     header("Authorization", "Basic "+s.token),
			"token in query": nil,
		} {
			path := "/api/v1/sources"
			if name == "token in query" {
				path += "?token=" + url.QueryEscape(s.token)
			}
			status, rh, body := s.do("GET", path, h, nil)
			wantError(t, name, status, rh, body, http.StatusUnauthorized, "unauthorized")
		}
	})

	var generated storedSource
	t.Run("sources are created with 201, listed, read, updated and deleted", func(t *testing.T) {
		before := time.Now().UTC().Truncate(time.Microsecond)
		status, rh, raw := s.do("POST", "/api/v1/sources", header("Authorization", "Bearer "+s.token, "Content-Type", "application/json"),
			strings.NewReader(`{"id":"crm","name":"CRM","type":"webhook","config":{"secret_headers":["X-Hub-Signature"],"max_body_bytes":2048}}`))
		if status != http.StatusCreated {
			t.Fatalf("create: status %d, body %s", status, raw)
		}
		if loc := rh.Get("Location"); loc != "/api/v1/sources/crm" {
			t.Errorf("Location = %q, want /api/v1/sources/crm", loc)
		}
		var crm storedSource
		if err := json.Unmarshal(raw, &crm); err != nil {
			t.Fatal(err)
		}
		if crm.ID != "crm" || crm.Name != "CRM" || crm.Type != "webhook" || !crm.Enabled ||
			!reflect.DeepEqual(crm.Config.SecretHeaders, []string{"X-Hub-Signature"}) || crm.Config.MaxBodyBytes != 2048 {
			t.Errorf("created %+v", crm)
		}
		if created := parseAPITime(t, "created_at", crm.CreatedAt); created.Before(before) {
			t.Errorf("created_at %s before the request (%s)", created, before)
		}

		generated = s.createSource(map[string]any{"name": "Generated id"})
		if generated.ID == "" || generated.Type != "webhook" || !generated.Enabled {
			t.Errorf("source without id: %+v, want a generated id, type webhook, enabled", generated)
		}
		disabled := s.createSource(map[string]any{"id": "later", "name": "Later", "enabled": false})
		if disabled.Enabled {
			t.Errorf("created with enabled false: %+v", disabled)
		}

		var list struct {
			Items []storedSource `json:"items"`
		}
		s.admin("GET", "/api/v1/sources", nil, http.StatusOK, &list)
		var ids []string
		for _, src := range list.Items {
			ids = append(ids, src.ID)
		}
		if want := []string{"crm", "later"}; len(ids) != 3 || !contains(ids, generated.ID) || !contains(ids, want[0]) || !contains(ids, want[1]) {
			t.Errorf("listed ids %v, want crm, later and %s", ids, generated.ID)
		}

		var got storedSource
		s.admin("GET", "/api/v1/sources/crm", nil, http.StatusOK, &got)
		if got.ID != "crm" || got.Name != "CRM" || got.CreatedAt != crm.CreatedAt {
			t.Errorf("get crm: %+v, want %+v", got, crm)
		}

		time.Sleep(2 * time.Millisecond)
		var patched storedSource
		s.admin("PATCH", "/api/v1/sources/crm", map[string]any{"name": "CRM (EU)"}, http.StatusOK, &patched)
		if patched.Name != "CRM (EU)" || !patched.Enabled || patched.Config.MaxBodyBytes != 2048 {
			t.Errorf("patched name only: %+v, want the name changed and the rest kept", patched)
		}
		if u, c := parseAPITime(t, "updated_at", patched.UpdatedAt), parseAPITime(t, "created_at", patched.CreatedAt); !u.After(c) {
			t.Errorf("updated_at %s not after created_at %s", u, c)
		}

		s.admin("DELETE", "/api/v1/sources/later", nil, http.StatusNoContent, nil)
		status, rh, raw = s.do("GET", "/api/v1/sources/later", header("Authorization", "Bearer "+s.token), nil)
		wantError(t, "get a deleted source", status, rh, raw, http.StatusNotFound, "not_found")
		status, rh, raw = s.do("DELETE", "/api/v1/sources/later", header("Authorization", "Bearer "+s.token), nil)
		wantError(t, "delete a deleted source", status, rh, raw, http.StatusNotFound, "not_found")
	})

	t.Run("bad source requests are answered 4xx", func(t *testing.T) {
		auth := header("Authorization", "Bearer "+s.token, "Content-Type", "application/json")
		for _, tc := range []struct {
			name, method, path, body string
			status                   int
			code                     string
		}{
			{"a duplicate id", "POST", "/api/v1/sources", `{"id":"crm","name":"Again"}`, 409, "conflict"},
			{"no name", "POST", "/api/v1/sources", `{"id":"nameless"}`, 400, "invalid"},
			{"an id outside the safe set", "POST", "/api/v1/sources", `{"id":"a b","name":"Spaces"}`, 400, "invalid"},
			{"an unknown field", "POST", "/api/v1/sources", `{"name":"Typo","enabeld":false}`, 400, "unknown_field"},
			{"a type other than webhook", "POST", "/api/v1/sources", `{"name":"Other","type":"kafka"}`, 400, "invalid"},
			{"invalid JSON", "POST", "/api/v1/sources", `{"name":`, 400, "bad_json"},
			{"a patch of an unknown source", "PATCH", "/api/v1/sources/nope", `{"enabled":false}`, 404, "not_found"},
			{"a get of an unknown source", "GET", "/api/v1/sources/nope", ``, 404, "not_found"},
		} {
			status, rh, body := s.do(tc.method, tc.path, auth, strings.NewReader(tc.body))
			wantError(t, tc.name, status, rh, body, tc.status, tc.code)
		}
	})

	t.Run("disabled and unknown sources get the same 401, and enabling again works at once", func(t *testing.T) {
		s.createSource(map[string]any{"id": "toggle", "name": "Toggle"})
		s.collect("GET", "/collect/ping/toggle", nil, nil)

		var src storedSource
		s.admin("PATCH", "/api/v1/sources/toggle", map[string]any{"enabled": false}, http.StatusOK, &src)
		if src.Enabled {
			t.Fatalf("after disabling: %+v", src)
		}
		dStatus, dh, disabledBody := s.do("GET", "/collect/ping/toggle", nil, nil)
		wantError(t, "disabled source", dStatus, dh, disabledBody, http.StatusUnauthorized, "unknown_source")
		uStatus, uh, unknownBody := s.do("GET", "/collect/ping/never-registered", nil, nil)
		wantError(t, "unknown source", uStatus, uh, unknownBody, http.StatusUnauthorized, "unknown_source")
		if !bytes.Equal(disabledBody, unknownBody) {
			t.Errorf("a disabled source answers %s but an unknown one %s; they must not be told apart", disabledBody, unknownBody)
		}

		s.admin("PATCH", "/api/v1/sources/toggle", map[string]any{"enabled": true}, http.StatusOK, &src)
		if !src.Enabled {
			t.Fatalf("after enabling: %+v", src)
		}
		s.collect("GET", "/collect/ping/toggle", nil, nil)

		s.admin("DELETE", "/api/v1/sources/toggle", nil, http.StatusNoContent, nil)
		status, _, deletedBody := s.do("GET", "/collect/ping/toggle", nil, nil)
		if status != http.StatusUnauthorized || !bytes.Equal(deletedBody, unknownBody) {
			t.Errorf("a deleted source answers %d %s, want the unknown source's 401 %s", status, deletedBody, unknownBody)
		}
		if page := s.listEvents("source=toggle"); len(page.Items) != 2 {
			t.Errorf("events of the deleted source: %d, want the 2 collected while it was enabled (events stay)", len(page.Items))
		}
	})
}

func TestEventListing(t *testing.T) {
	s := startLive(t, liveConfig(t))
	s.createSource(map[string]any{"id": "a", "name": "A"})
	s.createSource(map[string]any{"id": "b", "name": "B"})

	// Seven events: three profile-less clicks on a, then (after a pause
	// that the since/until filters split on) two page views on b in
	// session s1 and two clicks on a in session s2.
	var all []string
	for i := range 3 {
		all = append(all, s.collect("GET", fmt.Sprintf("/collect/click/a?i=%d", i), nil, nil).Events[0])
	}
	time.Sleep(5 * time.Millisecond)
	split := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	var s2Profile string
	for i := range 2 {
		all = append(all, s.collect("GET", fmt.Sprintf("/collect/Page%%20View/b/s1?i=%d", i), nil, nil).Events[0])
	}
	for i := range 2 {
		c := s.collect("GET", fmt.Sprintf("/collect/click/a/s2?i=%d", i), nil, nil)
		all = append(all, c.Events[0])
		s2Profile = c.profileID()
	}
	newestFirst := make([]string, len(all))
	for i, id := range all {
		newestFirst[len(all)-1-i] = id
	}
	ids := func(p eventPage) []string {
		var out []string
		for _, e := range p.Items {
			out = append(out, e.ID)
		}
		return out
	}

	t.Run("without filters every event is listed newest first", func(t *testing.T) {
		p := s.listEvents("")
		if got := ids(p); !reflect.DeepEqual(got, newestFirst) {
			t.Errorf("ids %v, want %v", got, newestFirst)
		}
		if p.Next != nil {
			t.Errorf("next = %q on the only page, want null", *p.Next)
		}
		for i := 1; i < len(p.Items); i++ {
			if p.Items[i].InsertedAt > p.Items[i-1].InsertedAt {
				t.Errorf("event %d inserted at %s after event %d at %s", i, p.Items[i].InsertedAt, i-1, p.Items[i-1].InsertedAt)
			}
		}
	})

	t.Run("filters select by source, type, session, profile and time", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			want  []string // oldest first
		}{
			{"source=a", []string{all[0], all[1], all[2], all[5], all[6]}},
			{"source=b", all[3:5]},
			{"type=click", []string{all[0], all[1], all[2], all[5], all[6]}},
			{"type=Page%20View", all[3:5]},
			{"session=s1", all[3:5]},
			{"profile=" + s2Profile, all[5:7]},
			{"source=a&type=click&session=s2", all[5:7]},
			{"since=" + url.QueryEscape(split.Format(time.RFC3339Nano)), all[3:]},
			{"until=" + url.QueryEscape(split.Format(time.RFC3339Nano)), all[:3]},
			{"source=nobody", nil},
		} {
			var want []string
			for i := len(tc.want) - 1; i >= 0; i-- {
				want = append(want, tc.want[i])
			}
			if got := ids(s.listEvents(tc.query)); !reflect.DeepEqual(got, want) {
				t.Errorf("?%s: ids %v, want %v", tc.query, got, want)
			}
		}
	})

	t.Run("a cursor pages through every event once", func(t *testing.T) {
		var got []string
		var sizes []int
		query := "limit=3"
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatalf("more than 5 pages of 3 for 7 events: %v", sizes)
			}
			p := s.listEvents(query)
			got = append(got, ids(p)...)
			sizes = append(sizes, len(p.Items))
			if p.Next == nil {
				break
			}
			query = "limit=3&cursor=" + url.QueryEscape(*p.Next)
		}
		if !reflect.DeepEqual(got, newestFirst) || !reflect.DeepEqual(sizes, []int{3, 3, 1}) {
			t.Errorf("paged ids %v in pages of %v, want %v in pages of [3 3 1]", got, sizes, newestFirst)
		}
	})

	t.Run("a cursor keeps the filters of the listing", func(t *testing.T) {
		p := s.listEvents("source=a&limit=2")
		if p.Next == nil {
			t.Fatal("next is null after 2 of 5 events")
		}
		p2 := s.listEvents("source=a&limit=10&cursor=" + url.QueryEscape(*p.Next))
		if got, want := ids(p2), []string{all[2], all[1], all[0]}; !reflect.DeepEqual(got, want) {
			t.Errorf("second page ids %v, want %v", got, want)
		}
	})

	t.Run("bad filters are answered 400", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=1001", "limit=ten", "since=yesterday", "until=2026-13-01", "cursor=not-a-cursor", "type=caf%C3%A9"} {
			code := "bad_filter"
			if strings.HasPrefix(q, "cursor=") {
				code = "bad_cursor"
			} else if strings.HasPrefix(q, "type=") {
				code = "bad_event_type"
			}
			status, h, body := s.do("GET", "/api/v1/events?"+q, header("Authorization", "Bearer "+s.token), nil)
			wantError(t, "?"+q, status, h, body, http.StatusBadRequest, code)
		}
		status, h, body := s.do("GET", "/api/v1/events/no-such-event", header("Authorization", "Bearer "+s.token), nil)
		wantError(t, "an unknown event", status, h, body, http.StatusNotFound, "not_found")
	})
}

func TestGeneratedAdminToken(t *testing.T) {
	cfg := liveConfig(t)
	cfg.AdminToken = ""
	s := startLive(t, cfg)

	path := filepath.Join(cfg.DataDir, "admin-token")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no token file in the data directory: %v", err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("token file mode %v, want 0600", mode)
	}
	if len(s.token) < 32 {
		t.Errorf("generated token %q is shorter than 32 characters", s.token)
	}
	s.admin("GET", "/api/v1/sources", nil, http.StatusOK, nil)
	status, h, body := s.do("GET", "/api/v1/sources", header("Authorization", "Bearer "+s.token+"x"), nil)
	wantError(t, "a token with one more character", status, h, body, http.StatusUnauthorized, "unauthorized")
}

func TestRestartKeepsData(t *testing.T) {
	cfg := liveConfig(t)
	cfg.AdminToken = "" // generated, and kept in the data directory
	s := startLive(t, cfg)
	token := s.token
	s.createSource(map[string]any{"id": "keep", "name": "Kept", "config": map[string]any{"secret_headers": []string{"X-Key"}}})
	s.createSource(map[string]any{"id": "off", "name": "Off", "enabled": false})
	first := s.collect("POST", "/collect/purchase/keep/visit", header("Content-Type", "application/json"), strings.NewReader(`{"total":12.5,"items":["a","b"]}`))
	lone := s.collect("GET", "/collect/ping/keep?x=1", nil, nil)
	profileID := first.profileID()
	before := s.event(first.Events[0])
	s.stop()

	if _, err := http.Get(s.url + "/healthz"); err == nil {
		t.Fatal("the closed server still answers")
	}

	r := startLive(t, cfg)
	if r.token != token {
		t.Errorf("the token file changed across the restart: %q, then %q", token, r.token)
	}
	after := r.event(first.Events[0])
	if !reflect.DeepEqual(after, before) {
		t.Errorf("event after the restart:\n%+v\nbefore:\n%+v", after, before)
	}
	if e := r.event(lone.Events[0]); e.ProfileID != nil || e.SessionID != nil {
		t.Errorf("the profile-less event came back with session %s profile %s", strOrNull(e.SessionID), strOrNull(e.ProfileID))
	}
	if sess := r.session("visit"); sess.ProfileID != profileID || sess.EventCount != 1 {
		t.Errorf("session after the restart: %+v, want profile %s with 1 event", sess, profileID)
	}
	var keep, off storedSource
	r.admin("GET", "/api/v1/sources/keep", nil, http.StatusOK, &keep)
	r.admin("GET", "/api/v1/sources/off", nil, http.StatusOK, &off)
	if keep.Name != "Kept" || !keep.Enabled || !reflect.DeepEqual(keep.Config.SecretHeaders, []string{"X-Key"}) || off.Enabled {
		t.Errorf("sources after the restart: %+v and %+v", keep, off)
	}

	again := r.collect("GET", "/collect/return/keep/visit", nil, nil)
	if again.profileID() != profileID {
		t.Errorf("the session's profile after the restart is %q, want %q", again.profileID(), profileID)
	}
	if p := r.profile(profileID); p.EventCount != 2 || p.SessionCount != 1 {
		t.Errorf("profile after the restart: %+v, want 2 events in 1 session", p)
	}
	if page := r.listEvents("source=keep"); len(page.Items) != 3 {
		t.Errorf("events of keep after the restart: %d, want 3", len(page.Items))
	}
	if status, _, body := r.do("GET", "/collect/ping/off", nil, nil); status != http.StatusUnauthorized {
		t.Errorf("the disabled source after the restart: %d %s, want 401", status, body)
	}
}

// waitInFlight polls the admin stats until n collect requests are in flight.
func (s *liveServer) waitInFlight(n int64) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var stats struct {
			InFlight int64 `json:"in_flight"`
		}
		s.admin("GET", "/api/v1/stats", nil, http.StatusOK, &stats)
		if stats.InFlight >= n {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%d collect requests in flight after 10s, want %d", stats.InFlight, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCloseWithRequestsInFlight(t *testing.T) {
	cfg := liveConfig(t)
	s := startLive(t, cfg)
	s.createSource(map[string]any{"id": "busy", "name": "Busy"})

	// Slow senders: their headers and half their body are in, the handler
	// is reading the rest when Close begins.
	const slow = 3
	type answer struct {
		status int
		body   collected
		err    error
	}
	slowAnswers := make(chan answer, slow)
	var writers []*io.PipeWriter
	for i := range slow {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		req, err := http.NewRequest("POST", fmt.Sprintf("%s/collect/slow/busy/slow-%d", s.url, i), pr)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		go func() {
			var a answer
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				a.err = err
			} else {
				a.status = resp.StatusCode
				a.err = json.NewDecoder(resp.Body).Decode(&a.body)
				resp.Body.Close()
			}
			slowAnswers <- a
		}()
		pw.Write([]byte(`{"part": "one",`))
	}
	s.waitInFlight(slow)

	// Fast senders keep sending until the server stops answering.
	var mu sync.Mutex
	var acked []string
	stopLoad := make(chan struct{})
	var load sync.WaitGroup
	for w := range 4 {
		load.Add(1)
		go func() {
			defer load.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				resp, err := client.Post(fmt.Sprintf("%s/collect/fast/busy/w%d?i=%d", s.url, w, i), "application/json", strings.NewReader(`{"fast":true}`))
				if err != nil {
					continue // refused once the listener is closed
				}
				var c collected
				if resp.StatusCode/100 == 2 && json.NewDecoder(resp.Body).Decode(&c) == nil && len(c.Events) == 1 {
					mu.Lock()
					acked = append(acked, c.Events[0])
					mu.Unlock()
				}
				resp.Body.Close()
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)

	closed := make(chan error, 1)
	go func() { closed <- s.main.Close() }()
	s.closed = true
	// Once new connections are refused, Close is waiting for the slow senders.
	for deadline := time.Now().Add(10 * time.Second); ; {
		conn, err := net.Dial("tcp", s.main.Addr())
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts 10s after Close began")
		}
		time.Sleep(2 * time.Millisecond)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while requests were still sending their bodies", err)
	default:
	}
	for _, pw := range writers {
		pw.Write([]byte(` "part2": "two"}`))
		pw.Close()
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	close(stopLoad)
	load.Wait()

	var slowIDs []string
	for range slow {
		a := <-slowAnswers
		if a.err != nil || a.status != http.StatusOK || len(a.body.Events) != 1 {
			t.Errorf("a request in flight during Close: status %d, err %v; want 200", a.status, a.err)
			continue
		}
		slowIDs = append(slowIDs, a.body.Events[0])
	}
	if len(acked) == 0 {
		t.Fatal("no fast request was answered 2xx before Close; the test proved nothing about them")
	}

	r := startLive(t, cfg)
	for _, id := range slowIDs {
		sameJSON(t, "slow event properties", r.event(id).Properties, `{"part":"one","part2":"two"}`)
	}
	for _, id := range acked {
		r.event(id)
	}
	total := len(slowIDs) + len(acked)
	var stored int
	for p, query := (eventPage{}), "source=busy&limit=1000"; ; {
		p = r.listEvents(query)
		stored += len(p.Items)
		if p.Next == nil {
			break
		}
		query = "source=busy&limit=1000&cursor=" + url.QueryEscape(*p.Next)
	}
	if stored < total {
		t.Errorf("%d events stored after the restart, fewer than the %d answered 2xx", stored, total)
	}
	t.Logf("%d slow and %d fast requests answered 2xx; %d events stored", len(slowIDs), len(acked), stored)
}

func TestRunOnABusyAddressFailsAndCloses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := liveConfig(t)
	cfg.Addr = ln.Addr().String()
	m := NewMain(cfg, slog.New(slog.DiscardHandler))
	if err := m.Run(context.Background()); err == nil {
		m.Close()
		t.Fatalf("Run on %s, an address in use, succeeded", cfg.Addr)
	}
	closed := make(chan error, 1)
	go func() { closed <- m.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close after a failed Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close after a failed Run did not return within 10s")
	}
}
