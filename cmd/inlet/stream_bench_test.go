package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// processCPU is the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIntakeWithSubscribers measures collect throughput of a real
// Main (SQLite, the default full sync) with no live stream subscriber,
// with 50 whose filter (another source each) matches none of the events,
// as people watching other senders in the console, and with 50 that each
// receive every event. One op is one collected event; compare events/s.
// The senders and the subscribers run in this process, so cpu-µs/event
// counts their work too, and on a small machine they compete with the
// server for the same cores. dropped_subs says whether a
// subscriber fell behind and was dropped (which would flatter the run).
//
//	go test ./cmd/inlet -run '^$' -bench IntakeWithSubscribers -benchtime 3s -count 3
func BenchmarkIntakeWithSubscribers(b *testing.B) {
	for _, bc := range []struct {
		name     string
		subs     int
		filtered bool
	}{{"subscribers=0", 0, false}, {"subscribers=50,filtered_out", 50, true}, {"subscribers=50,every_event", 50, false}} {
		subs := bc.subs
		b.Run(bc.name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Addr = "127.0.0.1:0"
			cfg.DataDir = b.TempDir()
			cfg.AdminToken = liveAdminToken
			cfg.ShutdownTimeout = 10 * time.Second
			m := NewMain(cfg, slog.New(slog.DiscardHandler))
			if err := m.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
			req, _ := http.NewRequest("POST", m.URL()+"/api/v1/sources", strings.NewReader(`{"id": "bench", "name": "Bench"}`))
			req.Header.Set("Authorization", "Bearer "+liveAdminToken)
			if resp, err := client.Do(req); err != nil || resp.StatusCode != 201 {
				b.Fatalf("create source: %v %v", resp, err)
			}

			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for i := range subs {
				query := ""
				if bc.filtered {
					query = fmt.Sprintf("?source=other-%d", i)
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", m.URL()+"/api/v1/events/stream"+query, nil)
				req.Header.Set("Authorization", "Bearer "+liveAdminToken)
				resp, err := client.Do(req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("subscribe: %v %v", resp, err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}()
			}
			for m.broker.Stats().Subscribers < subs {
				time.Sleep(time.Millisecond)
			}

			body := `{"order": "A-7", "total": 12.5, "items": ["mug", "tea"], "customer": {"email": "someone@example.com"}}`
			b.SetParallelism(16) // 16 × GOMAXPROCS concurrent senders
			b.ResetTimer()
			cpuStart := processCPU()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Post(m.URL()+"/collect/purchase/bench", "application/json", strings.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("collect: %s", resp.Status)
						return
					}
				}
			})
			elapsed := time.Since(start)
			cpu := processCPU() - cpuStart
			b.StopTimer()
			// CPU per event is steadier than events/s on a shared machine: it
			// does not move with what other processes take.
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(m.broker.Stats().Dropped), "dropped_subs")
			cancel()
			wg.Wait()
		})
	}
}
