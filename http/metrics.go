package http

import (
	"net/http"
	"sync"
	"time"

	"inlet"
)

// Metrics is told of the requests the server answers; prometheus.Metrics is
// one. Its methods run on the request path: they must be cheap and safe for
// concurrent use.
type Metrics interface {
	// CollectAnswered reports one collect request: the id of the
	// registered source it named ("" when it named none the store knows),
	// its method, the status answered, the reason of a refusal as answered
	// in error.code ("" for a success), and how long it took.
	CollectAnswered(source, method string, status int, reason string, took time.Duration)
	// Answered reports how long a request of another route class took.
	Answered(class string, took time.Duration)
}

// observed times the requests of the admin and public routes. Collect
// requests are reported by handleCollect, with more; routes of any other
// class (a long-lived stream, say) are not timed.
func (s *Server) observed(class string, h http.Handler) http.Handler {
	if s.cfg.Metrics == nil || class != ClassAdmin && class != ClassPublic {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		s.cfg.Metrics.Answered(class, time.Since(start))
	})
}

// metricsAuth guards the metrics with their token, when one is set.
func (s *Server) metricsAuth(h http.Handler) http.Handler {
	if s.cfg.MetricsToken == "" {
		return h
	}
	return bearer("metrics", &s.metricsTokenHash, h)
}

// handleCollect serves GET and POST /collect/{event_type}/{source_id}[/{session_id}]
// (see serveCollect) and reports each answer to the metrics.
func (s *Server) handleCollect(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Metrics == nil {
		s.serveCollect(w, r)
		return
	}
	start := time.Now()
	cw := collectWriters.Get().(*collectWriter)
	cw.ResponseWriter = w
	s.serveCollect(cw, r)
	status := cw.status
	if status == 0 {
		status = http.StatusOK // written without WriteHeader
	}
	s.cfg.Metrics.CollectAnswered(cw.source, r.Method, status, cw.reason, time.Since(start))
	*cw = collectWriter{}
	collectWriters.Put(cw)
}

// refuseBeforeRouting refuses a collect request that no route was chosen
// for (its path is not clean), and reports it to the metrics like any
// collect answer.
func (s *Server) refuseBeforeRouting(w http.ResponseWriter, r *http.Request, err error) {
	if s.cfg.Metrics == nil {
		s.reject(w, r, nil, nil, err)
		return
	}
	start := time.Now()
	cw := &collectWriter{ResponseWriter: w}
	s.reject(cw, r, nil, nil, err)
	s.cfg.Metrics.CollectAnswered("", r.Method, cw.status, cw.reason, time.Since(start))
}

// collectWriter is the ResponseWriter of a collect request: it keeps what
// the metrics are told of the answer. Pooled: it would be one allocation a
// request.
type collectWriter struct {
	http.ResponseWriter
	status int
	reason string // error.code of an error answer
	source string // id of the registered source the request named
}

var collectWriters = sync.Pool{New: func() any { return new(collectWriter) }}

// WriteHeader implements http.ResponseWriter.
func (w *collectWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

// Unwrap returns the server's ResponseWriter, for http.ResponseController.
func (w *collectWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// noteSource tells the metrics which registered source a collect request
// named.
func noteSource(w http.ResponseWriter, source *inlet.Source) {
	if cw, ok := w.(*collectWriter); ok {
		cw.source = source.ID
	}
}

// noteReason tells the metrics the reason of an error answer.
func noteReason(w http.ResponseWriter, reason string) {
	if cw, ok := w.(*collectWriter); ok {
		cw.reason = reason
	}
}

// serverWriter returns the server's own ResponseWriter under a
// collectWriter: http.MaxBytesReader tells the server through it to close
// the connection after a body over its limit, which it cannot through a
// wrapper.
func serverWriter(w http.ResponseWriter) http.ResponseWriter {
	if cw, ok := w.(*collectWriter); ok {
		return cw.ResponseWriter
	}
	return w
}
