package inlet

// MaxExpressionLength bounds the bytes of one CEL expression of a
// source's transform.
const MaxExpressionLength = 4096

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
// It checks the fields only; the transform package compiles the expressions.
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
