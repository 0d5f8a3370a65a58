package catalog

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"inlet"
)

// Options bound a Recorder. Zero fields take the defaults shown.
type Options struct {
	// Interval is how often the deltas are merged into the store (1s).
	Interval time.Duration
	// QueueSize is the most events waiting to be read (65536); over it,
	// events are left out of the catalog and counted as dropped, so that
	// the catalog never slows intake.
	QueueSize int
	// MergeTimeout bounds one merge (10s).
	MergeTimeout time.Duration
}

// Recorder learns the catalog from committed events in the background:
// Record never blocks, a goroutine accumulates what it is given and
// merges the deltas into the store every Interval.
type Recorder struct {
	store  inlet.CatalogStore
	opts   Options
	logger *slog.Logger

	queue   chan Observed // never closed: a handler may still Record during Close
	flush   chan chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	closed  atomic.Bool
	dropped atomic.Int64
	failed  atomic.Int64
}

// NewRecorder starts a recorder over store. Close stops it.
func NewRecorder(store inlet.CatalogStore, opts Options, logger *slog.Logger) *Recorder {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 65536
	}
	if opts.MergeTimeout <= 0 {
		opts.MergeTimeout = 10 * time.Second
	}
	r := &Recorder{
		store: store, opts: opts, logger: logger,
		queue: make(chan Observed, opts.QueueSize),
		flush: make(chan chan struct{}),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go r.run()
	return r
}

// Record hands committed events to the catalog, without waiting. It keeps
// their Properties until the next merge: the caller must not reuse those
// bytes.
func (r *Recorder) Record(events ...*inlet.Event) {
	if r == nil || r.closed.Load() {
		return
	}
	for _, e := range events {
		select {
		case r.queue <- Observed{SourceID: e.SourceID, Type: e.Type, InsertedAt: e.InsertedAt, Properties: e.Properties}:
		default:
			r.dropped.Add(1)
		}
	}
}

// Dropped returns the number of events left out because the queue was full.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Flush merges what was recorded so far, and returns when it is stored
// (or the merge failed, which is logged).
func (r *Recorder) Flush() {
	if r.closed.Load() {
		return
	}
	ack := make(chan struct{})
	select {
	case r.flush <- ack:
		<-ack
	case <-r.done:
	}
}

// Close merges what is left and stops the recorder.
func (r *Recorder) Close() {
	r.once.Do(func() {
		r.closed.Store(true)
		close(r.stop)
		<-r.done
	})
}

func (r *Recorder) run() {
	defer close(r.done)
	acc := NewAccumulator()
	tick := time.NewTicker(r.opts.Interval)
	defer tick.Stop()
	drain := func() {
		for {
			select {
			case o := <-r.queue:
				acc.Add(o)
			default:
				return
			}
		}
	}
	for {
		select {
		case o := <-r.queue:
			acc.Add(o)
		case <-r.stop:
			drain()
			r.merge(acc)
			return
		case <-tick.C:
			r.merge(acc)
		case ack := <-r.flush:
			drain()
			r.merge(acc)
			close(ack)
		}
	}
}

func (r *Recorder) merge(acc *Accumulator) {
	if acc.Len() == 0 {
		return
	}
	deltas := acc.Take()
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.MergeTimeout)
	defer cancel()
	if err := r.store.MergeCatalog(ctx, deltas); err != nil {
		// The catalog is a summary: a lost delta is logged, never retried
		// at the cost of intake.
		r.failed.Add(1)
		if r.logger != nil {
			r.logger.Warn("catalog: merge failed; these events are not in the catalog", "deltas", len(deltas), "err", err)
		}
	}
}
