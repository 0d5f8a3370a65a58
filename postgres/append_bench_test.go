package postgres_test

import (
	"context"
	"testing"

	"inlet"
	"inlet/postgres"
	"inlet/postgres/pgtest"
	"inlet/storetest"
)

// BenchmarkAppend measures the store's side of the group commit on
// PostgreSQL; it needs INLET_TEST_POSTGRES.
func BenchmarkAppend(b *testing.B) {
	storetest.BenchmarkAppend(b, func(b *testing.B) inlet.Store {
		db, err := postgres.Open(context.Background(), pgtest.URL(b), postgres.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	})
}

// BenchmarkSearch measures the events listing's searches on PostgreSQL; it
// needs INLET_TEST_POSTGRES.
func BenchmarkSearch(b *testing.B) {
	storetest.BenchmarkSearch(b, func(b *testing.B) inlet.Store {
		db, err := postgres.Open(context.Background(), pgtest.URL(b), postgres.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	})
}
