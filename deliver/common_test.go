package deliver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"inlet"
	"inlet/deliver"
)

func TestATransformReshapesOrDropsEventsForItsDestinationOnly(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		transformed, plain := newReceiver(t), newReceiver(t)
		d := createDestination(t, s, &inlet.Destination{Config: webhookConfig(transformed.URL,
			`,"transform":{"drop":"type == 'cart.updated'","type":"'shop.' + type","properties":"{'n': properties.n, 'via': source.id}"}`)})
		createDestination(t, s, &inlet.Destination{Config: webhookConfig(plain.URL, "")})
		start(t, s, deliver.Options{})
		ids := mixedLoad(t, s)
		plain.waitFor(t, ids, 10*time.Second)
		// The dropped events count as delivered: there is nothing to send.
		waitDelivered(t, s, d.ID, int64(len(ids)), 10*time.Second)

		ctx := context.Background()
		transformed.mu.Lock()
		defer transformed.mu.Unlock()
		plain.mu.Lock()
		defer plain.mu.Unlock()
		sent := 0
		for _, id := range ids {
			e, _ := s.FindEvent(ctx, id)
			if want, _ := inlet.EventJSON(e); string(plain.bodies[id]) != string(want) {
				t.Fatalf("the other destination got %s; want the event as stored, %s", plain.bodies[id], want)
			}
			body, ok := transformed.bodies[id]
			if e.Type == "cart.updated" {
				if ok {
					t.Fatalf("event %s of type cart.updated was sent; the transform drops it", id)
				}
				continue
			}
			sent++
			var got inlet.Event
			json.Unmarshal(body, &got)
			var props map[string]any
			json.Unmarshal(got.Properties, &props)
			var orig map[string]any
			json.Unmarshal(e.Properties, &orig)
			if got.Type != "shop."+e.Type || props["via"] != e.SourceID || props["n"] != orig["n"] || len(props) != 2 || got.ID != e.ID {
				t.Fatalf("the transformed destination got %s for %+v", body, e)
			}
		}
		if sent == 0 || len(transformed.ids) != sent {
			t.Fatalf("the transformed destination got %d events; want %d", len(transformed.ids), sent)
		}
	})
}

func TestRateLimitSpacesTheSends(t *testing.T) {
	recv := newReceiver(t)
	s := openSQLite(t)
	d := createDestination(t, s, &inlet.Destination{Config: webhookConfig(recv.URL, `,"rate_limit":50`)})
	start(t, s, deliver.Options{})
	began := time.Now()
	ids := appendN(t, s, "shop", "order.created", 60)
	recv.waitFor(t, ids, 10*time.Second)
	// 50 a second, with a burst of a tenth of a second's worth: 60 take
	// at least a second.
	if took := time.Since(began); took < 950*time.Millisecond {
		t.Fatalf("60 events at rate_limit 50 were delivered in %s; want at least about 1s", took)
	}
	waitDelivered(t, s, d.ID, 60, 5*time.Second)
}

func TestInFlightBoundsTheConcurrentSends(t *testing.T) {
	var mu sync.Mutex
	now, most := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		now++
		most = max(most, now)
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		now--
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	s := openSQLite(t)
	d := createDestination(t, s, &inlet.Destination{Config: webhookConfig(srv.URL, `,"in_flight":3`)})
	start(t, s, deliver.Options{})
	appendN(t, s, "shop", "order.created", 100)
	waitDelivered(t, s, d.ID, 100, 10*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if most > 3 || most < 2 {
		t.Fatalf("at most %d requests ran at once; want up to in_flight 3", most)
	}
}

func TestTheCommonOptionsRefuseAWrongValueNamingTheField(t *testing.T) {
	for _, tc := range []struct{ config, field string }{
		{`{"url":"http://h","rate_limit":-1}`, "config.rate_limit"},
		{`{"url":"http://h","rate_limit":"fast"}`, "config.rate_limit"},
		{`{"url":"http://h","in_flight":100000}`, "config.in_flight"},
		{`{"url":"http://h","in_flight":1.5}`, "config.in_flight"},
		{`{"url":"http://h","transform":{}}`, "config.transform"},
		{`{"url":"http://h","transform":{"drop":"properties.n +"}}`, "config.transform.drop"},
		{`{"url":"http://h","transform":{"type":"1"}}`, "config.transform.type"},
		{`{"url":"http://h","transform":{"drop":"true","when":"x"}}`, "config.transform"},
	} {
		assertRefused(t, inlet.DestinationWebhook, tc.config, tc.field)
	}
	// The common fields are every type's.
	for typ, config := range map[string]string{
		inlet.DestinationKafka: `{"brokers":["h:9092"],"topic":"t","rate_limit":10,"in_flight":2,"transform":{"drop":"false"}}`,
		inlet.DestinationFiles: `{"directory":"/tmp/x","rate_limit":10,"in_flight":2,"transform":{"drop":"false"}}`,
	} {
		if err := deliver.Validate(&inlet.Destination{ID: "d", Name: "d", Type: typ, Config: json.RawMessage(config)}); err != nil {
			t.Errorf("%s %s: %v", typ, config, err)
		}
	}
}

func TestTryShowsWhatADestinationWouldSend(t *testing.T) {
	d := &inlet.Destination{ID: "d", Name: "d", Type: inlet.DestinationWebhook, Filter: inlet.DestinationFilter{Sources: []string{"shop"}},
		Config: webhookConfig("http://h", `,"transform":{"drop":"properties.n == 0","properties":"{'m': dyn(properties.n * 2.0)}"}`)}
	ctx := context.Background()
	for _, tc := range []struct {
		e       *inlet.Event
		outcome string
		props   string
	}{
		{newEvent("shop", "order.created", 0), inlet.TryDropped, ""},
		{newEvent("shop", "order.created", 4), inlet.TrySent, `{"m":8}`},
		{newEvent("app", "order.created", 4), inlet.TryFiltered, `{"m":8}`},
	} {
		got, err := deliver.Try(ctx, d, tc.e)
		if err != nil {
			t.Fatal(err)
		}
		var e inlet.Event
		if tc.props != "" {
			json.Unmarshal(got.Event, &e)
		}
		if got.Outcome != tc.outcome || string(e.Properties) != tc.props || got.EventID != tc.e.ID {
			t.Errorf("Try(%s) = %+v (properties %s); want %s with properties %s", tc.e.Properties, got, e.Properties, tc.outcome, tc.props)
		}
	}
	// A transform that fails is said, and the event sent as it is.
	d.Config = webhookConfig("http://h", `,"transform":{"properties":"{'m': properties.missing.x}"}`)
	got, err := deliver.Try(ctx, d, newEvent("shop", "order.created", 1))
	if err != nil || got.Outcome != inlet.TrySent || got.TransformError == "" {
		t.Errorf("Try with a failing transform = %+v, %v; want sent with the transform's error", got, err)
	}
}
