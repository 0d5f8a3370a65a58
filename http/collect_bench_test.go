package http_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"

	"inlet"
	"inlet/collector"
	inlethttp "inlet/http"
	"inlet/prometheus"
	"inlet/sqlite"
)

// discardAppender takes events and stores nothing, so that a benchmark
// measures the handler alone.
type discardAppender struct{}

func (discardAppender) Append(ctx context.Context, intakes []inlet.Intake) ([]inlet.Appended, error) {
	out := make([]inlet.Appended, len(intakes))
	for i := range intakes {
		out[i].EventID = intakes[i].Event.ID
	}
	return out, nil
}

// BenchmarkCollect measures the collect handler without the store's
// commit, with and without metrics: go test ./http -run '^$' -bench Collect -benchtime 20000x
func BenchmarkCollect(b *testing.B) {
	for _, withMetrics := range []bool{false, true} {
		name := "without metrics"
		if withMetrics {
			name = "with metrics"
		}
		b.Run(name, func(b *testing.B) {
			db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(b.TempDir(), "inlet.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if err := db.CreateSource(context.Background(), &inlet.Source{ID: "shop", Name: "Shop", Type: inlet.SourceTypeWebhook, Enabled: true}); err != nil {
				b.Fatal(err)
			}
			cfg := inlethttp.Config{
				Store: db, Collector: collector.New(collector.Config{Appender: discardAppender{}, Sources: inlet.NewSourceCache(db, time.Hour)}),
				Logger: slog.New(slog.DiscardHandler), AdminToken: testToken,
			}
			if withMetrics {
				cfg.Metrics = prometheus.New(prom.NewRegistry())
			}
			h := inlethttp.NewServer(cfg)
			body := `{"order":{"id":1234,"total":99.5,"items":["a","b"]}}`
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/collect/order/shop", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
