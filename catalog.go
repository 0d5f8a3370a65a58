package inlet

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"
)

// Bounds of the schema catalog.
const (
	// MaxCatalogPaths bounds the property paths kept per (source, type);
	// paths beyond it are not recorded and the entry says so.
	MaxCatalogPaths = 512
	// DriftAfterEvents is how many events of a type must have been seen
	// before a path that appears for the first time counts as drift.
	DriftAfterEvents = 20
)

// CatalogEntry is what the catalog has learnt of one event type of one
// source: how often it came, and the paths and types of its properties.
type CatalogEntry struct {
	SourceID  string    `json:"source_id"`
	Type      string    `json:"type"`
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// DriftSince is when the first drift of any path started; zero when
	// no path has drifted.
	DriftSince time.Time `json:"drift_since"`
	// Truncated tells that paths were left out over MaxCatalogPaths.
	Truncated bool `json:"truncated,omitempty"`
	// Paths are ordered by path.
	Paths []CatalogPath `json:"paths"`
}

// CatalogPath is one property path of an event type, such as
// customer.email or items[].sku (an array's elements are summarised under
// "[]").
type CatalogPath struct {
	Path string `json:"path"`
	// Types counts the events in which the path held each JSON type
	// (object, array, string, number, integer, boolean, null).
	Types map[string]int64 `json:"types"`
	// Count is the number of events that had the path.
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	// DriftSince is when the path appeared late (after DriftAfterEvents
	// events of its type without it) or took a second non-null type.
	DriftSince time.Time `json:"drift_since"`
}

// Presence is the share of the type's events that had the path.
func (p *CatalogPath) Presence(entry *CatalogEntry) float64 {
	if entry.Count == 0 {
		return 0
	}
	return float64(p.Count) / float64(entry.Count)
}

// MarshalJSON writes times in the API's format, a zero drift as null, and
// each path's presence ratio.
func (e *CatalogEntry) MarshalJSON() ([]byte, error) {
	type path struct {
		Path       string           `json:"path"`
		Types      map[string]int64 `json:"types"`
		Count      int64            `json:"count"`
		Presence   float64          `json:"presence"`
		FirstSeen  string           `json:"first_seen"`
		Drift      bool             `json:"drift"`
		DriftSince *string          `json:"drift_since"`
	}
	paths := make([]path, len(e.Paths))
	for i := range e.Paths {
		p := &e.Paths[i]
		paths[i] = path{p.Path, p.Types, p.Count, p.Presence(e), FormatTime(p.FirstSeen), !p.DriftSince.IsZero(), optionalTime(p.DriftSince)}
	}
	return json.Marshal(struct {
		SourceID   string  `json:"source_id"`
		Type       string  `json:"type"`
		Count      int64   `json:"count"`
		FirstSeen  string  `json:"first_seen"`
		LastSeen   string  `json:"last_seen"`
		Drift      bool    `json:"drift"`
		DriftSince *string `json:"drift_since"`
		Truncated  bool    `json:"truncated,omitempty"`
		Paths      []path  `json:"paths"`
	}{e.SourceID, e.Type, e.Count, FormatTime(e.FirstSeen), FormatTime(e.LastSeen), !e.DriftSince.IsZero(), optionalTime(e.DriftSince), e.Truncated, paths})
}

func optionalTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := FormatTime(t)
	return &s
}

// CatalogDelta is what a batch of committed events adds to one entry: the
// events counted, the span of their times, and per path the types seen
// (counted once per event) and when the path was first seen in the batch.
type CatalogDelta struct {
	SourceID  string
	Type      string
	Count     int64
	FirstSeen time.Time
	LastSeen  time.Time
	Paths     map[string]*PathDelta
}

// PathDelta is one path's part of a CatalogDelta.
type PathDelta struct {
	Types     map[string]int64
	Count     int64
	FirstSeen time.Time
}

// MergeCatalog adds d to e (nil for an entry not seen before) and returns
// the entry to store, flagging drift: a path new to an entry that had
// already seen DriftAfterEvents events, or a path taking a non-null type
// while it had another. Both stores merge with this one rule.
func MergeCatalog(e *CatalogEntry, d *CatalogDelta) *CatalogEntry {
	var out CatalogEntry
	if e != nil {
		out = *e
		out.Paths = slices.Clone(e.Paths)
	} else {
		out = CatalogEntry{SourceID: d.SourceID, Type: d.Type, FirstSeen: d.FirstSeen}
	}
	before := out.Count
	out.Count += d.Count
	if d.FirstSeen.Before(out.FirstSeen) {
		out.FirstSeen = d.FirstSeen
	}
	if d.LastSeen.After(out.LastSeen) {
		out.LastSeen = d.LastSeen
	}
	index := make(map[string]int, len(out.Paths))
	for i, p := range out.Paths {
		index[p.Path] = i
	}
	for _, name := range slices.Sorted(maps.Keys(d.Paths)) {
		pd := d.Paths[name]
		i, ok := index[name]
		if !ok {
			if len(out.Paths) >= MaxCatalogPaths {
				out.Truncated = true
				continue
			}
			p := CatalogPath{Path: name, Types: map[string]int64{}, FirstSeen: pd.FirstSeen}
			if before >= DriftAfterEvents {
				p.DriftSince = pd.FirstSeen
			}
			out.Paths = append(out.Paths, p)
			i = len(out.Paths) - 1
			index[name] = i
		}
		p := &out.Paths[i]
		p.Types = maps.Clone(p.Types)
		if p.Types == nil {
			p.Types = map[string]int64{}
		}
		if ok && p.DriftSince.IsZero() && hasNewType(p.Types, pd.Types) {
			p.DriftSince = pd.FirstSeen
		}
		for t, n := range pd.Types {
			p.Types[t] += n
		}
		p.Count += pd.Count
		if pd.FirstSeen.Before(p.FirstSeen) {
			p.FirstSeen = pd.FirstSeen
		}
	}
	slices.SortFunc(out.Paths, func(a, b CatalogPath) int { return strings.Compare(a.Path, b.Path) })
	out.DriftSince = time.Time{}
	for _, p := range out.Paths {
		if !p.DriftSince.IsZero() && (out.DriftSince.IsZero() || p.DriftSince.Before(out.DriftSince)) {
			out.DriftSince = p.DriftSince
		}
	}
	return &out
}

// hasNewType reports whether added holds a non-null type that seen lacks,
// while seen already had a non-null type. "integer" and "number" are one
// kind here: a number that is sometimes whole is not drift.
func hasNewType(seen, added map[string]int64) bool {
	kinds := func(m map[string]int64) map[string]bool {
		k := map[string]bool{}
		for t := range m {
			switch t {
			case "null":
			case "integer":
				k["number"] = true
			default:
				k[t] = true
			}
		}
		return k
	}
	had, now := kinds(seen), kinds(added)
	if len(had) == 0 {
		return false
	}
	for t := range now {
		if !had[t] {
			return true
		}
	}
	return false
}

// CatalogFilter selects catalog entries; zero fields do not filter.
type CatalogFilter struct {
	SourceID string
	Type     string
}

// CatalogStore keeps the schema catalog.
type CatalogStore interface {
	// MergeCatalog adds each delta to its entry with MergeCatalog, in one
	// transaction. Returns EUNAVAILABLE when the store cannot write.
	MergeCatalog(ctx context.Context, deltas []*CatalogDelta) error

	// ListCatalog returns the entries matching f, ordered by source and
	// type, without their paths' detail beyond what the entry holds.
	ListCatalog(ctx context.Context, f CatalogFilter) ([]*CatalogEntry, error)

	// FindCatalog returns one entry. Returns ENOTFOUND.
	FindCatalog(ctx context.Context, sourceID, eventType string) (*CatalogEntry, error)
}

// CatalogTx is what merging catalog deltas needs from a store, inside one
// transaction. Stores serialise merges of one entry (one writer, or a row
// lock taken by LoadCatalog), so that no merge is lost.
type CatalogTx interface {
	// LoadCatalog returns the stored entry, locked until the commit, or
	// nil when there is none.
	LoadCatalog(ctx context.Context, sourceID, eventType string) (*CatalogEntry, error)
	// SaveCatalog writes an entry, replacing the stored one.
	SaveCatalog(ctx context.Context, e *CatalogEntry) error
}

// MergeCatalogTx merges each delta into its entry with MergeCatalog: the
// one merge of every store, which supplies the reads and writes.
func MergeCatalogTx(ctx context.Context, tx CatalogTx, deltas []*CatalogDelta) error {
	for _, d := range deltas {
		old, err := tx.LoadCatalog(ctx, d.SourceID, d.Type)
		if err != nil {
			return err
		}
		if err := tx.SaveCatalog(ctx, MergeCatalog(old, d)); err != nil {
			return err
		}
	}
	return nil
}

// FindCatalogEntry returns the one entry of a source and event type that
// s lists, for stores whose FindCatalog is a ListCatalog of one. Returns
// ENOTFOUND.
func FindCatalogEntry(ctx context.Context, s CatalogStore, sourceID, eventType string) (*CatalogEntry, error) {
	entries, err := s.ListCatalog(ctx, CatalogFilter{SourceID: sourceID, Type: eventType})
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, Errorf(ENOTFOUND, "the catalog has no %q events of source %q", eventType, sourceID)
	}
	return entries[0], nil
}
