package sqlite

import (
	"errors"
	"io/fs"
	"os"
)

// FileSize returns the bytes the database takes on disk: its file and its
// write-ahead log. It reads two file sizes, no database page.
func (db *DB) FileSize() (int64, error) {
	var total int64
	for _, name := range []string{db.path, db.path + "-wal"} {
		fi, err := os.Stat(name)
		if errors.Is(err, fs.ErrNotExist) && name != db.path {
			continue // no log between checkpoints that truncate it
		} else if err != nil {
			return 0, err
		}
		total += fi.Size()
	}
	return total, nil
}
