// Package schema validates events' properties against the JSON Schemas of
// a source's config.schemas, with santhosh-tekuri/jsonschema (v6). Schemas
// are compiled once, when the source is saved; a schema without $schema is
// read as draft 2020-12, and it may not load anything from outside itself
// (no file or network $ref).
package schema

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"inlet"
	"inlet/jsonpath"
)

// ReasonViolation is the reason code of an event refused by its schema.
const ReasonViolation = "schema_violation"

// MaxFailures bounds the failures reported for one event.
const MaxFailures = 10

// Set is a source's compiled schemas; it is safe for concurrent use.
type Set struct {
	rules map[string]rule
}

type rule struct {
	schema *jsonschema.Schema
	mode   string
}

// noLoader refuses every resource a schema would load from outside itself.
type noLoader struct{}

// Load refuses url.
func (noLoader) Load(url string) (any, error) {
	return nil, errors.New("schemas may only refer to themselves; inline the schema at " + url)
}

// Compile compiles config.schemas. No schemas compile to a nil Set, which
// validates nothing. A schema that does not compile is an EINVALID error
// naming config.schemas.<type>.schema.
func Compile(schemas map[string]inlet.SchemaRule) (*Set, error) {
	if len(schemas) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(schemas))
	for k := range schemas {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	set := &Set{rules: make(map[string]rule, len(schemas))}
	for _, k := range keys {
		r := schemas[k]
		field := "config.schemas." + k + ".schema"
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Schema))
		if err != nil {
			return nil, inlet.Errorf(inlet.EINVALID, "%s is not JSON: %s", field, err)
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.UseLoader(noLoader{})
		const loc = "inlet:///schema.json"
		if err := c.AddResource(loc, doc); err != nil {
			return nil, inlet.Errorf(inlet.EINVALID, "%s: %s", field, err)
		}
		sch, err := c.Compile(loc)
		if err != nil {
			return nil, inlet.Errorf(inlet.EINVALID, "%s is not a valid JSON Schema: %s", field, strings.ReplaceAll(err.Error(), "\n", " "))
		}
		set.rules[k] = rule{schema: sch, mode: r.Mode}
	}
	return set, nil
}

// Failure is one way properties fail a schema: where (a JSON pointer into
// the properties), which keyword, and a message that never quotes the
// event's values.
type Failure struct {
	Path    string `json:"path"`
	Keyword string `json:"keyword"`
	Message string `json:"message,omitempty"`
}

// String formats a failure as "<path>: <keyword>: <message>".
func (f Failure) String() string {
	path := f.Path
	if path == "" {
		path = "/"
	}
	s := path + ": " + f.Keyword
	if f.Message != "" {
		s += ": " + f.Message
	}
	return s
}

// Outcome is the result of validating one event.
type Outcome struct {
	// Key is the config.schemas entry that applied: the event type or "*".
	Key string
	// Mode is the rule's mode, inlet.SchemaReject or inlet.SchemaFlag.
	Mode string
	// Failures are empty when the event follows the schema.
	Failures []Failure
}

// Valid reports whether the event passed (or had no schema).
func (o Outcome) Valid() bool { return len(o.Failures) == 0 }

// Err returns, for an event that failed a reject rule, the EINVALID error
// with reason ReasonViolation that refuses it; otherwise nil.
func (o Outcome) Err(eventType string) error {
	if o.Valid() || o.Mode != inlet.SchemaReject {
		return nil
	}
	return inlet.Reasonf(inlet.EINVALID, ReasonViolation, "the properties of this %s event do not follow config.schemas.%s: %s", eventType, o.Key, o.summary())
}

// Warnings returns, for an event that failed a flag rule, the warnings to
// store with it; otherwise nil.
func (o Outcome) Warnings() []string {
	if o.Valid() || o.Mode != inlet.SchemaFlag {
		return nil
	}
	w := make([]string, len(o.Failures))
	for i, f := range o.Failures {
		w[i] = "schema " + o.Key + ": " + f.String()
	}
	return w
}

func (o Outcome) summary() string {
	parts := make([]string, len(o.Failures))
	for i, f := range o.Failures {
		parts[i] = f.String()
	}
	return strings.Join(parts, "; ")
}

// Validate checks properties (a JSON object) against the rule for
// eventType: its own, else "*". Properties that are not JSON fail with a
// failure at the root.
func (s *Set) Validate(eventType string, properties []byte) Outcome {
	return s.validate(eventType, properties, nil)
}

// ValidateDecoded is Validate over properties decoded already, with
// numbers as json.Number (as jsonpath.Decode and jsonschema.UnmarshalJSON
// decode them).
func (s *Set) ValidateDecoded(eventType string, doc any) Outcome {
	return s.validate(eventType, nil, doc)
}

func (s *Set) validate(eventType string, properties []byte, doc any) Outcome {
	if s == nil {
		return Outcome{}
	}
	key := eventType
	r, ok := s.rules[key]
	if !ok {
		key = inlet.SchemaAnyType
		if r, ok = s.rules[key]; !ok {
			return Outcome{}
		}
	}
	out := Outcome{Key: key, Mode: r.mode}
	if properties != nil {
		var err error
		if doc, err = jsonpath.Decode(properties); err != nil {
			out.Failures = []Failure{{Keyword: "json", Message: "the properties are not JSON"}}
			return out
		}
	}
	err := r.schema.Validate(doc)
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		collect(ve, &out.Failures)
	} else if err != nil {
		out.Failures = []Failure{{Keyword: "schema", Message: err.Error()}}
	}
	return out
}

// collect appends the leaves of a validation error tree, the failures
// that say what is wrong, up to MaxFailures.
func collect(ve *jsonschema.ValidationError, into *[]Failure) {
	if len(*into) >= MaxFailures {
		return
	}
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			collect(c, into)
		}
		return
	}
	*into = append(*into, Failure{
		Path:    pointer(ve.InstanceLocation),
		Keyword: strings.Join(ve.ErrorKind.KeywordPath(), "/"),
		Message: message(ve.ErrorKind),
	})
}

// message describes the kinds whose detail comes from the schema or from
// the event's shape; for the others (pattern, enum, minimum, ...) the
// library's message would quote the event's value, so the keyword alone
// is said.
func message(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("want %s, got %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Required:
		return "missing " + strings.Join(k.Missing, ", ")
	case *kind.AdditionalProperties:
		return "not allowed: " + strings.Join(k.Properties, ", ")
	case *kind.FalseSchema:
		return "not allowed"
	}
	return ""
}

func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}
