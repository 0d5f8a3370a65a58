package http_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"inlet"
)

// TestAuditRecordsWhoChangedWhat changes sources through the API with the
// admin token and a narrower one, behind a trusted proxy, and reads the
// audit log back as an admin would.
func TestAuditRecordsWhoChangedWhat(t *testing.T) {
	s := newTestServer(t, serverOptions{trustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	reader := newScopedToken(t, s, "ci-reader", inlet.ScopeRead)
	admin := []string{"Authorization", "Bearer " + testToken, "Content-Type", "application/json", "X-Forwarded-For", "203.0.113.9"}

	resp := s.do("POST", "/api/v1/sources", strings.NewReader(`{"id": "gh", "name": "GitHub", "config": {"verify": {"type": "github", "secret": "gh-known-secret"}}}`), admin...)
	if resp.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	if resp := s.do("PATCH", "/api/v1/sources/gh", strings.NewReader(`{"name": "GitHub (org)"}`), "Authorization", "Bearer "+reader, "Content-Type", "application/json"); resp.Status != http.StatusForbidden {
		t.Fatalf("a read token's update: %d %s, want 403", resp.Status, resp.Body)
	}
	if resp := s.do("PATCH", "/api/v1/sources/gh", strings.NewReader(`{"name": `), admin...); resp.Status != http.StatusBadRequest {
		t.Fatalf("an update of bad JSON: %d %s, want 400", resp.Status, resp.Body)
	}
	if resp := s.do("PATCH", "/api/v1/sources/gh", strings.NewReader(`{"name": "x"}`), "Authorization", "Bearer wrong"); resp.Status != http.StatusUnauthorized {
		t.Fatalf("an update with a wrong token: %d %s, want 401", resp.Status, resp.Body)
	}
	if resp := s.do("GET", "/api/v1/audit", nil, "Authorization", "Bearer "+reader); resp.Status != http.StatusForbidden {
		t.Fatalf("a read token's GET /api/v1/audit: %d %s, want 403", resp.Status, resp.Body)
	}

	resp = s.do("GET", "/api/v1/audit?object_type=source&object_id=gh", nil, admin...)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /api/v1/audit: %d %s", resp.Status, resp.Body)
	}
	if strings.Contains(string(resp.Body), "gh-known-secret") {
		t.Fatalf("the audit log shows the source's secret: %s", resp.Body)
	}
	var page inlet.AuditPage
	if err := json.Unmarshal(resp.Body, &page); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range page.Records {
		got = append(got, r.Action+" by "+r.Token+" from "+r.Client+": "+r.Outcome)
	}
	want := []string{
		"source.update by admin from 203.0.113.9: invalid",
		"source.update by ci-reader from 127.0.0.1: forbidden",
		"source.create by admin from 203.0.113.9: ok",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the audit log of gh:\n%s\nwant (no record of the wrong token):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r := page.Records[1]; !strings.Contains(r.Error, "write scope") {
		t.Errorf("the refusal's message is %q, want it to name the write scope", r.Error)
	}

	for _, q := range []string{"limit=0", "limit=1001", "since=yesterday", "cursor=abc", "object_type=sources", "object_type=%00", "token=%00", "object_id=%ff%fe", "action=a%00b"} {
		if resp := s.do("GET", "/api/v1/audit?"+q, nil, admin...); resp.Status != http.StatusBadRequest || !strings.Contains(string(resp.Body), `"code"`) {
			t.Errorf("GET /api/v1/audit?%s: %d %s, want 400 with an error body", q, resp.Status, resp.Body)
		}
	}
}
