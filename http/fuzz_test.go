package http_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"inlet"
	"inlet/batch"
	"inlet/collector"
	inlethttp "inlet/http"
	"inlet/sqlite"
)

// fuzzSources are the sources FuzzIntake sends to, one per way of building
// events: plain, dedup by a path and by a header, payload mapping with
// identities and traits, split arrays.
var fuzzSources = []*inlet.Source{
	{ID: "plain", Name: "Plain"},
	{ID: "dedup-path", Name: "Dedup by path", Config: inlet.SourceConfig{Dedup: &inlet.DedupConfig{Path: "id"}}},
	{ID: "dedup-header", Name: "Dedup by header", Config: inlet.SourceConfig{Dedup: &inlet.DedupConfig{Header: "Idempotency-Key"}}},
	{ID: "mapped", Name: "Mapped", Config: inlet.SourceConfig{Mapping: inlet.Mapping{
		EventTypePath: "type", SessionIDPath: "session", ProfileIDPath: "customer.id",
		IdentifyBy: map[string]string{"email": "customer.email", "phone": "customer.phone"},
		Traits:     map[string]string{"name": "customer.name", "plan": "plan"},
	}}},
	{ID: "split", Name: "Split", Config: inlet.SourceConfig{
		Dedup:   &inlet.DedupConfig{Path: "id"},
		Mapping: inlet.Mapping{SplitArray: true, IdentifyBy: map[string]string{"email": "email"}, GenerateProfile: true},
	}},
}

// FuzzIntake drives whole collect requests through the real handler, the
// real batch writer and a real SQLite store: every 2xx must name events
// that are stored and readable, with the source they were sent to; every
// refusal must be a 4xx with a JSON error; nothing may be a 5xx.
func FuzzIntake(f *testing.F) {
	seeds := []struct {
		source                                                      uint8
		method, eventType, session, contentType, query, hname, hval string
		body                                                        string
	}{
		{0, "POST", "order", "", "application/json", "", "", "", `{"a":1}`},
		{0, "GET", "page-view", "s-1", "", "page=%2Fpricing&tag=a&tag=b", "", "", ""},
		{0, "POST", "Page View", "s-1", "text/plain", "", "X-Trace", "\xff", "caf\xe9"},
		{0, "POST", "x", "", "application/x-www-form-urlencoded", "", "", "", "a=1&b=%00"},
		{0, "POST", "x", "", "multipart/form-data; boundary=B", "", "", "", "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n\r\n\x00\xff\r\n--B--\r\n"},
		{1, "POST", "order", "", "application/json", "", "", "", `{"id":"ord\u0000_1"}`},
		{1, "POST", "order", "", "application/json", "", "", "", `{"id":12.50}`},
		{2, "POST", "hook", "", "application/json", "", "Idempotency-Key", "caf\xe9", `{}`},
		{2, "POST", "hook", "", "application/json", "", "Idempotency-Key", strings.Repeat("k", 300), `{}`},
		{3, "POST", "ignored", "", "application/json", "", "", "", `{"type":"Invoice Paid","session":"s 1","customer":{"id":"cus_1","email":" A@B.com ","name":"Ann"}}`},
		{3, "POST", "ignored", "", "application/json", "", "", "", `{"customer":{"email":"a\u0000@b","phone":"\ud800"}}`},
		{4, "POST", "batch", "", "application/json", "", "", "", `[{"id":1,"email":"x@y"},{"id":1},2,null,"s",[1]]`},
		{4, "POST", "batch", "", "", "", "", "", `[]`},
		{4, "POST", "batch", "", "application/json", "", "", "", `[` + strings.Repeat(`{"a":[[[[]]]]},`, 50) + `{}]`},
	}
	for _, s := range seeds {
		f.Add(s.source, s.method, s.eventType, s.session, s.contentType, s.query, s.hname, s.hval, []byte(s.body))
	}

	logger := slog.New(slog.DiscardHandler)
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(f.TempDir(), "inlet.db")})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	for _, s := range fuzzSources {
		s.Type, s.Enabled = inlet.SourceTypeWebhook, true
		if err := db.CreateSource(context.Background(), s); err != nil {
			f.Fatal(err)
		}
	}
	w := batch.NewWriter(db, batch.Options{}, logger)
	f.Cleanup(func() { w.Close(context.Background()) })
	h := inlethttp.NewServer(inlethttp.Config{
		Store: db, Collector: collector.New(collector.Config{Appender: w, Sources: inlet.NewSourceCache(db, time.Hour)}), Logger: logger, AdminToken: testToken,
	})

	f.Fuzz(func(t *testing.T, source uint8, method, eventType, session, contentType, query, hname, hval string, body []byte) {
		src := fuzzSources[int(source)%len(fuzzSources)]
		if method != "GET" {
			method = "POST"
		}
		path := "/collect/" + url.PathEscape(eventType) + "/" + src.ID
		if session != "" {
			path += "/" + url.PathEscape(session)
		}
		target := path
		if query != "" {
			target += "?" + url.PathEscape(query)
		}
		req, err := http.NewRequest(method, target, strings.NewReader(string(body)))
		if err != nil {
			t.Skip() // not a request a client can send
		}
		req.RemoteAddr = "192.0.2.1:1234"
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if hname != "" && validHeaderName(hname) && validHeaderValue(hval) {
			req.Header.Set(hname, hval)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if rec.Code >= 500 {
			t.Fatalf("%s %s: status %d %s", method, target, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK {
			var e inlethttp.ErrorBody
			if rec.Code < 400 || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s %s: status %d, body %q; want a 4xx with a JSON error", method, target, rec.Code, rec.Body)
			}
			return
		}
		var answer struct {
			Events []string `json:"events"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || len(answer.Events) == 0 {
			t.Fatalf("%s %s: 200 with %q", method, target, rec.Body)
		}
		for _, id := range answer.Events {
			e, err := db.FindEvent(context.Background(), id)
			if err != nil {
				t.Fatalf("%s %s: answered event %s is not readable: %v", method, target, id, err)
			}
			if e.SourceID != src.ID || !json.Valid(e.Properties) {
				t.Fatalf("event %s: source %q, properties %q", id, e.SourceID, e.Properties)
			}
		}
	})
}

// validHeaderName and validHeaderValue keep to what an HTTP client can
// send at all (token names; no control characters but tab).
func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
