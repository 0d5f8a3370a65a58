package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"inlet"
)

// The audit commands: reading the log of changes, with the admin scope.

func auditCommand(env cliEnv) *cobra.Command {
	return group("audit", "Read the audit log: who changed what, from where, and how it ended",
		"  inlet audit list --object-type source --object-id shop\n  inlet audit list --token ci-writer --json",
		auditListCommand(env),
	)
}

func auditListCommand(env cliEnv) *cobra.Command {
	var (
		f            inlet.AuditFilter
		since, until string
	)
	cmd := &cobra.Command{
		Use:   "list [filters]",
		Short: "List the changes made through the API, the CLI and the console, newest first",
		Long: `List the audit log, newest first, 100 records at a time unless --limit says
otherwise: the time, the token (admin for the admin token, inlet for a change
the server made on its own), the client's address, the action, the object and
the outcome (ok, or the error code). --json adds what each change changed,
before and after, with secrets masked. When there are more, the last line
gives the --cursor of the next page.`,
		Example: `  inlet audit list
  inlet audit list --object-type source --object-id shop
  inlet audit list --token ci-writer --outcome forbidden
  inlet audit list --action destination.update --since 2026-01-02T15:04:05Z --json`,
		Args: noArgs,
	}
	fs := cmd.Flags()
	fs.StringVar(&f.Token, "token", "", "only the changes of this token, by name or id")
	fs.StringVar(&f.ObjectType, "object-type", "", "only changes of this type of object: "+strings.Join(inlet.AuditObjectTypes, ", "))
	fs.StringVar(&f.ObjectID, "object-id", "", "only changes of the object of this id")
	fs.StringVar(&f.Action, "action", "", "only this action, such as source.update")
	fs.StringVar(&f.Outcome, "outcome", "", "only this outcome: ok, or an error code such as forbidden")
	fs.StringVar(&since, "since", "", "only changes at or after this RFC 3339 time")
	fs.StringVar(&until, "until", "", "only changes before this RFC 3339 time")
	fs.StringVar(&f.Cursor, "cursor", "", "continue from the cursor a previous page printed")
	fs.IntVar(&f.Limit, "limit", 0, fmt.Sprintf("most records to show (default %d, at most %d)", inlet.DefaultAuditLimit, inlet.MaxAuditLimit))
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, _ []string) error {
		if err := flagRange(since, until, &f.Since, &f.Until); err != nil {
			return err
		}
		page, err := a.client.ListAudit(ctx, f)
		if err != nil {
			return err
		}
		return a.out.audit(page)
	})
}

// flagRange parses the RFC 3339 times of --since and --until into from
// and to; an empty one is the zero time.
func flagRange(since, until string, from, to *time.Time) error {
	for _, t := range []struct {
		flag, v string
		to      *time.Time
	}{{"since", since, from}, {"until", until, to}} {
		if t.v == "" {
			continue
		}
		var err error
		if *t.to, err = time.Parse(time.RFC3339Nano, t.v); err != nil {
			return usageErrorf("--%s: not an RFC 3339 time such as 2026-01-02T15:04:05Z: %q", t.flag, t.v)
		}
	}
	return nil
}

func (p printer) audit(page *inlet.AuditPage) error {
	if p.json {
		return p.json1(page)
	}
	rows := make([][]string, 0, len(page.Records))
	for _, r := range page.Records {
		object := r.ObjectType
		if r.ObjectID != "" {
			object += " " + r.ObjectID
		}
		outcome := r.Outcome
		if r.Error != "" {
			outcome += ": " + r.Error
		}
		rows = append(rows, []string{inlet.FormatTime(r.At), r.Token, orDash(r.Client), r.Action, object, outcome})
	}
	if err := p.table([]string{"AT", "TOKEN", "CLIENT", "ACTION", "OBJECT", "OUTCOME"}, rows...); err != nil {
		return err
	}
	if page.Next != "" {
		fmt.Fprintf(p.w, "\nmore: --cursor %s\n", page.Next)
	}
	return nil
}
