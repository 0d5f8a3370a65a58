package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"inlet"
	"inlet/sqlite"
)

// Config is everything `inlet serve` can be told.
type Config struct {
	Addr            string
	DataDir         string
	AdminToken      string
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
	// RejectionsMaxCount and RejectionsMaxBytes bound the rejected-request log.
	RejectionsMaxCount int
	RejectionsMaxBytes int64
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		Addr:            "127.0.0.1:8686",
		DataDir:         "inlet-data",
		Sync:            sqlite.SyncFull,
		BatchMax:        1000,
		QueueSize:       8192,
		QueueBytes:      64 << 20,
		MaxInFlight:     4096,
		SourceTTL:       2 * time.Second,
		ShutdownTimeout: 30 * time.Second,

		RejectionsMaxCount: inlet.DefaultRejectionMaxCount,
		RejectionsMaxBytes: inlet.DefaultRejectionMaxBytes,
	}
}

// envName is the environment variable that stands in for a flag.
func envName(flagName string) string {
	return "INLET_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args; a flag named in envFlags (or any flag, when
// envFlags is nil) that is not given takes its INLET_* environment variable.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string, envFlags ...string) error {
	fromEnv := func(name string) bool { return envFlags == nil || contains(envFlags, name) }
	fs.VisitAll(func(f *flag.Flag) {
		if fromEnv(f.Name) {
			f.Usage += fmt.Sprintf(" ($%s)", envName(f.Name))
		}
	})
	// Positional arguments may stand before, between or after flags.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	fs.Parse(append([]string{"--"}, positional...))
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" && fromEnv(f.Name) && !given[f.Name] && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("$%s: %w", envName(f.Name), e)
			}
		}
	})
	return err
}

// ParseServeConfig reads the flags of `inlet serve` and the environment.
func ParseServeConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("inlet serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "address to listen on")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data directory: the SQLite file and the generated admin token")
	fs.StringVar(&cfg.AdminToken, "admin-token", "", "bearer token of the admin API (default: generated and kept in the data directory)")
	fs.StringVar(&cfg.Sync, "sync", cfg.Sync, "when commits reach the disk: full (every commit fsynced before its 2xx), normal (at checkpoints: a power loss may lose the last commits), off")
	proxies := fs.String("trusted-proxies", "", "comma-separated addresses or CIDR ranges of proxies whose X-Forwarded-For is believed")
	fs.IntVar(&cfg.BatchMax, "batch-max", cfg.BatchMax, "most events committed in one transaction")
	fs.DurationVar(&cfg.BatchWait, "batch-wait", cfg.BatchWait, "longest wait for more events before committing a batch that is not full (0: commit at once)")
	fs.IntVar(&cfg.QueueSize, "queue-size", cfg.QueueSize, "most requests waiting for a commit; beyond it, 503")
	fs.Int64Var(&cfg.QueueBytes, "queue-bytes", cfg.QueueBytes, "most event bytes waiting for a commit; beyond it, 503")
	fs.Int64Var(&cfg.MaxInFlight, "max-in-flight", cfg.MaxInFlight, "most collect requests handled at once; beyond it, 503")
	fs.DurationVar(&cfg.SourceTTL, "source-ttl", cfg.SourceTTL, "how long a source lookup is cached (bounds how soon another node's change is seen)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "longest wait for in-flight requests on shutdown")
	fs.StringVar(&cfg.PprofAddr, "pprof-addr", "", "if set, serve Go profiles (net/http/pprof) on this address, for example 127.0.0.1:6060")
	fs.Func("db", "PostgreSQL URL (postgres://user:password@host:5432/db) to store in, shared by several nodes (default: the SQLite file in --data)", func(v string) (err error) {
		cfg.DB, err = parseDB(v)
		return err
	})
	fs.Func("retention", "how long events are kept, in days (90d) or as a duration (72h); 0 keeps them forever (the default)", func(v string) (err error) {
		cfg.Retention, err = parseRetention(v)
		return err
	})
	fs.IntVar(&cfg.RejectionsMaxCount, "rejections-max-count", cfg.RejectionsMaxCount, "most rejected requests kept in the log; beyond it, the oldest are dropped")
	fs.Int64Var(&cfg.RejectionsMaxBytes, "rejections-max-bytes", cfg.RejectionsMaxBytes, "most bytes of rejected requests kept in the log; beyond it, the oldest are dropped")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := parseFlags(fs, args, getenv); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return cfg, fmt.Errorf("--log-level: %w", err)
	}
	for _, p := range strings.Split(*proxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, err2 := netip.ParseAddr(p)
			if err2 != nil {
				return cfg, fmt.Errorf("--trusted-proxies: %q is neither an address nor a CIDR range", p)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, prefix)
	}
	return cfg, nil
}
