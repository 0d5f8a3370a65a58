// Package pgtest gives tests their own PostgreSQL schema in the database
// named by INLET_TEST_POSTGRES, so that they run in parallel and leave
// nothing behind.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable holding the test database URL, for
// example postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvURL = "INLET_TEST_POSTGRES"

// URL skips t unless EnvURL is set, creates a new schema, drops it with
// everything in it when t ends, and returns a database URL whose
// search_path is that schema. Close stores opened on it in a cleanup
// registered after calling URL, so that they close before the drop.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		t.Skipf("%s is not set: set it to a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run the PostgreSQL tests", EnvURL)
	}
	buf := make([]byte, 6)
	rand.Read(buf)
	schema := "inlet_test_" + hex.EncodeToString(buf)

	exec(t, base, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	t.Cleanup(func() { exec(t, base, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE") })

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func exec(t testing.TB, dbURL, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
