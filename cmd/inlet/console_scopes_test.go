package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"inlet"
	inlethttp "inlet/http"
)

// scopedConsole is a server with two sources, an event of each, a
// destination, and a token of each kind.
type scopedConsole struct {
	s                   *liveServer
	shopEvent, crmEvent string
	read, write, shop   *inlethttp.CreatedToken
}

func startScopedConsole(t *testing.T, cfg Config) *scopedConsole {
	t.Helper()
	s := startLive(t, cfg)
	sc := &scopedConsole{s: s}
	s.createSource(map[string]any{"id": "shop", "name": "Shop"})
	s.createSource(map[string]any{"id": "crm", "name": "CRM"})
	s.admin("POST", "/api/v1/destinations", map[string]any{"id": "hook", "name": "Hook", "type": "webhook",
		"config": map[string]any{"url": "http://127.0.0.1:9/hook"}, "retry": map[string]any{"backoff": []string{"1h"}}}, http.StatusCreated, nil)
	sc.shopEvent = s.collect("POST", "/collect/order/shop", header("Content-Type", "application/json"), strings.NewReader(`{"order": "A-1"}`)).Events[0]
	sc.crmEvent = s.collect("POST", "/collect/lead/crm", header("Content-Type", "application/json"), strings.NewReader(`{"lead": "L-1"}`)).Events[0]
	admin := inlethttp.NewClient(s.url, s.token)
	for _, req := range []struct {
		to  **inlethttp.CreatedToken
		req inlethttp.CreateTokenRequest
	}{
		{&sc.read, inlethttp.CreateTokenRequest{Name: "viewer", Scope: inlet.ScopeRead}},
		{&sc.write, inlethttp.CreateTokenRequest{Name: "operator", Scope: inlet.ScopeWrite}},
		{&sc.shop, inlethttp.CreateTokenRequest{Name: "shop-team", Scope: inlet.ScopeWrite, Sources: []string{"shop"}}},
	} {
		tok, err := admin.CreateToken(context.Background(), req.req)
		if err != nil {
			t.Fatalf("create the token %s: %v", req.req.Name, err)
		}
		*req.to = tok
	}
	return sc
}

// TestConsoleRefusesWhatTheTokenDoesNotAllow posts, with a valid CSRF
// token, the forms a page hides from a token, and opens what is outside a
// bound token's sources: the server refuses each, and nothing changes.
func TestConsoleRefusesWhatTheTokenDoesNotAllow(t *testing.T) {
	sc := startScopedConsole(t, liveConfig(t))
	s := sc.s

	t.Run("a read token's forged forms are refused with the scope they need", func(t *testing.T) {
		c := newConsoleClient(t, s)
		c.signInWith(sc.read.Secret)
		_, page := c.do("GET", "/console/sources", nil, nil)
		if strings.Contains(page, "/enabled") || strings.Contains(page, "New source") {
			t.Fatalf("the sources page shows a read token a form that changes something:\n%s", page)
		}
		csrf := csrfField.FindStringSubmatch(page)[1]
		for _, path := range []string{
			"/console/sources",
			"/console/sources/shop",
			"/console/sources/shop/enabled",
			"/console/events/" + sc.shopEvent + "/deliveries/hook/retry",
			"/console/destinations/hook/enabled",
			"/console/destinations/hook/replay",
			"/console/destinations/hook",
		} {
			form := url.Values{"csrf": {csrf}, "id": {"forged"}, "name": {"Forged"}, "enabled": {"false"}, "since": {"2026-01-01"}, "config": {`{"url": "http://evil.example/hook"}`}}
			resp, body := c.do("POST", path, form, nil)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "forbidden: this needs the write scope") || !strings.Contains(body, "viewer") {
				t.Errorf("POST %s with a read token: %s %.400s, want 403 naming the write scope", path, resp.Status, body)
			}
		}
		if resp, _ := c.do("GET", "/console/sources/new", nil, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("the new source page with a read token: %s, want 403", resp.Status)
		}
		var src storedSource
		s.admin("GET", "/api/v1/sources/shop", nil, http.StatusOK, &src)
		var d inlet.Destination
		s.admin("GET", "/api/v1/destinations/hook", nil, http.StatusOK, &d)
		if !src.Enabled || src.Name != "Shop" || !d.Enabled || d.Name != "Hook" {
			t.Fatalf("a refused form changed something: source %+v, destination %+v", src, d)
		}
		s.admin("GET", "/api/v1/sources/forged", nil, http.StatusNotFound, nil)
	})

	t.Run("a bound token sees only its sources and cannot tell another's from a missing one", func(t *testing.T) {
		c := newConsoleClient(t, s)
		c.signInWith(sc.shop.Secret)
		_, page := c.do("GET", "/console/sources", nil, nil)
		if !strings.Contains(page, `href="/console/sources/shop"`) || strings.Contains(page, "/console/sources/crm") {
			t.Fatalf("the sources page of a token bound to shop:\n%s", page)
		}
		_, page = c.do("GET", "/console/events", nil, nil)
		if !strings.Contains(page, sc.shopEvent) || strings.Contains(page, sc.crmEvent) || strings.Contains(page, `value="crm"`) {
			t.Fatalf("the events page of a token bound to shop shows another source's:\n%s", page)
		}
		for _, p := range [][2]string{
			{"/console/sources/crm", "/console/sources/nowhere"},
			{"/console/events/" + sc.crmEvent, "/console/events/" + strings.Repeat("0", len(sc.crmEvent))},
			{"/console/events?source=crm", "/console/events?source=nowhere"},
			{"/console/catalog?source=crm", "/console/catalog?source=nowhere"},
			{"/console/live?source=crm", "/console/live?source=nowhere"},
		} {
			other, otherBody := c.do("GET", p[0], nil, nil)
			missing, missingBody := c.do("GET", p[1], nil, nil)
			id := strings.TrimPrefix(p[0][strings.LastIndexAny(p[0], "/=")+1:], "")
			missingID := p[1][strings.LastIndexAny(p[1], "/=")+1:]
			if other.StatusCode != http.StatusNotFound || strings.ReplaceAll(otherBody, id, missingID) != missingBody {
				t.Errorf("GET %s: %s, GET %s: %s; want the same 404 page\n%s\n%s", p[0], other.Status, p[1], missing.Status, otherBody, missingBody)
			}
		}
		if resp, page := c.do("GET", "/console/", nil, nil); resp.StatusCode != http.StatusOK || strings.Contains(page, "delivery-health") || strings.Contains(page, "refusal-counts") || strings.Contains(page, `href="/console/destinations"`) {
			t.Errorf("the overview of a bound token: %s, showing what spans every source:\n%.2000s", resp.Status, page)
		}
		if resp, page := c.do("GET", "/console/rejections", nil, nil); resp.StatusCode != http.StatusOK || !strings.Contains(page, `value="shop"`) {
			t.Errorf("the rejections of a bound token: %s, want them of shop:\n%.2000s", resp.Status, page)
		}
		for _, path := range []string{"/console/destinations", "/console/destinations/hook", "/console/sessions/visit-1", "/console/profiles/p-1"} {
			if resp, body := c.do("GET", path, nil, nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "spans every source") {
				t.Errorf("GET %s with a bound token: %s, want 403 saying it spans every source", path, resp.Status)
			}
		}
		csrf := csrfField.FindStringSubmatch(page)[1]
		if resp, _ := c.do("POST", "/console/sources/crm/enabled", url.Values{"csrf": {csrf}, "enabled": {"false"}}, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("disabling another source with a bound write token: %s, want 404", resp.Status)
		}
		if resp, _ := c.do("POST", "/console/events/"+sc.shopEvent+"/deliveries/hook/retry", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("retrying a delivery with a bound token: %s, want 403", resp.Status)
		}
		if resp, _ := c.do("POST", "/console/sources/shop/enabled", url.Values{"csrf": {csrf}, "enabled": {"false"}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("disabling its own source with a bound write token: %s, want 303", resp.Status)
		}
		var crm, shop storedSource
		s.admin("GET", "/api/v1/sources/crm", nil, http.StatusOK, &crm)
		s.admin("GET", "/api/v1/sources/shop", nil, http.StatusOK, &shop)
		if !crm.Enabled || shop.Enabled {
			t.Fatalf("after the bound token's forms: crm enabled %v (want true), shop enabled %v (want false)", crm.Enabled, shop.Enabled)
		}
		if resp, _ := c.do("GET", "/api/v1/events/stream?source=crm", nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("the live stream of another source, signed in with a bound token: %s, want 404", resp.Status)
		}
	})

	t.Run("a revoked or expired token is refused at sign-in saying which and why", func(t *testing.T) {
		c := newConsoleClient(t, s)
		c.signInWith(sc.write.Secret)
		if _, err := inlethttp.NewClient(s.url, s.token).RevokeToken(context.Background(), "operator"); err != nil {
			t.Fatal(err)
		}
		if resp, _ := c.do("GET", "/console/events", nil, nil); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/signin") {
			t.Fatalf("a page after the revocation: %s to %q, want the sign-in page", resp.Status, resp.Header.Get("Location"))
		}
		resp, body := newConsoleClient(t, s).do("POST", "/console/signin", url.Values{"token": {sc.write.Secret}}, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "The token &#34;operator&#34; was revoked at ") || len(resp.Cookies()) != 0 {
			t.Fatalf("signing in with a revoked token: %s %.600s", resp.Status, body)
		}
		brief, err := inlethttp.NewClient(s.url, s.token).CreateToken(context.Background(), inlethttp.CreateTokenRequest{Name: "brief", Scope: inlet.ScopeRead, Expires: "1s"})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(*brief.ExpiresAt))
		resp, body = newConsoleClient(t, s).do("POST", "/console/signin", url.Values{"token": {brief.Secret}}, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "The token &#34;brief&#34; expired at ") {
			t.Fatalf("signing in with an expired token: %s %.600s", resp.Status, body)
		}
	})
}
