// Command inlet-bench measures Inlet under load on this machine and prints
// the figures as a markdown table for BENCHMARKS.md.
//
// In one run it builds (or takes) the inlet binary and, for each scenario,
// starts a fresh server on a free 127.0.0.1 port with a temporary data
// directory, creates its sources, warms it up, drives it with wrk
// (bench/inlet.lua) and then checks through the admin API that at least as
// many events are stored as requests were answered 2xx. The same load is
// run against a no-op net/http server (`inlet-bench noop`, its own process),
// and every scenario is reported as a ratio of that baseline.
//
// Scenarios, each with a ~300-byte JSON body over keep-alive connections:
//
//	baseline  POST to the no-op server
//	1         POST /collect/purchase/{source}, no session
//	2         POST /collect/purchase/{source}/{session}, one of --sessions known sessions, round robin
//	3         POST /collect/purchase/{source}/{session}, a new session (and profile) every request
//	4         GET /collect/page-view/{source}?<8 query parameters>
//	5         scenario 1 with one webhook destination (every event) to a
//	          no-op receiver, its own process (not in the default list)
//	fixed     scenario 1 at half of scenario 1's requests/s, open loop, for p99 latency
//	prefill   scenario 1 on a store holding --prefill events, and the p99 of
//	          GET /api/v1/events?profile=...&limit=100 under that load and idle
//
// Usage:
//
//	go run ./cmd/inlet-bench [flags]
//	inlet-bench noop [--addr 127.0.0.1:8687]
//	inlet-bench prefill --data DIR --events N
//
// Flags:
//
//	--inlet PATH         inlet binary to measure (default: build ./cmd/inlet)
//	--script PATH        wrk script (default: bench/inlet.lua of this module)
//	--duration 10s       measured time of each scenario
//	--warmup 3s          unmeasured load before each scenario
//	--connections 64     wrk keep-alive connections
//	--threads 2          wrk threads
//	--wrk-timeout 5s     wrk counts an answer slower than this as a timeout
//	--sessions 10000     known sessions of scenario 2, created before its warm-up
//	--scenarios 1,2,3,4  which wrk scenarios to run (5, 6 and 7, with
//	                     destinations, on request)
//	--nats URL           NATS JetStream server of scenarios 6 and 7
//	                     (default nats://127.0.0.1:4222)
//	--fixed-rate 0       requests/s of the fixed-rate run (0: half of scenario 1's; -1: skip)
//	--fixed-duration 0   length of the fixed-rate run (0: --duration)
//	--profile FILE       also run scenario 1 once more with --pprof-addr, write a
//	                     CPU profile of the server to FILE and print `go tool pprof -top`
//	--prefill N          also run the prefilled-store scenario with N events (0: skip)
//	--prefill-dir DIR    data directory for the prefilled store; a finished
//	                     prefill there of at least N events is reused (default: temporary)
//	--inlet-args "..."   extra flags for `inlet serve`, for example "--sync off"
//	--source-config JSON configuration of the sources the scenarios send to (a
//	                     preset, a transform, schemas...)
//	--header "N: v"      an extra request header of the POST scenarios; repeatable
//	--logs DIR           keep server logs and wrk output here (default: temporary,
//	                     removed after a successful run, kept and named after a failed one)
//	--db URL             every Inlet server gets `--db URL` (PostgreSQL) instead of a
//	                     fresh SQLite data directory; the database is used as it is
//	                     (give a fresh one; it must exist, and is checked before
//	                     anything runs), every scenario has its own sources, and
//	                     the report adds the CPU of the processes named postgres
//	--nodes 1            Inlet servers per scenario, all against --db with the same
//	                     admin token; one wrk process per node runs at the same time
//	                     with --connections (and --threads) split evenly over them.
//	                     requests/s is their sum, the latencies the worst node's, the
//	                     errors, peak RSS and CPU the sums; stored events are counted
//	                     through the first node. The fixed-rate and profile runs use
//	                     one node.
//
// wrk is the Debian package of that name (apt-get install wrk). Every load
// goes to 127.0.0.1 only and stops after its duration.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"inlet"
)

func main() {
	var err error
	if len(os.Args) > 1 && os.Args[1] == "noop" {
		err = runNoop(os.Args[2:])
	} else if len(os.Args) > 1 && os.Args[1] == "prefill" {
		err = runPrefill(os.Args[2:])
	} else {
		err = runBench(os.Args[1:])
	}
	if errors.Is(err, flag.ErrHelp) {
		return // the help asked for is printed
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "inlet-bench:", err)
		os.Exit(1)
	}
}

// benchAbout is the help of inlet-bench, before its flags.
const benchAbout = `inlet-bench measures Inlet under load on this machine with wrk and prints
the figures as a markdown table: a no-op net/http baseline, then scenarios
1 to 4, a fixed-rate run, and optionally a prefilled store and a profile.

Usage:
  inlet-bench [flags]
  inlet-bench noop [--addr 127.0.0.1:8687]
  inlet-bench prefill --data DIR --events N

Examples:
  go run ./cmd/inlet-bench --scenarios 1 --fixed-rate -1 --duration 5s
  createdb -h 127.0.0.1 -U postgres bench
  go run ./cmd/inlet-bench --db 'postgres://postgres@127.0.0.1:5432/bench?sslmode=disable' --nodes 2 --scenarios 1,3

wrk is the Debian package of that name (apt-get install wrk).`

// helpOut is where --help is printed.
var helpOut io.Writer = os.Stdout

// parseFlags parses args into fs. --help prints about and the flags to
// helpOut and returns flag.ErrHelp; a bad flag is one line and a hint,
// never the whole flag list.
func parseFlags(fs *flag.FlagSet, args []string, about string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(helpOut, "%s\n\nFlags:\n", about)
		fs.SetOutput(helpOut)
		fs.PrintDefaults()
		return err
	} else if err != nil {
		return fmt.Errorf("%v\nRun '%s --help' for usage.", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q\nRun '%s --help' for usage.", fs.Arg(0), fs.Name())
	}
	return nil
}

// bench holds the settings of one run.
type bench struct {
	wrk, script, inletBin, self string
	threads, connections        int
	duration, warmup            time.Duration
	wrkTimeout                  time.Duration
	sessions                    int
	logDir                      string
	token                       string
	runID                       string
	inletArgs                   []string
	db                          string              // --db URL of every Inlet server; empty for SQLite in a fresh data directory
	nodes                       int                 // Inlet servers per scenario, all against db
	sourceConfig                *inlet.SourceConfig // config of the sources the scenarios send to; nil for none
	headers                     string              // extra request headers of the post scenarios, "Name: value" lines
	natsURL                     string              // the JetStream server of scenarios 6 and 7
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func (b *bench) logPath(name string) string {
	return filepath.Join(b.logDir, name)
}

// runFlags are the flags of a run that are not settings of the bench
// itself: what to run beside the scenarios, and how to set up.
type runFlags struct {
	scenarios     string
	which         []int // the scenarios, parsed
	fixedRate     float64
	fixedDuration time.Duration
	profile       string
	prefillN      int64
	prefillDir    string
	inletArgs     string
	sourceConfig  string
	headers       headerList
	logs          string
}

// runBench runs the benchmark that args describe and prints its report.
func runBench(args []string) (err error) {
	b, rf, err := parseBench(args)
	if err != nil {
		return err
	}
	if err := b.findTools(); err != nil {
		return err
	}
	if rf.which, err = parseScenarios(rf.scenarios); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	tmp, err := os.MkdirTemp("", "inlet-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	closeLogs, err := b.openLogDir(rf.logs)
	if err != nil {
		return err
	}
	defer func() { closeLogs(err) }()
	if err := b.prepare(ctx, rf, tmp); err != nil {
		return err
	}

	rep := &report{started: time.Now().UTC(), args: args, b: b, loadStart: loadAvg()}
	if rep.fsync, err = fsyncLatency(tmp, 200); err != nil {
		return fmt.Errorf("fsync probe: %w", err)
	}
	failures, err := b.runAll(ctx, rf, tmp, rep)
	if err != nil {
		return err
	}

	rep.write(os.Stdout)
	if rf.logs != "" {
		b.logf("logs and wrk output kept in %s", rf.logs)
	}
	if len(failures) > 0 {
		return fmt.Errorf("durability check failed:\n  %s", strings.Join(failures, "\n  "))
	}
	return nil
}

// parseBench reads the flags of a run and checks those that do not
// depend on the machine.
func parseBench(args []string) (*bench, *runFlags, error) {
	fs := flag.NewFlagSet("inlet-bench", flag.ContinueOnError)
	b, rf := &bench{}, &runFlags{}
	fs.StringVar(&b.inletBin, "inlet", "", "inlet binary to measure, a `PATH` (default: build ./cmd/inlet)")
	fs.StringVar(&b.script, "script", "", "wrk script, a `PATH` (default: bench/inlet.lua of this module)")
	fs.DurationVar(&b.duration, "duration", 10*time.Second, "measured time of each scenario")
	fs.DurationVar(&b.warmup, "warmup", 3*time.Second, "unmeasured load before each scenario")
	fs.IntVar(&b.connections, "connections", 64, "wrk keep-alive connections")
	fs.IntVar(&b.threads, "threads", 2, "wrk threads")
	fs.DurationVar(&b.wrkTimeout, "wrk-timeout", 5*time.Second, "wrk counts an answer slower than this as a timeout")
	fs.IntVar(&b.sessions, "sessions", 10000, "known sessions of scenario 2")
	fs.StringVar(&rf.scenarios, "scenarios", "1,2,3,4", "comma-separated `LIST` of the wrk scenarios to run (5, 6, 7: with destinations)")
	fs.StringVar(&b.natsURL, "nats", "nats://127.0.0.1:4222", "NATS JetStream `URL` of scenarios 6 and 7")
	fs.Float64Var(&rf.fixedRate, "fixed-rate", 0, "requests/s of the fixed-rate run (0: half of scenario 1's; -1: skip)")
	fs.DurationVar(&rf.fixedDuration, "fixed-duration", 0, "length of the fixed-rate run (0: --duration)")
	fs.StringVar(&rf.profile, "profile", "", "write a CPU profile of the server under scenario 1 to this `FILE` (an extra run)")
	fs.Int64Var(&rf.prefillN, "prefill", 0, "run scenario 1 and event queries on a store prefilled with `N` events (0: skip)")
	fs.StringVar(&rf.prefillDir, "prefill-dir", "", "data `DIR` of the prefilled store, reused when it holds a finished prefill (default: temporary)")
	fs.StringVar(&rf.inletArgs, "inlet-args", "", "extra `FLAGS` for inlet serve, separated by spaces (for example \"--sync off\")")
	fs.StringVar(&rf.sourceConfig, "source-config", "", "configuration of the sources the scenarios send to, a `JSON` object (for example a preset, a transform or schemas)")
	fs.Var(&rf.headers, "header", "extra request `HEADER` (Name: value) of the POST scenarios; repeatable")
	fs.StringVar(&b.db, "db", "", "PostgreSQL `URL` for every Inlet server (its --db), for example postgres://postgres@127.0.0.1:5432/bench?sslmode=disable; the database must exist (createdb) (default: SQLite in a fresh data directory)")
	fs.IntVar(&b.nodes, "nodes", 1, "Inlet servers per scenario, all against --db; the wrk connections are split evenly over them")
	fs.StringVar(&rf.logs, "logs", "", "keep server logs and wrk output in this `DIR` (default: temporary, removed after a successful run, kept after a failed one)")
	if err := parseFlags(fs, args, benchAbout); err != nil {
		return nil, nil, err
	}
	switch {
	case b.nodes < 1:
		return nil, nil, errors.New("--nodes must be at least 1")
	case b.nodes > 1 && b.db == "":
		return nil, nil, errors.New("--nodes above 1 needs --db: the nodes must share one database")
	case b.nodes > b.connections:
		return nil, nil, errors.New("--nodes must not exceed --connections")
	case b.db != "" && rf.prefillN > 0:
		return nil, nil, errors.New("--prefill writes a SQLite store and cannot be combined with --db")
	case b.duration < time.Second:
		return nil, nil, errors.New("--duration must be at least 1s")
	}
	return b, rf, nil
}

// findTools checks the database and finds wrk, this program and the wrk
// script, before anything runs.
func (b *bench) findTools() (err error) {
	if b.db != "" {
		// Before anything runs: a missing database would otherwise fail
		// only after the baseline, pointing at the first node's log.
		if err := checkDB(context.Background(), b.db); err != nil {
			return err
		}
	}
	if b.wrk, err = exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed: apt-get install wrk")
	}
	if b.self, err = os.Executable(); err != nil {
		return err
	}
	if b.script == "" {
		root, err := moduleRoot()
		if err != nil {
			return fmt.Errorf("cannot find bench/inlet.lua (%v); give --script", err)
		}
		b.script = filepath.Join(root, "bench", "inlet.lua")
	}
	if _, err := os.Stat(b.script); err != nil {
		return fmt.Errorf("wrk script: %w", err)
	}
	return nil
}

// parseScenarios reads --scenarios.
func parseScenarios(list string) ([]int, error) {
	var which []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 7 {
			return nil, fmt.Errorf("--scenarios: %q is not a scenario from 1 to 7", s)
		}
		which = append(which, n)
	}
	return which, nil
}

// openLogDir sets the directory of the servers' logs and wrk's output:
// logs, or else a temporary one. The function it returns is called with
// the run's error: a temporary directory is removed after a successful
// run and kept, and named, after a failed one, for the error messages
// that point into it. It is outside the run's other temporary files for
// that reason.
func (b *bench) openLogDir(logs string) (done func(error), err error) {
	b.logDir = logs
	if b.logDir != "" {
		return func(error) {}, os.MkdirAll(b.logDir, 0o755)
	}
	if b.logDir, err = os.MkdirTemp("", "inlet-bench-logs-"); err != nil {
		return nil, err
	}
	logDir := b.logDir
	return func(err error) {
		if err != nil {
			b.logf("logs of the failed run kept in %s", logDir)
		} else {
			os.RemoveAll(logDir)
		}
	}, nil
}

// prepare builds inlet unless --inlet names it, and reads the settings
// of the servers and requests.
func (b *bench) prepare(ctx context.Context, rf *runFlags, tmp string) error {
	if b.inletBin == "" {
		root, err := moduleRoot()
		if err != nil {
			return fmt.Errorf("cannot find the module to build inlet (%v); give --inlet", err)
		}
		b.inletBin = filepath.Join(tmp, "inlet")
		b.logf("building %s", b.inletBin)
		build := exec.CommandContext(ctx, "go", "build", "-o", b.inletBin, "./cmd/inlet")
		build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build inlet: %w", err)
		}
	}
	b.inletArgs = strings.Fields(rf.inletArgs)
	if rf.sourceConfig != "" {
		b.sourceConfig = &inlet.SourceConfig{}
		dec := json.NewDecoder(strings.NewReader(rf.sourceConfig))
		dec.DisallowUnknownFields()
		if err := dec.Decode(b.sourceConfig); err != nil {
			return fmt.Errorf("--source-config: %w", err)
		}
	}
	b.headers = strings.Join(rf.headers, "\n")
	b.token = fmt.Sprintf("bench-token-%d", time.Now().UnixNano())
	b.runID = strconv.FormatInt(time.Now().Unix(), 36)
	return nil
}

// runAll runs the baseline, the scenarios and the extra runs asked for,
// adding their rows to rep. failures are the durability checks that
// failed: more requests answered 2xx than events stored.
func (b *bench) runAll(ctx context.Context, rf *runFlags, tmp string, rep *report) (failures []string, err error) {
	b.logf("baseline: no-op net/http server")
	base, err := b.runBaseline(ctx)
	if err != nil {
		return nil, err
	}
	rep.rows = append(rep.rows, base)

	s1, failures, err := b.runScenarios(ctx, rf.which, tmp, rep)
	if err != nil {
		return nil, err
	}
	if rate := fixedRate(rf.fixedRate, s1); rate > 0 {
		d := rf.fixedDuration
		if d == 0 {
			d = b.duration
		}
		b.logf("fixed rate: %.0f requests/s for %s", rate, d)
		f, err := b.runFixedRate(ctx, rate, d, filepath.Join(tmp, "data-fixed"))
		if err != nil {
			return nil, fmt.Errorf("fixed-rate run: %w", err)
		}
		if f.stored < f.res.OK {
			failures = append(failures, fmt.Sprintf("fixed rate: %d answered 2xx but %d stored", f.res.OK, f.stored))
		}
		rep.fixed = f
	}
	if rf.prefillN > 0 {
		dir := rf.prefillDir
		if dir == "" {
			dir = filepath.Join(tmp, "data-prefill")
		}
		b.logf("prefilled store: %d events in %s", rf.prefillN, dir)
		p, err := b.runPrefilled(ctx, rf.prefillN, dir)
		if err != nil {
			return nil, fmt.Errorf("prefilled run: %w", err)
		}
		if p.row.stored < p.row.res.OK() {
			failures = append(failures, fmt.Sprintf("prefilled: %d answered 2xx but %d stored", p.row.res.OK(), p.row.stored))
		}
		rep.prefill = p
	}
	if rf.profile != "" {
		b.logf("profile: scenario 1 with --pprof-addr")
		top, err := b.runProfile(ctx, rf.profile, filepath.Join(tmp, "data-profile"))
		if err != nil {
			return nil, fmt.Errorf("profile run: %w", err)
		}
		rep.profileTop = top
		rep.profileFile = rf.profile
	}
	return failures, nil
}

// runScenarios runs the wrk scenarios in turn, adding their rows to rep,
// and returns scenario 1's row (nil when it was not run) and the
// durability checks that failed.
func (b *bench) runScenarios(ctx context.Context, which []int, tmp string, rep *report) (s1 *row, failures []string, err error) {
	for _, n := range which {
		b.logf("scenario %d: %s", n, scenarioNames[n])
		r, err := b.runScenario(ctx, n, filepath.Join(tmp, fmt.Sprintf("data-%d", n)))
		if err != nil {
			return nil, nil, fmt.Errorf("scenario %d: %w", n, err)
		}
		if r.stored < r.res.OK() {
			failures = append(failures, fmt.Sprintf("scenario %d: %d answered 2xx but %d stored", n, r.res.OK(), r.stored))
		}
		rep.rows = append(rep.rows, r)
		if n == 1 {
			s1 = r
		}
	}
	return s1, failures, nil
}

// fixedRate is the rate of the fixed-rate run: --fixed-rate, or with 0
// half of scenario 1's requests/s; 0 or below skips the run.
func fixedRate(flagged float64, s1 *row) float64 {
	if flagged == 0 && s1 != nil {
		return s1.res.RPS() / 2
	}
	return flagged
}

// moduleRoot finds the directory of go.mod from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod in the working directory or above")
		}
		dir = parent
	}
}

// goVersion is the Go version that built the measured binaries.
func goVersion() string {
	out, err := exec.Command("go", "version").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}

// checkDB connects to the PostgreSQL database of --db once, so that a
// missing database or a wrong URL is said before anything runs.
func checkDB(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("--db: cannot connect (%v); the database must exist: create it first, for example with createdb -h 127.0.0.1 -U postgres bench", err)
	}
	defer conn.Close(context.Background())
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("--db: %w", err)
	}
	return nil
}

// headerList collects repeated --header flags.
type headerList []string

func (h *headerList) String() string { return strings.Join(*h, ", ") }

func (h *headerList) Set(v string) error {
	if name, _, ok := strings.Cut(v, ":"); !ok || strings.TrimSpace(name) == "" || strings.Contains(v, "\n") {
		return fmt.Errorf("%q is not Name: value", v)
	}
	*h = append(*h, v)
	return nil
}
