package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"inlet"
	"inlet/sqlite"
)

// TestPlainSecretsAreSealedAtOpen makes a database of before secrets were
// sealed (plain configs, a plain hash key) and opens it: every secret is
// sealed in place and still reads the same; a node without the key then
// refuses to open it, naming the key.
func TestPlainSecretsAreSealedAtOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inlet.db")
	first := openAt(t, path)
	hashKey, err := first.HashKey(ctx) // made sealed; written plain below
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []struct {
		query string
		args  []any
	}{
		{`INSERT INTO sources (id, name, type, enabled, config, created_at, updated_at) VALUES ('gh', 'GitHub', 'webhook', 1, ?, 0, 0)`,
			[]any{`{"verify":{"type":"github","secret":"plain-sender-secret"}}`}},
		{`INSERT INTO destinations (id, name, type, enabled, filter, config, retry, ordered, disable_after, erasure_notices, created_at, updated_at)
			VALUES ('hook', 'Hook', 'webhook', 0, '{}', ?, '{}', 0, '', 0, 0, 0)`,
			[]any{`{"url":"http://127.0.0.1:9/","headers":{"X-Token":"plain-header-secret"}}`}},
		{`UPDATE settings SET value = ? WHERE name = 'hash_key'`, []any{base64.StdEncoding.EncodeToString(hashKey)}},
	} {
		if _, err := raw.ExecContext(ctx, q.query, q.args...); err != nil {
			t.Fatal(err)
		}
	}

	db := openAt(t, path)
	var stored string
	if err := raw.QueryRowContext(ctx, `SELECT group_concat(v, ' ') FROM (SELECT config AS v FROM sources UNION ALL SELECT config FROM destinations UNION ALL SELECT value FROM settings WHERE name = 'hash_key')`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal"} {
		if b, _ := os.ReadFile(name); bytes.Contains(b, []byte("plain-sender-secret")) {
			t.Errorf("%s still holds a plain secret after the first open", filepath.Base(name))
		}
	}
	if strings.Contains(stored, "plain-") || strings.Contains(stored, base64.StdEncoding.EncodeToString(hashKey)) || strings.Count(stored, "enc:v1:") != 3 {
		t.Errorf("after the first open the rows hold %s; want three sealed values and no secret", stored)
	}
	src, err := db.FindSource(ctx, "gh")
	if err != nil || src.Config.Verify.Secret != "plain-sender-secret" {
		t.Errorf("FindSource = %+v, %v; want the secret as it was", src, err)
	}
	dest, err := db.FindDestination(ctx, "hook")
	var config struct{ Headers map[string]string }
	if err != nil || json.Unmarshal(dest.Config, &config) != nil || config.Headers["X-Token"] != "plain-header-secret" {
		t.Errorf("FindDestination = %s, %v; want the header as it was", dest.Config, err)
	}
	if got, err := db.HashKey(ctx); err != nil || string(got) != string(hashKey) {
		t.Errorf("HashKey changed on sealing: %v", err)
	}
	if n, err := db.RotateSecrets(ctx); err != nil || n.Reencrypted != 0 {
		t.Errorf("RotateSecrets under the same key = %+v, %v; want nothing to do", n, err)
	}
	db.Close()

	other, _ := inlet.ParseKeyring(inlet.NewSecretKey())
	keyID := strings.Fields(strings.TrimPrefix(stored, "{"))[0]
	keyID = keyID[strings.Index(keyID, "enc:v1:")+len("enc:v1:"):]
	keyID, _, _ = strings.Cut(keyID, ":")
	_, err = sqlite.Open(ctx, sqlite.Options{Path: path, Secrets: other})
	if inlet.ErrorCode(err) != inlet.EUNAVAILABLE || !strings.Contains(err.Error(), `under secrets key "`+keyID+`", which this node does not have`) {
		t.Errorf("open with another key = %v; want it to name key %s", err, keyID)
	}
}
