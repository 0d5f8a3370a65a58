package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the driver of the integrity check

	"inlet"
	inlethttp "inlet/http"
	"inlet/postgres/pgtest"
)

// These tests run the real inlet binary, built from this package, as a user
// would: they kill it or stop it under load and check through the admin API
// that nothing it acknowledged was lost.

const (
	crashRoundsEnv  = "INLET_CRASH_ROUNDS" // how many times TestCrashSafety kills the server (20)
	crashToken      = "crash-test-token"
	crashSource     = "crash-source"
	crashEventType  = "crash-test"
	crashWorkers    = 16 // concurrent senders: modest, the machine has 2 cores
	knownSessions   = 64 // session ids reused across rounds, so restarts meet known sessions
	shutdownTimeout = 10 * time.Second
)

// TestCrashSafety runs the real binary, built once, under load: it kills it
// with SIGKILL many times, and stops it with SIGTERM, and checks that no
// acknowledged event is lost.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary many times; skipped with -short")
	}
	rounds := 20
	if v := os.Getenv(crashRoundsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("$%s=%q: want a positive number of rounds", crashRoundsEnv, v)
		}
		rounds = n
	}
	bin := buildInlet(t)
	t.Run("acknowledged events survive SIGKILL at random moments", func(t *testing.T) {
		testSurvivesKills(t, bin, rounds)
	})
	t.Run("SIGTERM drains in-flight requests and loses nothing", func(t *testing.T) {
		testDrainsOnSIGTERM(t, bin)
	})
}

// testSurvivesKills kills the server with SIGKILL at a random moment under
// concurrent load, many times over one data directory, and checks after
// every restart that each acknowledged event is stored, readable and stored
// once, and that the SQLite file passes its integrity check.
func testSurvivesKills(t *testing.T, bin string, rounds int) {
	h := &harness{t: t, bin: bin, dataDir: t.TempDir()}
	dbPath := filepath.Join(h.dataDir, "inlet.db")
	began := time.Now()

	all := map[string]sentEvent{} // every acknowledged event id of every round
	var prev *roundLoad
	for round := 1; round <= rounds; round++ {
		p := h.start()
		client := inlethttp.NewClient(p.url, crashToken)
		if round == 1 {
			createCrashSource(t, client)
		} else {
			stored := checkRound(t, client, prev)
			t.Logf("round %d: after restart %d events of the round stored, all %d acknowledged among them", round-1, stored, len(prev.acked))
		}

		load := startLoad(t, p.url, round, crashWorkers)
		load.waitAcks(t, 1)
		delay := time.Duration(100+rand.IntN(601)) * time.Millisecond
		time.Sleep(delay)
		p.kill()
		load.finish()
		if load.violations(t, false) {
			t.FailNow()
		}
		if len(load.acked) == 0 {
			t.Fatalf("round %d: no request was acknowledged; the test exercised nothing", round)
		}
		for id, s := range load.acked {
			all[id] = s
		}
		total := checkIntegrity(t, dbPath)
		t.Logf("round %d: SIGKILL %v after the first acknowledgment: %d acknowledged, %d cut off, %d answered 503, %d refused after the kill; store holds %d events, integrity ok",
			round, delay, len(load.acked), load.failed, load.rejected, load.refused, total)
		prev = load
	}

	p := h.start()
	client := inlethttp.NewClient(p.url, crashToken)
	stored := checkRound(t, client, prev)
	t.Logf("round %d: after restart %d events of the round stored, all %d acknowledged among them", rounds, stored, len(prev.acked))
	total := checkAll(t, client, all)
	p.terminate(shutdownTimeout)
	if err := p.exitErr(); err != nil {
		t.Errorf("after the last round, SIGTERM: inlet exited with %v; want exit status 0", err)
	}
	checkIntegrity(t, dbPath)
	t.Logf("%d rounds in %v: %d acknowledged events, all stored once among the %d in the store",
		rounds, time.Since(began).Round(time.Millisecond), len(all), total)
}

// testDrainsOnSIGTERM sends SIGTERM to the server under load and checks
// that it drains: it exits 0 within the shutdown timeout, every answer it
// gave is complete, and every acknowledged event is stored.
func testDrainsOnSIGTERM(t *testing.T, bin string) {
	h := &harness{t: t, bin: bin, dataDir: t.TempDir()}
	p := h.start()
	createCrashSource(t, inlethttp.NewClient(p.url, crashToken))

	load := startLoad(t, p.url, 1, crashWorkers)
	// Slow requests are surely in flight when the signal arrives: their
	// headers are sent well before it, the rest of their bodies only after.
	release := make(chan struct{})
	slow := load.startSlow(p.url, 1, 4, release)
	load.waitAcks(t, 100)
	time.Sleep(200 * time.Millisecond) // the slow requests' headers are surely read by now
	signalled := time.Now()
	p.signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	close(release)
	exited := p.waitExit(shutdownTimeout + 5*time.Second)
	took := time.Since(signalled)
	load.finish()

	if !exited {
		t.Fatalf("inlet did not exit within %v of SIGTERM", shutdownTimeout+5*time.Second)
	}
	if err := p.exitErr(); err != nil {
		t.Errorf("inlet exited with %v after SIGTERM; want exit status 0", err)
	}
	if took > shutdownTimeout {
		t.Errorf("inlet took %v to exit after SIGTERM; the shutdown timeout is %v", took, shutdownTimeout)
	}
	if log := p.stderrTail(); !strings.Contains(log, "inlet stopped cleanly") {
		t.Errorf("inlet did not log a clean stop; its log ends:\n%s", log)
	}
	load.violations(t, true)
	for _, o := range slow() {
		if o.id == "" {
			t.Errorf("request %s was in flight when SIGTERM arrived and was not acknowledged (status %d): %v", o.sent.marker, o.status, o.err)
		}
	}

	var before, after int
	for _, o := range load.outcomes {
		if o.status == 0 {
			continue
		}
		if o.at.Before(signalled) {
			before++
		} else {
			after++
		}
	}
	t.Logf("SIGTERM under load; exited in %v; %d answers before the signal, %d after it; %d acknowledged, %d answered 503, %d closed unanswered, %d refused",
		took.Round(time.Millisecond), before, after, len(load.acked), load.rejected, load.failed, load.refused)

	p = h.start()
	stored := checkRound(t, inlethttp.NewClient(p.url, crashToken), load)
	t.Logf("after restart: %d events stored, all %d acknowledged among them", stored, len(load.acked))
	p.terminate(shutdownTimeout)
	checkIntegrity(t, filepath.Join(h.dataDir, "inlet.db"))
}

// buildInlet builds the inlet binary from this package into a temporary
// directory and returns its path.
func buildInlet(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the binary under test: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "inlet")
	began := time.Now()
	out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built %s in %v", bin, time.Since(began).Round(time.Millisecond))
	return bin
}

// harness starts inlet processes over one data directory and, when the test
// fails, shows the end of the last ones' logs.
type harness struct {
	t       *testing.T
	bin     string
	dataDir string
	started []*inletProcess
}

// inletProcess is one running (or exited) inlet serve.
type inletProcess struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	log    string        // file holding its stdout and stderr
	exited chan struct{} // closed once it has exited
	err    error         // the result of Wait, once exited is closed
}

// start runs inlet serve on a free port over the harness's data directory
// and waits until /readyz answers 200.
func (h *harness) start(extra ...string) *inletProcess {
	h.t.Helper()
	for attempt := 1; ; attempt++ {
		p := h.launch(extra)
		err := p.waitReady(15 * time.Second)
		if err == nil {
			return p
		}
		// Another process may have taken the port between our probe and the
		// server's bind; try another one.
		if attempt < 3 && strings.Contains(p.stderrTail(), "address already in use") {
			continue
		}
		h.t.Fatalf("inlet did not become ready: %v\nits log ends:\n%s", err, p.stderrTail())
	}
}

func (h *harness) launch(extra []string) *inletProcess {
	h.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	logFile, err := os.CreateTemp(h.t.TempDir(), "inlet-*.log")
	if err != nil {
		h.t.Fatal(err)
	}
	defer logFile.Close()
	args := append([]string{"serve", "--addr", addr, "--data", h.dataDir, "--admin-token", crashToken,
		"--shutdown-timeout", shutdownTimeout.String()}, extra...)
	cmd := exec.Command(h.bin, args...)
	if slices.Contains(extra, "--db") && !slices.Contains(extra, "--secrets-key-file") {
		cmd.Env = append(os.Environ(), "INLET_SECRETS_KEY="+pgtest.SecretsKey) // every node of the database shares it
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		h.t.Fatalf("start inlet: %v", err)
	}
	p := &inletProcess{t: h.t, cmd: cmd, url: "http://" + addr, log: logFile.Name(), exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if len(h.started) == 0 {
		h.t.Cleanup(h.cleanup)
	}
	h.started = append(h.started, p)
	return p
}

// cleanup kills what still runs and, if the test failed, shows the logs of
// the last two processes.
func (h *harness) cleanup() {
	for _, p := range h.started {
		if !p.hasExited() {
			p.cmd.Process.Kill()
			<-p.exited
		}
	}
	if !h.t.Failed() {
		return
	}
	for i := max(0, len(h.started)-2); i < len(h.started); i++ {
		h.t.Logf("log of inlet start %d of %d (%v), last lines:\n%s", i+1, len(h.started), h.started[i].err, h.started[i].stderrTail())
	}
}

func (p *inletProcess) waitReady(timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.hasExited() {
			return fmt.Errorf("inlet exited: %v", p.err)
		}
		resp, err := client.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("/readyz did not answer 200 within %v", timeout)
}

func (p *inletProcess) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

func (p *inletProcess) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *inletProcess) kill() {
	p.t.Helper()
	p.signal(syscall.SIGKILL)
	<-p.exited
}

// terminate sends SIGTERM and fails the test unless the process exits
// within timeout.
func (p *inletProcess) terminate(timeout time.Duration) {
	p.t.Helper()
	p.signal(syscall.SIGTERM)
	if !p.waitExit(timeout) {
		p.t.Fatalf("inlet did not exit within %v of SIGTERM", timeout)
	}
}

func (p *inletProcess) waitExit(timeout time.Duration) bool {
	select {
	case <-p.exited:
		return true
	case <-time.After(timeout):
		return false
	}
}

// exitErr is nil when the process exited with status 0.
func (p *inletProcess) exitErr() error {
	<-p.exited
	return p.err
}

// stderrTail returns the last lines the process logged.
func (p *inletProcess) stderrTail() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return fmt.Sprintf("(cannot read the log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

func createCrashSource(t *testing.T, client *inlethttp.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.CreateSource(ctx, inlethttp.CreateSourceRequest{ID: crashSource, Name: "crash test"}); err != nil {
		t.Fatalf("create source: %v", err)
	}
}

// sentEvent is what one collect request carried.
type sentEvent struct {
	marker  string // unique to the request, in its properties
	session string // "" for a profile-less event
}

// outcome is what became of one collect request.
type outcome struct {
	sent   sentEvent
	status int       // 0: no answer
	id     string    // the event id of a 2xx answer
	err    error     // no answer, or an answer cut off
	bad    error     // a complete answer that breaks the API's promise
	at     time.Time // when the answer was complete
}

// roundLoad is concurrent collect traffic and, once finished, its outcomes.
type roundLoad struct {
	since time.Time // before the first request
	stop  chan struct{}
	once  sync.Once // closes stop
	wg    sync.WaitGroup
	tr    *http.Transport

	acks atomic.Int64 // 2xx answers so far

	mu       sync.Mutex
	outcomes []outcome
	sent     map[string]outcome   // by marker
	acked    map[string]sentEvent // by event id: 2xx answers with a complete body
	refused  int                  // connection refused: the server was gone
	failed   int                  // other requests with no answer or an answer cut off
	rejected int                  // 503
}

// startLoad starts workers that POST to /collect until finish is called.
// A third of the requests have no session, a third a session from a small
// pool shared by all rounds, a third a new session.
func startLoad(t *testing.T, baseURL string, round, workers int) *roundLoad {
	tr := &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true}
	l := &roundLoad{since: time.Now(), stop: make(chan struct{}), tr: tr}
	t.Cleanup(l.halt) // if the test ends early
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			var mine []outcome
			defer func() {
				l.mu.Lock()
				l.outcomes = append(l.outcomes, mine...)
				l.mu.Unlock()
			}()
			for n := 0; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				s := sentEvent{marker: fmt.Sprintf("r%03d-w%02d-%06d", round, w, n)}
				switch n % 3 {
				case 1:
					s.session = fmt.Sprintf("crash-known-%02d", (w*7+n)%knownSessions)
				case 2:
					s.session = "crash-new-" + s.marker
				}
				o := collectOnce(client, baseURL, s, round)
				mine = append(mine, o)
				if o.id != "" {
					l.acks.Add(1)
				}
				if o.err != nil {
					time.Sleep(25 * time.Millisecond) // the server may be gone: do not spin
				}
			}
		}()
	}
	return l
}

// eventBody is the JSON body of a collect request, about 300 bytes.
func eventBody(s sentEvent, round int) []byte {
	body, _ := json.Marshal(map[string]any{
		"marker": s.marker,
		"round":  round,
		"page":   "https://shop.example.com/products/1234?ref=crash-test",
		"cart":   map[string]any{"items": 3, "total": 129.95, "currency": "EUR"},
		"note":   strings.Repeat("x", 120),
	})
	return body
}

func collectURL(baseURL string, s sentEvent) string {
	u := baseURL + "/collect/" + crashEventType + "/" + crashSource
	if s.session != "" {
		u += "/" + s.session
	}
	return u
}

// collectOnce sends one event and reads the whole answer.
func collectOnce(client *http.Client, baseURL string, s sentEvent, round int) outcome {
	resp, err := client.Post(collectURL(baseURL, s), "application/json", bytes.NewReader(eventBody(s, round)))
	return readAnswer(s, resp, err)
}

// collectSlowly sends the headers and half the body of one event at once
// and the rest once release (or stop) is closed, then reads the whole
// answer.
func collectSlowly(client *http.Client, baseURL string, s sentEvent, round int, release, stop <-chan struct{}) outcome {
	body := eventBody(s, round)
	pr, pw := io.Pipe()
	go func() {
		half := len(body) / 2
		if _, err := pw.Write(body[:half]); err != nil {
			return
		}
		select {
		case <-release:
		case <-stop:
		}
		pw.Write(body[half:])
		pw.Close()
	}()
	req, err := http.NewRequest(http.MethodPost, collectURL(baseURL, s), pr)
	if err != nil {
		return outcome{sent: s, err: err}
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	pr.CloseWithError(errors.New("request done"))
	return readAnswer(s, resp, err)
}

// readAnswer reads the whole answer to a collect request and checks it
// against what the API promises.
func readAnswer(s sentEvent, resp *http.Response, err error) outcome {
	o := outcome{sent: s}
	if err != nil {
		o.err = err
		return o
	}
	defer resp.Body.Close()
	o.status = resp.StatusCode
	data, err := io.ReadAll(resp.Body)
	o.at = time.Now()
	if err != nil {
		o.err = fmt.Errorf("status %d, answer cut off after %d bytes (%q): %w", resp.StatusCode, len(data), data, err)
		return o
	}
	if resp.StatusCode == http.StatusOK {
		var ans struct {
			Events  []string `json:"events"`
			Session *struct {
				ID string `json:"id"`
			} `json:"session"`
		}
		switch {
		case json.Unmarshal(data, &ans) != nil || len(ans.Events) != 1 || ans.Events[0] == "":
			o.bad = fmt.Errorf("2xx answer is not one event id: %q", data)
		case s.session == "" && ans.Session != nil, s.session != "" && (ans.Session == nil || ans.Session.ID != s.session):
			o.bad = fmt.Errorf("2xx answer names the wrong session (sent %q): %q", s.session, data)
		default:
			o.id = ans.Events[0]
		}
		return o
	}
	var eb inlethttp.ErrorBody
	if json.Unmarshal(data, &eb) != nil || eb.Error.Code == "" || eb.Error.Message == "" {
		o.bad = fmt.Errorf("status %d with a body that is not a JSON error: %q", resp.StatusCode, data)
	} else if resp.StatusCode != http.StatusServiceUnavailable {
		o.bad = fmt.Errorf("status %d (%s: %s); only 200 or 503 is expected under load", resp.StatusCode, eb.Error.Code, eb.Error.Message)
	} else if resp.Header.Get("Retry-After") == "" {
		o.bad = errors.New("503 without Retry-After")
	}
	return o
}

// startSlow starts n requests, each on its own connection, that send their
// headers at once and finish their bodies only when release is closed. The
// function returned gives their outcomes once finish has returned.
func (l *roundLoad) startSlow(baseURL string, round, n int, release <-chan struct{}) func() []outcome {
	tr := &http.Transport{DisableKeepAlives: true}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	slow := make([]outcome, n)
	for i := range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			s := sentEvent{marker: fmt.Sprintf("r%03d-slow-%02d", round, i)}
			if i%2 == 1 {
				s.session = "crash-new-" + s.marker
			}
			slow[i] = collectSlowly(client, baseURL, s, round, release, l.stop)
			l.mu.Lock()
			l.outcomes = append(l.outcomes, slow[i])
			l.mu.Unlock()
		}()
	}
	return func() []outcome { return slow }
}

// waitAcks waits until n requests have been acknowledged, so that the load
// is surely running, even on a busy machine.
func (l *roundLoad) waitAcks(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for l.acks.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests acknowledged after 30s of load", l.acks.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// halt tells the workers to stop after their current request.
func (l *roundLoad) halt() {
	l.once.Do(func() { close(l.stop) })
}

// finish stops the workers, waits for them and sorts their outcomes.
func (l *roundLoad) finish() {
	l.halt()
	l.wg.Wait()
	l.tr.CloseIdleConnections()
	l.sent = make(map[string]outcome, len(l.outcomes))
	l.acked = make(map[string]sentEvent)
	for _, o := range l.outcomes {
		l.sent[o.sent.marker] = o
		switch {
		case o.id != "":
			l.acked[o.id] = o.sent
		case errors.Is(o.err, syscall.ECONNREFUSED):
			l.refused++
		case o.err != nil:
			l.failed++
		case o.status == http.StatusServiceUnavailable:
			l.rejected++
		}
	}
}

// violations reports answers that break the API's promises, and, when
// complete is set (a clean shutdown), answers that were cut off. It reports
// whether there were any.
func (l *roundLoad) violations(t *testing.T, complete bool) bool {
	t.Helper()
	var n int
	for _, o := range l.outcomes {
		var err error
		switch {
		case o.bad != nil:
			err = o.bad
		case complete && o.status != 0 && o.err != nil:
			err = o.err
		default:
			continue
		}
		if n++; n <= 10 {
			t.Errorf("request %s (session %q): %v", o.sent.marker, o.sent.session, err)
		}
	}
	if n > 10 {
		t.Errorf("... and %d more bad answers", n-10)
	}
	return n > 0
}

// storedProperties is what the tests read back from an event's properties.
type storedProperties struct {
	Marker string `json:"marker"`
}

// checkEvent checks a stored event against the request that sent it.
func checkEvent(t *testing.T, e *inlet.Event, s sentEvent) {
	t.Helper()
	var props storedProperties
	if err := json.Unmarshal(e.Properties, &props); err != nil || props.Marker != s.marker {
		t.Errorf("event %s: properties %s; want marker %q", e.ID, e.Properties, s.marker)
	}
	if e.Type != crashEventType || e.SourceID != crashSource {
		t.Errorf("event %s: type %q from source %q; want %q from %q", e.ID, e.Type, e.SourceID, crashEventType, crashSource)
	}
	if e.SessionID != s.session {
		t.Errorf("event %s: session %q; want %q", e.ID, e.SessionID, s.session)
	}
	if (e.ProfileID != "") != (s.session != "") {
		t.Errorf("event %s: session %q and profile %q; want a profile exactly when there is a session", e.ID, e.SessionID, e.ProfileID)
	}
}

// listEvents pages through the events inserted at or after since (all,
// when since is zero), newest first.
func listEvents(t *testing.T, client *inlethttp.Client, since time.Time) []*inlet.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var events []*inlet.Event
	f := inlet.EventFilter{Since: since, Limit: inlet.MaxEventLimit}
	for {
		page, err := client.ListEvents(ctx, f)
		if err != nil {
			t.Fatalf("list events (%d read so far): %v", len(events), err)
		}
		events = append(events, page.Items...)
		if page.Next == nil {
			return events
		}
		f.Cursor = *page.Next
	}
}

// checkRound checks, after a restart, the events of one round of load: every
// acknowledged event is stored with what was sent; each event is stored
// once; an event that is stored but was not acknowledged belongs to a
// request that got no complete answer. It returns how many events of the
// round are stored.
func checkRound(t *testing.T, client *inlethttp.Client, l *roundLoad) int {
	t.Helper()
	events := listEvents(t, client, l.since)
	byID := make(map[string]*inlet.Event, len(events))
	byMarker := make(map[string]string, len(events))
	for _, e := range events {
		if byID[e.ID] != nil {
			t.Errorf("event %s is listed twice", e.ID)
		}
		byID[e.ID] = e
		var props storedProperties
		if err := json.Unmarshal(e.Properties, &props); err != nil || props.Marker == "" {
			t.Errorf("event %s has properties %s without a marker", e.ID, e.Properties)
			continue
		}
		if other, dup := byMarker[props.Marker]; dup {
			t.Errorf("request %s is stored twice: events %s and %s", props.Marker, other, e.ID)
		}
		byMarker[props.Marker] = e.ID
		o, ok := l.sent[props.Marker]
		switch {
		case !ok:
			t.Errorf("event %s has marker %q, which no request of the round sent", e.ID, props.Marker)
		case o.id != "" && o.id != e.ID:
			t.Errorf("request %s was acknowledged as event %s but is stored as %s", props.Marker, o.id, e.ID)
		case o.id == "" && o.err == nil:
			t.Errorf("request %s is stored as event %s although it was answered %d", props.Marker, e.ID, o.status)
		}
	}
	var missing int
	for id, s := range l.acked {
		e := byID[id]
		if e == nil {
			if missing++; missing <= 10 {
				t.Errorf("acknowledged event %s (request %s, session %q) is not stored", id, s.marker, s.session)
			}
			continue
		}
		checkEvent(t, e, s)
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged events are lost", missing, len(l.acked))
	}

	// Read some one by one as well, the way a user looks up an event.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := 0
	for id, s := range l.acked {
		if n++; n > 20 {
			break
		}
		e, err := client.FindEvent(ctx, id)
		if err != nil {
			t.Errorf("GET /api/v1/events/%s: %v", id, err)
			continue
		}
		if e.ID != id {
			t.Errorf("GET /api/v1/events/%s answered event %s", id, e.ID)
		}
		checkEvent(t, e, s)
	}
	return len(events)
}

// checkAll reads the whole store through the admin API and checks that no
// id is listed twice, that every acknowledged event of every round is there,
// and that each session kept one profile across all restarts. It returns
// how many events are stored.
func checkAll(t *testing.T, client *inlethttp.Client, acked map[string]sentEvent) int {
	t.Helper()
	events := listEvents(t, client, time.Time{})
	byID := make(map[string]*inlet.Event, len(events))
	profileOf := map[string]string{}
	for _, e := range events {
		if byID[e.ID] != nil {
			t.Errorf("event %s is listed twice in the full listing", e.ID)
		}
		byID[e.ID] = e
		if e.SessionID == "" {
			continue
		}
		if p, ok := profileOf[e.SessionID]; ok && p != e.ProfileID {
			t.Errorf("session %s has events with profiles %s and %s; a session has one profile", e.SessionID, p, e.ProfileID)
		}
		profileOf[e.SessionID] = e.ProfileID
	}
	var missing int
	for id, s := range acked {
		e := byID[id]
		if e == nil {
			if missing++; missing <= 10 {
				t.Errorf("acknowledged event %s (request %s) is missing from the full listing", id, s.marker)
			}
			continue
		}
		checkEvent(t, e, s)
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged events are missing from the full listing", missing, len(acked))
	}
	return len(events)
}

// checkIntegrity opens the stopped server's SQLite file read-only, runs
// PRAGMA integrity_check and checks that event ids are unique. It returns
// how many events the file holds.
func checkIntegrity(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		t.Fatalf("integrity check of %s: %v", path, err)
	}
	var result []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		result = append(result, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("integrity check of %s: %v", path, err)
	}
	rows.Close()
	if len(result) != 1 || result[0] != "ok" {
		t.Fatalf("integrity check of %s: %s", path, strings.Join(result, "\n"))
	}
	var n, distinct int
	if err := db.QueryRowContext(ctx, "SELECT count(*), count(DISTINCT id) FROM events").Scan(&n, &distinct); err != nil {
		t.Fatalf("count events in %s: %v", path, err)
	}
	if n != distinct {
		t.Fatalf("%s holds %d events but only %d distinct ids", path, n, distinct)
	}
	return n
}
