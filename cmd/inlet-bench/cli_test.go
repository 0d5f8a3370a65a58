package main

import (
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildBench builds inlet-bench into a temporary directory.
func buildBench(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "inlet-bench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBin runs bin with args and returns its output and exit code.
func runBin(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", bin, err)
	}
	return out.String(), errOut.String(), code
}

func TestCommandLine(t *testing.T) {
	bin := buildBench(t)

	for _, args := range [][]string{{"--help"}, {"-h"}, {"noop", "--help"}, {"prefill", "--help"}} {
		t.Run(strings.Join(args, " ")+" prints a description and the flags and exits 0", func(t *testing.T) {
			stdout, stderr, code := runBin(t, bin, args...)
			if code != 0 || !strings.Contains(stdout, "Usage:") || !strings.Contains(stdout, "Flags:") || stderr != "" {
				t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
		})
	}

	t.Run("the help names flag arguments, not words of their descriptions", func(t *testing.T) {
		stdout, _, _ := runBin(t, bin, "--help")
		for _, want := range []string{"-db URL\n", "-inlet-args FLAGS\n", "-logs DIR\n", "-inlet PATH\n"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("the help lacks %q", want)
			}
		}
		for _, wrong := range []string{"-db inlet", "-inlet-args inlet"} {
			if strings.Contains(stdout, wrong) {
				t.Errorf("the help shows %q", wrong)
			}
		}
	})

	t.Run("a bad flag is one line and a hint, without the flag list", func(t *testing.T) {
		stdout, stderr, code := runBin(t, bin, "--duration", "soon")
		want := "inlet-bench: invalid value \"soon\" for flag -duration: parse error\nRun 'inlet-bench --help' for usage.\n"
		if code != 1 || stderr != want || stdout != "" {
			t.Errorf("exit %d, stderr %q, stdout %q; want exit 1 and %q", code, stderr, stdout, want)
		}
	})

	t.Run("a --db naming no database is refused before anything runs", func(t *testing.T) {
		base := os.Getenv("INLET_TEST_POSTGRES")
		if base == "" {
			t.Skip("INLET_TEST_POSTGRES is not set")
		}
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/inlet_bench_no_such_database"
		_, stderr, code := runBin(t, bin, "--db", u.String(), "--scenarios", "1")
		if code != 1 || !strings.Contains(stderr, "does not exist") || !strings.Contains(stderr, "createdb") || strings.Contains(stderr, "baseline") {
			t.Errorf("exit %d, stderr:\n%s\nwant the missing database said before the baseline, with createdb", code, stderr)
		}
	})
}
