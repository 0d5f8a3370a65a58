package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"inlet"
	"inlet/http/console"
)

// consoleClient is a browser-like HTTP client with a cookie jar that does
// not follow redirects, so that tests see them.
type consoleClient struct {
	t    *testing.T
	s    *liveServer
	http *http.Client
}

func newConsoleClient(t *testing.T, s *liveServer) *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{t: t, s: s, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *consoleClient) do(method, path string, form url.Values, h http.Header) (*http.Response, string) {
	c.t.Helper()
	var req *http.Request
	if form != nil {
		req, _ = http.NewRequest(method, c.s.url+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequest(method, c.s.url+path, nil)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, sb.String()
}

func (c *consoleClient) signIn() {
	c.t.Helper()
	c.signInWith(c.s.token)
}

// signInWith signs in with token, the admin token or an API token.
func (c *consoleClient) signInWith(token string) {
	c.t.Helper()
	resp, _ := c.do("POST", "/console/signin", url.Values{"token": {token}, "next": {"/console/sources"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/sources" {
		c.t.Fatalf("sign in: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func (c *consoleClient) csrf() string {
	c.t.Helper()
	_, body := c.do("GET", "/console/sources/new", nil, nil)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no CSRF token on the new source page: %.300s", body)
	}
	return m[1]
}

func TestConsoleSignInAndForms(t *testing.T) {
	s := startLive(t, liveConfig(t))

	t.Run("a stranger is sent to sign in and a wrong token is refused", func(t *testing.T) {
		c := newConsoleClient(t, s)
		resp, _ := c.do("GET", "/console/live?source=x", nil, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/signin?next=%2Fconsole%2Flive%3Fsource%3Dx" {
			t.Fatalf("GET /console/live signed out: %s to %q", resp.Status, resp.Header.Get("Location"))
		}
		resp, body := c.do("POST", "/console/signin", url.Values{"token": {"wrong"}}, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "That token is unknown") || len(resp.Cookies()) != 0 {
			t.Fatalf("wrong token: %s, cookies %v", resp.Status, resp.Cookies())
		}
		resp, _ = c.do("GET", "/api/v1/events/stream", nil, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("the stream without a sign-in or token: %s", resp.Status)
		}
	})

	t.Run("signing in sets a strict HttpOnly cookie that opens the pages and the stream", func(t *testing.T) {
		c := newConsoleClient(t, s)
		resp, _ := c.do("POST", "/console/signin", url.Values{"token": {s.token}, "next": {"//evil.example/"}}, nil)
		if resp.Header.Get("Location") != "/console/" {
			t.Fatalf("an outside next was followed: %q", resp.Header.Get("Location"))
		}
		var ck *http.Cookie
		for _, k := range resp.Cookies() {
			if k.Name == console.CookieName {
				ck = k
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || len(ck.Value) != 64 {
			t.Fatalf("sign-in cookie %+v", ck)
		}
		resp, body := c.do("GET", "/console/sources", nil, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != console.ContentSecurityPolicy || !strings.Contains(body, "New source") {
			t.Fatalf("sources page: %s, CSP %q", resp.Status, resp.Header.Get("Content-Security-Policy"))
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, " style=") {
			t.Fatal("a page carries an inline script or style, which the policy forbids")
		}
		req, _ := http.NewRequest("GET", s.url+"/api/v1/events/stream", nil)
		req.AddCookie(ck)
		sresp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		sresp.Body.Close()
		if sresp.StatusCode != 200 || sresp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("the stream with the sign-in cookie: %s", sresp.Status)
		}
	})

	t.Run("a form without the CSRF token or from another origin changes nothing", func(t *testing.T) {
		c := newConsoleClient(t, s)
		c.signIn()
		token := c.csrf()
		form := url.Values{"name": {"Forged"}, "id": {"forged"}, "config": {"{}"}, "enabled": {"1"}}
		if resp, _ := c.do("POST", "/console/sources", form, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("no CSRF token: %s", resp.Status)
		}
		form.Set("csrf", token)
		if resp, _ := c.do("POST", "/console/sources", form, header("Origin", "http://evil.example")); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("another origin: %s", resp.Status)
		}
		if resp, _ := c.do("POST", "/console/sources", form, header("Sec-Fetch-Site", "cross-site")); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a cross-site fetch: %s", resp.Status)
		}
		s.admin("GET", "/api/v1/sources/forged", nil, http.StatusNotFound, nil)
		if resp, _ := c.do("POST", "/console/sources", form, header("Origin", s.url)); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the same form, from the console: %s", resp.Status)
		}
		s.admin("GET", "/api/v1/sources/forged", nil, http.StatusOK, nil)
	})

	t.Run("bad input in a form is shown with the entered values, not a 500", func(t *testing.T) {
		c := newConsoleClient(t, s)
		c.signIn()
		token := c.csrf()
		resp, body := c.do("POST", "/console/sources", url.Values{"csrf": {token}, "name": {"Bad"}, "id": {"bad id!"}, "config": {`{"verify": {"type": "nope"}}`}}, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "id must be") {
			t.Fatalf("bad id: %s %.300s", resp.Status, body)
		}
		resp, body = c.do("POST", "/console/sources", url.Values{"csrf": {token}, "name": {"Bad"}, "config": {`{"verify": {"type": "nope"}}`}}, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "config.verify.type must be one of") || !strings.Contains(body, "&#34;nope&#34;") {
			t.Fatalf("bad config: %s %.300s", resp.Status, body)
		}
		resp, body = c.do("POST", "/console/sources", url.Values{"csrf": {token}, "name": {"Bad"}, "config": {`{"verfy": {}}`}}, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "unknown field") {
			t.Fatalf("unknown config field: %s %.300s", resp.Status, body)
		}
		for _, p := range []string{"/console/events/nope", "/console/sessions/nope", "/console/profiles/nope", "/console/sources/nope", "/console/nowhere"} {
			if resp, _ := c.do("GET", p, nil, nil); resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: %s, want 404", p, resp.Status)
			}
		}
		for _, p := range []string{"/console/?hours=5", "/console/rejections?before=x"} {
			if resp, _ := c.do("GET", p, nil, nil); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("GET %s: %s, want 400", p, resp.Status)
			}
		}
	})

	t.Run("signing out ends the sign-in on the server", func(t *testing.T) {
		c := newConsoleClient(t, s)
		c.signIn()
		token := c.csrf()
		u, _ := url.Parse(s.url)
		old := c.http.Jar.Cookies(u)
		if resp, _ := c.do("POST", "/console/signout", url.Values{"csrf": {token}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign out: %s", resp.Status)
		}
		c.http.Jar.SetCookies(u, old) // a stolen copy of the cookie no longer works
		if resp, _ := c.do("GET", "/console/sources", nil, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("after signing out the old cookie still opens the console: %s", resp.Status)
		}
	})
}

func TestConsoleSignInsAreBounded(t *testing.T) {
	cfg := liveConfig(t)
	s := startLive(t, cfg)
	clients := make([]*consoleClient, 101)
	for i := range clients {
		clients[i] = newConsoleClient(t, s)
		clients[i].signIn()
	}
	if resp, _ := clients[0].do("GET", "/console/sources", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the oldest of 101 sign-ins still works (%s); sign-ins are bounded at 100", resp.Status)
	}
	if resp, _ := clients[100].do("GET", "/console/sources", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("the newest sign-in: %s", resp.Status)
	}
	s.stop()
	r := startLive(t, cfg)
	clients[100].s = r
	if resp, _ := clients[100].do("GET", "/console/sources", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("a sign-in after a restart: %s, want it kept", resp.Status)
	}
}

// TestCurlSamples runs the console's curl sample of a source of every
// verify type against a real server: each must be accepted.
func TestCurlSamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "openssl", "base64", "od"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing: %v", tool, err)
		}
	}
	s := startLive(t, liveConfig(t))
	key := base64.StdEncoding.EncodeToString([]byte("a-signing-key-of-32-bytes-length"))
	for i, tc := range []struct {
		verify string // JSON of config.verify
		secret string
	}{
		{"", ""},
		{`{"type": "github", "secret": "gh-s3cret"}`, "gh-s3cret"},
		{`{"type": "stripe", "secret": "whsec_abc"}`, "whsec_abc"},
		{`{"type": "shopify", "secret": "shpss_x"}`, "shpss_x"},
		{`{"type": "standard-webhooks", "secret": "whsec_` + key + `"}`, "whsec_" + key},
		{`{"type": "hmac", "secret": "h", "header": "X-Signature", "algorithm": "sha512", "encoding": "base64", "prefix": "v1="}`, "h"},
		{`{"type": "hmac", "secret": "h1", "header": "X-Sig", "algorithm": "sha1"}`, "h1"},
		{`{"type": "basic", "username": "forms", "password": "it's secret"}`, "it's secret"},
		{`{"type": "api-key", "secret": "k-123"}`, "k-123"},
		{`{"type": "api-key", "secret": "k-456", "in": "query", "key": "key"}`, "k-456"},
	} {
		name := "none"
		config := json.RawMessage(`{}`)
		if tc.verify != "" {
			var v inlet.VerifyConfig
			if err := json.Unmarshal([]byte(tc.verify), &v); err != nil {
				t.Fatal(err)
			}
			name = v.Type
			config = json.RawMessage(`{"verify": ` + tc.verify + `}`)
		}
		t.Run("the sample for "+name+" verification is accepted", func(t *testing.T) {
			id := fmt.Sprintf("s-%d-%s", i, name)
			s.admin("POST", "/api/v1/sources", map[string]any{"id": id, "name": name, "config": config}, http.StatusCreated, nil)
			var src inlet.Source
			s.admin("GET", "/api/v1/sources/"+id, nil, http.StatusOK, &src) // masked, as the console has it
			sample := console.CurlSample(s.url, &src)
			if tc.secret != "" {
				sample = strings.ReplaceAll(sample, console.SecretPlaceholder, strings.ReplaceAll(tc.secret, "'", `'\''`))
			}
			out, err := exec.Command("bash", "-c", strings.TrimSpace(sample)+" -w '\\n%{http_code}'").CombinedOutput()
			if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "200") {
				t.Fatalf("sample:\n%s\nanswered %s (%v)", sample, out, err)
			}
		})
	}
}

func TestConsoleProfileSaysWhichItAbsorbed(t *testing.T) {
	s := startLive(t, liveConfig(t))
	s.createSource(map[string]any{"id": "web", "name": "Web", "config": map[string]any{"identify_by": map[string]string{"email": "email"}}})
	first := s.collect("POST", "/collect/visit/web/sess-1", header("Content-Type", "application/json"), strings.NewReader(`{"email": "ann@example.com"}`)).profileID()
	second := s.collect("POST", "/collect/visit/web/sess-2", header("Content-Type", "application/json"), strings.NewReader(`{}`)).profileID()
	s.collect("POST", "/collect/signup/web/sess-2", header("Content-Type", "application/json"), strings.NewReader(`{"email": "ann@example.com"}`))
	if first == "" || second == "" || first == second {
		t.Fatalf("profiles %q and %q, want two", first, second)
	}
	var p inlet.Profile
	s.admin("GET", "/api/v1/profiles/"+second, nil, http.StatusOK, &p)
	if p.MergedInto == "" {
		t.Fatalf("profile %s was not merged: %+v", second, p)
	}
	c := newConsoleClient(t, s)
	c.signIn()
	_, page := c.do("GET", "/console/profiles/"+second, nil, nil)
	want := fmt.Sprintf(`Profile <code>%s</code>, which was asked for, was merged into this one, <code>%s</code>`, second, p.ID)
	if !strings.Contains(page, want) {
		t.Fatalf("the page of an absorbed profile does not say %s:\n%.2000s", want, page)
	}
}

func TestConsoleSignInLimitedBehindAProxy(t *testing.T) {
	cfg := liveConfig(t)
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	s := startLive(t, cfg)
	signIn := func(from, token string) *http.Response {
		c := newConsoleClient(t, s)
		resp, _ := c.do("POST", "/console/signin", url.Values{"token": {token}}, header("X-Forwarded-For", from, "X-Forwarded-Proto", "https"))
		return resp
	}
	for i := range 5 {
		if resp := signIn("198.51.100.7", "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %s", i+1, resp.Status)
		}
	}
	resp := signIn("198.51.100.7", s.token)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures the address got %s, Retry-After %q; want 429 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	resp = signIn("203.0.113.9", s.token)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the right token from another address: %s", resp.Status)
	}
	if cookies := resp.Cookies(); len(cookies) != 1 || !cookies[0].Secure {
		t.Fatalf("behind a proxy that says https, the cookie is %+v; want it Secure", cookies)
	}
	m := s.scrape(header("Authorization", "Bearer "+s.token))["inlet_console_signin_limited_total"]
	if m == nil || m.GetMetric()[0].GetCounter().GetValue() != 1 {
		t.Fatalf("inlet_console_signin_limited_total = %v, want 1", m)
	}
}

func TestConsoleActionsRefuseForgedForms(t *testing.T) {
	s := startLive(t, liveConfig(t))
	s.createSource(map[string]any{"id": "shop", "name": "Shop"})
	s.admin("POST", "/api/v1/destinations", map[string]any{"id": "crm", "name": "CRM", "type": "webhook",
		"config": map[string]any{"url": "http://127.0.0.1:9/hook"}}, http.StatusCreated, nil)
	id := s.collect("POST", "/collect/order/shop", header("Content-Type", "application/json"), strings.NewReader(`{}`)).Events[0]
	c := newConsoleClient(t, s)
	c.signIn()
	token := c.csrf()
	for _, path := range []string{
		"/console/events/" + id + "/deliveries/crm/retry",
		"/console/events/" + id + "/deliveries/crm/discard",
		"/console/destinations/crm/enabled",
		"/console/destinations/crm/retry",
		"/console/destinations/crm/discard",
		"/console/destinations/crm/replay",
		"/console/destinations/crm",
	} {
		form := url.Values{"enabled": {"false"}, "status": {"dead"}, "since": {"2026-01-01"}, "name": {"Forged"}, "config": {`{"url": "http://evil.example/hook"}`}}
		if resp, _ := c.do("POST", path, form, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without the CSRF token: %s, want 403", path, resp.Status)
		}
		form.Set("csrf", token)
		if resp, _ := c.do("POST", path, form, header("Origin", "http://evil.example")); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s from another origin: %s, want 403", path, resp.Status)
		}
	}
	var d inlet.Destination
	s.admin("GET", "/api/v1/destinations/crm", nil, http.StatusOK, &d)
	if !d.Enabled || d.Name != "CRM" || strings.Contains(string(d.Config), "evil") {
		t.Fatalf("a forged form changed the destination: %+v", d)
	}
	if resp, _ := c.do("POST", "/console/destinations/crm/enabled", url.Values{"csrf": {token}, "enabled": {"false"}}, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/destinations/crm?done=disabled" {
		t.Fatalf("the real form: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if resp, body := c.do("POST", "/console/destinations/crm/replay", url.Values{"csrf": {token}, "since": {"last week"}}, nil); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "is not a time") {
		t.Fatalf("a replay with a bad time: %s %.300s", resp.Status, body)
	}
}
