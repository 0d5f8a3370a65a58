package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// latencies is a set of measured durations.
type latencies []time.Duration

// percentile returns the p-th percentile (0 < p <= 100), nearest rank.
func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// openLoopResult is the outcome of a fixed-rate run.
type openLoopResult struct {
	Rate     float64 // requests per second asked for
	Sent     int64
	OK       int64 // 2xx
	Non2xx   int64
	Errors   int64     // transport errors
	Achieved float64   // requests sent per second
	Lat      latencies // from the scheduled send time to the end of the answer
}

// openLoop sends POST requests to url at a fixed rate for d, whatever the
// answers' pace (open loop), over conns keep-alive connections, each used by
// one worker. A scheduler queues each request at its due time; a free
// worker takes the oldest. Each latency is measured from the moment the
// request was due, not from when a worker was free, so that a slow server
// cannot hide its queue (no coordinated omission).
func openLoop(ctx context.Context, url string, body []byte, rate float64, d time.Duration, conns int) *openLoopResult {
	tr := &http.Transport{MaxConnsPerHost: conns, MaxIdleConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	res := &openLoopResult{Rate: rate}
	total := int(rate * d.Seconds())
	due := make(chan time.Time, total+1)
	var mu sync.Mutex
	lat := make(latencies, 0, total)
	var ok, non2xx, errs atomic.Int64
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine latencies
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
			for t := range due {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(t))
				if resp.StatusCode/100 == 2 {
					ok.Add(1)
				} else {
					non2xx.Add(1)
				}
			}
		}()
	}

	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		t := start.Add(time.Duration(i) * interval)
		if wait := time.Until(t); wait > 0 {
			time.Sleep(wait)
		}
		due <- t
		res.Sent++
	}
	close(due)
	wg.Wait()
	res.OK, res.Non2xx, res.Errors = ok.Load(), non2xx.Load(), errs.Load()
	res.Achieved = float64(res.Sent) / d.Seconds()
	res.Lat = lat
	return res
}
