package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"inlet"
	inlethttp "inlet/http"
	"inlet/sample"
	"inlet/verify"
)

// triggerOptions are the flags of inlet trigger.
type triggerOptions struct {
	source, secret, collectURL string
	sets                       []string
	list                       bool
}

// triggerCommand is `inlet trigger`: flags, then trigger.
func triggerCommand(env cliEnv) *cobra.Command {
	var o triggerOptions
	cmd := &cobra.Command{
		Use:   "trigger SENDER EVENT_TYPE --source S [--secret SECRET] [--set path=value...] | --list [SENDER]",
		Short: "Send a realistic signed sample of a sender's event to a source",
		Long: `Send a sample of a sender's event type to a source, with the headers the
sender sets and signed as the sender signs it with --secret, the source's
signing secret, so that the whole path runs as in production: the preset,
the signature check, the dedup key, transforms, schemas and destinations.
Each sample has fresh ids and times, so it is never a duplicate. --set
changes a field of the body (value as JSON, or else a string). --list shows
the samples.`,
		Example: `  inlet trigger --list
  inlet trigger stripe invoice.paid --source stripe --secret whsec_...
  inlet trigger github pull_request.opened --source gh --secret gh-secret --set pull_request.title="Fix it"
  inlet trigger shopify orders.create --source shop --secret shpss_... --set total_price=99.00`,
	}
	fs := cmd.Flags()
	fs.StringVar(&o.source, "source", "", "source to send to (required)")
	fs.StringVar(&o.secret, "secret", "", "the source's signing secret, to sign the sample with")
	fs.StringArrayVar(&o.sets, "set", nil, "path=value to change in the body (repeat)")
	fs.BoolVar(&o.list, "list", false, "list the samples, of one sender when given, and send nothing")
	fs.StringVar(&o.collectURL, "url", "", "collect URL to send to (default: the server's /collect/EVENT_TYPE/SOURCE)")
	envFlagAs(fs, "secret", "INLET_TRIGGER_SECRET")
	cmd.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		switch len(args) {
		case 0:
			return inlet.PresetNames(), cobra.ShellCompDirectiveNoFileComp
		case 1:
			return sample.Types(args[0]), cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	env.adminCommand(cmd, func(ctx context.Context, a adminCall, args []string) error {
		if len(args) != 2 {
			return usageErrorf("%s takes the sender and the event type, such as 'stripe invoice.paid' (got %d arguments); --list shows them", cmd.CommandPath(), len(args))
		}
		if o.source == "" {
			return usageErrorf("--source: give the source to send to")
		}
		return trigger(ctx, a, o, args[0], args[1], cmd.OutOrStdout())
	})
	send := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if o.list {
			return listSamples(c.OutOrStdout(), args)
		}
		return send(c, args)
	}
	return cmd
}

// listSamples prints the samples, one line a sender with its types.
func listSamples(w io.Writer, args []string) error {
	senders := map[string][]string{}
	var order []string
	for _, e := range sample.List() {
		if len(args) > 0 && e.Sender != args[0] {
			continue
		}
		if senders[e.Sender] == nil {
			order = append(order, e.Sender)
		}
		senders[e.Sender] = append(senders[e.Sender], e.Type)
	}
	if len(order) == 0 {
		return usageErrorf("no samples of the sender %q", args[0])
	}
	for _, s := range order {
		if _, err := fmt.Fprintf(w, "%-18s %s\n", s, strings.Join(senders[s], " ")); err != nil {
			return err
		}
	}
	return nil
}

// trigger builds a sample, signs it for the source and sends it to the
// collect endpoint, then prints the collector's answer.
func trigger(ctx context.Context, a adminCall, o triggerOptions, sender, typ string, w io.Writer) error {
	src, err := a.client.FindSource(ctx, o.source)
	if err != nil {
		return err
	}
	now := time.Now()
	req, err := sample.Build(sender, typ, o.sets, now)
	if err != nil {
		if inlet.ErrorCode(err) == inlet.EINVALID {
			return usageErrorf("%s", inlet.ErrorMessage(err))
		}
		return err
	}
	target := o.collectURL
	if target == "" {
		target = a.client.URL + "/collect/" + url.PathEscape(sample.EventType(typ)) + "/" + url.PathEscape(o.source)
	}
	if e := src.Config.Effective(); e.Verify != nil {
		if o.secret == "" {
			return usageErrorf("--secret: source %s checks signatures; give its signing secret (or $INLET_TRIGGER_SECRET)", o.source)
		}
		v := *e.Verify
		v.Secret, v.Password = o.secret, o.secret
		if req.Body, err = verify.SignBody(&v, req.Body, now); err != nil {
			return err
		}
		sig, err := verify.Sign(&v, verify.Request{Header: req.Header, Body: req.Body, URL: target, Now: now})
		if err != nil {
			return err
		}
		for k, vals := range sig.Header {
			req.Header[k] = vals
		}
		if sig.QueryName != "" {
			target += "?" + url.Values{sig.QueryName: {sig.QueryValue}}.Encode()
		}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(req.Body))
	if err != nil {
		return err
	}
	hr.Header = req.Header
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(hr)
	if err != nil {
		return inlet.Errorf(inlet.EUNAVAILABLE, "sending the sample to %s: %s", target, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		msg := strings.TrimSpace(string(answer))
		var eb inlethttp.ErrorBody
		if json.Unmarshal(answer, &eb) == nil && eb.Error.Message != "" {
			msg = eb.Error.Code + ": " + eb.Error.Message
		}
		return inlet.Errorf(inlet.EINVALID, "the collector refused the sample of %s %s: %d %s", sender, typ, resp.StatusCode, msg)
	}
	if a.out.json {
		_, err = fmt.Fprintf(w, "%s\n", bytes.TrimSpace(answer))
		return err
	}
	_, err = fmt.Fprintf(w, "sent %s %s to %s: %d %s\n", sender, typ, o.source, resp.StatusCode, bytes.TrimSpace(answer))
	return err
}
