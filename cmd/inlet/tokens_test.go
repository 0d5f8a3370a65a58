package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"inlet"
	inlethttp "inlet/http"
	"inlet/postgres/pgtest"
)

// TestTokensRevokedOnOneNodeAreRefusedOnAnother runs two nodes on one
// PostgreSQL schema: a token created and revoked through node A is let in,
// then refused at once, by node B.
func TestTokensRevokedOnOneNodeAreRefusedOnAnother(t *testing.T) {
	dbURL := pgtest.URL(t)
	a, b := startPGNode(t, dbURL, nil), startPGNode(t, dbURL, nil)
	ctx := context.Background()

	tok, err := a.client.CreateToken(ctx, inlethttp.CreateTokenRequest{Name: "ci-reader", Scope: inlet.ScopeRead})
	if err != nil {
		t.Fatalf("create a token through node A: %v", err)
	}
	onB := inlethttp.NewClient(b.url, tok.Secret)
	if _, err := onB.ListSources(ctx); err != nil {
		t.Fatalf("node B with the new read token: %v", err)
	}
	if _, err := onB.CreateSource(ctx, inlethttp.CreateSourceRequest{ID: "shop", Name: "Shop"}); inlet.ErrorCode(err) != inlet.EFORBIDDEN {
		t.Fatalf("node B, a read token creating a source: %v, want forbidden", err)
	}
	if _, err := a.client.RevokeToken(ctx, "ci-reader"); err != nil {
		t.Fatalf("revoke the token through node A: %v", err)
	}
	if _, err := onB.ListSources(ctx); inlet.ErrorCode(err) != inlet.EUNAUTHORIZED {
		t.Fatalf("node B right after the revocation: %v, want unauthorized", err)
	}
}

// TestTokensSignInToTheConsole signs in to the console with a read token:
// its pages open, a form that changes something answers 403 naming the
// scope, and a revocation signs it out at once.
func TestTokensSignInToTheConsole(t *testing.T) {
	s := startLive(t, liveConfig(t))
	ctx := context.Background()
	admin := inlethttp.NewClient(s.url, s.token)
	tok, err := admin.CreateToken(ctx, inlethttp.CreateTokenRequest{Name: "viewer", Scope: inlet.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	c := newConsoleClient(t, s)
	resp, _ := c.do("POST", "/console/signin", url.Values{"token": {tok.Secret}, "next": {"/console/sources"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/sources" {
		t.Fatalf("sign in with a read token: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if resp, _ := c.do("GET", "/console/sources", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("the sources page with a read token: %s", resp.Status)
	}
	resp, body := c.do("POST", "/console/sources", url.Values{"csrf": {c.csrf()}, "id": {"shop"}, "name": {"Shop"}}, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "write scope") {
		t.Fatalf("creating a source with a read token: %s %.300s", resp.Status, body)
	}
	if _, err := admin.FindSource(ctx, "shop"); inlet.ErrorCode(err) != inlet.ENOTFOUND {
		t.Fatalf("the refused form created the source: %v", err)
	}
	if _, err := admin.RevokeToken(ctx, "viewer"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := c.do("GET", "/console/sources", nil, nil); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/signin") {
		t.Fatalf("the sources page after the revocation: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
}
