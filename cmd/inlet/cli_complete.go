package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"inlet"
	inlethttp "inlet/http"
)

// Shell completion of ids: like kubectl and gh complete resource names,
// the commands that take a source, destination or session ask the running
// server for them. When it cannot answer (not running, no token), nothing
// is offered and the shell falls back to nothing rather than file names.

// completionTimeout bounds the wait for the server: a completion that
// hangs is worse than none.
const completionTimeout = 2 * time.Second

// completionList fetches the ids a shell may offer.
type completionList func(ctx context.Context, client *inlethttp.Client) ([]string, error)

func sourceIDs(ctx context.Context, client *inlethttp.Client) ([]string, error) {
	sources, err := client.ListSources(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(sources))
	for _, s := range sources {
		ids = append(ids, s.ID+"\t"+s.Name)
	}
	return ids, nil
}

func destinationIDs(ctx context.Context, client *inlethttp.Client) ([]string, error) {
	var ids []string
	f := inlet.ListFilter{Limit: inlet.MaxEventLimit}
	for range 10 { // enough pages for a shell's list
		page, err := client.ListDestinations(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, d := range page.Items {
			ids = append(ids, d.ID+"\t"+d.Name)
		}
		if page.Next == nil {
			break
		}
		f.Cursor = *page.Next
	}
	return ids, nil
}

// sessionIDs offers the sessions of the newest events: the admin API lists
// no sessions, and the recent ones are those a user looks for.
func sessionIDs(ctx context.Context, client *inlethttp.Client) ([]string, error) {
	page, err := client.ListEvents(ctx, inlet.EventFilter{Limit: inlet.MaxEventLimit})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var ids []string
	for _, e := range page.Items {
		if e.SessionID != "" && !seen[e.SessionID] {
			seen[e.SessionID] = true
			ids = append(ids, e.SessionID)
		}
	}
	return ids, nil
}

// argList says which ids the first argument of cmd takes, from the word
// its usage line gives it: DESTINATION, or ID of the group it is in.
func argList(cmd *cobra.Command) completionList {
	words := strings.Fields(cmd.Use)
	if len(words) < 2 {
		return nil
	}
	switch words[1] {
	case "DESTINATION":
		return destinationIDs
	case "ID":
		switch cmd.Parent().Name() {
		case "sources":
			return sourceIDs
		case "destinations":
			return destinationIDs
		case "sessions":
			return sessionIDs
		}
	}
	return nil
}

// complete returns the completion function of a flag or of arguments: the
// ids list gives that start with what is typed, or none when the server
// cannot be asked.
func (env cliEnv) complete(conn *connFlags, list completionList) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if applyEnv(cmd.Flags(), env.getenv) != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		client, err := conn.client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
		defer cancel()
		ids, err := list(ctx, client)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, id := range ids {
			if strings.HasPrefix(id, toComplete) {
				out = append(out, id)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeArgs completes the first argument of an admin command with the
// ids it takes, and nothing after it.
func (env cliEnv) completeArgs(conn *connFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		list := argList(cmd)
		if len(args) > 0 || list == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return env.complete(conn, list)(cmd, args, toComplete)
	}
}
