// Command inlet runs the webhook collector (inlet serve) and talks to a
// running one through its admin API (inlet sources, inlet events, ...).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // profiles on --pprof-addr only: the API uses its own mux
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"inlet"
	"inlet/batch"
	"inlet/catalog"
	"inlet/collector"
	"inlet/deliver"
	inlethttp "inlet/http"
	"inlet/http/console"
	"inlet/prometheus"
	"inlet/rejection"
	"inlet/sqlite"
	"inlet/stream"
)

func main() {
	// run prints what went wrong; the exit code says that it did.
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		os.Exit(1)
	}
}

// serve runs the collector of cfg until ctx ends or a signal comes.
func serve(ctx context.Context, cfg Config, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	tuneGC(os.Getenv, cfg)
	m := NewMain(cfg, logger)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		m.Close()
		return &startError{err}
	}
	<-ctx.Done()
	logger.Info("shutting down: draining requests and flushing events")
	return m.Close()
}

// tuneGC trades memory for CPU unless GOGC or GOMEMLIMIT say otherwise:
// the collect path allocates a little per request, and collecting less
// often frees CPU for requests; the soft limit keeps the heap bounded.
// 200 (a heap up to three times what is live) keeps the peak RSS of the
// heaviest benchmark scenario under 200 MB; 400 cost 50 MB more there for
// no throughput that a benchmark could tell from noise.
func tuneGC(getenv func(string) string, cfg Config) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit(cfg))
	}
}

// memoryLimit is the soft memory limit that the budgets of cfg fit in: the
// bodies held by handlers, the writer's queue and its one large request
// (a body at the largest source limit, stored as base64), and a base for
// caches, connections and the runtime. A smaller limit would make the
// collector spend its CPU on garbage collection exactly when the budgets
// fill up, under load.
func memoryLimit(cfg Config) int64 {
	const base = 96 << 20
	largest := int64(inlet.MaxBodyBytesLimit)*4/3 + 1<<20
	return inlethttp.DefaultMaxBodyMemory + cfg.QueueBytes + largest + base
}

// Main is the running collector: store, writer and HTTP server.
type Main struct {
	Config Config
	Logger *slog.Logger

	store      inlet.Store
	writer     *batch.Writer
	server     *http.Server
	ln         net.Listener
	served     chan error
	retain     *retention
	rejections *rejection.Log
	broker     *stream.Broker
	lock       *os.File     // the data directory's lock, held until Close
	started    bool         // Run succeeded: Close may say it stopped cleanly
	pprof      *http.Server // nil without --pprof-addr
	// catalog is nil when the schema catalog is off.
	catalog *catalog.Recorder
	deliver *deliver.Service
}

// NewMain returns a Main for cfg.
func NewMain(cfg Config, logger *slog.Logger) *Main {
	return &Main{Config: cfg, Logger: logger}
}

// Run opens the store and starts serving; it returns once the listener is
// open. Close stops everything.
func (m *Main) Run(ctx context.Context) error {
	// Nothing is created on disk for a configuration that cannot run.
	if err := m.Config.Validate(); err != nil {
		return err
	}
	if err := m.claimDataDir(); err != nil {
		return err
	}
	// Listening before the token and the store are made means a busy port
	// leaves nothing behind but the directory.
	if err := m.listen(); err != nil {
		return err
	}
	token, err := m.adminToken()
	if err != nil {
		return err
	}
	hashKey, err := m.open(ctx)
	if err != nil {
		return err
	}
	m.retain = startRetention(m.store, m.Config.Retention, m.Config.AuditRetention, m.Logger)
	metrics := newMetrics(m.store)
	m.startConsumers(metrics)
	m.startWriters(metrics)
	m.serve(m.handler(token, hashKey, metrics))
	m.logListening()
	m.started = true
	return nil
}

// claimDataDir makes the data directory and locks it, so that no other
// process opens it meanwhile.
func (m *Main) claimDataDir() error {
	if err := mkdirSynced(m.Config.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	lock, err := lockDataDir(m.Config.DataDir)
	if err != nil {
		return err
	}
	m.lock = lock
	return nil
}

// listen opens the listener of the API.
func (m *Main) listen() error {
	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return err
	}
	m.ln = ln
	return nil
}

// open opens the store and reads its hash key.
func (m *Main) open(ctx context.Context) ([]byte, error) {
	db, err := openStore(ctx, m.Config)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	m.store = db
	hashKey, err := db.HashKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the hash key: %w", err)
	}
	return hashKey, nil
}

// startConsumers starts what reads committed events: the live stream,
// the schema catalog (when on) and delivery.
func (m *Main) startConsumers(metrics *prometheus.Metrics) {
	m.broker = stream.New(stream.Options{})
	metrics.WatchStream(func() (int, int64, int64) { s := m.broker.Stats(); return s.Subscribers, s.Published, s.Dropped })
	if m.Config.Catalog {
		m.catalog = catalog.NewRecorder(m.store, catalog.Options{Interval: m.Config.CatalogInterval}, m.Logger)
	}
	m.deliver = deliver.New(m.store, deliver.Options{Lease: m.Config.DeliveryLease, InFlight: m.Config.DeliveryInFlight, Metrics: metrics}, m.Logger)
	m.deliver.Start()
}

// startWriters starts the background writers: the batch writer of events,
// which tells every consumer of each commit, and the rejected-request log.
func (m *Main) startWriters(metrics *prometheus.Metrics) {
	cfg := m.Config
	m.writer = batch.NewWriter(m.store, batch.Options{
		MaxBatch:   cfg.BatchMax,
		MaxWait:    cfg.BatchWait,
		QueueSize:  cfg.QueueSize,
		QueueBytes: cfg.QueueBytes,
		OnCommit:   batch.Tell(m.broker.Publish, m.recordCatalog, m.notifyDelivery),
		Observer:   metrics,
	}, m.Logger)
	metrics.WatchQueue(func() (int, int64) { s := m.writer.Stats(); return s.Queued, s.QueuedBytes })
	m.rejections = rejection.NewLog(m.store, rejection.Options{
		Bounds: inlet.RejectionBounds{MaxCount: cfg.RejectionsMaxCount, MaxBytes: cfg.RejectionsMaxBytes},
	}, m.Logger)
}

// recordCatalog hands committed events to the schema catalog, when it is
// on.
func (m *Main) recordCatalog(events []*inlet.Event) { m.catalog.Record(events...) }

// notifyDelivery has delivery read the log now rather than at its next
// poll.
func (m *Main) notifyDelivery([]*inlet.Event) { m.deliver.Notify() }

// handler is the API: the collector, the admin API and the console.
func (m *Main) handler(token string, hashKey []byte, metrics *prometheus.Metrics) http.Handler {
	cfg, db := m.Config, m.store
	sources := inlet.NewSourceCache(db, cfg.SourceTTL)
	suppressed := inlet.NewSuppressionList(db, hashKey, 2*time.Second)
	web := m.console(db, sources, token, metrics)
	return inlethttp.NewServer(inlethttp.Config{
		Store: db,
		Collector: collector.New(collector.Config{
			Sources:    sources,
			Appender:   m.writer,
			Suppressed: suppressed,
			HashKey:    hashKey,
		}),
		Suppressed:     suppressed,
		Logger:         m.Logger,
		AdminToken:     token,
		Tokens:         tokenStore(db),
		TrustedProxies: cfg.TrustedProxies,
		MaxInFlight:    cfg.MaxInFlight,
		Stats:          func() any { return m.writer.Stats() },
		Rejections:     m.rejections,
		Broker:         m.broker,
		Console:        web,
		ConsoleSignIn:  web.SignedIn,
		PublicURL:      cfg.PublicURL,
		Catalog:        m.catalog,
		Metrics:        metrics,
		MetricsHandler: metrics.Handler(),
		MetricsToken:   cfg.MetricsToken,

		ValidateDestination: deliver.Validate,
		TryDestination:      deliver.Try,
		DestinationsChanged: m.deliver.Refresh,
	})
}

// serve serves handler on the listener, and the profiles on --pprof-addr.
func (m *Main) serve(handler http.Handler) {
	m.server = inlethttp.HTTPServer(handler, m.Logger)
	m.served = make(chan error, 1)
	go func() { m.served <- m.server.Serve(m.ln) }()
	if m.Config.PprofAddr != "" {
		m.pprof = startPprof(m.Config.PprofAddr, m.Logger)
	}
}

// logListening says where the collector listens and what it stores in.
func (m *Main) logListening() {
	cfg := m.Config
	if cfg.DB != "" { // --sync is SQLite's; PostgreSQL commits are as durable as its own settings make them
		m.Logger.Info("inlet listening", "addr", m.ln.Addr().String(), "data", cfg.DataDir, "store", storeName(cfg))
		return
	}
	m.Logger.Info("inlet listening", "addr", m.ln.Addr().String(), "data", cfg.DataDir, "store", storeName(cfg), "sync", cfg.Sync)
	if cfg.Sync == sqlite.SyncOff {
		m.Logger.Warn("--sync off: events are never synced to disk; a power cut or kernel crash loses every event since the last synced checkpoint (the last change of a source or destination) and may corrupt the database; sources and destinations themselves are always synced")
	}
}

// Addr is the address the server listens on, once Run has returned.
func (m *Main) Addr() string {
	return m.ln.Addr().String()
}

// URL is the server's base URL, once Run has returned.
func (m *Main) URL() string {
	return "http://" + m.Addr()
}

// rejectionLogShutdown bounds the rejected-request log's last flush: one
// small transaction.
const rejectionLogShutdown = 5 * time.Second

// Close stops accepting requests, waits for those in flight, writes the
// rejected-request log, commits what the writer holds and closes the
// store. Each stage has its own deadline, so that a slow HTTP drain never
// eats the writer's time: the HTTP server and the writer get
// ShutdownTimeout each, the rejected-request log rejectionLogShutdown. A
// store still being written when a deadline passes is left
// open rather than closed under the commit; the file stays consistent
// and the process is about to exit.
func (m *Main) Close() error {
	var errs []error
	stage := func(timeout time.Duration, name string, stop func(context.Context) error) bool {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return false
		}
		return true
	}
	if m.pprof != nil {
		m.pprof.Close()
	}
	if m.broker != nil {
		m.broker.Close() // ends the live streams, which Shutdown would wait for
	}
	if m.server != nil {
		stage(m.Config.ShutdownTimeout, "http shutdown", m.server.Shutdown)
		// served is nil when Run failed before serving (an address in use).
		if m.served != nil {
			if err := <-m.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, err)
			}
		}
	}
	logDone, writerDone := true, true
	if m.rejections != nil {
		logDone = stage(rejectionLogShutdown, "rejected-request log", m.rejections.Close)
	}
	if m.writer != nil {
		writerDone = stage(m.Config.ShutdownTimeout, "writer", m.writer.Close)
	}
	if m.catalog != nil {
		m.catalog.Close() // merges what it holds
	}
	if m.deliver != nil {
		m.deliver.Close()
	}
	m.retain.stop()
	if m.store != nil {
		if writerDone && logDone {
			if err := m.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("store: %w", err))
			}
		} else {
			m.Logger.Error("a write is still running past its deadline: the store is left open", "writer_done", writerDone, "rejection_log_done", logDone)
		}
	}
	if m.ln != nil && m.served == nil { // Run failed before serving
		m.ln.Close()
	}
	if writerDone && logDone {
		// A store left open keeps the data directory locked until the
		// process exits, so that no other one opens it meanwhile.
		m.unlockDataDir()
	}
	if len(errs) == 0 && m.started {
		m.Logger.Info("inlet stopped cleanly")
	}
	return errors.Join(errs...)
}

// console returns the web console over the store.
func (m *Main) console(db inlet.Store, sources *inlet.SourceCache, token string, metrics *prometheus.Metrics) *console.Console {
	proxies := m.Config.TrustedProxies
	cfg := console.Config{
		Store:               db,
		Sources:             sources,
		Rejections:          db,
		AdminToken:          token,
		Tokens:              tokenStore(db),
		SignInFile:          filepath.Join(m.Config.DataDir, consoleSignInsFile),
		PublicURL:           m.Config.PublicURL,
		ClientIP:            func(r *http.Request) string { return inlethttp.ClientIP(r, proxies) },
		HTTPS:               func(r *http.Request) bool { return inlethttp.HTTPS(r, proxies) },
		SignInLimited:       metrics.SignInLimited,
		DestinationsChanged: m.deliver.Refresh,
		ValidateDestination: deliver.Validate,
		Logger:              m.Logger,
	}
	if o, ok := db.(inlet.OverviewStore); ok {
		cfg.Overview = o
	}
	return console.New(cfg)
}

// consoleSignInsFile keeps the console's sign-ins (hashed) across
// restarts. It keeps the name it had when a sign-in was called a session:
// renaming it would sign every browser out on upgrade.
const consoleSignInsFile = "console-sessions.json"

// tokenFile is where a generated admin token is kept in the data directory.
const tokenFile = "admin-token"

// adminToken returns the configured token, or the one kept in the data
// directory, generating it on first start.
func (m *Main) adminToken() (string, error) {
	if m.Config.AdminToken != "" {
		return m.Config.AdminToken, nil
	}
	path := filepath.Join(m.Config.DataDir, tokenFile)
	if b, err := os.ReadFile(path); err == nil {
		if token := strings.TrimSpace(string(b)); token != "" {
			return token, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	buf := make([]byte, 32)
	rand.Read(buf)
	token := hex.EncodeToString(buf)
	if err := writeFileSynced(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write admin token: %w", err)
	}
	m.Logger.Info("generated an admin token", "path", path)
	return token, nil
}

// tokenStore returns the store's API tokens, or nil for a store that
// keeps none.
func tokenStore(db inlet.Store) inlet.TokenStore {
	ts, _ := db.(inlet.TokenStore)
	return ts
}
