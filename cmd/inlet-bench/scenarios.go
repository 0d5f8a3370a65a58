package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"inlet"
	inlethttp "inlet/http"
)

// postBody is the JSON body of every POST; bench/inlet.lua sends the same.
const postBody = `{"order_id":"A-100234","customer":{"email":"jane.doe@example.com","name":"Jane Doe","tier":"gold"},` +
	`"items":[{"sku":"SKU-1001","qty":2,"price":19.99},{"sku":"SKU-2002","qty":1,"price":5.5}],` +
	`"total":45.48,"currency":"EUR","paid":true,"ts":"2026-11-27T17:30:00Z",` +
	`"shipping":{"city":"Berlin","zip":"10115","express":false}}`

var scenarioNames = map[int]string{
	0: "baseline: no-op net/http, POST",
	1: "1. POST, no session",
	2: "2. POST, known session",
	3: "3. POST, new session each",
	4: "4. GET, 8 query params",
	5: "5. POST, no session, one webhook destination",
	6: "6. POST, no session, one NATS JetStream destination",
	7: "7. POST, no session, four destinations (2 webhook, 2 NATS, filtered)",
}

var scenarioModes = map[int]string{1: "post", 2: "known", 3: "new", 4: "get", 5: "post", 6: "post", 7: "post"}

// row is one measured wrk scenario.
type row struct {
	name      string
	res       *wrkResult
	rss       int64
	serverCPU time.Duration
	otherCPU  time.Duration // busy time of the machine's cores that was neither the server's nor wrk's (nor the database's, with --db)
	dbCPU     time.Duration // CPU time of the PostgreSQL processes working for --db during the run
	commits   int64         // commits of the server's writer during the run (0: not known)
	committed int64         // events in those commits
	stored    int64         // events of the measured source found afterwards; -1: not checked
}

// runBaseline measures the no-op server under scenario 1's load.
func (b *bench) runBaseline(ctx context.Context) (*row, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	srv, err := startServer(ctx, "noop", b.self, []string{"noop", "--addr", addr}, addr, "/", b.logDir)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	load := wrkLoad{Mode: "post", URL: srv.url, Path: "/collect/purchase/bench"}
	if _, err := b.runWrk(ctx, load, b.warmup, "baseline-warmup"); err != nil {
		return nil, err
	}
	cpu0, busy0 := srv.CPUTime(), machineBusy()
	res, err := b.runWrk(ctx, load, b.duration, "baseline")
	if err != nil {
		return nil, err
	}
	r := &row{name: scenarioNames[0], res: res, serverCPU: srv.CPUTime() - cpu0, rss: srv.PeakRSS(), stored: -1}
	r.otherCPU = machineBusy() - busy0 - r.serverCPU - res.CPU
	return r, srv.stop()
}

// startInlet starts the inlet binary on a free port with dataDir.
func (b *bench) startInlet(ctx context.Context, name, dataDir string, extra ...string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--addr", addr, "--data", dataDir, "--admin-token", b.token, "--log-level", "warn"}
	if b.db != "" {
		args = append(args, "--db", b.db)
		if os.Getenv("INLET_SECRETS_KEY") == "" {
			// The nodes of a run share one key ring; $INLET_SECRETS_KEY
			// gives one that outlives the run, for a database kept between
			// runs.
			keyFile := filepath.Join(b.logDir, "secrets.key")
			if _, err := os.Stat(keyFile); err != nil {
				if err := os.WriteFile(keyFile, []byte(inlet.NewSecretKey()+"\n"), 0o600); err != nil {
					return nil, err
				}
			}
			args = append(args, "--secrets-key-file", keyFile)
		}
	}
	args = append(args, b.inletArgs...)
	args = append(args, extra...)
	return startServer(ctx, name, b.inletBin, args, addr, "/readyz", b.logDir)
}

// createSources registers the sources a run sends to. On a --db database,
// which outlives the servers, a source that exists already is fine.
func (b *bench) createSources(ctx context.Context, c *inlethttp.Client, ids ...string) error {
	for _, id := range ids {
		if _, err := c.CreateSource(ctx, inlethttp.CreateSourceRequest{ID: id, Name: id, Config: b.sourceConfig}); err != nil && !(b.db != "" && isConflict(err)) {
			return fmt.Errorf("create source %s: %w", id, err)
		}
	}
	return nil
}

// runScenario measures one wrk scenario on fresh servers: one, or --nodes
// against the same --db database, each driven by its own wrk process.
func (b *bench) runScenario(ctx context.Context, n int, dataDir string) (*row, error) {
	nodes, err := b.startNodes(ctx, fmt.Sprintf("inlet-%d", n), dataDir)
	if err != nil {
		return nil, err
	}
	defer nodes.stop()
	srv := nodes[0]
	client := inlethttp.NewClient(srv.url, b.token)
	warmSrc, runSrc := b.sourceIDs(strconv.Itoa(n))
	if err := b.createSources(ctx, client, warmSrc, runSrc); err != nil {
		return nil, err
	}
	if n >= 5 {
		stop, err := b.createDestinations(ctx, client, n, warmSrc, runSrc)
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	mode := scenarioModes[n]
	eventType := "purchase"
	if mode == "get" {
		eventType = "page-view"
	}
	if mode == "known" {
		start := time.Now()
		if err := createSessions(ctx, srv.url, "/collect/purchase/"+warmSrc, b.sessions); err != nil {
			return nil, err
		}
		b.logf("  created %d sessions in %s", b.sessions, time.Since(start).Round(time.Millisecond))
	}
	warm := wrkLoad{Mode: mode, Path: "/collect/" + eventType + "/" + warmSrc, Sessions: b.sessions, Tag: "w" + b.runID}
	if _, err := b.runWrkNodes(ctx, nodes, warm, b.warmup, fmt.Sprintf("scenario-%d-warmup", n)); err != nil {
		return nil, err
	}
	load := warm
	load.Path, load.Tag = "/collect/"+eventType+"/"+runSrc, "m"+b.runID
	c0, e0, _ := nodes.writerStats(ctx, b.token)
	var db0 map[int]time.Duration
	if b.db != "" {
		db0 = dbCPU(dbName(b.db))
	}
	cpu0, busy0 := nodes.CPUTime(), machineBusy()
	res, err := b.runWrkNodes(ctx, nodes, load, b.duration, fmt.Sprintf("scenario-%d", n))
	if err != nil {
		return nil, err
	}
	r := &row{name: scenarioNames[n], res: res, serverCPU: nodes.CPUTime() - cpu0, rss: nodes.PeakRSS()}
	busy := machineBusy() - busy0
	if db0 != nil {
		r.dbCPU = dbCPUSince(dbName(b.db), db0)
	}
	r.otherCPU = busy - r.serverCPU - res.CPU - r.dbCPU
	if c1, e1, ok := nodes.writerStats(ctx, b.token); ok {
		r.commits, r.committed = c1-c0, e1-e0
	}
	if r.stored, err = countEvents(ctx, client, runSrc); err != nil {
		return nil, err
	}
	b.logf("  %.0f requests/s, %d answered 2xx, %d stored", res.RPS(), res.OK(), r.stored)
	return r, nodes.stop()
}

// writerStats reads the group-commit writer's counters from
// /api/v1/stats: commits (batches) and events committed since the start.
func writerStats(ctx context.Context, baseURL, token string) (commits, events int64, ok bool) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/api/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, false
	}
	defer resp.Body.Close()
	var stats struct {
		Writer *struct {
			Batches *int64 `json:"batches"`
			Events  *int64 `json:"events"`
		} `json:"writer"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&stats) != nil ||
		stats.Writer == nil || stats.Writer.Batches == nil || stats.Writer.Events == nil {
		return 0, 0, false
	}
	return *stats.Writer.Batches, *stats.Writer.Events, true
}

// createSessions makes sessions known-0 ... known-(n-1) with one event each.
func createSessions(ctx context.Context, baseURL, path string, n int) error {
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var next atomic.Int64
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				resp, err := client.Post(fmt.Sprintf("%s%s/known-%d", baseURL, path, i), "application/json", strings.NewReader(postBody))
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("creating session known-%d: %s", i, resp.Status)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// countEvents counts the stored events of a source by paging through the
// admin API.
func countEvents(ctx context.Context, c *inlethttp.Client, source string) (int64, error) {
	var n int64
	f := inlet.EventFilter{SourceID: source, Limit: inlet.MaxEventLimit}
	for {
		page, err := c.ListEvents(ctx, f)
		if err != nil {
			return n, fmt.Errorf("count events of %s: %w", source, err)
		}
		n += int64(len(page.Items))
		if page.Next == nil {
			return n, nil
		}
		f.Cursor = *page.Next
	}
}

// fixedRun is the fixed-rate latency run, with the same load on the no-op
// server as a control of what the generator and the machine add.
type fixedRun struct {
	noop    *openLoopResult
	noopRSS int64
	res     *openLoopResult
	stored  int64
	rss     int64
}

func (b *bench) runFixedRate(ctx context.Context, rate float64, d time.Duration, dataDir string) (*fixedRun, error) {
	f := &fixedRun{}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	noop, err := startServer(ctx, "noop-fixed", b.self, []string{"noop", "--addr", addr}, addr, "/", b.logDir)
	if err != nil {
		return nil, err
	}
	defer noop.stop()
	if _, err := b.runWrk(ctx, wrkLoad{Mode: "post", URL: noop.url, Path: "/collect/purchase/bench"}, b.warmup, "fixed-noop-warmup"); err != nil {
		return nil, err
	}
	f.noop = openLoop(ctx, noop.url+"/collect/purchase/bench", []byte(postBody), rate, d, b.connections)
	f.noopRSS = noop.PeakRSS()
	b.logf("  no-op: sent %.0f/s, p99 %s", f.noop.Achieved, f.noop.Lat.percentile(99))
	if err := noop.stop(); err != nil {
		return nil, err
	}

	srv, err := b.startInlet(ctx, "inlet-fixed", dataDir)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	client := inlethttp.NewClient(srv.url, b.token)
	warmSrc, runSrc := b.sourceIDs("fixed")
	if err := b.createSources(ctx, client, warmSrc, runSrc); err != nil {
		return nil, err
	}
	warm := wrkLoad{Mode: "post", URL: srv.url, Path: "/collect/purchase/" + warmSrc}
	if _, err := b.runWrk(ctx, warm, b.warmup, "fixed-warmup"); err != nil {
		return nil, err
	}
	res := openLoop(ctx, srv.url+"/collect/purchase/"+runSrc, []byte(postBody), rate, d, b.connections)
	f.res, f.rss = res, srv.PeakRSS()
	if f.stored, err = countEvents(ctx, client, runSrc); err != nil {
		return nil, err
	}
	b.logf("  sent %.0f/s, p99 %s, %d answered 2xx, %d stored", res.Achieved, res.Lat.percentile(99), res.OK, f.stored)
	return f, srv.stop()
}

// prefillRun is scenario 1 and event queries on a prefilled store.
type prefillRun struct {
	events      int64
	row         *row
	queryLoaded latencies // GET /api/v1/events?profile= during scenario 1
	queryIdle   latencies // the same with no other load
	queryErrors int64
	fillTime    time.Duration
	loadedRPS   *wrkResult // scenario 1 while queryLoaded was measured
}

func (b *bench) runPrefilled(ctx context.Context, n int64, dataDir string) (*prefillRun, error) {
	start := time.Now()
	profiles, err := b.prefill(ctx, dataDir, n)
	if err != nil {
		return nil, err
	}
	if len(profiles) == 0 {
		return nil, fmt.Errorf("the prefilled store in %s names no profiles", dataDir)
	}
	p := &prefillRun{events: n, fillTime: time.Since(start)}
	srv, err := b.startInlet(ctx, "inlet-prefill", dataDir)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	client := inlethttp.NewClient(srv.url, b.token)
	warmSrc, runSrc := "bench-warm-"+b.runID, "bench-run-"+b.runID
	if err := b.createSources(ctx, client, warmSrc, runSrc); err != nil {
		return nil, err
	}
	// A profile's first page must hold its events: otherwise the query
	// measured would be one that finds nothing.
	page, err := client.ListEvents(ctx, inlet.EventFilter{ProfileID: profiles[0], Limit: 100})
	if err != nil {
		return nil, err
	} else if len(page.Items) == 0 {
		return nil, fmt.Errorf("profile %s of the prefilled store has no events", profiles[0])
	}

	warm := wrkLoad{Mode: "post", URL: srv.url, Path: "/collect/purchase/" + warmSrc}
	if _, err := b.runWrk(ctx, warm, b.warmup, "prefill-warmup"); err != nil {
		return nil, err
	}
	load := warm
	load.Path = "/collect/purchase/" + runSrc
	// First scenario 1 alone, as on the empty store, then the queries:
	// with scenario 1 running again, and with no other load.
	c0, e0, _ := writerStats(ctx, srv.url, b.token)
	cpu0, busy0 := srv.CPUTime(), machineBusy()
	res, err := b.runWrk(ctx, load, b.duration, "prefill-scenario-1")
	if err != nil {
		return nil, err
	}
	p.row = &row{name: "1. POST, no session, prefilled store", res: res, serverCPU: srv.CPUTime() - cpu0, rss: srv.PeakRSS()}
	p.row.otherCPU = machineBusy() - busy0 - p.row.serverCPU - res.CPU
	if c1, e1, ok := writerStats(ctx, srv.url, b.token); ok {
		p.row.commits, p.row.committed = c1-c0, e1-e0
	}
	p.row.stored, err = countEvents(ctx, client, runSrc)
	if err != nil {
		return nil, err
	}

	qctx, stopQueries := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var loadedErrs int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.queryLoaded, loadedErrs = queryEvents(qctx, srv.url, b.token, profiles, b.duration)
	}()
	load.Path = "/collect/purchase/" + warmSrc
	p.loadedRPS, err = b.runWrk(ctx, load, b.duration, "prefill-scenario-1-with-queries")
	stopQueries()
	wg.Wait()
	if err != nil {
		return nil, err
	}
	var idleErrs int64
	p.queryIdle, idleErrs = queryEvents(ctx, srv.url, b.token, profiles, 5*time.Second)
	p.queryErrors = loadedErrs + idleErrs
	b.logf("  %.0f requests/s, %d answered 2xx, %d stored; query p99 %s under load, %s idle",
		res.RPS(), res.OK(), p.row.stored, p.queryLoaded.percentile(99), p.queryIdle.percentile(99))
	return p, srv.stop()
}

// queryEvents asks for the newest 100 events of random profiles, one query
// at a time, for d; it returns the latencies and the count of failed queries.
func queryEvents(ctx context.Context, baseURL, token string, profiles []string, d time.Duration) (latencies, int64) {
	client := &http.Client{Timeout: 10 * time.Second}
	var lat latencies
	var errs int64
	end := time.Now().Add(d)
	for time.Now().Before(end) && ctx.Err() == nil {
		p := profiles[rand.IntN(len(profiles))]
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/api/v1/events?limit=100&profile="+url.QueryEscape(p), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		t := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				errs++
			}
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(t)
		if err != nil || resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"items":[{`)) {
			errs++
			continue
		}
		lat = append(lat, took)
	}
	return lat, errs
}

// runProfile runs scenario 1 against a server with --pprof-addr and takes a
// CPU profile of it during the load.
func (b *bench) runProfile(ctx context.Context, file, dataDir string) (string, error) {
	pprofAddr, err := freeAddr()
	if err != nil {
		return "", err
	}
	srv, err := b.startInlet(ctx, "inlet-profile", dataDir, "--pprof-addr", pprofAddr)
	if err != nil {
		return "", err
	}
	defer srv.stop()
	client := inlethttp.NewClient(srv.url, b.token)
	warmSrc, runSrc := b.sourceIDs("profile")
	if err := b.createSources(ctx, client, warmSrc, runSrc); err != nil {
		return "", err
	}
	warm := wrkLoad{Mode: "post", URL: srv.url, Path: "/collect/purchase/" + warmSrc}
	if _, err := b.runWrk(ctx, warm, b.warmup, "profile-warmup"); err != nil {
		return "", err
	}
	secs := max(1, int(b.duration.Seconds()))
	var prof []byte
	var profErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(500 * time.Millisecond) // let wrk open its connections
		hc := &http.Client{Timeout: time.Duration(secs+30) * time.Second}
		resp, err := hc.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, secs))
		if err != nil {
			profErr = err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			profErr = fmt.Errorf("profile: %s", resp.Status)
			return
		}
		prof, profErr = io.ReadAll(resp.Body)
	}()
	load := warm
	load.Path = "/collect/purchase/" + runSrc
	res, err := b.runWrk(ctx, load, b.duration+time.Second, "profile-scenario-1")
	wg.Wait()
	if err != nil {
		return "", err
	}
	if profErr != nil {
		return "", profErr
	}
	if err := os.WriteFile(file, prof, 0o644); err != nil {
		return "", err
	}
	b.logf("  %.0f requests/s while profiling %ds; profile in %s", res.RPS(), secs, file)
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=30", b.inletBin, file).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w\n%s", err, top)
	}
	cum, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=40", b.inletBin, file).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w\n%s", err, cum)
	}
	return fmt.Sprintf("scenario 1 under profile: %.0f requests/s\n\n%s\n%s", res.RPS(), top, cum), srv.stop()
}

// execOutput runs a command and returns its combined output.
func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// createDestinations makes the destinations of scenarios 5 to 7: webhooks
// to a no-op receiver in its own process, NATS publishes to a stream of
// this run (removed at the end). Scenario 7's four have different filters:
// every event, the run's sources, a type prefix, and types the scenario
// never sends (every event read and passed over).
func (b *bench) createDestinations(ctx context.Context, client *inlethttp.Client, n int, warmSrc, runSrc string) (func(), error) {
	var cleanup []func()
	stop := func() {
		for _, f := range cleanup {
			f()
		}
	}
	webhook, nats := 0, 0
	switch n {
	case 5:
		webhook = 1
	case 6:
		nats = 1
	case 7:
		webhook, nats = 2, 2
	}
	filters := []*inlet.DestinationFilter{nil, {Sources: []string{warmSrc, runSrc}}, {Types: []string{"purchase*"}}, {Types: []string{"refund.*"}}}
	var reqs []inlethttp.CreateDestinationRequest
	if webhook > 0 {
		addr, err := freeAddr()
		if err != nil {
			return stop, err
		}
		recv, err := startServer(ctx, "receiver", b.self, []string{"noop", "--addr", addr}, addr, "/", b.logDir)
		if err != nil {
			return stop, err
		}
		cleanup = append(cleanup, func() { recv.stop() })
		for range webhook {
			reqs = append(reqs, inlethttp.CreateDestinationRequest{Type: "webhook", Config: json.RawMessage(`{"url":"` + recv.url + `/hook"}`)})
		}
	}
	if nats > 0 {
		subject, remove, err := benchStream(ctx, b.natsURL, b.runID)
		if err != nil {
			return stop, fmt.Errorf("scenario %d needs NATS JetStream at %s (--nats): %w", n, b.natsURL, err)
		}
		cleanup = append(cleanup, remove)
		for range nats {
			reqs = append(reqs, inlethttp.CreateDestinationRequest{Type: "nats", Config: json.RawMessage(`{"url":"` + b.natsURL + `","subject":"` + subject + `.{type}"}`)})
		}
	}
	for i, req := range reqs {
		req.Name = fmt.Sprintf("bench %s %d", req.Type, i)
		if n == 7 {
			req.Filter = filters[i]
		}
		if _, err := client.CreateDestination(ctx, req); err != nil {
			return stop, fmt.Errorf("create destination: %w", err)
		}
	}
	return stop, nil
}

// benchStream creates a JetStream stream of its own on subjects bench-ID.>,
// in memory, and returns its subject prefix and a function that deletes it.
func benchStream(ctx context.Context, url, id string) (string, func(), error) {
	nc, err := natsgo.Connect(url)
	if err != nil {
		return "", nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return "", nil, err
	}
	name := "inlet-bench-" + id
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}, Duplicates: time.Minute,
		Storage: jetstream.MemoryStorage, MaxMsgs: 2_000_000, Discard: jetstream.DiscardOld}); err != nil {
		nc.Close()
		return "", nil, err
	}
	return name, func() {
		js.DeleteStream(context.Background(), name)
		nc.Close()
	}, nil
}
