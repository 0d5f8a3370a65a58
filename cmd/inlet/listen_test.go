package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-github/v72/github"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stripe/stripe-go/v82/webhook"

	"inlet/postgres/pgtest"
)

// listenSecret is the application's secret in these tests: whsec_ and
// base64, so that Standard Webhooks takes it too.
const listenSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// localApp is the application listen forwards to: it verifies each
// request with the sender's library and the application's secret, and
// records what it accepted.
type localApp struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	failN  int // answer 503 to this many requests first
	secret string
	delay  time.Duration // before each answer; set before the first request
}

type received struct {
	path, kind, id string
	body           []byte
}

func newLocalApp(t *testing.T, secret string) *localApp {
	a := &localApp{t: t, secret: secret}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *localApp) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	time.Sleep(a.delay)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failN > 0 {
		a.failN--
		http.Error(w, "not yet", http.StatusServiceUnavailable)
		return
	}
	var kind string
	var err error
	switch {
	case r.Header.Get("Stripe-Signature") != "":
		kind = "stripe"
		_, err = webhook.ConstructEventWithOptions(body, r.Header.Get("Stripe-Signature"), a.secret, webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	case r.Header.Get("X-Hub-Signature-256") != "":
		kind = "github"
		err = github.ValidateSignature(r.Header.Get("X-Hub-Signature-256"), body, []byte(a.secret))
	case r.Header.Get("Webhook-Signature") != "":
		kind = "standard-webhooks"
		var wh *standardwebhooks.Webhook
		if wh, err = standardwebhooks.NewWebhook(a.secret); err == nil {
			err = wh.Verify(body, r.Header)
		}
	default:
		err = fmt.Errorf("no signature")
	}
	if err != nil {
		a.t.Errorf("the application refuses a forwarded %s request: %v (headers %v)", kind, err, r.Header)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.got = append(a.got, received{path: r.URL.Path, kind: kind, id: r.Header.Get("Inlet-Event-Id"), body: body})
	w.WriteHeader(http.StatusNoContent)
}

func (a *localApp) received() []received {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.got)
}

// waitFor waits until the application has n requests.
func (a *localApp) waitFor(n int) []received {
	a.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if got := a.received(); len(got) >= n {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.t.Fatalf("the application received %d requests, want %d", len(a.received()), n)
	return nil
}

// listening is an inlet listen running until stop.
type listening struct {
	cancel         context.CancelFunc
	done           chan error
	stdout, stderr *lockedBuffer
}

func startListen(t *testing.T, s *liveServer, stateDir string, args ...string) *listening {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &listening{cancel: cancel, done: make(chan error, 1), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	all := append([]string{"listen", "--server", s.url, "--admin-token", s.token, "--state-dir", stateDir}, args...)
	go func() { l.done <- run(ctx, all, l.stdout, l.stderr) }()
	t.Cleanup(l.stop)
	// Started: its place in the log is saved.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if files, _ := filepath.Glob(filepath.Join(stateDir, "*", "*.json")); len(files) > 0 && strings.Contains(l.stderr.String(), "forwarding") {
			return l
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("listen did not start: %s", l.stderr.String())
	return nil
}

// stop interrupts listen as Ctrl-C does; later calls do nothing.
func (l *listening) stop() {
	if l.cancel == nil {
		return
	}
	l.cancel()
	<-l.done
	l.cancel = nil
}

// sendStripe posts a Stripe event signed by stripe-go, sendGitHub a GitHub
// one signed as GitHub signs.
func sendStripe(t *testing.T, s *liveServer, source, secret, id, typ string) {
	t.Helper()
	body := fmt.Appendf(nil, `{"id":%q,"object":"event","type":%q,"data":{"object":{"id":"in_1"}}}`, id, typ)
	p := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: time.Now()})
	collectSigned(t, s, "/collect/stripe/"+source, body, "Stripe-Signature", p.Header)
}

func sendGitHub(t *testing.T, s *liveServer, source, secret, delivery string) {
	t.Helper()
	body := fmt.Appendf(nil, `{"ref":"refs/heads/main","after":%q,"repository":{"full_name":"octo/app"}}`, delivery)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	collectSigned(t, s, "/collect/github/"+source, body, "X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)),
		"X-GitHub-Event", "push", "X-GitHub-Delivery", delivery)
}

func collectSigned(t *testing.T, s *liveServer, path string, body []byte, headers ...string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
	}
}

func fastListen(t *testing.T) {
	t.Helper()
	b, mb, w := listenBackoff, listenMaxBackoff, listenWait
	listenBackoff, listenMaxBackoff, listenWait = 20*time.Millisecond, 100*time.Millisecond, 2*time.Second
	t.Cleanup(func() { listenBackoff, listenMaxBackoff, listenWait = b, mb, w })
}

func TestListen(t *testing.T) {
	isolateCLIEnv(t)
	fastListen(t)
	s := startLive(t, liveConfig(t))
	conn := []string{"--server", s.url, "--admin-token", s.token}
	mustRunInlet(t, append([]string{"sources", "create", "--name", "Stripe", "--id", "stripe", "--preset", "stripe", "--secret", "whsec_sender"}, conn...)...)
	mustRunInlet(t, append([]string{"sources", "create", "--name", "GitHub", "--id", "gh", "--preset", "github", "--secret", "gh-sender"}, conn...)...)

	t.Run("forwards each event as its sender sent it, signed again with the application's secret", func(t *testing.T) {
		app := newLocalApp(t, listenSecret)
		l := startListen(t, s, t.TempDir(), "--name", "signed", "--secret", listenSecret, "--forward-to", app.srv.URL+"/hooks")
		sendStripe(t, s, "stripe", "whsec_sender", "evt_signed_1", "invoice.paid")
		sendGitHub(t, s, "gh", "gh-sender", "d-signed-1")
		got := app.waitFor(2)
		if got[0].kind != "stripe" || got[1].kind != "github" {
			t.Fatalf("the application got %v, want the stripe event then the github one", got)
		}
		if want := `{"id":"evt_signed_1","object":"event","type":"invoice.paid","data":{"object":{"id":"in_1"}}}`; string(got[0].body) != want {
			t.Errorf("the forwarded body = %s, want the sender's %s", got[0].body, want)
		}
		l.stop()
		if out := l.stdout.String(); !strings.Contains(out, "stripe  invoice.paid  -> 204") || !strings.Contains(out, "gh  push  -> 204") {
			t.Errorf("listen printed %q; want a line per event with its type and the answer's status", out)
		}
	})

	t.Run("a listener stopped and started again forwards every event it missed, in order", func(t *testing.T) {
		listenResumes(t, s)
	})

	t.Run("a failing endpoint is retried and the events behind it wait", func(t *testing.T) {
		app := newLocalApp(t, listenSecret)
		app.failN = 3
		l := startListen(t, s, t.TempDir(), "--name", "retry", "--secret", listenSecret, "--forward-to", app.srv.URL+"/hooks")
		sendStripe(t, s, "stripe", "whsec_sender", "evt_retry_1", "invoice.paid")
		sendStripe(t, s, "stripe", "whsec_sender", "evt_retry_2", "invoice.paid")
		got := app.waitFor(2)
		if !bytes.Contains(got[0].body, []byte("evt_retry_1")) || !bytes.Contains(got[1].body, []byte("evt_retry_2")) {
			t.Errorf("after retries the application got %s then %s, want evt_retry_1 then evt_retry_2", got[0].body, got[1].body)
		}
		l.stop()
		if out := l.stdout.String(); strings.Count(out, "-> 503") != 3 || !strings.Contains(out, "retrying in") {
			t.Errorf("listen printed %q; want the three 503 answers and that it retries", out)
		}
	})

	t.Run("rules by type send events to different URLs, and filters leave events out", func(t *testing.T) {
		app := newLocalApp(t, listenSecret)
		l := startListen(t, s, t.TempDir(), "--name", "rules", "--secret", listenSecret, "--source", "stripe",
			"--forward-to", "invoice.*="+app.srv.URL+"/billing", "--forward-to", app.srv.URL+"/other")
		sendGitHub(t, s, "gh", "gh-sender", "d-rules")
		sendStripe(t, s, "stripe", "whsec_sender", "evt_rules_1", "invoice.paid")
		sendStripe(t, s, "stripe", "whsec_sender", "evt_rules_2", "customer.created")
		got := app.waitFor(2)
		l.stop()
		if len(got) != 2 || got[0].path != "/billing" || got[1].path != "/other" {
			t.Errorf("the application got %+v; want invoice.paid at /billing, customer.created at /other, and no github event", got)
		}
	})

	t.Run("without --secret, listen signs with a development secret it prints and keeps", func(t *testing.T) {
		dir := t.TempDir()
		app := newLocalApp(t, "")
		app.failN = 1 << 30 // answers 503 until the secret is known
		l := startListen(t, s, dir, "--name", "dev", "--forward-to", app.srv.URL+"/hooks")
		i := strings.Index(l.stderr.String(), "whsec_")
		if i < 0 {
			t.Fatalf("listen did not print its development secret: %s", l.stderr.String())
		}
		secret := strings.Fields(l.stderr.String()[i:])[0]
		app.mu.Lock()
		app.secret, app.failN = secret, 0
		app.mu.Unlock()
		sendStripe(t, s, "stripe", "whsec_sender", "evt_dev", "invoice.paid")
		app.waitFor(1)
		l.stop()
		l = startListen(t, s, dir, "--name", "dev", "--forward-to", app.srv.URL+"/hooks")
		if !strings.Contains(l.stderr.String(), secret) {
			t.Errorf("a restarted listener signs with another secret: %s", l.stderr.String())
		}
	})

	t.Run("two listeners of one name refuse to run at once", func(t *testing.T) {
		dir := t.TempDir()
		app := newLocalApp(t, listenSecret)
		startListen(t, s, dir, "--name", "once", "--forward-to", app.srv.URL)
		_, stderr, err := runInlet(t, "listen", "--server", s.url, "--admin-token", s.token, "--state-dir", dir, "--name", "once", "--forward-to", app.srv.URL)
		if err == nil || !strings.Contains(stderr, "another listener with this name runs already") {
			t.Errorf("a second listener of the same name: %v %s", err, stderr)
		}
	})
}

var resumeIDRE = regexp.MustCompile(`[_-]r(\d+)"`)

func TestListenOnPostgreSQL(t *testing.T) {
	isolateCLIEnv(t)
	fastListen(t)
	cfg := liveConfig(t)
	cfg.DB = pgtest.URL(t)
	s := startLive(t, cfg)
	conn := []string{"--server", s.url, "--admin-token", s.token}
	mustRunInlet(t, append([]string{"sources", "create", "--name", "Stripe", "--id", "stripe", "--preset", "stripe", "--secret", "whsec_sender"}, conn...)...)
	mustRunInlet(t, append([]string{"sources", "create", "--name", "GitHub", "--id", "gh", "--preset", "github", "--secret", "gh-sender"}, conn...)...)
	listenResumes(t, s)
}

// listenResumes stops a listener, sends events, and starts it again: it
// forwards every one, in order, then the new ones. The server has the
// sources stripe (whsec_sender) and gh (gh-sender).
func listenResumes(t *testing.T, s *liveServer) {
	app := newLocalApp(t, listenSecret)
	dir := t.TempDir()
	args := []string{"--name", "resume", "--secret", listenSecret, "--forward-to", app.srv.URL + "/hooks"}
	l := startListen(t, s, dir, args...)
	sendStripe(t, s, "stripe", "whsec_sender", "evt_r0", "invoice.paid")
	app.waitFor(1)
	l.stop()
	var want []string
	for i := range 6 {
		if i%2 == 0 {
			sendStripe(t, s, "stripe", "whsec_sender", fmt.Sprintf("evt_r%d", i+1), "charge.succeeded")
		} else {
			sendGitHub(t, s, "gh", "gh-sender", fmt.Sprintf("d-r%d", i+1))
		}
		want = append(want, fmt.Sprintf("%d", i+1))
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(app.received()); n != 1 {
		t.Fatalf("the application got %d requests while listen was stopped", n)
	}
	l = startListen(t, s, dir, args...)
	if !strings.Contains(l.stderr.String(), "resumes where it stopped") {
		t.Errorf("a restarted listener says %q; want that it resumes", l.stderr.String())
	}
	sendStripe(t, s, "stripe", "whsec_sender", "evt_r7", "invoice.paid")
	got := app.waitFor(8)
	var order []string
	for _, r := range got[1:] {
		if m := resumeIDRE.FindSubmatch(r.body); m != nil {
			order = append(order, string(m[1]))
		}
	}
	if want = append(want, "7"); !slices.Equal(order, want) {
		t.Errorf("after the restart the application got events %v, want %v: every missed one, in order, then the new one", order, want)
	}
	if len(got) != 8 {
		t.Errorf("the application got %d requests, want 8: none twice", len(got))
	}
}

func TestListenStatePath(t *testing.T) {
	env := cliEnv{getenv: func(k string) string { return map[string]string{"XDG_STATE_HOME": "/state"}[k] }}
	got, err := listenStatePath(env, "", "http://127.0.0.1:8686", "my app")
	if want := "/state/inlet/listen/127.0.0.1_8686/my_app.json"; err != nil || got != want {
		t.Errorf("state path = %q, %v; want %q", got, err, want)
	}
}

// TestListenSurvivesKill runs listen as its own process, kills it with
// SIGKILL while it forwards, lets more events arrive, and starts it again:
// the application gets every event, in order, and at most the one in
// flight at the kill twice.
func TestListenSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the inlet binary")
	}
	bin := buildInlet(t)
	s := startLive(t, liveConfig(t))
	mustRunInlet(t, "sources", "create", "--name", "Stripe", "--id", "stripe", "--preset", "stripe", "--secret", "whsec_sender", "--server", s.url, "--admin-token", s.token)
	app := newLocalApp(t, listenSecret)
	app.delay = 20 * time.Millisecond // so that the kill lands mid-stream
	dir := t.TempDir()
	start := func() *exec.Cmd {
		t.Helper()
		cmd := exec.Command(bin, "listen", "--server", s.url, "--admin-token", s.token, "--state-dir", dir, "--name", "killed",
			"--secret", listenSecret, "--forward-to", app.srv.URL+"/hooks")
		var stderr lockedBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "forwarding"); {
			if time.Now().After(deadline) {
				t.Fatalf("listen did not start: %s", stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		return cmd
	}
	l := start()
	var want []string
	send := func(n int) {
		for range n {
			id := fmt.Sprintf("evt_k%02d", len(want))
			sendStripe(t, s, "stripe", "whsec_sender", id, "invoice.paid")
			want = append(want, id)
		}
	}
	send(20)
	app.waitFor(5)
	if err := l.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	l.Wait()
	send(10)
	start()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var seen []string
		dups := 0
		for _, r := range app.received() {
			id := killIDRE.FindString(string(r.body))
			if slices.Contains(seen, id) {
				dups++
				continue
			}
			seen = append(seen, id)
		}
		if len(seen) == len(want) {
			if !slices.Equal(seen, want) {
				t.Errorf("the application got %v, want %v: every event, in order", seen, want)
			}
			if dups > 1 {
				t.Errorf("%d events were forwarded twice; only the one in flight at the kill may be", dups)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the application got %d of %d events: %v", len(seen), len(want), seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var killIDRE = regexp.MustCompile(`evt_k\d+`)
