package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"inlet"
)

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

func (p printer) profileOrJSON(prof *inlet.Profile) error {
	if p.json {
		return p.json1(prof)
	}
	return p.profile(prof)
}

// sourceConfig prints a source's configuration as a table of settings,
// each a dotted path and its value; c must be masked already.
func (p printer) sourceConfig(c inlet.SourceConfig) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return err
	}
	var rows [][]string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		if m, ok := v.(map[string]any); ok {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(strings.TrimPrefix(path+"."+k, "."), m[k])
			}
			return
		}
		text, _ := json.Marshal(v)
		if s, ok := v.(string); ok {
			text = []byte(s)
		}
		rows = append(rows, []string{path, string(text)})
	}
	walk("", tree)
	fmt.Fprintln(p.w)
	if len(rows) == 0 {
		_, err := fmt.Fprintln(p.w, "config: none (no verification, no idempotency key, default limits)")
		return err
	}
	return p.table([]string{"CONFIG", "VALUE"}, rows...)
}

// plural says n things: "1 event", "2 events".
func plural[N int | int64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// writeIndented writes v as indented JSON, the output of --json.
func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
