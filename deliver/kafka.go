package deliver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"inlet"
)

func init() {
	// The producer gathers the concurrent Sends into one produce request
	// per partition leader: the more in flight, the bigger the batches.
	register(inlet.DestinationKafka, Type{Validate: validateKafka, Open: openKafka, InFlight: 4096})
}

// kafkaConfig is the config of a kafka destination.
type kafkaConfig struct {
	// Brokers are host:port seeds; the client finds the rest.
	Brokers []string `json:"brokers"`
	// Topic may hold {type} and {source}, replaced by the event's (a
	// character Kafka does not allow in a topic name becomes "_").
	Topic string `json:"topic"`
	// Key is "profile" (the default: the profile id, else the event id, so
	// that one profile's events stay in one partition, in order), "event"
	// (the event id), "session" (the session id, else the event id) or
	// "none" (no key: the producer spreads the events).
	Key string `json:"key,omitempty"`
	// SASL is "plain", "scram-sha-256" or "scram-sha-512", with Username
	// and Password.
	SASL     string `json:"sasl,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// TLS connects over TLS, verified against the system's roots or CA (a
	// PEM bundle).
	TLS bool   `json:"tls,omitempty"`
	CA  string `json:"ca,omitempty"`
	// Compression is "none" (the default), "gzip", "snappy", "lz4" or
	// "zstd".
	Compression string `json:"compression,omitempty"`
	// Timeout bounds the wait for a record's ack, retries included; "10s"
	// by default.
	Timeout string `json:"timeout,omitempty"`
}

const defaultKafkaTimeout = 10 * time.Second

// kafkaTopicChar reports whether r may be in a Kafka topic name.
func kafkaTopicChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

func parseKafka(config json.RawMessage) (*kafkaConfig, time.Duration, error) {
	var c kafkaConfig
	if err := decodeConfig(config, &c); err != nil {
		return nil, 0, err
	}
	if len(c.Brokers) == 0 {
		return nil, 0, inlet.Errorf(inlet.EINVALID, "config.brokers must list at least one broker as host:port, such as [\"127.0.0.1:9092\"]")
	}
	for i, b := range c.Brokers {
		if host, port, err := net.SplitHostPort(b); err != nil || host == "" || port == "" {
			return nil, 0, inlet.Errorf(inlet.EINVALID, "config.brokers[%d] must be host:port, such as \"127.0.0.1:9092\"", i)
		}
	}
	probe := strings.NewReplacer("{type}", "t", "{source}", "s").Replace(c.Topic)
	if probe == "" || len(probe) > 249 || strings.IndexFunc(probe, func(r rune) bool { return !kafkaTopicChar(r) }) >= 0 || probe == "." || probe == ".." {
		return nil, 0, inlet.Errorf(inlet.EINVALID, "config.topic must be a Kafka topic name (letters, digits, '.', '_', '-'), which may hold {type} and {source}, such as events.{source}")
	}
	switch c.Key {
	case "", "profile", "event", "session", "none":
	default:
		return nil, 0, inlet.Errorf(inlet.EINVALID, "config.key must be \"profile\" (the default), \"event\", \"session\" or \"none\"")
	}
	switch strings.ToLower(c.SASL) {
	case "":
		if c.Username != "" || c.Password != "" {
			return nil, 0, inlet.Errorf(inlet.EINVALID, "config.sasl must name the mechanism (\"plain\", \"scram-sha-256\" or \"scram-sha-512\") when a username or password is given")
		}
	case "plain", "scram-sha-256", "scram-sha-512":
		if c.Username == "" {
			return nil, 0, inlet.Errorf(inlet.EINVALID, "config.username is required with config.sasl")
		}
	default:
		return nil, 0, inlet.Errorf(inlet.EINVALID, "config.sasl must be \"plain\", \"scram-sha-256\" or \"scram-sha-512\"")
	}
	if c.CA != "" {
		if !c.TLS {
			return nil, 0, inlet.Errorf(inlet.EINVALID, "config.ca needs config.tls true")
		}
		if !x509.NewCertPool().AppendCertsFromPEM([]byte(c.CA)) {
			return nil, 0, inlet.Errorf(inlet.EINVALID, "config.ca must be one or more PEM certificates")
		}
	}
	if _, ok := kafkaCodecs[c.Compression]; !ok {
		return nil, 0, inlet.Errorf(inlet.EINVALID, "config.compression must be \"none\", \"gzip\", \"snappy\", \"lz4\" or \"zstd\"")
	}
	timeout := defaultKafkaTimeout
	if c.Timeout != "" {
		var err error
		if timeout, err = time.ParseDuration(c.Timeout); err != nil || timeout < time.Second || timeout > 5*time.Minute {
			return nil, 0, inlet.Errorf(inlet.EINVALID, "config.timeout must be a duration such as \"10s\", from 1s to 5m")
		}
	}
	return &c, timeout, nil
}

var kafkaCodecs = map[string]kgo.CompressionCodec{
	"": kgo.NoCompression(), "none": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
}

func validateKafka(config json.RawMessage) error {
	_, _, err := parseKafka(config)
	return err
}

// kafkaTransport produces to Kafka with the idempotent producer and acks
// from all in-sync replicas: a Send returns once its record is acked.
type kafkaTransport struct {
	cfg     *kafkaConfig
	timeout time.Duration
	client  *kgo.Client
}

func openKafka(d *inlet.Destination, inFlight int) (Transport, error) {
	cfg, timeout, err := parseKafka(d.Config)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("inlet"),
		// The idempotent producer (franz-go's default) needs acks from all
		// in-sync replicas: a broker's crash loses no acked record, and
		// its retries write no duplicate.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(timeout),
		kgo.ProducerLinger(2 * time.Millisecond),
		kgo.MaxBufferedRecords(max(inFlight, 1) * 2),
		kgo.ProducerBatchCompression(kafkaCodecs[cfg.Compression]),
		// A topic that does not exist is created when the brokers allow it
		// (auto.create.topics.enable), else the record fails until it does.
		kgo.AllowAutoTopicCreation(),
	}
	if cfg.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.CA != "" {
			tc.RootCAs = x509.NewCertPool()
			tc.RootCAs.AppendCertsFromPEM([]byte(cfg.CA))
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if m := kafkaSASL(cfg); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, inlet.Errorf(inlet.EINVALID, "config: %v", err)
	}
	return &kafkaTransport{cfg: cfg, timeout: timeout, client: client}, nil
}

func kafkaSASL(cfg *kafkaConfig) sasl.Mechanism {
	switch strings.ToLower(cfg.SASL) {
	case "plain":
		return plain.Auth{User: cfg.Username, Pass: cfg.Password}.AsMechanism()
	case "scram-sha-256":
		return scram.Auth{User: cfg.Username, Pass: cfg.Password}.AsSha256Mechanism()
	case "scram-sha-512":
		return scram.Auth{User: cfg.Username, Pass: cfg.Password}.AsSha512Mechanism()
	}
	return nil
}

// kafkaTopic returns the topic of e: the config's with its placeholders
// replaced, each character a topic may not hold made "_".
func kafkaTopic(template string, e *inlet.Event) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if kafkaTopicChar(r) {
				return r
			}
			return '_'
		}, s)
	}
	return strings.NewReplacer("{type}", clean(e.Type), "{source}", clean(e.SourceID)).Replace(template)
}

// kafkaKey returns the record key of e by the config's key choice.
func kafkaKey(choice string, e *inlet.Event) []byte {
	switch choice {
	case "none":
		return nil
	case "event":
		return []byte(e.ID)
	case "session":
		if e.SessionID != "" {
			return []byte(e.SessionID)
		}
	default:
		if e.ProfileID != "" {
			return []byte(e.ProfileID)
		}
	}
	return []byte(e.ID)
}

// Send produces one record: the event's JSON as value, headers with its
// id, type and source so that a consumer can drop duplicates without
// parsing. See Transport.
func (s *kafkaTransport) Send(ctx context.Context, e *inlet.Event, body []byte) Result {
	rec := &kgo.Record{
		Topic: kafkaTopic(s.cfg.Topic, e),
		Key:   kafkaKey(s.cfg.Key, e),
		Value: body,
		Headers: []kgo.RecordHeader{
			{Key: "inlet-event-id", Value: []byte(e.ID)},
			{Key: "inlet-event-type", Value: []byte(e.Type)},
			{Key: "inlet-source", Value: []byte(e.SourceID)},
			{Key: "content-type", Value: []byte("application/json")},
		},
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	r, err := s.client.ProduceSync(ctx, rec).First()
	if err != nil {
		return Result{Err: fmt.Errorf("produce to %s: %w", rec.Topic, err)}
	}
	return Result{Response: fmt.Sprintf("topic %s partition %d offset %d", r.Topic, r.Partition, r.Offset)}
}

// Timeout is the longest wait for an ack. See Transport.
func (s *kafkaTransport) Timeout() time.Duration { return s.timeout }

// Close stops the client; every Send has had its answer or given up.
func (s *kafkaTransport) Close() error {
	s.client.Close()
	return nil
}
