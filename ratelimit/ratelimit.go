// Package ratelimit holds the per-source token buckets of one node: each
// source with a rate limit gets a bucket that refills at its rate per second
// up to its burst. Buckets live in memory only, so each node limits on its
// own.
package ratelimit

import (
	"math"
	"sync"
	"time"
)

// Limiter holds one token bucket per key. The zero value is not usable; use
// New.
type Limiter struct {
	now func() time.Time

	// maxKeys bounds the table of buckets (0: unbounded); see NewBounded.
	maxKeys int

	mu       sync.Mutex
	buckets  map[string]*bucket
	overflow *bucket // shared by the keys that find the table full
	swept    time.Time
}

type bucket struct {
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

// idleAfter is how long an unused bucket is kept; a full bucket that is
// dropped is the same as a new one, so forgetting it changes nothing.
const idleAfter = 10 * time.Minute

// New returns a Limiter that reads the time from now (time.Now when nil).
func New(now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{now: now, buckets: make(map[string]*bucket)}
}

// NewBounded returns a Limiter whose table holds at most maxKeys buckets,
// for keys a client chooses (such as its address): once the table is full,
// every new key shares one overflow bucket until idle buckets are dropped,
// so that many keys cost a fixed amount of memory and get no more than
// one key's budget between them.
func NewBounded(now func() time.Time, maxKeys int) *Limiter {
	l := New(now)
	l.maxKeys = max(1, maxKeys)
	return l
}

// Len returns the number of buckets held, the overflow bucket aside.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// Allow takes one token from key's bucket, which refills at perSecond up to
// burst. It reports whether a token was there and, when not, how long until
// one will be. A change of perSecond or burst starts the bucket afresh.
func (l *Limiter) Allow(key string, perSecond float64, burst int) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > idleAfter {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil && l.maxKeys > 0 && len(l.buckets) >= l.maxKeys {
		// A full table: sweep at most once a second, so that a flood of
		// new keys does not make every call walk the table.
		if now.Sub(l.swept) > time.Second {
			l.sweep(now)
		}
		if len(l.buckets) >= l.maxKeys {
			if l.overflow == nil || l.overflow.rate != perSecond || l.overflow.burst != float64(burst) {
				l.overflow = &bucket{rate: perSecond, burst: float64(burst), tokens: float64(burst), last: now}
			}
			return take(l.overflow, now)
		}
	}
	if b == nil || b.rate != perSecond || b.burst != float64(burst) {
		b = &bucket{rate: perSecond, burst: float64(burst), tokens: float64(burst), last: now}
		l.buckets[key] = b
	}
	return take(b, now)
}

// sweep drops the buckets unused for idleAfter.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.last) > idleAfter {
			delete(l.buckets, k)
		}
	}
	l.swept = now
}

// take refills b for the time elapsed and takes a token from it.
func take(b *bucket, now time.Time) (bool, time.Duration) {
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(b.burst, b.tokens+elapsed*b.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
	return false, wait
}
