package sqlite_test

import (
	"path/filepath"
	"testing"

	"inlet"
	"inlet/sqlite"
	"inlet/storetest"
)

// BenchmarkAppend measures the store's side of the group commit on SQLite:
// each transaction synced.
func BenchmarkAppend(b *testing.B) {
	storetest.BenchmarkAppend(b, func(b *testing.B) inlet.Store { return open(b) })
}

// BenchmarkSearch measures the events listing's searches on SQLite.
func BenchmarkSearch(b *testing.B) {
	storetest.BenchmarkSearch(b, func(b *testing.B) inlet.Store {
		return openWith(b, sqlite.Options{Path: filepath.Join(b.TempDir(), "bench.db"), Sync: sqlite.SyncOff})
	})
}
