package postgres_test

import (
	"context"
	"testing"

	"inlet"
	"inlet/postgres"
	"inlet/postgres/pgtest"
	"inlet/storetest"
)

// open opens a store in a new schema of the test database.
func open(t *testing.T) *postgres.DB {
	t.Helper()
	url := pgtest.URL(t)
	db, err := postgres.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) inlet.Store { return open(t) })
}

func TestIntake(t *testing.T) {
	storetest.RunIntake(t, func(t *testing.T) inlet.Store { return open(t) })
}
