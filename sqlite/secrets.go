package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"inlet"
)

// KeyFileName is the key file made in the database's directory when
// Options.Secrets is nil.
const KeyFileName = "secrets.key"

// KeyFile reads the key ring at path, creating it with one new key (mode
// 0600, synced with its directory) when there is no such file.
func KeyFile(path string) (*inlet.Keyring, error) {
	text, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createKeyFile(path); err != nil {
			return nil, fmt.Errorf("create the secrets key %s: %w", path, err)
		}
		text, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	ring, err := inlet.ParseKeyring(string(text))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ring, nil
}

// createKeyFile writes a new key to a temporary file and links it to path,
// so that a crash leaves either no key file or a whole one, and never
// replaces a key another process made meanwhile.
func createKeyFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".secrets-key-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(inlet.NewSecretKey() + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := linkOnce(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// linkOnce gives the file tmp the name path unless path exists. A file
// system without hard links gets a rename of tmp when path does not exist
// yet: only the process that holds the data directory's lock creates the
// key there, so no other can make one in between.
func linkOnce(tmp, path string) error {
	err := os.Link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	if !errors.Is(err, syscall.ENOTSUP) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.ENOSYS) {
		return err
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Rename(tmp, path)
}

// secretRows reads and writes the rows that hold secrets in one
// transaction, for inlet.Keyring.Reseal.
type secretRows struct{ tx *sql.Tx }

func (r secretRows) SecretRows(ctx context.Context) ([]inlet.SecretRow, error) {
	rows, err := r.tx.QueryContext(ctx, `SELECT 'source', id, config FROM sources
		UNION ALL SELECT 'destination', id, config FROM destinations
		UNION ALL SELECT 'setting', name, value FROM settings WHERE name = 'hash_key'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []inlet.SecretRow
	for rows.Next() {
		var row inlet.SecretRow
		if err := rows.Scan(&row.Kind, &row.ID, &row.Value); err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func (r secretRows) PutSecretRow(ctx context.Context, row inlet.SecretRow) error {
	query := map[string]string{
		inlet.SecretSource:      `UPDATE sources SET config = ? WHERE id = ?`,
		inlet.SecretDestination: `UPDATE destinations SET config = ? WHERE id = ?`,
		inlet.SecretSetting:     `UPDATE settings SET value = ? WHERE name = ?`,
	}[row.Kind]
	_, err := r.tx.ExecContext(ctx, query, string(row.Value), row.ID)
	return err
}

// reseal seals the secrets stored in plain (a database from before they
// were sealed) and, with rotate, re-encrypts the others under the current
// key, in one transaction.
func (db *DB) reseal(ctx context.Context, rotate bool) (inlet.SecretsRotation, error) {
	return db.secrets.ResealIn(ctx, rotate, func(reseal func(inlet.SecretRows) error) error {
		return storeError(db.configTx(ctx, func(tx *sql.Tx) error { return reseal(secretRows{tx}) }))
	})
}

// RotateSecrets re-encrypts every secret under the current key. See
// inlet.SecretStore.
func (db *DB) RotateSecrets(ctx context.Context) (_ inlet.SecretsRotation, err error) {
	defer db.audit(&ctx, "secrets.rotate", inlet.AuditSecrets, "", nil, &err)()
	return db.reseal(ctx, true)
}
