// Package transform reshapes events with a source's CEL expressions
// (cel.dev/cel-go): drop (a bool), type (a string) and properties (a map
// that replaces the properties). Expressions are compiled once, when the
// source is saved, and each evaluation is bounded in cost and in time.
//
// The variables an expression sees:
//   - properties: the event's properties, a map
//   - headers: the request headers kept with the event, lower-case names,
//     several values joined with ", " (secrets are never there)
//   - query: the query parameters kept, a string or a list of strings each
//   - source: {"id": ..., "name": ...}
//   - type: the event type from the URL or the source's preset
//
// CEL's string extensions and optional values are on, so that a key that
// may be missing reads as properties.?customer.email.orValue("").
package transform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"

	"inlet"
	"inlet/jsonpath"
)

// Bounds of one evaluation of one expression.
const (
	// CostLimit bounds the work of an expression (CEL's cost units, about
	// one per operation and per element visited): room for a few
	// operations on each of thousands of elements.
	CostLimit = 100_000
	// Timeout bounds the wall time of an event's expressions together,
	// checked every interruptEvery steps of a comprehension.
	Timeout        = 50 * time.Millisecond
	interruptEvery = 100
)

// ReasonFailed is the reason code of an expression that failed on an event.
const ReasonFailed = "transform_failed"

// Input is what an expression sees of an event.
type Input struct {
	Properties json.RawMessage
	Headers    map[string]string // as stored with the event; names are lower-cased here
	Query      map[string]any    // a string, or a []string for a repeated parameter
	SourceID   string
	SourceName string
	Type       string
}

// Result is what the expressions made of an event.
type Result struct {
	// Drop is true when the event is not to be stored.
	Drop bool
	// Type is the event type, the input's when there is no type expression.
	Type string
	// Properties are the new properties, or nil when unchanged.
	Properties json.RawMessage
}

// Program is a source's compiled transform; it is safe for concurrent use.
type Program struct {
	drop, typ, props *expr
	reject           bool
	loops            bool          // one of the expressions has a comprehension
	timeout          time.Duration // Timeout; tests lengthen it
}

// expr is one compiled expression. Only an expression with a
// comprehension (map, filter, all, exists...) can loop; it alone is
// evaluated under the time bound, whose context costs more than the
// evaluation of a simple expression, which the cost limit bounds.
type expr struct {
	prg   cel.Program
	loops bool
}

var env = newEnv()

func newEnv() *cel.Env {
	e, err := cel.NewEnv(
		cel.Variable("properties", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("headers", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("query", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("source", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("type", cel.StringType),
		ext.Strings(),
		cel.OptionalTypes(),
	)
	if err != nil {
		panic("transform: the CEL environment does not build: " + err.Error())
	}
	return e
}

// Compile compiles cfg's expressions. A nil cfg compiles to a nil Program,
// which changes nothing. An expression that does not compile, or whose type
// cannot be what its field needs, is an EINVALID error naming the field
// (config.transform.properties) with CEL's message.
func Compile(cfg *inlet.TransformConfig) (*Program, error) {
	if cfg == nil {
		return nil, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Program{reject: cfg.OnError == inlet.OnErrorReject, timeout: Timeout}
	var err error
	if p.drop, err = compile("drop", cfg.Drop, cel.BoolType); err != nil {
		return nil, err
	}
	if p.typ, err = compile("type", cfg.Type, cel.StringType); err != nil {
		return nil, err
	}
	if p.props, err = compile("properties", cfg.Properties, cel.MapType(cel.StringType, cel.DynType)); err != nil {
		return nil, err
	}
	for _, e := range []*expr{p.drop, p.typ, p.props} {
		p.loops = p.loops || e != nil && e.loops
	}
	return p, nil
}

func compile(field, source string, want *cel.Type) (*expr, error) {
	if strings.TrimSpace(source) == "" {
		return nil, nil
	}
	ast, iss := env.Compile(source)
	if iss.Err() != nil {
		return nil, inlet.Errorf(inlet.EINVALID, "config.transform.%s: %s", field, iss.Err())
	}
	out := ast.OutputType()
	if !out.IsAssignableType(want) && !out.IsExactType(cel.DynType) {
		return nil, inlet.Errorf(inlet.EINVALID, "config.transform.%s must give a %s, and this expression gives a %s", field, want, out)
	}
	prg, err := env.Program(ast, cel.CostLimit(CostLimit), cel.InterruptCheckFrequency(interruptEvery))
	if err != nil {
		return nil, inlet.Errorf(inlet.EINVALID, "config.transform.%s: %s", field, err)
	}
	loops := false
	celast.PostOrderVisit(ast.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		loops = loops || e.Kind() == celast.ComprehensionKind
	}))
	return &expr{prg: prg, loops: loops}, nil
}

// RejectOnError reports whether a failed expression refuses the request
// (on_error "reject") rather than keeping the event unchanged.
func (p *Program) RejectOnError() bool { return p != nil && p.reject }

// Run evaluates the expressions on one event: drop first (a dropped event
// is not evaluated further), then type, then properties, each seeing the
// input as it came. An expression that fails, runs over its cost or time,
// or gives a value of the wrong kind is an EINVALID error with reason
// ReasonFailed naming the field; the Result is then to be ignored.
func (p *Program) Run(ctx context.Context, in Input) (Result, error) {
	res := Result{Type: in.Type}
	if p == nil {
		return res, nil
	}
	vars, err := variables(in)
	if err != nil {
		return res, failed("properties", err)
	}
	if p.loops {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	if p.drop != nil {
		v, err := eval(ctx, p.drop, vars)
		if err != nil {
			return res, failed("drop", err)
		}
		b, ok := v.Value().(bool)
		if !ok {
			return res, failed("drop", fmt.Errorf("gave %s, not a bool", v.Type()))
		}
		if res.Drop = b; b {
			return res, nil
		}
	}
	if p.typ != nil {
		v, err := eval(ctx, p.typ, vars)
		if err != nil {
			return res, failed("type", err)
		}
		s, ok := v.Value().(string)
		if !ok {
			return res, failed("type", fmt.Errorf("gave %s, not a string", v.Type()))
		}
		t, err := inlet.NormalizeEventType(s)
		if err != nil {
			return res, failed("type", errors.New(inlet.ErrorMessage(err)))
		}
		res.Type = t
	}
	if p.props != nil {
		v, err := eval(ctx, p.props, vars)
		if err != nil {
			return res, failed("properties", err)
		}
		b, err := toJSON(v)
		if err != nil {
			return res, failed("properties", err)
		} else if len(b) == 0 || b[0] != '{' {
			return res, failed("properties", fmt.Errorf("gave %s, not a map", v.Type()))
		}
		res.Properties = b
	}
	return res, nil
}

func failed(field string, err error) error {
	return inlet.Reasonf(inlet.EINVALID, ReasonFailed, "config.transform.%s failed on this event: %s", field, err)
}

func eval(ctx context.Context, e *expr, vars map[string]any) (ref.Val, error) {
	var v ref.Val
	var err error
	if e.loops {
		v, _, err = e.prg.ContextEval(ctx, vars)
	} else if err = ctx.Err(); err == nil {
		v, _, err = e.prg.Eval(vars)
	}
	if err != nil {
		return nil, err
	}
	if types.IsError(v) {
		return nil, fmt.Errorf("%v", v)
	}
	return v, nil
}

func variables(in Input) (map[string]any, error) {
	props := map[string]any{}
	if len(in.Properties) > 0 {
		v, err := jsonpath.DecodeFloats(in.Properties)
		if err != nil {
			return nil, err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errors.New("the properties are not a JSON object")
		}
		props = m
	}
	headers := make(map[string]string, len(in.Headers))
	for k, v := range in.Headers {
		headers[strings.ToLower(k)] = v
	}
	query := in.Query
	if query == nil {
		query = map[string]any{}
	}
	return map[string]any{
		"properties": props,
		"headers":    headers,
		"query":      query,
		"source":     map[string]string{"id": in.SourceID, "name": in.SourceName},
		"type":       in.Type,
	}, nil
}

// toJSON turns a CEL value into JSON.
func toJSON(v ref.Val) ([]byte, error) {
	native, err := toNative(v, 0)
	if err != nil {
		return nil, err
	}
	return json.Marshal(native)
}

// toNative turns a CEL value into the Go value encoding/json writes as
// CEL's JSON form of it: maps with string keys, lists, strings, numbers,
// booleans, null; bytes as base64, timestamps and durations as strings.
func toNative(v ref.Val, depth int) (any, error) {
	if depth > 64 {
		return nil, errors.New("the result is nested deeper than 64 levels")
	}
	switch x := v.(type) {
	case traits.Mapper:
		out := map[string]any{}
		for it := x.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			ks, ok := k.Value().(string)
			if !ok {
				return nil, fmt.Errorf("a map key is %s, not a string", k.Type())
			}
			mv, err := toNative(x.Get(k), depth+1)
			if err != nil {
				return nil, err
			}
			out[ks] = mv
		}
		return out, nil
	case traits.Lister:
		n, _ := x.Size().Value().(int64)
		out := make([]any, n)
		for i := range n {
			ev, err := toNative(x.Get(types.Int(i)), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = ev
		}
		return out, nil
	case types.Null:
		return nil, nil
	case types.Bool, types.Int, types.Uint, types.String, types.Bytes:
		return x.Value(), nil
	case types.Double:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("a number is %v, which JSON cannot hold", f)
		}
		return f, nil
	case types.Timestamp, types.Duration:
		return x.ConvertToType(types.StringType).Value(), nil
	}
	if types.IsError(v) {
		return nil, fmt.Errorf("%v", v)
	}
	return nil, fmt.Errorf("a value of type %s has no JSON form", v.Type())
}
