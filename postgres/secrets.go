package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"inlet"
)

// secretRows reads and writes the rows that hold secrets in one
// transaction, for inlet.Keyring.Reseal.
type secretRows struct{ tx pgx.Tx }

func (r secretRows) SecretRows(ctx context.Context) ([]inlet.SecretRow, error) {
	rows, err := r.tx.Query(ctx, `SELECT 'source', id, config::text FROM sources
		UNION ALL SELECT 'destination', id, config::text FROM destinations
		UNION ALL SELECT 'setting', name, value FROM settings WHERE name = 'hash_key'`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (inlet.SecretRow, error) {
		var r inlet.SecretRow
		var value string
		err := row.Scan(&r.Kind, &r.ID, &value)
		r.Value = []byte(value)
		return r, err
	})
}

func (r secretRows) PutSecretRow(ctx context.Context, row inlet.SecretRow) error {
	query := map[string]string{
		inlet.SecretSource:      `UPDATE sources SET config = $1 WHERE id = $2`,
		inlet.SecretDestination: `UPDATE destinations SET config = $1 WHERE id = $2`,
		inlet.SecretSetting:     `UPDATE settings SET value = $1 WHERE name = $2`,
	}[row.Kind]
	_, err := r.tx.Exec(ctx, query, string(row.Value), row.ID)
	return err
}

// reseal seals the secrets stored in plain (a database from before they
// were sealed) and, with rotate, re-encrypts the others under the current
// key, in one transaction that holds a lock, so that nodes starting
// together seal each secret once.
func (db *DB) reseal(ctx context.Context, rotate bool) (inlet.SecretsRotation, error) {
	return db.secrets.ResealIn(ctx, rotate, func(reseal func(inlet.SecretRows) error) error {
		return storeError(pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`, "secrets"); err != nil {
				return err
			}
			return reseal(secretRows{tx})
		}))
	})
}

// RotateSecrets re-encrypts every secret under the current key. See
// inlet.SecretStore.
func (db *DB) RotateSecrets(ctx context.Context) (_ inlet.SecretsRotation, err error) {
	defer db.audit(&ctx, "secrets.rotate", inlet.AuditSecrets, "", nil, &err)()
	return db.reseal(ctx, true)
}
