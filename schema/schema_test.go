package schema_test

import (
	"encoding/json"
	"strings"
	"testing"

	"inlet"
	"inlet/schema"
)

const orderSchema = `{
	"type": "object",
	"required": ["id", "total"],
	"properties": {
		"id": {"type": "string", "pattern": "^ord_"},
		"total": {"type": "integer", "minimum": 0},
		"customer": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}, "additionalProperties": false}
	}
}`

func compile(t *testing.T, schemas map[string]inlet.SchemaRule) *schema.Set {
	t.Helper()
	s, err := schema.Compile(schemas)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidate(t *testing.T) {
	set := compile(t, map[string]inlet.SchemaRule{
		"order.paid": {Schema: json.RawMessage(orderSchema), Mode: "reject"},
		"*":          {Schema: json.RawMessage(`{"type":"object","required":["id"]}`), Mode: "flag"},
	})
	t.Run("a valid event passes", func(t *testing.T) {
		o := set.Validate("order.paid", []byte(`{"id":"ord_1","total":1250,"customer":{"email":"a@example.com"}}`))
		if !o.Valid() || o.Err("order.paid") != nil || o.Warnings() != nil {
			t.Errorf("got %+v", o)
		}
	})
	t.Run("a rejected event gives the failing paths and keywords, never its values", func(t *testing.T) {
		o := set.Validate("order.paid", []byte(`{"id":"inv_secret","total":"12.50","customer":{"email":"a@example.com","card":"4242"}}`))
		err := o.Err("order.paid")
		if inlet.ErrorCode(err) != inlet.EINVALID || inlet.ErrorReason(err) != schema.ReasonViolation {
			t.Fatalf("got %v", err)
		}
		msg := inlet.ErrorMessage(err)
		for _, want := range []string{"config.schemas.order.paid", "/id: pattern", "/total: type: want integer, got string", "/customer: additionalProperties: not allowed: card"} {
			if !strings.Contains(msg, want) {
				t.Errorf("the message lacks %q: %s", want, msg)
			}
		}
		for _, secret := range []string{"inv_secret", "12.50", "4242"} {
			if strings.Contains(msg, secret) {
				t.Errorf("the message quotes the payload's %q: %s", secret, msg)
			}
		}
		if o.Warnings() != nil {
			t.Error("a reject rule gave warnings")
		}
	})
	t.Run("the most specific type wins over *", func(t *testing.T) {
		o := set.Validate("order.paid", []byte(`{"total":1}`))
		if o.Key != "order.paid" || o.Mode != "reject" || len(o.Failures) != 1 || o.Failures[0].String() != "/: required: missing id" {
			t.Errorf("got %+v", o)
		}
	})
	t.Run("another type falls to * and is flagged", func(t *testing.T) {
		o := set.Validate("order.refunded", []byte(`{"total":1}`))
		if o.Err("order.refunded") != nil {
			t.Error("a flag rule refused the event")
		}
		if w := o.Warnings(); len(w) != 1 || w[0] != "schema *: /: required: missing id" {
			t.Errorf("warnings = %q", w)
		}
	})
	t.Run("large numbers are compared exactly", func(t *testing.T) {
		o := set.Validate("order.paid", []byte(`{"id":"ord_1","total":9007199254740993}`))
		if !o.Valid() {
			t.Errorf("got %+v", o.Failures)
		}
	})
	t.Run("no schemas validate nothing", func(t *testing.T) {
		var none *schema.Set
		if o := none.Validate("x", []byte(`[]`)); !o.Valid() {
			t.Errorf("got %+v", o)
		}
	})
	t.Run("failures are bounded", func(t *testing.T) {
		s := compile(t, map[string]inlet.SchemaRule{"*": {Schema: json.RawMessage(`{"additionalProperties":{"type":"string"}}`), Mode: "flag"}})
		props := map[string]int{}
		for i := range 50 {
			props[strings.Repeat("k", i+1)] = i
		}
		b, _ := json.Marshal(props)
		if o := s.Validate("x", b); len(o.Failures) != schema.MaxFailures {
			t.Errorf("%d failures, want %d", len(o.Failures), schema.MaxFailures)
		}
	})
}

func TestCompileRefuses(t *testing.T) {
	for _, c := range []struct{ name, schema, want string }{
		{"a schema that is not a schema names its field", `{"type": 12}`, "config.schemas.order.paid.schema is not a valid JSON Schema"},
		{"a reference to a file is refused", `{"$ref": "file:///etc/passwd"}`, "config.schemas.order.paid.schema is not a valid JSON Schema"},
		{"a reference to the network is refused", `{"$ref": "https://example.com/s.json"}`, "schemas may only refer to themselves"},
		{"a bad pattern is refused", `{"pattern": "("}`, "config.schemas.order.paid.schema"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := schema.Compile(map[string]inlet.SchemaRule{"order.paid": {Schema: json.RawMessage(c.schema), Mode: "flag"}})
			if inlet.ErrorCode(err) != inlet.EINVALID || !strings.Contains(inlet.ErrorMessage(err), c.want) {
				t.Errorf("got %v, want EINVALID containing %q", err, c.want)
			}
		})
	}
	t.Run("a schema's own definitions resolve", func(t *testing.T) {
		s := compile(t, map[string]inlet.SchemaRule{"*": {Schema: json.RawMessage(`{"$defs":{"id":{"type":"string"}},"properties":{"id":{"$ref":"#/$defs/id"}}}`), Mode: "flag"}})
		if o := s.Validate("x", []byte(`{"id":1}`)); o.Valid() || o.Failures[0].Path != "/id" {
			t.Errorf("got %+v", o)
		}
	})
}

func BenchmarkValidate300Bytes(b *testing.B) {
	s, err := schema.Compile(map[string]inlet.SchemaRule{"order.paid": {Schema: json.RawMessage(orderSchema), Mode: "reject"}})
	if err != nil {
		b.Fatal(err)
	}
	props := []byte(`{"id":"ord_1","total":1250,"customer":{"email":"someone@example.com"},"note":"` + strings.Repeat("x", 200) + `"}`)
	for b.Loop() {
		if o := s.Validate("order.paid", props); !o.Valid() {
			b.Fatal(o.Failures)
		}
	}
}
