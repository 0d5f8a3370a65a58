package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"inlet"
)

// TestAnOutboxEraDatabaseUpgradesWithNothingOwedLost builds a database as
// the migrations before the delivery log left it, with events in the
// outbox, a pending delivery and a dead one, and opens it: every event the
// outbox held is in the destination's log after its cursor, and the rows
// stay.
func TestAnOutboxEraDatabaseUpgradesWithNothingOwedLost(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inlet.db")
	old, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	if _, err := old.ExecContext(ctx, `CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		if version >= "0009" {
			break
		}
		body, _ := migrations.ReadFile(name)
		if _, err := old.ExecContext(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		if _, err := old.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, 0)`, version); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	created := now.Add(-time.Hour).UnixNano()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := old.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO destinations (id, name, type, enabled, filter, config, retry, ordered, created_at, updated_at)
		VALUES ('d', 'D', 'webhook', 1, '{"sources":null,"types":null}', '{"url":"http://127.0.0.1:9/"}', '{"backoff":["5s"],"max_age":"24h"}', 0, ?, ?)`, created, created)
	var ids []string
	for i := range 6 {
		id := inlet.NewID()
		ids = append(ids, id)
		exec(`INSERT INTO events (id, type, inserted_at, source_id, properties, context) VALUES (?, 'order.created', ?, 'shop', '{}', '{}')`,
			id, now.Add(time.Duration(i)*time.Millisecond).UnixNano())
	}
	// Events 0 and 1 were fanned out (1 delivered, 0 dead), 2 is pending
	// as a delivery, 3 to 5 wait in the outbox.
	exec(`INSERT INTO deliveries (destination_id, event_id, seq, status, attempts, created_at, next_attempt_at) VALUES ('d', ?, 1, 'dead', 3, ?, ?)`, ids[0], created, created)
	exec(`INSERT INTO deliveries (destination_id, event_id, seq, status, attempts, created_at, next_attempt_at) VALUES ('d', ?, 2, 'delivered', 1, ?, ?)`, ids[1], created, created)
	exec(`INSERT INTO deliveries (destination_id, event_id, seq, status, attempts, created_at, next_attempt_at) VALUES ('d', ?, 3, 'pending', 0, ?, ?)`, ids[2], created, created)
	exec(`INSERT INTO outbox (seq) VALUES (4), (5), (6)`)
	old.Close()

	db, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatalf("open the old database: %v", err)
	}
	defer db.Close()
	c, err := db.TakeCursor(ctx, "d", "a", now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	r, err := db.ReadLog(ctx, c.Position, 100)
	if err != nil {
		t.Fatal(err)
	}
	var logged []string
	for _, le := range r.Events {
		logged = append(logged, le.Event.ID)
	}
	if !slices.Equal(logged, ids[3:]) {
		t.Fatalf("the log after the upgraded cursor = %v; want the three events the outbox held, %v", logged, ids[3:])
	}
	if c.Delivered != 1 {
		t.Fatalf("delivered after the upgrade = %d; want the 1 delivered row counted", c.Delivered)
	}
	due, err := db.DueDeliveries(ctx, "d", inlet.DueFilter{Now: now, Released: c.Position, Limit: 10})
	if err != nil || len(due) != 1 || due[0].EventID != ids[2] || due[0].Event == nil {
		t.Fatalf("due rows after the upgrade = %+v, %v; want the pending delivery with its event", due, err)
	}
	st, err := db.DeliveryState(ctx, "d", now)
	if err != nil || st.Dead != 1 || st.Pending != 4 {
		t.Fatalf("state after the upgrade = %+v, %v; want 1 dead and 4 pending (1 row, 3 from the log)", st, err)
	}
}
