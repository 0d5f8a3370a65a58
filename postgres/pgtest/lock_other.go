//go:build !unix

package pgtest

import "testing"

// lock does nothing where there is no flock: run the outage test alone.
func lock(t testing.TB, exclusive bool) {}
