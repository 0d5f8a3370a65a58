package console

import (
	"net/http"
	"net/url"

	"inlet"
)

// actor is who makes the changes of a signed-in browser: its token (the
// admin token by the name inlet.AdminTokenName) and the client's address.
func (c *Console) actor(r *http.Request, v *viewer) *inlet.Actor {
	a := &inlet.Actor{Token: inlet.AdminTokenName, Client: c.clientIP(r)}
	if v.in.TokenID != "" {
		a.TokenID, a.Token = v.in.TokenID, v.Token
	}
	return a
}

// auditRow is a record of the audit log as the page shows it.
type auditRow struct {
	*inlet.AuditRecord
	Before, After string
}

// handleAudit lists the audit log, newest first, with its filters.
func (c *Console) handleAudit(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	f, err := inlet.ParseAuditFilter(q.Get)
	if err != nil {
		c.renderError(w, r, v, http.StatusBadRequest, inlet.ErrorMessage(err)+".")
		return
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	page, err := c.cfg.Store.ListAudit(r.Context(), f)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	rows := make([]auditRow, len(page.Records))
	for i, rec := range page.Records {
		rows[i] = auditRow{AuditRecord: rec, Before: prettyJSON(rec.Before), After: prettyJSON(rec.After)}
	}
	var older string
	if page.Next != "" {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("cursor", page.Next)
		older = "/console/audit?" + next.Encode()
	}
	c.render(w, r, v, http.StatusOK, "audit", "Audit log", map[string]any{
		"Filter": f, "Since": q.Get("since"), "Until": q.Get("until"), "Rows": rows, "Older": older,
		"Filtered": len(q) > 0, "Types": inlet.AuditObjectTypes,
	})
}
