package collector_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"inlet"
	"inlet/collector"
	"inlet/sqlite"
)

// newCollector is a collector over a real SQLite store that appends
// directly to it, with the sources given.
func newCollector(t *testing.T, sources ...*inlet.Source) (*collector.Collector, *sqlite.DB) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "inlet.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, s := range sources {
		if err := db.CreateSource(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	return collector.New(collector.Config{Sources: inlet.NewSourceCache(db, time.Hour), Appender: db}), db
}

func post(body string) collector.Request {
	return collector.Request{Method: "POST", EventType: "order", Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body), IP: "192.0.2.1"}
}

func countEvents(t *testing.T, db *sqlite.DB) int {
	t.Helper()
	events, err := db.ListEvents(context.Background(), inlet.EventFilter{SourceID: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	return len(events.Items)
}

func TestCollect(t *testing.T) {
	ctx := context.Background()
	limited := &inlet.Source{ID: "shop", Name: "Shop", Type: inlet.SourceTypeWebhook, Enabled: true,
		Config: inlet.SourceConfig{RateLimit: &inlet.RateLimitConfig{PerSecond: 0.001, Burst: 1}}}
	c, db := newCollector(t, limited)

	t.Run("a dry run builds the events, stores nothing and spends no rate limit", func(t *testing.T) {
		source, err := c.Source(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			req := post(`{"total":5}`)
			req.DryRun = true
			res, err := c.Collect(ctx, source, req)
			if err != nil || len(res.Intakes) != 1 || res.Appended != nil || string(res.Intakes[0].Event.Properties) != `{"total":5}` {
				t.Fatalf("dry run: %+v, %v; want one event built and none appended", res, err)
			}
		}
		if n := countEvents(t, db); n != 0 {
			t.Errorf("%d events stored by dry runs, want none", n)
		}
	})
	t.Run("a request is stored, and the next is over the source's rate limit", func(t *testing.T) {
		source, _ := c.Source(ctx, "shop")
		res, err := c.Collect(ctx, source, post(`{"total":5}`))
		if err != nil || len(res.Appended) != 1 || res.Appended[0].EventID == "" {
			t.Fatalf("collect: %+v, %v; want one event stored", res, err)
		}
		_, err = c.Collect(ctx, source, post(`{"total":6}`))
		var refusal *collector.Refusal
		if !errors.As(err, &refusal) || refusal.Unproven || inlet.ErrorReason(err) != "rate_limited" {
			t.Fatalf("second collect: %v; want a rate_limited refusal", err)
		}
		if n := countEvents(t, db); n != 1 {
			t.Errorf("%d events stored, want 1", n)
		}
	})
}

func TestCollectRefusals(t *testing.T) {
	ctx := context.Background()
	c, _ := newCollector(t,
		&inlet.Source{ID: "off", Name: "Off", Type: inlet.SourceTypeWebhook},
		&inlet.Source{ID: "signed", Name: "Signed", Type: inlet.SourceTypeWebhook, Enabled: true,
			Config: inlet.SourceConfig{Verify: &inlet.VerifyConfig{Type: inlet.VerifyHMAC, Secret: "s3cret", Header: "X-Signature"}}},
	)
	unproven := func(t *testing.T, err error, reason string) {
		t.Helper()
		var refusal *collector.Refusal
		if !errors.As(err, &refusal) || !refusal.Unproven || inlet.ErrorReason(err) != reason {
			t.Fatalf("err = %v; want a refusal that proves no source, for %s", err, reason)
		}
	}
	t.Run("an unknown and a disabled source are the same refusal, proving no source", func(t *testing.T) {
		_, err := c.Source(ctx, "nope")
		unproven(t, err, "unknown_source")
		_, err = c.Source(ctx, "off")
		unproven(t, err, "unknown_source")
	})
	t.Run("a request that fails verification proves no source, and the result says why", func(t *testing.T) {
		source, err := c.Source(ctx, "signed")
		if err != nil {
			t.Fatal(err)
		}
		for _, dry := range []bool{false, true} {
			req := post(`{}`)
			req.DryRun = dry
			res, err := c.Collect(ctx, source, req)
			unproven(t, err, inlet.ErrorReason(res.Verification.Err))
			if !res.Verification.Checked || res.Verification.Err == nil || len(res.Intakes) != 0 {
				t.Errorf("dry run %v: verification %+v, %d events; want checked, failed, none built", dry, res.Verification, len(res.Intakes))
			}
		}
	})
	t.Run("a body over the source's limit is refused, in a dry run too", func(t *testing.T) {
		source, _ := c.Source(ctx, "signed")
		req := post(string(make([]byte, source.Config.BodyLimit()+1)))
		req.DryRun = true
		_, err := c.Collect(ctx, source, req)
		var refusal *collector.Refusal
		if !errors.As(err, &refusal) || inlet.ErrorReason(err) != "too_large" {
			t.Fatalf("err = %v; want a too_large refusal", err)
		}
	})
}
