package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// Readiness must not queue behind commits: with the write connection held
// by a long transaction, as under load, Ping still answers at once.
func TestPingDoesNotWaitForTheWriteConnection(t *testing.T) {
	db, err := Open(context.Background(), Options{Path: filepath.Join(t.TempDir(), "inlet.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.write.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES ('held', 0)`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping while a commit holds the write connection: %v", err)
	}
}
