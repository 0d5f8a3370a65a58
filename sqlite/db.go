// Package sqlite is the embedded store: one SQLite file in WAL mode, written
// through a single connection and read through a small pool.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"inlet"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Sync modes: how a commit reaches the disk.
const (
	SyncFull   = "full"   // every commit is fsynced before it returns (the default)
	SyncNormal = "normal" // the log is fsynced at checkpoints only: a power loss may lose the last commits
	SyncOff    = "off"    // never fsynced: a power loss may lose or corrupt recent data
)

// Options configure a DB.
type Options struct {
	// Path is the database file.
	Path string
	// Sync is SyncFull, SyncNormal or SyncOff; "" means SyncFull.
	Sync string
	// CacheMiB is the page cache of each connection; 0 means 32.
	CacheMiB int
	// Sessions is how many sessions' profiles are kept in memory; 0 means
	// 100000.
	Sessions int
	// Secrets is the key ring that secrets are sealed with; nil means the
	// key file secrets.key beside the database, made at the first start.
	Secrets *inlet.Keyring
}

// DB is the SQLite store. It implements inlet.Store.
type DB struct {
	write      *sql.DB // exactly one connection: SQLite has one writer
	read       *sql.DB
	checkpoint *sql.DB // one connection for background checkpoints
	// rejections is one connection of its own for the rejected-request
	// log, so that its writes never wait in the event writer's queue; its
	// commits do not wait for the disk (see AppendRejections).
	rejections *sql.DB
	stop       chan struct{}
	stopped    chan struct{}
	now        func() time.Time
	path       string
	sync       string // SyncFull, SyncNormal or SyncOff

	sessions *inlet.SessionCache // session id to profile id, for committed sessions
	secrets  *inlet.Keyring      // seals the secrets of sources, destinations and settings

	// Prepared on the write connection, by number of rows.
	insertEventsN  map[int]*sql.Stmt
	upsertSessions map[int]*sql.Stmt
	insertProfiles map[int]*sql.Stmt
	// Prepared on the read pool: delivery's reads of the log and of its
	// due rows, which every destination makes many times a second.
	readLog, dueRows *sql.Stmt

	// nextSeq is the seq of the next event inserted, given explicitly
	// rather than left to SQLite (which reuses the seqs of the last rows
	// once they are deleted: an erasure or retention may delete the
	// newest events, and a cursor that passed them would then skip the
	// next ones). Read and moved only while holding the write connection.
	nextSeq atomic.Int64
}

var _ inlet.Store = (*DB)(nil)

// Open opens (creating if needed) the database at opts.Path, migrates it
// and seals any secret it holds in plain.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if err := createFile(ctx, opts.Path); err != nil {
		return nil, err
	}
	db := &DB{path: opts.Path, sync: opts.Sync, now: time.Now, sessions: inlet.NewSessionCache(opts.Sessions), secrets: opts.Secrets}
	if db.secrets == nil {
		var err error
		if db.secrets, err = KeyFile(filepath.Join(filepath.Dir(opts.Path), KeyFileName)); err != nil {
			return nil, err
		}
	}
	if err := db.openWriter(ctx, opts); err != nil {
		return nil, err
	}
	if err := db.openOthers(opts); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.prepare(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.readHead(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("read the log's head %s: %w", opts.Path, err)
	}
	return db, nil
}

// setDefaults fills the zero fields of opts and checks the others.
func (opts *Options) setDefaults() error {
	if opts.Sync == "" {
		opts.Sync = SyncFull
	}
	if opts.Sync != SyncFull && opts.Sync != SyncNormal && opts.Sync != SyncOff {
		return inlet.Errorf(inlet.EINVALID, "sync must be %q, %q or %q", SyncFull, SyncNormal, SyncOff)
	}
	if opts.CacheMiB == 0 {
		opts.CacheMiB = 32
	}
	if opts.Sessions <= 0 {
		opts.Sessions = 100000
	}
	return nil
}

// createFile makes the database's directory and file, readable by its
// owner only.
func createFile(ctx context.Context, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	// The file holds every event: readable by its owner only, whatever the
	// umask. SQLite gives the WAL and shared-memory files the database
	// file's mode, so creating it first is enough.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	if err := create(ctx, path); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

// dsn returns the data source name of a connection to path, and its
// query.
func dsn(path, sync string, cacheMiB int, pragmas ...string) (string, url.Values) {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// Statement journals of multi-row inserts stay in memory instead
	// of spilling to a temporary file past 64 KiB.
	q.Add("_pragma", "temp_store(MEMORY)")
	// Deleted content is overwritten, never left in free space: an
	// erased person's bytes are gone from the file, and not only from
	// its tables (docs/privacy.md).
	q.Add("_pragma", "secure_delete(ON)")
	q.Add("_pragma", "synchronous("+sync+")")
	q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", cacheMiB*1024))
	q.Add("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode(), q
}

// openWriter opens the write connection, migrates the database, seals its
// plain secrets and releases the delivery leases of the last process.
func (db *DB) openWriter(ctx context.Context, opts Options) error {
	var err error
	writeDSN, _ := dsn(opts.Path, opts.Sync, opts.CacheMiB)
	if db.write, err = sql.Open("sqlite", writeDSN); err != nil {
		return err
	}
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxLifetime(0)
	db.write.SetConnMaxIdleTime(0)
	fail := func(err error) error {
		db.write.Close()
		return err
	}
	if err := db.migrate(ctx); err != nil {
		return fail(fmt.Errorf("migrate %s: %w", opts.Path, err))
	}
	// The names of the database and of its log, both created by now, are
	// synced once: SQLite syncs the directory only when it creates the log,
	// which a --sync off store never syncs, and never for the database.
	if err := syncDir(filepath.Dir(opts.Path)); err != nil {
		return fail(err)
	}
	// A database from before secrets were sealed is sealed in one
	// transaction; a secret under a key the ring lacks stops the start.
	if sealed, err := db.reseal(ctx, false); err != nil {
		return fail(fmt.Errorf("secrets of %s: %w", opts.Path, err))
	} else if sealed.Reencrypted > 0 {
		// The plain values are gone from the tables (secure_delete) but
		// not yet from the log's older frames: copy the log into the file
		// and empty it.
		if _, err := db.write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			return fail(fmt.Errorf("secrets of %s: %w", opts.Path, err))
		}
	}
	// One process owns the file (see lock.go in cmd/inlet): the cursor
	// leases of the process that last had it are void, and released at
	// once rather than waited out.
	if _, err := db.write.ExecContext(ctx, `UPDATE delivery_cursors SET owner = '', lease_until = 0 WHERE owner <> ''`); err != nil {
		return fail(fmt.Errorf("release delivery leases %s: %w", opts.Path, err))
	}
	return nil
}

// openOthers opens the connections beside the writer: checkpoints, the
// rejected-request log and the read pool.
func (db *DB) openOthers(opts Options) error {
	// Checkpoints copy the log into the database file from a connection of
	// their own, so that the writer, which would otherwise do it inside a
	// commit every 1000 pages, finds little left to copy and is not held up.
	var err error
	checkpointDSN, q := dsn(opts.Path, opts.Sync, opts.CacheMiB)
	if db.checkpoint, err = sql.Open("sqlite", checkpointDSN); err != nil {
		return err
	}
	db.checkpoint.SetMaxOpenConns(1)
	db.stop, db.stopped = make(chan struct{}), make(chan struct{})
	go db.checkpointLoop()

	// The rejected-request log is diagnostics: in WAL mode, NORMAL commits
	// without an fsync (the next event commit or checkpoint carries its
	// pages to the disk), so a flood of refusals adds no fsync to the
	// disk's queue, and it leaves checkpoints (which do fsync) to the
	// checkpoint loop. A power loss may lose the last second of samples
	// and counts, never events.
	rejectSync := SyncNormal
	if opts.Sync == SyncOff {
		rejectSync = SyncOff
	}
	rejectDSN, _ := dsn(opts.Path, rejectSync, 2, "wal_autocheckpoint(0)")
	if db.rejections, err = sql.Open("sqlite", rejectDSN); err != nil {
		return err
	}
	db.rejections.SetMaxOpenConns(1)
	db.rejections.SetMaxIdleConns(1)

	q.Add("_pragma", "query_only(1)")
	if db.read, err = sql.Open("sqlite", "file:"+opts.Path+"?"+q.Encode()); err != nil {
		return err
	}
	db.read.SetMaxOpenConns(4)
	db.read.SetMaxIdleConns(4)
	return nil
}

// readHead sets nextSeq past every seq a cursor or a replay may have
// passed, whatever was deleted since.
func (db *DB) readHead(ctx context.Context) error {
	var next int64
	if err := db.write.QueryRowContext(ctx, `SELECT 1 + max(
			(SELECT coalesce(max(seq), 0) FROM events),
			(SELECT coalesce(max(position), 0) FROM delivery_cursors),
			(SELECT coalesce(max(release), 0) FROM deliveries))`).Scan(&next); err != nil {
		return err
	}
	db.nextSeq.Store(next)
	return nil
}

// takeSeqs returns the first of n seqs for events inserted by the
// transaction that holds the write connection. A transaction that fails
// after it leaves a gap, which the log does not mind.
func (db *DB) takeSeqs(n int) int64 {
	return db.nextSeq.Add(int64(n)) - int64(n)
}

// PageSize is the page size of a new database: SQLite's default, asked for
// explicitly. 16 KiB pages, which would make a large commit write a quarter
// of the WAL frames, were measured against it once they really applied
// (BENCHMARKS.md) and were no faster: a commit rewrites whole
// pages, so a small one writes four times the bytes. A database keeps the
// page size it was created with.
const PageSize = 4096

// create makes a new database at path with PageSize pages, in WAL mode.
// The page size cannot go through the DSN: the driver runs its pragmas in
// alphabetical order, journal_mode before page_size, and once a database is
// in WAL mode its page size is fixed.
func create(ctx context.Context, path string) error {
	if info, err := os.Stat(path); err == nil && info.Size() > 0 {
		return nil
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", PageSize)); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "PRAGMA journal_mode = WAL") // writes the header: the page size is set
	return err
}

// Rows are written with multi-row statements of these sizes, largest first,
// so that a batch takes a few statements instead of one per row.
var chunkSizes = []int{chunkRows, 8, 1}

const chunkRows = 32

// chunkSize returns the largest statement size that fits n rows.
func chunkSize(n int) int {
	for _, size := range chunkSizes {
		if n >= size {
			return size
		}
	}
	return 1
}

// rowsOf returns "(?, ?), (?, ?)" for n rows of width columns.
func rowsOf(n, width int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

func (db *DB) prepare(ctx context.Context) error {
	db.insertEventsN = make(map[int]*sql.Stmt)
	db.upsertSessions = make(map[int]*sql.Stmt)
	db.insertProfiles = make(map[int]*sql.Stmt)
	for _, n := range chunkSizes {
		stmts := []struct {
			to    map[int]*sql.Stmt
			query string
		}{
			{db.insertEventsN, "INSERT INTO events (seq, id, type, inserted_at, source_id, session_id, profile_id, properties, context, warnings) VALUES " + rowsOf(n, 10)},
			{db.upsertSessions, "INSERT INTO sessions (id, profile_id, created_at) VALUES " + rowsOf(n, 3) + `
				ON CONFLICT (id) DO UPDATE SET profile_id = profile_id RETURNING id, profile_id`},
			{db.insertProfiles, "INSERT INTO profiles (id, created_at) VALUES " + rowsOf(n, 2)},
		}
		for _, st := range stmts {
			stmt, err := db.write.PrepareContext(ctx, st.query)
			if err != nil {
				return err
			}
			st.to[n] = stmt
		}
	}
	var err error
	if db.readLog, err = db.read.PrepareContext(ctx, readLogQuery); err != nil {
		return err
	}
	db.dueRows, err = db.read.PrepareContext(ctx, dueRowsQuery)
	return err
}

// migrate applies the embedded migrations not yet recorded, each in its own
// transaction; the immediate transaction locks out other processes.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		if err := db.apply(ctx, version, name); err != nil {
			return fmt.Errorf("%s: %w", version, err)
		}
	}
	return nil
}

func (db *DB) apply(ctx context.Context, version, name string) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return err
	} else if n > 0 {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, time.Now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}

// Ping checks that the database can be read and that its file can be
// opened for writing. It reads through the read pool and never takes the
// write connection, so that a readiness check does not queue behind
// commits under load.
func (db *DB) Ping(ctx context.Context) error {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		return storeError(err)
	}
	// A read-only file system or file fails here, as the writer would.
	f, err := os.OpenFile(db.path, os.O_WRONLY, 0)
	if err != nil {
		return unavailable(fmt.Errorf("the database file cannot be written: %w", err))
	}
	return f.Close()
}

// checkpointInterval is how often the background checkpoint runs.
const checkpointInterval = 200 * time.Millisecond

// checkpointLoop runs passive checkpoints until Close: they copy what they
// can without blocking readers or the writer.
func (db *DB) checkpointLoop() {
	defer close(db.stopped)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
			// A failure (busy, or the disk) is retried at the next tick;
			// the writer's own checkpoints remain as the safety net.
			db.checkpoint.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// Close closes the connection pools.
func (db *DB) Close() error {
	var errs []error
	if db.stop != nil {
		close(db.stop)
		<-db.stopped
		errs = append(errs, db.checkpoint.Close())
		db.stop = nil
	}
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	if db.rejections != nil {
		errs = append(errs, db.rejections.Close())
	}
	if db.write != nil {
		errs = append(errs, db.write.Close())
	}
	return errors.Join(errs...)
}

// storeError translates a driver error into the error vocabulary, as
// postgres does for its own: a unique violation is ECONFLICT; a value the
// database refuses (a constraint, a string or blob too big) is EINVALID; a
// database that is busy, locked, full, read-only or failing I/O, and a
// commit that ran out of time, are EUNAVAILABLE; anything else (a bug) stays
// internal. The cause is kept for the log.
func storeError(err error) error {
	if err == nil || inlet.ErrorCode(err) != inlet.EINTERNAL {
		return err
	}
	var e *sqlite.Error
	if errors.As(err, &e) {
		switch code := e.Code(); {
		case isUnique(err):
			return fmt.Errorf("%w: %w", inlet.Errorf(inlet.ECONFLICT, "the data conflicts with stored data"), err)
		case code&0xff == sqlite3.SQLITE_CONSTRAINT, code&0xff == sqlite3.SQLITE_TOOBIG, code&0xff == sqlite3.SQLITE_MISMATCH, code&0xff == sqlite3.SQLITE_RANGE:
			return fmt.Errorf("%w: %w", inlet.Errorf(inlet.EINVALID, "the store cannot hold a value of this request"), err)
		case code&0xff == sqlite3.SQLITE_BUSY, code&0xff == sqlite3.SQLITE_LOCKED, code&0xff == sqlite3.SQLITE_FULL,
			code&0xff == sqlite3.SQLITE_IOERR, code&0xff == sqlite3.SQLITE_READONLY, code&0xff == sqlite3.SQLITE_CANTOPEN,
			code&0xff == sqlite3.SQLITE_NOMEM, code&0xff == sqlite3.SQLITE_INTERRUPT, code&0xff == sqlite3.SQLITE_PROTOCOL,
			code&0xff == sqlite3.SQLITE_NOLFS, code&0xff == sqlite3.SQLITE_AUTH:
			return unavailable(err)
		}
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone) ||
		err.Error() == "sql: database is closed" || // database/sql has no exported error for it
		errors.Is(err, os.ErrClosed) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EFBIG) {
		return unavailable(err)
	}
	return err
}

func unavailable(err error) error {
	return fmt.Errorf("%w: %w", inlet.Errorf(inlet.EUNAVAILABLE, "the store cannot be written right now; retry later"), err)
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
