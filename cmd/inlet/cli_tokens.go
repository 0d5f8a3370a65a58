package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"inlet"
	inlethttp "inlet/http"
)

// The tokens commands: API tokens with a scope, managed with the admin
// scope.

func tokensCommand(env cliEnv) *cobra.Command {
	return group("tokens", "Create, list and revoke API tokens with a scope",
		"  inlet tokens create --name ci-reader --scope read --expires 90d\n  inlet tokens list\n  inlet tokens revoke ci-reader",
		tokensCreateCommand(env),
		tokensListCommand(env),
		tokensRevokeCommand(env),
	)
}

func tokensCreateCommand(env cliEnv) *cobra.Command {
	var req inlethttp.CreateTokenRequest
	cmd := &cobra.Command{
		Use:   "create --name NAME --scope read|write|admin [--source ID ...] [--expires 90d]",
		Short: "Create an API token; its secret is printed this once only",
		Long: `Create an API token. A read token reads events, sessions, profiles,
deliveries, the catalog, stats and exports; a write token also changes sources
and destinations, retries, replays, discards, imports and erases; an admin token
does everything, tokens included. A read or write token given --source sees and
changes only those sources and their events. Only the token's SHA-256 is kept:
copy it now.`,
		Example: "  inlet tokens create --name ci-reader --scope read --expires 90d\n  inlet tokens create --name shop-team --scope write --source shop",
		Args:    noArgs,
	}
	cmd.Flags().StringVar(&req.Name, "name", "", "name of the token (required)")
	cmd.Flags().StringVar(&req.Scope, "scope", "", "read, write or admin (required)")
	cmd.Flags().StringArrayVar(&req.Sources, "source", nil, "bind the token to this source (repeatable; default: every source)")
	cmd.Flags().StringVar(&req.Expires, "expires", "", "lifetime such as 90d or 12h (default: never expires)")
	cmd.RegisterFlagCompletionFunc("scope", cobra.FixedCompletions([]string{inlet.ScopeRead, inlet.ScopeWrite, inlet.ScopeAdmin}, cobra.ShellCompDirectiveNoFileComp))
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, _ []string) error {
		if req.Name == "" {
			return usageErrorf("--name: required")
		}
		if req.Scope == "" {
			return usageErrorf("--scope: required: read, write or admin")
		}
		tok, err := a.client.CreateToken(ctx, req)
		if err != nil {
			return err
		}
		if a.out.json {
			return a.out.json1(tok)
		}
		_, err = fmt.Fprintln(a.out.w, tok.Secret)
		return err
	})
}

func tokensListCommand(env cliEnv) *cobra.Command {
	return env.adminCommand(&cobra.Command{
		Use:     "list",
		Short:   "List the API tokens, revoked ones included",
		Example: "  inlet tokens list\n  inlet tokens list --json",
		Args:    noArgs,
	}, func(ctx context.Context, a adminCall, _ []string) error {
		list, err := a.client.ListTokens(ctx)
		if err != nil {
			return err
		}
		return a.out.tokens(list...)
	})
}

func tokensRevokeCommand(env cliEnv) *cobra.Command {
	return env.adminCommand(&cobra.Command{
		Use:     "revoke NAME_OR_ID",
		Short:   "Revoke an API token, at once on every node",
		Example: "  inlet tokens revoke ci-reader",
		Args:    oneArg("token name or ID"),
	}, func(ctx context.Context, a adminCall, args []string) error {
		tok, err := a.client.RevokeToken(ctx, args[0])
		if err != nil {
			return err
		}
		return a.out.tokens(tok)
	})
}

func (p printer) tokens(list ...*inlet.Token) error {
	if p.json {
		if len(list) == 1 {
			return p.json1(list[0])
		}
		return p.json1(map[string]any{"tokens": list})
	}
	rows := make([][]string, 0, len(list))
	for _, t := range list {
		state := "active"
		switch {
		case t.RevokedAt != nil:
			state = "revoked"
		case t.ExpiresAt != nil && !t.Usable(time.Now()):
			state = "expired"
		}
		sources := "*"
		if len(t.Sources) > 0 {
			sources = strings.Join(t.Sources, ",")
		}
		rows = append(rows, []string{t.Name, t.Scope, sources, state, tokenTime(t.ExpiresAt), tokenTime(t.LastUsedAt), t.ID})
	}
	return p.table([]string{"NAME", "SCOPE", "SOURCES", "STATE", "EXPIRES", "LAST USED", "ID"}, rows...)
}

func tokenTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return inlet.FormatTime(*t)
}
