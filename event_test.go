package inlet_test

import (
	"regexp"
	"strings"
	"testing"

	"inlet"
)

// The documented character sets of event types and ids.
var (
	eventTypePattern = regexp.MustCompile(`^[a-z0-9_.:-]{1,128}$`)
	idPattern        = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
)

func TestNormalizeEventType(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" when rejected
	}{
		{name: "a plain type is kept", in: "page-view", want: "page-view"},
		{name: "spaces are trimmed, upper case lowered and inner spaces dashed", in: "  Page View  ", want: "page-view"},
		{name: "every allowed punctuation mark is kept", in: "a_b.c:d-e", want: "a_b.c:d-e"},
		{name: "digits are kept", in: "Order 66", want: "order-66"},
		{name: "128 characters are accepted", in: strings.Repeat("a", 128), want: strings.Repeat("a", 128)},
		{name: "129 characters are rejected", in: strings.Repeat("a", 129)},
		{name: "surrounding spaces do not count towards the length", in: " " + strings.Repeat("a", 128) + " ", want: strings.Repeat("a", 128)},
		{name: "an empty type is rejected", in: ""},
		{name: "a type of only spaces is rejected", in: "   "},
		{name: "a slash is rejected", in: "a/b"},
		{name: "a path traversal is rejected", in: "../etc"},
		{name: "an inner tab is rejected", in: "a\tb"},
		{name: "a NUL byte is rejected", in: "a\x00"},
		{name: "a non-ASCII letter is rejected", in: "café"},
		{name: "a percent sign is rejected", in: "a%20b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := inlet.NormalizeEventType(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("NormalizeEventType(%q) = %q, want an error", tt.in, got)
				}
				if inlet.ErrorCode(err) != inlet.EINVALID || inlet.ErrorReason(err) != "bad_event_type" {
					t.Fatalf("NormalizeEventType(%q) = %v, want EINVALID bad_event_type", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeEventType(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "a UUID is valid", in: "0190c6f0-7b2e-7c4d-9a1e-3f5b6c7d8e9f", want: true},
		{name: "mixed case and punctuation are valid", in: "Sess_1.a:B-2", want: true},
		{name: "128 characters are valid", in: strings.Repeat("x", 128), want: true},
		{name: "129 characters are not", in: strings.Repeat("x", 129)},
		{name: "an empty id is not", in: ""},
		{name: "a space is not", in: "a b"},
		{name: "a slash is not", in: "a/b"},
		{name: "a dot-dot path is not", in: "../x"},
		{name: "non-ASCII is not", in: "ünïcode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := inlet.ValidID(tt.in); got != tt.want {
				t.Fatalf("ValidID(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if err := inlet.ValidateSessionID(tt.in); (err == nil) != tt.want {
				t.Fatalf("ValidateSessionID(%q) = %v, want valid %v", tt.in, err, tt.want)
			}
		})
	}
}

// FuzzPath checks the parsing of the event type and session id path
// segments: no panic, and whatever is accepted is in the documented
// character set and length.
func FuzzPath(f *testing.F) {
	for _, s := range []string{
		"page-view", "  Page View ", "a_b.c:d-e", "", " ", "a/b", "../..", "%2e%2e", "a\x00b",
		"café", "\u212a", "İstanbul", "\u00a0x\u00a0", "\xff", strings.Repeat("a", 128), strings.Repeat("A", 129),
		"0190c6f0-7b2e-7c4d-9a1e-3f5b6c7d8e9f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := inlet.NormalizeEventType(s)
		if err != nil {
			if inlet.ErrorCode(err) != inlet.EINVALID || inlet.ErrorReason(err) != "bad_event_type" {
				t.Fatalf("NormalizeEventType(%q) = %v, want EINVALID bad_event_type", s, err)
			}
		} else {
			if !eventTypePattern.MatchString(got) {
				t.Fatalf("NormalizeEventType(%q) = %q, outside the documented set", s, got)
			}
			if again, err := inlet.NormalizeEventType(got); err != nil || again != got {
				t.Fatalf("NormalizeEventType(%q) = %q, %v: normalizing is not idempotent", got, again, err)
			}
		}
		// Whatever is already in the set is accepted unchanged.
		if eventTypePattern.MatchString(s) && (err != nil || got != s) {
			t.Fatalf("NormalizeEventType(%q) = %q, %v, want it unchanged", s, got, err)
		}

		valid := inlet.ValidID(s)
		if valid != idPattern.MatchString(s) {
			t.Fatalf("ValidID(%q) = %v, but the documented set says %v", s, valid, !valid)
		}
		if err := inlet.ValidateSessionID(s); (err == nil) != valid {
			t.Fatalf("ValidateSessionID(%q) = %v, but ValidID = %v", s, err, valid)
		} else if err != nil && (inlet.ErrorCode(err) != inlet.EINVALID || inlet.ErrorReason(err) != "bad_session_id") {
			t.Fatalf("ValidateSessionID(%q) = %v, want EINVALID bad_session_id", s, err)
		}
	})
}
