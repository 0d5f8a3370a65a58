package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"inlet"
	inlethttp "inlet/http"
)

// The admin commands: each builder declares a command of the table in
// cli.go, and its logic is a plain function over a client and a printer.

func sourcesCreateCommand(env cliEnv) *cobra.Command {
	var req inlethttp.CreateSourceRequest
	var disabled bool
	var config, preset, secret string
	cmd := &cobra.Command{
		Use:   "create --name NAME [--id ID] [--disabled] [--preset SENDER --secret SECRET] [--config JSON]",
		Short: "Register a source",
		Long: `Register a source, a sender of webhooks. Events are collected at
/collect/{event_type}/{source_id}. The configuration (signature check,
idempotency key, limits, payload mapping) is a JSON object; see docs/senders.md,
docs/identity.md and docs/shaping.md. --preset names a known sender (see
docs/senders.md), and --secret is the signing secret it shows: one step to a
source that verifies, types and deduplicates that sender's events.`,
		Example: `  inlet sources create --name "Shop backend" --id shop
  inlet sources create --name Stripe --id stripe --preset stripe --secret whsec_...
  inlet sources create --name GitHub --id gh --config '{"verify": {"type": "github", "secret": "gh-secret"}}'`,
		Args: noArgs,
	}
	cmd.Flags().StringVar(&req.Name, "name", "", "name of the source (required)")
	cmd.Flags().StringVar(&req.ID, "id", "", "id of the source (default: generated)")
	cmd.Flags().BoolVar(&disabled, "disabled", false, "create the source disabled")
	cmd.Flags().StringVar(&config, "config", "", "source configuration as a JSON object")
	cmd.Flags().StringVar(&preset, "preset", "", "known sender the source receives from: "+strings.Join(inlet.PresetNames(), ", "))
	cmd.Flags().StringVar(&secret, "secret", "", "the sender's signing secret (with --preset)")
	cmd.RegisterFlagCompletionFunc("preset", cobra.FixedCompletions(inlet.PresetNames(), cobra.ShellCompDirectiveNoFileComp))
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, _ []string) error {
		if disabled {
			enabled := false
			req.Enabled = &enabled
		}
		if config != "" {
			req.Config = &inlet.SourceConfig{}
			dec := json.NewDecoder(strings.NewReader(config))
			dec.DisallowUnknownFields()
			if err := dec.Decode(req.Config); err != nil {
				return usageErrorf("--config: not a source configuration: %v", err)
			}
		}
		if err := applyPreset(&req, preset, secret); err != nil {
			return err
		}
		return createSource(ctx, a, req)
	})
}

// applyPreset sets the preset and secret of --preset and --secret on the
// configuration, over what --config says.
func applyPreset(req *inlethttp.CreateSourceRequest, preset, secret string) error {
	if preset == "" {
		if secret != "" {
			return usageErrorf("--secret: goes with --preset; without one, give the verifier in --config")
		}
		return nil
	}
	if _, ok := inlet.LookupPreset(preset); !ok {
		return usageErrorf("--preset: must be one of %s: %q", strings.Join(inlet.PresetNames(), ", "), preset)
	}
	if req.Config == nil {
		req.Config = &inlet.SourceConfig{}
	}
	req.Config.Preset = preset
	if secret != "" {
		if req.Config.Verify == nil {
			req.Config.Verify = &inlet.VerifyConfig{}
		}
		req.Config.Verify.Secret = secret
	}
	return nil
}

// createSource registers a source and prints it.
func createSource(ctx context.Context, a adminCall, req inlethttp.CreateSourceRequest) error {
	src, err := a.client.CreateSource(ctx, req)
	if err != nil {
		return err
	}
	return a.out.sources(src)
}

func sourcesListCommand(env cliEnv) *cobra.Command {
	return env.adminCommand(&cobra.Command{
		Use:     "list",
		Short:   "List every source",
		Example: "  inlet sources list\n  inlet sources list --json",
		Args:    noArgs,
	}, func(ctx context.Context, a adminCall, _ []string) error {
		sources, err := a.client.ListSources(ctx)
		if err != nil {
			return err
		}
		return a.out.sources(sources...)
	})
}

func sourcesGetCommand(env cliEnv) *cobra.Command {
	return env.adminCommand(&cobra.Command{
		Use:   "get ID",
		Short: "Show a source and its configuration",
		Long: `Show a source and its configuration. Secrets are shown masked, as the
admin API shows them: **** (a Standard Webhooks secret as whsec_****).`,
		Example: "  inlet sources get shop\n  inlet sources get shop --json",
		Args:    oneArg("source ID"),
	}, func(ctx context.Context, a adminCall, args []string) error {
		return showSource(ctx, a, args[0])
	})
}

// showSource prints one source with its configuration.
func showSource(ctx context.Context, a adminCall, id string) error {
	src, err := a.client.FindSource(ctx, id)
	if err != nil {
		return err
	}
	if a.out.json {
		return a.out.json1(src)
	}
	if err := a.out.sources(src); err != nil {
		return err
	}
	return a.out.sourceConfig(src.Config.Masked())
}

func sourcesSetEnabledCommand(env cliEnv, enable bool) *cobra.Command {
	verb, short := "enable", "Accept events from a source again"
	if !enable {
		verb, short = "disable", "Refuse the events of a source (401) until it is enabled"
	}
	return env.adminCommand(&cobra.Command{
		Use:     verb + " ID",
		Short:   short,
		Example: "  inlet sources " + verb + " shop",
		Args:    oneArg("source ID"),
	}, func(ctx context.Context, a adminCall, args []string) error {
		return setSourceEnabled(ctx, a, args[0], enable)
	})
}

// setSourceEnabled enables or disables a source and prints it.
func setSourceEnabled(ctx context.Context, a adminCall, id string, enabled bool) error {
	src, err := a.client.UpdateSource(ctx, id, inlet.SourceUpdate{Enabled: &enabled})
	if err != nil {
		return err
	}
	return a.out.sources(src)
}

func sourcesDeleteCommand(env cliEnv) *cobra.Command {
	return env.adminCommand(&cobra.Command{
		Use:   "delete ID",
		Short: "Delete a source; its stored events are kept",
		Long: `Delete a source. Its requests are refused from then on (401, as for an
unknown source); the events it sent stay stored and listed until retention
removes them.`,
		Example: "  inlet sources delete shop",
		Args:    oneArg("source ID"),
	}, func(ctx context.Context, a adminCall, args []string) error {
		if err := a.client.DeleteSource(ctx, args[0]); err != nil {
			return err
		}
		if !a.out.json {
			fmt.Fprintf(a.out.w, "deleted source %s\n", args[0])
		}
		return nil
	})
}

func eventsListCommand(env cliEnv) *cobra.Command {
	var f inlet.EventFilter
	var since, until string
	cmd := &cobra.Command{
		Use:   "list [filters]",
		Short: "List events, newest first",
		Long: `List events, newest first, 50 at a time unless --limit says otherwise.
When there are more, the last line gives the --cursor of the next page.`,
		Example: `  inlet events list
  inlet events list --source shop --type purchase --limit 10
  inlet events list --session session-42 --json
  inlet events list --since 2026-01-02T15:04:05Z`,
		Args: noArgs,
	}
	fs := cmd.Flags()
	fs.StringVar(&f.SourceID, "source", "", "only events of this source")
	fs.StringVar(&f.Type, "type", "", "only events of this type")
	fs.StringVar(&f.ProfileID, "profile", "", "only events of this profile")
	fs.StringVar(&f.SessionID, "session", "", "only events of this session")
	fs.StringVar(&since, "since", "", "only events at or after this RFC 3339 time")
	fs.StringVar(&until, "until", "", "only events before this RFC 3339 time")
	fs.StringVar(&f.Cursor, "cursor", "", "continue from the cursor a previous page printed")
	fs.IntVar(&f.Limit, "limit", 0, "most events to show (default 50, at most 1000)")
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, _ []string) error {
		if err := flagRange(since, until, &f.Since, &f.Until); err != nil {
			return err
		}
		return printEvents(ctx, a, f)
	})
}

// printEvents prints a page of events.
func printEvents(ctx context.Context, a adminCall, f inlet.EventFilter) error {
	page, err := a.client.ListEvents(ctx, f)
	if err != nil {
		return err
	}
	return a.out.events(page)
}

func eventsGetCommand(env cliEnv) *cobra.Command {
	return env.adminCommand(&cobra.Command{
		Use:     "get ID",
		Short:   "Print a stored event as JSON",
		Example: "  inlet events get 0190c1f2-...",
		Args:    oneArg("event ID"),
	}, func(ctx context.Context, a adminCall, args []string) error {
		e, err := a.client.FindEvent(ctx, args[0])
		if err != nil {
			return err
		}
		return a.out.json1(e)
	})
}

func profilesGetCommand(env cliEnv) *cobra.Command {
	return env.adminCommand(&cobra.Command{
		Use:   "get ID",
		Short: "Show a profile: counts, identifiers, aliases and traits",
		Long: `Show a profile: its counts, identifiers, aliases and traits. An id that was
merged into another profile shows the survivor, with "merged into".`,
		Example: "  inlet profiles get cus_N1\n  inlet profiles get cus_N1 --json",
		Args:    oneArg("profile ID"),
	}, func(ctx context.Context, a adminCall, args []string) error {
		p, err := a.client.FindProfile(ctx, args[0])
		if err != nil {
			return err
		}
		return a.out.profileOrJSON(p)
	})
}

func profilesFindCommand(env cliEnv) *cobra.Command {
	return env.adminCommand(&cobra.Command{
		Use:     "find KIND:VALUE",
		Short:   "Find the profile that owns an identifier",
		Example: "  inlet profiles find email:ann@example.com",
		Args:    oneArg("identifier KIND:VALUE"),
	}, func(ctx context.Context, a adminCall, args []string) error {
		ident, err := inlethttp.ParseIdentifier(args[0])
		if err != nil {
			return err
		}
		p, err := a.client.FindProfileByIdentifier(ctx, ident)
		if err != nil {
			return err
		}
		return a.out.profileOrJSON(p)
	})
}

func sessionsGetCommand(env cliEnv) *cobra.Command {
	return env.adminCommand(&cobra.Command{
		Use:     "get ID",
		Short:   "Show a session: its profile, first and last seen, events",
		Example: "  inlet sessions get session-42",
		Args:    oneArg("session ID"),
	}, func(ctx context.Context, a adminCall, args []string) error {
		s, err := a.client.FindSession(ctx, args[0])
		if err != nil {
			return err
		}
		if a.out.json {
			return a.out.json1(s)
		}
		return a.out.table([]string{"ID", "PROFILE", "FIRST SEEN", "LAST SEEN", "EVENTS"},
			[]string{s.ID, s.ProfileID, inlet.FormatTime(s.FirstSeen), inlet.FormatTime(s.LastSeen), fmt.Sprint(s.EventCount)})
	})
}

func rejectionsListCommand(env cliEnv) *cobra.Command {
	var f inlet.RejectionFilter
	cmd := &cobra.Command{
		Use:   "list [filters]",
		Short: "Count refused collect requests and list the newest samples",
		Long: `Count refused collect requests (unknown source, bad signature, bad JSON, too
large, rate limited, ...) by source and reason, every one of them, then list
the newest samples, with the reason and the request. A few requests of each
source and reason a minute are kept as samples; requests for unknown sources
are counted under (unknown).`,
		Example: "  inlet rejections list\n  inlet rejections list --source gh --reason bad_signature",
		Args:    noArgs,
	}
	fs := cmd.Flags()
	fs.StringVar(&f.SourceID, "source", "", "only rejections of this source id")
	fs.StringVar(&f.Reason, "reason", "", "only rejections with this reason code, such as bad_signature")
	fs.IntVar(&f.Limit, "limit", 0, "most rejections to show, newest first (default 50, at most 1000)")
	fs.Int64Var(&f.BeforeID, "before", 0, "only rejections older than this id: the next page")
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, _ []string) error {
		return listRejections(ctx, a.client, f, a.out)
	})
}
