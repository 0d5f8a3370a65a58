package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"inlet"
	"inlet/postgres"
	"inlet/sqlite"
)

// brokenSync, when set (only by a build with -tags inlet_brokensync), is
// the SQLite sync mode used whatever --sync says.
var brokenSync string

// openStore opens the store the configuration names: PostgreSQL when DB is
// a postgres:// URL, else the SQLite file in the data directory.
func openStore(ctx context.Context, cfg Config) (inlet.Store, error) {
	secrets, err := cfg.keyring()
	if err != nil {
		return nil, err
	}
	if cfg.DB != "" {
		return postgres.Open(ctx, cfg.DB, postgres.Options{Secrets: secrets})
	}
	sync := cfg.Sync
	if brokenSync != "" {
		sync = brokenSync
	}
	return sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(cfg.DataDir, "inlet.db"), Sync: sync, Secrets: secrets})
}

// secretsKeyEnv holds the key ring itself, for a node that takes no file.
const secretsKeyEnv = "INLET_SECRETS_KEY"

// keyring reads the key ring that --secrets-key-file or $INLET_SECRETS_KEY
// gives; nil when neither does (SQLite then keeps secrets.key beside its
// database).
func (c Config) keyring() (*inlet.Keyring, error) {
	switch {
	case c.SecretsKey != "":
		k, err := inlet.ParseKeyring(c.SecretsKey)
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", secretsKeyEnv, err)
		}
		return k, nil
	case c.SecretsKeyFile != "":
		text, err := os.ReadFile(c.SecretsKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--secrets-key-file: %w", err)
		}
		k, err := inlet.ParseKeyring(string(text))
		if err != nil {
			return nil, fmt.Errorf("--secrets-key-file %s: %w", c.SecretsKeyFile, err)
		}
		return k, nil
	}
	return nil, nil
}

// storeName says which store the configuration names, for the log: never
// the URL, which may hold a password.
func storeName(cfg Config) string {
	if cfg.DB != "" {
		return "postgres"
	}
	return "sqlite"
}

// parseDB checks the value of --db: empty, or a PostgreSQL URL.
func parseDB(s string) (string, error) {
	if s == "" || strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		return s, nil
	}
	return "", fmt.Errorf("want a postgres:// URL (without it, the SQLite file in --data is used)")
}

// parseRetention reads a retention period: days as "90d", or a Go
// duration such as "72h"; "" and "0" keep events forever.
func parseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days such as 90d", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d < 0 {
			return 0, fmt.Errorf("%q is neither days such as 90d nor a duration such as 72h", s)
		}
	}
	return d, nil
}

// retentionInterval is how often old events are deleted. PostgreSQL drops
// a day's partition at once, so deleting more often gains nothing there.
const retentionInterval = time.Hour

// retention deletes events older than its period, and each source's
// events older than its own privacy.retention, at start and then every
// retentionInterval, until stopped.
type retention struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startRetention starts deleting old events of store: those older than
// period (0 keeps them forever), and the events of each source whose
// config sets a retention of its own; and the records of the audit log
// older than auditPeriod (0 keeps them forever).
func startRetention(store inlet.Store, period, auditPeriod time.Duration, logger *slog.Logger) *retention {
	ctx, cancel := context.WithCancel(context.Background())
	ret := &retention{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(ret.done)
		ticker := time.NewTicker(retentionInterval)
		defer ticker.Stop()
		for {
			retainOnce(ctx, store, period, logger)
			pruneAudit(ctx, store, auditPeriod, logger)
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
	return ret
}

// retainOnce runs one round of retention.
func retainOnce(ctx context.Context, store inlet.Store, period time.Duration, logger *slog.Logger) {
	if period > 0 {
		before := time.Now().Add(-period)
		if err := store.DeleteEventsBefore(ctx, before); err != nil && ctx.Err() == nil {
			logger.Warn("retention: deleting old events failed; retrying later", "before", inlet.FormatTime(before), "err", err)
		}
	}
	sources, err := store.ListSources(ctx)
	if err != nil {
		if ctx.Err() == nil {
			logger.Warn("retention: reading the sources failed; retrying later", "err", err)
		}
		return
	}
	for _, src := range sources {
		d := src.Config.Privacy.RetentionPeriod()
		if d <= 0 || (period > 0 && d >= period) {
			continue
		}
		before := time.Now().Add(-d)
		if err := store.DeleteSourceEventsBefore(ctx, src.ID, before); err != nil && ctx.Err() == nil {
			logger.Warn("retention: deleting a source's old events failed; retrying later", "source", src.ID, "before", inlet.FormatTime(before), "err", err)
		}
	}
}

// pruneAudit deletes the records of the audit log older than period.
func pruneAudit(ctx context.Context, store inlet.AuditStore, period time.Duration, logger *slog.Logger) {
	if period <= 0 {
		return
	}
	before := time.Now().Add(-period)
	if _, err := store.DeleteAuditBefore(ctx, before); err != nil && ctx.Err() == nil {
		logger.Warn("retention: deleting old records of the audit log failed; retrying later", "before", inlet.FormatTime(before), "err", err)
	}
}

// stop stops the retention loop and waits for it; a nil retention is
// stopped already.
func (r *retention) stop() {
	if r == nil {
		return
	}
	r.cancel()
	<-r.done
}
