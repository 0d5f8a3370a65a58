package deliver_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"inlet"
	"inlet/deliver"
	"inlet/postgres/pgtest"
)

// pgTableURL returns a database URL of a schema of the test's own (the
// destination's database, apart from the store's) and a connection to it.
func pgTableURL(t testing.TB) (string, *pgx.Conn) {
	t.Helper()
	u := pgtest.URL(t)
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return u, conn
}

func TestPostgresTableGetsARowPerEventOfAMixedLoad(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		u, conn := pgTableURL(t)
		d := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationPostgres,
			Config: json.RawMessage(`{"url":"` + u + `","table":"events"}`)})
		start(t, s, deliver.Options{})
		ids := mixedLoad(t, s)
		waitDelivered(t, s, d.ID, int64(len(ids)), 10*time.Second)

		ctx := context.Background()
		rows, err := conn.Query(ctx, `SELECT id, type, source, session, profile, time, properties FROM events`)
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			id, typ, source  string
			session, profile *string
			at               time.Time
			props            map[string]any
		}
		got := map[string]row{}
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.typ, &r.source, &r.session, &r.profile, &r.at, &r.props); err != nil {
				t.Fatal(err)
			}
			got[r.id] = r
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		if len(got) != len(ids) {
			t.Fatalf("the table holds %d rows; want %d", len(got), len(ids))
		}
		for _, id := range ids {
			r, ok := got[id]
			e, _ := s.FindEvent(ctx, id)
			var props map[string]any
			json.Unmarshal(e.Properties, &props)
			if !ok || r.typ != e.Type || r.source != e.SourceID || !r.at.Equal(e.InsertedAt) || r.props["n"] != props["n"] || r.props["text"] != props["text"] {
				t.Fatalf("row of %s = %+v; want the event %+v", id, r, e)
			}
			if (r.profile == nil) != (e.ProfileID == "") || (r.profile != nil && *r.profile != e.ProfileID) {
				t.Fatalf("row of %s has profile %v; want %q (NULL when empty)", id, r.profile, e.ProfileID)
			}
		}

		// Sent again, the rows are not doubled.
		if _, err := s.ReplayDeliveries(ctx, d.ID, inlet.Replay{Since: time.Now().Add(-time.Hour)}, time.Now()); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, s, d.ID, inlet.DeliveryDelivered, len(ids), 10*time.Second)
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil || n != len(ids) {
			t.Fatalf("after a replay the table holds %d rows (%v); want %d", n, err, len(ids))
		}
	})
}

func TestPostgresTableDownIsRetried(t *testing.T) {
	s := openSQLite(t)
	d := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationPostgres,
		Config: json.RawMessage(`{"url":"postgres://nobody@127.0.0.1:9/x?connect_timeout=1","timeout":"500ms"}`),
		Retry:  inlet.RetryPolicy{Backoff: []string{"50ms"}, MaxAge: "300ms"}})
	start(t, s, deliver.Options{})
	appendN(t, s, "shop", "order.created", 3)
	dead := waitStatus(t, s, d.ID, inlet.DeliveryDead, 3, 15*time.Second)
	if dead[0].LastError == "" {
		t.Fatalf("dead delivery = %+v; want its error", dead[0])
	}
}

func TestPostgresTableRefusesAWrongConfigNamingTheField(t *testing.T) {
	for _, tc := range []struct{ config, field string }{
		{`{}`, "config.url"},
		{`{"url":"mysql://h/db"}`, "config.url"},
		{`{"url":"postgres://h/db","table":"a.b.c"}`, "config.table"},
		{`{"url":"postgres://h/db","table":"events; drop table x"}`, "config.table"},
		{`{"url":"postgres://h/db","timeout":"1ms"}`, "config.timeout"},
		{`{"url":"postgres://h/db","columns":["id"]}`, "columns"},
	} {
		assertRefused(t, inlet.DestinationPostgres, tc.config, tc.field)
	}
}
