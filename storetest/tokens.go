package storetest

import (
	"context"
	"testing"
	"time"

	"inlet"
)

// tokenTests are the tests of API tokens, of the optional inlet.TokenStore.
var tokenTests = []test{
	{"a created token is found by id, name and hash, never by its secret", tokenTest(testTokenFound)},
	{"a second token with the same name is a conflict", tokenTest(testTokenConflict)},
	{"an invalid token is refused", tokenTest(testTokenInvalid)},
	{"a revoked token stays listed with the first revocation time", tokenTest(testTokenRevoke)},
	{"revoking or finding an unknown token is not found", tokenTest(testTokenNotFound)},
	{"a touched token records when it was last used", tokenTest(testTokenTouch)},
	{"a token bound to sources keeps them, and none means every source", tokenTest(testTokenSources)},
}

// tokenTest makes a test of the suite of a test of inlet.TokenStore, which
// a store need not implement.
func tokenTest(fn func(t *testing.T, s inlet.TokenStore)) func(t *testing.T, s inlet.Store) {
	return func(t *testing.T, s inlet.Store) {
		t.Helper()
		ts, ok := s.(inlet.TokenStore)
		if !ok {
			t.Skipf("%T does not implement inlet.TokenStore", s)
		}
		fn(t, ts)
	}
}

func newToken(t *testing.T, s inlet.TokenStore, name, scope string) (*inlet.Token, string) {
	t.Helper()
	secret, hash := inlet.NewTokenSecret()
	tok := &inlet.Token{ID: inlet.NewID(), Name: name, Scope: scope, Hash: hash}
	if err := s.CreateToken(context.Background(), tok); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	return tok, secret
}

func testTokenFound(t *testing.T, s inlet.TokenStore) {
	ctx := context.Background()
	tok, _ := newToken(t, s, "ci-reader", inlet.ScopeRead)
	for _, key := range []string{tok.ID, "ci-reader"} {
		got, err := s.FindToken(ctx, key)
		if err != nil {
			t.Fatalf("FindToken(%q): %v", key, err)
		}
		if got.ID != tok.ID || got.Name != "ci-reader" || got.Scope != inlet.ScopeRead || got.Hash != tok.Hash || got.RevokedAt != nil || got.LastUsedAt != nil {
			t.Errorf("FindToken(%q) = %+v, want %+v", key, got, tok)
		}
	}
	got, err := s.FindTokenByHash(ctx, tok.Hash)
	if err != nil || got.ID != tok.ID {
		t.Fatalf("FindTokenByHash = %v, %v", got, err)
	}
	list, err := s.ListTokens(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "ci-reader" {
		t.Fatalf("ListTokens = %v, %v", list, err)
	}
}

func testTokenConflict(t *testing.T, s inlet.TokenStore) {
	newToken(t, s, "ci", inlet.ScopeRead)
	_, hash := inlet.NewTokenSecret()
	err := s.CreateToken(context.Background(), &inlet.Token{ID: inlet.NewID(), Name: "ci", Scope: inlet.ScopeAdmin, Hash: hash})
	if inlet.ErrorCode(err) != inlet.ECONFLICT {
		t.Fatalf("CreateToken of a taken name = %v, want conflict", err)
	}
}

func testTokenInvalid(t *testing.T, s inlet.TokenStore) {
	for _, tok := range []*inlet.Token{
		{ID: inlet.NewID(), Name: "", Scope: inlet.ScopeRead},
		{ID: inlet.NewID(), Name: "x", Scope: "root"},
		{ID: inlet.NewID(), Name: "y", Scope: inlet.ScopeAdmin, Sources: []string{"shop"}},
	} {
		if err := s.CreateToken(context.Background(), tok); inlet.ErrorCode(err) != inlet.EINVALID {
			t.Errorf("CreateToken(%+v) = %v, want invalid", tok, err)
		}
	}
}

func testTokenRevoke(t *testing.T, s inlet.TokenStore) {
	ctx := context.Background()
	tok, _ := newToken(t, s, "ci", inlet.ScopeWrite)
	first := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got, err := s.RevokeToken(ctx, "ci", first)
	if err != nil || got.RevokedAt == nil || !got.RevokedAt.Equal(first) {
		t.Fatalf("RevokeToken = %+v, %v", got, err)
	}
	if got, err = s.RevokeToken(ctx, tok.ID, first.Add(time.Hour)); err != nil || !got.RevokedAt.Equal(first) {
		t.Fatalf("a second RevokeToken = %+v, %v; want the first time kept", got, err)
	}
	if got.Usable(first.Add(-time.Hour)) {
		t.Error("a revoked token is usable")
	}
	list, err := s.ListTokens(ctx)
	if err != nil || len(list) != 1 || list[0].RevokedAt == nil {
		t.Fatalf("ListTokens = %v, %v", list, err)
	}
}

func testTokenNotFound(t *testing.T, s inlet.TokenStore) {
	ctx := context.Background()
	if _, err := s.FindToken(ctx, "nobody"); inlet.ErrorCode(err) != inlet.ENOTFOUND {
		t.Errorf("FindToken = %v, want not_found", err)
	}
	if _, err := s.RevokeToken(ctx, "nobody", time.Now()); inlet.ErrorCode(err) != inlet.ENOTFOUND {
		t.Errorf("RevokeToken = %v, want not_found", err)
	}
	if _, err := s.FindTokenByHash(ctx, [32]byte{1}); inlet.ErrorCode(err) != inlet.ENOTFOUND {
		t.Errorf("FindTokenByHash = %v, want not_found", err)
	}
}

func testTokenTouch(t *testing.T, s inlet.TokenStore) {
	ctx := context.Background()
	tok, _ := newToken(t, s, "ci", inlet.ScopeRead)
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := s.TouchToken(ctx, tok.ID, at); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindToken(ctx, tok.ID)
	if err != nil || got.LastUsedAt == nil || !got.LastUsedAt.Equal(at) {
		t.Fatalf("FindToken after TouchToken = %+v, %v", got, err)
	}
}

func testTokenSources(t *testing.T, s inlet.TokenStore) {
	ctx := context.Background()
	_, hash := inlet.NewTokenSecret()
	if err := s.CreateToken(ctx, &inlet.Token{ID: inlet.NewID(), Name: "shop-team", Scope: inlet.ScopeWrite, Sources: []string{"shop", "billing"}, Hash: hash}); err != nil {
		t.Fatal(err)
	}
	newToken(t, s, "everything", inlet.ScopeRead)
	got, err := s.FindTokenByHash(ctx, hash)
	if err != nil || len(got.Sources) != 2 || got.Sources[0] != "shop" || got.Sources[1] != "billing" {
		t.Fatalf("FindTokenByHash = %+v, %v; want the sources shop and billing", got, err)
	}
	if !got.Allows("shop") || got.Allows("crm") {
		t.Errorf("a token bound to shop and billing: Allows(shop) = %v, Allows(crm) = %v", got.Allows("shop"), got.Allows("crm"))
	}
	all, err := s.FindToken(ctx, "everything")
	if err != nil || len(all.Sources) != 0 || !all.Allows("crm") {
		t.Fatalf("an unbound token = %+v, %v; want every source", all, err)
	}
}
