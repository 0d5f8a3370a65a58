package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"inlet"
	inlethttp "inlet/http"
	"inlet/stream"
)

// eventsTailCommand is `inlet events tail`: flags, then tailEvents.
func eventsTailCommand(env cliEnv) *cobra.Command {
	var f stream.Filter
	cmd := &cobra.Command{
		Use:   "tail [filters]",
		Short: "Print events as they are committed, until interrupted",
		Long: `Print new events as they are committed, a compact line each (--json: one
JSON object a line), like 'kubectl logs -f'. When the connection breaks or
the server restarts, it reconnects and resumes after the last event printed;
it says on stderr when events may be missing.`,
		Example: `  inlet events tail
  inlet events tail --source shop --type purchase
  inlet events tail --session session-42 --json`,
		Args: noArgs,
	}
	fs := cmd.Flags()
	fs.StringVar(&f.SourceID, "source", "", "only events of this source")
	fs.StringVar(&f.Type, "type", "", "only events of this type")
	fs.StringVar(&f.SessionID, "session", "", "only events of this session")
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, _ []string) error {
		return tailEvents(ctx, a.client, f, a.out.json, a.out.w, cmd.ErrOrStderr())
	})
}

// tailReconnectDelay is the wait before reconnecting; it doubles up to
// tailMaxDelay while the server cannot be reached.
var tailReconnectDelay, tailMaxDelay = 500 * time.Millisecond, 5 * time.Second

// tailEvents prints the live stream's events as they arrive until ctx
// ends: a compact line each, or one JSON object a line. When the stream
// ends or the connection breaks it reconnects with the last event id seen,
// so that nothing is printed twice and, within the server's resume window,
// nothing is missed. Notices go to stderr. It returns an error only when
// the server refuses the stream for good (a wrong token or filter).
func tailEvents(ctx context.Context, client *inlethttp.Client, f stream.Filter, asJSON bool, stdout, stderr io.Writer) error {
	last := ""
	delay := tailReconnectDelay
	said := false // that the server does not answer, once until it does
	for {
		var err error
		received := false
		last, err = client.Stream(ctx, f, last, func(item inlethttp.StreamItem) error {
			received = true
			switch item.Kind {
			case "event":
				return printStreamEvent(stdout, item, asJSON)
			case "gap":
				fmt.Fprintln(stderr, "inlet: some events may be missing here: the server no longer holds the events after the last one printed (list them with 'inlet events list')")
			case "end":
				var end inlethttp.StreamEnd
				json.Unmarshal(item.Data, &end)
				fmt.Fprintf(stderr, "inlet: the stream ended (%s); reconnecting\n", end.Reason)
			}
			return nil
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			switch inlet.ErrorCode(err) {
			case inlet.EUNAUTHORIZED, inlet.EINVALID, inlet.ENOTFOUND:
				return err
			}
			switch {
			case inlet.ErrorReason(err) != inlethttp.ReasonUnreachable:
				fmt.Fprintf(stderr, "inlet: %s; reconnecting\n", inlet.ErrorMessageOrText(err))
			case !said:
				fmt.Fprintf(stderr, "inlet: %s; retrying until it answers\n", inlet.ErrorMessage(withServerHint(err)))
				said = true
			}
		}
		if received {
			delay = tailReconnectDelay
			said = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, tailMaxDelay)
	}
}

// printStreamEvent writes one event: the API's JSON on one line, or a
// compact line: time, source, type, session, id and the properties cut to
// fit a terminal.
func printStreamEvent(w io.Writer, item inlethttp.StreamItem, asJSON bool) error {
	if asJSON {
		_, err := fmt.Fprintf(w, "%s\n", item.Data)
		return err
	}
	e := item.Event
	props := string(e.Properties)
	if len(props) > 100 {
		props = props[:97] + "..."
	}
	_, err := fmt.Fprintf(w, "%s  %s  %s  session=%s  id=%s  %s\n",
		e.InsertedAt.UTC().Format("2006-01-02T15:04:05.000Z"), e.SourceID, e.Type, orDash(e.SessionID), e.ID, props)
	return err
}
