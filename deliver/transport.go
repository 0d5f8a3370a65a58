// Package deliver moves committed events to destinations: per
// destination, the node that holds its cursor reads the log after it,
// sends what the destination wants through the type's Transport with many in
// flight, and settles many outcomes in one transaction: the cursor moves,
// and only failures get a row with their retry schedule.
package deliver

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"inlet"
)

// Transport sends events to one destination. Send is called concurrently,
// up to the destination's in-flight bound.
type Transport interface {
	// Send delivers one event, whose JSON (as the events API shows it) is
	// body. The same event may be sent more than once: a receiver
	// deduplicates by the event id.
	Send(ctx context.Context, e *inlet.Event, body []byte) Result
	// Timeout is the longest one Send takes.
	Timeout() time.Duration
	// Close releases the transport's connections.
	Close() error
}

// Result is what one Send led to.
type Result struct {
	// Status is the receiver's status code, 0 when there was none.
	Status int
	// Response is the first bytes of the receiver's answer.
	Response string
	// Err is nil on success.
	Err error
	// Gone means the receiver asked never to be sent anything again: the
	// destination is disabled.
	Gone bool
	// RetryAfter is how long the receiver asked to be left alone (a 429
	// or 503 with Retry-After): the destination sends nothing until then.
	RetryAfter time.Duration
}

// Type is one kind of destination: a new kind is one file that registers
// its Type in an init function.
type Type struct {
	// Validate checks a config, returning EINVALID naming the field.
	Validate func(config json.RawMessage) error
	// Open returns a Transport for a destination whose config is valid.
	// inFlight is how many Sends may run at once.
	Open func(d *inlet.Destination, inFlight int) (Transport, error)
	// InFlight is how many Sends run at once unless configured.
	InFlight int
}

var types = map[string]Type{}

// register adds a destination type; called from init functions.
func register(name string, t Type) {
	if _, ok := types[name]; ok {
		panic("deliver: type " + name + " registered twice")
	}
	types[name] = t
}

// Types returns the names of the destination types, sorted.
func Types() []string {
	var names []string
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Validate checks a destination, its type's config included.
func Validate(d *inlet.Destination) error {
	if err := d.Validate(); err != nil {
		return err
	}
	t, ok := types[d.Type]
	if !ok {
		return inlet.Errorf(inlet.EINVALID, "type must be one of %v", Types())
	}
	_, _, rest, err := parseCommon(d.Config)
	if err != nil {
		return err
	}
	return t.Validate(rest)
}

// decodeConfig reads a config into v, naming an unknown or mistyped field.
func decodeConfig(config json.RawMessage, v any) error {
	dec := json.NewDecoder(bytesReader(config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return inlet.Errorf(inlet.EINVALID, "config: %v", err)
	}
	return nil
}

// open returns the Transport of a destination: its type's, behind the
// transform and the rate limit of its config when it has them.
func open(d *inlet.Destination, inFlight int) (Transport, error) {
	t, ok := types[d.Type]
	if !ok {
		return nil, fmt.Errorf("destination %s: unknown type %q", d.ID, d.Type)
	}
	c, prg, rest, err := parseCommon(d.Config)
	if err != nil {
		return nil, err
	}
	own := *d
	own.Config = rest
	transport, err := t.Open(&own, inFlight)
	if err != nil || (prg == nil && c.RateLimit == 0) {
		return transport, err
	}
	return &transformingTransport{Transport: transport, transform: prg, pace: newPacer(c.RateLimit)}, nil
}

// inFlightFor is how many events are sent to d at once: its config's
// in_flight, else the node's bound (Options.InFlight), else its type's.
func inFlightFor(d *inlet.Destination, node int) int {
	if c, _, _, err := parseCommon(d.Config); err == nil && c.InFlight > 0 {
		return c.InFlight
	}
	if node > 0 {
		return node
	}
	return types[d.Type].InFlight
}
