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

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
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

// Allow takes one token from key's bucket, which refills at perSecond up to
// burst. It reports whether a token was there and, when not, how long until
// one will be. A change of perSecond or burst starts the bucket afresh.
func (l *Limiter) Allow(key string, perSecond float64, burst int) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > idleAfter {
		for k, b := range l.buckets {
			if now.Sub(b.last) > idleAfter {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.buckets[key]
	if b == nil || b.rate != perSecond || b.burst != float64(burst) {
		b = &bucket{rate: perSecond, burst: float64(burst), tokens: float64(burst), last: now}
		l.buckets[key] = b
	}
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
