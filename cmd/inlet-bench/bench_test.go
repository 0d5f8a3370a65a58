package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	out := []byte("Running 1s test @ http://127.0.0.1:1\n  2 threads and 64 connections\n" +
		`inlet-bench-result {"requests":1000,"duration_us":2000000,"bytes":5,"p50_us":100,"p99_us":900,"p999_us":1500,"max_us":2000,"mean_us":120.5,"connect":1,"read":2,"write":3,"status":10,"timeout":4}` + "\n")
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.RPS() != 500 {
		t.Errorf("RPS = %v, want 500", r.RPS())
	}
	if r.OK() != 990 {
		t.Errorf("OK = %d, want 990", r.OK())
	}
	if r.SocketErrors() != 10 {
		t.Errorf("SocketErrors = %d, want 10", r.SocketErrors())
	}
	if r.P999US != 1500 {
		t.Errorf("P999US = %d, want 1500", r.P999US)
	}

	t.Run("output without a result line is an error", func(t *testing.T) {
		if _, err := parseWrk([]byte("unable to connect\n")); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestPercentile(t *testing.T) {
	var l latencies
	for i := 1; i <= 1000; i++ {
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 500 * time.Millisecond}, {99, 990 * time.Millisecond}, {99.9, 999 * time.Millisecond}, {100, time.Second}} {
		if got := l.percentile(c.p); got != c.want {
			t.Errorf("p%v = %s, want %s", c.p, got, c.want)
		}
	}
	if got := (latencies{}).percentile(99); got != 0 {
		t.Errorf("p99 of nothing = %s, want 0", got)
	}
}

// recorder is a server that keeps the path of every request it answers.
type recorder struct {
	mu     sync.Mutex
	paths  []string
	bodies map[int]int // body length -> count
	method map[string]int
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.paths = append(rec.paths, r.URL.RequestURI())
	rec.bodies[len(b)]++
	rec.method[r.Method]++
	rec.mu.Unlock()
	noopHandler(w, r)
}

// runScript runs bench/inlet.lua with wrk for one second against a
// recording server and returns the recorder and wrk's result.
func runScript(t *testing.T, l wrkLoad) (*recorder, *wrkResult) {
	t.Helper()
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed (apt-get install wrk)")
	}
	rec := &recorder{bodies: map[int]int{}, method: map[string]int{}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	l.URL = srv.URL
	b := &bench{wrk: wrk, script: filepath.Join("..", "..", "bench", "inlet.lua"), threads: 2, connections: 8,
		wrkTimeout: 5 * time.Second, logDir: t.TempDir()}
	res, err := b.runWrk(context.Background(), l, time.Second, "test")
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 {
		t.Fatal("wrk completed no request")
	}
	return rec, res
}

func TestScript(t *testing.T) {
	t.Run("post sends the ~300-byte JSON body to the path", func(t *testing.T) {
		rec, _ := runScript(t, wrkLoad{Mode: "post", Path: "/collect/purchase/src"})
		if rec.method["POST"] != len(rec.paths) {
			t.Errorf("methods %v, want only POST", rec.method)
		}
		if rec.bodies[len(postBody)] != len(rec.paths) {
			t.Errorf("body lengths %v, want only %d", rec.bodies, len(postBody))
		}
		if !json.Valid([]byte(postBody)) || len(postBody) < 280 || len(postBody) > 340 {
			t.Errorf("postBody is %d bytes or not JSON", len(postBody))
		}
		for _, p := range rec.paths {
			if p != "/collect/purchase/src" {
				t.Fatalf("path %q", p)
			}
		}
	})

	t.Run("known sessions go round robin over all of them", func(t *testing.T) {
		rec, _ := runScript(t, wrkLoad{Mode: "known", Path: "/collect/purchase/src", Sessions: 50})
		counts := map[string]int{}
		for _, p := range rec.paths {
			id, ok := strings.CutPrefix(p, "/collect/purchase/src/known-")
			if !ok {
				t.Fatalf("path %q", p)
			}
			counts[id]++
		}
		if len(counts) != 50 {
			t.Fatalf("%d distinct sessions, want 50", len(counts))
		}
		lo, hi := len(rec.paths), 0
		for _, n := range counts {
			lo, hi = min(lo, n), max(hi, n)
		}
		if hi-lo > 2 {
			t.Errorf("uneven round robin: %d to %d requests per session", lo, hi)
		}
	})

	t.Run("new sessions are never repeated, across threads", func(t *testing.T) {
		rec, _ := runScript(t, wrkLoad{Mode: "new", Path: "/collect/purchase/src", Tag: "x1"})
		seen := map[string]bool{}
		threads := map[string]bool{}
		for _, p := range rec.paths {
			id, ok := strings.CutPrefix(p, "/collect/purchase/src/x1-t")
			if !ok {
				t.Fatalf("path %q", p)
			}
			if seen[id] {
				t.Fatalf("session %q sent twice", id)
			}
			seen[id] = true
			tid, _, _ := strings.Cut(id, "-")
			threads[tid] = true
		}
		if len(threads) != 2 {
			t.Errorf("requests from threads %v, want 2 threads", threads)
		}
	})

	t.Run("get sends 8 query parameters and no body", func(t *testing.T) {
		rec, _ := runScript(t, wrkLoad{Mode: "get", Path: "/collect/page-view/src"})
		if rec.method["GET"] != len(rec.paths) || rec.bodies[0] != len(rec.paths) {
			t.Errorf("methods %v, body lengths %v", rec.method, rec.bodies)
		}
		path, query, _ := strings.Cut(rec.paths[0], "?")
		if path != "/collect/page-view/src" || len(strings.Split(query, "&")) != 8 {
			t.Errorf("request %q", rec.paths[0])
		}
	})
}

func TestProcStatus(t *testing.T) {
	rss, err := procStatus(os.Getpid(), "VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	if rss < 1<<20 {
		t.Errorf("VmRSS of this test = %d bytes, want at least 1 MiB", rss)
	}
}
