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
	// Poll is how often an idle destination reads the log and its due
	// rows when nothing woke it (default 20ms): a read, never a write.
	// Refresh is how often the destination list is read again (default
	// 1s), the bound on how long a change made through another node takes
	// to apply here, and how often a node tries to take a cursor another
	// node holds.
	Poll    time.Duration
	Refresh time.Duration
	// Lease is how long a cursor stays a node's without a renewal: a node
	// that dies leaves its destinations to others after it, and events it
	// sent but had not settled are sent again (default 1m, and at least
	// five times the destination's timeout).
	Lease time.Duration
	// InFlight is how many events are sent at once to one destination
	// whose config sets no in_flight (default: its type's, 64 for a
	// webhook, 256 for NATS); a worker reads up to four times as many
	// ahead.
	InFlight int
	// Settle is how often outcomes are settled, each time in one
	// transaction for many events (default 20ms).
	Settle time.Duration
	// DrainTimeout bounds how long Close waits for the sends in flight to
	// finish and be settled (default 5s); sends cut short then are sent
	// again by the next owner.
	DrainTimeout time.Duration
	// Metrics, when set, is told of every attempt.
	Metrics Metrics
}

// Metrics is told of delivery attempts; prometheus.Metrics is one. It is
// called from the transports' goroutines, so it must be cheap and safe for
// concurrent use.
type Metrics interface {
	// Attempted reports one attempt to deliver an event to a destination:
	// its outcome (inlet.DeliveryDelivered, DeliveryFailed or DeliveryDead)
	// and how long the send took.
	Attempted(destination, outcome string, took time.Duration)
	// Disabled reports that delivery disabled a destination by itself.
	Disabled(destination string)
}

// DefaultLease is how long a node holds a destination's cursor unrenewed
// when Options.Lease is zero; inlet serve's --delivery-lease starts from it.
const DefaultLease = time.Minute

func (o *Options) defaults() {
	if o.Owner == "" {
		o.Owner = inlet.NewID()
	}
	if o.Poll <= 0 {
		o.Poll = 20 * time.Millisecond
	}
	if o.Refresh <= 0 {
		o.Refresh = time.Second
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Settle <= 0 {
		o.Settle = 20 * time.Millisecond
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 5 * time.Second
	}
}

// Service runs delivery: one loop that follows the destination list, and
// one worker per enabled destination. A worker only ever waits on its own
// destination, so a slow or failing one holds up neither intake nor the
// others; its backlog is the log after its cursor.
type Service struct {
	store  Store
	opts   Options
	logger *slog.Logger
	now    func() time.Time

	ctx    context.Context // the workers'
	cancel context.CancelFunc
	follow context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	workers map[string]*worker
}

// New returns a Service; Start starts it.
func New(store Store, opts Options, logger *slog.Logger) *Service {
	opts.defaults()
	return &Service{store: store, opts: opts, logger: logger, now: time.Now, workers: map[string]*worker{}}
}

// Start starts the loops; Close stops them.
func (s *Service) Start() {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var ctx context.Context
	ctx, s.follow = context.WithCancel(s.ctx)
	s.wg.Add(1)
	go s.followLoop(ctx)
}

// Close stops following the destinations, lets every worker finish and
// settle its sends in flight (up to DrainTimeout), then cuts the rest
// short: those are sent again by the next owner of the cursor.
func (s *Service) Close() error {
	if s.cancel == nil {
		return nil
	}
	s.follow()
	s.wg.Wait()
	s.mu.Lock()
	workers := s.workers
	s.workers = map[string]*worker{}
	s.mu.Unlock()
	for _, w := range workers {
		w.beginDrain()
	}
	deadline := time.NewTimer(s.opts.DrainTimeout)
	defer deadline.Stop()
	for _, w := range workers {
		select {
		case <-w.done:
		case <-deadline.C:
			s.cancel()
			<-w.done
		}
	}
	s.cancel()
	return nil
}

// Notify tells the workers that events were committed, so that they read
// the log now rather than at their next poll.
func (s *Service) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.workers {
		w.notify()
	}
}

// followLoop keeps one worker per enabled destination, replacing a
// worker whose destination changed.
func (s *Service) followLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.Refresh)
	defer t.Stop()
	for {
		if err := s.followOnce(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("delivery: reading destinations failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
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
	if err := s.followOnce(s.ctx); err != nil {
		s.logger.Warn("delivery: reading destinations failed", "err", err)
	}
}

func (s *Service) followOnce(ctx context.Context) error {
	var dests []*inlet.Destination
	f := inlet.ListFilter{Limit: inlet.MaxEventLimit}
	for {
		page, err := s.store.ListDestinations(ctx, f)
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
	if ctx.Err() != nil {
		return nil
	}
	seen := map[string]bool{}
	for _, d := range dests {
		if !d.Enabled {
			continue
		}
		seen[d.ID] = true
		old := s.workers[d.ID]
		// A worker that disabled its destination stays stopped until the
		// destination changes (a stale list may still show it enabled).
		if old != nil && old.dest.UpdatedAt.Equal(d.UpdatedAt) && (!old.exited() || old.disabled.Load()) {
			continue
		}
		// A changed destination's worker finishes its sends in flight and
		// settles them; the new one takes the cursor after it, so that
		// nothing is sent twice for an edit.
		var after <-chan struct{}
		if old != nil {
			old.beginDrain()
			after = old.done
		}
		w, err := s.startWorker(d, after)
		if err != nil {
			s.logger.Error("delivery: cannot open destination", "destination", d.ID, "err", err)
			delete(s.workers, d.ID)
			continue
		}
		s.workers[d.ID] = w
	}
	for id, w := range s.workers {
		if !seen[id] {
			w.beginDrain()
			delete(s.workers, id)
		}
	}
	return nil
}

func (s *Service) startWorker(d *inlet.Destination, after <-chan struct{}) (*worker, error) {
	inFlight := inFlightFor(d, s.opts.InFlight)
	transport, err := open(d, inFlight)
	if err != nil {
		return nil, err
	}
	w := &worker{s: s, dest: d, transport: transport, done: make(chan struct{}), drain: make(chan struct{}),
		wake: make(chan struct{}, 1), inFlight: inFlight, window: 4 * inFlight, lease: max(s.opts.Lease, 5*transport.Timeout())}
	if d.Ordered {
		w.inFlight, w.window = 1, 1
	}
	go func() {
		if after != nil {
			select {
			case <-after:
			case <-s.ctx.Done():
			}
		}
		w.run()
		transport.Close()
	}()
	return w, nil
}

// worker delivers the events of one destination while it holds the
// destination's cursor.
type worker struct {
	s         *Service
	dest      *inlet.Destination
	transport Transport
	done      chan struct{}
	// drain is closed to stop: no more reads, sends in flight finish and
	// are settled, the lease is released.
	drain     chan struct{}
	drainOnce sync.Once
	disabled  atomic.Bool // it disabled its destination
	wake      chan struct{}
	// inFlight sends at once, out of up to window events read ahead.
	inFlight, window int
	lease            time.Duration
}

func (w *worker) notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) beginDrain() { w.drainOnce.Do(func() { close(w.drain) }) }

func (w *worker) draining() bool {
	select {
	case <-w.drain:
		return true
	default:
		return false
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

// run takes the cursor and delivers while it holds it; a cursor held by
// another node is tried again at every refresh.
func (w *worker) run() {
	defer close(w.done)
	s := w.s
	for !w.draining() && s.ctx.Err() == nil {
		c, err := s.store.TakeCursor(s.ctx, w.dest.ID, s.opts.Owner, s.now(), w.lease)
		if err != nil {
			if inlet.ErrorCode(err) == inlet.ENOTFOUND {
				return // deleted
			}
			if inlet.ErrorCode(err) != inlet.ECONFLICT && s.ctx.Err() == nil {
				s.logger.Warn("delivery: taking the cursor failed; retrying", "destination", w.dest.ID, "err", err)
			}
			w.sleepFully(s.opts.Refresh)
			continue
		}
		p := &pump{w: w, cursor: c, readPos: c.Position, results: make(chan *item, w.window), held: map[string]bool{}}
		if stop := p.run(); stop {
			return
		}
	}
}

// sleepFully waits d unless the worker stops; a wake does not cut it short.
func (w *worker) sleepFully(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.drain:
	case <-w.s.ctx.Done():
	}
}

// item is one event in the window of a pump, in delivery order: an event
// of the log, or a row due again.
type item struct {
	pos    inlet.LogPosition
	hasPos bool            // an event of the log (or the head past it)
	row    *inlet.Delivery // a row due again
	event  *inlet.Event    // what to send; nil when nothing is (not wanted)
	done   bool            // sent (or nothing to send)
	cut    bool            // the send was cut short by a stop: no attempt
	result *inlet.Outcome  // the row to write, when one is needed
	ok     bool            // delivered
	ra     time.Duration   // the receiver's Retry-After
	gone   bool            // the receiver answered 410
	end    time.Time       // when the send ended
}

// pump delivers from one cursor while its lease holds.
type pump struct {
	w       *worker
	cursor  *inlet.Cursor
	readPos inlet.LogPosition // read up to here
	queue   []*item           // the window, in delivery order
	sending int
	results chan *item
	// held are the rows in the window or settled in memory only: not read
	// again until their outcome is stored.
	held        map[string]bool
	heldPending []string
	pending     inlet.Settlement
	dirty       bool
	lastSettle  time.Time
	lastRows    time.Time
	// lastRead is when the log was last read and found short of the
	// window: reads are then at least readEvery apart, so that a busy
	// intake's commits are read many at a time rather than one each.
	lastRead time.Time
	paused   time.Time // no new sends before (Retry-After)
	gone     bool
}

// run delivers until the lease is lost or the worker stops; it reports
// whether the worker is done (stopped or its destination disabled).
func (p *pump) run() (stop bool) {
	w, s := p.w, p.w.s
	p.lastSettle = s.now()
	poll := time.NewTicker(s.opts.Poll)
	defer poll.Stop()
	for {
		now := s.now()
		stopping := w.draining() || s.ctx.Err() != nil
		if !stopping {
			p.read(now)
		}
		p.collect()
		if s.ctx.Err() != nil {
			p.settleNow(context.Background())
			return true
		}
		if over, stop := p.settleIfDue(now, stopping); over {
			return stop
		}
		if stopping && len(p.queue) == 0 && !p.dirty {
			p.release()
			return true
		}
		p.wait(poll.C, stopping)
	}
}

// read fills the window, unless the receiver asked to be left alone
// (410, or a Retry-After that has not passed).
func (p *pump) read(now time.Time) {
	w, s := p.w, p.w.s
	if p.gone || now.Before(p.paused) {
		return
	}
	if err := p.fill(now); err != nil && s.ctx.Err() == nil {
		s.logger.Warn("delivery: reading the log failed; retrying", "destination", w.dest.ID, "err", err)
	}
}

// settleIfDue writes the settled outcomes and renews the lease when it is
// time. Outcomes are settled at most every Settle (a write that shares
// the store's writer with intake), sooner when stopping or when many rows
// wait. over reports that the pump is done, and stop then what run
// returns: the cursor was lost, or the destination disabled.
func (p *pump) settleIfDue(now time.Time, stopping bool) (over, stop bool) {
	w, s := p.w, p.w.s
	due := p.dirty && (now.Sub(p.lastSettle) >= s.opts.Settle || stopping || w.dest.Ordered || len(p.pending.Outcomes) >= w.window)
	renew := now.Sub(p.lastSettle) >= w.lease/4
	if !due && !renew {
		return false, false
	}
	c, err := p.settle(s.ctx)
	switch {
	case inlet.ErrorCode(err) == inlet.ECONFLICT:
		s.logger.Warn("delivery: another node took the cursor", "destination", w.dest.ID)
		p.abandon()
		return true, w.draining()
	case err != nil:
		if s.ctx.Err() == nil {
			s.logger.Warn("delivery: settling failed; retrying", "destination", w.dest.ID, "err", err)
		}
		return false, false
	}
	if p.disableIfDue(c, now) {
		p.abandon()
		return true, true
	}
	return false, false
}

// release gives the cursor up once everything is settled, so that
// another node can take it at once rather than when the lease runs out.
func (p *pump) release() {
	w, s := p.w, p.w.s
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 5*time.Second)
	defer cancel()
	if err := s.store.ReleaseCursor(ctx, w.dest.ID, s.opts.Owner); err != nil {
		s.logger.Warn("delivery: releasing the cursor failed; it is free when its lease runs out", "destination", w.dest.ID, "err", err)
	}
}

// wait waits for something to do: a result, a commit, the poll, a stop
// (once stopping, only results and the poll).
func (p *pump) wait(poll <-chan time.Time, stopping bool) {
	w, s := p.w, p.w.s
	drain, done := w.drain, s.ctx.Done()
	if stopping {
		drain = nil
	}
	select {
	case it := <-p.results:
		p.finish(it)
	case <-w.wake:
	case <-poll:
	case <-drain:
	case <-done:
	}
}

// fill reads what there is room for: rows due again, then the log.
func (p *pump) fill(now time.Time) error {
	w, s := p.w, p.w.s
	if w.dest.Ordered {
		return p.fillOrdered(now)
	}
	// Reads come in chunks of at least half the window: each is a query.
	room := w.window - len(p.queue)
	if room < w.window/2 && len(p.queue) > 0 {
		return nil
	}
	if now.Sub(p.lastRows) >= s.opts.Poll {
		p.lastRows = now
		rows, err := s.store.DueDeliveries(s.ctx, w.dest.ID, inlet.DueFilter{Now: now, Released: p.cursor.Position, Limit: room + len(p.held)})
		if err != nil {
			return err
		}
		for _, r := range rows {
			if room == 0 {
				break
			}
			if p.held[r.EventID] {
				continue
			}
			p.held[r.EventID] = true
			p.push(&item{row: r, event: r.Event})
			room--
		}
	}
	if room <= 0 || now.Sub(p.lastRead) < readEvery {
		return nil
	}
	read, err := s.store.ReadLog(s.ctx, p.readPos, room)
	if err != nil {
		return err
	}
	if len(read.Events) < room {
		p.lastRead = now
	}
	for _, le := range read.Events {
		it := &item{pos: le.Pos, hasPos: true}
		if w.dest.Wants(le.Event) {
			it.event = le.Event
		}
		p.push(it)
	}
	if read.Head.Compare(p.readPos) > 0 {
		if n := len(read.Events); n == 0 || read.Head.Compare(read.Events[n-1].Pos) > 0 {
			p.push(&item{pos: read.Head, hasPos: true})
		}
		p.readPos = read.Head
	}
	return nil
}

// readEvery is the least time between two reads of the log that found it
// short of the window (a caught-up destination), so that the commits of a
// busy intake are read a few at a time, not one read each: it adds up to
// that much to the lag.
const readEvery = 5 * time.Millisecond

// fillOrdered keeps one event in the window: the first row pending or
// failed (which holds every later event back until it is delivered or
// dead), else the next event of the log.
func (p *pump) fillOrdered(now time.Time) error {
	w, s := p.w, p.w.s
	if len(p.queue) > 0 || p.dirty {
		return nil // one at a time, and its outcome settled first
	}
	rows, err := s.store.DueDeliveries(s.ctx, w.dest.ID, inlet.DueFilter{Now: now, Released: p.cursor.Position, Ordered: true, Limit: 1})
	if err != nil {
		return err
	}
	if len(rows) > 0 {
		if r := rows[0]; !r.NextAttemptAt.After(now) {
			p.held[r.EventID] = true
			p.push(&item{row: r, event: r.Event})
		}
		return nil
	}
	for range 16 {
		read, err := s.store.ReadLog(s.ctx, p.readPos, 64)
		if err != nil {
			return err
		}
		for _, le := range read.Events {
			p.readPos = le.Pos
			if w.dest.Wants(le.Event) {
				p.push(&item{pos: le.Pos, hasPos: true, event: le.Event})
				return nil
			}
			p.push(&item{pos: le.Pos, hasPos: true})
		}
		if read.Head.Compare(p.readPos) > 0 {
			p.push(&item{pos: read.Head, hasPos: true})
			p.readPos = read.Head
		}
		if len(read.Events) < 64 {
			return nil
		}
	}
	return nil
}

// push adds an item to the window and starts its send when there is one.
func (p *pump) push(it *item) {
	p.queue = append(p.queue, it)
	if it.event == nil && it.row == nil {
		it.done = true
		return
	}
	p.sending++
	go p.w.attempt(it, p.results)
	// At most inFlight sends run: wait for one to end before the next.
	for p.sending >= p.w.inFlight {
		p.finish(<-p.results)
	}
}

func (p *pump) finish(it *item) {
	p.sending--
	it.done = true
	if it.ra > 0 {
		if until := it.end.Add(min(it.ra, inlet.MaxRetryAfter)); until.After(p.paused) {
			p.paused = until
		}
	}
	p.gone = p.gone || it.gone
}

// collect moves the done items at the front of the window into the
// settlement; an event cut short by a stop holds back the ones behind it.
func (p *pump) collect() {
	for drained := false; !drained; {
		select {
		case it := <-p.results:
			p.finish(it)
		default:
			drained = true
		}
	}
	n := 0
	for _, it := range p.queue {
		if !it.done || it.cut {
			break
		}
		n++
		if it.hasPos && it.pos.Compare(p.pending.Position) > 0 {
			p.pending.Position = it.pos
		}
		p.dirty = true
		if it.row != nil {
			p.heldPending = append(p.heldPending, it.row.EventID)
		}
		if it.event == nil && it.row == nil {
			continue
		}
		p.pending.Attempts++
		if it.ok {
			p.pending.Delivered++
			p.pending.Succeeded = true
		} else {
			p.pending.Failed = true
			p.pending.Failures++
		}
		if it.result != nil {
			p.pending.Outcomes = append(p.pending.Outcomes, *it.result)
		}
	}
	p.queue = p.queue[n:]
}

func (p *pump) settleNow(ctx context.Context) {
	if !p.dirty {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := p.settle(ctx); err != nil {
		p.w.s.logger.Warn("delivery: outcomes not settled; the events will be sent again", "destination", p.w.dest.ID, "err", err)
	}
}

// settle records the settlement (or only renews the lease).
func (p *pump) settle(ctx context.Context) (*inlet.Cursor, error) {
	w, s := p.w, p.w.s
	st := p.pending
	if st.Position.Compare(p.cursor.Position) < 0 {
		st.Position = p.cursor.Position
	}
	now := s.now()
	c, err := s.store.Settle(ctx, w.dest.ID, s.opts.Owner, st, now, w.lease)
	if err != nil {
		return nil, err
	}
	p.cursor = c
	p.lastSettle = now
	p.pending, p.dirty = inlet.Settlement{Position: c.Position}, false
	for _, id := range p.heldPending {
		delete(p.held, id)
	}
	p.heldPending = p.heldPending[:0]
	return c, nil
}

// abandon drops the window: another node owns the cursor now, or the
// destination is disabled; what was sent and not settled may be sent
// again.
func (p *pump) abandon() {
	for p.sending > 0 {
		p.finish(<-p.results)
	}
}

// disableIfDue disables the destination when its receiver answered 410,
// or when it has done nothing but fail for its DisableAfter.
func (p *pump) disableIfDue(c *inlet.Cursor, now time.Time) bool {
	w, s := p.w, p.w.s
	reason := ""
	switch limit := w.dest.DisableAfterDuration(); {
	case p.gone:
		reason = "the receiver answered 410 Gone"
	case limit > 0 && c.FailingSince != nil && now.Sub(*c.FailingSince) >= limit:
		reason = "every attempt failed for " + limit.String() + ", since " + inlet.FormatTime(*c.FailingSince)
	default:
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
	defer cancel()
	if err := s.store.DisableDestination(ctx, w.dest.ID, reason, now); err != nil {
		s.logger.Error("delivery: cannot disable a destination", "destination", w.dest.ID, "reason", reason, "err", err)
		return false
	}
	w.disabled.Store(true)
	s.logger.Warn("delivery: destination disabled", "destination", w.dest.ID, "reason", reason)
	if m := s.opts.Metrics; m != nil {
		m.Disabled(w.dest.ID)
	}
	if err := s.store.ReleaseCursor(ctx, w.dest.ID, s.opts.Owner); err != nil {
		s.logger.Warn("delivery: releasing the cursor failed", "destination", w.dest.ID, "err", err)
	}
	return true
}

// attempt sends one event and sends the item back on results with its
// outcome.
func (w *worker) attempt(it *item, results chan<- *item) {
	s := w.s
	start := s.now()
	var r Result
	if it.event == nil {
		r.Err = errors.New("the event is no longer stored")
	} else if body, err := inlet.EventJSON(it.event); err != nil {
		r.Err = err
	} else {
		r = w.transport.Send(s.ctx, it.event, body)
	}
	end := s.now()
	it.end, it.ra, it.gone = end, r.RetryAfter, r.Gone
	if r.Err != nil && s.ctx.Err() != nil && !r.Gone {
		// Stopping: a send cut short is no attempt; the next owner of the
		// cursor sends it again.
		it.cut = true
		results <- it
		return
	}
	a := inlet.Attempt{At: start.UTC(), Status: r.Status, LatencyMS: float64(end.Sub(start).Microseconds()) / 1000, Response: r.Response}
	status := inlet.DeliveryDelivered
	o := inlet.Outcome{Pos: it.pos, FromLog: it.row == nil, Attempts: 1, CreatedAt: start.UTC(), NextAttemptAt: end}
	var prior []inlet.Attempt
	if d := it.row; d != nil {
		o.Pos, o.Version, o.Attempts, o.CreatedAt, prior = d.Pos, d.Version, d.Attempts+1, d.CreatedAt, d.Log
		o.EventID = d.EventID
	} else {
		o.EventID, o.InsertedAt = it.event.ID, it.event.InsertedAt
	}
	if r.Err != nil {
		a.Error = r.Err.Error()
		next, dead := w.dest.Retry.RetryAt(o.Attempts, o.CreatedAt, end, r.RetryAfter)
		status, o.NextAttemptAt = inlet.DeliveryFailed, next
		if dead || it.event == nil {
			status = inlet.DeliveryDead
		}
	} else {
		it.ok = true
	}
	o.Status, o.Log = status, inlet.AppendAttempt(prior, a)
	// A row is written for every attempt of a row, and for an event of
	// the log only when it did not succeed.
	if it.row != nil || !it.ok {
		it.result = &o
	}
	if m := s.opts.Metrics; m != nil {
		m.Attempted(w.dest.ID, status, end.Sub(start))
	}
	results <- it
}
