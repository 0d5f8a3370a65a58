package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"inlet"
	inlethttp "inlet/http"
)

// The commands of destinations, deliveries, and events export|import:
// each is a function over a client and plain arguments, registered in
// deliverCommands with the flags it takes.

// DestinationOptions are the flags of inlet destinations create.
type DestinationOptions struct {
	ID, Name, Type       string
	URL, Secret, Subject string
	Timeout              string
	Config               string // a whole config as JSON, instead of the fields above
	Sources, Types       string // comma-separated
	Backoff, MaxAge      string
	DisableAfter         string
	Ordered, Disabled    bool
}

// Request builds the request of inlet destinations create.
func (o *DestinationOptions) Request() (inlethttp.CreateDestinationRequest, error) {
	req := inlethttp.CreateDestinationRequest{ID: o.ID, Name: o.Name, Type: o.Type, Ordered: o.Ordered, DisableAfter: o.DisableAfter}
	if o.Disabled {
		off := false
		req.Enabled = &off
	}
	if o.Config != "" {
		if !json.Valid([]byte(o.Config)) {
			return req, usageErrorf("--config: not a JSON object: %q", o.Config)
		}
		req.Config = json.RawMessage(o.Config)
	} else {
		cfg := map[string]string{}
		for k, v := range map[string]string{"url": o.URL, "secret": o.Secret, "subject": o.Subject, "timeout": o.Timeout} {
			if v != "" {
				cfg[k] = v
			}
		}
		req.Config, _ = json.Marshal(cfg)
	}
	if o.Sources != "" || o.Types != "" {
		req.Filter = &inlet.DestinationFilter{Sources: splitList(o.Sources), Types: splitList(o.Types)}
	}
	if o.Backoff != "" || o.MaxAge != "" {
		req.Retry = &inlet.RetryPolicy{Backoff: splitList(o.Backoff), MaxAge: o.MaxAge}
	}
	return req, nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// CreateDestination registers a destination and prints it.
func CreateDestination(ctx context.Context, c *inlethttp.Client, o DestinationOptions, out printer) error {
	req, err := o.Request()
	if err != nil {
		return err
	}
	d, err := c.CreateDestination(ctx, req)
	if err != nil {
		return err
	}
	return out.destinations(d)
}

// ListDestinations prints every destination.
func ListDestinations(ctx context.Context, c *inlethttp.Client, out printer) error {
	var all []*inlet.Destination
	f := inlet.ListFilter{Limit: inlet.MaxEventLimit}
	for {
		page, err := c.ListDestinations(ctx, f)
		if err != nil {
			return err
		}
		all = append(all, page.Items...)
		if page.Next == nil {
			break
		}
		f.Cursor = *page.Next
	}
	return out.destinations(all...)
}

// GetDestination prints one destination with its delivery state.
func GetDestination(ctx context.Context, c *inlethttp.Client, id string, out printer) error {
	d, err := c.FindDestination(ctx, id)
	if err != nil {
		return err
	}
	if out.json {
		return out.json1(d)
	}
	if err := out.destinations(d); err != nil {
		return err
	}
	if d.DisabledAt != nil {
		fmt.Fprintf(out.w, "\ndisabled by delivery at %s: %s\n", inlet.FormatTime(*d.DisabledAt), d.DisabledReason)
	}
	if st := d.State; st != nil {
		fmt.Fprintln(out.w)
		return out.table([]string{"PENDING", "FAILED", "DEAD", "DELIVERED", "LAG", "OLDEST DEAD"},
			[]string{fmt.Sprint(st.Pending), fmt.Sprint(st.Failed), fmt.Sprint(st.Dead), fmt.Sprint(st.Delivered),
				seconds(st.LagSeconds), ageOrDash(st.OldestDead, st.DeadAgeSeconds)})
	}
	return nil
}

func seconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}

func ageOrDash(t *time.Time, age float64) string {
	if t == nil {
		return "-"
	}
	return seconds(age) + " ago"
}

// EventDeliveries prints the deliveries of one event.
func EventDeliveries(ctx context.Context, c *inlethttp.Client, eventID string, out printer) error {
	items, err := c.EventDeliveries(ctx, eventID)
	if err != nil {
		return err
	}
	if out.json {
		return out.json1(inlethttp.EventDeliveriesPage{Items: items})
	}
	rows := make([][]string, 0, len(items))
	for _, d := range items {
		next := "-"
		if d.NextAttemptAt != nil {
			next = *d.NextAttemptAt
		}
		rows = append(rows, []string{d.DestinationID, d.Status, fmt.Sprint(d.Attempts), next, orDash(d.LastError)})
	}
	return out.table([]string{"DESTINATION", "STATUS", "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR"}, rows...)
}

func eventsDeliveriesCommand(env cliEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "deliveries EVENT_ID",
		Short:   "Show where an event was delivered: each destination it was for, its status and attempts",
		Example: `  inlet events deliveries 0f8fad5b-d9cb-469f-a165-70867728950e`,
		Args:    oneArg("event ID"),
	}
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, args []string) error {
		return EventDeliveries(ctx, a.client, args[0], a.out)
	})
}

// SetDestinationEnabled enables or disables a destination.
func SetDestinationEnabled(ctx context.Context, c *inlethttp.Client, id string, enabled bool, out printer) error {
	d, err := c.UpdateDestination(ctx, id, inlet.DestinationUpdate{Enabled: &enabled})
	if err != nil {
		return err
	}
	return out.destinations(d)
}

// DeleteDestination removes a destination.
func DeleteDestination(ctx context.Context, c *inlethttp.Client, id string, out printer) error {
	if err := c.DeleteDestination(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(out.w, "deleted destination %s\n", id)
	return nil
}

// ReplayOptions are the flags of inlet destinations replay.
type ReplayOptions struct {
	Since, Until, Sources, Types string
}

// Replay delivers stored events to a destination again.
func Replay(ctx context.Context, c *inlethttp.Client, id string, o ReplayOptions, out printer) error {
	if o.Since == "" {
		return usageErrorf("--since: required, an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	n, err := c.Replay(ctx, id, inlethttp.ReplayRequest{Since: o.Since, Until: o.Until, Sources: splitList(o.Sources), Types: splitList(o.Types)})
	if err != nil {
		return err
	}
	if out.json {
		return out.json1(map[string]int{"replayed": n})
	}
	fmt.Fprintf(out.w, "%s to deliver again to %s\n", plural(n, "event", "events"), id)
	return nil
}

// TryDestination prints what a destination's filter and transform make of
// a stored event: the outcome, then the JSON it would be sent.
func TryDestination(ctx context.Context, c *inlethttp.Client, id, eventID string, out printer) error {
	res, err := c.TryDestination(ctx, id, eventID)
	if err != nil {
		return err
	}
	if out.json {
		return out.json1(res)
	}
	switch res.Outcome {
	case inlet.TrySent:
		fmt.Fprintf(out.w, "%s would send event %s as:\n", id, res.EventID)
	case inlet.TryDropped:
		fmt.Fprintf(out.w, "%s would drop event %s: its transform's drop is true\n", id, res.EventID)
	case inlet.TryFailed:
		fmt.Fprintf(out.w, "%s would fail to deliver event %s: its transform fails and on_error is reject\n", id, res.EventID)
	case inlet.TryFiltered:
		fmt.Fprintf(out.w, "%s does not take event %s: its filter leaves it out (a replay that selects it would send what follows)\n", id, res.EventID)
	}
	if res.TransformError != "" {
		fmt.Fprintf(out.w, "transform: %s\n", res.TransformError)
	}
	if len(res.Event) > 0 {
		fmt.Fprintf(out.w, "%s\n", res.Event)
	}
	return nil
}

// ListDeliveries prints a page of a destination's deliveries.
func ListDeliveries(ctx context.Context, c *inlethttp.Client, id string, f inlet.DeliveryFilter, out printer) error {
	page, err := c.ListDeliveries(ctx, id, f)
	if err != nil {
		return err
	}
	if out.json {
		return out.json1(page)
	}
	rows := make([][]string, 0, len(page.Items))
	for _, d := range page.Items {
		rows = append(rows, []string{d.EventID, d.Status, fmt.Sprint(d.Attempts), inlet.FormatTime(d.NextAttemptAt), orDash(d.LastError)})
	}
	if err := out.table([]string{"EVENT", "STATUS", "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR"}, rows...); err != nil {
		return err
	}
	if page.Next != nil {
		fmt.Fprintf(out.w, "\nmore: --cursor %s\n", *page.Next)
	}
	return nil
}

// RetryDeliveries makes the named deliveries, or all of a status, due now.
func RetryDeliveries(ctx context.Context, c *inlethttp.Client, id string, eventIDs []string, status string, out printer) error {
	return changeDeliveries(ctx, id, inlethttp.RetryRequest{EventIDs: eventIDs, Status: status}, out,
		"retry", "--status dead (or failed, delivered)", "retried", "due again", c.RetryDeliveries)
}

// DiscardDeliveries gives the named deliveries, or all of a status, up.
func DiscardDeliveries(ctx context.Context, c *inlethttp.Client, id string, eventIDs []string, status string, out printer) error {
	return changeDeliveries(ctx, id, inlethttp.RetryRequest{EventIDs: eventIDs, Status: status}, out,
		"discard", "--status dead (or failed, pending)", "discarded", "discarded", c.DiscardDeliveries)
}

// changeDeliveries sends a retry or discard of a destination's deliveries
// and prints how many it changed: key in JSON, done in a sentence.
func changeDeliveries(ctx context.Context, id string, req inlethttp.RetryRequest, out printer, verb, statuses, key, done string,
	do func(context.Context, string, inlethttp.RetryRequest) (int, error)) error {
	if len(req.EventIDs) == 0 && req.Status == "" {
		return fmt.Errorf("name the event ids to %s, or %s", verb, statuses)
	}
	n, err := do(ctx, id, req)
	if err != nil {
		return err
	}
	if out.json {
		return out.json1(map[string]int{key: n})
	}
	fmt.Fprintf(out.w, "%s to %s %s\n", plural(n, "delivery", "deliveries"), id, done)
	return nil
}

// ExportEvents writes the events of f as NDJSON to w, with a progress bar
// (events written) on progress when it is not nil.
func ExportEvents(ctx context.Context, c *inlethttp.Client, f inlet.EventFilter, w io.Writer, progress io.Writer) error {
	w, done := withProgress(w, progress)
	defer done()
	_, err := c.Export(ctx, f, w)
	return err
}

// withProgress returns w with a bar of the bytes written on progress (a
// terminal), or w itself when progress is nil; done finishes the bar.
func withProgress(w, progress io.Writer) (io.Writer, func()) {
	if progress == nil {
		return w, func() {}
	}
	bar := progressbar.NewOptions64(-1, progressbar.OptionSetWriter(progress), progressbar.OptionSetDescription("exporting"),
		progressbar.OptionShowBytes(true), progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14), progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }))
	return io.MultiWriter(w, bar), func() { bar.Finish() }
}

// ImportEvents sends an NDJSON file (an export) to the server, with a
// progress bar (bytes sent) on progress when it is not nil. A second run
// after an interruption skips what was stored.
func ImportEvents(ctx context.Context, c *inlethttp.Client, path string, progress io.Writer, out printer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if progress != nil {
		size := int64(-1)
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		bar := progressbar.NewOptions64(size, progressbar.OptionSetWriter(progress), progressbar.OptionSetDescription("importing "+path),
			progressbar.OptionShowBytes(true), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetWidth(30),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }))
		defer bar.Finish()
		pr := progressbar.NewReader(f, bar)
		r = &pr
	}
	res, err := c.Import(ctx, r)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if out.json {
		return out.json1(res)
	}
	fmt.Fprintf(out.w, "%s: %s read, %d imported, %d stored already\n", path, plural(res.Lines, "record", "records"), res.Imported, res.Skipped)
	return nil
}

// terminal returns w when it is a terminal, for a progress bar, else nil.
func terminal(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return w
	}
	return nil
}

func (p printer) destinations(dests ...*inlet.Destination) error {
	if p.json {
		if len(dests) == 1 {
			return p.json1(dests[0])
		}
		return p.json1(map[string]any{"items": dests})
	}
	rows := make([][]string, 0, len(dests))
	for _, d := range dests {
		state := "enabled"
		if !d.Enabled {
			state = "disabled"
		}
		filter := strings.Join(append(prefixed("source:", d.Filter.Sources), prefixed("type:", d.Filter.Types)...), ",")
		rows = append(rows, []string{d.ID, d.Name, d.Type, state, orDash(destinationTarget(d)), orDash(filter), inlet.FormatTime(d.CreatedAt)})
	}
	return p.table([]string{"ID", "NAME", "TYPE", "STATE", "TARGET", "FILTER", "CREATED"}, rows...)
}

// destinationTarget says where a destination sends, from its (masked)
// config: the URL or brokers, then the subject, topic, key, stream or
// table; for files the directory or bucket.
func destinationTarget(d *inlet.Destination) string {
	var cfg struct {
		URL        string   `json:"url"`
		Brokers    []string `json:"brokers"`
		Subject    string   `json:"subject"`
		Topic      string   `json:"topic"`
		Exchange   string   `json:"exchange"`
		RoutingKey string   `json:"routing_key"`
		Stream     string   `json:"stream"`
		Table      string   `json:"table"`
		Directory  string   `json:"directory"`
		Bucket     string   `json:"bucket"`
	}
	json.Unmarshal(d.Config, &cfg)
	target := cfg.URL
	if len(cfg.Brokers) > 0 {
		target = strings.Join(cfg.Brokers, ",")
	}
	if cfg.Bucket != "" {
		target = "s3://" + cfg.Bucket
	}
	if cfg.Directory != "" {
		target = cfg.Directory
	}
	if cfg.Exchange != "" {
		target += " " + cfg.Exchange
	}
	for _, s := range []string{cfg.Subject, cfg.Topic, cfg.RoutingKey, cfg.Stream, cfg.Table} {
		if s != "" {
			target += " " + s
		}
	}
	return target
}

func prefixed(prefix string, list []string) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = prefix + v
	}
	return out
}

// The commands of delivery, for the table in cli.go: each builder declares
// a command and its flags, and runs one of the functions above.

// destinationsCommand is the destinations group.
func destinationsCommand(env cliEnv) *cobra.Command {
	return group("destinations", "Send events on to webhooks, NATS, Kafka, RabbitMQ, Redis, PostgreSQL and files",
		"  inlet destinations create --name CRM --url https://crm.example.com/hook --types 'order.*'\n  inlet destinations get DESTINATION_ID",
		destinationsCreateCommand(env),
		destinationsListCommand(env),
		destinationsGetCommand(env),
		destinationsSetEnabledCommand(env, true),
		destinationsSetEnabledCommand(env, false),
		destinationsDeleteCommand(env),
		destinationsReplayCommand(env),
		destinationsTryCommand(env),
	)
}

// deliveriesCommand is the deliveries group.
func deliveriesCommand(env cliEnv) *cobra.Command {
	return group("deliveries", "Read and retry the deliveries of a destination",
		"  inlet deliveries list DESTINATION_ID --status dead\n  inlet deliveries retry DESTINATION_ID --status dead",
		deliveriesListCommand(env),
		deliveriesRetryCommand(env),
		deliveriesDiscardCommand(env),
	)
}

func destinationsCreateCommand(env cliEnv) *cobra.Command {
	var o DestinationOptions
	cmd := &cobra.Command{
		Use:   "create --name NAME [--type TYPE] [--url URL] [--config JSON] [flags]",
		Short: "Register a destination",
		Long: `Register a destination: every event committed from now on that passes its
filter is delivered to it, at least once, retried on its schedule until it is
dead. A webhook gets an HTTP POST of the event, signed when --secret is set; a
nats destination a JetStream publish on --subject. The other types (kafka,
rabbitmq, redis, postgres, files) take their config as --config JSON, as do
rate_limit, in_flight and transform of every type.`,
		Example: `  inlet destinations create --name CRM --url https://crm.example.com/hook --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw --types 'order.*'
  inlet destinations create --name Stream --type nats --url nats://127.0.0.1:4222 --subject 'inlet.{source}.{type}'
  inlet destinations create --name Kafka --type kafka --config '{"brokers":["127.0.0.1:9092"],"topic":"events.{source}"}'
  inlet destinations create --name Lake --type files --config '{"format":"parquet","directory":"/var/lib/lake"}'`,
		Args: noArgs,
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Name, "name", "", "name of the destination (required)")
	fs.StringVar(&o.ID, "id", "", "id of the destination (default: generated)")
	fs.StringVar(&o.Type, "type", inlet.DestinationWebhook, "webhook, nats, kafka, rabbitmq, redis, postgres or files")
	fs.StringVar(&o.URL, "url", "", "webhook: the URL events are POSTed to; nats: the server, such as nats://127.0.0.1:4222")
	fs.StringVar(&o.Secret, "secret", "", "webhook: whsec_... secret that signs requests (Standard Webhooks)")
	fs.StringVar(&o.Subject, "subject", "", "nats: the subject, which may hold {type} and {source}")
	fs.StringVar(&o.Timeout, "timeout", "", "timeout of one attempt (webhook 10s, nats 5s by default)")
	fs.StringVar(&o.Config, "config", "", "the whole config as a JSON object, instead of --url, --secret, --subject, --timeout")
	fs.StringVar(&o.Sources, "sources", "", "only events of these comma-separated source ids")
	fs.StringVar(&o.Types, "types", "", "only events of these comma-separated types; a trailing * matches a prefix (invoice.*)")
	fs.StringVar(&o.Backoff, "backoff", "", "comma-separated waits between attempts (default 5s,30s,2m,10m,1h)")
	fs.StringVar(&o.MaxAge, "max-age", "", "how long an event is retried before it is dead (default 24h)")
	fs.StringVar(&o.DisableAfter, "disable-after", "", "disable the destination after it did nothing but fail this long (default 120h; 0s: never)")
	fs.BoolVar(&o.Ordered, "ordered", false, "hold later events back while one fails, to keep commit order")
	fs.BoolVar(&o.Disabled, "disabled", false, "create the destination disabled")
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, _ []string) error {
		return CreateDestination(ctx, a.client, o, a.out)
	})
}

func destinationsListCommand(env cliEnv) *cobra.Command {
	return env.adminCommand(&cobra.Command{
		Use:     "list",
		Short:   "List every destination",
		Example: "  inlet destinations list\n  inlet destinations list --json",
		Args:    noArgs,
	}, func(ctx context.Context, a adminCall, _ []string) error {
		return ListDestinations(ctx, a.client, a.out)
	})
}

func destinationsGetCommand(env cliEnv) *cobra.Command {
	return env.adminCommand(&cobra.Command{
		Use:   "get ID",
		Short: "Show a destination and its backlog",
		Long: `Show a destination and its backlog: how many deliveries are pending, failed
(waiting for a retry), dead and delivered, and the age of the oldest event not
delivered yet. Secrets are shown masked.`,
		Example: "  inlet destinations get crm\n  inlet destinations get crm --json",
		Args:    oneArg("destination ID"),
	}, func(ctx context.Context, a adminCall, args []string) error {
		return GetDestination(ctx, a.client, args[0], a.out)
	})
}

func destinationsSetEnabledCommand(env cliEnv, enable bool) *cobra.Command {
	verb, short := "enable", "Deliver to a destination again, backlog first"
	if !enable {
		verb, short = "disable", "Pause a destination: its deliveries wait, kept, until it is enabled"
	}
	return env.adminCommand(&cobra.Command{
		Use:     verb + " ID",
		Short:   short,
		Example: "  inlet destinations " + verb + " crm",
		Args:    oneArg("destination ID"),
	}, func(ctx context.Context, a adminCall, args []string) error {
		return SetDestinationEnabled(ctx, a.client, args[0], enable, a.out)
	})
}

func destinationsDeleteCommand(env cliEnv) *cobra.Command {
	return env.adminCommand(&cobra.Command{
		Use:     "delete ID",
		Short:   "Delete a destination and its deliveries",
		Example: "  inlet destinations delete crm",
		Args:    oneArg("destination ID"),
	}, func(ctx context.Context, a adminCall, args []string) error {
		return DeleteDestination(ctx, a.client, args[0], a.out)
	})
}

func destinationsReplayCommand(env cliEnv) *cobra.Command {
	var o ReplayOptions
	cmd := &cobra.Command{
		Use:   "replay ID --since TIME [--until TIME] [--sources A,B] [--types T,U*]",
		Short: "Deliver stored events of a time range again, in commit order",
		Example: `  inlet destinations replay crm --since 2026-01-01T00:00:00Z
  inlet destinations replay crm --since 2026-01-01T00:00:00Z --until 2026-01-02T00:00:00Z --types 'order.*'`,
		Args: oneArg("destination ID"),
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Since, "since", "", "replay events at or after this RFC 3339 time (required)")
	fs.StringVar(&o.Until, "until", "", "replay events before this RFC 3339 time (default: now)")
	fs.StringVar(&o.Sources, "sources", "", "only events of these comma-separated source ids")
	fs.StringVar(&o.Types, "types", "", "only events of these comma-separated types (a trailing * matches a prefix)")
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, args []string) error {
		return Replay(ctx, a.client, args[0], o, a.out)
	})
}

func destinationsTryCommand(env cliEnv) *cobra.Command {
	return env.adminCommand(&cobra.Command{
		Use:   "try ID EVENT_ID",
		Short: "Show what a destination would send of a stored event, without sending it",
		Long: `A dry run of the destination's filter and transform on one stored event:
whether it would be sent, dropped by the transform, or fail, and the JSON the
destination would receive. Nothing is sent.`,
		Example: "  inlet destinations try crm 0193f1c2-7a4e-7b8a-9c3d-2e1f0a9b8c7d\n  inlet destinations try crm EVENT_ID --json",
		Args:    destinationAndEvent,
	}, func(ctx context.Context, a adminCall, args []string) error {
		return TryDestination(ctx, a.client, args[0], args[1], a.out)
	})
}

func deliveriesListCommand(env cliEnv) *cobra.Command {
	var f inlet.DeliveryFilter
	cmd := &cobra.Command{
		Use:   "list DESTINATION [--status pending|failed|dead|delivered]",
		Short: "List the deliveries of a destination, in delivery order",
		Example: `  inlet deliveries list crm --status dead
  inlet deliveries list crm --limit 10 --json`,
		Args: oneArg("destination ID"),
	}
	fs := cmd.Flags()
	fs.StringVar(&f.Status, "status", "", "only deliveries of this status: pending, failed, dead or delivered")
	fs.IntVar(&f.Limit, "limit", 0, "most deliveries to show, in delivery order (default 50, at most 1000)")
	fs.StringVar(&f.Cursor, "cursor", "", "continue from the cursor a previous page printed")
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, args []string) error {
		return ListDeliveries(ctx, a.client, args[0], f, a.out)
	})
}

// destinationAndEvents wants a destination id and any number of event ids.
func destinationAndEvents(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return usageErrorf("%s takes the destination ID, then event IDs or --status", cmd.CommandPath())
	}
	return nil
}

// destinationAndEvent wants a destination id and one event id.
func destinationAndEvent(cmd *cobra.Command, args []string) error {
	if len(args) != 2 {
		return usageErrorf("%s takes two arguments, the destination ID and an event ID (got %d)", cmd.CommandPath(), len(args))
	}
	return nil
}

func deliveriesRetryCommand(env cliEnv) *cobra.Command {
	var status string
	cmd := &cobra.Command{
		Use:   "retry DESTINATION [EVENT_ID...] [--status dead|failed|delivered]",
		Short: "Make deliveries due now, with a fresh retry schedule",
		Example: `  inlet deliveries retry crm --status dead
  inlet deliveries retry crm 01a22251-4bcb-73df-b1d3-61f4b3a5cbce`,
		Args: destinationAndEvents,
	}
	cmd.Flags().StringVar(&status, "status", "", "retry every delivery of this status (dead, failed or delivered) instead of named events")
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, args []string) error {
		return RetryDeliveries(ctx, a.client, args[0], args[1:], status, a.out)
	})
}

func deliveriesDiscardCommand(env cliEnv) *cobra.Command {
	var status string
	cmd := &cobra.Command{
		Use:   "discard DESTINATION [EVENT_ID...] [--status dead|failed|pending]",
		Short: "Give deliveries up (never delivered ones), freeing their events for retention",
		Example: `  inlet deliveries discard crm --status dead
  inlet deliveries discard crm 01a22251-4bcb-73df-b1d3-61f4b3a5cbce`,
		Args: destinationAndEvents,
	}
	cmd.Flags().StringVar(&status, "status", "", "discard every delivery of this status (dead, failed or pending) instead of named events")
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, args []string) error {
		return DiscardDeliveries(ctx, a.client, args[0], args[1:], status, a.out)
	})
}

func eventsExportCommand(env cliEnv) *cobra.Command {
	var source, typ, since, until string
	cmd := &cobra.Command{
		Use:   "export [filters] > events.ndjson",
		Short: "Write events as NDJSON, oldest first, to stdout",
		Long: `Write the events of the filters to stdout as NDJSON, oldest first, one event per
line as 'inlet events get' shows it. A progress bar goes to stderr when it is a
terminal.`,
		Example: `  inlet events export > events.ndjson
  inlet events export --source shop --since 2026-01-01T00:00:00Z > shop.ndjson`,
		Args: noArgs,
	}
	fs := cmd.Flags()
	fs.StringVar(&source, "source", "", "only events of this source")
	fs.StringVar(&typ, "type", "", "only events of this type")
	fs.StringVar(&since, "since", "", "only events at or after this RFC 3339 time")
	fs.StringVar(&until, "until", "", "only events before this RFC 3339 time")
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, _ []string) error {
		f, err := inlethttp.ParseEventFilter(map[string][]string{"source": {source}, "type": {typ}, "since": {since}, "until": {until}})
		if err != nil {
			return usageErrorf("%s", inlet.ErrorMessage(err))
		}
		return ExportEvents(ctx, a.client, f, a.out.w, terminal(cmd.ErrOrStderr()))
	})
}

func eventsImportCommand(env cliEnv) *cobra.Command {
	var cmd *cobra.Command
	cmd = &cobra.Command{
		Use:   "import FILE.ndjson",
		Short: "Store the events of an export, as they were",
		Long: `Store the events of an export (NDJSON), keeping their ids, types, times,
sessions and profiles. Events already stored are skipped: importing twice stores
nothing new, and an import cut off is resumed by running it again. A malformed
line stops the import with its line number; the lines before it are stored.`,
		Example: "  inlet events import events.ndjson",
		Args:    oneArg("file"),
	}
	return env.adminCommand(cmd, func(ctx context.Context, a adminCall, args []string) error {
		return ImportEvents(ctx, a.client, args[0], terminal(cmd.ErrOrStderr()), a.out)
	})
}
