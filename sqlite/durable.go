package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
)

// Configuration (sources, destinations) is written durably whatever the
// sync mode: --sync trades the last events of a power cut for speed, never
// the sources that let events in or the destinations that owe deliveries.
// Every configuration change goes through durableExec or durableTx.

// durableExec runs one statement on the write connection, with the record
// of the change ctx carries for the audit log, and syncs its commit to
// disk.
func (db *DB) durableExec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	tx, err := db.durableTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	tx.ctx = context.Background() // execAudited writes the record, or none
	res, err := db.execAudited(ctx, tx.Tx, query, args)
	if err != nil {
		return nil, err
	}
	return res, tx.Commit()
}

// durableTx begins a transaction on the write connection whose commit is
// synced to disk. Its Commit or Rollback gives the connection back.
func (db *DB) durableTx(ctx context.Context) (*syncedTx, error) {
	conn, release, err := db.durable(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		release()
		return nil, storeError(err)
	}
	return &syncedTx{Tx: tx, db: db, ctx: ctx, release: sync.OnceFunc(release)}, nil
}

// syncedTx is a transaction of durableTx.
type syncedTx struct {
	*sql.Tx
	db      *DB
	ctx     context.Context // carries the change to record in the audit log, if any
	release func()
}

// Commit writes the record of the change of its context for the audit
// log, commits, and gives the connection back.
func (tx *syncedTx) Commit() error {
	defer tx.release()
	if err := tx.db.writeAudit(tx.ctx, tx.Tx); err != nil {
		return err
	}
	return tx.Tx.Commit()
}

// Rollback rolls back (if not committed) and gives the connection back.
func (tx *syncedTx) Rollback() error {
	defer tx.release()
	return tx.Tx.Rollback()
}

// durable takes the write connection and sets it to sync every commit
// (synchronous=FULL) until release, which sets the configured mode back.
//
// With --sync off that is not enough: checkpoints have copied earlier
// commits into the database file without syncing it, and the log they came
// from is being overwritten, so a synced log on top of an unsynced file
// could lose or corrupt earlier pages, schema included. A checkpoint with
// FULL first syncs the log and the file, so that what the change then
// commits lands on a durable base.
func (db *DB) durable(ctx context.Context) (*sql.Conn, func(), error) {
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return nil, nil, storeError(err)
	}
	if db.sync == SyncFull {
		return conn, func() { conn.Close() }, nil
	}
	release := func() {
		// The connection is the only writer, so no event commits with FULL
		// meanwhile; should this fail, commits only stay slower.
		conn.ExecContext(context.Background(), "PRAGMA synchronous = "+db.sync)
		conn.Close()
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = FULL"); err != nil {
		release()
		return nil, nil, storeError(err)
	}
	if db.sync == SyncOff {
		var busy, frames, copied int
		if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(FULL)").Scan(&busy, &frames, &copied); err != nil {
			release()
			return nil, nil, storeError(err)
		}
		if busy != 0 {
			release()
			return nil, nil, unavailable(errors.New("readers kept the checkpoint that makes a configuration change durable from completing"))
		}
	}
	return conn, release, nil
}

// syncDir fsyncs a directory, so that the names created in it survive a
// power cut.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
