package http_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"inlet"
	inlethttp "inlet/http"
)

// newScopedToken stores a token of scope and returns its secret.
func newScopedToken(t *testing.T, s *testServer, name, scope string) string {
	t.Helper()
	secret, hash := inlet.NewTokenSecret()
	if err := s.DB.CreateToken(context.Background(), &inlet.Token{ID: inlet.NewID(), Name: name, Scope: scope, Hash: hash}); err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestEveryRouteHasAScope walks every operation of openapi.json: each has a
// scope in the route table, and a token of each scope is let in or refused
// as the table says, so that no route can be left unguarded.
func TestEveryRouteHasAScope(t *testing.T) {
	doc := loadOpenAPI(t)
	s := newTestServer(t, serverOptions{metricsHandler: http.NotFoundHandler()})
	secrets := map[string]string{}
	for _, scope := range []string{inlet.ScopeRead, inlet.ScopeWrite, inlet.ScopeAdmin} {
		secrets[scope] = newScopedToken(t, s, "tok-"+scope, scope)
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			need, ok := s.Handler.Scope(method + " " + path)
			if !ok {
				need, ok = s.Handler.Scope(path) // a route that takes any method
			}
			if !ok {
				t.Errorf("%s %s has no route in the route table", method, path)
				continue
			}
			if need == inlethttp.ScopePublic {
				if strings.HasPrefix(path, "/api/v1/") && path != "/api/v1/openapi.json" {
					t.Errorf("%s %s is public; every admin route needs a scope", method, path)
				}
				continue
			}
			if need != inlet.ScopeRead && need != inlet.ScopeWrite && need != inlet.ScopeAdmin {
				t.Errorf("%s %s needs scope %q, which is no scope", method, path, need)
				continue
			}
			// A change never needs only read, and only admin manages tokens and the secrets key.
			if method != http.MethodGet && need == inlet.ScopeRead {
				t.Errorf("%s %s changes something with the read scope", method, path)
			}
			if (strings.HasPrefix(path, "/api/v1/tokens") || strings.HasPrefix(path, "/api/v1/secrets") || path == "/api/v1/audit") != (need == inlet.ScopeAdmin) {
				t.Errorf("%s %s needs the %s scope; tokens, secrets and the audit log, and only they, need admin", method, path, need)
			}
			url := param.ReplaceAllString(path, "nobody")
			for have, secret := range secrets {
				resp := s.do(method, url, strings.NewReader("{}"), "Authorization", "Bearer "+secret, "Content-Type", "application/json")
				allowed := inlet.ScopeAllows(have, need)
				switch {
				case allowed && (resp.Status == http.StatusForbidden || resp.Status == http.StatusUnauthorized):
					t.Errorf("a %s token: %s %s = %d %s, want it let in (the route needs %s)", have, method, url, resp.Status, resp.Body, need)
				case !allowed:
					var body struct {
						Error struct{ Code, Message string }
					}
					json.Unmarshal(resp.Body, &body)
					if resp.Status != http.StatusForbidden || body.Error.Code != "forbidden" || !strings.Contains(body.Error.Message, "the "+need+" scope") {
						t.Errorf("a %s token: %s %s = %d %s, want 403 forbidden naming the %s scope", have, method, url, resp.Status, resp.Body, need)
					}
				}
			}
		}
	}
}

func TestTokens(t *testing.T) {
	s := newTestServer(t, serverOptions{})

	t.Run("a created token is shown once, works with its scope, and is listed without its secret", func(t *testing.T) {
		var created struct {
			ID, Name, Scope, Token string
			ExpiresAt              *time.Time `json:"expires_at"`
		}
		s.adminOK("POST", "/api/v1/tokens", `{"name": "ci-reader", "scope": "read", "expires": "90d"}`, http.StatusCreated, &created)
		if created.Token == "" || created.Scope != "read" || created.ExpiresAt == nil || created.ExpiresAt.Before(time.Now().Add(89*24*time.Hour)) {
			t.Fatalf("created = %+v", created)
		}
		auth := []string{"Authorization", "Bearer " + created.Token}
		if resp := s.do("GET", "/api/v1/events", nil, auth...); resp.Status != http.StatusOK {
			t.Fatalf("GET events with a read token = %d %s", resp.Status, resp.Body)
		}
		resp := s.do("POST", "/api/v1/sources", strings.NewReader(`{"name": "Shop", "type": "webhook"}`), append(auth, "Content-Type", "application/json")...)
		assertError(t, resp, http.StatusForbidden, "forbidden")
		list := s.admin("GET", "/api/v1/tokens", "")
		if list.Status != http.StatusOK || strings.Contains(string(list.Body), created.Token) || !strings.Contains(string(list.Body), `"ci-reader"`) {
			t.Fatalf("GET tokens = %d %s", list.Status, list.Body)
		}
	})

	t.Run("a revoked token is refused at once", func(t *testing.T) {
		secret := newScopedToken(t, s, "gone", inlet.ScopeAdmin)
		auth := []string{"Authorization", "Bearer " + secret}
		if resp := s.do("GET", "/api/v1/tokens", nil, auth...); resp.Status != http.StatusOK {
			t.Fatalf("before revocation: %d %s", resp.Status, resp.Body)
		}
		s.adminOK("DELETE", "/api/v1/tokens/gone", "", http.StatusOK, nil)
		assertError(t, s.do("GET", "/api/v1/events", nil, auth...), http.StatusUnauthorized, "unauthorized")
	})

	t.Run("an expired token is refused", func(t *testing.T) {
		secret, hash := inlet.NewTokenSecret()
		past := time.Now().Add(-time.Minute)
		if err := s.DB.CreateToken(context.Background(), &inlet.Token{ID: inlet.NewID(), Name: "old", Scope: inlet.ScopeAdmin, Hash: hash, ExpiresAt: &past}); err != nil {
			t.Fatal(err)
		}
		assertError(t, s.do("GET", "/api/v1/events", nil, "Authorization", "Bearer "+secret), http.StatusUnauthorized, "unauthorized")
	})

	t.Run("a used token records when it was last used", func(t *testing.T) {
		secret := newScopedToken(t, s, "used", inlet.ScopeRead)
		s.do("GET", "/api/v1/stats", nil, "Authorization", "Bearer "+secret)
		deadline := time.Now().Add(5 * time.Second)
		for {
			tok, err := s.DB.FindToken(context.Background(), "used")
			if err != nil {
				t.Fatal(err)
			}
			if tok.LastUsedAt != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("last_used_at was never recorded")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	t.Run("a write token cannot manage tokens", func(t *testing.T) {
		secret := newScopedToken(t, s, "writer", inlet.ScopeWrite)
		resp := s.do("POST", "/api/v1/tokens", strings.NewReader(`{"name": "mine", "scope": "admin"}`), "Authorization", "Bearer "+secret, "Content-Type", "application/json")
		assertError(t, resp, http.StatusForbidden, "forbidden")
	})

	t.Run("a bad scope or expiry is invalid", func(t *testing.T) {
		assertError(t, s.admin("POST", "/api/v1/tokens", `{"name": "x", "scope": "root"}`), http.StatusBadRequest, "invalid")
		assertError(t, s.admin("POST", "/api/v1/tokens", `{"name": "x", "scope": "read", "expires": "soon"}`), http.StatusBadRequest, "invalid")
		assertError(t, s.admin("DELETE", "/api/v1/tokens/nobody", ""), http.StatusNotFound, "not_found")
	})
}

func TestTokensBoundToSources(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	for _, id := range []string{"shop", "crm"} {
		s.adminOK("POST", "/api/v1/sources", `{"id": "`+id+`", "name": "`+id+`", "type": "webhook"}`, http.StatusCreated, nil)
		if resp := s.do("POST", "/collect/order/"+id, strings.NewReader(`{"n": 1}`), "Content-Type", "application/json"); resp.Status != http.StatusOK {
			t.Fatalf("collect to %s: %d %s", id, resp.Status, resp.Body)
		}
	}
	var created struct{ Token string }
	s.adminOK("POST", "/api/v1/tokens", `{"name": "shop-team", "scope": "write", "sources": ["shop"]}`, http.StatusCreated, &created)
	auth := []string{"Authorization", "Bearer " + created.Token}
	var crmEvent string
	{
		var page struct{ Items []struct{ ID string } }
		s.adminOK("GET", "/api/v1/events?source=crm", "", http.StatusOK, &page)
		if len(page.Items) != 1 {
			t.Fatalf("crm events: %+v", page)
		}
		crmEvent = page.Items[0].ID
	}

	t.Run("it lists only its sources and their events", func(t *testing.T) {
		resp := s.do("GET", "/api/v1/sources", nil, auth...)
		if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), `"shop"`) || strings.Contains(string(resp.Body), `"crm"`) {
			t.Fatalf("GET sources = %d %s", resp.Status, resp.Body)
		}
		resp = s.do("GET", "/api/v1/events", nil, auth...)
		if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), `"shop"`) || strings.Contains(string(resp.Body), `"crm"`) {
			t.Fatalf("GET events = %d %s", resp.Status, resp.Body)
		}
	})

	t.Run("what belongs to another source is not found, whether it exists or not", func(t *testing.T) {
		for _, path := range []string{"/api/v1/sources/crm", "/api/v1/sources/nobody", "/api/v1/events/" + crmEvent, "/api/v1/events?source=crm"} {
			assertError(t, s.do("GET", path, nil, auth...), http.StatusNotFound, "not_found")
		}
		assertError(t, s.do("DELETE", "/api/v1/sources/crm", nil, auth...), http.StatusNotFound, "not_found")
		s.adminOK("GET", "/api/v1/sources/crm", "", http.StatusOK, nil)
	})

	t.Run("it changes its own source", func(t *testing.T) {
		resp := s.do("PATCH", "/api/v1/sources/shop", strings.NewReader(`{"enabled": false}`), append(auth, "Content-Type", "application/json")...)
		if resp.Status != http.StatusOK {
			t.Fatalf("PATCH its source = %d %s", resp.Status, resp.Body)
		}
	})

	t.Run("what spans every source is refused, naming why", func(t *testing.T) {
		resp := s.do("GET", "/api/v1/destinations", nil, auth...)
		assertError(t, resp, http.StatusForbidden, "forbidden")
		if !strings.Contains(string(resp.Body), "bound to shop") {
			t.Fatalf("refusal = %s", resp.Body)
		}
	})

	t.Run("an admin token cannot be bound to sources", func(t *testing.T) {
		assertError(t, s.admin("POST", "/api/v1/tokens", `{"name": "x", "scope": "admin", "sources": ["shop"]}`), http.StatusBadRequest, "invalid")
	})
}
