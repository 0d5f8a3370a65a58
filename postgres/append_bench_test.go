package postgres_test

import (
	"testing"

	"inlet"
	"inlet/storetest"
)

// BenchmarkAppend measures the store's side of the group commit on
// PostgreSQL; it needs INLET_TEST_POSTGRES.
func BenchmarkAppend(b *testing.B) {
	storetest.BenchmarkAppend(b, func(b *testing.B) inlet.Store { return open(b) })
}

// BenchmarkSearch measures the events listing's searches on PostgreSQL; it
// needs INLET_TEST_POSTGRES.
func BenchmarkSearch(b *testing.B) {
	storetest.BenchmarkSearch(b, func(b *testing.B) inlet.Store { return open(b) })
}
