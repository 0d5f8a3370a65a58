package inlet

import (
	"testing"
	"time"
)

func TestTokenRefusalSaysWhatHappenedToIt(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	earlier, later := now.Add(-time.Hour), now.Add(time.Hour)
	for _, tc := range []struct {
		name string
		tok  Token
		want string // empty: usable
	}{
		{"a token without expiry is usable", Token{Name: "ci"}, ""},
		{"a token before its expiry is usable", Token{Name: "ci", ExpiresAt: &later}, ""},
		{"a revoked token names itself and when", Token{Name: "ci", RevokedAt: &earlier, ExpiresAt: &later},
			`the token "ci" was revoked at 2026-12-07T09:00:00Z; an admin can create a new one (inlet tokens create)`},
		{"an expired token names itself and when", Token{Name: "ci", ExpiresAt: &earlier},
			`the token "ci" expired at 2026-12-07T09:00:00Z; an admin can create a new one (inlet tokens create)`},
		{"a token expires at its expiry time", Token{Name: "ci", ExpiresAt: &now},
			`the token "ci" expired at 2026-12-07T10:00:00Z; an admin can create a new one (inlet tokens create)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.tok.Refusal(now)
			if tc.want == "" {
				if err != nil || !tc.tok.Usable(now) {
					t.Fatalf("refusal %v, usable %v; want it usable", err, tc.tok.Usable(now))
				}
				return
			}
			if ErrorCode(err) != EUNAUTHORIZED || ErrorMessage(err) != tc.want || tc.tok.Usable(now) {
				t.Fatalf("refusal %v (code %s), want %q", err, ErrorCode(err), tc.want)
			}
		})
	}
}
