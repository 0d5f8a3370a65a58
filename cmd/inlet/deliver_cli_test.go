package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"inlet"
	inlethttp "inlet/http"
)

// TestDeliverCLI runs the destination, delivery, export and import
// commands against a live server and a real receiver.
func TestDeliverCLI(t *testing.T) {
	isolateCLIEnv(t)
	s := startLive(t, liveConfig(t))
	conn := []string{"--server", s.url, "--admin-token", s.token}
	var mu sync.Mutex
	status := http.StatusInternalServerError
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
	}))
	defer recv.Close()
	s.admin("POST", "/api/v1/sources", map[string]any{"id": "shop", "name": "Shop"}, http.StatusCreated, nil)

	args := append([]string{"destinations", "create", "--id", "crm", "--name", "CRM", "--url", recv.URL,
		"--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "--types", "order.*", "--backoff", "50ms", "--max-age", "200ms"}, conn...)
	out := mustRunInlet(t, args...)
	rows := tableRows(t, out)
	if len(rows) != 2 || rows[1][0] != "crm" || rows[1][3] != "enabled" || rows[1][4] != recv.URL || rows[1][5] != "type:order.*" {
		t.Fatalf("destinations create printed %q", out)
	}
	var d inlet.Destination
	decodeOutput(t, mustRunInlet(t, append([]string{"destinations", "get", "crm", "--json"}, conn...)...), &d)
	if !strings.Contains(string(d.Config), "whsec_****") || d.State == nil {
		t.Fatalf("destinations get --json: config %s, state %+v; want the secret masked and a state", d.Config, d.State)
	}

	for i := range 2 {
		s.collect("POST", "/collect/order.created/shop", nil, strings.NewReader(`{"n":`+string(rune('0'+i))+`}`))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out = mustRunInlet(t, append([]string{"deliveries", "list", "crm", "--status", "dead"}, conn...)...)
		if rows = tableRows(t, out); len(rows) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries list --status dead printed %q; want 2 dead", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rows[1][1] != "dead" || rows[1][4] != "status 500" {
		t.Fatalf("dead delivery row %q", rows[1])
	}
	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	if out := mustRunInlet(t, append([]string{"deliveries", "retry", "crm", "--status", "dead"}, conn...)...); out != "2 deliveries to crm due again\n" {
		t.Fatalf("deliveries retry printed %q", out)
	}
	if out := mustRunInlet(t, append([]string{"destinations", "replay", "crm", "--since", "2020-01-01T00:00:00Z"}, conn...)...); out != "2 events to deliver again to crm\n" {
		t.Fatalf("destinations replay printed %q", out)
	}
	if out := mustRunInlet(t, append([]string{"deliveries", "discard", "crm", "--status", "dead"}, conn...)...); out != "0 deliveries to crm discarded\n" {
		t.Fatalf("deliveries discard printed %q", out)
	}
	out = mustRunInlet(t, append([]string{"destinations", "disable", "crm"}, conn...)...)
	if rows = tableRows(t, out); rows[1][3] != "disabled" {
		t.Fatalf("destinations disable printed %q", out)
	}
	if _, stderr, err := runInlet(t, append([]string{"destinations", "get", "nope"}, conn...)...); inlet.ErrorCode(err) != inlet.ENOTFOUND {
		t.Fatalf("destinations get nope: %v %s; want not found", err, stderr)
	}
	if _, stderr, err := runInlet(t, append([]string{"destinations", "frobnicate"}, conn...)...); !errors.Is(err, errUsage) || !strings.Contains(stderr, `unknown command "frobnicate" for "inlet destinations"`) {
		t.Fatalf("an unknown verb: %v, %q", err, stderr)
	}
	mustRunInlet(t, append([]string{"destinations", "delete", "crm"}, conn...)...)

	// Export to a file, then import it twice into another server.
	export := mustRunInlet(t, append([]string{"events", "export", "--type", "order.created"}, conn...)...)
	if strings.Count(export, "\n") != 2 {
		t.Fatalf("events export printed %q; want 2 lines", export)
	}
	file := filepath.Join(t.TempDir(), "events.ndjson")
	os.WriteFile(file, []byte(export), 0o600)
	other := startLive(t, liveConfig(t))
	otherConn := []string{"--server", other.url, "--admin-token", other.token}
	if out := mustRunInlet(t, append([]string{"events", "import", file}, otherConn...)...); out != file+": 2 records read, 2 imported, 0 stored already\n" {
		t.Fatalf("events import printed %q", out)
	}
	if out := mustRunInlet(t, append([]string{"events", "import", file}, otherConn...)...); out != file+": 2 records read, 0 imported, 2 stored already\n" {
		t.Fatalf("a second events import printed %q", out)
	}
	if again := mustRunInlet(t, append([]string{"events", "export"}, otherConn...)...); again != export {
		t.Fatalf("the imported server exports\n%s\nwant\n%s", again, export)
	}
	os.WriteFile(file, []byte(export+"not json\n"), 0o600)
	_, _, err := runInlet(t, append([]string{"events", "import", file}, otherConn...)...)
	if inlet.ErrorCode(err) != inlet.EINVALID || !strings.Contains(inlet.ErrorMessageOrText(err), "line 3: invalid JSON") {
		t.Fatalf("importing a malformed line: %v; want the line named", err)
	}
	_ = inlethttp.MaxImportLine
}

// TestProgressBarsLeaveTheDataAlone: with a progress bar (as on a
// terminal), export writes the same lines and import stores the same
// events; the bar goes to its own writer.
func TestProgressBarsLeaveTheDataAlone(t *testing.T) {
	s := startLive(t, liveConfig(t))
	s.admin("POST", "/api/v1/sources", map[string]any{"id": "shop", "name": "Shop"}, http.StatusCreated, nil)
	for i := range 20 {
		s.collect("POST", "/collect/order.created/shop", nil, strings.NewReader(`{"n":`+strconv.Itoa(i)+`}`))
	}
	ctx := t.Context()
	client := inlethttp.NewClient(s.url, s.token)
	var plain, barred, bar bytes.Buffer
	if err := ExportEvents(ctx, client, inlet.EventFilter{}, &plain, nil); err != nil {
		t.Fatal(err)
	}
	if err := ExportEvents(ctx, client, inlet.EventFilter{}, &barred, &bar); err != nil {
		t.Fatal(err)
	}
	if barred.String() != plain.String() || strings.Count(plain.String(), "\n") != 20 || !strings.Contains(bar.String(), "exporting") {
		t.Fatalf("export with a bar: %d bytes (without: %d), bar %q", barred.Len(), plain.Len(), bar.String())
	}
	file := filepath.Join(t.TempDir(), "events.ndjson")
	os.WriteFile(file, plain.Bytes(), 0o600)
	other := startLive(t, liveConfig(t))
	var out, importBar bytes.Buffer
	if err := ImportEvents(ctx, inlethttp.NewClient(other.url, other.token), file, &importBar, printer{w: &out}); err != nil {
		t.Fatal(err)
	}
	if out.String() != file+": 20 records read, 20 imported, 0 stored already\n" || !strings.Contains(importBar.String(), "importing") {
		t.Fatalf("import with a bar printed %q, bar %q", out.String(), importBar.String())
	}
}
