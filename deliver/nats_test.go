package deliver_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"inlet"
	"inlet/deliver"
)

// natsURL skips t unless INLET_TEST_NATS names a NATS server with
// JetStream.
func natsURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("INLET_TEST_NATS")
	if u == "" {
		t.Skip("INLET_TEST_NATS is not set (for example nats://127.0.0.1:4222)")
	}
	return u
}

// testStream creates a stream of its own on subjects <name>.> and deletes
// it when the test ends.
func testStream(t testing.TB, url string) (jetstream.Stream, string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect to NATS: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	name := "inlet_test_" + strings.ReplaceAll(inlet.NewID(), "-", "")
	ctx := context.Background()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}, Duplicates: time.Minute, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	t.Cleanup(func() { js.DeleteStream(context.Background(), name) })
	return st, name
}

func waitMessages(t *testing.T, st jetstream.Stream, n uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		info, err := st.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the stream holds %d messages; want %d", within, info.State.Msgs, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNATSPublishesEachEventOnceToJetStream(t *testing.T) {
	url := natsURL(t)
	forEachStore(t, func(t *testing.T, s store) {
		st, name := testStream(t, url)
		d := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationNATS,
			Config: json.RawMessage(`{"url":"` + url + `","subject":"` + name + `.{source}.{type}"}`)})
		start(t, s, deliver.Options{})
		ids := appendN(t, s, "shop", "order.created", 100)
		waitMessages(t, st, 100, 10*time.Second)

		ctx := context.Background()
		byID := map[string]*jetstream.RawStreamMsg{}
		for seq := uint64(1); seq <= 100; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if err != nil {
				t.Fatal(err)
			}
			byID[m.Header.Get("Nats-Msg-Id")] = m
		}
		for _, id := range ids {
			m := byID[id]
			if m == nil {
				t.Fatalf("no message with Nats-Msg-Id %s", id)
			}
			e, _ := s.FindEvent(ctx, id)
			want, _ := inlet.EventJSON(e)
			if m.Subject != name+".shop.order.created" || string(m.Data) != string(want) {
				t.Fatalf("message of %s: subject %s, data %s; want %s.shop.order.created, %s", id, m.Subject, m.Data, name, want)
			}
		}
		waitDelivered(t, s, d.ID, 100, 5*time.Second)

		// Sent again, the events are acknowledged as duplicates and the
		// stream keeps one copy.
		if _, err := s.ReplayDeliveries(ctx, d.ID, inlet.Replay{Since: time.Now().Add(-time.Hour)}, time.Now()); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, s, d.ID, inlet.DeliveryDelivered, 100, 5*time.Second)
		page, _ := s.ListDeliveries(ctx, d.ID, inlet.DeliveryFilter{Limit: 1})
		deadline := time.Now().Add(5 * time.Second)
		last := func() inlet.Attempt { l := page.Items[0].Log; return l[len(l)-1] }
		for page.Items[0].Attempts != 1 || !strings.Contains(last().Response, "duplicate true") {
			if time.Now().After(deadline) {
				t.Fatalf("replayed delivery = %+v; want an ack of a duplicate", page.Items[0])
			}
			time.Sleep(20 * time.Millisecond)
			page, _ = s.ListDeliveries(ctx, d.ID, inlet.DeliveryFilter{Limit: 1})
		}
		if info, _ := st.Info(ctx); info.State.Msgs != 100 {
			t.Fatalf("after a replay the stream holds %d messages; want 100", info.State.Msgs)
		}
	})
}

func TestNATSDownIsRetried(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		// Nothing listens on port 9: every publish fails and is retried.
		d := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationNATS,
			Config: json.RawMessage(`{"url":"nats://127.0.0.1:9","subject":"x.{type}","timeout":"50ms"}`),
			Retry:  inlet.RetryPolicy{Backoff: []string{"50ms"}, MaxAge: "200ms"}})
		start(t, s, deliver.Options{})
		appendN(t, s, "shop", "order.created", 2)
		dead := waitStatus(t, s, d.ID, inlet.DeliveryDead, 2, 10*time.Second)
		if dead[0].Attempts < 2 || dead[0].LastError == "" {
			t.Fatalf("dead delivery = %+v; want failed attempts with their error", dead[0])
		}
	})
}
