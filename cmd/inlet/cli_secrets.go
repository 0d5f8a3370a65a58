package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"inlet"
)

// The secrets commands: the key ring that encrypts the stored secrets
// (docs/secrets.md).

func secretsCommand(env cliEnv) *cobra.Command {
	return group("secrets", "Make secrets keys and re-encrypt the stored secrets",
		"  inlet secrets key > secrets.key\n  inlet secrets rotate",
		secretsKeyCommand(),
		secretsRotateCommand(env),
	)
}

func secretsKeyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "key",
		Short: "Print a new secrets key, a line of a key file",
		Long: `Print a new random secrets key as a line of a key file: its id, a colon and
32 bytes in base64. A key file holds one key a line; the first line encrypts,
every line decrypts. Give PostgreSQL nodes the same file with
--secrets-key-file, or its lines in $INLET_SECRETS_KEY.`,
		Example: "  inlet secrets key > secrets.key\n  inlet secrets key >> secrets.key   # a new key, not yet current",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), inlet.NewSecretKey())
			return err
		},
	}
}

func secretsRotateCommand(env cliEnv) *cobra.Command {
	return env.adminCommand(&cobra.Command{
		Use:   "rotate",
		Short: "Re-encrypt every stored secret under the current key",
		Long: `Re-encrypt every stored secret (sender secrets, destination secrets and
headers, the privacy hash key) under the current key of the node that answers,
the first line of its key file, in one transaction. Every node must have that
key first (docs/secrets.md); afterwards the old key can be removed.`,
		Example: "  inlet secrets rotate",
		Args:    noArgs,
	}, func(ctx context.Context, a adminCall, _ []string) error {
		out, err := a.client.RotateSecrets(ctx)
		if err != nil {
			return err
		}
		if a.out.json {
			return a.out.json1(out)
		}
		_, err = fmt.Fprintf(a.out.w, "re-encrypted %d secret values; every secret is under key %s\n", out.Reencrypted, out.Key)
		return err
	})
}
