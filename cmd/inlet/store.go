package main

import (
	"context"
	"path/filepath"

	"inlet"
	"inlet/sqlite"
)

// openStore opens the store the configuration names: the SQLite file in the
// data directory by default.
func openStore(ctx context.Context, cfg Config) (inlet.Store, error) {
	return sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(cfg.DataDir, "inlet.db"), Sync: cfg.Sync})
}
