package inlet

import "sync"

// SessionCache remembers which profile each known session belongs to, so
// that an event in a known session needs no lookup in the store. It holds
// at most about Size entries: two generations of maps, the older dropped
// whole when the newer fills, and a hit in the older one moved forward, so
// sessions in use stay while the rest age out.
//
// An erasure clears it whole: Clear starts a new epoch, and PutIf drops
// what a batch that began in an older epoch would cache, so that no
// session of an erased person is linked from the cache again.
type SessionCache struct {
	mu       sync.Mutex
	size     int
	current  map[string]string
	previous map[string]string
	epoch    int64 // bumped by Clear
	seen     int64 // the store's erasure count last observed
}

// NewSessionCache returns a cache of at most about size sessions.
func NewSessionCache(size int) *SessionCache {
	if size < 2 {
		size = 2
	}
	return &SessionCache{size: size, current: make(map[string]string)}
}

// Get returns the profile of a session, if it is cached.
func (c *SessionCache) Get(sessionID string) (profileID string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.current[sessionID]; ok {
		return p, true
	}
	if p, ok := c.previous[sessionID]; ok {
		c.put(sessionID, p)
		return p, true
	}
	return "", false
}

// Put records the profile of a session; call it only once the session is
// committed.
func (c *SessionCache) Put(sessionID, profileID string) {
	c.mu.Lock()
	c.put(sessionID, profileID)
	c.mu.Unlock()
}

func (c *SessionCache) put(sessionID, profileID string) {
	if len(c.current) >= c.size/2 {
		c.previous, c.current = c.current, make(map[string]string, c.size/2)
	}
	c.current[sessionID] = profileID
}

// Epoch returns the cache's epoch, for PutIf.
func (c *SessionCache) Epoch() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// PutIf records the profile of a session as Put does, unless the cache
// was cleared since epoch (the batch that read it began before an
// erasure).
func (c *SessionCache) PutIf(epoch int64, sessionID, profileID string) {
	c.mu.Lock()
	if c.epoch == epoch {
		c.put(sessionID, profileID)
	}
	c.mu.Unlock()
}

// Clear drops every session and starts a new epoch.
func (c *SessionCache) Clear() {
	c.mu.Lock()
	c.clear()
	c.mu.Unlock()
}

func (c *SessionCache) clear() {
	c.current, c.previous = make(map[string]string), nil
	c.epoch++
}

// Observe clears the cache when the store's count of erasures (read in a
// transaction that an erasure cannot run beside) differs from the one last
// observed: an erasure on another node may have removed cached sessions.
// It returns the cache's epoch.
func (c *SessionCache) Observe(erasures int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if erasures != c.seen {
		c.seen = erasures
		c.clear()
	}
	return c.epoch
}

// Forget drops a session, for when its profile changes.
func (c *SessionCache) Forget(sessionID string) {
	c.mu.Lock()
	delete(c.current, sessionID)
	delete(c.previous, sessionID)
	c.mu.Unlock()
}

// Len returns how many sessions are cached.
func (c *SessionCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.current) + len(c.previous)
}
