package console

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// postSignIn posts token from addr and returns the answer.
func postSignIn(c *Console, addr, token string, prepare ...func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/console/signin", strings.NewReader(url.Values{"token": {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = addr + ":40000"
	for _, p := range prepare {
		p(r)
	}
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	return w
}

func TestSignInLimit(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var limited atomic.Int64
	c := New(Config{AdminToken: "right", SignInLimited: func() { limited.Add(1) }})
	c.now = func() time.Time { return now }

	for i := range signInFailures {
		if w := postSignIn(c, "198.51.100.7", "wrong"); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d answered %d, want 401", i+1, w.Code)
		}
	}
	w := postSignIn(c, "198.51.100.7", "wrong")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "30" {
		t.Fatalf("after %d failures a try answered %d with Retry-After %q, want 429 and 30", signInFailures, w.Code, w.Header().Get("Retry-After"))
	}
	if w := postSignIn(c, "198.51.100.7", "right"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("the right token from the locked address answered %d, want 429 until the lockout ends", w.Code)
	}
	if limited.Load() != 2 {
		t.Fatalf("%d refusals counted, want 2", limited.Load())
	}
	if w := postSignIn(c, "203.0.113.9", "right"); w.Code != http.StatusSeeOther {
		t.Fatalf("the right token from another address answered %d, want a sign-in", w.Code)
	}

	now = now.Add(31 * time.Second)
	if w := postSignIn(c, "198.51.100.7", "wrong"); w.Code != http.StatusUnauthorized {
		t.Fatalf("after the lockout a try answered %d, want 401", w.Code)
	}
	if w := postSignIn(c, "198.51.100.7", "right"); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "60" {
		t.Fatalf("a failure after the lockout locks twice as long: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	now = now.Add(61 * time.Second)
	if w := postSignIn(c, "198.51.100.7", "right"); w.Code != http.StatusSeeOther {
		t.Fatalf("the right token after the lockout answered %d", w.Code)
	}
	for range signInFailures - 1 { // the success forgot the failures
		if w := postSignIn(c, "198.51.100.7", "wrong"); w.Code != http.StatusUnauthorized {
			t.Fatalf("after a success, a failure answered %d, want 401", w.Code)
		}
	}
}

func TestSessionCookieSecure(t *testing.T) {
	viaProxy := func(r *http.Request) bool { return r.Header.Get("X-Forwarded-Proto") == "https" }
	for _, tc := range []struct {
		name    string
		cfg     Config
		prepare func(*http.Request)
		secure  bool
	}{
		{"over plain HTTP it is not Secure", Config{}, func(*http.Request) {}, false},
		{"over TLS it is Secure", Config{}, func(r *http.Request) { r.TLS = &tls.ConnectionState{} }, true},
		{"behind a proxy that says https it is Secure", Config{HTTPS: viaProxy}, func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "https") }, true},
		{"with an https public URL it is Secure", Config{PublicURL: "https://hooks.example.com"}, func(*http.Request) {}, true},
		{"with an http public URL over plain HTTP it is not", Config{PublicURL: "http://hooks.example.com"}, func(*http.Request) {}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.AdminToken = "right"
			w := postSignIn(New(tc.cfg), "192.0.2.1", "right", tc.prepare)
			cookies := w.Result().Cookies()
			if w.Code != http.StatusSeeOther || len(cookies) != 1 {
				t.Fatalf("sign-in answered %d with %d cookies", w.Code, len(cookies))
			}
			if cookies[0].Secure != tc.secure {
				t.Fatalf("Secure = %v, want %v", cookies[0].Secure, tc.secure)
			}
		})
	}
}
