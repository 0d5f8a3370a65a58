package inlet

import "context"

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
	SecretStore

	// Ping returns nil when the store can be read and written.
	Ping(ctx context.Context) error

	// Close releases the store; it waits for nothing.
	Close() error
}
