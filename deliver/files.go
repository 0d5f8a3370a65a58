package deliver

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/parquet-go/parquet-go"

	"inlet"
)

func init() {
	// A file holds up to half of these: the Sends of a file wait together
	// until it is written.
	register(inlet.DestinationFiles, Type{Validate: validateFiles, Open: openFiles, InFlight: 8192})
}

// filesConfig is the config of a files destination: batches of events
// written as files to a local directory or an S3-compatible bucket.
type filesConfig struct {
	// Format is "ndjson" (the events' JSON, one a line, gzipped; the
	// default) or "parquet".
	Format string `json:"format,omitempty"`
	// Directory is a local directory, created if missing; or else
	// Bucket, with Endpoint and credentials, an S3-compatible bucket.
	Directory string `json:"directory,omitempty"`
	Bucket    string `json:"bucket,omitempty"`
	// Endpoint is the bucket's https:// (or http://) URL without the
	// bucket; https://s3.amazonaws.com by default.
	Endpoint string `json:"endpoint,omitempty"`
	Region   string `json:"region,omitempty"`
	// AccessKey and Secret are the S3 credentials; Secret is write-only.
	AccessKey string `json:"access_key,omitempty"`
	Secret    string `json:"secret,omitempty"`
	// Prefix starts every file's path; "events" by default.
	Prefix string `json:"prefix,omitempty"`
	// MaxBytes ends a file once its events' JSON reach about this size
	// (64 MiB by default); MaxAge ends one at most this long after its
	// first event arrived ("1m" by default).
	MaxBytes int    `json:"max_bytes,omitempty"`
	MaxAge   string `json:"max_age,omitempty"`
	// Timeout bounds the writing of one batch's files; "30s" by default.
	Timeout string `json:"timeout,omitempty"`
}

// Files defaults and bounds.
const (
	defaultFilesPrefix   = "events"
	defaultFilesMaxBytes = 64 << 20
	defaultFilesMaxAge   = time.Minute
	maxFilesMaxAge       = 15 * time.Minute
	defaultFilesTimeout  = 30 * time.Second
)

var (
	s3BucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	filesPrefix  = regexp.MustCompile(`^[A-Za-z0-9._=-]+(/[A-Za-z0-9._=-]+)*$`)
)

// parseFiles returns a files config with its defaults set, its max_age and
// its timeout.
func parseFiles(config json.RawMessage) (*filesConfig, time.Duration, time.Duration, error) {
	var c filesConfig
	if err := decodeConfig(config, &c); err != nil {
		return nil, 0, 0, err
	}
	switch c.Format {
	case "":
		c.Format = "ndjson"
	case "ndjson", "parquet":
	default:
		return nil, 0, 0, inlet.Errorf(inlet.EINVALID, "config.format must be \"ndjson\" (gzipped, the default) or \"parquet\"")
	}
	switch {
	case c.Directory != "" && c.Bucket != "":
		return nil, 0, 0, inlet.Errorf(inlet.EINVALID, "config.directory and config.bucket exclude each other: give one")
	case c.Directory != "":
		if !filepath.IsAbs(c.Directory) {
			return nil, 0, 0, inlet.Errorf(inlet.EINVALID, "config.directory must be an absolute path")
		}
		if c.Endpoint != "" || c.Region != "" || c.AccessKey != "" || c.Secret != "" {
			return nil, 0, 0, inlet.Errorf(inlet.EINVALID, "config.endpoint, region, access_key and secret are for a bucket, not config.directory")
		}
	case c.Bucket != "":
		if !s3BucketName.MatchString(c.Bucket) {
			return nil, 0, 0, inlet.Errorf(inlet.EINVALID, "config.bucket must be an S3 bucket name (3 to 63 of a-z, 0-9, '.', '-')")
		}
		if c.Endpoint == "" {
			c.Endpoint = "https://s3.amazonaws.com"
		}
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, 0, 0, inlet.Errorf(inlet.EINVALID, "config.endpoint must be an https:// or http:// URL without a path, such as https://s3.eu-west-1.amazonaws.com")
		}
		if (c.AccessKey == "") != (c.Secret == "") {
			return nil, 0, 0, inlet.Errorf(inlet.EINVALID, "config.access_key and config.secret go together")
		}
	default:
		return nil, 0, 0, inlet.Errorf(inlet.EINVALID, "config.directory (a local directory) or config.bucket (an S3-compatible bucket) is required")
	}
	if c.Prefix == "" {
		c.Prefix = defaultFilesPrefix
	}
	if !filesPrefix.MatchString(c.Prefix) || slices.Contains(strings.Split(c.Prefix, "/"), "..") || len(c.Prefix) > 512 {
		return nil, 0, 0, inlet.Errorf(inlet.EINVALID, "config.prefix must be a relative path of letters, digits, '.', '_', '=' and '-', such as events/shop")
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = defaultFilesMaxBytes
	} else if c.MaxBytes < 1<<10 || c.MaxBytes > 1<<30 {
		return nil, 0, 0, inlet.Errorf(inlet.EINVALID, "config.max_bytes must be from 1024 to %d", 1<<30)
	}
	maxAge := defaultFilesMaxAge
	if c.MaxAge != "" {
		var err error
		if maxAge, err = time.ParseDuration(c.MaxAge); err != nil || maxAge < 10*time.Millisecond || maxAge > maxFilesMaxAge {
			return nil, 0, 0, inlet.Errorf(inlet.EINVALID, "config.max_age must be a duration such as \"1m\", from 10ms to %s", maxFilesMaxAge)
		}
	}
	timeout := defaultFilesTimeout
	if c.Timeout != "" {
		var err error
		if timeout, err = time.ParseDuration(c.Timeout); err != nil || timeout < time.Second || timeout > 10*time.Minute {
			return nil, 0, 0, inlet.Errorf(inlet.EINVALID, "config.timeout must be a duration such as \"30s\", from 1s to 10m")
		}
	}
	return &c, maxAge, timeout, nil
}

func validateFiles(config json.RawMessage) error {
	_, _, _, err := parseFiles(config)
	return err
}

// filesTransport gathers the concurrent Sends into batches, bounded by bytes,
// by age and by the destination's in-flight bound, and writes each batch
// as one file per partition (source and date). A file appears whole or
// not at all (a rename of a finished file, or one PUT), and its name is a
// digest of the ids it holds, so that a batch sent again overwrites its
// own files rather than adding copies.
type filesTransport struct {
	cfg     *filesConfig
	maxAge  time.Duration
	timeout time.Duration // of one batch's writes
	client  *minio.Client // nil for a directory
	batches *batcher
}

func openFiles(d *inlet.Destination, inFlight int) (Transport, error) {
	cfg, maxAge, timeout, err := parseFiles(d.Config)
	if err != nil {
		return nil, err
	}
	s := &filesTransport{cfg: cfg, maxAge: maxAge, timeout: timeout}
	if cfg.Bucket != "" {
		u, _ := url.Parse(cfg.Endpoint)
		var creds *credentials.Credentials
		if cfg.AccessKey != "" {
			creds = credentials.NewStaticV4(cfg.AccessKey, cfg.Secret, "")
		} else {
			// The machine's own: AWS_ACCESS_KEY_ID and friends, or an
			// instance role.
			creds = credentials.NewChainCredentials([]credentials.Provider{&credentials.EnvAWS{}, &credentials.EnvMinio{}, &credentials.IAM{}})
		}
		s.client, err = minio.New(u.Host, &minio.Options{Creds: creds, Secure: u.Scheme == "https", Region: cfg.Region, BucketLookup: minio.BucketLookupAuto})
		if err != nil {
			return nil, inlet.Errorf(inlet.EINVALID, "config.endpoint: %v", err)
		}
	}
	s.batches = newBatcher(max(inFlight/2, 1), cfg.MaxBytes, maxAge, timeout, s.flush)
	return s, nil
}

// Send adds the event to the next file of its partition and waits until
// that file is written. See Transport.
func (s *filesTransport) Send(ctx context.Context, e *inlet.Event, body []byte) Result {
	if err := s.batches.send(ctx, e, body); err != nil {
		return Result{Err: err}
	}
	return Result{Response: "written to " + s.partition(e)}
}

// partition is the directory of an event's file:
// <prefix>/source=<source>/date=<YYYY-MM-DD>, by its commit time in UTC.
func (s *filesTransport) partition(e *inlet.Event) string {
	return s.cfg.Prefix + "/source=" + e.SourceID + "/date=" + e.InsertedAt.UTC().Format(time.DateOnly)
}

// flush writes one file per partition of the batch.
func (s *filesTransport) flush(ctx context.Context, items []batchItem) error {
	parts := map[string][]batchItem{}
	for _, it := range items {
		p := s.partition(it.Event)
		parts[p] = append(parts[p], it)
	}
	for p, part := range parts {
		data, err := s.encode(part)
		if err != nil {
			return fmt.Errorf("encode %d events: %w", len(part), err)
		}
		name := p + "/" + fileName(part) + s.extension()
		if err := s.write(ctx, name, data); err != nil {
			return err
		}
	}
	return nil
}

// fileName is the first id of a file's events (in order) and a digest of
// all of them: the same events make the same name.
func fileName(items []batchItem) string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.Event.ID
	}
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{'\n'})
	}
	return ids[0] + "-" + hex.EncodeToString(h.Sum(nil)[:8])
}

func (s *filesTransport) extension() string {
	if s.cfg.Format == "parquet" {
		return ".parquet"
	}
	return ".ndjson.gz"
}

// parquetEvent is a row of a Parquet file.
type parquetEvent struct {
	ID         string    `parquet:"id"`
	Type       string    `parquet:"type"`
	Source     string    `parquet:"source"`
	Session    *string   `parquet:"session,optional"`
	Profile    *string   `parquet:"profile,optional"`
	Time       time.Time `parquet:"time,timestamp(microsecond)"`
	Properties string    `parquet:"properties,json"`
}

func (s *filesTransport) encode(items []batchItem) ([]byte, error) {
	var buf bytes.Buffer
	if s.cfg.Format == "parquet" {
		rows := make([]parquetEvent, len(items))
		for i, it := range items {
			e := it.Event
			rows[i] = parquetEvent{ID: e.ID, Type: e.Type, Source: e.SourceID, Time: e.InsertedAt.UTC(), Properties: string(e.Properties)}
			if e.SessionID != "" {
				rows[i].Session = &e.SessionID
			}
			if e.ProfileID != "" {
				rows[i].Profile = &e.ProfileID
			}
			if rows[i].Properties == "" {
				rows[i].Properties = "{}"
			}
		}
		if err := parquet.Write(&buf, rows, parquet.Compression(&parquet.Snappy)); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	for _, it := range items {
		// A body is the event's JSON with its final newline.
		if _, err := zw.Write(it.Body); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// write stores one file whole: a PUT to the bucket, or a rename of a
// synced temporary file in the same directory.
func (s *filesTransport) write(ctx context.Context, name string, data []byte) error {
	if s.client != nil {
		_, err := s.client.PutObject(ctx, s.cfg.Bucket, name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{ContentType: s.contentType()})
		if err != nil {
			return fmt.Errorf("put %s/%s: %w", s.cfg.Bucket, name, err)
		}
		return nil
	}
	full := filepath.Join(s.cfg.Directory, filepath.FromSlash(name))
	dir := filepath.Dir(full)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-"+path.Base(name)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, full)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", full, err)
	}
	// The rename is durable once the directory is synced.
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("sync %s: %w", dir, err)
		}
	}
	return nil
}

func (s *filesTransport) contentType() string {
	if s.cfg.Format == "parquet" {
		return "application/vnd.apache.parquet"
	}
	return "application/x-ndjson"
}

// Timeout is the longest a Send waits: for its file to fill up to
// max_age, then to be written. See Transport.
func (s *filesTransport) Timeout() time.Duration { return s.maxAge + s.timeout }

// Close has nothing to release: every Send has had its answer.
func (s *filesTransport) Close() error { return nil }
