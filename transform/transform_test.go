package transform_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"inlet"
	"inlet/transform"
)

func mustCompile(t *testing.T, cfg inlet.TransformConfig) *transform.Program {
	t.Helper()
	p, err := transform.Compile(&cfg)
	if err != nil {
		t.Fatalf("compile %+v: %v", cfg, err)
	}
	return p
}

var order = transform.Input{
	Properties: json.RawMessage(`{"id":"ord_1","total":1250,"currency":"eur","test":false,"items":[{"sku":"a"},{"sku":"b"}]}`),
	Headers:    map[string]string{"X-Shop-Domain": "shop.example", "Content-Type": "application/json"},
	Query:      map[string]any{"env": "live", "tag": []string{"a", "b"}},
	SourceID:   "shop",
	SourceName: "The shop",
	Type:       "orders.create",
}

func TestCompileRefusesBadExpressions(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  inlet.TransformConfig
		want string
	}{
		{"a syntax error names the field and gives CEL's message", inlet.TransformConfig{Properties: "{'a': "}, "config.transform.properties: ERROR"},
		{"an unknown variable names the field", inlet.TransformConfig{Drop: "payload.test"}, "config.transform.drop: ERROR: <input>:1:1: undeclared reference to 'payload'"},
		{"a drop that cannot be a bool is refused", inlet.TransformConfig{Drop: "'yes'"}, "config.transform.drop must give a bool"},
		{"a type that cannot be a string is refused", inlet.TransformConfig{Type: "1 + 2"}, "config.transform.type must give a string"},
		{"properties that cannot be a map are refused", inlet.TransformConfig{Properties: "[1, 2]"}, "config.transform.properties must give a map"},
		{"an empty transform is refused", inlet.TransformConfig{}, "config.transform needs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := transform.Compile(&c.cfg)
			if inlet.ErrorCode(err) != inlet.EINVALID || !strings.Contains(inlet.ErrorMessage(err), c.want) {
				t.Errorf("got %v, want EINVALID containing %q", err, c.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	ctx := context.Background()
	t.Run("drop is true for the events it matches, and the others go on", func(t *testing.T) {
		p := mustCompile(t, inlet.TransformConfig{Drop: "properties.test == true || headers['x-shop-domain'] == 'staging.example'"})
		res, err := p.Run(ctx, order)
		if err != nil || res.Drop {
			t.Errorf("live order: %+v %v", res, err)
		}
		test := order
		test.Properties = json.RawMessage(`{"test":true}`)
		if res, err := p.Run(ctx, test); err != nil || !res.Drop {
			t.Errorf("test order: %+v %v", res, err)
		}
	})
	t.Run("type sees the URL's type and the source, and is normalised", func(t *testing.T) {
		p := mustCompile(t, inlet.TransformConfig{Type: "source.id + '.' + type + '.' + query.env.upperAscii()"})
		res, err := p.Run(ctx, order)
		if err != nil || res.Type != "shop.orders.create.live" {
			t.Errorf("got %+v %v", res, err)
		}
		if res.Properties != nil {
			t.Errorf("properties changed without a properties expression: %s", res.Properties)
		}
	})
	t.Run("properties replace the event's properties", func(t *testing.T) {
		p := mustCompile(t, inlet.TransformConfig{Properties: `{"order": properties.id, "amount": properties.total / 100.0, "skus": properties.items.map(i, i.sku), "tags": query.tag, "source": source.name}`})
		res, err := p.Run(ctx, order)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(res.Properties, &got); err != nil {
			t.Fatalf("%s: %v", res.Properties, err)
		}
		want := `{"amount":12.5,"order":"ord_1","skus":["a","b"],"source":"The shop","tags":["a","b"]}`
		if b, _ := json.Marshal(got); string(b) != want {
			t.Errorf("got %s, want %s", b, want)
		}
	})
	t.Run("optional values read keys that may be missing", func(t *testing.T) {
		p := mustCompile(t, inlet.TransformConfig{Properties: `{"email": properties.?customer.email.orValue("none"), "shop": headers[?"x-shop-domain"].orValue("")}`})
		res, err := p.Run(ctx, order)
		if err != nil || string(res.Properties) != `{"email":"none","shop":"shop.example"}` {
			t.Errorf("got %s %v", res.Properties, err)
		}
	})
	t.Run("a dropped event is not evaluated further", func(t *testing.T) {
		p := mustCompile(t, inlet.TransformConfig{Drop: "true", Properties: "{'x': properties.nope}"})
		if res, err := p.Run(ctx, order); err != nil || !res.Drop {
			t.Errorf("got %+v %v", res, err)
		}
	})
	t.Run("a missing key is an error naming the field", func(t *testing.T) {
		p := mustCompile(t, inlet.TransformConfig{Properties: "{'x': properties.customer.email}"})
		_, err := p.Run(ctx, order)
		if inlet.ErrorReason(err) != transform.ReasonFailed || !strings.Contains(inlet.ErrorMessage(err), "config.transform.properties failed on this event: no such key: customer") {
			t.Errorf("got %v", err)
		}
		if p.RejectOnError() {
			t.Error("on_error defaults to reject")
		}
	})
	t.Run("a dyn result of the wrong kind is an error", func(t *testing.T) {
		p := mustCompile(t, inlet.TransformConfig{Type: "properties.total", Drop: "properties.currency", OnError: "reject"})
		if _, err := p.Run(ctx, order); inlet.ErrorReason(err) != transform.ReasonFailed || !strings.Contains(err.Error(), "config.transform.drop") {
			t.Errorf("got %v", err)
		}
		if !p.RejectOnError() {
			t.Error("on_error reject is not reported")
		}
	})
	t.Run("a type that is not a valid event type is an error", func(t *testing.T) {
		p := mustCompile(t, inlet.TransformConfig{Type: "'orders/create'"})
		if _, err := p.Run(ctx, order); !strings.Contains(inlet.ErrorMessage(err), "config.transform.type failed on this event: event type may only contain") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("an expression over its cost limit is stopped", func(t *testing.T) {
		items := make([]int, 3000)
		body, _ := json.Marshal(map[string]any{"items": items})
		p := mustCompile(t, inlet.TransformConfig{Drop: "properties.items.all(x, properties.items.all(y, x == y))"})
		transform.SetTimeout(p, time.Minute) // only the cost limit may stop it, however slow the machine
		in := order
		in.Properties = body
		_, err := p.Run(ctx, in)
		if inlet.ErrorReason(err) != transform.ReasonFailed || !strings.Contains(err.Error(), "cost limit") {
			t.Errorf("got %v, want the cost limit exceeded", err)
		}
	})
	t.Run("an expression is stopped when its context ends", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		p := mustCompile(t, inlet.TransformConfig{Drop: "properties.items.exists(x, x == 1)"})
		in := order
		in.Properties, _ = json.Marshal(map[string]any{"items": make([]int, 500)})
		if _, err := p.Run(cctx, in); inlet.ErrorReason(err) != transform.ReasonFailed || !strings.Contains(err.Error(), "interrupted") {
			t.Errorf("got %v, want the evaluation cancelled", err)
		}
	})
	t.Run("a nil program changes nothing", func(t *testing.T) {
		var p *transform.Program
		if res, err := p.Run(ctx, order); err != nil || res.Drop || res.Type != order.Type || res.Properties != nil {
			t.Errorf("got %+v %v", res, err)
		}
	})
}

func BenchmarkRunThreeExpressions(b *testing.B) {
	p, err := transform.Compile(&inlet.TransformConfig{
		Drop:       "properties.test == true",
		Type:       "type + '.' + properties.currency",
		Properties: `{"order": properties.id, "amount": properties.total}`,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := p.Run(ctx, order); err != nil {
			b.Fatal(err)
		}
	}
}
