package inlet_test

import (
	"fmt"
	"testing"

	"inlet"
)

func TestSessionCache(t *testing.T) {
	t.Run("a session put is found with its profile", func(t *testing.T) {
		c := inlet.NewSessionCache(100)
		c.Put("s1", "p1")
		if p, ok := c.Get("s1"); !ok || p != "p1" {
			t.Fatalf("Get(s1) = %q, %v; want p1, true", p, ok)
		}
		if _, ok := c.Get("s2"); ok {
			t.Fatal("Get(s2) found a session never put")
		}
	})
	t.Run("the cache never holds more than its size", func(t *testing.T) {
		c := inlet.NewSessionCache(100)
		for i := 0; i < 10000; i++ {
			c.Put(fmt.Sprint("s", i), "p")
			if c.Len() > 100 {
				t.Fatalf("after %d puts the cache holds %d sessions, more than 100", i+1, c.Len())
			}
		}
	})
	t.Run("a session in use survives while others age out", func(t *testing.T) {
		c := inlet.NewSessionCache(100)
		c.Put("hot", "p-hot")
		for i := 0; i < 1000; i++ {
			c.Put(fmt.Sprint("cold", i), "p")
			if _, ok := c.Get("hot"); !ok {
				t.Fatalf("the session in use was dropped after %d other puts", i+1)
			}
		}
		if _, ok := c.Get("cold0"); ok {
			t.Fatal("the oldest unused session is still cached after 1000 newer ones")
		}
	})
	t.Run("a forgotten session is not found", func(t *testing.T) {
		c := inlet.NewSessionCache(100)
		c.Put("s1", "p1")
		c.Forget("s1")
		if _, ok := c.Get("s1"); ok {
			t.Fatal("Get found a forgotten session")
		}
	})
}
