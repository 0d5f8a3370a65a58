package inlet

import (
	"encoding/json"
	"slices"
	"strings"
)

// Limits of a source's schemas.
const (
	MaxSchemas     = 64        // entries of config.schemas
	MaxSchemaBytes = 256 << 10 // bytes of one JSON Schema
)

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
