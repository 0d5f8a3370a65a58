package inlet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Store is everything a collector needs from a storage backend.
type Store interface {
	SourceStore
	EventStore
	SessionStore
	ProfileStore
	RejectionStore
	Retainer
	CatalogStore
	EventImporter
	DestinationStore
	DeliveryStore
	PrivacyStore
	AuditStore
	SecretStore

	// Ping returns nil when the store can be read and written.
	Ping(ctx context.Context) error

	// Close releases the store; it waits for nothing.
	Close() error
}

// Columns that every store encodes alike.

// TokenSourcesJSON encodes a token's sources as stored: a JSON array, []
// for none.
func TokenSourcesJSON(ids []string) string {
	if len(ids) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

// SetStored fills t's hash and sources from their stored columns: 32
// bytes, and TokenSourcesJSON's array.
func (t *Token) SetStored(hash, sources []byte) error {
	if len(hash) != len(t.Hash) {
		return errors.New("a token hash of the wrong length")
	}
	copy(t.Hash[:], hash)
	if err := json.Unmarshal(sources, &t.Sources); err != nil {
		return fmt.Errorf("a token's sources: %w", err)
	}
	return nil
}

// DestinationColumns encodes the columns of d that hold JSON, its config
// with its secrets sealed by k.
func DestinationColumns(k *Keyring, d *Destination) (filter, config, retry string, err error) {
	f, err := json.Marshal(&d.Filter)
	if err != nil {
		return "", "", "", err
	}
	c, err := k.SealConfig(SecretDestination, d.ID, d.Config)
	if err != nil {
		return "", "", "", err
	}
	r, err := json.Marshal(&d.Retry)
	return string(f), string(c), string(r), err
}

// SetColumns fills d's filter, config and retry from the columns that
// DestinationColumns made, its config's secrets opened by k. Returns
// EUNAVAILABLE when a secret is under a key k lacks.
func (d *Destination) SetColumns(k *Keyring, filter, config, retry []byte) error {
	if err := json.Unmarshal(filter, &d.Filter); err != nil {
		return fmt.Errorf("destination %s: filter: %w", d.ID, err)
	}
	if err := json.Unmarshal(retry, &d.Retry); err != nil {
		return fmt.Errorf("destination %s: retry: %w", d.ID, err)
	}
	var err error
	d.Config, err = k.OpenConfig(SecretDestination, d.ID, config)
	return err
}
