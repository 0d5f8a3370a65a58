package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"inlet"
	"inlet/listen"
)

// listenOptions are the flags of inlet listen.
type listenOptions struct {
	forwardTo []string
	sources   []string
	types     []string
	name      string
	secret    string
	stateDir  string
}

// listenBackoff is the first wait before forwarding again to a failing
// endpoint, doubled up to listenMaxBackoff; listenWait is how long one
// read of the log waits for an event.
var (
	listenBackoff, listenMaxBackoff = 500 * time.Millisecond, 30 * time.Second
	listenWait                      = 20 * time.Second
)

// listenCommand is `inlet listen`: flags, then runListen.
func listenCommand(env cliEnv) *cobra.Command {
	var o listenOptions
	cmd := &cobra.Command{
		Use:   "listen --forward-to URL [--source S...] [--type T...] [--name N]",
		Short: "Forward events to a local URL, signed again, resuming where it stopped",
		Long: `Forward each event, as its sender sent it, to a URL on this machine, signed
again in its source's scheme (GitHub, Stripe, Shopify, Slack, Standard
Webhooks, ...) so that the application's own verification runs unchanged. The
signing secret is --secret, or a development secret that listen makes on its
first run and prints; give the application that secret.

One line per event: the time, the source, the type, the local answer's status
and how long it took. A connection error, a 5xx or a 429 is retried with
backoff, and the events behind it wait, so that they arrive in order.

listen keeps its place in the log in a state file per server and --name, and
moves it only after the application accepted an event: the next listen with
the same name forwards every event it missed, also those that arrived while it
was not running, in order, then continues live. A first run starts with the
events from then on.`,
		Example: `  inlet listen --forward-to http://localhost:3000/hooks
  inlet listen --source stripe --forward-to http://localhost:3000/stripe --secret whsec_...
  inlet listen --forward-to 'invoice.*=http://localhost:3000/billing' --forward-to http://localhost:3000/hooks
  inlet listen --name ci --type push --forward-to http://localhost:8080/github`,
		Args: noArgs,
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&o.forwardTo, "forward-to", nil, "URL to forward to, or TYPES=URL for the events of those types (first match wins; repeat)")
	fs.StringArrayVar(&o.sources, "source", nil, "only events of this source (repeat for several)")
	fs.StringArrayVar(&o.types, "type", nil, "only events of this type, or of every type with the prefix before a final * (repeat)")
	fs.StringVar(&o.name, "name", "default", "name of the listener: each name keeps its own place in the log")
	fs.StringVar(&o.secret, "secret", "", "secret to sign with (default: the listener's development secret)")
	fs.StringVar(&o.stateDir, "state-dir", "", "directory of the listeners' state files (default: $XDG_STATE_HOME/inlet/listen or ~/.local/state/inlet/listen)")
	envFlagAs(fs, "secret", "INLET_LISTEN_SECRET")
	envFlagAs(fs, "state-dir", "INLET_LISTEN_STATE_DIR")
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, _ []string) error {
		return runListen(ctx, env, a, o, cmd)
	})
}

// unsafeNameRE matches what may not be in a state file's name.
var unsafeNameRE = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// listenStatePath returns the state file of a listener of name at server.
func listenStatePath(env cliEnv, dir, server, name string) (string, error) {
	if dir == "" {
		if x := env.getenv("XDG_STATE_HOME"); x != "" {
			dir = filepath.Join(x, "inlet", "listen")
		} else {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("no directory for the listener's state: give --state-dir (%w)", err)
			}
			dir = filepath.Join(home, ".local", "state", "inlet", "listen")
		}
	}
	host := server
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		host = u.Host + u.Path
	}
	return filepath.Join(dir, unsafeNameRE.ReplaceAllString(host, "_"), unsafeNameRE.ReplaceAllString(name, "_")+".json"), nil
}

func runListen(ctx context.Context, env cliEnv, a adminCall, o listenOptions, cmd *cobra.Command) error {
	if len(o.forwardTo) == 0 {
		return usageErrorf("--forward-to: give the URL to forward to, such as http://localhost:3000/hooks")
	}
	var rules []listen.Rule
	for _, f := range o.forwardTo {
		r, err := listen.ParseRule(f)
		if err != nil {
			return usageErrorf("--forward-to: %s", inlet.ErrorMessage(err))
		}
		rules = append(rules, r)
	}
	if o.name == "" || strings.TrimSpace(o.name) != o.name {
		return usageErrorf("--name: must be a name without spaces around it: %q", o.name)
	}
	server := a.client.URL
	path, err := listenStatePath(env, o.stateDir, server, o.name)
	if err != nil {
		return err
	}
	lock, err := listen.Lock(path)
	if err != nil {
		return err
	}
	defer lock.Close()
	st, err := listen.LoadState(path, server, o.name)
	if err != nil {
		return err
	}
	// A long poll must end before the client gives up on it.
	client := *a.client
	hc := *client.HTTP
	hc.Timeout = listenWait + 30*time.Second
	client.HTTP = &hc
	l := &listen.Listener{
		Log: &client, Rules: rules, Filter: inlet.DestinationFilter{Sources: o.sources, Types: o.types},
		StatePath: path, State: st, Secret: o.secret,
		HTTP: &http.Client{Timeout: 30 * time.Second},
		Out:  cmd.OutOrStdout(), Err: cmd.ErrOrStderr(),
		Backoff: listenBackoff, MaxBackoff: listenMaxBackoff, Wait: listenWait,
	}
	stderr := cmd.ErrOrStderr()
	if o.secret == "" {
		fmt.Fprintf(stderr, "inlet: signing with the development secret %s (give your application this secret, or run listen with --secret)\n", st.Secret)
	}
	resumed := st.Cursor != ""
	// Said once the listener has its place in the log, so that whoever
	// waits for these lines knows that no later event will be missed.
	l.Ready = func() {
		if resumed {
			fmt.Fprintf(stderr, "inlet: listener %q resumes where it stopped (%s); state in %s\n", o.name, st.UpdatedAt, path)
		} else {
			fmt.Fprintf(stderr, "inlet: listener %q starts with the events from now on; state in %s\n", o.name, path)
		}
		for _, r := range rules {
			what := "every event"
			if len(r.Types) > 0 {
				what = strings.Join(r.Types, ", ")
			}
			fmt.Fprintf(stderr, "inlet: forwarding %s to %s\n", what, r.URL)
		}
	}
	// Ctrl-C or SIGTERM stops it between two events' writes of its
	// place, as the state file's rename makes every stop.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := l.Run(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "inlet: listener %q stopped; 'inlet listen --name %s' resumes here\n", o.name, o.name)
	return nil
}
