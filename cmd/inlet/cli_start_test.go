package main

import (
	"context"
	"errors"
	"inlet/postgres/pgtest"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runBinary runs the inlet binary with args and returns its output and
// exit code.
func runBinary(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "INLET_DB=", "INLET_ADMIN_TOKEN=", "INLET_DATA=", "INLET_ADDR=")
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("run inlet: %v", err)
	}
	return out.String(), errOut.String(), code
}

// dirEntries lists the names in dir; none when it does not exist.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestStartFailures(t *testing.T) {
	bin := buildInlet(t)

	t.Run("--help of the binary exits 0", func(t *testing.T) {
		for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"events", "list", "--help"}, {"sources", "--help"}} {
			if stdout, stderr, code := runBinary(t, bin, args...); code != 0 || !strings.Contains(stdout, "Usage:") {
				t.Errorf("inlet %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, stdout, stderr)
			}
		}
	})

	t.Run("a bad flag value fails in one line and a hint, before anything is created", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--sync", "fast"}, `inlet failed to start: --sync: "fast" is not full, normal or off`},
			{[]string{"--batch-max", "0"}, "inlet failed to start: --batch-max: must be at least 1, not 0"},
			{[]string{"--addr", "8686"}, `inlet failed to start: --addr: "8686" is not host:port, such as 127.0.0.1:8686 or :8686`},
			{[]string{"--retention", "forever"}, `inlet failed to start: --retention: "forever" is neither days such as 90d nor a duration such as 72h`},
			{[]string{"--db", "mysql://db/inlet"}, "inlet failed to start: --db: want a postgres:// URL (without it, the SQLite file in --data is used)"},
			{[]string{"--queue-size", "many"}, `inlet failed to start: --queue-size: not a number: "many"`},
		} {
			data := filepath.Join(t.TempDir(), "data")
			stdout, stderr, code := runBinary(t, bin, append([]string{"serve", "--data", data}, tc.args...)...)
			want := tc.want + "\nUsage: inlet serve [flags]\nRun 'inlet serve --help' for usage.\n"
			if code != 1 || stderr != want || stdout != "" {
				t.Errorf("serve %s: exit %d, stderr %q, want exit 1 and %q", strings.Join(tc.args, " "), code, stderr, want)
			}
			if names := dirEntries(t, data); len(names) > 0 {
				t.Errorf("serve %s left %v in the data directory", strings.Join(tc.args, " "), names)
			}
		}
	})

	t.Run("a busy port fails without a token, a database or a word of a clean stop", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		data := filepath.Join(t.TempDir(), "data")
		_, stderr, code := runBinary(t, bin, "serve", "--addr", ln.Addr().String(), "--data", data)
		last := strings.TrimRight(stderr, "\n")
		last = last[strings.LastIndex(last, "\n")+1:]
		if code != 1 || !strings.HasPrefix(last, "inlet failed to start: listen tcp "+ln.Addr().String()) || !strings.HasSuffix(last, "address already in use") {
			t.Errorf("exit %d, stderr:\n%s\nwant exit 1 ending with inlet failed to start: ... address already in use", code, stderr)
		}
		if strings.Contains(stderr, "stopped cleanly") {
			t.Errorf("a failed start says it stopped cleanly:\n%s", stderr)
		}
		for _, name := range dirEntries(t, data) {
			if name == tokenFile || strings.HasPrefix(name, "inlet.db") {
				t.Errorf("a failed start left %s in the data directory", name)
			}
		}
	})

	t.Run("a PostgreSQL database that does not exist fails the start", func(t *testing.T) {
		base := os.Getenv("INLET_TEST_POSTGRES")
		if base == "" {
			t.Skip("INLET_TEST_POSTGRES is not set")
		}
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/inlet_no_such_database"
		keyFile := filepath.Join(t.TempDir(), "secrets.key")
		if err := os.WriteFile(keyFile, []byte(pgtest.SecretsKey+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := runBinary(t, bin, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--admin-token", "t", "--db", u.String(), "--secrets-key-file", keyFile)
		if code != 1 || !strings.Contains(stderr, "inlet failed to start: open store:") || !strings.Contains(stderr, "does not exist") || strings.Contains(stderr, "stopped cleanly") {
			t.Errorf("exit %d, stderr:\n%s", code, stderr)
		}
	})

	t.Run("a second serve on the same data directory refuses, naming the first", func(t *testing.T) {
		cfg := liveConfig(t)
		startLive(t, cfg)
		_, stderr, code := runBinary(t, bin, "serve", "--addr", "127.0.0.1:0", "--data", cfg.DataDir)
		want := "inlet failed to start: the data directory " + cfg.DataDir + " is in use by another inlet serve (pid " + strconv.Itoa(os.Getpid()) + "); stop it, or give this one another --data\n"
		if code != 1 || stderr != want {
			t.Errorf("exit %d, stderr %q, want exit 1 and %q", code, stderr, want)
		}
	})
}

func TestDataDirectoryLock(t *testing.T) {
	cfg := liveConfig(t)
	first := startLive(t, cfg)

	second := NewMain(cfg, slog.New(slog.DiscardHandler))
	err := second.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "is in use by another inlet serve") {
		t.Errorf("a second Main on the same data directory: err %v, want it in use", err)
	}
	if err := second.Close(); err != nil {
		t.Errorf("close the refused Main: %v", err)
	}

	// The refused one must not have taken the lock from the first, and the
	// first releases it when it stops.
	other := liveConfig(t)
	other.DataDir = cfg.DataDir
	third := NewMain(other, slog.New(slog.DiscardHandler))
	if err := third.Run(context.Background()); err == nil {
		third.Close()
		t.Fatal("a third Main started while the first still runs")
	}
	third.Close()
	first.stop()
	startLive(t, cfg)
}
