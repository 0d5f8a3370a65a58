// Package http is the HTTP transport: the public collect endpoints, the
// admin API, health checks, and a client of the admin API for the CLI.
package http

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"inlet"
	"inlet/catalog"
	"inlet/collector"
	"inlet/rejection"
	"inlet/stream"
)

// The defaults of Config's zero bounds; inlet serve's flags start from
// them.
const (
	// DefaultMaxInFlight bounds concurrent collect requests.
	DefaultMaxInFlight = 4096
	// DefaultMaxBodyMemory bounds the bytes of request bodies that
	// collect handlers hold at once.
	DefaultMaxBodyMemory = 256 << 20
)

// Config configures a Server. Store and Collector are required.
type Config struct {
	Store inlet.Store
	// Collector takes the collect requests, and the dry runs of the admin
	// API.
	Collector *collector.Collector
	// Suppressed, when set, is the list of suppressed identifiers that
	// erasing a profile adds to; the collector reads it.
	Suppressed *inlet.SuppressionList
	Logger     *slog.Logger

	// AdminToken guards /api/v1 with the admin scope; it must not be
	// empty.
	AdminToken string
	// Tokens, when set, holds the API tokens accepted beside AdminToken,
	// each with its scope.
	Tokens inlet.TokenStore
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// MaxInFlight bounds concurrent collect requests (DefaultMaxInFlight);
	// over it, collect answers 503.
	MaxInFlight int64
	// MaxBodyMemory bounds the bytes of request bodies held by collect
	// handlers at once (DefaultMaxBodyMemory); over it, collect answers 503.
	MaxBodyMemory int64
	// Stats, when set, is shown at /api/v1/stats.
	Stats func() any
	// Rejections, when set, records rejected collect requests and serves
	// /api/v1/rejections; the caller closes it after the server.
	Rejections *rejection.Log
	// Refusals bounds the refusals of requests that prove no source.
	Refusals RefusalBudget
	// Broker, when set, serves the live stream at /api/v1/events/stream;
	// the caller closes it before shutting the server down, which ends
	// the streams.
	Broker *stream.Broker
	// StreamHeartbeat is how often an idle stream sends a comment
	// (DefaultHeartbeat).
	StreamHeartbeat time.Duration
	// ConsoleSignIn, when set, tells whether a request carries a live
	// sign-in of the console and returns its API token (nil for the admin
	// token); the live stream accepts it beside a bearer token, with the
	// token's scope and sources.
	ConsoleSignIn func(*http.Request) (*inlet.Token, bool)
	// Console, when set, serves the web console under /console/.
	Console http.Handler
	// PublicURL is the collector's base URL as senders call it (scheme,
	// host, any path prefix a proxy strips), for signatures over the URL
	// (twilio); empty: the connection's scheme and the Host header.
	PublicURL string
	// Catalog, when set, is the recorder of the schema catalog, whose
	// counters /api/v1/stats shows.
	Catalog *catalog.Recorder
	// ValidateDestination checks a destination with its type's config
	// (Destination.Validate when nil); DestinationsChanged, when set, is
	// called after a change of destinations.
	ValidateDestination func(*inlet.Destination) error
	DestinationsChanged func()
	// TryDestination, when set, is a destination's dry run on one stored
	// event (POST /api/v1/destinations/{id}/try); it sends nothing.
	TryDestination func(context.Context, *inlet.Destination, *inlet.Event) (*inlet.DestinationTry, error)

	// Metrics, when set, is told of every request.
	Metrics Metrics
	// MetricsHandler, when set, is served at GET /metrics: to anyone, or
	// only to requests bearing MetricsToken when that is set.
	MetricsHandler http.Handler
	MetricsToken   string
}

// Server serves the collector's HTTP API.
type Server struct {
	cfg       Config
	mux       *recordingMux
	tokenHash [32]byte
	inFlight  atomic.Int64
	bodyBytes atomic.Int64 // reserved by collect handlers for bodies
	refusals  *refusalLimiter
	now       func() time.Time

	metricsTokenHash [32]byte
	touched          sync.Map          // token ID -> when this node last recorded its use
	scopes           map[string]string // route pattern -> the scope it needs
}

// NewServer returns a Server with its routes.
func NewServer(cfg Config) *Server {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxBodyMemory <= 0 {
		cfg.MaxBodyMemory = DefaultMaxBodyMemory
	}
	s := &Server{cfg: cfg, mux: &recordingMux{ServeMux: http.NewServeMux()}, tokenHash: sha256.Sum256([]byte(cfg.AdminToken)), refusals: newRefusalLimiter(cfg.Refusals), now: time.Now, scopes: map[string]string{}}
	if cfg.MetricsToken != "" {
		s.metricsTokenHash = sha256.Sum256([]byte(cfg.MetricsToken))
	}
	for _, rt := range s.routeTable() {
		h := rt.handler
		s.scopes[rt.pattern] = rt.scope
		if rt.scope != ScopePublic {
			h = s.authorize(rt.pattern, rt.scope, h)
		}
		h = s.audited(rt.pattern, h)
		s.mux.Handle(rt.pattern, s.observed(rt.class, h))
	}
	// Not a route: the answer to every request no route takes.
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		Error(w, r, inlet.Reasonf(inlet.ENOTFOUND, "no_route", "no endpoint at %s %s; collect with GET or POST /collect/{event_type}/{source_id}[/{session_id}]", r.Method, r.URL.Path), nil)
	})
	return s
}

// Route classes, which group routes in the latency metrics.
const (
	ClassCollect = "collect" // the collect endpoints, timed by handleCollect itself
	ClassAdmin   = "admin"   // the admin API
	ClassPublic  = "public"  // probes, metrics and the API description
	ClassStream  = "stream"  // long-lived answers (the live stream, exports, imports): not timed
	ClassConsole = "console" // the web console's pages
)

// route is one endpoint of the server.
type route struct {
	// pattern is the http.ServeMux pattern: a method and a path, or a path
	// alone for a route that takes any method (its handler answers the
	// methods it refuses).
	pattern string
	// class groups the route in the latency metrics.
	class string
	// scope is the token scope the route needs (inlet.ScopeRead, ScopeWrite,
	// ScopeAdmin), or ScopePublic for a route that checks no API token.
	scope   string
	handler http.Handler
}

// routeTable is every route the server serves. A new route goes here and
// in openapi.json, which a test holds to the routes registered.
func (s *Server) routeTable() []route {
	rts := []route{
		{"/collect/{event_type}/{source_id}", ClassCollect, ScopePublic, http.HandlerFunc(s.handleCollect)},
		{"/collect/{event_type}/{source_id}/{session_id}", ClassCollect, ScopePublic, http.HandlerFunc(s.handleCollect)},

		{"GET /healthz", ClassPublic, ScopePublic, http.HandlerFunc(s.handleHealth)},
		{"GET /readyz", ClassPublic, ScopePublic, http.HandlerFunc(s.handleReady)},
		{"GET /api/v1/openapi.json", ClassPublic, ScopePublic, http.HandlerFunc(handleOpenAPI)},

		{"POST /api/v1/sources", ClassAdmin, inlet.ScopeWrite, http.HandlerFunc(s.handleCreateSource)},
		{"GET /api/v1/sources", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleListSources)},
		{"GET /api/v1/sources/{id}", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleGetSource)},
		{"PATCH /api/v1/sources/{id}", ClassAdmin, inlet.ScopeWrite, http.HandlerFunc(s.handleUpdateSource)},
		{"DELETE /api/v1/sources/{id}", ClassAdmin, inlet.ScopeWrite, http.HandlerFunc(s.handleDeleteSource)},
		{"GET /api/v1/events", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleListEvents)},
		{"GET /api/v1/events/stream", ClassStream, inlet.ScopeRead, consoleSignInOK(s.handleStream)},
		{"GET /api/v1/events/{id}", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleGetEvent)},
		{"GET /api/v1/log", ClassStream, inlet.ScopeRead, http.HandlerFunc(s.handleReadLog)},
		{"GET /api/v1/profiles", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleFindProfiles)},
		{"GET /api/v1/profiles/{id}", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleGetProfile)},
		{"GET /api/v1/sessions/{id}", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleGetSession)},
		{"GET /api/v1/stats", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleStats)},
		{"GET /api/v1/rejections", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleListRejections)},
		{"GET /api/v1/rejections/counts", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleCountRejections)},
		{"POST /api/v1/sources/{id}/try", ClassAdmin, inlet.ScopeWrite, http.HandlerFunc(s.handleTrySource)},
		{"GET /api/v1/catalog", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleListCatalog)},
		{"GET /api/v1/catalog/{source}/{type}", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleGetCatalog)},
		{"GET /api/v1/catalog/{source}/{type}/schema", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleCatalogSchema)},
		{"GET /api/v1/audit", ClassAdmin, inlet.ScopeAdmin, http.HandlerFunc(s.handleListAudit)},
	}
	rts = append(rts, s.destinationRoutes()...)
	rts = append(rts, s.privacyRoutes()...)
	rts = append(rts, s.exportRoutes()...)
	rts = append(rts, s.tokenRoutes()...)
	rts = append(rts, s.secretRoutes()...)
	if s.cfg.Console != nil {
		rts = append(rts,
			route{"/console/", ClassConsole, ScopePublic, s.cfg.Console},
			route{"GET /console", ClassConsole, ScopePublic, http.RedirectHandler("/console/", http.StatusFound)})
	}
	if s.cfg.MetricsHandler != nil {
		rts = append(rts, route{"GET /metrics", ClassPublic, ScopePublic, s.metricsAuth(s.cfg.MetricsHandler)})
	}
	return rts
}

// Patterns returns the pattern of every route the server serves, however
// it was registered, but the fallback that answers the rest with a 404.
func (s *Server) Patterns() []string {
	var out []string
	for _, p := range s.mux.patterns {
		if p != "/" {
			out = append(out, p)
		}
	}
	return out
}

// Scope returns the token scope the route of pattern needs (ScopePublic
// for a route that checks no API token), and false for no such route.
func (s *Server) Scope(pattern string) (string, bool) {
	scope, ok := s.scopes[pattern]
	return scope, ok
}

// recordingMux is an http.ServeMux that remembers the patterns registered
// on it, so that a test can hold the OpenAPI document to every route.
type recordingMux struct {
	*http.ServeMux
	patterns []string
}

// Handle registers h for pattern, as http.ServeMux.Handle does.
func (m *recordingMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

// HandleFunc registers h for pattern, as http.ServeMux.HandleFunc does.
func (m *recordingMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// ServeHTTP implements http.Handler.
// A path that is not clean (with "." or ".." segments, or "//") is a 400:
// the mux would redirect it to another endpoint, an answer webhook senders
// do not follow.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; !isCleanPath(p) {
		err := inlet.Reasonf(inlet.EINVALID, "bad_path", "the URL path has empty, '.' or '..' segments; ids may not be '.' or '..'")
		if strings.HasPrefix(p, "/collect/") {
			s.refuseBeforeRouting(w, r, err) // counted in the rejected-request log and the metrics like every refused collect request
		} else {
			Error(w, r, err, nil)
		}
		return
	}
	s.mux.ServeHTTP(w, r)
}

// isCleanPath reports whether p is its own clean form, as the mux sees it.
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		np += "/"
	}
	return np == p
}

// HTTPServer returns an *http.Server for the handler with every timeout set,
// so that slow or huge requests cannot hold connections.
func HTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Store.Ping(ctx); err != nil {
		s.cfg.Logger.Warn("not ready", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "message": inlet.ErrorMessage(err)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// bearer guards h with a bearer token, given as its SHA-256 (so that the
// comparison takes the same time whatever the token); name says which
// token in the error message.
func bearer(name string, hash *[32]byte, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const prefix = "Bearer "
		auth := r.Header.Get("Authorization")
		if len(auth) <= len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) { // the scheme is case-insensitive
			Error(w, r, inlet.Reasonf(inlet.EUNAUTHORIZED, "unauthorized", "send the %s token as 'Authorization: Bearer <token>'", name), nil)
			return
		}
		got := sha256.Sum256([]byte(auth[len(prefix):]))
		if subtle.ConstantTimeCompare(got[:], hash[:]) != 1 {
			Error(w, r, inlet.Reasonf(inlet.EUNAUTHORIZED, "unauthorized", "the %s token is wrong", name), nil)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// codes maps error codes to HTTP status codes.
var codes = map[string]int{
	inlet.EINVALID:      http.StatusBadRequest,
	inlet.ENOTFOUND:     http.StatusNotFound,
	inlet.ECONFLICT:     http.StatusConflict,
	inlet.EUNAUTHORIZED: http.StatusUnauthorized,
	inlet.EFORBIDDEN:    http.StatusForbidden,
	inlet.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	inlet.EUNAVAILABLE:  http.StatusServiceUnavailable,
	inlet.ERATELIMITED:  http.StatusTooManyRequests,
	inlet.EUNSUPPORTED:  http.StatusMethodNotAllowed,
	inlet.EINTERNAL:     http.StatusInternalServerError,
}

// StatusCode returns the HTTP status for an error code.
func StatusCode(code string) int {
	if s, ok := codes[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Error answers err as JSON. Internal errors are logged in full and answered
// as "internal error"; unavailable ones carry Retry-After.
func Error(w http.ResponseWriter, r *http.Request, err error, logger *slog.Logger) {
	if r.Context().Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// The client went away while waiting; its events may still be
		// committed, but nobody reads this answer.
		err = inlet.Errorf(inlet.EUNAVAILABLE, "the request was cancelled before its events were confirmed")
		logger = nil
	}
	code := inlet.ErrorCode(err)
	status := StatusCode(code)
	if logger != nil {
		if code == inlet.EINTERNAL {
			logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		} else if code == inlet.EUNAVAILABLE {
			logger.Warn("unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(err)))
	}
	noteAuditError(r, err)
	var body ErrorBody
	body.Error.Code = inlet.ErrorReason(err)
	noteReason(w, body.Error.Code)
	body.Error.Message = inlet.ErrorMessage(err)
	writeJSON(w, status, &body)
}

// RetryAfterError is an error that says how many seconds to wait.
type RetryAfterError interface {
	RetryAfter() int
}

func retryAfter(err error) int {
	var ra RetryAfterError
	if errors.As(err, &ra) && ra.RetryAfter() > 0 {
		return ra.RetryAfter()
	}
	return 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":{"code":"internal","message":"internal error"}}`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// clientIP returns the address of the client: see ClientIP.
func (s *Server) clientIP(r *http.Request) string {
	return ClientIP(r, s.cfg.TrustedProxies)
}

// ClientIP returns the address of r's client: the peer, or, when the peer
// is one of the trusted proxies, the last address in X-Forwarded-For that
// is not one.
func ClientIP(r *http.Request, proxies []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(proxies) == 0 {
		return host
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !trustedAddr(peer, proxies) {
		return host
	}
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for end := len(v); end > 0; {
			start := end - 1
			for start >= 0 && v[start] != ',' {
				start--
			}
			addr, err := netip.ParseAddr(trimSpace(v[start+1 : end]))
			if err != nil {
				return host // a malformed hop: stop believing the chain
			}
			if !trustedAddr(addr, proxies) {
				return addr.Unmap().String()
			}
			host = addr.Unmap().String()
			end = start
		}
	}
	return host
}

// HTTPS reports whether r's client reached the collector over HTTPS: a
// TLS connection, or a trusted proxy's X-Forwarded-Proto of https.
func HTTPS(r *http.Request, proxies []netip.Prefix) bool {
	if r.TLS != nil {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !trustedAddr(peer, proxies) {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

func trustedAddr(a netip.Addr, proxies []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
