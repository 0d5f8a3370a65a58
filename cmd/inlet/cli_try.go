package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	inlethttp "inlet/http"
)

// The dry-run command (sources try): a plain function over a client and a
// writer, for the command table to call.

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
