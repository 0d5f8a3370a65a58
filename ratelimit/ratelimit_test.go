package ratelimit_test

import (
	"testing"
	"time"

	"inlet/ratelimit"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBurstThenRate(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := ratelimit.New(c.now)
	for i := 0; i < 5; i++ {
		if ok, _ := l.Allow("s", 2, 5); !ok {
			t.Fatalf("request %d of a burst of 5 was refused", i+1)
		}
	}
	ok, wait := l.Allow("s", 2, 5)
	if ok {
		t.Fatal("the 6th request of a burst of 5 was allowed")
	}
	if wait != 500*time.Millisecond {
		t.Errorf("wait = %s, want 500ms at 2 per second", wait)
	}
	c.t = c.t.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("s", 2, 5); !ok {
		t.Error("a request after the bucket refilled one token was refused")
	}
	if ok, _ := l.Allow("s", 2, 5); ok {
		t.Error("a second request with no token left was allowed")
	}
	if ok, _ := l.Allow("other", 2, 5); !ok {
		t.Error("another key shares the bucket")
	}
}

func TestRefillStopsAtBurst(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := ratelimit.New(c.now)
	l.Allow("s", 100, 3)
	c.t = c.t.Add(time.Hour)
	allowed := 0
	for i := 0; i < 10; i++ {
		if ok, _ := l.Allow("s", 100, 3); ok {
			allowed++
		}
	}
	if allowed != 3 {
		t.Errorf("after an hour idle, %d requests passed at once; want the burst of 3", allowed)
	}
}

func TestChangedLimitStartsAfresh(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := ratelimit.New(c.now)
	l.Allow("s", 1, 1)
	if ok, _ := l.Allow("s", 1, 1); ok {
		t.Fatal("an empty bucket allowed a request")
	}
	if ok, _ := l.Allow("s", 1, 2); !ok {
		t.Error("a raised burst did not take effect")
	}
}

func TestBoundedTableSharesOneBucketWhenFull(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := ratelimit.NewBounded(c.now, 3)
	for _, key := range []string{"a", "b", "c"} {
		if ok, _ := l.Allow(key, 1, 1); !ok {
			t.Fatalf("the first request of %s was refused", key)
		}
	}
	// The table is full: new keys share one bucket of burst 1.
	if ok, _ := l.Allow("d", 1, 1); !ok {
		t.Error("the first key past the bound was refused: the overflow bucket starts full")
	}
	for _, key := range []string{"e", "f", "g"} {
		if ok, _ := l.Allow(key, 1, 1); ok {
			t.Errorf("key %s past the bound got a token of its own", key)
		}
	}
	if n := l.Len(); n != 3 {
		t.Errorf("the table holds %d buckets, want the bound of 3", n)
	}
	// Keys in the table keep their own buckets.
	c.t = c.t.Add(time.Second)
	if ok, _ := l.Allow("a", 1, 1); !ok {
		t.Error("a key in the table lost its bucket")
	}
	// Once the buckets are idle, new keys get buckets of their own again.
	c.t = c.t.Add(11 * time.Minute)
	if ok, _ := l.Allow("h", 1, 1); !ok {
		t.Error("a new key after the table emptied was refused")
	}
	if ok, _ := l.Allow("i", 1, 1); !ok {
		t.Error("a second new key after the table emptied shares a bucket")
	}
}
