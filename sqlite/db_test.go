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

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) inlet.Store { return open(t) })
}

func TestDelivery(t *testing.T) {
	storetest.RunDelivery(t, func(t *testing.T) inlet.Store { return open(t) })
}

func TestPrivacy(t *testing.T) {
	storetest.RunPrivacy(t, func(t *testing.T) inlet.Store { return open(t) })
}

func TestIntake(t *testing.T) {
	storetest.RunIntake(t, func(t *testing.T) inlet.Store { return open(t) })
}

func TestIdentity(t *testing.T) {
	storetest.RunIdentity(t, func(t *testing.T) inlet.Store { return open(t) })
}

func TestOverview(t *testing.T) {
	storetest.RunOverview(t, func(t *testing.T) inlet.Store { return open(t) })
}

func TestCatalog(t *testing.T) {
	storetest.RunCatalog(t, func(t *testing.T) inlet.Store { return open(t) })
}

func TestTokens(t *testing.T) {
	storetest.RunTokens(t, func(t *testing.T) inlet.Store { return open(t) })
}
