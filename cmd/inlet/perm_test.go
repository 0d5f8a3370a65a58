package main

import (
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestDataDirectoryModes(t *testing.T) {
	isolateCLIEnv(t)
	// A permissive umask, as on many desktops: Inlet must not rely on the
	// user's to keep events and the token private.
	old := syscall.Umask(0o002)
	defer syscall.Umask(old)

	cfg := liveConfig(t)
	cfg.DataDir = filepath.Join(t.TempDir(), "data", "inlet")
	cfg.AdminToken = "" // generated into the data directory
	s := startLive(t, cfg)
	mustRunInlet(t, "sources", "create", "--id", "shop", "--name", "Shop", "--server", s.url, "--data", cfg.DataDir)
	s.collect("POST", "/collect/purchase/shop", header("Content-Type", "application/json"), strings.NewReader(`{"order": "A-1"}`))
	status, _, _ := s.do("GET", "/readyz", http.Header{}, nil)
	if status != http.StatusOK {
		t.Fatalf("readyz %d", status)
	}

	check := func(t *testing.T) {
		t.Helper()
		seen := map[string]bool{}
		err := filepath.WalkDir(cfg.DataDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			want := fs.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			}
			if info.Mode().Perm() != want {
				t.Errorf("%s has mode %v, want %v", path, info.Mode().Perm(), want)
			}
			seen[d.Name()] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"inlet.db", "admin-token", "secrets.key"} {
			if !seen[name] {
				t.Errorf("no %s in the data directory; it holds %v", name, seen)
			}
		}
	}
	t.Run("while it runs, every file is 0600 and every directory 0700", check)
	s.stop()
	t.Run("after it stopped too", check)
}
