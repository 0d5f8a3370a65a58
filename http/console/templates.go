package console

import (
	"bytes"
	"encoding/json"
	"html/template"
	"io/fs"
	"path"
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
