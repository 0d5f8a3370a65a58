package sqlite_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"inlet"
	"inlet/sqlite"
)

// TestFailureRateSurvivesARestart: the counts of the last hour are in the
// file, not in the process that settled them.
func TestFailureRateSurvivesARestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inlet.db")
	db, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	d := &inlet.Destination{ID: "crm", Name: "CRM", Type: inlet.DestinationWebhook, Enabled: true, Config: json.RawMessage(`{"url":"http://127.0.0.1:9/hook"}`)}
	if err := db.CreateDestination(ctx, d); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := db.TakeCursor(ctx, d.ID, "a", now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Settle(ctx, d.ID, "a", inlet.Settlement{Delivered: 3, Succeeded: true, Failed: true, Attempts: 4, Failures: 1}, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path)
	st, err := db.DeliveryState(ctx, d.ID, now.Add(time.Second))
	if err != nil || st.Attempts1h != 4 || st.Failures1h != 1 || st.FailureRate1h == nil || *st.FailureRate1h != 0.25 {
		t.Fatalf("state after a restart = %+v, %v; want 4 attempts, 1 failed, a rate of 0.25", st, err)
	}
}
