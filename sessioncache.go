package inlet

import "sync"

// SessionCache remembers which profile each known session belongs to, so
// that an event in a known session needs no lookup in the store. It holds
// at most about Size entries: two generations of maps, the older dropped
// whole when the newer fills, and a hit in the older one moved forward, so
// sessions in use stay while the rest age out.
type SessionCache struct {
	mu       sync.Mutex
	size     int
	current  map[string]string
	previous map[string]string
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
