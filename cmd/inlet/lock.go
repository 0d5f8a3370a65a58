package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile is the file in the data directory that one `inlet serve` at a
// time holds a lock on: two servers over one SQLite file and one token
// would each think they own them.
const lockFile = "lock"

// lockDataDir takes the data directory's lock, or says which process holds
// it. The kernel releases the lock when the process ends, however it ends,
// so a crash never leaves a stale lock behind.
func lockDataDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another inlet serve"
			if pid, err := strconv.Atoi(strings.TrimSpace(string(holder))); err == nil {
				who = fmt.Sprintf("another inlet serve (pid %d)", pid)
			}
			return nil, fmt.Errorf("the data directory %s is in use by %s; stop it, or give this one another --data", dir, who)
		}
		return nil, fmt.Errorf("data directory lock %s: %w", path, err)
	}
	// The pid is only for the message above; the lock is what counts.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// unlockDataDir releases the data directory's lock, if held.
func (m *Main) unlockDataDir() {
	if m.lock != nil {
		m.lock.Close() // closing the only descriptor releases the flock
		m.lock = nil
	}
}
