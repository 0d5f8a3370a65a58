package deliver_test

import (
	"bytes"
	"compress/gzip"
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
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

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

// The destination types' benchmarks drain the backlog to their real peers:
//
//	go test ./deliver -run '^$' -bench 'Throughput(Kafka|Files)' -benchtime 100000x
//	INLET_TEST_REDIS=redis://127.0.0.1:6379/0 go test ./deliver -run '^$' -bench ThroughputRedis -benchtime 100000x
//	INLET_TEST_RABBITMQ=amqp://guest:guest@127.0.0.1:5672/ go test ./deliver -run '^$' -bench ThroughputRabbitMQ -benchtime 100000x
//	INLET_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go test ./deliver -run '^$' -bench ThroughputPostgresTable -benchtime 100000x
//
// Kafka's broker (kfake) runs in the benchmark's process: its CPU counts in
// the CPU per event. The others' peers are servers of their own.

// polled returns count called at most every 20ms, the last answer in
// between: the benchmark's loop asks every millisecond.
func polled(count func() int64) func() int64 {
	var last int64
	var at time.Time
	return func() int64 {
		if time.Since(at) >= 20*time.Millisecond {
			last, at = count(), time.Now()
		}
		return last
	}
}

func BenchmarkThroughputKafka(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	brokers, _ := json.Marshal(c.ListenAddrs())
	throughput(b, &inlet.Destination{Type: inlet.DestinationKafka, Config: json.RawMessage(`{"brokers":` + string(brokers) + `,"topic":"bench"}`)},
		polled(func() int64 {
			// The end offsets of the topic's partitions: the records acked.
			req := kmsg.NewPtrListOffsetsRequest()
			t := kmsg.NewListOffsetsRequestTopic()
			t.Topic = "bench"
			for p := range int32(3) {
				part := kmsg.NewListOffsetsRequestTopicPartition()
				part.Partition, part.Timestamp = p, -1
				t.Partitions = append(t.Partitions, part)
			}
			req.Topics = append(req.Topics, t)
			resp, err := req.RequestWith(context.Background(), cl)
			if err != nil {
				return 0
			}
			var n int64
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					n += p.Offset
				}
			}
			return n
		}))
}

func BenchmarkThroughputRedis(b *testing.B) {
	c, u, prefix := redisClient(b)
	throughput(b, &inlet.Destination{Type: inlet.DestinationRedis, Config: json.RawMessage(`{"url":"` + u + `","stream":"` + prefix + `bench","maxlen":0}`)},
		polled(func() int64 { n, _ := c.XLen(context.Background(), prefix+"bench").Result(); return n }))
}

func BenchmarkThroughputRabbitMQ(b *testing.B) {
	ch, u, exchange, queue := rabbitQueue(b)
	throughput(b, &inlet.Destination{Type: inlet.DestinationRabbitMQ, Config: json.RawMessage(`{"url":"` + u + `","exchange":"` + exchange + `","routing_key":"bench"}`)},
		polled(func() int64 {
			q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
			if err != nil {
				return 0
			}
			return int64(q.Messages)
		}))
}

func BenchmarkThroughputPostgresTable(b *testing.B) {
	u, conn := pgTableURL(b)
	throughput(b, &inlet.Destination{Type: inlet.DestinationPostgres, Config: json.RawMessage(`{"url":"` + u + `","table":"bench"}`)},
		polled(func() int64 {
			var n int64
			conn.QueryRow(context.Background(), `SELECT count(*) FROM bench`).Scan(&n)
			return n
		}))
}

func BenchmarkThroughputFilesParquet(b *testing.B) { benchFiles(b, "parquet") }
func BenchmarkThroughputFilesNDJSON(b *testing.B)  { benchFiles(b, "ndjson") }

func benchFiles(b *testing.B, format string) {
	dir := b.TempDir()
	counted := map[string]int64{} // files are whole once they appear
	throughput(b, &inlet.Destination{Type: inlet.DestinationFiles, Config: json.RawMessage(`{"format":"` + format + `","directory":"` + dir + `","max_age":"1s"}`)},
		polled(func() int64 {
			// Each file is named by its first event and holds the events
			// of one batch: count the rows of the Parquet files' footers,
			// or the lines of the gzipped NDJSON.
			var n int64
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
					return nil
				}
				if _, ok := counted[p]; !ok {
					counted[p] = countEvents(b, p, format)
				}
				n += counted[p]
				return nil
			})
			return n
		}))
}

// countEvents returns how many events a file of the files destination
// holds.
func countEvents(b *testing.B, path, format string) int64 {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if format == "parquet" {
		st, _ := f.Stat()
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			b.Fatalf("%s: %v", path, err)
		}
		return pf.NumRows()
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatalf("%s: %v", path, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		b.Fatalf("%s: %v", path, err)
	}
	return int64(bytes.Count(data, []byte("\n")))
}
