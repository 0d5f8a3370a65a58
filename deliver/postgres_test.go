package deliver_test

import (
	"context"
	"os"
	"testing"

	"inlet/postgres"
	"inlet/postgres/pgtest"
)

// addPostgres adds the PostgreSQL store when the test database is
// configured.
func addPostgres(b map[string]func(t *testing.T) store) {
	if os.Getenv(pgtest.EnvURL) == "" {
		return
	}
	b["postgres"] = func(t *testing.T) store {
		t.Helper()
		db, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{Secrets: pgtest.Keyring()})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
}
