// Package catalog learns what each sender sends: for every (source, event
// type) the events seen and the shape of their properties (see
// inlet.CatalogEntry). An Accumulator turns committed events into deltas; a
// Recorder feeds it off the request path and merges the deltas into the
// store now and then; InferSchema turns an entry into a JSON Schema.
package catalog

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"time"

	"inlet"
)

// Bounds of the shape read from one event.
const (
	// MaxDepth bounds the nesting followed; deeper values are counted as
	// the container that holds them.
	MaxDepth = 8
	// MaxElements bounds the elements of one array read for its summary.
	MaxElements = 32
	// maxEventPaths bounds the paths read from one event.
	maxEventPaths = 2 * inlet.MaxCatalogPaths
)

// Observed is what the catalog needs of a committed event.
type Observed struct {
	SourceID   string
	Type       string
	InsertedAt time.Time
	Properties json.RawMessage
}

// Accumulator sums the shapes of events into one delta per (source,
// type). It is not safe for concurrent use.
type Accumulator struct {
	deltas map[[2]string]*inlet.CatalogDelta
	seen   map[string]map[string]bool // per event: path -> types, reused
}

// NewAccumulator returns an empty Accumulator.
func NewAccumulator() *Accumulator {
	return &Accumulator{deltas: map[[2]string]*inlet.CatalogDelta{}, seen: map[string]map[string]bool{}}
}

// Len returns the number of (source, type) deltas held.
func (a *Accumulator) Len() int { return len(a.deltas) }

// Add adds one event. Properties that are not a JSON object count the
// event with no paths.
func (a *Accumulator) Add(e Observed) {
	k := [2]string{e.SourceID, e.Type}
	d := a.deltas[k]
	if d == nil {
		d = &inlet.CatalogDelta{SourceID: e.SourceID, Type: e.Type, FirstSeen: e.InsertedAt, LastSeen: e.InsertedAt, Paths: map[string]*inlet.PathDelta{}}
		a.deltas[k] = d
	}
	d.Count++
	if e.InsertedAt.Before(d.FirstSeen) {
		d.FirstSeen = e.InsertedAt
	}
	if e.InsertedAt.After(d.LastSeen) {
		d.LastSeen = e.InsertedAt
	}
	clear(a.seen)
	Shape(e.Properties, func(path, typ string) {
		types := a.seen[path]
		if types == nil {
			types = map[string]bool{}
			a.seen[path] = types
		}
		types[typ] = true
	})
	for path, types := range a.seen {
		pd := d.Paths[path]
		if pd == nil {
			pd = &inlet.PathDelta{Types: map[string]int64{}, FirstSeen: e.InsertedAt}
			d.Paths[path] = pd
		}
		pd.Count++
		for t := range types {
			pd.Types[t]++
		}
		if e.InsertedAt.Before(pd.FirstSeen) {
			pd.FirstSeen = e.InsertedAt
		}
	}
}

// Take returns the deltas held, ordered by source and type, and empties
// the Accumulator.
func (a *Accumulator) Take() []*inlet.CatalogDelta {
	out := make([]*inlet.CatalogDelta, 0, len(a.deltas))
	for _, d := range a.deltas {
		out = append(out, d)
	}
	slices.SortFunc(out, func(x, y *inlet.CatalogDelta) int {
		if c := strings.Compare(x.SourceID, y.SourceID); c != 0 {
			return c
		}
		return strings.Compare(x.Type, y.Type)
	})
	clear(a.deltas)
	return out
}

// Shape calls fn for every property path of a JSON object and the JSON
// type it holds: members as a.b, array elements as a[] (the first
// MaxElements), to MaxDepth levels and at most 1024 paths. Types are
// object, array, string, integer, number, boolean and null.
func Shape(props json.RawMessage, fn func(path, typ string)) {
	dec := json.NewDecoder(bytes.NewReader(props))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return
	}
	w := walker{dec: dec, fn: fn}
	w.object("", 1)
}

type walker struct {
	dec   *json.Decoder
	fn    func(path, typ string)
	paths int
	err   error
}

func (w *walker) emit(path, typ string) {
	if w.paths < maxEventPaths {
		w.paths++
		w.fn(path, typ)
	}
}

// object reads the members of an object whose '{' was read, up to its '}'.
func (w *walker) object(prefix string, depth int) {
	for w.err == nil && w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			w.err = err
			return
		}
		key, _ := tok.(string)
		path := key
		if prefix != "" {
			path = prefix + "." + key
		}
		w.value(path, depth)
	}
	w.end()
}

// array reads the elements of an array whose '[' was read, up to its ']'.
func (w *walker) array(path string, depth int) {
	for i := 0; w.err == nil && w.dec.More(); i++ {
		if i >= MaxElements {
			w.skip()
			continue
		}
		w.value(path+"[]", depth)
	}
	w.end()
}

func (w *walker) value(path string, depth int) {
	tok, err := w.dec.Token()
	if err != nil {
		w.err = err
		return
	}
	switch v := tok.(type) {
	case json.Delim:
		typ := "object"
		if v == '[' {
			typ = "array"
		}
		w.emit(path, typ)
		switch {
		case depth >= MaxDepth:
			w.skipRest()
		case v == '{':
			w.object(path, depth+1)
		default:
			w.array(path, depth+1)
		}
	case string:
		w.emit(path, "string")
	case json.Number:
		if strings.ContainsAny(string(v), ".eE") {
			w.emit(path, "number")
		} else {
			w.emit(path, "integer")
		}
	case bool:
		w.emit(path, "boolean")
	case nil:
		w.emit(path, "null")
	}
}

// skip reads one value without emitting it.
func (w *walker) skip() {
	tok, err := w.dec.Token()
	if err != nil {
		w.err = err
		return
	}
	if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
		w.skipRest()
	}
}

// skipRest reads to the end of a container whose opening was read (an
// object's keys come as string tokens, skipped like values).
func (w *walker) skipRest() {
	for w.err == nil && w.dec.More() {
		w.skip()
	}
	w.end()
}

func (w *walker) end() {
	if w.err != nil {
		return
	}
	if _, err := w.dec.Token(); err != nil && err != io.EOF {
		w.err = err
	}
}
