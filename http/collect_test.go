package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"inlet"
	"inlet/collector"
	inlethttp "inlet/http"
	"inlet/sqlite"
)

func TestCollectRoutes(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	s.createSource(`{"id": "shop", "name": "Shop"}`)

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		wantType    string
		wantSession string
		wantProps   string
	}{
		{name: "GET without a session stores the query", method: "GET", path: "/collect/page-view/shop?a=1&b=2&b=3&c=",
			wantType: "page-view", wantProps: `{"a":"1","b":["2","3"],"c":""}`},
		{name: "GET with a session links the event to it", method: "GET", path: "/collect/page-view/shop/sess-get?url=%2Fhome",
			wantType: "page-view", wantSession: "sess-get", wantProps: `{"url":"/home"}`},
		{name: "POST without a session stores the body over the query", method: "POST", path: "/collect/Order%20Paid/shop?a=query&z=1",
			contentType: "application/json", body: `{"a":"body","total":12.5}`,
			wantType: "order-paid", wantProps: `{"a":"body","total":12.5,"z":"1"}`},
		{name: "POST with a session links the event to it", method: "POST", path: "/collect/signup/shop/sess-post",
			contentType: "application/x-www-form-urlencoded", body: "email=a%40b.c",
			wantType: "signup", wantSession: "sess-post", wantProps: `{"email":"a@b.c"}`},
		{name: "POST with an empty body stores no properties", method: "POST", path: "/collect/ping/shop",
			wantType: "ping", wantProps: `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			header := []string{"User-Agent", "inlet-test/1"}
			if tt.contentType != "" {
				header = append(header, "Content-Type", tt.contentType)
			}
			c := parseCollected(t, s.do(tt.method, tt.path, body, header...))
			if c.SessionID != tt.wantSession {
				t.Errorf("answered session %q, want %q", c.SessionID, tt.wantSession)
			}
			if (c.ProfileID != "") != (tt.wantSession != "") {
				t.Errorf("answered profile %q with session %q: a profile comes with a session and only then", c.ProfileID, c.SessionID)
			}

			e := s.event(c.Event)
			if e.ID != c.Event || e.Type != tt.wantType || e.SourceID != "shop" {
				t.Errorf("stored id, type, source = %q, %q, %q, want %q, %q, shop", e.ID, e.Type, e.SourceID, c.Event, tt.wantType)
			}
			assertSameJSON(t, e.Properties, tt.wantProps)
			if got := deref(e.SessionID); got != tt.wantSession {
				t.Errorf("stored session = %q, want %q", got, tt.wantSession)
			}
			if got := deref(e.ProfileID); got != c.ProfileID {
				t.Errorf("stored profile = %q, answered %q", got, c.ProfileID)
			}
			wantQuery := ""
			if i := strings.IndexByte(tt.path, '?'); i >= 0 {
				wantQuery = tt.path[i+1:]
			}
			if e.Context.Method != tt.method || e.Context.Query != wantQuery || e.Context.UserAgent != "inlet-test/1" || e.Context.IP != "127.0.0.1" {
				t.Errorf("stored context = %+v, want method %s, query %q, user agent inlet-test/1, ip 127.0.0.1", e.Context, tt.method, wantQuery)
			}
			at, err := time.Parse(time.RFC3339Nano, e.InsertedAt)
			if err != nil || !strings.HasSuffix(e.InsertedAt, "Z") || !strings.Contains(e.InsertedAt, ".") {
				t.Errorf("inserted_at %q is not UTC RFC 3339 with sub-second precision", e.InsertedAt)
			} else if d := time.Since(at); d < 0 || d > time.Minute {
				t.Errorf("inserted_at %q is %v from now", e.InsertedAt, d)
			}
		})
	}
}

func TestCollectSessions(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	s.createSource(`{"id": "app", "name": "App"}`)

	first := parseCollected(t, s.do("POST", "/collect/open/app/visitor-1", strings.NewReader(`{"n":1}`), "Content-Type", "application/json"))
	second := parseCollected(t, s.do("GET", "/collect/click/app/visitor-1?n=2", nil))
	other := parseCollected(t, s.do("GET", "/collect/open/app/visitor-2", nil))

	t.Run("the same session twice keeps one profile", func(t *testing.T) {
		if first.ProfileID == "" || second.ProfileID != first.ProfileID {
			t.Fatalf("profiles = %q then %q, want the same one", first.ProfileID, second.ProfileID)
		}
		if first.SessionID != "visitor-1" || second.SessionID != "visitor-1" {
			t.Fatalf("sessions = %q, %q, want visitor-1", first.SessionID, second.SessionID)
		}
	})
	t.Run("another new session gets another profile", func(t *testing.T) {
		if other.ProfileID == "" || other.ProfileID == first.ProfileID {
			t.Fatalf("profile of visitor-2 = %q, profile of visitor-1 = %q", other.ProfileID, first.ProfileID)
		}
	})
	t.Run("the session records both events", func(t *testing.T) {
		var sess struct {
			ID         string `json:"id"`
			ProfileID  string `json:"profile_id"`
			EventCount int64  `json:"event_count"`
		}
		s.adminOK("GET", "/api/v1/sessions/visitor-1", "", http.StatusOK, &sess)
		if sess.ID != "visitor-1" || sess.ProfileID != first.ProfileID || sess.EventCount != 2 {
			t.Fatalf("session = %+v, want visitor-1 of profile %s with 2 events", sess, first.ProfileID)
		}
	})
	t.Run("an event without a session stores no session and no profile", func(t *testing.T) {
		c := parseCollected(t, s.do("GET", "/collect/open/app", nil))
		e := s.event(c.Event)
		if c.ProfileID != "" || c.SessionID != "" || e.SessionID != nil || e.ProfileID != nil {
			t.Fatalf("answered %+v, stored session %v profile %v, want none", c, e.SessionID, e.ProfileID)
		}
	})
}

func TestCollectMethodNotAllowed(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	s.createSource(`{"id": "app", "name": "App"}`)
	for _, method := range []string{"PUT", "PATCH", "DELETE", "OPTIONS"} {
		for _, path := range []string{"/collect/open/app", "/collect/open/app/sess-1"} {
			t.Run(method+" "+path+" is refused with Allow", func(t *testing.T) {
				resp := s.do(method, path, strings.NewReader(`{}`), "Content-Type", "application/json")
				assertError(t, resp, http.StatusMethodNotAllowed, "method_not_allowed")
				if allow := resp.Header.Get("Allow"); allow != "GET, POST" {
					t.Errorf("Allow = %q, want %q", allow, "GET, POST")
				}
			})
		}
	}
	if n := s.eventCount(); n != 0 {
		t.Errorf("%d events stored by refused methods", n)
	}
}

func TestCollectRejects(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	s.createSource(`{"id": "app", "name": "App"}`)
	s.createSource(`{"id": "off", "name": "Off", "enabled": false}`)

	tests := []struct {
		name   string
		method string
		path   string
		ctype  string
		body   string
		status int
		code   string
	}{
		{name: "an event type with a bad character is refused", method: "GET", path: "/collect/page!view/app", status: 400, code: "bad_event_type"},
		{name: "an event type with an escaped slash is refused", method: "GET", path: "/collect/a%2Fb/app", status: 400, code: "bad_event_type"},
		{name: "an event type of only spaces is refused", method: "POST", path: "/collect/%20%20/app", status: 400, code: "bad_event_type"},
		{name: "an event type over 128 characters is refused", method: "GET", path: "/collect/" + strings.Repeat("e", 129) + "/app", status: 400, code: "bad_event_type"},
		{name: "a session id with a bad character is refused", method: "GET", path: "/collect/open/app/bad%20id", status: 400, code: "bad_session_id"},
		{name: "a session id over 128 characters is refused", method: "POST", path: "/collect/open/app/" + strings.Repeat("s", 129), status: 400, code: "bad_session_id"},
		{name: "an unknown source is refused", method: "GET", path: "/collect/open/nope", status: 401, code: "unknown_source"},
		{name: "a disabled source is refused", method: "POST", path: "/collect/open/off/sess-1", status: 401, code: "unknown_source"},
		{name: "invalid JSON is refused", method: "POST", path: "/collect/open/app", ctype: "application/json", body: `{"a":}`, status: 400, code: "bad_json"},
		{name: "too deep JSON is refused", method: "POST", path: "/collect/open/app", ctype: "application/json", body: strings.Repeat("[", 100) + strings.Repeat("]", 100), status: 400, code: "too_deep"},
		{name: "a bad query escape is refused", method: "GET", path: "/collect/open/app?a=%zz", status: 400, code: "bad_query"},
		{name: "multipart without a boundary is refused", method: "POST", path: "/collect/open/app", ctype: "multipart/form-data", body: "--x--", status: 400, code: "bad_multipart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			var header []string
			if tt.ctype != "" {
				header = []string{"Content-Type", tt.ctype}
			}
			assertError(t, s.do(tt.method, tt.path, body, header...), tt.status, tt.code)
		})
	}
	t.Run("the bad JSON error says where parsing failed", func(t *testing.T) {
		resp := s.do("POST", "/collect/open/app", strings.NewReader(`{"a":}`), "Content-Type", "application/json")
		if !strings.Contains(string(resp.Body), "at byte 5") {
			t.Errorf("body %s does not name byte 5", resp.Body)
		}
	})
	if n := s.eventCount(); n != 0 {
		t.Errorf("%d events stored by refused requests", n)
	}
}

func TestCollectUnknownAndDisabledSourcesLookAlike(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	s.createSource(`{"id": "off", "name": "Off", "enabled": false}`)
	unknown := s.do("POST", "/collect/open/never-created", strings.NewReader(`{"a":1}`), "Content-Type", "application/json")
	disabled := s.do("POST", "/collect/open/off", strings.NewReader(`{"a":1}`), "Content-Type", "application/json")
	assertError(t, unknown, http.StatusUnauthorized, "unknown_source")
	assertError(t, disabled, http.StatusUnauthorized, "unknown_source")
	if string(unknown.Body) != string(disabled.Body) {
		t.Errorf("bodies differ:\nunknown  %s\ndisabled %s", unknown.Body, disabled.Body)
	}
}

func TestCollectDisablingTakesEffectAtOnce(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	s.createSource(`{"id": "app", "name": "App"}`)
	parseCollected(t, s.do("GET", "/collect/open/app", nil))

	s.adminOK("PATCH", "/api/v1/sources/app", `{"enabled": false}`, http.StatusOK, nil)
	assertError(t, s.do("GET", "/collect/open/app", nil), http.StatusUnauthorized, "unknown_source")

	s.adminOK("PATCH", "/api/v1/sources/app", `{"enabled": true}`, http.StatusOK, nil)
	parseCollected(t, s.do("GET", "/collect/open/app", nil))

	s.adminOK("DELETE", "/api/v1/sources/app", "", http.StatusNoContent, nil)
	assertError(t, s.do("GET", "/collect/open/app", nil), http.StatusUnauthorized, "unknown_source")

	// A source created after a collect for its id was refused is seen at once.
	assertError(t, s.do("GET", "/collect/open/later", nil), http.StatusUnauthorized, "unknown_source")
	s.createSource(`{"id": "later", "name": "Later"}`)
	parseCollected(t, s.do("GET", "/collect/open/later", nil))

	if n := s.eventCount(); n != 3 {
		t.Errorf("%d events stored, want 3", n)
	}
}

// unsized hides a reader's length so that the client sends it chunked.
type unsized struct{ io.Reader }

func TestCollectBodyLimit(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	s.createSource(`{"id": "small", "name": "Small", "config": {"max_body_bytes": 64}}`)
	s.createSource(`{"id": "default", "name": "Default"}`)
	text := func(n int) string { return strings.Repeat("x", n) }

	tests := []struct {
		name    string
		path    string
		body    io.Reader
		wantErr bool
	}{
		{name: "a body of exactly max_body_bytes is stored", path: "/collect/big/small", body: strings.NewReader(text(64))},
		{name: "a chunked body of exactly max_body_bytes is stored", path: "/collect/big/small", body: unsized{strings.NewReader(text(64))}},
		{name: "one byte over max_body_bytes is refused", path: "/collect/big/small", body: strings.NewReader(text(65)), wantErr: true},
		{name: "a chunked body one byte over is refused", path: "/collect/big/small", body: unsized{strings.NewReader(text(65))}, wantErr: true},
		{name: "a chunked body far over is refused", path: "/collect/big/small", body: unsized{strings.NewReader(text(100 << 10))}, wantErr: true},
		{name: "a body of the default 1 MiB is stored", path: "/collect/big/default", body: strings.NewReader(text(inlet.DefaultMaxBodyBytes))},
		{name: "a body over the default 1 MiB is refused", path: "/collect/big/default", body: unsized{strings.NewReader(text(inlet.DefaultMaxBodyBytes + 1))}, wantErr: true},
	}
	stored := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.do("POST", tt.path, tt.body, "Content-Type", "text/plain")
			if tt.wantErr {
				assertError(t, resp, http.StatusRequestEntityTooLarge, "too_large")
				return
			}
			c := parseCollected(t, resp)
			stored++
			var props struct{ Raw string }
			e := s.event(c.Event)
			if err := json.Unmarshal(e.Properties, &props); err != nil || len(props.Raw) == 0 || strings.Trim(props.Raw, "x") != "" {
				t.Errorf("stored properties are not the whole body (%d bytes of raw)", len(props.Raw))
			}
		})
	}
	if n := s.eventCount(); n != stored {
		t.Errorf("%d events stored, want %d: a refused body left an event", n, stored)
	}
}

func TestCollectHeaders(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	s.createSource(`{"id": "gh", "name": "GitHub", "config": {"secret_headers": ["x-hub-signature-256", "X-Api-Key"]}}`)
	resp := s.do("POST", "/collect/push/gh", strings.NewReader(`{}`),
		"Content-Type", "application/json",
		"Authorization", "Bearer secret-1",
		"Proxy-Authorization", "Basic secret-2",
		"Cookie", "session=secret-3",
		"X-Hub-Signature-256", "sha256=secret-4",
		"X-API-KEY", "secret-5",
		"X-GitHub-Event", "push",
		"X-Multi", "one",
		"X-Multi", "two",
		"User-Agent", "GitHub-Hookshot/abc",
	)
	e := s.event(parseCollected(t, resp).Event)
	h := e.Context.Headers
	for _, name := range []string{"Authorization", "Proxy-Authorization", "Cookie", "X-Hub-Signature-256", "X-Api-Key"} {
		if v, ok := h[name]; ok {
			t.Errorf("header %s was stored as %q", name, v)
		}
	}
	for name, want := range map[string]string{
		"X-Github-Event": "push",
		"X-Multi":        "one, two",
		"Content-Type":   "application/json",
		"User-Agent":     "GitHub-Hookshot/abc",
	} {
		if got := h[name]; got != want {
			t.Errorf("header %s = %q, want %q (stored headers: %v)", name, got, want, h)
		}
	}
	raw := s.admin("GET", "/api/v1/events/"+e.ID, "").Body
	for i := 1; i <= 5; i++ {
		if secret := fmt.Sprintf("secret-%d", i); strings.Contains(string(raw), secret) {
			t.Errorf("the stored event contains %s: %s", secret, raw)
		}
	}
}

func TestCollectClientIP(t *testing.T) {
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: t.TempDir() + "/inlet.db"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateSource(context.Background(), &inlet.Source{ID: "app", Name: "App", Type: "webhook", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}

	tests := []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		xff     []string
		want    string
	}{
		{name: "without trusted proxies the peer is the client", peer: "10.0.0.1:5000", xff: []string{"203.0.113.7"}, want: "10.0.0.1"},
		{name: "a trusted proxy's X-Forwarded-For is believed", trusted: proxies, peer: "10.0.0.1:5000", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "an untrusted peer's X-Forwarded-For is ignored", trusted: proxies, peer: "198.51.100.9:5000", xff: []string{"203.0.113.7"}, want: "198.51.100.9"},
		{name: "the last untrusted hop is the client", trusted: proxies, peer: "10.0.0.1:5000", xff: []string{"198.51.100.1, 203.0.113.7, 10.0.0.2"}, want: "203.0.113.7"},
		{name: "hops over several headers are read in order", trusted: proxies, peer: "10.0.0.1:5000", xff: []string{"198.51.100.1", "203.0.113.7,10.0.0.3"}, want: "203.0.113.7"},
		{name: "a chain of only trusted proxies gives the first of them", trusted: proxies, peer: "10.0.0.1:5000", xff: []string{"10.0.0.9, 10.0.0.2"}, want: "10.0.0.9"},
		{name: "a malformed hop stops the chain", trusted: proxies, peer: "10.0.0.1:5000", xff: []string{"203.0.113.7, not-an-ip"}, want: "10.0.0.1"},
		{name: "a trusted proxy without X-Forwarded-For is the client", trusted: proxies, peer: "10.0.0.1:5000", want: "10.0.0.1"},
		{name: "IPv6 peers and hops work", trusted: proxies, peer: "[::1]:5000", xff: []string{"2001:db8::7"}, want: "2001:db8::7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := inlethttp.NewServer(inlethttp.Config{
				Store: db,
				Collector: collector.New(collector.Config{
					Appender: db, // stores directly: no writer needed for one request
					Sources:  inlet.NewSourceCache(db, time.Hour),
				}),
				Logger:         slog.New(slog.DiscardHandler),
				AdminToken:     testToken,
				TrustedProxies: tt.trusted,
			})
			req := httptest.NewRequest("GET", "/collect/open/app", nil)
			req.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			c := parseCollected(t, &response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()})
			e, err := db.FindEvent(context.Background(), c.Event)
			if err != nil {
				t.Fatal(err)
			}
			if e.Context.IP != tt.want {
				t.Errorf("client ip = %q, want %q", e.Context.IP, tt.want)
			}
		})
	}
}

func TestCollectClientIPOverHTTP(t *testing.T) {
	t.Run("a trusted loopback proxy's X-Forwarded-For is stored", func(t *testing.T) {
		s := newTestServer(t, serverOptions{trustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
		s.createSource(`{"id": "app", "name": "App"}`)
		c := parseCollected(t, s.do("GET", "/collect/open/app", nil, "X-Forwarded-For", "203.0.113.7"))
		if ip := s.event(c.Event).Context.IP; ip != "203.0.113.7" {
			t.Errorf("client ip = %q, want 203.0.113.7", ip)
		}
	})
	t.Run("without a trusted proxy X-Forwarded-For is ignored", func(t *testing.T) {
		s := newTestServer(t, serverOptions{})
		s.createSource(`{"id": "app", "name": "App"}`)
		c := parseCollected(t, s.do("GET", "/collect/open/app", nil, "X-Forwarded-For", "203.0.113.7"))
		if ip := s.event(c.Event).Context.IP; ip != "127.0.0.1" {
			t.Errorf("client ip = %q, want 127.0.0.1", ip)
		}
	})
}

// failingAppender refuses every event with err.
type failingAppender struct{ err error }

func (a failingAppender) Append(context.Context, []inlet.Intake) ([]inlet.Appended, error) {
	return nil, a.err
}

// retryLater is an unavailable error that asks for a specific wait.
type retryLater struct {
	error
	seconds int
}

func (e retryLater) Unwrap() error   { return e.error }
func (e retryLater) RetryAfter() int { return e.seconds }

// brokenStore is the real store with some operations failing.
type brokenStore struct {
	*sqlite.DB
	findSource error
	append     error
	ping       error
}

func (s *brokenStore) FindSource(ctx context.Context, id string) (*inlet.Source, error) {
	if s.findSource != nil {
		return nil, s.findSource
	}
	return s.DB.FindSource(ctx, id)
}

func (s *brokenStore) Append(ctx context.Context, intakes []inlet.Intake) ([]inlet.Appended, error) {
	if s.append != nil {
		return nil, s.append
	}
	return s.DB.Append(ctx, intakes)
}

func (s *brokenStore) Ping(ctx context.Context) error {
	if s.ping != nil {
		return s.ping
	}
	return s.DB.Ping(ctx)
}

// storeDown is what the SQLite store returns when it cannot be used.
var storeDown = fmt.Errorf("%w: %w", inlet.Errorf(inlet.EUNAVAILABLE, "the store cannot be written right now; retry later"), errors.New("disk I/O error /var/lib/inlet/inlet.db"))

func TestCollectUnavailable(t *testing.T) {
	tests := []struct {
		name       string
		opts       serverOptions
		retryAfter string
	}{
		{name: "an appender that is unavailable gives 503", opts: serverOptions{appender: failingAppender{storeDown}}, retryAfter: "1"},
		{name: "an appender's own wait is the Retry-After", opts: serverOptions{appender: failingAppender{retryLater{storeDown, 7}}}, retryAfter: "7"},
		{name: "a store that cannot commit behind the real writer gives 503", opts: serverOptions{store: func(db *sqlite.DB) inlet.Store {
			return &brokenStore{DB: db, append: storeDown}
		}}, retryAfter: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, tt.opts)
			s.createSource(`{"id": "app", "name": "App"}`)
			resp := s.do("POST", "/collect/open/app/sess-1", strings.NewReader(`{"a":1}`), "Content-Type", "application/json")
			assertError(t, resp, http.StatusServiceUnavailable, inlet.EUNAVAILABLE)
			if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if strings.Contains(string(resp.Body), "disk I/O") {
				t.Errorf("the answer leaks the internal error: %s", resp.Body)
			}
			if n := s.eventCount(); n != 0 {
				t.Errorf("%d events stored after a failed append", n)
			}
		})
	}
}

func TestCollectSourceLookupFails(t *testing.T) {
	broken := &brokenStore{}
	s := newTestServer(t, serverOptions{store: func(db *sqlite.DB) inlet.Store {
		broken.DB = db
		return broken
	}})
	s.createSource(`{"id": "app", "name": "App"}`)

	broken.findSource = storeDown
	for _, path := range []string{"/collect/open/app", "/collect/open/unknown"} {
		t.Run("a failed lookup of "+path+" is 503, not 401", func(t *testing.T) {
			resp := s.do("GET", path, nil)
			assertError(t, resp, http.StatusServiceUnavailable, inlet.EUNAVAILABLE)
			if resp.Header.Get("Retry-After") == "" {
				t.Error("no Retry-After header")
			}
		})
	}

	broken.findSource = nil
	t.Run("a failed lookup is not remembered", func(t *testing.T) {
		parseCollected(t, s.do("GET", "/collect/open/app", nil))
		assertError(t, s.do("GET", "/collect/open/unknown", nil), http.StatusUnauthorized, "unknown_source")
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestCollectConcurrentNewSession(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	s.createSource(`{"id": "app", "name": "App"}`)
	const n = 32
	answers := make(chan *response, n)
	for range n {
		go func() {
			req, _ := http.NewRequest("POST", s.URL+"/collect/open/app/brand-new", strings.NewReader(`{}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- &response{Body: []byte(err.Error())}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			answers <- &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
		}()
	}
	profiles := map[string]int{}
	for range n {
		profiles[parseCollected(t, <-answers).ProfileID]++
	}
	if len(profiles) != 1 {
		t.Fatalf("%d concurrent first requests of one session got profiles %v, want one", n, profiles)
	}
	var sess struct {
		EventCount int64 `json:"event_count"`
	}
	s.adminOK("GET", "/api/v1/sessions/brand-new", "", http.StatusOK, &sess)
	if sess.EventCount != n {
		t.Errorf("session event_count = %d, want %d", sess.EventCount, n)
	}
}
