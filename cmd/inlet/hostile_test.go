package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"inlet/postgres/pgtest"
)

// These tests play a hostile or careless sender against a running Main, on
// SQLite and on PostgreSQL, and check that it costs the other senders
// nothing.

// hostileResult is what one request of a hostile test got.
type hostileResult struct {
	name   string
	status int
	body   []byte
	err    error
}

// send posts body to url with the headers given as name, value pairs.
func send(client *http.Client, name, url, body string, kv ...string) hostileResult {
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		return hostileResult{name: name, err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header[kv[i]] = []string{kv[i+1]}
	}
	resp, err := client.Do(req)
	if err != nil {
		return hostileResult{name: name, err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return hostileResult{name: name, status: resp.StatusCode, body: b, err: err}
}

func TestPoisonedRequestsAmongGoodOnes(t *testing.T) {
	t.Run("on SQLite", func(t *testing.T) {
		cfg := liveConfig(t)
		cfg.BatchWait = 20 * time.Millisecond // every round's requests share commits
		poisonAmongGood(t, startLive(t, cfg))
	})
	t.Run("on PostgreSQL", func(t *testing.T) {
		cfg := liveConfig(t)
		cfg.DB = pgtest.URL(t)
		cfg.BatchWait = 20 * time.Millisecond
		poisonAmongGood(t, startLive(t, cfg))
	})
}

// poisonAmongGood sends, in rounds, values that some database cannot hold
// in a column of their own (a NUL byte in a dedup key from a path or in an
// identifier, a header dedup key that is not UTF-8, an over-long one)
// together with good events of the same and of other sources. Each poisoned
// request must be refused with a 400 every time it is retried; every good
// one is stored; nothing is answered 503.
func poisonAmongGood(t *testing.T, s *liveServer) {
	s.createSource(map[string]any{"id": "orders", "name": "Orders", "config": map[string]any{
		"dedup": map[string]any{"path": "id"}, "identify_by": map[string]string{"email": "customer.email"},
	}})
	s.createSource(map[string]any{"id": "hooks", "name": "Hooks", "config": map[string]any{
		"dedup": map[string]any{"header": "Idempotency-Key"},
	}})
	s.createSource(map[string]any{"id": "other", "name": "Another sender"})

	poisons := []struct {
		name, path, body string
		header           []string
		reason           string
	}{
		{"a NUL byte in the dedup key at a path", "/collect/order/orders", `{"id": "ord\u0000_1"}`, nil, "bad_dedup_key"},
		{"a NUL byte in an identifier", "/collect/order/orders/sess-p", `{"id": "ord_p2", "customer": {"email": "a\u0000@example.com"}}`, nil, "bad_identifier"},
		{"a header dedup key that is not UTF-8", "/collect/hook/hooks", `{"a": 1}`, []string{"Idempotency-Key", "caf\xe9"}, "bad_dedup_key"},
		{"invalid UTF-8 in a kept header", "/collect/hook/other", `{"a": 1}`, []string{"X-Trace", "\xff\xfe"}, "bad_header"},
	}
	client := &http.Client{Timeout: 30 * time.Second}
	var goodIDs []string
	for round := range 5 {
		var wg sync.WaitGroup
		results := make(chan hostileResult, 64)
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch i % 3 {
				case 0:
					results <- send(client, "good", s.url+"/collect/order/orders/sess-g", fmt.Sprintf(`{"id": "ord_%d_%d", "customer": {"email": "c%d@example.com"}}`, round, i, i))
				case 1:
					results <- send(client, "good", s.url+"/collect/hook/hooks", `{"ok": true}`, "Idempotency-Key", fmt.Sprintf("k-%d-%d", round, i))
				default:
					results <- send(client, "good", s.url+"/collect/page-view/other", `{"page": "/"}`)
				}
			}()
		}
		for _, p := range poisons {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := send(client, p.name, s.url+p.path, p.body, p.header...)
				r.name = p.name + "|" + p.reason
				results <- r
			}()
		}
		wg.Wait()
		close(results)
		for r := range results {
			if r.err != nil {
				t.Fatalf("round %d, %s: %v", round, r.name, r.err)
			}
			if r.name == "good" {
				if r.status != http.StatusOK {
					t.Fatalf("round %d: a good request sharing commits with poisoned ones got %d: %s", round, r.status, r.body)
				}
				var c collected
				if err := json.Unmarshal(r.body, &c); err != nil || len(c.Events) != 1 {
					t.Fatalf("round %d: good answer %s", round, r.body)
				}
				goodIDs = append(goodIDs, c.Events[0])
				continue
			}
			name, reason, _ := strings.Cut(r.name, "|")
			var e struct {
				Error struct{ Code, Message string }
			}
			if r.status != http.StatusBadRequest || json.Unmarshal(r.body, &e) != nil || e.Error.Code != reason {
				t.Fatalf("round %d, %s: status %d %s; want 400 %s, the same on every retry", round, name, r.status, r.body, reason)
			}
			if bytes.ContainsRune(r.body, 0) || bytes.Contains(r.body, []byte("example.com")) || bytes.Contains(r.body, []byte("ord")) || bytes.Contains(r.body, []byte("caf")) {
				t.Fatalf("round %d, %s: the error echoes the value: %s", round, name, r.body)
			}
		}
	}
	for _, id := range goodIDs {
		s.event(id) // fails unless stored
	}
	if len(goodIDs) != 5*30 {
		t.Fatalf("%d good events stored, want %d", len(goodIDs), 5*30)
	}
	// The node is not left failing: the next event is taken at once.
	start := time.Now()
	s.collect("POST", "/collect/page-view/other", header("Content-Type", "application/json"), strings.NewReader(`{"after": true}`))
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a good event after the poisoned rounds took %v", d)
	}
}

func TestLargeBinaryBodyUnderItsLimit(t *testing.T) {
	t.Run("on SQLite", func(t *testing.T) {
		largeBinaryBody(t, startLive(t, liveConfig(t)))
	})
	t.Run("on PostgreSQL", func(t *testing.T) {
		cfg := liveConfig(t)
		cfg.DB = pgtest.URL(t)
		largeBinaryBody(t, startLive(t, cfg))
	})
}

// largeBinaryBody sends a binary body just under its source's 64 MiB limit,
// which is stored as base64 and so larger than the writer's 64 MiB queue:
// it is stored, never answered 503 for its size; one byte over the limit is
// a 413.
func largeBinaryBody(t *testing.T, s *liveServer) {
	const limit = 64 << 20
	s.createSource(map[string]any{"id": "files", "name": "Files", "config": map[string]any{"max_body_bytes": limit}})
	body := make([]byte, limit-1024)
	rand.Read(body)
	status, _, raw := s.do("POST", "/collect/upload/files", header("Content-Type", "application/octet-stream"), bytes.NewReader(body))
	if status != http.StatusOK {
		t.Fatalf("a %d-byte binary body under the source's limit: status %d %s, want 200", len(body), status, raw)
	}
	var c collected
	if err := json.Unmarshal(raw, &c); err != nil || len(c.Events) != 1 {
		t.Fatalf("answer %s", raw)
	}
	var e struct {
		Properties struct {
			RawBase64 string `json:"raw_base64"`
		} `json:"properties"`
	}
	s.admin("GET", "/api/v1/events/"+c.Events[0], nil, http.StatusOK, &e)
	if got := len(e.Properties.RawBase64); got != (len(body)+2)/3*4 {
		t.Fatalf("stored %d base64 characters, want %d", got, (len(body)+2)/3*4)
	}
	over := make([]byte, limit+1)
	status, _, raw = s.do("POST", "/collect/upload/files", header("Content-Type", "application/octet-stream"), bytes.NewReader(over))
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("a body one byte over the limit: status %d %s, want 413", status, raw)
	}
}
