package deliver_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"inlet"
	"inlet/deliver"
)

// kafkaCluster starts franz-go's in-process Kafka (the Kafka protocol, not
// a mock of the client) with three brokers and topics of three partitions
// created on first use.
func kafkaCluster(t testing.TB) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func kafkaConfig(brokers []string, extra string) json.RawMessage {
	b, _ := json.Marshal(brokers)
	return json.RawMessage(`{"brokers":` + string(b) + `,"topic":"events.{source}"` + extra + `}`)
}

// consumeKafka reads every record of topics until want have arrived.
func consumeKafka(t *testing.T, brokers []string, want int, within time.Duration, topics ...string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("after %s the topics hold %d records; want %d", within, len(recs), want)
		}
		recs = append(recs, fs.Records()...)
	}
	return recs
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func TestKafkaDeliversAMixedLoadKeyedByProfile(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		brokers := kafkaCluster(t)
		d := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationKafka, Config: kafkaConfig(brokers, "")})
		start(t, s, deliver.Options{})
		ids := mixedLoad(t, s)
		recs := consumeKafka(t, brokers, len(ids), 20*time.Second, "events.shop", "events.app")
		waitDelivered(t, s, d.ID, int64(len(ids)), 10*time.Second)

		ctx := context.Background()
		byID := map[string]*kgo.Record{}
		partitionOf := map[string]int32{}
		for _, r := range recs {
			id := header(r, "inlet-event-id")
			byID[id] = r
			e, err := s.FindEvent(ctx, id)
			if err != nil {
				t.Fatalf("record of unknown event %q: %v", id, err)
			}
			want, _ := inlet.EventJSON(e)
			if string(r.Value) != string(want) || r.Topic != "events."+e.SourceID {
				t.Fatalf("record of %s: topic %s, value %s; want events.%s, %s", id, r.Topic, r.Value, e.SourceID, want)
			}
			wantKey := e.ProfileID
			if wantKey == "" {
				wantKey = e.ID
			}
			if string(r.Key) != wantKey {
				t.Fatalf("record of %s has key %q; want %q", id, r.Key, wantKey)
			}
			// One profile's events share a partition.
			if e.ProfileID != "" {
				if p, ok := partitionOf[r.Topic+e.ProfileID]; ok && p != r.Partition {
					t.Fatalf("profile %s is in partitions %d and %d", e.ProfileID, p, r.Partition)
				}
				partitionOf[r.Topic+e.ProfileID] = r.Partition
			}
		}
		for _, id := range ids {
			if byID[id] == nil {
				t.Fatalf("no record of event %s", id)
			}
		}
	})
}

func TestKafkaAuthenticatesWithSASL(t *testing.T) {
	for _, mech := range []string{"plain", "scram-sha-256", "scram-sha-512"} {
		t.Run(mech, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.EnableSASL(),
				kfake.Superuser(strings.ToUpper(mech), "inlet", "s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			brokers := c.ListenAddrs()
			s := openSQLite(t)
			good := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationKafka,
				Config: kafkaConfig(brokers, `,"sasl":"`+mech+`","username":"inlet","password":"s3cret"`)})
			bad := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationKafka,
				Config: kafkaConfig(brokers, `,"sasl":"`+mech+`","username":"inlet","password":"wrong","timeout":"1s"`),
				Retry:  inlet.RetryPolicy{Backoff: []string{"50ms"}, MaxAge: "500ms"}})
			start(t, s, deliver.Options{})
			appendN(t, s, "shop", "order.created", 20)
			waitDelivered(t, s, good.ID, 20, 10*time.Second)
			dead := waitStatus(t, s, bad.ID, inlet.DeliveryDead, 20, 15*time.Second)
			if dead[0].LastError == "" {
				t.Fatalf("a wrong password: dead delivery %+v; want its error", dead[0])
			}
		})
	}
}

func TestKafkaConnectsOverTLSVerifiedByTheConfiguredCA(t *testing.T) {
	// httptest's certificate, for 127.0.0.1, signs nothing else: the
	// brokers' certificate is verified against it, given as config.ca.
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	srv.Close()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.TLS(srv.TLS))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ca, _ := json.Marshal(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	s := openSQLite(t)
	d := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationKafka, Config: kafkaConfig(c.ListenAddrs(), `,"tls":true,"ca":`+string(ca))})
	// Without the CA, the system's roots do not know the certificate.
	unknown := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationKafka, Config: kafkaConfig(c.ListenAddrs(), `,"tls":true,"timeout":"1s"`),
		Retry: inlet.RetryPolicy{Backoff: []string{"50ms"}, MaxAge: "500ms"}})
	start(t, s, deliver.Options{})
	appendN(t, s, "shop", "order.created", 20)
	waitDelivered(t, s, d.ID, 20, 10*time.Second)
	waitStatus(t, s, unknown.ID, inlet.DeliveryDead, 20, 15*time.Second)
}

func TestKafkaDownIsRetried(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		d := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationKafka,
			Config: kafkaConfig([]string{"127.0.0.1:9"}, `,"timeout":"1s"`),
			Retry:  inlet.RetryPolicy{Backoff: []string{"50ms"}, MaxAge: "500ms"}})
		start(t, s, deliver.Options{})
		appendN(t, s, "shop", "order.created", 2)
		dead := waitStatus(t, s, d.ID, inlet.DeliveryDead, 2, 15*time.Second)
		if dead[0].LastError == "" {
			t.Fatalf("dead delivery = %+v; want its error", dead[0])
		}
	})
}

func TestKafkaRefusesAWrongConfigNamingTheField(t *testing.T) {
	for _, tc := range []struct{ config, field string }{
		{`{"topic":"x"}`, "config.brokers"},
		{`{"brokers":["nohost"],"topic":"x"}`, "config.brokers[0]"},
		{`{"brokers":["h:9092"]}`, "config.topic"},
		{`{"brokers":["h:9092"],"topic":"a/{type}"}`, "config.topic"},
		{`{"brokers":["h:9092"],"topic":"x","key":"user"}`, "config.key"},
		{`{"brokers":["h:9092"],"topic":"x","sasl":"kerberos"}`, "config.sasl"},
		{`{"brokers":["h:9092"],"topic":"x","sasl":"plain"}`, "config.username"},
		{`{"brokers":["h:9092"],"topic":"x","ca":"x","tls":true}`, "config.ca"},
		{`{"brokers":["h:9092"],"topic":"x","compression":"brotli"}`, "config.compression"},
		{`{"brokers":["h:9092"],"topic":"x","timeout":"forever"}`, "config.timeout"},
		{`{"brokers":["h:9092"],"topic":"x","partitions":3}`, "partitions"},
	} {
		assertRefused(t, inlet.DestinationKafka, tc.config, tc.field)
	}
}

// assertRefused checks that a destination of typ with config is refused
// with EINVALID, its message naming field.
func assertRefused(t *testing.T, typ, config, field string) {
	t.Helper()
	err := deliver.Validate(&inlet.Destination{ID: "d", Name: "d", Type: typ, Config: json.RawMessage(config)})
	if inlet.ErrorCode(err) != inlet.EINVALID || !strings.Contains(inlet.ErrorMessage(err), field) {
		t.Errorf("config %s: error %v; want EINVALID naming %s", config, err, field)
	}
}

// mixedLoad commits 300 events of two sources, several types, with and
// without profiles and sessions, and returns their ids.
func mixedLoad(t *testing.T, s store) []string {
	t.Helper()
	var batch []*inlet.Event
	for i := range 300 {
		source, typ := "shop", "order.created"
		if i%3 == 1 {
			source, typ = "app", "page.viewed"
		} else if i%3 == 2 {
			typ = "cart.updated"
		}
		e := newEvent(source, typ, i)
		if i%2 == 0 {
			e.ProfileID = "profile-" + string(rune('a'+i%7))
			e.SessionID = "session-" + string(rune('a'+i%5))
		}
		batch = append(batch, e)
	}
	if _, err := s.Append(context.Background(), inlet.Intakes(batch...)); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(batch))
	for i, e := range batch {
		ids[i] = e.ID
	}
	return ids
}

// serviceURL returns the address of a service the test needs from the
// variable env. Unset, the test is skipped, except under CI=true, where
// every service must be there and a missing one fails the test.
func serviceURL(t testing.TB, env, example string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set, and CI=true needs every service (for example %s)", env, example)
		}
		t.Skipf("%s is not set (for example %s)", env, example)
	}
	return u
}
