package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"inlet"
)

// eventFilterForm is the events page's filter form, as typed.
type eventFilterForm struct {
	ID, Source, Type, Session, Profile, Since, Until, Property string
}

// query returns the form as URL parameters, without the empty ones.
func (f eventFilterForm) query() url.Values {
	q := url.Values{}
	for _, kv := range [][2]string{{"id", f.ID}, {"source", f.Source}, {"type", f.Type}, {"session", f.Session},
		{"profile", f.Profile}, {"since", f.Since}, {"until", f.Until}, {"property", f.Property}} {
		if kv[1] != "" {
			q.Set(kv[0], kv[1])
		}
	}
	return q
}

// parseEventFilter reads the events page's form into a filter; the error
// says which field is wrong and how.
func parseEventFilter(q url.Values) (eventFilterForm, inlet.EventFilter, error) {
	form := eventFilterForm{}
	for _, p := range []struct {
		name string
		to   *string
	}{{"id", &form.ID}, {"source", &form.Source}, {"type", &form.Type}, {"session", &form.Session},
		{"profile", &form.Profile}, {"since", &form.Since}, {"until", &form.Until}, {"property", &form.Property}} {
		*p.to = strings.TrimSpace(q.Get(p.name))
	}
	f := inlet.EventFilter{EventID: form.ID, SourceID: form.Source, SessionID: form.Session, ProfileID: form.Profile, Limit: 50, Cursor: q.Get("cursor")}
	var err error
	if form.Type != "" {
		if f.Type, err = inlet.NormalizeTypePattern(form.Type); err != nil {
			return form, f, inlet.Errorf(inlet.EINVALID, "Type: %s.", inlet.ErrorMessage(err))
		}
	}
	if f.Since, err = parseFormTime("Since", form.Since); err != nil {
		return form, f, err
	}
	if f.Until, err = parseFormTime("Until", form.Until); err != nil {
		return form, f, err
	}
	if form.Property != "" {
		path, value, ok := strings.Cut(form.Property, "=")
		if !ok {
			return form, f, inlet.Errorf(inlet.EINVALID, "Property: write a path, =, and a value, such as order = A-1001.")
		}
		value = strings.TrimSpace(value)
		if s, err := strconv.Unquote(value); err == nil && strings.HasPrefix(value, `"`) {
			value = s
		}
		if f.Property, err = inlet.ParsePropertyMatch(path, value); err != nil {
			return form, f, inlet.Errorf(inlet.EINVALID, "Property: %s.", inlet.ErrorMessage(err))
		}
	}
	return form, f, nil
}

// formTimeLayouts are the times a filter takes: RFC 3339, or a UTC date and
// time as a datetime-local field sends it.
var formTimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

func parseFormTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range formTimeLayouts {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, inlet.Errorf(inlet.EINVALID, "%s: %q is not a time; write 2026-01-02 15:04 (UTC) or an RFC 3339 time.", field, v)
}

func (c *Console) handleEvents(w http.ResponseWriter, r *http.Request, v *viewer) {
	sources, err := c.cfg.Store.ListSources(r.Context())
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	form, f, err := parseEventFilter(r.URL.Query())
	var outside error
	if f.SourceID, outside = v.source(f.SourceID); outside != nil {
		c.fail(w, r, v, outside)
		return
	}
	form.Source = f.SourceID
	data := map[string]any{"Sources": v.visible(sources), "Form": form, "Window": inlet.PropertySearchWindow}
	if err == nil {
		var page *inlet.EventPage
		page, err = c.cfg.Store.ListEvents(r.Context(), f)
		if err == nil {
			data["Events"] = page.Items
			data["Searched"] = page.Window
			if page.Next != nil {
				q := form.query()
				q.Set("cursor", *page.Next)
				data["Older"] = "/console/events?" + q.Encode()
			}
			if f.Cursor != "" {
				data["Newest"] = "/console/events?" + form.query().Encode()
			}
		}
	}
	if err != nil {
		if inlet.ErrorCode(err) != inlet.EINVALID {
			c.fail(w, r, v, err)
			return
		}
		data["Error"] = inlet.ErrorMessage(err)
		c.render(w, r, v, http.StatusBadRequest, "events", "Events", data)
		return
	}
	c.render(w, r, v, http.StatusOK, "events", "Events", data)
}

// header is a request header as the event page shows it.
type header struct{ Name, Value string }

// secretHeaderWords mark headers whose values the event page masks; the
// collector keeps no credential header, but a source may send one under
// a name of its own.
var secretHeaderWords = []string{"authorization", "cookie", "token", "secret", "signature", "password", "api-key", "apikey", "x-api-key"}

func maskedHeaders(h map[string]string) []header {
	out := make([]header, 0, len(h))
	for k, v := range h {
		lk := strings.ToLower(k)
		for _, w := range secretHeaderWords {
			if strings.Contains(lk, w) {
				v = inlet.MaskedSecret
				break
			}
		}
		out = append(out, header{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (c *Console) handleEvent(w http.ResponseWriter, r *http.Request, v *viewer) {
	e, err := c.cfg.Store.FindEvent(r.Context(), r.PathValue("id"))
	if err == nil && !v.Sees(e.SourceID) {
		err = notFound("event", r.PathValue("id"))
	}
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	deliveries, err := c.cfg.Store.EventDeliveries(r.Context(), e.ID)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	raw, err := inlet.EventJSON(e)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	var src *inlet.Source
	if s, err := c.cfg.Store.FindSource(r.Context(), e.SourceID); err == nil {
		src = s
	}
	c.render(w, r, v, http.StatusOK, "event", "Event "+e.Type, map[string]any{
		"Event": e, "Headers": maskedHeaders(e.Context.Headers), "Properties": prettyJSON(e.Properties),
		"Raw": prettyJSON(raw), "Curl": EventCurl(c.baseURL(r), e, src), "Deliveries": deliveries,
		"Notice": doneNotices[r.URL.Query().Get("done")],
	})
}

// handleEventDelivery retries or discards one event's delivery to one
// destination, as POST /api/v1/destinations/{id}/retry and /discard do
// with its id.
func (c *Console) handleEventDelivery(w http.ResponseWriter, r *http.Request, v *viewer) {
	id, dest := r.PathValue("id"), r.PathValue("destination")
	var n int
	var err error
	verb := r.PathValue("action")
	switch verb {
	case "retry":
		n, err = c.cfg.Store.RetryDeliveries(r.Context(), dest, []string{id}, "", c.now())
	case "discard":
		n, err = c.cfg.Store.DiscardDeliveries(r.Context(), dest, []string{id}, "")
	default:
		c.renderError(w, r, v, http.StatusNotFound, "There is no console page at "+r.URL.Path+".")
		return
	}
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.destinationsChanged()
	done := verb
	if n == 0 {
		done = "nothing"
	}
	http.Redirect(w, r, "/console/events/"+url.PathEscape(id)+"?done="+done+"#deliveries", http.StatusSeeOther)
}

// doneNotices are what a page says after an action sent it there; the
// URL names one, so that no text of a link is shown as the console's.
var doneNotices = map[string]string{
	"retry":    "The delivery is pending again; it is sent within moments.",
	"discard":  "The delivery was discarded.",
	"nothing":  "Nothing changed: the delivery was delivered or discarded meanwhile.",
	"enabled":  "The destination is enabled.",
	"disabled": "The destination is disabled.",
	"retried":  "The dead deliveries are pending again.",
	"replayed": "The events of the range are pending again.",
	"saved":    "The destination is saved; delivery uses it from now on.",
}

// EventCurl returns a curl command that collects e again: its properties
// as the body of a POST to its source (and session), signed the way the
// source's verifier checks once the secret is pasted in.
func EventCurl(base string, e *inlet.Event, src *inlet.Source) string {
	u := base + "/collect/" + url.PathEscape(e.Type) + "/" + url.PathEscape(e.SourceID)
	if e.SessionID != "" {
		u += "/" + url.PathEscape(e.SessionID)
	}
	body := string(e.Properties)
	if !json.Valid(e.Properties) {
		body = "{}"
	}
	if src == nil {
		src = &inlet.Source{ID: e.SourceID}
	}
	return curlLines(u, body, src)
}

// ago says how long before now t was ("3 min ago") in a time element whose
// title is the absolute time.
func ago(t time.Time) template.HTML {
	if t.IsZero() {
		return "-"
	}
	abs := t.UTC().Format("2006-01-02 15:04:05.000 UTC")
	return template.HTML(`<time datetime="` + t.UTC().Format(time.RFC3339Nano) + `" title="` + abs + `">` + relative(time.Since(t)) + `</time>`)
}

// relative writes a duration as a person reads it.
func relative(d time.Duration) string {
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d.Hours()))
	default:
		s = fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}
