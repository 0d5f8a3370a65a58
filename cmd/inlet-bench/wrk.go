package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// wrkResult is what bench/inlet.lua's done() prints, plus the load
// generator's own CPU time.
type wrkResult struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	Bytes      int64   `json:"bytes"`
	P50US      int64   `json:"p50_us"`
	P99US      int64   `json:"p99_us"`
	P999US     int64   `json:"p999_us"`
	MaxUS      int64   `json:"max_us"`
	MeanUS     float64 `json:"mean_us"`
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Status     int64   `json:"status"` // answers with a status of 400 or more
	Timeout    int64   `json:"timeout"`

	CPU time.Duration `json:"-"` // wrk's user and system time
}

// RPS is completed requests per second.
func (r *wrkResult) RPS() float64 {
	if r.DurationUS == 0 {
		return 0
	}
	return float64(r.Requests) / (float64(r.DurationUS) / 1e6)
}

// SocketErrors is wrk's connect, read, write and timeout errors.
func (r *wrkResult) SocketErrors() int64 {
	return r.Connect + r.Read + r.Write + r.Timeout
}

// OK is the number of answers with a status below 400, which for these
// endpoints means 2xx.
func (r *wrkResult) OK() int64 {
	return r.Requests - r.Status
}

// wrkLoad is one wrk invocation of bench/inlet.lua.
type wrkLoad struct {
	Mode     string // post, known, new or get
	URL      string // base URL of the server
	Path     string // request path; the script adds the session or the query
	Sessions int    // for mode known
	Tag      string // for mode new: makes session ids unique to this run

	Connections, Threads int // 0: --connections and --threads
}

// runWrk runs wrk for d and returns the script's result line.
func (b *bench) runWrk(ctx context.Context, l wrkLoad, d time.Duration, logName string) (*wrkResult, error) {
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	tag := l.Tag
	if tag == "" {
		tag = "run"
	}
	threads, conns := b.threads, b.connections
	if l.Threads > 0 {
		threads = l.Threads
	}
	if l.Connections > 0 {
		conns = l.Connections
	}
	args := []string{
		"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", strconv.Itoa(secs) + "s",
		"--timeout", b.wrkTimeout.String(), "-s", b.script, l.URL,
		"--", l.Path, strconv.Itoa(l.Sessions), tag, strconv.Itoa(threads),
	}
	cmd := exec.CommandContext(ctx, b.wrk, args...)
	cmd.Env = append(os.Environ(), "INLET_BENCH_MODE="+l.Mode, "INLET_BENCH_HEADERS="+b.headers)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	b.logf("  wrk %s (%s, %ds): %s", l.Mode, l.URL+l.Path, secs, "INLET_BENCH_MODE="+l.Mode+" wrk "+strings.Join(args, " "))
	err := cmd.Run()
	os.WriteFile(b.logPath(logName+".wrk.txt"), out.Bytes(), 0o644)
	if err != nil {
		return nil, fmt.Errorf("wrk: %w\n%s", err, out.String())
	}
	res, err := parseWrk(out.Bytes())
	if err != nil {
		return nil, err
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return res, nil
}

const resultPrefix = "inlet-bench-result "

// parseWrk finds the script's result line in wrk's output.
func parseWrk(out []byte) (*wrkResult, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), resultPrefix); ok {
			var r wrkResult
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return nil, fmt.Errorf("wrk result line: %w", err)
			}
			return &r, nil
		}
	}
	return nil, errors.New("wrk printed no result line; is the script bench/inlet.lua?\n" + string(out))
}
