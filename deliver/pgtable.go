package deliver

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"inlet"
)

func init() {
	// Sends are gathered into multi-row inserts of up to a quarter of these.
	register(inlet.DestinationPostgres, Type{Validate: validatePGTable, Open: openPGTable, InFlight: 8192})
}

// pgTableConfig is the config of a postgres destination: a table of the
// user's own database, not Inlet's store.
type pgTableConfig struct {
	// URL is a PostgreSQL connection string (postgres://user:password@host/db).
	URL string `json:"url"`
	// Table is table or schema.table; "inlet_events" by default. It is
	// created when missing.
	Table string `json:"table,omitempty"`
	// Timeout bounds one batch's insert; "10s" by default.
	Timeout string `json:"timeout,omitempty"`
}

// PostgreSQL table defaults.
const (
	defaultPGTable        = "inlet_events"
	defaultPGTableTimeout = 10 * time.Second
	// pgTableBatch is the most rows of one insert.
	pgTableBatch = 2048
)

var pgIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

func parsePGTable(config json.RawMessage) (*pgTableConfig, *pgxpool.Config, pgx.Identifier, time.Duration, error) {
	var c pgTableConfig
	if err := decodeConfig(config, &c); err != nil {
		return nil, nil, nil, 0, err
	}
	if !strings.HasPrefix(c.URL, "postgres://") && !strings.HasPrefix(c.URL, "postgresql://") {
		return nil, nil, nil, 0, inlet.Errorf(inlet.EINVALID, "config.url must be a postgres:// URL such as postgres://user:password@127.0.0.1:5432/analytics")
	}
	pc, err := pgxpool.ParseConfig(c.URL)
	if err != nil {
		return nil, nil, nil, 0, inlet.Errorf(inlet.EINVALID, "config.url must be a postgres:// URL such as postgres://user:password@127.0.0.1:5432/analytics")
	}
	if c.Table == "" {
		c.Table = defaultPGTable
	}
	table := pgx.Identifier(strings.Split(c.Table, "."))
	if len(table) > 2 {
		table = nil
	}
	for _, part := range table {
		if !pgIdentifier.MatchString(part) {
			table = nil
			break
		}
	}
	if table == nil {
		return nil, nil, nil, 0, inlet.Errorf(inlet.EINVALID, "config.table must be table or schema.table, each a name of letters, digits and '_' of at most 63 bytes, such as analytics.events")
	}
	timeout := defaultPGTableTimeout
	if c.Timeout != "" {
		if timeout, err = time.ParseDuration(c.Timeout); err != nil || timeout < 100*time.Millisecond || timeout > 5*time.Minute {
			return nil, nil, nil, 0, inlet.Errorf(inlet.EINVALID, "config.timeout must be a duration such as \"10s\", from 100ms to 5m")
		}
	}
	return &c, pc, table, timeout, nil
}

func validatePGTable(config json.RawMessage) error {
	_, _, _, _, err := parsePGTable(config)
	return err
}

// pgTableTransport inserts events as rows: the concurrent Sends are gathered
// into one multi-row insert each, which adds the batch whole or not at all
// and skips the rows whose id is there already (a resend).
type pgTableTransport struct {
	table   string // quoted
	timeout time.Duration
	pool    *pgxpool.Pool
	batches *batcher

	mu    sync.Mutex
	ready bool
}

func openPGTable(d *inlet.Destination, inFlight int) (Transport, error) {
	_, pc, table, timeout, err := parsePGTable(d.Config)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = 4
	pc.ConnConfig.RuntimeParams["application_name"] = "inlet destination " + d.ID
	// Connected lazily: until the database answers, batches fail and are
	// retried on the destination's schedule.
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, inlet.Errorf(inlet.EINVALID, "config.url: %v", err)
	}
	s := &pgTableTransport{table: table.Sanitize(), timeout: timeout, pool: pool}
	s.batches = newBatcher(min(pgTableBatch, max(inFlight/4, 1)), 0, 2*time.Millisecond, timeout, s.flush)
	return s, nil
}

// Send adds the event to the next insert. See Transport.
func (s *pgTableTransport) Send(ctx context.Context, e *inlet.Event, body []byte) Result {
	if err := s.batches.send(ctx, e, body); err != nil {
		return Result{Err: err}
	}
	return Result{Response: "inserted into " + s.table}
}

// create creates the table when it is missing, once per transport that
// succeeds at it.
func (s *pgTableTransport) create(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return nil
	}
	_, err := s.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.table+` (
		id text PRIMARY KEY,
		type text NOT NULL,
		source text NOT NULL,
		session text,
		profile text,
		time timestamptz NOT NULL,
		properties jsonb NOT NULL
	)`)
	if err != nil {
		return fmt.Errorf("create table %s: %w", s.table, err)
	}
	s.ready = true
	return nil
}

func (s *pgTableTransport) flush(ctx context.Context, items []batchItem) error {
	if err := s.create(ctx); err != nil {
		return err
	}
	n := len(items)
	ids, types, sources := make([]string, n), make([]string, n), make([]string, n)
	sessions, profiles := make([]*string, n), make([]*string, n)
	times, props := make([]time.Time, n), make([]string, n)
	for i, it := range items {
		e := it.Event
		ids[i], types[i], sources[i], times[i] = e.ID, e.Type, e.SourceID, e.InsertedAt
		if e.SessionID != "" {
			sessions[i] = &e.SessionID
		}
		if e.ProfileID != "" {
			profiles[i] = &e.ProfileID
		}
		props[i] = string(e.Properties)
		if props[i] == "" {
			props[i] = "{}"
		}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO `+s.table+` (id, type, source, session, profile, time, properties)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::jsonb[])
		ON CONFLICT (id) DO NOTHING`, ids, types, sources, sessions, profiles, times, props)
	if err != nil {
		// The table may have been dropped since: look again next time.
		s.mu.Lock()
		s.ready = false
		s.mu.Unlock()
		return fmt.Errorf("insert %d rows into %s: %w", n, s.table, err)
	}
	return nil
}

// Timeout is the longest one insert takes. See Transport.
func (s *pgTableTransport) Timeout() time.Duration { return s.timeout + 2*time.Millisecond }

// Close closes the pool; every Send has had its answer.
func (s *pgTableTransport) Close() error {
	s.pool.Close()
	return nil
}
