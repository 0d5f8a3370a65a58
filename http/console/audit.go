package console

import (
	"net/http"
	"net/url"
	"time"

	"inlet"
)

// actor is who makes the changes of a signed-in session: its token (the
// admin token by the name inlet.AdminTokenName) and the client's address.
func (c *Console) actor(r *http.Request, sess *session) *inlet.Actor {
	a := &inlet.Actor{Token: inlet.AdminTokenName, Client: c.clientIP(r)}
	if sess.TokenID != "" && c.cfg.Tokens != nil {
		a.TokenID, a.Token = sess.TokenID, sess.TokenID
		if tok, err := c.cfg.Tokens.FindToken(r.Context(), sess.TokenID); err == nil {
			a.Token = tok.Name
		}
	}
	return a
}

// auditRow is a record of the audit log as the page shows it.
type auditRow struct {
	*inlet.AuditRecord
	Before, After string
}

// handleAudit lists the audit log, newest first, with its filters.
func (c *Console) handleAudit(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	f := inlet.AuditFilter{Token: q.Get("token"), ObjectType: q.Get("object_type"), ObjectID: q.Get("object_id"),
		Action: q.Get("action"), Outcome: q.Get("outcome"), Cursor: q.Get("cursor"), Limit: 50}
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				c.renderError(w, r, sess, http.StatusBadRequest, p.name+" must be an RFC 3339 time such as 2026-01-02T15:04:05Z.")
				return
			}
			*p.to = t
		}
	}
	page, err := c.cfg.Store.ListAudit(r.Context(), f)
	if err != nil {
		c.fail(w, r, sess, err)
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
	c.render(w, r, sess, http.StatusOK, "audit", "Audit log", map[string]any{
		"Filter": f, "Since": q.Get("since"), "Until": q.Get("until"), "Rows": rows, "Older": older,
		"Filtered": len(q) > 0, "Types": []string{inlet.AuditSource, inlet.AuditDestination, inlet.AuditToken, inlet.AuditProfile, inlet.AuditSuppression, inlet.AuditEvents},
	})
}
