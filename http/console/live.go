package console

import (
	"net/http"

	"inlet"
)

// liveRecent is how many stored events the live page opens with: a
// screenful.
const liveRecent = 30

// handleLive shows the live page: the latest events, then each new one as
// the stream brings it (static/live.js).
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
