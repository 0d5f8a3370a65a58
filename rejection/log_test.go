package rejection_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"inlet"
	"inlet/rejection"
)

// blockingRejections is a rejection store that blocks until released, or
// fails while failing is set.
type blockingRejections struct {
	release chan struct{}
	failing atomic.Bool
	mu      sync.Mutex
	stored  int64
	counts  map[string]int64
	writes  int
}

func (b *blockingRejections) AppendRejections(ctx context.Context, rs []*inlet.Rejection, counts []inlet.RejectionCount, _ inlet.RejectionBounds) error {
	<-b.release
	if b.failing.Load() {
		return inlet.Errorf(inlet.EUNAVAILABLE, "down")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	b.stored += int64(len(rs))
	for _, c := range counts {
		b.counts[c.SourceID+"/"+c.Reason] += c.Count
	}
	return nil
}

func (b *blockingRejections) ListRejections(context.Context, inlet.RejectionFilter) ([]*inlet.Rejection, error) {
	return nil, nil
}

func (b *blockingRejections) CountRejections(_ context.Context, f inlet.RejectionFilter) ([]inlet.RejectionCount, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []inlet.RejectionCount
	for k, n := range b.counts {
		source, reason, _ := strings.Cut(k, "/")
		if f.SourceID != "" && source != f.SourceID || f.Reason != "" && reason != f.Reason {
			continue
		}
		out = append(out, inlet.RejectionCount{SourceID: source, Reason: reason, Count: n})
	}
	return out, nil
}

func TestRejectionLogBoundsAFlood(t *testing.T) {
	store := &blockingRejections{release: make(chan struct{}), counts: map[string]int64{}}
	sample := func(source string) *inlet.Rejection {
		return &inlet.Rejection{SourceID: source, Reason: "bad_json", Body: bytes.Repeat([]byte("x"), 1000)}
	}
	log := rejection.NewLog(store, rejection.Options{
		SamplesPerMinute: 5, UnknownSamplesPerMinute: 2, MaxPendingBytes: 4 * sample("").Size(), FlushInterval: 10 * time.Millisecond,
	}, slog.New(slog.DiscardHandler))

	// The store is stuck: counting and recording never wait for it.
	done := make(chan struct{})
	var sampled int
	go func() {
		defer close(done)
		for i := 0; i < 10000; i++ {
			source := fmt.Sprintf("s%d", i%3)
			if i%2 == 0 {
				source = inlet.UnknownSourceBucket
			}
			if log.Count(source, "bad_json") {
				sampled++
				log.Record(sample(source))
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Count or Record blocked while the store was stuck")
	}
	// 3 sources x 5 + 2 for the unknown bucket wanted, 4 fit the budget.
	if sampled > 3*5+2 {
		t.Errorf("%d samples wanted in a minute, want at most %d", sampled, 3*5+2)
	}
	st := log.Stats()
	if st.Counted != 10000 || st.Queued > 4 || st.Skipped != 10000-int64(sampled) {
		t.Errorf("stats %+v: want all 10000 counted, at most 4 samples queued, the rest skipped", st)
	}

	// The store fails: counts survive for the next write, samples do not
	// pile up.
	store.failing.Store(true)
	close(store.release)
	deadline := time.Now().Add(5 * time.Second)
	for log.Stats().Failed == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	store.failing.Store(false)
	if err := log.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st = log.Stats()
	if st.Failed == 0 || st.Queued != 0 {
		t.Errorf("stats %+v: want failed samples and none left queued", st)
	}
	var total int64
	for _, n := range store.counts {
		total += n
	}
	if total != 10000 || store.counts[inlet.UnknownSourceBucket+"/bad_json"] != 5000 {
		t.Errorf("stored counts %v (total %d), want 10000 of which 5000 in the unknown bucket", store.counts, total)
	}
	if log.Record(sample("s0")) {
		t.Error("a closed log took a sample")
	}
}

func TestRejectionLogCountsBeforeTheyAreWritten(t *testing.T) {
	store := &blockingRejections{release: make(chan struct{}), counts: map[string]int64{}}
	close(store.release)
	log := rejection.NewLog(store, rejection.Options{FlushInterval: time.Hour}, slog.New(slog.DiscardHandler))
	defer log.Close(context.Background())
	store.counts["a/bad_json"] = 4 // written earlier, or by another node
	log.Count("a", "bad_json")
	log.CountOnly("b", "bad_signature")
	got, err := log.Counts(context.Background(), inlet.RejectionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].SourceID != "a" || got[0].Count != 5 || got[1].SourceID != "b" || got[1].Count != 1 {
		t.Errorf("counts %+v, want a/bad_json 5 (4 stored + 1 pending) then b/bad_signature 1", got)
	}
	if got, _ := log.Counts(context.Background(), inlet.RejectionFilter{SourceID: "b"}); len(got) != 1 || got[0].Reason != "bad_signature" {
		t.Errorf("counts of b: %+v", got)
	}
}
