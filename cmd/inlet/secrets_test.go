package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"inlet"
	inlethttp "inlet/http"
	"inlet/postgres/pgtest"
)

// The secrets of this test, which no byte of the database may show.
const (
	secretSender = "gh-sender-secret-5f1e0c"
	secretDest   = "whsec_ZGVzdC1zZWNyZXQtOWE3YjQy"
	secretHeader = "header-credential-77d0a1"
	secretURLPwd = "url-password-31c9e4"
)

// TestSecretsAtRest runs the real binary: the secrets of a source and a
// destination never reach the database in clear, a signed sender keeps
// verifying through a key rotation and restarts, and a node without the
// key that sealed a secret refuses to start, naming the key.
func TestSecretsAtRest(t *testing.T) {
	bin := buildInlet(t)
	t.Run("on SQLite, with the key file in the data directory", func(t *testing.T) {
		dir := t.TempDir()
		keyFile := filepath.Join(dir, "secrets.key")
		h := &harness{t: t, bin: bin, dataDir: dir}
		p := h.start()
		if info, err := os.Stat(keyFile); err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("the first start made no key file of mode 0600: %v, %v", info, err)
		}
		createSecrets(t, p)
		p.terminate(30 * time.Second)
		assertNoSecret(t, "the SQLite file and its WAL", sqliteBytes(t, dir))
		testRotation(t, h, keyFile, nil)
	})
	t.Run("on PostgreSQL, with --secrets-key-file", func(t *testing.T) {
		dbURL := pgtest.URL(t)
		keyFile := filepath.Join(t.TempDir(), "secrets.key")
		writeKeys(t, keyFile, inlet.NewSecretKey())
		h := &harness{t: t, bin: bin, dataDir: t.TempDir()}
		extra := []string{"--db", dbURL, "--secrets-key-file", keyFile}
		p := h.start(extra...)
		createSecrets(t, p)
		p.terminate(30 * time.Second)
		assertNoSecret(t, "a dump of the PostgreSQL schema", pgDump(t, dbURL))
		testRotation(t, h, keyFile, extra)

		// A node started without a key is refused at once, in one line
		// that says what to do.
		_, stderr, code := runBinary(t, bin, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--admin-token", "t", "--db", dbURL)
		if code != 1 || !strings.Contains(stderr, "inlet failed to start: --secrets-key-file: PostgreSQL nodes share their secrets key") || !strings.Contains(stderr, "inlet secrets key") {
			t.Errorf("a PostgreSQL node without a key: exit %d, stderr:\n%s", code, stderr)
		}
	})
}

// testRotation rotates the key ring of keyFile the way docs/secrets.md
// says, checking the signed sender after each restart, then starts a node
// that lacks the new key.
func testRotation(t *testing.T, h *harness, keyFile string, extra []string) {
	t.Helper()
	old := readKeys(t, keyFile)
	fresh := inlet.NewSecretKey()
	freshID, _, _ := strings.Cut(fresh, ":")

	// 1. Every node gets the new key, not yet current.
	writeKeys(t, keyFile, old, fresh)
	p := h.start(extra...)
	assertSenderVerifies(t, p)
	p.terminate(30 * time.Second)

	// 2. The new key becomes current: new secrets are sealed with it.
	writeKeys(t, keyFile, fresh, old)
	p = h.start(extra...)
	assertSenderVerifies(t, p)
	// 3. Every stored secret is sealed again with it.
	status, body := secretsAPI(t, p, "POST", "/api/v1/secrets/rotate", "")
	if status != http.StatusOK || !strings.Contains(body, `"key":"`+freshID+`"`) || strings.Contains(body, `"reencrypted":0`) {
		t.Fatalf("rotate = %d %s; want 200 naming key %s and some values re-encrypted", status, body, freshID)
	}
	p.terminate(30 * time.Second)

	// 4. The old key is no longer needed.
	writeKeys(t, keyFile, fresh)
	p = h.start(extra...)
	assertSenderVerifies(t, p)
	if _, body := secretsAPI(t, p, "GET", "/api/v1/destinations/hook", ""); !strings.Contains(body, `"X-Token":"****"`) || strings.Contains(body, secretHeader) {
		t.Errorf("the destination after the rotation shows %s; want its header masked", body)
	}
	p.terminate(30 * time.Second)

	// A node that lacks the key the secrets are sealed with refuses to
	// start, and says which key it needs.
	writeKeys(t, keyFile, inlet.NewSecretKey())
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", h.dataDir, "--admin-token", crashToken}, extra...)
	cmd := exec.Command(h.bin, args...)
	cmd.Env = append(os.Environ(), "INLET_SECRETS_KEY=")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `is encrypted under secrets key "`+freshID+`", which this node does not have`) {
		t.Errorf("a node without key %s: %v, output:\n%s", freshID, err, out)
	}
	writeKeys(t, keyFile, fresh)
}

// createSecrets registers a signed source and a destination whose
// secret, header and URL password are secrets, and checks the sender.
func createSecrets(t *testing.T, p *inletProcess) {
	t.Helper()
	if status, body := secretsAPI(t, p, "POST", "/api/v1/sources",
		`{"id":"gh","name":"GitHub","config":{"verify":{"type":"github","secret":"`+secretSender+`"}}}`); status != http.StatusCreated {
		t.Fatalf("create source = %d %s", status, body)
	}
	if status, body := secretsAPI(t, p, "POST", "/api/v1/destinations",
		`{"id":"hook","name":"Hook","type":"webhook","enabled":false,"config":{"url":"http://user:`+secretURLPwd+`@127.0.0.1:9/hook","secret":"`+secretDest+`","headers":{"X-Token":"`+secretHeader+`"}}}`); status != http.StatusCreated {
		t.Fatalf("create destination = %d %s", status, body)
	}
	assertSenderVerifies(t, p)
}

// assertSenderVerifies sends a signed request (200) and a wrongly signed
// one (401).
func assertSenderVerifies(t *testing.T, p *inletProcess) {
	t.Helper()
	body := []byte(`{"action":"opened"}`)
	for _, tc := range []struct {
		signature string
		want      int
	}{{githubSignature(secretSender, body), http.StatusOK}, {githubSignature("wrong", body), http.StatusUnauthorized}} {
		req, _ := http.NewRequest("POST", p.url+"/collect/push/gh", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", tc.signature)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("collect signed with %s = %d %s; want %d", tc.signature, resp.StatusCode, b, tc.want)
		}
	}
}

func secretsAPI(t *testing.T, p *inletProcess, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, p.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+crashToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func writeKeys(t *testing.T, path string, keys ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readKeys(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// assertNoSecret fails t if data holds any of the test's secrets.
func assertNoSecret(t *testing.T, what string, data []byte) {
	t.Helper()
	if len(data) == 0 {
		t.Fatalf("%s is empty: nothing was checked", what)
	}
	if !bytes.Contains(data, []byte("enc:v1:")) {
		t.Errorf("%s holds no sealed value", what)
	}
	for _, s := range []string{secretSender, secretDest, strings.TrimPrefix(secretDest, "whsec_"), secretHeader, secretURLPwd} {
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("%s holds the secret %q in clear", what, s)
		}
	}
}

// sqliteBytes returns the SQLite database of dir and its WAL, as a grep of
// the files would read them.
func sqliteBytes(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	for _, name := range []string{"inlet.db", "inlet.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// pgDump returns a pg_dump of the test's schema or, without pg_dump, every
// row of its tables as text.
func pgDump(t *testing.T, dbURL string) []byte {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	schema := q.Get("search_path")
	if path, err := exec.LookPath("pg_dump"); err == nil {
		q.Del("search_path")
		u.RawQuery = q.Encode()
		out, err := exec.Command(path, "--schema="+schema, "--no-owner", u.String()).Output()
		if err != nil {
			t.Fatalf("pg_dump: %v", err)
		}
		return out
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, table := range tables {
		var text *string
		if err := conn.QueryRow(ctx, `SELECT string_agg(t::text, E'\n') FROM `+pgx.Identifier{table}.Sanitize()+` t`).Scan(&text); err != nil {
			t.Fatal(err)
		}
		if text != nil {
			all = append(all, *text...)
		}
	}
	return all
}

// TestANodeWithoutTheCurrentKeySaysWhichKey runs two nodes whose key rings
// differ, as they may in the middle of a rotation done out of order: after
// node b rotates to a key node a lacks, node a answers 503 naming that key,
// on the admin API and to the sender, and never a 500.
func TestANodeWithoutTheCurrentKeySaysWhichKey(t *testing.T) {
	dbURL := pgtest.URL(t)
	oldKey, newKey := inlet.NewSecretKey(), inlet.NewSecretKey()
	newID, _, _ := strings.Cut(newKey, ":")
	a := startPGNode(t, dbURL, func(c *Config) { c.SecretsKey = oldKey; c.SourceTTL = 0 })
	b := startPGNode(t, dbURL, func(c *Config) { c.SecretsKey = newKey + "\n" + oldKey; c.SourceTTL = 0 })
	ctx := context.Background()
	if _, err := a.client.CreateSource(ctx, inlethttp.CreateSourceRequest{ID: "gh", Name: "GitHub",
		Config: &inlet.SourceConfig{Verify: &inlet.VerifyConfig{Type: inlet.VerifyGitHub, Secret: secretSender}}}); err != nil {
		t.Fatal(err)
	}
	if rot, err := b.client.RotateSecrets(ctx); err != nil || rot.Key != newID {
		t.Fatalf("rotate on node b = %+v, %v; want key %s", rot, err, newID)
	}
	body := `{"action":"opened"}`
	for _, call := range []struct {
		what string
		req  *http.Request
	}{
		{"GET /api/v1/sources/gh", mustRequest(t, "GET", a.url+"/api/v1/sources/gh", "", "Authorization", "Bearer "+nodeToken)},
		{"a signed collect", mustRequest(t, "POST", a.url+"/collect/push/gh", body, "X-Hub-Signature-256", githubSignature(secretSender, []byte(body)))},
	} {
		resp, err := http.DefaultClient.Do(call.req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(answer), `secrets key \"`+newID+`\", which this node does not have`) {
			t.Errorf("%s on the node without key %s = %d %s; want 503 naming the key", call.what, newID, resp.StatusCode, answer)
		}
	}
	// Node b, which has both keys, serves as before.
	if resp, err := http.DefaultClient.Do(mustRequest(t, "POST", b.url+"/collect/push/gh", body, "X-Hub-Signature-256", githubSignature(secretSender, []byte(body)))); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("a signed collect on node b = %v, %v; want 200", resp, err)
	}
}

func mustRequest(t *testing.T, method, url, body string, headers ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}
