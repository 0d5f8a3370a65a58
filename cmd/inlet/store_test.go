package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"inlet"
	"inlet/postgres/pgtest"
	"inlet/sqlite"
)

func TestStoreFlags(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		env       map[string]string
		db        string
		retention time.Duration
		bad       bool
	}{
		{args: nil, db: "", retention: 0},
		{args: []string{"--db", "postgres://u:p@db:5432/inlet?sslmode=disable", "--secrets-key-file", "secrets.key"}, db: "postgres://u:p@db:5432/inlet?sslmode=disable"},
		{env: map[string]string{"INLET_DB": "postgresql://db/inlet", "INLET_SECRETS_KEY": pgtest.SecretsKey}, db: "postgresql://db/inlet"},
		{args: []string{"--db", "postgres://db/inlet"}, bad: true}, // no secrets key
		{args: []string{"--db", "postgres://db/inlet", "--secrets-key-file", "secrets.key"}, env: map[string]string{"INLET_SECRETS_KEY": pgtest.SecretsKey}, bad: true},
		{args: []string{"--db", "inlet.db"}, bad: true},
		{args: []string{"--db", "mysql://db/inlet"}, bad: true},
		{args: []string{"--retention", "90d"}, retention: 90 * 24 * time.Hour},
		{args: []string{"--retention", "72h"}, retention: 72 * time.Hour},
		{args: []string{"--retention", "0"}, retention: 0},
		{env: map[string]string{"INLET_RETENTION": "7d"}, retention: 7 * 24 * time.Hour},
		{args: []string{"--retention", "1d"}, env: map[string]string{"INLET_RETENTION": "7d"}, retention: 24 * time.Hour},
		{args: []string{"--retention", "-3d"}, bad: true},
		{args: []string{"--retention", "-1h"}, bad: true},
		{args: []string{"--retention", "ninety days"}, bad: true},
		{args: []string{"--retention", "1.5d"}, bad: true},
	} {
		cfg, err := ParseServeConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		if tc.bad {
			if err == nil {
				t.Errorf("args %q env %v: accepted, want an error", tc.args, tc.env)
			}
			continue
		}
		if err != nil {
			t.Errorf("args %q env %v: %v", tc.args, tc.env, err)
		} else if cfg.DB != tc.db || cfg.Retention != tc.retention {
			t.Errorf("args %q env %v: db %q retention %s, want %q and %s", tc.args, tc.env, cfg.DB, cfg.Retention, tc.db, tc.retention)
		}
	}
}

func TestRetentionDeletesOldEventsOnStart(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AdminToken = "token"
	cfg.Retention = 48 * time.Hour

	db, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(cfg.DataDir, "inlet.db")})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	now := time.Now().UTC()
	old := &inlet.Event{ID: inlet.NewID(), Type: "old", InsertedAt: now.Add(-72 * time.Hour), SourceID: "s", Properties: json.RawMessage(`{}`)}
	kept := &inlet.Event{ID: inlet.NewID(), Type: "kept", InsertedAt: now.Add(-24 * time.Hour), SourceID: "s", Properties: json.RawMessage(`{}`)}
	if _, err := db.Append(ctx, inlet.Intakes(old, kept)); err != nil {
		t.Fatalf("append: %v", err)
	}
	db.Close()

	m := NewMain(cfg, slog.New(slog.DiscardHandler))
	if err := m.Run(ctx); err != nil {
		m.Close()
		t.Fatalf("run: %v", err)
	}
	defer m.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := m.store.FindEvent(ctx, old.ID)
		if inlet.ErrorCode(err) == inlet.ENOTFOUND {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the event older than the retention is still there after 10s (err %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := m.store.FindEvent(ctx, kept.ID); err != nil {
		t.Fatalf("the event within the retention: %v", err)
	}
}
