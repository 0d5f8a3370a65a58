package http_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"inlet"
	"inlet/batch"
	"inlet/collector"
	inlethttp "inlet/http"
	"inlet/rejection"
	"inlet/sqlite"
)

// intakeServer is the real handler with a rejected-request log, over a real
// SQLite file and the real batch writer, on real HTTP.
type intakeServer struct {
	t    *testing.T
	URL  string
	DB   *sqlite.DB
	Log  *rejection.Log
	stop func()
}

// newIntakeServer serves the database at path; wrap, when set, stands
// between the handler and the store to inject failures.
func newIntakeServer(t *testing.T, path string, wrap func(*sqlite.DB) inlet.Store) *intakeServer {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: path})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	var store inlet.Store = db
	if wrap != nil {
		store = wrap(db)
	}
	w := batch.NewWriter(store, batch.Options{}, logger)
	rl := rejection.NewLog(store, rejection.Options{}, logger)
	h := inlethttp.NewServer(inlethttp.Config{
		Store:      store,
		Collector:  collector.New(collector.Config{Appender: w, Sources: inlet.NewSourceCache(store, time.Hour)}),
		Logger:     logger,
		AdminToken: testToken,
		Rejections: rl,
	})
	hs := httptest.NewServer(h)
	s := &intakeServer{t: t, URL: hs.URL, DB: db, Log: rl}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			hs.Close()
			ctx := context.Background()
			rl.Close(ctx)
			w.Close(ctx)
			db.Close()
		})
	}
	t.Cleanup(s.stop)
	return s
}

// intakeAnswer is a finished HTTP exchange.
type intakeAnswer = response

// send makes a request; header holds name/value pairs.
func (s *intakeServer) send(method, path string, body []byte, header ...string) *intakeAnswer {
	s.t.Helper()
	return doRequest(s.t, s.URL, method, path, bytes.NewReader(body), header...)
}

func (s *intakeServer) adminJSON(method, path, body string) *intakeAnswer {
	s.t.Helper()
	return s.send(method, path, []byte(body), "Authorization", "Bearer "+testToken, "Content-Type", "application/json")
}

// source creates a source with the given config and returns its JSON answer.
func (s *intakeServer) source(id, config string) string {
	s.t.Helper()
	a := s.adminJSON("POST", "/api/v1/sources", fmt.Sprintf(`{"id":%q,"name":"test","config":%s}`, id, config))
	if a.Status != http.StatusCreated {
		s.t.Fatalf("create source %s: %d %s", id, a.Status, a.Body)
	}
	return string(a.Body)
}

// intakeResult is the answer of an accepted collect request.
type intakeResult struct {
	Events    []string `json:"events"`
	Duplicate bool     `json:"duplicate"`
}

func (s *intakeServer) collectOK(path string, body []byte, header ...string) intakeResult {
	s.t.Helper()
	a := s.send("POST", path, body, header...)
	if a.Status != http.StatusOK {
		s.t.Fatalf("POST %s = %d %s, want 200", path, a.Status, a.Body)
	}
	var r intakeResult
	if err := json.Unmarshal(a.Body, &r); err != nil || len(r.Events) != 1 {
		s.t.Fatalf("POST %s answered %s", path, a.Body)
	}
	return r
}

// wantRefused requires a JSON error with the status and code.
func wantRefused(t *testing.T, a *intakeAnswer, status int, code string) {
	t.Helper()
	if a.Status != status {
		t.Fatalf("status %d %s, want %d %s", a.Status, a.Body, status, code)
	}
	var body inlethttp.ErrorBody
	if err := json.Unmarshal(a.Body, &body); err != nil || body.Error.Message == "" {
		t.Fatalf("error body %q is not a JSON error with a message", a.Body)
	}
	if body.Error.Code != code {
		t.Fatalf("error code %q (%s), want %q", body.Error.Code, body.Error.Message, code)
	}
}

func (s *intakeServer) storedEvent(id string) *inlet.Event {
	s.t.Helper()
	e, err := s.DB.FindEvent(context.Background(), id)
	if err != nil {
		s.t.Fatalf("FindEvent(%s): %v", id, err)
	}
	return e
}

func (s *intakeServer) countEvents(source string) int {
	s.t.Helper()
	page, err := s.DB.ListEvents(context.Background(), inlet.EventFilter{SourceID: source, Limit: inlet.MaxEventLimit})
	if err != nil {
		s.t.Fatal(err)
	}
	return len(page.Items)
}

func hmacHex(secret string, parts ...string) string {
	m := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}

func TestIntakeConfigValidation(t *testing.T) {
	s := newIntakeServer(t, filepath.Join(t.TempDir(), "inlet.db"), nil)
	for _, tt := range []struct {
		name, config, field string
	}{
		{"an unknown verifier type", `{"verify":{"type":"gitlab","secret":"x"}}`, "config.verify.type"},
		{"a github verifier without a secret", `{"verify":{"type":"github"}}`, "config.verify.secret"},
		{"a field the type does not take", `{"verify":{"type":"github","secret":"x","tolerance":"5m"}}`, "config.verify.tolerance"},
		{"a stripe tolerance that is not a duration", `{"verify":{"type":"stripe","secret":"x","tolerance":"five"}}`, "config.verify.tolerance"},
		{"a standard-webhooks secret that is not base64", `{"verify":{"type":"standard-webhooks","secret":"whsec_***"}}`, "config.verify.secret"},
		{"an hmac verifier without a header", `{"verify":{"type":"hmac","secret":"x"}}`, "config.verify.header"},
		{"an hmac algorithm not offered", `{"verify":{"type":"hmac","secret":"x","header":"X-Sig","algorithm":"md5"}}`, "config.verify.algorithm"},
		{"an hmac encoding not offered", `{"verify":{"type":"hmac","secret":"x","header":"X-Sig","encoding":"base32"}}`, "config.verify.encoding"},
		{"basic without a password", `{"verify":{"type":"basic","username":"u"}}`, "config.verify.password"},
		{"an api key in a place not offered", `{"verify":{"type":"api-key","secret":"k","in":"cookie"}}`, "config.verify.in"},
		{"the masked value as a new secret", `{"verify":{"type":"github","secret":"****"}}`, "config.verify.secret"},
		{"dedup with neither header nor path", `{"dedup":{"window":"1h"}}`, "config.dedup"},
		{"dedup with both header and path", `{"dedup":{"header":"Idempotency-Key","path":"id"}}`, "config.dedup"},
		{"a dedup path with an empty segment", `{"dedup":{"path":"data..id"}}`, "config.dedup.path"},
		{"a dedup window that is not a duration", `{"dedup":{"header":"Idempotency-Key","window":"1 day"}}`, "config.dedup.window"},
		{"a rate limit of zero", `{"rate_limit":{"per_second":0}}`, "config.rate_limit.per_second"},
		{"a negative burst", `{"rate_limit":{"per_second":1,"burst":-1}}`, "config.rate_limit.burst"},
	} {
		t.Run(tt.name+" is a 400 naming "+tt.field, func(t *testing.T) {
			a := s.adminJSON("POST", "/api/v1/sources", `{"name":"bad","config":`+tt.config+`}`)
			wantRefused(t, a, http.StatusBadRequest, "invalid")
			if !strings.Contains(string(a.Body), tt.field) {
				t.Errorf("message %s does not name %s", a.Body, tt.field)
			}
		})
	}
	t.Run("the example of the issue is accepted", func(t *testing.T) {
		s.source("example", `{"verify":{"type":"github","secret":"s"},"dedup":{"header":"X-GitHub-Delivery","window":"24h"},"max_body_bytes":1048576,"rate_limit":{"per_second":100,"burst":200}}`)
	})
}

func TestIntakeSecretsAreWriteOnly(t *testing.T) {
	s := newIntakeServer(t, filepath.Join(t.TempDir(), "inlet.db"), nil)
	const secret = "gh-very-secret-value"
	const whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	answers := []string{
		s.source("gh", `{"verify":{"type":"github","secret":"`+secret+`"}}`),
		s.source("sw", `{"verify":{"type":"standard-webhooks","secret":"`+whsec+`"}}`),
		s.source("basic", `{"verify":{"type":"basic","username":"u","password":"`+secret+`"}}`),
		string(s.adminJSON("GET", "/api/v1/sources/gh", "").Body),
		string(s.adminJSON("GET", "/api/v1/sources", "").Body),
	}
	for i, a := range answers {
		if strings.Contains(a, secret) || strings.Contains(a, "MfKQ9r8G") {
			t.Errorf("answer %d reveals a secret: %s", i, a)
		}
	}
	if !strings.Contains(answers[0], `"secret":"****"`) || !strings.Contains(answers[1], `"secret":"whsec_****"`) || !strings.Contains(answers[2], `"password":"****"`) {
		t.Errorf("secrets are not shown masked: %s / %s / %s", answers[0], answers[1], answers[2])
	}

	body := []byte(`{"zen":"hi"}`)
	signed := func(secret string) *intakeAnswer {
		return s.send("POST", "/collect/push/gh", body, "X-Hub-Signature-256", "sha256="+hmacHex(secret, string(body)), "Content-Type", "application/json")
	}
	t.Run("a patch that sends the masked secret back keeps the stored one", func(t *testing.T) {
		a := s.adminJSON("PATCH", "/api/v1/sources/gh", `{"config":{"verify":{"type":"github","secret":"****"},"max_body_bytes":2048}}`)
		if a.Status != http.StatusOK || strings.Contains(string(a.Body), secret) {
			t.Fatalf("PATCH = %d %s", a.Status, a.Body)
		}
		if got := signed(secret); got.Status != http.StatusOK {
			t.Fatalf("a request signed with the kept secret: %d %s", got.Status, got.Body)
		}
	})
	t.Run("a patch that omits the secret keeps the stored one", func(t *testing.T) {
		if a := s.adminJSON("PATCH", "/api/v1/sources/gh", `{"config":{"verify":{"type":"github"}}}`); a.Status != http.StatusOK {
			t.Fatalf("PATCH = %d %s", a.Status, a.Body)
		}
		if got := signed(secret); got.Status != http.StatusOK {
			t.Fatalf("a request signed with the kept secret: %d %s", got.Status, got.Body)
		}
	})
	t.Run("a patch with a new secret replaces it", func(t *testing.T) {
		if a := s.adminJSON("PATCH", "/api/v1/sources/gh", `{"config":{"verify":{"type":"github","secret":"rotated"}}}`); a.Status != http.StatusOK {
			t.Fatalf("PATCH = %d %s", a.Status, a.Body)
		}
		wantRefused(t, signed(secret), http.StatusUnauthorized, "bad_signature")
		if got := signed("rotated"); got.Status != http.StatusOK {
			t.Fatalf("a request signed with the new secret: %d %s", got.Status, got.Body)
		}
	})
	t.Run("a masked secret for another verifier type is refused", func(t *testing.T) {
		a := s.adminJSON("PATCH", "/api/v1/sources/gh", `{"config":{"verify":{"type":"shopify","secret":"****"}}}`)
		wantRefused(t, a, http.StatusBadRequest, "invalid")
	})
}

func TestIntakeVerification(t *testing.T) {
	s := newIntakeServer(t, filepath.Join(t.TempDir(), "inlet.db"), nil)
	s.source("gh", `{"verify":{"type":"github","secret":"gh"}}`)
	s.source("stripe", `{"verify":{"type":"stripe","secret":"st"}}`)
	s.source("shop", `{"verify":{"type":"shopify","secret":"sh"}}`)
	s.source("sw", `{"verify":{"type":"standard-webhooks","secret":"whsec_c2VjcmV0LWtleQ=="}}`)
	s.source("hmac", `{"verify":{"type":"hmac","secret":"hm","header":"X-Signature","algorithm":"sha256","encoding":"base64","prefix":"v1="}}`)
	s.source("basic", `{"verify":{"type":"basic","username":"u","password":"p"}}`)
	s.source("key", `{"verify":{"type":"api-key","secret":"k3y","in":"query","key":"token"}}`)
	s.source("hkey", `{"verify":{"type":"api-key","secret":"k3y"}}`)

	body := `{"id":"evt_1","amount":100}`
	now := strconv.FormatInt(time.Now().Unix(), 10)
	old := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
	swKey := []byte("secret-key")
	swSign := func(id, ts, body string) string {
		m := hmac.New(sha256.New, swKey)
		m.Write([]byte(id + "." + ts + "." + body))
		return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	hm := hmac.New(sha256.New, []byte("hm"))
	hm.Write([]byte(body))
	hmacSig := "v1=" + base64.StdEncoding.EncodeToString(hm.Sum(nil))
	sh := hmac.New(sha256.New, []byte("sh"))
	sh.Write([]byte(body))
	shopSig := base64.StdEncoding.EncodeToString(sh.Sum(nil))

	for _, tt := range []struct {
		name, path string
		header     []string
		reason     string   // "" when accepted
		secrets    []string // headers that must not be stored
	}{
		{"a github request signed over the body is stored", "/collect/push/gh", []string{"X-Hub-Signature-256", "sha256=" + hmacHex("gh", body)}, "", []string{"X-Hub-Signature-256"}},
		{"a github request without a signature is refused", "/collect/push/gh", nil, "missing_signature", nil},
		{"a github request signed with another secret is refused", "/collect/push/gh", []string{"X-Hub-Signature-256", "sha256=" + hmacHex("other", body)}, "bad_signature", nil},
		{"a stripe request signed now is stored", "/collect/charge/stripe", []string{"Stripe-Signature", "t=" + now + ",v1=" + hmacHex("st", now, ".", body)}, "", []string{"Stripe-Signature"}},
		{"a stripe request signed ten minutes ago is refused", "/collect/charge/stripe", []string{"Stripe-Signature", "t=" + old + ",v1=" + hmacHex("st", old, ".", body)}, "timestamp_out_of_tolerance", nil},
		{"a shopify request is stored", "/collect/order/shop", []string{"X-Shopify-Hmac-Sha256", shopSig}, "", []string{"X-Shopify-Hmac-Sha256"}},
		{"a standard webhook is stored and keeps its id and timestamp", "/collect/invoice/sw", []string{"webhook-id", "msg_1", "webhook-timestamp", now, "webhook-signature", swSign("msg_1", now, body)}, "", []string{"Webhook-Signature"}},
		{"a standard webhook with a replayed timestamp is refused", "/collect/invoice/sw", []string{"webhook-id", "msg_1", "webhook-timestamp", old, "webhook-signature", swSign("msg_1", old, body)}, "timestamp_out_of_tolerance", nil},
		{"a generic hmac request is stored", "/collect/x/hmac", []string{"X-Signature", hmacSig}, "", []string{"X-Signature"}},
		{"basic credentials are accepted", "/collect/x/basic", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p"))}, "", []string{"Authorization"}},
		{"wrong basic credentials are refused", "/collect/x/basic", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("u:q"))}, "bad_credentials", nil},
		{"an api key in the query is accepted", "/collect/x/key?token=k3y&a=1", nil, "", nil},
		{"a wrong api key in the query is refused", "/collect/x/key?token=nope", nil, "bad_credentials", nil},
		{"an api key in a header is accepted", "/collect/x/hkey", []string{"X-Api-Key", "k3y"}, "", []string{"X-Api-Key"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := s.send("POST", tt.path, []byte(body), append([]string{"Content-Type", "application/json"}, tt.header...)...)
			if tt.reason != "" {
				wantRefused(t, a, http.StatusUnauthorized, tt.reason)
				if strings.HasSuffix(tt.path, "/basic") && !strings.HasPrefix(a.Header.Get("WWW-Authenticate"), "Basic") {
					t.Errorf("a refused basic request has no WWW-Authenticate challenge")
				}
				return
			}
			if a.Status != http.StatusOK {
				t.Fatalf("status %d %s, want 200", a.Status, a.Body)
			}
			var r intakeResult
			json.Unmarshal(a.Body, &r)
			e := s.storedEvent(r.Events[0])
			for _, h := range tt.secrets {
				if _, ok := e.Context.Headers[h]; ok {
					t.Errorf("the stored event keeps the header %s", h)
				}
			}
			if strings.Contains(string(e.Properties), "k3y") || strings.Contains(e.Context.Query, "k3y") {
				t.Errorf("the api key was stored: properties %s, query %q", e.Properties, e.Context.Query)
			}
			if strings.Contains(tt.path, "/sw") && (e.Context.Headers["Webhook-Id"] != "msg_1" || e.Context.Headers["Webhook-Timestamp"] == "") {
				t.Errorf("webhook-id and webhook-timestamp were not kept: %v", e.Context.Headers)
			}
		})
	}
	t.Run("a signature over re-encoded JSON is refused: the raw bytes count", func(t *testing.T) {
		spaced := `{"id": "evt_1", "amount": 100}`
		a := s.send("POST", "/collect/push/gh", []byte(spaced), "Content-Type", "application/json", "X-Hub-Signature-256", "sha256="+hmacHex("gh", body))
		wantRefused(t, a, http.StatusUnauthorized, "bad_signature")
	})
}

func TestIntakeRateLimit(t *testing.T) {
	s := newIntakeServer(t, filepath.Join(t.TempDir(), "inlet.db"), nil)
	s.source("slow", `{"rate_limit":{"per_second":0.01,"burst":3}}`)
	s.source("free", `{}`)
	for i := 0; i < 3; i++ {
		s.collectOK("/collect/x/slow", nil)
	}
	a := s.send("POST", "/collect/x/slow", nil)
	wantRefused(t, a, http.StatusTooManyRequests, "rate_limited")
	if ra, err := strconv.Atoi(a.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 100 {
		t.Errorf("Retry-After %q, want 1 to 100 seconds at 0.01 per second", a.Header.Get("Retry-After"))
	}
	for i := 0; i < 10; i++ {
		s.collectOK("/collect/x/free", nil) // a source without a limit is not limited
	}
	if n := s.countEvents("slow"); n != 3 {
		t.Errorf("%d events of the limited source stored, want 3", n)
	}
	t.Run("raising the limit takes effect at once", func(t *testing.T) {
		if a := s.adminJSON("PATCH", "/api/v1/sources/slow", `{"config":{"rate_limit":{"per_second":0.01,"burst":5}}}`); a.Status != http.StatusOK {
			t.Fatalf("PATCH: %d %s", a.Status, a.Body)
		}
		s.collectOK("/collect/x/slow", nil)
	})
}

func TestIntakeUnverifiedRequestsSpendNoRateBudget(t *testing.T) {
	s := newIntakeServer(t, filepath.Join(t.TempDir(), "inlet.db"), nil)
	s.source("gh", `{"verify":{"type":"github","secret":"gh"},"rate_limit":{"per_second":0.01,"burst":3}}`)
	// Far more unsigned and wrongly signed requests than the source's
	// burst, and than the refusal budget of one address.
	var byStatus = map[int]int{}
	for i := 0; i < 100; i++ {
		sig := []string{}
		if i%2 == 0 {
			sig = []string{"X-Hub-Signature-256", "sha256=" + hmacHex("wrong", "{}")}
		}
		a := s.send("POST", "/collect/push/gh", []byte(`{}`), sig...)
		byStatus[a.Status]++
		switch a.Status {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			wantRefused(t, a, http.StatusTooManyRequests, "too_many_refusals")
		default:
			t.Fatalf("an unsigned request answered %d %s", a.Status, a.Body)
		}
	}
	if byStatus[http.StatusTooManyRequests] == 0 {
		t.Errorf("answers %v: 100 refusals at once from one address, want the refusal budget to answer some with 429", byStatus)
	}
	// The real sender still has its whole burst.
	for i := 0; i < 3; i++ {
		body := fmt.Sprintf(`{"n":%d}`, i)
		s.collectOK("/collect/push/gh", []byte(body), "X-Hub-Signature-256", "sha256="+hmacHex("gh", body))
	}
	// And a signed request over it is refused by the source's limit.
	a := s.send("POST", "/collect/push/gh", []byte(`{}`), "X-Hub-Signature-256", "sha256="+hmacHex("gh", "{}"))
	wantRefused(t, a, http.StatusTooManyRequests, "rate_limited")

	t.Run("every refusal is counted, also those answered over the budget", func(t *testing.T) {
		a := s.adminJSON("GET", "/api/v1/rejections/counts?source=gh", "")
		var out struct {
			Items []inlet.RejectionCount `json:"items"`
		}
		if err := json.Unmarshal(a.Body, &out); err != nil || a.Status != http.StatusOK {
			t.Fatalf("GET counts: %d %s", a.Status, a.Body)
		}
		got := map[string]int64{}
		for _, c := range out.Items {
			got[c.Reason] = c.Count
		}
		if got["bad_signature"] != 50 || got["missing_signature"] != 50 || got["rate_limited"] != 1 {
			t.Errorf("counts %v, want 50 bad_signature, 50 missing_signature and 1 rate_limited", got)
		}
	})
}

func TestIntakeDedup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inlet.db")
	s := newIntakeServer(t, path, nil)
	s.source("gh", `{"dedup":{"header":"X-GitHub-Delivery"}}`)
	s.source("stripe", `{"dedup":{"path":"data.object.id","window":"1h"}}`)

	first := s.collectOK("/collect/push/gh", []byte(`{"n":1}`), "X-GitHub-Delivery", "d-1")
	if first.Duplicate {
		t.Fatal("the first delivery is answered as a duplicate")
	}
	again := s.collectOK("/collect/push/gh", []byte(`{"n":1}`), "X-GitHub-Delivery", "d-1")
	if !again.Duplicate || again.Events[0] != first.Events[0] {
		t.Fatalf("the repeat answered %+v, want the original %s with duplicate true", again, first.Events[0])
	}
	if r := s.collectOK("/collect/push/gh", []byte(`{"n":2}`), "X-GitHub-Delivery", "d-2"); r.Duplicate {
		t.Error("another delivery id is answered as a duplicate")
	}
	if r := s.collectOK("/collect/push/gh", []byte(`{"n":3}`)); r.Duplicate {
		t.Error("a request without the header is answered as a duplicate")
	}
	if n := s.countEvents("gh"); n != 3 {
		t.Errorf("%d events stored, want 3", n)
	}
	if e := s.storedEvent(first.Events[0]); e.Context.Headers["X-Github-Delivery"] != "d-1" {
		t.Errorf("the dedup header was not kept with the event: %v", e.Context.Headers)
	}

	t.Run("a property path is a key, and a number is one too", func(t *testing.T) {
		a := s.collectOK("/collect/charge/stripe", []byte(`{"data":{"object":{"id":"ch_1"}}}`), "Content-Type", "application/json")
		b := s.collectOK("/collect/charge/stripe", []byte(`{"data":{"object":{"id":"ch_1"}},"attempt":2}`), "Content-Type", "application/json")
		if !b.Duplicate || b.Events[0] != a.Events[0] {
			t.Errorf("the same data.object.id: %+v, want a duplicate of %s", b, a.Events[0])
		}
		n1 := s.collectOK("/collect/charge/stripe", []byte(`{"data":{"object":{"id":42}}}`), "Content-Type", "application/json")
		n2 := s.collectOK("/collect/charge/stripe", []byte(`{"data":{"object":{"id":42}}}`), "Content-Type", "application/json")
		if n1.Duplicate || !n2.Duplicate {
			t.Errorf("a numeric key: first duplicate=%v, second duplicate=%v", n1.Duplicate, n2.Duplicate)
		}
	})

	t.Run("a long key is a key too, and a path to an object is none", func(t *testing.T) {
		long := strings.Repeat("k", 4000)
		a := s.collectOK("/collect/push/gh", nil, "X-GitHub-Delivery", long)
		b := s.collectOK("/collect/push/gh", nil, "X-GitHub-Delivery", long)
		c := s.collectOK("/collect/push/gh", nil, "X-GitHub-Delivery", long[1:])
		if a.Duplicate || !b.Duplicate || b.Events[0] != a.Events[0] || c.Duplicate {
			t.Errorf("a 4000-byte key: %+v, %+v, and one byte shorter %+v", a, b, c)
		}
		o1 := s.collectOK("/collect/charge/stripe", []byte(`{"data":{"object":{"id":{"x":1}}}}`), "Content-Type", "application/json")
		o2 := s.collectOK("/collect/charge/stripe", []byte(`{"data":{"object":{"id":{"x":1}}}}`), "Content-Type", "application/json")
		if o1.Duplicate || o2.Duplicate {
			t.Errorf("an object at the dedup path was taken as a key")
		}
	})

	t.Run("concurrent duplicates are stored once and all answered with that event", func(t *testing.T) {
		const n = 24
		results := make([]*intakeAnswer, n)
		var wg sync.WaitGroup
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", s.URL+"/collect/push/gh", strings.NewReader(`{"race":true}`))
				req.Header.Set("X-GitHub-Delivery", "race-1")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				results[i] = &intakeAnswer{Status: resp.StatusCode, Body: b}
			}()
		}
		wg.Wait()
		ids, stored := map[string]bool{}, 0
		for i, a := range results {
			if a == nil || a.Status != http.StatusOK {
				t.Fatalf("request %d: %+v", i, a)
			}
			var r intakeResult
			json.Unmarshal(a.Body, &r)
			ids[r.Events[0]] = true
			if !r.Duplicate {
				stored++
			}
		}
		if len(ids) != 1 || stored != 1 {
			t.Fatalf("%d distinct ids and %d answers without duplicate; want 1 and 1", len(ids), stored)
		}
	})

	t.Run("a duplicate after a restart is still a duplicate", func(t *testing.T) {
		s.stop()
		s2 := newIntakeServer(t, path, nil)
		r := s2.collectOK("/collect/push/gh", []byte(`{"n":1}`), "X-GitHub-Delivery", "d-1")
		if !r.Duplicate || r.Events[0] != first.Events[0] {
			t.Fatalf("after a restart: %+v, want a duplicate of %s", r, first.Events[0])
		}
	})
}

// waitRejections polls the log until it holds want rejections of source.
func (s *intakeServer) waitRejections(query string, want int) []map[string]any {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a := s.adminJSON("GET", "/api/v1/rejections?"+query, "")
		if a.Status != http.StatusOK {
			s.t.Fatalf("GET /api/v1/rejections?%s = %d %s", query, a.Status, a.Body)
		}
		var out struct {
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal(a.Body, &out); err != nil {
			s.t.Fatal(err)
		}
		if len(out.Items) >= want || time.Now().After(deadline) {
			if len(out.Items) != want {
				s.t.Fatalf("%d rejections for %q, want %d: %s", len(out.Items), query, want, a.Body)
			}
			return out.Items
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIntakeRejectionLog(t *testing.T) {
	// Samples are limited per clock minute, and the subtests count the
	// samples of earlier ones: the test runs within one minute.
	if left := time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)); left < 15*time.Second {
		time.Sleep(left)
	}
	s := newIntakeServer(t, filepath.Join(t.TempDir(), "inlet.db"), nil)
	s.source("st", `{"verify":{"type":"stripe","secret":"st"},"max_body_bytes":100}`)
	s.source("key", `{"verify":{"type":"api-key","secret":"k3y","in":"query"}}`)
	s.source("off", `{}`)
	s.adminJSON("PATCH", "/api/v1/sources/off", `{"enabled":false}`)
	s.source("limited", `{"rate_limit":{"per_second":0.01,"burst":1}}`)
	s.source("open", `{}`)

	s.send("POST", "/collect/x/st", []byte(`{"a":1}`), "Stripe-Signature", "t=1,v1=00", "Authorization", "Bearer secret", "Cookie", "s=1", "X-Trace", "t1")
	s.send("POST", "/collect/x/st", bytes.Repeat([]byte("b"), 5000), "Stripe-Signature", "t=1,v1=00")
	s.send("POST", "/collect/x/key?api_key=wrong-key&b=2", []byte(`{}`))
	s.send("POST", "/collect/x/nope?token=t0ps3cret&page=3", []byte("hello"))
	s.send("POST", "/collect/x/off", nil)
	s.send("POST", "/collect/x/limited", nil)
	s.send("POST", "/collect/x/limited", nil) // rate limited
	s.send("POST", "/collect/x/open", []byte(`{"a":`), "Content-Type", "application/json")
	s.send("POST", "/collect/bad%20type!/open", nil)
	s.send("DELETE", "/collect/x/open", nil)
	s.send("POST", "/collect/x/open/"+strings.Repeat("s", 200), nil)

	all := s.waitRejections("limit=100", 10)
	reasons := map[string]int{}
	for _, r := range all {
		reasons[r["reason"].(string)]++
	}
	for reason, n := range map[string]int{"bad_signature": 1, "too_large": 1, "bad_credentials": 1, "unknown_source": 2, "rate_limited": 1,
		"bad_json": 1, "bad_event_type": 1, "method_not_allowed": 1, "bad_session_id": 1} {
		if reasons[reason] != n {
			t.Errorf("%d rejections with reason %s, want %d (all: %v)", reasons[reason], reason, n, reasons)
		}
	}

	t.Run("secrets are removed and the rest is kept", func(t *testing.T) {
		items := s.waitRejections("source=st&reason=bad_signature", 1)
		r := items[0]
		headers := r["headers"].(map[string]any)
		for _, h := range []string{"Stripe-Signature", "Authorization", "Cookie"} {
			if _, ok := headers[h]; ok {
				t.Errorf("the rejection keeps the header %s", h)
			}
		}
		if unknown := s.waitRejections("source=nope", 1); unknown[0]["body"] != "hello" || unknown[0]["query"] != "page=3" {
			t.Errorf("a request for an unknown source: want its body kept and its token dropped, got %v", unknown[0])
		}
		if headers["X-Trace"] != "t1" || r["body"] != `{"a":1}` || r["status"].(float64) != 401 || r["remote_addr"] != "127.0.0.1" || r["method"] != "POST" {
			t.Errorf("rejection %v", r)
		}
		items = s.waitRejections("source=key", 1)
		if q := items[0]["query"].(string); strings.Contains(q, "wrong-key") || !strings.Contains(q, "b=2") {
			t.Errorf("query kept as %q: the key must go, the rest stay", q)
		}
	})
	t.Run("at most 4 KiB of the body is kept", func(t *testing.T) {
		items := s.waitRejections("source=st&reason=too_large", 1)
		if body := items[0]["body"].(string); len(body) != inlet.MaxRejectionBody || items[0]["body_truncated"] != true {
			t.Errorf("kept %d bytes, truncated=%v", len(body), items[0]["body_truncated"])
		}
	})
	t.Run("limit bounds the answer", func(t *testing.T) {
		s.waitRejections("limit=3", 3)
	})
	t.Run("a bad limit is a 400", func(t *testing.T) {
		wantRefused(t, s.adminJSON("GET", "/api/v1/rejections?limit=0", ""), http.StatusBadRequest, "bad_filter")
	})
	t.Run("the log needs the admin token", func(t *testing.T) {
		a := s.send("GET", "/api/v1/rejections", nil)
		wantRefused(t, a, http.StatusUnauthorized, "unauthorized")
	})
	t.Run("counts are kept by source and reason, unknown sources in one bucket", func(t *testing.T) {
		for i := 0; i < 30; i++ {
			s.send("POST", fmt.Sprintf("/collect/x/made-up-%d", i), nil)
			s.send("POST", "/collect/x/open", []byte(`{"a":`), "Content-Type", "application/json")
		}
		a := s.adminJSON("GET", "/api/v1/rejections/counts", "")
		var out struct {
			Items []inlet.RejectionCount `json:"items"`
		}
		if err := json.Unmarshal(a.Body, &out); err != nil || a.Status != http.StatusOK {
			t.Fatalf("GET counts: %d %s", a.Status, a.Body)
		}
		got := map[string]int64{}
		for _, c := range out.Items {
			got[c.SourceID+"/"+c.Reason] = c.Count
			if c.FirstAt.IsZero() || c.LastAt.Before(c.FirstAt) {
				t.Errorf("count %+v: want first_at and last_at in order", c)
			}
		}
		// An unknown id and the disabled source before, 30 made-up ids now.
		if got[inlet.UnknownSourceBucket+"/unknown_source"] != 32 || got["open/bad_json"] != 31 || got["st/bad_signature"] != 1 {
			t.Errorf("counts %v", got)
		}
		// Samples: few of the unknown bucket a minute, all of them counted.
		if items := s.waitRejections("reason=unknown_source&limit=100", 3); len(items) != 3 {
			t.Errorf("%d samples of unknown sources, want 3 a minute", len(items))
		}
		if items := s.waitRejections("source=open&reason=bad_json&limit=100", 10); len(items) != 10 {
			t.Errorf("%d samples of open/bad_json, want 10 a minute", len(items))
		}
	})
	t.Run("an accepted request is not logged", func(t *testing.T) {
		s.source("fine", `{}`)
		s.collectOK("/collect/x/fine", []byte(`{}`))
		s.waitRejections("source=fine", 0)
	})
}

// faultyStore fails every write of events while down is set, as a full or
// read-only disk would; reads keep working.
type faultyStore struct {
	*sqlite.DB
	down   atomic.Bool
	failed atomic.Int64
}

func (f *faultyStore) Append(ctx context.Context, intakes []inlet.Intake) ([]inlet.Appended, error) {
	if f.down.Load() {
		f.failed.Add(1)
		return nil, fmt.Errorf("%w: %w", inlet.Errorf(inlet.EUNAVAILABLE, "the store cannot be written right now; retry later"), errors.New("disk I/O error: read-only file system"))
	}
	return f.DB.Append(ctx, intakes)
}

func TestIntakeStoreFailure(t *testing.T) {
	var faulty *faultyStore
	s := newIntakeServer(t, filepath.Join(t.TempDir(), "inlet.db"), func(db *sqlite.DB) inlet.Store {
		faulty = &faultyStore{DB: db}
		return faulty
	})
	s.source("src", `{"dedup":{"header":"Idempotency-Key"}}`)

	var (
		mu    sync.Mutex
		acked []string
		codes = map[int]int{}
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				req, _ := http.NewRequest("POST", s.URL+"/collect/x/src", strings.NewReader(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)))
				req.Header.Set("Idempotency-Key", fmt.Sprintf("%d-%d", w, i))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Errorf("request: %v", err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
				switch resp.StatusCode {
				case http.StatusOK:
					var r intakeResult
					json.Unmarshal(b, &r)
					mu.Lock()
					acked = append(acked, r.Events[0])
					mu.Unlock()
				case http.StatusServiceUnavailable:
					if resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"code":"unavailable"`) {
						t.Errorf("a 503 without Retry-After or a JSON error: %v %s", resp.Header, b)
					}
				default:
					t.Errorf("status %d %s", resp.StatusCode, b)
				}
			}
		}()
	}
	phase := func(down bool, d time.Duration) {
		faulty.down.Store(down)
		time.Sleep(d)
	}
	phase(false, 150*time.Millisecond)
	phase(true, 150*time.Millisecond)
	phase(false, 150*time.Millisecond)
	phase(true, 150*time.Millisecond)
	phase(false, 150*time.Millisecond)
	stop.Store(true)
	wg.Wait()

	if codes[http.StatusServiceUnavailable] == 0 || faulty.failed.Load() == 0 {
		t.Fatalf("no request met the failing store: %v", codes)
	}
	if codes[http.StatusOK] == 0 {
		t.Fatalf("no request succeeded: %v", codes)
	}
	for _, id := range acked {
		s.storedEvent(id) // every acknowledged event is there
	}
	if n := s.countEvents("src"); n < min(len(acked), inlet.MaxEventLimit) {
		t.Errorf("%d events stored, %d acknowledged", n, len(acked))
	}
	t.Logf("answers: %v; %d acknowledged events all found", codes, len(acked))

	t.Run("it recovers by itself once the store can write", func(t *testing.T) {
		faulty.down.Store(false)
		r := s.collectOK("/collect/x/src", []byte(`{"after":true}`), "Idempotency-Key", "after-1")
		s.storedEvent(r.Events[0])
		if _, err := http.Get(s.URL + "/readyz"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a retry of a refused request is stored once", func(t *testing.T) {
		faulty.down.Store(true)
		a := s.send("POST", "/collect/x/src", []byte(`{"retry":1}`), "Idempotency-Key", "retry-1")
		wantRefused(t, a, http.StatusServiceUnavailable, "unavailable")
		faulty.down.Store(false)
		first := s.collectOK("/collect/x/src", []byte(`{"retry":1}`), "Idempotency-Key", "retry-1")
		second := s.collectOK("/collect/x/src", []byte(`{"retry":1}`), "Idempotency-Key", "retry-1")
		if first.Duplicate || !second.Duplicate || second.Events[0] != first.Events[0] {
			t.Errorf("after the 503: %+v then %+v; want stored then a duplicate", first, second)
		}
	})
}
