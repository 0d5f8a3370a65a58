package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"inlet"
	"inlet/postgres"
	"inlet/postgres/pgtest"
	"inlet/storetest"
)

// open opens a store in a new schema of the test database.
func open(t testing.TB) *postgres.DB {
	t.Helper()
	url := pgtest.URL(t)
	db, err := postgres.Open(context.Background(), url, postgres.Options{Secrets: pgtest.Keyring()})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestStore runs the conformance suite.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) inlet.Store { return open(t) })
}

func TestIdentityAcrossNodes(t *testing.T) {
	url := pgtest.URL(t)
	var stores []inlet.Store
	for range 3 {
		db, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 4, Secrets: pgtest.Keyring()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		stores = append(stores, db)
	}
	storetest.IdentityAcrossNodes(t, stores)
}

func TestNodesStartingTogetherMigrateOnce(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	const nodes = 4
	dbs := make([]*postgres.DB, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = postgres.Open(ctx, url, postgres.Options{MaxConns: 2, Secrets: pgtest.Keyring()})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: open: %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("the migration files: %v %v", files, err)
	}
	var want []string
	for _, f := range files {
		want = append(want, strings.TrimSuffix(filepath.Base(f), ".sql"))
	}
	if strings.Join(versions, ",") != strings.Join(want, ",") {
		t.Fatalf("recorded migrations %v, want each of %v once", versions, want)
	}
	// Every node works on the one schema.
	for i, db := range dbs {
		if err := db.CreateSource(ctx, &inlet.Source{ID: fmt.Sprint("node-", i), Name: "n", Type: inlet.SourceTypeWebhook}); err != nil {
			t.Fatalf("node %d: create a source: %v", i, err)
		}
	}
	if sources, err := dbs[0].ListSources(ctx); err != nil || len(sources) != nodes {
		t.Fatalf("ListSources = %d sources, %v; want %d", len(sources), err, nodes)
	}
}

func TestAppendAfterAnotherNodeDroppedThePartition(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	a, err := postgres.Open(ctx, url, postgres.Options{Secrets: pgtest.Keyring()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, url, postgres.Options{Secrets: pgtest.Keyring()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	old := time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Microsecond)
	event := func() *inlet.Event {
		return &inlet.Event{ID: inlet.NewID(), Type: "t", InsertedAt: old, SourceID: "s", Properties: json.RawMessage(`{}`)}
	}
	if _, err := a.Append(ctx, inlet.Intakes(event())); err != nil {
		t.Fatalf("append through A: %v", err)
	}
	// B drops the day A created and believes in.
	if err := b.DeleteEventsBefore(ctx, old.Add(48*time.Hour)); err != nil {
		t.Fatalf("retention through B: %v", err)
	}
	if page, err := a.ListEvents(ctx, inlet.EventFilter{}); err != nil || len(page.Items) != 0 {
		t.Fatalf("after B's retention: %d events, %v; want none", len(page.Items), err)
	}
	late := event()
	if _, err := a.Append(ctx, inlet.Intakes(late)); err != nil {
		t.Fatalf("append through A into the dropped day: %v", err)
	}
	if _, err := b.FindEvent(ctx, late.ID); err != nil {
		t.Fatalf("find the late event through B: %v", err)
	}
}

// TestLateCommitIsNeverSkipped holds a transaction with an early place in
// the log open while another node commits an event after it: the log must
// not show the later event (a cursor moving past it would skip the early
// one), and once the early transaction commits, both come in commit-id
// order.
func TestLateCommitIsNeverSkipped(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	nodes := make([]*postgres.DB, 2)
	for i := range nodes {
		db, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 4, Secrets: pgtest.Keyring()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes[i] = db
	}
	a, b := nodes[0], nodes[1]
	d := &inlet.Destination{ID: "d", Name: "d", Type: inlet.DestinationWebhook, Enabled: true, Config: json.RawMessage(`{"url":"http://127.0.0.1:9/"}`)}
	if err := a.CreateDestination(ctx, d); err != nil {
		t.Fatal(err)
	}
	cur, err := a.TakeCursor(ctx, "d", "node-a", time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	early, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Rollback(ctx)
	// The early transaction takes its id (its place in the log) now.
	if _, err := early.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}

	now := time.Now().UTC()
	late := inlet.Intake{Event: inlet.Event{ID: inlet.NewID(), Type: "late", SourceID: "shop", InsertedAt: now, Properties: json.RawMessage(`{}`)}}
	if _, err := b.Append(ctx, []inlet.Intake{late}); err != nil {
		t.Fatal(err)
	}
	r, err := a.ReadLog(ctx, cur.Position, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, le := range r.Events {
		if le.Event.ID == late.Event.ID {
			t.Fatalf("the log shows an event committed after a transaction still open with an earlier place: a cursor past it would skip that one")
		}
	}

	earlyID := inlet.NewID()
	if _, err := early.Exec(ctx, `INSERT INTO events (inserted_at, id, type, source_id, properties, context) VALUES ($1, $2, 'early', 'shop', '{}', '{}')`, now, earlyID); err != nil {
		t.Fatal(err)
	}
	if err := early.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	after := r.Head
	if after.Compare(cur.Position) < 0 {
		t.Fatalf("the head %v went back before the cursor %v", after, cur.Position)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(ids) < 2 && time.Now().Before(deadline) {
		r, err := a.ReadLog(ctx, after, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, le := range r.Events {
			ids = append(ids, le.Event.ID)
		}
		after = r.Head
		time.Sleep(10 * time.Millisecond)
	}
	if len(ids) != 2 || ids[0] != earlyID || ids[1] != late.Event.ID {
		t.Fatalf("the log after the early commit = %v; want the early event %s, then the late one %s", ids, earlyID, late.Event.ID)
	}
}

// TestErasureLeavesNoRowOfThePerson erases a person and then looks for
// their email, name and a unique property value in every table of the
// schema, as text.
func TestErasureLeavesNoRowOfThePerson(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	db, err := postgres.Open(ctx, url, postgres.Options{Secrets: pgtest.Keyring()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const email, name, unique = "ana.rights@example.com", "Ana Rightsholder", "ORD-RIGHTS-77819"
	now := time.Now().UTC()
	ev := inlet.Intake{Event: inlet.Event{ID: inlet.NewID(), Type: "order", SourceID: "forms", SessionID: "ana-session", InsertedAt: now,
		Properties: json.RawMessage(fmt.Sprintf(`{"email":%q,"name":%q,"order":%q}`, email, name, unique))},
		Identity: &inlet.Identity{Identifiers: []inlet.Identifier{{Kind: "email", Value: email}}, Traits: []inlet.Trait{{Name: "name", Value: json.RawMessage(fmt.Sprintf("%q", name))}}}}
	out, err := db.Append(ctx, []inlet.Intake{ev})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.EraseProfile(ctx, out[0].ProfileID, now); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 5 {
		t.Fatalf("tables of the schema: %v, %v", tables, err)
	}
	for _, table := range tables {
		for _, v := range []string{email, name, unique} {
			var n int
			q := `SELECT count(*) FROM ` + pgx.Identifier{table}.Sanitize() + ` t WHERE strpos(t::text, $1) > 0`
			if err := conn.QueryRow(ctx, q, v).Scan(&n); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			if n > 0 {
				t.Errorf("%q is still in %d rows of %s after the erasure", v, n, table)
			}
		}
	}
}
