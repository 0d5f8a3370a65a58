package http

import (
	"net/http"
	"strings"
	"testing"
)

// TestEveryChangeIsAudited holds the audit log's routes to the route table:
// every route that changes something under /api/v1 but a dry run is
// recorded, so that a new one cannot be forgotten.
func TestEveryChangeIsAudited(t *testing.T) {
	s := NewServer(Config{AdminToken: "x"})
	for _, pattern := range s.Patterns() {
		method, path, _ := strings.Cut(pattern, " ")
		if !strings.HasPrefix(path, "/api/v1/") || method == http.MethodGet || method == http.MethodHead || strings.HasSuffix(path, "/try") {
			continue
		}
		if _, ok := auditRoutes[pattern]; !ok {
			t.Errorf("%s changes something and is not in auditRoutes", pattern)
		}
	}
	for pattern := range auditRoutes {
		if _, ok := s.Scope(pattern); !ok {
			t.Errorf("auditRoutes names %q, which is no route", pattern)
		}
	}
}
