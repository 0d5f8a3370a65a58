package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestTheDocumentedDefaultsAreTheFlags holds the flag tables of
// docs/configuration.md (every flag of inlet serve) and README.md (the
// main ones) to the flags themselves, so that a default changed in
// DefaultConfig, or in the package it comes from, fails here until the docs
// say it too.
func TestTheDocumentedDefaultsAreTheFlags(t *testing.T) {
	fs := pflag.NewFlagSet("inlet serve", pflag.ContinueOnError)
	cfg := DefaultConfig()
	var sf serveFlags
	sf.register(fs, &cfg)

	t.Run("docs/configuration.md has a row for every flag, with its variable and default", func(t *testing.T) {
		rows := flagRows(t, filepath.Join("..", "..", "docs", "configuration.md"), "| flag | environment | default | meaning |")
		fs.VisitAll(func(f *pflag.Flag) {
			row, ok := rows[f.Name]
			if !ok {
				t.Errorf("--%s has no row", f.Name)
				return
			}
			if want := "`" + envName(f.Name) + "`"; row[1] != want {
				t.Errorf("--%s: the environment column says %s, want %s", f.Name, row[1], want)
			}
			checkDefault(t, f, row[2])
		})
		for name := range rows {
			if fs.Lookup(name) == nil {
				t.Errorf("--%s has a row but is no flag of inlet serve", name)
			}
		}
	})

	t.Run("README.md's flags are flags of inlet serve, with their defaults", func(t *testing.T) {
		rows := flagRows(t, filepath.Join("..", "..", "README.md"), "| flag | default | meaning |")
		if len(rows) == 0 {
			t.Fatal("no flags in the table")
		}
		for name, row := range rows {
			f := fs.Lookup(name)
			if f == nil {
				t.Errorf("--%s has a row but is no flag of inlet serve", name)
				continue
			}
			checkDefault(t, f, row[1])
		}
	})
}

// checkDefault holds one documented default to a flag's: a value in
// backquotes must be the flag's default; words (generated, none, forever)
// may only stand for a flag whose default is empty or zero, which the
// program reads as the behaviour the words describe.
func checkDefault(t *testing.T, f *pflag.Flag, doc string) {
	t.Helper()
	zero := f.DefValue == "" || f.DefValue == "0" || f.DefValue == "0s" || f.DefValue == "[]"
	m := regexp.MustCompile("^`([^`]*)`$").FindStringSubmatch(doc)
	if m == nil {
		if !zero {
			t.Errorf("--%s: the default says %q, want `%s`", f.Name, doc, f.DefValue)
		}
		return
	}
	if m[1] == f.DefValue {
		return
	}
	if f.Value.Type() == "duration" {
		got, err1 := time.ParseDuration(m[1])
		want, err2 := time.ParseDuration(f.DefValue)
		if err1 == nil && err2 == nil && got == want {
			return
		}
	}
	t.Errorf("--%s: the default says %s, but the flag's is %s", f.Name, doc, f.DefValue)
}

// flagRows reads the table of a page that starts with header: for each
// flag (its first column, `--name`), the row's cells.
func flagRows(t *testing.T, path, header string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), header+"\n")
	if !ok {
		t.Fatalf("%s has no table headed %q", path, header)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "|") {
			break
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), " | ") {
			cells = append(cells, strings.TrimSpace(c))
		}
		if !strings.HasPrefix(cells[0], "`--") {
			continue // the separator row
		}
		rows[strings.Trim(cells[0], "`-")] = cells
	}
	return rows
}
