package main

// TestREADME runs the shell examples of README.md and of every page in
// docs/, each page top to bottom, and compares what they print with what
// the page says they print.
//
// The convention, for whoever writes examples in README.md or docs/*.md:
//
//   - Every page runs on its own (in parallel with the others), in a scratch
//     copy of the repository of its own: a fresh directory, so `inlet-data/`
//     starts empty. A page is complete in itself: it builds inlet, starts its
//     servers, creates what it uses, and stops and removes all of it. A new
//     page in docs/ is run without changing this test.
//   - Every ```sh block of a page runs, in order, in one bash shell
//     (variables, exports, functions and background jobs carry over from
//     block to block). HOME is a temporary directory whose ~/.local/bin is on
//     PATH; INLET_ADDR and INLET_SERVER name a free port of the page, and
//     every "127.0.0.1:8686" in a block (and "127.0.0.1:8687", a second
//     port) is replaced by it.
//   - A ```text block right after a ```sh block (blank lines between are
//     fine) is the output of that sh block, stdout and stderr together. It is
//     compared after ids (UUIDs) and RFC 3339 times are replaced by <id> and
//     <time> and runs of blanks are made one space; in it, <anything> stands
//     for one word (an id, a count, a time), "..." in a line for any text, and
//     a line of only "..." for any lines. A sh block without one must only
//     succeed. Numbers a page prints belong in a text block, not in a comment.
//   - A command that fails prints "[exit status N]" into the output; that is a
//     test failure unless the output block shows it.
//   - <!-- readme-test: background --> on the line before a block runs it in
//     the background (a server "in another terminal"): the test waits until
//     /readyz answers on the ports the block names (the first port if it
//     names none) and stops the block's processes (SIGTERM to its process
//     group) at the end of the page, or before a block marked
//     <!-- readme-test: after stopping the servers --> (the reader's Ctrl-C).
//     A server started with & in a block is the page's to stop; whatever
//     still runs when the page ends is stopped and is a failure.
//   - <!-- readme-test: postgres --> (or "postgres background") runs a block
//     only when INLET_TEST_POSTGRES is set, with $DB the URL of a schema of
//     its own there, dropped afterwards; otherwise the block is skipped.
//   - <!-- readme-test: skip REASON --> on the line before a block does not run
//     it (a second database, a benchmark, docker, the test command itself),
//     and the test log says why. Fences other than sh, text and data formats
//     (json, yaml, ...) are refused, so that no example is left out unseen.
//   - When a page ends, its scratch copy must hold nothing `git status` would
//     show: every file it created is removed or ignored by .gitignore. Nor
//     may it leave a new file in the repository itself.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"inlet/postgres/pgtest"
)

// readmeBlock is a fenced block of the README.
type readmeBlock struct {
	line   int    // of the opening fence, 1-based
	lang   string // sh, text, json, ...
	body   string
	marker string // the readme-test marker on the line before, if any
	output *readmeBlock
}

var (
	fenceRE  = regexp.MustCompile("^(\\s*)```\\s*([A-Za-z0-9_-]*)\\s*$")
	markerRE = regexp.MustCompile(`^\s*<!--\s*readme-test:\s*(.*?)\s*-->\s*$`)
)

// dataLangs are fences that hold data, never run.
var dataLangs = map[string]bool{"json": true, "yaml": true, "toml": true, "lua": true, "go": true, "dockerfile": true}

// parseReadme returns the sh blocks of a README, each with the text block
// that follows it, in order; it refuses fences it would not know what to do with.
func parseReadme(name, text string) ([]*readmeBlock, error) {
	lines := strings.Split(text, "\n")
	var blocks []*readmeBlock
	var prev *readmeBlock // the last sh block, while only blank lines follow it
	for i := 0; i < len(lines); i++ {
		m := fenceRE.FindStringSubmatch(lines[i])
		if m == nil {
			if strings.TrimSpace(lines[i]) != "" && !markerRE.MatchString(lines[i]) {
				prev = nil
			}
			continue
		}
		b := &readmeBlock{line: i + 1, lang: m[2]}
		for j := i - 1; j >= 0; j-- {
			if strings.TrimSpace(lines[j]) == "" {
				continue
			}
			if mm := markerRE.FindStringSubmatch(lines[j]); mm != nil {
				b.marker = mm[1]
			}
			break
		}
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, strings.TrimPrefix(lines[i], m[1]))
		}
		if i == len(lines) {
			return nil, fmt.Errorf("%s:%d: the block is never closed", name, b.line)
		}
		b.body = strings.Join(body, "\n") + "\n"
		switch {
		case b.lang == "sh":
			blocks = append(blocks, b)
			prev = b
			continue
		case b.lang == "text" && prev != nil && b.marker == "":
			prev.output = b
		case b.lang == "text" || dataLangs[b.lang]:
		default:
			return nil, fmt.Errorf("%s:%d: a ```%s block: write shell examples as ```sh and outputs as ```text (see readme_test.go)", name, b.line, b.lang)
		}
		prev = nil
	}
	return blocks, nil
}

var (
	uuidRE    = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE    = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`)
	blanksRE  = regexp.MustCompile(`[ \t]+`)
	placeRE   = regexp.MustCompile(`<[^<>\n]+>`)
	ellipsisR = regexp.MustCompile(`\\\.\\\.\\\.`)
)

// normalizeOutput replaces ids and times, makes runs of blanks one space
// and drops blank lines at either end.
func normalizeOutput(s string) string {
	s = uuidRE.ReplaceAllString(s, "<id>")
	s = timeRE.ReplaceAllString(s, "<time>")
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		lines = append(lines, strings.TrimSpace(blanksRE.ReplaceAllString(l, " ")))
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

// outputPattern turns a documented output into the expression that actual
// outputs must match.
func outputPattern(want string) *regexp.Regexp {
	var re strings.Builder
	re.WriteString(`^`)
	for _, l := range strings.Split(normalizeOutput(want), "\n") {
		if l == "..." {
			re.WriteString(`(?:[^\n]*\n)*?`)
			continue
		}
		q := regexp.QuoteMeta(l)
		q = placeRE.ReplaceAllString(q, `[^\s"]+`)
		q = ellipsisR.ReplaceAllString(q, `[^\n]*`)
		re.WriteString(q + `\n`)
	}
	re.WriteString(`$`)
	return regexp.MustCompile(re.String())
}

func TestOutputPattern(t *testing.T) {
	for _, tc := range []struct {
		want, got string
		match     bool
	}{
		{"ID  NAME\nshop  Shop backend", "ID    NAME\nshop  Shop backend\n", true},
		{`{"events":["<event id>"]}`, `{"events":["0190c1f2-3b4c-7d5e-8f60-718293a4b5c6"]}`, true},
		{`{"events":["<event id>"]}`, `{"events":["a","b"]}`, false},
		{"created 2026-01-01T00:00:00Z", "created 2026-11-28T13:00:33.787731Z", true},
		{"a ...\n...\nz", "a b c\nx\ny\nz", true},
		{"a\nz", "a\nx\nz", false},
		{"count 2", "count 3", false},
	} {
		if got := outputPattern(tc.want).MatchString(normalizeOutput(tc.got) + "\n"); got != tc.match {
			t.Errorf("%q against %q: match %v, want %v", tc.want, tc.got, got, tc.match)
		}
	}
}

// readmeShell is the bash that runs the README's blocks.
type readmeShell struct {
	t     *testing.T
	dir   string // where block files and outputs go
	stdin io.WriteCloser
	lines chan string
	bg    []int // process groups of background blocks
}

// freePort returns an address on 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scratchRepo makes dir look like a fresh clone of the repository at root:
// a symbolic link to each of its top-level entries, but for what running
// the examples creates.
func scratchRepo(t *testing.T, root, dir string) {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch e.Name() {
		case ".git", "inlet-data", "inlet", "inlet-bench", "dist", "node-a", "node-b":
			continue
		}
		if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
}

// readmePages lists the pages TestREADME runs: README.md, then docs/*.md.
func readmePages(t *testing.T, root string) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages := []string{"README.md"}
	for _, d := range docs {
		pages = append(pages, filepath.Join("docs", filepath.Base(d)))
	}
	return pages
}

func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("builds inlet and runs every README and docs example")
	}
	for _, tool := range []string{"bash", "curl", "openssl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's examples need %s: %v", tool, err)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	before := untracked(t, root)
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		after := untracked(t, root)
		for f := range after {
			if !before[f] {
				t.Errorf("the examples left %s in the repository", f)
			}
		}
	})
	pages := readmePages(t, root)
	if len(pages) < 2 {
		t.Fatalf("only %v to run: where are the docs?", pages)
	}
	// A schema of its own in INLET_TEST_POSTGRES, for the pages' blocks
	// marked postgres; without it they are skipped.
	db := ""
	if os.Getenv(pgtest.EnvURL) != "" {
		db = pgtest.URL(t)
	}
	for _, page := range pages {
		t.Run(filepath.Base(page), func(t *testing.T) {
			t.Parallel()
			runReadmePage(t, root, page, db)
		})
	}
}

// untracked returns the files git shows as untracked in root, or nil where
// root is not a git checkout.
func untracked(t *testing.T, root string) map[string]bool {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=all").Output()
	if err != nil {
		return nil
	}
	files := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if f, ok := strings.CutPrefix(l, "?? "); ok {
			files[f] = true
		}
	}
	return files
}

// runReadmePage runs the blocks of one page in a scratch copy of the
// repository and checks what they print and what they leave.
func runReadmePage(t *testing.T, root, page, db string) {
	text, err := os.ReadFile(filepath.Join(root, page))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseReadme(page, string(text))
	if err != nil {
		t.Fatal(err)
	}

	tmp := t.TempDir()
	work, home, state := filepath.Join(tmp, "inlet"), filepath.Join(tmp, "home"), filepath.Join(tmp, "blocks")
	for _, d := range []string{work, filepath.Join(home, ".local", "bin"), state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	scratchRepo(t, root, work)
	fresh := listDir(t, work)
	addr, addr2 := freePort(t), freePort(t)
	sh := startReadmeShell(t, work, home, state, addr, db)

	ran, skipped := 0, 0
	for i, b := range blocks {
		where := fmt.Sprintf("%s:%d", page, b.line)
		script := strings.NewReplacer("127.0.0.1:8686", addr, "127.0.0.1:8687", addr2).Replace(b.body)
		switch {
		case strings.HasPrefix(b.marker, "skip"):
			skipped++
			t.Logf("%s: skipped: %s", where, strings.TrimSpace(strings.TrimPrefix(b.marker, "skip")))
			continue
		case strings.HasPrefix(b.marker, "postgres") && db == "":
			skipped++
			t.Logf("%s: skipped: %s is not set", where, pgtest.EnvURL)
			continue
		case b.marker == "postgres background" || b.marker == "background":
			ran++
			// Wait for the servers the block names, or the default one.
			var wait []string
			for _, a := range []string{addr, addr2} {
				if strings.Contains(script, a) {
					wait = append(wait, a)
				}
			}
			if len(wait) == 0 {
				wait = []string{addr}
			}
			sh.background(i, script, wait, where)
			continue
		case b.marker == "after stopping the servers":
			sh.stop()
		case b.marker == "postgres":
		case b.marker != "":
			t.Fatalf("%s: unknown marker %q: want background, after stopping the servers, or skip REASON", where, b.marker)
		}
		ran++
		out := sh.run(i, script, where)
		if b.output != nil {
			want := strings.NewReplacer("127.0.0.1:8686", addr, "127.0.0.1:8687", addr2).Replace(b.output.body)
			if !outputPattern(want).MatchString(normalizeOutput(out) + "\n") {
				t.Errorf("%s: the block printed\n%s\nbut %s:%d says\n%s", where, indent(out), page, b.output.line, indent(b.output.body))
			}
		} else if strings.Contains(out, "[exit status ") {
			t.Errorf("%s: a command failed:\n%s", where, indent(out))
		}
	}
	sh.stop()
	if left := sh.stopJobs(); left > 0 {
		t.Errorf("%s: %d background jobs still ran at the end of the page; stop the servers it starts", page, left)
	}
	t.Logf("%s: %d blocks run, %d skipped", page, ran, skipped)

	for _, name := range listDir(t, work) {
		if contains(fresh, name) {
			continue
		}
		if fi, err := os.Stat(filepath.Join(work, name)); err == nil && fi.IsDir() {
			name += "/"
		}
		// What git would not show (inlet-data/) may stay, as in a clone.
		if exec.Command("git", "-C", root, "check-ignore", "-q", "--", name).Run() != nil {
			t.Errorf("%s left %s in the repository, which git status shows: remove it at the end of the page", page, name)
		}
	}
}

// listDir returns the names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// startReadmeShell starts the bash that runs the blocks, in work, with the
// environment the README's reader is assumed to have.
func startReadmeShell(t *testing.T, work, home, state, addr, db string) *readmeShell {
	t.Helper()
	env := []string{
		"HOME=" + home,
		"PATH=" + filepath.Join(home, ".local", "bin") + ":" + os.Getenv("PATH"),
		"INLET_ADDR=" + addr,
		"INLET_SERVER=http://" + addr,
		"LANG=C.UTF-8",
	}
	if db != "" {
		env = append(env, "DB="+db)
	}
	// The Go caches of the machine: a new HOME must not mean a cold build.
	for _, name := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS", "GOPROXY", "GOTOOLCHAIN"} {
		out, err := exec.Command("go", "env", name).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", name, err)
		}
		env = append(env, name+"="+strings.TrimSpace(string(out)))
	}
	if v, ok := os.LookupEnv("TMPDIR"); ok {
		env = append(env, "TMPDIR="+v)
	}
	cmd := exec.Command("bash", "--noprofile", "--norc")
	cmd.Dir, cmd.Env = work, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sh := &readmeShell{t: t, dir: state, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			sh.lines <- s.Text()
		}
		close(sh.lines)
	}()
	t.Cleanup(func() {
		stdin.Close()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	// Job control puts each background block in a process group of its own;
	// a failed command says so in the block's output.
	sh.send("set -m\ntrap 'echo \"[exit status $?]\"' ERR\necho __readme_ready__\n", "__readme_ready__", 10*time.Second)
	return sh
}

// send writes commands to the shell and waits for the line it prints last.
func (sh *readmeShell) send(commands, last string, timeout time.Duration) string {
	sh.t.Helper()
	if _, err := io.WriteString(sh.stdin, commands); err != nil {
		sh.t.Fatalf("the shell is gone: %v", err)
	}
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-sh.lines:
			if !ok {
				sh.t.Fatal("the shell exited")
			}
			if strings.HasPrefix(l, last) {
				return strings.TrimSpace(strings.TrimPrefix(l, last))
			}
		case <-deadline:
			sh.t.Fatalf("no answer from the shell in %s", timeout)
		}
	}
}

// run runs block i in the shell and returns what it printed.
func (sh *readmeShell) run(i int, script, where string) string {
	sh.t.Helper()
	file, out := sh.files(i, script)
	sh.send(fmt.Sprintf("source %s >%s 2>&1 </dev/null\necho __readme_done__\n", file, out), "__readme_done__", 2*time.Minute)
	b, err := os.ReadFile(out)
	if err != nil {
		sh.t.Fatal(err)
	}
	sh.t.Logf("%s printed:\n%s", where, indent(string(b)))
	return string(b)
}

// background starts block i in the background and waits until the servers
// it starts answer /readyz on addrs.
func (sh *readmeShell) background(i int, script string, addrs []string, where string) {
	sh.t.Helper()
	file, out := sh.files(i, script)
	pid := sh.send(fmt.Sprintf("source %s >%s 2>&1 </dev/null &\necho __readme_bg__ $!\n", file, out), "__readme_bg__", 10*time.Second)
	var pgid int
	fmt.Sscan(pid, &pgid)
	sh.bg = append(sh.bg, pgid)
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for _, addr := range addrs {
		for ; ; time.Sleep(100 * time.Millisecond) {
			if resp, err := client.Get("http://" + addr + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(out)
				sh.t.Fatalf("%s: no server ready on %s after 60s; it printed:\n%s", where, addr, indent(string(log)))
			}
		}
	}
}

func (sh *readmeShell) files(i int, script string) (file, out string) {
	sh.t.Helper()
	file = filepath.Join(sh.dir, fmt.Sprintf("block-%02d.sh", i))
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		sh.t.Fatal(err)
	}
	return file, filepath.Join(sh.dir, fmt.Sprintf("block-%02d.out", i))
}

// stop ends the background blocks (SIGTERM, then SIGKILL after 15s).
func (sh *readmeShell) stop() {
	for _, pgid := range sh.bg {
		stopGroup(pgid)
	}
	sh.bg = nil
}

// stopGroup ends a process group: SIGTERM, then SIGKILL after 15s.
func stopGroup(pgid int) {
	syscall.Kill(-pgid, syscall.SIGTERM)
	for deadline := time.Now().Add(15 * time.Second); syscall.Kill(-pgid, 0) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(-pgid, syscall.SIGKILL)
			break
		}
	}
}

// stopJobs stops the jobs the page's blocks started with & and left
// running, and says how many there were.
func (sh *readmeShell) stopJobs() int {
	sh.t.Helper()
	var n int
	for _, f := range strings.Fields(sh.send("echo __readme_jobs__ $(jobs -pr)\n", "__readme_jobs__", 10*time.Second)) {
		var pgid int
		if _, err := fmt.Sscan(f, &pgid); err == nil && pgid > 0 && syscall.Kill(-pgid, 0) == nil {
			n++
			stopGroup(pgid)
		}
	}
	return n
}
