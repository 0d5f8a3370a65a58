package http

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"inlet"
)

// auditRoute is what the audit log calls a change route's requests that
// fail before a store records them: refused for their scope, or for bad
// input.
type auditRoute struct {
	action, objectType string
	idParam            string // the path parameter of the object's id, if any
	// personal is a route whose error messages may name a person (an
	// identifier): its records keep the error code only.
	personal bool
}

// auditRoutes are the routes that change something. Every POST, PATCH,
// PUT and DELETE under /api/v1 is here but the dry runs, which a test
// holds to the route table.
var auditRoutes = map[string]auditRoute{
	"POST /api/v1/sources":                   {"source.create", inlet.AuditSource, "", false},
	"PATCH /api/v1/sources/{id}":             {"source.update", inlet.AuditSource, "id", false},
	"DELETE /api/v1/sources/{id}":            {"source.delete", inlet.AuditSource, "id", false},
	"POST /api/v1/destinations":              {"destination.create", inlet.AuditDestination, "", false},
	"PATCH /api/v1/destinations/{id}":        {"destination.update", inlet.AuditDestination, "id", false},
	"DELETE /api/v1/destinations/{id}":       {"destination.delete", inlet.AuditDestination, "id", false},
	"POST /api/v1/destinations/{id}/retry":   {"deliveries.retry", inlet.AuditDestination, "id", false},
	"POST /api/v1/destinations/{id}/discard": {"deliveries.discard", inlet.AuditDestination, "id", false},
	"POST /api/v1/destinations/{id}/replay":  {"deliveries.replay", inlet.AuditDestination, "id", false},
	"POST /api/v1/events/import":             {"events.import", inlet.AuditEvents, "", false},
	"DELETE /api/v1/profiles/{id}":           {"profile.erase", inlet.AuditProfile, "id", false},
	"DELETE /api/v1/profiles":                {"profile.erase", inlet.AuditProfile, "", true}, // never the identifier: it names a person
	"DELETE /api/v1/suppressions":            {"suppression.lift", inlet.AuditSuppression, "", true},
	"POST /api/v1/tokens":                    {"token.create", inlet.AuditToken, "", false},
	"DELETE /api/v1/tokens/{id}":             {"token.revoke", inlet.AuditToken, "id", false},
	"POST /api/v1/secrets/rotate":            {"secrets.rotate", inlet.AuditSecrets, "", false},
}

// auditNote is where Error notes the error a change route answered.
type auditNote struct{ err error }

type auditNoteKey struct{}

// noteAuditError notes err as the answer of r, when r is a change.
func noteAuditError(r *http.Request, err error) {
	if n, ok := r.Context().Value(auditNoteKey{}).(*auditNote); ok {
		n.err = err
	}
}

// audited gives a change route's requests their actor (authorize names
// its token) and records the change refused or failed before a store
// recorded it. Other routes are h itself.
func (s *Server) audited(pattern string, h http.Handler) http.Handler {
	ar, ok := auditRoutes[pattern]
	if !ok {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := &inlet.Actor{Client: s.clientIP(r)}
		note := &auditNote{}
		ctx := context.WithValue(inlet.WithActor(r.Context(), a), auditNoteKey{}, note)
		r = r.WithContext(ctx)
		h.ServeHTTP(w, r)
		// A request without a usable token is nobody's change: it is not
		// recorded, so that anyone cannot fill the log.
		if note.err == nil || a.Recorded() || a.Token == "" {
			return
		}
		var id string
		if ar.idParam != "" {
			id = r.PathValue(ar.idParam)
		}
		rec := inlet.NewAuditRecord(ctx, s.now(), ar.action, ar.objectType, id, nil, nil, note.err)
		if ar.personal {
			rec.Error = ""
		}
		if err := s.cfg.Store.RecordAudit(context.WithoutCancel(ctx), rec); err != nil {
			s.cfg.Logger.Warn("recording a refused change in the audit log", "action", ar.action, "err", err)
		}
	})
}

// setActorToken names the token of the request's actor.
func setActorToken(r *http.Request, id, name string) {
	if a := inlet.ActorFrom(r.Context()); a.Token != inlet.ServerActor {
		a.TokenID, a.Token = id, name
	}
}

// AuditQuery is the query of GET /api/v1/audit for f.
func AuditQuery(f inlet.AuditFilter) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"token": f.Token, "object_type": f.ObjectType, "object_id": f.ObjectID,
		"action": f.Action, "outcome": f.Outcome, "cursor": f.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.Since.IsZero() {
		q.Set("since", inlet.FormatTime(f.Since))
	}
	if !f.Until.IsZero() {
		q.Set("until", inlet.FormatTime(f.Until))
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

func (s *Server) handleListAudit(w http.ResponseWriter, r *http.Request) {
	f, err := inlet.ParseAuditFilter(r.URL.Query().Get)
	if err != nil {
		Error(w, r, err, nil)
		return
	}
	page, err := s.cfg.Store.ListAudit(r.Context(), f)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// ListAudit returns a page of the audit log, newest first.
func (c *Client) ListAudit(ctx context.Context, f inlet.AuditFilter) (*inlet.AuditPage, error) {
	var page inlet.AuditPage
	return &page, c.do(ctx, http.MethodGet, "/api/v1/audit?"+AuditQuery(f).Encode(), nil, &page)
}
