package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"inlet"
	"inlet/sqlite"
)

// Files that prefill leaves in the data directory, so that a later run can
// reuse a store that took minutes to fill.
const (
	prefillCountFile    = "bench-prefill-count"
	prefillProfilesFile = "bench-prefill-profiles"
)

// prefillSessions is how many sessions (and profiles) the prefilled events
// are spread over: 10M events make 100 events per profile.
const prefillSessions = 100_000

// prefill stores n events of source bench-prefill in the SQLite store of
// dataDir through sqlite.DB.Append, in large batches, unless a previous
// prefill of at least n events is there. It returns ids of profiles that
// own prefilled events.
func (b *bench) prefill(ctx context.Context, dataDir string, n int64) ([]string, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if raw, err := os.ReadFile(filepath.Join(dataDir, prefillCountFile)); err == nil {
		have, _ := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		profiles, err := os.ReadFile(filepath.Join(dataDir, prefillProfilesFile))
		if have >= n && err == nil {
			b.logf("prefill: reusing %s, which holds %d prefilled events", dataDir, have)
			return strings.Fields(string(profiles)), nil
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "inlet.db")); err == nil {
		return nil, fmt.Errorf("%s holds a store that is not a finished prefill of %d events; remove it or give another --prefill-dir", dataDir, n)
	}

	// Sync off while filling: the fill is not what is measured, and the
	// server opens the file again with its own (synced) setting.
	db, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dataDir, "inlet.db"), Sync: sqlite.SyncOff})
	if err != nil {
		return nil, err
	}
	defer db.Close()

	const batchSize = 10_000
	body := json.RawMessage(postBody)
	reqCtx := inlet.RequestContext{
		Method:    "POST",
		Headers:   map[string]string{"Content-Type": "application/json", "Content-Length": strconv.Itoa(len(postBody)), "Host": "127.0.0.1"},
		IP:        "127.0.0.1",
		UserAgent: "",
	}
	// Events are dated over the 30 days before now, oldest first.
	base := time.Now().Add(-30 * 24 * time.Hour)
	step := 30 * 24 * time.Hour / time.Duration(n)
	// Each session's events are consecutive, as a visitor's are, so that a
	// batch touches few sessions.
	perSession := max(1, n/prefillSessions)
	seen := make(map[string]bool)
	var profiles []string
	start := time.Now()
	events := make([]*inlet.Event, 0, batchSize)
	for i := int64(0); i < n; {
		events = events[:0]
		for ; i < n && len(events) < batchSize; i++ {
			events = append(events, &inlet.Event{
				ID:         inlet.NewID(),
				Type:       "purchase",
				InsertedAt: base.Add(time.Duration(i) * step).UTC(),
				SourceID:   "bench-prefill",
				SessionID:  "pf-" + strconv.FormatInt(i/perSession, 10),
				Properties: body,
				Context:    reqCtx,
			})
		}
		out, err := db.Append(ctx, inlet.Intakes(events...))
		if err != nil {
			return nil, fmt.Errorf("prefill at event %d: %w", i, err)
		}
		for _, a := range out {
			if a.ProfileID != "" && !seen[a.ProfileID] {
				seen[a.ProfileID] = true
				profiles = append(profiles, a.ProfileID)
			}
		}
		if i%1_000_000 == 0 || i == n {
			el := time.Since(start)
			b.logf("prefill: %d of %d events, %.0f events/s", i, n, float64(i)/el.Seconds())
		}
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	// Keep 1000 profiles spread over the whole store.
	if len(profiles) > 1000 {
		spread := make([]string, 0, 1000)
		for i := range 1000 {
			spread = append(spread, profiles[i*len(profiles)/1000])
		}
		profiles = spread
	}
	if err := os.WriteFile(filepath.Join(dataDir, prefillProfilesFile), []byte(strings.Join(profiles, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dataDir, prefillCountFile), []byte(strconv.FormatInt(n, 10)+"\n"), 0o600); err != nil {
		return nil, err
	}
	return profiles, nil
}

// runPrefill is `inlet-bench prefill`: fill a data directory ahead of a
// run that reuses it with --prefill-dir.
func runPrefill(args []string) error {
	fs := flag.NewFlagSet("inlet-bench prefill", flag.ContinueOnError)
	dir := fs.String("data", "", "data directory to fill (required)")
	n := fs.Int64("events", 10_000_000, "events to store")
	if err := parseFlags(fs, args, "inlet-bench prefill writes N events into the SQLite store of a data directory,\nfor the prefilled-store scenario.\n\nUsage:\n  inlet-bench prefill --data DIR --events N\n\nExample:\n  inlet-bench prefill --data /tmp/prefilled --events 1000000"); err != nil {
		return err
	}
	if *dir == "" || *n <= 0 {
		return errors.New("give --data DIR and --events N > 0")
	}
	b := &bench{}
	start := time.Now()
	profiles, err := b.prefill(context.Background(), *dir, *n)
	if err != nil {
		return err
	}
	b.logf("prefilled %s in %s; %d sample profiles", *dir, time.Since(start).Round(time.Second), len(profiles))
	return nil
}
