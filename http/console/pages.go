package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"inlet"
)

// funcs are the helpers templates may call.
var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
	},
	"pretty": prettyJSON,
	"short": func(id string) string {
		if len(id) > 13 {
			return id[:8] + "…" + id[len(id)-4:]
		}
		return id
	},
	"ago": ago,
	"agoText": func(s string) template.HTML {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return template.HTML(template.HTMLEscapeString(s))
		}
		return ago(t)
	},
	"last": func(v any) int {
		if a, ok := v.([]inlet.Attempt); ok {
			return len(a) - 1
		}
		return 0
	},
	"seconds": func(s float64) string {
		if s <= 0 {
			return "-"
		}
		return strings.TrimSuffix(relative(time.Duration(s*float64(time.Second))), " ago")
	},
	"clip": func(raw json.RawMessage, n int) string {
		s := string(raw)
		if r := []rune(s); len(r) > n {
			return string(r[:n-1]) + "…"
		}
		return s
	},
	"rate": failureRate,
	"orDash": func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	},
}

// parsePages parses each page template with the layout.
func parsePages() map[string]*template.Template {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := make(map[string]*template.Template)
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n))
	}
	return pages
}

// prettyJSON indents JSON for reading; what does not parse is shown as is.
func prettyJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

func (c *Console) handleSession(w http.ResponseWriter, r *http.Request, v *viewer) {
	s, err := c.cfg.Store.FindSession(r.Context(), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	page, err := c.cfg.Store.ListEvents(r.Context(), inlet.EventFilter{SessionID: s.ID, Limit: 200})
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.render(w, r, v, http.StatusOK, "session", "Session "+s.ID, map[string]any{"Session": s, "Events": page.Items, "More": page.Next != nil})
}

func (c *Console) handleProfile(w http.ResponseWriter, r *http.Request, v *viewer) {
	p, err := c.cfg.Store.FindProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	page, err := c.cfg.Store.ListEvents(r.Context(), inlet.EventFilter{ProfileID: p.ID, Limit: 200})
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	type trait struct {
		Name  string
		Value string
	}
	traits := make([]trait, 0, len(p.Traits))
	for k, v := range p.Traits {
		traits = append(traits, trait{k, prettyJSON(v)})
	}
	sort.Slice(traits, func(i, j int) bool { return traits[i].Name < traits[j].Name })
	c.render(w, r, v, http.StatusOK, "profile", "Profile "+p.ID, map[string]any{
		"Profile": p, "Asked": r.PathValue("id"), "Traits": traits, "Events": page.Items, "More": page.Next != nil,
	})
}

func (c *Console) handleRejections(w http.ResponseWriter, r *http.Request, v *viewer) {
	if c.cfg.Rejections == nil {
		c.render(w, r, v, http.StatusOK, "rejections", "Rejections", map[string]any{"Disabled": true})
		return
	}
	q := r.URL.Query()
	f := inlet.RejectionFilter{SourceID: q.Get("source"), Reason: q.Get("reason"), Limit: 100}
	var err error
	if f.SourceID, err = v.source(f.SourceID); err != nil {
		c.fail(w, r, v, err)
		return
	}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 1 {
			c.renderError(w, r, v, http.StatusBadRequest, "before must be a rejection id, a positive number.")
			return
		}
		f.BeforeID = n
	}
	items, err := c.cfg.Rejections.ListRejections(r.Context(), f)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	// A refusal names the source of its URL, which for an unknown source
	// is whatever a stranger wrote: it is shown as the bucket it is
	// counted in.
	sources, err := c.cfg.Store.ListSources(r.Context())
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	known := make(map[string]bool, len(sources))
	for _, s := range sources {
		known[s.ID] = true
	}
	type row struct {
		*inlet.Rejection
		Source  string
		Body    string
		Headers []string
	}
	rows := make([]row, len(items))
	for i, rj := range items {
		rows[i] = row{Rejection: rj, Source: inlet.UnknownSourceBucket, Body: string(bytes.ToValidUTF8(rj.Body, []byte("�")))}
		if known[rj.SourceID] {
			rows[i].Source = rj.SourceID
		}
		for k, v := range rj.Headers {
			rows[i].Headers = append(rows[i].Headers, k+": "+v)
		}
		sort.Strings(rows[i].Headers)
	}
	var next int64
	if len(items) == f.PageLimit() {
		next = items[len(items)-1].ID
	}
	c.render(w, r, v, http.StatusOK, "rejections", "Rejections", map[string]any{"Rows": rows, "Filter": f, "Next": next})
}

// liveRecent is how many stored events the live page opens with: a
// screenful.
const liveRecent = 30

func (c *Console) handleLive(w http.ResponseWriter, r *http.Request, v *viewer) {
	sources, err := c.cfg.Store.ListSources(r.Context())
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	q := r.URL.Query()
	source, err := v.source(q.Get("source"))
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	data := map[string]any{"Sources": v.visible(sources), "Source": source, "Type": q.Get("type"), "Session": q.Get("session")}
	// The page opens with the latest events, newest first, before the
	// stream adds new ones above them.
	f := inlet.EventFilter{SourceID: source, SessionID: q.Get("session"), Limit: liveRecent}
	if t := q.Get("type"); t != "" {
		if f.Type, err = inlet.NormalizeEventType(t); err != nil {
			data["Error"] = "Type: " + inlet.ErrorMessage(err) + "."
			c.render(w, r, v, http.StatusBadRequest, "live", "Live", data)
			return
		}
	}
	page, err := c.cfg.Store.ListEvents(r.Context(), f)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	data["Recent"] = page.Items
	c.render(w, r, v, http.StatusOK, "live", "Live", data)
}

// failureRate shows a destination's failure rate over the last hour: "-"
// without attempts, a whole percent otherwise, and "<1%" for a few
// failures among many attempts, which 0% would hide.
func failureRate(st *inlet.DeliveryState) string {
	if st == nil || st.FailureRate1h == nil {
		return "-"
	}
	switch r := *st.FailureRate1h * 100; {
	case r > 0 && r < 1:
		return "<1%"
	case r > 99 && r < 100:
		return ">99%"
	default:
		return fmt.Sprintf("%.0f%%", r)
	}
}
