package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"inlet"
)

// cluster is the Inlet servers of one scenario: one process, or with
// --nodes N, N processes against the same --db database.
type cluster []*server

// startNodes starts b.nodes Inlet servers, each on its own port and data
// directory, with the same admin token and --db.
func (b *bench) startNodes(ctx context.Context, name, dataDir string, extra ...string) (cluster, error) {
	if b.nodes <= 1 {
		s, err := b.startInlet(ctx, name, dataDir, extra...)
		if err != nil {
			return nil, err
		}
		return cluster{s}, nil
	}
	var c cluster
	for i := range b.nodes {
		s, err := b.startInlet(ctx, fmt.Sprintf("%s-node%d", name, i+1), filepath.Join(dataDir, fmt.Sprintf("node%d", i+1)), extra...)
		if err != nil {
			c.stop()
			return nil, err
		}
		c = append(c, s)
	}
	return c, nil
}

// stop stops every node and returns the first error.
func (c cluster) stop() error {
	var first error
	for _, s := range c {
		if err := s.stop(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// CPUTime is the CPU time all nodes have used.
func (c cluster) CPUTime() time.Duration {
	var d time.Duration
	for _, s := range c {
		d += s.CPUTime()
	}
	return d
}

// PeakRSS is the sum of the nodes' peak resident memory.
func (c cluster) PeakRSS() int64 {
	var n int64
	for _, s := range c {
		n += s.PeakRSS()
	}
	return n
}

// writerStats sums the group-commit counters of all nodes; ok is false
// if any node does not report them.
func (c cluster) writerStats(ctx context.Context, token string) (commits, events int64, ok bool) {
	for _, s := range c {
		cs, es, sok := writerStats(ctx, s.url, token)
		if !sok {
			return 0, 0, false
		}
		commits, events = commits+cs, events+es
	}
	return commits, events, true
}

// runWrkNodes runs l against every node at once for d: one wrk process per
// node, with the --connections (and --threads) split evenly over them, each
// node's TAG made distinct so that scenario 3's session ids stay unique.
// With one node it is runWrk.
func (b *bench) runWrkNodes(ctx context.Context, c cluster, l wrkLoad, d time.Duration, logName string) (*wrkResult, error) {
	if len(c) == 1 {
		l.URL = c[0].url
		return b.runWrk(ctx, l, d, logName)
	}
	n := len(c)
	results := make([]*wrkResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range c {
		nl := l
		nl.URL = s.url
		nl.Connections = b.connections / n
		if i < b.connections%n {
			nl.Connections++
		}
		nl.Threads = min(max(1, b.threads/n), nl.Connections)
		if nl.Tag != "" {
			nl.Tag += "n" + strconv.Itoa(i+1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = b.runWrk(ctx, nl, d, fmt.Sprintf("%s-node%d", logName, i+1))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return mergeWrk(results), nil
}

// mergeWrk combines the results of concurrent wrk processes: requests,
// bytes, errors and wrk CPU are summed, the latency percentiles and the
// maximum are the worst node's, the mean is weighted by requests, and the
// duration is set so that RPS is the sum of the processes' requests/s.
func mergeWrk(rs []*wrkResult) *wrkResult {
	m := &wrkResult{}
	var rps float64
	for _, r := range rs {
		rps += r.RPS()
		m.Requests += r.Requests
		m.Bytes += r.Bytes
		m.P50US = max(m.P50US, r.P50US)
		m.P99US = max(m.P99US, r.P99US)
		m.P999US = max(m.P999US, r.P999US)
		m.MaxUS = max(m.MaxUS, r.MaxUS)
		m.MeanUS += r.MeanUS * float64(r.Requests)
		m.Connect += r.Connect
		m.Read += r.Read
		m.Write += r.Write
		m.Status += r.Status
		m.Timeout += r.Timeout
		m.CPU += r.CPU
	}
	if m.Requests > 0 {
		m.MeanUS /= float64(m.Requests)
	}
	if rps > 0 {
		m.DurationUS = int64(float64(m.Requests) / rps * 1e6)
	}
	return m
}

// sourceIDs names the warm-up and the measured source of a run. On a shared
// --db database every scenario gets its own pair, so that counting one
// scenario's stored events does not count another's.
func (b *bench) sourceIDs(scenario string) (warm, run string) {
	warm, run = "bench-warm-"+b.runID, "bench-run-"+b.runID
	if b.db != "" {
		warm, run = warm+"-"+scenario, run+"-"+scenario
	}
	return warm, run
}

// dbCPU returns the CPU time of the PostgreSQL server's processes that
// work for database db, by process id, from /proc: every process named
// postgres except the client backends of other databases (the machine's
// PostgreSQL may serve other work meanwhile). A client backend is told by
// its title, "postgres: USER DATABASE HOST(PORT) ACTIVITY".
func dbCPU(db string) map[int]time.Duration {
	out := map[int]time.Duration{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		name, cpu, ok := pidCPU(pid)
		if !ok || name != "postgres" {
			continue
		}
		title, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if backendDB, ok := clientBackendDB(string(title)); ok && backendDB != db {
			continue
		}
		out[pid] = cpu
	}
	return out
}

// clientBackendDB returns the database of a PostgreSQL client backend from
// its process title, "postgres: [CLUSTER:] USER DATABASE HOST(PORT) ACTIVITY";
// ok is false for the server's other processes.
func clientBackendDB(title string) (db string, ok bool) {
	f := strings.Fields(strings.ReplaceAll(title, "\x00", " "))
	if len(f) < 2 || f[0] != "postgres:" {
		return "", false
	}
	if strings.HasSuffix(f[1], ":") {
		f = f[1:]
	}
	if len(f) < 4 || !(strings.HasSuffix(f[3], ")") && strings.Contains(f[3], "(") || f[3] == "[local]") {
		return "", false
	}
	return f[2], true
}

// dbCPUSince returns the CPU time dbCPU's processes have used since before
// was taken: for processes that existed then, the difference; for those
// started since, all of it. Processes that exited in between are not
// counted.
func dbCPUSince(db string, before map[int]time.Duration) time.Duration {
	var d time.Duration
	for pid, cpu := range dbCPU(db) {
		d += cpu - before[pid]
	}
	return d
}

// dbName is the database name of a postgres:// URL.
func dbName(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u.Path, "/")
}

// isConflict reports whether err is the admin API's answer for a thing that
// exists already.
func isConflict(err error) bool {
	return inlet.ErrorCode(err) == inlet.ECONFLICT
}
