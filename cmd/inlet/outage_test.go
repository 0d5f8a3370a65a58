package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	inlethttp "inlet/http"
	"inlet/postgres/pgtest"
)

// The outage test stops and starts the local PostgreSQL cluster, which
// disrupts everyone else using it, so it runs only when CI asks for it
// (CI=true, as .ci/run is run in CI) or a person does (INLET_TEST_PG_OUTAGE=1),
// beside INLET_TEST_POSTGRES; INLET_TEST_PG_OUTAGE=0 skips it even in CI.

// outageAsked says whether the outage test may stop the cluster.
func outageAsked(getenv func(string) string) bool {
	switch getenv("INLET_TEST_PG_OUTAGE") {
	case "1":
		return true
	case "0":
		return false
	}
	return getenv("CI") == "true"
}

// pgCluster runs pg_ctlcluster on the one local cluster ("VERSION main").
func pgCluster(action string, extra ...string) error {
	versions, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(versions) != 1 {
		return fmt.Errorf("want exactly one cluster version in /etc/postgresql: %v", err)
	}
	args := append([]string{"--skip-systemctl-redirect", versions[0].Name(), "main", action}, extra...)
	out, err := exec.Command("pg_ctlcluster", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctlcluster %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// pgReady waits until pg_isready answers on the test port.
func pgReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := exec.Command("pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432").Run()
		if err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("PostgreSQL is not ready after %s: %v", timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// getStatus returns the status and Retry-After of a GET.
func getStatus(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func TestPostgresOutage(t *testing.T) {
	if !outageAsked(os.Getenv) {
		t.Skip("stops and starts the local PostgreSQL cluster: only with CI=true or INLET_TEST_PG_OUTAGE=1")
	}
	pgtest.Outage(t) // no other test uses the database meanwhile
	dbURL := pgtest.URL(t)
	// Registered after the schema's cleanup, so it runs before it: whatever
	// happens, the cluster is running again at the end.
	t.Cleanup(func() {
		if pgReady(time.Second) == nil {
			return
		}
		if err := pgCluster("start"); err != nil {
			t.Errorf("restart the cluster: %v", err)
		}
		if err := pgReady(60 * time.Second); err != nil {
			t.Errorf("after the test: %v", err)
		}
	})
	node := startPGNode(t, dbURL, nil)
	ctx := context.Background()
	if _, err := node.client.CreateSource(ctx, inlethttp.CreateSourceRequest{ID: "hooks", Name: "Hooks"}); err != nil {
		t.Fatalf("create a source: %v", err)
	}
	client := &http.Client{Timeout: 15 * time.Second}
	var acked []string
	send := func(i int) (int, http.Header) {
		status, ans, header := collectAt(t, client, node.url, fmt.Sprintf("/collect/order/hooks/session-%d", i%3), fmt.Sprintf(`{"n":%d}`, i))
		if status == http.StatusOK {
			acked = append(acked, ans.Events[0])
		}
		return status, header
	}
	if status, _ := send(0); status != http.StatusOK {
		t.Fatalf("collect before the outage: %d, want 200", status)
	}
	if status, _ := getStatus(t, client, node.url+"/readyz"); status != http.StatusOK {
		t.Fatalf("readyz before the outage: %d, want 200", status)
	}

	if err := pgCluster("stop", "-m", "fast"); err != nil {
		t.Fatalf("stop the cluster: %v", err)
	}
	// For longer than the source TTL, so that both the cached source (the
	// write fails) and the looked-up source (the read fails) are covered.
	down := time.Now()
	n := 0
	for i := 1; time.Since(down) < node.main.Config.SourceTTL+time.Second; i++ {
		status, header := send(i)
		n++
		if status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" {
			t.Fatalf("collect %s into the outage: %d with Retry-After %q, want 503 with Retry-After", time.Since(down).Round(time.Millisecond), status, header.Get("Retry-After"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status, _ := getStatus(t, client, node.url+"/readyz"); status != http.StatusServiceUnavailable {
		t.Fatalf("readyz during the outage: %d, want 503", status)
	}
	req, _ := http.NewRequest("GET", node.url+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+nodeToken)
	if resp, err := client.Do(req); err != nil {
		t.Fatalf("list events during the outage: %v", err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("list events during the outage: %d, want 503", resp.StatusCode)
	}
	t.Logf("%d collect requests during the outage, all 503 with Retry-After", n)

	if err := pgCluster("start"); err != nil {
		t.Fatalf("start the cluster: %v", err)
	}
	if err := pgReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	for i := 1000; ; i++ {
		status, header := send(i)
		if status == http.StatusOK {
			break
		} else if status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" {
			t.Fatalf("collect while the database comes back: %d, want 503 with Retry-After or 200", status)
		} else if time.Since(back) > 30*time.Second {
			t.Fatal("the node still answers 503 30s after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the node took events again %s after the database was ready", time.Since(back).Round(time.Millisecond))
	if status, _ := getStatus(t, client, node.url+"/readyz"); status != http.StatusOK {
		t.Fatalf("readyz after the outage: %d, want 200", status)
	}
	for i := 2000; i < 2010; i++ {
		if status, _ := send(i); status != http.StatusOK {
			t.Fatalf("collect after the outage: %d, want 200", status)
		}
	}
	// Every acknowledged event is stored.
	for _, id := range acked {
		if _, err := node.client.FindEvent(ctx, id); err != nil {
			t.Fatalf("event %s was answered 200 and is not stored: %v", id, err)
		}
	}
}

func TestOutageRunsOnlyWhenAsked(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"INLET_TEST_POSTGRES": "postgres://x"}, false},
		{map[string]string{"CI": "true"}, true},
		{map[string]string{"CI": "1"}, false},
		{map[string]string{"INLET_TEST_PG_OUTAGE": "1"}, true},
		{map[string]string{"CI": "true", "INLET_TEST_PG_OUTAGE": "0"}, false},
	} {
		if got := outageAsked(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("env %v: the outage test runs = %v, want %v", tc.env, got, tc.want)
		}
	}
}
