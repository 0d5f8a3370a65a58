package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"inlet"
	inlethttp "inlet/http"
	"inlet/postgres/pgtest"
)

// TestExportThenImportGivesTheSameEvents exports a live server's events
// and imports them into an empty store, SQLite and PostgreSQL: the new
// store exports the same bytes, and answers for the sessions and profiles.
func TestExportThenImportGivesTheSameEvents(t *testing.T) {
	src := startLive(t, liveConfig(t))
	src.admin("POST", "/api/v1/sources", map[string]any{"id": "shop", "name": "Shop"}, http.StatusCreated, nil)
	var sessions []string
	for i := range 1500 { // more than one page of the export
		path := "/collect/page.view/shop"
		if i%3 == 0 {
			s := fmt.Sprintf("sess-%d", i%7)
			path += "/" + s
			sessions = append(sessions, s)
		}
		src.collect("POST", path, nil, strings.NewReader(fmt.Sprintf(`{"n":%d,"html":"<b>&</b>","é":"☕"}`, i)))
	}
	ctx := context.Background()
	srcClient := inlethttp.NewClient(src.url, src.token)
	var export bytes.Buffer
	if _, err := srcClient.Export(ctx, inlet.EventFilter{}, &export); err != nil {
		t.Fatalf("Export: %v", err)
	}
	if n := bytes.Count(export.Bytes(), []byte("\n")); n != 1500 {
		t.Fatalf("export has %d lines; want 1500", n)
	}
	stores := map[string]func(*Config){"sqlite": func(*Config) {}}
	if os.Getenv(pgtest.EnvURL) != "" {
		stores["postgres"] = func(c *Config) { c.DB = pgtest.URL(t) }
	}
	for name, tune := range stores {
		t.Run(name, func(t *testing.T) {
			cfg := liveConfig(t)
			tune(&cfg)
			dst := startLive(t, cfg)
			client := inlethttp.NewClient(dst.url, dst.token)
			res, err := client.Import(ctx, bytes.NewReader(export.Bytes()))
			if err != nil || res.Lines != 1500 || res.Imported != 1500 {
				t.Fatalf("Import = %+v, %v; want 1500 imported", res, err)
			}
			var again bytes.Buffer
			if _, err := client.Export(ctx, inlet.EventFilter{}, &again); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), export.Bytes()) {
				t.Fatalf("the imported store exports other bytes than were imported")
			}
			for _, sid := range sessions[:3] {
				a, err1 := srcClient.FindSession(ctx, sid)
				b, err2 := client.FindSession(ctx, sid)
				if err1 != nil || err2 != nil || a.ProfileID != b.ProfileID || a.EventCount != b.EventCount {
					t.Fatalf("session %s: source %+v (%v), imported %+v (%v)", sid, a, err1, b, err2)
				}
			}
			// A second import stores nothing new.
			res, err = client.Import(ctx, bytes.NewReader(export.Bytes()))
			if err != nil || res.Imported != 0 || res.Skipped != 1500 {
				t.Fatalf("second Import = %+v, %v; want all 1500 skipped", res, err)
			}
		})
	}
}

// TestImportStopsAtAMalformedLine names the line and keeps what was before.
func TestImportStopsAtAMalformedLine(t *testing.T) {
	s := startLive(t, liveConfig(t))
	client := inlethttp.NewClient(s.url, s.token)
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	good := func(id string) string {
		return fmt.Sprintf(`{"id":%q,"type":"a","source_id":"shop","inserted_at":%q,"session_id":null,"profile_id":null,"properties":{},"context":{}}`, id, at.Format(time.RFC3339))
	}
	cases := []struct {
		name, body string
		code       string
		message    string
	}{
		{"bad JSON", good("e1") + "\n" + good("e2") + "\n{oops\n" + good("e4") + "\n", "bad_line", "line 3: invalid JSON"},
		{"a bad type", good("e5") + "\n" + strings.Replace(good("e6"), `"type":"a"`, `"type":"A B"`, 1) + "\n", "bad_line", "line 2: type"},
		{"no time", strings.Replace(good("e7"), `"inserted_at"`, `"when"`, 1) + "\n", "bad_line", "line 1: inserted_at is required"},
	}
	for _, c := range cases {
		_, err := client.Import(ctx, strings.NewReader(c.body))
		if inlet.ErrorCode(err) != inlet.EINVALID || inlet.ErrorReason(err) != c.code || !strings.Contains(inlet.ErrorMessage(err), c.message) {
			t.Errorf("%s: Import error %v; want %s with %q", c.name, err, c.code, c.message)
		}
	}
	for _, id := range []string{"e1", "e2", "e5"} {
		if _, err := client.FindEvent(ctx, id); err != nil {
			t.Errorf("event %s, before the malformed line, is not stored: %v", id, err)
		}
	}
	if _, err := client.FindEvent(ctx, "e4"); inlet.ErrorCode(err) != inlet.ENOTFOUND {
		t.Errorf("event e4, after the malformed line: %v; want not found", err)
	}
}
