package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"inlet"
)

// BenchmarkAppend measures a store's side of the group commit: one
// transaction of batch events, each with a ~300-byte body, with a new
// session each or none. open returns a fresh store, closed by the caller's
// cleanup.
func BenchmarkAppend(b *testing.B, open func(b *testing.B) inlet.Store) {
	props := json.RawMessage(`{"event":"order.created","data":{"id":"ord_1234567890","amount":4999,"currency":"usd","customer":{"id":"cus_98765","email":"someone@example.com","name":"Jane Doe"},"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"created":1700000000,"livemode":false}}`)
	headers := map[string]string{"Content-Type": "application/json", "User-Agent": "bench/1.0", "Accept": "*/*", "Content-Length": "300"}
	for _, batch := range []int{1, 64, 512} {
		for _, sessions := range []bool{false, true} {
			b.Run(fmt.Sprintf("batch=%d/sessions=%t", batch, sessions), func(b *testing.B) {
				ctx := context.Background()
				s := open(b)
				intakes := make([]inlet.Intake, batch)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					for j := range intakes {
						e := inlet.Event{ID: inlet.NewID(), Type: "order", InsertedAt: time.Now(), SourceID: "src", Properties: props,
							Context: inlet.RequestContext{Method: "POST", Headers: headers, IP: "127.0.0.1", UserAgent: "bench/1.0"}}
						if sessions {
							e.SessionID = fmt.Sprintf("s-%d-%d", i, j)
						}
						intakes[j] = inlet.Intake{Event: e}
					}
					if _, err := s.Append(ctx, intakes); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}
