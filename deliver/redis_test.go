package deliver_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"inlet"
	"inlet/deliver"
)

// redisClient connects to INLET_TEST_REDIS and returns a stream prefix of
// the test's own, whose keys are deleted when it ends.
func redisClient(t testing.TB) (*redis.Client, string, string) {
	t.Helper()
	u := serviceURL(t, "INLET_TEST_REDIS", "redis://127.0.0.1:6379/0")
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v", u, err)
	}
	prefix := "inlet_test:" + inlet.NewID() + ":"
	t.Cleanup(func() {
		keys, _ := c.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(context.Background(), keys...)
		}
		c.Close()
	})
	return c, u, prefix
}

// readStreams reads every entry of the streams, keyed by their id field.
func readStreams(t *testing.T, c *redis.Client, streams ...string) map[string]redis.XMessage {
	t.Helper()
	got := map[string]redis.XMessage{}
	for _, st := range streams {
		msgs, err := c.XRange(context.Background(), st, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			got[m.Values["id"].(string)] = m
		}
	}
	return got
}

func TestRedisAddsEveryEventOfAMixedLoadToItsStream(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		c, u, prefix := redisClient(t)
		d := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationRedis,
			Config: json.RawMessage(`{"url":"` + u + `","stream":"` + prefix + `{source}"}`)})
		start(t, s, deliver.Options{})
		ids := mixedLoad(t, s)
		waitDelivered(t, s, d.ID, int64(len(ids)), 10*time.Second)
		got := readStreams(t, c, prefix+"shop", prefix+"app")
		ctx := context.Background()
		for _, id := range ids {
			m, ok := got[id]
			if !ok {
				t.Fatalf("no entry of event %s", id)
			}
			e, _ := s.FindEvent(ctx, id)
			want, _ := inlet.EventJSON(e)
			if m.Values["event"] != string(want) || m.Values["type"] != e.Type || m.Values["source"] != e.SourceID {
				t.Fatalf("entry of %s = %v; want event %s", id, m.Values, want)
			}
		}
		if len(got) != len(ids) {
			t.Fatalf("the streams hold %d events; want %d", len(got), len(ids))
		}
	})
}

func TestRedisCapsTheStreamApproximately(t *testing.T) {
	c, u, prefix := redisClient(t)
	s := openSQLite(t)
	d := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationRedis,
		Config: json.RawMessage(`{"url":"` + u + `","stream":"` + prefix + `capped","maxlen":100}`)})
	start(t, s, deliver.Options{})
	appendN(t, s, "shop", "order.created", 2000)
	waitDelivered(t, s, d.ID, 2000, 10*time.Second)
	n, err := c.XLen(context.Background(), prefix+"capped").Result()
	if err != nil {
		t.Fatal(err)
	}
	// MAXLEN ~ trims whole macro nodes (100 entries each by default).
	if n < 100 || n > 400 {
		t.Fatalf("the capped stream holds %d entries; want about 100", n)
	}
}

func TestRedisRefusesAWrongConfigNamingTheField(t *testing.T) {
	for _, tc := range []struct{ config, field string }{
		{`{"stream":"x"}`, "config.url"},
		{`{"url":"http://x","stream":"x"}`, "config.url"},
		{`{"url":"redis://127.0.0.1:6379"}`, "config.stream"},
		{`{"url":"redis://127.0.0.1:6379","stream":"a{b}"}`, "config.stream"},
		{`{"url":"redis://127.0.0.1:6379","stream":"x","maxlen":-1}`, "config.maxlen"},
		{`{"url":"redis://127.0.0.1:6379","stream":"x","maxlen":"big"}`, "maxlen"},
		{`{"url":"redis://127.0.0.1:6379","stream":"x","timeout":"1h"}`, "config.timeout"},
	} {
		assertRefused(t, inlet.DestinationRedis, tc.config, tc.field)
	}
}
