package inlet

import (
	"context"
	"sync"
	"time"
)

// SuppressionList answers from memory whether an identifier is suppressed:
// it reads every suppression from the store when its copy is older than
// TTL (the bound on how long a suppression made through another node
// takes to apply here), and learns this node's own at once.
type SuppressionList struct {
	store SuppressionStore
	key   []byte
	ttl   time.Duration
	now   func() time.Time

	mu     sync.Mutex
	hashes map[string]bool
	read   time.Time
}

// NewSuppressionList returns a list over store, whose hashes are made
// with key.
func NewSuppressionList(store SuppressionStore, key []byte, ttl time.Duration) *SuppressionList {
	return &SuppressionList{store: store, key: key, ttl: ttl, now: time.Now}
}

// Suppressed reports whether any identifier of an identity is suppressed.
// An identity without identifiers costs nothing; a store that cannot be
// read is an error (the sender retries), never a silent pass.
func (l *SuppressionList) Suppressed(ctx context.Context, id *Identity) (bool, error) {
	if id == nil || len(id.Identifiers) == 0 {
		return false, nil
	}
	hashes, err := l.current(ctx)
	if err != nil {
		return false, err
	}
	if len(hashes) == 0 {
		return false, nil
	}
	for _, ident := range id.Identifiers {
		if hashes[SuppressionHash(l.key, ident)] {
			return true, nil
		}
	}
	return false, nil
}

func (l *SuppressionList) current(ctx context.Context) (map[string]bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hashes != nil && l.now().Sub(l.read) < l.ttl {
		return l.hashes, nil
	}
	list, err := l.store.Suppressions(ctx)
	if err != nil {
		return nil, err
	}
	l.hashes = make(map[string]bool, len(list))
	for _, h := range list {
		l.hashes[h] = true
	}
	l.read = l.now()
	return l.hashes, nil
}

// Add suppresses identifiers, in the store and at once on this node.
func (l *SuppressionList) Add(ctx context.Context, ids []Identifier) error {
	hashes := make([]string, len(ids))
	for i, id := range ids {
		hashes[i] = SuppressionHash(l.key, id)
	}
	if err := l.store.Suppress(ctx, hashes, l.now()); err != nil {
		return err
	}
	l.mu.Lock()
	l.hashes = nil // read again, with them
	l.mu.Unlock()
	return nil
}

// Remove lifts the suppression of an identifier; it reports whether there
// was one.
func (l *SuppressionList) Remove(ctx context.Context, id Identifier) (bool, error) {
	ok, err := l.store.Unsuppress(ctx, SuppressionHash(l.key, id))
	l.mu.Lock()
	l.hashes = nil
	l.mu.Unlock()
	return ok, err
}
