package deliver

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"sync"
	"time"

	"inlet"
	"inlet/transform"
)

// commonConfig holds the config fields every type takes beside its own;
// they are taken out of the config before the type sees it.
type commonConfig struct {
	// RateLimit is the most events per second sent (0: no bound).
	RateLimit float64 `json:"rate_limit"`
	// InFlight is how many events are sent at once (0: the node's or
	// the type's default).
	InFlight int `json:"in_flight"`
	// Transform reshapes or drops each event for this destination only:
	// the CEL of a source's transform.
	Transform *inlet.TransformConfig `json:"transform"`
}

// Bounds of the common fields.
const (
	maxRateLimit = 1_000_000
	maxInFlight  = 65536
)

// parseCommon splits config into its common fields, compiled, and the
// rest, the type's own.
func parseCommon(config json.RawMessage) (commonConfig, *transform.Program, json.RawMessage, error) {
	var c commonConfig
	var m map[string]json.RawMessage
	if err := json.Unmarshal(config, &m); err != nil {
		return c, nil, nil, inlet.Errorf(inlet.EINVALID, "config must be a JSON object")
	}
	fields := []struct {
		name string
		v    any
	}{{"rate_limit", &c.RateLimit}, {"in_flight", &c.InFlight}, {"transform", &c.Transform}}
	found := false
	for _, f := range fields {
		raw, ok := m[f.name]
		if !ok {
			continue
		}
		found = true
		delete(m, f.name)
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(f.v); err != nil {
			return c, nil, nil, inlet.Errorf(inlet.EINVALID, "config.%s: %v", f.name, err)
		}
	}
	if c.RateLimit < 0 || c.RateLimit > maxRateLimit {
		return c, nil, nil, inlet.Errorf(inlet.EINVALID, "config.rate_limit must be events per second from 0 (no limit) to %d", maxRateLimit)
	}
	if c.InFlight < 0 || c.InFlight > maxInFlight {
		return c, nil, nil, inlet.Errorf(inlet.EINVALID, "config.in_flight must be from 1 to %d, or 0 for the type's default", maxInFlight)
	}
	prg, err := transform.Compile(c.Transform)
	if err != nil {
		return c, nil, nil, err
	}
	if !found {
		return c, prg, config, nil
	}
	rest, err := json.Marshal(m)
	if err != nil {
		return c, nil, nil, err
	}
	return c, prg, rest, nil
}

// transformingTransport runs a destination's transform on each event, then paces
// the sends to its rate limit, before its type's Transport.
type transformingTransport struct {
	Transport
	transform *transform.Program
	pace      *pacer
}

// Send transforms the event, then waits for its turn and sends it. A
// dropped event counts as delivered: there is nothing to send. See Transport.
func (s *transformingTransport) Send(ctx context.Context, e *inlet.Event, body []byte) Result {
	out, err := transformEvent(ctx, s.transform, e)
	switch {
	case err != nil:
		return Result{Err: err}
	case out == nil:
		return Result{Response: "dropped by the destination's transform"}
	case out != e:
		if body, err = inlet.EventJSON(out); err != nil {
			return Result{Err: err}
		}
		e = out
	}
	if err := s.pace.wait(ctx); err != nil {
		return Result{Err: err}
	}
	return s.Transport.Send(ctx, e, body)
}

// transformEvent returns e as prg makes it for a destination: nil when
// dropped, e itself when unchanged, else a copy with its new type and
// properties. A transform that fails sends the event as it is, unless its
// on_error is "reject": then the delivery fails with the error.
func transformEvent(ctx context.Context, prg *transform.Program, e *inlet.Event) (*inlet.Event, error) {
	if prg == nil {
		return e, nil
	}
	res, err := prg.Run(ctx, transformInput(e))
	switch {
	case err != nil && prg.RejectOnError():
		return nil, err
	case err != nil:
		return e, nil
	case res.Drop:
		return nil, nil
	case res.Type == e.Type && res.Properties == nil:
		return e, nil
	}
	out := *e
	out.Type = res.Type
	if res.Properties != nil {
		out.Properties = res.Properties
	}
	return &out, nil
}

// transformInput is what a destination's transform sees of a stored
// event: what a source's sees, from what the event kept of its request.
// The source's name is not at hand here: source.name is its id.
func transformInput(e *inlet.Event) transform.Input {
	values, _ := url.ParseQuery(e.Context.Query)
	q := make(map[string]any, len(values))
	for k, v := range values {
		if len(v) == 1 {
			q[k] = v[0]
		} else {
			q[k] = v
		}
	}
	return transform.Input{Properties: e.Properties, Headers: e.Context.Headers, Query: q,
		SourceID: e.SourceID, SourceName: e.SourceID, Type: e.Type}
}

// pacer spaces sends evenly at a rate, letting a tenth of a second's
// worth (at least one) go at once after a pause.
type pacer struct {
	every time.Duration
	burst time.Duration
	mu    sync.Mutex
	next  time.Time // the earliest free slot
}

func newPacer(rate float64) *pacer {
	if rate <= 0 {
		return nil
	}
	every := time.Duration(float64(time.Second) / rate)
	return &pacer{every: every, burst: max(every, 100*time.Millisecond)}
}

// wait takes the next slot and sleeps until it, or until ctx ends.
func (p *pacer) wait(ctx context.Context) error {
	if p == nil {
		return nil
	}
	now := time.Now()
	p.mu.Lock()
	// Unused time up to the burst is credited; no more.
	if early := now.Add(-p.burst + p.every); p.next.Before(early) {
		p.next = early
	}
	slot := p.next
	p.next = slot.Add(p.every)
	p.mu.Unlock()
	d := slot.Sub(now)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Try is a destination's dry run on one stored event: what its filter
// and transform make of it, and the JSON that would be sent; nothing is
// sent. Returns EINVALID when the destination's config does not compile.
func Try(ctx context.Context, d *inlet.Destination, e *inlet.Event) (*inlet.DestinationTry, error) {
	_, prg, _, err := parseCommon(d.Config)
	if err != nil {
		return nil, err
	}
	res := &inlet.DestinationTry{EventID: e.ID, Wanted: d.Filter.Match(e.SourceID, e.Type)}
	if prg != nil {
		if _, err := prg.Run(ctx, transformInput(e)); err != nil {
			res.TransformError = inlet.ErrorMessage(err)
		}
	}
	out, err := transformEvent(ctx, prg, e)
	switch {
	case err != nil:
		res.Outcome = inlet.TryFailed
	case out == nil:
		res.Outcome = inlet.TryDropped
	default:
		res.Outcome = inlet.TrySent
		if res.Event, err = inlet.EventJSON(out); err != nil {
			return nil, err
		}
		res.Event = bytes.TrimSuffix(res.Event, []byte("\n"))
	}
	if !res.Wanted {
		res.Outcome = inlet.TryFiltered
	}
	return res, nil
}
