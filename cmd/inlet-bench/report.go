package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"
)

// report gathers a run's figures and prints them as markdown.
type report struct {
	started     time.Time
	args        []string
	b           *bench
	rows        []*row
	fixed       *fixedRun
	prefill     *prefillRun
	profileTop  string
	profileFile string
	loadStart   string
	fsync       latencies
}

func (r *report) write(w io.Writer) {
	b := r.b
	fmt.Fprintf(w, "### Run of %s\n\n", r.started.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "- machine: %d cores, %s, %s memory\n", runtime.NumCPU(), cpuModel(), memTotal())
	fmt.Fprintf(w, "- %s; %s\n", goVersion(), wrkVersion(b.wrk))
	fmt.Fprintf(w, "- command: `go run ./cmd/inlet-bench %s`\n", strings.Join(r.args, " "))
	if len(b.inletArgs) > 0 {
		fmt.Fprintf(w, "- server flags added: `%s`\n", strings.Join(b.inletArgs, " "))
	}
	if b.sourceConfig != nil {
		cfg, _ := json.Marshal(b.sourceConfig.Masked())
		fmt.Fprintf(w, "- source configuration: `%s`\n", cfg)
	}
	if b.headers != "" {
		fmt.Fprintf(w, "- extra headers: `%s`\n", strings.ReplaceAll(b.headers, "\n", "`, `"))
	}
	if b.db != "" {
		fmt.Fprintf(w, "- store: `--db %s`, %d node(s) per scenario, one wrk process per node with the connections split evenly over them; requests/s summed, latencies the worst node's, peak RSS and server CPU the nodes' sums\n", redactURL(b.db), b.nodes)
	}
	fmt.Fprintf(w, "- load average at the start: %s; at the end: %s\n", r.loadStart, loadAvg())
	fresh := "a fresh server and data directory per scenario"
	if b.db != "" {
		fresh = "fresh servers per scenario, the same database for all, each scenario with its own sources"
	}
	fmt.Fprintf(w, "- load: wrk -t%d -c%d, %s measured after %s of warm-up, %s\n",
		b.threads, b.connections, b.duration, b.warmup, fresh)

	if r.fsync != nil {
		fmt.Fprintf(w, "- fsync of a 4 KiB append in the data directory's file system (%d tries): p50 %s, p99 %s\n",
			len(r.fsync), ms(r.fsync.percentile(50)), ms(r.fsync.percentile(99)))
	}
	fmt.Fprintln(w)
	if b.db != "" {
		fmt.Fprintln(w, "| scenario | requests/s | vs baseline | p50 | p99 | p99.9 | non-2xx | socket errors | peak RSS | server CPU | server CPU per request | postgres CPU | wrk CPU | other CPU | events/commit | stored / 2xx |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	} else {
		fmt.Fprintln(w, "| scenario | requests/s | vs baseline | p50 | p99 | p99.9 | non-2xx | socket errors | peak RSS | server CPU | server CPU per request | wrk CPU | other CPU | events/commit | stored / 2xx |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	}
	var base float64
	for _, row := range r.rows {
		if row.stored < 0 {
			base = row.res.RPS()
		}
		r.writeRow(w, row, base)
	}
	if r.prefill != nil {
		r.writeRow(w, r.prefill.row, base)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Latencies are wrk's (closed loop: 64 connections each waiting for its answer). \"server CPU\" and \"wrk CPU\" are cores used on average during the measured time, and \"server CPU per request\" the server's CPU time divided by the requests answered; \"other CPU\" is what the rest of the machine used meanwhile (other programs, the kernel's work not charged to either), out of 2 cores: a high figure means the run was disturbed. \"events/commit\" is the mean size of the group commits during the run, from /api/v1/stats. \"stored / 2xx\" compares the events of the measured source listed by the admin API afterwards with the answers wrk counted as 2xx (stored may exceed 2xx by the requests still in flight when wrk stopped).")
	if b.db != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "\"postgres CPU\" is the cores used during the measured time by the PostgreSQL server's processes (from /proc): its background processes and the backends of the --db database, not the backends of other databases; \"other CPU\" excludes it. The baseline row does not measure it.")
	}
	fmt.Fprintln(w)

	if f := r.fixed; f != nil {
		fmt.Fprintf(w, "Fixed rate (open loop, the Go generator in inlet-bench, as Debian has no wrk2): POST at %.0f requests/s for %s over %d keep-alive connections, latency from each request's due time; the no-op server under the same load shows what the generator and the machine add:\n\n",
			f.res.Rate, b.duration, b.connections)
		fmt.Fprintln(w, "| server | rate asked | rate sent | p50 | p99 | p99.9 | max | non-2xx | errors | peak RSS | stored / 2xx |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
		for _, c := range []struct {
			name   string
			res    *openLoopResult
			rss    int64
			stored string
		}{{"no-op baseline", f.noop, f.noopRSS, "-"}, {"Inlet, scenario 1", f.res, f.rss, storedCell(f.stored, f.res.OK)}} {
			res := c.res
			fmt.Fprintf(w, "| %s | %.0f | %.0f | %s | %s | %s | %s | %d | %d | %s | %s |\n",
				c.name, res.Rate, res.Achieved, ms(res.Lat.percentile(50)), ms(res.Lat.percentile(99)), ms(res.Lat.percentile(99.9)), ms(res.Lat.percentile(100)),
				res.Non2xx, res.Errors, mb(c.rss), c.stored)
		}
		fmt.Fprintln(w)
	}

	if p := r.prefill; p != nil {
		var s1 float64
		for _, row := range r.rows {
			if row.name == scenarioNames[1] {
				s1 = row.res.RPS()
			}
		}
		fmt.Fprintf(w, "Prefilled store: %d events (%d per profile) written before the server started", p.events, max(1, p.events/prefillSessions))
		if p.fillTime > time.Second {
			fmt.Fprintf(w, " (prefill took %s)", p.fillTime.Round(time.Second))
		}
		fmt.Fprintln(w, ".")
		fmt.Fprintln(w)
		if s1 > 0 {
			fmt.Fprintf(w, "- scenario 1 on it: %.0f requests/s, %.0f%% of scenario 1 on the empty store in this run\n", p.row.res.RPS(), 100*p.row.res.RPS()/s1)
		}
		fmt.Fprintf(w, "- `GET /api/v1/events?profile=...&limit=100`, one query at a time, during a second run of scenario 1 (%.0f requests/s): %d queries, p50 %s, p99 %s, max %s\n",
			p.loadedRPS.RPS(), len(p.queryLoaded), ms(p.queryLoaded.percentile(50)), ms(p.queryLoaded.percentile(99)), ms(p.queryLoaded.percentile(100)))
		fmt.Fprintf(w, "- the same with no other load: %d queries, p50 %s, p99 %s, max %s\n",
			len(p.queryIdle), ms(p.queryIdle.percentile(50)), ms(p.queryIdle.percentile(99)), ms(p.queryIdle.percentile(100)))
		fmt.Fprintf(w, "- failed queries: %d\n\n", p.queryErrors)
	}

	if r.profileTop != "" {
		fmt.Fprintf(w, "CPU profile of the server under scenario 1 (%s):\n\n```\n%s```\n", r.profileFile, r.profileTop)
	}
}

func (r *report) writeRow(w io.Writer, row *row, base float64) {
	res := row.res
	ratio := "-"
	if base > 0 {
		ratio = fmt.Sprintf("%.0f%%", 100*res.RPS()/base)
	}
	secs := float64(res.DurationUS) / 1e6
	stored := "-"
	if row.stored >= 0 {
		stored = storedCell(row.stored, res.OK())
	}
	perCommit := "-"
	if row.commits > 0 {
		perCommit = fmt.Sprintf("%.1f", float64(row.committed)/float64(row.commits))
	}
	perRequest := "-"
	if res.Requests > 0 {
		perRequest = fmt.Sprintf("%.0f µs", float64(row.serverCPU.Microseconds())/float64(res.Requests))
	}
	dbCell := ""
	if r.b.db != "" {
		dbCell = fmt.Sprintf(" %.2f |", row.dbCPU.Seconds()/secs)
	}
	fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %s | %d | %d | %s | %.2f | %s |%s %.2f | %.2f | %s | %s |\n",
		row.name, res.RPS(), ratio, ms(us(res.P50US)), ms(us(res.P99US)), ms(us(res.P999US)),
		res.Status, res.SocketErrors(), mb(row.rss), row.serverCPU.Seconds()/secs, perRequest, dbCell, res.CPU.Seconds()/secs,
		max(0, row.otherCPU.Seconds()/secs), perCommit, stored)
}

func storedCell(stored, ok int64) string {
	verdict := "ok"
	if stored < ok {
		verdict = "LOST"
	}
	return fmt.Sprintf("%d / %d %s", stored, ok, verdict)
}

func us(n int64) time.Duration { return time.Duration(n) * time.Microsecond }

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func mb(n int64) string {
	return fmt.Sprintf("%.0f MB", float64(n)/1e6)
}

func cpuModel() string {
	return procField("/proc/cpuinfo", "model name")
}

func memTotal() string {
	v := procField("/proc/meminfo", "MemTotal")
	var kb int64
	if _, err := fmt.Sscanf(v, "%d kB", &kb); err != nil {
		return v
	}
	return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
}

// procField returns the value of the first "name: value" line of a /proc file.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func wrkVersion(bin string) string {
	out, _ := execOutput(bin, "-v")
	line, _, _ := strings.Cut(out, "\n")
	if i := strings.Index(line, " Copyright"); i > 0 {
		line = line[:i]
	}
	return strings.TrimSpace(line)
}

// redactURL hides the password of a database URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
