package http

import (
	"testing"

	"inlet"
)

// TestSourceBoundRoutesAreRoutes holds the routes a token bound to sources
// may call to the route table, so that a renamed route is not left behind.
func TestSourceBoundRoutesAreRoutes(t *testing.T) {
	s := NewServer(Config{AdminToken: "x"})
	for pattern := range sourceOf {
		scope, ok := s.Scope(pattern)
		if !ok {
			t.Errorf("sourceOf names %q, which is no route", pattern)
		} else if scope == inlet.ScopeAdmin || scope == ScopePublic {
			t.Errorf("sourceOf names %q, whose scope %q a bound token never has", pattern, scope)
		}
	}
}
