package postgres_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"inlet"
	"inlet/postgres"
	"inlet/postgres/pgtest"
)

// TestPlainSecretsAreSealedAtOpen makes a database of before secrets were
// sealed (a plain config, a plain hash key) and opens it: every secret is
// sealed in place and still reads the same; a node with another key then
// refuses to open it, naming the key.
func TestPlainSecretsAreSealedAtOpen(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	db, err := postgres.Open(ctx, url, postgres.Options{Secrets: pgtest.Keyring()})
	if err != nil {
		t.Fatal(err)
	}
	hashKey, err := db.HashKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO sources (id, name, type, enabled, config, created_at, updated_at)
		VALUES ('gh', 'GitHub', 'webhook', true, '{"verify":{"type":"basic","username":"ann","password":"plain-password"}}', now(), now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE settings SET value = $1 WHERE name = 'hash_key'`, base64.StdEncoding.EncodeToString(hashKey)); err != nil {
		t.Fatal(err)
	}

	db, err = postgres.Open(ctx, url, postgres.Options{Secrets: pgtest.Keyring()})
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := conn.QueryRow(ctx, `SELECT (SELECT config::text FROM sources WHERE id = 'gh') || ' ' || (SELECT value FROM settings WHERE name = 'hash_key')`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, "plain-password") || strings.Count(stored, "enc:v1:pgtest:") != 2 {
		t.Errorf("after the first open the rows hold %s; want two sealed values and no secret", stored)
	}
	src, err := db.FindSource(ctx, "gh")
	if err != nil || src.Config.Verify.Password != "plain-password" {
		t.Errorf("FindSource = %+v, %v; want the password as it was", src, err)
	}
	if got, err := db.HashKey(ctx); err != nil || string(got) != string(hashKey) {
		t.Errorf("HashKey changed on sealing: %v", err)
	}
	db.Close()

	other, _ := inlet.ParseKeyring(inlet.NewSecretKey())
	_, err = postgres.Open(ctx, url, postgres.Options{Secrets: other})
	if inlet.ErrorCode(err) != inlet.EUNAVAILABLE || !strings.Contains(err.Error(), `under secrets key "pgtest", which this node does not have`) {
		t.Errorf("open with another key = %v; want it to name key pgtest", err)
	}
	if _, err := postgres.Open(ctx, url, postgres.Options{}); inlet.ErrorCode(err) != inlet.EINVALID {
		t.Errorf("open without a key = %v; want EINVALID", err)
	}
}
