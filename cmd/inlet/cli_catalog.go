package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"inlet"
	inlethttp "inlet/http"
)

// The catalog command: a plain function over a client and a writer, for
// the command table to call.

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

func catalogCommand(env cliEnv) *cobra.Command {
	var source, eventType string
	cmd := &cobra.Command{
		Use:   "catalog [--source ID] [--type TYPE]",
		Short: "Show what each sender sends: event types and their property paths",
		Long: `Show the schema catalog: for each source and event type, the events seen,
first and last seen, and whether any path has drifted. With --source and
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
