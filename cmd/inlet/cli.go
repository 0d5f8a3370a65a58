package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"inlet"
	inlethttp "inlet/http"
)

// cliFlags are the flags every admin command takes.
type cliFlags struct {
	server, token, data string
	json                bool
}

func (c *cliFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.server, "server", "http://127.0.0.1:8686", "base URL of the running server")
	fs.StringVar(&c.token, "admin-token", "", "admin token (default: the one in the data directory)")
	fs.StringVar(&c.data, "data", "inlet-data", "data directory holding the generated admin token")
	fs.BoolVar(&c.json, "json", false, "print JSON instead of a table")
}

func (c *cliFlags) client() (*inlethttp.Client, error) {
	token := c.token
	if token == "" {
		b, err := os.ReadFile(filepath.Join(c.data, tokenFile))
		if err != nil {
			return nil, fmt.Errorf("no admin token: give --admin-token or $INLET_ADMIN_TOKEN, or --data pointing at the server's data directory (%s)", err)
		}
		token = strings.TrimSpace(string(b))
	}
	return inlethttp.NewClient(c.server, token), nil
}

func runCLI(ctx context.Context, noun string, args []string, stdout, stderr io.Writer) error {
	verbs := map[string][]string{
		"sources":    {"create", "list", "get", "enable", "disable", "delete"},
		"events":     {"list", "get"},
		"profiles":   {"get", "find"},
		"sessions":   {"get"},
		"rejections": {"list"},
	}[noun]
	if len(args) == 0 || !contains(verbs, args[0]) {
		fmt.Fprintf(stderr, "usage: inlet %s %s [flags]\n", noun, strings.Join(verbs, "|"))
		return errUsage
	}
	verb := args[0]
	fs := flag.NewFlagSet("inlet "+noun+" "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common cliFlags
	common.register(fs)

	var name, id, config string
	var disabled bool
	var filter struct{ source, typ, profile, session, since, until, cursor, reason string }
	var limit int
	var before int64
	switch noun + " " + verb {
	case "sources create":
		fs.StringVar(&name, "name", "", "name of the source (required)")
		fs.StringVar(&id, "id", "", "id of the source (default: generated)")
		fs.BoolVar(&disabled, "disabled", false, "create the source disabled")
		fs.StringVar(&config, "config", "", "source configuration as a JSON object")
	case "rejections list":
		fs.StringVar(&filter.source, "source", "", "only rejections of this source id")
		fs.StringVar(&filter.reason, "reason", "", "only rejections with this reason code, such as bad_signature")
		fs.IntVar(&limit, "limit", 0, "most rejections to show, newest first (default 50, at most 1000)")
		fs.Int64Var(&before, "before", 0, "only rejections older than this id: the next page")
	case "events list":
		fs.StringVar(&filter.source, "source", "", "only events of this source")
		fs.StringVar(&filter.typ, "type", "", "only events of this type")
		fs.StringVar(&filter.profile, "profile", "", "only events of this profile")
		fs.StringVar(&filter.session, "session", "", "only events of this session")
		fs.StringVar(&filter.since, "since", "", "only events at or after this RFC 3339 time")
		fs.StringVar(&filter.until, "until", "", "only events before this RFC 3339 time")
		fs.StringVar(&filter.cursor, "cursor", "", "continue from the cursor a previous page printed")
		fs.IntVar(&limit, "limit", 0, "most events to show (default 50, at most 1000)")
	}
	if err := parseFlags(fs, args[1:], os.Getenv, "server", "admin-token", "data"); err != nil {
		return err
	}
	needsID := verb != "list" && verb != "create"
	if needsID && fs.NArg() != 1 {
		fmt.Fprintf(stderr, "usage: inlet %s %s [flags] ID\n", noun, verb)
		return errUsage
	} else if !needsID && fs.NArg() != 0 {
		fmt.Fprintf(stderr, "inlet %s %s takes no arguments, only flags\n", noun, verb)
		return errUsage
	}
	client, err := common.client()
	if err != nil {
		return err
	}
	out := printer{w: stdout, json: common.json}

	switch noun + " " + verb {
	case "sources create":
		req := inlethttp.CreateSourceRequest{ID: id, Name: name}
		if disabled {
			f := false
			req.Enabled = &f
		}
		if config != "" {
			req.Config = &inlet.SourceConfig{}
			dec := json.NewDecoder(strings.NewReader(config))
			dec.DisallowUnknownFields()
			if err := dec.Decode(req.Config); err != nil {
				return fmt.Errorf("--config: %w", err)
			}
		}
		src, err := client.CreateSource(ctx, req)
		if err != nil {
			return err
		}
		return out.sources(src)
	case "sources list":
		sources, err := client.ListSources(ctx)
		if err != nil {
			return err
		}
		return out.sources(sources...)
	case "sources get":
		src, err := client.FindSource(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		return out.sources(src)
	case "sources enable", "sources disable":
		enabled := verb == "enable"
		src, err := client.UpdateSource(ctx, fs.Arg(0), inlet.SourceUpdate{Enabled: &enabled})
		if err != nil {
			return err
		}
		return out.sources(src)
	case "sources delete":
		if err := client.DeleteSource(ctx, fs.Arg(0)); err != nil {
			return err
		}
		if !common.json {
			fmt.Fprintf(stdout, "deleted source %s\n", fs.Arg(0))
		}
		return nil
	case "events list":
		f := inlet.EventFilter{SourceID: filter.source, Type: filter.typ, ProfileID: filter.profile, SessionID: filter.session, Cursor: filter.cursor, Limit: limit}
		for _, t := range []struct {
			flag, v string
			to      *time.Time
		}{{"since", filter.since, &f.Since}, {"until", filter.until, &f.Until}} {
			if t.v == "" {
				continue
			}
			if *t.to, err = time.Parse(time.RFC3339Nano, t.v); err != nil {
				return fmt.Errorf("--%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z", t.flag)
			}
		}
		page, err := client.ListEvents(ctx, f)
		if err != nil {
			return err
		}
		return out.events(page)
	case "rejections list":
		items, err := client.ListRejections(ctx, inlet.RejectionFilter{SourceID: filter.source, Reason: filter.reason, Limit: limit, BeforeID: before})
		if err != nil {
			return err
		}
		return out.rejections(items)
	case "events get":
		e, err := client.FindEvent(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		return out.json1(e)
	case "profiles get", "profiles find":
		var p *inlet.Profile
		if verb == "get" {
			p, err = client.FindProfile(ctx, fs.Arg(0))
		} else if ident, perr := inlethttp.ParseIdentifier(fs.Arg(0)); perr != nil {
			return perr
		} else {
			p, err = client.FindProfileByIdentifier(ctx, ident)
		}
		if err != nil {
			return err
		}
		if out.json {
			return out.json1(p)
		}
		return out.profile(p)
	case "sessions get":
		s, err := client.FindSession(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		if out.json {
			return out.json1(s)
		}
		return out.table([]string{"ID", "PROFILE", "FIRST SEEN", "LAST SEEN", "EVENTS"},
			[]string{s.ID, s.ProfileID, inlet.FormatTime(s.FirstSeen), inlet.FormatTime(s.LastSeen), fmt.Sprint(s.EventCount)})
	}
	return errUsage
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// printer writes results as a table for people or JSON for scripts.
type printer struct {
	w    io.Writer
	json bool
}

func (p printer) json1(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// profile prints a profile's counts as a table, then its identities.
func (p printer) profile(prof *inlet.Profile) error {
	if err := p.table([]string{"ID", "FIRST SEEN", "LAST SEEN", "EVENTS", "SESSIONS"},
		[]string{prof.ID, inlet.FormatTime(prof.FirstSeen), inlet.FormatTime(prof.LastSeen), fmt.Sprint(prof.EventCount), fmt.Sprint(prof.SessionCount)}); err != nil {
		return err
	}
	var lines []string
	if prof.MergedInto != "" {
		lines = append(lines, "merged into: "+prof.MergedInto)
	}
	for _, id := range prof.Identifiers {
		lines = append(lines, "identifier:  "+id.Kind+":"+id.Value)
	}
	for _, a := range prof.Aliases {
		lines = append(lines, "alias:       "+a)
	}
	names := make([]string, 0, len(prof.Traits))
	for n := range prof.Traits {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		lines = append(lines, "trait:       "+n+" = "+string(prof.Traits[n]))
	}
	if len(lines) > 0 {
		_, err := fmt.Fprintf(p.w, "\n%s\n", strings.Join(lines, "\n"))
		return err
	}
	return nil
}

func (p printer) table(header []string, rows ...[]string) error {
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func (p printer) sources(sources ...*inlet.Source) error {
	if p.json {
		if len(sources) == 1 {
			return p.json1(sources[0])
		}
		return p.json1(map[string]any{"items": sources})
	}
	rows := make([][]string, 0, len(sources))
	for _, s := range sources {
		state := "enabled"
		if !s.Enabled {
			state = "disabled"
		}
		rows = append(rows, []string{s.ID, s.Name, s.Type, state, inlet.FormatTime(s.CreatedAt)})
	}
	return p.table([]string{"ID", "NAME", "TYPE", "STATE", "CREATED"}, rows...)
}

func (p printer) rejections(items []*inlet.Rejection) error {
	if p.json {
		return p.json1(map[string]any{"items": items})
	}
	rows := make([][]string, 0, len(items))
	for _, r := range items {
		msg := r.Message
		if len(msg) > 80 {
			msg = msg[:77] + "..."
		}
		rows = append(rows, []string{inlet.FormatTime(r.At), orDash(r.SourceID), r.Reason, fmt.Sprint(r.Status), r.Method + " " + r.Path, r.RemoteAddr, msg})
	}
	return p.table([]string{"AT", "SOURCE", "REASON", "STATUS", "REQUEST", "FROM", "MESSAGE"}, rows...)
}

func (p printer) events(page *inlet.EventPage) error {
	if p.json {
		return p.json1(page)
	}
	rows := make([][]string, 0, len(page.Items))
	for _, e := range page.Items {
		props := string(e.Properties)
		if len(props) > 60 {
			props = props[:57] + "..."
		}
		rows = append(rows, []string{inlet.FormatTime(e.InsertedAt), e.ID, e.Type, e.SourceID, orDash(e.SessionID), orDash(e.ProfileID), props})
	}
	if err := p.table([]string{"INSERTED", "ID", "TYPE", "SOURCE", "SESSION", "PROFILE", "PROPERTIES"}, rows...); err != nil {
		return err
	}
	if page.Next != nil {
		fmt.Fprintf(p.w, "\nmore: --cursor %s\n", *page.Next)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
