package deliver

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"inlet"
)

// Store is what delivery needs from a store.
type Store interface {
	inlet.DestinationStore
	inlet.DeliveryStore
}

// Options configure a Service. Zero fields take the defaults.
type Options struct {
	// Owner names this node in leases; it must differ between nodes.
	Owner string
	// Poll is how often an idle destination looks for due deliveries, a
	// read (default 20ms); FanOutEvery how often the outbox is fanned out
	// (default 40ms), a write that shares the store's writer with intake:
	// it bounds the lag from commit to delivery. Refresh is how often the
	// destination list is read again (default 1s), the bound on how long a
	// change made through another node takes to apply here.
	Poll        time.Duration
	FanOutEvery time.Duration
	Refresh     time.Duration
	// Lease is how long a claimed delivery is this node's; a node that
	// dies leaves its claimed deliveries to others after it (default 1m,
	// and at least five times the destination's timeout).
	Lease time.Duration
	// InFlight is how many events are sent at once to one destination
	// (default: its type's, 64 for a webhook, 256 for NATS); a worker
	// holds up to four times as many claimed, so that claims come in
	// chunks, and a lease must outlast four rounds of send timeouts.
	InFlight int
	// FanOutBatch is how many outbox entries one fan-out takes (default
	// 1000).
	FanOutBatch int
	// Metrics, when set, is told of every attempt.
	Metrics Metrics
}

// Metrics is told of delivery attempts; prometheus.Metrics is one. It is
// called from the senders' goroutines, so it must be cheap and safe for
// concurrent use.
type Metrics interface {
	// Attempted reports one attempt to deliver an event to a destination:
	// its outcome (inlet.DeliveryDelivered, DeliveryFailed or DeliveryDead)
	// and how long the send took.
	Attempted(destination, outcome string, took time.Duration)
}

func (o *Options) defaults() {
	if o.Owner == "" {
		o.Owner = inlet.NewID()
	}
	if o.Poll <= 0 {
		o.Poll = 20 * time.Millisecond
	}
	if o.FanOutEvery <= 0 {
		o.FanOutEvery = 40 * time.Millisecond
	}
	if o.Refresh <= 0 {
		o.Refresh = time.Second
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	if o.FanOutBatch <= 0 {
		o.FanOutBatch = 1000
	}
}

// Service runs delivery: one fan-out loop, one loop that follows the
// destination list, and one worker per enabled destination. A worker only
// ever waits on its own destination, so a slow or failing one holds up
// neither intake nor the others; its backlog stays in the store.
type Service struct {
	store  Store
	opts   Options
	logger *slog.Logger
	now    func() time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	workers map[string]*worker
	// wake is signalled when the fan-out created deliveries.
	wake chan struct{}
}

// New returns a Service; Start starts it.
func New(store Store, opts Options, logger *slog.Logger) *Service {
	opts.defaults()
	return &Service{store: store, opts: opts, logger: logger, now: time.Now, workers: map[string]*worker{}, wake: make(chan struct{}, 1)}
}

// Start starts the loops; Close stops them.
func (s *Service) Start() {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(2)
	go s.fanOutLoop()
	go s.followLoop()
}

// Close stops every loop and waits for the sends in flight; their
// deliveries are recorded if the store still takes writes, else their
// leases run out and they are sent again.
func (s *Service) Close() error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, w := range s.workers {
		w.stop()
		delete(s.workers, id)
	}
	return nil
}

// Notify tells the service that events were committed, so that the
// fan-out runs now rather than at its next poll.
func (s *Service) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) fanOutLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.FanOutEvery)
	defer t.Stop()
	for {
		n, err := s.store.FanOut(s.ctx, s.opts.FanOutBatch, s.now())
		if err != nil && s.ctx.Err() == nil {
			s.logger.Warn("delivery: fan-out failed; retrying", "err", err)
		}
		if n > 0 {
			s.wakeWorkers()
		}
		if n == s.opts.FanOutBatch {
			continue
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

func (s *Service) wakeWorkers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.workers {
		w.notify()
	}
}

// followLoop keeps one worker per enabled destination, restarting a
// worker whose destination changed.
func (s *Service) followLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.Refresh)
	defer t.Stop()
	for {
		if err := s.follow(); err != nil && s.ctx.Err() == nil {
			s.logger.Warn("delivery: reading destinations failed; retrying", "err", err)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh reads the destination list now; the admin API calls it after a
// change so that it applies at once on this node.
func (s *Service) Refresh() {
	if s.ctx == nil || s.ctx.Err() != nil {
		return
	}
	if err := s.follow(); err != nil {
		s.logger.Warn("delivery: reading destinations failed", "err", err)
	}
}

func (s *Service) follow() error {
	var dests []*inlet.Destination
	f := inlet.ListFilter{Limit: inlet.MaxEventLimit}
	for {
		page, err := s.store.ListDestinations(s.ctx, f)
		if err != nil {
			return err
		}
		dests = append(dests, page.Items...)
		if page.Next == nil {
			break
		}
		f.Cursor = *page.Next
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return nil
	}
	seen := map[string]bool{}
	for _, d := range dests {
		if !d.Enabled {
			continue
		}
		seen[d.ID] = true
		// A worker that stopped by itself (after a 410 it could not record
		// as disabled) is started again, like one whose destination changed.
		if w := s.workers[d.ID]; w != nil && w.dest.UpdatedAt.Equal(d.UpdatedAt) && !w.exited() {
			continue
		} else if w != nil {
			w.stop()
			delete(s.workers, d.ID)
		}
		w, err := s.startWorker(d)
		if err != nil {
			s.logger.Error("delivery: cannot open destination", "destination", d.ID, "err", err)
			continue
		}
		s.workers[d.ID] = w
	}
	for id, w := range s.workers {
		if !seen[id] {
			w.stop()
			delete(s.workers, id)
		}
	}
	return nil
}

// worker delivers the events of one destination.
type worker struct {
	s      *Service
	dest   *inlet.Destination
	sender Sender
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{}
	// inFlight sends at once, out of up to batch claimed deliveries,
	// each leased for lease.
	inFlight, batch int
	lease           time.Duration
}

func (s *Service) startWorker(d *inlet.Destination) (*worker, error) {
	inFlight := s.opts.InFlight
	if inFlight <= 0 {
		inFlight = types[d.Type].InFlight
	}
	sender, err := open(d, inFlight)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(s.ctx)
	w := &worker{s: s, dest: d, sender: sender, ctx: ctx, cancel: cancel, done: make(chan struct{}), wake: make(chan struct{}, 1),
		inFlight: inFlight, batch: 4 * inFlight, lease: s.opts.Lease}
	// A claimed delivery waits for at most three rounds of sends before
	// its own: the lease outlasts them, or the worker would take its own
	// deliveries again.
	w.lease = max(w.lease, 5*sender.Timeout())
	go w.run()
	return w, nil
}

func (w *worker) notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// exited reports whether the worker has stopped.
func (w *worker) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

func (w *worker) stop() {
	w.cancel()
	<-w.done
	w.sender.Close()
}

// run claims due deliveries whenever it has room for more and sends each
// as soon as a send slot is free; outcomes are recorded by complete, in
// batches, while the next ones are sent. A claimed delivery stays leased
// until its outcome is recorded, so no claim takes it twice.
func (w *worker) run() {
	defer close(w.done)
	s := w.s
	outcomes := make(chan inlet.Outcome, w.batch)
	completed := make(chan struct{})
	go w.complete(outcomes, completed)
	defer func() { <-completed }()
	defer close(outcomes)

	slots := make(chan struct{}, w.inFlight)
	freed := make(chan struct{}, 1)
	var claimed atomic.Int64 // claimed, not yet sent
	var sends sync.WaitGroup
	defer sends.Wait()
	t := time.NewTicker(s.opts.Poll)
	defer t.Stop()
	for {
		n := 0
		// Claims come in chunks of at least half a batch (or when nothing
		// is left to send): each claim is a transaction.
		if room := w.batch - int(claimed.Load()); room >= w.batch/2 || room == w.batch {
			ds, err := s.store.ClaimDeliveries(w.ctx, w.dest.ID, s.opts.Owner, room, s.now(), w.lease)
			if err != nil && w.ctx.Err() == nil {
				s.logger.Warn("delivery: claim failed; retrying", "destination", w.dest.ID, "err", err)
			}
			n = len(ds)
			claimed.Add(int64(n))
			for _, d := range ds {
				select {
				case slots <- struct{}{}:
				case <-w.ctx.Done():
					return // unsent claims wait for their leases to run out
				}
				sends.Add(1)
				go func() {
					defer sends.Done()
					o, gone := w.attempt(d)
					<-slots
					// The claimer is woken when there is room for a chunk,
					// not after every send: each claim is a transaction.
					if left := claimed.Add(-1); left == int64(w.batch/2) || left == 0 {
						select {
						case freed <- struct{}{}:
						default:
						}
					}
					if w.ctx.Err() != nil && !gone {
						// Stopping: a send cut short is no attempt; its
						// lease runs out and the next owner sends it.
						return
					}
					outcomes <- o
				}()
			}
		}
		if n > 0 {
			continue
		}
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		case <-freed:
		}
	}
}

// completeLinger is how long complete waits for more outcomes to record
// in one transaction: fewer transactions that hold intake's writer, at no
// cost to delivery (the events are sent already).
const completeLinger = 20 * time.Millisecond

// complete records outcomes in batches until outcomes is closed; recorded
// even while the worker stops, so that an event sent is not sent again
// for want of a record.
func (w *worker) complete(outcomes <-chan inlet.Outcome, done chan<- struct{}) {
	defer close(done)
	s := w.s
	for o := range outcomes {
		// Outcomes that come within a few milliseconds share one
		// transaction.
		batch := []inlet.Outcome{o}
		linger := time.NewTimer(completeLinger)
	more:
		for len(batch) < w.batch {
			select {
			case o, ok := <-outcomes:
				if !ok {
					break more
				}
				batch = append(batch, o)
			case <-linger.C:
				break more
			}
		}
		linger.Stop()
		gone := false
		for _, o := range batch {
			gone = gone || o.Gone
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 10*time.Second)
		for {
			err := s.store.CompleteDeliveries(ctx, w.dest.ID, s.opts.Owner, batch)
			if err == nil || ctx.Err() != nil {
				if err != nil {
					s.logger.Error("delivery: outcomes not recorded; the events will be sent again", "destination", w.dest.ID, "events", len(batch), "err", err)
				}
				break
			}
			s.logger.Warn("delivery: recording outcomes failed; retrying", "destination", w.dest.ID, "err", err)
			time.Sleep(100 * time.Millisecond)
		}
		if gone {
			disabled := false
			if _, err := s.store.UpdateDestination(ctx, w.dest.ID, inlet.DestinationUpdate{Enabled: &disabled}); err != nil {
				s.logger.Error("delivery: cannot disable a destination that answered 410", "destination", w.dest.ID, "err", err)
			} else {
				s.logger.Warn("delivery: the receiver answered 410 Gone; destination disabled", "destination", w.dest.ID)
			}
			w.cancel()
		}
		cancel()
		w.notify() // an ordered destination's next event may be due now
	}
}

// attempt sends one delivery and returns its outcome, and whether the
// receiver is gone.
func (w *worker) attempt(d *inlet.Delivery) (inlet.Outcome, bool) {
	s := w.s
	start := s.now()
	var r Result
	if d.Event == nil {
		r.Err = errors.New("the event is no longer stored")
	} else if body, err := inlet.EventJSON(d.Event); err != nil {
		r.Err = err
	} else {
		r = w.sender.Send(w.ctx, d.Event, body)
	}
	end := s.now()
	a := inlet.Attempt{At: start.UTC(), Status: r.Status, LatencyMS: float64(end.Sub(start).Microseconds()) / 1000, Response: r.Response}
	o := inlet.Outcome{EventID: d.EventID, Log: nil}
	if r.Err == nil {
		o.Status, o.NextAttemptAt = inlet.DeliveryDelivered, end
	} else {
		a.Error = r.Err.Error()
		next, dead := w.dest.Retry.Next(d.Attempts+1, d.CreatedAt, end)
		o.Status, o.NextAttemptAt = inlet.DeliveryFailed, next
		if dead || d.Event == nil {
			o.Status = inlet.DeliveryDead
		}
	}
	o.Log = inlet.AppendAttempt(d.Log, a)
	o.Gone = r.Gone
	if m := s.opts.Metrics; m != nil {
		m.Attempted(w.dest.ID, o.Status, end.Sub(start))
	}
	return o, r.Gone
}
