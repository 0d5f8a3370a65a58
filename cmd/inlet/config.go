package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"inlet"
	"inlet/batch"
	"inlet/deliver"
	inlethttp "inlet/http"
	"inlet/sqlite"
)

// Config is everything `inlet serve` can be told.
type Config struct {
	Addr            string
	DataDir         string
	AdminToken      string
	MetricsToken    string // guards GET /metrics when set; else it is public
	Sync            string
	TrustedProxies  []netip.Prefix
	BatchMax        int
	BatchWait       time.Duration
	QueueSize       int
	QueueBytes      int64
	MaxInFlight     int64
	SourceTTL       time.Duration
	ShutdownTimeout time.Duration
	LogLevel        slog.Level
	PprofAddr       string
	DB              string        // a postgres:// URL; empty for the SQLite file in DataDir
	Retention       time.Duration // how long events are kept; 0 keeps them forever
	AuditRetention  time.Duration // how long the audit log is kept; 0 keeps it forever
	// RejectionsMaxCount and RejectionsMaxBytes bound the rejected-request log.
	RejectionsMaxCount int
	RejectionsMaxBytes int64
	// PublicURL is the base URL senders call, for signatures over the URL.
	PublicURL string
	// Catalog turns the schema catalog on; CatalogInterval is how often it
	// merges what it learnt into the store.
	Catalog         bool
	CatalogInterval time.Duration
	// DeliveryLease is how long a node holds a destination's cursor unrenewed:
	// the bound on how soon another node takes over a dead node's work.
	DeliveryLease time.Duration
	// DeliveryInFlight bounds the sends in flight per destination; 0 is
	// the destination type's default.
	DeliveryInFlight int
	// SecretsKeyFile names the key ring that seals the stored secrets, and
	// SecretsKey holds one ($INLET_SECRETS_KEY); with neither, a SQLite
	// store makes secrets.key in DataDir, and PostgreSQL refuses to start.
	SecretsKeyFile string
	SecretsKey     string
}

// DefaultConfig returns the configuration used when nothing is set: the
// defaults of the flags. A bound that a package also applies to a zero
// value is that package's default, so the two cannot differ; the docs'
// tables are held to these by TestTheDocumentedDefaultsAreTheFlags.
func DefaultConfig() Config {
	return Config{
		Addr:            "127.0.0.1:8686",
		DataDir:         "inlet-data",
		Sync:            sqlite.SyncFull,
		BatchMax:        batch.DefaultMaxBatch,
		QueueSize:       batch.DefaultQueueSize,
		QueueBytes:      batch.DefaultQueueBytes,
		MaxInFlight:     inlethttp.DefaultMaxInFlight,
		SourceTTL:       2 * time.Second,
		ShutdownTimeout: 30 * time.Second,
		AuditRetention:  365 * 24 * time.Hour,

		RejectionsMaxCount: inlet.DefaultRejectionMaxCount,
		RejectionsMaxBytes: inlet.DefaultRejectionMaxBytes,

		Catalog:         true,
		CatalogInterval: time.Second,
		DeliveryLease:   deliver.DefaultLease,
	}
}

// envName is the environment variable that stands in for a flag.
func envName(flagName string) string {
	return "INLET_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// serveFlags are the flags of `inlet serve` that need reading after parsing.
type serveFlags struct {
	proxies, logLevel, db, retention, publicURL string
	auditRetention                              string
}

// register declares the flags of `inlet serve` on fs, with cfg's values as
// defaults; every flag takes its INLET_* variable when not given.
func (sf *serveFlags) register(fs *pflag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "address to listen on, host:port")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data directory: the SQLite file, the generated admin token and the lock")
	fs.StringVar(&cfg.AdminToken, "admin-token", "", "bearer token of the admin API (default: generated and kept in the data directory)")
	fs.StringVar(&cfg.MetricsToken, "metrics-token", "", "bearer token that GET /metrics requires (default: none, the metrics are public)")
	fs.StringVar(&cfg.Sync, "sync", cfg.Sync, "when commits reach the disk: full (every commit fsynced before its 2xx), normal (at checkpoints: a power loss may lose the last commits), off")
	fs.StringVar(&sf.proxies, "trusted-proxies", "", "comma-separated addresses or CIDR ranges of proxies whose X-Forwarded-For is believed")
	fs.IntVar(&cfg.BatchMax, "batch-max", cfg.BatchMax, "most events committed in one transaction")
	fs.DurationVar(&cfg.BatchWait, "batch-wait", cfg.BatchWait, "longest wait for more events before committing a batch that is not full (0: commit at once)")
	fs.IntVar(&cfg.QueueSize, "queue-size", cfg.QueueSize, "most requests waiting for a commit; beyond it, 503")
	fs.Int64Var(&cfg.QueueBytes, "queue-bytes", cfg.QueueBytes, "most event bytes waiting for a commit; beyond it, 503")
	fs.Int64Var(&cfg.MaxInFlight, "max-in-flight", cfg.MaxInFlight, "most collect requests handled at once; beyond it, 503")
	fs.DurationVar(&cfg.SourceTTL, "source-ttl", cfg.SourceTTL, "how long a source lookup is cached (bounds how soon another node's change is seen)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "longest wait for in-flight requests on shutdown")
	fs.StringVar(&cfg.PprofAddr, "pprof-addr", "", "if set, serve Go profiles (net/http/pprof) on this address, for example 127.0.0.1:6060")
	fs.StringVar(&sf.db, "db", "", "PostgreSQL URL (postgres://user:password@host:5432/db) to store in, shared by several nodes (default: the SQLite file in --data)")
	fs.StringVar(&sf.retention, "retention", "", "how long events are kept, in days (90d) or as a duration (72h); 0 keeps them forever (the default)")
	fs.StringVar(&sf.auditRetention, "audit-retention", "365d", "how long the audit log of changes is kept, in days (365d) or as a duration; 0 keeps it forever")
	fs.IntVar(&cfg.RejectionsMaxCount, "rejections-max-count", cfg.RejectionsMaxCount, "most rejected requests kept in the log; beyond it, the oldest are dropped")
	fs.Int64Var(&cfg.RejectionsMaxBytes, "rejections-max-bytes", cfg.RejectionsMaxBytes, "most bytes of rejected requests kept in the log; beyond it, the oldest are dropped")
	fs.StringVar(&sf.publicURL, "public-url", "", "base URL senders call this collector at, such as https://hooks.example.com (scheme, host, any path prefix a proxy strips); Twilio signs it (default: http:// and the Host header)")
	fs.BoolVar(&cfg.Catalog, "catalog", cfg.Catalog, "learn the schema catalog from the committed events, in the background")
	fs.DurationVar(&cfg.DeliveryLease, "delivery-lease", cfg.DeliveryLease, "how long a node holds a destination's cursor without renewing it; another node takes over a dead node's destinations after it")
	fs.IntVar(&cfg.DeliveryInFlight, "delivery-in-flight", cfg.DeliveryInFlight, "most events sent at once to one destination (0: the type's, 64 for webhook, 256 for nats)")
	fs.StringVar(&cfg.SecretsKeyFile, "secrets-key-file", "", "key ring that encrypts the stored secrets, the same file on every node (make one with: inlet secrets key); $INLET_SECRETS_KEY may hold the keys instead (default: secrets.key in --data, made at the first start; required with --db)")
	fs.StringVar(&sf.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.VisitAll(func(f *pflag.Flag) { envFlags(fs, f.Name) })
}

// finish reads the environment for the flags not given, then the flags
// that need parsing, and validates the whole configuration.
func (sf *serveFlags) finish(fs *pflag.FlagSet, cfg *Config, getenv func(string) string) error {
	// The flags set on the command line, before the environment fills
	// the others: an error then names the variable a value came from.
	onLine := map[string]bool{}
	fs.Visit(func(f *pflag.Flag) { onLine[f.Name] = true })
	if err := applyEnv(fs, getenv); err != nil {
		return err
	}
	cfg.SecretsKey = getenv(secretsKeyEnv)
	if err := sf.check(fs, cfg); err != nil {
		msg := err.Error()
		if name, rest, ok := strings.Cut(strings.TrimPrefix(msg, "--"), ": "); ok && strings.HasPrefix(msg, "--") && !onLine[name] {
			if f := fs.Lookup(name); f != nil && len(f.Annotations["env"]) > 0 && getenv(f.Annotations["env"][0]) != "" {
				return usageErrorf("$%s: %s", f.Annotations["env"][0], rest)
			}
		}
		return err
	}
	return nil
}

// check reads and validates the values of the flags.
func (sf *serveFlags) check(fs *pflag.FlagSet, cfg *Config) error {
	var err error
	if cfg.DB, err = parseDB(sf.db); err != nil {
		return usageErrorf("--db: %v", err)
	}
	if cfg.Retention, err = parseRetention(sf.retention); err != nil {
		return usageErrorf("--retention: %v", err)
	}
	if cfg.AuditRetention, err = parseRetention(sf.auditRetention); err != nil {
		return usageErrorf("--audit-retention: %v", err)
	}
	if cfg.PublicURL, err = parsePublicURL(sf.publicURL); err != nil {
		return usageErrorf("--public-url: %v", err)
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(sf.logLevel)); err != nil {
		return usageErrorf("--log-level: %q is not debug, info, warn or error", sf.logLevel)
	}
	for _, p := range strings.Split(sf.proxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, err2 := netip.ParseAddr(p)
			if err2 != nil {
				return usageErrorf("--trusted-proxies: %q is neither an address nor a CIDR range", p)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, prefix)
	}
	if err := cfg.Validate(); err != nil {
		return &usageError{msg: err.Error()}
	}
	return nil
}

// Validate says what is wrong with a configuration, naming the flag, before
// anything is created on disk.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("--addr: %q is not host:port, such as 127.0.0.1:8686 or :8686", c.Addr)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		return fmt.Errorf("--data: the data directory must be named")
	}
	switch c.Sync {
	case sqlite.SyncFull, sqlite.SyncNormal, sqlite.SyncOff:
	default:
		return fmt.Errorf("--sync: %q is not %s, %s or %s", c.Sync, sqlite.SyncFull, sqlite.SyncNormal, sqlite.SyncOff)
	}
	if c.PprofAddr != "" {
		if _, _, err := net.SplitHostPort(c.PprofAddr); err != nil {
			return fmt.Errorf("--pprof-addr: %q is not host:port, such as 127.0.0.1:6060", c.PprofAddr)
		}
	}
	if _, err := parseDB(c.DB); err != nil {
		return fmt.Errorf("--db: %v", err)
	}
	if c.DB != "" && c.SecretsKeyFile == "" && c.SecretsKey == "" {
		return fmt.Errorf("--secrets-key-file: PostgreSQL nodes share their secrets key: give every node the same key file (make one with `inlet secrets key > secrets.key`) or $%s", secretsKeyEnv)
	}
	if c.SecretsKeyFile != "" && c.SecretsKey != "" {
		return fmt.Errorf("--secrets-key-file: give the key ring as a file or in $%s, not both", secretsKeyEnv)
	}
	for _, n := range []struct {
		flag string
		v    int64
	}{
		{"batch-max", int64(c.BatchMax)}, {"queue-size", int64(c.QueueSize)}, {"queue-bytes", c.QueueBytes},
		{"max-in-flight", c.MaxInFlight}, {"rejections-max-count", int64(c.RejectionsMaxCount)},
		{"rejections-max-bytes", c.RejectionsMaxBytes},
	} {
		if n.v < 1 {
			return fmt.Errorf("--%s: must be at least 1, not %d", n.flag, n.v)
		}
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"batch-wait", c.BatchWait}, {"source-ttl", c.SourceTTL}, {"shutdown-timeout", c.ShutdownTimeout}, {"retention", c.Retention}} {
		if d.v < 0 {
			return fmt.Errorf("--%s: must not be negative, not %s", d.flag, d.v)
		}
	}
	return nil
}

// ParseServeConfig reads the flags of `inlet serve` and the environment.
func ParseServeConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	cfg := DefaultConfig()
	fs := pflag.NewFlagSet("inlet serve", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf serveFlags
	sf.register(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return cfg, usageErrorf("%v", err)
	}
	if fs.NArg() > 0 {
		return cfg, usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	return cfg, sf.finish(fs, &cfg, getenv)
}

// parsePublicURL checks a --public-url: an absolute http or https URL with
// no query or fragment.
func parsePublicURL(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("must be an http or https URL such as https://hooks.example.com, without query")
	}
	return strings.TrimRight(u.String(), "/"), nil
}
