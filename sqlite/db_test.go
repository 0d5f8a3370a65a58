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
func open(t *testing.T) *sqlite.DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "inlet.db"))
}

// openAt opens the database at path, closed at cleanup.
func openAt(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: path})
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
