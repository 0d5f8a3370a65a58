package main

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/parquet-go/parquet-go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"inlet"
	inlethttp "inlet/http"
	"inlet/postgres/pgtest"
)

// TestDestinationsTryCLI creates destinations of the new types through the
// CLI's --config, and tries one's transform on a stored event.
func TestDestinationsTryCLI(t *testing.T) {
	isolateCLIEnv(t)
	s := startLive(t, liveConfig(t))
	conn := []string{"--server", s.url, "--admin-token", s.token}
	s.admin("POST", "/api/v1/sources", map[string]any{"id": "shop", "name": "Shop"}, http.StatusCreated, nil)
	config := `{"format":"parquet","directory":"` + t.TempDir() + `","transform":{"drop":"properties.n == 0","properties":"{'total': properties.n}"}}`
	mustRunInlet(t, append([]string{"destinations", "create", "--id", "lake", "--name", "Lake", "--type", "files", "--config", config}, conn...)...)

	kept := s.collect("POST", "/collect/order.created/shop", nil, strings.NewReader(`{"n":7}`)).Events[0]
	dropped := s.collect("POST", "/collect/order.created/shop", nil, strings.NewReader(`{"n":0}`)).Events[0]

	out := mustRunInlet(t, append([]string{"destinations", "try", "lake", kept}, conn...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var e inlet.Event
	if len(lines) != 2 || lines[0] != "lake would send event "+kept+" as:" || json.Unmarshal([]byte(lines[1]), &e) != nil || string(e.Properties) != `{"total":7}` {
		t.Fatalf("destinations try printed %q; want the event with properties {\"total\":7}", out)
	}
	if out := mustRunInlet(t, append([]string{"destinations", "try", "lake", dropped}, conn...)...); out != "lake would drop event "+dropped+": its transform's drop is true\n" {
		t.Fatalf("destinations try of a dropped event printed %q", out)
	}
	var res inlet.DestinationTry
	decodeOutput(t, mustRunInlet(t, append([]string{"destinations", "try", "lake", dropped, "--json"}, conn...)...), &res)
	if res.Outcome != inlet.TryDropped || res.EventID != dropped || res.Event != nil {
		t.Fatalf("destinations try --json = %+v", res)
	}
	if _, _, err := runInlet(t, append([]string{"destinations", "try", "lake", "nope"}, conn...)...); inlet.ErrorCode(err) != inlet.ENOTFOUND {
		t.Fatalf("destinations try of no event: %v; want not found", err)
	}

	// A wrong config of a new type is a 400 naming the field.
	_, _, err := runInlet(t, append([]string{"destinations", "create", "--name", "K", "--type", "kafka", "--config", `{"brokers":["127.0.0.1:9092"],"topic":"a b"}`}, conn...)...)
	if inlet.ErrorCode(err) != inlet.EINVALID || !strings.Contains(inlet.ErrorMessageOrText(err), "config.topic") {
		t.Fatalf("a kafka destination with a bad topic: %v; want invalid, naming config.topic", err)
	}
}

// typePeer is the real peer of a destination type in a kill test: the
// destination's config, and what the peer holds, by event id.
type typePeer struct {
	typ, config string
	received    func(t *testing.T) map[string]int
}

// TestDestinationTypesSurviveKills kills the real binary with SIGKILL while
// it delivers to each type's peer, mid-batch for the batching types, and
// checks that every acknowledged event reaches the peer. A peer whose
// service is not configured is skipped (failed under CI=true).
func TestDestinationTypesSurviveKills(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary; skipped with -short")
	}
	bin := buildInlet(t)
	for _, tc := range []struct {
		name string
		peer func(t *testing.T) typePeer
	}{
		{"kafka", kafkaPeer},
		{"rabbitmq", rabbitmqPeer},
		{"redis", redisPeer},
		{"postgres", pgTablePeer},
		{"files", filesPeer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testTypeSurvivesKills(t, bin, tc.peer(t), 2)
		})
	}
}

func testTypeSurvivesKills(t *testing.T, bin string, peer typePeer, rounds int) {
	h := &harness{t: t, bin: bin, dataDir: t.TempDir()}
	args := []string{"--delivery-lease", "2s"}
	var acked []string
	for round := 1; round <= rounds; round++ {
		p := h.start(args...)
		client := inlethttp.NewClient(p.url, crashToken)
		if round == 1 {
			createCrashSource(t, client)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := client.CreateDestination(ctx, inlethttp.CreateDestinationRequest{Name: peer.typ, Type: peer.typ,
				Config: json.RawMessage(peer.config), Retry: &inlet.RetryPolicy{Backoff: []string{"100ms"}}})
			cancel()
			if err != nil {
				t.Fatalf("create destination: %v", err)
			}
		}
		load := startLoad(t, p.url, round, 4)
		load.waitAcks(t, 200)
		delay := time.Duration(200+rand.IntN(300)) * time.Millisecond
		time.Sleep(delay)
		p.kill()
		load.finish()
		for id := range load.acked {
			acked = append(acked, id)
		}
		t.Logf("round %d: SIGKILL after %v: %d acknowledged so far, %d in the peer", round, delay, len(acked), len(peer.received(t)))
	}
	p := h.start(args...)
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := peer.received(t)
		missing, twice := 0, 0
		for _, id := range acked {
			switch got[id] {
			case 0:
				missing++
			case 1:
			default:
				twice++
			}
		}
		if missing == 0 {
			t.Logf("after the last restart every one of %d acknowledged events reached the peer; %d more than once", len(acked), twice)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the last restart %d of %d acknowledged events never reached the peer", missing, len(acked))
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.terminate(shutdownTimeout)
}

// peerService returns the address of a service from env; unset, the test
// is skipped, except under CI=true, which needs every service.
func peerService(t *testing.T, env, example string) string {
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

func kafkaPeer(t *testing.T) typePeer {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers, _ := json.Marshal(c.ListenAddrs())
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	got := map[string]int{}
	return typePeer{typ: "kafka", config: `{"brokers":` + string(brokers) + `,"topic":"events","timeout":"1s"}`,
		received: func(t *testing.T) map[string]int {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			for _, r := range cl.PollFetches(ctx).Records() {
				for _, h := range r.Headers {
					if h.Key == "inlet-event-id" {
						got[string(h.Value)]++
					}
				}
			}
			return got
		}}
}

func rabbitmqPeer(t *testing.T) typePeer {
	url := peerService(t, "INLET_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672/")
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("RabbitMQ at %s: %v", url, err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	queue := "inlet_test_" + inlet.NewID()
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ch.QueueDelete(queue, false, false, false)
		conn.Close()
	})
	got := map[string]int{}
	return typePeer{typ: "rabbitmq", config: `{"url":"` + url + `","exchange":"","routing_key":"` + queue + `","timeout":"500ms"}`,
		received: func(t *testing.T) map[string]int {
			for {
				m, ok, err := ch.Get(queue, true)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					return got
				}
				got[m.MessageId]++
			}
		}}
}

func redisPeer(t *testing.T) typePeer {
	url := peerService(t, "INLET_TEST_REDIS", "redis://127.0.0.1:6379/0")
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	stream := "inlet_test:" + inlet.NewID()
	t.Cleanup(func() {
		c.Del(context.Background(), stream)
		c.Close()
	})
	return typePeer{typ: "redis", config: `{"url":"` + url + `","stream":"` + stream + `","maxlen":0,"timeout":"500ms"}`,
		received: func(t *testing.T) map[string]int {
			msgs, err := c.XRange(context.Background(), stream, "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, m := range msgs {
				got[m.Values["id"].(string)]++
			}
			return got
		}}
}

func pgTablePeer(t *testing.T) typePeer {
	url := pgtest.URL(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return typePeer{typ: "postgres", config: `{"url":"` + url + `","table":"events","timeout":"500ms"}`,
		received: func(t *testing.T) map[string]int {
			got := map[string]int{}
			rows, err := conn.Query(context.Background(), `SELECT id FROM events`)
			if err != nil {
				return got // not created yet
			}
			defer rows.Close()
			for rows.Next() {
				var id string
				rows.Scan(&id)
				got[id]++
			}
			return got
		}}
}

func filesPeer(t *testing.T) typePeer {
	dir := t.TempDir()
	return typePeer{typ: "files", config: `{"format":"parquet","directory":"` + dir + `","max_age":"100ms","timeout":"1s"}`,
		received: func(t *testing.T) map[string]int {
			got := map[string]int{}
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
					return nil
				}
				rows, err := parquet.ReadFile[struct {
					ID string `parquet:"id"`
				}](p)
				if err != nil {
					t.Fatalf("%s is not a whole Parquet file: %v", p, err)
				}
				for _, r := range rows {
					got[r.ID]++
				}
				return nil
			})
			return got
		}}
}
