package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"inlet"
	"inlet/sqlite"
	"inlet/storetest"
)

// BenchmarkAppend measures the store's side of the group commit on SQLite:
// each transaction synced.
func BenchmarkAppend(b *testing.B) {
	storetest.BenchmarkAppend(b, func(b *testing.B) inlet.Store {
		db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(b.TempDir(), "bench.db")})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	})
}

// BenchmarkSearch measures the events listing's searches on SQLite.
func BenchmarkSearch(b *testing.B) {
	storetest.BenchmarkSearch(b, func(b *testing.B) inlet.Store {
		db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(b.TempDir(), "bench.db"), Sync: sqlite.SyncOff})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	})
}
