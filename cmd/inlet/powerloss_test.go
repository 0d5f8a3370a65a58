package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	inlethttp "inlet/http"
	"inlet/powercut"
	"inlet/sqlite"
)

// TestPowerLoss runs the real binary with its data directory on a
// power-cut file system (powercut), under concurrent load, and cuts the
// power at random moments: every write not fsynced is dropped, file data
// and directory entries alike, the process is killed, and Inlet starts
// again on what was durable. It checks what each --sync mode promises (see
// docs/durability.md) and that the check itself catches a build that
// acknowledges events before they are synced.

const (
	powerRoundsEnv = "INLET_POWERLOSS_ROUNDS" // rounds under --sync full: 20 in CI, 6 otherwise
	// normalLossBound is the most a power cut may take from --sync normal,
	// as the age at the cut of the oldest acknowledged event lost: the
	// log is synced by the checkpoint every 200 ms (docs/durability.md).
	normalLossBound = time.Second
	walFile         = "data/inlet.db-wal" // the log, relative to the mount's root
)

func TestPowerLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary on a FUSE file system and cuts its power many times; skipped with -short")
	}
	requireFUSE(t)
	rounds := 6
	if os.Getenv("CI") == "true" {
		rounds = 20
	}
	if v := os.Getenv(powerRoundsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("$%s=%q: want a positive number of rounds", powerRoundsEnv, v)
		}
		rounds = n
	}
	bin := buildInlet(t)

	t.Run("with --sync full every acknowledged event and every owed delivery survives", func(t *testing.T) {
		results := runPowerRounds(t, bin, sqlite.SyncFull, rounds)
		var acked int
		for _, r := range results {
			acked += r.acked
			if r.lost > 0 {
				t.Errorf("round %d (%s): %d of %d acknowledged events lost, the oldest acknowledged %v before the cut",
					r.round, r.cut, r.lost, r.acked, r.oldestLost.Round(time.Millisecond))
			}
		}
		t.Logf("--sync full: %d rounds, %d acknowledged events, none lost", len(results), acked)
	})
	t.Run("with --sync normal the loss stays within the documented window", func(t *testing.T) {
		results := runPowerRounds(t, bin, sqlite.SyncNormal, max(3, rounds/4))
		var acked, lost, most int
		var oldest time.Duration
		for _, r := range results {
			acked, lost, most, oldest = acked+r.acked, lost+r.lost, max(most, r.lost), max(oldest, r.oldestLost)
			if r.oldestLost > normalLossBound {
				t.Errorf("round %d (%s): lost an event acknowledged %v before the cut; the documented bound is %v",
					r.round, r.cut, r.oldestLost.Round(time.Millisecond), normalLossBound)
			}
		}
		t.Logf("--sync normal: %d rounds, %d acknowledged events, %d lost (at most %d in a cut), the oldest lost acknowledged %v before its cut",
			len(results), acked, lost, most, oldest.Round(time.Millisecond))
	})
	t.Run("with --sync off events may be lost but sources and destinations are not", func(t *testing.T) {
		results := runPowerRounds(t, bin, sqlite.SyncOff, 3)
		var acked, lost int
		for _, r := range results {
			acked, lost = acked+r.acked, lost+r.lost
		}
		t.Logf("--sync off: %d rounds, %d acknowledged events, %d lost; every source and destination kept", len(results), acked, lost)
	})
	t.Run("a build that acknowledges before the sync is caught", func(t *testing.T) {
		broken := buildInletTagged(t, "inlet_brokensync")
		results := runPowerRounds(t, broken, sqlite.SyncFull, 2)
		var acked, lost int
		for _, r := range results {
			acked, lost = acked+r.acked, lost+r.lost
		}
		if lost == 0 {
			t.Fatalf("the broken build lost none of %d acknowledged events in %d cuts: the test cannot tell a broken build from a sound one", acked, len(results))
		}
		t.Logf("the broken build under --sync full lost %d of %d acknowledged events in %d cuts: caught", lost, acked, len(results))
	})
}

// TestPowerLossKeepsTheDataDirectoryAndToken starts the real binary on a
// power-cut file system with a data directory it must create and an admin
// token it must generate, under --sync off, and cuts the power as soon as
// it is ready: the directory and the token must be there after the cut, and
// the log must have warned about --sync off.
func TestPowerLossKeepsTheDataDirectoryAndToken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary on a FUSE file system; skipped with -short")
	}
	requireFUSE(t)
	bin := buildInlet(t)
	m := &powerMachine{t: t, durable: t.TempDir(), mnt: t.TempDir()}
	m.mount()
	t.Cleanup(func() {
		if m.fs != nil {
			m.fs.Cut()
			m.fs.Unmount()
		}
	})
	h := &harness{t: t, bin: bin, dataDir: filepath.Join(m.mnt, "data", "inlet")}
	p := h.start("--admin-token", "", "--sync", sqlite.SyncOff) // an empty token: generate one
	token, err := os.ReadFile(filepath.Join(h.dataDir, tokenFile))
	if err != nil || len(token) == 0 {
		t.Fatalf("the generated admin token: %q, %v", token, err)
	}
	if err := m.fs.Cut(); err != nil {
		t.Fatal(err)
	}
	p.kill()
	m.unmount()
	if log := p.stderrTail(); !strings.Contains(log, "--sync off: ") || !strings.Contains(log, "power cut") {
		t.Errorf("under --sync off the log does not warn about a power cut; it ends:\n%s", log)
	}
	kept, err := os.ReadFile(filepath.Join(m.durable, "data", "inlet", tokenFile))
	if err != nil {
		t.Fatalf("after the cut, the admin token is gone: %v", err)
	}
	if string(kept) != string(token) {
		t.Fatalf("after the cut, the admin token is %q; it was %q", kept, token)
	}
}

// requireFUSE skips the test when FUSE cannot be used here, except in CI,
// where a power-loss test that does not run is a failure.
func requireFUSE(t *testing.T) {
	t.Helper()
	if err := powercut.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and FUSE is not usable, so the power-loss test cannot run: %v", err)
		}
		t.Skipf("FUSE is not usable here (the power-loss test needs it; CI fails instead of skipping): %v", err)
	}
}

// powerResult is what one cut cost.
type powerResult struct {
	round      int
	cut        string        // how the power was cut
	acked      int           // events acknowledged in the round
	lost       int           // of them, not stored after the restart
	oldestLost time.Duration // how long before the cut the oldest lost one was acknowledged
}

// powerMachine is a data directory on a power-cut file system: the durable
// directory, and the mount Inlet runs on.
type powerMachine struct {
	t       *testing.T
	durable string
	mnt     string
	fs      *powercut.FS
}

func (m *powerMachine) mount() {
	m.t.Helper()
	fs, err := powercut.Mount(m.mnt, m.durable)
	if err != nil {
		m.t.Fatal(err)
	}
	m.fs = fs
}

func (m *powerMachine) unmount() {
	m.t.Helper()
	err := m.fs.Unmount()
	m.fs = nil
	if err != nil {
		m.t.Fatal(err)
	}
}

// runPowerRounds runs Inlet under load on a power-cut file system and cuts
// the power rounds times, in turn four ways: cut then kill, kill then cut
// (the process's last writes reach the page cache only), at the nth fsync
// of the log, right after the nth write to the log. After each restart it
// checks that the database the cut left passes its integrity check, that
// every source and destination made is there and every one deleted is not,
// that the acknowledged events kept are stored once each as sent, and that
// each of them owed to a destination (every other round has one) reaches
// its receiver. It returns what each cut cost in acknowledged events, for
// the caller to hold against what its --sync mode promises.
func runPowerRounds(t *testing.T, bin, mode string, rounds int) []powerResult {
	m := &powerMachine{t: t, durable: t.TempDir(), mnt: t.TempDir()}
	m.mount()
	t.Cleanup(func() {
		if m.fs != nil {
			m.fs.Cut()
			m.fs.Unmount()
		}
	})
	h := &harness{t: t, bin: bin, dataDir: filepath.Join(m.mnt, "data")}
	recv := newIDReceiver(t)
	began := time.Now()

	var sources, destinations, deleted []string // to find (or not) after each cut
	var results []powerResult
	p := h.start("--sync", mode)
	client := inlethttp.NewClient(p.url, crashToken)
	for round := 1; round <= rounds; round++ {
		// Under --sync off each round makes a source of its own, so that
		// every cut comes after a configuration change.
		if round == 1 || mode == sqlite.SyncOff {
			source := crashSource
			if round > 1 {
				source = fmt.Sprintf("power-%02d", round)
			}
			createPowerSource(t, client, source)
			sources = append(sources, source)
		}
		var dest string
		if round%2 == 1 {
			dest = createPowerDestination(t, client, recv.URL, round)
			destinations = append(destinations, dest)
		}

		load := startLoad(t, p.url, round, crashWorkers)
		load.waitAcks(t, 1)
		delay := time.Duration(100+rand.IntN(601)) * time.Millisecond
		time.Sleep(delay)
		how, cutAt := cutPower(t, m, p, round)
		load.finish()
		if violationsBefore(t, load, cutAt) {
			t.FailNow()
		}
		if len(load.acked) == 0 {
			t.Fatalf("round %d: no request was acknowledged; the test exercised nothing", round)
		}
		stats := m.fs.Stats()
		m.unmount()
		inFile := checkDurableIntegrity(t, filepath.Join(m.durable, "data", "inlet.db"))

		m.mount()
		p = h.start("--sync", mode)
		client = inlethttp.NewClient(p.url, crashToken)
		checkConfiguration(t, client, sources, destinations, deleted, round)
		r, kept := lossOf(t, client, load, cutAt)
		r.round, r.cut = round, how
		if r.lost == 0 {
			checkRound(t, client, load) // stored once each, as sent
		}
		if dest != "" {
			// An event stored is an event owed to the destination: its
			// outbox entry commits with it.
			recv.waitAll(t, kept, 60*time.Second)
		}
		t.Logf("round %d: %s %v after the first acknowledgment: %d acknowledged, %d lost (oldest acknowledged %v before the cut); %d writes, %d file and %d directory fsyncs; %d events in the durable file, integrity ok; destination %q",
			round, how, delay, r.acked, r.lost, r.oldestLost.Round(time.Millisecond), stats.Writes, stats.FileSyncs, stats.DirSyncs, inFile, dest)
		if dest != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := client.DeleteDestination(ctx, dest); err != nil {
				t.Fatalf("delete destination %s: %v", dest, err)
			}
			cancel()
			destinations = slices.DeleteFunc(destinations, func(d string) bool { return d == dest })
			deleted = append(deleted, dest)
		}
		results = append(results, r)
	}
	p.terminate(shutdownTimeout)
	if err := p.exitErr(); err != nil {
		t.Errorf("after the last round, SIGTERM: inlet exited with %v; want exit status 0", err)
	}
	t.Logf("--sync %s: %d cuts in %v", mode, rounds, time.Since(began).Round(time.Millisecond))
	return results
}

// cutPower cuts the power one of four ways, chosen by round, and kills the
// process. It returns how, and when the power went.
func cutPower(t *testing.T, m *powerMachine, p *inletProcess, round int) (string, time.Time) {
	t.Helper()
	switch round % 4 {
	case 1:
		at := time.Now()
		if err := m.fs.Cut(); err != nil {
			t.Fatal(err)
		}
		p.kill()
		return "cut then SIGKILL", at
	case 2:
		p.kill()
		at := time.Now()
		if err := m.fs.Cut(); err != nil {
			t.Fatal(err)
		}
		return "SIGKILL then cut", at
	}
	n := 1 + rand.IntN(20)
	how := fmt.Sprintf("cut at fsync %d of the log from now", n)
	if round%4 == 3 {
		m.fs.CutBeforeSync(walFile, n)
	} else {
		how = fmt.Sprintf("cut after write %d to the log from now", n)
		m.fs.CutAfterWrite(walFile, n)
	}
	var at time.Time
	select {
	case <-m.fs.Down():
		at = time.Now()
	case <-time.After(2 * time.Second):
		// Under --sync off the log is never synced: cut anyway.
		how += " (not reached in 2s: cut)"
		at = time.Now()
		if err := m.fs.Cut(); err != nil {
			t.Fatal(err)
		}
	}
	p.kill()
	return how, at
}

// violationsBefore reports the answers completed before the cut that break
// the API's promises, and whether there were any. Answers after the cut
// come from a process whose disk is gone (every read and write fails; a
// real machine would answer nothing): no one relies on them.
func violationsBefore(t *testing.T, l *roundLoad, cutAt time.Time) bool {
	t.Helper()
	var n int
	for _, o := range l.outcomes {
		if o.bad == nil || o.at.After(cutAt) {
			continue
		}
		if n++; n <= 10 {
			t.Errorf("request %s (session %q), answered %v before the cut: %v", o.sent.marker, o.sent.session, cutAt.Sub(o.at), o.bad)
		}
	}
	return n > 0
}

// lossOf lists the round's events after the restart and returns how many
// acknowledged ones are missing, and the age at the cut of the oldest
// missing one's acknowledgment; and the ids of the acknowledged ones kept.
func lossOf(t *testing.T, client *inlethttp.Client, l *roundLoad, cutAt time.Time) (powerResult, []string) {
	t.Helper()
	stored := map[string]bool{}
	for _, e := range listEvents(t, client, l.since) {
		stored[e.ID] = true
	}
	r := powerResult{acked: len(l.acked)}
	var kept []string
	for _, o := range l.outcomes {
		switch {
		case o.id == "":
		case stored[o.id]:
			kept = append(kept, o.id)
		default:
			r.lost++
			r.oldestLost = max(r.oldestLost, cutAt.Sub(o.at))
		}
	}
	return r, kept
}

// checkConfiguration checks that every source and destination made so far
// is there after the cut, and that every destination deleted stayed deleted.
func checkConfiguration(t *testing.T, client *inlethttp.Client, sources, destinations, deleted []string, round int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, id := range sources {
		if _, err := client.FindSource(ctx, id); err != nil {
			t.Fatalf("round %d: source %s is gone after the cut: %v", round, id, err)
		}
	}
	for _, id := range destinations {
		if _, err := client.FindDestination(ctx, id); err != nil {
			t.Fatalf("round %d: destination %s is gone after the cut: %v", round, id, err)
		}
	}
	for _, id := range deleted {
		if _, err := client.FindDestination(ctx, id); err == nil {
			t.Fatalf("round %d: destination %s, deleted before the cut, is back after it", round, id)
		}
	}
}

// checkDurableIntegrity copies the database and its log as the cut left
// them out of the durable directory, opens the copy (SQLite recovers from
// the log) and runs PRAGMA integrity_check. It returns how many events the
// copy holds; 0 when there is no database at all (nothing of it was synced).
func checkDurableIntegrity(t *testing.T, path string) int {
	t.Helper()
	copyDir := t.TempDir()
	copied := filepath.Join(copyDir, "inlet.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(copied+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(copied); os.IsNotExist(err) {
		return 0
	}
	db, err := sql.Open("sqlite", "file:"+copied)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&result); err != nil || result != "ok" {
		t.Fatalf("integrity check of the database the cut left: %q, %v", result, err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil {
		return 0 // a database whose schema was never synced
	}
	return n
}

func createPowerSource(t *testing.T, client *inlethttp.Client, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.CreateSource(ctx, inlethttp.CreateSourceRequest{ID: id, Name: "power-loss test"}); err != nil {
		t.Fatalf("create source %s: %v", id, err)
	}
}

func createPowerDestination(t *testing.T, client *inlethttp.Client, url string, round int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := client.CreateDestination(ctx, inlethttp.CreateDestinationRequest{
		ID:     fmt.Sprintf("receiver-%02d", round),
		Name:   "power-loss receiver",
		Type:   "webhook",
		Config: json.RawMessage(fmt.Sprintf(`{"url":%q,"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","timeout":"500ms"}`, url)),
	})
	if err != nil {
		t.Fatalf("create destination: %v", err)
	}
	return d.ID
}

// idReceiver is a webhook receiver that remembers the event ids it got.
type idReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	ids map[string]bool
}

func newIDReceiver(t *testing.T) *idReceiver {
	t.Helper()
	r := &idReceiver{ids: map[string]bool{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var e struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(req.Body).Decode(&e); err != nil || e.ID == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.ids[e.ID] = true
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

// waitAll waits until every id has arrived, before or after the cut.
func (r *idReceiver) waitAll(t *testing.T, ids []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r.mu.Lock()
		var missing []string
		for _, id := range ids {
			if !r.ids[id] {
				missing = append(missing, id)
			}
		}
		r.mu.Unlock()
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %d of %d acknowledged events owed to the destination never arrived (for example %s)", within, len(missing), len(ids), missing[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// buildInletTagged builds the inlet binary with build tags, as buildInlet
// does without.
func buildInletTagged(t *testing.T, tags string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "inlet")
	out, err := exec.Command("go", "build", "-tags", tags, "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -tags %s: %v\n%s", tags, err, out)
	}
	return bin
}
