package main

import (
	"context"
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
