// Package console is the web console of the collector, served at /console/
// by the same binary: server-rendered pages (html/template, which escapes
// every value) over the store, one small script for the live page, and
// every asset embedded, so that it works with no network.
//
// Signing in with the admin token or an API token keeps a server-side
// sign-in named by a random HttpOnly, SameSite=Strict cookie; every form
// that changes something also carries the sign-in's CSRF token. A page
// shows, and the server allows, what the token's scope allows; a token
// bound to sources sees only them. Every answer carries a
// Content-Security-Policy that allows no inline script and nothing from
// elsewhere.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
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

// CookieName is the sign-in cookie.
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
	// each with its scope: a page shows only what its scope allows, and a
	// form its scope does not allow answers 403.
	Tokens inlet.TokenStore
	// SignInFile, when set, keeps the sign-ins across restarts.
	SignInFile string
	// MaxSignIns bounds the signed-in browsers (100); beyond, the oldest
	// is signed out.
	MaxSignIns int
	// SignInTTL is how long a sign-in lasts (12h).
	SignInTTL time.Duration
	// PublicURL, when set, is the collector's base URL as senders call
	// it: collect URLs and curl samples use it rather than the Host
	// header. An https one also makes the sign-in cookie Secure.
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
	signIns   *signIns
	tokenHash [32]byte
	attempts  *signInGuard
	now       func() time.Time
}

// New returns the console.
func New(cfg Config) *Console {
	if cfg.MaxSignIns <= 0 {
		cfg.MaxSignIns = 100
	}
	if cfg.SignInTTL <= 0 {
		cfg.SignInTTL = 12 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Console{cfg: cfg, mux: http.NewServeMux(), tokenHash: sha256.Sum256([]byte(cfg.AdminToken)), now: time.Now}
	c.attempts = newSignInGuard(func() time.Time { return c.now() })
	c.signIns = newSignIns(cfg.MaxSignIns, cfg.SignInTTL, cfg.SignInFile, cfg.Logger, c.now)
	c.pages = parsePages()

	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	c.mux.HandleFunc("GET /console/signin", c.handleSignInPage)
	c.mux.HandleFunc("POST /console/signin", c.handleSignIn)
	c.mux.Handle("POST /console/signout", c.post(inlet.ScopeRead, ownSources, c.handleSignOut))

	// A token bound to sources opens what the API opens to it (the pages of
	// its sources and their events), sees only them, and is refused what
	// spans every source: destinations, deliveries' actions, the visitors'
	// sessions and profiles.
	c.mux.Handle("GET /console/{$}", c.page(inlet.ScopeRead, ownSources, c.handleOverview))
	c.mux.Handle("GET /console/sources", c.page(inlet.ScopeRead, ownSources, c.handleSources))
	c.mux.Handle("GET /console/sources/new", c.page(inlet.ScopeWrite, everySource, c.handleNewSource))
	c.mux.Handle("POST /console/sources", c.post(inlet.ScopeWrite, everySource, c.handleCreateSource))
	c.mux.Handle("GET /console/sources/{id}", c.page(inlet.ScopeRead, ownSources, c.handleSource))
	c.mux.Handle("POST /console/sources/{id}", c.post(inlet.ScopeWrite, ownSources, c.handleUpdateSource))
	c.mux.Handle("POST /console/sources/{id}/enabled", c.post(inlet.ScopeWrite, ownSources, c.handleSetEnabled))
	c.mux.Handle("GET /console/live", c.page(inlet.ScopeRead, ownSources, c.handleLive))
	c.mux.Handle("GET /console/events", c.page(inlet.ScopeRead, ownSources, c.handleEvents))
	c.mux.Handle("GET /console/events/{id}", c.page(inlet.ScopeRead, ownSources, c.handleEvent))
	c.mux.Handle("POST /console/events/{id}/deliveries/{destination}/{action}", c.post(inlet.ScopeWrite, everySource, c.handleEventDelivery))
	c.mux.Handle("GET /console/sessions/{id}", c.page(inlet.ScopeRead, everySource, c.handleSession))
	c.mux.Handle("GET /console/profiles/{id}", c.page(inlet.ScopeRead, everySource, c.handleProfile))
	c.mux.Handle("GET /console/rejections", c.page(inlet.ScopeRead, ownSources, c.handleRejections))
	c.mux.Handle("GET /console/catalog", c.page(inlet.ScopeRead, ownSources, c.handleCatalog))
	c.mux.Handle("GET /console/audit", c.page(inlet.ScopeAdmin, everySource, c.handleAudit))
	c.mux.Handle("GET /console/destinations", c.page(inlet.ScopeRead, everySource, c.handleDestinations))
	c.mux.Handle("GET /console/destinations/{id}", c.page(inlet.ScopeRead, everySource, c.handleDestination))
	c.mux.Handle("POST /console/destinations/{id}", c.post(inlet.ScopeWrite, everySource, c.handleUpdateDestination))
	c.mux.Handle("POST /console/destinations/{id}/{action}", c.post(inlet.ScopeWrite, everySource, c.handleDestinationAction))
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

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age="+strconv.Itoa(int(d.Seconds())))
		h.ServeHTTP(w, r)
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

// secureCookie reports whether the sign-in cookie is sent over HTTPS
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
	// Viewer, nil before signing in, says what the token allows: a page
	// shows a link, a button or a form only when it does.
	Viewer *viewer
	Data   any
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, v *viewer, status int, name, title string, data any) {
	t, ok := c.pages[name]
	if !ok {
		panic("console: no template " + name)
	}
	page := view{Title: title, Nav: name, Viewer: v, Data: data}
	if v != nil {
		page.CSRF = v.in.CSRF
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", page); err != nil {
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
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, v *viewer, status int, message string) {
	c.render(w, r, v, status, "error", "Error", map[string]any{"Status": status, "Message": message})
}

// fail shows err: its message for a coded error, "internal error" (and a
// log line) for the rest.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
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
	c.renderError(w, r, v, status, msg)
}
