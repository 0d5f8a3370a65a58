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
func open(t *testing.T) *postgres.DB {
	t.Helper()
	url := pgtest.URL(t)
	db, err := postgres.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) inlet.Store { return open(t) })
}

func TestDelivery(t *testing.T) {
	storetest.RunDelivery(t, func(t *testing.T) inlet.Store { return open(t) })
}

func TestIntake(t *testing.T) {
	storetest.RunIntake(t, func(t *testing.T) inlet.Store { return open(t) })
}

func TestIdentity(t *testing.T) {
	storetest.RunIdentity(t, func(t *testing.T) inlet.Store { return open(t) })
}

func TestIdentityAcrossNodes(t *testing.T) {
	url := pgtest.URL(t)
	var stores []inlet.Store
	for range 3 {
		db, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 4})
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
			dbs[i], errs[i] = postgres.Open(ctx, url, postgres.Options{MaxConns: 2})
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
	a, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, url, postgres.Options{})
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

func TestOverview(t *testing.T) {
	storetest.RunOverview(t, func(t *testing.T) inlet.Store { return open(t) })
}

func TestCatalog(t *testing.T) {
	storetest.RunCatalog(t, func(t *testing.T) inlet.Store { return open(t) })
}
