package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"inlet"
)

func init() {
	// Publishes are pipelined on a few channels: many wait for confirms.
	register(inlet.DestinationRabbitMQ, Type{Validate: validateRabbitMQ, Open: openRabbitMQ, InFlight: 1024})
}

// rabbitmqConfig is the config of a rabbitmq destination.
type rabbitmqConfig struct {
	// URL is amqp://user:password@host:port/vhost, or amqps:// for TLS.
	URL string `json:"url"`
	// Exchange is published to; "" is the default exchange, which routes
	// to the queue named by the routing key. It is the operator's: Inlet
	// declares nothing.
	Exchange string `json:"exchange"`
	// RoutingKey may hold {type} and {source}, replaced by the event's.
	RoutingKey string `json:"routing_key"`
	// Timeout bounds the wait for the broker's confirm; "5s" by default.
	Timeout string `json:"timeout,omitempty"`
}

// RabbitMQ defaults.
const (
	defaultRabbitMQTimeout = 5 * time.Second
	// rabbitmqChannels publish side by side on the connection.
	rabbitmqChannels = 4
)

func parseRabbitMQ(config json.RawMessage) (*rabbitmqConfig, time.Duration, error) {
	var c rabbitmqConfig
	if err := decodeConfig(config, &c); err != nil {
		return nil, 0, err
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
		return nil, 0, inlet.Errorf(inlet.EINVALID, "config.url must be an amqp:// or amqps:// URL such as amqp://guest:guest@127.0.0.1:5672/")
	}
	if _, err := amqp.ParseURI(c.URL); err != nil {
		return nil, 0, inlet.Errorf(inlet.EINVALID, "config.url: %v", err)
	}
	if len(c.Exchange) > 255 || strings.ContainsAny(c.Exchange, " \t\r\n") {
		return nil, 0, inlet.Errorf(inlet.EINVALID, "config.exchange must be an exchange name of at most 255 bytes without spaces, or \"\" for the default exchange")
	}
	probe := strings.NewReplacer("{type}", "t", "{source}", "s").Replace(c.RoutingKey)
	if len(probe) > 255 || strings.ContainsAny(probe, "{}\r\n") || (c.Exchange == "" && probe == "") {
		return nil, 0, inlet.Errorf(inlet.EINVALID, "config.routing_key must be at most 255 bytes, may hold {type} and {source}, and names the queue when config.exchange is \"\"")
	}
	timeout := defaultRabbitMQTimeout
	if c.Timeout != "" {
		var err error
		if timeout, err = time.ParseDuration(c.Timeout); err != nil || timeout < 10*time.Millisecond || timeout > time.Minute {
			return nil, 0, inlet.Errorf(inlet.EINVALID, "config.timeout must be a duration such as \"5s\", from 10ms to 1m")
		}
	}
	return &c, timeout, nil
}

func validateRabbitMQ(config json.RawMessage) error {
	_, _, err := parseRabbitMQ(config)
	return err
}

// rabbitmqTransport publishes persistent messages on channels in confirm
// mode: a Send succeeds when the broker confirms its message, which for a
// durable queue means it is on disk. A connection that breaks is opened
// again by the next Send.
type rabbitmqTransport struct {
	cfg     *rabbitmqConfig
	timeout time.Duration
	name    string
	next    atomic.Uint64

	mu    sync.Mutex
	conn  *amqp.Connection
	chans []*amqp.Channel
}

func openRabbitMQ(d *inlet.Destination, inFlight int) (Transport, error) {
	cfg, timeout, err := parseRabbitMQ(d.Config)
	if err != nil {
		return nil, err
	}
	// Connected on the first Send: until the broker answers, Sends fail
	// and are retried on the destination's schedule.
	return &rabbitmqTransport{cfg: cfg, timeout: timeout, name: "inlet destination " + d.ID}, nil
}

// channel returns one of the publishing channels, connecting first when
// there is no open connection.
func (s *rabbitmqTransport) channel() (*amqp.Channel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil || s.conn.IsClosed() {
		s.closeLocked()
		props := amqp.NewConnectionProperties()
		props.SetClientConnectionName(s.name)
		conn, err := amqp.DialConfig(s.cfg.URL, amqp.Config{Properties: props, Dial: amqp.DefaultDial(s.timeout)})
		if err != nil {
			return nil, err
		}
		s.conn = conn
	}
	i := int(s.next.Add(1) % rabbitmqChannels)
	if s.chans == nil {
		s.chans = make([]*amqp.Channel, rabbitmqChannels)
	}
	if ch := s.chans[i]; ch == nil || ch.IsClosed() {
		ch, err := s.conn.Channel()
		if err != nil {
			return nil, err
		}
		if err := ch.Confirm(false); err != nil {
			ch.Close()
			return nil, err
		}
		s.chans[i] = ch
	}
	return s.chans[i], nil
}

func (s *rabbitmqTransport) closeLocked() {
	if s.conn != nil {
		s.conn.Close()
	}
	s.conn, s.chans = nil, nil
}

// Send publishes the event, persistent, with message_id set to the event
// id and type to its type, and waits for the broker's confirm. See Transport.
func (s *rabbitmqTransport) Send(ctx context.Context, e *inlet.Event, body []byte) Result {
	key := strings.NewReplacer("{type}", e.Type, "{source}", e.SourceID).Replace(s.cfg.RoutingKey)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ch, err := s.channel()
	if err != nil {
		return Result{Err: fmt.Errorf("connect: %w", err)}
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, s.cfg.Exchange, key, false, false, amqp.Publishing{
		ContentType:  "application/json",
		DeliveryMode: amqp.Persistent,
		MessageId:    e.ID,
		Type:         e.Type,
		Timestamp:    e.InsertedAt,
		AppId:        "inlet",
		Headers:      amqp.Table{"source": e.SourceID},
		Body:         body,
	})
	if err != nil {
		return Result{Err: fmt.Errorf("publish to %q with key %q: %w", s.cfg.Exchange, key, err)}
	}
	acked, err := dc.WaitContext(ctx)
	switch {
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		return Result{Err: fmt.Errorf("publish to %q with key %q: no confirm within %s", s.cfg.Exchange, key, s.timeout)}
	case err != nil:
		return Result{Err: fmt.Errorf("publish to %q with key %q: %w", s.cfg.Exchange, key, err)}
	case !acked:
		return Result{Err: fmt.Errorf("publish to %q with key %q: the broker refused the message (nack)", s.cfg.Exchange, key)}
	}
	return Result{Response: fmt.Sprintf("confirmed by exchange %q, key %q", s.cfg.Exchange, key)}
}

// Timeout is the longest wait for a confirm. See Transport.
func (s *rabbitmqTransport) Timeout() time.Duration { return s.timeout }

// Close closes the connection; every Send has had its answer.
func (s *rabbitmqTransport) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLocked()
	return nil
}
