// Package batch is the group commit in front of an event store: requests
// hand their events to one writer, which commits many requests' events in
// one transaction and wakes each request once its events are durable.
package batch

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"inlet"
)

// Options bound a Writer. Zero fields take the defaults shown.
type Options struct {
	// MaxBatch is the most events committed in one transaction (1000).
	MaxBatch int
	// MaxWait is the longest the writer holds a batch that is not full
	// open for more events, counted from the batch's first request (0: it
	// commits whatever is queued as soon as the previous commit is done, so
	// a lone event never waits).
	MaxWait time.Duration
	// QueueSize is the most requests waiting for a commit (8192).
	QueueSize int
	// QueueBytes is the most event bytes waiting for a commit (64 MiB).
	QueueBytes int64
	// CommitTimeout bounds one commit (10s).
	CommitTimeout time.Duration
}

func (o *Options) setDefaults() {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1000
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 8192
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = 64 << 20
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = 10 * time.Second
	}
}

// Writer batches appends to an EventStore. Its Append has the contract of
// inlet.EventStore.Append, plus EUNAVAILABLE when the queue is full.
type Writer struct {
	store  inlet.EventStore
	opts   Options
	logger *slog.Logger

	queue chan *request
	bytes atomic.Int64 // event bytes queued or being committed
	done  chan struct{}

	mu     sync.RWMutex
	closed bool

	batches atomic.Int64
	events  atomic.Int64
}

type request struct {
	events []*inlet.Event
	size   int64
	done   chan error
}

var requestPool = sync.Pool{New: func() any { return &request{done: make(chan error, 1)} }}

// NewWriter starts a writer over store. Close stops it.
func NewWriter(store inlet.EventStore, opts Options, logger *slog.Logger) *Writer {
	opts.setDefaults()
	w := &Writer{
		store:  store,
		opts:   opts,
		logger: logger,
		queue:  make(chan *request, opts.QueueSize),
		done:   make(chan struct{}),
	}
	go w.run()
	return w
}

// errOverloaded is answered when the queue is full: the sender should retry.
var errOverloaded = inlet.Errorf(inlet.EUNAVAILABLE, "the collector is over capacity; retry later")

// errClosed is answered after Close.
var errClosed = inlet.Errorf(inlet.EUNAVAILABLE, "the collector is shutting down; retry later")

// Append queues events for the next commit and waits until they are
// committed or the commit failed. If ctx ends first the events may still be
// committed; Append then returns ctx's error.
func (w *Writer) Append(ctx context.Context, events []*inlet.Event) error {
	var size int64
	for _, e := range events {
		size += int64(len(e.Properties)) + 512
	}
	if w.bytes.Add(size) > w.opts.QueueBytes {
		w.bytes.Add(-size)
		return errOverloaded
	}
	r := requestPool.Get().(*request)
	r.events, r.size = events, size

	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		w.release(r)
		return errClosed
	}
	select {
	case w.queue <- r:
		w.mu.RUnlock()
	default:
		w.mu.RUnlock()
		w.release(r)
		return errOverloaded
	}

	select {
	case err := <-r.done:
		requestPool.Put(r)
		return err
	case <-ctx.Done():
		return ctx.Err() // r is not reused: the writer still holds it
	}
}

func (w *Writer) release(r *request) {
	w.bytes.Add(-r.size)
	r.events = nil
	requestPool.Put(r)
}

func (w *Writer) run() {
	defer close(w.done)
	batch := make([]*request, 0, 64)
	events := make([]*inlet.Event, 0, w.opts.MaxBatch)
	var timer *time.Timer
	for {
		r, ok := <-w.queue
		if !ok {
			return
		}
		batch = append(batch[:0], r)
		events = append(events[:0], r.events...)
		closed := false
		// The wait counts from the batch's first request, so that a steady
		// stream of requests cannot hold it open for longer than MaxWait.
		deadline := time.Now().Add(w.opts.MaxWait)
	collect:
		for len(events) < w.opts.MaxBatch {
			select {
			case r, ok := <-w.queue:
				if !ok {
					closed = true
					break collect
				}
				batch = append(batch, r)
				events = append(events, r.events...)
				continue
			default:
			}
			wait := time.Until(deadline)
			if w.opts.MaxWait <= 0 || wait <= 0 {
				break
			}
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case r, ok := <-w.queue:
				timer.Stop()
				if !ok {
					closed = true
					break collect
				}
				batch = append(batch, r)
				events = append(events, r.events...)
			case <-timer.C:
				break collect
			}
		}
		w.commit(batch, events)
		if closed {
			return
		}
	}
}

func (w *Writer) commit(batch []*request, events []*inlet.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.CommitTimeout)
	err := w.store.Append(ctx, events)
	cancel()
	if err != nil {
		w.logger.Error("commit failed", "events", len(events), "requests", len(batch), "err", err)
		if inlet.ErrorCode(err) == inlet.EINTERNAL || errors.Is(err, context.DeadlineExceeded) {
			err = errors.Join(inlet.Errorf(inlet.EUNAVAILABLE, "the store could not commit; retry later"), err)
		}
	} else {
		w.batches.Add(1)
		w.events.Add(int64(len(events)))
	}
	for _, r := range batch {
		w.bytes.Add(-r.size)
		r.events = nil
		r.done <- err
	}
	clear(events)
}

// Stats are counters of a Writer since it started.
type Stats struct {
	Batches     int64 `json:"batches"`
	Events      int64 `json:"events"`
	QueuedBytes int64 `json:"queued_bytes"`
	Queued      int   `json:"queued_requests"`
}

// Stats returns the writer's counters.
func (w *Writer) Stats() Stats {
	return Stats{Batches: w.batches.Load(), Events: w.events.Load(), QueuedBytes: w.bytes.Load(), Queued: len(w.queue)}
}

// Close stops taking events, commits what is queued and returns when the
// last commit is done or ctx ends.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
