package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"inlet"
	inlethttp "inlet/http"
)

// The commands of a person's rights: erasure and export.

func profilesEraseCommand(env cliEnv) *cobra.Command {
	var identifier string
	var suppress bool
	cmd := &cobra.Command{
		Use:   "erase ID | --identifier KIND:VALUE",
		Short: "Erase a person: their profiles, sessions, identifiers, traits and events",
		Long: `Erase everything Inlet holds about a person, found by any of their profile ids
or by an identifier: the profile and every profile merged into it, their
sessions, identifiers, traits and events, the deliveries of those events, and
the samples of the rejected-request log that hold one of their identifiers.
It prints how many rows of each kind it removed; the erasure is recorded with
those counts, never the data. It cannot be undone.`,
		Example: "  inlet profiles erase 01a24e02-5133-7b49-bf10-f33017f055f6\n  inlet profiles erase --identifier email:ana@example.com",
		Args: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (identifier != "") {
				return usageErrorf("%s takes a profile ID or --identifier KIND:VALUE, one of them", cmd.CommandPath())
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&identifier, "identifier", "", "erase the person who owns this identifier, KIND:VALUE or KIND=VALUE (email:ana@example.com)")
	cmd.Flags().BoolVar(&suppress, "suppress", false, "also drop the later events of the person's identifiers at intake, until lifted (inlet profiles unsuppress)")
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, args []string) error {
		var erasure *inlet.Erasure
		var err error
		if identifier != "" {
			ident, perr := parseIdentifierArg(identifier)
			if perr != nil {
				return perr
			}
			erasure, err = a.client.EraseByIdentifier(ctx, ident, suppress)
		} else {
			erasure, err = a.client.EraseProfile(ctx, args[0], suppress)
		}
		if err != nil {
			return err
		}
		if a.out.json {
			return a.out.json1(erasure)
		}
		return a.out.table([]string{"PROFILES", "SESSIONS", "IDENTIFIERS", "TRAITS", "EVENTS", "DELIVERIES", "REJECTIONS"},
			[]string{fmt.Sprint(erasure.Profiles), fmt.Sprint(erasure.Sessions), fmt.Sprint(erasure.Identifiers), fmt.Sprint(erasure.Traits),
				fmt.Sprint(erasure.Events), fmt.Sprint(erasure.Deliveries), fmt.Sprint(erasure.Rejections)})
	})
}

func profilesExportCommand(env cliEnv) *cobra.Command {
	return env.adminCommand(&cobra.Command{
		Use:   "export ID > person.ndjson",
		Short: "Export every record of a person as NDJSON: profile, sessions, events",
		Long: `Write every record Inlet holds about a person, found by any of their profile
ids, to standard output as NDJSON, one {"kind": ..., "data": ...} a line: the
profile (with its identifiers, traits and merged profiles), its sessions, then
its events in commit order, all from one consistent read.`,
		Example: "  inlet profiles export 01a24e02-5133-7b49-bf10-f33017f055f6 > ana.ndjson",
		Args:    oneArg("profile ID"),
	}, func(ctx context.Context, a adminCall, args []string) error {
		// A progress bar (bytes) on stderr when it is a terminal, as for
		// an export of events.
		w, done := withProgress(os.Stdout, terminal(os.Stderr))
		defer done()
		_, err := a.client.ExportProfile(ctx, args[0], w)
		return err
	})
}

// parseIdentifierArg reads KIND:VALUE, or KIND=VALUE.
func parseIdentifierArg(s string) (inlet.Identifier, error) {
	if k, v, ok := strings.Cut(s, "="); ok && !strings.Contains(k, ":") {
		s = k + ":" + v
	}
	return inlethttp.ParseIdentifier(s)
}

func profilesUnsuppressCommand(env cliEnv) *cobra.Command {
	return env.adminCommand(&cobra.Command{
		Use:     "unsuppress KIND:VALUE",
		Short:   "Store the events of a suppressed identifier again",
		Example: "  inlet profiles unsuppress email:ana@example.com",
		Args:    oneArg("identifier KIND:VALUE"),
	}, func(ctx context.Context, a adminCall, args []string) error {
		ident, err := parseIdentifierArg(args[0])
		if err != nil {
			return err
		}
		if err := a.client.Unsuppress(ctx, ident); err != nil {
			return err
		}
		fmt.Fprintf(a.out.w, "events of %s:%s are stored again\n", ident.Kind, ident.Value)
		return nil
	})
}
