package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"inlet"
	"inlet/sqlite"
	"inlet/storetest"
)

// open opens a new database in t's temporary directory, closed at cleanup.
func open(t testing.TB) *sqlite.DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "inlet.db"))
}

// openAt opens the database at path, closed at cleanup.
func openAt(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	return openWith(t, sqlite.Options{Path: path})
}

// openWith opens the database of opts, closed at cleanup.
func openWith(t testing.TB, opts sqlite.Options) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return db
}

// TestStore runs the conformance suite.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) inlet.Store { return open(t) })
}

// TestStoreWithoutOptionalParts runs the conformance suite on a store with
// only inlet.Store's methods: the tests of the optional interfaces
// (inlet.OverviewStore, inlet.TokenStore) are skipped, and the rest pass.
func TestStoreWithoutOptionalParts(t *testing.T) {
	storetest.Run(t, func(t *testing.T) inlet.Store { return struct{ inlet.Store }{open(t)} })
}
