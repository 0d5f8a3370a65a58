package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"inlet"
)

// viewer is a signed-in browser as one request sees it: its sign-in, and
// what its token allows, read from the store for this request so that a
// revoked or expired token signs out at once on every node.
type viewer struct {
	in *signIn
	// Token is the name of the API token signed in with; empty for the
	// admin token.
	Token string
	Scope string
	// Sources, when not empty, are the only sources the token sees.
	Sources []string
}

// Can reports whether the token has scope; templates show a form only
// when it does.
func (v *viewer) Can(scope string) bool { return v != nil && inlet.ScopeAllows(v.Scope, scope) }

// Bound reports whether the token sees only some sources.
func (v *viewer) Bound() bool { return v != nil && len(v.Sources) > 0 }

// Sees reports whether the token sees the source of the given id.
func (v *viewer) Sees(id string) bool {
	return v != nil && (len(v.Sources) == 0 || slices.Contains(v.Sources, id))
}

// Manages reports whether the token may change what spans every source:
// destinations and their deliveries.
func (v *viewer) Manages() bool { return v.Can(inlet.ScopeWrite) && !v.Bound() }

// who names the token signed in with, for a refusal.
func (v *viewer) who() string {
	if v.Token == "" {
		return "the admin token"
	}
	return fmt.Sprintf("the token %q", v.Token)
}

// visible keeps the sources the token sees.
func (v *viewer) visible(sources []*inlet.Source) []*inlet.Source {
	if !v.Bound() {
		return sources
	}
	out := make([]*inlet.Source, 0, len(v.Sources))
	for _, s := range sources {
		if v.Sees(s.ID) {
			out = append(out, s)
		}
	}
	return out
}

// source is the source a list page shows for the asked one: any for a
// token of every source; for a bound token, its first source when none is
// asked, and a source it does not see is not found, as a missing one is.
func (v *viewer) source(asked string) (string, error) {
	switch {
	case !v.Bound():
		return asked, nil
	case asked == "":
		return v.Sources[0], nil
	case !v.Sees(asked):
		return "", notFound("source", asked)
	}
	return asked, nil
}

// notFound is the error of a missing source or event, word for word as the
// stores say it, so that one outside a token's sources reads the same.
func notFound(kind, id string) error {
	return inlet.Errorf(inlet.ENOTFOUND, "%s %q not found", kind, id)
}

// viewerOf returns the viewer of a sign-in, or false when its token is no
// longer usable.
func (c *Console) viewerOf(r *http.Request, in *signIn) (*viewer, bool) {
	tok, ok := c.token(r, in)
	switch {
	case !ok:
		return nil, false
	case tok == nil:
		return &viewer{in: in, Scope: inlet.ScopeAdmin}, true
	}
	return &viewer{in: in, Token: tok.Name, Scope: tok.Scope, Sources: tok.Sources}, true
}

// token returns a sign-in's API token as the store has it now, nil for the
// admin token; false when the token is revoked, expired or gone.
func (c *Console) token(r *http.Request, in *signIn) (*inlet.Token, bool) {
	if in.TokenID == "" {
		return nil, true
	}
	if c.cfg.Tokens == nil {
		return nil, false
	}
	tok, err := c.cfg.Tokens.FindToken(r.Context(), in.TokenID)
	if err != nil || !tok.Usable(c.now()) {
		return nil, false
	}
	return tok, true
}

// SignedIn reports whether r carries a live sign-in and returns its API
// token, nil for the admin token; the live stream accepts it beside a
// bearer token (an EventSource cannot send an Authorization header).
func (c *Console) SignedIn(r *http.Request) (*inlet.Token, bool) {
	in := c.signIn(r)
	if in == nil {
		return nil, false
	}
	return c.token(r, in)
}

func (c *Console) signIn(r *http.Request) *signIn {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	return c.signIns.find(ck.Value)
}

// Who may open a console route: a token of every source only, or also a
// token bound to sources, which then sees only them.
const (
	everySource = false
	ownSources  = true
)

// allowed returns the viewer of a sign-in when its token has scope (and is
// not bound to sources, for a route of everySource); otherwise it answers
// the request itself (to the sign-in page, or 403 naming what is needed)
// and returns nil.
func (c *Console) allowed(w http.ResponseWriter, r *http.Request, in *signIn, scope string, open bool) *viewer {
	v, ok := c.viewerOf(r, in)
	if !ok {
		if ck, err := r.Cookie(CookieName); err == nil {
			c.signIns.end(ck.Value)
		}
		http.Redirect(w, r, "/console/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return nil
	}
	switch {
	case !v.Can(scope):
		c.renderError(w, r, v, http.StatusForbidden, fmt.Sprintf("forbidden: this needs the %s scope; you signed in with %s, of the %s scope.", scope, v.who(), v.Scope))
		return nil
	case v.Bound() && open == everySource:
		c.renderError(w, r, v, http.StatusForbidden, fmt.Sprintf("forbidden: this spans every source and needs a token that is not bound to sources; you signed in with %s, bound to %s.", v.who(), strings.Join(v.Sources, ", ")))
		return nil
	}
	return v
}

// pageFunc answers a page for a signed-in browser.
type pageFunc func(w http.ResponseWriter, r *http.Request, v *viewer)

// page guards a page: a browser that is not signed in is sent to the
// sign-in page, then back; a token without scope, or bound to sources on a
// page of everySource, is answered 403.
func (c *Console) page(scope string, open bool, h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := c.signIn(r)
		if in == nil {
			http.Redirect(w, r, "/console/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if v := c.allowed(w, r, in, scope, open); v != nil {
			h(w, r, v)
		}
	})
}

// post guards a form handler as page does, and also asks for a
// same-origin request and the sign-in's CSRF token. A form a page does not
// show to a token is refused all the same when it is forged.
func (c *Console) post(scope string, open bool, h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := c.signIn(r)
		if in == nil {
			http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if !sameOrigin(r) || !in.validCSRF(r.PostFormValue("csrf")) {
			v, _ := c.viewerOf(r, in)
			c.renderError(w, r, v, http.StatusForbidden, "This form is stale or came from another site. Reload the page and try again.")
			return
		}
		if v := c.allowed(w, r, in, scope, open); v != nil {
			h(w, r.WithContext(inlet.WithActor(r.Context(), c.actor(r, v))), v)
		}
	})
}
