// Package stream follows the stored events as they are committed: the feeds
// (long poll, server-sent events, WebSocket) are views of the
// store in id order, and this package is what they share.
//
// A Hub reads the events table after each commit (it is a handlers.Observer,
// and on PostgreSQL it listens to the other replicas' announcements) and
// fans each new event out to its subscribers. The store is the source of
// truth: a wake-up only says "look after your cursor", so a subscriber that
// falls behind, reconnects or changes its filter reads the store from its
// cursor and then joins the live fan-out with no gap and no duplicate.
//
// Ids are made before their rows commit, and rows commit out of id order.
// The hub therefore reads only below a horizon: this process's oldest save
// still in flight (models.Store.EventHorizon), and on PostgreSQL also the ids
// made more than Options.Settle ago, for the saves of other replicas.
package stream

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushgate/pushgate/events"
	"github.com/pushgate/pushgate/models"
)

// Errors of subscriptions.
var (
	// ErrClosed: the hub was closed (the server shuts down).
	ErrClosed = errors.New("stream: closed")
	// ErrSlow: the subscriber did not keep up; its buffer overflowed. It
	// may subscribe again after its cursor, reading the store.
	ErrSlow = errors.New("stream: slow consumer")
	// ErrIdle: nothing arrived within Next's idle time.
	ErrIdle = errors.New("stream: idle")
)

// Options tune a Hub. Zero values mean the defaults.
type Options struct {
	Logger *slog.Logger
	// Buffer bounds the events queued for one live subscriber; past it the
	// subscriber ends with ErrSlow. Default 1024.
	Buffer int
	// Settle is how long after its id was made an event committed by
	// another replica is expected to be visible; the hub reads only ids
	// older than that. Default 1 s on PostgreSQL, 0 on SQLite (one process
	// owns the file: EventHorizon is exact).
	Settle time.Duration
	// Poll is how often the hub looks at the store without a wake-up, in
	// case one was lost. Default 2 s.
	Poll time.Duration
	// Batch caps how long the hub holds new events back so that they go
	// out together: after a publish, the next one waits PerSubscriber
	// (default 50 µs) times the live subscribers, at most Batch (default
	// 100 ms; negative: never wait). An event after a quiet spell goes out
	// at once; under load, each subscriber receives the events of that
	// time in one write instead of one write each.
	Batch, PerSubscriber time.Duration
	// Registerer takes the hub's metrics (subscribers dropped as slow
	// consumers); nil: none are registered.
	Registerer prometheus.Registerer
}

// Hub fans committed events out to subscribers and held long polls.
type Hub struct {
	store  *models.Store
	log    *slog.Logger
	buffer int
	settle time.Duration
	poll   time.Duration
	batch  time.Duration
	perSub time.Duration

	lastPublish time.Time          // the reader's
	slow        prometheus.Counter // subscribers dropped as slow consumers

	wake     chan struct{} // cap 1: look at the store
	announce chan struct{} // cap 1: tell other replicas (PostgreSQL)
	maxSeen  atomic.Int64  // largest id known committed, here or elsewhere
	toSay    atomic.Int64  // largest id to announce
	soon     atomic.Bool   // a re-look is scheduled

	mu      sync.Mutex
	cursor  int64         // last id published; every event up to it is committed
	moved   chan struct{} // closed (and replaced) when cursor moves
	subs    subIndex
	waiters map[*waiter]struct{}
	touched []*Sub // publish's
	closed  bool
	done    chan struct{} // closed by Close

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Hub over store; Start it before use.
func New(store *models.Store, opt Options) *Hub {
	slow := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pushgate_feed_slow_consumers_total", Help: "Feed subscribers dropped because their buffer overflowed (they resume from the store).",
	})
	if opt.Registerer != nil {
		opt.Registerer.MustRegister(slow)
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Buffer <= 0 {
		opt.Buffer = 1024
	}
	if opt.Settle == 0 && store.Driver() == models.DriverPostgres {
		opt.Settle = time.Second
	}
	if opt.Poll <= 0 {
		opt.Poll = 2 * time.Second
	}
	if opt.Batch == 0 {
		opt.Batch = 100 * time.Millisecond
	}
	if opt.PerSubscriber <= 0 {
		opt.PerSubscriber = 50 * time.Microsecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{
		store: store, log: opt.Logger, buffer: opt.Buffer, slow: slow, settle: max(opt.Settle, 0), poll: opt.Poll,
		batch: max(opt.Batch, 0), perSub: opt.PerSubscriber,
		wake: make(chan struct{}, 1), announce: make(chan struct{}, 1),
		waiters: make(map[*waiter]struct{}), moved: make(chan struct{}),
		done: make(chan struct{}), ctx: ctx, cancel: cancel,
	}
}

// Start positions the hub after the last committed event and starts its
// reader (and, on PostgreSQL, its listener and announcer).
func (h *Hub) Start(ctx context.Context) error {
	last, err := h.store.LastEventID(ctx, h.horizon())
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.cursor = last
	h.mu.Unlock()
	h.maxSeen.Store(last)
	if h.store.Driver() == models.DriverPostgres {
		if err := h.startListener(ctx); err != nil {
			h.cancel()
			h.wg.Wait()
			return err
		}
		h.wg.Go(h.announceLoop)
	}
	h.wg.Go(h.readLoop)
	signal(h.wake) // events of the settle window, if any
	return nil
}

// Close stops the hub: subscribers get ErrClosed, held waits are called.
func (h *Hub) Close() {
	h.cancel()
	h.wg.Wait()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.done)
	h.subs.each(func(s *Sub) {
		if s.notify != nil {
			s.notify() // TryNext now returns ErrClosed
		}
	})
	ws := h.waiters
	h.waiters = map[*waiter]struct{}{}
	h.mu.Unlock()
	for w := range ws {
		go w.fire()
	}
}

// Accepted implements handlers.Observer: event id was committed here.
func (h *Hub) Accepted(_ context.Context, id int64, _ events.Event) {
	h.seen(id)
	if h.store.Driver() == models.DriverPostgres {
		raise(&h.toSay, id)
		signal(h.announce)
	}
}

// seen notes that id is committed somewhere and wakes the reader.
func (h *Hub) seen(id int64) {
	raise(&h.maxSeen, id)
	signal(h.wake)
}

// Cursor returns the id of the last event published to live subscribers.
func (h *Hub) Cursor() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cursor
}

// Now returns the cursor of "now": the last event published once every
// event known committed when Now was called (each one this process
// acknowledged, see Accepted) is published, so that a subscriber starting
// from it receives none of those. The reader publishes them within
// milliseconds; Now waits for it until ctx ends (or the hub closes), then
// returns the cursor as it is.
func (h *Hub) Now(ctx context.Context) int64 {
	target := h.maxSeen.Load()
	for {
		h.mu.Lock()
		cur, moved := h.cursor, h.moved
		h.mu.Unlock()
		if cur >= target {
			return cur
		}
		signal(h.wake)
		select {
		case <-moved:
		case <-ctx.Done():
			return cur
		case <-h.done:
			return cur
		}
	}
}

// Subscribers counts the subscriptions that follow the live fan-out.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subs.n
}

// horizon is the id below which every event is committed, as far as the hub
// can tell (see the package doc).
func (h *Hub) horizon() int64 {
	hz := h.store.EventHorizon()
	if h.settle > 0 {
		hz = min(hz, models.FirstIDAt(time.Now().Add(-h.settle)))
	}
	return hz
}

// readLoop reads new events after each wake-up and publishes them.
func (h *Hub) readLoop() {
	tick := time.NewTicker(h.poll)
	defer tick.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.wake:
		case <-tick.C:
		}
		if !h.pace() {
			return
		}
		h.readNew()
	}
}

// pace waits until the next publish is due (see Options.Batch); it reports
// false if the hub closed meanwhile.
func (h *Hub) pace() bool {
	h.mu.Lock()
	n := h.subs.n
	h.mu.Unlock()
	gap := min(time.Duration(n)*h.perSub, h.batch)
	wait := time.Until(h.lastPublish.Add(gap))
	if gap <= 0 || wait <= 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-h.ctx.Done():
		return false
	}
}

// readNew publishes every event between the cursor and the horizon.
//
// With no subscriber and no held wait there is nobody to publish to: it
// moves the cursor past the events known committed without reading them
// (a read after every commit cost about a fifth of the server's CPU under
// load). A subscriber that comes later reads the store from its own
// cursor up to the hub's, as one that fell behind does.
func (h *Hub) readNew() {
	for {
		hz := h.horizon()
		h.mu.Lock()
		after := h.cursor
		if h.subs.n == 0 && len(h.waiters) == 0 {
			if c := min(hz-1, h.maxSeen.Load()); c > h.cursor {
				h.cursor = c
				close(h.moved)
				h.moved = make(chan struct{})
			}
			h.mu.Unlock()
			if h.maxSeen.Load() >= hz {
				h.lookSoon(min(10*time.Millisecond+h.settle/4, time.Second))
			}
			return
		}
		h.mu.Unlock()
		rows, err := h.store.EventsAfter(h.ctx, models.EventFilter{}, after, hz, models.FeedPage)
		if err != nil {
			if h.ctx.Err() == nil {
				h.log.Warn("stream: reading new events", "after", after, "err", err)
				h.lookSoon(time.Second)
			}
			return
		}
		if len(rows) > 0 {
			h.publish(rows)
		}
		if len(rows) == models.FeedPage {
			continue
		}
		if h.maxSeen.Load() >= hz {
			// A committed event waits behind a save in flight, or behind
			// the settle window: look again shortly.
			h.lookSoon(min(10*time.Millisecond+h.settle/4, time.Second))
		}
		return
	}
}

// lookSoon wakes the reader after d, unless a re-look is scheduled already.
func (h *Hub) lookSoon(d time.Duration) {
	if h.soon.Swap(true) {
		return
	}
	time.AfterFunc(d, func() {
		h.soon.Store(false)
		signal(h.wake)
	})
}

// publish hands rows (new, in id order) to the live subscribers whose filter
// they match, and calls the held waits they satisfy.
func (h *Hub) publish(rows []models.Event) {
	items := make([]*Item, len(rows))
	for i := range rows {
		items[i] = newItem(&rows[i])
	}
	var fire []*waiter
	h.lastPublish = time.Now()
	h.mu.Lock()
	h.cursor = items[len(items)-1].ID
	close(h.moved)
	h.moved = make(chan struct{})
	// Gather each subscriber's events, then hand them over at once: one
	// lock and one wake-up per subscriber, however many events.
	touched := h.touched[:0]
	for _, it := range items {
		h.subs.match(it.Event, func(s *Sub) {
			if s.m.Match(it.Event) {
				if len(s.staged) == 0 {
					touched = append(touched, s)
				}
				s.staged = append(s.staged, it)
			}
		})
	}
	for i, s := range touched {
		if !s.offer(s.staged, h.buffer) {
			h.slow.Inc()
			h.subs.remove(s)
			s.live.Store(false)
		}
		clear(s.staged)
		if cap(s.staged) > 64 {
			s.staged = nil // a burst's; not kept by every subscriber
		} else {
			s.staged = s.staged[:0]
		}
		touched[i] = nil
	}
	h.touched = touched[:0]
	for w := range h.waiters {
		for _, it := range items {
			if it.ID > w.after && w.m.Match(it.Event) {
				delete(h.waiters, w)
				fire = append(fire, w)
				break
			}
		}
	}
	h.mu.Unlock()
	for _, w := range fire {
		go w.fire()
	}
}

// Read returns up to limit events matching f after the cursor after, oldest
// first, from those known committed (below the horizon): what a long poll
// answers. An event Read does not return yet is published later, and
// releases a Wait registered before the Read.
func (h *Hub) Read(ctx context.Context, f models.EventFilter, after int64, limit int) ([]*Item, error) {
	rows, err := h.store.EventsAfter(ctx, f, after, h.horizon(), limit)
	if err != nil {
		return nil, err
	}
	items := make([]*Item, len(rows))
	for i := range rows {
		items[i] = newItem(&rows[i])
	}
	return items, nil
}

func raise(v *atomic.Int64, id int64) {
	for {
		cur := v.Load()
		if id <= cur || v.CompareAndSwap(cur, id) {
			return
		}
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
