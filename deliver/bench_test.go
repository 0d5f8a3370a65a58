package deliver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"inlet"
	"inlet/deliver"
	"inlet/sqlite"
)

// The delivery benchmarks run on a SQLite store (--sync full, the default)
// in a temporary directory and a receiver on 127.0.0.1:
//
//	go test ./deliver -run '^$' -bench Throughput -benchtime 20000x
//	INLET_TEST_NATS=nats://127.0.0.1:4222 go test ./deliver -run '^$' -bench Throughput -benchtime 20000x
//	go test ./deliver -run '^$' -bench Lag -benchtime 1x   # INLET_BENCH_RATE events/s, 7000 by default
//
// INLET_BENCH_IN_FLIGHT sets Options.InFlight (default: the type's).

func benchStore(b *testing.B) store {
	b.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(b.TempDir(), "inlet.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// noopReceiver answers 200 to every request and counts them.
func noopReceiver(b *testing.B, seen func(id string)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		seen(r.Header.Get("webhook-id"))
	}))
	b.Cleanup(srv.Close)
	return srv
}

// fill commits n events in batches of 500 (the size of a busy batch
// writer's commits).
func fill(b *testing.B, s store, n int) {
	b.Helper()
	for i := 0; i < n; i += 500 {
		var batch []*inlet.Event
		for j := i; j < min(n, i+500); j++ {
			batch = append(batch, newEvent("shop", "order.created", j))
		}
		if _, err := s.Append(context.Background(), inlet.Intakes(batch...)); err != nil {
			b.Fatal(err)
		}
	}
}

// throughput measures how fast a backlog of b.N events drains to one
// destination: the events are committed while it is disabled, then it is enabled and timed until the last delivery is
// recorded.
func throughput(b *testing.B, d *inlet.Destination, received func() int64) {
	s := benchStore(b)
	d.Enabled = false
	d.ID, d.Name = "bench", "bench"
	if err := deliver.Validate(d); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateDestination(context.Background(), d); err != nil {
		b.Fatal(err)
	}
	fill(b, s, b.N)
	opts := deliver.Options{}
	if v := os.Getenv("INLET_BENCH_IN_FLIGHT"); v != "" {
		opts.InFlight, _ = strconv.Atoi(v)
	}
	svc := deliver.New(s, opts, discardLogger())
	svc.Start()
	b.Cleanup(func() { svc.Close() })
	waitState(b, s, func(st *inlet.DeliveryState) bool { return st.Pending == b.N })

	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	on := true
	if _, err := s.UpdateDestination(context.Background(), d.ID, inlet.DestinationUpdate{Enabled: &on}); err != nil {
		b.Fatal(err)
	}
	svc.Refresh()
	// Counting at the receiver costs the store nothing; then the store is
	// asked when the last outcome is recorded.
	for received() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	waitState(b, s, func(st *inlet.DeliveryState) bool { return st.Delivered == int64(b.N) })
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	if got := received(); got < int64(b.N) {
		b.Fatalf("the receiver got %d of %d events", got, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	// CPU per event says what a busy machine hides: the events/s two idle
	// cores would give is about 2s divided by it.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func waitState(b *testing.B, s store, done func(*inlet.DeliveryState) bool) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		st, err := s.DeliveryState(context.Background(), "bench", time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if done(st) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("stuck at %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func BenchmarkThroughputWebhook(b *testing.B) {
	var n atomic.Int64
	recv := noopReceiver(b, func(string) { n.Add(1) })
	throughput(b, &inlet.Destination{Type: inlet.DestinationWebhook, Config: webhookConfig(recv.URL, "")}, n.Load)
}

func BenchmarkThroughputNATS(b *testing.B) {
	url := os.Getenv("INLET_TEST_NATS")
	if url == "" {
		b.Skip("INLET_TEST_NATS is not set")
	}
	st, name := testStream(b, url)
	throughput(b, &inlet.Destination{Type: inlet.DestinationNATS, Config: json.RawMessage(`{"url":"` + url + `","subject":"` + name + `.{type}"}`)},
		func() int64 {
			info, err := st.Info(context.Background())
			if err != nil {
				return 0
			}
			return int64(info.State.Msgs)
		})
}

// BenchmarkLag commits events at INLET_BENCH_RATE events/s (7000 by
// default: half of scenario 1's intake in BENCHMARKS.md), in a commit every
// 5 ms as the batch writer makes them under load, for 5 s, and reports the
// time from each commit's return to the event's arrival at the receiver.
func BenchmarkLag(b *testing.B) {
	rate := 7000
	if v := os.Getenv("INLET_BENCH_RATE"); v != "" {
		rate, _ = strconv.Atoi(v)
	}
	var mu sync.Mutex
	committed := map[string]time.Time{}
	var lags []time.Duration
	recv := noopReceiver(b, func(id string) {
		at := time.Now()
		mu.Lock()
		if c, ok := committed[id]; ok {
			lags = append(lags, at.Sub(c))
		}
		mu.Unlock()
	})
	s := benchStore(b)
	createDestination(b, s, &inlet.Destination{ID: "bench", Config: webhookConfig(recv.URL, "")})
	svc := deliver.New(s, deliver.Options{}, discardLogger())
	svc.Start()
	b.Cleanup(func() { svc.Close() })
	time.Sleep(100 * time.Millisecond)

	const tick = 5 * time.Millisecond
	perTick := rate * int(tick) / int(time.Second)
	total := 0
	b.ResetTimer()
	t := time.NewTicker(tick)
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		<-t.C
		batch := make([]*inlet.Event, perTick)
		for i := range batch {
			batch[i] = newEvent("shop", "order.created", total+i)
		}
		if _, err := s.Append(context.Background(), inlet.Intakes(batch...)); err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		mu.Lock()
		for _, e := range batch {
			committed[e.ID] = now
		}
		mu.Unlock()
		svc.Notify()
		total += len(batch)
	}
	t.Stop()
	waitState(b, s, func(st *inlet.DeliveryState) bool { return st.Delivered == int64(total) })
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lags)
	if len(lags) < total*9/10 {
		b.Fatalf("%d lags measured for %d events", len(lags), total)
	}
	q := func(p float64) float64 { return float64(lags[int(p*float64(len(lags)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lags[len(lags)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(total)/5, "events/s")
	fmt.Fprintf(os.Stderr, "lag: %d events at %d/s: p50 %.1f ms, p99 %.1f ms\n", total, rate, q(0.5), q(0.99))
}
