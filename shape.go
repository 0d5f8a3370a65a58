package inlet

import (
	"encoding/json"
	"slices"
	"strings"
)

// Limits of a source's transform and schemas.
const (
	MaxExpressionLength = 4096      // bytes of one CEL expression
	MaxSchemas          = 64        // entries of config.schemas
	MaxSchemaBytes      = 256 << 10 // bytes of one JSON Schema
)

// What a transform does when an expression fails on an event.
const (
	OnErrorKeep   = "keep"   // keep the event unchanged, with a warning (the default)
	OnErrorReject = "reject" // refuse the request (400)
)

// TransformConfig reshapes each event of a source with CEL expressions over
// the variables properties, headers (lower-case names, secrets removed),
// query, source (id, name) and type. Each expression is optional.
type TransformConfig struct {
	// Drop is a bool: true answers 200 and stores nothing.
	Drop string `json:"drop,omitempty"`
	// Type is a string that becomes the event type.
	Type string `json:"type,omitempty"`
	// Properties is a map that replaces the properties.
	Properties string `json:"properties,omitempty"`
	// OnError is OnErrorKeep (the default) or OnErrorReject.
	OnError string `json:"on_error,omitempty"`
}

// Validate returns an EINVALID error naming the first field that is wrong.
// It checks the shape only; the transform package compiles the expressions.
func (t *TransformConfig) Validate() error {
	if t.Drop == "" && t.Type == "" && t.Properties == "" {
		return Errorf(EINVALID, "config.transform needs at least one of drop, type and properties (CEL expressions)")
	}
	for _, f := range []struct{ name, expr string }{{"drop", t.Drop}, {"type", t.Type}, {"properties", t.Properties}} {
		if len(f.expr) > MaxExpressionLength {
			return Errorf(EINVALID, "config.transform.%s is longer than %d bytes", f.name, MaxExpressionLength)
		}
	}
	if t.OnError != "" && t.OnError != OnErrorKeep && t.OnError != OnErrorReject {
		return Errorf(EINVALID, "config.transform.on_error must be %q (the default: keep the event, with a warning) or %q", OnErrorKeep, OnErrorReject)
	}
	return nil
}

// Modes of a SchemaRule.
const (
	SchemaReject = "reject" // refuse an event that does not follow the schema (400)
	SchemaFlag   = "flag"   // store it, with the validation errors in its warnings
)

// SchemaAnyType is the key of config.schemas that applies to event types
// with no schema of their own.
const SchemaAnyType = "*"

// SchemaRule is the JSON Schema (2020-12 unless it says otherwise) that the
// properties of an event type must follow, and what to do when they do not.
type SchemaRule struct {
	Schema json.RawMessage `json:"schema"`
	Mode   string          `json:"mode"`
}

// SchemaFor returns the rule of config.schemas that applies to an event
// type: its own, else "*"'s.
func SchemaFor(schemas map[string]SchemaRule, eventType string) (SchemaRule, string, bool) {
	if r, ok := schemas[eventType]; ok {
		return r, eventType, true
	}
	r, ok := schemas[SchemaAnyType]
	return r, SchemaAnyType, ok
}

func validateSchemas(schemas map[string]SchemaRule) error {
	if len(schemas) > MaxSchemas {
		return Errorf(EINVALID, "config.schemas has more than %d entries", MaxSchemas)
	}
	keys := make([]string, 0, len(schemas))
	for k := range schemas {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r := schemas[k]
		if k != SchemaAnyType {
			if t, err := NormalizeEventType(k); err != nil || t != k {
				return Errorf(EINVALID, "config.schemas: %q is not an event type as stored (lower-case, from a-z, 0-9, '-', '_', '.', ':') nor \"*\"", k)
			}
		}
		if r.Mode != SchemaReject && r.Mode != SchemaFlag {
			return Errorf(EINVALID, "config.schemas.%s.mode must be %q or %q", k, SchemaReject, SchemaFlag)
		}
		if trimmed := strings.TrimSpace(string(r.Schema)); trimmed == "" || trimmed == "null" {
			return Errorf(EINVALID, "config.schemas.%s.schema is required: a JSON Schema", k)
		} else if len(r.Schema) > MaxSchemaBytes {
			return Errorf(EINVALID, "config.schemas.%s.schema is larger than %d bytes", k, MaxSchemaBytes)
		}
	}
	return nil
}
