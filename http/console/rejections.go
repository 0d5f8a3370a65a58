package console

import (
	"bytes"
	"net/http"
	"sort"
	"strconv"

	"inlet"
)

// handleRejections lists the rejected collect requests, with their filters.
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
