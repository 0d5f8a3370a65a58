// Package console is the web console of the collector, served at /console/
// by the same binary: server-rendered pages (html/template, which escapes
// every value) over the store, one small script for the live page, and
// every asset embedded, so that it works with no network.
//
// Signing in with the admin token starts a server-side session named by a
// random HttpOnly, SameSite=Strict cookie; every form that changes
// something also carries the session's CSRF token. Every answer carries a
// Content-Security-Policy that allows no inline script and nothing from
// elsewhere.
package console

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"inlet"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ContentSecurityPolicy is set on every console answer.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// CookieName is the session cookie.
const CookieName = "inlet_console"

// Config configures a Console. Store, Sources and AdminToken are required.
type Config struct {
	Store   inlet.Store
	Sources *inlet.SourceCache
	// Rejections, when set, shows the rejected-request log.
	Rejections inlet.RejectionStore
	// Overview, when set, draws the overview charts.
	Overview inlet.OverviewStore
	// AdminToken signs a person in with the admin scope.
	AdminToken string
	// Tokens, when set, holds the API tokens that also sign a person in,
	// each with its scope: a page or form its scope does not allow
	// answers 403.
	Tokens inlet.TokenStore
	// SessionFile, when set, keeps the sessions across restarts.
	SessionFile string
	// MaxSessions bounds the signed-in browsers (100); beyond, the oldest
	// is signed out.
	MaxSessions int
	// SessionTTL is how long a sign-in lasts (12h).
	SessionTTL time.Duration
	// PublicURL, when set, is the collector's base URL as senders call
	// it: collect URLs and curl samples use it rather than the Host
	// header. An https one also makes the session cookie Secure.
	PublicURL string
	// ClientIP returns a request's client address (the peer's, or what a
	// trusted proxy says); HTTPS reports whether the browser reached the
	// collector over HTTPS (TLS, or a trusted proxy's X-Forwarded-Proto).
	// When nil, the peer and the connection decide.
	ClientIP func(*http.Request) string
	HTTPS    func(*http.Request) bool
	// SignInLimited, when set, counts a sign-in refused by the limit.
	SignInLimited func()
	// DestinationsChanged, when set, applies a change of destinations or
	// deliveries at once on this node.
	DestinationsChanged func()
	// ValidateDestination checks an edited destination with its type's
	// config, as the destinations API does (Destination.Validate when
	// nil).
	ValidateDestination func(*inlet.Destination) error
	Logger              *slog.Logger
}

// Console is the web console's handler.
type Console struct {
	cfg       Config
	mux       *http.ServeMux
	pages     map[string]*template.Template
	sessions  *sessions
	tokenHash [32]byte
	signins   *signInGuard
	now       func() time.Time
}

// New returns the console.
func New(cfg Config) *Console {
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 100
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Console{cfg: cfg, mux: http.NewServeMux(), tokenHash: sha256.Sum256([]byte(cfg.AdminToken)), now: time.Now}
	c.signins = newSignInGuard(func() time.Time { return c.now() })
	c.sessions = newSessions(cfg.MaxSessions, cfg.SessionTTL, cfg.SessionFile, cfg.Logger, c.now)
	c.pages = parsePages()

	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	c.mux.HandleFunc("GET /console/signin", c.handleSignInPage)
	c.mux.HandleFunc("POST /console/signin", c.handleSignIn)
	c.mux.Handle("POST /console/signout", c.post(inlet.ScopeRead, c.handleSignOut))

	c.mux.Handle("GET /console/{$}", c.page(inlet.ScopeRead, c.handleOverview))
	c.mux.Handle("GET /console/sources", c.page(inlet.ScopeRead, c.handleSources))
	c.mux.Handle("GET /console/sources/new", c.page(inlet.ScopeRead, c.handleNewSource))
	c.mux.Handle("POST /console/sources", c.post(inlet.ScopeWrite, c.handleCreateSource))
	c.mux.Handle("GET /console/sources/{id}", c.page(inlet.ScopeRead, c.handleSource))
	c.mux.Handle("POST /console/sources/{id}", c.post(inlet.ScopeWrite, c.handleUpdateSource))
	c.mux.Handle("POST /console/sources/{id}/enabled", c.post(inlet.ScopeWrite, c.handleSetEnabled))
	c.mux.Handle("GET /console/live", c.page(inlet.ScopeRead, c.handleLive))
	c.mux.Handle("GET /console/events", c.page(inlet.ScopeRead, c.handleEvents))
	c.mux.Handle("GET /console/events/{id}", c.page(inlet.ScopeRead, c.handleEvent))
	c.mux.Handle("POST /console/events/{id}/deliveries/{destination}/{action}", c.post(inlet.ScopeWrite, c.handleEventDelivery))
	c.mux.Handle("GET /console/sessions/{id}", c.page(inlet.ScopeRead, c.handleSession))
	c.mux.Handle("GET /console/profiles/{id}", c.page(inlet.ScopeRead, c.handleProfile))
	c.mux.Handle("GET /console/rejections", c.page(inlet.ScopeRead, c.handleRejections))
	c.mux.Handle("GET /console/catalog", c.page(inlet.ScopeRead, c.handleCatalog))
	c.mux.Handle("GET /console/audit", c.page(inlet.ScopeAdmin, c.handleAudit))
	c.mux.Handle("GET /console/destinations", c.page(inlet.ScopeRead, c.handleDestinations))
	c.mux.Handle("GET /console/destinations/{id}", c.page(inlet.ScopeRead, c.handleDestination))
	c.mux.Handle("POST /console/destinations/{id}", c.post(inlet.ScopeWrite, c.handleUpdateDestination))
	c.mux.Handle("POST /console/destinations/{id}/{action}", c.post(inlet.ScopeWrite, c.handleDestinationAction))
	c.mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, nil, http.StatusNotFound, "There is no console page at "+r.URL.Path+".")
	})
	return c
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

// Authenticated reports whether r carries a signed-in session; the live
// stream accepts it beside the admin token.
func (c *Console) Authenticated(r *http.Request) bool {
	sess := c.session(r)
	if sess == nil {
		return false
	}
	_, ok := c.sessionScope(r, sess)
	return ok
}

// sessionScope returns the scope of a session's token, read from the store
// on every request so that a revoked or expired token signs out at once;
// false when the token is no longer usable.
func (c *Console) sessionScope(r *http.Request, sess *session) (string, bool) {
	if sess.TokenID == "" {
		return inlet.ScopeAdmin, true // signed in with the admin token
	}
	if c.cfg.Tokens == nil {
		return "", false
	}
	tok, err := c.cfg.Tokens.FindToken(r.Context(), sess.TokenID)
	if err != nil || !tok.Usable(c.now()) || len(tok.Sources) > 0 {
		return "", false
	}
	return tok.Scope, true
}

// allowed checks that the session's token has scope; it answers the
// request itself (to the sign-in page, or 403) and returns false when not.
func (c *Console) allowed(w http.ResponseWriter, r *http.Request, sess *session, scope string) bool {
	have, ok := c.sessionScope(r, sess)
	if !ok {
		if ck, err := r.Cookie(CookieName); err == nil {
			c.sessions.end(ck.Value)
		}
		http.Redirect(w, r, "/console/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return false
	}
	if !inlet.ScopeAllows(have, scope) {
		c.renderError(w, r, sess, http.StatusForbidden, fmt.Sprintf("This needs the %s scope; you signed in with a token of the %s scope.", scope, have))
		return false
	}
	return true
}

func (c *Console) session(r *http.Request) *session {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	return c.sessions.find(ck.Value)
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age="+strconv.Itoa(int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}

// pageFunc answers a page for a signed-in session.
type pageFunc func(w http.ResponseWriter, r *http.Request, sess *session)

// page sends people who are not signed in to the sign-in page, then back.
func (c *Console) page(scope string, h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := c.session(r)
		if sess == nil {
			http.Redirect(w, r, "/console/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if !c.allowed(w, r, sess, scope) {
			return
		}
		h(w, r, sess)
	})
}

// post guards a form handler: a signed-in session whose token has scope,
// a same-origin request and the session's CSRF token.
func (c *Console) post(scope string, h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := c.session(r)
		if sess == nil {
			http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if !sameOrigin(r) || !sess.validCSRF(r.PostFormValue("csrf")) {
			c.renderError(w, r, sess, http.StatusForbidden, "This form is stale or came from another site. Reload the page and try again.")
			return
		}
		if !c.allowed(w, r, sess, scope) {
			return
		}
		h(w, r.WithContext(inlet.WithActor(r.Context(), c.actor(r, sess))), sess)
	})
}

// sameOrigin is false when the browser says the request came from another
// origin (Origin or Sec-Fetch-Site); a request that says nothing passes,
// and relies on the CSRF token.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

func (c *Console) handleSignInPage(w http.ResponseWriter, r *http.Request) {
	if c.session(r) != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.render(w, r, nil, http.StatusOK, "signin", "Sign in", map[string]any{"Next": safeNext(r.URL.Query().Get("next"))})
}

func (c *Console) handleSignIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	next := safeNext(r.PostFormValue("next"))
	addr := c.clientIP(r)
	if wait := c.signins.locked(addr); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		c.cfg.Logger.Warn("console sign-in refused: too many tries from one address", "client", addr, "retry_after_s", secs)
		if c.cfg.SignInLimited != nil {
			c.cfg.SignInLimited()
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		c.render(w, r, nil, http.StatusTooManyRequests, "signin", "Sign in", map[string]any{"Next": next,
			"Error": fmt.Sprintf("Too many sign-in attempts from this address. Try again in %d seconds.", secs)})
		return
	}
	got := sha256.Sum256([]byte(r.PostFormValue("token")))
	tokenID, ok, bound := c.signInToken(r, got)
	if sameOrigin(r) && bound {
		c.render(w, r, nil, http.StatusForbidden, "signin", "Sign in", map[string]any{"Next": next, "Error": "A token bound to some sources cannot sign in to the console yet: use one of the read, write or admin scope for every source."})
		return
	}
	if !sameOrigin(r) || !ok {
		c.cfg.Logger.Info("console sign-in with a wrong token", "client", addr)
		c.signins.failed(addr)
		c.render(w, r, nil, http.StatusUnauthorized, "signin", "Sign in", map[string]any{"Next": next, "Error": "That is not the admin token. It is in the data directory's admin-token file, or in --admin-token / INLET_ADMIN_TOKEN."})
		return
	}
	c.signins.succeeded(addr)
	id, _ := c.sessions.create(tokenID)
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: c.secureCookie(r), MaxAge: int(c.cfg.SessionTTL / time.Second),
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signInToken tells whether hash is the SHA-256 of the admin token (an
// empty id) or of a usable API token (its id). A token bound to sources
// is refused (bound): the console's pages read the store for every
// source.
func (c *Console) signInToken(r *http.Request, hash [32]byte) (id string, ok, bound bool) {
	if subtle.ConstantTimeCompare(hash[:], c.tokenHash[:]) == 1 {
		return "", true, false
	}
	if c.cfg.Tokens == nil {
		return "", false, false
	}
	tok, err := c.cfg.Tokens.FindTokenByHash(r.Context(), hash)
	if err != nil || !tok.Usable(c.now()) {
		return "", false, false
	}
	if len(tok.Sources) > 0 {
		return "", false, true
	}
	return tok.ID, true, false
}

func (c *Console) handleSignOut(w http.ResponseWriter, r *http.Request, _ *session) {
	if ck, err := r.Cookie(CookieName); err == nil {
		c.sessions.end(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secureCookie(r), MaxAge: -1})
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}

// secureCookie reports whether the session cookie is sent over HTTPS
// only: when the browser reached the console over HTTPS, or the public URL
// is an https one.
func (c *Console) secureCookie(r *http.Request) bool {
	return c.https(r) || strings.HasPrefix(strings.ToLower(c.cfg.PublicURL), "https://")
}

// clientIP is the address a sign-in is limited by.
func (c *Console) clientIP(r *http.Request) string {
	if c.cfg.ClientIP != nil {
		return c.cfg.ClientIP(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// https reports whether the browser reached the console over HTTPS.
func (c *Console) https(r *http.Request) bool {
	if c.cfg.HTTPS != nil {
		return c.cfg.HTTPS(r)
	}
	return r.TLS != nil
}

func (c *Console) destinationsChanged() {
	if c.cfg.DestinationsChanged != nil {
		c.cfg.DestinationsChanged()
	}
}

// safeNext keeps a redirect target inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/console/"
	}
	return next
}

// view is what every page template gets.
type view struct {
	Title string
	Nav   string
	CSRF  string
	Data  any
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, sess *session, status int, name, title string, data any) {
	t, ok := c.pages[name]
	if !ok {
		panic("console: no template " + name)
	}
	v := view{Title: title, Nav: name, Data: data}
	if sess != nil {
		v.CSRF = sess.CSRF
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.cfg.Logger.Error("console template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(escapeBidi(buf.Bytes()))
}

// bidiControls are the characters that change the reading direction of
// what follows them (U+202A to U+202E, U+2066 to U+2069): a value holding
// one could show a name that reads otherwise than it is.
var bidiControls = strings.NewReplacer(
	"\u202a", "[U+202A]", "\u202b", "[U+202B]", "\u202c", "[U+202C]", "\u202d", "[U+202D]", "\u202e", "[U+202E]",
	"\u2066", "[U+2066]", "\u2067", "[U+2067]", "\u2068", "[U+2068]", "\u2069", "[U+2069]")

// escapeBidi shows every bidirectional control character of a page as
// its code point. The templates hold none, so every one comes from a
// value; the replacement is HTML-escaped text.
func escapeBidi(page []byte) []byte {
	if !bytes.ContainsAny(page, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069") {
		return page
	}
	return []byte(bidiControls.Replace(string(page)))
}

// renderError shows an error page; the status follows the error code.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, sess *session, status int, message string) {
	c.render(w, r, sess, status, "error", "Error", map[string]any{"Status": status, "Message": message})
}

// fail shows err: its message for a coded error, "internal error" (and a
// log line) for the rest.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	status := http.StatusInternalServerError
	msg := "Internal error; the server log has the details."
	switch inlet.ErrorCode(err) {
	case inlet.ENOTFOUND:
		status, msg = http.StatusNotFound, inlet.ErrorMessage(err)
	case inlet.EINVALID:
		status, msg = http.StatusBadRequest, inlet.ErrorMessage(err)
	case inlet.ECONFLICT:
		status, msg = http.StatusConflict, inlet.ErrorMessage(err)
	case inlet.EUNAVAILABLE:
		status, msg = http.StatusServiceUnavailable, inlet.ErrorMessage(err)
	default:
		c.cfg.Logger.Error("console", "path", r.URL.Path, "err", err)
	}
	c.renderError(w, r, sess, status, msg)
}
