package deliver

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"inlet"
)

func init() {
	// Sends are gathered into pipelines of up to a quarter of these.
	register(inlet.DestinationRedis, Type{Validate: validateRedis, Open: openRedis, InFlight: 2048})
}

// redisConfig is the config of a redis destination.
type redisConfig struct {
	// URL is redis://[user:password@]host:port[/db], or rediss:// for TLS.
	URL string `json:"url"`
	// Stream may hold {type} and {source}, replaced by the event's.
	Stream string `json:"stream"`
	// MaxLen caps each stream at about this many entries (XADD MAXLEN ~);
	// 0 leaves it uncapped. 1,000,000 by default.
	MaxLen *int64 `json:"maxlen,omitempty"`
	// Timeout bounds one pipeline's round trip; "5s" by default.
	Timeout string `json:"timeout,omitempty"`
}

// Redis defaults.
const (
	defaultRedisTimeout = 5 * time.Second
	defaultRedisMaxLen  = 1_000_000
	// redisPipeline is the most XADDs of one round trip.
	redisPipeline = 512
)

func parseRedis(config json.RawMessage) (*redisConfig, *redis.Options, time.Duration, error) {
	var c redisConfig
	if err := decodeConfig(config, &c); err != nil {
		return nil, nil, 0, err
	}
	opts, err := redis.ParseURL(c.URL)
	if err != nil {
		return nil, nil, 0, inlet.Errorf(inlet.EINVALID, "config.url must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379/0")
	}
	probe := strings.NewReplacer("{type}", "t", "{source}", "s").Replace(c.Stream)
	if probe == "" || len(probe) > 1024 || strings.ContainsAny(probe, "{}\r\n") {
		return nil, nil, 0, inlet.Errorf(inlet.EINVALID, "config.stream must be a stream key, which may hold {type} and {source}, such as events:{source}")
	}
	if c.MaxLen == nil {
		n := int64(defaultRedisMaxLen)
		c.MaxLen = &n
	} else if *c.MaxLen < 0 {
		return nil, nil, 0, inlet.Errorf(inlet.EINVALID, "config.maxlen must be 0 (no cap) or more")
	}
	timeout := defaultRedisTimeout
	if c.Timeout != "" {
		if timeout, err = time.ParseDuration(c.Timeout); err != nil || timeout < 10*time.Millisecond || timeout > time.Minute {
			return nil, nil, 0, inlet.Errorf(inlet.EINVALID, "config.timeout must be a duration such as \"5s\", from 10ms to 1m")
		}
	}
	return &c, opts, timeout, nil
}

func validateRedis(config json.RawMessage) error {
	_, _, _, err := parseRedis(config)
	return err
}

// redisTransport XADDs each event to its stream; the concurrent Sends are
// gathered into pipelines, one round trip each.
type redisTransport struct {
	cfg     *redisConfig
	timeout time.Duration
	client  *redis.Client
	batches *batcher
}

func openRedis(d *inlet.Destination, inFlight int) (Transport, error) {
	cfg, opts, timeout, err := parseRedis(d.Config)
	if err != nil {
		return nil, err
	}
	opts.ClientName = "inlet"
	opts.ReadTimeout, opts.WriteTimeout = timeout, timeout
	// go-redis retries a command itself; the destination's schedule does.
	opts.MaxRetries = -1
	s := &redisTransport{cfg: cfg, timeout: timeout, client: redis.NewClient(opts)}
	s.batches = newBatcher(min(redisPipeline, max(inFlight/4, 1)), 0, time.Millisecond, timeout, s.flush)
	return s, nil
}

// Send adds the event to its stream with the fields id, type, source and
// event (its JSON): a consumer drops duplicates by id. See Transport.
func (s *redisTransport) Send(ctx context.Context, e *inlet.Event, body []byte) Result {
	if err := s.batches.send(ctx, e, body); err != nil {
		return Result{Err: err}
	}
	return Result{Response: "XADD " + redisStream(s.cfg.Stream, e)}
}

func redisStream(template string, e *inlet.Event) string {
	return strings.NewReplacer("{type}", e.Type, "{source}", e.SourceID).Replace(template)
}

// flush sends one pipeline in a MULTI/EXEC transaction: a connection lost
// before EXEC adds nothing, and readers never see part of a batch. (Redis
// does not roll back: a command that fails inside EXEC, on a key of
// another type, fails the batch, whose other events are then sent again.)
func (s *redisTransport) flush(ctx context.Context, items []batchItem) error {
	pipe := s.client.TxPipeline()
	for _, it := range items {
		pipe.XAdd(ctx, &redis.XAddArgs{
			Stream: redisStream(s.cfg.Stream, it.Event),
			MaxLen: *s.cfg.MaxLen,
			Approx: true,
			Values: []any{"id", it.Event.ID, "type", it.Event.Type, "source", it.Event.SourceID, "event", it.Body},
		})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("XADD of %d events: %w", len(items), err)
	}
	return nil
}

// Timeout is the longest a pipeline waits for its answer. See Transport.
func (s *redisTransport) Timeout() time.Duration { return s.timeout + time.Millisecond }

// Close closes the connections; every Send has had its answer.
func (s *redisTransport) Close() error { return s.client.Close() }
