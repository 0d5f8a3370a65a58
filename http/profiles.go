package http

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"inlet"
)

// ParseIdentifier reads an identifier written kind:value, such as
// email:someone@example.com. Returns EINVALID.
func ParseIdentifier(s string) (inlet.Identifier, error) {
	kind, value, ok := strings.Cut(s, ":")
	if !ok || kind == "" || strings.TrimSpace(value) == "" {
		return inlet.Identifier{}, inlet.Reasonf(inlet.EINVALID, "bad_filter", "identifier must be kind:value, for example email:someone@example.com")
	}
	return inlet.Identifier{Kind: kind, Value: value}, nil
}

// handleFindProfiles serves GET /api/v1/profiles?identifier=kind:value: the
// profile that owns the identifier, as a list of at most one.
func (s *Server) handleFindProfiles(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("identifier")
	if q == "" {
		Error(w, r, inlet.Reasonf(inlet.EINVALID, "bad_filter", "give identifier=kind:value, for example identifier=email:someone@example.com"), nil)
		return
	}
	id, err := ParseIdentifier(q)
	if err != nil {
		Error(w, r, err, nil)
		return
	}
	items := []*inlet.Profile{}
	p, err := s.cfg.Store.FindProfileByIdentifier(r.Context(), id)
	if err == nil {
		items = append(items, p)
	} else if inlet.ErrorCode(err) != inlet.ENOTFOUND {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

// FindProfileByIdentifier returns the profile that owns an identifier.
// Returns ENOTFOUND when none does.
func (c *Client) FindProfileByIdentifier(ctx context.Context, id inlet.Identifier) (*inlet.Profile, error) {
	var page struct {
		Items []*inlet.Profile `json:"items"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/profiles?identifier="+url.QueryEscape(id.Kind+":"+id.Value), nil, &page); err != nil {
		return nil, err
	}
	if len(page.Items) == 0 {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "no profile has identifier %s:%s", id.Kind, id.Value)
	}
	return page.Items[0], nil
}

func (s *Server) handleGetProfile(w http.ResponseWriter, r *http.Request) {
	p, err := s.cfg.Store.FindProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleGetSession(w http.ResponseWriter, r *http.Request) {
	sess, err := s.cfg.Store.FindSession(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}
