package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// contains says whether list holds s.
func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// isGroup says whether the command at path only holds subcommands.
func isGroup(path []string) bool {
	c, _, err := newRootCommand(func(string) string { return "" }).Find(path)
	return err == nil && c.HasAvailableSubCommands()
}

// everyCommand lists the path of every command of the table, root first.
func everyCommand(c *cobra.Command) [][]string {
	paths := [][]string{strings.Fields(c.CommandPath())[1:]}
	for _, sub := range c.Commands() {
		paths = append(paths, everyCommand(sub)...)
	}
	return paths
}

func TestHelp(t *testing.T) {
	isolateCLIEnv(t)
	commands := everyCommand(newRootCommand(func(string) string { return "" }))
	if len(commands) < 15 {
		t.Fatalf("the table has %d commands, fewer than the program's", len(commands))
	}
	for _, path := range commands {
		t.Run("inlet "+strings.Join(path, " ")+" --help exits 0 with a description and examples", func(t *testing.T) {
			stdout, stderr, err := runInlet(t, append(path, "--help")...)
			if err != nil {
				t.Fatalf("err %v, stderr %q", err, stderr)
			}
			if !strings.Contains(stdout, "Usage:") || !strings.Contains(stdout, "Examples:") {
				t.Errorf("the help lacks a usage or examples:\n%s", stdout)
			}
			if len(strings.TrimSpace(strings.SplitN(stdout, "Usage:", 2)[0])) < 10 {
				t.Errorf("the help starts with no description:\n%s", stdout)
			}
		})
	}

	for _, path := range commands {
		if len(path) == 0 || isGroup(path) {
			continue
		}
		t.Run("inlet "+strings.Join(path, " ")+" --help shows its own usage line and flags, no commands", func(t *testing.T) {
			stdout, _, _ := runInlet(t, append(path, "--help")...)
			if strings.Contains(stdout, "COMMAND [flags]") || strings.Contains(stdout, "Commands:") {
				t.Errorf("the help of a command that runs reads as a group's:\n%s", stdout)
			}
			if !strings.Contains(stdout, "Usage:\n  inlet "+strings.Join(path, " ")) || !strings.Contains(stdout, "Flags:\n") || !strings.Contains(stdout, "--help") {
				t.Errorf("the help lacks the command's usage line or flags:\n%s", stdout)
			}
		})
	}

	t.Run("the root help lists the commands, help, and the flags the commands share", func(t *testing.T) {
		stdout := mustRunInlet(t, "--help")
		for _, want := range []string{"serve ", "sources ", "\n  help ", "--server", "--admin-token", "--data", "--json", "INLET_SERVER"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("the root help lacks %q:\n%s", want, stdout)
			}
		}
	})

	t.Run("bare inlet prints the help and succeeds", func(t *testing.T) {
		stdout, stderr, err := runInlet(t)
		if err != nil || stderr != "" {
			t.Errorf("err %v, stderr %q; want success", err, stderr)
		}
		if help := mustRunInlet(t, "--help"); stdout != help {
			t.Errorf("bare inlet printed\n%s\nwant the help:\n%s", stdout, help)
		}
	})

	t.Run("a group without a command prints its commands with descriptions and fails", func(t *testing.T) {
		_, stderr, err := runInlet(t, "sources")
		if !errors.Is(err, errUsage) {
			t.Errorf("err %v, want a usage error", err)
		}
		for _, want := range []string{"create", "Register a source", "delete", "its stored events are kept"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("the help lacks %q:\n%s", want, stderr)
			}
		}
	})
}

func TestUsageErrors(t *testing.T) {
	isolateCLIEnv(t)
	for _, tc := range []struct {
		args []string
		want []string // lines of stderr, in order
	}{
		{[]string{"sourcs", "list"}, []string{`inlet: unknown command "sourcs" for "inlet"`, "Did you mean this? inlet sources", "Run 'inlet --help' for usage."}},
		{[]string{"sources", "lst", "--server", "x"}, []string{`inlet: unknown command "lst" for "inlet sources"`, "Did you mean one of these? inlet sources list, inlet sources get", "Run 'inlet sources --help' for usage."}},
		{[]string{"events", "list", "--limit", "ten"}, []string{`inlet: --limit: not a number: "ten"`, "Usage: inlet events list [filters] [flags]", "Run 'inlet events list --help' for usage."}},
		{[]string{"events", "list", "--limit"}, []string{`inlet: --limit: needs a value`, "Usage: inlet events list [filters] [flags]", "Run 'inlet events list --help' for usage."}},
		{[]string{"events", "list", "--lmit", "3"}, []string{`inlet: --lmit: unknown flag`, "Usage: inlet events list [filters] [flags]", "Run 'inlet events list --help' for usage."}},
		{[]string{"sources", "list", "--json=maybe"}, []string{`inlet: --json: not true or false: "maybe"`, "Usage: inlet sources list [flags]", "Run 'inlet sources list --help' for usage."}},
		{[]string{"serve", "--shutdown-timeout", "soon"}, []string{`inlet failed to start: --shutdown-timeout: not a duration such as 30s or 5m: "soon"`, "Usage: inlet serve [flags]", "Run 'inlet serve --help' for usage."}},
		{[]string{"events", "list", "--since", "yesterday", "--admin-token", "any"}, []string{`inlet: --since: not an RFC 3339 time such as 2026-01-02T15:04:05Z: "yesterday"`, "Usage: inlet events list [filters] [flags]", "Run 'inlet events list --help' for usage."}},
		{[]string{"sources", "try", "shop", "--header", "no-colon", "--admin-token", "any"}, []string{`inlet: --header: not Name: value, such as 'X-GitHub-Event: push': "no-colon"`, "Usage: inlet sources try ID [--header 'Name: value']... [--data BODY|@FILE|@-] [flags]", "Run 'inlet sources try --help' for usage."}},
		{[]string{"sources", "create", "--name", "x", "--config", "{\"nope\": 1}", "--admin-token", "any"}, []string{`inlet: --config: not a source configuration: json: unknown field "nope"`, "Usage: inlet sources create --name NAME [--id ID] [--disabled] [--preset SENDER --secret SECRET] [--config JSON] [flags]", "Run 'inlet sources create --help' for usage."}},
		{[]string{"sources", "get"}, []string{"inlet: inlet sources get takes one argument, the source ID (got 0)", "Usage: inlet sources get ID [flags]", "Run 'inlet sources get --help' for usage."}},
		{[]string{"serve", "--sync", "sometimes"}, []string{`inlet failed to start: --sync: "sometimes" is not full, normal or off`, "Usage: inlet serve [flags]", "Run 'inlet serve --help' for usage."}},
		{[]string{"serve", "--nope"}, []string{"inlet failed to start: --nope: unknown flag", "Usage: inlet serve [flags]", "Run 'inlet serve --help' for usage."}},
	} {
		t.Run(strings.Join(tc.args, " ")+" says what is wrong in one line, then a hint", func(t *testing.T) {
			stdout, stderr, err := runInlet(t, tc.args...)
			if !errors.Is(err, errUsage) {
				t.Errorf("err %v, want a usage error", err)
			}
			if got := strings.Split(strings.TrimRight(stderr, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, strings.Join(tc.want, "\n"))
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		stdout := mustRunInlet(t, args...)
		if !strings.HasPrefix(stdout, "inlet ") || !strings.Contains(stdout, " go1.") || strings.Count(stdout, "\n") != 1 {
			t.Errorf("inlet %s printed %q, want one line naming inlet and the Go version", args[0], stdout)
		}
	}
}

func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_inlet", "zsh": "#compdef inlet"} {
		stdout := mustRunInlet(t, "completion", shell)
		if !strings.Contains(stdout, want) {
			t.Errorf("completion %s lacks %q:\n%.300s", shell, want, stdout)
		}
	}
	// What the shell asks the program when completing "inlet sources e".
	stdout := mustRunInlet(t, "__complete", "sources", "e")
	if !strings.Contains(stdout, "enable") || strings.Contains(stdout, "list") {
		t.Errorf("completing 'inlet sources e' offered:\n%s", stdout)
	}
}

func TestCLIServerAsHostPortAndSourceConfig(t *testing.T) {
	isolateCLIEnv(t)
	s := startLive(t, liveConfig(t))
	hostPort := strings.TrimPrefix(s.url, "http://")
	conn := []string{"--server", hostPort, "--admin-token", s.token}

	mustRunInlet(t, append([]string{"sources", "create", "--id", "gh", "--name", "GitHub", "--config",
		`{"verify": {"type": "github", "secret": "gh-secret"}, "dedup": {"header": "X-GitHub-Delivery"}, "max_body_bytes": 4096}`}, conn...)...)
	stdout := mustRunInlet(t, append([]string{"sources", "get", "gh"}, conn...)...)
	if rows := tableRows(t, stdout); len(rows) != 2 || rows[1][0] != "gh" {
		t.Errorf("sources get printed the table %q, want gh", rows)
	}
	config := strings.SplitN(stdout, "\n\n", 2)
	if len(config) != 2 {
		t.Fatalf("sources get printed no configuration after the table:\n%s", stdout)
	}
	var got []string
	for _, r := range tableRows(t, config[1]) {
		got = append(got, strings.Join(r, "="))
	}
	if want := "CONFIG=VALUE,dedup.header=X-GitHub-Delivery,max_body_bytes=4096,verify.secret=****,verify.type=github"; strings.Join(got, ",") != want {
		t.Errorf("the configuration table %q, want %s", got, want)
	}
	if strings.Contains(stdout, "gh-secret") {
		t.Errorf("sources get shows the secret:\n%s", stdout)
	}

	mustRunInlet(t, append([]string{"sources", "create", "--id", "plain", "--name", "Plain"}, conn...)...)
	if stdout := mustRunInlet(t, append([]string{"sources", "get", "plain"}, conn...)...); !strings.HasSuffix(stdout, "\n\nconfig: none (no verification, no idempotency key, default limits)\n") {
		t.Errorf("sources get of a source without configuration printed:\n%s", stdout)
	}
}

func TestBadVariableIsNamed(t *testing.T) {
	isolateCLIEnv(t)
	t.Setenv("INLET_QUEUE_SIZE", "many")
	_, stderr, err := runInlet(t, "serve", "--data", t.TempDir())
	if !errors.Is(err, errUsage) {
		t.Errorf("err %v, want a usage error", err)
	}
	if want := `inlet failed to start: $INLET_QUEUE_SIZE: not a number: "many"` + "\n"; !strings.HasPrefix(stderr, want) {
		t.Errorf("stderr %q, want it to start with %q", stderr, want)
	}
	// A value that parses but is not allowed names its variable too, and
	// the flag when it came from the command line.
	t.Setenv("INLET_QUEUE_SIZE", "")
	t.Setenv("INLET_SYNC", "sometimes")
	if _, stderr, _ := runInlet(t, "serve", "--data", t.TempDir()); !strings.HasPrefix(stderr, `inlet failed to start: $INLET_SYNC: "sometimes" is not full, normal or off`) {
		t.Errorf("stderr %q; want it to name $INLET_SYNC", stderr)
	}
	if _, stderr, _ := runInlet(t, "serve", "--data", t.TempDir(), "--sync", "never"); !strings.HasPrefix(stderr, `inlet failed to start: --sync: "never" is not full, normal or off`) {
		t.Errorf("stderr %q; want it to name --sync", stderr)
	}
}
