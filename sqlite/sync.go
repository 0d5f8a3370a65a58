package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"

	"inlet"
)

// Under SyncFull every acknowledged event is on the disk before its
// answer, but the group commit need not wait for the disk inside SQLite's
// commit, which holds the one write lock: AppendUnsynced commits with the
// connection set to synchronous=NORMAL (the log's frames are written, not
// flushed), and Sync flushes the log file with fsync. The batch writer
// commits the next batch while the disk flushes the last, and answers a
// batch only after a Sync that began after its commit returned. Every
// other write (sources, destinations, deliveries, migrations) commits with
// synchronous=FULL as before. Checkpoints flush the log before they copy
// it (SQLite does so at NORMAL and above), and the header of a log reused
// after a checkpoint is written before the frames of the commit that
// reuses it, so the one fsync after that commit covers both.

// AppendUnsynced is Append without the wait for the disk: the events are
// committed and readers see them, but they are durable only once a Sync
// that began after AppendUnsynced returned has returned nil. Under
// SyncNormal and SyncOff it is Append.
func (db *DB) AppendUnsynced(ctx context.Context, intakes []inlet.Intake) ([]inlet.Appended, error) {
	if !db.syncWAL {
		return db.appendTx(ctx, db.write, intakes)
	}
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return nil, storeError(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		return nil, storeError(err)
	}
	out, err := db.appendTx(ctx, conn, intakes)
	if _, rerr := conn.ExecContext(context.Background(), `PRAGMA synchronous = FULL`); rerr != nil {
		// A connection that cannot be set back is dropped from the pool,
		// so that no other write commits on it without an fsync.
		conn.Raw(func(any) error { return driver.ErrBadConn })
		if err == nil {
			err = storeError(rerr)
			out = nil
		}
	}
	return out, err
}

// Sync makes every commit of AppendUnsynced that returned before it
// durable. A failed flush is not retried: the kernel may have dropped the
// pages it could not write, so the store answers EUNAVAILABLE to every
// later Sync until it is opened again. Under SyncNormal and SyncOff it does
// nothing.
func (db *DB) Sync(ctx context.Context) error {
	if !db.syncWAL {
		return nil
	}
	db.syncMu.Lock()
	defer db.syncMu.Unlock()
	if db.syncErr != nil {
		return db.syncErr
	}
	if db.wal == nil {
		// The log exists: a commit wrote it, and SQLite keeps it while
		// the store's connections are open.
		f, err := os.OpenFile(db.path+"-wal", os.O_RDWR, 0)
		if err != nil {
			return unavailable(fmt.Errorf("open the log to flush it: %w", err))
		}
		db.wal = f
	}
	if err := db.wal.Sync(); err != nil {
		db.syncErr = unavailable(fmt.Errorf("flush the log: %w; the store must be reopened", err))
		return db.syncErr
	}
	return nil
}

// closeWAL closes the log file Sync opened.
func (db *DB) closeWAL() error {
	db.syncMu.Lock()
	defer db.syncMu.Unlock()
	if db.wal == nil {
		return nil
	}
	err := db.wal.Close()
	db.wal = nil
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}
