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
	// OnCommit, when set, is called on the writer's goroutine after each
	// successful commit, before the requests are woken, with the intakes
	// the commit took and what the store made of each (out[i] of
	// intakes[i]). It must not block: the next commit waits for it. Both
	// slices may be reused after it returns. Tell makes the one OnCommit
	// that every consumer of committed events hangs off.
	OnCommit func(intakes []inlet.Intake, out []inlet.Appended)
	// Observer, when set, is told of every commit.
	Observer Observer
}

// Observer is told of a Writer's commits, for metrics. It is called from
// the writer's goroutine after each store Append (a failed batch committed
// again in halves makes several), so it must be quick.
type Observer interface {
	// Committed reports one store Append of events (duplicates among them,
	// by their idempotency key, were not stored again; merges is the
	// number of profiles merged into others while storing them): how long
	// it took and its error, nil when the events are durable.
	Committed(events, duplicates, merges int, took time.Duration, err error)
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
//
// One request's bad data never fails another's: when a commit fails for a
// reason that is not transient (EUNAVAILABLE, or the commit running out of
// time), the writer commits the batch's requests again in halves, down to
// single requests, so that only the offender gets the error, with the code
// it deserves (EINVALID, ECONFLICT or EINTERNAL, never EUNAVAILABLE, which
// would make its sender retry forever).
type Writer struct {
	store  inlet.EventStore
	opts   Options
	logger *slog.Logger

	queue chan *request
	bytes atomic.Int64  // event bytes queued or being committed
	large chan struct{} // the one slot of a request over a quarter of QueueBytes
	done  chan struct{}

	mu     sync.RWMutex
	closed bool

	batches atomic.Int64
	events  atomic.Int64
	retried atomic.Int64 // batches committed again in halves after a failure
	refused atomic.Int64 // requests whose own data the store refused
}

type request struct {
	intakes []inlet.Intake
	size    int64
	large   bool // holds the large slot instead of queue bytes
	out     []inlet.Appended
	done    chan error
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
		large:  make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	go w.run()
	return w
}

// errOverloaded is answered when the queue is full: the sender should retry.
var errOverloaded = inlet.Errorf(inlet.EUNAVAILABLE, "the collector is over capacity; retry later")

// errClosed is answered after Close.
var errClosed = inlet.Errorf(inlet.EUNAVAILABLE, "the collector is shutting down; retry later")

// Size is what an intake counts against Options.QueueBytes.
func Size(in *inlet.Intake) int64 {
	return int64(len(in.Event.Properties)) + 512
}

// Append queues intakes for the next commit and waits until they are
// committed or the commit failed. If ctx ends first the events may still be
// committed; Append then returns ctx's error.
//
// A request over a quarter of QueueBytes (an event as large as a source's
// body limit allows) does not count against the queue's bytes but waits
// for the one slot of such requests, so that it is never refused for its
// size alone while the memory it holds stays bounded.
func (w *Writer) Append(ctx context.Context, intakes []inlet.Intake) ([]inlet.Appended, error) {
	var size int64
	for i := range intakes {
		size += Size(&intakes[i])
	}
	large := size > w.opts.QueueBytes/4
	if large {
		select {
		case w.large <- struct{}{}:
		case <-ctx.Done():
			return nil, errOverloaded
		}
	} else if w.bytes.Add(size) > w.opts.QueueBytes {
		w.bytes.Add(-size)
		return nil, errOverloaded
	}
	r := requestPool.Get().(*request)
	r.intakes, r.size, r.large = intakes, size, large

	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		w.release(r)
		return nil, errClosed
	}
	select {
	case w.queue <- r:
		w.mu.RUnlock()
	default:
		w.mu.RUnlock()
		w.release(r)
		return nil, errOverloaded
	}

	select {
	case err := <-r.done:
		out := r.out
		r.out = nil
		requestPool.Put(r)
		return out, err
	case <-ctx.Done():
		return nil, ctx.Err() // r is not reused: the writer still holds it
	}
}

// release gives back what a request holds of the queue's budget.
func (w *Writer) release(r *request) {
	if r.large {
		<-w.large
	} else {
		w.bytes.Add(-r.size)
	}
	r.intakes = nil
	requestPool.Put(r)
}

func (w *Writer) run() {
	defer close(w.done)
	batch := make([]*request, 0, 64)
	events := 0
	var timer *time.Timer
	for {
		r, ok := <-w.queue
		if !ok {
			return
		}
		batch = append(batch[:0], r)
		events = len(r.intakes)
		closed := false
		// The wait counts from the batch's first request, so that a steady
		// stream of requests cannot hold it open for longer than MaxWait.
		deadline := time.Now().Add(w.opts.MaxWait)
	collect:
		for events < w.opts.MaxBatch {
			select {
			case r, ok := <-w.queue:
				if !ok {
					closed = true
					break collect
				}
				batch = append(batch, r)
				events += len(r.intakes)
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
				events += len(r.intakes)
			case <-timer.C:
				break collect
			}
		}
		w.commit(batch)
		clear(batch)
		if closed {
			return
		}
	}
}

// commit commits the requests of a batch in one transaction and wakes
// each. A failure that is not transient is narrowed down by committing the
// halves of the batch again, so that only the requests whose own data fail
// get the error.
func (w *Writer) commit(batch []*request) {
	var intakes []inlet.Intake
	if len(batch) == 1 {
		intakes = batch[0].intakes
	} else {
		n := 0
		for _, r := range batch {
			n += len(r.intakes)
		}
		intakes = make([]inlet.Intake, 0, n)
		for _, r := range batch {
			intakes = append(intakes, r.intakes...)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.CommitTimeout)
	start := time.Now()
	out, err := w.store.Append(ctx, intakes)
	cancel()
	if w.opts.Observer != nil {
		dups, merges := outcomes(out, err)
		w.opts.Observer.Committed(len(intakes), dups, merges, time.Since(start), err)
	}
	if err == nil {
		w.batches.Add(1)
		w.events.Add(int64(len(intakes)))
		if w.opts.OnCommit != nil {
			w.opts.OnCommit(intakes, out)
		}
		for _, r := range batch {
			n := len(r.intakes)
			w.finish(r, out[:n:n], nil)
			out = out[n:]
		}
		return
	}
	if transient(err) {
		w.logger.Error("commit failed", "events", len(intakes), "requests", len(batch), "err", err)
		if inlet.ErrorCode(err) != inlet.EUNAVAILABLE {
			err = errors.Join(inlet.Errorf(inlet.EUNAVAILABLE, "the store could not commit; retry later"), err)
		}
		for _, r := range batch {
			w.finish(r, nil, err)
		}
		return
	}
	if len(batch) > 1 {
		w.retried.Add(1)
		w.commit(batch[:len(batch)/2])
		w.commit(batch[len(batch)/2:])
		return
	}
	w.refused.Add(1)
	if inlet.ErrorCode(err) == inlet.EINTERNAL {
		w.logger.Error("commit failed", "events", len(intakes), "err", err)
	} else {
		w.logger.Warn("request refused by the store", "events", len(intakes), "err", err)
	}
	w.finish(batch[0], nil, err)
}

// transient reports whether a failed commit may succeed if tried again as
// it is: the store is unavailable or the commit ran out of time.
func transient(err error) bool {
	return inlet.ErrorCode(err) == inlet.EUNAVAILABLE || errors.Is(err, context.DeadlineExceeded)
}

// finish gives back the request's budget and wakes it.
func (w *Writer) finish(r *request, out []inlet.Appended, err error) {
	if r.large {
		<-w.large
	} else {
		w.bytes.Add(-r.size)
	}
	r.intakes, r.out = nil, out
	r.done <- err
}

// outcomes counts the intakes that a successful Append found to repeat
// an idempotency key, and the profiles it merged.
func outcomes(out []inlet.Appended, err error) (duplicates, merges int) {
	if err != nil {
		return 0, 0
	}
	for _, a := range out {
		if a.Duplicate {
			duplicates++
		}
		merges += a.Merged
	}
	return duplicates, merges
}

// Stats are counters of a Writer since it started.
type Stats struct {
	Batches     int64 `json:"batches"`
	Events      int64 `json:"events"`
	Split       int64 `json:"split_batches"`
	Refused     int64 `json:"refused_requests"`
	QueuedBytes int64 `json:"queued_bytes"`
	Queued      int   `json:"queued_requests"`
}

// Stats returns the writer's counters.
func (w *Writer) Stats() Stats {
	return Stats{Batches: w.batches.Load(), Events: w.events.Load(), Split: w.retried.Load(), Refused: w.refused.Load(),
		QueuedBytes: w.bytes.Load(), Queued: len(w.queue)}
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
