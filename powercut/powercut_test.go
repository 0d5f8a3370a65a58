package powercut_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"inlet/powercut"
)

// requireFUSE skips the test when FUSE cannot be used here, except in CI,
// where a power-loss test that does not run is a failure.
func requireFUSE(t *testing.T) {
	t.Helper()
	if err := powercut.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and FUSE is not usable, so the power-loss tests cannot run: %v", err)
		}
		t.Skipf("FUSE is not usable here (the power-loss tests need it; CI fails instead of skipping): %v", err)
	}
}

// machine is a durable directory and the mount that shows it, remounted
// after each cut as a restarted machine would find its disk.
type machine struct {
	t       *testing.T
	durable string
	mnt     string
	fs      *powercut.FS
}

func newMachine(t *testing.T) *machine {
	t.Helper()
	requireFUSE(t)
	m := &machine{t: t, durable: t.TempDir(), mnt: t.TempDir()}
	m.mount()
	t.Cleanup(func() {
		if m.fs != nil {
			m.fs.Unmount()
		}
	})
	return m
}

func (m *machine) mount() {
	m.t.Helper()
	fs, err := powercut.Mount(m.mnt, m.durable)
	if err != nil {
		m.t.Fatal(err)
	}
	m.fs = fs
}

// restart cuts the power (if it is still on), unmounts and mounts the
// durable directory again.
func (m *machine) restart() {
	m.t.Helper()
	if err := m.fs.Cut(); err != nil {
		m.t.Fatalf("cut: %v", err)
	}
	if err := m.fs.Unmount(); err != nil {
		m.t.Fatalf("unmount: %v", err)
	}
	m.fs = nil
	m.mount()
}

func (m *machine) path(name string) string {
	return filepath.Join(m.mnt, name)
}

// write writes data to the file name at off, creating it, and fsyncs it if
// sync is set.
func (m *machine) write(name string, off int64, data []byte, sync bool) {
	m.t.Helper()
	f, err := os.OpenFile(m.path(name), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		m.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, off); err != nil {
		m.t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			m.t.Fatalf("fsync %s: %v", name, err)
		}
	}
}

// syncDir fsyncs the directory name ("." for the root).
func (m *machine) syncDir(name string) {
	m.t.Helper()
	d, err := os.Open(m.path(name))
	if err != nil {
		m.t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		m.t.Fatalf("fsync directory %s: %v", name, err)
	}
}

// content returns the file's content after the restart, or nil if it does
// not exist.
func (m *machine) content(name string) []byte {
	m.t.Helper()
	b, err := os.ReadFile(m.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		m.t.Fatal(err)
	}
	return b
}

func (m *machine) wantContent(name string, want []byte) {
	m.t.Helper()
	got := m.content(name)
	if got == nil {
		m.t.Errorf("%s does not exist after the restart; want %d bytes", name, len(want))
	} else if !bytes.Equal(got, want) {
		m.t.Errorf("%s holds %d bytes %.40q after the restart; want %d bytes %.40q", name, len(got), got, len(want), want)
	}
}

func (m *machine) wantGone(name string) {
	m.t.Helper()
	if got := m.content(name); got != nil {
		m.t.Errorf("%s exists after the restart (%d bytes); want it gone", name, len(got))
	}
}

func TestCut(t *testing.T) {
	t.Run("unsynced data is gone and synced data stays", func(t *testing.T) {
		m := newMachine(t)
		m.write("a", 0, []byte("synced"), true)
		m.syncDir(".")
		m.write("a", 0, []byte("SYNCED, then more"), false)
		if got := m.content("a"); string(got) != "SYNCED, then more" {
			t.Fatalf("before the cut, a reads %q; want the unsynced write", got)
		}
		m.restart()
		m.wantContent("a", []byte("synced"))
	})
	t.Run("a new file whose directory was not fsynced is gone", func(t *testing.T) {
		m := newMachine(t)
		m.write("new", 0, []byte("data, synced"), true)
		m.restart()
		m.wantGone("new")
	})
	t.Run("a file whose directory was fsynced but not its data is empty", func(t *testing.T) {
		m := newMachine(t)
		m.write("named", 0, []byte("data, never synced"), false)
		m.syncDir(".")
		m.restart()
		m.wantContent("named", []byte{})
	})
	t.Run("a new directory and its file survive once each level is fsynced", func(t *testing.T) {
		m := newMachine(t)
		if err := os.MkdirAll(m.path("d/e"), 0o700); err != nil {
			t.Fatal(err)
		}
		m.write("d/e/f", 0, []byte("deep"), true)
		m.syncDir("d/e")
		m.syncDir("d")
		m.restart()
		m.wantGone("d") // the root was not fsynced: d's name was never durable
		if err := os.MkdirAll(m.path("d/e"), 0o700); err != nil {
			t.Fatal(err)
		}
		m.write("d/e/f", 0, []byte("deep"), true)
		m.syncDir("d/e")
		m.syncDir("d")
		m.syncDir(".")
		m.restart()
		m.wantContent("d/e/f", []byte("deep"))
	})
	t.Run("a rename not synced is undone", func(t *testing.T) {
		m := newMachine(t)
		m.write("old", 0, []byte("content"), true)
		m.syncDir(".")
		if err := os.Rename(m.path("old"), m.path("new")); err != nil {
			t.Fatal(err)
		}
		m.restart()
		m.wantContent("old", []byte("content"))
		m.wantGone("new")

		if err := os.Rename(m.path("old"), m.path("new")); err != nil {
			t.Fatal(err)
		}
		m.syncDir(".")
		m.restart()
		m.wantGone("old")
		m.wantContent("new", []byte("content"))
	})
	t.Run("a rename over a file keeps the replaced file until the directory is synced", func(t *testing.T) {
		m := newMachine(t)
		m.write("target", 0, []byte("the old target"), true)
		m.write("tmp", 0, []byte("the new target"), true)
		m.syncDir(".")
		if err := os.Rename(m.path("tmp"), m.path("target")); err != nil {
			t.Fatal(err)
		}
		m.write("other", 0, []byte("x"), true) // may reuse the replaced inode's number
		m.restart()
		m.wantContent("target", []byte("the old target"))
		m.wantContent("tmp", []byte("the new target"))
		m.wantGone("other")
	})
	t.Run("an unlink not synced is undone", func(t *testing.T) {
		m := newMachine(t)
		m.write("kept", 0, []byte("still here"), true)
		m.syncDir(".")
		if err := os.Remove(m.path("kept")); err != nil {
			t.Fatal(err)
		}
		m.restart()
		m.wantContent("kept", []byte("still here"))
		if err := os.Remove(m.path("kept")); err != nil {
			t.Fatal(err)
		}
		m.syncDir(".")
		m.restart()
		m.wantGone("kept")
	})
	t.Run("a truncation is durable only once synced", func(t *testing.T) {
		m := newMachine(t)
		long := bytes.Repeat([]byte("0123456789"), 1000)
		m.write("t", 0, long, true)
		m.syncDir(".")
		if err := os.Truncate(m.path("t"), 100); err != nil {
			t.Fatal(err)
		}
		m.restart()
		m.wantContent("t", long)

		// Shrunk, grown again by a write past the end, and synced: the
		// bytes between are zeros, not the old content.
		f, err := os.OpenFile(m.path("t"), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(100); err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("end"), 9000); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		want := append(append(append([]byte{}, long[:100]...), make([]byte, 8900)...), "end"...)
		m.restart()
		m.wantContent("t", want)

		// O_TRUNC at open is a truncation too.
		f, err = os.OpenFile(m.path("t"), os.O_RDWR|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		m.restart()
		m.wantContent("t", []byte{})
	})
	t.Run("every operation fails once the power is cut", func(t *testing.T) {
		m := newMachine(t)
		f, err := os.OpenFile(m.path("f"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := m.fs.Cut(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte("x")); !errors.Is(err, syscall.EIO) {
			t.Errorf("write after the cut: %v; want EIO", err)
		}
		if err := f.Sync(); !errors.Is(err, syscall.EIO) {
			t.Errorf("fsync after the cut: %v; want EIO", err)
		}
		if _, err := os.Create(m.path("g")); !errors.Is(err, syscall.EIO) {
			t.Errorf("create after the cut: %v; want EIO", err)
		}
	})
	t.Run("a clean unmount keeps everything", func(t *testing.T) {
		m := newMachine(t)
		m.write("f", 0, []byte("never synced"), false)
		if err := m.fs.Unmount(); err != nil {
			t.Fatal(err)
		}
		m.fs = nil
		m.mount()
		m.wantContent("f", []byte("never synced"))
	})
}

func TestCutAtAChosenMoment(t *testing.T) {
	t.Run("before the nth fsync of a file", func(t *testing.T) {
		m := newMachine(t)
		m.write("log", 0, []byte("one"), true)
		m.syncDir(".")
		m.fs.CutBeforeSync("log", 2)
		m.write("log", 3, []byte("two"), true)
		f, err := os.OpenFile(m.path("log"), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt([]byte("three"), 6)
		if err := f.Sync(); !errors.Is(err, syscall.EIO) {
			t.Errorf("the second fsync: %v; want EIO, the power being cut", err)
		}
		f.Close()
		select {
		case <-m.fs.Down():
		default:
			t.Fatal("the power is still on after the armed fsync")
		}
		m.restart()
		m.wantContent("log", []byte("onetwo"))
	})
	t.Run("after the nth write of a file", func(t *testing.T) {
		m := newMachine(t)
		m.write("log", 0, []byte("one"), true)
		m.syncDir(".")
		m.fs.CutAfterWrite("log", 2)
		f, err := os.OpenFile(m.path("log"), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("two"), 3); err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("three"), 6); err != nil {
			t.Errorf("the armed write: %v; want it to succeed before the cut", err)
		}
		if err := f.Sync(); !errors.Is(err, syscall.EIO) {
			t.Errorf("fsync after the armed write: %v; want EIO", err)
		}
		f.Close()
		m.restart()
		m.wantContent("log", []byte("one"))
	})
}

// openSQLite opens one connection to the SQLite database at path in WAL
// mode, with the synchronous setting given. The connection locks the file
// exclusively, so that SQLite keeps its WAL index in memory instead of a
// shared mapping of a file on the mount: a page fault on such a mapping in
// the process that serves the mount can stop the Go runtime's world with
// the server inside it, which deadlocks.
func openSQLite(t *testing.T, path, synchronous string) (*sql.DB, *sql.Conn) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, pragma := range []string{"busy_timeout = 5000", "locking_mode = EXCLUSIVE", "journal_mode = WAL", "synchronous = " + synchronous} {
		if _, err := conn.ExecContext(context.Background(), "PRAGMA "+pragma); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
	}
	return db, conn
}

// TestSQLiteAfterACut writes to an SQLite database in WAL mode, each commit
// synced, cuts the power in the middle, and checks that the database opens,
// passes its integrity check and holds every commit that returned.
func TestSQLiteAfterACut(t *testing.T) {
	m := newMachine(t)
	ctx := context.Background()
	for round := 1; round <= 3; round++ {
		db, conn := openSQLite(t, m.path("test.db"), "FULL")
		if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS t (round INTEGER, n INTEGER, pad TEXT)`); err != nil {
			t.Fatal(err)
		}
		var committed atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			for n := 1; ; n++ {
				_, err := conn.ExecContext(ctx, `INSERT INTO t VALUES (?, ?, ?)`, round, n, strings.Repeat("p", 500))
				if err != nil {
					return // the power is cut
				}
				committed.Store(int64(n))
			}
		}()
		time.Sleep(time.Duration(100*round) * time.Millisecond)
		if err := m.fs.Cut(); err != nil {
			t.Fatal(err)
		}
		<-done
		acked := committed.Load()
		conn.Close()
		db.Close()
		stats := m.fs.Stats()
		if acked == 0 {
			t.Fatalf("round %d: no commit returned before the cut", round)
		}
		m.restart()

		db, conn = openSQLite(t, m.path("test.db"), "FULL")
		var check string
		if err := conn.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Fatalf("round %d: integrity check: %q, %v", round, check, err)
		}
		var stored int64
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE round = ?`, round).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		db.Close()
		if stored < acked {
			t.Fatalf("round %d: %d rows stored after the cut; %d commits had returned", round, stored, acked)
		}
		t.Logf("round %d: %d commits returned before the cut, %d rows stored after it, integrity ok; before the cut: %+v", round, acked, stored, stats)
	}
}

// TestSQLiteWithoutSyncLosesCommits is the test above with synchronous=OFF:
// the cut must lose commits that returned, or the file system is not
// dropping what a power cut drops.
func TestSQLiteWithoutSyncLosesCommits(t *testing.T) {
	m := newMachine(t)
	ctx := context.Background()
	db, conn := openSQLite(t, m.path("test.db"), "OFF")
	if _, err := conn.ExecContext(ctx, `CREATE TABLE t (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for n := range 100 {
		if _, err := conn.ExecContext(ctx, `INSERT INTO t VALUES (?)`, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.fs.Cut(); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	db.Close()
	m.restart()
	db, conn = openSQLite(t, m.path("test.db"), "OFF")
	defer db.Close()
	defer conn.Close()
	var stored int
	err := conn.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&stored)
	if err == nil && stored == 100 {
		t.Fatalf("all 100 unsynced commits survived the cut")
	}
	t.Logf("after the cut: %d of 100 unsynced commits stored (%v)", stored, err)
}
