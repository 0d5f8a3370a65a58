package sqlite

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"inlet"
)

func openInternal(t *testing.T, sync string) *DB {
	t.Helper()
	db, err := Open(context.Background(), Options{Path: filepath.Join(t.TempDir(), "inlet.db"), Sync: sync})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func oneIntake() []inlet.Intake {
	return inlet.Intakes(&inlet.Event{ID: inlet.NewID(), Type: "purchase", SourceID: "shop", InsertedAt: time.Now(),
		Properties: json.RawMessage(`{"n":1}`)})
}

// writeSynchronous is the write connection's synchronous setting (2 is FULL).
func writeSynchronous(t *testing.T, db *DB) int {
	t.Helper()
	var level int
	if err := db.write.QueryRowContext(context.Background(), `PRAGMA synchronous`).Scan(&level); err != nil {
		t.Fatal(err)
	}
	return level
}

// Under SyncFull, an unsynced append commits without an fsync and leaves
// the write connection at FULL for every other write; Sync then flushes
// the log, and after a failed flush every later Sync fails.
func TestAppendUnsyncedAndSync(t *testing.T) {
	ctx := context.Background()
	db := openInternal(t, SyncFull)
	if got := writeSynchronous(t, db); got != 2 {
		t.Fatalf("synchronous = %d before any append, want 2 (FULL)", got)
	}
	out, err := db.AppendUnsynced(ctx, oneIntake())
	if err != nil {
		t.Fatal(err)
	}
	if got := writeSynchronous(t, db); got != 2 {
		t.Fatalf("synchronous = %d after AppendUnsynced, want 2 (FULL) for the other writes", got)
	}
	if _, err := db.FindEvent(ctx, out[0].EventID); err != nil {
		t.Fatalf("the committed event is not readable before Sync: %v", err)
	}
	if err := db.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if db.wal == nil || db.wal.Name() != db.path+"-wal" {
		t.Fatalf("Sync flushed %v, want the log %s-wal", db.wal, db.path)
	}

	// A refused append also sets the connection back.
	bad := oneIntake()
	bad[0].Event.Type = "bad type"
	if _, err := db.AppendUnsynced(ctx, bad); inlet.ErrorCode(err) != inlet.EINVALID {
		t.Fatalf("AppendUnsynced of a bad type: %v, want EINVALID", err)
	}
	if got := writeSynchronous(t, db); got != 2 {
		t.Fatalf("synchronous = %d after a refused AppendUnsynced, want 2 (FULL)", got)
	}

	// A flush that fails (here: on a closed descriptor) fails every later
	// Sync too, and Append with it.
	db.wal.Close()
	if err := db.Sync(ctx); inlet.ErrorCode(err) != inlet.EUNAVAILABLE {
		t.Fatalf("Sync on a failed log: %v, want EUNAVAILABLE", err)
	}
	f, err := os.OpenFile(db.path+"-wal", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	db.wal = f
	if err := db.Sync(ctx); inlet.ErrorCode(err) != inlet.EUNAVAILABLE {
		t.Fatalf("Sync after a failed flush: %v, want EUNAVAILABLE until the store is reopened", err)
	}
	if _, err := db.Append(ctx, oneIntake()); inlet.ErrorCode(err) != inlet.EUNAVAILABLE {
		t.Fatalf("Append after a failed flush: %v, want EUNAVAILABLE", err)
	}
}

// Under SyncNormal and SyncOff the connection's own setting applies and
// Sync does nothing.
func TestSyncOnlyUnderFull(t *testing.T) {
	for _, mode := range []string{SyncNormal, SyncOff} {
		db := openInternal(t, mode)
		if _, err := db.AppendUnsynced(context.Background(), oneIntake()); err != nil {
			t.Fatal(err)
		}
		if err := db.Sync(context.Background()); err != nil || db.wal != nil {
			t.Fatalf("%s: Sync = %v, log opened: %v; want nothing done", mode, err, db.wal != nil)
		}
	}
}
