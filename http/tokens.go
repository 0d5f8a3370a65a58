package http

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"inlet"
)

// ScopePublic is the scope of a route that checks no API token: collect,
// probes, the API description, the console's pages (which sign in on
// their own) and the metrics (with their own token).
const ScopePublic = "public"

// touchEvery bounds how often a token's time of last use is written.
const touchEvery = time.Minute

// consoleSignInOK is a handler that, beside a bearer token of its route's
// scope, lets in a request signed in to the console, as its token allows
// (an EventSource cannot send an Authorization header).
type consoleSignInOK http.HandlerFunc

func (h consoleSignInOK) ServeHTTP(w http.ResponseWriter, r *http.Request) { h(w, r) }

// tokenRoutes are the routes of API tokens.
func (s *Server) tokenRoutes() []route {
	return []route{
		{"POST /api/v1/tokens", ClassAdmin, inlet.ScopeAdmin, http.HandlerFunc(s.handleCreateToken)},
		{"GET /api/v1/tokens", ClassAdmin, inlet.ScopeAdmin, http.HandlerFunc(s.handleListTokens)},
		{"DELETE /api/v1/tokens/{id}", ClassAdmin, inlet.ScopeAdmin, http.HandlerFunc(s.handleRevokeToken)},
	}
}

// authorize guards h with a bearer token that has scope: the admin token,
// or a token of the token store, read from the store on every call so
// that a revocation on one node holds at once on every node.
func (s *Server) authorize(pattern, scope string, h http.Handler) http.Handler {
	_, signInOK := h.(consoleSignInOK)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const prefix = "Bearer "
		auth := r.Header.Get("Authorization")
		if signInOK && auth == "" && s.cfg.ConsoleSignIn != nil {
			if tok, ok := s.cfg.ConsoleSignIn(r); ok {
				s.allowToken(w, r, pattern, scope, tok, h)
				return
			}
		}
		if len(auth) <= len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) { // the scheme is case-insensitive
			Error(w, r, inlet.Reasonf(inlet.EUNAUTHORIZED, "unauthorized", "send the admin token or an API token as 'Authorization: Bearer <token>'"), nil)
			return
		}
		got := sha256.Sum256([]byte(auth[len(prefix):]))
		if subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) == 1 {
			setActorToken(r, "", inlet.AdminTokenName)
			h.ServeHTTP(w, r) // the admin token: every scope
			return
		}
		if s.cfg.Tokens == nil {
			Error(w, r, inlet.ErrUnknownToken, nil)
			return
		}
		tok, err := s.cfg.Tokens.FindTokenByHash(r.Context(), got)
		switch {
		case inlet.ErrorCode(err) == inlet.ENOTFOUND:
			Error(w, r, inlet.ErrUnknownToken, nil)
			return
		case err != nil:
			Error(w, r, err, s.cfg.Logger)
			return
		}
		if err := tok.Refusal(s.now()); err != nil {
			Error(w, r, err, nil)
			return
		}
		s.touch(tok)
		s.allowToken(w, r, pattern, scope, tok, h)
	})
}

// allowToken serves h when tok, a usable token (nil for the admin token),
// has scope and, when bound to sources, the request is about them.
func (s *Server) allowToken(w http.ResponseWriter, r *http.Request, pattern, scope string, tok *inlet.Token, h http.Handler) {
	if tok == nil {
		setActorToken(r, "", inlet.AdminTokenName)
		h.ServeHTTP(w, r)
		return
	}
	setActorToken(r, tok.ID, tok.Name)
	if !inlet.ScopeAllows(tok.Scope, scope) {
		Error(w, r, inlet.Reasonf(inlet.EFORBIDDEN, "forbidden", "%s %s needs the %s scope; the token %q has the %s scope", r.Method, r.URL.Path, scope, tok.Name, tok.Scope), nil)
		return
	}
	if len(tok.Sources) > 0 {
		if !s.withinSources(w, r, pattern, tok) {
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), tokenKey{}, tok))
	}
	h.ServeHTTP(w, r)
}

// tokenKey is the request context's key of a token bound to sources.
type tokenKey struct{}

// requestToken returns the token bound to sources that a request carries,
// or nil for a token that sees every source.
func requestToken(ctx context.Context) *inlet.Token {
	tok, _ := ctx.Value(tokenKey{}).(*inlet.Token)
	return tok
}

// sourceOf says, for each route a token bound to sources may call, which
// source a request is about. A route not here is refused to such a token.
// An id found and outside the token's sources is answered as not found,
// as if it did not exist. A query's source, when absent, is the token's
// one source.
var sourceOf = map[string]func(s *Server, r *http.Request) (string, error){
	"GET /api/v1/sources":                        func(*Server, *http.Request) (string, error) { return "", nil }, // filtered by the handler
	"GET /api/v1/sources/{id}":                   pathSource("id"),
	"PATCH /api/v1/sources/{id}":                 pathSource("id"),
	"DELETE /api/v1/sources/{id}":                pathSource("id"),
	"POST /api/v1/sources/{id}/try":              pathSource("id"),
	"GET /api/v1/events":                         querySource,
	"GET /api/v1/events/stream":                  querySource,
	"GET /api/v1/events/export":                  querySource,
	"GET /api/v1/catalog":                        querySource,
	"GET /api/v1/rejections":                     querySource,
	"GET /api/v1/rejections/counts":              querySource,
	"GET /api/v1/catalog/{source}/{type}":        pathSource("source"),
	"GET /api/v1/catalog/{source}/{type}/schema": pathSource("source"),
	"GET /api/v1/events/{id}":                    eventSource,
	"GET /api/v1/events/{id}/deliveries":         eventSource,
}

func pathSource(name string) func(*Server, *http.Request) (string, error) {
	return func(_ *Server, r *http.Request) (string, error) { return r.PathValue(name), nil }
}

// querySource is the ?source= of a request; withinSources sets it for a
// token of one source, and a token of several must give it.
func querySource(_ *Server, r *http.Request) (string, error) {
	return r.URL.Query().Get("source"), nil
}

func eventSource(s *Server, r *http.Request) (string, error) {
	e, err := s.cfg.Store.FindEvent(r.Context(), r.PathValue("id"))
	if err != nil {
		return "", err
	}
	return e.SourceID, nil
}

// withinSources lets a token bound to sources call only what belongs to
// them; it answers the request itself and returns false when not.
func (s *Server) withinSources(w http.ResponseWriter, r *http.Request, pattern string, tok *inlet.Token) bool {
	find, ok := sourceOf[pattern]
	if !ok {
		Error(w, r, inlet.Reasonf(inlet.EFORBIDDEN, "forbidden", "%s %s needs a token that is not bound to sources; the token %q is bound to %s", r.Method, r.URL.Path, tok.Name, strings.Join(tok.Sources, ", ")), nil)
		return false
	}
	if pattern == "GET /api/v1/sources" {
		return true
	}
	id, err := find(s, r)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return false
	}
	if id == "" && !strings.Contains(pattern, "{") { // a query without ?source=
		if len(tok.Sources) > 1 {
			Error(w, r, inlet.Reasonf(inlet.EINVALID, "source_required", "the token %q is bound to several sources: give ?source= one of %s", tok.Name, strings.Join(tok.Sources, ", ")), nil)
			return false
		}
		q := r.URL.Query()
		q.Set("source", tok.Sources[0])
		r.URL.RawQuery = q.Encode()
		return true
	}
	if !tok.Allows(id) {
		kind := "source"
		if strings.HasPrefix(pattern, "GET /api/v1/events/{id}") {
			kind, id = "event", r.PathValue("id")
		}
		Error(w, r, inlet.Errorf(inlet.ENOTFOUND, "%s %q not found", kind, id), nil)
		return false
	}
	return true
}

// touch records, off the request's path and at most once a touchEvery per
// token on this node, that tok was used.
func (s *Server) touch(tok *inlet.Token) {
	now := s.now()
	if tok.LastUsedAt != nil && now.Sub(*tok.LastUsedAt) < touchEvery {
		return
	}
	if last, ok := s.touched.Load(tok.ID); ok && now.Sub(last.(time.Time)) < touchEvery {
		return
	}
	s.touched.Store(tok.ID, now)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.cfg.Tokens.TouchToken(ctx, tok.ID, now); err != nil {
			s.cfg.Logger.Warn("recording a token's use", "token", tok.Name, "err", err)
		}
	}()
}

// CreateTokenRequest is the body of POST /api/v1/tokens.
type CreateTokenRequest struct {
	Name  string `json:"name"`
	Scope string `json:"scope"`
	// Sources, when given, binds the token to these sources.
	Sources []string `json:"sources,omitempty"`
	// Expires is a duration from now: "90d", "12h"; empty: never.
	Expires string `json:"expires,omitempty"`
}

// CreatedToken is the answer of POST /api/v1/tokens: the token and, this
// once only, its secret.
type CreatedToken struct {
	*inlet.Token
	Secret string `json:"token"`
}

// ParseExpiry parses a token's lifetime: a Go duration or a number of days
// ("90d").
func ParseExpiry(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days > 0 {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d, nil
	}
	return 0, inlet.Errorf(inlet.EINVALID, "expires %q is not a duration such as 90d or 12h", v)
}

func (s *Server) tokenStore(w http.ResponseWriter, r *http.Request) inlet.TokenStore {
	if s.cfg.Tokens == nil {
		Error(w, r, inlet.Errorf(inlet.ENOTFOUND, "this server keeps no tokens"), nil)
	}
	return s.cfg.Tokens
}

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request) {
	store := s.tokenStore(w, r)
	if store == nil {
		return
	}
	var req CreateTokenRequest
	if err := decodeJSON(w, r, &req); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	secret, hash := inlet.NewTokenSecret()
	tok := &inlet.Token{ID: inlet.NewID(), Name: req.Name, Scope: req.Scope, Sources: req.Sources, Hash: hash}
	if req.Expires != "" {
		d, err := ParseExpiry(req.Expires)
		if err != nil {
			Error(w, r, err, nil)
			return
		}
		at := s.now().UTC().Add(d).Truncate(time.Microsecond)
		tok.ExpiresAt = &at
	}
	if err := store.CreateToken(r.Context(), tok); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusCreated, CreatedToken{Token: tok, Secret: secret})
}

func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request) {
	store := s.tokenStore(w, r)
	if store == nil {
		return
	}
	list, err := store.ListTokens(r.Context())
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	if list == nil {
		list = []*inlet.Token{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": list})
}

func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request) {
	store := s.tokenStore(w, r)
	if store == nil {
		return
	}
	tok, err := store.RevokeToken(r.Context(), r.PathValue("id"), s.now())
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, tok)
}

// CreateToken creates an API token; the answer holds its secret, shown
// this once only.
func (c *Client) CreateToken(ctx context.Context, req CreateTokenRequest) (*CreatedToken, error) {
	out := CreatedToken{Token: &inlet.Token{}}
	return &out, c.do(ctx, http.MethodPost, "/api/v1/tokens", req, &out)
}

// ListTokens returns every API token, revoked ones included.
func (c *Client) ListTokens(ctx context.Context) ([]*inlet.Token, error) {
	var out struct {
		Tokens []*inlet.Token `json:"tokens"`
	}
	return out.Tokens, c.do(ctx, http.MethodGet, "/api/v1/tokens", nil, &out)
}

// RevokeToken revokes the API token of the given id or name.
func (c *Client) RevokeToken(ctx context.Context, idOrName string) (*inlet.Token, error) {
	var tok inlet.Token
	return &tok, c.do(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(idOrName), nil, &tok)
}
