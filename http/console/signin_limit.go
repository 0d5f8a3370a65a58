package console

import (
	"sync"
	"time"
)

// Sign-in limits: a client address may fail signInFailures times within
// signInWindow; then each further failure locks it out for twice as long
// as the last, from signInLockout up to signInMaxLockout. A guesser is
// slowed to a few tries an hour; the right token from another address is
// not held back, and a success forgets the address's failures.
const (
	signInFailures   = 5
	signInWindow     = 15 * time.Minute
	signInLockout    = 30 * time.Second
	signInMaxLockout = 15 * time.Minute
	signInMaxAddrs   = 10000
)

// signInGuard counts the failed sign-ins of each client address.
type signInGuard struct {
	now func() time.Time

	mu     sync.Mutex
	byAddr map[string]*signInTries
}

type signInTries struct {
	failures    int
	last        time.Time
	lockedUntil time.Time
}

// overflowAddr is shared by every new address once the table is full, so
// that many addresses cost a bounded amount of memory and get no more
// tries between them than one.
const overflowAddr = "(overflow)"

func newSignInGuard(now func() time.Time) *signInGuard {
	return &signInGuard{now: now, byAddr: make(map[string]*signInTries)}
}

// locked returns how long addr must wait before it may try again, 0 when
// it may try now.
func (g *signInGuard) locked(addr string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.byAddr[g.key(addr)]
	if t == nil {
		return 0
	}
	return max(t.lockedUntil.Sub(g.now()), 0)
}

// failed records a failed sign-in of addr.
func (g *signInGuard) failed(addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	k := g.key(addr)
	t := g.byAddr[k]
	if t == nil || now.Sub(t.last) > signInWindow && !now.Before(t.lockedUntil) {
		t = &signInTries{}
		g.byAddr[k] = t
	}
	t.failures++
	t.last = now
	if over := t.failures - signInFailures; over >= 0 {
		lock := signInLockout << min(over, 10)
		t.lockedUntil = now.Add(min(lock, signInMaxLockout))
	}
}

// succeeded forgets addr's failures.
func (g *signInGuard) succeeded(addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.byAddr, addr)
}

// key returns addr, or overflowAddr when the table is full of live
// entries; g.mu is held.
func (g *signInGuard) key(addr string) string {
	if _, ok := g.byAddr[addr]; ok || len(g.byAddr) < signInMaxAddrs {
		return addr
	}
	now := g.now()
	for k, t := range g.byAddr {
		if now.Sub(t.last) > signInWindow && !now.Before(t.lockedUntil) {
			delete(g.byAddr, k)
		}
	}
	if len(g.byAddr) < signInMaxAddrs {
		return addr
	}
	return overflowAddr
}
