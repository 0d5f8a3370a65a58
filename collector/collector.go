// Package collector is the collect pipeline: what happens to a request
// sent to a source's collect URL, from finding its source to its events
// stored. A Collector holds what the steps need (the sources, their
// compiled shapes, the rate limits, the suppressions, the event writer)
// and its one Collect takes a request through them in order: the
// source's state and body limit, a sender's handshake, the signature or
// credential check, the rate limit, the building of the events (package
// collect: preset, transform, validation, mapping), the suppressions and
// the append. A dry run takes the same path and stops before anything is
// spent or stored.
//
// The transport (package http) turns an HTTP request into a Request and a
// Result or error into an answer; it reads the body, bounds the requests
// and bodies in flight, and keeps the rejected-request log.
package collector

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"time"

	"inlet"
	"inlet/collect"
	"inlet/ratelimit"
	"inlet/shape"
	"inlet/verify"
)

// Appender takes events for storage; *batch.Writer is one, any
// inlet.EventStore another.
type Appender interface {
	Append(ctx context.Context, intakes []inlet.Intake) ([]inlet.Appended, error)
}

// Config configures a Collector. Sources and Appender are required.
type Config struct {
	// Sources is where the sources are read, cached.
	Sources *inlet.SourceCache
	// Appender stores the events.
	Appender Appender
	// Suppressed, when set, lists the identifiers whose events are
	// answered as accepted and not stored.
	Suppressed *inlet.SuppressionList
	// HashKey is the installation's key of the sources' hash policies.
	HashKey []byte
}

// Collector takes collect requests through the collect pipeline. It is
// safe for concurrent use.
type Collector struct {
	cfg     Config
	shapes  *shape.Cache // sources' compiled transforms and schemas
	limiter *ratelimit.Limiter
	now     func() time.Time

	dropped    atomic.Int64 // events dropped by sources' transforms
	suppressed atomic.Int64 // events of suppressed identifiers, not stored
}

// New returns a Collector for cfg.
func New(cfg Config) *Collector {
	return &Collector{cfg: cfg, shapes: shape.NewCache(), limiter: ratelimit.New(nil), now: time.Now}
}

// errUnknownSource refuses a request for a source that is not there or
// not enabled: made once, as a flood of them must cost little.
var errUnknownSource = &Refusal{Unproven: true, Err: inlet.Reasonf(inlet.EUNAUTHORIZED, "unknown_source", "unknown or disabled source; check the source id in the URL and that the source is enabled")}

// Source returns the enabled source of id. An unknown or disabled source
// is a Refusal that proves no source; a store that cannot be read is
// EUNAVAILABLE, so that the sender retries.
func (c *Collector) Source(ctx context.Context, id string) (*inlet.Source, error) {
	source, err := c.cfg.Sources.Find(ctx, id)
	if err != nil && inlet.ErrorCode(err) != inlet.ENOTFOUND {
		if inlet.ErrorCode(err) == inlet.EINTERNAL {
			err = errors.Join(inlet.Errorf(inlet.EUNAVAILABLE, "sources cannot be read right now; retry later"), err)
		}
		return nil, err
	}
	if source == nil || !source.Enabled {
		return nil, errUnknownSource
	}
	return source, nil
}

// Forget drops what the collector keeps of a source that changed or was
// deleted: the cached source and its compiled shape.
func (c *Collector) Forget(id string) {
	c.cfg.Sources.Forget(id)
	c.shapes.Forget(id)
}

// Stats are counters of a Collector since it started.
type Stats struct {
	// DroppedByTransform counts events that sources' transforms dropped.
	DroppedByTransform int64
	// Suppressed counts events of suppressed identifiers, not stored.
	Suppressed int64
}

// Stats returns the collector's counters.
func (c *Collector) Stats() Stats {
	return Stats{DroppedByTransform: c.dropped.Load(), Suppressed: c.suppressed.Load()}
}

// Collect takes req, sent to source, through the collect pipeline and
// says what became of it. A refused request is a *Refusal (the sender
// should not send it again as it is); any other error means the request
// cannot be taken now (EUNAVAILABLE, or EINTERNAL), and the sender should
// retry. The Result is filled as far as the request went, also on an
// error: its Verification says how the signature check fared.
//
// A dry run (req.DryRun) answers no handshake, spends no rate limit,
// reads no suppression and stores nothing: its Result holds the events as
// they would be stored, before their session and profile are resolved.
func (c *Collector) Collect(ctx context.Context, source *inlet.Source, req Request) (Result, error) {
	var res Result
	if err := c.admissible(source, req); err != nil {
		return res, err
	}
	if !req.DryRun {
		if reply, ok := collect.Handshake(&source.Config, req.Method, req.Header, req.RawQuery); ok {
			res.Handshake = reply
			return res, nil
		}
	}
	if res.Verification = c.verify(source, req); res.Verification.Err != nil {
		return res, &Refusal{Err: res.Verification.Err, Unproven: true}
	}
	if !req.DryRun {
		// After the verification, so that a request that fails it spends
		// no token of its source's real sender.
		if err := c.rateLimit(source); err != nil {
			return res, &Refusal{Err: err}
		}
	}
	built, err := c.build(source, req)
	if err != nil {
		return res, &Refusal{Err: err}
	}
	res.Intakes, res.Dropped, res.Challenge, res.Reply = built.Intakes, built.Dropped, built.Challenge, built.Reply
	if req.DryRun {
		return res, nil
	}
	return c.store(ctx, res)
}

// admissible checks what the transport may have checked already: that
// the source is enabled and the body within its limit.
func (c *Collector) admissible(source *inlet.Source, req Request) error {
	if !source.Enabled {
		return errUnknownSource
	}
	if limit := source.Config.BodyLimit(); int64(len(req.Body)) > limit {
		return &Refusal{Err: TooLarge(limit)}
	}
	return nil
}

// verify runs the source's verifier, if any (its preset's type filled
// in), over the exact body.
func (c *Collector) verify(source *inlet.Source, req Request) Verification {
	if source.Config.Verify == nil {
		return Verification{}
	}
	config := source.Config.Effective()
	err := verify.Verify(config.Verify, verify.Request{Header: req.Header, RawQuery: req.RawQuery, Body: req.Body, URL: req.URL, Now: c.now()})
	return Verification{Checked: true, Err: err}
}

// rateLimit takes a token from the source's bucket, when it has a limit.
func (c *Collector) rateLimit(source *inlet.Source) error {
	rl := source.Config.RateLimit
	if rl == nil {
		return nil
	}
	ok, wait := c.limiter.Allow(source.ID, rl.PerSecond, rl.BurstSize())
	if ok {
		return nil
	}
	return &RetryError{
		Err:     inlet.Reasonf(inlet.ERATELIMITED, "rate_limited", "source %s is over its rate limit of %g requests per second (burst %d); retry later", source.ID, rl.PerSecond, rl.BurstSize()),
		Seconds: int(math.Ceil(wait.Seconds())),
	}
}

// build makes the request's events with the source's compiled shape.
func (c *Collector) build(source *inlet.Source, req Request) (collect.Built, error) {
	program, err := c.shapes.Program(source)
	if err != nil { // a source stored before a check it now fails
		return collect.Built{}, err
	}
	return collect.Build(source, collect.Request{
		Method:    req.Method,
		EventType: req.EventType,
		SessionID: req.SessionID,
		Header:    req.Header,
		RawQuery:  req.RawQuery,
		Body:      req.Body,
		IP:        req.IP,
		Now:       c.now().UTC(),
		Shape:     program,
		HashKey:   c.cfg.HashKey,
	})
}

// store appends the events of res that are not suppressed.
func (c *Collector) store(ctx context.Context, res Result) (Result, error) {
	c.dropped.Add(int64(res.Dropped))
	intakes, err := c.unsuppressed(ctx, res.Intakes)
	if err != nil {
		return res, errors.Join(inlet.Errorf(inlet.EUNAVAILABLE, "suppressions cannot be read right now; retry later"), err)
	}
	res.Dropped += len(res.Intakes) - len(intakes)
	res.Intakes = intakes
	if len(intakes) == 0 {
		return res, nil
	}
	out, err := c.cfg.Appender.Append(ctx, intakes)
	if err != nil {
		if code := inlet.ErrorCode(err); code == inlet.EINVALID || code == inlet.ECONFLICT {
			return res, &Refusal{Err: err} // the store refused this request's own data
		}
		return res, err
	}
	res.Appended = out
	return res, nil
}

// unsuppressed returns the intakes whose identifiers are not suppressed:
// an event of a suppressed person is answered as accepted (so that its
// sender does not retry it), counted, and not stored.
func (c *Collector) unsuppressed(ctx context.Context, intakes []inlet.Intake) ([]inlet.Intake, error) {
	if c.cfg.Suppressed == nil {
		return intakes, nil
	}
	var kept []inlet.Intake // nil while every intake is kept
	for i := range intakes {
		sup, err := c.cfg.Suppressed.Suppressed(ctx, intakes[i].Identity)
		if err != nil {
			return nil, err
		}
		if sup {
			c.suppressed.Add(1)
			if kept == nil {
				kept = append(make([]inlet.Intake, 0, len(intakes)), intakes[:i]...)
			}
			continue
		}
		if kept != nil {
			kept = append(kept, intakes[i])
		}
	}
	if kept == nil {
		return intakes, nil
	}
	return kept, nil
}
