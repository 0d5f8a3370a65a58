package main

import (
	"github.com/spf13/cobra"
)

func serveCommand(env cliEnv) *cobra.Command {
	cfg := DefaultConfig()
	var sf serveFlags
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the collector",
		Long: `Run the collector: the collect endpoints, the admin API and the health checks.

Every flag has an INLET_* environment variable (the flag wins). Without --db,
events are kept in the SQLite file inlet.db in --data. On first start an admin
token is generated into --data/admin-token unless --admin-token is given. The
data directory is locked: a second 'inlet serve' on the same --data refuses to
start. SIGINT or SIGTERM stops the server after the requests in flight.`,
		Example: `  inlet serve
  inlet serve --addr 0.0.0.0:8686 --data /var/lib/inlet --retention 90d
  INLET_DB='postgres://inlet@db:5432/inlet' inlet serve --data node-a`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := sf.finish(cmd.Flags(), &cfg, env.getenv); err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, cmd.ErrOrStderr())
		},
	}
	sf.register(cmd.Flags(), &cfg)
	return cmd
}
