package shape_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"inlet"
	"inlet/shape"
)

func config(t *testing.T, s string) *inlet.SourceConfig {
	t.Helper()
	var c inlet.SourceConfig
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestApply(t *testing.T) {
	ctx := context.Background()
	p, err := shape.Compile(config(t, `{
		"transform": {"drop": "properties.livemode == false", "type": "properties.type", "properties": "properties.data.object"},
		"schemas": {
			"invoice.paid": {"mode": "reject", "schema": {"type": "object", "required": ["amount_paid"]}},
			"*": {"mode": "flag", "schema": {"type": "object", "required": ["id"]}}
		}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	in := func(body string) shape.Input {
		return shape.Input{Properties: json.RawMessage(body), Type: "stripe", SourceID: "s"}
	}
	t.Run("the transform runs before validation, which sees the new type", func(t *testing.T) {
		res, err := p.Apply(ctx, in(`{"livemode":true,"type":"invoice.paid","data":{"object":{"id":"in_1","amount_paid":100}}}`))
		if err != nil || res.Drop || res.Type != "invoice.paid" || string(res.Properties) != `{"amount_paid":100,"id":"in_1"}` || len(res.Warnings) != 0 {
			t.Errorf("got %+v %v", res, err)
		}
	})
	t.Run("an event failing a reject schema is refused", func(t *testing.T) {
		_, err := p.Apply(ctx, in(`{"livemode":true,"type":"invoice.paid","data":{"object":{"id":"in_1"}}}`))
		if inlet.ErrorReason(err) != "schema_violation" || !strings.Contains(err.Error(), "missing amount_paid") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("an event failing a flag schema is kept with warnings", func(t *testing.T) {
		res, err := p.Apply(ctx, in(`{"livemode":true,"type":"customer.created","data":{"object":{"email":"a@example.com"}}}`))
		if err != nil || len(res.Warnings) != 1 || res.Warnings[0] != "schema *: /: required: missing id" {
			t.Errorf("got %+v %v", res, err)
		}
	})
	t.Run("a dropped event is not validated", func(t *testing.T) {
		res, err := p.Apply(ctx, in(`{"livemode":false}`))
		if err != nil || !res.Drop {
			t.Errorf("got %+v %v", res, err)
		}
	})
	t.Run("a failing transform keeps the event as it came, with a warning, and validation still applies", func(t *testing.T) {
		res, err := p.Apply(ctx, in(`{"livemode":true,"id":"x"}`))
		if err != nil || res.Type != "stripe" || string(res.Properties) != `{"livemode":true,"id":"x"}` || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "config.transform.type failed") {
			t.Errorf("got %+v %v", res, err)
		}
	})
	t.Run("with on_error reject a failing transform refuses the request", func(t *testing.T) {
		p, err := shape.Compile(config(t, `{"transform": {"type": "properties.type", "on_error": "reject"}}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Apply(ctx, in(`{}`)); inlet.ErrorReason(err) != "transform_failed" {
			t.Errorf("got %v", err)
		}
	})
	t.Run("no transform and no schemas compile to nothing, which changes nothing", func(t *testing.T) {
		p, err := shape.Compile(config(t, `{"preset":"stripe","verify":{"secret":"s"}}`))
		if err != nil || p != nil {
			t.Fatalf("got %v %v", p, err)
		}
		if res, err := p.Apply(ctx, in(`{"a":1}`)); err != nil || res.Type != "stripe" || string(res.Properties) != `{"a":1}` {
			t.Errorf("got %+v %v", res, err)
		}
	})
}

func TestCompileNamesTheField(t *testing.T) {
	_, err := shape.Compile(config(t, `{"transform": {"properties": "{'a': properties.}"}}`))
	if inlet.ErrorCode(err) != inlet.EINVALID || !strings.HasPrefix(inlet.ErrorMessage(err), "config.transform.properties: ERROR") {
		t.Errorf("got %v", err)
	}
	_, err = shape.Compile(config(t, `{"schemas": {"push": {"mode": "flag", "schema": {"minLength": "two"}}}}`))
	if inlet.ErrorCode(err) != inlet.EINVALID || !strings.HasPrefix(inlet.ErrorMessage(err), "config.schemas.push.schema") {
		t.Errorf("got %v", err)
	}
}

func TestCacheCompilesOncePerVersion(t *testing.T) {
	c := shape.NewCache()
	v1 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	src := &inlet.Source{ID: "s", UpdatedAt: v1, Config: *config(t, `{"transform":{"type":"'a'"}}`)}
	p1, err := c.Program(src)
	if err != nil || p1 == nil {
		t.Fatal(p1, err)
	}
	again, _ := c.Program(&inlet.Source{ID: "s", UpdatedAt: v1, Config: src.Config})
	if again != p1 {
		t.Error("the same version was compiled again")
	}
	changed := &inlet.Source{ID: "s", UpdatedAt: v1.Add(time.Second), Config: *config(t, `{"transform":{"type":"'b'"}}`)}
	p2, _ := c.Program(changed)
	if p2 == p1 {
		t.Fatal("a new version kept the old program")
	}
	res, _ := p2.Apply(context.Background(), shape.Input{Type: "x", Properties: json.RawMessage(`{}`)})
	if res.Type != "b" {
		t.Errorf("the new version's program gives %q", res.Type)
	}
	if p, err := c.Program(&inlet.Source{ID: "plain"}); p != nil || err != nil {
		t.Errorf("a plain source: %v %v", p, err)
	}
}
