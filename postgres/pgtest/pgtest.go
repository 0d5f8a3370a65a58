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
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"inlet"
)

// EnvURL is the environment variable holding the test database URL, for
// example postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvURL = "INLET_TEST_POSTGRES"

// SecretsKey is the key ring of the stores and nodes that tests open on
// a schema from URL: every node of a test must have the same one.
const SecretsKey = "pgtest:cGd0ZXN0LXNlY3JldHMta2V5LTMyLWJ5dGVzLi4uLi4="

// Keyring returns SecretsKey parsed, for postgres.Options.Secrets.
func Keyring() *inlet.Keyring {
	k, err := inlet.ParseKeyring(SecretsKey)
	if err != nil {
		panic(err)
	}
	return k
}

// outage is set while a test of this process holds the database for an
// outage.
var outage atomic.Bool

// URL skips t unless EnvURL is set, creates a new schema, drops it with
// everything in it when t ends, and returns a database URL whose
// search_path is that schema. Close stores opened on it in a cleanup
// registered after calling URL, so that they close before the drop.
//
// While a test holds a schema, no test of any process on the machine
// stops the database (see Outage).
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		t.Skipf("%s is not set: set it to a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run the PostgreSQL tests", EnvURL)
	}
	if !outage.Load() {
		lock(t, false)
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

// Outage is for a test that stops and starts the database server: it waits
// until no test in any process on the machine holds a schema from URL, and
// keeps new ones waiting until t ends. Call it before URL, and do not run
// such tests in parallel with others of the same process that use URL.
func Outage(t testing.TB) {
	t.Helper()
	lock(t, true)
	outage.Store(true)
	t.Cleanup(func() { outage.Store(false) })
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
