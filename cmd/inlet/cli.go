package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"inlet"
	inlethttp "inlet/http"
)

// The command table: every command of inlet, built with cobra. To add a
// command, write its logic as a plain function (a client, its filters and a
// printer in, an error out; see cli_admin.go), a small builder below that
// declares its Use/Short/Long/Example and flags, and one line in newRootCommand.
// Commands that talk to a running server go through adminCommand, which
// gives them --server, --admin-token, --data and --json.

// newRootCommand builds the whole command tree. getenv reads the INLET_*
// variables that stand in for flags.
func newRootCommand(getenv func(string) string) *cobra.Command {
	env := cliEnv{getenv: getenv}
	cobra.EnableCommandSorting = false // list the commands in the table's order
	root := &cobra.Command{
		Use:   "inlet",
		Short: "A webhook event collector",
		Long: `Inlet collects webhook events over HTTP, stores each one durably before it
answers 2xx, links events to sessions and profiles, and lets you read them back.

'inlet serve' runs the collector; the other commands talk to a running one
through its admin API.`,
		Example: `  inlet serve --data inlet-data
  inlet sources create --name "Shop backend" --id shop
  inlet events list --source shop`,
		Version: versionString(),
	}
	root.AddCommand(
		serveCommand(env),
		group("sources", "Register and manage the senders of webhooks",
			"  inlet sources create --name \"Shop backend\" --id shop\n  inlet sources list\n  inlet sources get shop",
			sourcesCreateCommand(env),
			sourcesListCommand(env),
			sourcesGetCommand(env),
			sourcesSetEnabledCommand(env, true),
			sourcesSetEnabledCommand(env, false),
			sourcesDeleteCommand(env),
			sourcesTryCommand(env),
		),
		group("events", "Read the stored events, or follow new ones",
			"  inlet events list --source shop\n  inlet events get EVENT_ID\n  inlet events tail --source shop",
			eventsListCommand(env),
			eventsGetCommand(env),
			eventsTailCommand(env),
			eventsDeliveriesCommand(env),
			eventsExportCommand(env),
			eventsImportCommand(env),
		),
		group("profiles", "Read customer profiles",
			"  inlet profiles get PROFILE_ID\n  inlet profiles find email:ann@example.com",
			profilesGetCommand(env),
			profilesFindCommand(env),
			profilesEraseCommand(env),
			profilesExportCommand(env),
			profilesUnsuppressCommand(env),
		),
		group("sessions", "Read sessions",
			"  inlet sessions get session-42",
			sessionsGetCommand(env),
		),
		group("rejections", "Read the log of refused collect requests",
			"  inlet rejections list --source gh --reason bad_signature",
			rejectionsListCommand(env),
		),
		listenCommand(env),
		triggerCommand(env),
		catalogCommand(env),
		destinationsCommand(env),
		deliveriesCommand(env),
		tokensCommand(env),
		auditCommand(env),
		secretsCommand(env),
		versionCommand(),
	)
	makeGroup(root)
	// Bare inlet is a question: what can this do? The answer is the help.
	root.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return flagError(err) })
	return root
}

// pflagErrorRE matches pflag's error for a value its type cannot parse.
var pflagErrorRE = regexp.MustCompile(`^invalid argument "(.*)" for "(?:-\w, )?(--[\w-]+)" flag: (.*)$`)

// valueProblem says in words what pflag's parser found wrong with a value.
func valueProblem(why string) string {
	switch {
	case strings.Contains(why, "strconv.ParseInt"), strings.Contains(why, "strconv.ParseUint"), strings.Contains(why, "strconv.ParseFloat"):
		return "not a number"
	case strings.Contains(why, "strconv.ParseBool"):
		return "not true or false"
	case strings.Contains(why, "time: "):
		return "not a duration such as 30s or 5m"
	}
	return why
}

// flagError rewrites pflag's and cobra's flag errors into one style, the
// flag first: --limit: not a number: "abc".
func flagError(err error) error {
	msg := err.Error()
	if m := pflagErrorRE.FindStringSubmatch(msg); m != nil {
		return usageErrorf("%s: %s: %q", m[2], valueProblem(m[3]), m[1])
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		if i := strings.LastIndex(name, " "); i >= 0 {
			name = name[i+1:]
		}
		return usageErrorf("%s: needs a value", strings.Trim(name, "'"))
	}
	if name, ok := strings.CutPrefix(msg, "unknown flag: "); ok {
		return usageErrorf("%s: unknown flag", name)
	}
	if name, ok := strings.CutPrefix(msg, "unknown shorthand flag: "); ok {
		return usageErrorf("%s: unknown flag", name)
	}
	return usageErrorf("%s", msg)
}

// run runs the program with args, as main does, and prints any error to
// stderr: one line, then a hint for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRootCommand(os.Getenv)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SilenceErrors = true
	root.SilenceUsage = true
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return nil
	}
	prefix, path := "inlet: ", "inlet"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	var ue *usageError
	var se *startError
	if errors.As(err, &se) || errors.As(err, &ue) && cmd != nil && cmd.Name() == "serve" {
		prefix = "inlet failed to start: "
	}
	switch {
	case errors.As(err, &ue) && ue.helpShown:
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s%s\n", prefix, ue.msg)
		if ue.hint != "" {
			fmt.Fprintln(stderr, ue.hint)
		}
		if cmd != nil && !cmd.HasAvailableSubCommands() {
			fmt.Fprintf(stderr, "Usage: %s\n", cmd.UseLine())
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", path)
	default:
		fmt.Fprintf(stderr, "%s%s\n", prefix, oneLine(inlet.ErrorMessageOrText(err)))
	}
	return err
}

// oneLine joins the lines of an error message.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// errUsage is what every usage error is: the command line cannot run.
var errUsage = errors.New("usage")

// startError is a failure of inlet serve before it served.
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// usageError is a command line that cannot run: a wrong argument, flag or
// command. run prints its message, its hint, and where help is.
type usageError struct {
	msg, hint string
	helpShown bool // the command's help is printed already
}

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == errUsage }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// group returns a command that only holds subcommands.
func group(use, short, example string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{
		Use:     use,
		Short:   short,
		Long:    short + ".",
		Example: example,
	}
	g.AddCommand(subs...)
	makeGroup(g)
	return g
}

// makeGroup makes g refuse a missing or unknown subcommand with a usage
// error, suggesting the nearest command, rather than print its help and
// succeed.
func makeGroup(g *cobra.Command) {
	// Flags meant for a mistyped subcommand must not hide the real mistake.
	g.FParseErrWhitelist.UnknownFlags = true
	g.SuggestionsMinimumDistance = 2
	g.SetUsageFunc(groupUsage)
	g.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		ue := &usageError{msg: fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())}
		switch s := cmd.SuggestionsFor(args[0]); len(s) {
		case 0:
		case 1:
			ue.hint = "Did you mean this? " + cmd.CommandPath() + " " + s[0]
		default:
			ue.hint = "Did you mean one of these? " + cmd.CommandPath() + " " + strings.Join(s, ", "+cmd.CommandPath()+" ")
		}
		return ue
	}
	g.RunE = func(cmd *cobra.Command, args []string) error {
		cmd.SetOut(cmd.ErrOrStderr())
		cmd.Help()
		return &usageError{msg: "no command given", helpShown: true}
	}
}

// groupUsage is the usage text of every command. A command that only holds
// subcommands lists them, without cobra's line saying it runs on its own;
// the root also lists help and the flags its commands share. A command that
// runs (cobra passes the usage function down the tree) shows its own usage
// line and flags.
func groupUsage(c *cobra.Command) error {
	w := c.OutOrStderr()
	if !c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "Usage:\n  %s\n", c.UseLine())
		if c.HasExample() {
			fmt.Fprintf(w, "\nExamples:\n%s\n", c.Example)
		}
		fmt.Fprintf(w, "\nFlags:\n%s", c.LocalFlags().FlagUsages())
		return nil
	}
	fmt.Fprintf(w, "Usage:\n  %s COMMAND [flags]\n", c.CommandPath())
	if c.HasExample() {
		fmt.Fprintf(w, "\nExamples:\n%s\n", c.Example)
	}
	fmt.Fprintf(w, "\nCommands:\n")
	pad := 0
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			pad = sub.NamePadding()
			fmt.Fprintf(w, "  %-*s %s\n", pad, sub.Name(), sub.Short)
		}
	}
	if !c.HasParent() {
		fmt.Fprintf(w, "  %-*s %s\n", pad, "help", "Show the help of a command: inlet help COMMAND")
		var shared connFlags
		fs := pflag.NewFlagSet("shared", pflag.ContinueOnError)
		shared.registerAs(fs, "data")
		fmt.Fprintf(w, "\nFlags of every command that talks to a server:\n%s", fs.FlagUsages())
	}
	fmt.Fprintf(w, "\nFlags:\n%s", c.LocalFlags().FlagUsages())
	fmt.Fprintf(w, "\nRun '%s COMMAND --help' for the flags and examples of a command.\n", c.CommandPath())
	return nil
}

// noArgs refuses positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, only flags (got %q)", cmd.CommandPath(), args[0])
	}
	return nil
}

// oneArg wants exactly one positional argument, named name in messages.
func oneArg(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageErrorf("%s takes one argument, the %s (got %d)", cmd.CommandPath(), name, len(args))
		}
		return nil
	}
}

// cliEnv is what every command reads besides its flags.
type cliEnv struct {
	getenv func(string) string
}

// envFlags marks flags that take their INLET_* variable when not given, and
// says so in their help.
func envFlags(fs *pflag.FlagSet, names ...string) {
	for _, n := range names {
		envFlagAs(fs, n, envName(n))
	}
}

// envFlagAs marks the flag name to take the variable env when not given.
func envFlagAs(fs *pflag.FlagSet, name, env string) {
	if f := fs.Lookup(name); f != nil {
		f.Usage += fmt.Sprintf(" ($%s)", env)
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations["env"] = []string{env}
	}
}

// applyEnv sets every flag marked by envFlags that was not given from its
// environment variable.
func applyEnv(fs *pflag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		names := f.Annotations["env"]
		if len(names) == 0 || f.Changed || err != nil {
			return
		}
		if v := getenv(names[0]); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = usageErrorf("$%s: %s: %q", names[0], valueProblem(e.Error()), v)
			}
		}
	})
	return err
}

// connFlags are the flags every admin command takes.
type connFlags struct {
	server, token, data string
	json                bool
	tokenFrom           string // where the token came from, for a refusal's message
}

// registerAs registers the flags with the data directory's flag named
// dataFlag, for a command whose --data is something else.
func (c *connFlags) registerAs(fs *pflag.FlagSet, dataFlag string) {
	fs.StringVar(&c.server, "server", "http://127.0.0.1:8686", "base URL (or host:port) of the running server")
	fs.StringVar(&c.token, "admin-token", "", "admin token (default: the one in the data directory)")
	fs.StringVar(&c.data, dataFlag, "inlet-data", "data directory holding the generated admin token")
	fs.BoolVar(&c.json, "json", false, "print JSON instead of a table")
	envFlags(fs, "server", "admin-token")
	// The data directory is INLET_DATA whatever the flag's name, as for
	// inlet serve.
	envFlagAs(fs, dataFlag, "INLET_DATA")
}

func (c *connFlags) client() (*inlethttp.Client, error) {
	token := c.token
	if token == "" {
		path := filepath.Join(c.data, tokenFile)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("no admin token: give --admin-token or $INLET_ADMIN_TOKEN, or --data pointing at the server's data directory (%s)", err)
		}
		token = strings.TrimSpace(string(b))
		c.tokenFrom = "the file " + path
	}
	return inlethttp.NewClient(serverURL(c.server), token), nil
}

// explain adds to the error of an admin call what the user can do about
// it: start a server or point --server at one, or check the token, naming
// where it came from.
func (c *connFlags) explain(err error) error {
	switch {
	case inlet.ErrorReason(err) == inlethttp.ReasonUnreachable:
		return withServerHint(err)
	case inlet.ErrorCode(err) == inlet.EUNAUTHORIZED:
		return inlet.Reasonf(inlet.EUNAUTHORIZED, inlet.ErrorReason(err),
			"%s; the token came from %s", strings.TrimSuffix(inlet.ErrorMessage(err), "."), c.tokenFrom)
	}
	return err
}

// serverURL accepts the server as a URL or as host:port, which it reads as
// http://host:port.
func serverURL(s string) string {
	if s != "" && !strings.Contains(s, "://") {
		return "http://" + s
	}
	return s
}

// withServerHint says, after the error of a server that does not answer,
// how to start one or point the CLI at another.
func withServerHint(err error) error {
	return inlet.Reasonf(inlet.EUNAVAILABLE, inlethttp.ReasonUnreachable,
		"%s: start one with 'inlet serve', or point --server (or INLET_SERVER) at the one that runs", inlet.ErrorMessage(err))
}

// adminCall is what an admin command's logic gets: a client of the
// server's admin API and a printer for the results.
type adminCall struct {
	client *inlethttp.Client
	out    printer
	conn   *connFlags
}

// adminCommand gives cmd the connection flags and runs do with a client
// once the flags and environment are read.
func (env cliEnv) adminCommand(cmd *cobra.Command, do func(ctx context.Context, a adminCall, args []string) error) *cobra.Command {
	return env.adminCommandAs(cmd, "data", do)
}

// adminCommandAs is adminCommand with the data directory's flag named
// dataFlag (inlet sources try takes --data for the body, as curl does).
func (env cliEnv) adminCommandAs(cmd *cobra.Command, dataFlag string, do func(ctx context.Context, a adminCall, args []string) error) *cobra.Command {
	var conn connFlags
	conn.registerAs(cmd.Flags(), dataFlag)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		conn.tokenFrom = "--admin-token"
		if !cmd.Flags().Changed("admin-token") {
			conn.tokenFrom = "$INLET_ADMIN_TOKEN"
		}
		if err := applyEnv(cmd.Flags(), env.getenv); err != nil {
			return err
		}
		client, err := conn.client()
		if err != nil {
			return err
		}
		return conn.explain(do(cmd.Context(), adminCall{client: client, out: printer{w: cmd.OutOrStdout(), json: conn.json}, conn: &conn}, args))
	}
	if cmd.ValidArgsFunction == nil {
		cmd.ValidArgsFunction = env.completeArgs(&conn)
	}
	for flag, list := range map[string]completionList{"source": sourceIDs, "session": sessionIDs} {
		if cmd.Flags().Lookup(flag) != nil {
			cmd.RegisterFlagCompletionFunc(flag, env.complete(&conn, list))
		}
	}
	return cmd
}
