package listen_test

import (
	"encoding/json"
	"io"
	"testing"
	"time"

	"inlet"
	"inlet/listen"
	"inlet/verify"
)

func event(contentType, props string) *inlet.Event {
	h := map[string]string{"Host": "collector.example.com", "X-Forwarded-For": "203.0.113.7", "User-Agent": "Sender/1.0", "Content-Length": "99"}
	if contentType != "" {
		h["Content-Type"] = contentType
	}
	return &inlet.Event{ID: "e1", Type: "t", SourceID: "s", Properties: json.RawMessage(props), Context: inlet.RequestContext{Method: "POST", Headers: h}}
}

func TestBody(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, props string
		formPayload              bool
		wantBody, wantType       string
	}{
		{"a JSON object is the bytes stored", "application/json", `{"b":1,"a":[2]}`, false, `{"b":1,"a":[2]}`, "application/json"},
		{"no content type is JSON", "", `{"a":1}`, false, `{"a":1}`, "application/json"},
		{"a form is a form again", "application/x-www-form-urlencoded", `{"To":"+1","Body":"hi there","Tag":["a","b"]}`, false, "Body=hi+there&Tag=a&Tag=b&To=%2B1", "application/x-www-form-urlencoded"},
		{"GitHub's form payload is sent as its JSON", "application/x-www-form-urlencoded", `{"zen":"x"}`, true, `{"zen":"x"}`, "application/json"},
		{"raw text is the text", "text/plain", `{"raw":"hello\nworld"}`, false, "hello\nworld", "text/plain"},
		{"raw bytes are the bytes", "application/octet-stream", `{"raw_base64":"AAEC"}`, false, "\x00\x01\x02", "application/octet-stream"},
		{"a multipart body is sent as its properties' JSON", "multipart/form-data; boundary=x", `{"name":"a"}`, false, `{"name":"a"}`, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, ct := listen.Body(event(tc.contentType, tc.props), tc.formPayload)
			if string(body) != tc.wantBody || ct != tc.wantType {
				t.Errorf("Body = %q, %q; want %q, %q", body, ct, tc.wantBody, tc.wantType)
			}
		})
	}
}

func TestNewRequest(t *testing.T) {
	e := event("application/json", `{"id":"evt_1","type":"invoice.paid"}`)
	e.Context.Query = "x=1"
	cfg := &inlet.VerifyConfig{Type: "stripe", Secret: "whsec_app"}
	now := time.Now()
	req, err := listen.NewRequest(e, cfg, false, "http://localhost:3000/hooks", now)
	if err != nil {
		t.Fatal(err)
	}
	if req.URL.String() != "http://localhost:3000/hooks?x=1" || req.Method != "POST" {
		t.Errorf("%s %s, want POST to the target with the event's query", req.Method, req.URL)
	}
	for _, h := range []string{"Host", "X-Forwarded-For", "Content-Length"} {
		if req.Header.Get(h) != "" {
			t.Errorf("the hop's header %s is forwarded", h)
		}
	}
	if req.Header.Get("User-Agent") != "Sender/1.0" || req.Header.Get(listen.EventIDHeader) != "e1" {
		t.Errorf("headers %v: want the sender's User-Agent and the event id", req.Header)
	}
	body, _ := io.ReadAll(req.Body)
	if err := verify.Verify(cfg, verify.Request{Header: req.Header, Body: body, Now: now}); err != nil {
		t.Errorf("the forwarded request does not verify with the application's secret: %v", err)
	}
	twilio := event("application/x-www-form-urlencoded", `{"Body":"hi","From":"+1"}`)
	treq, err := listen.NewRequest(twilio, &inlet.VerifyConfig{Type: "twilio", Secret: "token"}, false, "http://localhost:3000/sms?a=b", now)
	if err != nil {
		t.Fatal(err)
	}
	tbody, _ := io.ReadAll(treq.Body)
	if err := verify.Verify(&inlet.VerifyConfig{Type: "twilio", Secret: "token"}, verify.Request{Header: treq.Header, Body: tbody, URL: treq.URL.String(), Now: now}); err != nil {
		t.Errorf("a Twilio form forwarded is not signed over the forward URL: %v", err)
	}
}

func TestParseRule(t *testing.T) {
	for in, want := range map[string]listen.Rule{
		"http://localhost:3000/hooks":             {URL: "http://localhost:3000/hooks"},
		"invoice.*=http://localhost:3000/billing": {Types: []string{"invoice.*"}, URL: "http://localhost:3000/billing"},
		"push, ping=https://app.test/gh":          {Types: []string{"push", "ping"}, URL: "https://app.test/gh"},
		"http://localhost:3000/hooks?route=a=b":   {URL: "http://localhost:3000/hooks?route=a=b"},
	} {
		got, err := listen.ParseRule(in)
		if err != nil || got.URL != want.URL || len(got.Types) != len(want.Types) {
			t.Errorf("ParseRule(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"localhost:3000", "ftp://x/y", "a=", ""} {
		if _, err := listen.ParseRule(bad); err == nil {
			t.Errorf("ParseRule(%q) passes", bad)
		}
	}
	rules := []listen.Rule{{Types: []string{"invoice.*"}, URL: "billing"}, {URL: "rest"}}
	if listen.Target(rules, "invoice.paid") != "billing" || listen.Target(rules, "charge.succeeded") != "rest" {
		t.Errorf("the first matching rule does not win")
	}
}
