// Package rejection is the rejected-request log: it counts every refused
// collect request by source and reason, keeps a few of each in full as
// samples, and writes both to the store in the background, so that a flood
// of refusals costs a map increment each and the store one small
// transaction a second. It is a sibling of batch.Writer (events) and
// catalog.Recorder (the schema catalog); the transport decides what is a
// refusal and what of the request a sample keeps.
package rejection

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"inlet"
)

// Options bound a Log. Zero fields take the defaults shown.
type Options struct {
	// SamplesPerMinute is how many refusals of one source for one reason
	// are kept in full each minute (10); the rest are only counted.
	SamplesPerMinute int
	// UnknownSamplesPerMinute is the same for refusals that name no known
	// source, all counted in one bucket whatever id they name (3).
	UnknownSamplesPerMinute int
	// MaxPendingBytes bounds the samples waiting to be written, by
	// inlet.Rejection.Size (4 MiB); beyond it, samples are dropped and
	// only counted.
	MaxPendingBytes int64
	// MaxKeys bounds the (source, reason) pairs tallied in memory (4096);
	// beyond it, refusals are counted in the unknown-source bucket.
	MaxKeys int
	// FlushInterval is how often samples and counts are written (1s).
	FlushInterval time.Duration
	// Bounds bound the stored samples (inlet.DefaultRejectionMaxCount and
	// inlet.DefaultRejectionMaxBytes).
	Bounds inlet.RejectionBounds
}

func (o *Options) defaults() {
	if o.SamplesPerMinute <= 0 {
		o.SamplesPerMinute = 10
	}
	if o.UnknownSamplesPerMinute <= 0 {
		o.UnknownSamplesPerMinute = 3
	}
	if o.MaxPendingBytes <= 0 {
		o.MaxPendingBytes = 4 << 20
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 4096
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.Bounds.MaxCount <= 0 {
		o.Bounds.MaxCount = inlet.DefaultRejectionMaxCount
	}
	if o.Bounds.MaxBytes <= 0 {
		o.Bounds.MaxBytes = inlet.DefaultRejectionMaxBytes
	}
}

// Log records refused collect requests so that a flood of them
// cannot become load: every refusal is counted by source and reason in
// memory (a map increment), only the first few of each pair a minute are
// kept in full as samples, and one goroutine writes samples and counts to
// the store once per FlushInterval, in one short low-priority transaction
// (see inlet.RejectionStore.AppendRejections) that shares neither the
// event writer's queue nor its connection. Whatever the rate of refusals,
// the store sees at most one small transaction a second, and the memory
// held is bounded by MaxPendingBytes and MaxKeys.
type Log struct {
	store  inlet.RejectionStore
	opts   Options
	logger *slog.Logger
	now    func() time.Time

	mu           sync.Mutex
	tallies      map[rejectionKey]*rejectionTally
	samples      []*inlet.Rejection
	pendingBytes int64
	inflight     []inlet.RejectionCount // counts being written, for Counts
	closed       bool

	// flushing is held by a flush from taking the counts until they are
	// committed, and by Counts while it reads, so that Counts sees every
	// count exactly once.
	flushing sync.RWMutex

	stop chan struct{}
	done chan struct{}

	counted  atomic.Int64
	skipped  atomic.Int64
	recorded atomic.Int64
	dropped  atomic.Int64
	failed   atomic.Int64
}

type rejectionKey struct{ source, reason string }

// rejectionTally is one (source, reason) pair: its count since the last
// flush, and the samples taken in the current minute.
type rejectionTally struct {
	pending     int64
	first, last time.Time
	minute      time.Time
	sampled     int
}

// NewLog starts a log writing to store. Close stops it.
func NewLog(store inlet.RejectionStore, opts Options, logger *slog.Logger) *Log {
	opts.defaults()
	l := &Log{
		store:   store,
		opts:    opts,
		logger:  logger,
		now:     time.Now,
		tallies: make(map[rejectionKey]*rejectionTally),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go l.run()
	return l
}

// Count counts one refusal of sourceID (inlet.UnknownSourceBucket for a
// request that names no known source) for reason, and reports whether a
// sample of it is wanted: true for the first few of the pair each minute
// while the pending samples are within their budget. It never blocks on
// the store.
func (l *Log) Count(sourceID, reason string) bool {
	return l.count(sourceID, reason, true)
}

// CountOnly counts one refusal, as Count does, and takes no sample: for
// refusals answered at once, such as those over their budget.
func (l *Log) CountOnly(sourceID, reason string) {
	l.count(sourceID, reason, false)
}

func (l *Log) count(sourceID, reason string, sample bool) bool {
	now := l.now()
	l.counted.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tally(rejectionKey{sourceID, reason})
	if t.pending == 0 || now.Before(t.first) {
		t.first = now
	}
	t.pending++
	if now.After(t.last) {
		t.last = now
	}
	limit := l.opts.SamplesPerMinute
	if sourceID == inlet.UnknownSourceBucket {
		limit = l.opts.UnknownSamplesPerMinute
	}
	if minute := now.Truncate(time.Minute); !minute.Equal(t.minute) {
		t.minute, t.sampled = minute, 0
	}
	if !sample || l.closed || t.sampled >= limit || l.pendingBytes >= l.opts.MaxPendingBytes {
		l.skipped.Add(1)
		return false
	}
	t.sampled++
	return true
}

// tally returns the pair's tally, creating it; past MaxKeys, the refusal
// is tallied in the unknown-source bucket. l.mu is held.
func (l *Log) tally(k rejectionKey) *rejectionTally {
	if t := l.tallies[k]; t != nil {
		return t
	}
	if len(l.tallies) >= l.opts.MaxKeys {
		k.source = inlet.UnknownSourceBucket
		if t := l.tallies[k]; t != nil {
			return t
		}
		// Reasons are a small fixed vocabulary: the unknown-source bucket
		// holds at most one tally per reason beyond the bound.
	}
	t := &rejectionTally{}
	l.tallies[k] = t
	return t
}

// Record queues a sample (one Count said was wanted) for writing; it never
// blocks. It reports whether the sample was kept: one over the pending
// budget, or given after Close, is dropped (it was counted).
func (l *Log) Record(rj *inlet.Rejection) bool {
	size := rj.Size()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.pendingBytes+size > l.opts.MaxPendingBytes {
		l.dropped.Add(1)
		return false
	}
	l.samples = append(l.samples, rj)
	l.pendingBytes += size
	return true
}

func (l *Log) run() {
	defer close(l.done)
	t := time.NewTicker(l.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.flush()
		case <-l.stop:
			l.flush()
			return
		}
	}
}

// flush writes the pending samples and counts in one transaction. Counts
// that fail to be written are kept for the next flush; samples are lost
// (and counted as failed), so that a store that is down cannot make the
// log grow.
func (l *Log) flush() {
	l.flushing.Lock()
	defer l.flushing.Unlock()
	l.mu.Lock()
	samples := l.samples
	l.samples, l.pendingBytes = nil, 0
	var counts []inlet.RejectionCount
	minuteAgo := l.now().Add(-time.Minute)
	for k, t := range l.tallies {
		if t.pending > 0 {
			counts = append(counts, inlet.RejectionCount{SourceID: k.source, Reason: k.reason, Count: t.pending, FirstAt: t.first.UTC(), LastAt: t.last.UTC()})
			t.pending = 0
		} else if t.minute.Before(minuteAgo) {
			delete(l.tallies, k) // idle: its sample window is over
		}
	}
	l.inflight = counts
	l.mu.Unlock()
	if len(samples) == 0 && len(counts) == 0 {
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := l.store.AppendRejections(ctx, samples, counts, l.opts.Bounds)
	cancel()

	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight = nil
	if err == nil {
		l.recorded.Add(int64(len(samples)))
		return
	}
	l.failed.Add(int64(len(samples)))
	l.logger.Warn("rejected-request log: write failed; samples lost, counts kept for the next try", "samples", len(samples), "counts", len(counts), "err", err)
	for _, c := range counts {
		t := l.tally(rejectionKey{c.SourceID, c.Reason})
		if t.pending == 0 || c.FirstAt.Before(t.first) {
			t.first = c.FirstAt
		}
		if c.LastAt.After(t.last) {
			t.last = c.LastAt
		}
		t.pending += c.Count
	}
}

// List returns stored samples matching f, newest first, as
// inlet.RejectionStore.ListRejections does.
func (l *Log) List(ctx context.Context, f inlet.RejectionFilter) ([]*inlet.Rejection, error) {
	return l.store.ListRejections(ctx, f)
}

// Counts returns the stored counts matching f's source and reason plus
// those of this node not yet written, by source then reason.
func (l *Log) Counts(ctx context.Context, f inlet.RejectionFilter) ([]inlet.RejectionCount, error) {
	l.flushing.RLock()
	defer l.flushing.RUnlock()
	stored, err := l.store.CountRejections(ctx, f)
	if err != nil {
		return nil, err
	}
	match := func(c inlet.RejectionCount) bool {
		return (f.SourceID == "" || c.SourceID == f.SourceID) && (f.Reason == "" || c.Reason == f.Reason)
	}
	byKey := make(map[rejectionKey]int, len(stored))
	for i, c := range stored {
		byKey[rejectionKey{c.SourceID, c.Reason}] = i
	}
	add := func(c inlet.RejectionCount) {
		if !match(c) {
			return
		}
		k := rejectionKey{c.SourceID, c.Reason}
		i, ok := byKey[k]
		if !ok {
			byKey[k] = len(stored)
			stored = append(stored, c)
			return
		}
		s := &stored[i]
		s.Count += c.Count
		if c.FirstAt.Before(s.FirstAt) {
			s.FirstAt = c.FirstAt
		}
		if c.LastAt.After(s.LastAt) {
			s.LastAt = c.LastAt
		}
	}
	l.mu.Lock()
	for _, c := range l.inflight {
		add(c)
	}
	for k, t := range l.tallies {
		if t.pending > 0 {
			add(inlet.RejectionCount{SourceID: k.source, Reason: k.reason, Count: t.pending, FirstAt: t.first.UTC(), LastAt: t.last.UTC()})
		}
	}
	l.mu.Unlock()
	sortCounts(stored)
	return stored, nil
}

// sortCounts orders counts by source then reason, as the stores do.
func sortCounts(cs []inlet.RejectionCount) {
	slices.SortFunc(cs, func(a, b inlet.RejectionCount) int {
		if c := strings.Compare(a.SourceID, b.SourceID); c != 0 {
			return c
		}
		return strings.Compare(a.Reason, b.Reason)
	})
}

// Stats are counters of a Log since it started.
type Stats struct {
	Counted  int64 `json:"counted"`  // refusals counted: all of them
	Skipped  int64 `json:"skipped"`  // counted without a sample: over the per-minute bound or the pending budget
	Recorded int64 `json:"recorded"` // samples written
	Dropped  int64 `json:"dropped"`  // samples over the pending budget, or after Close
	Failed   int64 `json:"failed"`   // samples the store could not write
	Queued   int   `json:"queued"`   // samples waiting to be written
}

// Stats returns the log's counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	queued := len(l.samples)
	l.mu.Unlock()
	return Stats{
		Counted: l.counted.Load(), Skipped: l.skipped.Load(), Recorded: l.recorded.Load(),
		Dropped: l.dropped.Load(), Failed: l.failed.Load(), Queued: queued,
	}
}

// Close stops taking samples, writes what is pending and returns when done
// or when ctx ends.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.stop)
	}
	l.mu.Unlock()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
