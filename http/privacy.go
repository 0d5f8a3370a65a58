package http

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"time"

	"inlet"
)

// privacyRoutes are the routes of a person's rights: erasure and export.
func (s *Server) privacyRoutes() []route {
	return []route{
		{"DELETE /api/v1/profiles/{id}", ClassAdmin, inlet.ScopeWrite, http.HandlerFunc(s.handleEraseProfile)},
		{"DELETE /api/v1/profiles", ClassAdmin, inlet.ScopeWrite, http.HandlerFunc(s.handleEraseByIdentifier)},
		{"GET /api/v1/profiles/{id}/export", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleExportProfile)},
		{"DELETE /api/v1/suppressions", ClassAdmin, inlet.ScopeWrite, http.HandlerFunc(s.handleUnsuppress)},
	}
}

func (s *Server) handleEraseProfile(w http.ResponseWriter, r *http.Request) {
	s.erase(w, r, r.PathValue("id"))
}

// handleEraseByIdentifier serves DELETE /api/v1/profiles?identifier=kind:value:
// the person who owns the identifier is erased.
func (s *Server) handleEraseByIdentifier(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("identifier")
	if q == "" {
		Error(w, r, inlet.Reasonf(inlet.EINVALID, "bad_filter", "give identifier=kind:value, for example identifier=email:someone@example.com, or erase by profile id: DELETE /api/v1/profiles/{id}"), nil)
		return
	}
	id, err := ParseIdentifier(q)
	if err != nil {
		Error(w, r, err, nil)
		return
	}
	p, err := s.cfg.Store.FindProfileByIdentifier(r.Context(), id)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	s.erase(w, r, p.ID)
}

func (s *Server) erase(w http.ResponseWriter, r *http.Request, profileID string) {
	suppress := false
	switch v := r.URL.Query().Get("suppress"); v {
	case "", "false":
	case "true":
		suppress = true
	default:
		Error(w, r, inlet.Reasonf(inlet.EINVALID, "bad_filter", "suppress must be true or false"), nil)
		return
	}
	if suppress {
		// Suppressed first: an event of the person arriving while the
		// erasure runs is dropped rather than stored after it.
		p, err := s.cfg.Store.FindProfile(r.Context(), profileID)
		if err != nil {
			Error(w, r, err, s.cfg.Logger)
			return
		}
		if s.cfg.Suppressed == nil || len(p.Identifiers) == 0 {
			Error(w, r, inlet.Reasonf(inlet.EINVALID, "nothing_to_suppress", "the profile has no identifier to suppress; erase it without suppress"), nil)
			return
		}
		if err := s.cfg.Suppressed.Add(r.Context(), p.Identifiers); err != nil {
			Error(w, r, err, s.cfg.Logger)
			return
		}
	}
	e, err := s.cfg.Store.EraseProfile(r.Context(), profileID, s.now())
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	// The log says that an erasure happened and its size, never whose.
	s.cfg.Logger.Info("profile erased", "profiles", e.Profiles, "events", e.Events, "sessions", e.Sessions)
	writeJSON(w, http.StatusOK, e)
}

// handleUnsuppress serves DELETE /api/v1/suppressions?identifier=kind:value:
// the identifier's events are stored again.
func (s *Server) handleUnsuppress(w http.ResponseWriter, r *http.Request) {
	id, err := ParseIdentifier(r.URL.Query().Get("identifier"))
	if err != nil {
		Error(w, r, err, nil)
		return
	}
	if s.cfg.Suppressed == nil {
		Error(w, r, inlet.Errorf(inlet.ENOTFOUND, "no suppression of %s:%s", id.Kind, id.Value), nil)
		return
	}
	ok, err := s.cfg.Suppressed.Remove(r.Context(), id)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	} else if !ok {
		Error(w, r, inlet.Errorf(inlet.ENOTFOUND, "no suppression of %s:%s", id.Kind, id.Value), nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleExportProfile serves GET /api/v1/profiles/{id}/export: every record
// of the person as NDJSON, {"kind": ..., "data": ...} a line, streamed.
func (s *Server) handleExportProfile(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	var bw *bufio.Writer
	err := s.cfg.Store.ExportProfile(r.Context(), r.PathValue("id"), func(rec inlet.PersonRecord) error {
		if bw == nil { // the first record: the answer starts
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
			bw = bufio.NewWriterSize(w, 64<<10)
		}
		rc.SetWriteDeadline(time.Now().Add(streamDeadline))
		line, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		_, err = bw.Write(append(line, '\n'))
		return err
	})
	switch {
	case err != nil && bw == nil:
		Error(w, r, err, s.cfg.Logger)
	case err != nil:
		s.abortExport(r, err)
	default:
		bw.Flush()
	}
}

// EraseProfile erases the person of a profile id and returns what it
// removed; suppress drops their identifiers' later events at intake.
func (c *Client) EraseProfile(ctx context.Context, id string, suppress bool) (*inlet.Erasure, error) {
	var e inlet.Erasure
	return &e, c.do(ctx, http.MethodDelete, "/api/v1/profiles/"+url.PathEscape(id)+suppressQuery(suppress, "?"), nil, &e)
}

// EraseByIdentifier erases the person who owns an identifier.
func (c *Client) EraseByIdentifier(ctx context.Context, id inlet.Identifier, suppress bool) (*inlet.Erasure, error) {
	var e inlet.Erasure
	return &e, c.do(ctx, http.MethodDelete, "/api/v1/profiles?identifier="+url.QueryEscape(id.Kind+":"+id.Value)+suppressQuery(suppress, "&"), nil, &e)
}

func suppressQuery(suppress bool, sep string) string {
	if suppress {
		return sep + "suppress=true"
	}
	return ""
}

// Unsuppress lifts the suppression of an identifier.
func (c *Client) Unsuppress(ctx context.Context, id inlet.Identifier) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/suppressions?identifier="+url.QueryEscape(id.Kind+":"+id.Value), nil, nil)
}

// ExportProfile writes every record of a person as NDJSON to w and
// returns how many bytes it wrote.
func (c *Client) ExportProfile(ctx context.Context, id string, w io.Writer) (int64, error) {
	resp, err := c.stream(ctx, http.MethodGet, "/api/v1/profiles/"+url.PathEscape(id)+"/export", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return io.Copy(w, resp.Body)
}
