package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"inlet"
	inlethttp "inlet/http"
)

// The catalog and dry-run commands: plain functions over a client and a
// writer, for the command table to call.

// showCatalog prints the catalog: one line per (source, event type), or
// with both source and type, that type's property paths.
func showCatalog(ctx context.Context, client *inlethttp.Client, source, eventType string, asJSON bool, w io.Writer) error {
	if source != "" && eventType != "" {
		e, err := client.FindCatalog(ctx, source, eventType)
		if err != nil {
			return err
		}
		if asJSON {
			return writeIndented(w, e)
		}
		return printCatalogEntry(w, e)
	}
	entries, err := client.ListCatalog(ctx, inlet.CatalogFilter{SourceID: source, Type: eventType})
	if err != nil {
		return err
	}
	if asJSON {
		return writeIndented(w, map[string]any{"items": entries})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tTYPE\tEVENTS\tFIRST SEEN\tLAST SEEN\tPATHS\tDRIFT SINCE")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%s\n", e.SourceID, e.Type, e.Count, inlet.FormatTime(e.FirstSeen), inlet.FormatTime(e.LastSeen), len(e.Paths), timeOrDash(e))
	}
	return tw.Flush()
}

func timeOrDash(e *inlet.CatalogEntry) string {
	if e.DriftSince.IsZero() {
		return "-"
	}
	return inlet.FormatTime(e.DriftSince)
}

func printCatalogEntry(w io.Writer, e *inlet.CatalogEntry) error {
	fmt.Fprintf(w, "%s %s: %s from %s to %s\n", e.SourceID, e.Type, plural(e.Count, "event", "events"), inlet.FormatTime(e.FirstSeen), inlet.FormatTime(e.LastSeen))
	if !e.DriftSince.IsZero() {
		fmt.Fprintf(w, "drift since %s\n", inlet.FormatTime(e.DriftSince))
	}
	if e.Truncated {
		fmt.Fprintf(w, "more than %d paths: the rest are not recorded\n", inlet.MaxCatalogPaths)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tTYPES\tPRESENCE\tFIRST SEEN\tDRIFT SINCE")
	for _, p := range e.Paths {
		types := make([]string, 0, len(p.Types))
		for t, n := range p.Types {
			types = append(types, t+" "+strconv.FormatInt(n, 10))
		}
		sort.Strings(types)
		drift := "-"
		if !p.DriftSince.IsZero() {
			drift = inlet.FormatTime(p.DriftSince)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f%%\t%s\t%s\n", p.Path, strings.Join(types, ", "), 100*p.Presence(e), inlet.FormatTime(p.FirstSeen), drift)
	}
	return tw.Flush()
}

// tryFlags are the parts of a request to try, as the command line gives them.
type tryFlags struct {
	eventType string
	method    string
	query     string
	headers   []string // "Name: value"
	data      string   // the body, @file, or @- for standard input
}

// tryRequest builds the dry run's request from the command line.
func (f tryFlags) tryRequest(stdin io.Reader) (inlethttp.TryRequest, error) {
	req := inlethttp.TryRequest{Method: f.method, EventType: f.eventType, Query: strings.TrimPrefix(f.query, "?"), Headers: map[string]string{}}
	for _, h := range f.headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return req, usageErrorf("--header: not Name: value, such as 'X-GitHub-Event: push': %q", h)
		}
		name = strings.TrimSpace(name)
		if old, ok := req.Headers[name]; ok {
			value = old + ", " + strings.TrimSpace(value)
		}
		req.Headers[name] = strings.TrimSpace(value)
	}
	var body []byte
	switch {
	case f.data == "@-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return req, err
		}
		body = b
	case strings.HasPrefix(f.data, "@"):
		b, err := os.ReadFile(f.data[1:])
		if err != nil {
			return req, fmt.Errorf("--data: %w", err)
		}
		body = b
	default:
		body = []byte(f.data)
	}
	req.SetBody(body)
	return req, nil
}

// trySource asks the server what collecting a request for a source would
// do, storing nothing, and prints the answer.
func trySource(ctx context.Context, client *inlethttp.Client, id string, req inlethttp.TryRequest, asJSON bool, w io.Writer) error {
	res, err := client.TrySource(ctx, id, req)
	if err != nil {
		return err
	}
	if asJSON {
		return writeIndented(w, res)
	}
	v := "not checked: the source has no verify"
	if res.Verification.Checked {
		v = "passed"
		if !res.Verification.OK {
			v = "failed: " + res.Verification.Reason + ": " + res.Verification.Message
		}
	}
	fmt.Fprintf(w, "verification: %s\n", v)
	fmt.Fprintf(w, "outcome:      %s (status %d)\n", tryOutcome(res.Outcome), res.Status)
	if res.Error != nil {
		fmt.Fprintf(w, "refused:      %s: %s\n", res.Error.Code, res.Error.Message)
	}
	if res.Challenge != "" {
		fmt.Fprintf(w, "challenge:    %s\n", res.Challenge)
	}
	for _, e := range res.Events {
		fmt.Fprintln(w)
		if err := writeIndented(w, e); err != nil {
			return err
		}
	}
	return nil
}

func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func catalogCommand(env cliEnv) *cobra.Command {
	var source, eventType string
	cmd := &cobra.Command{
		Use:   "catalog [--source ID] [--type TYPE]",
		Short: "Show what each sender sends: event types and their property paths",
		Long: `Show the schema catalog: for each source and event type, the events seen,
first and last seen, and whether the shape has drifted. With --source and
--type, that type's property paths with the JSON types seen, how often each
path is there, when it first appeared and when it drifted.`,
		Example: "  inlet catalog\n  inlet catalog --source gh\n  inlet catalog --source gh --type pull_request.opened",
		Args:    noArgs,
	}
	cmd.Flags().StringVar(&source, "source", "", "only this source's event types")
	cmd.Flags().StringVar(&eventType, "type", "", "only this event type; with --source, its property paths")
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, _ []string) error {
		return showCatalog(ctx, a.client, source, eventType, a.out.json, a.out.w)
	})
}

func sourcesTryCommand(env cliEnv) *cobra.Command {
	var f tryFlags
	cmd := &cobra.Command{
		Use:   "try ID [--header 'Name: value']... [--data BODY|@FILE|@-]",
		Short: "Show what collecting a request would do, storing nothing",
		Long: `Send a request to the source's dry run: the answer says whether it passes
verification (and why not), the events as they would be stored after the
preset, transform, validation and mapping, or the refusal with its code
and message. Nothing is stored. --data is the body, as for curl; the data
directory holding the admin token is --data-dir here.`,
		Example: `  inlet sources try gh --header 'X-GitHub-Event: push' --header 'Content-Type: application/json' --data @push.json
  inlet sources try shop --event-type order --data '{"id": "o-1", "status": "paid"}'`,
		Args: oneArg("source ID"),
	}
	fs := cmd.Flags()
	fs.StringArrayVarP(&f.headers, "header", "H", nil, "a request header, Name: value (repeatable)")
	fs.StringVarP(&f.data, "data", "d", "", "the body: text, @FILE for a file's bytes, @- for standard input")
	fs.StringVar(&f.query, "query", "", "the raw query string, such as a=1&b=2")
	fs.StringVarP(&f.method, "method", "X", "POST", "POST or GET")
	fs.StringVar(&f.eventType, "event-type", "", "the URL's event type (default try)")
	return env.adminCommandAs(cmd, "data-dir", func(ctx context.Context, a adminCall, args []string) error {
		req, err := f.tryRequest(cmd.InOrStdin())
		if err != nil {
			return err
		}
		return trySource(ctx, a.client, args[0], req, a.out.json, a.out.w)
	})
}

// tryOutcome says a dry run's outcome in the conditional: nothing was
// stored, dropped or refused, only would have been.
func tryOutcome(outcome string) string {
	switch outcome {
	case inlethttp.TryStored:
		return "would be stored"
	case inlethttp.TryDropped:
		return "would be dropped"
	case inlethttp.TryRefused:
		return "would be refused"
	}
	return outcome
}
