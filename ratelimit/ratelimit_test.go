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
