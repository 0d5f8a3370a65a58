package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"inlet"
)

// BenchmarkAppend measures a store's side of the group commit: one
// transaction of batch events, each with a ~300-byte body, with a new
// session each or none. open returns a fresh store, closed by the caller's
// cleanup.
func BenchmarkAppend(b *testing.B, open func(b *testing.B) inlet.Store) {
	props := json.RawMessage(`{"event":"order.created","data":{"id":"ord_1234567890","amount":4999,"currency":"usd","customer":{"id":"cus_98765","email":"someone@example.com","name":"Jane Doe"},"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"created":1700000000,"livemode":false}}`)
	headers := map[string]string{"Content-Type": "application/json", "User-Agent": "bench/1.0", "Accept": "*/*", "Content-Length": "300"}
	for _, batch := range []int{1, 64, 512} {
		for _, sessions := range []bool{false, true} {
			b.Run(fmt.Sprintf("batch=%d/sessions=%t", batch, sessions), func(b *testing.B) {
				ctx := context.Background()
				s := open(b)
				intakes := make([]inlet.Intake, batch)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					for j := range intakes {
						e := inlet.Event{ID: inlet.NewID(), Type: "order", InsertedAt: time.Now(), SourceID: "src", Properties: props,
							Context: inlet.RequestContext{Method: "POST", Headers: headers, IP: "127.0.0.1", UserAgent: "bench/1.0"}}
						if sessions {
							e.SessionID = fmt.Sprintf("s-%d-%d", i, j)
						}
						intakes[j] = inlet.Intake{Event: e}
					}
					if _, err := s.Append(ctx, intakes); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkSearch measures a page of the events listing on a store of
// INLET_BENCH_SEARCH_EVENTS events (200000 by default, more than one
// search window): by a property value that no event has (a search of a
// whole window), by one the newest events have, by a type pattern, and
// with no filter. open returns a fresh store.
func BenchmarkSearch(b *testing.B, open func(b *testing.B) inlet.Store) {
	n := 200_000
	if v := os.Getenv("INLET_BENCH_SEARCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("INLET_BENCH_SEARCH_EVENTS=%q is not a count of events", v)
		}
	}
	ctx := context.Background()
	s := open(b)
	start := time.Now().Add(-time.Duration(n) * time.Millisecond)
	headers := map[string]string{"Content-Type": "application/json"}
	intakes := make([]inlet.Intake, 0, 5000)
	for i := 0; i < n; {
		intakes = intakes[:0]
		for ; i < n && len(intakes) < cap(intakes); i++ {
			props := fmt.Sprintf(`{"order":"A-%d","customer":{"email":"c%d@example.com"},"total":%d}`, i, i%1000, i%500)
			intakes = append(intakes, inlet.Intake{Event: inlet.Event{ID: inlet.NewID(), Type: "order.created", InsertedAt: start.Add(time.Duration(i) * time.Millisecond),
				SourceID: "shop", Properties: json.RawMessage(props), Context: inlet.RequestContext{Method: "POST", Headers: headers}}})
		}
		if _, err := s.Append(ctx, intakes); err != nil {
			b.Fatal(err)
		}
	}
	match := func(path, value string) *inlet.PropertyMatch {
		m, err := inlet.ParsePropertyMatch(path, value)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	for _, bc := range []struct {
		name string
		f    inlet.EventFilter
	}{
		{"property=none", inlet.EventFilter{Property: match("order", "none")}},
		{"property=nested,none", inlet.EventFilter{Property: match("customer.email", "none")}},
		{"property=newest", inlet.EventFilter{Property: match("order", fmt.Sprintf("A-%d", n-1))}},
		{"type=order.*", inlet.EventFilter{Type: "order.*"}},
		{"type=none*", inlet.EventFilter{Type: "none*"}},
		{"no_filter", inlet.EventFilter{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.ListEvents(ctx, bc.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
