package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"inlet"
)

// These tests run the CLI through run, the whole program, against a real
// server started in-process, and read what it prints as a user would.

// runInlet runs the program with args and returns what it printed.
func runInlet(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// mustRunInlet runs the program with args, fails the test unless it
// succeeds, and returns its standard output.
func mustRunInlet(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := runInlet(t, args...)
	if err != nil {
		t.Fatalf("inlet %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr)
	}
	return stdout
}

// decodeOutput decodes the JSON a command printed.
func decodeOutput(t *testing.T, stdout string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(stdout), v); err != nil {
		t.Fatalf("the output is not the JSON expected: %v\n%s", err, stdout)
	}
}

// tableRows splits a printed table into its rows of fields (two or more
// spaces apart), header first.
func tableRows(t *testing.T, stdout string) [][]string {
	t.Helper()
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(stdout, "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			break
		}
		rows = append(rows, regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1))
	}
	if len(rows) == 0 {
		t.Fatalf("no table in the output %q", stdout)
	}
	return rows
}

// isolateCLIEnv clears the environment variables the CLI reads, so that
// the caller's environment cannot change what a test sees.
func isolateCLIEnv(t *testing.T) {
	t.Helper()
	for _, name := range []string{"INLET_SERVER", "INLET_ADMIN_TOKEN", "INLET_DATA", "INLET_ADDR"} {
		t.Setenv(name, "")
	}
}

func TestCLI(t *testing.T) {
	isolateCLIEnv(t)
	cfg := liveConfig(t)
	cfg.AdminToken = "" // the CLI finds the generated one through --data
	s := startLive(t, cfg)
	conn := []string{"--server", s.url, "--data", cfg.DataDir}
	cmd := func(args ...string) []string { return append(args, conn...) }

	t.Run("sources create prints the new source, and the server has it", func(t *testing.T) {
		rows := tableRows(t, mustRunInlet(t, cmd("sources", "create", "--name", "Web Shop", "--id", "shop")...))
		if len(rows) != 2 || strings.Join(rows[0], "|") != "ID|NAME|TYPE|STATE|CREATED" {
			t.Fatalf("table %q, want a header and one row", rows)
		}
		if r := rows[1]; len(r) != 5 || r[0] != "shop" || r[1] != "Web Shop" || r[2] != "webhook" || r[3] != "enabled" {
			t.Errorf("row %q, want shop, Web Shop, webhook, enabled", r)
		} else {
			parseAPITime(t, "CREATED", r[4])
		}
		var src storedSource
		s.admin("GET", "/api/v1/sources/shop", nil, http.StatusOK, &src)
		if src.Name != "Web Shop" || !src.Enabled {
			t.Errorf("the server holds %+v", src)
		}
	})

	t.Run("sources create with --json, --disabled and --config prints the source as JSON", func(t *testing.T) {
		var src storedSource
		decodeOutput(t, mustRunInlet(t, cmd("sources", "create", "--json", "--name", "Partner", "--id", "partner", "--disabled",
			"--config", `{"secret_headers":["X-Partner-Sig"],"max_body_bytes":4096}`)...), &src)
		if src.ID != "partner" || src.Name != "Partner" || src.Enabled ||
			len(src.Config.SecretHeaders) != 1 || src.Config.SecretHeaders[0] != "X-Partner-Sig" || src.Config.MaxBodyBytes != 4096 {
			t.Errorf("created %+v", src)
		}
		_, _, err := runInlet(t, cmd("sources", "create", "--name", "Bad", "--config", `{"secret_headers": "X"}`)...)
		if err == nil || !strings.Contains(err.Error(), "--config") {
			t.Errorf("a bad --config: err %v, want one naming --config", err)
		}
		_, _, err = runInlet(t, cmd("sources", "create", "--name", "Again", "--id", "shop")...)
		if inlet.ErrorCode(err) != inlet.ECONFLICT {
			t.Errorf("creating shop twice: err %v, want a conflict", err)
		}
	})

	t.Run("flags given after or between positional arguments work", func(t *testing.T) {
		for _, args := range [][]string{
			{"sources", "get", "shop", "--json", "--server", s.url, "--data", cfg.DataDir},
			{"sources", "get", "--server", s.url, "shop", "--data", cfg.DataDir, "--json"},
		} {
			var src storedSource
			decodeOutput(t, mustRunInlet(t, args...), &src)
			if src.ID != "shop" || src.Name != "Web Shop" {
				t.Errorf("inlet %s printed %+v", strings.Join(args, " "), src)
			}
		}
	})

	t.Run("sources list shows every source as a table or JSON", func(t *testing.T) {
		rows := tableRows(t, mustRunInlet(t, cmd("sources", "list")...))
		var ids []string
		for _, r := range rows[1:] {
			ids = append(ids, r[0]+":"+r[3])
		}
		if strings.Join(ids, ",") != "partner:disabled,shop:enabled" {
			t.Errorf("listed %v, want partner (disabled) and shop (enabled), ordered by id", ids)
		}
		var list struct {
			Items []storedSource `json:"items"`
		}
		decodeOutput(t, mustRunInlet(t, cmd("sources", "list", "--json")...), &list)
		if len(list.Items) != 2 || list.Items[0].ID != "partner" || list.Items[1].ID != "shop" {
			t.Errorf("--json listed %+v", list.Items)
		}
	})

	t.Run("sources disable and enable decide whether collect accepts the source", func(t *testing.T) {
		rows := tableRows(t, mustRunInlet(t, cmd("sources", "disable", "shop")...))
		if rows[1][0] != "shop" || rows[1][3] != "disabled" {
			t.Errorf("disable printed %q", rows)
		}
		if status, _, body := s.do("GET", "/collect/ping/shop", nil, nil); status != http.StatusUnauthorized {
			t.Errorf("collect on the disabled source: %d %s, want 401", status, body)
		}
		var src storedSource
		decodeOutput(t, mustRunInlet(t, cmd("sources", "enable", "shop", "--json")...), &src)
		if !src.Enabled {
			t.Errorf("enable printed %+v", src)
		}
		s.collect("GET", "/collect/ping/shop", nil, nil)
	})

	// Events for the listing subtests, oldest first: the ping above, two
	// clicks in session cli-1, a profile-less page view.
	first := s.collect("POST", "/collect/click/shop/cli-1", header("Content-Type", "application/json"), strings.NewReader(`{"n":1}`))
	second := s.collect("POST", "/collect/click/shop/cli-1", header("Content-Type", "application/json"), strings.NewReader(`{"n":2}`))
	view := s.collect("GET", "/collect/Page%20View/shop?path=%2F", nil, nil)
	profileID := first.profileID()

	t.Run("events list filters by type, session, source and profile, and --json decodes", func(t *testing.T) {
		for _, tc := range []struct {
			filter []string
			want   []string // newest first
		}{
			{[]string{"--type", "click"}, []string{second.Events[0], first.Events[0]}},
			{[]string{"--type", "Page View"}, []string{view.Events[0]}},
			{[]string{"--session", "cli-1", "--source", "shop"}, []string{second.Events[0], first.Events[0]}},
			{[]string{"--profile", profileID}, []string{second.Events[0], first.Events[0]}},
			{[]string{"--source", "partner"}, nil},
			{[]string{"--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, nil},
		} {
			var page eventPage
			decodeOutput(t, mustRunInlet(t, cmd(append([]string{"events", "list", "--json"}, tc.filter...)...)...), &page)
			var got []string
			for _, e := range page.Items {
				got = append(got, e.ID)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") || page.Next != nil {
				t.Errorf("events list %s: ids %v next %v, want %v and no next page", strings.Join(tc.filter, " "), got, page.Next, tc.want)
			}
			for _, e := range page.Items {
				if e.SourceID != "shop" || e.Properties == nil {
					t.Errorf("listed event %+v lacks its source or properties", e)
				}
			}
		}
	})

	t.Run("events list prints a table and the cursor of the next page", func(t *testing.T) {
		stdout := mustRunInlet(t, cmd("events", "list", "--limit", "1")...)
		rows := tableRows(t, stdout)
		if strings.Join(rows[0], "|") != "INSERTED|ID|TYPE|SOURCE|SESSION|PROFILE|PROPERTIES" || len(rows) != 2 {
			t.Fatalf("table %q, want the header and one event", rows)
		}
		if r := rows[1]; r[1] != view.Events[0] || r[2] != "page-view" || r[3] != "shop" || r[4] != "-" || r[5] != "-" || r[6] != `{"path":"/"}` {
			t.Errorf("row %q, want the profile-less page view", r)
		}
		m := regexp.MustCompile(`more: --cursor (\S+)`).FindStringSubmatch(stdout)
		if m == nil {
			t.Fatalf("no cursor printed after a page of 1 of 4 events:\n%s", stdout)
		}
		rows = tableRows(t, mustRunInlet(t, cmd("events", "list", "--limit", "1", "--cursor", m[1])...))
		if len(rows) != 2 || rows[1][1] != second.Events[0] || rows[1][4] != "cli-1" || rows[1][5] != profileID {
			t.Errorf("the next page %q, want the second click in cli-1", rows)
		}
	})

	t.Run("events get prints the stored event as JSON", func(t *testing.T) {
		var e storedEvent
		decodeOutput(t, mustRunInlet(t, cmd("events", "get", first.Events[0])...), &e)
		if e.ID != first.Events[0] || e.Type != "click" || strOrNull(e.SessionID) != "cli-1" || strOrNull(e.ProfileID) != profileID {
			t.Errorf("events get printed %+v", e)
		}
		sameJSON(t, "properties", e.Properties, `{"n":1}`)
		parseAPITime(t, "inserted_at", e.InsertedAt)
	})

	t.Run("profiles get and sessions get print counts as a table or JSON", func(t *testing.T) {
		rows := tableRows(t, mustRunInlet(t, cmd("profiles", "get", profileID)...))
		if strings.Join(rows[0], "|") != "ID|FIRST SEEN|LAST SEEN|EVENTS|SESSIONS" || rows[1][0] != profileID || rows[1][3] != "2" || rows[1][4] != "1" {
			t.Errorf("profiles get printed %q, want %s with 2 events in 1 session", rows, profileID)
		}
		var p storedProfile
		decodeOutput(t, mustRunInlet(t, cmd("profiles", "get", profileID, "--json")...), &p)
		if p.ID != profileID || p.EventCount != 2 || p.SessionCount != 1 {
			t.Errorf("profiles get --json printed %+v", p)
		}

		rows = tableRows(t, mustRunInlet(t, cmd("sessions", "get", "cli-1")...))
		if strings.Join(rows[0], "|") != "ID|PROFILE|FIRST SEEN|LAST SEEN|EVENTS" || rows[1][0] != "cli-1" || rows[1][1] != profileID || rows[1][4] != "2" {
			t.Errorf("sessions get printed %q, want cli-1 of %s with 2 events", rows, profileID)
		}
		var sess storedSession
		decodeOutput(t, mustRunInlet(t, cmd("sessions", "get", "--json", "cli-1")...), &sess)
		if sess.ID != "cli-1" || sess.ProfileID != profileID || sess.EventCount != 2 {
			t.Errorf("sessions get --json printed %+v", sess)
		}
		_, _, err := runInlet(t, cmd("sessions", "get", "no-such-session")...)
		if inlet.ErrorCode(err) != inlet.ENOTFOUND {
			t.Errorf("an unknown session: err %v, want not found", err)
		}
	})

	t.Run("sources delete removes the source and keeps its events", func(t *testing.T) {
		if out := mustRunInlet(t, cmd("sources", "delete", "partner")...); strings.TrimSpace(out) != "deleted source partner" {
			t.Errorf("delete printed %q", out)
		}
		_, _, err := runInlet(t, cmd("sources", "get", "partner")...)
		if inlet.ErrorCode(err) != inlet.ENOTFOUND {
			t.Errorf("get after delete: err %v, want not found", err)
		}
		_, _, err = runInlet(t, cmd("sources", "delete", "partner")...)
		if inlet.ErrorCode(err) != inlet.ENOTFOUND {
			t.Errorf("a second delete: err %v, want not found", err)
		}
	})

	t.Run("a wrong token is an error that says so", func(t *testing.T) {
		_, _, err := runInlet(t, "sources", "list", "--server", s.url, "--admin-token", "not-the-token")
		if inlet.ErrorCode(err) != inlet.EUNAUTHORIZED || !strings.Contains(inlet.ErrorMessageOrText(err), "the token is unknown") {
			t.Errorf("err %v, want unauthorized saying the token is unknown", err)
		}
	})

	t.Run("the server and token can come from INLET_SERVER and INLET_ADMIN_TOKEN", func(t *testing.T) {
		t.Setenv("INLET_SERVER", s.url)
		t.Setenv("INLET_ADMIN_TOKEN", s.token)
		rows := tableRows(t, mustRunInlet(t, "sources", "list", "--data", t.TempDir()))
		if len(rows) != 2 || rows[1][0] != "shop" {
			t.Errorf("listed %q, want shop", rows)
		}
		// A flag wins over the environment.
		_, _, err := runInlet(t, "sources", "list", "--admin-token", "flag-token")
		if inlet.ErrorCode(err) != inlet.EUNAUTHORIZED {
			t.Errorf("--admin-token beside $INLET_ADMIN_TOKEN: err %v, want the flag's wrong token refused", err)
		}
	})

	t.Run("no token anywhere is a clear error", func(t *testing.T) {
		_, _, err := runInlet(t, "sources", "list", "--server", s.url, "--data", t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "no admin token") {
			t.Errorf("err %v, want one saying there is no admin token", err)
		}
	})

	t.Run("bad usage is refused with a usage message", func(t *testing.T) {
		for _, args := range [][]string{
			{"sources", "frobnicate"},
			{"sources"},
			{"sources", "get"},
			{"sources", "list", "extra"},
			{"events", "list", "--limit", "ten"},
			{"nonsense"},
		} {
			_, stderr, err := runInlet(t, append(args, conn...)...)
			if !errors.Is(err, errUsage) || !strings.Contains(strings.ToLower(stderr), "usage") && !strings.Contains(stderr, "invalid value") && !strings.Contains(stderr, "takes no arguments") {
				t.Errorf("inlet %s: err %v stderr %q, want a usage error", strings.Join(args, " "), err, stderr)
			}
		}
		_, _, err := runInlet(t, cmd("events", "list", "--since", "yesterday")...)
		if err == nil || !strings.Contains(err.Error(), "RFC 3339") {
			t.Errorf("--since yesterday: err %v, want one asking for an RFC 3339 time", err)
		}
	})
}

func TestCLIWithTheServerDown(t *testing.T) {
	isolateCLIEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	t.Run("a command says in one line that no server answers, where, and how to point at another", func(t *testing.T) {
		_, stderr, err := runInlet(t, "sources", "list", "--server", "http://"+addr, "--admin-token", "any")
		if err == nil {
			t.Fatal("sources list against a stopped server succeeded")
		}
		if strings.Count(stderr, "\n") != 1 {
			t.Errorf("stderr is not one line:\n%s", stderr)
		}
		for _, want := range []string{"no server answers at http://" + addr, "connection refused", "inlet serve", "--server", "INLET_SERVER"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr %q lacks %q", stderr, want)
			}
		}
		for _, bad := range []string{"dial tcp", `Get "`, "?"} {
			if strings.Contains(stderr, bad) {
				t.Errorf("stderr %q shows Go's dial error (%q)", stderr, bad)
			}
		}
	})

	t.Run("events tail says so once, then keeps retrying", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		var out, stderr bytes.Buffer
		if err := run(ctx, []string{"events", "tail", "--server", addr, "--admin-token", "any"}, &out, &stderr); err != nil {
			t.Fatalf("tail ended with %v; want it to retry until interrupted", err)
		}
		lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "no server answers at http://"+addr) ||
			!strings.Contains(lines[0], "INLET_SERVER") || !strings.HasSuffix(lines[0], "retrying until it answers") {
			t.Errorf("tail printed on stderr:\n%s\nwant one line saying no server answers, how to point at one, and that it retries", stderr.String())
		}
	})

	t.Run("completion offers nothing, not file names", func(t *testing.T) {
		stdout := mustRunInlet(t, "__complete", "sources", "get", "--server", addr, "--admin-token", "any", "")
		if strings.TrimSpace(stdout) != ":4" {
			t.Errorf("completion printed %q, want only the no-file directive", stdout)
		}
	})
}

func TestCLIRefusedTokenSaysWhereItCameFrom(t *testing.T) {
	isolateCLIEnv(t)
	cfg := liveConfig(t)
	s := startLive(t, cfg)
	wrongDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(wrongDir, "admin-token"), []byte("not-the-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, env string
		args      []string
		want      string
	}{
		{"the flag", "", []string{"--admin-token", "not-the-token"}, "the token came from --admin-token"},
		{"the environment", "not-the-token", nil, "the token came from $INLET_ADMIN_TOKEN"},
		{"the data directory's file", "", []string{"--data", wrongDir}, "the token came from the file " + filepath.Join(wrongDir, "admin-token")},
	} {
		t.Run("a token from "+tc.name+" is named when it is refused", func(t *testing.T) {
			t.Setenv("INLET_ADMIN_TOKEN", tc.env)
			_, stderr, err := runInlet(t, append([]string{"sources", "list", "--server", s.url}, tc.args...)...)
			if inlet.ErrorCode(err) != inlet.EUNAUTHORIZED {
				t.Errorf("err %v, want unauthorized", err)
			}
			if !strings.Contains(stderr, "the token is unknown") || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr %q, want one line saying the token is unknown and %q", stderr, tc.want)
			}
		})
	}

	t.Run("sources try, whose --data is the body, finds the data directory in INLET_DATA too", func(t *testing.T) {
		t.Setenv("INLET_DATA", wrongDir)
		_, stderr, _ := runInlet(t, "sources", "try", "shop", "--server", s.url, "--data", "{}")
		if want := "the token came from the file " + filepath.Join(wrongDir, "admin-token"); !strings.Contains(stderr, want) {
			t.Errorf("stderr %q, want it to name %q", stderr, want)
		}
	})
}

func TestCLICompletionOffersIDs(t *testing.T) {
	isolateCLIEnv(t)
	s := startLive(t, liveConfig(t))
	conn := []string{"--server", s.url, "--admin-token", s.token}
	mustRunInlet(t, append([]string{"sources", "create", "--id", "shop", "--name", "Shop backend"}, conn...)...)
	mustRunInlet(t, append([]string{"sources", "create", "--id", "crm", "--name", "CRM"}, conn...)...)
	mustRunInlet(t, append([]string{"destinations", "create", "--id", "hook", "--name", "Hook", "--url", "http://127.0.0.1:9/hook", "--disabled"}, conn...)...)
	s.collect("POST", "/collect/purchase/shop/session-42", header("Content-Type", "application/json"), strings.NewReader(`{}`))

	// What the shell asks the program: the words typed, the last one being
	// the one to complete; it answers candidates, then :directive.
	for _, tc := range []struct {
		name  string
		words []string
		want  []string
	}{
		{"source ids for sources get", []string{"sources", "get", ""}, []string{"shop\tShop backend", "crm\tCRM"}},
		{"the source ids that start with what is typed", []string{"sources", "delete", "s"}, []string{"shop\tShop backend"}},
		{"nothing after the one id", []string{"sources", "get", "shop", ""}, nil},
		{"destination ids for deliveries list", []string{"deliveries", "list", ""}, []string{"hook\tHook"}},
		{"destination ids for destinations get", []string{"destinations", "get", ""}, []string{"hook\tHook"}},
		{"session ids for sessions get", []string{"sessions", "get", ""}, []string{"session-42"}},
		{"source ids for --source", []string{"events", "list", "--source", "c"}, []string{"crm\tCRM"}},
	} {
		t.Run("completion offers "+tc.name, func(t *testing.T) {
			args := append(append(append([]string{"__complete"}, tc.words[:2]...), conn...), tc.words[2:]...)
			lines := strings.Split(strings.TrimRight(mustRunInlet(t, args...), "\n"), "\n")
			got, directive := lines[:len(lines)-1], lines[len(lines)-1]
			sort.Strings(got)
			want := append([]string(nil), tc.want...)
			sort.Strings(want)
			if strings.Join(got, "|") != strings.Join(want, "|") || directive != ":4" {
				t.Errorf("completion offered %q %s, want %q :4", got, directive, want)
			}
		})
	}
}

func TestCLIWordsForOneThingAndForADryRun(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0 events"}, {1, "1 event"}, {2, "2 events"}} {
		if got := plural(tc.n, "event", "events"); got != tc.want {
			t.Errorf("plural(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}

	isolateCLIEnv(t)
	s := startLive(t, liveConfig(t))
	conn := []string{"--server", s.url, "--admin-token", s.token}
	mustRunInlet(t, append([]string{"sources", "create", "--id", "shop", "--name", "Shop"}, conn...)...)

	t.Run("the dry run says the event would be stored, not that it is", func(t *testing.T) {
		out := mustRunInlet(t, append([]string{"sources", "try", "shop", "--data", `{"a": 1}`}, conn...)...)
		if !strings.Contains(out, "outcome:      would be stored (status 200)") {
			t.Errorf("sources try printed:\n%s", out)
		}
	})

	t.Run("one event in the catalog is 1 event", func(t *testing.T) {
		s.collect("POST", "/collect/purchase/shop", header("Content-Type", "application/json"), strings.NewReader(`{"a": 1}`))
		deadline := time.Now().Add(10 * time.Second)
		for {
			out, _, err := runInlet(t, append([]string{"catalog", "--source", "shop", "--type", "purchase"}, conn...)...)
			if err == nil && strings.HasPrefix(out, "shop purchase: 1 event from ") {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("catalog printed %q (%v); want it to start with \"shop purchase: 1 event from\"", out, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// lockedBuffer is a bytes.Buffer that a running server may write to while
// the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServeCommand(t *testing.T) {
	isolateCLIEnv(t)

	t.Run("serve listens where it logs, answers the CLI and stops when its context ends", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var logs lockedBuffer
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, &bytes.Buffer{}, &logs)
		}()

		addrRE := regexp.MustCompile(`msg="inlet listening" addr=(\S+)`)
		var addr string
		for deadline := time.Now().Add(10 * time.Second); addr == ""; {
			if m := addrRE.FindStringSubmatch(logs.String()); m != nil {
				addr = m[1]
			} else if time.Now().After(deadline) {
				t.Fatalf("no listening address logged in 10s:\n%s", logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if !strings.Contains(logs.String(), "generated an admin token") {
			t.Errorf("the log does not say where the generated token is:\n%s", logs.String())
		}
		mustRunInlet(t, "sources", "create", "--server", "http://"+addr, "--data", dir, "--name", "Served", "--id", "served")
		resp, err := http.Get("http://" + addr + "/collect/hello/served")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("collect on the served source: %d", resp.StatusCode)
		}

		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v after its context ended, want nil", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("serve did not return 15s after its context ended")
		}
		if !strings.Contains(logs.String(), "inlet stopped cleanly") {
			t.Errorf("the log does not say the server stopped cleanly:\n%s", logs.String())
		}
	})

	t.Run("serve on an address in use fails with an error instead of hanging", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		done := make(chan error, 1)
		go func() {
			done <- run(context.Background(), []string{"serve", "--addr", ln.Addr().String(), "--data", t.TempDir()}, &bytes.Buffer{}, &lockedBuffer{})
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "address already in use") {
				t.Errorf("serve on a busy address: err %v, want address already in use", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("serve on a busy address did not return within 10s")
		}
	})
}
