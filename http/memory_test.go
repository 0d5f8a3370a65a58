package http_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestBodyMemoryBudget(t *testing.T) {
	s := newTestServer(t, serverOptions{maxBodyMemory: 1000})
	s.createSource(`{"id": "shop", "name": "Shop"}`)

	t.Run("a body within the budget is stored", func(t *testing.T) {
		resp := s.do("POST", "/collect/order/shop", strings.NewReader(`{"order": "A-1"}`), "Content-Type", "application/json")
		if resp.Status != http.StatusOK {
			t.Fatalf("status %d %s, want 200", resp.Status, resp.Body)
		}
	})

	t.Run("a body larger than the whole budget is answered 503 with Retry-After, not read", func(t *testing.T) {
		body := `{"pad": "` + strings.Repeat("x", 2000) + `"}`
		before := s.eventCount()
		resp := s.do("POST", "/collect/order/shop", strings.NewReader(body), "Content-Type", "application/json")
		if resp.Status != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
		}
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(resp.Body, &e); err != nil || e.Error.Code != "unavailable" {
			t.Fatalf("body %s, want a JSON error with code unavailable", resp.Body)
		}
		if after := s.eventCount(); after != before {
			t.Fatalf("%d events stored, want %d: a refused request must store nothing", after, before)
		}
	})

	t.Run("the budget is given back after each request", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			resp := s.do("POST", "/collect/order/shop", strings.NewReader(`{"pad": "`+strings.Repeat("y", 600)+`"}`), "Content-Type", "application/json")
			if resp.Status != http.StatusOK {
				t.Fatalf("request %d: status %d %s, want 200", i, resp.Status, resp.Body)
			}
		}
	})
}
