package console

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"inlet"
	"inlet/catalog"
)

// catalogType is one event type of the catalog page.
type catalogType struct {
	*inlet.CatalogEntry
	Paths  []catalogPath
	Schema string
}

// catalogPath is one path of a type, as the page shows it.
type catalogPath struct {
	Path       string
	Types      string
	Presence   string
	FirstSeen  time.Time
	DriftSince time.Time
}

func (c *Console) handleCatalog(w http.ResponseWriter, r *http.Request, v *viewer) {
	sources, err := c.cfg.Store.ListSources(r.Context())
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	source, err := v.source(r.URL.Query().Get("source"))
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	entries, err := c.cfg.Store.ListCatalog(r.Context(), inlet.CatalogFilter{SourceID: source})
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	types := make([]catalogType, len(entries))
	drifted := 0
	for i, e := range entries {
		t := catalogType{CatalogEntry: e, Schema: prettyJSON(catalog.InferSchema(e))}
		for j := range e.Paths {
			p := &e.Paths[j]
			t.Paths = append(t.Paths, catalogPath{Path: p.Path, Types: typeCounts(p.Types),
				Presence: fmt.Sprintf("%.0f%%", 100*p.Presence(e)), FirstSeen: p.FirstSeen, DriftSince: p.DriftSince})
		}
		if !e.DriftSince.IsZero() {
			drifted++
		}
		types[i] = t
	}
	// Drifted types first, then by source and type.
	sort.SliceStable(types, func(i, j int) bool {
		return !types[i].DriftSince.IsZero() && types[j].DriftSince.IsZero()
	})
	c.render(w, r, v, http.StatusOK, "catalog", "Catalog", map[string]any{
		"Sources": v.visible(sources), "Source": source, "Types": types, "Drifted": drifted,
	})
}

// typeCounts writes the JSON types a path held, most seen first:
// "string 41, null 2".
func typeCounts(m map[string]int64) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if m[names[i]] != m[names[j]] {
			return m[names[i]] > m[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, m[n])
	}
	return strings.Join(parts, ", ")
}
