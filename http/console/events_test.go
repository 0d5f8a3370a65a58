package console

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"inlet"
)

func TestParseEventFilter(t *testing.T) {
	t.Run("every field reads into the filter", func(t *testing.T) {
		q := url.Values{"id": {" e1 "}, "source": {"shop"}, "type": {"Order.*"}, "session": {"s"}, "profile": {"p"},
			"since": {"2026-01-02 14:00"}, "until": {"2026-01-02T15:00:00Z"}, "property": {` customer.email = "a@b.c" `}}
		form, f, err := parseEventFilter(q)
		if err != nil {
			t.Fatal(err)
		}
		want := inlet.EventFilter{EventID: "e1", SourceID: "shop", Type: "order.*", SessionID: "s", ProfileID: "p", Limit: 50,
			Since: time.Date(2026, 1, 2, 14, 0, 0, 0, time.UTC), Until: time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC),
			Property: &inlet.PropertyMatch{Path: []string{"customer", "email"}, Value: "a@b.c"}}
		if f.Property == nil || strings.Join(f.Property.Path, ".") != "customer.email" || f.Property.Value != "a@b.c" {
			t.Fatalf("property %+v", f.Property)
		}
		f.Property, want.Property = nil, nil
		if !f.Since.Equal(want.Since) || !f.Until.Equal(want.Until) {
			t.Fatalf("times %v %v", f.Since, f.Until)
		}
		f.Since, f.Until, want.Since, want.Until = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if f != want {
			t.Fatalf("filter %+v, want %+v", f, want)
		}
		if form.query().Get("property") != `customer.email = "a@b.c"` {
			t.Fatalf("the form keeps %q", form.query().Get("property"))
		}
	})
	for _, tc := range []struct{ name, key, value, says string }{
		{"a property without =", "property", "order A-1", "Property: write a path, =, and a value"},
		{"a property with an empty key", "property", "a..b = 1", "Property:"},
		{"a bad type", "type", "a/b", "Type:"},
		{"a since that is no time", "since", "yesterday", `Since: "yesterday" is not a time`},
		{"an until that is no time", "until", "soon", "Until:"},
	} {
		t.Run(tc.name+" is named", func(t *testing.T) {
			_, _, err := parseEventFilter(url.Values{tc.key: {tc.value}})
			if inlet.ErrorCode(err) != inlet.EINVALID || !strings.Contains(inlet.ErrorMessage(err), tc.says) {
				t.Fatalf("error %v, want EINVALID saying %q", err, tc.says)
			}
		})
	}
}

func TestEscapeBidi(t *testing.T) {
	page := []byte("<td>invoice\u202efdp.exe \u2066x\u2069</td>")
	got := string(escapeBidi(page))
	if got != "<td>invoice[U+202E]fdp.exe [U+2066]x[U+2069]</td>" {
		t.Fatalf("escaped %q", got)
	}
	plain := []byte("<td>café → ok</td>")
	if string(escapeBidi(plain)) != string(plain) {
		t.Fatal("a page without controls changed")
	}
}

func TestEventCurl(t *testing.T) {
	e := &inlet.Event{Type: "order.created", SourceID: "shop", SessionID: "s-1", Properties: json.RawMessage(`{"note": "it's"}`)}
	src := &inlet.Source{ID: "shop", Config: inlet.SourceConfig{Verify: &inlet.VerifyConfig{Type: inlet.VerifyGitHub, Secret: "s3cret"}}}
	curl := EventCurl("https://hooks.example.com", e, src)
	for _, want := range []string{`'https://hooks.example.com/collect/order.created/shop/s-1'`, `BODY='{"note": "it'\''s"}'`, "X-Hub-Signature-256", SecretPlaceholder} {
		if !strings.Contains(curl, want) {
			t.Errorf("the curl command lacks %s:\n%s", want, curl)
		}
	}
	if strings.Contains(curl, "s3cret") {
		t.Fatalf("the curl command shows the secret:\n%s", curl)
	}
}

func TestMaskedHeaders(t *testing.T) {
	got := maskedHeaders(map[string]string{"X-Shop-Token": "t", "Content-Type": "application/json", "X-Custom-Signature": "sig"})
	want := []header{{"Content-Type", "application/json"}, {"X-Custom-Signature", inlet.MaskedSecret}, {"X-Shop-Token", inlet.MaskedSecret}}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("headers %v, want %v", got, want)
		}
	}
}

func TestBaseURLIsThePublicURL(t *testing.T) {
	r := httptest.NewRequest("GET", "/console/events/x", nil)
	r.Host = "attacker.example"
	if got := New(Config{PublicURL: "https://hooks.example.com/"}).baseURL(r); got != "https://hooks.example.com" {
		t.Fatalf("with --public-url the base is %q", got)
	}
	if got := New(Config{}).baseURL(r); got != "http://attacker.example" {
		t.Fatalf("without --public-url the base is %q, the address the browser reached", got)
	}
}
