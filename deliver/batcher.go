package deliver

import (
	"context"
	"sync"
	"time"

	"inlet"
)

// batcher turns the concurrent Sends of one destination into batches, for
// the types whose peer takes many events per round trip (a multi-row
// insert, a file, a pipeline). A Send joins the open batch and waits for
// its outcome; a batch is flushed when it holds maxEvents events or
// maxBytes bytes, or linger after its first event joined. A batch succeeds
// or fails whole: every Send of it gets the same error. Because the engine
// moves the cursor only past Sends that returned, an event is settled only
// once the batch that holds it is written.
type batcher struct {
	maxEvents int
	maxBytes  int
	linger    time.Duration
	timeout   time.Duration // of one flush
	flush     func(ctx context.Context, b []batchItem) error

	mu   sync.Mutex
	open *batch
}

// batchItem is one event of a batch: the event and its JSON.
type batchItem struct {
	Event *inlet.Event
	Body  []byte
}

type batch struct {
	items  []batchItem
	bytes  int
	sealed bool
	done   chan struct{}
	err    error
}

// newBatcher returns a batcher whose batches hold at most maxEvents events
// (at least one) and about maxBytes bytes (0: no bound).
func newBatcher(maxEvents, maxBytes int, linger, timeout time.Duration, flush func(context.Context, []batchItem) error) *batcher {
	return &batcher{maxEvents: max(maxEvents, 1), maxBytes: maxBytes, linger: linger, timeout: timeout, flush: flush}
}

// send adds an event to the open batch and waits until that batch is
// flushed or ctx ends; it returns the batch's error.
func (b *batcher) send(ctx context.Context, e *inlet.Event, body []byte) error {
	b.mu.Lock()
	bt := b.open
	if bt == nil {
		bt = &batch{done: make(chan struct{})}
		b.open = bt
		time.AfterFunc(b.linger, func() { b.seal(bt) })
	}
	bt.items = append(bt.items, batchItem{Event: e, Body: body})
	bt.bytes += len(body)
	full := len(bt.items) >= b.maxEvents || (b.maxBytes > 0 && bt.bytes >= b.maxBytes)
	b.mu.Unlock()
	if full {
		b.seal(bt)
	}
	select {
	case <-bt.done:
		return bt.err
	case <-ctx.Done():
		// The batch may still be written: the event is then sent again,
		// which at-least-once allows.
		return ctx.Err()
	}
}

// seal closes bt to new events, once, and flushes it.
func (b *batcher) seal(bt *batch) {
	b.mu.Lock()
	if bt.sealed {
		b.mu.Unlock()
		return
	}
	bt.sealed = true
	if b.open == bt {
		b.open = nil
	}
	b.mu.Unlock()
	go func() {
		// A flush has its own deadline: a Send that gave up does not cut
		// short the batch the other Sends wait on.
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		defer cancel()
		bt.err = b.flush(ctx, bt.items)
		close(bt.done)
	}()
}
