// Package postgres is the store for several collector nodes sharing one
// PostgreSQL database, through pgx. Events are partitioned by day so that
// retention drops whole partitions.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"inlet"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configure a DB. Zero fields take the defaults shown.
type Options struct {
	// MaxConns bounds the connection pool (pgx's default: 4 or the number
	// of CPUs, whichever is larger; a pool_max_conns in the URL also works).
	MaxConns int32
	// ConnectTimeout bounds one connection attempt when the URL does not
	// set connect_timeout (5s).
	ConnectTimeout time.Duration
	// Sessions is how many sessions' profiles are kept in memory (100000).
	Sessions int
	// Secrets is the key ring that secrets are sealed with: required, and
	// the same on every node.
	Secrets *inlet.Keyring
}

// DB is the PostgreSQL store. It implements inlet.Store. Every method is
// safe to call from several processes against the same database.
type DB struct {
	pool    auditPool
	now     func() time.Time
	secrets *inlet.Keyring // seals the secrets of sources, destinations and settings

	// sessions maps committed session ids to their profiles. A merge
	// moves a session to another profile: this node forgets the session;
	// another node may keep the merged profile's id, which reads resolve to
	// its survivor.
	sessions *inlet.SessionCache

	mu   sync.Mutex
	days map[int64]bool // days (Unix seconds of midnight UTC) known to have a partition
}

var _ inlet.Store = (*DB)(nil)

// Open connects to the database at url (postgres://...), applies the
// migrations it has not seen yet and creates the partitions of the next
// days. Tables live in the first schema of the connection's search_path
// (set it with a search_path parameter in the URL).
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	if opts.Secrets == nil {
		return nil, inlet.Errorf(inlet.EINVALID, "a secrets key is required: every node sharing the database needs the same one")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, inlet.Errorf(inlet.EINVALID, "database URL: %s", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
		if cfg.ConnConfig.ConnectTimeout == 0 {
			cfg.ConnConfig.ConnectTimeout = 5 * time.Second
		}
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "inlet"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, storeError(err)
	}
	if opts.Sessions <= 0 {
		opts.Sessions = 100000
	}
	db := &DB{now: time.Now, days: make(map[int64]bool), sessions: inlet.NewSessionCache(opts.Sessions), secrets: opts.Secrets}
	db.pool = auditPool{Pool: pool, db: db}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate: %w", storeError(err))
	}
	// A database from before secrets were sealed is sealed in one
	// transaction; a secret under a key the ring lacks stops the start.
	if _, err := db.reseal(ctx, false); err != nil {
		pool.Close()
		return nil, fmt.Errorf("secrets: %w", err)
	}
	today := day(db.now())
	if err := db.ensurePartitions(ctx, today, today+daySeconds, today+2*daySeconds); err != nil {
		pool.Close()
		return nil, fmt.Errorf("create partitions: %w", storeError(err))
	}
	return db, nil
}

// lockKey is the advisory lock key for name in the current schema, so that
// stores in different schemas of one database do not wait for each other.
const lockKey = `hashtext(current_schema() || '.inlet.' || $1)`

// migrate applies the embedded migrations not yet recorded, in order, each
// in its own transaction, while holding an advisory lock: nodes starting
// together apply each migration once.
func (db *DB) migrate(ctx context.Context) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`, "migrate"); err != nil {
		return err
	}
	defer func() {
		// A failed unlock leaves the lock to the session's end: close it.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lockKey+`)`, "migrate"); err != nil {
			conn.Conn().Close(context.Background())
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(path.Base(name), ".sql")
		if err := apply(ctx, conn.Conn(), version, name); err != nil {
			return fmt.Errorf("%s: %w", version, err)
		}
	}
	return nil
}

func apply(ctx context.Context, conn *pgx.Conn, version, name string) error {
	var done bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&done); err != nil || done {
		return err
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// No arguments: the simple protocol runs every statement of the file.
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version)
		return err
	})
}

// Ping checks that the database answers and takes writes (it is not a
// read-only replica).
func (db *DB) Ping(ctx context.Context) error {
	var replica bool
	if err := db.pool.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&replica); err != nil {
		return storeError(err)
	} else if replica {
		return inlet.Errorf(inlet.EUNAVAILABLE, "the database is a read-only replica; point the collector at the primary")
	}
	return nil
}

// Close closes the connection pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// storeError translates a driver error into the error vocabulary: unique
// violations are ECONFLICT; data exceptions and other constraint
// violations (a value the database refuses) are EINVALID; a database that cannot be reached, is shutting
// down, out of resources or read-only is EUNAVAILABLE. Other errors of the
// database (bad SQL, a broken constraint) are bugs and stay internal. The
// cause is kept for the log.
func storeError(err error) error {
	if err == nil || inlet.ErrorCode(err) != inlet.EINTERNAL {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		code := pgErr.Code
		switch {
		case code == "23505": // unique_violation
			return fmt.Errorf("%w: %w", inlet.Errorf(inlet.ECONFLICT, "the data conflicts with stored data"), err)
		case strings.HasPrefix(code, "22"), // data exception: a NUL byte, invalid UTF-8, a value too long
			strings.HasPrefix(code, "23"): // integrity constraint violation other than unique
			return fmt.Errorf("%w: %w", inlet.Errorf(inlet.EINVALID, "the store cannot hold a value of this request"), err)
		case strings.HasPrefix(code, "08"), // connection exception
			strings.HasPrefix(code, "53"),    // insufficient resources: disk full, too many connections
			strings.HasPrefix(code, "57"),    // operator intervention: shutdown, query canceled
			strings.HasPrefix(code, "58"),    // system error: I/O
			code == "40001", code == "40P01", // serialization failure, deadlock
			code == "55P03", // lock not available
			code == "25006": // read-only transaction: a replica
			return unavailable(err)
		}
		return err
	}
	// No answer from the database: refused or lost connections, timeouts, a
	// closed pool.
	return unavailable(err)
}

func unavailable(err error) error {
	return fmt.Errorf("%w: %w", inlet.Errorf(inlet.EUNAVAILABLE, "the database cannot be reached right now; retry later"), err)
}
