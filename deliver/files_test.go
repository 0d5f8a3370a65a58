package deliver_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/parquet-go/parquet-go"

	"inlet"
	"inlet/deliver"
)

// parquetRow is what a reader of the Parquet files expects: the columns
// and their types.
type parquetRow struct {
	ID         string    `parquet:"id"`
	Type       string    `parquet:"type"`
	Source     string    `parquet:"source"`
	Session    *string   `parquet:"session,optional"`
	Profile    *string   `parquet:"profile,optional"`
	Time       time.Time `parquet:"time,timestamp(microsecond)"`
	Properties string    `parquet:"properties,json"`
}

// fakeBucket serves an S3 API in memory with one bucket, and returns a
// client of it and its endpoint.
func fakeBucket(t *testing.T, bucket string) (*minio.Client, string) {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	c, err := minio.New(strings.TrimPrefix(srv.URL, "http://"), &minio.Options{Creds: credentials.NewStaticV4("key", "secret", ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return c, srv.URL
}

// fileSet is the files a destination wrote, by path.
type fileSet map[string][]byte

func dirFiles(t *testing.T, dir string) fileSet {
	t.Helper()
	files := fileSet{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files[filepath.ToSlash(rel)], _ = os.ReadFile(p)
		}
		return nil
	})
	return files
}

func bucketFiles(t *testing.T, c *minio.Client, bucket string) fileSet {
	t.Helper()
	files := fileSet{}
	ctx := context.Background()
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		obj, err := c.GetObject(ctx, bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		files[o.Key], _ = io.ReadAll(obj)
		obj.Close()
	}
	return files
}

var filePath = regexp.MustCompile(`^events/source=(\w+)/date=(\d{4}-\d{2}-\d{2})/[0-9a-f-]+-[0-9a-f]{16}\.(ndjson\.gz|parquet)$`)

// rows reads the events of every file, checking that each sits in the
// partition of its source and date; it returns them by id.
func (fs fileSet) rows(t *testing.T) map[string]parquetRow {
	t.Helper()
	got := map[string]parquetRow{}
	for name, data := range fs {
		m := filePath.FindStringSubmatch(name)
		if m == nil {
			t.Fatalf("file %s is not named events/source=S/date=D/<id>-<digest>.<format>", name)
		}
		var rows []parquetRow
		if m[3] == "parquet" {
			var err error
			if rows, err = parquet.Read[parquetRow](bytes.NewReader(data), int64(len(data))); err != nil {
				t.Fatalf("read %s: %v", name, err)
			}
			checkParquetSchema(t, name, data, len(rows))
		} else {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("gunzip %s: %v", name, err)
			}
			sc := bufio.NewScanner(zr)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var e inlet.Event
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatalf("line of %s: %v", name, err)
				}
				r := parquetRow{ID: e.ID, Type: e.Type, Source: e.SourceID, Time: e.InsertedAt, Properties: string(e.Properties)}
				if e.ProfileID != "" {
					r.Profile = &e.ProfileID
				}
				rows = append(rows, r)
			}
		}
		for _, r := range rows {
			if r.Source != m[1] || r.Time.UTC().Format(time.DateOnly) != m[2] {
				t.Fatalf("event %s of source %s at %s is in %s", r.ID, r.Source, r.Time, name)
			}
			if _, dup := got[r.ID]; dup {
				t.Fatalf("event %s is in two files", r.ID)
			}
			got[r.ID] = r
		}
	}
	return got
}

// parquetSchema is what a warehouse sees of a file (DuckDB's DESCRIBE in
// Parquet's terms).
const parquetSchema = `message parquetEvent {
	required binary id (STRING);
	required binary type (STRING);
	required binary source (STRING);
	optional binary session (STRING);
	optional binary profile (STRING);
	required int64 time (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS));
	required binary properties (JSON);
}`

func checkParquetSchema(t *testing.T, name string, data []byte, rows int) {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	if got := f.Schema().String(); got != parquetSchema {
		t.Fatalf("schema of %s:\n%s\nwant\n%s", name, got, parquetSchema)
	}
	if f.NumRows() != int64(rows) {
		t.Fatalf("%s says it has %d rows and %d were read", name, f.NumRows(), rows)
	}
}

// checkRows checks that rows hold exactly the events ids, as stored.
func checkRows(t *testing.T, s store, rows map[string]parquetRow, ids []string) {
	t.Helper()
	if len(rows) != len(ids) {
		t.Fatalf("the files hold %d events; want %d", len(rows), len(ids))
	}
	for _, id := range ids {
		r, ok := rows[id]
		e, _ := s.FindEvent(context.Background(), id)
		if !ok || r.Type != e.Type || !r.Time.Equal(e.InsertedAt) || !jsonEqual(r.Properties, string(e.Properties)) {
			t.Fatalf("the files hold %+v for event %+v", r, e)
		}
		if (r.Profile == nil) != (e.ProfileID == "") {
			t.Fatalf("event %s: profile %v in the files; want %q (null when empty)", id, r.Profile, e.ProfileID)
		}
	}
}

func jsonEqual(a, b string) bool {
	var x, y any
	json.Unmarshal([]byte(a), &x)
	json.Unmarshal([]byte(b), &y)
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

func TestFilesWritesEveryEventOfAMixedLoadPartitioned(t *testing.T) {
	for _, format := range []string{"ndjson", "parquet"} {
		t.Run(format+" in a directory", func(t *testing.T) {
			forEachStore(t, func(t *testing.T, s store) {
				dir := t.TempDir()
				d := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationFiles,
					Config: json.RawMessage(`{"format":"` + format + `","directory":"` + dir + `","max_age":"50ms"}`)})
				start(t, s, deliver.Options{})
				ids := mixedLoad(t, s)
				waitDelivered(t, s, d.ID, int64(len(ids)), 10*time.Second)
				files := dirFiles(t, dir)
				checkRows(t, s, files.rows(t), ids)
			})
		})
		t.Run(format+" in a bucket", func(t *testing.T) {
			s := openSQLite(t)
			c, endpoint := fakeBucket(t, "lake")
			d := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationFiles,
				Config: json.RawMessage(`{"format":"` + format + `","bucket":"lake","endpoint":"` + endpoint + `","access_key":"key","secret":"secret","region":"us-east-1","max_age":"50ms"}`)})
			start(t, s, deliver.Options{})
			ids := mixedLoad(t, s)
			waitDelivered(t, s, d.ID, int64(len(ids)), 10*time.Second)
			checkRows(t, s, bucketFiles(t, c, "lake").rows(t), ids)
		})
	}
}

func TestFilesRotateBySizeAndABatchSentAgainOverwritesItself(t *testing.T) {
	s := openSQLite(t)
	dir := t.TempDir()
	d := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationFiles,
		Config: json.RawMessage(`{"format":"parquet","directory":"` + dir + `","max_bytes":4096,"max_age":"100ms"}`)})
	start(t, s, deliver.Options{})
	ids := appendN(t, s, "shop", "order.created", 400)
	waitDelivered(t, s, d.ID, 400, 10*time.Second)
	files := dirFiles(t, dir)
	// Each event's JSON is about 300 bytes: 4 KiB make a file of 14 or so.
	if len(files) < 400/30 {
		t.Fatalf("400 events made %d files; want files of about 4 KiB of JSON", len(files))
	}
	checkRows(t, s, files.rows(t), ids)

	// One event replayed alone is a file of its own; replayed again, the
	// same file.
	ctx := context.Background()
	one, _ := s.FindEvent(ctx, ids[7])
	for range 2 {
		r := inlet.Replay{Since: one.InsertedAt, Until: one.InsertedAt.Add(time.Microsecond)}
		if n, err := s.ReplayDeliveries(ctx, d.ID, r, time.Now()); err != nil || n != 1 {
			t.Fatalf("ReplayDeliveries = %d, %v; want 1 event", n, err)
		}
		waitStatus(t, s, d.ID, inlet.DeliveryDelivered, 1, 10*time.Second)
	}
	again := dirFiles(t, dir)
	if len(again) != len(files)+1 {
		t.Fatalf("after sending one event twice there are %d files; want %d", len(again), len(files)+1)
	}
}

func TestFilesAnUnwritableDirectoryIsRetried(t *testing.T) {
	s := openSQLite(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "events"), []byte("a file where a directory should be"), 0o644)
	d := createDestination(t, s, &inlet.Destination{Type: inlet.DestinationFiles,
		Config: json.RawMessage(`{"directory":"` + dir + `","max_age":"10ms"}`),
		Retry:  inlet.RetryPolicy{Backoff: []string{"50ms"}, MaxAge: "300ms"}})
	start(t, s, deliver.Options{})
	appendN(t, s, "shop", "order.created", 3)
	dead := waitStatus(t, s, d.ID, inlet.DeliveryDead, 3, 15*time.Second)
	if dead[0].LastError == "" {
		t.Fatalf("dead delivery = %+v; want its error", dead[0])
	}
}

func TestFilesRefusesAWrongConfigNamingTheField(t *testing.T) {
	for _, tc := range []struct{ config, field string }{
		{`{}`, "config.directory"},
		{`{"directory":"relative/dir"}`, "config.directory"},
		{`{"directory":"/tmp/x","bucket":"b"}`, "config.bucket"},
		{`{"directory":"/tmp/x","format":"csv"}`, "config.format"},
		{`{"directory":"/tmp/x","secret":"s"}`, "secret"},
		{`{"bucket":"Not_A_Bucket"}`, "config.bucket"},
		{`{"bucket":"lake","endpoint":"ftp://h"}`, "config.endpoint"},
		{`{"bucket":"lake","access_key":"k"}`, "config.secret"},
		{`{"directory":"/tmp/x","prefix":"../up"}`, "config.prefix"},
		{`{"directory":"/tmp/x","max_bytes":10}`, "config.max_bytes"},
		{`{"directory":"/tmp/x","max_age":"1h"}`, "config.max_age"},
		{`{"directory":"/tmp/x","timeout":"0s"}`, "config.timeout"},
		{`{"directory":"/tmp/x","compression":"zstd"}`, "compression"},
	} {
		assertRefused(t, inlet.DestinationFiles, tc.config, tc.field)
	}
}
