package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"inlet/sqlite"
)

// TestPageSize checks that a new database has the page size the store asks
// for, in every sync mode, and keeps it when opened again.
func TestPageSize(t *testing.T) {
	for _, mode := range []string{sqlite.SyncFull, sqlite.SyncNormal, sqlite.SyncOff} {
		t.Run("a new database with --sync "+mode+" has pages of sqlite.PageSize", func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "inlet.db")
			for range 2 {
				db, err := sqlite.Open(context.Background(), sqlite.Options{Path: path, Sync: mode})
				if err != nil {
					t.Fatal(err)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				if got := pageSize(t, path); got != sqlite.PageSize {
					t.Fatalf("page_size is %d; want %d", got, sqlite.PageSize)
				}
			}
		})
	}
}

func pageSize(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var size int
	if err := db.QueryRow("PRAGMA page_size").Scan(&size); err != nil {
		t.Fatal(err)
	}
	return size
}
