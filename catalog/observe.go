// Package catalog learns what each sender sends: for every (source, event
// type) the events seen and the paths and types of their properties (see
// inlet.CatalogEntry). An Accumulator turns committed events into deltas; a
// Recorder feeds it off the request path and merges the deltas into the
// store now and then; InferSchema turns an entry into a JSON Schema.
package catalog

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"inlet"
	"inlet/jsonlimit"
)

// Bounds of the paths read from one event.
const (
	// MaxDepth bounds the nesting followed; deeper values are counted as
	// the container that holds them.
	MaxDepth = jsonlimit.CatalogDepth
	// MaxElements bounds the elements of one array read for its summary.
	MaxElements = 32
	// maxEventPaths bounds the paths read from one event.
	maxEventPaths = 2 * inlet.MaxCatalogPaths
)

// The JSON types a path can hold, in the order of their counters.
var jsonTypes = [...]string{"object", "array", "string", "integer", "number", "boolean", "null"}

const (
	tObject = iota
	tArray
	tString
	tInteger
	tNumber
	tBoolean
	tNull
)

// Observed is what the catalog needs of a committed event.
type Observed struct {
	SourceID   string
	Type       string
	InsertedAt time.Time
	Properties json.RawMessage
}

// Accumulator sums the paths of events into one delta per (source,
// type). It is not safe for concurrent use.
type Accumulator struct {
	deltas map[[2]string]*delta
	seq    uint64 // the event being added, so that a path counts once per event
}

type delta struct {
	count       int64
	first, last time.Time
	paths       map[string]*pathDelta
}

type pathDelta struct {
	types     [len(jsonTypes)]int64
	count     int64
	first     time.Time
	lastEvent uint64
	lastTypes uint8 // the types already counted for lastEvent
}

// NewAccumulator returns an empty Accumulator.
func NewAccumulator() *Accumulator {
	return &Accumulator{deltas: map[[2]string]*delta{}}
}

// Len returns the number of (source, type) deltas held.
func (a *Accumulator) Len() int { return len(a.deltas) }

// Add adds one event. Properties that are not a JSON object count the
// event with no paths.
func (a *Accumulator) Add(e Observed) {
	k := [2]string{e.SourceID, e.Type}
	d := a.deltas[k]
	if d == nil {
		d = &delta{first: e.InsertedAt, last: e.InsertedAt, paths: map[string]*pathDelta{}}
		a.deltas[k] = d
	}
	d.count++
	if e.InsertedAt.Before(d.first) {
		d.first = e.InsertedAt
	}
	if e.InsertedAt.After(d.last) {
		d.last = e.InsertedAt
	}
	a.seq++
	seq := a.seq
	paths(e.Properties, func(path []byte, typ int) {
		p := d.paths[string(path)]
		if p == nil {
			if len(d.paths) >= maxEventPaths {
				return // the merge keeps MaxCatalogPaths of them at most
			}
			p = &pathDelta{first: e.InsertedAt}
			d.paths[string(path)] = p
		}
		if p.lastEvent != seq {
			p.lastEvent, p.lastTypes = seq, 0
			p.count++
		}
		if bit := uint8(1) << typ; p.lastTypes&bit == 0 {
			p.lastTypes |= bit
			p.types[typ]++
		}
		if e.InsertedAt.Before(p.first) {
			p.first = e.InsertedAt
		}
	})
}

// Take returns the deltas held, ordered by source and type, and empties
// the Accumulator.
func (a *Accumulator) Take() []*inlet.CatalogDelta {
	out := make([]*inlet.CatalogDelta, 0, len(a.deltas))
	for k, d := range a.deltas {
		cd := &inlet.CatalogDelta{SourceID: k[0], Type: k[1], Count: d.count, FirstSeen: d.first, LastSeen: d.last, Paths: make(map[string]*inlet.PathDelta, len(d.paths))}
		for path, p := range d.paths {
			pd := &inlet.PathDelta{Types: map[string]int64{}, Count: p.count, FirstSeen: p.first}
			for t, n := range p.types {
				if n > 0 {
					pd.Types[jsonTypes[t]] = n
				}
			}
			cd.Paths[path] = pd
		}
		out = append(out, cd)
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

// Paths calls fn for every property path of a JSON object and the JSON
// type it holds: members as a.b, array elements as a[] (the first
// MaxElements), to MaxDepth levels and at most 1024 paths. Types are
// object, array, string, integer, number, boolean and null. It is one of
// three scanners of event JSON; package jsonlimit says why, and holds
// MaxDepth.
func Paths(props json.RawMessage, fn func(path, typ string)) {
	paths(props, func(path []byte, typ int) { fn(string(path), jsonTypes[typ]) })
}

// paths is Paths over a byte scanner that allocates nothing of its own:
// path is valid only during the call. It stops at the first byte that is
// not JSON, having reported what came before.
func paths(props []byte, fn func(path []byte, typ int)) {
	s := scanner{data: props, fn: fn}
	s.space()
	if s.i >= len(s.data) || s.data[s.i] != '{' {
		return
	}
	s.object(1)
}

type scanner struct {
	data  []byte
	i     int
	path  []byte
	fn    func(path []byte, typ int)
	paths int
	bad   bool
}

func (s *scanner) emit(typ int) {
	if s.paths < maxEventPaths {
		s.paths++
		s.fn(s.path, typ)
	}
}

func (s *scanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// object reads an object at '{', its members emitted under the path.
func (s *scanner) object(depth int) {
	s.i++ // '{'
	base := len(s.path)
	for !s.bad {
		s.space()
		if s.i >= len(s.data) {
			s.bad = true
			return
		}
		switch s.data[s.i] {
		case '}':
			s.i++
			return
		case ',':
			s.i++
			continue
		case '"':
		default:
			s.bad = true
			return
		}
		key, ok := s.str()
		if !ok {
			return
		}
		s.space()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			s.bad = true
			return
		}
		s.i++
		if depth > 1 { // members of the root have no prefix
			s.path = append(s.path, '.')
		}
		s.path = append(s.path, key...)
		s.value(depth, true)
		s.path = s.path[:base]
	}
}

// array reads an array at '[', its first MaxElements elements emitted
// under path[].
func (s *scanner) array(depth int) {
	s.i++ // '['
	base := len(s.path)
	s.path = append(s.path, "[]"...)
	for n := 0; !s.bad; {
		s.space()
		if s.i >= len(s.data) {
			s.bad = true
			break
		}
		if c := s.data[s.i]; c == ']' {
			s.i++
			break
		} else if c == ',' {
			s.i++
			continue
		}
		s.value(depth, n < MaxElements)
		n++
	}
	s.path = s.path[:base]
}

// value reads one value, emitting its type when emit is set and following
// its members up to MaxDepth.
func (s *scanner) value(depth int, emit bool) {
	s.space()
	if s.i >= len(s.data) {
		s.bad = true
		return
	}
	switch c := s.data[s.i]; {
	case c == '{' || c == '[':
		if emit && c == '{' {
			s.emit(tObject)
		} else if emit {
			s.emit(tArray)
		}
		switch {
		case !emit || depth >= MaxDepth:
			s.skipContainer()
		case c == '{':
			s.object(depth + 1)
		default:
			s.array(depth + 1)
		}
	case c == '"':
		if _, ok := s.str(); ok && emit {
			s.emit(tString)
		}
	case c == 't' || c == 'f':
		s.literal()
		if emit {
			s.emit(tBoolean)
		}
	case c == 'n':
		s.literal()
		if emit {
			s.emit(tNull)
		}
	default:
		typ := tInteger
		start := s.i
		for s.i < len(s.data) && strings.IndexByte("+-0123456789.eE", s.data[s.i]) >= 0 {
			if b := s.data[s.i]; b == '.' || b == 'e' || b == 'E' {
				typ = tNumber
			}
			s.i++
		}
		if s.i == start {
			s.bad = true
			return
		}
		if emit {
			s.emit(typ)
		}
	}
}

func (s *scanner) literal() {
	for s.i < len(s.data) && s.data[s.i] >= 'a' && s.data[s.i] <= 'z' {
		s.i++
	}
}

// str reads a string at '"' and returns its text: the bytes themselves
// when there is no escape, else the text as encoding/json reads it
// (escapes undone, invalid UTF-8 replaced).
func (s *scanner) str() ([]byte, bool) {
	start := s.i + 1
	escaped := false
	for j := start; j < len(s.data); j++ {
		switch s.data[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			s.i = j + 1
			if !escaped && utf8.Valid(s.data[start:j]) {
				return s.data[start:j], true
			}
			var text string
			if err := json.Unmarshal(s.data[start-1:j+1], &text); err != nil {
				s.bad = true
				return nil, false
			}
			return []byte(text), true
		}
	}
	s.bad = true
	return nil, false
}

// skipContainer skips an object or array at its opening byte.
func (s *scanner) skipContainer() {
	level := 0
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case '{', '[':
			level++
		case '}', ']':
			level--
			if level == 0 {
				s.i++
				return
			}
		case '"':
			if _, ok := s.str(); !ok {
				return
			}
			continue
		}
		s.i++
	}
	s.bad = true
}
