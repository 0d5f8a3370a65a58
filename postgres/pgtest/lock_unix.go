//go:build unix

package pgtest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// lock takes a shared or exclusive flock on a file every test process on
// the machine sees, waiting up to ten minutes; the lock goes with t.
func lock(t testing.TB, exclusive bool) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "inlet-test-postgres.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("open the test lock: %v", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			break
		} else if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			f.Close()
			t.Fatalf("take the test lock: %v", err)
		} else if time.Now().After(deadline) {
			f.Close()
			t.Fatalf("another test held the PostgreSQL test lock for ten minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() { f.Close() })
}
