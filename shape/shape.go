// Package shape holds what a source's configuration compiles to for
// shaping its events (the CEL transform and the JSON Schemas), compiled
// once per version of the source, and applies it to one event: transform,
// then validate. "Shape" means this compiled program and nothing else: the
// configuration it compiles from is inlet.TransformConfig and
// inlet.SchemaRule, and what the catalog learns of events is their paths.
package shape

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"inlet"
	"inlet/schema"
	"inlet/transform"
)

// Program is a source's compiled transform and schemas; nil shapes
// nothing. It is safe for concurrent use.
type Program struct {
	transform *transform.Program
	schemas   *schema.Set
}

// Compile compiles a source configuration's transform and schemas. It
// returns nil when there is neither, and an EINVALID error naming the
// field (config.transform.<field>, config.schemas.<type>.schema) when one
// does not compile: call it when a source is saved.
func Compile(cfg *inlet.SourceConfig) (*Program, error) {
	t, err := transform.Compile(cfg.Transform)
	if err != nil {
		return nil, err
	}
	s, err := schema.Compile(cfg.Schemas)
	if err != nil {
		return nil, err
	}
	if t == nil && s == nil {
		return nil, nil
	}
	return &Program{transform: t, schemas: s}, nil
}

// Input is an event as the preset and the URL shaped it.
type Input = transform.Input

// Result is an event after its source's transform and validation.
type Result struct {
	// Drop is true when the transform dropped the event: nothing is stored.
	Drop bool
	// Type and Properties are the event's, changed or not.
	Type       string
	Properties json.RawMessage
	// Warnings say where the transform failed and the event was kept as it
	// came, and how it failed a flag schema.
	Warnings []string
}

// Apply transforms one event, then validates its properties against the
// schema of its (new) type. It returns an EINVALID error when the request
// is to be refused: the transform failed with on_error "reject", or the
// event failed a reject schema.
func (p *Program) Apply(ctx context.Context, in Input) (Result, error) {
	res, err := p.Transform(ctx, in)
	if err != nil || res.Drop {
		return res, err
	}
	warnings, err := p.Validate(res.Type, res.Properties, nil)
	res.Warnings = append(res.Warnings, warnings...)
	return res, err
}

// Transform is the first half of Apply: the transform alone.
func (p *Program) Transform(ctx context.Context, in Input) (Result, error) {
	res := Result{Type: in.Type, Properties: in.Properties}
	if p != nil && p.transform != nil {
		out, err := p.transform.Run(ctx, in)
		switch {
		case err != nil && p.transform.RejectOnError():
			return res, err
		case err != nil:
			res.Warnings = append(res.Warnings, inlet.ErrorMessage(err)+"; the event was kept as it came")
		case out.Drop:
			res.Drop = true
			return res, nil
		default:
			res.Type = out.Type
			if out.Properties != nil {
				res.Properties = out.Properties
			}
		}
	}
	return res, nil
}

// Validate is the second half of Apply: it validates properties against
// the schema of eventType, and returns the warnings of a flag schema or
// the error of a reject schema. doc, when not nil, is properties decoded
// already (see schema.Set.ValidateDecoded).
func (p *Program) Validate(eventType string, properties []byte, doc any) ([]string, error) {
	if p == nil || p.schemas == nil {
		return nil, nil
	}
	var o schema.Outcome
	if doc != nil {
		o = p.schemas.ValidateDecoded(eventType, doc)
	} else {
		o = p.schemas.Validate(eventType, properties)
	}
	if err := o.Err(eventType); err != nil {
		return nil, err
	}
	return o.Warnings(), nil
}

// Cache keeps each source's compiled Program for as long as the source
// keeps its version (its UpdatedAt), so that requests never compile.
type Cache struct {
	mu      sync.RWMutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	version time.Time
	program *Program
	err     error
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{entries: map[string]cacheEntry{}}
}

// Program returns the compiled Program of a source, compiling it when the
// source is new to the cache or changed since. A source stored before a
// check that its configuration now fails keeps failing with that error.
func (c *Cache) Program(s *inlet.Source) (*Program, error) {
	if s.Config.Transform == nil && len(s.Config.Schemas) == 0 {
		return nil, nil
	}
	c.mu.RLock()
	e, ok := c.entries[s.ID]
	c.mu.RUnlock()
	if ok && e.version.Equal(s.UpdatedAt) {
		return e.program, e.err
	}
	p, err := Compile(&s.Config)
	c.mu.Lock()
	c.entries[s.ID] = cacheEntry{version: s.UpdatedAt, program: p, err: err}
	c.mu.Unlock()
	return p, err
}

// Forget drops a deleted source's entry.
func (c *Cache) Forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}
