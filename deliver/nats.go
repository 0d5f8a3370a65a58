package deliver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"inlet"
)

func init() {
	// Publishes are pipelined on one connection: many may wait for acks.
	register(inlet.DestinationNATS, Type{Validate: validateNATS, Open: openNATS, InFlight: 256})
}

// natsConfig is the config of a nats destination.
type natsConfig struct {
	URL string `json:"url"`
	// Subject may hold {type} and {source}, replaced by the event's.
	Subject string `json:"subject"`
	// Timeout bounds the wait for the stream's ack; "5s" by default.
	Timeout string `json:"timeout,omitempty"`
}

const defaultNATSTimeout = 5 * time.Second

func parseNATS(config json.RawMessage) (*natsConfig, time.Duration, error) {
	var c natsConfig
	if err := decodeConfig(config, &c); err != nil {
		return nil, 0, err
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
		return nil, 0, inlet.Errorf(inlet.EINVALID, "config.url must be a nats:// or tls:// URL such as nats://127.0.0.1:4222")
	}
	probe := strings.NewReplacer("{type}", "t", "{source}", "s").Replace(c.Subject)
	if c.Subject == "" || strings.ContainsAny(probe, " \t\r\n*>{}") || strings.HasPrefix(probe, ".") || strings.HasSuffix(probe, ".") || strings.Contains(probe, "..") {
		return nil, 0, inlet.Errorf(inlet.EINVALID, "config.subject must be a NATS subject without wildcards, such as events.{source}.{type}")
	}
	timeout := defaultNATSTimeout
	if c.Timeout != "" {
		if timeout, err = time.ParseDuration(c.Timeout); err != nil || timeout < 10*time.Millisecond || timeout > time.Minute {
			return nil, 0, inlet.Errorf(inlet.EINVALID, "config.timeout must be a duration such as \"5s\", from 10ms to 1m")
		}
	}
	return &c, timeout, nil
}

func validateNATS(config json.RawMessage) error {
	_, _, err := parseNATS(config)
	return err
}

// natsTransport publishes to JetStream and waits for the stream's ack; Sends
// run concurrently, so that many publishes are in flight at once.
type natsTransport struct {
	cfg     *natsConfig
	timeout time.Duration
	nc      *nats.Conn
	js      jetstream.JetStream
}

func openNATS(d *inlet.Destination, inFlight int) (Transport, error) {
	cfg, timeout, err := parseNATS(d.Config)
	if err != nil {
		return nil, err
	}
	// Connected in the background: until the server answers, publishes
	// fail and are retried on the destination's schedule.
	nc, err := nats.Connect(cfg.URL, nats.Name("inlet destination "+d.ID), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(max(inFlight, 1)))
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &natsTransport{cfg: cfg, timeout: timeout, nc: nc, js: js}, nil
}

// Send publishes the event with Nats-Msg-Id set to its id, so that the
// stream drops a duplicate within its window. See Transport.
func (s *natsTransport) Send(ctx context.Context, e *inlet.Event, body []byte) Result {
	subject := strings.NewReplacer("{type}", e.Type, "{source}", e.SourceID).Replace(s.cfg.Subject)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{}}
	msg.Header.Set("Content-Type", "application/json")
	f, err := s.js.PublishMsgAsync(msg, jetstream.WithMsgID(e.ID))
	if err != nil {
		return Result{Err: fmt.Errorf("publish to %s: %w", subject, err)}
	}
	select {
	case ack := <-f.Ok():
		return Result{Response: fmt.Sprintf("stream %s seq %d duplicate %t", ack.Stream, ack.Sequence, ack.Duplicate)}
	case err := <-f.Err():
		return Result{Err: fmt.Errorf("publish to %s: %w", subject, err)}
	case <-ctx.Done():
		return Result{Err: fmt.Errorf("publish to %s: no ack within %s", subject, s.timeout)}
	}
}

// Timeout is the longest wait for an ack. See Transport.
func (s *natsTransport) Timeout() time.Duration { return s.timeout }

// Close drains nothing: every Send has had its answer or given up.
func (s *natsTransport) Close() error {
	s.nc.Close()
	return nil
}
