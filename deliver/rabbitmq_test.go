package deliver_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"inlet"
	"inlet/deliver"
)

// rabbitQueue connects to INLET_TEST_RABBITMQ and declares a topic
// exchange of the test's own, bound to a durable queue that takes every
// key; both are deleted when the test ends.
func rabbitQueue(t testing.TB) (ch *amqp.Channel, url, exchange, queue string) {
	t.Helper()
	url = serviceURL(t, "INLET_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672/")
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("RabbitMQ at %s: %v", url, err)
	}
	ch, err = conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	exchange, queue = "inlet_test_"+inlet.NewID(), "inlet_test_"+inlet.NewID()
	if err := ch.ExchangeDeclare(exchange, "topic", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(queue, "#", exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ch.QueueDelete(queue, false, false, false)
		ch.ExchangeDelete(exchange, false, false)
		conn.Close()
	})
	return ch, url, exchange, queue
}

// drainQueue takes want messages from queue, keyed by message id.
func drainQueue(t *testing.T, ch *amqp.Channel, queue string, want int, within time.Duration) map[string]amqp.Delivery {
	t.Helper()
	got := map[string]amqp.Delivery{}
	deadline := time.Now().Add(within)
	for len(got) < want {
		m, ok, err := ch.Get(queue, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			if time.Now().After(deadline) {
				t.Fatalf("after %s the queue gave %d messages; want %d", within, len(got), want)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		got[m.MessageId] = m
	}
	return got
}

func TestRabbitMQPublishesEveryEventOfAMixedLoadConfirmed(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ch, url, exchange, queue := rabbitQueue(t)
		d := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationRabbitMQ,
			Config: json.RawMessage(`{"url":"` + url + `","exchange":"` + exchange + `","routing_key":"{source}.{type}"}`)})
		start(t, s, deliver.Options{})
		ids := mixedLoad(t, s)
		waitDelivered(t, s, d.ID, int64(len(ids)), 10*time.Second)
		got := drainQueue(t, ch, queue, len(ids), 10*time.Second)
		ctx := context.Background()
		for _, id := range ids {
			m, ok := got[id]
			if !ok {
				t.Fatalf("no message of event %s", id)
			}
			e, _ := s.FindEvent(ctx, id)
			want, _ := inlet.EventJSON(e)
			if string(m.Body) != string(want) || m.RoutingKey != e.SourceID+"."+e.Type || m.DeliveryMode != amqp.Persistent || m.Type != e.Type {
				t.Fatalf("message of %s: key %s, mode %d, type %s, body %s; want key %s.%s, persistent, body %s",
					id, m.RoutingKey, m.DeliveryMode, m.Type, m.Body, e.SourceID, e.Type, want)
			}
		}
	})
}

func TestRabbitMQAMissingExchangeIsRetried(t *testing.T) {
	_, url, _, _ := rabbitQueue(t)
	s := openSQLite(t)
	// The broker closes the channel of a publish to an exchange that does
	// not exist: no confirm, a failure, retried until the delivery is dead.
	d := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationRabbitMQ,
		Config: json.RawMessage(`{"url":"` + url + `","exchange":"inlet_test_missing_` + inlet.NewID() + `","routing_key":"x","timeout":"1s"}`),
		Retry:  inlet.RetryPolicy{Backoff: []string{"50ms"}, MaxAge: "300ms"}})
	start(t, s, deliver.Options{})
	appendN(t, s, "shop", "order.created", 3)
	dead := waitStatus(t, s, d.ID, inlet.DeliveryDead, 3, 15*time.Second)
	if dead[0].LastError == "" {
		t.Fatalf("dead delivery = %+v; want its error", dead[0])
	}
}

func TestRabbitMQRefusesAWrongConfigNamingTheField(t *testing.T) {
	for _, tc := range []struct{ config, field string }{
		{`{"routing_key":"x"}`, "config.url"},
		{`{"url":"http://h","routing_key":"x"}`, "config.url"},
		{`{"url":"amqp://h","exchange":"a b","routing_key":"x"}`, "config.exchange"},
		{`{"url":"amqp://h","exchange":""}`, "config.routing_key"},
		{`{"url":"amqp://h","exchange":"e","routing_key":"{user}"}`, "config.routing_key"},
		{`{"url":"amqp://h","exchange":"e","routing_key":"k","timeout":"0s"}`, "config.timeout"},
		{`{"url":"amqp://h","exchange":"e","routing_key":"k","queue":"q"}`, "queue"},
	} {
		assertRefused(t, inlet.DestinationRabbitMQ, tc.config, tc.field)
	}
}
