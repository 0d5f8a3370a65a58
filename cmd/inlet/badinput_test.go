package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"inlet"
	inlethttp "inlet/http"
	"inlet/rejection"
)

// What a bad-input case must be answered with.
const (
	wantStored   = iota // a 2xx, and the event is stored
	wantRejected        // a 4xx from the collect handler, recorded in the rejected-request log
	wantEither          // not a 5xx; stored when 2xx, recorded when 4xx
	wantUnrouted        // refused before the collect handler (431): not a 2xx nor a 5xx
)

// badCase is one request of the bad-input test.
type badCase struct {
	n       int
	kind    string
	method  string
	path    string
	header  http.Header
	body    []byte
	chunked bool // sent without a Content-Length
	want    int
}

const (
	badInputToken  = "bad-input-admin-token"
	badInputSecret = "bad-input-github-secret"
)

// badInputCases makes n requests: about one in six valid, the rest
// malformed in every way the issue lists, in a fixed pseudo-random order.
func badInputCases(n int) []*badCase {
	rng := rand.New(rand.NewPCG(4, 2026))
	randomBytes := func(min, max int) []byte {
		b := make([]byte, min+rng.IntN(max-min+1))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	jsonType := http.Header{"Content-Type": {"application/json"}}
	with := func(h http.Header, kv ...string) http.Header {
		h = h.Clone()
		if h == nil {
			h = http.Header{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	deep := []byte(strings.Repeat("[", 100000))
	manyProps := func() []byte {
		var b strings.Builder
		b.WriteString("{")
		for i := 0; i < 1001; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"k%d":%d`, i, i)
		}
		b.WriteString("}")
		return []byte(b.String())
	}()
	hugeNumber := []byte(`{"n":` + strings.Repeat("9", 20000) + `,"e":1e999999999,"neg":-0.0000000000000000000000000000001e-99999}`)
	sign := func(body []byte) string {
		m := hmac.New(sha256.New, []byte(badInputSecret))
		m.Write(body)
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}

	makers := []func(i int) *badCase{
		// Valid requests, interleaved with the rest.
		func(i int) *badCase {
			return &badCase{kind: "valid JSON", method: "POST", path: "/collect/order.paid/open", header: jsonType, body: fmt.Appendf(nil, `{"case":%d,"text":"caf\u00e9 \\u0000"}`, i), want: wantStored}
		},
		func(i int) *badCase {
			return &badCase{kind: "valid GET with a query", method: "GET", path: fmt.Sprintf("/collect/page-view/open/sess-%d?case=%d&q=%%E2%%98%%95", i%50, i), want: wantStored}
		},
		func(i int) *badCase {
			return &badCase{kind: "valid form, chunked", method: "POST", path: "/collect/form/open", header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, body: fmt.Appendf(nil, "case=%d&a=1&a=2", i), chunked: true, want: wantStored}
		},
		func(i int) *badCase {
			body := fmt.Appendf(nil, `{"case":%d}`, i)
			return &badCase{kind: "valid signed request", method: "POST", path: "/collect/push/signed", header: with(jsonType, "X-Hub-Signature-256", sign(body)), body: body, want: wantStored}
		},

		// Malformed bodies.
		func(i int) *badCase {
			b := randomBytes(1, 2048)
			b[0] = 0xff
			return &badCase{kind: "random bytes as JSON", method: "POST", path: "/collect/x/open", header: jsonType, body: b, want: wantRejected}
		},
		func(i int) *badCase {
			return &badCase{kind: "random bytes, no content type", method: "POST", path: "/collect/x/open", body: randomBytes(1, 4096), want: wantEither}
		},
		func(i int) *badCase {
			types := []string{"text/plain", "application/octet-stream", "application/json; charset=", "x/y/z", ";;;", "multipart/form-data", "application/xml", "application/x-www-form-urlencoded"}
			return &badCase{kind: "random bytes, wrong content type", method: "POST", path: "/collect/x/open", header: http.Header{"Content-Type": {types[i%len(types)]}}, body: randomBytes(1, 2048), want: wantEither}
		},
		func(i int) *badCase {
			return &badCase{kind: "invalid UTF-8 in a JSON string", method: "POST", path: "/collect/x/open", header: jsonType, body: []byte("{\"a\":\"\xff\xfe\xc3\"}"), want: wantRejected}
		},
		func(i int) *badCase {
			return &badCase{kind: "a raw NUL in a JSON string", method: "POST", path: "/collect/x/open", header: jsonType, body: []byte("{\"a\":\"x\x00y\"}"), want: wantRejected}
		},
		func(i int) *badCase {
			return &badCase{kind: "NUL bytes as text", method: "POST", path: "/collect/x/open", header: http.Header{"Content-Type": {"text/plain"}}, body: []byte("a\x00b\x00\x00"), want: wantEither}
		},
		func(i int) *badCase {
			return &badCase{kind: "deep nesting", method: "POST", path: "/collect/x/open", header: jsonType, body: deep, want: wantRejected}
		},
		func(i int) *badCase {
			return &badCase{kind: "huge numbers", method: "POST", path: "/collect/x/open", header: jsonType, body: hugeNumber, want: wantEither}
		},
		func(i int) *badCase {
			return &badCase{kind: "too many properties", method: "POST", path: "/collect/x/open", header: jsonType, body: manyProps, want: wantRejected}
		},
		func(i int) *badCase {
			return &badCase{kind: "truncated JSON", method: "POST", path: "/collect/x/open", header: jsonType, body: []byte(`{"a":[1,2,{"b":`), want: wantRejected}
		},
		func(i int) *badCase {
			return &badCase{kind: "multipart without a boundary", method: "POST", path: "/collect/x/open", header: http.Header{"Content-Type": {"multipart/form-data"}}, body: []byte("--x\r\n\r\n"), want: wantRejected}
		},
		func(i int) *badCase {
			return &badCase{kind: "a form with a bad escape", method: "POST", path: "/collect/x/open", header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, body: []byte("a=%zz&b"), want: wantRejected}
		},
		func(i int) *badCase {
			return &badCase{kind: "a query with a bad escape", method: "GET", path: "/collect/x/open?a=%zz", want: wantRejected}
		},

		// Malformed paths.
		func(i int) *badCase {
			return &badCase{kind: "an unknown source", method: "POST", path: fmt.Sprintf("/collect/x/nope-%d", i), header: jsonType, body: []byte(`{}`), want: wantRejected}
		},
		func(i int) *badCase {
			return &badCase{kind: "a disabled source", method: "POST", path: "/collect/x/off", header: jsonType, body: []byte(`{}`), want: wantRejected}
		},
		func(i int) *badCase {
			return &badCase{kind: "an over-long source id", method: "POST", path: "/collect/x/" + strings.Repeat("s", 300+i%500), want: wantRejected}
		},
		func(i int) *badCase {
			return &badCase{kind: "an over-long event type", method: "POST", path: "/collect/" + strings.Repeat("e", 129+i%300) + "/open", want: wantRejected}
		},
		func(i int) *badCase {
			return &badCase{kind: "an over-long session id", method: "POST", path: "/collect/x/open/" + strings.Repeat("z", 129+i%300), want: wantRejected}
		},
		func(i int) *badCase {
			paths := []string{"/collect/a%00b/open", "/collect/%ff%fe/open", "/collect/x/open/%00", "/collect/x/open/s%20s", "/collect/x/%ff", "/collect/%2e%2e%2f%2e%2e%2fetc%2fpasswd/open", "/collect/x/..%2f..%2fetc%2fpasswd", "/collect/x/open/..%2f..%2f..%2fsecret"}
			return &badCase{kind: "NUL, invalid UTF-8 or encoded traversal in the path", method: "POST", path: paths[i%len(paths)], want: wantRejected}
		},
		func(i int) *badCase {
			return &badCase{kind: "path traversal", method: "POST", path: "/collect/x/open/../../../etc/passwd", want: wantRejected}
		},
		func(i int) *badCase {
			methods := []string{"PUT", "DELETE", "PATCH", "OPTIONS"}
			return &badCase{kind: "a method collect does not take", method: methods[i%len(methods)], path: "/collect/x/open", want: wantRejected}
		},

		// Over the limits.
		func(i int) *badCase {
			return &badCase{kind: "a body over the source's cap", method: "POST", path: "/collect/x/small", header: jsonType, body: bytes.Repeat([]byte("a"), 1025+i%4000), want: wantRejected}
		},
		func(i int) *badCase {
			return &badCase{kind: "a chunked body over the source's cap", method: "POST", path: "/collect/x/small", header: jsonType, body: bytes.Repeat([]byte("b"), 1025+i%4000), chunked: true, want: wantRejected}
		},
		func(i int) *badCase {
			// Twice the server's MaxHeaderBytes: net/http enforces that
			// bound only to within a few KiB on a reused connection.
			return &badCase{kind: "oversized headers", method: "POST", path: "/collect/x/open", header: http.Header{"X-Big": {strings.Repeat("h", 128<<10)}}, want: wantUnrouted}
		},

		// Failed verification.
		func(i int) *badCase {
			body := fmt.Appendf(nil, `{"case":%d}`, i)
			sigs := []string{"", "sha256=" + strings.Repeat("0", 64), "sha256=zz", sign(append(body, ' ')), "sha1=" + strings.Repeat("a", 40)}
			h := jsonType.Clone()
			if s := sigs[i%len(sigs)]; s != "" {
				h.Set("X-Hub-Signature-256", s)
			}
			return &badCase{kind: "a missing or bad signature", method: "POST", path: "/collect/push/signed", header: h, body: body, want: wantRejected}
		},
	}
	cases := make([]*badCase, n)
	for i := range cases {
		var c *badCase
		if i%6 == 0 {
			c = makers[rng.IntN(4)](i) // the valid ones
		} else {
			c = makers[4+rng.IntN(len(makers)-4)](i)
		}
		c.n = i
		c.header = c.header.Clone() // cases share header maps
		if c.header == nil {
			c.header = http.Header{}
		}
		c.header.Set("X-Bad-Id", strconv.Itoa(i))
		cases[i] = c
	}
	// A few bodies far over the default 1 MiB cap, sent chunked.
	for i := 7; i < n; i += 1000 {
		cases[i] = &badCase{n: i, kind: "a chunked body over the default cap", method: "POST", path: "/collect/x/open", header: http.Header{"X-Bad-Id": {strconv.Itoa(i)}, "Content-Type": {"application/json"}},
			body: bytes.Repeat([]byte(" "), inlet.DefaultMaxBodyBytes+4096), chunked: true, want: wantRejected}
	}
	return cases
}

// badOutcome is how the server answered one case.
type badOutcome struct {
	status int
	body   []byte
	err    error
}

// chunkedReader hides a body's length, so that it is sent chunked.
type chunkedReader struct{ io.Reader }

func sendBadCase(client *http.Client, baseURL string, c *badCase) badOutcome {
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
		if c.chunked {
			body = chunkedReader{body}
		}
	}
	req, err := http.NewRequest(c.method, baseURL+c.path, body)
	if err != nil {
		return badOutcome{err: err}
	}
	req.Header = c.header
	resp, err := client.Do(req)
	if err != nil {
		return badOutcome{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return badOutcome{status: resp.StatusCode, body: b, err: err}
}

func TestBadInput(t *testing.T) {
	const total = 12000 // 10,000 malformed and 2,000 valid
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AdminToken = badInputToken
	cfg.ShutdownTimeout = 10 * time.Second
	cfg.RejectionsMaxCount = 2 * total // so that the bound drops none
	cfg.RejectionsMaxBytes = 1 << 30
	m := NewMain(cfg, slog.New(slog.DiscardHandler))
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("run: %v", err)
	}
	closed := false
	defer func() {
		if !closed {
			m.Close()
		}
	}()
	ctx := context.Background()
	admin := inlethttp.NewClient(m.URL(), badInputToken)
	for _, req := range []inlethttp.CreateSourceRequest{
		{ID: "open", Name: "open"},
		{ID: "small", Name: "small", Config: &inlet.SourceConfig{MaxBodyBytes: 1024}},
		{ID: "signed", Name: "signed", Config: &inlet.SourceConfig{Verify: &inlet.VerifyConfig{Type: "github", Secret: badInputSecret}}},
		{ID: "off", Name: "off", Enabled: new(bool)},
	} {
		if _, err := admin.CreateSource(ctx, req); err != nil {
			t.Fatalf("create source %s: %v", req.ID, err)
		}
	}

	cases := badInputCases(total)
	outcomes := make([]badOutcome, len(cases))
	client := &http.Client{
		Timeout:       30 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 8},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	began := time.Now()
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				outcomes[i] = sendBadCase(client, m.URL(), cases[i])
			}
		}()
	}
	for i := range cases {
		next <- i
	}
	close(next)
	wg.Wait()
	t.Logf("%d requests in %v", len(cases), time.Since(began).Round(time.Millisecond))

	// Every answer: no 5xx, the expected class, a JSON error for every 4xx
	// of the collect handler.
	var (
		stored   = map[string]*badCase{} // event id -> case
		rejected = map[int]bool{}        // case number -> answered 4xx by the handler
		byStatus = map[int]int{}
		failures int
	)
	fail := func(c *badCase, format string, args ...any) {
		t.Helper()
		if failures++; failures <= 20 {
			t.Errorf("case %d (%s, %s %.80s): %s", c.n, c.kind, c.method, c.path, fmt.Sprintf(format, args...))
		}
	}
	for i, o := range outcomes {
		c := cases[i]
		if o.err != nil {
			// The server may answer a body over the cap before reading it
			// all and close the connection; the client then reports the
			// write it could not finish.
			if c.want == wantRejected && strings.Contains(c.kind, "over") {
				rejected[c.n] = true
				continue
			}
			fail(c, "transport error: %v", o.err)
			continue
		}
		byStatus[o.status]++
		switch {
		case o.status >= 500:
			fail(c, "answered %d %s", o.status, o.body)
		case o.status >= 200 && o.status < 300:
			if c.want == wantRejected || c.want == wantUnrouted {
				fail(c, "accepted with %d %s, want a refusal", o.status, o.body)
				continue
			}
			var answer struct {
				Events []string `json:"events"`
			}
			if err := json.Unmarshal(o.body, &answer); err != nil || len(answer.Events) != 1 {
				fail(c, "a 2xx that names no event: %s", o.body)
				continue
			}
			stored[answer.Events[0]] = c
		case o.status >= 400:
			if c.want == wantStored {
				fail(c, "refused with %d %s", o.status, o.body)
				continue
			}
			if c.want == wantUnrouted {
				continue
			}
			var eb inlethttp.ErrorBody
			if err := json.Unmarshal(o.body, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
				fail(c, "a %d without a JSON error: %q", o.status, o.body)
			}
			rejected[c.n] = true
		default:
			if c.want != wantUnrouted {
				fail(c, "answered %d", o.status)
			}
		}
	}
	t.Logf("answers by status: %v", byStatus)

	// The server is healthy and still takes events.
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := client.Get(m.URL() + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s after the bad input: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	after := sendBadCase(client, m.URL(), &badCase{method: "POST", path: "/collect/after/open", header: http.Header{"Content-Type": {"application/json"}}, body: []byte(`{"after":true}`)})
	if after.err != nil || after.status != http.StatusOK {
		t.Fatalf("a valid event after the bad input: %d %s %v", after.status, after.body, after.err)
	}

	// Every acknowledged event is stored, with the body it was sent with.
	found := 0
	var f inlet.EventFilter
	f.Limit = inlet.MaxEventLimit
	for {
		page, err := admin.ListEvents(ctx, f)
		if err != nil {
			t.Fatalf("list events: %v", err)
		}
		for _, e := range page.Items {
			if c, ok := stored[e.ID]; ok {
				found++
				if c.kind == "valid JSON" && !bytes.Contains(e.Properties, fmt.Appendf(nil, `"case":%d`, c.n)) {
					t.Errorf("event %s of case %d stored as %s", e.ID, c.n, e.Properties)
				}
			}
		}
		if page.Next == nil {
			break
		}
		f.Cursor = *page.Next
	}
	if found != len(stored) {
		t.Errorf("%d of %d acknowledged events are stored", found, len(stored))
	}

	// Every refusal of the collect handler is counted in the
	// rejected-request log, a few of each kind are kept as samples, and no
	// sample keeps a secret header. The log is written off the request
	// path, once a second: wait until it has written what it holds.
	deadline := time.Now().Add(20 * time.Second)
	var stats rejection.Stats
	for {
		stats = m.rejections.Stats()
		if stats.Queued == 0 && stats.Counted >= int64(len(rejected)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	counts, err := admin.CountRejections(ctx, inlet.RejectionFilter{})
	if err != nil {
		t.Fatalf("count rejections: %v", err)
	}
	var counted int64
	for _, c := range counts {
		counted += c.Count
		if c.SourceID != inlet.UnknownSourceBucket && c.SourceID != "open" && c.SourceID != "small" && c.SourceID != "signed" {
			t.Errorf("a count of %q: refusals of unknown ids must be counted in one bucket", c.SourceID)
		}
	}
	if counted != int64(len(rejected)) {
		t.Errorf("%d refusals counted, want the %d requests the collect handler refused", counted, len(rejected))
	}
	logged := map[int]bool{}
	var before int64
	for {
		items, err := admin.ListRejections(ctx, inlet.RejectionFilter{Limit: inlet.MaxRejectionLimit, BeforeID: before})
		if err != nil {
			t.Fatalf("list rejections: %v", err)
		}
		for _, r := range items {
			for name := range r.Headers {
				if name == "X-Hub-Signature-256" || name == "Authorization" || name == "Cookie" {
					t.Errorf("rejection %d keeps the header %s", r.ID, name)
				}
			}
			if len(r.Body) > inlet.MaxRejectionBody {
				t.Errorf("rejection %d keeps %d bytes of body", r.ID, len(r.Body))
			}
			if n, err := strconv.Atoi(r.Headers["X-Bad-Id"]); err == nil {
				if !rejected[n] {
					t.Errorf("rejection %d is case %d, which was not refused", r.ID, n)
				}
				logged[n] = true
			}
			before = r.ID
		}
		if len(items) < inlet.MaxRejectionLimit {
			break
		}
	}
	// Samples are bounded per source and reason a minute: a few dozen
	// pairs, not thousands of rows.
	if len(logged) == 0 || len(logged) > 20*len(counts) {
		t.Errorf("%d samples for %d (source, reason) pairs, want 1 to 20 a pair", len(logged), len(counts))
	}
	t.Logf("%d events stored; %d requests refused by the collect handler, %d counted in %d pairs, %d samples (log stats %+v)", len(stored), len(rejected), counted, len(counts), len(logged), stats)
	mustRefuse := 0
	for _, c := range cases {
		if c.want == wantRejected {
			mustRefuse++
		}
	}
	if len(rejected) < mustRefuse {
		t.Errorf("%d requests were refused by the collect handler, fewer than the %d that must be", len(rejected), mustRefuse)
	}

	// The operator's view of the same log.
	var stdout, stderr bytes.Buffer
	if err := run(ctx, []string{"rejections", "list", "--server", m.URL(), "--admin-token", badInputToken, "--reason", "bad_signature", "--limit", "3"}, &stdout, &stderr); err != nil {
		t.Fatalf("inlet rejections list: %v %s", err, stderr.String())
	}
	countsPart, samplesPart, _ := strings.Cut(stdout.String(), "\n\n")
	countLines := strings.Split(strings.TrimSpace(countsPart), "\n")
	if len(countLines) != 2 || !strings.Contains(countLines[0], "COUNT") || !regexp.MustCompile(`^signed\s+bad_signature\s+[1-9][0-9]*\s`).MatchString(countLines[1]) {
		t.Errorf("inlet rejections list printed these counts:\n%s", countsPart)
	}
	lines := strings.Split(strings.TrimSpace(samplesPart), "\n")
	if len(lines) != 5 || !strings.Contains(lines[1], "REASON") || !strings.Contains(lines[2], "bad_signature") || !strings.Contains(lines[2], "signed") {
		t.Errorf("inlet rejections list printed these samples:\n%s", samplesPart)
	}

	closed = true
	if err := m.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// buildBadInputBinary builds the inlet command into a temporary directory.
func buildBadInputBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "inlet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// setFileSizeLimit sets the soft RLIMIT_FSIZE of process pid: with 0, every
// write to a file fails with EFBIG, as on a full disk, while reads go on
// (Go programs ignore the SIGXFSZ that comes with it).
func setFileSizeLimit(pid int, limit uint64) error {
	// Only the soft limit moves, so that it can be raised again.
	lim := syscall.Rlimit{Cur: limit, Max: math.MaxUint64}
	_, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(syscall.RLIMIT_FSIZE), uintptr(unsafe.Pointer(&lim)), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// startServeProcess runs `inlet serve` on a free port over dataDir and
// returns the process and its base URL.
func startServeProcess(t *testing.T, bin, dataDir string) (*exec.Cmd, string, *lockedLog) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", dataDir, "--admin-token", badInputToken)
	cmd.Env = append(os.Environ(), "INLET_DB=")
	logs := &lockedLog{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	addr := regexp.MustCompile(`inlet listening"? addr=(127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := addr.FindStringSubmatch(logs.String()); m != nil {
			return cmd, "http://" + m[1], logs
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("inlet serve did not start:\n%s", logs.String())
	return nil, "", nil
}

// lockedLog collects a process's log.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestStoreFailureOnDisk makes the running server's files unwritable (its
// file size limit drops to 0, so every write fails as on a full disk),
// then writable again: collect answers 503 with Retry-After meanwhile,
// recovers by itself, and every event it acknowledged is there after a
// restart.
func TestStoreFailureOnDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBadInputBinary(t)
	dataDir := t.TempDir()
	cmd, url, logs := startServeProcess(t, bin, dataDir)
	ctx := context.Background()
	admin := inlethttp.NewClient(url, badInputToken)
	if _, err := admin.CreateSource(ctx, inlethttp.CreateSourceRequest{ID: "disk", Name: "disk"}); err != nil {
		t.Fatal(err)
	}

	var (
		mu       sync.Mutex
		acked    []string
		statuses = map[int]int{}
		stop     atomic.Bool
		wg       sync.WaitGroup
		n        atomic.Int64
	)
	client := &http.Client{Timeout: 30 * time.Second}
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				i := n.Add(1)
				resp, err := client.Post(url+"/collect/disk.test/disk", "application/json", strings.NewReader(fmt.Sprintf(`{"i":%d}`, i)))
				if err != nil {
					t.Errorf("request %d: %v", i, err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
				switch resp.StatusCode {
				case http.StatusOK:
					var answer struct {
						Events []string `json:"events"`
					}
					json.Unmarshal(b, &answer)
					mu.Lock()
					acked = append(acked, answer.Events...)
					mu.Unlock()
				case http.StatusServiceUnavailable:
					if resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"code":"unavailable"`) {
						t.Errorf("a 503 without Retry-After or a JSON error: %v %s", resp.Header, b)
					}
					time.Sleep(5 * time.Millisecond)
				default:
					t.Errorf("status %d %s", resp.StatusCode, b)
				}
			}
		}()
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("timed out waiting for %s; answers so far %v\n%s", what, statuses, logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	count := func(status int) func() int {
		return func() int {
			mu.Lock()
			defer mu.Unlock()
			return statuses[status]
		}
	}
	waitFor("events to be stored", func() bool { return count(200)() >= 50 })
	if err := setFileSizeLimit(cmd.Process.Pid, 0); err != nil {
		t.Skipf("cannot limit the server's file size: %v", err)
	}
	waitFor("503 answers while the disk cannot be written", func() bool { return count(503)() >= 50 })
	okWhileDown := count(200)()
	time.Sleep(200 * time.Millisecond)
	if got := count(200)(); got > okWhileDown+3 { // requests committed just before the limit may still answer
		t.Errorf("%d events acknowledged while nothing could be written", got-okWhileDown)
	}
	if err := setFileSizeLimit(cmd.Process.Pid, math.MaxUint64); err != nil {
		t.Fatal(err)
	}
	okBefore := count(200)()
	waitFor("the server to take events again by itself", func() bool { return count(200)() >= okBefore+50 })
	stop.Store(true)
	wg.Wait()
	t.Logf("answers: %v; %d acknowledged", statuses, len(acked))

	// Restart over the same files: every acknowledged event is there.
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exited with %v\n%s", err, logs.String())
	}
	_, url, _ = startServeProcess(t, bin, dataDir)
	admin = inlethttp.NewClient(url, badInputToken)
	missing := 0
	for _, id := range acked {
		if _, err := admin.FindEvent(ctx, id); err != nil {
			if missing++; missing <= 5 {
				t.Errorf("acknowledged event %s: %v", id, err)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged events are lost", missing, len(acked))
	}
}
